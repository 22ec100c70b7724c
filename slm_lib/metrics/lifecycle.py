"""Where a ticket's time goes, from its events (SPEC §3 ``ticket_events``, §9 ``ticket_lifecycle``).

One row per ticket with events, in hours: calendar hours, or business hours of a
:class:`~slm_lib.calendar.BusinessCalendar`. The definitions are Zendesk's native ticket
metrics; the fivetran ``dbt_zendesk`` package (which rebuilds them from ticket history)
settled the edge cases below. How events are ordered and what counts as a resolution or
a reopen is decided once, in :mod:`slm_lib.events`.

* ``requester_wait_h``: time in new, open and on_hold; ``agent_wait_h``: time in pending;
  ``on_hold_h``: time in on_hold (part of the requester's wait, as in Zendesk). Time in
  solved and closed counts in none of them.
* ``first_resolution_h``: created -> first resolution; ``full_resolution_h``: created ->
  last resolution, only while the ticket is solved or closed (a reopened ticket has no
  full resolution yet; Zendesk, too, fills it only once both events happened).
* ``next_reply_h_median``, ``next_reply_count``: each customer_message after the first
  agent public_reply starts a clock unless one is already running (the oldest unanswered
  message starts it); the next agent public_reply stops it. Only answered clocks count,
  as first response time counts only answered tickets; an unanswered message shows in the
  requester wait instead.
* ``agent_replies``: agent public replies; ``reopens``: changes from solved or closed back
  to new, open, pending or on_hold; ``first_reopened_at``: the first of them.
* ``assignee_stations`` / ``group_stations``: distinct agents / teams named by assignment
  events (SPEC §3; dbt_zendesk's ``assignee_stations_count`` counts assignments instead);
  ``handoffs``: assignment events after the first that name a different agent (events
  naming no agent, e.g. a ticket sent back to a team queue, are skipped).
* ``one_touch``: solved or closed with at most one agent public reply (SPEC §3; Zendesk
  says "one agent reply", dbt_zendesk counts exactly one; zero replies is solved at first
  touch here). ``status``: the status in force at ``as_of``.

Choices where the sources differ or are silent:

* Status before the first status event is ``new`` (Zendesk tickets start new), so the
  requester's wait runs from ``created_at`` even when the export's first status event is
  later; dbt_zendesk starts counting at the first status record.
* Clocks of tickets open at ``as_of`` run to ``as_of``; events after ``as_of`` are ignored
  (no leakage), an event at exactly ``as_of`` counts (as the SLA clocks do). Zendesk
  records requester wait only once the ticket is pending or solved; here it is live.
* Events at the same instant: customer_message, public_reply, internal_note, assignment,
  priority, status. A reply stamped with the message it answers answers it (0 hours;
  dbt_zendesk wants a strictly later reply); the last status of the instant is in force.
* Closed without solved (a merge, a business rule) is a resolution, as in Zendesk's
  resolution exception and dbt_zendesk's ``coalesce(solved, closed)``.
* A ticket created by an agent's public comment is not special-cased (Zendesk then waits
  for the second agent comment): an import should record that comment as the customer's.
* Hours are exact (Zendesk rounds to minutes): calendar time is summed in integer
  nanoseconds and divided by 3.6e12 once, as every other calendar duration of slm.
  Business hours are differences of one clock ``F(t) = calendar.hours_between(as_of, t)``,
  so a ticket's waits add up exactly.

Vectorised over all events: one sort by (ticket, time, kind), then segment reductions
(``np.bincount``, first/last of each ticket's run, the next reply found with a reversed
running minimum); medians by :func:`slm_lib.stats.grouped_quantiles`. :func:`lifecycle`
returns these per-ticket arrays with the history they came from (for ``metric_table`` and
the SLA clocks of :mod:`slm_lib.metrics.sla_events`); :func:`ticket_lifecycle` makes the table.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from slm_lib.errors import InsufficientDataError
from slm_lib.events import (KIND, RESOLVED, STATUS, EventHistory, StatusChanges, event_history, first_per_ticket,
                            last_per_ticket, run_starts, status_changes)
from slm_lib.periods import NAT_NS, epoch_ns, utc_instant
from slm_lib.schema import EVENT_STATUSES, TS
from slm_lib.stats import grouped_quantiles

LIFECYCLE_COLUMNS: tuple[str, ...] = (
    "ticket_id", "status", "requester_wait_h", "agent_wait_h", "on_hold_h", "first_resolution_h",
    "full_resolution_h", "next_reply_h_median", "next_reply_count", "agent_replies", "reopens",
    "first_reopened_at", "assignee_stations", "group_stations", "handoffs", "one_touch")
#: Durations of :attr:`Lifecycle.per_ticket` -> their column in hours.
_DURATIONS = {"requester_wait": "requester_wait_h", "agent_wait": "agent_wait_h", "on_hold": "on_hold_h",
              "first_resolution": "first_resolution_h", "full_resolution": "full_resolution_h",
              "next_reply_median": "next_reply_h_median"}
_COUNTS = ("next_reply_count", "agent_replies", "reopens", "assignee_stations", "group_stations", "handoffs")
_REQUESTER = np.array([STATUS["new"], STATUS["open"], STATUS["on_hold"]], dtype=np.int8)
_NS_PER_HOUR = 3.6e12


def lifecycle_as_of(ds: Any, as_of: Any) -> pd.Timestamp:
    """``as_of`` as a UTC instant; by default the data set's observation end.

    Examples
    --------
    >>> from slm_lib.io.dataset import Dataset
    >>> lifecycle_as_of(Dataset(as_of="2024-02-01"), None)
    Timestamp('2024-02-01 00:00:00+0000', tz='UTC')
    """
    return ds.observation_end() if as_of is None else utc_instant(as_of)


def _clock(ns: np.ndarray, origin: int, calendar: Any) -> np.ndarray:
    """Time from ``origin`` to each instant (int64 ns) in clock units (:attr:`Lifecycle.unit`).

    Calendar time as exact int64 nanoseconds (sums and differences stay exact; hours are
    ``ns / 3.6e12`` as :func:`slm_lib.metrics.tickets.elapsed_hours` computes them), or the
    calendar's business hours as float. Business hours are computed once per run of equal
    instants (a reply and the status it sets share one), which halves the calendar's work
    on a sorted history.
    """
    if calendar is None:
        return ns - origin
    fresh = np.ones(len(ns), dtype=bool)
    fresh[1:] = ns[1:] != ns[:-1]
    hours = calendar.hours_between(np.datetime64(origin, "ns"), ns[fresh].view("datetime64[ns]"))
    return np.asarray(hours, dtype=np.float64)[np.cumsum(fresh) - 1]


def _span(start: np.ndarray, stop: np.ndarray, has: np.ndarray) -> np.ndarray:
    """``stop - start`` as float clock units, NaN where ``has`` is False (differences of int64 stay exact)."""
    return np.where(has, (stop - start).astype(np.float64), np.nan)


def _distinct_per_ticket(ticket: np.ndarray, code: np.ndarray, n: int) -> np.ndarray:
    """Distinct non-negative codes per ticket."""
    ok = code >= 0
    width = int(code.max()) + 1 if ok.any() else 1
    pairs = np.sort(ticket[ok] * width + code[ok])
    first = np.ones(len(pairs), dtype=bool)
    first[1:] = pairs[1:] != pairs[:-1]
    return np.bincount(pairs[first] // width, minlength=n)


def _stations(events: pd.DataFrame, rows: np.ndarray, ticket: np.ndarray, n: int) -> dict[str, np.ndarray]:
    """Assignee and group stations and handoffs from the assignment events at ``rows`` (in history order)."""
    agent = pd.factorize(events["agent_id"].iloc[rows], use_na_sentinel=True)[0]
    team = pd.factorize(events["team"].iloc[rows], use_na_sentinel=True)[0]
    named = agent >= 0
    a, t = agent[named], ticket[named]
    change = np.zeros(len(a), dtype=bool)
    change[1:] = (a[1:] != a[:-1]) & (t[1:] == t[:-1])
    return {"assignee_stations": _distinct_per_ticket(ticket, agent, n),
            "group_stations": _distinct_per_ticket(ticket, team, n),
            "handoffs": np.bincount(t[change], minlength=n)}


def next_reply_clocks(ticket: np.ndarray, stops: np.ndarray, replies: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Next-reply clocks in a ticket-sorted stream of customer messages and the events that stop them.

    A clock starts at a customer message (``~stops``) that follows a stop of the same ticket
    (so the oldest message since the last stop starts it) once the ticket has had an agent
    reply (``replies``, a subset of ``stops``); it stops at the next stop of the ticket.

    Returns
    -------
    (start, stop) : int64 arrays
        Stream positions of each clock's first message and of its stop (-1: still running).

    Examples
    --------
    >>> ticket = np.array([0, 0, 0, 0, 0, 1, 1])      # t0: message, reply, message, message, reply
    >>> reply = np.array([0, 1, 0, 0, 1, 1, 0], dtype=bool)   # t1: reply, message (unanswered)
    >>> [x.tolist() for x in next_reply_clocks(ticket, reply, reply)]
    [[2, 6], [4, -1]]
    """
    m = len(ticket)
    first = run_starts(ticket)
    prior_stop = np.zeros(m, dtype=bool)
    prior_stop[1:] = stops[:-1] & ~first[1:]
    before = np.cumsum(replies) - replies                     # replies earlier in the stream
    answered = before > before[first][np.cumsum(first) - 1]   # ... and in the same ticket
    start = np.flatnonzero(~stops & prior_stop & answered)
    upcoming = np.where(stops, np.arange(m), m)
    stop = np.minimum.accumulate(upcoming[::-1])[::-1][start] if m else start  # the next stop at or after
    running = stop >= m
    running[~running] = ticket[stop[~running]] != ticket[start[~running]]
    return start, np.where(running, -1, stop)


