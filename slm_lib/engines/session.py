"""The engine session: its time zone, the observation end, periods in the session zone (SPEC §9 engines)."""
from __future__ import annotations

from typing import Any

import ibis
import pandas as pd

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


def period_ordinal(ts: Any, freq: str) -> Any:
    """ibis expression of :func:`slm_lib.periods.period_ordinals` of a timestamp, in the session time zone.

    Months, quarters and years since 1970, Monday weeks, days since 1970-01-01; NULL stays NULL.
    :func:`slm_lib.periods.period_labels` labels them on the small aggregated table.

    Examples
    --------
    >>> con = ibis.duckdb.connect()
    >>> set_time_zone(con, "UTC")
    >>> int(con.execute(period_ordinal(ibis.timestamp("1971-02-03 10:00"), "M")))
    13
    """
    freq = check_freq(freq)
    if freq in ("D", "W"):
        days = ts.date().delta(_EPOCH, unit="day")
        return days if freq == "D" else (days + 3) // 7  # 1970-01-01 is a Thursday
    years = ts.year() - 1970
    return {"M": lambda: years * 12 + ts.month() - 1, "Q": lambda: years * 4 + ts.quarter() - 1,
            "Y": lambda: years}[freq]()
