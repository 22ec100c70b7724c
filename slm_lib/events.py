"""Ticket events (SPEC §3 ``ticket_events``): their order, and the ticket fields they imply.

One place decides how a ticket's history is read, for validation (the tickets' own
first_response_at, resolved_at, replies and reopens must agree with it),
:meth:`slm_lib.io.dataset.Dataset.until` (what an export taken earlier would hold) and the
lifecycle metrics (:mod:`slm_lib.metrics.lifecycle`):

* **Order**: by ticket, then time. Events of one ticket at the same instant go in the
  order customer_message, public_reply, internal_note, assignment, priority, status (a
  reply stamped with the message it answers comes after it; the status set in the same
  update is the one in force after the instant), then in their order in the table.
* **Status before the first status event** is ``new`` (the ticket exists, nobody acted).
* **Resolution**: entering solved or closed from another status. solved -> closed is not
  a second resolution; a ticket closed without being solved (a merge, a business rule)
  is resolved when it closed, as in Zendesk's resolution metrics.
* **Reopen**: leaving solved or closed for new, open, pending or on_hold.
* **Implied ticket fields**: first_response_at = the first agent public_reply;
  resolved_at = the last resolution, while the latest status is solved or closed (a
  reopened ticket is unresolved again); replies = agent public replies; reopens = reopens.
  Timestamps agree when they are less than a second apart.

Everything is vectorised over all events: one sort by (ticket, time, kind), then
segment reductions over the sorted arrays (``np.bincount``, first/last of each run).
Like :mod:`slm_lib.schema` this module sits at the bottom of the import graph (it uses
only schema, keys and periods), so ``io`` can use it.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from slm_lib.keys import lookup_positions
from slm_lib.periods import NAT_NS, epoch_ns
from slm_lib.checks import Violation
from slm_lib.schema import EVENT_ACTORS, EVENT_KINDS, EVENT_STATUSES

#: Order of the kinds of one ticket's events at the same instant.
SAME_INSTANT_ORDER: tuple[str, ...] = ("customer_message", "public_reply", "internal_note", "assignment",
                                       "priority", "status")
_RANK = np.array([SAME_INSTANT_ORDER.index(k) for k in EVENT_KINDS], dtype=np.int64)
KIND = {k: i for i, k in enumerate(EVENT_KINDS)}
ACTOR = {a: i for i, a in enumerate(EVENT_ACTORS)}
STATUS = {s: i for i, s in enumerate(EVENT_STATUSES)}
#: Status codes in which a ticket counts as resolved.
RESOLVED = np.array([STATUS["solved"], STATUS["closed"]], dtype=np.int8)
_SECOND = 10**9


@dataclass(frozen=True)
class EventHistory:
    """The events of known tickets, sorted by ticket, time and kind (module docstring).

    Attributes
    ----------
    ticket : int64 array
        Row of the event's ticket in the tickets frame (non-decreasing).
    at : int64 array
        UTC instant in nanoseconds.
    kind, actor, status : int8 arrays
        Index in ``EVENT_KINDS``, ``EVENT_ACTORS``, ``EVENT_STATUSES``; -1 when missing
        (``status`` is -1 on every event that is not a status event).
    row : int64 array
        Row of the event in the events frame.
    n_tickets : int
        Rows of the tickets frame.
    """

    ticket: np.ndarray
    at: np.ndarray
    kind: np.ndarray
    actor: np.ndarray
    status: np.ndarray
    row: np.ndarray
    n_tickets: int

    def agent_replies(self) -> np.ndarray:
        """Mask of the agents' public replies."""
        return (self.kind == KIND["public_reply"]) & (self.actor == ACTOR["agent"])


def _codes(values: pd.Series, domain: tuple[str, ...]) -> np.ndarray:
    return lookup_positions(pd.Series(domain, dtype="str"), values).astype(np.int8)


