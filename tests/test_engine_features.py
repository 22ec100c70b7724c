"""Tests of slm_lib.engines.features: customer_features on DuckDB and Spark equals the pandas engine."""
from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import slm_lib as slm
from slm_lib.engines import connect, from_tables, open_dataset
from slm_lib.engines.dataset import LAZY_TABLES
from slm_lib.engines.features import engine_customer_features
from slm_lib.errors import ConfigError
from slm_lib.features import FEATURE_COLUMNS
from slm_lib.io.dataset import Dataset
from slm_lib.schema import COLUMNS, empty_frame
from test_engine_lifecycle import AROUND_DST, BUSINESS

BERLIN = "Europe/Berlin"


def berlin(*days: str) -> list[pd.Timestamp]:
    return [pd.Timestamp(d, tz=BERLIN) for d in days]


def assert_same(engine: pd.DataFrame, pandas_frame: pd.DataFrame) -> None:
    """Same rows, columns and dtypes, identical non-float columns, floats to 1e-9."""
    assert len(pandas_frame) > 0
    pd.testing.assert_frame_equal(engine, pandas_frame, rtol=1e-9, atol=1e-9)
    for c in pandas_frame.columns:
        if pandas_frame[c].dtype.kind != "f":
            assert engine[c].equals(pandas_frame[c]), c


@pytest.fixture(scope="module")
def samples(tmp_path_factory) -> tuple[str, Dataset]:
    """The sample tables without ticket events, as Parquet."""
    ds = slm.load_data("data_samples", tables=LAZY_TABLES)
    directory = tmp_path_factory.mktemp("samples")
    write(ds, directory)
    return str(directory), ds


@pytest.mark.parametrize("as_of, lookback, horizon", [
    ("2025-06-01", "90D", "90D"),
    ("2025-03-15T12:30:00", "3M", "90D"),
    (pd.Timestamp("2025-04-01", tz=BERLIN), "3M", "3M"),
    (berlin("2025-01-01", "2025-02-01", "2025-03-01", "2026-10-01"), "3M", "3M"),
    (berlin("2025-10-01", "2025-11-01"), "90D", "3M"),
])
def test_duckdb_customer_features_equal_pandas_on_the_samples(samples, as_of, lookback, horizon):
    directory, ds = samples
    engine = slm.customer_features(open_dataset(directory), as_of, lookback=lookback, horizon=horizon)
    expected = slm.customer_features(ds, as_of, lookback=lookback, horizon=horizon)
    assert_same(engine, expected)
    assert expected["tickets"].sum() > 1000 and expected["median_frt_h"].notna().sum() > 100
    assert expected["sla_breach_share"].between(0.01, 0.99).any() and expected["churned"].any()
    assert set(expected["last_nps_category"]) == {"promoter", "passive", "detractor", "none"}


def test_custom_sla_targets_and_text_features_by_a_rule(samples):
    directory, ds = samples
    kwargs = {"sla_targets": {"first_response": {"urgent": 0.5, "high": 65 / 60, "normal": 2.0}},
              "themes": lambda texts: texts.str.contains("wait", case=False).map({True: "waiting"})}
    as_of = berlin("2025-05-01", "2025-08-01")
    engine = slm.customer_features(open_dataset(directory), as_of, lookback="1M", **kwargs)
    expected = slm.customer_features(ds, as_of, lookback="1M", **kwargs)
    assert_same(engine, expected)
    assert expected["theme_waiting_share"].between(0.01, 0.99).any() and (expected["comments"] > 0).sum() > 50


def test_text_features_with_themes_fitted_before_the_earliest_as_of(samples):
    directory, ds = samples
    engine = slm.customer_features(open_dataset(directory), "2026-03-01", lookback="2M", themes=4)
    assert_same(engine, slm.customer_features(ds, "2026-03-01", lookback="2M", themes=4))


def test_text_features_with_themes_fitted_by_the_caller(samples):
    directory, ds = samples
    lazy = open_dataset(directory)
    themes = slm.voice.comment_themes(ds.surveys.loc[ds.surveys["submitted_at"] < "2025-06-01"], n_themes=3)
    as_of = berlin("2025-07-01", "2025-12-01")
    assert_same(slm.customer_features(lazy, as_of, themes=themes), slm.customer_features(ds, as_of, themes=themes))
    with pytest.raises(ConfigError, match="would carry the future"):
        slm.customer_features(lazy, "2025-03-01", themes=themes)


