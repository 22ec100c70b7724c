"""Tests of slm_lib.engines.summaries: rfm_summary and cohort_retention on DuckDB and Spark equal pandas."""
from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import slm_lib as slm
from slm_lib.clv.rfm import rfm_summary
from slm_lib.cohorts import cohort_retention
from slm_lib.engines import LazyDataset, engine_cohort_retention, engine_rfm_summary, open_dataset
from slm_lib.engines.dataset import CORE_TABLES
from slm_lib.engines.session import set_time_zone
from slm_lib.errors import ConfigError, DataValidationError, InsufficientDataError, MissingTableError
from slm_lib.io.dataset import Dataset
from slm_lib.schema import empty_frame

_US_DAY = 86_400_000_000


def assert_same(engine: pd.DataFrame, pandas_frame: pd.DataFrame, nonempty: bool = True) -> None:
    """Same columns, index, dtypes and labels; numbers to 1e-9."""
    assert len(engine) == len(pandas_frame) > (0 if nonempty else -1)
    pd.testing.assert_frame_equal(engine, pandas_frame, rtol=1e-9, atol=1e-9)


@pytest.fixture(scope="module")
def samples() -> tuple[LazyDataset, Dataset]:
    # without ticket events on both sides: Spark reads no nanosecond Parquet (the sample's events)
    return open_dataset("data_samples", tables=CORE_TABLES), slm.load_data("data_samples", tables=CORE_TABLES)


def write(directory, **tables: pd.DataFrame) -> None:
    """Canonical tables as Parquet (microseconds: Spark reads no nanoseconds), with an empty tickets table."""
    for name, frame in {"tickets": empty_frame("tickets"), **tables}.items():
        frame.to_parquet(directory / f"{name}.parquet", index=False, coerce_timestamps="us")


# ----------------------------------------------------------------------------- rfm_summary
@pytest.mark.parametrize("time_unit, observation_end", [("W", None), ("D", "2025-03-01"),
                                                        ("M", "2025-01-31T23:30-05:00"), ("Y", None)])
def test_duckdb_rfm_summary_equals_pandas_on_the_samples(samples, time_unit, observation_end):
    lazy, ds = samples
    assert_same(rfm_summary(lazy, observation_end=observation_end, time_unit=time_unit),
                rfm_summary(ds.revenue, observation_end=observation_end, time_unit=time_unit))


def test_rfm_days_are_utc_calendar_days_whatever_the_session_time_zone(tmp_path):
    ts = lambda *s: pd.to_datetime(list(s), utc=True, format="ISO8601")  # noqa: E731
    revenue = pd.DataFrame({"customer_id": ["a", "a", "a", "b", None],
                            "paid_at": ts("2024-01-01T23:59:59.9", "2024-01-02T00:00:00.1", "2024-01-02T12:00",
                                          "2024-01-08T23:00", "2024-01-01"),
                            "amount": [10.0, 5.0, 7.0, 3.0, 1.0], "order_id": None})
    write(tmp_path, revenue=revenue)
    lazy = open_dataset(tmp_path)
    set_time_zone(lazy.con, "America/New_York")  # wall dates there would merge a's two first purchases
    out = engine_rfm_summary(lazy, time_unit="D")
    # a: days 1 and 2 Jan (12.0 on the 2nd), b: 8 Jan; the missing customer is dropped
    assert out.to_dict("index") == {"a": {"frequency": 1, "recency": 1.0, "T": 7.0, "monetary_value": 12.0},
                                    "b": {"frequency": 0, "recency": 0.0, "T": 0.0, "monetary_value": 0.0}}
    assert out.index.name == "customer_id"


def test_rfm_summary_of_a_lazy_dataset_without_amounts_or_revenue(samples, tmp_path):
    lazy, ds = samples
    assert_same(rfm_summary(lazy, amount_col=None, time_unit="D"), rfm_summary(ds.revenue, amount_col=None,
                                                                                 time_unit="D"))
    with pytest.raises(DataValidationError, match="price"):
        rfm_summary(lazy, amount_col="price")
    write(tmp_path)
    with pytest.raises(MissingTableError, match="revenue"):
        rfm_summary(open_dataset(tmp_path))