def stable_order(key: np.ndarray) -> np.ndarray | None:
    """Stable argsort of non-negative int64 keys that fit beside the row number in 63 bits, else None.

    Each key is packed with its row number into one int64 and sorted by value
    (numpy's vectorised sort of plain integers, several times faster than an argsort);
    the row numbers come back in stable order.

    Examples
    --------
    >>> stable_order(np.array([5, 3, 5, 4])).tolist()
    [1, 3, 0, 2]
    """
    shift = max(int(len(key) - 1).bit_length(), 1)
    if len(key) and int(key.max()).bit_length() + shift > 63:
        return None
    packed = key.astype(np.int64)     # a copy: everything below works in place (large arrays are
    packed <<= shift                  # costly to allocate, each one faulted in page by page)
    packed |= np.arange(len(key), dtype=np.int64)
    packed.sort()
    packed &= (1 << shift) - 1
    return packed


def _time_order(ticket: np.ndarray, at: np.ndarray, rank: np.ndarray) -> np.ndarray:
    """Stable permutation sorting by (ticket, at, rank).

    Whole-second instants (the usual case) take two packed sorts, least significant
    digit first: (time, kind rank), then the ticket; otherwise a three-key ``np.lexsort``.
    """
    if not len(at):
        return np.zeros(0, dtype=np.int64)
    seconds, fraction = np.divmod(at, _SECOND)
    if not fraction.any():
        seconds -= seconds.min()
        seconds *= 8
        seconds += rank
        by_time = stable_order(seconds)
        if by_time is not None:
            by_ticket = stable_order(ticket[by_time])
            if by_ticket is not None:
                return by_time[by_ticket]
    return np.lexsort((rank, at, ticket))


def event_history(tickets: pd.DataFrame, events: pd.DataFrame, through: int | None = None) -> EventHistory:
    """The events of ``tickets`` in order; events of other tickets are left out.

    Parameters
    ----------
    tickets, events : pandas.DataFrame
        Canonical tickets (``ticket_id``) and ticket_events.
    through : int, optional
        Keep only events at or before this instant (UTC nanoseconds).

    Examples
    --------
    >>> t = pd.DataFrame({"ticket_id": ["a", "b"]})
    >>> e = pd.DataFrame({"ticket_id": ["b", "a", "a", "z"], "kind": ["status", "status", "public_reply", "status"],
    ...     "actor": ["agent"] * 4, "status": ["open", "solved", None, "open"],
    ...     "at": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 09:00", "2024-01-01 09:00", "2024-01-01 00:00"],
    ...                          utc=True)})
    >>> h = event_history(t, e)
    >>> h.ticket.tolist(), h.row.tolist()
    ([0, 0, 1], [2, 1, 0])
    """
    ticket = lookup_positions(tickets["ticket_id"], events["ticket_id"])
    at = epoch_ns(events["at"])
    kind = _codes(events["kind"], EVENT_KINDS)
    keep = (ticket >= 0) & (at != NAT_NS) & (kind >= 0)
    if through is not None:
        keep &= at <= through
    if keep.all():
        row = _time_order(ticket, at, _RANK[kind])
    else:
        row = np.flatnonzero(keep)
        row = row[_time_order(ticket[row], at[row], _RANK[kind[row]])]
    status = np.where(kind[row] == KIND["status"], _codes(events["status"], EVENT_STATUSES)[row], -1)
    actor = _codes(events["actor"], EVENT_ACTORS)[row]
    return EventHistory(ticket=ticket[row], at=at[row], kind=kind[row], actor=actor, status=status.astype(np.int8),
                        row=row, n_tickets=len(tickets))


def run_starts(ticket: np.ndarray) -> np.ndarray:
    """Mask of the first element of each ticket's run in a ticket-sorted array.

    Examples
    --------
    >>> run_starts(np.array([0, 0, 2, 2, 2, 5])).tolist()
    [True, False, True, False, False, True]
    """
    out = np.ones(len(ticket), dtype=bool)
    out[1:] = ticket[1:] != ticket[:-1]
    return out


def first_per_ticket(ticket: np.ndarray, values: np.ndarray, n_tickets: int, fill) -> np.ndarray:
    """The first value of each ticket's run (``fill`` for tickets without one).

    Examples
    --------
    >>> first_per_ticket(np.array([0, 0, 2]), np.array([5, 6, 7]), 3, -1).tolist()
    [5, -1, 7]
    """
    out = np.full(n_tickets, fill, dtype=np.result_type(values, np.min_scalar_type(fill)))
    start = run_starts(ticket)
    out[ticket[start]] = values[start]
    return out


