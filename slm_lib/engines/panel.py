"""The monthly service panel's sums on an engine (:func:`slm_lib.service_panel.monthly_service_panel`).

Per month ordinal in ``tz``: tickets created, their median first response time (exact, the
order statistics of :mod:`slm_lib.engines.aggregates`), first-response SLA breached and
decided (fields only, judged at the observation end, as on pandas), and the surveys' mean
CSAT, NPS and mean CES. Response times and SLA clocks are differences of clock columns
(:mod:`slm_lib.engines.clock`: calendar time, or the business time of a ``calendar``).
Only these per-month rows and the customers' signup and churn instants come back.
"""
from __future__ import annotations

from typing import Any

import ibis
import numpy as np
import pandas as pd

from slm_lib.config import NPS_DETRACTOR_MAX, NPS_PROMOTER_MIN
from slm_lib.engines.cut import earliest
from slm_lib.engines.aggregates import order_quantiles
from slm_lib.engines.clock import ON_CLOCK, engine_clock
from slm_lib.engines.session import observation_end, period_ordinal, set_time_zone
from slm_lib.engines.sla import sla_flags, with_sla_clocks
from slm_lib.service_panel import MONTHLY_SUMS


def customer_spans(lazy: Any) -> pd.DataFrame:
    """``signup_at`` and ``churned_at`` of every customer (one row each; empty without a customers table)."""
    c = lazy.tables.get("customers")
    if c is None:
        return pd.DataFrame({"signup_at": pd.Series(dtype="datetime64[ns, UTC]"),
                             "churned_at": pd.Series(dtype="datetime64[ns, UTC]")})
    set_time_zone(lazy.con, "UTC")
    got = c.select("signup_at", "churned_at").execute()
    return got.apply(lambda col: pd.to_datetime(col, utc=True).astype("datetime64[ns, UTC]"))


def first_activity(lazy: Any) -> pd.Timestamp:
    """The first ticket, survey, payment or churn (the first signup when there is none)."""
    first = earliest(lazy, {"tickets": "created_at", "surveys": "submitted_at", "revenue": "paid_at",
                            "customers": "churned_at"})
    return earliest(lazy, {"customers": "signup_at"}) if pd.isna(first) else first


def engine_monthly_sums(lazy: Any, ordinals: np.ndarray, targets: dict, calendar: Any, tz: str) -> pd.DataFrame:
    """:data:`slm_lib.service_panel.MONTHLY_SUMS` per month ordinal of ``ordinals`` (months in ``tz``).

    Durations in business hours of ``calendar`` (None: calendar hours).
    """
    as_of = observation_end(lazy)
    set_time_zone(lazy.con, tz)
    wanted = [int(o) for o in ordinals]
    t = lazy.tables["tickets"]
    t = t.mutate(m=period_ordinal(t.created_at, "M"))
    t = with_sla_clocks(t.filter(t.m.isin(wanted)), engine_clock(calendar, lazy.con), as_of, ("first_response_at",))
    raw = t[ON_CLOCK + "first_response_at"] - t[ON_CLOCK + "created_at"]
    sums: dict[str, Any] = {"tickets": t.count(), "_k": raw.count()}
    if as_of is not None:
        achieved, breached = sla_flags(t, {"first_response": targets["first_response"]}, as_of)["first_response"]
        sums.update(breached=breached.cast("int64").sum(), decided=(achieved | breached).cast("int64").sum())
    counts = t.group_by("m").aggregate(**sums).execute().sort_values("m").reset_index(drop=True)
    k = counts["_k"].to_numpy(dtype=np.int64)
    counts["median_frt_h"] = order_quantiles(lazy.con, t, raw, ["m"], counts[["m"]], k, qs=(0.5,))[0.5][0]
    s = lazy.tables.get("surveys")
    if s is not None:
        s = s.mutate(m=period_ordinal(s.submitted_at, "M"), _x=s.score.cast("float64"))
        s = s.filter(s.m.isin(wanted) & s._x.notnull())
        p = (s._x >= NPS_PROMOTER_MIN).cast("float64") * 100.0 - (s._x <= NPS_DETRACTOR_MAX).cast("float64") * 100.0
        means = {name: (s.type == kind).ifelse(value, ibis.null()).mean() for name, kind, value in
                 (("mean_csat", "csat", s._x), ("nps", "nps", p), ("mean_ces", "ces", s._x))}
        counts = counts.merge(s.group_by("m").aggregate(**means).execute(), on="m", how="outer")
    return counts.set_index("m").reindex(wanted).reindex(columns=list(MONTHLY_SUMS)).set_axis(ordinals)
