"""Tests of slm_lib.engines.clock: business time in SQL equals BusinessCalendar to the microsecond."""
from __future__ import annotations

import shutil

import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_engines import assert_same_table, small_dataset, write_parquet

import slm_lib as slm
from slm_lib.calendar import BusinessCalendar
from slm_lib.engines import connect, open_dataset
from slm_lib.engines.clock import engine_clock
from slm_lib.engines.dataset import CORE_TABLES
from slm_lib.errors import ConfigError
from slm_lib.io.dataset import Dataset
from slm_lib.metrics.table import metric_table

GERMAN_HOLIDAYS = ["2024-12-25", "2024-12-26", "2025-01-01", "2025-04-18", "2025-04-21", "2025-05-01",
                   "2025-05-29", "2025-06-09", "2025-10-03", "2025-12-25", "2025-12-26", "2026-01-01",
                   "2026-04-03", "2026-04-06", "2026-05-01", "2026-05-14", "2026-05-25", "2026-10-03",
                   "2026-12-25", "2026-12-26"]
CALENDARS = [
    BusinessCalendar(tz="Europe/Berlin", holidays=GERMAN_HOLIDAYS),
    BusinessCalendar(start="08:30", end="17:45", tz="America/New_York", holidays=["2026-07-03", "2026-11-26"]),
    BusinessCalendar(weekdays=(0, 1, 2, 3, 4, 5), start="00:00", end="24:00", tz="America/New_York",
                     holidays=["2026-03-07", "2026-11-01", "2026-12-24"]),   # a working Saturday, a Sunday (no effect)
    BusinessCalendar(weekdays=(6,), start="22:00", end="24:00", tz="Europe/Berlin"),
    BusinessCalendar(start="07:00", end="19:00"),
]
DST_CHANGES = ["2026-03-29 01:00", "2026-10-25 01:00", "2026-03-08 07:00", "2026-11-01 06:00"]  # UTC
_US_HOUR = 3_600_000_000


def at(*values: str | None) -> pd.Series:
    return pd.Series(pd.to_datetime(list(values), utc=True, format="ISO8601")).astype("datetime64[us, UTC]")


def clock_hours(con, calendar, start: pd.Series, end: pd.Series) -> np.ndarray:
    """``clock(end) - clock(start)`` on the engine, in microseconds (NaN for NULL)."""
    clock = engine_clock(calendar, con)
    t = ibis.memtable(pd.DataFrame({"a": start, "b": end}))
    out = con.execute(t.select(d=clock(t.b) - clock(t.a)))["d"]
    return out.to_numpy(dtype=np.float64)


def assert_equal_to_calendar(con, calendar, start: pd.Series, end: pd.Series) -> None:
    """Engine microseconds == round(hours_between * 3.6e9), and as hours the very same float."""
    got = clock_hours(con, calendar, start, end)
    hours = np.asarray(calendar.hours_between(start, end), dtype=np.float64)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(hours))
    ok = ~np.isnan(hours)
    np.testing.assert_array_equal(got[ok], np.round(hours[ok] * 3.6e9))
    np.testing.assert_array_equal(got[ok] * 1000 / 3.6e12, hours[ok])


@pytest.fixture(scope="module")
def con():
    return connect("duckdb")


# ----------------------------------------------------------------------------- the clock by hand
@pytest.mark.parametrize("calendar, start, end, hours", [
    (BusinessCalendar(tz="Europe/Berlin"), "2026-03-27 15:00", "2026-03-30 08:00", 2.0),  # Fri 16 CET -> Mon 10 CEST
    (BusinessCalendar(tz="Europe/Berlin", holidays=["2026-03-30"]), "2026-03-27 15:00", "2026-03-31 08:00", 2.0),
    (BusinessCalendar(tz="Europe/Berlin", holidays=["2026-03-30"]), "2026-03-30 08:00", "2026-03-30 12:00", 0.0),
    (BusinessCalendar(tz="Europe/Berlin"), "2026-03-30 08:00", "2026-03-27 15:00", -2.0),   # reversed
    (BusinessCalendar(), "2026-03-06 16:59:59.999999", "2026-03-09 09:00:00.000001", 2e-6 / 3600),
    (BusinessCalendar(), "2026-03-06 17:00", "2026-03-09 09:00", 0.0),                      # closed at 17:00 sharp
    (BusinessCalendar(), "1969-12-26 10:00", "1970-01-05 10:00", 48.0),                     # before the epoch
    (BusinessCalendar(holidays=["1970-01-01", "1969-12-27"]), "1969-12-26 10:00", "1970-01-05 10:00", 40.0),
    # a 24-hour desk counts the wall clock: 24 h on the day clocks skip an hour, and on the day they repeat one
    (BusinessCalendar(weekdays=range(7), start="00:00", end="24:00", tz="America/New_York"),
     "2026-03-08 05:00", "2026-03-09 04:00", 24.0),
    (BusinessCalendar(weekdays=range(7), start="00:00", end="24:00", tz="America/New_York"),
     "2026-11-01 04:00", "2026-11-02 05:00", 24.0),
    # Saturdays open until midnight, the Sunday of the DST change closed
    (BusinessCalendar(weekdays=(0, 1, 2, 3, 4, 5), start="00:00", end="24:00", tz="America/New_York"),
     "2026-03-07 17:00", "2026-03-09 16:00", 24.0),
])
def test_clock_differences_by_hand(con, calendar, start, end, hours):
    got = clock_hours(con, calendar, at(start), at(end))
    assert got[0] == round(hours * 3.6e9)
    assert_equal_to_calendar(con, calendar, at(start), at(end))