def last_per_ticket(ticket: np.ndarray, values: np.ndarray, n_tickets: int, fill) -> np.ndarray:
    """The last value of each ticket's run (``fill`` for tickets without one).

    Examples
    --------
    >>> last_per_ticket(np.array([0, 0, 2]), np.array([5, 6, 7]), 3, -1).tolist()
    [6, -1, 7]
    """
    out = np.full(n_tickets, fill, dtype=np.result_type(values, np.min_scalar_type(fill)))
    end = np.ones(len(ticket), dtype=bool)
    end[:-1] = ticket[1:] != ticket[:-1]
    out[ticket[end]] = values[end]
    return out


@dataclass(frozen=True)
class StatusChanges:
    """The status events of a history with the status before each (``new`` before the first)."""

    index: np.ndarray      # position of each status event in the history
    status: np.ndarray     # its status code
    previous: np.ndarray   # the status in force just before it
    resolves: np.ndarray   # mask: entering solved/closed from another status
    reopens: np.ndarray    # mask: leaving solved/closed for an unresolved status


def status_changes(h: EventHistory) -> StatusChanges:
    """Status events of ``h`` with their previous status, resolutions and reopens.

    Examples
    --------
    >>> e = pd.DataFrame({"ticket_id": ["a"] * 4, "kind": ["status"] * 4, "actor": ["agent"] * 4,
    ...     "status": ["open", "solved", "open", "closed"],
    ...     "at": pd.to_datetime(["2024-01-01 09:00", "2024-01-01 10:00", "2024-01-02 09:00", "2024-01-03 09:00"],
    ...                          utc=True)})
    >>> c = status_changes(event_history(pd.DataFrame({"ticket_id": ["a"]}), e))
    >>> c.resolves.tolist(), c.reopens.tolist()
    ([False, True, False, True], [False, False, True, False])
    """
    index = np.flatnonzero(h.status >= 0)
    status = h.status[index]
    previous = np.empty_like(status)
    previous[1:] = status[:-1]
    previous[run_starts(h.ticket[index])] = STATUS["new"]
    now, before = np.isin(status, RESOLVED), np.isin(previous, RESOLVED)
    return StatusChanges(index=index, status=status, previous=previous, resolves=now & ~before,
                         reopens=~now & before)


def implied_fields(h: EventHistory, before: int | None = None) -> dict[str, np.ndarray]:
    """The tickets' fields the events imply (module docstring), one value per ticket row.

    ``before`` (UTC nanoseconds): only the events strictly before it count, i.e. the
    fields an export taken at that instant would hold.

    Returns
    -------
    dict
        ``has_events`` (bool), ``first_response_at`` and ``resolved_at`` (int64 ns,
        :data:`~slm_lib.periods.NAT_NS` when none), ``replies`` and ``reopens`` (int64),
        ``status`` (code of the latest status, ``new`` when none).

    Examples
    --------
    >>> e = pd.DataFrame({"ticket_id": ["a"] * 3, "kind": ["public_reply", "status", "status"],
    ...     "actor": ["agent"] * 3, "status": [None, "solved", "open"],
    ...     "at": pd.to_datetime(["2024-01-01 09:00", "2024-01-01 10:00", "2024-01-02 09:00"], utc=True)})
    >>> f = implied_fields(event_history(pd.DataFrame({"ticket_id": ["a"]}), e))
    >>> f["replies"].tolist(), f["reopens"].tolist(), f["resolved_at"].tolist() == [NAT_NS]
    ([1], [1], True)
    """
    n = h.n_tickets
    seen = np.ones(len(h.at), dtype=bool) if before is None else h.at < before
    reply = h.agent_replies() & seen
    changes = status_changes(h)  # a status's predecessor is the same whatever comes later
    t_status, at_status = h.ticket[changes.index], h.at[changes.index]
    known = seen[changes.index]
    status = last_per_ticket(t_status[known], changes.status[known], n, STATUS["new"]).astype(np.int8)
    resolved, reopened = changes.resolves & known, changes.reopens & known
    last_resolution = last_per_ticket(t_status[resolved], at_status[resolved], n, NAT_NS)
    return {
        "has_events": np.bincount(h.ticket[seen], minlength=n) > 0,
        "first_response_at": first_per_ticket(h.ticket[reply], h.at[reply], n, NAT_NS),
        "resolved_at": np.where(np.isin(status, RESOLVED), last_resolution, NAT_NS),
        "replies": np.bincount(h.ticket[reply], minlength=n).astype(np.int64),
        "reopens": np.bincount(t_status[reopened], minlength=n).astype(np.int64),
        "status": status,
    }


