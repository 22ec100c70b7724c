"""Helpers that keep report notebooks thin and robust on small or partial real data.

``import slm_lib.nb as nb``: :func:`report_data` loads what a month's report may see (the
data up to the end of that month, nothing later), :func:`attempt` and :func:`bullets` keep
sections robust and readable, and the display helpers of the monthly summary
(:func:`kpi_display`, :func:`findings_markdown`, :func:`kpi_sentences`,
:func:`suggested_actions`, :func:`recent_periods`, :func:`verbatim_comments`) are here too.
The analysis itself is ``slm_lib.*`` (SPEC §9).

A monthly report must not die because one section has nothing to show (no CES survey in an
import, too few churn events for a model): :func:`attempt` runs one step and, when the
library refuses it with a clear :class:`~slm_lib.errors.SlmError`, returns an
:class:`Unavailable` note that displays as "<what> not shown: <reason>" and absorbs the
steps that build on it, so the rest of the notebook still runs. Programming errors are not
caught. :func:`bullets` shows sentences as a Markdown list.
"""
from __future__ import annotations

import html
import os
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

import pandas as pd

from slm_lib.config import CONFIDENCE, csat_cutoffs
from slm_lib.errors import SlmError
from slm_lib.io.dataset import Dataset
from slm_lib.io.load import load_data
from slm_lib.models.churn import default_churn_drivers
from slm_lib.periods import check_month, month_bounds, month_labels, utc_instant
from slm_lib.summary import data_months, kpi_sentence, kpi_sentences, month_comments, month_subset, select_segment
from slm_lib.text import mask_pii_series
from slm_lib.wording import format_kpi, format_p

__all__ = ["report_data", "coverage_note", "attempt", "bullets", "churn_drivers", "Captioned", "Unavailable", "data_months", "findings_markdown", "kpi_display",
           "kpi_sentences", "month_comments", "month_subset", "recent_periods", "scale_note", "score_bands", "select_segment", "staffing_table", "suggested_actions",
           "verbatim_comments"]


def report_data(data: str | os.PathLike | Dataset, month: str, segment: str | None = "", tz: str = "UTC",
                as_of: object = None, now: object = None, engine: str = "pandas") -> Dataset:
    """What the report of ``month`` may see: the data (of one segment) as observed at the end of the month.

    Every figure of month M's report is computed from this, so the report of a finished
    month M is the same whether it runs the day after M ends or years later on data that
    run on: tickets, surveys, signups and payments after M do not exist yet, and
    responses, resolutions and churn after M have not happened yet (:meth:`Dataset.until`;
    one limit: without ``ticket_events``, a ticket reopened after M and solved again has
    no record of its solve in M, and counts as open — the data-quality table counts them).
    SLA clocks, cohorts and monthly panels end at the end of M (``ds.as_of``).

    Data that end inside M (an export taken mid-month) are cut where they end: at
    ``as_of`` when the export time is known, else at the latest timestamp in the data,
    and never after ``now``. :func:`coverage_note` says so in the report.

    Parameters
    ----------
    data : str, path-like or Dataset
        A data directory (loaded with ``errors="drop"``: problems go to ``quality``) or a Dataset.
    month : str
        ``'YYYY-MM'``, a calendar month in ``tz``.
    segment : str, optional
        Keep one customer segment (empty or None: all customers).
    tz : str
        Time zone of the report's calendar.
    as_of : timestamp, optional
        When the data were exported (``Dataset.as_of``); default what the data say (a
        Dataset's own ``as_of``, else its latest timestamp).
    now : timestamp, optional
        The current instant (default the clock; for tests of an unfinished month).
    engine : {"pandas", "duckdb", "spark"}
        Where a data directory is read: in memory, or lazily on an engine
        (:func:`slm_lib.engines.open_dataset`, for data larger than memory); the cut at
        the end of the month and the segment are then filters on the engine
        (:meth:`slm_lib.engines.LazyDataset.until`).

    Examples
    --------
    >>> import slm_lib.synth as synth
    >>> ds = report_data(synth.generate(customers=300, months=3, seed=1), "2024-12")
    >>> str(ds.as_of), str(ds.tickets["created_at"].max() < ds.as_of)
    ('2025-01-01 00:00:00+00:00', 'True')
    """
    ds = load_data(data, errors="drop", engine=engine) if isinstance(data, (str, os.PathLike)) else data
    ds = select_segment(ds if as_of is None else replace(ds, as_of=utc_instant(as_of, "as_of")), segment or None)
    end = month_bounds(month, tz)[1]
    now = pd.Timestamp.now(tz="UTC") if now is None else utc_instant(now, "now")
    stop, observed = min(end, now), ds.observation_end()
    if observed < stop:  # the data end first: keep everything they hold, the last instant included
        stop = observed + pd.Timedelta(1, "ns")
    return ds.until(stop)


