"""Service and satisfaction by journey stage (onboarding, renewal, the months before churn, ...).

Stages are user definitions (:mod:`slm_lib.journeys.stage_spec`): a window of days around
an anchor instant of each customer. A ticket belongs to a stage when its ``created_at``
falls in its customer's window, a survey answer when its ``submitted_at`` does; a record
can belong to several overlapping stages. Only what happened by ``as_of`` counts (the data
are cut there with :meth:`slm_lib.io.dataset.Dataset.until`), so a window still open at
``as_of`` holds what has been observed so far.

Metrics per stage, computed exactly as in :func:`slm_lib.metrics.table.metric_table`
(the same group kernels, fed with stage codes instead of periods):

* ``customers``: customers whose window has begun by ``as_of`` (a count; no interval);
* ``tickets`` (exact Poisson interval), ``frt_median``, ``resolution_median``
  (order-statistic intervals), ``repeat_contact_rate`` (Wilson; next contacts looked up in
  all the data, not only in the stage);
* ``csat``, ``nps``, ``ces`` by the surveys' own timestamps, on the data set's scales.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from slm_lib.config import DEFAULT_MIN_N
from slm_lib.keys import lookup_positions
from slm_lib.journeys.stage_spec import Stage, parse_stages
from slm_lib.metrics.contacts import REPEAT_DAYS, repeat_flags
from slm_lib.metrics.table import duration_metrics, survey_group_metrics, tidy_metrics
from slm_lib.periods import NAT_NS, epoch_ns
from slm_lib.stats import poisson_interval, share_from_counts

#: Metrics of :func:`journey_stages`, in table order.
STAGE_METRICS: tuple[str, ...] = ("customers", "tickets", "frt_median", "resolution_median", "repeat_contact_rate",
                                  "csat", "nps", "ces")
_NS_PER_DAY = 86_400 * 10**9


def _anchor_ns(ds: Any, anchors: Mapping[str, pd.Series]) -> dict[str, np.ndarray]:
    """Per customer row: every anchor instant (int64 ns) from customer columns and the extra ``anchors``."""
    c = ds.customers
    out = {col: epoch_ns(c[col]) for col in c.columns if isinstance(c[col].dtype, pd.DatetimeTZDtype)
           or pd.api.types.is_datetime64_dtype(c[col])}
    for name, series in anchors.items():
        pos = lookup_positions(pd.Series(series.index, dtype="str"), c["customer_id"].astype("str"))
        values = epoch_ns(pd.to_datetime(pd.Series(series.to_numpy()), utc=True))
        out[name] = np.where(pos >= 0, values[np.maximum(pos, 0)] if len(values) else NAT_NS, NAT_NS)
    return out


def _in_stage(stage: Stage, anchor: np.ndarray, customer_row: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Rows whose instant ``at`` falls in their customer's window of ``stage``."""
    a = np.where(customer_row >= 0, anchor[np.maximum(customer_row, 0)] if len(anchor) else NAT_NS, NAT_NS)
    ok = (a != NAT_NS) & (at != NAT_NS)
    start = a + int(round(stage.start_days * _NS_PER_DAY))
    end = a + int(round(stage.end_days * _NS_PER_DAY))
    return np.flatnonzero(ok & (at >= start) & (at < end))