@dataclass(frozen=True)
class Lifecycle:
    """What :func:`ticket_lifecycle` computes, before it becomes a table.

    :func:`slm_lib.metrics.table.metric_table` and the SLA clocks of
    :mod:`slm_lib.metrics.sla_events` read it directly: one value per ticket row, in
    clock units, with the event history it came from.

    Attributes
    ----------
    keep : bool array
        Per ticket row: it has a lifecycle row (created by ``as_of``, an event by then).
    unit : float
        Clock units per hour: ``3.6e12`` (calendar time in int64 nanoseconds, exact) or
        ``1.0`` (business hours).
    per_ticket : dict of arrays
        One value per ticket row (meaningful where ``keep``): the durations of
        :data:`LIFECYCLE_COLUMNS` without ``_h`` (``requester_wait``, ``agent_wait``,
        ``on_hold``, ``first_resolution``, ``full_resolution``, ``next_reply_median``) in
        clock units (NaN when not happened), the counts, ``first_reopened_at`` (int64 ns),
        ``status`` (code in ``EVENT_STATUSES``) and ``resolved`` / ``one_touch`` (bool).
    history : EventHistory
        The events up to ``as_of`` in order (:func:`slm_lib.events.event_history`).
    clock : array
        Per history event: its time relative to ``as_of`` in clock units (``as_of`` is 0).
    changes : StatusChanges
        The status events of ``history`` (:func:`slm_lib.events.status_changes`).
    """

    keep: np.ndarray
    unit: float
    per_ticket: dict[str, np.ndarray]
    history: EventHistory
    clock: np.ndarray
    changes: StatusChanges

    def hours(self, name: str) -> np.ndarray:
        """A duration of :attr:`per_ticket` in hours (calendar or business)."""
        return self.per_ticket[name] / self.unit