def coverage_note(ds: Dataset, month: str, tz: str = "UTC") -> str:
    """A Markdown warning when the data end more than a day before the end of ``month`` (else empty).

    An export taken at the month's end stops at its last event, minutes before midnight:
    that month is complete for every purpose.

    Examples
    --------
    >>> print(coverage_note(Dataset(as_of="2026-10-11T12:00"), "2026-10").strip())
    **Partial month:** the data end on 2026-10-11 12:00 (UTC), so 2026-10 is covered for 10.5 of its 31 days; its counts are not comparable with whole months yet, and tickets still open are judged at that instant.
    """
    start, end = month_bounds(month, tz)
    observed = ds.observation_end()
    if observed >= end - pd.Timedelta(days=1):
        return ""
    covered = max((observed - start) / pd.Timedelta(days=1), 0.0)
    days = (end - start) / pd.Timedelta(days=1)
    return (f"**Partial month:** the data end on {observed.tz_convert(tz):%Y-%m-%d %H:%M} ({tz}), so {month} is "
            f"covered for {covered:.1f} of its {days:.0f} days; its counts are not comparable with whole months "
            "yet, and tickets still open are judged at that instant.\n\n")


class Unavailable:
    """A section that could not be computed; every step built on it is unavailable too.

    Examples
    --------
    >>> u = Unavailable("Churn model", "too few churn events (3) for 5 terms")
    >>> u.sentences() is u, u.table["role"] is u, list(u)
    (True, True, [])
    >>> u._repr_html_()
    '<blockquote><b>Churn model not shown:</b> too few churn events (3) for 5 terms</blockquote>'
    >>> u._repr_html_()   # the steps built on it stay silent: one note per failure
    ''
    """

    def __init__(self, what: str, reason: str) -> None:
        self.what, self.reason, self._shown = what, reason, False

    def __getattr__(self, name: str) -> "Unavailable":
        if name.startswith("_"):  # IPython display hooks and private names are not absorbed
            raise AttributeError(name)
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> "Unavailable":
        return self

    def __getitem__(self, key: Any) -> "Unavailable":
        return self

    def __iter__(self):
        return iter(())

    def __len__(self) -> int:
        return 0

    def _repr_html_(self) -> str:
        if self._shown:
            return ""
        self._shown = True
        return f"<blockquote><b>{html.escape(self.what)} not shown:</b> {html.escape(self.reason)}</blockquote>"

    def __repr__(self) -> str:
        return f"{self.what} not shown: {self.reason}"


def attempt(func: Callable[..., Any], *args: Any, what: str = "This result", **kwargs: Any) -> Any:
    """``func(*args, **kwargs)``, or an :class:`Unavailable` note when the library refuses it.

    An argument that is already :class:`Unavailable` is passed on without calling ``func``.

    Examples
    --------
    >>> from slm_lib.metrics.survey import nps
    >>> attempt(nps, [10, 10, 0, 8])
    25.0
    >>> attempt(nps, [], what="NPS")
    NPS not shown: nps: no non-missing scores to compute it from
    """
    for value in (*args, *kwargs.values()):
        if isinstance(value, Unavailable):
            return value
    try:
        return func(*args, **kwargs)
    except SlmError as err:
        return Unavailable(what, " ".join(str(err).split()))


class Bullets:
    """Sentences shown as a Markdown list (nothing when there are none)."""

    def __init__(self, lines: Iterable[str]) -> None:
        self.lines = list(lines)

    def _repr_html_(self) -> str:
        items = "".join(f"<li>{html.escape(line)}</li>" for line in self.lines)
        return f"<ul>{items}</ul>" if items else ""

    def __repr__(self) -> str:
        return "\n".join(f"- {line}" for line in self.lines)


