"""Monthly churn and service aggregates for the lag models (SPEC §5, :func:`slm_lib.models.lagged_effects`).

One row per calendar month (in ``tz``): customers active at its start and churned during
it, and the service its tickets and surveys received. The months come from the data
(first activity to the observation end) or are given. On an engine
(:class:`slm_lib.engines.LazyDataset`) the tickets and surveys are reduced to per-month sums
there (:func:`slm_lib.engines.panel.engine_monthly_sums`) and only the customers' signup and
churn instants (one row per customer) come back; the churn counting below then runs on both.
"""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np
import pandas as pd

from slm_lib.config import DEFAULT_SLA_TARGETS, NPS_DETRACTOR_MAX, NPS_PROMOTER_MIN
from slm_lib.io.dataset import Dataset
from slm_lib.metrics.sla import ACHIEVED, BREACHED, sla_status_codes
from slm_lib.metrics.tickets import elapsed_hours
from slm_lib.periods import NAT_NS, epoch_ns, period_ordinals, period_starts

__all__ = ["monthly_service_panel", "MONTHLY_SUMS"]

#: Per-month sums of the tickets and surveys (index: month ordinal), as both engines return them.
MONTHLY_SUMS: tuple[str, ...] = ("tickets", "median_frt_h", "breached", "decided", "mean_csat", "nps", "mean_ces")
_NS = pd.Timedelta(1, "ns")


def _ns(ts: pd.Series) -> np.ndarray:
    """:func:`slm_lib.periods.epoch_ns` with a missing instant read as "never" (int64 max)."""
    arr = epoch_ns(ts).copy()
    arr[arr == NAT_NS] = np.iinfo("int64").max
    return arr


def _monthly_sums(ds: Dataset, index: pd.PeriodIndex, targets: dict, calendar: Any, tz: str) -> pd.DataFrame:
    """:data:`MONTHLY_SUMS` of an in-memory data set, per month ordinal of ``index``."""
    def month_pos(ts: pd.Series) -> np.ndarray:
        return pd.Index(index.asi8).get_indexer(period_ordinals(ts, "M", tz))

    tk = ds.tickets
    pos_t = month_pos(tk["created_at"])
    frt = elapsed_hours(tk["created_at"], tk["first_response_at"], calendar)
    sla = sla_status_codes(tk, {"first_response": targets["first_response"]}, ds.observation_end(),
                           calendar)["first_response"] if len(tk) else np.array([], np.int8)
    tks = pd.DataFrame({"m": pos_t, "frt": frt, "breached": (sla == BREACHED).astype(float),
                        "decided": np.isin(sla, (BREACHED, ACHIEVED)).astype(float)}).loc[pos_t >= 0]
    g = tks.groupby("m")
    sv = ds.surveys
    svs = pd.DataFrame({"m": month_pos(sv["submitted_at"]), "type": sv["type"].to_numpy(),
                        "score": sv["score"].to_numpy(float)})
    svs = svs.loc[svs["m"] >= 0]
    nps = svs.loc[svs["type"] == "nps"].assign(
        p=lambda d: (d["score"] >= NPS_PROMOTER_MIN) * 100.0 - (d["score"] <= NPS_DETRACTOR_MAX) * 100.0)
    out = pd.DataFrame({
        "tickets": g.size(), "median_frt_h": g["frt"].median(), "breached": g["breached"].sum(),
        "decided": g["decided"].sum(), "mean_csat": svs.loc[svs["type"] == "csat"].groupby("m")["score"].mean(),
        "nps": nps.groupby("m")["p"].mean(), "mean_ces": svs.loc[svs["type"] == "ces"].groupby("m")["score"].mean()},
        columns=list(MONTHLY_SUMS))
    return out.reindex(np.arange(len(index))).set_axis(index.asi8)


