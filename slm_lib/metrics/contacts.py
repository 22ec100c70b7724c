"""A customer's contacts in time order: the next contact after an instant, repeat contacts.

The kernel behind ``repeat_contact_rate`` of :func:`slm_lib.metrics.table.metric_table` and
the journey functions of :mod:`slm_lib.journeys` (it sits in ``metrics`` because the metric
table needs it; ``journeys`` builds its tables on it).

* **Solved at** (:func:`solved_instants`): when a ticket counts as solved at ``as_of``. A
  ticket with events up to ``as_of`` is solved at its last resolution while its latest
  status is solved or closed (:func:`slm_lib.events.implied_fields`, the rule that checks
  the tickets' own ``resolved_at``); a ticket reopened and not solved again by ``as_of`` is
  not solved. A ticket without events is solved at its ``resolved_at`` if that is not after
  ``as_of``. Nothing after ``as_of`` is read.
* **Repeat contact** (:func:`repeat_flags`): a solved ticket whose customer opens a new
  ticket (any channel) in the ``days`` after it was solved, i.e. created in
  ``(solved_at, solved_at + days]``. Tickets solved less than ``days`` before ``as_of``
  are **censored** (their window is not over) and left out of the rate, so the rate is not
  biased low at the data's end.

Vectorised: the tickets sorted by (customer, created_at) with two packed integer sorts, then
each solve looks forward from its own ticket in its customer's run (a few vectorised steps,
then a vectorised binary search). No Python loop over tickets; memory read in order.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from slm_lib.events import event_history, implied_fields, run_starts, stable_order
from slm_lib.periods import NAT_NS, epoch_ns, latest_timestamp, utc_instant

#: Default window of a repeat contact and of a channel switch, in days.
REPEAT_DAYS: float = 7.0
_NS_PER_DAY = 86_400 * 10**9
_STEPS = 4   # forward steps before the binary search


def _time_order(at: np.ndarray) -> np.ndarray:
    """Stable permutation sorting int64 instants (ns).

    Instants already in order (an export written as it happened) need no sort. Otherwise
    packed integer sorts (:func:`slm_lib.events.stable_order`), least significant digit
    first: the nanoseconds within the second (skipped when every instant is a whole
    second), then the seconds; an argsort when the seconds span too much to pack.

    Examples
    --------
    >>> _time_order(np.array([3_000_000_001, 1_000_000_000, 3_000_000_000])).tolist()
    [1, 2, 0]
    """
    if not len(at) or bool((at[1:] >= at[:-1]).all()):
        return np.arange(len(at))
    seconds = at - at.min()
    fraction = seconds % 10**9
    order = stable_order(fraction) if fraction.any() else None
    del fraction
    seconds //= 10**9
    if order is None:
        by_second = stable_order(seconds)
        return np.argsort(at, kind="stable") if by_second is None else by_second
    by_second = stable_order(seconds[order])
    return np.argsort(at, kind="stable") if by_second is None else order[by_second]


def _first_after(created: np.ndarray, lo: np.ndarray, hi: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Vectorised binary search: the first position in ``[lo, hi)`` with ``created > at`` (``hi`` if none).

    ``created`` is non-decreasing on each ``[lo, hi)``.
    """
    lo, hi = lo.copy(), hi.copy()
    last = max(len(created) - 1, 0)
    while True:
        open_ = lo < hi
        if not open_.any():
            return lo
        mid = (lo + hi) // 2
        right = open_ & (created[np.minimum(mid, last)] <= at)
        lo = np.where(right, mid + 1, lo)
        hi = np.where(open_ & ~right, mid, hi)