def bullets(lines: Iterable[str] | Unavailable) -> Bullets | Unavailable:
    """Show sentences as a Markdown bullet list (an :class:`Unavailable` note shows as itself).

    Examples
    --------
    >>> bullets(["NPS rose.", "CSAT fell."])
    - NPS rose.
    - CSAT fell.
    """
    return lines if isinstance(lines, Unavailable) else Bullets(lines)


class Captioned:
    """A table shown with a caption above it (HTML escaped; plain text in a console)."""

    def __init__(self, table: pd.DataFrame, caption: str) -> None:
        self.table, self.caption = table, caption

    def _repr_html_(self) -> str:
        return self.table.to_html().replace(">", f">\n<caption>{html.escape(self.caption)}</caption>", 1)

    def __repr__(self) -> str:
        return f"{self.caption}\n{self.table}"


def staffing_table(staff: pd.DataFrame, periods: int = 14) -> Captioned:
    """Agents needed in the first ``periods`` periods, one column per group, captioned with the model's assumptions.

    ``staff`` is :func:`slm_lib.forecast.staffing.erlang_c_staffing` of a forecast indexed by
    ``period`` and one group column (:meth:`slm_lib.forecast.volume.VolumeForecast.ahead`).

    Examples
    --------
    >>> from slm_lib.forecast.staffing import erlang_c_staffing
    >>> ahead = pd.Series([100.0, 40.0], index=pd.MultiIndex.from_tuples([("2026-11-01", "phone"), ("2026-11-01", "chat")],
    ...                   names=["period", "channel"]))
    >>> t = staffing_table(erlang_c_staffing(ahead, handle_time_s=420, period_s=8 * 3600))
    >>> t.table.to_dict("index"), t.caption.startswith("Erlang C")
    ({'2026-11-01': {'chat': 2, 'phone': 3}}, True)
    """
    groups = [name for name in staff.index.names if name != "period"]
    agents = staff["agents"].unstack(groups[0]) if groups else staff["agents"].to_frame()
    return Captioned(agents.head(periods), str(staff["model"].iloc[0]))