#: The ticket fields checked against the events, and how the events define them.
CHECKED_FIELDS: dict[str, str] = {
    "first_response_at": "the first agent public_reply",
    "resolved_at": "the last change to solved or closed, while the ticket is solved or closed",
    "replies": "the number of agent public_reply events",
    "reopens": "the number of changes from solved or closed back to new, open, pending or on_hold",
}


def event_disagreements(tickets: pd.DataFrame, events: pd.DataFrame) -> tuple[list[Violation], np.ndarray]:
    """Tickets whose own fields disagree with their events, and the tickets without events.

    Neither side is assumed right: each field that disagrees on some tickets gives one
    :class:`~slm_lib.schema.Violation` of table ``tickets`` whose rule names the field, the
    number of tickets and a few ticket ids. Timestamps agree when less than a second apart.

    Returns
    -------
    (list of Violation, bool array)
        The disagreements, and a mask of the tickets that have no event (not checked).

    Examples
    --------
    >>> t = pd.DataFrame({"ticket_id": ["a"], "replies": [2], "reopens": [0],
    ...     "created_at": pd.to_datetime(["2024-01-01 08:00"], utc=True),
    ...     "first_response_at": pd.to_datetime(["2024-01-01 09:00"], utc=True), "resolved_at": pd.NaT})
    >>> e = pd.DataFrame({"ticket_id": ["a"], "kind": ["public_reply"], "actor": ["agent"], "status": [None],
    ...     "at": pd.to_datetime(["2024-01-01 09:00:00.5"], utc=True)})
    >>> found, unchecked = event_disagreements(t, e)
    >>> [v.rule[:60] for v in found], found[0].rule.endswith("on 1 ticket(s), e.g. ticket_id 'a'")
    (['replies disagrees with ticket_events (the number of agent pu'], True)
    """
    implied = implied_fields(event_history(tickets, events))
    has = implied["has_events"]
    found = []
    for column in CHECKED_FIELDS:
        mine, theirs = tickets[column], implied[column]
        if column.endswith("_at"):
            mine = epoch_ns(mine)
            missing, their_missing = mine == NAT_NS, theirs == NAT_NS
            apart = np.abs(np.where(missing | their_missing, 0, mine - theirs)) >= _SECOND
            differ = (missing != their_missing) | apart
        else:
            differ = mine.to_numpy(dtype=np.int64) != theirs
        mask = has & differ
        if mask.any():
            found.append(Violation("tickets", column, disagreement_rule(column, int(mask.sum()),
                                                                        tickets["ticket_id"].to_numpy()[mask][:3]),
                                   mask))
    return found, ~has


def disagreement_rule(column: str, n_tickets: int, ids: Iterable[Any]) -> str:
    """The rule text of ``n_tickets`` tickets whose ``column`` disagrees with their events (``ids``: a few of them).

    Examples
    --------
    >>> disagreement_rule("replies", 2, ["a", "b"])
    "replies disagrees with ticket_events (the number of agent public_reply events) on 2 ticket(s), e.g. ticket_id 'a', 'b'"
    """
    shown = ", ".join(repr(i) for i in ids)
    return (f"{column} disagrees with ticket_events ({CHECKED_FIELDS[column]}) on {n_tickets} ticket(s), "
            f"e.g. ticket_id {shown}")
