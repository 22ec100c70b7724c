"""SLA clocks on an engine: per ticket and target, achieved or breached, as the pandas engine judges them (SPEC §4).

Times are integer microseconds on a clock of :mod:`slm_lib.engines.clock` (calendar time,
or the business time of a calendar through :func:`~slm_lib.engines.clock.with_clocks`
columns), compared with the longest whole-microsecond time within each target
(:func:`target_limit`).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import ibis
import numpy as np

from slm_lib.engines.clock import ON_CLOCK, Clock, with_clocks
from slm_lib.engines.timestamps import instant
from slm_lib.metrics.sla import PRIORITIES, SLA_EVENTS, last_ns_within, validate_targets


def target_limit(priority: Any, per_priority: Mapping[str, float], shift: int = 0) -> Any:
    """The longest whole-microsecond time within the SLA target of ``priority`` (int64; NULL: no target).

    ``(last_ns_within(hours) + shift) // 1000``: integer microseconds ``x`` are within the
    target exactly when ``1000 * x`` nanoseconds are (:func:`slm_lib.metrics.sla.last_ns_within`);
    ``shift=1`` for a clock judged 1 ns before its end (:func:`sla_flags`).
    """
    limits = [(priority == p, (last_ns_within(per_priority[p]) + shift) // 1000) for p in PRIORITIES
              if p in per_priority and np.isfinite(per_priority[p])]
    return ibis.cases(*limits, else_=ibis.null("int64")) if limits else ibis.null("int64")


def with_sla_clocks(t: Any, clock: Clock, as_of: Any, events: Sequence[str] = tuple(SLA_EVENTS.values())) -> Any:
    """``t`` with the clock columns :func:`sla_flags` reads (:func:`~slm_lib.engines.clock.with_clocks`).

    The clocks of ``created_at``, of the stop columns ``events`` and of ``as_of`` (an instant,
    or a timestamp column of ``t``; None: no clock at ``as_of``, nothing is judged).
    """
    stamps = {c: t[c] for c in ("created_at", *events)}
    if as_of is not None:
        stamps["as_of"] = as_of if isinstance(as_of, ibis.Expr) else instant(as_of)
    return with_clocks(t, clock, stamps)


def sla_flags(t: Any, sla: Any, as_of: Any, before: bool = False,
              priority: Any = None) -> dict[str, tuple[Any, Any]]:
    """Per ticket and target of :data:`SLA_EVENTS`: (achieved, breached) as :func:`sla_status_codes` judges them.

    ``t``: tickets with the clock columns of :func:`with_sla_clocks` at the same ``as_of``
    (calendar time, or the business time of a calendar). Judged at ``as_of`` (an instant,
    or a timestamp column of ``t``: one instant per row), or with ``before=True`` an instant
    (1 ns) before it, so that an event stamped exactly at ``as_of`` is not yet known.
    ``priority``: the priority expression whose targets apply (default the tickets' own;
    with ticket events the one in force at creation).

    The time on each clock is the difference of the clock columns in integer microseconds,
    compared with the longest whole-microsecond time within the target
    (:func:`target_limit`; a clock still running at ``as_of - 1 ns`` is past a target of
    ``L`` ns when its microseconds to ``as_of`` exceed ``(L + 1) // 1000``), so equal to the
    pandas engine for timestamps of microsecond resolution and a whole-microsecond
    ``as_of`` (pandas' float ``hours <= target`` of business hours holds exactly up to the
    same limit). One business-hours case differs: with ``before=True`` and ``as_of``
    outside opening hours, a running clock at exactly ``(L + 1) // 1000`` µs with
    ``L + 1`` a multiple of 1000 is breached on pandas and not here (no whole-hour,
    -minute or -second target has such an ``L``).
    """
    now = as_of if isinstance(as_of, ibis.Expr) else instant(as_of, up=before)
    started = t.created_at.notnull() & ((t.created_at < now) if before else (t.created_at <= now))
    out = {}
    for name, per_priority in {k: v for k, v in validate_targets(sla).items() if k in SLA_EVENTS}.items():
        event = t[SLA_EVENTS[name]]
        seen = event.notnull() & ((event < now) if before else (event <= now))
        elapsed = seen.ifelse(t[ON_CLOCK + SLA_EVENTS[name]], t[ON_CLOCK + "as_of"]) - t[ON_CLOCK + "created_at"]
        prio = t.priority if priority is None else priority
        limit = target_limit(prio, per_priority)
        judged = started & limit.notnull()
        breached = judged & (elapsed > (seen.ifelse(limit, target_limit(prio, per_priority, 1)) if before else limit))
        out[name] = (judged & ~breached & seen, breached)
    return out