def lifecycle(ds: Any, calendar: Any = None, as_of: Any = None) -> Lifecycle:
    """The per-ticket lifecycle arrays behind :func:`ticket_lifecycle` (same arguments).

    Raises
    ------
    InsufficientDataError
        The data set has no ticket_events.

    Examples
    --------
    >>> from slm_lib.io.dataset import Dataset
    >>> at = lambda *v: pd.to_datetime(list(v), utc=True)
    >>> t = pd.DataFrame({"ticket_id": ["t1", "t2"], "created_at": at("2024-01-01 09:00", "2024-01-01 09:00")})
    >>> e = pd.DataFrame({"event_id": ["e1"], "ticket_id": "t2", "status": ["solved"], "at": at("2024-01-01 11:00"),
    ...     "kind": ["status"], "actor": ["agent"], "agent_id": None, "team": None})
    >>> lc = lifecycle(Dataset(tickets=t, ticket_events=e), as_of="2024-01-02")
    >>> lc.keep.tolist(), lc.hours("requester_wait").tolist()[1], lc.unit
    ([False, True], 2.0, 3600000000000.0)
    """
    tickets, events = ds.tickets, ds.ticket_events
    if events.empty:
        raise InsufficientDataError("ticket_lifecycle: the data set has no ticket_events (an optional table; "
                                    "without it only the tickets' own fields are known)")
    end = lifecycle_as_of(ds, as_of).value
    h = event_history(tickets, events, through=end)
    n = h.n_tickets
    created = epoch_ns(tickets["created_at"])
    keep = (np.bincount(h.ticket, minlength=n) > 0) & (created != NAT_NS) & (created <= end)
    clock = _clock(h.at, end, calendar)                   # time to as_of; as_of itself is 0
    if calendar is None:
        born = np.where(keep, created - end, 0)
    else:
        born = np.full(n, np.nan)
        born[keep] = _clock(created[keep], end, calendar)

    changes = status_changes(h)
    st, status = h.ticket[changes.index], changes.status
    begin = clock[changes.index]
    finish = np.zeros_like(begin)                         # the last status of a ticket runs to as_of
    follows = np.zeros(len(st), dtype=bool)
    follows[:-1] = st[1:] == st[:-1]
    finish[follows] = begin[1:][follows[:-1]]
    spent = (finish - begin).astype(np.float64)

    def time_in(codes: np.ndarray) -> np.ndarray:
        counted = np.zeros(len(EVENT_STATUSES), dtype=bool)
        counted[codes] = True
        return np.bincount(st, weights=np.where(counted[status], spent, 0.0), minlength=n)

    before_first = _span(born, first_per_ticket(st, begin, n, 0), keep)   # new until the first status event
    now = last_per_ticket(st, status, n, STATUS["new"])
    resolved = np.isin(now, RESOLVED)
    res_ticket, res_clock = st[changes.resolves], begin[changes.resolves]
    ever = np.bincount(res_ticket, minlength=n) > 0
    reopened_at = first_per_ticket(st[changes.reopens], h.at[changes.index][changes.reopens], n, NAT_NS)

    reply = h.agent_replies()
    conversation = np.flatnonzero(reply | (h.kind == KIND["customer_message"]))
    c_ticket, c_reply = h.ticket[conversation], reply[conversation]
    start, stop = next_reply_clocks(c_ticket, c_reply, c_reply)
    start, stop = start[stop >= 0], stop[stop >= 0]
    waits = clock[conversation[stop]] - clock[conversation[start]]
    assignment = np.flatnonzero(h.kind == KIND["assignment"])
    replies = np.bincount(h.ticket[reply], minlength=n)
    per_ticket = {
        "status": now.astype(np.int8),
        "requester_wait": time_in(_REQUESTER) + before_first,
        "agent_wait": time_in(np.array([STATUS["pending"]])),
        "on_hold": time_in(np.array([STATUS["on_hold"]])),
        "first_resolution": _span(born, first_per_ticket(res_ticket, res_clock, n, 0), ever),
        "full_resolution": _span(born, last_per_ticket(res_ticket, res_clock, n, 0), resolved & ever),
        "next_reply_median": grouped_quantiles(waits, c_ticket[start], n, (0.5,))[0.5][0],
        "next_reply_count": np.bincount(c_ticket[start], minlength=n),
        "agent_replies": replies,
        "reopens": np.bincount(st[changes.reopens], minlength=n),
        "first_reopened_at": reopened_at,
        **_stations(events, h.row[assignment], h.ticket[assignment], n),
        "resolved": resolved,
        "one_touch": resolved & (replies <= 1),
    }
    return Lifecycle(keep=keep, unit=_NS_PER_HOUR if calendar is None else 1.0, per_ticket=per_ticket,
                     history=h, clock=clock, changes=changes)


