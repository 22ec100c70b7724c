"""The metric_table rows from ticket events on an engine (:mod:`slm_lib.metrics.lifecycle_table`).

From one :func:`slm_lib.engines.lifecycle.lifecycle_table` at the table's ``as_of``, joined to
the tickets by ``ticket_id`` (NULL for a ticket without events):

* the medians of ``requester_wait``, ``agent_wait``, ``on_hold``, ``full_resolution`` (solved
  tickets) and ``next_reply_median`` (tickets with an answered next reply), exact order
  statistics selected by rank (:func:`slm_lib.engines.aggregates.order_quantiles`);
* ``one_touch_rate``, ``handoff_rate`` and ``reopen_rate`` (events for tickets that have
  some, the tickets' own fields otherwise) from counts;
* the SLA clocks timed by events (:mod:`slm_lib.metrics.sla_events`): ``requester_wait``
  and ``agent_work`` one per ticket, ``next_reply`` one per conversation round
  (:func:`slm_lib.engines.lifecycle.reply_rounds` with resolutions as stops), each judged
  against the target of the priority in force when it started (:func:`priority_events`);
  the ticket-field targets (first response, resolution) then take the priority in force
  at creation, as on the pandas engine.

Durations and SLA clocks are on the clock the lifecycle is computed with (calendar time, or
the business time of a calendar: :func:`event_tables`). Every value goes through the same
:mod:`slm_lib.stats` functions as the pandas engine.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import ibis
import numpy as np
import pandas as pd

from slm_lib.engines.aggregates import grouped, merged, order_quantiles
from slm_lib.engines.clock import Clock, clock_at
from slm_lib.engines.lifecycle import clocked_events, events_until, lifecycle_table, reply_rounds
from slm_lib.engines.sla import target_limit
from slm_lib.engines.timestamps import instant
from slm_lib.metrics.lifecycle_table import LIFECYCLE_MEDIANS
from slm_lib.metrics.sla import validate_targets
from slm_lib.metrics.sla_events import EVENT_TARGETS
from slm_lib.schema import DEFAULT_PRIORITY
from slm_lib.stats import share_from_counts

Result = dict[str, tuple[np.ndarray, ...]]
#: Lifecycle columns the event rows read, joined to the tickets as ``_lc_<name>``.
_LC = ("resolved", "one_touch", "handoffs", "reopens", "next_reply_count", "resolved_at", "priority_created",
       "priority_first", *LIFECYCLE_MEDIANS.values())


@dataclass(frozen=True)
class EventTables:
    """The engine tables behind the event rows of one metric table (ibis expressions, nothing computed).

    Attributes
    ----------
    lifecycle : ibis table
        :func:`slm_lib.engines.lifecycle.lifecycle_table` at ``as_of`` with each ticket's
        ``priority_created`` and ``priority_first`` (:func:`ticket_priorities`).
    priorities : ibis table
        :func:`priority_events` (``_pt``, ``_pat``, ``_v``, ``_rn``).
    rounds : ibis table
        :func:`slm_lib.engines.lifecycle.reply_rounds` with resolutions as stops.
    end_clock : ibis expression
        The clock at ``as_of``.
    """

    lifecycle: Any
    priorities: Any
    rounds: Any
    end_clock: Any


def priority_events(tickets: Any, events: Any, end: Any) -> Any:
    """The priority events up to ``end`` with their value (missing: ``normal``) and rank ``_rn`` in the ticket."""
    p = events_until(events, end, True)
    p = p.filter(p.kind == "priority")
    tk = tickets.select(_tid=tickets.ticket_id, _created=tickets.created_at)
    p = p.join(tk, p.ticket_id == tk._tid).drop("_tid")
    return p.mutate(_v=p.priority.fill_null(DEFAULT_PRIORITY),
                    _rn=ibis.row_number().over(group_by=p.ticket_id, order_by=[p.at, p.event_id]))


def ticket_priorities(p: Any) -> Any:
    """Per ticket with priority events: the priority in force at creation and the first event's value.

    At creation: the last priority event at or before ``created_at``, else the first
    event's value (it stands for the priority the ticket was created with).
    """
    first = p._v.argmin(p._rn)
    return p.group_by(_pid=p.ticket_id).aggregate(
        priority_created=ibis.coalesce(p._v.argmax(p._rn, where=p.at <= p._created), first), priority_first=first)


def event_tables(tickets: Any, events: Any, as_of: pd.Timestamp, clock: Clock) -> EventTables:
    """The :class:`EventTables` of ``tickets`` and ``events`` at ``as_of`` on ``clock`` (calendar or business time)."""
    end = instant(as_of)
    p = priority_events(tickets, events, end)
    own = ticket_priorities(p)
    lc = lifecycle_table(tickets, events, as_of, clock)
    lc = lc.left_join(own, lc.ticket_id == own._pid).drop("_pid")
    rounds = reply_rounds(clocked_events(events, end, True, clock), resolutions=True)
    return EventTables(lifecycle=lc, priorities=p.select(_pt=p.ticket_id, _pat=p.at, _v=p._v, _rn=p._rn),
                       rounds=rounds, end_clock=clock_at(clock, ibis.get_backend(tickets), as_of))


def with_lifecycle(t: Any, lc: Any) -> Any:
    """``t`` with the lifecycle columns ``_lc_<name>`` and ``_has_lc`` (NULL / False without a lifecycle row)."""
    right = lc.select(_k=lc.ticket_id, **{f"_lc_{c}": lc[c] for c in _LC})
    t = t.left_join(right, t.ticket_id == right._k).drop("_k")
    return t.mutate(_has_lc=t._lc_resolved.notnull())


def sla_priority(t: Any) -> Any:
    """The priority whose SLA targets apply to a ticket's creation clocks (its own without priority events)."""
    return ibis.coalesce(t._lc_priority_created, t.priority)


