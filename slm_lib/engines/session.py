"""The engine session: its time zone, the observation end, periods in the session zone (SPEC §9 engines)."""
from __future__ import annotations

from typing import Any

import ibis
import pandas as pd

from slm_lib.engines.clock import Clock, wall_days
from slm_lib.errors import ConfigError
from slm_lib.periods import check_freq, latest_timestamp

_EPOCH = ibis.date(1970, 1, 1)


def set_time_zone(con: Any, tz: str) -> None:
    """Periods and timestamps read in ``tz`` (DuckDB, Spark); elsewhere only a UTC session is trusted.

    On other backends (warehouses) the session must run in UTC, and only ``tz="UTC"`` is
    accepted: a local calendar there is refused rather than silently read in another zone.

    Examples
    --------
    >>> con = ibis.duckdb.connect()
    >>> set_time_zone(con, "Europe/Berlin")
    >>> con.raw_sql("SELECT current_setting('TimeZone')").fetchone()[0]
    'Europe/Berlin'
    """
    if con.name == "duckdb":
        con.raw_sql(f"SET TimeZone = '{tz}'")
    elif con.name == "pyspark":
        con._session.conf.set("spark.sql.session.timeZone", tz)
    elif tz != "UTC":
        raise ConfigError(f"tz={tz!r} on the {con.name} backend: local calendars are supported on DuckDB and "
                          "Spark; run the session in UTC and use tz='UTC'")


def observation_end(lazy: Any) -> pd.Timestamp | None:
    """The data set's ``as_of``, else the latest timestamp in the engine's tables (:meth:`slm_lib.io.dataset.Dataset.observation_end`).

    Read with the session in UTC: Spark hands timestamps back as wall times of its session
    time zone.
    """
    if getattr(lazy, "as_of", None) is not None:
        return lazy.as_of
    set_time_zone(lazy.con, "UTC")
    columns = {"tickets": ("created_at", "first_response_at", "resolved_at"), "surveys": ("submitted_at",),
               "customers": ("signup_at", "churned_at"), "revenue": ("paid_at",), "ticket_events": ("at",)}
    found = []
    for name, cols in columns.items():
        table = lazy.tables.get(name)
        if table is not None:
            row = table.aggregate(**{c: table[c].max() for c in cols if c in table.columns}).execute()
            found += [pd.to_datetime(row[c], utc=True) for c in row.columns]
    end = latest_timestamp(*found)
    return None if pd.isna(end) else end


def period_ordinal(ts: Any, freq: str, wall: Clock | None = None) -> Any:
    """ibis expression of :func:`slm_lib.periods.period_ordinals` of a timestamp, in the session time zone.

    Months, quarters and years since 1970, Monday weeks, days since 1970-01-01; NULL stays NULL.
    :func:`slm_lib.periods.period_labels` labels them on the small aggregated table.

    ``wall``: the wall clock of the session zone (:func:`slm_lib.engines.clock.wall_clock`);
    with it the ordinal comes from the clock's microseconds in integer arithmetic (the
    civil date of a day number, H. Hinnant's ``civil_from_days``), which DuckDB runs
    several times faster than its calendar functions on time-zone-aware timestamps (those
    go through ICU for every row). Without it, from the backend's date parts.

    Examples
    --------
    >>> from slm_lib.engines.clock import wall_clock
    >>> con = ibis.duckdb.connect()
    >>> set_time_zone(con, "UTC")
    >>> ts = ibis.timestamp("1971-02-03 10:00", timezone="UTC")
    >>> int(con.execute(period_ordinal(ts, "M"))), int(con.execute(period_ordinal(ts, "M", wall_clock(con, "UTC"))))
    (13, 13)
    """
    freq = check_freq(freq)
    if wall is not None:
        days = wall_days(wall(ts))
        if freq in ("D", "W"):
            return days if freq == "D" else (days + 3) // 7  # 1970-01-01 is a Thursday
        z = days + 719468                            # days since 0000-03-01
        era = z // 146097                            # 400-year eras
        doe = z - era * 146097                       # day of the era, [0, 146096]
        yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
        doy = doe - (365 * yoe + yoe // 4 - yoe // 100)  # day of the year from March 1st
        months = (era * 400 + yoe - 1970) * 12 + (5 * doy + 2) // 153 + 2  # March is month 2 of its year
        return {"M": months, "Q": months // 3, "Y": months // 12}[freq]
    if freq in ("D", "W"):
        days = ts.date().delta(_EPOCH, unit="day")
        return days if freq == "D" else (days + 3) // 7  # 1970-01-01 is a Thursday
    years = ts.year() - 1970
    return {"M": lambda: years * 12 + ts.month() - 1, "Q": lambda: years * 4 + ts.quarter() - 1,
            "Y": lambda: years}[freq]()