def ticket_lifecycle(ds: Any, calendar: Any = None, as_of: Any = None) -> pd.DataFrame:
    """Per ticket: requester and agent waits, holds, resolutions, next replies, reopens, handoffs.

    Parameters
    ----------
    ds : Dataset or LazyDataset
        Validated tickets and ticket_events (``load_data`` / ``validate``). A
        :class:`~slm_lib.engines.LazyDataset` is computed on its engine
        (:func:`slm_lib.engines.lifecycle.engine_ticket_lifecycle`: same columns and values,
        rows sorted by ticket_id, calendar hours only).
    calendar : BusinessCalendar, optional
        Business hours instead of calendar hours.
    as_of : timestamp, optional
        The instant the clocks of open tickets run to; events after it are ignored.
        Default ``ds.observation_end()``.

    Returns
    -------
    pandas.DataFrame
        One row per ticket with at least one event at or before ``as_of``, in the order
        of ``ds.tickets``; columns :data:`LIFECYCLE_COLUMNS` (module docstring):
        hours as float64 (NaN when the event has not happened), counts as int64,
        ``first_reopened_at`` a UTC timestamp, ``one_touch`` bool.

    Raises
    ------
    InsufficientDataError
        The data set has no ticket_events.

    Examples
    --------
    >>> from slm_lib.io.dataset import Dataset
    >>> at = lambda *v: pd.to_datetime(list(v), utc=True)
    >>> t = pd.DataFrame({"ticket_id": ["t1"], "created_at": at("2024-01-01 09:00")})
    >>> e = pd.DataFrame({"event_id": ["e1", "e2", "e3"], "ticket_id": "t1", "status": ["pending", None, "solved"],
    ...     "at": at("2024-01-01 10:00", "2024-01-01 12:00", "2024-01-01 12:30"),
    ...     "kind": ["status", "customer_message", "status"], "actor": ["agent", "customer", "agent"],
    ...     "agent_id": None, "team": None})
    >>> row = ticket_lifecycle(Dataset(tickets=t, ticket_events=e), as_of="2024-01-02").iloc[0]
    >>> row["requester_wait_h"], row["agent_wait_h"], row["full_resolution_h"], row["status"]
    (np.float64(1.0), np.float64(2.5), np.float64(3.5), 'solved')
    """
    on_engine = getattr(ds, "engine_ticket_lifecycle", None)  # a LazyDataset (slm_lib.engines) computes it itself
    if on_engine is not None:
        return on_engine(calendar=calendar, as_of=as_of)
    lc = lifecycle(ds, calendar, as_of)
    sel, values = np.flatnonzero(lc.keep), lc.per_ticket
    durations = {column: lc.hours(name)[sel] for name, column in _DURATIONS.items()}
    counts = {name: values[name][sel] for name in _COUNTS}
    out = pd.DataFrame({
        "ticket_id": ds.tickets["ticket_id"].iloc[sel].reset_index(drop=True),
        "status": pd.Categorical.from_codes(values["status"][sel], categories=list(EVENT_STATUSES)),
        **durations, **counts,
        "first_reopened_at": pd.to_datetime(values["first_reopened_at"][sel].view("datetime64[ns]"), utc=True),
        "one_touch": values["one_touch"][sel],
    })[list(LIFECYCLE_COLUMNS)]
    return out.astype({"ticket_id": "str", "status": "str", "first_reopened_at": TS, **dict.fromkeys(_COUNTS, "int64")})
