"""Cohort retention matrices, Kaplan-Meier curves and the log-rank test (hand-computed values)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slm_lib.cohorts import cohort_retention
from slm_lib.periods import period_ordinals
from slm_lib.errors import ConfigError, InsufficientDataError
from slm_lib.io.dataset import Dataset
from slm_lib.survival import churn_durations, logrank_test, survival_curves

AS_OF = pd.Timestamp("2024-04-15", tz="UTC")


def utc(*values):
    return pd.to_datetime(list(values), utc=True, format="ISO8601")


@pytest.fixture()
def three_cohorts() -> Dataset:
    """Jan: a (churns in Jan), b (churns in Feb), c (stays); Feb: d (churns at 1 Mar 00:00), e;
    Mar: f (churns 10 Apr), g (churns after as_of); Apr: h; May (after as_of): i."""
    customers = pd.DataFrame({
        "customer_id": list("abcdefghi"),
        "signup_at": utc("2024-01-05", "2024-01-10", "2024-01-31 23:00", "2024-02-01", "2024-02-28",
                         "2024-03-03", "2024-03-30", "2024-04-02", "2024-05-01"),
        "segment": ["smb"] * 9,
        "region": [None] * 9,
        "churned_at": utc("2024-01-20", "2024-02-15", None, "2024-03-01", None, "2024-04-10",
                          "2024-05-01", None, None),
    })
    revenue = pd.DataFrame({
        "customer_id": ["a", "b", "b", "c", "c", "d", "d", "e", "e"],
        "paid_at": utc("2024-01-05", "2024-01-10", "2024-02-10", "2024-02-20", "2024-03-31",
                       "2024-02-01", "2024-03-01", "2024-04-02", "2024-04-20"),
        "amount": [10.0, 10.0, 10.0, -5.0, 10.0, 10.0, 10.0, 10.0, 10.0],
        "order_id": [None] * 9,
    })
    return Dataset(customers=customers, revenue=revenue)


def test_contractual_matrix_by_hand(three_cohorts):
    m = cohort_retention(three_cohorts, as_of=AS_OF)
    assert list(m.columns) == ["size", 0, 1, 2]
    assert m.index.name == "cohort"
    assert m.index.tolist() == ["2024-01", "2024-02", "2024-03", "2024-04"]
    assert m["size"].tolist() == [3, 2, 2, 1]
    expected = np.array([[2 / 3, 1 / 3, 1 / 3],
                         [1.0, 0.5, np.nan],
                         [1.0, np.nan, np.nan],
                         [np.nan, np.nan, np.nan]])
    np.testing.assert_allclose(m[[0, 1, 2]].to_numpy(float), expected, equal_nan=True)


def test_purchase_matrix_by_hand(three_cohorts):
    m = cohort_retention(three_cohorts, mode="purchase", as_of=AS_OF)
    # Jan: a, b pay in Jan; b in Feb (c's refund does not count); c in Mar.
    # Feb: d pays Feb and Mar; e's April payment is in a censored period.
    expected = np.array([[2 / 3, 1 / 3, 1 / 3],
                         [0.5, 0.5, np.nan],
                         [0.0, np.nan, np.nan],
                         [np.nan, np.nan, np.nan]])
    np.testing.assert_allclose(m[[0, 1, 2]].to_numpy(float), expected, equal_nan=True)


def test_tidy_form_drops_censored_cells(three_cohorts):
    long = cohort_retention(three_cohorts, as_of=AS_OF, tidy=True)
    assert list(long.columns) == ["cohort", "age", "size", "active", "share"]
    assert len(long) == 6  # 3 + 2 + 1 observed cells
    row = long.loc[(long["cohort"] == "2024-02") & (long["age"] == 1)].iloc[0]
    assert (row["active"], row["size"], row["share"]) == (1, 2, 0.5)


def test_quarterly_cohorts(three_cohorts):
    m = cohort_retention(three_cohorts, freq="Q", as_of=pd.Timestamp("2024-07-02", tz="UTC"))
    assert m.index.tolist() == ["2024Q1", "2024Q2"]
    # Q1 cohort (a-g): alive at end of Q1 = b? no (Feb); c, e, f, g -> 4/7
    assert m.loc["2024Q1", 0] == pytest.approx(4 / 7)
    assert m.loc["2024Q1", "size"] == 7


def test_errors(three_cohorts):
    with pytest.raises(ConfigError, match="mode"):
        cohort_retention(three_cohorts, mode="weekly")
    with pytest.raises(ConfigError, match="freq"):
        cohort_retention(three_cohorts, freq="fortnight")
    with pytest.raises(InsufficientDataError, match="before as_of"):
        cohort_retention(three_cohorts, as_of="2023-01-01")


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 400), st.one_of(st.none(), st.integers(1, 400))), min_size=1, max_size=40))
def test_contractual_shares_are_monotone_and_censored(rows):
    base = pd.Timestamp("2023-01-01", tz="UTC")
    signup = [base + pd.Timedelta(days=s) for s, _ in rows]
    churn = [pd.NaT if c is None else base + pd.Timedelta(days=s + c) for s, c in rows]
    customers = pd.DataFrame({"customer_id": [str(i) for i in range(len(rows))],
                              "signup_at": pd.to_datetime(signup, utc=True), "segment": "smb",
                              "churned_at": pd.to_datetime(churn, utc=True)})
    as_of = base + pd.Timedelta(days=420)
    m = cohort_retention(Dataset(customers=customers), as_of=as_of)
    shares = m.drop(columns="size").to_numpy(float)
    assert np.nanmin(shares, initial=0.0) >= 0 and np.nanmax(shares, initial=1.0) <= 1
    diffs = np.diff(shares, axis=1)
    assert (diffs[~np.isnan(diffs)] <= 1e-12).all()  # survival never rises with age
    # NaN exactly where period cohort + k has not ended by as_of
    cohort_ord = period_ordinals(pd.Series(pd.PeriodIndex(m.index, freq="M").to_timestamp()).dt.tz_localize("UTC"))
    as_of_ord = period_ordinals(pd.Series([as_of]))[0]
    ages = np.arange(shares.shape[1])
    censored = cohort_ord[:, None] + ages[None, :] + 1 > as_of_ord
    np.testing.assert_array_equal(np.isnan(shares), censored)
    assert m["size"].sum() == len(rows)


def test_kaplan_meier_by_hand():
    d = pd.DataFrame({"duration": [1, 2, 2, 3, 4], "event": [1, 1, 0, 1, 0]})
    km = survival_curves(d)
    assert km["time"].tolist() == [1, 2, 3]
    np.testing.assert_allclose(km["survival"], [0.8, 0.6, 0.3])
    assert km["at_risk"].tolist() == [5, 4, 2]
    assert km["events"].tolist() == [1, 1, 1]
    assert (km["n"] == 5).all()
    # Greenwood at t=1: var = S^2 * 1/(5*4) -> se = 0.8 * sqrt(0.05); log-log interval
    se = 0.8 * np.sqrt(1 / 20)
    sigma = se / (0.8 * abs(np.log(0.8)))
    assert km.loc[0, "ci_low"] == pytest.approx(0.8 ** np.exp(1.959964 * sigma), rel=1e-5)
    assert km.loc[0, "ci_high"] == pytest.approx(0.8 ** np.exp(-1.959964 * sigma), rel=1e-5)
    assert (km["ci_low"] <= km["survival"]).all() and (km["survival"] <= km["ci_high"]).all()


def test_kaplan_meier_by_group():
    d = pd.DataFrame({"duration": [1, 2, 3, 4, 5, 6], "event": [1, 1, 1, 1, 1, 0], "g": list("aaabbb")})
    km = survival_curves(d, group="g")
    assert set(km["group"]) == {"a", "b"}
    np.testing.assert_allclose(km.loc[km["group"] == "a", "survival"], [2 / 3, 1 / 3, 0.0])
    np.testing.assert_allclose(km.loc[km["group"] == "b", "survival"], [2 / 3, 1 / 3])


def test_logrank_by_hand():
    # group a dies at 1, 2, 3 while b is all at risk: O_a - E_a = 3 - (1/2 + 2/5 + 1/4) = 1.85,
    # V = 1/4 + 6/25 + 3/16 = 0.6775 -> chi2 = 1.85^2 / 0.6775
    d = pd.DataFrame({"duration": [1, 2, 3, 4, 5, 6], "event": [1] * 6, "g": list("aaabbb")})
    out = logrank_test(d, "g")
    assert out["statistic"] == pytest.approx(1.85 ** 2 / 0.6775)
    assert out["df"] == 1
    assert out["p_value"] == pytest.approx(0.02460, abs=5e-5)
    with pytest.raises(InsufficientDataError, match="at least 2"):
        logrank_test(d.assign(g="a"), "g")


def test_churn_durations_censor_at_as_of(three_cohorts):
    d = churn_durations(three_cohorts.customers, AS_OF)
    assert "i" not in set(d["customer_id"])
    g = d.set_index("customer_id")
    assert g.loc["a", "duration"] == 15 and g.loc["a", "event"] == 1
    assert g.loc["g", "event"] == 0  # churn after as_of is not known yet
    assert g.loc["g", "duration"] == (AS_OF - pd.Timestamp("2024-03-30", tz="UTC")).days
    months = churn_durations(three_cohorts.customers, AS_OF, time_unit="months")
    assert months.set_index("customer_id").loc["a", "duration"] == pytest.approx(15 / (365.25 / 12))
    with pytest.raises(ConfigError, match="time_unit"):
        churn_durations(three_cohorts.customers, AS_OF, time_unit="weeks")


def test_survival_from_customers_and_features(three_cohorts):
    km = survival_curves(three_cohorts.customers, group="segment", as_of=AS_OF)
    assert km["n"].iloc[0] == 8 and km["events"].sum() == 4  # a, b, d, f churned before as_of
    features = pd.DataFrame({"duration_days": [3.0, 30, 30, 10], "event": [1, 0, 0, 1], "g": list("xxyy")})
    km = survival_curves(features, group="g")
    assert km.loc[km["group"] == "x", "survival"].tolist() == [0.5]
    customers = three_cohorts.customers.assign(january=lambda d: d["signup_at"] < pd.Timestamp("2024-02-01", tz="UTC"))
    out = logrank_test(customers, "january", as_of=AS_OF)
    assert (out["n"], out["events"], out["df"]) == (8, 4, 1)
    assert 0 < out["p_value"] < 1


def test_logrank_sentence_verdict_follows_p_value():
    from slm_lib.survival import logrank_sentence
    clear = pd.Series({"statistic": 30.2, "df": 3.0, "p_value": 1e-6, "n": 1841, "events": 406})
    calm = clear.copy()
    calm["p_value"] = 0.75
    assert logrank_sentence(clear, "last_nps_category").startswith("Survival differs by last nps category")
    assert "p < 0.001" in logrank_sentence(clear, "x") and "n = 1,841, 406 churned" in logrank_sentence(clear, "x")
    assert "does not differ" in logrank_sentence(calm, "segment") and "p = 0.75" in logrank_sentence(calm, "segment")
    nan = clear.copy()
    nan["p_value"] = float("nan")
    untested = logrank_sentence(nan, "segment")
    assert untested.startswith("Whether survival differs by segment could not be tested") and "0.001" not in untested


def test_logrank_sentence_displays_as_prose_in_jupyter():
    from IPython.core.formatters import DisplayFormatter

    from slm_lib.nb import attempt
    from slm_lib.survival import logrank_sentence
    test = pd.Series({"statistic": 12.3, "df": 2.0, "p_value": 0.002, "n": 900, "events": 120})
    shown = attempt(logrank_sentence, test, "last NPS answer <b>")  # as notebook 04 calls it
    data, _ = DisplayFormatter().format(shown)
    text = ("Survival differs by last NPS answer <b> more than chance would explain (log-rank chi-square 12.3 on "
            "2 df, p = 0.002; n = 900, 120 churned).")
    assert data["text/plain"] == text  # no quotes
    assert data["text/html"] == f"<p>{text.replace('<b>', '&lt;b&gt;')}</p>"
    assert shown == text and isinstance(shown, str)


def test_cohorts_and_ages_follow_the_report_time_zone():
    ts = lambda s: pd.Timestamp(s, tz="UTC")  # noqa: E731
    c = pd.DataFrame({"customer_id": ["a", "b"], "signup_at": [ts("2024-01-31 23:30"), ts("2024-01-15")],
                      "segment": "smb", "region": None, "churned_at": [pd.NaT, ts("2024-02-29 23:30")]})
    utc = cohort_retention(Dataset(customers=c), as_of=ts("2024-04-01"))
    berlin = cohort_retention(Dataset(customers=c), as_of=ts("2024-04-01"), tz="Europe/Berlin")
    assert utc.index.tolist() == ["2024-01"] and utc.loc["2024-01", "size"] == 2
    # in Berlin a signs up in February, and b churns on 1 March (local), surviving February
    assert berlin.index.tolist() == ["2024-01", "2024-02"]
    assert berlin.loc["2024-01", [0, 1]].tolist() == [1.0, 1.0] and utc.loc["2024-01", 1] == 0.5
