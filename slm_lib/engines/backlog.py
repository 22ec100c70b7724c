"""The open backlog on an engine: :func:`slm_lib.backlog`'s counts as aggregates (SPEC §9 engines).

The definitions are those of :mod:`slm_lib.metrics.backlog`. Every stretch a ticket spent
open becomes one row on the engine: without events ``(created_at, resolved_at]``; with
events (:func:`slm_lib.engines.lifecycle.status_events`, in the events' order) the ``new``
stretch from creation to the first status event and each stretch from an unresolved status
event to the next status event (to no end after the last). A stretch is open at a period end
``e`` when ``start < e <= stop``, and in age bucket ``b`` when ``lo_b <= e - created_at <
hi_b``; the ends it counts at are one range of period-end indices per bucket, found from
period ordinals (the first end after ``x`` is the start of the period after the one holding
``x``). The engine counts the stretches alike in every index (kept on the engine while the
buckets read them) and sums +1 at the first index and -1 past the last per (group, bucket,
index): a few thousand rows, whose running sum over the periods (in pandas) is the backlog.
No ticket and no event is collected.
"""
from __future__ import annotations

from typing import Any

import ibis
import numpy as np
import pandas as pd

from slm_lib.engines.dataset import cached, fetch
from slm_lib.engines.groups import coded, group_codes, keyed_tickets
from slm_lib.engines.lifecycle import status_events
from slm_lib.engines.session import period_ordinal, set_time_zone
from slm_lib.schema import EVENT_KINDS

_RESOLVED = ("solved", "closed")


def open_stretches(lazy: Any) -> Any:
    """Every stretch a ticket spent open: ``ticket_id, _start, _stop`` (NULL ``_stop``: still open).

    Examples
    --------
    >>> from slm_lib.engines import open_dataset
    >>> open_stretches(open_dataset("data_samples")).count().execute() > 0    # doctest: +SKIP
    True
    """
    t = lazy.tickets.filter(lambda r: r.created_at.notnull())
    if not lazy.engine_has_ticket_events():
        return t.select("ticket_id", _start=t.created_at, _stop=t.resolved_at)
    e = lazy.ticket_events
    e = e.filter(e.at.notnull() & e.kind.isin(EVENT_KINDS))
    s = status_events(e)
    s = s.mutate(_next=s.at.lead().over(group_by=s.ticket_id, order_by=[s.at, s.event_id]))
    ts = t.created_at.type()
    spans = s.filter(~s.status.isin(_RESOLVED)).select("ticket_id", _start=s.at.cast(ts), _stop=s._next.cast(ts))
    with_events = e.select(_eid=e.ticket_id).distinct()
    first = s.group_by(_fid=s.ticket_id).aggregate(_first=s.at.min())
    j = t.left_join(with_events, t.ticket_id == with_events._eid).left_join(first, t.ticket_id == first._fid)
    fresh = j.select("ticket_id", _start=j.created_at,
                     _stop=j._eid.notnull().ifelse(j._first.cast(ts), j.resolved_at.cast(ts)))
    return fresh.union(spans, distinct=False)


def _index(ts: Any, first: int, n_ends: int, freq: str) -> Any:
    """How many period ends (starts of ordinals ``first + 1 ..``) are at or before ``ts``: ``searchsorted(..., "right")``."""
    return ibis.greatest(ibis.least(period_ordinal(ts, freq) - first, n_ends), 0)


def engine_backlog_steps(lazy: Any, by: list[str], freq: str, tz: str, first: int, n_ends: int,
                         bounds: list[int]) -> tuple[pd.DataFrame, np.ndarray]:
    """The group keys and the flat array of changes of open counts of :func:`slm_lib.metrics.backlog._steps`.

    Parameters
    ----------
    by, freq, tz
        As :func:`slm_lib.backlog`.
    first : int
        Ordinal of the first period; its end is the first of ``n_ends`` period ends.
    n_ends : int
        Periods counted.
    bounds : list of int
        Age bucket bounds in nanoseconds (``0`` first; the last bucket is unbounded).

    Examples
    --------
    >>> from slm_lib.engines import open_dataset
    >>> keys, steps = engine_backlog_steps(open_dataset("data_samples"), [], "D", "UTC", 20089, 7, [0])  # doctest: +SKIP
    """
    con = lazy.con
    keyed = keyed_tickets(lazy, by)
    keys, lookup = group_codes(con, keyed, by)
    set_time_zone(con, tz)
    stretches = open_stretches(lazy)
    born = keyed.select(*by, _bid=keyed.ticket_id, _born=keyed.created_at)
    x = stretches.join(born, stretches.ticket_id == born._bid)
    reach = {f"_r{b}": _index(x._born + ibis.interval((ns - 1) // 1000, unit="us"), first, n_ends, freq)
             for b, ns in enumerate(bounds)}   # ends before created_at + ns: searchsorted(..., "left")
    x = x.select(*by, _low=_index(x._start, first, n_ends, freq),
                 _high=x._stop.isnull().ifelse(n_ends, _index(x._stop, first, n_ends, freq)), **reach)
    x = x.group_by(list(x.columns)).aggregate(_n=x.count())   # stretches alike in every index, counted
    with cached(con, x) as kept:   # computed once for every bucket
        parts = []
        for b in range(len(bounds)):
            a = ibis.greatest(kept._low, kept[f"_r{b}"])
            z = ibis.least(kept._high, kept[f"_r{b + 1}"]) if b + 1 < len(bounds) else kept._high
            inside = kept.filter(z > a)
            parts += [inside.select(*by, _b=ibis.literal(b), _i=a, _d=kept._n),
                      inside.select(*by, _b=ibis.literal(b), _i=z, _d=-kept._n)]
        moves = ibis.union(*parts, distinct=False)
        got = fetch(con, moves.group_by([*by, "_b", "_i"]).aggregate(_s=moves._d.sum()))
    cell = (coded(got, lookup, by) * len(bounds) + got["_b"].to_numpy(dtype=np.int64)) * (n_ends + 1) \
        + got["_i"].to_numpy(dtype=np.int64)
    steps = np.bincount(cell, weights=got["_s"].to_numpy(dtype=np.int64), minlength=len(keys) * len(bounds) * (n_ends + 1))
    return keys, steps.astype(np.int64)
