"""SLA clocks measured on ticket events (SPEC §4 SLA targets, SPEC §3 ``ticket_events``).

The tickets' own fields time two targets (first response, resolution:
:mod:`slm_lib.metrics.sla`); a ticket's events time three more, as Zendesk defines them:

* ``next_reply``: one clock per round of the conversation
  (:func:`slm_lib.metrics.lifecycle.next_reply_clocks`): it starts at the oldest customer
  message after an agent public reply and stops at the next agent public reply or at the
  ticket's next resolution (solving fulfils the target, as in Zendesk and dbt_zendesk's
  ``is_sla_breached``). It never pauses. Each clock is one target instance (Zendesk counts
  every next reply), so a ticket can add several to a compliance rate.
* ``requester_wait``: time in new, open and on_hold, the lifecycle's ``requester_wait_h``.
  Zendesk's requester wait time: the clock pauses in pending, stops when the ticket is
  solved or closed and resumes if it is reopened. One per ticket.
* ``agent_work``: time in new and open (Zendesk's agent work time: it pauses in pending and
  on_hold). One per ticket; no default target.

**Priority.** A clock is judged against the target of the priority in force when it
started: at the ticket's creation (requester wait, agent work, and with events also first
response and resolution), at its first message (next reply). That is the last ``priority``
event at or before that instant; before a ticket's first priority event, the value of that
event (an export's first record of the priority stands for the priority the ticket was
created with; the synthetic events confirm it minutes after creation); a ticket without
priority events keeps its own ``priority``. A missing priority is ``normal`` (SPEC §3), an
unknown one has no target. Zendesk itself re-applies the targets of a changed priority
(dbt_zendesk keeps the latest first reply target); slm keeps the clock's own.

Clocks run to ``as_of`` (the lifecycle's), events after it are unknown, and the status at
``as_of`` follows :func:`slm_lib.metrics.sla.judge_clocks`: achieved, breached or pending.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from slm_lib.events import KIND, last_per_ticket, run_starts
from slm_lib.metrics.lifecycle import Lifecycle, lifecycle, next_reply_clocks
from slm_lib.periods import epoch_ns
from slm_lib.schema import DEFAULT_PRIORITY, PRIORITIES

#: SLA targets timed on ticket events (module docstring).
EVENT_TARGETS: tuple[str, ...] = ("next_reply", "requester_wait", "agent_work")


@dataclass(frozen=True)
class Clocks:
    """SLA clocks of one target: one entry per clock.

    Attributes
    ----------
    ticket : int64 array
        Row of the clock's ticket in the tickets frame.
    elapsed : array
        Time on the clock by its stop or by ``as_of``, in the lifecycle's clock units
        (:attr:`slm_lib.metrics.lifecycle.Lifecycle.unit`).
    stopped : bool array
        The clock stopped by ``as_of`` (its target is then achieved or breached for good).
    priority : int64 array
        Index in ``PRIORITIES`` of the priority in force when the clock started (-1: unknown).
    """

    ticket: np.ndarray
    elapsed: np.ndarray
    stopped: np.ndarray
    priority: np.ndarray


def priority_codes(values: pd.Series) -> np.ndarray:
    """Index of each priority in ``PRIORITIES``; missing -> ``normal``, unknown -> -1.

    Examples
    --------
    >>> priority_codes(pd.Series(["urgent", None, "p1", "low"])).tolist()
    [3, 1, -1, 0]
    """
    codes, uniques = pd.factorize(values, use_na_sentinel=True)   # a handful of distinct labels
    known = [PRIORITIES.index(u) if u in PRIORITIES else -1 for u in uniques]
    return np.array([*known, PRIORITIES.index(DEFAULT_PRIORITY)], dtype=np.int64)[codes]   # -1 (missing): last


def events_lifecycle(data: Any, calendar: Any = None, as_of: Any = None) -> Lifecycle | None:
    """The lifecycle of a Dataset that has ticket events, else None (a bare tickets frame, no events).

    Examples
    --------
    >>> events_lifecycle(pd.DataFrame({"ticket_id": ["a"]})) is None
    True
    """
    events = getattr(data, "ticket_events", None)
    if events is None or events.empty:
        return None
    return lifecycle(data, calendar, as_of)


def _instant_ends(ticket: np.ndarray, at: np.ndarray, positions: np.ndarray) -> np.ndarray:
    """The last history position of the same ticket and instant as each of ``positions``."""
    last = np.ones(len(ticket), dtype=bool)
    last[:-1] = (ticket[1:] != ticket[:-1]) | (at[1:] != at[:-1])
    ends = np.flatnonzero(last)
    return ends[np.searchsorted(ends, positions)]


def clock_priorities(lc: Lifecycle, tickets: pd.DataFrame, events: pd.DataFrame,
                     positions: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Priority codes in force at each ticket's creation and at the history ``positions`` (module docstring).

    Returns
    -------
    (at_creation, at_positions) : int64 arrays
        One code per ticket row, and one per position.

    Examples
    --------
    >>> from slm_lib.io.dataset import Dataset
    >>> at = lambda *v: pd.to_datetime(list(v), utc=True)
    >>> t = pd.DataFrame({"ticket_id": ["t1"], "priority": ["urgent"], "created_at": at("2024-01-01 09:00")})
    >>> e = pd.DataFrame({"event_id": ["e1", "e2", "e3"], "ticket_id": "t1", "status": None,
    ...     "kind": ["priority", "priority", "customer_message"], "actor": ["agent", "agent", "customer"],
    ...     "priority": ["normal", "urgent", None], "agent_id": None, "team": None,
    ...     "at": at("2024-01-01 09:00", "2024-01-01 10:00", "2024-01-01 11:00")})
    >>> ds = Dataset(tickets=t, ticket_events=e)
    >>> lc = lifecycle(ds, as_of="2024-01-02")
    >>> [PRIORITIES[p] for p in np.concatenate(clock_priorities(lc, t, e, np.array([2])))]   # created, 11:00
    ['normal', 'urgent']
    """
    own = priority_codes(tickets["priority"])
    h = lc.history
    where = np.flatnonzero(h.kind == KIND["priority"])
    if not len(where):
        return own, own[h.ticket[positions]]
    value = priority_codes(events["priority"].iloc[h.row[where]])
    ticket = h.ticket[where]
    first = run_starts(ticket)
    fallback = own.copy()
    fallback[ticket[first]] = value[first]       # before its first priority event: that event's value
    early = h.at[where] <= epoch_ns(tickets["created_at"])[ticket]
    set_early = last_per_ticket(ticket[early], value[early], len(own), -2)
    at_creation = np.where(set_early != -2, set_early, fallback)
    latest = np.full(len(h.ticket), -1, dtype=np.int64)
    latest[where] = np.arange(len(where))
    k = np.maximum.accumulate(latest)[_instant_ends(h.ticket, h.at, positions)]
    set_before = (k >= 0) & (ticket[np.maximum(k, 0)] == h.ticket[positions])
    return at_creation, np.where(set_before, value[np.maximum(k, 0)], fallback[h.ticket[positions]])


