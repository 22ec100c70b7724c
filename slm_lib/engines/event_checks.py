"""Tickets against their ticket_events on an engine: :mod:`slm_lib.events` as ibis expressions (SPEC §3).

:func:`implied_fields` gives, per ticket with events, the fields its events imply
(:func:`slm_lib.events.implied_fields`): the first agent public reply, the last resolution
while the ticket is solved or closed, the agent replies and the reopens, optionally as an
export taken at a cut would hold them. It serves validation (:func:`event_records`, the
``flagged`` and ``info`` rows of :func:`slm_lib.io.load.load_data`) and the cut of
:func:`slm_lib.engines.cut.until` alike.

What runs on the engine: one aggregate of the events per ticket, one of the status events
(their previous status by ``LAG``, the latest by ``LEAD``, in the order of
:func:`slm_lib.engines.lifecycle.status_events`: time, then ``event_id``), one join to the
tickets and one aggregate counting the disagreements per field. Only for a field that
disagrees (or tickets without events) are the first five rows and three ids fetched
(``ORDER BY row LIMIT``). The pandas engine breaks a tie of two status events at one
instant by table order, the engine by ``event_id``: the two agree when event ids follow the
table order (as ``slm generate`` writes them). Timestamps are compared in microseconds
(pandas: nanoseconds); they agree when less than a second apart.
"""
from __future__ import annotations

from typing import Any

import ibis

from slm_lib.engines.clock import Clock, engine_clock
from slm_lib.engines.lifecycle import status_events
from slm_lib.errors import Problem
from slm_lib.events import CHECKED_FIELDS, disagreement_rule
from slm_lib.io.problems import events_unchecked, quality_record
from slm_lib.schema import EVENT_KINDS

_RESOLVED = ("solved", "closed")
_US_PER_SECOND = 1_000_000
#: Example rows per quality record and example ticket ids per rule text (as pandas).
_ROWS, _IDS = 5, 3


def _count(flag: Any) -> Any:
    return flag.fill_null(False).cast("int64").sum()


def implied_fields(events: Any, before: Any = None) -> Any:
    """Per ticket with events, the ticket fields its events imply (:func:`slm_lib.events.implied_fields`).

    Parameters
    ----------
    events : ibis table
        Canonical ticket_events (events without a time or of an unknown kind are ignored).
    before : ibis timestamp expression, optional
        Only the events strictly before it count (what an export taken then would hold).

    Returns
    -------
    ibis table
        One row per ticket with at least one event (at any time): ``ticket_id``,
        ``first_response_at``, ``resolved_at`` (NULL when none), ``replies`` and ``reopens``
        (int64); with ``before``, also ``later_replies`` and ``later_reopens``, those of the
        events at or after it.

    Examples
    --------
    >>> import pandas as pd
    >>> from slm_lib.engines import connect
    >>> at = lambda *v: pd.to_datetime(list(v), utc=True)
    >>> e = ibis.memtable(pd.DataFrame({"event_id": ["e1", "e2", "e3"], "ticket_id": "t1",
    ...     "kind": ["public_reply", "status", "status"], "actor": "agent", "status": [None, "solved", "open"],
    ...     "at": at("2024-01-01 09:00", "2024-01-01 10:00", "2024-01-02 09:00")}))
    >>> row = connect("duckdb").execute(implied_fields(e)).iloc[0]
    >>> int(row["replies"]), int(row["reopens"]), row["resolved_at"] is None or pd.isna(row["resolved_at"])
    (1, 1, True)
    """
    e = events.filter(events.at.notnull(), events.kind.isin(EVENT_KINDS))

    def seen(t: Any) -> Any:
        return ibis.literal(True) if before is None else t.at < before

    reply = ((e.kind == "public_reply") & (e.actor == "agent")).fill_null(False)
    per_event = {"replies": _count(reply & seen(e)), "first_response_at": e.at.min(where=reply & seen(e))}
    s = status_events(e)
    next_at = s.at.lead().over(group_by=s.ticket_id, order_by=[s.at, s.event_id])
    s = s.mutate(_latest=seen(s) & (next_at.isnull() if before is None else ~(next_at < before).fill_null(False)))
    per_status = {"reopens": _count(s._reopens & seen(s)), "_res": s.at.max(where=s._resolves & seen(s)),
                  "_status": s.status.max(where=s._latest)}
    if before is not None:
        per_event["later_replies"] = _count(reply & ~seen(e))
        per_status["later_reopens"] = _count(s._reopens & ~seen(s))
    base = e.group_by(_tid=e.ticket_id).aggregate(**per_event)
    states = s.group_by(_sid=s.ticket_id).aggregate(**per_status)
    j = base.left_join(states, base._tid == states._sid)
    zero = ibis.literal(0, "int64")
    resolved = j._status.isin(_RESOLVED).fill_null(False)
    later = {c: j[c].fill_null(zero) for c in ("later_replies", "later_reopens") if c in j.columns}
    return j.select(ticket_id=j._tid, first_response_at=j.first_response_at,
                    resolved_at=resolved.ifelse(j._res, ibis.null(j._res.type())), replies=j.replies,
                    reopens=j.reopens.fill_null(zero), **later)


