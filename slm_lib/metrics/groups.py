"""Per-group views for reports: month-over-month changes by group, means by group with intervals."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from slm_lib.config import DEFAULT_MIN_N, SCALES
from slm_lib.metrics.survey import compare_periods
from slm_lib.metrics.grouping import survey_groups
from slm_lib.periods import month_bounds, month_labels, previous_month
from slm_lib.stats import mean_from_moments, share_from_counts

CHANGE_COLUMNS = ["metric", "group", "before", "after", "diff", "ci_low", "ci_high", "p_value", "n_before",
                  "n_after", "small_n"]


def changes_by_group(ds: Any, month: str, by: str = "channel", metrics: Sequence[str] = ("nps", "csat", "ces"),
                     tz: str = "UTC", min_n: int = DEFAULT_MIN_N) -> pd.DataFrame:
    """Change of NPS / CSAT / CES from the previous month to ``month`` in every group, with its test.

    Each group's change is tested exactly like the overall one
    (:func:`slm_lib.metrics.survey.compare_periods`: z for NPS and CSAT, Welch t for CES).
    ``small_n`` marks groups where either month has fewer than ``min_n`` answers.

    Returns
    -------
    pandas.DataFrame
        ``metric, group, before, after, diff, ci_low, ci_high, p_value, n_before, n_after, small_n``.

    Examples
    --------
    >>> import slm_lib.synth as synth
    >>> c = changes_by_group(synth.generate(customers=400, months=3, seed=4), "2025-01", by="segment")
    >>> sorted(c["metric"].unique())
    ['ces', 'csat', 'nps']
    """
    part = getattr(ds, "engine_collect_window", None)
    if part is not None:  # on an engine: only the two months' rows come back
        ds = part(month_bounds(previous_month(month), tz)[0], month_bounds(month, tz)[1])
    groups = survey_groups(ds.tickets, ds.surveys, ds.customers, by)
    s = ds.surveys.assign(_group=groups, _month=month_labels(ds.surveys["submitted_at"], tz))
    prev = previous_month(month)
    s = s[s["_month"].isin([prev, month]) & s["type"].isin(metrics) & s["_group"].notna()]
    rows = []
    for (metric, group), g in s.groupby(["type", "_group"], sort=True):  # one test per group, not per row
        r = compare_periods(g.loc[g["_month"] == prev, "score"], g.loc[g["_month"] == month, "score"], metric=metric,
                            scale=getattr(ds, "scales", SCALES)[metric])
        rows.append({"metric": metric, "group": str(group), **r.drop("statistic").to_dict()})
    out = pd.DataFrame(rows, columns=[c for c in CHANGE_COLUMNS if c != "small_n"])
    out["small_n"] = (out["n_before"] < min_n) | (out["n_after"] < min_n)
    return out.astype({"n_before": "int64", "n_after": "int64"})


def mean_by_group(frame: pd.DataFrame, value: str, by: str, min_n: int = DEFAULT_MIN_N) -> pd.DataFrame:
    """Mean of ``value`` per group with n and a 95% t interval (e.g. CLV by NPS category).

    The interval is skewness-corrected (:func:`slm_lib.stats.mean_t_interval`): money and
    durations are right-skewed, where the plain t interval falls short of 95%. NaN values
    are left out.

    Examples
    --------
    >>> f = pd.DataFrame({"g": ["a", "a", "b", "b"], "v": [1.0, 3.0, 10.0, 14.0]})
    >>> mean_by_group(f, "v", "g")[["group", "n", "mean"]].values.tolist()
    [['a', 2, 2.0], ['b', 2, 12.0]]
    """
    x = frame[value].astype(np.float64)
    dev = x - x.groupby(frame[by], observed=True).transform("mean")
    sums = pd.DataFrame({"n": x.notna(), "total": x, "ss": dev ** 2, "s3": dev ** 3}).groupby(
        frame[by], observed=True).sum()
    n = sums["n"].to_numpy(np.int64)
    mean, low, high, _ = mean_from_moments(sums["total"], sums["ss"], n, sums["s3"])
    return pd.DataFrame({"group": sums.index.astype("str"), "n": n, "mean": mean, "ci_low": low, "ci_high": high,
                         "small_n": n < min_n})


#: Metrics a team or agent scorecard shows, in order.
SCORECARD_METRICS: tuple[str, ...] = ("tickets", "frt_median", "resolution_median", "sla_first_response", "fcr",
                                      "reopen_rate", "csat", "ces")


def scorecard(table: pd.DataFrame, by: str, metrics: Sequence[str] = SCORECARD_METRICS,
              ranked_on: Sequence[str] = ("tickets", "csat")) -> pd.DataFrame:
    """One row per group that handled tickets, from a tidy metric table (e.g. :func:`slm_lib.metrics.table.agent_table`).

    Values become columns; ``csat_n`` keeps how many answers the CSAT rests on, and
    ``small_n`` is true when a ``ranked_on`` metric (ticket volume and CSAT by default: what
    people get ranked on) rests on fewer observations than the table's minimum. Groups
    without a label (unassigned tickets) are labelled ``"(none)"``; labels seen only in
    surveys of tickets outside the table (no tickets here) are left out.

    Examples
    --------
    >>> t = pd.DataFrame({"team": ["a", "a", "a", "b", "b"], "metric": ["tickets", "csat", "ces", "tickets", "csat"],
    ...                   "n": [40, 35, 4, 12, 3], "value": [40.0, 80.0, 2.5, 12.0, 66.7],
    ...                   "small_n": [False, False, True, True, True]})
    >>> scorecard(t, "team", metrics=("tickets", "csat", "ces"))[["team", "tickets", "csat", "csat_n", "small_n"]].values.tolist()
    [['a', 40.0, 80.0, 35, False], ['b', 12.0, 66.7, 3, True]]
    """
    rows = table[table["metric"].isin(metrics)].assign(**{by: table[by].astype("str").fillna("(none)")})
    wide = rows.pivot_table(index=by, columns="metric", values="value", aggfunc="first", dropna=False)
    wide = wide.reindex(columns=[m for m in metrics if m in set(rows["metric"])])
    if "tickets" in wide:
        wide = wide[wide["tickets"].notna()]
    csat_n = rows[rows["metric"] == "csat"].set_index(by)["n"].reindex(wide.index).fillna(0).astype("int64")
    ranked = rows[rows["metric"].isin(ranked_on)]
    small = ranked.groupby(by)["small_n"].any().reindex(wide.index, fill_value=True)
    out = wide.assign(csat_n=csat_n, small_n=small.astype(bool)).reset_index()
    out.columns.name = None
    return out


def rate_by_group(frame: pd.DataFrame, flag: str, by: str, min_n: int = DEFAULT_MIN_N) -> pd.DataFrame:
    """Share of rows with ``flag`` true per group, in %, with n and a 95% Wilson interval (e.g. churn by contract).

    Examples
    --------
    >>> f = pd.DataFrame({"g": ["a"] * 10 + ["b"] * 4, "churned": [True] * 8 + [False] * 2 + [True] + [False] * 3})
    >>> rate_by_group(f, "churned", "g")[["group", "n", "events", "rate"]].values.tolist()
    [['a', 10, 8, 80.0], ['b', 4, 1, 25.0]]
    """
    counts = frame.groupby(by, observed=True)[flag].agg(["size", "sum"])
    rate, low, high = share_from_counts(counts["sum"].to_numpy(float), counts["size"].to_numpy(float))
    return pd.DataFrame({"group": counts.index.astype("str"), "n": counts["size"].to_numpy(np.int64),
                         "events": counts["sum"].to_numpy(np.int64), "rate": rate, "ci_low": low, "ci_high": high,
                         "small_n": counts["size"].to_numpy() < min_n})
