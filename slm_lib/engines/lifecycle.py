"""Ticket lifecycle on an engine: one row per ticket from ``ticket_events`` as ibis expressions (SPEC §9 engines).

The definitions are those of :mod:`slm_lib.metrics.lifecycle` (every column and edge case)
and :mod:`slm_lib.events` (order, resolutions, reopens), written as window functions over
each ticket's events instead of numpy segment reductions:

* **Order**: by ticket, time, the kind's place in
  :data:`slm_lib.events.SAME_INSTANT_ORDER`, then ``event_id``. The pandas engine breaks a
  remaining tie (two events of one kind at one instant) by table order, which SQL does not
  have; the two agree when event ids follow the table order (as ``slm generate`` writes them).
* **Status spans**: ``LAG`` gives each status event the status before it (``new`` before
  the first), ``LEAD`` the next status event's time (``as_of`` after the last).
* **Next reply**: a running count of agent replies numbers the rounds; round ``j >= 1``
  holds the customer messages after reply ``j`` and reply ``j + 1``, whose difference of
  clocks is the round's wait. A ticket's median is the mean of its middle one or two waits
  (``row_number``), numpy's linear median.
* **Handoffs**: ``LAG`` over the assignment events that name an agent.

Durations are int64 microseconds of a ``clock`` of :mod:`slm_lib.engines.clock` (calendar
time, or the business time of a :class:`~slm_lib.calendar.BusinessCalendar`): every
duration is a difference of two clock values. The clock is applied once per event and per
ticket (:func:`~slm_lib.engines.clock.with_clocks` columns), its value at ``as_of`` once
per table (:func:`~slm_lib.engines.clock.clock_at`), so a business clock's large
expression is never repeated. Nothing is collected: :func:`lifecycle_table` is an ibis
table other engine code joins on ``ticket_id``. :func:`lifecycle_states` gives the few
columns customer_features reads at any instant: a panel of instants joins it once.
"""
from __future__ import annotations

from typing import Any

import ibis
import numpy as np
import pandas as pd

from slm_lib.engines.clock import ON_CLOCK, Clock, clock_at, engine_clock, with_clocks
from slm_lib.engines.session import observation_end, set_time_zone
from slm_lib.engines.timestamps import US_PER_HOUR, instant
from slm_lib.errors import InsufficientDataError
from slm_lib.events import SAME_INSTANT_ORDER
from slm_lib.metrics.lifecycle import LIFECYCLE_COLUMNS
from slm_lib.periods import utc_instant
from slm_lib.schema import EVENT_KINDS, EVENT_STATUSES, TS

_RESOLVED = ("solved", "closed")
_REQUESTER = ("new", "open", "on_hold")
#: Durations of :func:`lifecycle_table` (int64 µs; the median float) -> their column in hours.
DURATIONS: dict[str, str] = {"requester_wait": "requester_wait_h", "agent_wait": "agent_wait_h",
                             "on_hold": "on_hold_h", "first_resolution": "first_resolution_h",
                             "full_resolution": "full_resolution_h", "next_reply_median": "next_reply_h_median"}
COUNTS: tuple[str, ...] = ("next_reply_count", "agent_replies", "reopens", "assignee_stations", "group_stations",
                           "handoffs")

#: The column of the events' clock (:func:`clocked_events`).
AT = ON_CLOCK + "at"


def events_until(events: Any, end: Any, inclusive: bool) -> Any:
    """The events of a known kind at (or strictly before) ``end``, with the rank of their kind.

    Events of tickets outside the tickets table drop out where the per-ticket results
    are joined to the tickets (one join, not one per part of the lifecycle).
    """
    seen = events.at <= end if inclusive else events.at < end
    e = events.filter(events.kind.isin(EVENT_KINDS), events.at.notnull(), seen)
    e = e.select("ticket_id", "event_id", "at", "kind", "actor", "status", "agent_id", "team", "priority")
    return e.mutate(_rank=ibis.cases(*((e.kind == k, i) for i, k in enumerate(SAME_INSTANT_ORDER))))