def monthly_service_panel(ds: Any, months: Iterable[Any] | None = None, sla_targets: dict | None = None,
                          calendar: Any = None, tz: str = "UTC") -> pd.DataFrame:
    """Monthly churn and service aggregates (calendar months in ``tz``), for :func:`slm_lib.models.lagged_effects`.

    Per month: ``active`` customers at the month start, ``churned`` during the month,
    ``churn_rate`` (%); tickets created in the month: ``tickets``, ``median_frt_h`` (their
    median first response time, responses known by the data's observation end),
    ``sla_breach_share`` (%, judged at ``ds.observation_end()``); surveys submitted in the
    month: ``mean_csat``, ``nps`` (100 x (share 9-10 minus share 0-6)), ``mean_ces``.

    Parameters
    ----------
    ds : Dataset or LazyDataset
        In memory, or on an engine (the same table from per-month sums computed there).
    months : sequence, optional
        Month labels ('YYYY-MM') or month starts to include; default every month from the first
        ticket, survey, payment or churn (the first signup if there is none) to the month of
        ``ds.observation_end()`` (a report's data end with the report month; data observed
        mid-month end with a partial month).

    Examples
    --------
    >>> from slm_lib.schema import empty_frame
    >>> c = empty_frame("customers")
    >>> c.loc[0] = ["a", pd.Timestamp("2024-01-05", tz="UTC"), "smb", None, pd.Timestamp("2024-02-10", tz="UTC")]
    >>> c.loc[1] = ["b", pd.Timestamp("2024-01-06", tz="UTC"), "smb", None, pd.NaT]
    >>> p = monthly_service_panel(Dataset(customers=c), months=["2024-02"])
    >>> p[["month", "active", "churned", "churn_rate"]].values.tolist()
    [['2024-02', 2, 1, 50.0]]
    """
    targets = dict(DEFAULT_SLA_TARGETS if sla_targets is None else sla_targets)
    lazy = getattr(ds, "engine_monthly_sums", None)
    customers = ds.engine_customer_spans() if lazy is not None else ds.customers[["signup_at", "churned_at"]]
    if months is None:
        if lazy is not None:
            first = ds.engine_first_activity()
        else:
            activity = [ds.tickets["created_at"].min(), ds.surveys["submitted_at"].min(),
                        ds.revenue["paid_at"].min(), ds.customers["churned_at"].min()]
            activity = [a for a in activity if pd.notna(a)] or [ds.customers["signup_at"].min()]
            first = min(activity)
        ordinals = period_ordinals(pd.Series([first, ds.observation_end() - _NS]), "M", tz)  # the end itself excluded
        index = pd.PeriodIndex.from_ordinals(np.arange(ordinals[0], ordinals[1] + 1), freq="M")
    else:
        index = pd.PeriodIndex(pd.Series([str(m)[:7] for m in months]), freq="M")
    n = len(index)
    s0 = _ns(pd.Series(period_starts(index.asi8, "M", tz)))
    s1 = _ns(pd.Series(period_starts(index.asi8 + 1, "M", tz)))

    signup, churn = _ns(customers["signup_at"]), _ns(customers["churned_at"])
    active = np.searchsorted(np.sort(signup), s0, "left") - np.searchsorted(np.sort(churn), s0, "right")
    m_churn = np.searchsorted(s1, churn, "left")  # first month whose end is >= churned_at
    counted = (m_churn < n) & (churn > s0[np.minimum(m_churn, n - 1)]) & (signup < s0[np.minimum(m_churn, n - 1)])
    churned = np.bincount(m_churn[counted], minlength=n)
    sums = lazy(index.asi8, targets, calendar, tz) if lazy is not None else _monthly_sums(ds, index, targets,
                                                                                           calendar, tz)
    with np.errstate(invalid="ignore", divide="ignore"):
        return pd.DataFrame({
            "month": index.strftime("%Y-%m"),
            "active": active, "churned": churned,
            "churn_rate": np.where(active > 0, 100.0 * churned / np.maximum(active, 1), np.nan),
            "tickets": np.nan_to_num(sums["tickets"].to_numpy(float)).astype("int64"),
            "median_frt_h": sums["median_frt_h"].to_numpy(float),
            "sla_breach_share": 100.0 * sums["breached"].to_numpy(float) / sums["decided"].to_numpy(float),
            "mean_csat": sums["mean_csat"].to_numpy(float), "nps": sums["nps"].to_numpy(float),
            "mean_ces": sums["mean_ces"].to_numpy(float),
        })
