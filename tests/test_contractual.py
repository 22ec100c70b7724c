"""Tests of contractual (subscription) predictive CLV from slm's own tables (slm_lib.clv.contractual)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slm_lib.clv.contractual import cohort_survivors, contractual_clv, observation_start
from slm_lib.clv.sbg import ShiftedBetaGeoModel
from slm_lib.cohorts import cohort_retention
from slm_lib.errors import ConfigError, InsufficientDataError
from slm_lib.io.dataset import Dataset
from slm_lib.schema import TS, empty_frame
from slm_lib.synth import generate


def customers_frame(rows: list[tuple]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["customer_id", "signup_at", "segment", "churned_at"])
    out = empty_frame("customers").reindex(range(len(frame)))
    out["customer_id"] = frame["customer_id"].astype("str")
    out["segment"] = frame["segment"].astype("str")
    for col in ("signup_at", "churned_at"):
        out[col] = pd.to_datetime(frame[col], utc=True, format="ISO8601")
    return out


@pytest.fixture(scope="module")
def tiny() -> Dataset:
    return Dataset(customers=customers_frame([
        ("a", "2024-01-03", "smb", "2024-02-10"),
        ("b", "2024-01-09", "smb", None),
        ("c", "2024-01-20", "mid", "2024-03-01 00:00"),     # churned exactly at a month start
        ("d", "2024-01-25", "mid", "2024-01-28"),           # churned in its signup month
        ("e", "2024-02-14", "mid", "2024-04-15"),           # churn after as_of: still alive
        ("f", "2024-02-29", "mid", "2024-03-31 23:59"),
        ("g", "2024-04-01", "smb", None),                   # signs up at as_of: not counted
    ]))


def test_survivor_counts_by_hand(tiny):
    got = cohort_survivors(tiny, "2024-04-01")
    assert got["cohort"].tolist() == ["2024-01"] * 4 + ["2024-02"] * 3
    assert got["period"].tolist() == [0, 1, 2, 3, 0, 1, 2]
    assert got["survivors"].tolist() == [4, 3, 2, 1, 2, 2, 1]
    mid_month = cohort_survivors(tiny, pd.Timestamp("2024-03-20"))     # naive = UTC
    assert mid_month["survivors"].tolist() == [4, 3, 2, 2, 2]


def test_survivor_counts_by_group_and_left_truncated(tiny):
    got = cohort_survivors(tiny, "2024-04-01", by="segment")
    smb = got[got["segment"] == "smb"]
    assert smb["survivors"].tolist() == [2, 2, 1, 1]
    mid = got[got["segment"] == "mid"].groupby("cohort")["survivors"].apply(list).to_dict()
    assert mid == {"2024-01": [2, 1, 1, 0], "2024-02": [2, 2, 1]}
    late = cohort_survivors(tiny, "2024-04-01", observed_from="2024-02-15")
    assert late["period"].tolist() == [1, 2, 3, 0, 1, 2]              # January cohort enters at period 1
    assert late["survivors"].tolist() == [3, 2, 1, 2, 2, 1]
    assert observation_start(tiny) == pd.Timestamp("2024-01-01", tz="UTC")
    # records begin at as_of: one period per cohort; mid's January cohort is empty by then and dropped
    last = cohort_survivors(tiny, "2024-04-01", by="segment", observed_from="2024-04-01")
    assert last.values.tolist() == [["mid", "2024-02", 2, 1], ["smb", "2024-01", 3, 1]]
    with pytest.raises(InsufficientDataError, match="no cohort"):
        cohort_survivors(tiny, "2024-01-15")
    with pytest.raises(ConfigError, match="customers has no column 'plan'"):
        cohort_survivors(tiny, "2024-04-01", by="plan")
    with pytest.raises(ConfigError, match="observed_from=2024-05-01 00:00:00\\+00:00 is after as_of"):
        cohort_survivors(tiny, "2024-04-01", observed_from="2024-05-01")


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 400), st.one_of(st.none(), st.integers(0, 500))), min_size=1, max_size=25),
       st.integers(30, 420), st.integers(0, 300))
def test_survivors_match_a_brute_force_count(people, as_of_day, observed_day):
    day0 = pd.Timestamp("2023-01-01", tz="UTC")
    rows = [(f"c{i}", day0 + pd.Timedelta(days=s, hours=5),
             "smb" if i % 2 else "mid", None if d is None else day0 + pd.Timedelta(days=s + d, hours=7))
            for i, (s, d) in enumerate(people)]
    ds = Dataset(customers=customers_frame(rows))
    as_of, observed_from = day0 + pd.Timedelta(days=as_of_day), day0 + pd.Timedelta(days=min(observed_day, as_of_day))
    try:
        got = cohort_survivors(ds, as_of, by="segment", observed_from=observed_from)
    except InsufficientDataError:
        cut = as_of.tz_convert(None).to_period("M").to_timestamp().tz_localize("UTC")
        assert (ds.customers["signup_at"] < cut).sum() == 0
        return
    c = ds.customers.assign(cohort=ds.customers["signup_at"].dt.tz_convert(None).dt.to_period("M"))
    month = lambda p: p.to_timestamp().tz_localize("UTC")
    a_month, o_month = as_of.tz_convert(None).to_period("M"), observed_from.tz_convert(None).to_period("M")
    expected = []
    for (seg, coh), g in c[c["signup_at"] < as_of].groupby(["segment", "cohort"]):
        if coh >= a_month:
            continue
        churn = g["churned_at"].where(g["churned_at"] < as_of)
        counts = [[seg, str(coh), k, int((churn.isna() | (churn >= month(coh + k))).sum())]
                  for k in range(max((o_month - coh).n, 0), (a_month - coh).n + 1)]
        expected += counts if counts[0][3] > 0 else []
    assert got.values.tolist() == expected


@pytest.fixture(scope="module")
def synth() -> Dataset:
    """A draw whose sBG is identified in every segment: the synthetic monthly hazard is nearly flat with
    tenure (window effects such as the refund-comment theme start at 0 for new customers), so in some
    draws of 1,500 customers a segment shows no heterogeneity and its fit is refused (ModelFitError)."""
    return generate(customers=1500, months=18, seed=8)


AS_OF = pd.Timestamp("2026-05-01", tz="UTC")


def test_survivors_agree_with_cohort_retention(synth):
    surv = cohort_survivors(synth, AS_OF, observed_from="2000-01-01")
    ret = cohort_retention(synth, as_of=AS_OF, tidy=True)
    later = surv[surv["period"] >= 1].assign(age=lambda d: d["period"] - 1)
    merged = later.merge(ret, on=["cohort", "age"], how="outer", indicator=True)
    assert (merged["_merge"] == "both").all()
    assert (merged["survivors"] == merged["active"]).all()
    sizes = surv[surv["period"] == 0].set_index("cohort")["survivors"]
    assert sizes.to_dict() == ret.groupby("cohort")["size"].first().to_dict()


@pytest.fixture(scope="module")
def overall(synth) -> pd.DataFrame:
    return contractual_clv(synth, AS_OF, by=None, n_draws=400)


def test_contractual_clv_on_synthetic_data(synth, overall):
    row = overall.iloc[0]
    c = synth.customers
    active = c[(c["signup_at"] < AS_OF) & ~(c["churned_at"] < AS_OF)]
    assert row["group"] == "all" and row["n_customers"] == len(active)
    # empirical monthly churn over the observed window: churn events / customer-months at risk
    surv = cohort_survivors(synth, AS_OF)
    at_risk = surv.groupby("cohort")["survivors"].apply(lambda s: s.iloc[:-1].sum()).sum()
    empirical = row["churn_events"] / at_risk
    assert 0.01 < empirical < 0.03                                   # generator: about 2 % a month
    assert 1 - row["retention_next"] == pytest.approx(empirical, abs=0.005)
    assert row["retention_low"] < row["retention_next"] < row["retention_high"]
    assert row["clv_low"] < row["clv"] < row["clv_high"]
    assert row["clv"] == pytest.approx(row["margin"] * row["derl"])
    assert row["total_clv"] == pytest.approx(row["n_customers"] * row["clv"])
    assert row["total_low"] < row["total_clv"] < row["total_high"]
    assert row["derl"] < row["expected_remaining_months"]           # discounting lowers the lifetime
    assert row["note"] == ""


def test_margin_is_net_revenue_per_customer_month(synth, overall):
    c = synth.customers
    active = c[(c["signup_at"] < AS_OF) & ~(c["churned_at"] < AS_OF)]
    rev = synth.revenue
    window = rev[(rev["paid_at"] >= "2026-02-01") & (rev["paid_at"] < "2026-05-01")
                 & rev["customer_id"].isin(active["customer_id"])]
    signup_month = active["signup_at"].dt.tz_convert(None).dt.to_period("M")
    months = (pd.Period("2026-05", "M") - signup_month).map(lambda d: d.n).clip(upper=3)
    assert overall.iloc[0]["margin"] == pytest.approx(window["amount"].sum() / months.sum(), rel=1e-12)


def test_margin_overrides(synth, overall):
    fixed = contractual_clv(synth, AS_OF, by=None, margin=100.0, n_draws=400).iloc[0]
    assert fixed["margin"] == 100.0 and fixed["clv"] == pytest.approx(100.0 * fixed["derl"])
    share = contractual_clv(synth, AS_OF, by=None, margin_share=0.3, n_draws=400).iloc[0]
    base = overall.iloc[0]
    for col in ("margin", "clv", "clv_low", "clv_high", "total_clv"):
        assert share[col] == pytest.approx(0.3 * base[col], rel=1e-12), col
    with pytest.raises(ConfigError, match="either margin"):
        contractual_clv(synth, AS_OF, margin=100.0, margin_share=0.5)
    with pytest.raises(ConfigError, match="margin_share"):
        contractual_clv(synth, AS_OF, margin_share=1.5)


def test_by_segment(synth):
    out = contractual_clv(synth, AS_OF, n_draws=300).set_index("segment")
    assert sorted(out.index) == ["enterprise", "mid", "smb"]
    assert out["n_customers"].sum() == contractual_clv(synth, AS_OF, by=None, n_draws=50)["n_customers"].iloc[0]
    # the generator's base revenue: smb 49 < mid 390 < enterprise 2900 a month
    assert out.loc["smb", "margin"] < out.loc["mid", "margin"] < out.loc["enterprise", "margin"]
    assert out.loc["smb", "clv"] < out.loc["mid", "clv"] < out.loc["enterprise", "clv"]
    assert out["retention_next"].between(0.95, 1.0).all()
    assert out.equals(contractual_clv(synth, AS_OF, n_draws=300).set_index("segment"))   # seeded


def test_too_little_data_names_the_group(tiny):
    with pytest.raises(InsufficientDataError, match=r"group segment='mid': 2 cohort\(s\).*need at least 3"):
        contractual_clv(tiny, "2024-04-01")
    need = r"group group='all': 2 cohort\(s\) .* and 4 churn event\(s\); need at least 1 and 10"
    with pytest.raises(InsufficientDataError, match=need):
        contractual_clv(tiny, "2024-04-01", by=None, min_cohorts=1)


def simulated_customers(alpha: float, beta: float, seed: int) -> tuple[Dataset, pd.Timestamp]:
    """Monthly cohorts 2018-01..2023-12 whose churn follows an sBG; churn before 2022 is not recorded."""
    rng = np.random.default_rng(seed)
    first = pd.Period("2018-01", "M").ordinal
    cohort = np.repeat(np.arange(first, first + 72), 250)
    life = rng.geometric(rng.beta(alpha, beta, cohort.size))      # alive at the start of period k iff k < life
    life = np.minimum(life, 600)                                  # far beyond as_of: keeps dates in range
    start = lambda ords: pd.PeriodIndex.from_ordinals(ords, freq="M").to_timestamp().tz_localize("UTC")
    signup = start(cohort) + pd.Timedelta(hours=1)
    churn = start(cohort + life - 1) + pd.to_timedelta(rng.uniform(2, 26 * 24, cohort.size), unit="h")
    observed_from = pd.Timestamp("2022-01-01", tz="UTC")
    keep = ~(churn < observed_from)                               # earlier leavers were never recorded
    frame = customers_frame([])
    frame = frame.reindex(range(int(keep.sum())))
    frame["customer_id"] = pd.Series([f"S{i}" for i in range(int(keep.sum()))], dtype="str")
    frame["segment"] = "smb"
    frame["signup_at"], frame["churned_at"] = signup[keep], churn[keep]
    return Dataset(customers=frame), observed_from


def test_left_truncated_cohorts_recover_the_sbg_parameters():
    alpha, beta = 1.5, 12.0
    ds, observed_from = simulated_customers(alpha, beta, seed=5)
    as_of = "2024-01-01"
    assert observation_start(ds) == pd.Timestamp("2022-01-01", tz="UTC")     # first recorded churn
    summary = ShiftedBetaGeoModel().fit(cohort_survivors(ds, as_of)).summary.set_index("parameter")
    for name, value in {"alpha": alpha, "beta": beta}.items():  # two parameters: |z| < 3 each
        assert abs(summary.loc[name, "estimate"] - value) < 3 * summary.loc[name, "std_error"], name
    # ignoring the truncation (pretending the records start with the first signup) is badly biased
    naive = ShiftedBetaGeoModel().fit(cohort_survivors(ds, as_of, observed_from="2018-01-01")).summary
    naive = naive.set_index("parameter")
    assert naive.loc["alpha", "ci_high"] < alpha                   # about 0.98 instead of 1.5
    out = contractual_clv(ds, as_of, by=None, margin=10.0, n_draws=200).iloc[0]
    assert out["alpha"] == pytest.approx(summary.loc["alpha", "estimate"])
    assert out["expected_remaining_months"] > 0 and np.isfinite(out["clv"])


def test_heavy_tailed_churn_rates_give_no_undiscounted_lifetime():
    ds, _ = simulated_customers(0.6, 2.0, seed=6)                  # alpha < 1: E[lifetime] is infinite
    out = contractual_clv(ds, "2024-01-01", by=None, margin=10.0, n_draws=200).iloc[0]
    assert out["alpha"] < 1
    assert np.isnan(out["expected_remaining_months"]) and out["note"].startswith("alpha <= 1")
    assert np.isfinite(out["derl"]) and out["clv"] == pytest.approx(10.0 * out["derl"])


def test_contractual_sentences_round_to_the_interval_and_say_why_a_group_has_none():
    from slm_lib.clv.contractual import contractual_sentences
    t = pd.DataFrame({"segment": ["smb", "mid"], "n_customers": [3, 0], "retention_next": [0.9712, np.nan],
                      "clv": [1234.567, np.nan], "clv_low": [1180.2, np.nan], "clv_high": [1301.9, np.nan],
                      "total_clv": [3703.701, np.nan], "note": ["", "no active customers at as_of"]})
    smb, mid = contractual_sentences(t)
    # width 121.7 has 2 significant digits in the tens (120): round to tens; the total's width 365 too
    assert smb == ("Segment smb: 3 active customers, 97.1% expected to renew next month; each is worth about 1,230 "
                   "(95% CI 1,180 to 1,300) from here on, about 3,700 for the group.")
    assert mid == "Segment mid: no CLV estimate (no active customers at as_of)."
    overall = contractual_sentences(t.rename(columns={"segment": "group"}).assign(group="all").iloc[:1])
    assert overall[0].startswith("All customers: 3 active customers")


# ----------------------------------------------------------------------------- on an engine (DuckDB; Spark below)
@pytest.fixture(scope="module")
def samples():
    from slm_lib.engines import open_dataset
    from slm_lib.engines.dataset import CORE_TABLES
    from slm_lib.io.load import load_data
    return open_dataset("data_samples", tables=CORE_TABLES), load_data("data_samples", tables=CORE_TABLES)


def assert_same(engine: pd.DataFrame, pandas_frame: pd.DataFrame) -> None:
    assert len(pandas_frame) > 0
    pd.testing.assert_frame_equal(engine, pandas_frame, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("as_of, by, observed_from, tz", [
    ("2026-10-01", "segment", None, "UTC"),
    ("2026-06-15T12:00", None, "2025-01-01", "UTC"),
    (pd.Timestamp("2026-09-01", tz="Europe/Berlin"), "segment", None, "Europe/Berlin"),
])
def test_engine_contractual_clv_equals_pandas_on_the_samples(samples, as_of, by, observed_from, tz):
    lazy, ds = samples
    assert observation_start(lazy, tz) == observation_start(ds, tz)
    for freq, group in (("M", by), ("Q", "region")):   # 40 customers have no region
        assert_same(cohort_survivors(lazy, as_of, freq, group, observed_from, tz),
                    cohort_survivors(ds, as_of, freq, group, observed_from, tz))
    expected = contractual_clv(ds, as_of, by=by, n_draws=200, observed_from=observed_from, tz=tz, min_churn=5)
    assert_same(contractual_clv(lazy, as_of, by=by, n_draws=200, observed_from=observed_from, tz=tz, min_churn=5),
                expected)
    assert expected["clv"].gt(0).all() and expected["margin"].gt(0).all()


def test_customers_without_a_group_value_form_their_own_group(tiny):
    c = tiny.customers.copy()
    c.loc[c["customer_id"].isin(["a", "b"]), "segment"] = None
    got = cohort_survivors(Dataset(customers=c), "2024-04-01", by="segment", observed_from="2024-01-01")
    assert got.loc[got["segment"] == "(missing)", "survivors"].tolist() == [2, 2, 1, 1]
    assert not got.duplicated(["segment", "cohort", "period"]).any()


def test_engine_cohort_survivors_refuse_an_unknown_column_as_pandas_does(samples):
    for ds in samples:
        with pytest.raises(ConfigError, match="customers has no column 'plan'"):
            cohort_survivors(ds, "2026-10-01", by="plan")


def test_engine_without_payments_values_no_margin_as_pandas_does():
    from slm_lib.engines import open_dataset
    from slm_lib.io.load import load_data
    tables = ("tickets", "surveys", "customers")
    expected = contractual_clv(load_data("data_samples", tables=tables), "2026-10-01", by=None, n_draws=50)
    assert_same(contractual_clv(open_dataset("data_samples", tables=tables), "2026-10-01", by=None, n_draws=50),
                expected)
    assert expected["margin"].eq(0).all() and expected["derl"].gt(0).all()   # no revenue: no margin


# ----------------------------------------------------------------------------- spark (fixture in conftest.py)
def test_spark_models_read_the_same_summaries_as_pandas(spark, samples):
    from slm_lib.clv.rfm import purchase_rfm
    from slm_lib.engines import open_dataset
    from slm_lib.engines.dataset import CORE_TABLES
    # churn_data and at_risk add customer_features, whose Spark form tests/test_engine_features.py checks
    lazy, ds = open_dataset("data_samples", engine="spark", con=spark, tables=CORE_TABLES), samples[1]
    as_of = pd.Timestamp("2026-09-01", tz="Europe/Berlin")
    assert_same(contractual_clv(lazy, as_of, n_draws=200, tz="Europe/Berlin"),
                contractual_clv(ds, as_of, n_draws=200, tz="Europe/Berlin"))
    end = pd.Timestamp("2026-02-01", tz="UTC")
    assert_same(purchase_rfm(lazy, end=end, customers=["C00002", "C00003", "C01180"]),
                purchase_rfm(ds, end=end, customers=["C00002", "C00003", "C01180"]))


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 400), st.one_of(st.none(), st.integers(0, 500)),
                          st.sampled_from(["smb", "mid", None])), min_size=1, max_size=25),
       st.integers(30, 420), st.sampled_from(["UTC", "Europe/Berlin", "Pacific/Auckland"]))
def test_engine_survivors_and_active_customers_equal_pandas_on_generated_data(tmp_path_factory, people, as_of_day, tz):
    from slm_lib.engines import open_dataset
    from slm_lib.io.dataset import active_customers
    day0 = pd.Timestamp("2023-01-01 23:30", tz="UTC")   # near midnight: local months differ from UTC ones
    rows = [(f"c{i}", day0 + pd.Timedelta(days=s), seg, None if d is None else day0 + pd.Timedelta(days=s + d, hours=1))
            for i, (s, d, seg) in enumerate(people)]
    ds = Dataset(customers=customers_frame(rows))
    ds.customers["segment"] = ds.customers["segment"].where(ds.customers["segment"] != "None")
    ds.customers[["signup_at", "churned_at"]] = ds.customers[["signup_at", "churned_at"]].astype(TS)  # canonical ns
    directory = tmp_path_factory.mktemp("survivors")
    for name, frame in (("tickets", empty_frame("tickets")), ("customers", ds.customers)):
        frame.to_parquet(directory / f"{name}.parquet", index=False, coerce_timestamps="us")
    lazy = open_dataset(directory)
    as_of = day0 + pd.Timedelta(days=as_of_day, minutes=30)
    columns = ["customer_id", "signup_at", "churned_at", "segment"]
    pd.testing.assert_frame_equal(active_customers(lazy, as_of, columns), active_customers(ds, as_of, columns))
    for by, observed_from in ((None, None), ("segment", day0)):
        try:
            expected = cohort_survivors(ds, as_of, by=by, observed_from=observed_from, tz=tz)
        except (InsufficientDataError, ConfigError) as err:   # no cohort yet; records begin after as_of
            with pytest.raises(type(err), match=str(err)[:20]):
                cohort_survivors(lazy, as_of, by=by, observed_from=observed_from, tz=tz)
            continue
        pd.testing.assert_frame_equal(cohort_survivors(lazy, as_of, by=by, observed_from=observed_from, tz=tz),
                                      expected)
