"""Business time: working days, opening hours, holidays and a time zone (SPEC §4).

:class:`BusinessCalendar` turns pairs of UTC instants into business hours, finds the
instant at which a number of business hours has elapsed (SLA due times) and tells
whether the desk is open at an instant. Every method is vectorised with numpy's
business-day routines: no Python loop per ticket, one million pairs in well under a
second.

How business time is measured
-----------------------------
Instants are converted to the local *wall-clock* time of the calendar's time zone.
Business time is wall-clock time spent inside the opening hours of a working day, so a
09:00-17:00 day always holds 8 business hours, also on a daylight-saving change day.
(When the opening hours themselves contain a DST transition, e.g. a 00:00-24:00 desk,
the skipped or repeated wall-clock hour is counted as wall-clock time: 24 hours that
day, not 23 or 25 elapsed hours.)

With ``F(t)`` the business time from a fixed origin to ``t``,
``hours_between(a, b) = F(b) - F(a)``. Hence:

* the result is additive: ``h(a, c) == h(a, b) + h(b, c)``;
* ``end < start`` gives the negative of the reverse interval (the same sign convention
  as calendar time ``end - start``), never NaN; the metrics decide what such rows mean;
* NaT in either argument gives NaN.

Opening hours are half-open ``[start, end)``: at 17:00 sharp a 09:00-17:00 desk is
closed. Naive timestamps (and plain ``datetime64`` arrays) are read as UTC, as SPEC §3
says for input data.
"""
from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from dataclasses import dataclass, field
from typing import Any, Iterable

import numpy as np
import pandas as pd

from slm_lib.errors import ConfigError, DataValidationError

__all__ = ["BusinessCalendar"]

_NS_PER_MINUTE = 60 * 1_000_000_000
_NS_PER_HOUR = 60 * _NS_PER_MINUTE
_NS_PER_DAY = 24 * _NS_PER_HOUR
_TIME_RE = re.compile(r"^(\d{1,2}):(\d{2})$")


def _parse_clock(value: str | dt.time, what: str) -> int:
    """Minutes after midnight of an ``"HH:MM"`` string or ``datetime.time`` (``"24:00"`` allowed)."""
    if isinstance(value, dt.time):
        if value.second or value.microsecond:
            raise ConfigError(f"BusinessCalendar {what}={value!r}: opening hours are whole minutes")
        return value.hour * 60 + value.minute
    match = _TIME_RE.match(str(value).strip())
    if match is None:
        raise ConfigError(f"BusinessCalendar {what}={value!r}: expected a time as 'HH:MM', e.g. '09:00'")
    hours, minutes = int(match.group(1)), int(match.group(2))
    if minutes > 59 or hours > 24 or (hours == 24 and minutes > 0):
        raise ConfigError(f"BusinessCalendar {what}={value!r}: not a time of day between 00:00 and 24:00")
    return hours * 60 + minutes


def _parse_holidays(holidays: Iterable[Any]) -> tuple[dt.date, ...]:
    """Sorted, de-duplicated local dates from dates, timestamps or ISO strings."""
    if isinstance(holidays, (str, dt.date)):
        holidays = [holidays]
    dates: set[dt.date] = set()
    for item in holidays:
        try:
            stamp = pd.Timestamp(item)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"BusinessCalendar holidays: {item!r} is not a date ({exc})") from None
        if pd.isna(stamp):
            raise ConfigError(f"BusinessCalendar holidays: {item!r} is not a date")
        dates.add(stamp.date())
    return tuple(sorted(dates))


def _to_utc_index(values: Any, what: str) -> tuple[pd.DatetimeIndex, bool]:
    """Instants as a UTC DatetimeIndex in ns, and whether the input was a scalar."""
    scalar = np.ndim(values) == 0 and not isinstance(values, (pd.Series, pd.Index))
    try:
        converted = pd.to_datetime([values] if scalar else values, utc=True)
    except (TypeError, ValueError, OverflowError) as exc:
        raise DataValidationError(f"BusinessCalendar: argument '{what}' is not a timestamp array ({exc})") from None
    return pd.DatetimeIndex(converted).as_unit("ns"), scalar


