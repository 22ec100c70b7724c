"""Tests of notebook 03's functions on an engine (slm_lib.engines.backlog, .volume, .groups and the collected
months of io.dataset.months_in_memory): equal to pandas on the samples and on generated data with ticket
events, and by hand."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import slm_lib as slm
import slm_lib.synth as synth
from slm_lib import nb
from slm_lib.engines import open_dataset
from slm_lib.engines.volume import engine_volume
from slm_lib.errors import EngineNotSupportedError, InsufficientDataError
from slm_lib.forecast.volume import _count_matrix
from slm_lib.io.dataset import Dataset
from slm_lib.io.load import load_data
from slm_lib.io.save import save_data
from slm_lib.periods import period_ordinals
from slm_lib.schema import empty_frame

MONTH = "2026-10"


def assert_same(engine: pd.DataFrame, pandas_frame: pd.DataFrame) -> None:
    """Same rows, columns, dtypes and labels; numbers to 1e-9."""
    assert len(engine) == len(pandas_frame) > 0
    pd.testing.assert_frame_equal(engine, pandas_frame, rtol=1e-9, atol=1e-9)


@pytest.fixture(scope="module")
def samples() -> tuple:
    """The samples (with ticket events) on DuckDB and in pandas (report_data's cut: the generated data below)."""
    return open_dataset("data_samples"), load_data("data_samples")


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> tuple:
    """A small generated data set with ticket events, in Parquet, as report_data cuts it for 2025-06, on DuckDB and in pandas."""
    directory = tmp_path_factory.mktemp("ops")
    save_data(synth.generate(customers=150, months=9, seed=5, events=True), directory, format="parquet")
    return (nb.report_data(directory, "2025-06", "", "UTC", None, engine="duckdb"),
            nb.report_data(directory, "2025-06", "", "UTC", None))


def _ts(*values: str | None) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values), utc=True)).astype("datetime64[ns, UTC]")


def hand_data() -> Dataset:
    """Five tickets around 2024-01-01..05 (one reopened through its events, one with events but no status)."""
    tickets = empty_frame("tickets").reindex(range(5)).assign(
        ticket_id=["a", "b", "c", "d", "e"], customer_id="k",
        created_at=_ts("2024-01-01 10:00", "2024-01-01 12:00", "2024-01-02 06:00", "2024-01-02 00:00",
                       "2024-01-04 10:00"),
        resolved_at=_ts("2024-01-04 12:00", None, None, None, "2024-01-05 00:00"),
        channel=["email", None, "chat", "email", "email"], replies=0, reopens=0)
    events = empty_frame("ticket_events").reindex(range(5)).assign(
        event_id=[f"e{i}" for i in range(5)], ticket_id=["a", "a", "a", "a", "c"],
        at=_ts("2024-01-01 11:00", "2024-01-02 09:00", "2024-01-03 08:00", "2024-01-04 12:00", "2024-01-02 07:00"),
        kind=["status", "status", "status", "status", "public_reply"], actor=["agent"] * 4 + ["customer"],
        status=["open", "solved", "open", "solved", None])
    return Dataset(tickets=tickets, ticket_events=events)


@pytest.fixture(scope="module")
def hand(tmp_path_factory) -> tuple:
    directory = tmp_path_factory.mktemp("hand")
    ds = hand_data()
    save_data(ds, directory, format="parquet")
    return open_dataset(directory), ds


# ----------------------------------------------------------------------------- backlog
def test_duckdb_backlog_equals_pandas_on_the_samples(samples):
    lazy, ds = samples
    assert_same(slm.backlog(lazy, freq="D"), slm.backlog(ds, freq="D"))


def test_duckdb_backlog_equals_pandas_on_generated_data_with_events(generated):
    lazy, ds = generated
    kwargs = {"freq": "W", "by": ["team", "segment"], "tz": "America/New_York", "age_buckets": (0.5, 2, 10)}
    assert_same(slm.backlog(lazy, **kwargs), slm.backlog(ds, **kwargs))


def test_backlog_by_hand_on_both_engines(hand):
    # ends 01-02 .. 01-06 00:00; a: open to 01-02 09:00, reopened 01-03 08:00 to 01-04 12:00; b, c (events without a
    # status), d (created at an end) open; e resolved exactly at the end 01-05 00:00 (still open there)
    expected = [[2, 0], [1, 2], [0, 4], [1, 3], [0, 3]]
    for data in hand:
        out = slm.backlog(data, age_buckets=(1,), as_of="2024-01-06")
        assert out.pivot(index="period", columns="age_bucket", values="open_tickets").values.tolist() == expected
    by = [slm.backlog(data, by="channel", age_buckets=(1,), as_of="2024-01-06") for data in hand]
    assert_same(*by)
    labels = by[0]["channel"].drop_duplicates()
    assert labels.iloc[:2].tolist() == ["chat", "email"] and len(labels) == 3 and pd.isna(labels.iloc[2])