@dataclass(frozen=True)
class ContactIndex:
    """Tickets sorted by (customer, created_at, row); the ones without a customer or a time are left out.

    Attributes
    ----------
    rows : int64 array
        Ticket rows in sorted order.
    customer, created : int64 arrays
        Customer code and creation instant (ns) of each sorted ticket.
    n_tickets : int
        Rows of the tickets indexed (left-out ones included).
    """

    rows: np.ndarray
    customer: np.ndarray
    created: np.ndarray
    n_tickets: int

    @classmethod
    def build(cls, customer: np.ndarray, created: np.ndarray) -> "ContactIndex":
        """Index tickets given their customer codes (-1: unknown) and creation instants (int64 ns).

        Two packed sorts, least significant key first (:func:`slm_lib.events.stable_order`):
        by time (whole seconds; an argsort otherwise), then by customer.

        Examples
        --------
        >>> ix = ContactIndex.build(np.array([1, 0, 1, 0]), np.array([30, 20, 10, 20]))
        >>> ix.rows.tolist(), ix.customer.tolist()
        ([1, 3, 2, 0], [0, 0, 1, 1])
        """
        ok = (customer >= 0) & (created != NAT_NS)
        everyone = bool(ok.all())
        pool = None if everyone else np.flatnonzero(ok)
        at = created if everyone else created[pool]
        by_time = _time_order(at)
        code = np.asarray(customer if everyone else customer[pool], dtype=np.int64)[by_time]
        by_customer = stable_order(code)
        if by_customer is None:
            by_customer = np.argsort(code, kind="stable")
        order = by_time[by_customer]
        return cls(rows=order if everyone else pool[order], customer=code[by_customer], created=at[order],
                   n_tickets=len(customer))

    def next_after(self, at: np.ndarray) -> np.ndarray:
        """Per ticket row, the row of its customer's first ticket created strictly after ``at`` (-1: none).

        ``at`` (int64 ns, one per ticket row; :data:`NAT_NS` = no query) must not be before
        the ticket's own ``created_at`` (a solve), so each search starts just after the
        ticket in its customer's run: a few vectorised steps forward (the next ticket
        usually is the answer), then a vectorised binary search for the queries still
        open. Queries run in sorted order, so memory is read in order. Tickets left out of
        the index get -1.

        Examples
        --------
        >>> ix = ContactIndex.build(np.array([0, 0, 1, 0]), np.array([10, 20, 15, 20]))
        >>> ix.next_after(np.array([10, 20, 25, 20])).tolist()
        [1, -1, -1, -1]
        """
        n = len(self.rows)
        starts = run_starts(self.customer)
        run_end = np.append(np.flatnonzero(starts)[1:], n)[np.cumsum(starts) - 1]
        when = at[self.rows]
        cand = np.arange(1, n + 1)                 # the next ticket in the sorted order
        early = np.zeros(n, dtype=bool)            # ... created at or before the query instant
        early[:-1] = self.created[1:] <= when[:-1]
        todo = np.flatnonzero((when != NAT_NS) & (cand < run_end) & early)
        last = max(n - 1, 0)
        for _ in range(_STEPS):
            if not len(todo):
                break
            cand[todo] += 1
            c = cand[todo]
            todo = todo[(c < run_end[todo]) & (self.created[np.minimum(c, last)] <= when[todo])]
        if len(todo):
            cand[todo] = _first_after(self.created, cand[todo] + 1, run_end[todo], when[todo])
        found = (when != NAT_NS) & (cand < run_end)
        out = np.full(self.n_tickets, -1, dtype=np.int64)
        out[self.rows] = np.where(found, self.rows[np.minimum(cand, last)], -1)   # no boolean indexing
        return out

    def following(self) -> tuple[np.ndarray, np.ndarray]:
        """Consecutive contacts of one customer: (row of a ticket, row of the customer's next ticket).

        Tickets created at the same instant follow each other in table order.

        Examples
        --------
        >>> ix = ContactIndex.build(np.array([0, 1, 0, 0]), np.array([5, 1, 9, 7]))
        >>> [a.tolist() for a in ix.following()]
        [[0, 3], [3, 2]]
        """
        same = self.customer[1:] == self.customer[:-1]
        return self.rows[:-1][same], self.rows[1:][same]


def until(created: np.ndarray, end: int) -> np.ndarray:
    """Creation instants with those after ``end`` made missing (no copy when there are none).

    Examples
    --------
    >>> until(np.array([1, 5]), 3).tolist() == [1, NAT_NS]
    True
    """
    return np.where(created <= end, created, NAT_NS) if bool((created > end).any()) else created


def customer_codes(tickets: pd.DataFrame) -> np.ndarray:
    """Integer code of each ticket's customer (-1: missing)."""
    return np.asarray(pd.factorize(tickets["customer_id"], use_na_sentinel=True)[0], dtype=np.int64)