@dataclass(frozen=True)
class BusinessCalendar:
    """Working weekdays, daily opening hours, holidays and a time zone.

    Parameters
    ----------
    weekdays : tuple of int, default (0, 1, 2, 3, 4)
        Working days of the week, Monday = 0 ... Sunday = 6. Stored sorted and unique.
    start, end : str, default "09:00" and "17:00"
        Daily opening hours ``[start, end)`` as local ``"HH:MM"`` (``end`` may be
        ``"24:00"``); ``start < end``. Desks open across midnight are not supported.
    holidays : iterable of date-like, default ()
        Local dates on which the desk is closed all day. Stored as sorted unique
        ``datetime.date``.
    tz : str, default "UTC"
        IANA time zone of the opening hours and holidays, e.g. ``"Europe/Berlin"``.

    Raises
    ------
    ConfigError
        On an unknown time zone, an unparsable time or holiday, ``start >= end``, or
        weekdays that are empty or outside 0..6.

    Notes
    -----
    Instances are immutable and hashable, so they can key caches and sit in sets.
    See the module docstring for how DST, reversed intervals and NaT are treated.

    Examples
    --------
    >>> cal = BusinessCalendar(start="09:00", end="17:00")
    >>> float(cal.hours_between(pd.Timestamp("2026-03-06 16:30", tz="UTC"),
    ...                         pd.Timestamp("2026-03-09 09:30", tz="UTC")))
    1.0
    """

    weekdays: tuple[int, ...] = (0, 1, 2, 3, 4)
    start: str = "09:00"
    end: str = "17:00"
    holidays: tuple[dt.date, ...] = ()
    tz: str = "UTC"
    _open_ns: int = field(init=False, repr=False, compare=False)
    _day_ns: int = field(init=False, repr=False, compare=False)
    _busdaycal: np.busdaycalendar = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        try:
            days = tuple(sorted({int(d) for d in self.weekdays}))
        except (TypeError, ValueError):
            raise ConfigError(f"BusinessCalendar weekdays={self.weekdays!r}: expected integers 0 (Mon) .. 6 (Sun)") from None
        if not days or days[0] < 0 or days[-1] > 6:
            raise ConfigError(f"BusinessCalendar weekdays={self.weekdays!r}: need at least one of 0 (Mon) .. 6 (Sun)")
        open_min = _parse_clock(self.start, "start")
        close_min = _parse_clock(self.end, "end")
        if open_min >= close_min:
            raise ConfigError(f"BusinessCalendar start={self.start!r}, end={self.end!r}: start must be before end")
        if not isinstance(self.tz, str):
            raise ConfigError(f"BusinessCalendar tz={self.tz!r}: expected an IANA time zone name such as 'Europe/Berlin'")
        try:
            zoneinfo.ZoneInfo(self.tz)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ConfigError(f"BusinessCalendar tz={self.tz!r}: unknown IANA time zone") from None
        holidays = _parse_holidays(self.holidays)
        weekmask = [1 if d in days else 0 for d in range(7)]
        set_ = object.__setattr__
        set_(self, "weekdays", days)
        set_(self, "start", f"{open_min // 60:02d}:{open_min % 60:02d}")
        set_(self, "end", f"{close_min // 60:02d}:{close_min % 60:02d}")
        set_(self, "holidays", holidays)
        set_(self, "_open_ns", open_min * _NS_PER_MINUTE)
        set_(self, "_day_ns", (close_min - open_min) * _NS_PER_MINUTE)
        set_(self, "_busdaycal", np.busdaycalendar(weekmask=weekmask, holidays=list(holidays)))

    @property
    def hours_per_day(self) -> float:
        """Business hours in one working day (``end - start``).

        Examples
        --------
        >>> BusinessCalendar(start="08:30", end="17:00").hours_per_day
        8.5
        """
        return self._day_ns / _NS_PER_HOUR

    # -- internals ---------------------------------------------------------------------
    def _local_wall(self, index: pd.DatetimeIndex) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(local day as datetime64[D], ns after local midnight, NaT mask); NaT rows get day 0."""
        wall = index.tz_convert(self.tz).tz_localize(None).asi8
        nat = index.isna()
        wall = np.where(nat, 0, wall)
        day = wall // _NS_PER_DAY
        return day.astype("datetime64[D]"), wall - day * _NS_PER_DAY, np.asarray(nat)

    def _partial(self, day: np.ndarray, tod: np.ndarray) -> np.ndarray:
        """Business ns elapsed on ``day`` up to time-of-day ``tod`` (0 on non-working days)."""
        inside = np.clip(tod - self._open_ns, 0, self._day_ns)
        return np.where(np.is_busday(day, busdaycal=self._busdaycal), inside, 0)

    # -- public API --------------------------------------------------------------------
    def hours_between(self, start: Any, end: Any) -> np.ndarray | np.float64:
        """Business hours from ``start`` to ``end``, element-wise.

        Parameters
        ----------
        start, end : Series, DatetimeIndex, array-like or scalar of timestamps
            UTC instants (tz-aware values are converted; naive ones are read as UTC).
            Arrays must have the same length; a scalar broadcasts against an array.

        Returns
        -------
        numpy.ndarray of float64, or numpy.float64 when both arguments are scalars
            Business hours; NaN where either side is NaT; negative when ``end < start``
            (exactly ``-hours_between(end, start)``).

        Examples
        --------
        >>> cal = BusinessCalendar(tz="Europe/Berlin")
        >>> created = pd.Series(pd.to_datetime(["2026-03-27 15:00", None], utc=True))
        >>> answered = pd.Series(pd.to_datetime(["2026-03-30 08:00", "2026-03-30 08:00"], utc=True))
        >>> cal.hours_between(created, answered)  # Fri 16:00 CET -> Mon 10:00 CEST
        array([ 2., nan])
        """
        start_idx, start_scalar = _to_utc_index(start, "start")
        end_idx, end_scalar = _to_utc_index(end, "end")
        if len(start_idx) != len(end_idx) and not (start_scalar or end_scalar):
            raise DataValidationError(
                f"BusinessCalendar.hours_between: start has {len(start_idx)} values but end has {len(end_idx)}"
            )
        day_a, tod_a, nat_a = self._local_wall(start_idx)
        day_b, tod_b, nat_b = self._local_wall(end_idx)
        # numpy counts a reversed range as (end, begin]; count [earlier, later) and sign it
        forward = day_b >= day_a
        whole_days = np.busday_count(
            np.where(forward, day_a, day_b), np.where(forward, day_b, day_a), busdaycal=self._busdaycal
        )
        whole_days = np.where(forward, whole_days, -whole_days)
        ns = whole_days * self._day_ns + self._partial(day_b, tod_b) - self._partial(day_a, tod_a)
        hours = ns / _NS_PER_HOUR
        hours = np.where(nat_a | nat_b, np.nan, hours)
        return hours[0] if start_scalar and end_scalar else hours

    def add_hours(self, start: Any, hours: Any) -> pd.Series | pd.DatetimeIndex | pd.Timestamp:
        """The earliest instant at which ``hours`` business hours have elapsed since ``start``.

        Use it for SLA due times: ``cal.add_hours(tickets["created_at"], 8)``. The result
        satisfies ``hours_between(start, result) == hours`` (to the nanosecond); when that
        lands on closing time the result is closing time, not the next opening.

        Parameters
        ----------
        start : Series, DatetimeIndex, array-like or scalar of timestamps
            UTC instants (naive values are read as UTC).
        hours : float or array-like of float, >= 0
            Business hours to add; broadcasts against ``start``. NaN gives NaT.

        Returns
        -------
        pandas.Series (when ``start`` is a Series, same index), DatetimeIndex, or Timestamp
            UTC instants, NaT where ``start`` is NaT or ``hours`` is NaN. ``hours == 0``
            returns ``start`` unchanged, even outside opening hours.

        Raises
        ------
        DataValidationError
            If any ``hours`` is negative or infinite.

        Notes
        -----
        A due time that falls on a wall-clock time skipped by a DST change (only possible
        when opening hours contain the change) moves forward to the first valid instant;
        a repeated wall-clock time resolves to its first occurrence.

        Examples
        --------
        >>> cal = BusinessCalendar()
        >>> cal.add_hours(pd.Timestamp("2026-03-06 16:30", tz="UTC"), 1.0)  # Friday
        Timestamp('2026-03-09 09:30:00+0000', tz='UTC')
        """
        start_idx, scalar = _to_utc_index(start, "start")
        hours_arr = np.asarray(hours, dtype="float64")
        if np.any(hours_arr < 0) or np.any(np.isinf(hours_arr)):
            raise DataValidationError("BusinessCalendar.add_hours: hours must be finite and >= 0")
        day, tod, nat = self._local_wall(start_idx)
        start_ns = np.where(nat, 0, start_idx.asi8)
        try:
            hours_b, day, tod, nat, start_ns = np.broadcast_arrays(hours_arr, day, tod, nat, start_ns)
        except ValueError:
            raise DataValidationError(
                f"BusinessCalendar.add_hours: {hours_arr.size} hours do not match {len(start_idx)} start values"
            ) from None
        missing = nat | np.isnan(hours_b)
        add_ns = np.where(missing, 0, np.rint(np.where(missing, 0, hours_b) * _NS_PER_HOUR)).astype("int64")
        # business ns to cover, counted from the opening of the first working day >= day
        total = self._partial(day, tod) + add_ns
        full_days = np.maximum(total - 1, 0) // self._day_ns
        remainder = total - full_days * self._day_ns
        target_day = np.busday_offset(day, full_days, roll="forward", busdaycal=self._busdaycal)
        wall = target_day.astype("datetime64[ns]").astype("int64") + self._open_ns + remainder
        local = pd.DatetimeIndex(wall.astype("datetime64[ns]")).tz_localize(
            self.tz, ambiguous=np.ones(len(wall), dtype=bool), nonexistent="shift_forward"
        )
        result = local.tz_convert("UTC").asi8
        result = np.where(add_ns == 0, start_ns, result)
        out = pd.DatetimeIndex(result.astype("datetime64[ns]")).tz_localize("UTC")
        out = out.where(~missing, pd.NaT)
        if scalar and np.ndim(hours_arr) == 0:
            return out[0]
        if isinstance(start, pd.Series) and len(out) == len(start):
            return pd.Series(out, index=start.index, name=start.name)
        return out

    def is_open(self, ts: Any) -> np.ndarray | np.bool_:
        """Whether the desk is open at each instant (working day, ``start <= t < end``).

        Parameters
        ----------
        ts : Series, DatetimeIndex, array-like or scalar of timestamps
            UTC instants (naive values are read as UTC).

        Returns
        -------
        numpy.ndarray of bool, or numpy.bool_ for a scalar
            False for NaT.

        Examples
        --------
        >>> cal = BusinessCalendar(tz="America/New_York")
        >>> bool(cal.is_open(pd.Timestamp("2026-03-09 14:00", tz="UTC")))  # Mon 10:00 EDT
        True
        """
        idx, scalar = _to_utc_index(ts, "ts")
        day, tod, nat = self._local_wall(idx)
        within = (tod >= self._open_ns) & (tod < self._open_ns + self._day_ns)
        result = within & np.is_busday(day, busdaycal=self._busdaycal) & ~nat
        return result[0] if scalar else result
