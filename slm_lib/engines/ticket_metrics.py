"""The ticket rows of metric_table on an engine: counts, moments, exact quantiles, SLA and repeat contacts (SPEC §4).

Per group the engine computes counts of tickets and flags (one query), the repeat contacts
(:func:`repeat_table`, one query), and the central moments of replies and durations with the
durations' order statistics (:func:`~slm_lib.engines.aggregates.quantiles_and_moments`, one
query). Durations are exact integer microseconds between the
:func:`~slm_lib.engines.clock.with_clocks` columns of the tickets' timestamps (calendar
time, or the business time of a ``calendar``), scaled to hours after selection; SLA clocks
are judged on the same clock (:func:`slm_lib.engines.sla.sla_flags`).
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis
import numpy as np
import pandas as pd

from slm_lib.engines.aggregates import (
    grouped,
    mean_result,
    merged,
    quantiles_and_moments,
    value_sums,
)
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


def _window_us(days: float) -> int:
    """The repeat-contact window of ``days`` in whole microseconds."""
    return int(round(days * US_PER_HOUR * 24))


def _counted(t: Any, as_of: pd.Timestamp, days: float, solved: str) -> Any:
    """Whether a ticket of ``t`` counts for the repeat-contact rate: solved, window ended by ``as_of``, a customer."""
    at, now = t[solved], instant(as_of)
    cutoff = instant(as_of - pd.Timedelta(microseconds=_window_us(days)))
    return at.notnull() & (at <= now) & (t.created_at <= now) & (at <= cutoff) & t.customer_id.notnull()


def repeat_solves(t: Any, tickets: Any, as_of: pd.Timestamp | None, days: float | None, epoch: Clock,
                  solved: str = "resolved_at", carry: Sequence[str] = ()) -> Any:
    """The counted solved tickets of ``t`` with ``_repeat``, as :func:`slm_lib.metrics.contacts.repeat_flags` sets it.

    A solved ticket (resolved by ``as_of``) is counted when its ``days`` window ended by
    ``as_of`` and it has a customer; it is a repeat when the customer's first ticket created
    (by ``as_of``) strictly after the solve came at most ``days`` after it. ``tickets`` is
    the whole table, so the next contact may fall in any period. One row per counted row of
    ``t`` with its columns ``carry`` (e.g. the group keys); None when nothing is judged
    (``days`` or ``as_of`` None).

    On DuckDB an ASOF join finds each solve's next creation directly; elsewhere one running
    minimum, which every engine runs in about one sort (an inequality join on customer and
    time took DuckDB 7x longer than the rest of the table at 10M tickets; the ASOF join
    takes a quarter less CPU than the running minimum at 1M): the customer's creations and
    the counted solves in reverse time order, solves before creations at the same instant
    (a creation then is not "after" the solve), the next contact of a solve the least
    creation time seen so far. ``solved``: the column of the solve instant (with ticket
    events :func:`slm_lib.engines.event_metrics.solved_at`). Times are on the ``epoch``
    clock (Spark's DATEDIFF counts wall-clock time of the session zone, an hour off across a
    DST change).
    """
    if days is None or as_of is None:
        return None
    window_us, now = _window_us(days), instant(as_of)
    counted = t.filter(_counted(t, as_of, days, solved))
    solves = counted.select(*carry, _c=counted.customer_id, _at=epoch(counted[solved]))
    known = tickets.filter(tickets.customer_id.notnull() & (tickets.created_at <= now))
    creations = known.select(_c=known.customer_id, _at=epoch(known.created_at))
    if ibis.get_backend(tickets).name == "duckdb":
        j = solves.asof_join(creations, solves._at < creations._at, predicates=[solves._c == creations._c])
        nxt = j.select(*carry, _at=j._at, _next=j._at_right)
    else:
        both = solves.mutate(_kind=ibis.literal(1)).union(
            creations.select(**{c: ibis.null(t[c].type()) for c in carry}, _c=creations._c, _at=creations._at,
                             _kind=ibis.literal(0)))
        later = ibis.cumulative_window(group_by="_c", order_by=[ibis.desc("_at"), ibis.desc("_kind")])
        both = both.mutate(_next=(both._kind == 0).ifelse(both._at, ibis.null("int64")).min().over(later))
        nxt = both.filter(both._kind == 1)
    return nxt.select(*carry, _repeat=(nxt._next - nxt._at <= window_us).fill_null(False))


def repeat_counts(t: Any, tickets: Any, as_of: pd.Timestamp | None, days: float | None,
                  epoch: Clock, solved: str = "resolved_at") -> dict[str, Any]:
    """Aggregates ``_rc_n`` and ``_rc_r`` over ``t``: its counted and repeated tickets (:func:`repeat_solves`).

    For a query that aggregates ``t`` with other counts; :func:`repeat_table` is cheaper
    (no lookup of the ticket ids).
    """
    solves = repeat_solves(t, tickets, as_of, days, epoch, solved, ["ticket_id"])
    if solves is None:
        return {}
    counted = _counted(t, as_of, days, solved)
    repeat = counted & t.ticket_id.isin(solves.filter(solves._repeat).ticket_id)
    return {"_rc_n": counted.cast("int64").sum(), "_rc_r": repeat.cast("int64").sum()}


def repeat_table(t: Any, tickets: Any, as_of: pd.Timestamp | None, days: float | None, epoch: Clock,
                 keys: list[str], solved: str = "resolved_at") -> Any:
    """Per group of ``t`` (its ``keys``): ``_rc_n`` counted and ``_rc_r`` repeated tickets (:func:`repeat_solves`)."""
    solves = repeat_solves(t, tickets, as_of, days, epoch, solved, keys)
    if solves is None:
        return None
    return grouped(solves, keys).aggregate(_rc_n=solves.count(), _rc_r=solves._repeat.cast("int64").sum())


def _hours(us: Any) -> Any:
    """Integer microseconds as float hours."""
    return us.cast("float64") / US_PER_HOUR


def ticket_side(con: Any, t: Any, keys: list[str], sla: Any, as_of: pd.Timestamp | None,
                repeat: Any, priority: Any = None) -> tuple[pd.DataFrame, Result]:
    """The groups of ``t`` (its ``keys``) and their ticket rows: metric -> (n, value, ci_low, ci_high).

    ``t``: the keyed tickets with the :func:`~slm_lib.engines.clock.with_clocks` columns of
    ``created_at``, the SLA events and ``as_of``; ``repeat``: :func:`repeat_table` (or None);
    ``priority``: the priority whose SLA targets apply (default the tickets' own).
    """
    resolved = t.resolved_at.notnull()
    raws = {p: t[ON_CLOCK + c] - t[ON_CLOCK + "created_at"] for p, c in (("frt", "first_response_at"),
                                                                            ("resolution", "resolved_at"))}
    values = {"replies": resolved.ifelse(t.replies.cast("float64"), ibis.null())}
    values.update({p: _hours(raw) for p, raw in raws.items()})
    counts = grouped(t, keys).aggregate(
        _n=t.count(), _resolved=resolved.cast("int64").sum(),
        _fcr=(resolved & (t.replies <= 1) & (t.reopens == 0)).cast("int64").sum(),
        _reopened=(resolved & (t.reopens > 0)).cast("int64").sum(), **sla_counts(t, sla, as_of, priority),
        **value_sums(values)).execute()
    groups = counts[keys].copy() if keys else pd.DataFrame(index=range(len(counts)))
    n, res = counts["_n"].to_numpy(dtype=np.int64), counts["_resolved"].to_numpy(dtype=np.int64)
    out: Result = {"tickets": (n, n.astype(np.float64), *poisson_interval(n)),
                   "resolution_rate": (n, *share_from_counts(res, n)),
                   "fcr": (res, *share_from_counts(counts["_fcr"], res)),
                   "reopen_rate": (res, *share_from_counts(counts["_reopened"], res))}
    if repeat is not None:
        rc = merged(counts, repeat.execute(), keys)
        counted = rc["_rc_n"].to_numpy(dtype=np.int64)
        out["repeat_contact_rate"] = (counted, *share_from_counts(rc["_rc_r"].to_numpy(dtype=np.int64), counted))
    sums, qs = quantiles_and_moments(t, keys, counts, {**values, **{p: _hours for p in raws}}, raws)  # one query
    out["replies_per_ticket"] = mean_result(sums["replies"])
    for prefix in raws:
        k = sums[prefix]["n"].to_numpy(dtype=np.int64)
        out[f"{prefix}_mean"] = mean_result(sums[prefix])
        out[f"{prefix}_median"], out[f"{prefix}_p90"] = (k, *qs[prefix][0.5]), (k, *qs[prefix][0.9])
    for name in SLA_EVENTS:
        if f"_a_{name}" in counts:
            achieved, judged = counts[f"_a_{name}"], counts[f"_a_{name}"] + counts[f"_b_{name}"]
            out[f"sla_{name}"] = (judged.to_numpy(dtype=np.int64), *share_from_counts(achieved, judged))
    return groups, out