def event_clocks(lc: Lifecycle, tickets: pd.DataFrame, events: pd.DataFrame,
                 names: tuple[str, ...] = EVENT_TARGETS) -> tuple[np.ndarray, dict[str, Clocks]]:
    """The priority in force at each ticket's creation, and the clocks of the event targets ``names``.

    Examples
    --------
    >>> from slm_lib.io.dataset import Dataset
    >>> at = lambda *v: pd.to_datetime(list(v), utc=True)
    >>> t = pd.DataFrame({"ticket_id": ["t1"], "priority": ["high"], "created_at": at("2024-01-01 09:00")})
    >>> e = pd.DataFrame({"event_id": list("abcd"), "ticket_id": "t1", "status": [None, "pending", None, None],
    ...     "kind": ["public_reply", "status", "customer_message", "public_reply"],
    ...     "actor": ["agent", "agent", "customer", "agent"], "priority": None, "agent_id": None, "team": None,
    ...     "at": at("2024-01-01 10:00", "2024-01-01 10:00", "2024-01-01 12:00", "2024-01-01 12:30")})
    >>> lc = lifecycle(Dataset(tickets=t, ticket_events=e), as_of="2024-01-02")
    >>> _, clocks = event_clocks(lc, t, e, ("next_reply", "requester_wait"))
    >>> [(c.elapsed / lc.unit).tolist() for c in clocks.values()]   # hours: 12:00 -> 12:30; new 09:00 -> 10:00
    [[0.5], [1.0]]
    """
    h, values = lc.history, lc.per_ticket
    rows = np.flatnonzero(lc.keep)
    reply = h.agent_replies()
    stream = np.array([], dtype=np.int64)
    start = stop = stream
    if "next_reply" in names:
        resolution = np.zeros(len(h.ticket), dtype=bool)
        resolution[lc.changes.index[lc.changes.resolves]] = True
        stream = np.flatnonzero(reply | resolution | (h.kind == KIND["customer_message"]))
        start, stop = next_reply_clocks(h.ticket[stream], (reply | resolution)[stream], reply[stream])
    at_creation, at_start = clock_priorities(lc, tickets, events, stream[start])
    clocks: dict[str, Clocks] = {}
    for name in names:
        if name == "next_reply":
            began = lc.clock[stream[start]]
            ended = np.where(stop >= 0, lc.clock[stream[np.maximum(stop, 0)]], 0)   # as_of is 0 on the clock
            clocks[name] = Clocks(ticket=h.ticket[stream[start]], elapsed=ended - began, stopped=stop >= 0,
                                  priority=at_start)
        else:
            wait = values["requester_wait"] - (values["on_hold"] if name == "agent_work" else 0.0)
            clocks[name] = Clocks(ticket=rows, elapsed=wait[rows], stopped=values["resolved"][rows],
                                  priority=at_creation[rows])
    return at_creation, clocks