def _differs(t: Any, column: str, clock: Clock) -> Any:
    """Whether a ticket's ``column`` disagrees with the implied ``_ev_<column>``.

    Timestamps disagree when one is missing or they are a second or more apart on ``clock``.
    """
    mine, theirs = t[column], t[f"_ev_{column}"]
    if column.endswith("_at"):
        apart = (clock(mine) - clock(theirs)).abs() >= _US_PER_SECOND
        return (mine.isnull() != theirs.isnull()) | apart.fill_null(False)
    return (mine != theirs).fill_null(False)


def event_records(con: Any, tickets: Any, events: Any, file: str) -> list[dict]:
    """The quality records of pandas' comparison of tickets with their events (:mod:`slm_lib.io.load`).

    Parameters
    ----------
    con : ibis backend
        The connection of the tables.
    tickets : ibis table
        The validated tickets with ``_row``, their reading order.
    events : ibis table
        The validated ticket_events.
    file : str
        The name the tickets are reported under.

    Returns
    -------
    list of dict
        One ``flagged`` record per field of :data:`slm_lib.events.CHECKED_FIELDS` that
        disagrees on some tickets, then one ``info`` record of the tickets without events;
        example rows are 1-based positions among the validated tickets in reading order.
    """
    clock = engine_clock(None, con)
    implied = implied_fields(events)
    implied = implied.select(_eid=implied.ticket_id, **{f"_ev_{c}": implied[c] for c in CHECKED_FIELDS})

    def joined(t: Any) -> Any:
        return t.left_join(implied, t.ticket_id == implied._eid)

    tests = {c: (lambda c: lambda t: t._eid.notnull() & _differs(t, c, clock))(c) for c in CHECKED_FIELDS}
    tests["*"] = lambda t: t._eid.isnull()
    j = joined(tickets)
    counts = j.aggregate(**{f"_n{i}": _count(test(j)) for i, test in enumerate(tests.values())}).execute().iloc[0]
    found = {c: int(counts[f"_n{i}"]) for i, c in enumerate(tests) if counts[f"_n{i}"]}
    if not found:
        return []
    numbered = joined(tickets.mutate(_pos=ibis.row_number().over(order_by=tickets._row) + 1))
    records = []
    for column, n in found.items():
        got = numbered.filter(tests[column](numbered)).order_by("_pos").limit(_ROWS).select("_pos", "ticket_id")
        got = got.execute()
        rows = tuple(int(r) for r in got["_pos"])
        if column == "*":
            records.append(events_unchecked(file, n, rows))
        else:
            rule = disagreement_rule(column, n, got["ticket_id"].tolist()[:_IDS])
            records.append(quality_record(Problem(file, column, rule, n, rows, "tickets"), "flagged"))
    return records