def test_null_in_null_out_and_calendar_time(con):
    start, end = at("2026-03-02 10:00", None, "2026-03-02 10:00"), at(None, "2026-03-02 10:00", "2026-03-09 10:00")
    for calendar in (CALENDARS[0], CALENDARS[3]):
        assert np.isnan(clock_hours(con, calendar, start, end)[:2]).all()
    assert clock_hours(con, None, start, end)[2] == 7 * 24 * _US_HOUR
    t = ibis.memtable(pd.DataFrame({"a": at("1969-07-20 20:17:40.000001", None)}))
    assert con.execute(t.select(u=engine_clock(None, con)(t.a)))["u"].iloc[0] == -14182940 * 10**6 + 1


def test_naive_timestamps_are_read_as_utc(con):
    naive = pd.DataFrame({"a": pd.to_datetime(["2026-03-27 15:00"]), "b": pd.to_datetime(["2026-03-30 08:00"])})
    t = ibis.memtable(naive)
    clock = engine_clock(BusinessCalendar(tz="Europe/Berlin"), con)
    assert con.execute(t.select(d=clock(t.b) - clock(t.a)))["d"].iloc[0] == 2 * _US_HOUR


def test_other_backends_take_utc_calendars_only(con):
    class Warehouse:   # a backend without DuckDB's or Spark's time-zone functions
        name = "snowflake"

    with pytest.raises(ConfigError, match="tz='Europe/Berlin' on the snowflake backend"):
        engine_clock(BusinessCalendar(tz="Europe/Berlin"), Warehouse())
    start, end = at("2026-03-06 16:30", "2026-01-01"), at("2026-03-09 09:30", "2026-01-02")
    clock = engine_clock(BusinessCalendar(holidays=["2026-01-01"]), Warehouse())   # generic SQL, run here on DuckDB
    t = ibis.memtable(pd.DataFrame({"a": start, "b": end}))
    assert con.execute(t.select(d=clock(t.b) - clock(t.a)))["d"].tolist() == [_US_HOUR, 0]
    assert con.execute(t.select(d=engine_clock(None, Warehouse())(t.b)))["d"].iloc[1] == 1767312000 * 10**6


