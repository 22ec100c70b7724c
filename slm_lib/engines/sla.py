"""SLA clocks on an engine: per ticket and target, achieved or breached, as the pandas engine judges them (SPEC §4).

Times are integer microseconds on a clock of :mod:`slm_lib.engines.clock` (calendar time,
or the business time of a calendar through :func:`~slm_lib.engines.clock.with_clocks`
columns), compared with the longest whole-microsecond time within each target
(:func:`target_limit`).
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis
import numpy as np

from slm_lib.engines.clock import ON_CLOCK
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


def sla_flags(t: Any, sla: Any, as_of: Any, before: bool = False, priority: Any = None,
              on_clock: bool = False) -> dict[str, tuple[Any, Any]]:
    """Per ticket and target of :data:`SLA_EVENTS`: (achieved, breached) as :func:`sla_status_codes` judges them.

    Judged at ``as_of`` (an instant, or a timestamp column of ``t``: one instant per row),
    or with ``before=True`` an instant (1 ns) before it, so that an event stamped exactly at
    ``as_of`` is not yet known. ``priority``: the priority expression whose targets apply
    (default the tickets' own; with ticket events the one in force at creation). Calendar
    time in integer microseconds, compared with the longest whole-microsecond time within
    the target (:func:`target_limit`; a clock still running at ``as_of - 1 ns`` is past a
    target of ``L`` ns when its microseconds to ``as_of`` exceed ``(L + 1) // 1000``), so
    equal to the pandas engine for timestamps of microsecond resolution and a
    whole-microsecond ``as_of``. ``on_clock`` (``before=False`` only): elapsed on the
    :func:`with_clocks` columns of the stamps and ``as_of``, business hours too (pandas'
    float ``hours <= target`` holds exactly up to the same limit).
    """
    now = as_of if isinstance(as_of, ibis.Expr) else instant(as_of, up=before)
    started = t.created_at.notnull() & ((t.created_at < now) if before else (t.created_at <= now))
    out = {}
    for name, per_priority in {k: v for k, v in validate_targets(sla).items() if k in SLA_EVENTS}.items():
        event = t[SLA_EVENTS[name]]
        seen = event.notnull() & ((event < now) if before else (event <= now))
        elapsed = (seen.ifelse(t[ON_CLOCK + SLA_EVENTS[name]], t[ON_CLOCK + "as_of"]) - t[ON_CLOCK + "created_at"]
                   if on_clock else seen.ifelse(event, now).delta(t.created_at, unit="microsecond"))
        prio = t.priority if priority is None else priority
        limit = target_limit(prio, per_priority)
        judged = started & limit.notnull()
        breached = judged & (elapsed > (seen.ifelse(limit, target_limit(prio, per_priority, 1)) if before else limit))
        out[name] = (judged & ~breached & seen, breached)
    return out
