"""Journey stages on an engine (:func:`slm_lib.journeys.stages.journey_stages`).

Each stage is a filter of the tickets and surveys joined to their customer's anchor
(``created_at`` / ``submitted_at`` within the stage's window, compared in exact integer
microseconds); the stages' rows are stacked with a stage code and aggregated per code with
the metric table's engine pieces: counts, the exact medians of first response and
resolution (order statistics selected by rank, :func:`slm_lib.engines.aggregates.order_quantiles`),
the repeat contacts of :func:`slm_lib.engines.ticket_metrics.repeat_counts` (next contacts
looked up in all tickets, the solve in force from ticket events) and the survey counts of
the metric table. The small per-stage table goes through the same ``stats`` functions and
:func:`slm_lib.metrics.table.tidy_metrics` as the pandas engine.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import ibis
import numpy as np
import pandas as pd

from slm_lib.config import DEFAULT_MIN_N
from slm_lib.engines.clock import engine_clock
from slm_lib.engines.journeys import solved_tickets
from slm_lib.engines.aggregates import order_quantiles
from slm_lib.engines.metric_table import survey_side
from slm_lib.engines.session import observation_end, set_time_zone
from slm_lib.engines.ticket_metrics import repeat_counts
from slm_lib.journeys.stage_spec import parse_stages
from slm_lib.journeys.stages import stage_table
from slm_lib.metrics.contacts import REPEAT_DAYS
from slm_lib.periods import epoch_ns
from slm_lib.stats import poisson_interval, share_from_counts

_NS_PER_DAY = 86_400 * 10**9


def _ceil_us(ns: int) -> int:
    """The least whole microsecond count ``d`` with ``1000 * d >= ns``."""
    return -((-ns) // 1000)


def _anchored(table: Any, customers: Any, extra: Any, epoch: Any) -> Any:
    """``table`` (inner) joined to its customer's anchors as epoch microseconds ``_a_<name>``."""
    stamps = [c for c, t in customers.schema().items() if t.is_timestamp()]
    right = customers.select(_ck=customers.customer_id, **{f"_a_{c}": epoch(customers[c]) for c in stamps})
    out = table.join(right, table.customer_id == right._ck).drop("_ck")
    if extra is not None:
        out = out.left_join(extra, out.customer_id == extra._xk).drop("_xk")
    return out


def _stacked(table: Any, at: str, stages: list, epoch: Any) -> Any:
    """The rows of ``table`` in each stage's window, one copy per stage with its code ``_stage``."""
    parts = []
    for code, stage in enumerate(stages):
        d = epoch(table[at]) - table[f"_a_{stage.anchor}"]
        lo = _ceil_us(int(round(stage.start_days * _NS_PER_DAY)))
        hi = _ceil_us(int(round(stage.end_days * _NS_PER_DAY)))
        parts.append(table.filter(d.notnull() & (d >= lo) & (d < hi)).mutate(_stage=ibis.literal(code, type="int64")))
    return parts[0].union(*parts[1:], distinct=False) if len(parts) > 1 else parts[0]


def _extra_anchors(anchors: Mapping[str, pd.Series]) -> Any:
    """The extra anchors as a small engine table ``_xk, _a_<name>`` (epoch microseconds), or None."""
    if not anchors:
        return None
    frame = pd.concat({f"_a_{name}": pd.Series(epoch_ns(pd.to_datetime(pd.Series(s.to_numpy()), utc=True)),
                                               index=pd.Index(s.index, dtype="str"))
                       for name, s in anchors.items()}, axis=1)
    frame = frame.where(frame != np.iinfo(np.int64).min) // 1000
    frame = frame.rename_axis("_xk").reset_index()
    return ibis.memtable(frame, schema=ibis.schema({"_xk": "string", **{c: "int64" for c in frame.columns[1:]}}))