# ----------------------------------------------------------------------------- the clock on random instants
instants = st.one_of(
    st.integers(-5 * 86_400, 5 * 86_400).flatmap(lambda s: st.sampled_from(DST_CHANGES).map(
        lambda c: pd.Timestamp(c, tz="UTC").value // 1000 + s * 1_000_000)),           # around a DST change
    st.integers(pd.Timestamp("2024-06-01", tz="UTC").value // 1000, pd.Timestamp("2027-03-01", tz="UTC").value // 1000),
).flatmap(lambda us: st.integers(0, 999_999).map(lambda frac: us + frac if frac % 3 else us))


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(calendar=st.sampled_from(CALENDARS), pairs=st.lists(st.tuples(instants, instants), min_size=1, max_size=40))
def test_clock_equals_business_calendar_to_the_microsecond(con, calendar, pairs):
    a, b = (pd.Series(pd.to_datetime([p[i] for p in pairs], unit="us", utc=True)) for i in (0, 1))
    a[::7] = pd.NaT
    assert_equal_to_calendar(con, calendar, a, b)
    assert_equal_to_calendar(con, calendar, b, a)   # reversed intervals: the negative


# ----------------------------------------------------------------------------- metric_table with a calendar
@pytest.fixture(scope="module")
def samples():
    # the engine reads no ticket events (they would time the SLA clocks and reopens on the pandas engine)
    return open_dataset("data_samples", tables=CORE_TABLES), slm.load_data("data_samples", tables=CORE_TABLES)


@pytest.mark.parametrize("calendar, freq, by, tz", [
    (CALENDARS[0], "M", ["channel"], "Europe/Berlin"), (CALENDARS[1], "Q", ["priority"], "UTC"),
    (CALENDARS[2], "W", None, "America/New_York"), (CALENDARS[4], None, ["segment"], "UTC")])
def test_duckdb_metric_table_in_business_hours_equals_pandas(samples, calendar, freq, by, tz):
    lazy, ds = samples
    kwargs = {"freq": freq, "by": by, "tz": tz, "calendar": calendar}
    engine = metric_table(lazy, **kwargs)
    assert_same_table(engine, metric_table(ds, **kwargs), (["period"] if freq else []) + (by or []))
    calendar_time = metric_table(lazy, **{**kwargs, "calendar": None})
    assert not np.allclose(engine[engine.metric == "frt_mean"]["value"],
                           calendar_time[calendar_time.metric == "frt_mean"]["value"])


def test_sla_in_business_hours_at_the_boundary(tmp_path):
    """A response exactly at the target is achieved, one microsecond later breached, as on pandas."""
    cal = BusinessCalendar(tz="Europe/Berlin", holidays=["2026-03-30"])
    # Fri 16:30 CET (d: one microsecond later)
    created = at("2026-03-27 15:30", "2026-03-27 15:30", "2026-03-27 15:30", "2026-03-27 15:30:00.000001")
    tickets = pd.DataFrame({
        "ticket_id": ["a", "b", "c", "d"], "customer_id": "x", "created_at": created,
        # 30 min on Friday + 35 min on Tuesday (Monday a holiday, clocks moved to CEST) = 65 minutes
        "first_response_at": at("2026-03-31 07:35", "2026-03-31 07:35:00.000001", "2026-03-31 07:34:59.999999", None),
        "resolved_at": at(None, None, None, None), "channel": "chat", "priority": "high", "replies": 1, "reopens": 0})
    tickets.to_parquet(tmp_path / "tickets.parquet", index=False, coerce_timestamps="us")
    kwargs = {"freq": None, "as_of": "2026-03-31 07:35:00.000001", "calendar": cal,
              "sla": {"first_response": {"high": 65 / 60}}}
    engine = metric_table(open_dataset(tmp_path), **kwargs)
    row = engine.set_index("metric").loc["sla_first_response"]
    assert (row["n"], row["value"]) == (3, pytest.approx(200 / 3))   # a, c in time, b late, d pending at 65 min
    assert_same_table(engine, metric_table(Dataset(tickets=tickets), **kwargs), [])


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ds=small_dataset(), calendar=st.sampled_from(CALENDARS), by=st.sampled_from([None, ["channel"]]))
def test_duckdb_business_hours_equal_pandas_on_generated_data(tmp_path_factory, ds, calendar, by):
    directory = tmp_path_factory.mktemp("clock")
    write_parquet(ds, directory)
    kwargs = {"by": by, "calendar": calendar, "sla": {"first_response": {"low": 1, "high": 0.25},
                                                      "resolution": {"low": 20, "high": 3}}}
    assert_same_table(metric_table(open_dataset(directory), **kwargs), metric_table(ds, **kwargs),
                      ["period"] + (by or []))
    shutil.rmtree(directory)


# ----------------------------------------------------------------------------- spark (fixture in conftest.py)
def test_spark_clock_and_metric_table_in_business_hours(spark, samples):
    start = at("2026-03-27 15:00", "2026-10-23 12:00:00.000007", None, "2026-03-30 08:00")
    end = at("2026-03-30 08:00", "2026-10-26 16:59:59.5", "2026-03-30 08:00", "2026-03-27 15:00")
    for calendar in CALENDARS[:3]:
        assert_equal_to_calendar(spark, calendar, start, end)
    lazy = open_dataset("data_samples", engine="spark", con=spark, tables=CORE_TABLES)
    # calendar time in a zone with DST: Spark's DATEDIFF would count the session's wall clock (the business hours of
    # metric_table on Spark: tests/test_engine_lifecycle.py's Spark case)
    kwargs = {"by": ["channel"], "tz": "Europe/Berlin"}
    assert_same_table(metric_table(lazy, **kwargs), metric_table(samples[1], **kwargs), ["period", "channel"])