def clocked_events(events: Any, end: Any, inclusive: bool, clock: Clock) -> Any:
    """:func:`events_until` with each event's clock in a column :data:`AT` (computed once per event)."""
    e = events_until(events, end, inclusive)
    return with_clocks(e, clock, {"at": e.at})


def status_events(e: Any) -> Any:
    """The status events with the status before each (``new`` before the first), resolutions and reopens."""
    s = e.filter((e.kind == "status") & e.status.isin(EVENT_STATUSES))
    s = s.mutate(_prev=s.status.lag().over(group_by=s.ticket_id, order_by=[s.at, s.event_id]).fill_null("new"))
    now, was = s.status.isin(_RESOLVED), s._prev.isin(_RESOLVED)
    return s.mutate(_resolves=now & ~was, _reopens=~now & was)


def _status_spans(e: Any, end_clock: Any) -> Any:
    """Per ticket: time in each kind of status, resolutions, reopens and the status in force (module docstring)."""
    s = status_events(e)
    s = s.mutate(_c=s[AT], _next=s[AT].lead().over(group_by=s.ticket_id, order_by=[s.at, s.event_id]))
    spent = s._next.fill_null(end_clock) - s._c

    def time_in(*statuses: str) -> Any:
        return ibis.cases((s.status.isin(statuses), spent), else_=0).sum()

    return s.group_by(_sid=s.ticket_id).aggregate(
        _first_c=s._c.min(), _in_requester=time_in(*_REQUESTER), agent_wait=time_in("pending"),
        on_hold=time_in("on_hold"), _first_res=s._c.min(where=s._resolves), _last_res=s._c.max(where=s._resolves),
        _last_res_at=s.at.max(where=s._resolves), reopens=s._reopens.cast("int64").sum(),
        first_reopened_at=s.at.min(where=s._reopens), _now=s.status.max(where=s._next.isnull()))


def reply_rounds(e: Any, resolutions: bool = False) -> Any:
    """Rounds of each ticket's conversation: customer messages after a stop, until the next stop.

    ``e``: :func:`clocked_events`. Stops are the agent public replies (and, with
    ``resolutions``, the changes to solved or closed, which stop a next-reply SLA clock).
    Round ``j >= 1`` holds the messages after stop ``j`` and stop ``j + 1``. Columns ``ticket_id``, ``_j``, ``_start`` (clock of its
    first message), ``_start_at`` (its instant), ``_stop`` (clock of stop ``j + 1``, NULL
    while running) and ``_answered`` (agent replies before it); only rounds with a message.
    """
    reply = ((e.kind == "public_reply") & (e.actor == "agent")).cast("int64")
    stream = e.filter((reply == 1) | (e.kind == "customer_message")).select(
        "ticket_id", "at", "_rank", "event_id", AT, _reply=reply, _halt=reply)
    if resolutions:
        s = status_events(e)
        s = s.filter(s._resolves).select("ticket_id", "at", "_rank", "event_id", AT, _reply=ibis.literal(0, "int64"),
                                         _halt=ibis.literal(1, "int64"))
        stream = stream.union(s)
    w = ibis.cumulative_window(group_by=stream.ticket_id, order_by=[stream.at, stream._rank, stream.event_id])
    stream = stream.mutate(_j=stream._halt.sum().over(w) - stream._halt,
                           _replied=stream._reply.sum().over(w) - stream._reply, _c=stream[AT])
    message = stream._halt == 0
    rounds = stream.group_by(["ticket_id", "_j"]).aggregate(
        _start=stream._c.min(where=message), _start_at=stream.at.min(where=message),
        _stop=stream._c.max(where=~message), _answered=stream._replied.max(where=message))
    return rounds.filter(rounds._j >= 1, rounds._start.notnull())


