"""Time helpers: calendar months as report periods (parsing ``'YYYY-MM'``, labelling, stepping
back) and UTC instants (one timestamp, or a column as int64 nanoseconds)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from slm_lib.errors import ConfigError, DataValidationError, Problem

#: The int64 value :func:`epoch_ns` gives for a missing timestamp (numpy's NaT).
NAT_NS: int = int(np.iinfo(np.int64).min)


def check_month(month: str) -> pd.Period:
    """Parse a ``'YYYY-MM'`` month, raising :class:`ConfigError` on anything else.

    Examples
    --------
    >>> check_month("2026-10")
    Period('2026-10', 'M')
    """
    if not isinstance(month, str) or len(month) != 7 or month[4] != "-" or not month.replace("-", "").isdigit():
        raise ConfigError(f"month must be written YYYY-MM (e.g. 2026-10), got {month!r}")
    try:
        period = pd.Period(month, freq="M")
    except (ValueError, TypeError) as err:
        raise ConfigError(f"month must be written YYYY-MM (e.g. 2026-10), got {month!r}") from err
    if str(period) != month:  # pandas parses some malformed strings leniently
        raise ConfigError(f"month must be written YYYY-MM (e.g. 2026-10), got {month!r}")
    return period


def previous_month(month: str) -> str:
    """The month before ``month`` (``'YYYY-MM'``).

    Examples
    --------
    >>> previous_month("2026-01")
    '2025-12'
    """
    return str(check_month(month) - 1)


def month_labels(ts: pd.Series, tz: str = "UTC") -> pd.Series:
    """Calendar month ``'YYYY-MM'`` of each timestamp in time zone ``tz`` (NaT -> NaN).

    Examples
    --------
    >>> month_labels(pd.Series(pd.to_datetime(["2024-01-31 23:30"], utc=True)), "Europe/Berlin").tolist()
    ['2024-02']
    """
    local = ts.dt.tz_convert(tz)
    codes = (local.dt.year * 12 + local.dt.month - 1).to_numpy(dtype="float64", na_value=float("nan"))
    uniques, inverse = np.unique(codes, return_inverse=True)   # a few dozen months: format each once
    labels = np.array([f"{int(c) // 12:04d}-{int(c) % 12 + 1:02d}" if c == c else np.nan for c in uniques],
                      dtype=object)
    return pd.Series(labels[inverse.ravel()], index=ts.index, dtype="str")


def observed_days(month: str, start: object, end: object, tz: str = "UTC") -> float:
    """Days of ``month`` that lie between the instants ``start`` and ``end``, on the wall clock of ``tz``.

    A month observed throughout counts its calendar days whatever its hours: a March with
    the change to summer time has 743 hours but 31 days, and volumes are per day. A month
    the data enter or leave part-way counts the days (and fractions of days) they cover;
    a month outside ``[start, end]`` counts 0.

    Examples
    --------
    >>> observed_days("2026-03", "2026-01-01", "2026-06-01", "Europe/Berlin")
    31.0
    >>> observed_days("2026-10", "2026-01-01", "2026-10-11T12:00", "UTC")
    10.5
    """
    period = check_month(month)
    first, after = period.start_time, (period + 1).start_time  # naive: the wall clock of tz
    since = utc_instant(start, "start").tz_convert(tz).tz_localize(None)
    until = utc_instant(end, "end").tz_convert(tz).tz_localize(None)
    covered = min(after, until) - max(first, since)
    return max(covered / pd.Timedelta(days=1), 0.0)


def month_starts(month: str, months_back: int = 12) -> list[pd.Timestamp]:
    """UTC starts of the ``months_back`` months ending with ``month`` (oldest first).

    Useful as ``as_of`` instants of a monthly panel whose one-month horizons end with ``month``.

    Examples
    --------
    >>> [str(t.date()) for t in month_starts("2026-10", 3)]
    ['2026-08-01', '2026-09-01', '2026-10-01']
    """
    last = check_month(month)
    return [(last - k).to_timestamp().tz_localize("UTC") for k in range(months_back - 1, -1, -1)]


def utc_instant(value: object, name: str = "as_of") -> pd.Timestamp:
    """One instant as a UTC Timestamp: naive values are UTC (SPEC §3), aware ones are converted.

    Raises
    ------
    ConfigError
        The value is not a timestamp (the message names the argument).

    Examples
    --------
    >>> utc_instant("2026-10-01"), utc_instant("2026-10-01T02:00+02:00")
    (Timestamp('2026-10-01 00:00:00+0000', tz='UTC'), Timestamp('2026-10-01 00:00:00+0000', tz='UTC'))
    """
    try:
        ts = pd.Timestamp(value)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"{name}: not a timestamp: {value!r}") from err
    if ts is pd.NaT:
        raise ConfigError(f"{name}: not a timestamp: {value!r}")
    utc = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    if not pd.Timestamp.min.tz_localize("UTC") <= utc <= pd.Timestamp.max.tz_localize("UTC"):
        raise ConfigError(f"{name}: {value!r} is outside {pd.Timestamp.min:%Y-%m-%d} to {pd.Timestamp.max:%Y-%m-%d}")
    return utc


def epoch_ns(values: pd.Series | pd.Index | np.ndarray) -> np.ndarray:
    """UTC instants as int64 nanoseconds since 1970 (missing -> :data:`NAT_NS`).

    Tz-aware values are converted to UTC, naive ones are read as UTC (SPEC §3). A column
    already stored in nanoseconds is returned as a read-only view (no copy: the metric
    tables call this on every timestamp column of millions of tickets); other units are
    converted. Callers must treat :data:`NAT_NS` as missing before comparing.

    Examples
    --------
    >>> epoch_ns(pd.Series(pd.to_datetime(["1970-01-01 00:00:01", None], utc=True))).tolist()
    [1000000000, -9223372036854775808]
    """
    array = values.array if isinstance(values, (pd.Series, pd.Index)) else values
    if isinstance(array, pd.arrays.DatetimeArray) and array.unit == "ns":
        out = array.asi8.view()
        out.flags.writeable = False
        return out
    if isinstance(array, pd.arrays.DatetimeArray):
        per_ns = {"s": 10**9, "ms": 10**6, "us": 10**3}[array.unit]
        ints = array.asi8
        outside = (ints != NAT_NS) & ((ints < -(-pd.Timestamp.min.value // per_ns)) |
                                      (ints > pd.Timestamp.max.value // per_ns))
        if outside.any():  # pandas keeps such dates in coarser units; nanosecond arithmetic cannot
            rows = np.flatnonzero(outside)
            raise DataValidationError(Problem(
                "data", str(getattr(values, "name", "") or "timestamps"),
                f"timestamp outside {pd.Timestamp.min:%Y-%m-%d} to {pd.Timestamp.max:%Y-%m-%d} "
                f"(e.g. {array[rows[0]]}), the range the metrics compute in", len(rows), tuple(rows[:5] + 1)))
        return array.as_unit("ns").asi8
    return np.asarray(array, dtype="datetime64[ns]").view(np.int64)