def solved_at(t: Any) -> Any:
    """When a ticket counts as solved at ``as_of``: the events' last resolution in force, else its ``resolved_at``.

    As :func:`slm_lib.metrics.contacts.solved_instants`, except for a ticket whose events
    precede a ``created_at`` after ``as_of`` (or a missing one): pandas reads its events,
    the engine (which has lifecycles only of tickets created by ``as_of``) its own fields.
    """
    return t._has_lc.ifelse(t._lc_resolved_at, t.resolved_at)


def _count(mask: Any) -> Any:
    return mask.cast("int64").sum()


def event_group_metrics(con: Any, t: Any, keys: list[str], groups: pd.DataFrame, ev: EventTables,
                        sla: Mapping[str, Mapping[str, float]] | None) -> Result:
    """The event rows per group row of ``groups`` (module docstring): metric -> (n, value, ci_low, ci_high).

    ``t``: the keyed tickets :func:`with_lifecycle` of ``ev.lifecycle``; ``sla``: the targets.
    """
    targets = {k: v for k, v in validate_targets(sla).items() if k in EVENT_TARGETS}
    has = t._has_lc
    solved = t._lc_resolved.fill_null(False)
    resolved = has.ifelse(t._lc_resolved, t.resolved_at.notnull())
    reopened = resolved & has.ifelse(t._lc_reopens > 0, t.reopens > 0)
    raws = {m: (t._lc_next_reply_count > 0 if name == "next_reply_median" else solved).ifelse(
        t[f"_lc_{name}"], ibis.null()) for m, name in LIFECYCLE_MEDIANS.items()}
    clocks = {}
    for target in ("requester_wait", "agent_work"):
        if target in targets:
            limit = target_limit(sla_priority(t), targets[target])
            elapsed = t._lc_requester_wait - (t._lc_on_hold if target == "agent_work" else 0)
            judged = has & limit.notnull()
            breached = judged & (elapsed > limit)
            clocks[f"_a_{target}"], clocks[f"_b_{target}"] = _count(judged & ~breached & solved), _count(breached)
    agg = grouped(t, keys).aggregate(
        _solved=_count(solved), _one=_count(solved & t._lc_one_touch), _hand=_count(solved & (t._lc_handoffs > 0)),
        _res=_count(resolved), _reo=_count(reopened), **{f"_k_{m}": raw.count() for m, raw in raws.items()},
        **clocks).execute()
    counts = merged(groups, agg, keys)
    if "next_reply" in targets:
        counts = pd.concat([counts, _next_reply_counts(t, keys, groups, ev, targets["next_reply"])], axis=1)
    out: Result = {}
    for target in EVENT_TARGETS:
        if f"_a_{target}" in counts:
            achieved = counts[f"_a_{target}"].to_numpy(dtype=np.int64)
            n = achieved + counts[f"_b_{target}"].to_numpy(dtype=np.int64)
            out[f"sla_{target}"] = (n, *share_from_counts(achieved, n))
    for metric, raw in raws.items():
        k = counts[f"_k_{metric}"].to_numpy(dtype=np.int64)
        out[metric] = (k, *order_quantiles(con, t, raw, keys, groups, k, (0.5,))[0.5])
    solved_n = counts["_solved"].to_numpy(dtype=np.int64)
    out["one_touch_rate"] = (solved_n, *share_from_counts(counts["_one"], solved_n))
    out["handoff_rate"] = (solved_n, *share_from_counts(counts["_hand"], solved_n))
    res = counts["_res"].to_numpy(dtype=np.int64)
    out["reopen_rate"] = (res, *share_from_counts(counts["_reo"], res))
    return out


def _next_reply_counts(t: Any, keys: list[str], groups: pd.DataFrame, ev: EventTables,
                       per_priority: Mapping[str, float]) -> pd.DataFrame:
    """Achieved and breached next-reply clocks per group row, each judged by the priority in force at its start."""
    r, p = ev.rounds, ev.priorities
    r = r.filter(r._answered >= 1)
    c = r.left_join(p, [r.ticket_id == p._pt, p._pat <= r._start_at])
    c = c.group_by(["ticket_id", "_j", "_start", "_stop"]).aggregate(_p=c._v.argmax(c._rn))
    ticket = t.select(_tk=t.ticket_id, _first=t._lc_priority_first, _own=t.priority, **{k: t[k] for k in keys})
    c = c.join(ticket, c.ticket_id == ticket._tk)
    elapsed = c._stop.fill_null(ev.end_clock) - c._start
    limit = target_limit(ibis.coalesce(c._p, c._first, c._own), per_priority)
    judged = limit.notnull()
    breached = judged & (elapsed > limit)
    agg = grouped(c, keys).aggregate(_a_next_reply=_count(judged & ~breached & c._stop.notnull()),
                                      _b_next_reply=_count(breached)).execute()
    return merged(groups, agg, keys)