def _next_replies(e: Any) -> Any:
    """Per ticket with answered next replies: their count and median wait (float µs)."""
    rounds = reply_rounds(e)
    rounds = rounds.filter(rounds._stop.notnull())
    rounds = rounds.mutate(_wait=rounds._stop - rounds._start)
    rounds = rounds.mutate(_r=ibis.row_number().over(group_by=rounds.ticket_id, order_by=rounds._wait) + 1,
                           _n=rounds._wait.count().over(group_by=rounds.ticket_id))
    middle = (rounds._r >= (rounds._n + 1) // 2) & (rounds._r <= rounds._n // 2 + 1)
    return rounds.group_by(_nid=rounds.ticket_id).aggregate(
        next_reply_count=rounds.count(), next_reply_median=rounds._wait.cast("float64").mean(where=middle))


def _assignments(e: Any) -> Any:
    """The assignment events naming an agent, with ``_handoff``: the previous one named another agent."""
    named = e.filter((e.kind == "assignment") & e.agent_id.notnull())
    before = named.agent_id.lag().over(group_by=named.ticket_id, order_by=[named.at, named.event_id])
    return named.mutate(_handoff=(before.notnull() & (named.agent_id != before)).fill_null(False))


def _stations(e: Any) -> Any:
    """Per ticket with assignment events: distinct agents and teams, and handoffs (events naming no agent skipped)."""
    a = e.filter(e.kind == "assignment")
    named = _assignments(e)
    handoffs = named.group_by(_hid=named.ticket_id).aggregate(handoffs=named._handoff.cast("int64").sum())
    counts = a.group_by(_aid=a.ticket_id).aggregate(assignee_stations=a.agent_id.nunique(),
                                                     group_stations=a.team.nunique())
    return counts.left_join(handoffs, counts._aid == handoffs._hid).drop("_hid")


def lifecycle_table(tickets: Any, events: Any, as_of: Any, clock: Clock | None = None,
                    inclusive: bool = True) -> Any:
    """Per ticket, its lifecycle at ``as_of`` as an ibis table (one row per ticket with events).

    Parameters
    ----------
    tickets, events : ibis tables
        Canonical tickets (``ticket_id``, ``created_at``) and ticket_events of one connection.
    as_of : timestamp
        The instant the clocks of open tickets run to (a UTC instant, naive = UTC).
    clock : callable, optional
        ``clock(timestamp_expr) -> int64 microsecond expr``
        (:func:`slm_lib.engines.clock.engine_clock`); default calendar time.
    inclusive : bool
        Events at ``as_of`` count (the lifecycle's rule); False keeps only the events
        strictly before it (what an export taken at ``as_of`` holds, as
        :func:`slm_lib.features.customer_features` reads them). The clocks run to ``as_of``
        either way.

    Returns
    -------
    ibis table
        ``ticket_id``, ``status``, the durations of :data:`DURATIONS` (int64 µs of the clock,
        NULL when the event has not happened; ``next_reply_median`` float64 µs, NULL
        without an answered next reply), the :data:`COUNTS` (int64), ``first_reopened_at``,
        ``resolved`` and ``one_touch`` (bool), ``resolved_at`` (the last resolution while the
        ticket is solved or closed, else NULL), ``created_at``. Only tickets created by
        ``as_of`` with at least one event counted.

    Examples
    --------
    >>> from slm_lib.engines import connect
    >>> con = connect("duckdb")
    >>> at = lambda *v: pd.to_datetime(list(v), utc=True)
    >>> t = ibis.memtable(pd.DataFrame({"ticket_id": ["t1"], "created_at": at("2024-01-01 09:00")}))
    >>> e = ibis.memtable(pd.DataFrame({"event_id": ["e1", "e2"], "ticket_id": "t1", "kind": "status",
    ...     "actor": "agent", "status": ["pending", "solved"], "agent_id": None, "team": None, "priority": None,
    ...     "at": at("2024-01-01 10:00", "2024-01-01 12:30")}))
    >>> row = con.execute(lifecycle_table(t, e, pd.Timestamp("2024-01-02", tz="UTC"))).iloc[0]
    >>> float(row["requester_wait"] / 3.6e9), float(row["agent_wait"] / 3.6e9), row["status"], bool(row["one_touch"])
    (1.0, 2.5, 'solved', True)
    """
    con = ibis.get_backend(tickets)
    clock = engine_clock(None, con) if clock is None else clock
    end = instant(utc_instant(as_of))
    end_clock = clock_at(clock, con, utc_instant(as_of))
    e = clocked_events(events, end, inclusive, clock)
    base = e.group_by(_bid=e.ticket_id).aggregate(
        agent_replies=((e.kind == "public_reply") & (e.actor == "agent")).cast("int64").sum())
    tk = tickets.select("ticket_id", "created_at")
    tk = with_clocks(tk, clock, {"created_at": tk.created_at})
    base = base.join(tk, base._bid == tk.ticket_id).drop("_bid")
    base = base.filter(base.created_at.notnull(), base.created_at <= end)
    s, r, a = _status_spans(e, end_clock), _next_replies(e), _stations(e)
    j = base.left_join(s, base.ticket_id == s._sid).left_join(r, base.ticket_id == r._nid)
    j = j.left_join(a, j.ticket_id == a._aid)
    born = j[ON_CLOCK + "created_at"]
    status = j._now.fill_null("new")
    resolved = status.isin(_RESOLVED)
    zero = ibis.literal(0, type="int64")
    return j.select(
        ticket_id=j.ticket_id, status=status,
        requester_wait=j._in_requester.fill_null(zero) + j._first_c.fill_null(end_clock) - born,
        agent_wait=j.agent_wait.fill_null(zero), on_hold=j.on_hold.fill_null(zero),
        first_resolution=j._first_res - born, full_resolution=resolved.ifelse(j._last_res - born, ibis.null()),
        next_reply_median=j.next_reply_median, next_reply_count=j.next_reply_count.fill_null(zero),
        agent_replies=j.agent_replies, reopens=j.reopens.fill_null(zero), first_reopened_at=j.first_reopened_at,
        assignee_stations=j.assignee_stations.fill_null(zero), group_stations=j.group_stations.fill_null(zero),
        handoffs=j.handoffs.fill_null(zero), resolved=resolved, one_touch=resolved & (j.agent_replies <= 1),
        resolved_at=resolved.ifelse(j._last_res_at, ibis.null()), created_at=j.created_at)


def lifecycle_states(events: Any, clock: Clock) -> Any:
    """The states each ticket's lifecycle goes through, for :func:`lifecycle_table` at many instants in one join.

    A few columns of :func:`lifecycle_table` with the events strictly before an instant
    ``T`` (``inclusive=False``) only change at events: one row per ticket and interval
    ``_from < T <= _to`` (``_to`` NULL: no end) gives them for every ``T`` in it, so a
    panel of instants joins this table once instead of replaying the events per instant.
    The first interval runs from the ticket's first event to its first status event
    (status ``new``), then one per status event (in the events' order; of events at one
    instant only the last has a non-empty interval). A ticket without a row for ``T``
    has no event before it. Columns: ``ticket_id``, ``_from``, ``_to``, ``resolved``,
    ``reopened`` (resolved after a reopening), ``_wait0`` and ``_waiting`` (int64; the
    requester wait at ``T`` is ``_wait0 + _waiting * clock(T) - clock(created_at)``, in
    µs: ``_waiting`` is 1 in a requester status) and ``_handoff_at`` (the first handoff,
    NULL without one; handed off at ``T`` when before it).

    The requester wait telescopes: the time in requester statuses from the first status
    event ``0`` to ``T`` is ``sum(w[j] * (c[j+1] - c[j]))`` over the intervals before,
    plus ``w[i] * (clock(T) - c[i])`` in the last (``c`` the clocks of the status events,
    ``w`` 1 in a requester status), and the lifecycle adds ``c[0] - clock(created_at)``;
    with ``p[j] = w[j-1]`` (``p[0] = 1``: ``new`` before the first) that is ``_wait0 =
    sum over j <= i of (p[j] - w[j]) * c[j]``, one running sum (integers: exact).

    Examples
    --------
    >>> from slm_lib.engines import connect
    >>> con = connect("duckdb")
    >>> at = lambda *v: pd.to_datetime(list(v), utc=True)
    >>> e = ibis.memtable(pd.DataFrame({"event_id": ["e1", "e2"], "ticket_id": "t1", "kind": "status",
    ...     "actor": "agent", "status": ["pending", "solved"], "agent_id": None, "team": None, "priority": None,
    ...     "at": at("2024-01-01 10:00", "2024-01-01 12:30")}))
    >>> s = con.execute(lifecycle_states(e, engine_clock(None, con)).order_by("_to"))
    >>> s[["resolved", "_waiting"]].values.tolist()   # new (until 10:00), pending, solved
    [[False, 1], [False, 0], [True, 0]]
    >>> created = pd.Timestamp("2024-01-01 09:00", tz="UTC").value // 1000   # on the calendar clock (µs)
    >>> float((s["_wait0"].iloc[1] - created) / 3.6e9)   # while pending: the hour from 09:00 to 10:00
    1.0
    """
    e = events.filter(events.kind.isin(EVENT_KINDS), events.at.notnull())
    s = status_events(e)
    s = with_clocks(s, clock, {"at": s.at})
    order = [s.at, s.event_id]
    run = ibis.cumulative_window(group_by=s.ticket_id, order_by=order)
    waiting, was_waiting = (x.isin(_REQUESTER).cast("int64") for x in (s.status, s._prev))
    resolved = s.status.isin(_RESOLVED)
    spans = s.select("ticket_id", _from=s.at, _to=s.at.lead().over(group_by=s.ticket_id, order_by=order),
                     resolved=resolved, reopened=resolved & (s._reopens.cast("int64").sum().over(run) > 0),
                     _wait0=((was_waiting - waiting) * s[AT]).sum().over(run), _waiting=waiting)
    first = e.group_by(_tid=e.ticket_id).aggregate(_from=e.at.min(), _to=e.at.min(where=(e.kind == "status")
                                                                                  & e.status.isin(EVENT_STATUSES)))
    no = ibis.literal(False)
    spans = spans.union(first.select(ticket_id=first._tid, _from=first._from, _to=first._to, resolved=no, reopened=no,
                                     _wait0=ibis.literal(0, "int64"), _waiting=ibis.literal(1, "int64")))
    a = _assignments(e)
    handoffs = a.group_by(_hid=a.ticket_id).aggregate(_handoff_at=a.at.min(where=a._handoff))
    return spans.left_join(handoffs, spans.ticket_id == handoffs._hid).drop("_hid")


def engine_ticket_lifecycle(lazy: Any, calendar: Any = None, as_of: Any = None) -> pd.DataFrame:
    """:func:`slm_lib.metrics.lifecycle.ticket_lifecycle` of a :class:`~slm_lib.engines.dataset.LazyDataset`.

    Same columns and values (hours as float64, counts int64, ``first_reopened_at`` UTC);
    rows sorted by ``ticket_id`` (an engine has no table order). ``as_of`` defaults to the
    latest timestamp of the tables, ticket events included. With a ``calendar`` the hours
    are business hours (:func:`slm_lib.engines.clock.engine_clock`).

    Raises
    ------
    ConfigError
        A calendar with a local time zone on a backend other than DuckDB and Spark.
    InsufficientDataError
        The data set has no ticket_events.
    """
    from slm_lib.engines.dataset import fetch
    events = lazy.ticket_events
    if events is None or not has_rows(events):
        raise InsufficientDataError("ticket_lifecycle: the data set has no ticket_events (an optional table; "
                                    "without it only the tickets' own fields are known)")
    end = observation_end(lazy) if as_of is None else utc_instant(as_of)
    set_time_zone(lazy.con, "UTC")
    lc = lifecycle_table(lazy.tickets, events, end, engine_clock(calendar, lazy.con))
    lc = lc.select(*(c for c in lc.columns if c not in ("resolved", "resolved_at", "created_at")))
    out = fetch(lazy.con, lc.order_by("ticket_id"))
    for name, column in DURATIONS.items():
        out[column] = out.pop(name).to_numpy(dtype=np.float64, na_value=np.nan) / US_PER_HOUR
    out["first_reopened_at"] = pd.to_datetime(out["first_reopened_at"], utc=True)
    out["one_touch"] = out["one_touch"].astype(bool)
    out = out[list(LIFECYCLE_COLUMNS)].reset_index(drop=True)
    return out.astype({"ticket_id": "str", "status": "str", "first_reopened_at": TS, **dict.fromkeys(COUNTS, "int64")})


def has_rows(table: Any) -> bool:
    """Whether an ibis table holds at least one row (reads at most one)."""
    return len(table.limit(1).execute()) > 0