def test_no_active_customer_gives_the_same_empty_frame(samples):
    directory, ds = samples
    engine = slm.customer_features(open_dataset(directory), "2015-01-01")
    pd.testing.assert_frame_equal(engine, slm.customer_features(ds, "2015-01-01"))
    assert engine.empty and list(engine.columns) == list(FEATURE_COLUMNS)


# ----------------------------------------------------------------------------- by hand
def test_customer_features_on_the_engine_by_hand(tmp_path):
    utc = lambda *v: pd.to_datetime(list(v), utc=True, format="ISO8601")  # noqa: E731
    customers = pd.DataFrame({"customer_id": ["a", "b", "c", "d"], "signup_at": utc("2024-01-01", "2024-02-01",
                                                                                       "2024-03-31", "2024-01-01"),
                              "segment": ["smb", "ent", "smb", "smb"], "region": "eu",
                              "churned_at": utc(None, "2024-05-01", None, "2024-03-31")})
    tickets = pd.DataFrame({
        "ticket_id": ["t1", "t2", "t3", "t4", "t5"], "customer_id": ["a", "a", "a", "b", "a"],
        "created_at": utc("2024-03-01 09:00", "2024-03-10 09:00", "2024-03-31 20:00", "2024-03-20", "2023-12-01"),
        # t1 answered in 2 h, t2 in 10 h (late for normal, 8 h), t3 answered only at as_of: unanswered then,
        # 4 h running past its 1 h urgent target; t5 before the window
        "first_response_at": utc("2024-03-01 11:00", "2024-03-10 19:00", "2024-04-01", None, "2023-12-01 01:00"),
        "resolved_at": utc("2024-03-02", "2024-03-11", None, "2024-03-21", "2023-12-02"),
        "channel": "email", "priority": ["normal", "normal", "urgent", "low", "normal"], "agent_id": "x",
        "team": "t", "replies": 1, "reopens": [1, 0, 0, 0, 0], "category": "c"})
    surveys = pd.DataFrame({
        "response_id": ["R3", "R1", "R2", "R4"], "customer_id": ["a", "a", "a", "b"], "ticket_id": None,
        # a: two NPS answers at the same instant: the larger response_id (R3, a 10) is the latest
        "submitted_at": utc("2024-03-05", "2024-03-05", "2024-03-06", "2024-03-21"),
        "type": ["nps", "nps", "csat", "nps"], "score": [10, 3, 4, 7], "comment": None})
    revenue = pd.DataFrame({"customer_id": ["a", "a", "a", "b"],
                            "paid_at": utc("2024-02-01", "2024-03-01", "2024-04-01", "2024-04-15"),
                            "amount": [100.0, -20.0, 50.0, 30.0], "order_id": None})
    ds = Dataset(tickets=tickets, surveys=surveys, customers=customers, revenue=revenue)
    write(ds, tmp_path)
    f = engine_customer_features(open_dataset(tmp_path), "2024-04-01", lookback="1M", horizon="1M")
    assert f["customer_id"].tolist() == ["a", "b", "c"]  # d churned the day before as_of; c signed up then
    assert f["tickets"].tolist() == [3, 1, 0]
    np.testing.assert_allclose(f["median_frt_h"], [6.0, np.nan, np.nan])
    np.testing.assert_allclose(f["sla_breach_share"], [2 / 3, 1.0, np.nan])  # b: 12 days unanswered (low: 24 h)
    np.testing.assert_allclose(f["reopen_share"], [0.5, 0.0, np.nan])
    assert f[["median_requester_wait_h", "handoff_share"]].isna().all().all()
    np.testing.assert_allclose(f["mean_csat"], [4.0, np.nan, np.nan])
    assert f["last_nps_category"].tolist() == ["promoter", "passive", "none"]
    np.testing.assert_allclose(f["historical_clv"], [80.0, 0.0, 0.0])  # the payment at as_of is not history
    np.testing.assert_allclose(f["revenue_horizon"], [50.0, 30.0, 0.0])
    assert f["churned"].tolist() == [False, True, False] and f["event"].tolist() == [0, 1, 0]
    np.testing.assert_allclose(f["duration_days"], [30.0, 30.0, 30.0])
    np.testing.assert_allclose(f["tenure_days"], [91.0, 60.0, 1.0])
    assert_same(f, slm.customer_features(ds, "2024-04-01", lookback="1M", horizon="1M"))