# ----------------------------------------------------------------------------- the monthly summary's display
def verbatim_comments(ds: Dataset, month: str, tz: str = "UTC", n: int = 10,
                      types: tuple[str, ...] = ("nps", "csat", "ces")) -> pd.DataFrame:
    """The month's survey comments, least satisfied first, with personal data masked.

    E-mail addresses, IBANs, card and phone numbers are masked
    (:func:`slm_lib.text.mask_pii`), only in the ``n`` comments shown; the text is otherwise
    verbatim, so display it through an escaping renderer (pandas' HTML
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
    part = getattr(ds, "engine_collect_window", None)
    if part is not None:  # on an engine: only the month's rows come back
        ds = part(*month_bounds(month, tz))
    s = ds.surveys
    s = s[s["type"].isin(types) & s["comment"].notna() & (month_labels(s["submitted_at"], tz) == month)]
    low = s["type"].map({t: lo for t, (lo, _) in ds.scales.items()}).astype(float)
    high = s["type"].map({t: hi for t, (_, hi) in ds.scales.items()}).astype(float)
    satisfaction = (s["score"] - low) / (high - low)
    satisfaction = satisfaction.where(s["type"] != "ces", 1.0 - satisfaction)
    channel = s["ticket_id"].map(ds.tickets.set_index("ticket_id")["channel"])
    out = pd.DataFrame({"submitted": s["submitted_at"].dt.tz_convert(tz).dt.strftime("%Y-%m-%d"),
                        "type": s["type"].str.upper(), "score": s["score"], "channel": channel.fillna("-"),
                        "comment": s["comment"], "_rank": satisfaction, "_when": s["submitted_at"]})
    out = out.sort_values(["_rank", "_when"], ascending=[True, False], kind="stable").head(n)
    out["comment"] = mask_pii_series(out["comment"])
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
    """The KPI table as a reader sees it (indexed by KPI): figures as text (counts whole, the rest to 0.1),
    intervals as text, change with its p-values.

    Examples
    --------
    >>> k = pd.DataFrame({"label": ["Tickets created"], "unit": ["tickets"], "value": [1725.0], "ci_low": [1644.5],
    ...     "ci_high": [1808.4], "n": [1725], "previous": [1662.0], "delta": [63.0], "p_value": [0.9],
    ...     "p_adjusted": [1.0], "assessment": ["no clear change"]})
    >>> kpi_display(k).iloc[0, [0, 1, 2, 4, 5]].tolist()
    ['tickets', '1,725', '1,644 to 1,808', '1,662', '+63']
    """
    def shown(column: str, signed: bool = False) -> list[str]:
        return [format_kpi(v, u, signed) for v, u in zip(kpis[column], kpis["unit"])]

    ci = [f"{lo} to {hi}" for lo, hi in zip(shown("ci_low"), shown("ci_high"))]
    fmt = lambda v: format_p(v, bare=True)  # noqa: E731
    return pd.DataFrame({"KPI": kpis["label"], "unit": kpis["unit"], "value": shown("value"),
                         "95% CI": ci, "n": kpis["n"], "previous": shown("previous"),
                         "change": shown("delta", signed=True), "p": kpis["p_value"].map(fmt),
                         "p (adjusted)": kpis["p_adjusted"].map(fmt), "assessment": kpis["assessment"]}).set_index("KPI")


def score_bands(values: pd.Series, scale: tuple[int, int]) -> pd.Series:
    """Mean scores binned to the nearest answer of their scale, the answers below its middle merged.

    On 1-5: ``1-2``, ``3``, ``4``, ``5`` (bins (0, 2.5], (2.5, 3.5], (3.5, 4.5], (4.5, 5]); on
    1-7: ``1-3``, ``4`` ... ``7``. Missing means stay missing.

    Examples
    --------
    >>> score_bands(pd.Series([1.5, 3.0, 4.6, 6.0]), (1, 7)).astype(str).tolist()
    ['1-3', '1-3', '5', '6']
    >>> score_bands(pd.Series([2.5, 2.6, 5.0]), (1, 5)).astype(str).tolist()
    ['1-2', '3', '5']
    """
    low, high = scale
    neutral = csat_cutoffs(scale)[1]
    middle = neutral if neutral is not None else (low + high) // 2
    points = list(range(middle, high + 1))
    edges = [low - 1] + [p - 0.5 for p in points] + [high]
    bottom = f"{low}-{middle - 1}" if middle - 1 > low else str(low)
    return pd.cut(values, edges, labels=[bottom] + [str(p) for p in points])


def scale_note(ds: Dataset) -> str:
    """How to read the survey figures on the data's own scales (Markdown), for the KPI table.

    Examples
    --------
    >>> scale_note(Dataset(scales={"csat": (1, 7)}))
    'NPS runs from -100 to 100; CSAT is the share of 6-7 answers on a 1-7 scale; CES is effort on a 1-7 scale (lower is better); times are calendar hours.'
    """
    (c_low, c_high), (e_low, e_high) = ds.scales["csat"], ds.scales["ces"]
    top2 = csat_cutoffs((c_low, c_high))[0]
    return (f"NPS runs from -100 to 100; CSAT is the share of {top2}-{c_high} answers on a {c_low}-{c_high} scale; "
            f"CES is effort on a {e_low}-{e_high} scale (lower is better); times are calendar hours.")


def recent_periods(table: pd.DataFrame, month: str, months_back: int = 12) -> pd.DataFrame:
    """Rows of a table by month (or by day: labels ``YYYY-MM-DD``) in the ``months_back`` months up to ``month``.

    Examples
    --------
    >>> t = pd.DataFrame({"period": ["2026-08", "2026-09", "2026-10", "2026-11"]})
    >>> recent_periods(t, "2026-10", 2)["period"].tolist()
    ['2026-09', '2026-10']
    >>> recent_periods(pd.DataFrame({"period": ["2026-08-31", "2026-09-01", "2026-10-31", "2026-11-01"]}),
    ...                "2026-10", 2)["period"].tolist()
    ['2026-09-01', '2026-10-31']
    """
    last = check_month(month)
    first = last - (months_back - 1)
    of_month = table["period"].astype("str").str[:7]
    keep = (of_month >= str(first)) & (of_month <= str(last))
    return table[keep].reset_index(drop=True)


churn_drivers = default_churn_drivers   # the retention models' drivers and units (slm_lib.models.churn)