def engine_journey_stages(lazy: Any, stages: Mapping[str, Any] | str | os.PathLike,
                          anchors: Mapping[str, pd.Series] | None = None, as_of: Any = None,
                          min_n: int = DEFAULT_MIN_N, repeat_days: float = REPEAT_DAYS) -> pd.DataFrame:
    """:func:`slm_lib.journeys.stages.journey_stages` of a :class:`~slm_lib.engines.dataset.LazyDataset`.

    Examples
    --------
    >>> from slm_lib.engines import open_dataset
    >>> spec = {"onboarding": {"from": "signup_at", "start_days": 0, "end_days": 30}}
    >>> engine_journey_stages(open_dataset("data_samples"), spec)   # doctest: +SKIP
    """
    if as_of is not None:
        lazy = lazy.until(as_of)
    set_time_zone(lazy.con, "UTC")
    end = observation_end(lazy)
    con, c = lazy.con, lazy.customers
    anchors = dict(anchors or {})
    names = [col for col, t in c.schema().items() if t.is_timestamp()] + list(anchors)
    parsed = parse_stages(stages, names)
    size = len(parsed)
    epoch = engine_clock(None, con)
    extra = _extra_anchors(anchors)
    groups = pd.DataFrame({"_stage": np.arange(size, dtype=np.int64)})
    first = _anchored(c.select("customer_id"), c, extra, epoch)   # customers whose window has begun by as_of
    customers = first.aggregate(**{f"_c{code}": (first[f"_a_{stage.anchor}"] <= (
        end.value - int(round(stage.start_days * _NS_PER_DAY))) // 1000).fill_null(False).cast("int64").sum()
        for code, stage in enumerate(parsed)}).execute()
    res: dict[str, tuple[np.ndarray, ...]] = {}
    n_cust = np.array([int(customers[f"_c{code}"].iloc[0] or 0) for code in range(size)], dtype=np.int64)
    res["customers"] = (n_cust, n_cust.astype(np.float64), np.full(size, np.nan), np.full(size, np.nan))
    with solved_tickets(lazy, end) as (whole, solved):
        t = _stacked(_anchored(whole, c, extra, epoch), "created_at", parsed, epoch)
        raws = {p: epoch(t[col]) - epoch(t.created_at) for p, col in (("frt", "first_response_at"),
                                                                        ("resolution", "resolved_at"))}
        got = t.group_by("_stage").aggregate(_n=t.count(), **{f"_k_{p}": raw.count() for p, raw in raws.items()},
                                             **repeat_counts(t, whole, end, repeat_days, epoch, solved)).execute()
        counts = groups.merge(got, on="_stage", how="left").fillna(0)
        n = counts["_n"].to_numpy(dtype=np.int64)
        res["tickets"] = (n, n.astype(np.float64), *poisson_interval(n))
        for p, raw in raws.items():
            k = counts[f"_k_{p}"].to_numpy(dtype=np.int64)
            res[f"{p}_median"] = (k, *order_quantiles(con, t, raw, ["_stage"], groups, k, (0.5,))[0.5])
    if "_rc_n" in counts:
        counted = counts["_rc_n"].to_numpy(dtype=np.int64)
        res["repeat_contact_rate"] = (counted, *share_from_counts(counts["_rc_r"].to_numpy(dtype=np.int64), counted))
    found, survey = pd.DataFrame({"_stage": []}), {m: ((),) * 4 for m in ("nps", "csat", "ces")}
    if lazy.surveys is not None:
        found, survey = survey_side(_stacked(_anchored(lazy.surveys, c, extra, epoch), "submitted_at", parsed, epoch),
                                     ["_stage"], None, False, lazy.scales)
    at = found["_stage"].to_numpy(dtype=np.int64)
    for metric, values in survey.items():   # stages without answers: n = 0 (left out of the table)
        full = [np.zeros(size, dtype=np.int64)] + [np.full(size, np.nan) for _ in values[1:]]
        for column, v in zip(full, values):
            column[at] = v
        res[metric] = tuple(full)
    return stage_table(parsed, res, min_n)