def test_backlog_without_events_on_the_engine(tmp_path):
    ds = hand_data()
    save_data(Dataset(tickets=ds.tickets), tmp_path, format="parquet")
    # without events a is open from creation to its resolved_at (01-04 12:00) and c stays open
    expected = [[2, 0], [1, 3], [0, 4], [1, 3], [0, 3]]
    for data in (open_dataset(tmp_path), Dataset(tickets=ds.tickets)):
        out = slm.backlog(data, age_buckets=(1,), as_of="2024-01-06")
        assert out.pivot(index="period", columns="age_bucket", values="open_tickets").values.tolist() == expected


def test_backlog_on_the_engine_refuses_when_no_period_ended(hand):
    with pytest.raises(InsufficientDataError, match="no D period ended"):
        slm.backlog(hand[0], as_of="2024-01-01 23:00")


# ----------------------------------------------------------------------------- forecast_volume
@pytest.mark.parametrize("freq, by, tz", [("D", ["channel"], "UTC"), ("W", ["segment", "priority"], "Europe/Berlin")])
def test_engine_volume_equals_the_pandas_count_matrix(samples, freq, by, tz):
    lazy, ds = samples
    first = int(period_ordinals(ds.tickets["created_at"].iloc[:1], freq, tz)[0]) + 3
    counts, keys = engine_volume(lazy, freq, by, tz, first, 40)
    want_counts, want_keys = _count_matrix(ds, freq, by, tz, first, 40)
    np.testing.assert_array_equal(counts, want_counts)
    pd.testing.assert_frame_equal(keys, want_keys)
    assert counts.sum() > 0


def test_engine_volume_by_hand(hand):
    counts, keys = engine_volume(hand[0], "D", ["channel"], "UTC", 19723, 4)   # 2024-01-01 .. 04
    assert keys["channel"].iloc[:2].tolist() == ["chat", "email"] and pd.isna(keys["channel"].iloc[2])
    assert counts.tolist() == [[0, 1, 0, 0], [1, 1, 0, 1], [1, 0, 0, 0]]


def test_duckdb_forecast_volume_equals_pandas(generated):
    lazy, ds = generated
    runs = [slm.forecast_volume(data, freq="W", horizon=4, origins=2) for data in (lazy, ds)]
    assert_same(runs[0].forecast, runs[1].forecast)
    assert_same(runs[0].backtest, runs[1].backtest)


# ----------------------------------------------------------------------------- the month's rows, collected
def test_month_bounded_functions_equal_pandas_on_the_samples(samples):
    lazy, ds = samples
    month = nb.month_subset(lazy, MONTH)
    assert isinstance(month, Dataset) and month.as_of == ds.observation_end()
    assert_same(slm.sla_compliance(month), slm.sla_compliance(nb.month_subset(ds, MONTH)))
    two = nb.month_subset(lazy, MONTH, months=2, tz="Asia/Kolkata")
    by_id = lambda frame: frame.sort_values("ticket_id").reset_index(drop=True)   # noqa: E731 (engines keep no row order)
    assert_same(by_id(two.tickets), by_id(nb.month_subset(ds, MONTH, months=2, tz="Asia/Kolkata").tickets))
    assert_same(slm.csat_by_handling(lazy, MONTH, months=3), slm.csat_by_handling(ds, MONTH, months=3))
    gaps = [slm.delivery_gap(data, MONTH, by="team") for data in (lazy, ds)]
    assert_same(*gaps)
    assert gaps[0].attrs == gaps[1].attrs


def test_month_bounded_functions_and_agent_tables_equal_pandas_with_events(generated):
    lazy, ds = generated
    assert_same(slm.csat_by_handling(lazy, "2025-06", months=2, tz="Europe/Berlin"),
                slm.csat_by_handling(ds, "2025-06", months=2, tz="Europe/Berlin"))
    assert_same(slm.delivery_gap(lazy, "2025-06", by="segment"), slm.delivery_gap(ds, "2025-06", by="segment"))
    tables = [slm.scorecard(slm.agent_table(data, by="team", month="2025-06"), "team") for data in (lazy, ds)]
    assert_same(*tables)


def test_csat_by_handling_on_an_engine_needs_a_month(generated):
    with pytest.raises(EngineNotSupportedError, match="give a month"):
        slm.csat_by_handling(generated[0])


# ----------------------------------------------------------------------------- spark (fixture in conftest.py)
def test_spark_operations_equal_pandas(spark, tmp_path):
    # one month of the samples, events included, in Spark's microseconds
    save_data(nb.month_subset(load_data("data_samples"), "2025-02"), tmp_path, format="parquet")
    lazy = open_dataset(tmp_path, engine="spark", con=spark)
    here = load_data(tmp_path, errors="drop")   # drops the surveys of tickets before the month
    kwargs = {"by": "channel", "tz": "Asia/Kolkata", "age_buckets": (1, 7)}
    assert_same(slm.backlog(lazy, **kwargs), slm.backlog(here, **kwargs))