def test_rfm_on_an_engine_refuses_missing_dates_and_summarises_no_purchase_as_empty(tmp_path):
    revenue = pd.DataFrame({"customer_id": ["a", "b"], "paid_at": pd.to_datetime(["2024-01-01", None], utc=True),
                            "amount": [1.0, 2.0], "order_id": None})
    write(tmp_path, revenue=revenue)
    with pytest.raises(DataValidationError, match="'paid_at': 1 missing"):
        engine_rfm_summary(open_dataset(tmp_path))
    write(tmp_path, revenue=empty_frame("revenue"))
    out = engine_rfm_summary(open_dataset(tmp_path))
    assert out.empty and list(out.columns) == ["frequency", "recency", "T", "monetary_value"]


# ----------------------------------------------------------------------------- cohort_retention
@pytest.mark.parametrize("mode", ["contractual", "purchase"])
@pytest.mark.parametrize("freq, tz, as_of, tidy", [("M", "UTC", None, False), ("Q", "Asia/Kolkata", None, True),
                                                   ("W", "Pacific/Auckland", "2025-02-10T03:00", False),
                                                   ("Y", "America/New_York", "2025-01-01T04:59:59", True)])
def test_duckdb_cohort_retention_equals_pandas_on_the_samples(samples, mode, freq, tz, as_of, tidy):
    lazy, ds = samples
    kwargs = {"freq": freq, "mode": mode, "tz": tz, "as_of": as_of, "tidy": tidy}
    assert_same(cohort_retention(lazy, **kwargs), cohort_retention(ds, **kwargs))


def test_engine_cohort_retention_by_hand(tmp_path):
    """Jan: a (churns 20 Jan), b (churns 1 Mar 00:00, i.e. survives Feb), c (pays in Feb); Feb: d."""
    ts = lambda *s: pd.to_datetime(list(s), utc=True, format="ISO8601")  # noqa: E731
    customers = pd.DataFrame({"customer_id": list("abcd"), "signup_at": ts("2024-01-05", "2024-01-10", "2024-01-31",
                                                                         "2024-02-02"),
                              "segment": "smb", "region": None,
                              "churned_at": ts("2024-01-20", "2024-03-01", None, None)})
    revenue = pd.DataFrame({"customer_id": ["c", "c", "d", "b"], "paid_at": ts("2024-02-03", "2024-02-04",
                                                                               "2024-03-01", "2024-03-05"),
                            "amount": [5.0, 5.0, 5.0, -1.0], "order_id": None})
    write(tmp_path, customers=customers, revenue=revenue)
    lazy = open_dataset(tmp_path)
    m = engine_cohort_retention(lazy, as_of="2024-03-15")
    assert m["size"].tolist() == [3, 1]
    np.testing.assert_allclose(m[[0, 1]].to_numpy(float), [[2 / 3, 2 / 3], [1.0, np.nan]])
    p = engine_cohort_retention(lazy, mode="purchase", as_of="2024-03-15", tidy=True)
    assert p[["cohort", "age", "active"]].values.tolist() == [["2024-01", 0, 0], ["2024-01", 1, 1], ["2024-02", 0, 0]]


def test_engine_cohort_retention_errors(samples, tmp_path):
    lazy = samples[0]
    with pytest.raises(ConfigError, match="mode"):
        cohort_retention(lazy, mode="revenue")
    with pytest.raises(ConfigError, match="freq"):
        cohort_retention(lazy, freq="H")
    with pytest.raises(InsufficientDataError, match="no customer"):
        cohort_retention(lazy, as_of="2000-01-01")
    write(tmp_path, customers=empty_frame("customers"))
    with pytest.raises(MissingTableError, match="revenue"):
        cohort_retention(open_dataset(tmp_path), mode="purchase")


