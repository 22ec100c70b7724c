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
* Hours are exact (Zendesk rounds to minutes). Business hours are differences of one
  clock ``F(t) = calendar.hours_between(as_of, t)``, so a ticket's waits add up exactly.

Vectorised over all events: one sort by (ticket, time, kind), then segment reductions
(``np.bincount``, first/last of each ticket's run, the next reply found with a reversed
running minimum); medians by :func:`slm_lib.stats.grouped_quantiles`.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from slm_lib.errors import InsufficientDataError
from slm_lib.events import (KIND, RESOLVED, STATUS, event_history, first_per_ticket, last_per_ticket,
                            status_changes)
from slm_lib.periods import NAT_NS, epoch_ns, utc_instant
from slm_lib.schema import EVENT_STATUSES, TS
from slm_lib.stats import grouped_quantiles

LIFECYCLE_COLUMNS: tuple[str, ...] = (
    "ticket_id", "status", "requester_wait_h", "agent_wait_h", "on_hold_h", "first_resolution_h",
    "full_resolution_h", "next_reply_h_median", "next_reply_count", "agent_replies", "reopens",
    "first_reopened_at", "assignee_stations", "group_stations", "handoffs", "one_touch")
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
    """Hours from ``origin`` to each instant (int64 ns): calendar hours, or the calendar's business hours.

    Business hours are computed once per run of equal instants (a reply and the status it
    sets share one), which halves the calendar's work on a sorted history.
    """
    if calendar is None:
        return (ns - origin) / _NS_PER_HOUR
    fresh = np.ones(len(ns), dtype=bool)
    fresh[1:] = ns[1:] != ns[:-1]
    hours = calendar.hours_between(np.datetime64(origin, "ns"), ns[fresh].view("datetime64[ns]"))
    return np.asarray(hours, dtype=np.float64)[np.cumsum(fresh) - 1]


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


def _next_replies(ticket: np.ndarray, clock: np.ndarray, is_reply: np.ndarray,
                  n: int) -> tuple[np.ndarray, np.ndarray]:
    """Median hours and count of answered next-reply clocks per ticket, from the conversation events."""
    m = len(ticket)
    same = np.zeros(m, dtype=bool)
    same[1:] = ticket[1:] == ticket[:-1]
    after_reply = np.zeros(m, dtype=bool)
    after_reply[1:] = is_reply[:-1] & same[1:]
    opens = ~is_reply & after_reply                       # the oldest message since the last agent reply
    upcoming = np.where(is_reply, np.arange(m), m)
    answer = np.minimum.accumulate(upcoming[::-1])[::-1]  # the next agent reply at or after each event
    opens &= answer < m
    start = np.flatnonzero(opens)
    start = start[ticket[answer[start]] == ticket[start]]
    waits, group = clock[answer[start]] - clock[start], ticket[start]
    median = grouped_quantiles(waits, group, n, (0.5,))[0.5][0]
    return median, np.bincount(group, minlength=n)


def ticket_lifecycle(ds: Any, calendar: Any = None, as_of: Any = None) -> pd.DataFrame:
    """Per ticket: requester and agent waits, holds, resolutions, next replies, reopens, handoffs.

    Parameters
    ----------
    ds : Dataset
        Validated tickets and ticket_events (``load_data`` / ``validate``).
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
    tickets, events = ds.tickets, ds.ticket_events
    if events.empty:
        raise InsufficientDataError("ticket_lifecycle: the data set has no ticket_events (an optional table; "
                                    "without it only the tickets' own fields are known)")
    end = lifecycle_as_of(ds, as_of).value
    h = event_history(tickets, events, through=end)
    n = h.n_tickets
    created = epoch_ns(tickets["created_at"])
    keep = (np.bincount(h.ticket, minlength=n) > 0) & (created != NAT_NS) & (created <= end)
    clock = _clock(h.at, end, calendar)                   # hours to as_of; as_of itself is 0
    born = np.full(n, np.nan)
    born[keep] = _clock(created[keep], end, calendar)

    changes = status_changes(h)
    st, status = h.ticket[changes.index], changes.status
    begin = clock[changes.index]
    finish = np.zeros(len(begin))                         # the last status of a ticket runs to as_of
    follows = np.zeros(len(st), dtype=bool)
    follows[:-1] = st[1:] == st[:-1]
    finish[follows] = begin[1:][follows[:-1]]
    spent = finish - begin

    def time_in(codes: np.ndarray) -> np.ndarray:
        counted = np.zeros(len(EVENT_STATUSES), dtype=bool)
        counted[codes] = True
        return np.bincount(st, weights=np.where(counted[status], spent, 0.0), minlength=n)

    before_first = first_per_ticket(st, begin, n, 0.0) - born   # new until the first status event
    now = last_per_ticket(st, status, n, STATUS["new"])
    resolved = np.isin(now, RESOLVED)
    first_resolution = first_per_ticket(st[changes.resolves], begin[changes.resolves], n, np.nan)
    last_resolution = last_per_ticket(st[changes.resolves], begin[changes.resolves], n, np.nan)
    reopened_at = first_per_ticket(st[changes.reopens], h.at[changes.index][changes.reopens], n, NAT_NS)

    reply = h.agent_replies()
    conversation = np.flatnonzero(reply | (h.kind == KIND["customer_message"]))
    next_median, next_count = _next_replies(h.ticket[conversation], clock[conversation], reply[conversation], n)
    assignment = np.flatnonzero(h.kind == KIND["assignment"])
    stations = _stations(events, h.row[assignment], h.ticket[assignment], n)
    replies = np.bincount(h.ticket[reply], minlength=n)

    sel = np.flatnonzero(keep)
    columns = {
        "ticket_id": tickets["ticket_id"].iloc[sel].reset_index(drop=True),
        "status": pd.Categorical.from_codes(now[sel], categories=list(EVENT_STATUSES)),
        "requester_wait_h": (time_in(_REQUESTER) + before_first)[sel],
        "agent_wait_h": time_in(np.array([STATUS["pending"]]))[sel],
        "on_hold_h": time_in(np.array([STATUS["on_hold"]]))[sel],
        "first_resolution_h": (first_resolution - born)[sel],
        "full_resolution_h": np.where(resolved, last_resolution - born, np.nan)[sel],
        "next_reply_h_median": next_median[sel],
        "next_reply_count": next_count[sel],
        "agent_replies": replies[sel],
        "reopens": np.bincount(st[changes.reopens], minlength=n)[sel],
        "first_reopened_at": pd.to_datetime(reopened_at[sel].view("datetime64[ns]"), utc=True),
        **{k: v[sel] for k, v in stations.items()},
        "one_touch": (resolved & (replies <= 1))[sel],
    }
    out = pd.DataFrame(columns)
    ints = ["next_reply_count", "agent_replies", "reopens", "assignee_stations", "group_stations", "handoffs"]
    return out.astype({"ticket_id": "str", "status": "str", "first_reopened_at": TS, **dict.fromkeys(ints, "int64")})
