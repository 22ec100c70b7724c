"""Headline KPIs of one month against the previous one, and plain-words findings.

The monthly summary notebook and the report index show these: each KPI with its 95%
interval, ``n``, the change against the previous month and the p-value of a test of that
change (two-sample z for NPS and CSAT and every rate, Welch t for CES, Mann–Whitney for
median durations, an exact conditional test for the ticket count).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as _st

from slm_lib.config import CONFIDENCE
from slm_lib.errors import ConfigError, InsufficientDataError
from slm_lib.io.dataset import Dataset
from slm_lib.metrics.survey import compare_periods
from slm_lib.metrics.table import metric_table
from slm_lib.metrics.tickets import first_response_time, resolution_time
from slm_lib.periods import check_month, month_labels, previous_month
from slm_lib.stats import holm_adjusted, two_proportion_z
from slm_lib.text import mask_pii_series

#: metric -> (label, unit, direction): direction +1 when higher is better, -1 when lower is
#: better, 0 when neither (volume).
HEADLINE: dict[str, tuple[str, str, int]] = {
    "nps": ("NPS", "points", +1),
    "csat": ("CSAT", "%", +1),
    "ces": ("CES", "score {low}-{high}", -1),   # the data set's CES scale
    "tickets": ("Tickets created", "tickets", 0),
    "frt_median": ("Median first response", "h", -1),
    "resolution_median": ("Median resolution time", "h", -1),
    "sla_first_response": ("First-response SLA met", "%", +1),
    "sla_resolution": ("Resolution SLA met", "%", +1),
    "fcr": ("First contact resolution", "%", +1),
    "reopen_rate": ("Reopen rate", "%", -1),
}
_RATES = ("csat", "sla_first_response", "sla_resolution", "fcr", "reopen_rate")
_DURATIONS = {"frt_median": first_response_time, "resolution_median": resolution_time}
KPI_COLUMNS = ["metric", "label", "unit", "value", "ci_low", "ci_high", "n", "previous", "delta",
               "p_value", "p_adjusted", "significant", "assessment"]




def data_months(ds: Dataset, tz: str = "UTC") -> list[str]:
    """Sorted months (``'YYYY-MM'`` in ``tz``) in which tickets were created or surveys submitted.

    Examples
    --------
    >>> from slm_lib.schema import empty_frame
    >>> data_months(Dataset())
    []
    """
    months = pd.concat([month_labels(ds.tickets["created_at"], tz), month_labels(ds.surveys["submitted_at"], tz)])
    return sorted(months.dropna().unique().tolist())






def select_segment(ds: Dataset, segment: str | None) -> Dataset:
    """The part of ``ds`` that belongs to customers of one segment (``None`` keeps all).

    Their tickets, surveys and payments, and the events of those tickets.

    Raises
    ------
    ConfigError
        When no customer has that segment (the message lists the segments that exist).
    """
    if segment is None or segment == "" or segment == "all":
        return ds
    known = ds.customers["segment"].dropna().unique().tolist()
    if segment not in known:
        raise ConfigError(f"segment {segment!r} not found in customers.segment; segments are {sorted(known)}")
    ids = ds.customers.loc[ds.customers["segment"] == segment, "customer_id"]
    keep = {name: frame[frame["customer_id"].isin(ids)].reset_index(drop=True)
            for name, frame in ds.tables().items() if "customer_id" in frame.columns}
    events = ds.ticket_events
    keep["ticket_events"] = events[events["ticket_id"].isin(keep["tickets"]["ticket_id"])].reset_index(drop=True)
    return replace(ds, **keep)


def month_subset(ds: Dataset, month: str, tz: str = "UTC") -> Dataset:
    """Tickets created and surveys submitted in ``month`` (``tz``); customers and revenue as they are.

    Examples
    --------
    >>> len(month_subset(Dataset(), "2026-10").tickets)
    0
    """
    check_month(month)
    tickets = ds.tickets[month_labels(ds.tickets["created_at"], tz) == month].reset_index(drop=True)
    surveys = ds.surveys[month_labels(ds.surveys["submitted_at"], tz) == month].reset_index(drop=True)
    return replace(ds, tickets=tickets, surveys=surveys)


def _change_test(ds: Dataset, metric: str, month: str, prev: str, now: pd.Series, before: pd.Series,
                 tz: str, calendar: Any) -> float:
    """p-value of the change of one headline metric between two months."""
    if metric in ("nps", "csat", "ces"):
        s = ds.surveys[ds.surveys["type"] == metric]
        m = month_labels(s["submitted_at"], tz)
        return float(compare_periods(s.loc[m == prev, "score"], s.loc[m == month, "score"], metric=metric,
                                     scale=ds.scales[metric])["p_value"])
    if metric in _RATES:
        x1, x2 = np.round(before["value"] * before["n"] / 100.0), np.round(now["value"] * now["n"] / 100.0)
        return float(two_proportion_z(x1, before["n"], x2, now["n"])[1])
    if metric == "tickets":
        k1, k2 = int(before["value"]), int(now["value"])
        return float(_st.binomtest(k2, k1 + k2, 0.5).pvalue) if k1 + k2 else float("nan")
    tickets = ds.tickets[month_labels(ds.tickets["created_at"], tz).isin([prev, month]).to_numpy()]
    hours = _DURATIONS[metric](tickets, calendar=calendar)
    created = month_labels(tickets.set_index("ticket_id")["created_at"], tz).reindex(hours.index)
    a, b = hours[created == prev].dropna(), hours[created == month].dropna()
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    return float(_st.mannwhitneyu(a, b, alternative="two-sided").pvalue)


def headline_kpis(ds: Dataset, month: str, tz: str = "UTC", calendar: Any = None,
                  sla: Mapping[str, Mapping[str, float]] | None = None,
                  table: pd.DataFrame | None = None) -> pd.DataFrame:
    """The headline KPIs of ``month`` with interval, ``n``, change and its p-value.

    Parameters
    ----------
    ds : Dataset
    month : str
        ``'YYYY-MM'`` in time zone ``tz``.
    tz, calendar, sla
        As in :func:`slm_lib.metrics.table.metric_table`.
    table : DataFrame, optional
        A precomputed ``metric_table(ds, freq="M", tz=tz, calendar=calendar, sla=sla)``.

    Returns
    -------
    pandas.DataFrame
        One row per metric of :data:`HEADLINE`: ``metric, label, unit, value, ci_low,
        ci_high, n, previous, delta, p_value, significant, assessment`` where
        ``assessment`` is ``"better"``, ``"worse"``, ``"no clear change"`` or ``"new"``.

    Examples
    --------
    >>> import slm_lib.synth as synth
    >>> k = headline_kpis(synth.generate(customers=300, months=3, seed=1), "2025-01")
    >>> bool(k.set_index("metric").loc["nps", "n"] > 0)
    True
    """
    check_month(month)
    months = data_months(ds, tz)
    if month not in months:
        raise InsufficientDataError(f"no tickets or surveys in {month} (time zone {tz}); "
                                    f"data cover {', '.join(months[:1] + months[-1:]) or 'nothing'}")
    prev = previous_month(month)
    if table is None:
        table = metric_table(ds, freq="M", tz=tz, calendar=calendar, sla=sla)
    overall = table.set_index(["period", "metric"])
    rows = []
    for metric, (label, unit, _) in HEADLINE.items():
        if (month, metric) not in overall.index:
            continue
        now = overall.loc[(month, metric)]
        before = overall.loc[(prev, metric)] if (prev, metric) in overall.index else None
        unit = unit.format(low=ds.scales["ces"][0], high=ds.scales["ces"][1])
        rows.append({"metric": metric, "label": label, "unit": unit, "value": now["value"], "ci_low": now["ci_low"],
                     "ci_high": now["ci_high"], "n": int(now["n"]),
                     "previous": np.nan if before is None else before["value"],
                     "delta": np.nan if before is None else now["value"] - before["value"],
                     "p_value": np.nan if before is None else _change_test(ds, metric, month, prev, now, before, tz,
                                                                           calendar)})
    kpis = pd.DataFrame(rows, columns=KPI_COLUMNS)
    return _judge(kpis)


def _judge(kpis: pd.DataFrame) -> pd.DataFrame:
    """Holm-adjusted p-values over the month's tests, significance and better/worse.

    Ten figures tested at 5% would flag one change by chance every other month; Holm's
    step-down adjustment keeps the chance of any false alarm in the month at 5%.
    """
    tested = kpis["p_value"].notna() & np.isfinite(kpis["p_value"])
    adjusted = pd.Series(holm_adjusted(kpis["p_value"].to_numpy(dtype=float)), index=kpis.index)
    direction = kpis["metric"].map({m: d for m, (_, _, d) in HEADLINE.items()}).fillna(0)
    significant = adjusted < 1.0 - CONFIDENCE
    better = np.sign(kpis["delta"]) == direction
    assessment = np.select([~tested, ~significant, direction == 0, better],
                           ["new", "no clear change", np.where(kpis["delta"] > 0, "up", "down"), "better"], "worse")
    return kpis.assign(p_adjusted=adjusted, significant=significant.to_numpy(bool), assessment=assessment)


def _num(x: float, unit: str) -> str:
    return f"{x:,.0f}" if unit == "tickets" else f"{x:.1f}"


def kpi_sentence(row: Mapping[str, Any]) -> str:
    """One plain-words sentence for one row of :func:`headline_kpis`.

    Examples
    --------
    >>> kpi_sentence({"label": "NPS", "unit": "points", "value": 31.0, "ci_low": 26.0,
    ...     "ci_high": 36.0, "n": 410, "previous": 38.5, "delta": -7.5, "p_value": 0.03,
    ...     "significant": True, "assessment": "worse"})
    'NPS fell from 38.5 to 31.0 points (95% CI 26.0 to 36.0, n = 410): worse, and unlikely to be noise (p = 0.03).'
    """
    unit = "" if row["unit"] == "tickets" else (row["unit"] if row["unit"] == "%" else f" {row['unit']}")
    value = f"{_num(row['value'], row['unit'])}{unit}"
    ci = (f"95% CI {_num(row['ci_low'], row['unit'])} to {_num(row['ci_high'], row['unit'])}, "
          if np.isfinite(row["ci_low"]) and np.isfinite(row["ci_high"]) else "")
    where = f"({ci}n = {row['n']:,})"
    if not np.isfinite(row["previous"]):
        return f"{row['label']} was {value} {where}; no previous month to compare with."
    verb = "rose" if row["delta"] > 0 else "fell" if row["delta"] < 0 else "stayed"
    change = f"{row['label']} {verb} from {_num(row['previous'], row['unit'])} to {value} {where}"
    p_adj = row.get("p_adjusted", row["p_value"])
    p = (f"p = {p_adj:.2g}" if p_adj >= 0.001 else "p < 0.001") + (
        " adjusted for the month's comparisons" if "p_adjusted" in row else "")
    if row["significant"]:
        judged = f"{row['assessment']}, and " if row["assessment"] in ("better", "worse") else ""
        return f"{change}: {judged}unlikely to be noise ({p})."
    if "p_adjusted" in row and row["p_value"] < 1.0 - CONFIDENCE:
        raw = f"{row['p_value']:.2g}" if row["p_value"] >= 0.001 else "< 0.001"
        return f"{change}: a signal to watch, not yet clear (p = {raw} on its own; {p})."
    return f"{change}: within normal month-to-month variation ({p})."


def kpi_sentences(kpis: pd.DataFrame, only_significant: bool = False) -> list[str]:
    """Sentences for every KPI (or only the significant changes), clear changes first."""
    ordered = kpis.sort_values("p_value", na_position="last")
    if only_significant:
        ordered = ordered[ordered["significant"]]
    return [kpi_sentence(r) for r in ordered.to_dict("records")]


def verbatim_comments(ds: Dataset, month: str, tz: str = "UTC", n: int = 10,
                      types: tuple[str, ...] = ("nps", "csat", "ces")) -> pd.DataFrame:
    """The month's survey comments, least satisfied first, with personal data masked.

    E-mail addresses and phone numbers are masked (:func:`slm_lib.text.mask_pii`); the text
    is otherwise verbatim, so display it through an escaping renderer (pandas' HTML
    display escapes; :func:`slm_lib.text.safe_comments` does both steps for raw HTML).
    Scores are compared across survey types on their scale (0 = worst, 1 = best; CES is
    reversed because lower effort is better); ties go to the most recent comment.

    Returns
    -------
    pandas.DataFrame
        ``submitted, type, score, channel, comment``, at most ``n`` rows.

    Examples
    --------
    >>> import slm_lib.synth as synth
    >>> c = verbatim_comments(synth.generate(customers=300, months=2, seed=3), "2024-12", n=3)
    >>> list(c.columns)
    ['submitted', 'type', 'score', 'channel', 'comment']
    """
    s = ds.surveys
    s = s[s["type"].isin(types) & s["comment"].notna() & (month_labels(s["submitted_at"], tz) == month)]
    low = s["type"].map({t: lo for t, (lo, _) in ds.scales.items()}).astype(float)
    high = s["type"].map({t: hi for t, (_, hi) in ds.scales.items()}).astype(float)
    satisfaction = (s["score"] - low) / (high - low)
    satisfaction = satisfaction.where(s["type"] != "ces", 1.0 - satisfaction)
    channel = s["ticket_id"].map(ds.tickets.set_index("ticket_id")["channel"])
    out = pd.DataFrame({"submitted": s["submitted_at"].dt.tz_convert(tz).dt.strftime("%Y-%m-%d"),
                        "type": s["type"].str.upper(), "score": s["score"], "channel": channel.fillna("-"),
                        "comment": mask_pii_series(s["comment"]), "_rank": satisfaction,
                        "_when": s["submitted_at"]})
    out = out.sort_values(["_rank", "_when"], ascending=[True, False], kind="stable").head(n)
    return out.drop(columns=["_rank", "_when"]).reset_index(drop=True)


#: What a service director can do when a KPI got clearly worse (SPEC §1: "what to do").
ACTIONS: dict[str, str] = {
    "nps": "read this month's detractor comments (Experience trends) and check which channel or segment moved",
    "csat": "look at the delivery-gap table (Service operations): a team meeting SLAs with low CSAT needs coaching, not speed",
    "ces": "review the categories with many replies and reopens: customers had to work harder to get help",
    "frt_median": "check staffing against arrivals by weekday and hour; first response is the strongest churn driver we track",
    "resolution_median": "review the oldest open tickets and hand-offs between teams",
    "sla_first_response": "rebalance queues or add cover for the priorities that breached (Service operations, SLA table)",
    "sla_resolution": "review escalation paths for the priorities that breached",
    "fcr": "look at categories that need several replies; a better first answer saves a contact",
    "reopen_rate": "sample reopened tickets: closing too early costs satisfaction later",
}


def suggested_actions(kpis: pd.DataFrame) -> list[str]:
    """One action per KPI that got clearly worse (significant change in the bad direction).

    Examples
    --------
    >>> k = pd.DataFrame({"metric": ["fcr"], "label": ["First contact resolution"], "assessment": ["worse"]})
    >>> suggested_actions(k)[0].startswith("First contact resolution got worse")
    True
    """
    worse = kpis[kpis["assessment"] == "worse"]
    return [f"{r.label} got worse: {ACTIONS[r.metric]}." for r in worse.itertuples() if r.metric in ACTIONS]


def findings_markdown(kpis: pd.DataFrame, month: str) -> str:
    """Markdown for the top of the monthly report: clear changes, changes to watch, then actions."""
    clear = kpi_sentences(kpis, only_significant=True)
    lines = [f"**{month}: {len(clear)} of {len(kpis)} headline figures changed more than chance would explain** "
             "(Holm-adjusted p < 0.05 over the month's comparisons).", ""]
    lines += [f"- {s}" for s in clear] or ["- No headline figure moved beyond month-to-month noise."]
    watch = kpis[(kpis["p_value"] < 1.0 - CONFIDENCE) & ~kpis["significant"]]
    if len(watch):
        lines += ["", "**To watch**: these would count as real changes on their own (p < 0.05) but not once the "
                      "month's comparisons are taken together; if they persist next month, they are real.", ""]
        lines += [f"- {kpi_sentence(r)}" for r in watch.sort_values("p_value").to_dict("records")]
    actions = suggested_actions(kpis)
    if actions:
        lines += ["", "**What to do**", ""] + [f"- {a}" for a in actions]
    return "\n".join(lines)


def kpi_display(kpis: pd.DataFrame) -> pd.DataFrame:
    """The KPI table as a reader sees it (indexed by KPI): rounded, intervals as text, change with its p-values."""
    ci = kpis["ci_low"].round(1).astype(str) + " to " + kpis["ci_high"].round(1).astype(str)
    fmt = lambda v: "" if pd.isna(v) else ("< 0.001" if v < 0.001 else f"{v:.3f}")  # noqa: E731
    return pd.DataFrame({"KPI": kpis["label"], "unit": kpis["unit"], "value": kpis["value"].round(1),
                         "95% CI": ci, "n": kpis["n"], "previous": kpis["previous"].round(1),
                         "change": kpis["delta"].round(1), "p": kpis["p_value"].map(fmt),
                         "p (adjusted)": kpis["p_adjusted"].map(fmt), "assessment": kpis["assessment"]}).set_index("KPI")


def recent_periods(table: pd.DataFrame, month: str, months_back: int = 12) -> pd.DataFrame:
    """Rows of a monthly metric table in the ``months_back`` months up to and including ``month``.

    Examples
    --------
    >>> t = pd.DataFrame({"period": ["2026-08", "2026-09", "2026-10", "2026-11"]})
    >>> recent_periods(t, "2026-10", 2)["period"].tolist()
    ['2026-09', '2026-10']
    """
    last = check_month(month)
    first = last - (months_back - 1)
    keep = (table["period"] >= str(first)) & (table["period"] <= str(last))
    return table[keep].reset_index(drop=True)
