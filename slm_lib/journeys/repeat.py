"""Repeat contact: customers who come back within N days of a solved ticket (the honest FCR).

A solved ticket is a **repeat contact** when its customer opens a new ticket, on any
channel, in the ``days`` after it was solved: created in ``(solved_at, solved_at + days]``.
Definitions (solve time from ticket events, censoring, ``as_of``) are those of
:mod:`slm_lib.metrics.contacts`, shared with ``repeat_contact_rate`` of
:func:`slm_lib.metrics.table.metric_table`:

* Tickets solved less than ``days`` before ``as_of`` (default the data set's observation
  end) are **censored**: their window is not over, so they are listed (``censored=True``)
  but left out of the rate; counting them would bias the rate low at the data's end.
* Nothing after ``as_of`` is read: tickets created later, solves and reopens recorded
  later (with ticket events, a ticket reopened and not solved again by ``as_of`` is not
  solved).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from slm_lib.config import DEFAULT_MIN_N
from slm_lib.metrics.contacts import REPEAT_DAYS, observation_end, repeat_flags
from slm_lib.metrics.grouping import by_codes, by_list, combine_codes
from slm_lib.periods import NAT_NS
from slm_lib.schema import empty_frame
from slm_lib.stats import share_from_counts

REPEAT_COLUMNS: tuple[str, ...] = (
    "ticket_id", "customer_id", "channel", "created_at", "solved_at", "next_ticket_id", "next_channel",
    "next_created_at", "days_to_next", "repeat", "censored")


def repeat_contacts(ds: Any, days: float = REPEAT_DAYS, as_of: Any = None) -> pd.DataFrame:
    """Every ticket solved at ``as_of`` with the customer's next contact after the solve.

    Parameters
    ----------
    ds : Dataset
        Tickets (``ticket_id, customer_id, channel, created_at, resolved_at``) and, when
        present, ticket_events (the solve in force at ``as_of``).
    days : float
        Window after the solve in which a new ticket is a repeat contact.
    as_of : timestamp, optional
        Observation end; default ``ds.observation_end()``.

    Returns
    -------
    pandas.DataFrame
        One row per solved ticket, in the order of ``ds.tickets``: :data:`REPEAT_COLUMNS`.
        ``next_*`` describe the customer's first ticket created after ``solved_at`` (by
        ``as_of``; missing when none), ``days_to_next`` the days between,
        ``repeat`` = ``days_to_next <= days``, ``censored`` = solved less than ``days``
        before ``as_of`` (left out of the rate; ``repeat`` may already be True).

    Examples
    --------
    >>> from slm_lib.io.dataset import Dataset
    >>> at = lambda *v: pd.to_datetime(list(v), utc=True)
    >>> t = pd.DataFrame({"ticket_id": ["a", "b"], "customer_id": "x", "channel": ["chat", "phone"],
    ...     "created_at": at("2024-01-01", "2024-01-04"), "resolved_at": at("2024-01-02", "2024-01-05")})
    >>> r = repeat_contacts(Dataset(tickets=t, as_of="2024-02-01"))
    >>> r[["ticket_id", "next_channel", "days_to_next", "repeat"]].values.tolist()
    [['a', 'phone', 2.0, True], ['b', nan, nan, False]]
    """
    t = ds.tickets
    flags = repeat_flags(t, ds.ticket_events, observation_end(ds, as_of), days)
    rows = np.flatnonzero(flags.solved != NAT_NS)
    nxt = flags.next_row[rows]
    has = nxt >= 0

    def pick(column: str) -> pd.Series:   # the next contact's value, missing when there is none
        return t[column].iloc[np.maximum(nxt, 0)].reset_index(drop=True).where(has)

    solved = pd.to_datetime(flags.solved[rows].view("datetime64[ns]"), utc=True)
    next_created = pd.to_datetime(pick("created_at"), utc=True)
    out = pd.DataFrame({
        "ticket_id": t["ticket_id"].iloc[rows].reset_index(drop=True),
        "customer_id": t["customer_id"].iloc[rows].reset_index(drop=True),
        "channel": t["channel"].iloc[rows].reset_index(drop=True),
        "created_at": t["created_at"].iloc[rows].reset_index(drop=True),
        "solved_at": solved,
        "next_ticket_id": pick("ticket_id").astype(t["ticket_id"].dtype),
        "next_channel": pick("channel").astype(t["channel"].dtype),
        "next_created_at": next_created,
        "days_to_next": (next_created - solved).dt.total_seconds().to_numpy() / 86_400.0,
        "repeat": flags.repeat[rows],
        "censored": flags.censored[rows],
    })
    return out[list(REPEAT_COLUMNS)]


def repeat_contact_rate(ds: Any, days: float = REPEAT_DAYS, by: str | Sequence[str] | None = None,
                        as_of: Any = None, min_n: int = DEFAULT_MIN_N) -> pd.DataFrame:
    """Share of solved tickets followed by a new contact within ``days``, overall or per group.

    The rate of :func:`repeat_contacts` without censored tickets: the number behind
    ``repeat_contact_rate`` of :func:`slm_lib.metrics.table.metric_table`, over all periods
    at once. Groups as in ``metric_table`` (``by="channel"``: the solved ticket's channel,
    i.e. of the first contact; customer columns such as ``segment`` work too).

    Returns
    -------
    pandas.DataFrame
        ``<by...>, n, repeats, censored, value, ci_low, ci_high, small_n``: ``n`` solved
        tickets whose window ended by ``as_of``, ``repeats`` among them, ``censored`` solved
        tickets left out, ``value`` = 100 * repeats / n with its Wilson interval.

    Examples
    --------
    >>> from slm_lib.io.dataset import Dataset
    >>> at = lambda *v: pd.to_datetime(list(v), utc=True)
    >>> t = pd.DataFrame({"ticket_id": ["a", "b", "c"], "customer_id": ["x", "x", "y"], "channel": "chat",
    ...     "created_at": at("2024-01-01", "2024-01-04", "2024-01-01"),
    ...     "resolved_at": at("2024-01-02", "2024-01-05", "2024-01-30")})
    >>> repeat_contact_rate(Dataset(tickets=t, as_of="2024-02-01"))[["n", "repeats", "censored", "value"]].values.tolist()
    [[2.0, 1.0, 1.0, 50.0]]
    """
    hook = getattr(ds, "engine_repeat_contact_rate", None)
    if hook is not None:
        return hook(days=days, by=by, as_of=as_of, min_n=min_n)
    by = by_list(by)
    t = ds.tickets
    codes, labels, _ = by_codes(by, t, empty_frame("surveys"), ds.customers)
    group, frame = combine_codes(codes or [np.zeros(len(t), np.int64)], labels or [pd.Index([None])],
                                 by or ["_all"])
    flags = repeat_flags(t, ds.ticket_events, observation_end(ds, as_of), days)
    size = len(frame)
    count = lambda mask: np.bincount(group[mask & (group >= 0)], minlength=size)  # noqa: E731
    groups = frame[by] if by else pd.DataFrame(index=range(size))
    return rate_table(groups, count(flags.counted), count(flags.counted & flags.repeat), count(flags.censored), min_n)


def rate_table(groups: pd.DataFrame, n: np.ndarray, repeats: np.ndarray, censored: np.ndarray,
               min_n: int = DEFAULT_MIN_N) -> pd.DataFrame:
    """The table of :func:`repeat_contact_rate` from its counts per group row of ``groups`` (every engine's formula).

    Examples
    --------
    >>> rate_table(pd.DataFrame({"channel": ["chat"]}), np.array([4]), np.array([1]), np.array([0]))[
    ...     ["channel", "n", "repeats", "value"]].values.tolist()
    [['chat', 4, 1, 25.0]]
    """
    value, low, high = share_from_counts(repeats, n)
    out = groups.reset_index(drop=True).assign(n=n, repeats=repeats, censored=censored, value=value, ci_low=low,
                                               ci_high=high, small_n=np.asarray(n) < min_n)
    return out.astype({"n": "int64", "repeats": "int64", "censored": "int64"})