def observation_end(data: Any, as_of: Any = None) -> pd.Timestamp:
    """``as_of`` as a UTC instant; default the Dataset's observation end or a bare frame's latest ticket time.

    Examples
    --------
    >>> t = pd.DataFrame({"created_at": pd.to_datetime(["2024-01-01"], utc=True), "resolved_at": pd.NaT})
    >>> observation_end(t)
    Timestamp('2024-01-01 00:00:00+0000', tz='UTC')
    """
    if as_of is not None:
        return utc_instant(as_of)
    if hasattr(data, "observation_end"):
        return data.observation_end()
    return latest_timestamp(*(data[c] for c in ("created_at", "first_response_at", "resolved_at") if c in data))


def solved_instants(tickets: pd.DataFrame, events: pd.DataFrame | None, as_of_ns: int,
                    history: Any = None) -> np.ndarray:
    """When each ticket counts as solved at ``as_of_ns`` (int64 ns, :data:`NAT_NS`: not solved; module docstring).

    ``history``: an :class:`~slm_lib.events.EventHistory` of these tickets through ``as_of``
    when the caller has one (the metric table's lifecycle), else built from ``events``.

    Examples
    --------
    >>> t = pd.DataFrame({"ticket_id": ["a", "b"], "created_at": pd.to_datetime(["2024-01-01"] * 2, utc=True),
    ...     "resolved_at": pd.to_datetime(["2024-01-02", "2024-01-09"], utc=True)})
    >>> end = pd.Timestamp("2024-01-05", tz="UTC").value
    >>> solved_instants(t, None, end).tolist() == [pd.Timestamp("2024-01-02", tz="UTC").value, NAT_NS]
    True
    """
    created, own = epoch_ns(tickets["created_at"]), epoch_ns(tickets["resolved_at"])
    solved = np.where((own != NAT_NS) & (own <= as_of_ns) & (created <= as_of_ns), own, NAT_NS)
    if history is None and events is not None and len(events):
        history = event_history(tickets, events, through=as_of_ns)
    if history is not None:
        implied = implied_fields(history)
        solved = np.where(implied["has_events"], implied["resolved_at"], solved)
    return solved


@dataclass(frozen=True)
class RepeatFlags:
    """Per ticket row: solved instant, the next contact after it, and whether it counts (module docstring)."""

    solved: np.ndarray      # int64 ns, NAT_NS when not solved at as_of
    next_row: np.ndarray    # row of the customer's first ticket created after solved (-1: none by as_of)
    repeat: np.ndarray      # bool: next contact within the window
    censored: np.ndarray    # bool: solved, but the window ends after as_of
    counted: np.ndarray     # bool: solved and not censored (the rate's denominator)


def repeat_flags(tickets: pd.DataFrame, events: pd.DataFrame | None, as_of: pd.Timestamp,
                 days: float = REPEAT_DAYS, history: Any = None) -> RepeatFlags:
    """Repeat contacts of every solved ticket (module docstring); tickets created after ``as_of`` are ignored.

    Examples
    --------
    >>> at = lambda *v: pd.to_datetime(list(v), utc=True)
    >>> t = pd.DataFrame({"ticket_id": ["a", "b", "c"], "customer_id": ["x", "x", "x"],
    ...     "created_at": at("2024-01-01", "2024-01-05", "2024-01-20"),
    ...     "resolved_at": at("2024-01-02", "2024-01-06", "2024-01-21")})
    >>> f = repeat_flags(t, None, pd.Timestamp("2024-01-25", tz="UTC"))
    >>> f.next_row.tolist(), f.repeat.tolist(), f.censored.tolist()
    ([1, 2, -1], [True, False, False], [False, False, True])
    """
    end = int(as_of.value)
    solved = solved_instants(tickets, events, end, history)
    created = epoch_ns(tickets["created_at"])
    code = customer_codes(tickets)
    index = ContactIndex.build(code, until(created, end))
    next_row = index.next_after(solved)
    window = int(round(days * _NS_PER_DAY))
    is_solved = solved != NAT_NS
    gap = np.where(next_row >= 0, created[np.maximum(next_row, 0)] - solved, np.iinfo(np.int64).max)
    repeat = is_solved & (next_row >= 0) & (gap <= window)
    censored = is_solved & (solved > end - window)
    return RepeatFlags(solved=solved, next_row=next_row, repeat=repeat, censored=censored,
                       counted=is_solved & ~censored & (code >= 0))