def journey_stages(ds: Any, stages: Mapping[str, Any] | str | os.PathLike,
                   anchors: Mapping[str, pd.Series] | None = None, as_of: Any = None,
                   min_n: int = DEFAULT_MIN_N, repeat_days: float = REPEAT_DAYS) -> pd.DataFrame:
    """Tickets, response and resolution times, repeat contact, CSAT, NPS and CES per journey stage.

    Parameters
    ----------
    ds : Dataset
        Tickets, surveys and customers (anchors such as ``signup_at``, ``churned_at``).
    stages : mapping or path
        Stage definitions or a YAML file of them (:mod:`slm_lib.journeys.stage_spec`).
    anchors : mapping of str to Series, optional
        Extra anchors, e.g. ``{"contract_end_at": series}``: timestamps indexed by customer_id.
    as_of : timestamp, optional
        Observation end; default ``ds.observation_end()``.
    min_n : int
        Rows with ``n < min_n`` are ``small_n``.
    repeat_days : float
        Window of ``repeat_contact_rate``.

    Returns
    -------
    pandas.DataFrame
        ``stage, metric, n, value, ci_low, ci_high, small_n`` in stage order, metrics in
        :data:`STAGE_METRICS` order (survey rows only where the stage has answers of that type).

    Raises
    ------
    JourneySpecError
        A stage definition is invalid (the message names the stage and the key).

    Examples
    --------
    >>> from slm_lib.io.dataset import Dataset
    >>> at = lambda *v: pd.to_datetime(list(v), utc=True)
    >>> c = pd.DataFrame({"customer_id": ["x"], "signup_at": at("2024-01-01"), "churned_at": at(None)})
    >>> t = pd.DataFrame({"ticket_id": ["a", "b"], "customer_id": "x", "channel": "chat", "priority": "normal",
    ...     "created_at": at("2024-01-05", "2024-03-01"), "first_response_at": at("2024-01-05 02:00", None),
    ...     "resolved_at": at(None, None), "replies": 0, "reopens": 0})
    >>> js = journey_stages(Dataset(tickets=t, customers=c, as_of="2024-04-01"),
    ...                     {"onboarding": {"from": "signup_at", "start_days": 0, "end_days": 30}})
    >>> js.loc[js.metric.isin(["tickets", "frt_median"]), ["metric", "n", "value"]].values.tolist()
    [['tickets', 1, 1.0], ['frt_median', 1, 2.0]]
    """
    hook = getattr(ds, "engine_journey_stages", None)
    if hook is not None:
        return hook(stages=stages, anchors=anchors, as_of=as_of, min_n=min_n, repeat_days=repeat_days)
    if as_of is not None:
        ds = ds.until(as_of)
    end = ds.observation_end()
    anchor = _anchor_ns(ds, anchors or {})
    parsed = parse_stages(stages, anchor)
    size = len(parsed)
    t, s, c = ds.tickets, ds.surveys, ds.customers
    t_cust = lookup_positions(c["customer_id"], t["customer_id"])
    s_cust = lookup_positions(c["customer_id"], s["customer_id"])
    t_created, s_at = epoch_ns(t["created_at"]), epoch_ns(s["submitted_at"])
    t_rows, t_code, s_rows, s_code, customers = [], [], [], [], np.zeros(size, dtype=np.int64)
    for code, stage in enumerate(parsed):   # a handful of stages; each is vectorised over all rows
        a = anchor[stage.anchor]
        rows = _in_stage(stage, a, t_cust, t_created)
        t_rows.append(rows)
        t_code.append(np.full(len(rows), code))
        rows = _in_stage(stage, a, s_cust, s_at)
        s_rows.append(rows)
        s_code.append(np.full(len(rows), code))
        customers[code] = int(((a != NAT_NS) & (a + int(round(stage.start_days * _NS_PER_DAY)) <= end.value)).sum())
    rows, group = np.concatenate(t_rows).astype(np.int64), np.concatenate(t_code).astype(np.int64)
    tickets = t.iloc[rows].reset_index(drop=True)
    res: dict[str, tuple[np.ndarray, ...]] = {}
    res["customers"] = (customers, customers.astype(np.float64), np.full(size, np.nan), np.full(size, np.nan))
    n = np.bincount(group, minlength=size)
    res["tickets"] = (n, n.astype(np.float64), *poisson_interval(n))
    res["frt_median"] = duration_metrics("frt", tickets, "first_response_at", None, group, size)["frt_median"]
    res["resolution_median"] = duration_metrics("resolution", tickets, "resolved_at", None, group,
                                                size)["resolution_median"]
    flags = repeat_flags(t, ds.ticket_events, end, repeat_days)
    counted = flags.counted[rows]
    n_rep = np.bincount(group[counted], minlength=size)
    res["repeat_contact_rate"] = (n_rep, *share_from_counts(np.bincount(group[counted & flags.repeat[rows]],
                                                                        minlength=size), n_rep))
    s_group = np.concatenate(s_code).astype(np.int64)
    res.update(survey_group_metrics(s.iloc[np.concatenate(s_rows).astype(np.int64)], s_group, size, None, False,
                                    ds.scales))
    return stage_table(parsed, res, min_n)


def stage_table(stages: list[Stage], res: dict[str, tuple[np.ndarray, ...]], min_n: int = DEFAULT_MIN_N) -> pd.DataFrame:
    """The table of :func:`journey_stages` from its per-stage results (every engine's formula).

    ``res``: metric of :data:`STAGE_METRICS` -> (n, value, ci_low, ci_high) arrays, one
    entry per stage; survey metrics are shown for stages with answers (n > 0).
    """
    size = len(stages)
    present = {m: np.ones(size, dtype=bool) if m not in ("csat", "nps", "ces") else res[m][0] > 0 for m in res}
    labels = pd.DataFrame({"stage": [stage.name for stage in stages]})
    out = tidy_metrics(labels, res, STAGE_METRICS, present, min_n)
    order = pd.Categorical(out["metric"], categories=list(STAGE_METRICS), ordered=True)
    stage_order = pd.Categorical(out["stage"], categories=list(labels["stage"]), ordered=True)
    return (out.assign(_s=stage_order, _m=order).sort_values(["_s", "_m"], kind="stable")
            .drop(columns=["_s", "_m"]).reset_index(drop=True))
