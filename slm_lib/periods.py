"""Time helpers, the one home of period assignment: which calendar period (day, ISO week,
month, quarter, year, in a time zone) a timestamp falls in, the labels of periods, report
months (parsing ``'YYYY-MM'``, stepping back, their bounds as instants), UTC instants (one
timestamp, or a column as int64 nanoseconds) and the latest instant found in some columns.

Period labels (every module uses these): ``"YYYY-MM"`` (freq ``"M"``), ``"YYYYQn"`` (``"Q"``),
``"YYYY"`` (``"Y"``), the Monday ``"YYYY-MM-DD"`` of an ISO week (``"W"``), ``"YYYY-MM-DD"``
(``"D"``). A timestamp belongs to the period of its local wall-clock date in ``tz``.
"""
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


#: Canonical period frequencies, and the pandas-style aliases accepted for them.
FREQS: tuple[str, ...] = ("M", "Q", "Y", "W", "D")
_FREQ_ALIASES = {"MS": "M", "ME": "M", "QS": "Q", "QE": "Q", "YS": "Y", "YE": "Y", "A": "Y"}
#: The ordinal :func:`period_ordinals` gives a missing timestamp: far in the future, so that a
#: missing end (``churned_at``) reads as "not yet" in differences of ordinals.
NAT_ORDINAL: int = int(np.iinfo(np.int64).max // 2)
_DAY_NS = 86_400 * 10**9


def check_freq(freq: str) -> str:
    """The canonical frequency (``M, Q, Y, W, D``) of ``freq`` or its pandas alias (``MS``, ``QE``, ``A``...).

    Examples
    --------
    >>> check_freq("MS"), check_freq("q")
    ('M', 'Q')
    """
    canonical = str(freq).upper()
    canonical = _FREQ_ALIASES.get(canonical, canonical)
    if canonical not in FREQS:
        raise ConfigError(f"freq must be one of {list(FREQS)}, got {freq!r}")
    return canonical


def _period_of_days(days: np.ndarray, freq: str) -> np.ndarray:
    """Period ordinal (months, quarters or years since 1970, Monday weeks, days) of day numbers."""
    if freq in ("M", "Q", "Y"):
        months = days.astype("datetime64[D]").astype("datetime64[M]").astype(np.int64)
        return months // 3 if freq == "Q" else months // 12 if freq == "Y" else months
    return (days + 3) // 7 if freq == "W" else days  # 1970-01-01 is a Thursday


def period_ordinals(ts: pd.Series | pd.Index, freq: str = "M", tz: str = "UTC") -> np.ndarray:
    """Integer ordinal of the calendar period (in ``tz``) of each timestamp; NaT -> :data:`NAT_ORDINAL`.

    Consecutive periods have consecutive ordinals, so ages are plain differences; month,
    quarter and year ordinals count from 1970 (pandas' ``Period.ordinal``).

    Examples
    --------
    >>> s = pd.Series(pd.to_datetime(["2024-01-31 23:30", "2024-02-01 00:00"], utc=True))
    >>> period_ordinals(s, "M").tolist(), period_ordinals(s, "M", tz="Europe/Berlin").tolist()
    ([648, 649], [649, 649])
    """
    freq = check_freq(freq)
    ts = pd.Series(ts) if not isinstance(ts, pd.Series) else ts
    if ts.dt.tz is None:
        ts = ts.dt.tz_localize("UTC")
    ns = epoch_ns(ts if str(tz).upper() == "UTC" else ts.dt.tz_convert(tz).dt.tz_localize(None))  # local wall
    nat = ns == NAT_NS
    if nat.all():
        return np.full(len(ns), NAT_ORDINAL, np.int64)
    days = ns // _DAY_NS
    first, last = days[~nat].min(), days[~nat].max()
    days[nat] = first
    if last - first <= len(days) + 100_000:  # usual case: look each day's period up in a small table
        ords = _period_of_days(np.arange(first, last + 1), freq)[days - first]
    else:  # a span of centuries: convert every value
        ords = _period_of_days(days, freq)
    ords[nat] = NAT_ORDINAL
    return ords


def period_labels(ordinals: np.ndarray, freq: str = "M") -> np.ndarray:
    """The labels (module docstring) of period ordinals from :func:`period_ordinals`.

    Examples
    --------
    >>> period_labels(np.array([216, 217]), "Q").tolist(), period_labels(np.array([2817]), "W").tolist()
    (['2024Q1', '2024Q2'], ['2023-12-25'])
    """
    freq = check_freq(freq)
    span = np.asarray(ordinals, dtype=np.int64)
    if freq == "M":
        labels = np.datetime_as_string(span.astype("datetime64[M]"), unit="M")
    elif freq == "Q":
        labels = np.array([f"{y}Q{q}" for y, q in zip(1970 + span // 4, span % 4 + 1)], dtype=object)
    elif freq == "Y":
        labels = (1970 + span).astype(str)
    else:
        start = span * 7 - 3 if freq == "W" else span
        labels = np.datetime_as_string(start.astype("datetime64[D]"), unit="D")
    return labels.astype(object)


def period_starts(ordinals: np.ndarray, freq: str = "M", tz: str = "UTC") -> pd.DatetimeIndex:
    """The UTC instants where the periods of :func:`period_ordinals` start (local midnight in ``tz``).

    Period ``k`` holds the instants in ``[period_starts(k), period_starts(k + 1))``. A
    midnight that a DST change skips moves to the first valid instant.

    Examples
    --------
    >>> [str(t) for t in period_starts(np.array([674, 675]), "M", tz="Europe/Berlin")]
    ['2026-02-28 23:00:00+00:00', '2026-03-31 22:00:00+00:00']
    >>> str(period_starts(np.array([2817]), "W")[0])
    '2023-12-25 00:00:00+00:00'
    """
    freq = check_freq(freq)
    k = np.asarray(ordinals, dtype=np.int64)
    if freq in ("M", "Q"):
        days = (k * 3 if freq == "Q" else k).astype("datetime64[M]").astype("datetime64[D]")
    elif freq == "Y":
        days = k.astype("datetime64[Y]").astype("datetime64[D]")
    else:
        days = (k * 7 - 3 if freq == "W" else k).astype("datetime64[D]")
    local = pd.DatetimeIndex(days.astype("datetime64[ns]"))
    if str(tz).upper() == "UTC":
        return local.tz_localize("UTC")
    local = local.tz_localize(tz, ambiguous=np.ones(len(local), dtype=bool), nonexistent="shift_forward")
    return local.tz_convert("UTC")


def period_codes(ts: pd.Series, freq: str = "M", tz: str = "UTC") -> tuple[np.ndarray, pd.Index]:
    """Dense integer period codes (-1 for NaT) and their labels, in time zone ``tz``.

    Examples
    --------
    >>> codes, labels = period_codes(pd.Series(pd.to_datetime(["2024-01-31 23:30", "2024-02-01 00:00"], utc=True)),
    ...                              tz="Europe/Berlin")
    >>> labels.take(codes).tolist()
    ['2024-02', '2024-02']
    """
    ords = period_ordinals(ts, freq, tz)
    nat = ords == NAT_ORDINAL
    if nat.all():
        return np.full(len(ords), -1, np.int64), pd.Index([], dtype="str")
    base = ords[~nat].min()
    codes = ords - base
    codes[nat] = -1
    labels = period_labels(np.arange(base, base + codes.max() + 1), freq)
    return codes, pd.Index(labels, dtype="str")


def month_labels(ts: pd.Series, tz: str = "UTC") -> pd.Series:
    """Calendar month ``'YYYY-MM'`` of each timestamp in time zone ``tz`` (NaT -> NaN).

    Examples
    --------
    >>> month_labels(pd.Series(pd.to_datetime(["2024-01-31 23:30"], utc=True)), "Europe/Berlin").tolist()
    ['2024-02']
    """
    codes, labels = period_codes(ts, "M", tz)
    out = np.asarray(labels, dtype=object).take(np.maximum(codes, 0)) if len(labels) else np.full(len(codes), np.nan)
    out = np.where(codes < 0, np.nan, out) if len(labels) else out
    return pd.Series(out, index=ts.index, dtype="str")


def month_bounds(month: str, tz: str = "UTC") -> tuple[pd.Timestamp, pd.Timestamp]:
    """The instants where ``month`` (``'YYYY-MM'``, local calendar of ``tz``) starts and the next one starts.

    Everything that happened in the month lies in ``[start, end)``.

    Examples
    --------
    >>> [str(t) for t in month_bounds("2026-03", "Europe/Berlin")]
    ['2026-03-01 00:00:00+01:00', '2026-04-01 00:00:00+02:00']
    """
    ordinal = check_month(month).ordinal
    start, end = period_starts(np.array([ordinal, ordinal + 1]), "M", tz).tz_convert(tz)
    return start, end


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


def month_starts(month: str, months_back: int = 12, tz: str = "UTC") -> list[pd.Timestamp]:
    """Starts (local midnight in ``tz``) of the ``months_back`` months ending with ``month``, oldest first.

    Useful as ``as_of`` instants of a monthly panel whose one-month horizons end with ``month``.

    Examples
    --------
    >>> [str(t.date()) for t in month_starts("2026-10", 3)]
    ['2026-08-01', '2026-09-01', '2026-10-01']
    >>> str(month_starts("2026-10", 1, tz="America/New_York")[0])
    '2026-10-01 00:00:00-04:00'
    """
    last = check_month(month).ordinal
    return list(period_starts(np.arange(last - months_back + 1, last + 1), "M", tz).tz_convert(tz))


def latest_timestamp(*columns: pd.Series) -> pd.Timestamp:
    """The latest non-missing instant in any of ``columns`` (NaT when there is none).

    The default observation end of a data set (:meth:`slm_lib.io.dataset.Dataset.observation_end`)
    and of a ticket table (SLA clocks) is this, over their timestamp columns.

    Examples
    --------
    >>> latest_timestamp(pd.Series(pd.to_datetime(["2024-01-01"], utc=True)), pd.Series([pd.NaT]))
    Timestamp('2024-01-01 00:00:00+0000', tz='UTC')
    """
    found = [c.max() for c in columns if len(c)]
    found = [f for f in found if not pd.isna(f)]
    return max(found) if found else pd.NaT


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
    return utc.as_unit("ns")


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
