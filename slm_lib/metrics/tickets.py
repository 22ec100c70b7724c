"""Ticket metrics (SPEC §4): response and resolution times, FCR, reopens, volume.

Durations are in hours: calendar hours by default, business hours when a
:class:`slm_lib.calendar.BusinessCalendar` is passed as ``calendar`` (its vectorised
``hours_between`` does the arithmetic).

Rates and means return a float64 ``pandas.Series`` with index ``n, value, ci_low, ci_high``
(rates in percent with a Wilson interval, means with a t interval). Following the package
rule (see :mod:`slm_lib.metrics.survey`), no qualifying ticket gives ``n = 0`` and NaN,
never an error. SLA compliance lives in :mod:`slm_lib.metrics.sla`, grouped tables
(per period, agent, team) in :mod:`slm_lib.metrics.table`.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from slm_lib.errors import DataValidationError
from slm_lib.metrics.survey import SUMMARY_INDEX
from slm_lib.stats import mean_from_values, share_from_counts, wilson_interval


def require_columns(frame: pd.DataFrame, columns: tuple[str, ...], what: str = "tickets") -> None:
    """Raise DataValidationError naming the columns of ``what`` that ``frame`` lacks.

    Examples
    --------
    >>> require_columns(pd.DataFrame({"ticket_id": []}), ("ticket_id",))
    """
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise DataValidationError(f"{what}: missing column(s) {missing}; have {list(frame.columns)}")


def elapsed_hours(start: pd.Series | np.ndarray, end: pd.Series | np.ndarray, calendar: Any = None) -> np.ndarray:
    """Hours from ``start`` to ``end``, element-wise; NaT -> NaN.

    ``start``/``end`` are aligned tz-aware Series (or numpy ``datetime64`` arrays of UTC
    instants). Calendar hours when ``calendar`` is None, else
    ``calendar.hours_between(start, end)`` (business hours).

    Examples
    --------
    >>> s = pd.Series(pd.to_datetime(["2024-01-01 00:00"], utc=True))
    >>> elapsed_hours(s, s + pd.Timedelta(minutes=90)).tolist()
    [1.5]
    """
    if calendar is not None:
        return np.asarray(calendar.hours_between(start, end), dtype=np.float64)
    a, b = (x.to_numpy(dtype="datetime64[ns]") if isinstance(x, (pd.Series, pd.Index))
            else np.asarray(x, dtype="datetime64[ns]") for x in (start, end))
    delta = (b - a).astype("timedelta64[ns]")
    out = delta.astype(np.int64) / 3.6e12
    out[np.isnat(delta)] = np.nan
    return out


def _duration(tickets: pd.DataFrame, column: str, calendar: Any, name: str) -> pd.Series:
    require_columns(tickets, ("ticket_id", "created_at", column))
    done = tickets[tickets[column].notna()]
    hours = elapsed_hours(done["created_at"], done[column], calendar)
    return pd.Series(hours, index=pd.Index(done["ticket_id"], name="ticket_id"), name=name)


def first_response_time(tickets: pd.DataFrame, calendar: Any = None) -> pd.Series:
    """First response time in hours, for tickets with a first response.

    Parameters
    ----------
    tickets : canonical tickets frame.
    calendar : BusinessCalendar, optional
        Business hours instead of calendar hours.

    Returns
    -------
    pandas.Series of float hours indexed by ``ticket_id``, named ``frt_hours``.

    Examples
    --------
    >>> t = pd.DataFrame({"ticket_id": ["a", "b"],
    ...     "created_at": pd.to_datetime(["2024-01-01 08:00", "2024-01-01 09:00"], utc=True),
    ...     "first_response_at": pd.to_datetime(["2024-01-01 10:30", None], utc=True)})
    >>> first_response_time(t).to_dict()
    {'a': 2.5}
    """
    return _duration(tickets, "first_response_at", calendar, "frt_hours")


def resolution_time(tickets: pd.DataFrame, calendar: Any = None) -> pd.Series:
    """Full resolution time (resolved_at − created_at) in hours, for resolved tickets.

    Returns
    -------
    pandas.Series of float hours indexed by ``ticket_id``, named ``resolution_hours``.

    Examples
    --------
    >>> t = pd.DataFrame({"ticket_id": ["a"],
    ...     "created_at": pd.to_datetime(["2024-01-01 08:00"], utc=True),
    ...     "resolved_at": pd.to_datetime(["2024-01-02 08:00"], utc=True)})
    >>> resolution_time(t).to_dict()
    {'a': 24.0}
    """
    return _duration(tickets, "resolved_at", calendar, "resolution_hours")


def ticket_flags(tickets: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per-ticket boolean flags behind the rate metrics (one definition for every table).

    Returns a dict of boolean arrays: ``resolved`` (resolved_at present), ``fcr``
    (resolved, replies ≤ 1 and reopens = 0), ``reopened`` (resolved and reopens > 0).

    Examples
    --------
    >>> t = pd.DataFrame({"resolved_at": pd.to_datetime(["2024-01-02", None], utc=True),
    ...                   "replies": [1, 0], "reopens": [0, 0]})
    >>> ticket_flags(t)["fcr"].tolist()
    [True, False]
    """
    require_columns(tickets, ("resolved_at", "replies", "reopens"))
    resolved = tickets["resolved_at"].notna().to_numpy()
    replies = tickets["replies"].to_numpy()
    reopens = tickets["reopens"].to_numpy()
    return {"resolved": resolved,
            "fcr": resolved & (replies <= 1) & (reopens == 0),
            "reopened": resolved & (reopens > 0)}