def test_sla_clock_judged_one_nanosecond_before_as_of(tmp_path):
    """A target of 3_600_000_000_999 ns: a clock still running at as_of - 1 ns is within it after 3_600_000_001 us."""
    as_of = pd.Timestamp("2024-04-01", tz="UTC")
    us = lambda *v: pd.to_timedelta(list(v), "us")  # noqa: E731
    created = as_of - us(3_600_000_001, 3_600_000_002, 10)
    tickets = empty_frame("tickets").reindex(range(3)).assign(
        ticket_id=["pending", "breached", "achieved"], customer_id="a", created_at=created,
        first_response_at=[pd.NaT, pd.NaT, created[2] + us(1)[0]], priority="high", reopens=0, replies=0)
    customers = pd.DataFrame({"customer_id": ["a"], "signup_at": as_of - pd.Timedelta(days=9), "segment": "smb",
                              "region": "eu", "churned_at": pd.Series([pd.NaT], dtype="datetime64[ns, UTC]")})
    ds = Dataset(tickets=tickets.astype({"created_at": "datetime64[ns, UTC]",
                                         "first_response_at": "datetime64[ns, UTC]"}), customers=customers)
    write(ds, tmp_path)
    targets = {"first_response": {"high": 1.0000000002775}}  # last_ns_within: 3_600_000_000_999 ns
    f = slm.customer_features(open_dataset(tmp_path), as_of, sla_targets=targets)
    assert f["sla_breach_share"].tolist() == [0.5]
    assert_same(f, slm.customer_features(ds, as_of, sla_targets=targets))


# ----------------------------------------------------------------------------- refused
def test_engine_reads_ticket_events_as_pandas_does():
    """reopen_share, median_requester_wait_h and handoff_share from each instant's lifecycle."""
    ds, lazy = slm.load_data("data_samples"), open_dataset("data_samples")
    starts = [pd.Timestamp("2026-03-01", tz="Europe/Berlin"), pd.Timestamp("2026-10-01", tz="Europe/Berlin")]
    expected = slm.customer_features(ds, starts, lookback="3M", horizon="1M")
    pd.testing.assert_frame_equal(slm.customer_features(lazy, starts, lookback="3M", horizon="1M"), expected,
                                  rtol=1e-9, check_dtype=False)
    assert expected["median_requester_wait_h"].notna().sum() > 1000 and expected["handoff_share"].gt(0).any()


@pytest.mark.parametrize("calendar", BUSINESS, ids=["berlin", "utc_9_17"])
def test_business_hours_with_ticket_events_equal_pandas(calendar):
    """FRT, SLA clocks and the lifecycle's requester waits in business hours (data_samples with its events)."""
    ds, lazy = slm.load_data("data_samples"), open_dataset("data_samples")
    starts = [pd.Timestamp("2026-03-01", tz="Europe/Berlin"), pd.Timestamp("2026-10-01", tz="Europe/Berlin")]
    kwargs = {"lookback": "3M", "horizon": "1M", "calendar": calendar, "sla_targets": {"first_response": {"high": 2}}}
    expected = slm.customer_features(ds, starts, **kwargs)
    assert_same(slm.customer_features(lazy, starts, **kwargs), expected)
    calendar_hours = slm.customer_features(ds, starts, lookback="3M", horizon="1M")
    assert (expected["median_requester_wait_h"] < calendar_hours["median_requester_wait_h"] - 1).mean() > 0.3
    assert expected["median_frt_h"].notna().sum() > 100


def test_engine_refuses_duplicate_customers(samples):
    directory, _ = samples
    lazy = open_dataset(directory)
    con = connect("duckdb")
    _ = con.raw_sql("CREATE TABLE c AS SELECT 'a' AS customer_id UNION ALL SELECT 'a'")
    doubled = from_tables(con, {"tickets": lazy.tickets, "customers": con.table("c")})
    with pytest.raises(ConfigError, match="duplicates"):
        slm.customer_features(doubled, "2025-01-01")
    with pytest.raises(ConfigError, match="empty"):
        slm.customer_features(lazy, [])