# ----------------------------------------------------------------------------- generated data
@st.composite
def customers_and_revenue(draw) -> Dataset:
    """Customers (some churned, some after the end) and purchases often within a minute of UTC midnight."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    m, k = draw(st.integers(1, 15)), draw(st.integers(1, 60))
    start = pd.Timestamp("2024-01-01", tz="UTC")
    signup = start + pd.to_timedelta(rng.integers(0, 150 * _US_DAY, m), "us")
    churn = pd.Series(signup + pd.to_timedelta(rng.integers(0, 150 * _US_DAY, m), "us")).where(rng.random(m) < 0.6)
    customers = pd.DataFrame({"customer_id": [f"C{i}" for i in range(m)], "signup_at": signup, "segment": "smb",
                              "region": None, "churned_at": churn})
    within = np.where(rng.random(k) < 0.5, rng.integers(-60_000_000, 60_000_000, k), rng.integers(0, _US_DAY, k))
    paid = start + pd.to_timedelta(rng.integers(0, 300, k) * _US_DAY + within, "us")
    revenue = pd.DataFrame({"customer_id": rng.choice([f"C{i}" for i in range(m)] + ["X"], k), "paid_at": paid,
                            "amount": rng.choice([-5.0, 0.0, 10.0, 12.5, 99.99], k), "order_id": None})
    return Dataset(customers=customers, revenue=revenue)


def outcome(compute):
    """The result, or the type of the error raised (both engines must agree on either)."""
    try:
        return compute()
    except InsufficientDataError as err:
        return type(err)


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ds=customers_and_revenue(), time_unit=st.sampled_from(["D", "W", "M"]),
       end=st.sampled_from([None, "2024-06-30", "2024-08-01T00:00:00.5"]),
       freq=st.sampled_from(["M", "W", "D"]), mode=st.sampled_from(["contractual", "purchase"]),
       tz=st.sampled_from(["UTC", "Europe/Berlin", "Pacific/Auckland"]), as_of=st.sampled_from([None, "2024-07-01"]))
def test_duckdb_equals_pandas_on_generated_data(tmp_path_factory, ds, time_unit, end, freq, mode, tz, as_of):
    directory = tmp_path_factory.mktemp("summaries")
    write(directory, customers=ds.customers, revenue=ds.revenue)
    lazy = open_dataset(directory)
    assert_same(rfm_summary(lazy, observation_end=end, time_unit=time_unit),
                rfm_summary(ds.revenue, observation_end=end, time_unit=time_unit), nonempty=False)
    kwargs = {"freq": freq, "mode": mode, "tz": tz, "as_of": as_of, "tidy": True}
    engine, pandas_frame = outcome(lambda: cohort_retention(lazy, **kwargs)), outcome(lambda: cohort_retention(ds, **kwargs))
    if isinstance(pandas_frame, pd.DataFrame):
        assert isinstance(engine, pd.DataFrame)
        pd.testing.assert_frame_equal(engine, pandas_frame, rtol=1e-9, atol=1e-9)
    else:
        assert engine is pandas_frame
    shutil.rmtree(directory)


# ----------------------------------------------------------------------------- spark (fixture in conftest.py)
def test_spark_rfm_summary_and_cohort_retention_equal_pandas_on_the_samples(spark, samples):
    lazy, ds = open_dataset("data_samples", engine="spark", con=spark, tables=CORE_TABLES), samples[1]
    assert_same(rfm_summary(lazy, observation_end="2025-02-01T05:00+08:00", time_unit="D"),
                rfm_summary(ds.revenue, observation_end="2025-02-01T05:00+08:00", time_unit="D"))
    for mode, freq, tz in (("contractual", "M", "Asia/Kolkata"), ("purchase", "W", "Pacific/Auckland")):
        assert_same(cohort_retention(lazy, freq=freq, mode=mode, tz=tz),
                    cohort_retention(ds, freq=freq, mode=mode, tz=tz))


@settings(max_examples=2, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ds=customers_and_revenue(), end=st.sampled_from([None, "2024-08-01T00:00:00.5"]))
def test_spark_equals_pandas_on_generated_data(spark, tmp_path_factory, ds, end):
    """Two generated data sets on Spark (their edge cases in full on DuckDB above)."""
    directory = tmp_path_factory.mktemp("spark_summaries")
    write(directory, customers=ds.customers, revenue=ds.revenue)
    lazy = open_dataset(directory, engine="spark", con=spark)
    assert_same(rfm_summary(lazy, observation_end=end, time_unit="W"),
                rfm_summary(ds.revenue, observation_end=end, time_unit="W"), nonempty=False)
    kwargs = {"freq": "M", "mode": "contractual", "tz": "Europe/Berlin", "tidy": True}
    engine, pandas_frame = outcome(lambda: cohort_retention(lazy, **kwargs)), outcome(lambda: cohort_retention(ds, **kwargs))
    if isinstance(pandas_frame, pd.DataFrame):
        pd.testing.assert_frame_equal(engine, pandas_frame, rtol=1e-9, atol=1e-9)
    else:
        assert engine is pandas_frame
    shutil.rmtree(directory)
