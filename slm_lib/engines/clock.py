"""Clocks on an engine: calendar or business time as integer microseconds, in SQL (SPEC §4, §9 engines).

A *clock* maps an ibis timestamp expression (UTC instants) to an int64 expression of
microseconds from a fixed origin, NULL for NULL, so that the time from ``a`` to ``b`` is
``clock(b) - clock(a)``. :func:`engine_clock` gives calendar time (epoch microseconds) or
the business time ``F(t)`` of a :class:`~slm_lib.calendar.BusinessCalendar`, equal to
``calendar.hours_between`` to the microsecond for timestamps of microsecond resolution:
``clock(b) - clock(a) == round(calendar.hours_between(a, b) * 3.6e9)``, wherever the
engine's time-zone database (DuckDB: ICU's, Spark: the JVM's) agrees with Python's; old
rules may differ (DuckDB 2.0 and tzdata disagree on São Paulo in 1965, for instance).

Business time is one pure expression (no join), so it composes into any query:

1. the local wall clock in microseconds (the backend's time-zone conversion: DuckDB
   ``timezone``, Spark ``from_utc_timestamp``), split into the local day ``d`` and the
   time of day ``tod``;
2. ``F = days * day_hours + clip(tod - opening, 0, today)``: ``days``, the working days
   before ``d`` since a fixed Monday, is ``weeks * working days a week`` plus the working
   days before ``d``'s weekday minus the holidays before ``d``; ``today`` is the opening
   hours of ``d`` (0 on days off);
3. the weekday terms come from two 7-entry constant arrays, the holiday terms from two
   constant arrays with one entry per day from the first holiday to the last (``d``
   clipped into that range): O(1) per row whatever the number of holidays.

Integer arithmetic only: remainders, and quotients of exact multiples of a day (or week),
which float64 division gives exactly (a multiple of 86 400 000 000 = 2**10 * 84 375 000
is exact in float64 up to 2**53 * 2**10 microseconds, far beyond any timestamp), so
nothing is rounded.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import ibis
import ibis.expr.datatypes as dt
import numpy as np

from slm_lib.engines.timestamps import instant
from slm_lib.errors import ConfigError

__all__ = ["ON_CLOCK", "Clock", "clock_at", "engine_clock", "wall_clock", "wall_days", "with_clocks"]

#: ``clock(ts) -> int64 expression``: microseconds from the clock's origin, NULL for NULL.
Clock = Callable[[Any], Any]
#: Prefix of the columns :func:`with_clocks` adds.
ON_CLOCK = "_clock_"

_US_PER_MINUTE = 60_000_000
_US_PER_DAY = 1440 * _US_PER_MINUTE
_TO_MONDAY = 3  # 1970-01-01 is a Thursday: the Monday before it is 3 days earlier


@ibis.udf.scalar.builtin(name="timezone")
def _duckdb_timezone(tz: str, ts: dt.Timestamp(timezone="UTC")) -> dt.Timestamp():  # type: ignore[empty-body]
    """DuckDB: the wall clock of the instant ``ts`` in ``tz`` (a naive timestamp)."""


@ibis.udf.scalar.builtin(name="timezone")
def _duckdb_as_utc(tz: str, ts: dt.Timestamp()) -> dt.Timestamp(timezone="UTC"):  # type: ignore[empty-body]
    """DuckDB: the instant whose wall clock in ``tz`` is the naive ``ts``."""


@ibis.udf.scalar.builtin(name="epoch_us")
def _duckdb_epoch_us(ts: dt.Timestamp()) -> dt.int64:  # type: ignore[empty-body]
    """DuckDB: microseconds since 1970-01-01 00:00 of a naive timestamp."""


@ibis.udf.scalar.builtin(name="from_utc_timestamp")
def _spark_from_utc(ts: dt.Timestamp(), tz: str) -> dt.Timestamp():  # type: ignore[empty-body]
    """Spark: the wall clock of ``ts`` in ``tz``, as the instant of that wall clock in UTC."""


@ibis.udf.scalar.builtin(name="unix_micros")
def _spark_unix_micros(ts: dt.Timestamp()) -> dt.int64:  # type: ignore[empty-body]
    """Spark: microseconds since the epoch."""


def _epoch_us(con: Any) -> Clock:
    """Calendar time: microseconds from 1970-01-01 UTC to each instant (a naive timestamp read as UTC)."""
    if con.name == "duckdb":  # epoch_us: 40x faster than DuckDB's date_diff on TIMESTAMPTZ
        return _duckdb_epoch_us
    if con.name == "pyspark":
        return _spark_unix_micros
    return lambda ts: ts.delta(ibis.literal("1970-01-01 00:00:00", type=ts.type()), unit="microsecond")


def wall_clock(con: Any, tz: str) -> Clock:
    """The local wall clock of instants in ``tz`` as microseconds since 1970-01-01 00:00 wall time."""
    if tz == "UTC":
        return _epoch_us(con)
    if con.name == "duckdb":
        def duckdb_wall(ts: Any) -> Any:
            instant = _duckdb_as_utc("UTC", ts) if ts.type().timezone is None else ts  # naive is UTC (SPEC §3)
            return _duckdb_epoch_us(_duckdb_timezone(tz, instant))
        return duckdb_wall
    if con.name == "pyspark":
        return lambda ts: _spark_unix_micros(_spark_from_utc(ts, tz))
    raise ConfigError(f"BusinessCalendar tz={tz!r} on the {con.name} backend: local business hours are supported "
                      "on DuckDB and Spark; use tz='UTC' there")


def _floor_mod(x: Any, m: int) -> Any:
    """``x`` modulo ``m`` in ``[0, m)`` (SQL's % keeps the sign of ``x``)."""
    return (x % m + m) % m


def _quotient(x: Any, m: int) -> Any:
    """``x / m`` for an exact multiple ``x`` of ``m`` (exact in float64: see the module docstring)."""
    return (x / m).cast("int64")


@ibis.udf.scalar.builtin(name="list_extract")
def _duckdb_list_extract(values: dt.Array(dt.int64), index: dt.int64) -> dt.int64:  # type: ignore[empty-body]
    """DuckDB: the element at a 1-based ``index`` (ibis' own indexing repeats the index expression)."""


def _lookup(con: Any, values: Sequence[int], index: Any) -> Any:
    """``values[index]`` (0-based, in range) as an expression: a constant array indexed per row."""
    array = ibis.literal(list(values), type="array<int64>")
    return _duckdb_list_extract(array, index + 1) if con.name == "duckdb" else array[index.cast("int32")]  # Spark: int


def wall_days(wall_us: Any) -> Any:
    """Days since 1970-01-01 of a wall clock in microseconds (:func:`wall_clock`), floored (int64)."""
    return _quotient(wall_us - _floor_mod(wall_us, _US_PER_DAY), _US_PER_DAY)


def _holiday_days(calendar: Any) -> tuple[int, list[int], list[int]]:
    """Holidays on working days by day ``d`` (days since Monday 1969-12-29), indexed ``clip(d - first + 1, 0, last)``.

    Returns ``first`` (the earliest holiday) and, per index, the number of holidays before
    the day and whether it is one; the first and last entries stand for every day before
    and after the holidays.
    """
    days = np.array(calendar.holidays, dtype="datetime64[D]").astype(np.int64) + _TO_MONDAY
    days = days[np.isin(days % 7, calendar.weekdays)]
    first = int(days.min())
    closed = np.zeros(int(days.max()) - first + 3, dtype=np.int64)
    closed[days - first + 1] = 1
    return first, np.concatenate([[0], np.cumsum(closed)[:-1]]).tolist(), closed.tolist()


def engine_clock(calendar: Any, con: Any) -> Clock:
    """A clock on the engine ``con``: business microseconds of ``calendar``, or calendar time if None.

    Parameters
    ----------
    calendar : BusinessCalendar or None
        None gives calendar time: microseconds since 1970-01-01 UTC.
    con : ibis backend
        The connection the clock's expressions will run on (its time-zone conversion).

    Returns
    -------
    Clock
        ``clock(ts) -> int64 expression``, NULL where ``ts`` is NULL; ``clock(b) - clock(a)``
        is the time from ``a`` to ``b`` in microseconds (negative when ``b < a``; with a
        calendar ``round(calendar.hours_between(a, b) * 3.6e9)``, exactly for timestamps of
        microsecond resolution).

    Raises
    ------
    ConfigError
        For a calendar with a local time zone on a backend other than DuckDB or Spark.

    Examples
    --------
    >>> from slm_lib.calendar import BusinessCalendar
    >>> con = ibis.duckdb.connect()
    >>> clock = engine_clock(BusinessCalendar(tz="Europe/Berlin"), con)
    >>> fri, mon = (ibis.timestamp(s, timezone="UTC") for s in ("2026-03-27 15:00", "2026-03-30 08:00"))
    >>> con.execute(clock(mon) - clock(fri)) / 3.6e9   # Fri 16:00 CET -> Mon 10:00 CEST
    2.0
    """
    if calendar is None:
        return _epoch_us(con)
    wall = wall_clock(con, calendar.tz)
    length, opening = calendar._day_ns // 1000, calendar._open_ns // 1000
    before = [sum(w < day for w in calendar.weekdays) for day in range(7)]   # working days before, Monday first
    span = [length if day in calendar.weekdays else 0 for day in range(7)]
    holidays = _holiday_days(calendar) if calendar.holidays else None

    def clock(ts: Any) -> Any:
        x = wall(ts)
        tod = _floor_mod(x, _US_PER_DAY)
        day = wall_days(x) + _TO_MONDAY   # days since Monday 1969-12-29
        weekday = _floor_mod(day, 7)
        days = _quotient(day - weekday, 7) * len(calendar.weekdays) + _lookup(con, before, weekday)
        today = _lookup(con, span, weekday)
        if holidays is not None:
            first, earlier, closed = holidays
            j = ibis.least(ibis.greatest(day - (first - 1), 0), len(closed) - 1)
            days = days - _lookup(con, earlier, j)
            today = today * (1 - _lookup(con, closed, j))
        return days * length + ibis.least(ibis.greatest(tod - opening, 0), today)
    return clock


def with_clocks(table: Any, clock: Clock, stamps: Mapping[str, Any]) -> Any:
    """``table`` with a column ``_clock_<name>`` (:data:`ON_CLOCK`) of ``clock(stamp)`` per entry of ``stamps``.

    In a projection of its own (``view``: ibis would otherwise merge it into later selects and
    repeat a business clock's few kB of SQL in every expression using the value), so each
    clock is computed once per row. ``stamps`` maps names to timestamp expressions of
    ``table`` or literals (a literal's clock is a constant the engine folds).

    Examples
    --------
    >>> con = ibis.duckdb.connect()
    >>> t = ibis.memtable({"at": ["1970-01-01 00:00:02"]}).mutate(at=ibis._.at.cast("timestamp('UTC')"))
    >>> con.execute(with_clocks(t, engine_clock(None, con), {"at": t.at}))["_clock_at"].tolist()
    [2000000]
    """
    return table.mutate(**{ON_CLOCK + name: clock(ts) for name, ts in stamps.items()}).view()


def clock_at(clock: Clock, con: Any, ts: Any) -> Any:
    """The clock's value at one UTC instant ``ts`` (floored to the microsecond), computed once on ``con``.

    An int64 literal: where durations run to a fixed instant (``as_of``) it stands in for the
    clock's expression, whose SQL (a few kB for a business clock) is then not repeated in
    every expression using it.

    Examples
    --------
    >>> import pandas as pd
    >>> con = ibis.duckdb.connect()
    >>> con.execute(clock_at(engine_clock(None, con), con, pd.Timestamp("1970-01-01 00:00:03", tz="UTC")))
    3000000
    """
    return ibis.literal(int(con.execute(clock(instant(ts)))), type="int64")