def _rate(successes: int, n: int) -> pd.Series:
    value, low, high = share_from_counts(successes, n)
    return pd.Series([n, value, low, high], index=SUMMARY_INDEX, dtype=np.float64)


def fcr_rate(tickets: pd.DataFrame) -> pd.Series:
    """First contact resolution: resolved tickets with replies ≤ 1 and no reopen, over resolved.

    Returns
    -------
    pandas.Series ``n`` (resolved tickets), ``value`` (%), ``ci_low``, ``ci_high`` (Wilson).

    Examples
    --------
    >>> t = pd.DataFrame({"resolved_at": pd.to_datetime(["2024-01-02", "2024-01-03", None], utc=True),
    ...                   "replies": [1, 3, 0], "reopens": [0, 0, 0]})
    >>> fcr_rate(t)[["n", "value"]].tolist()
    [2.0, 50.0]
    """
    f = ticket_flags(tickets)
    return _rate(int(f["fcr"].sum()), int(f["resolved"].sum()))


def reopen_rate(tickets: pd.DataFrame) -> pd.Series:
    """Resolved tickets with reopens > 0, over resolved tickets (percent, Wilson interval).

    Examples
    --------
    >>> t = pd.DataFrame({"resolved_at": pd.to_datetime(["2024-01-02", "2024-01-03"], utc=True),
    ...                   "replies": [1, 3], "reopens": [0, 2]})
    >>> float(reopen_rate(t)["value"])
    50.0
    """
    f = ticket_flags(tickets)
    return _rate(int(f["reopened"].sum()), int(f["resolved"].sum()))


def resolution_rate(tickets: pd.DataFrame) -> pd.Series:
    """Tickets resolved over tickets created, for the cohort of tickets passed (percent).

    Examples
    --------
    >>> t = pd.DataFrame({"resolved_at": pd.to_datetime(["2024-01-02", None, None, None], utc=True),
    ...                   "replies": [1, 0, 0, 0], "reopens": [0, 0, 0, 0]})
    >>> resolution_rate(t)[["n", "value"]].tolist()
    [4.0, 25.0]
    """
    f = ticket_flags(tickets)
    return _rate(int(f["resolved"].sum()), len(tickets))


def replies_per_ticket(tickets: pd.DataFrame) -> pd.Series:
    """Mean public replies over resolved tickets, with a (skewness-corrected) t interval.

    Examples
    --------
    >>> t = pd.DataFrame({"resolved_at": pd.to_datetime(["2024-01-02", "2024-01-03", None], utc=True),
    ...                   "replies": [1, 3, 9], "reopens": [0, 0, 0]})
    >>> replies_per_ticket(t)[["n", "value"]].tolist()
    [2.0, 2.0]
    """
    f = ticket_flags(tickets)
    r = tickets["replies"].to_numpy(dtype=np.float64)[f["resolved"]]
    value, low, high, _ = mean_from_values(r)
    return pd.Series([r.size, value, low, high], index=SUMMARY_INDEX, dtype=np.float64)


def volume_by_channel(tickets: pd.DataFrame) -> pd.DataFrame:
    """Count and share of created tickets per channel.

    Returns
    -------
    pandas.DataFrame
        ``channel, n, share, ci_low, ci_high``: share in percent of all tickets passed,
        with a Wilson interval; sorted by ``n`` descending. Missing channels are counted
        as ``"other"``.

    Examples
    --------
    >>> volume_by_channel(pd.DataFrame({"channel": ["chat", "email", "chat", "chat"]}))[["channel", "n", "share"]].values.tolist()
    [['chat', 3, 75.0], ['email', 1, 25.0]]
    """
    require_columns(tickets, ("channel",))
    counts = tickets["channel"].fillna("other").value_counts(sort=True)
    total = int(counts.sum())
    n = counts.to_numpy(dtype=np.int64)
    low, high = wilson_interval(n, total)
    with np.errstate(invalid="ignore", divide="ignore"):
        share = 100.0 * n / total
    return pd.DataFrame({"channel": counts.index.astype(str), "n": n, "share": share,
                         "ci_low": 100.0 * low, "ci_high": 100.0 * high})