# ----------------------------------------------------------------------------- generated data
@st.composite
def small_dataset(draw) -> Dataset:
    """Customers (not in id order) signing up and churning, tickets with missing responses, surveys with ties,
    refunds."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n_c, n, k, m = 6, draw(st.integers(5, 60)), draw(st.integers(3, 40)), draw(st.integers(0, 30))
    start = pd.Timestamp("2024-01-01", tz="UTC")
    us = lambda days, size: pd.to_timedelta(rng.integers(0, days * 86_400_000_000, size), "us")  # noqa: E731
    signup = start + us(120, n_c)
    customers = pd.DataFrame({"customer_id": rng.permutation(["C0", "C1", "C2", "C10", "C11", "C20"]),
                              "signup_at": signup,
                              "segment": rng.choice(["smb", "ent"], n_c), "region": "eu",
                              "churned_at": pd.Series(signup + us(200, n_c)).where(rng.random(n_c) < 0.5)})
    created = start + us(200, n)
    after = lambda hours: pd.to_timedelta(rng.integers(0, hours * 3_600_000_000, n), "us")  # noqa: E731
    tickets = pd.DataFrame({
        "ticket_id": [f"T{i}" for i in range(n)], "customer_id": rng.choice(customers["customer_id"], n),
        "created_at": created, "first_response_at": pd.Series(created + after(30)).where(rng.random(n) < 0.7),
        "resolved_at": pd.Series(created + after(300)).where(rng.random(n) < 0.6), "channel": "chat",
        "priority": rng.choice(["urgent", "high", "normal", "low"], n), "agent_id": "A", "team": "t",
        "replies": rng.integers(0, 3, n), "reopens": rng.integers(0, 2, n), "category": "x"})
    kind = rng.choice(["nps", "csat", "ces"], k)
    at = start + pd.to_timedelta(rng.integers(0, 40, k) * 5, "D")  # coarse: ties in submitted_at
    surveys = pd.DataFrame({
        "response_id": [f"R{i}" for i in rng.permutation(k)], "customer_id": rng.choice(["C0", "C1", "C2"], k),
        "ticket_id": None, "submitted_at": at, "type": kind,
        "score": (rng.random(k) * np.select([kind == "nps", kind == "csat"], [11, 5], 7)).astype("int64")
        + (kind != "nps"), "comment": None})
    revenue = pd.DataFrame({"customer_id": rng.choice(customers["customer_id"], m), "paid_at": start + us(250, m),
                            "amount": np.round(rng.normal(20, 30, m), 2), "order_id": None})
    return Dataset(tickets=tickets, surveys=surveys, customers=customers, revenue=revenue)


def write(ds: Dataset, directory) -> None:
    """Canonical columns and dtypes as Parquet (microseconds: Spark reads no nanoseconds)."""
    for name in LAZY_TABLES:
        frame = getattr(ds, name)
        frame = frame.astype({c: t for c, t in COLUMNS[name].items() if c in frame and "datetime" not in t})
        frame.to_parquet(directory / f"{name}.parquet", index=False, coerce_timestamps="us")


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ds=small_dataset(), day=st.integers(20, 240), lookback=st.sampled_from(["30D", "2M", "12h"]),
       horizon=st.sampled_from(["45D", "1M"]), panel=st.booleans(), calendar=st.sampled_from([None, *AROUND_DST]))
def test_duckdb_equals_pandas_on_generated_data(tmp_path_factory, ds, day, lookback, horizon, panel, calendar):
    """Calendar hours and business hours (the tickets span the DST changes of 2024)."""
    directory = tmp_path_factory.mktemp("features")
    write(ds, directory)
    as_of = pd.Timestamp("2024-01-01 06:00", tz=BERLIN) + pd.Timedelta(days=day)
    as_of = [as_of, as_of + pd.Timedelta(days=17)] if panel else as_of
    kwargs = {"lookback": lookback, "horizon": horizon, "calendar": calendar}
    expected = slm.customer_features(ds, as_of, **kwargs)
    if len(expected):
        assert_same(slm.customer_features(open_dataset(directory), as_of, **kwargs), expected)
    shutil.rmtree(directory)


# ----------------------------------------------------------------------------- spark (fixture in conftest.py)
def test_spark_customer_features_equal_pandas_on_the_samples(spark, samples):
    """One case for Spark: the business hours of a Berlin calendar with holidays (calendar time takes the same
    queries with the epoch clock, which the Spark cases of metric_table read)."""
    directory, ds = samples
    as_of = berlin("2025-02-01", "2025-09-01")
    lazy = open_dataset(directory, engine="spark", con=spark)
    assert_same(slm.customer_features(lazy, as_of, lookback="3M", calendar=BUSINESS[0]),
                slm.customer_features(ds, as_of, lookback="3M", calendar=BUSINESS[0]))


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ds=small_dataset(), day=st.integers(60, 200))
def test_spark_equals_pandas_on_generated_data(spark, tmp_path_factory, ds, day):
    """Two generated data sets on Spark (their edge cases in full on DuckDB above)."""
    as_of = pd.Timestamp("2024-01-01", tz="UTC") + pd.Timedelta(days=day)
    expected = slm.customer_features(ds, as_of, lookback="2M")
    assume(len(expected) > 0)
    directory = tmp_path_factory.mktemp("spark_features")
    write(ds, directory)
    assert_same(slm.customer_features(open_dataset(directory, engine="spark", con=spark), as_of, lookback="2M"),
                expected)
    shutil.rmtree(directory)
