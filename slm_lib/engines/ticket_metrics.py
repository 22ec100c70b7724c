"""The ticket rows of metric_table on an engine: counts, moments, exact quantiles, SLA and repeat contacts (SPEC §4).

Per group the engine computes counts of tickets and flags, the :func:`~slm_lib.engines.aggregates.moments`
of replies and durations, and their order statistics
(:func:`~slm_lib.engines.aggregates.order_quantiles`). Durations are exact integer
microseconds between the :func:`~slm_lib.engines.clock.with_clocks` columns of the tickets'
timestamps (calendar time, or the business time of a ``calendar``), scaled to hours after
selection; SLA clocks are judged on the same clock (:func:`slm_lib.engines.sla.sla_flags`).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis
import numpy as np
import pandas as pd

from slm_lib.engines.aggregates import grouped, mean_result, moments, order_quantiles, value_sums
from slm_lib.engines.clock import ON_CLOCK, Clock
from slm_lib.engines.sla import sla_flags
from slm_lib.engines.timestamps import US_PER_HOUR, instant
from slm_lib.metrics.sla import SLA_EVENTS
from slm_lib.metrics.table import Result
from slm_lib.stats import poisson_interval, share_from_counts


def sla_counts(t: Any, sla: Any, as_of: pd.Timestamp | None, priority: Any = None) -> dict[str, Any]:
    """Achieved and breached counts per target of :data:`SLA_EVENTS` (:func:`sla_flags` on the clock at ``as_of``)."""
    if as_of is None:  # no timestamp at all: nothing is judged
        return {f"_{k}_{name}": ibis.literal(0) for name in SLA_EVENTS for k in "ab"}
    out: dict[str, Any] = {}
    for name, (achieved, breached) in sla_flags(t, sla, as_of, priority=priority).items():
        out[f"_a_{name}"], out[f"_b_{name}"] = achieved.cast("int64").sum(), breached.cast("int64").sum()
    return out


def repeat_counts(t: Any, tickets: Any, as_of: pd.Timestamp | None, days: float | None,
                  epoch: Clock, solved: str = "resolved_at") -> dict[str, Any]:
    """Counted and repeated solved tickets as :func:`slm_lib.metrics.contacts.repeat_flags` judges them.

    A solved ticket (resolved by ``as_of``) is counted when its ``days`` window ended by
    ``as_of`` and it has a customer; it is a repeat when the customer's first ticket created
    (by ``as_of``) strictly after the solve came at most ``days`` after it. ``tickets`` is
    the whole table, so the next contact may fall in any period.

    Found with equi-joins and running counts only, which every engine runs in about one
    sort (an inequality join on customer and time took DuckDB 7x longer than the rest of
    the table at 10M tickets): the customer's creations and solves in one time order,
    creations before solves at the same instant (not "after" the solve); a solve preceded
    by ``k`` creations has as next contact the creation of rank ``k`` (0-based). ``solved``:
    the column of the solve instant (with ticket events :func:`slm_lib.engines.event_metrics.solved_at`).
    The gap is measured on the ``epoch`` clock (Spark's DATEDIFF counts wall-clock time of
    the session zone, an hour off across a DST change).
    """
    if days is None or as_of is None:
        return {}
    window_us = int(round(days * US_PER_HOUR * 24))
    now, cutoff = instant(as_of), instant(as_of - pd.Timedelta(microseconds=window_us))
    at = t[solved]
    counted = at.notnull() & (at <= now) & (t.created_at <= now) & (at <= cutoff) & t.customer_id.notnull()
    known = tickets.filter(tickets.customer_id.notnull() & (tickets.created_at <= now))
    creations = known.select(_c=known.customer_id, _at=known.created_at, _kind=ibis.literal(0), _id=known.ticket_id)
    done = known.filter(known[solved].notnull() & (known[solved] <= now))
    solves = done.select(_c=done.customer_id, _at=done[solved], _kind=ibis.literal(1), _id=done.ticket_id)
    both = creations.union(solves)
    before = (both._kind == 0).cast("int64").sum().over(ibis.cumulative_window(group_by="_c",
                                                                                order_by=["_at", "_kind", "_id"]))
    asked = both.mutate(_k=before).filter(lambda r: r._kind == 1)
    ranked = creations.mutate(_r=ibis.row_number().over(group_by="_c", order_by=["_at", "_id"]))
    nxt = asked.join(ranked, [asked._c == ranked._c, asked._k == ranked._r], lname="", rname="{name}_next")
    hits = nxt.filter(epoch(nxt._at_next) - epoch(nxt._at) <= window_us).select(ticket_id=nxt._id)
    repeat = t.ticket_id.isin(hits.ticket_id)
    return {"_rc_n": counted.cast("int64").sum(), "_rc_r": (counted & repeat).cast("int64").sum()}


def ticket_side(con: Any, t: Any, keys: list[str], sla: Any, as_of: pd.Timestamp | None,
                repeat: Mapping[str, Any], priority: Any = None) -> tuple[pd.DataFrame, Result]:
    """The groups of ``t`` (its ``keys``) and their ticket rows: metric -> (n, value, ci_low, ci_high).

    ``t``: the keyed tickets with the :func:`~slm_lib.engines.clock.with_clocks` columns of
    ``created_at``, the SLA events and ``as_of``; ``repeat``: :func:`repeat_counts`;
    ``priority``: the priority whose SLA targets apply (default the tickets' own).
    """
    resolved = t.resolved_at.notnull()
    raws = {p: t[ON_CLOCK + c] - t[ON_CLOCK + "created_at"] for p, c in (("frt", "first_response_at"),
                                                                            ("resolution", "resolved_at"))}
    values = {"replies": resolved.ifelse(t.replies.cast("float64"), ibis.null())}
    values.update({p: raw.cast("float64") / US_PER_HOUR for p, raw in raws.items()})
    counts = grouped(t, keys).aggregate(
        _n=t.count(), _resolved=resolved.cast("int64").sum(),
        _fcr=(resolved & (t.replies <= 1) & (t.reopens == 0)).cast("int64").sum(),
        _reopened=(resolved & (t.reopens > 0)).cast("int64").sum(), **sla_counts(t, sla, as_of, priority),
        **repeat, **value_sums(values)).execute()
    groups = counts[keys].copy() if keys else pd.DataFrame(index=range(len(counts)))
    n, res = counts["_n"].to_numpy(dtype=np.int64), counts["_resolved"].to_numpy(dtype=np.int64)
    out: Result = {"tickets": (n, n.astype(np.float64), *poisson_interval(n)),
                   "resolution_rate": (n, *share_from_counts(res, n)),
                   "fcr": (res, *share_from_counts(counts["_fcr"], res)),
                   "reopen_rate": (res, *share_from_counts(counts["_reopened"], res))}
    if "_rc_n" in counts:
        counted = counts["_rc_n"].to_numpy(dtype=np.int64)
        out["repeat_contact_rate"] = (counted, *share_from_counts(counts["_rc_r"], counted))
    sums = moments(t, values, keys, counts)
    out["replies_per_ticket"] = mean_result(sums["replies"])
    for prefix, raw in raws.items():
        out[f"{prefix}_mean"] = mean_result(sums[prefix])
        k = sums[prefix]["n"].to_numpy(dtype=np.int64)
        qs = order_quantiles(con, t, raw, keys, groups, k)
        out[f"{prefix}_median"], out[f"{prefix}_p90"] = (k, *qs[0.5]), (k, *qs[0.9])
    for name in SLA_EVENTS:
        if f"_a_{name}" in counts:
            achieved, judged = counts[f"_a_{name}"], counts[f"_a_{name}"] + counts[f"_b_{name}"]
            out[f"sla_{name}"] = (judged.to_numpy(dtype=np.int64), *share_from_counts(achieved, judged))
    return groups, out
