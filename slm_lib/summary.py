"""Headline KPIs of one month against the previous one, and plain-words findings.

The monthly summary notebook and the report index show these: each KPI with its 95%
interval, ``n``, the change against the previous month and the p-value of a test of that
change (two-sample z for NPS and CSAT and every rate, Welch t for CES, Mann–Whitney for
median durations (per ticket, the same tickets the median counts), and for the ticket count an exact conditional test of the two months' daily
rates: a 31-day month at the same daily volume as a 28-day one is no change).
The same machinery reports the conversation's figures from ticket events
(:data:`LIFECYCLE_KPIS`: waits, holds, next replies, one-touch tickets, handoffs) as a
family of their own.
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
from slm_lib.io.dataset import Dataset, months_in_memory
from slm_lib.metrics.lifecycle import ticket_lifecycle
from slm_lib.metrics.lifecycle_table import LIFECYCLE_MEDIANS
from slm_lib.metrics.sla import tickets_as_of
from slm_lib.metrics.survey import compare_periods
from slm_lib.metrics.table import metric_table
from slm_lib.metrics.tickets import first_response_time, resolution_time
from slm_lib.periods import check_month, month_bounds, month_labels, month_starts, observed_days, previous_month
from slm_lib.stats import holm_adjusted, poisson_rates_test, two_proportion_z
from slm_lib.wording import NOT_TESTABLE, format_kpi, format_p

#: metric -> (label, unit, direction): direction +1 when higher is better, -1 when lower is
#: better, 0 when neither (volume).
HEADLINE: dict[str, tuple[str, str, int]] = {
    "nps": ("NPS", "points", +1),
    "csat": ("CSAT", "%", +1),
    "ces": ("CES", "on a {low}-{high} scale", -1),   # the data set's CES scale
    "tickets": ("Tickets created", "tickets", 0),
    "frt_median": ("Median first response", "h", -1),
    "resolution_median": ("Median resolution time", "h", -1),
    "sla_first_response": ("First-response SLA met", "%", +1),
    "sla_resolution": ("Resolution SLA met", "%", +1),
    "fcr": ("First contact resolution", "%", +1),
    "reopen_rate": ("Reopen rate", "%", -1),
}
#: The conversation's figures (metric_table rows from ticket events), same shape as :data:`HEADLINE`.
LIFECYCLE_KPIS: dict[str, tuple[str, str, int]] = {
    "requester_wait_median": ("Median requester wait", "h", -1),
    "agent_wait_median": ("Median wait on the customer", "h", 0),
    "on_hold_median": ("Median time on hold", "h", -1),
    "next_reply_median": ("Median next reply", "h", -1),
    "full_resolution_median": ("Median full resolution", "h", -1),
    "one_touch_rate": ("One-touch tickets", "%", +1),
    "handoff_rate": ("Tickets handed off", "%", -1),
}
_DIRECTION = {m: d for m, (_, _, d) in (HEADLINE | LIFECYCLE_KPIS).items()}
_RATES = ("csat", "sla_first_response", "sla_resolution", "fcr", "reopen_rate", "one_touch_rate", "handoff_rate")
_DURATIONS = {"frt_median": first_response_time, "resolution_median": resolution_time}
KPI_COLUMNS = ["metric", "label", "unit", "value", "ci_low", "ci_high", "n", "previous", "n_previous", "delta",
               "p_value", "test_note", "p_adjusted", "significant", "assessment", "per_day", "previous_per_day"]
#: What each headline metric's ``n`` counts (one, several), for "the previous month had 1 CES answer".
_COUNTED: dict[str, tuple[str, str]] = {
    "nps": ("NPS answer", "NPS answers"), "csat": ("CSAT answer", "CSAT answers"),
    "ces": ("CES answer", "CES answers"), "tickets": ("ticket", "tickets"),
    "frt_median": ("ticket with a first response", "tickets with a first response"),
    "resolution_median": ("resolved ticket", "resolved tickets"),
    "sla_first_response": ("ticket judged against its first-response SLA",
                           "tickets judged against their first-response SLA"),
    "sla_resolution": ("ticket judged against its resolution SLA", "tickets judged against their resolution SLA"),
    "fcr": ("resolved ticket", "resolved tickets"), "reopen_rate": ("resolved ticket", "resolved tickets"),
    **{m: ("solved ticket", "solved tickets") for m in (*LIFECYCLE_MEDIANS, "one_touch_rate", "handoff_rate")},
    "next_reply_median": ("ticket with an answered next reply", "tickets with an answered next reply"),
}
#: Observations each month needs for the change test; the Welch t test of CES needs a standard deviation.
_TEST_MINIMUM: dict[str, tuple[int, str]] = {"ces": (2, "a Welch t test")}


def data_months(ds: Dataset, tz: str = "UTC") -> list[str]:
    """Sorted months (``'YYYY-MM'`` in ``tz``) in which tickets were created or surveys submitted.

    Examples
    --------
    >>> from slm_lib.schema import empty_frame
    >>> data_months(Dataset())
    []
    """
    hook = getattr(ds, "engine_data_months", None)
    if hook is not None:
        return hook(tz)
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
    hook = getattr(ds, "engine_select_segment", None)
    if hook is not None:
        return hook(segment)
    known = ds.customers["segment"].dropna().unique().tolist()
    if segment not in known:
        raise ConfigError(f"segment {segment!r} not found in customers.segment; segments are {sorted(known)}")
    ids = ds.customers.loc[ds.customers["segment"] == segment, "customer_id"]
    keep = {name: frame[frame["customer_id"].isin(ids)].reset_index(drop=True)
            for name, frame in ds.tables().items() if "customer_id" in frame.columns}
    events = ds.ticket_events
    keep["ticket_events"] = events[events["ticket_id"].isin(keep["tickets"]["ticket_id"])].reset_index(drop=True)
    return replace(ds, **keep)


def _months(month: str, months: int, tz: str, what: str) -> tuple[set[str], pd.Timestamp, pd.Timestamp]:
    """The ``months`` month labels ending with ``month`` and the instants bounding them in ``tz``."""
    last = check_month(month).ordinal
    if months < 1:
        raise ConfigError(f"{what}: months must be at least 1, not {months}")
    keep = {str(pd.Period(ordinal=o, freq="M")) for o in range(last - months + 1, last + 1)}
    return keep, month_starts(month, months, tz)[0], month_bounds(month, tz)[1]   # as io.dataset.months_in_memory


def month_subset(ds: Dataset, month: str, tz: str = "UTC", months: int = 1) -> Dataset:
    """Tickets created and surveys submitted in ``month`` (``tz``), or in the ``months`` months ending with it.

    The kept tickets keep their ticket events; customers and revenue stay as they are. Of
    data on an engine, the months' rows are collected (:func:`slm_lib.io.dataset.months_in_memory`:
    a small Dataset with the customers those rows name and no revenue).

    Examples
    --------
    >>> len(month_subset(Dataset(), "2026-10").tickets)
    0
    >>> t = pd.DataFrame({"ticket_id": ["T1", "T2", "T3"],
    ...                   "created_at": pd.to_datetime(["2026-08-31", "2026-09-01", "2026-10-31"], utc=True)})
    >>> len(month_subset(Dataset(tickets=t), "2026-10", months=2).tickets)
    2
    """
    keep = _months(month, months, tz, "month_subset")[0]
    ds = months_in_memory(ds, month, "month_subset", months, tz)
    tickets = ds.tickets[month_labels(ds.tickets["created_at"], tz).isin(keep)].reset_index(drop=True)
    surveys = ds.surveys[month_labels(ds.surveys["submitted_at"], tz).isin(keep)].reset_index(drop=True)
    events = ds.ticket_events[ds.ticket_events["ticket_id"].isin(tickets["ticket_id"])].reset_index(drop=True)
    return replace(ds, tickets=tickets, surveys=surveys, ticket_events=events)


def month_comments(ds: Dataset, month: str, tz: str = "UTC", months: int = 1) -> pd.DataFrame:
    """The survey answers with a comment submitted in ``month`` (``tz``), or in the ``months`` months ending with it.

    What :func:`slm_lib.voice.sentiment.sentiment_trend` reads (it scores comments only), so
    its trend of these months is the trend of all the data in them; on an engine only
    these rows are collected (:func:`slm_lib.engines.cut.window_comments`).

    Examples
    --------
    >>> s = pd.DataFrame({"response_id": ["R1", "R2", "R3"], "comment": ["ok", None, "slow"],
    ...                   "submitted_at": pd.to_datetime(["2026-08-31", "2026-09-01", "2026-10-31"], utc=True)})
    >>> month_comments(Dataset(surveys=s), "2026-10", months=2)["response_id"].tolist()
    ['R3']
    """
    keep, start, end = _months(month, months, tz, "month_comments")
    comments = getattr(ds, "engine_window_comments", None)
    if comments is not None:
        return comments(start, end)
    s = ds.surveys
    return s[month_labels(s["submitted_at"], tz).isin(keep) & s["comment"].notna()].reset_index(drop=True)


def _ticket_hours(ds: Dataset, metric: str, calendar: Any, as_of: Any) -> pd.Series:
    """Per ticket (index ticket_id), the hours the median ``metric`` of ``metric_table`` counts; NaN if it does not.

    Lifecycle medians count the tickets solved at ``as_of`` (next replies: each ticket's own
    median over its answered next replies), as :mod:`slm_lib.metrics.lifecycle_table` does.
    """
    if metric in _DURATIONS:
        return _DURATIONS[metric](ds.tickets, calendar=calendar)
    lc = ticket_lifecycle(ds, calendar=calendar, as_of=as_of).set_index("ticket_id")
    if metric == "next_reply_median":
        return lc["next_reply_h_median"].where(lc["next_reply_count"] > 0)
    return lc[f"{LIFECYCLE_MEDIANS[metric]}_h"].where(lc["status"].isin(["solved", "closed"]))


def _change_test(ds: Dataset, metric: str, month: str, prev: str, now: pd.Series, before: pd.Series,
                 tz: str, calendar: Any, days: tuple[float, float], as_of: Any) -> float:
    """p-value of the change of one headline metric between two months (``days`` observed in each)."""
    if metric in ("nps", "csat", "ces"):
        s = ds.surveys[ds.surveys["type"] == metric]
        m = month_labels(s["submitted_at"], tz)
        return float(compare_periods(s.loc[m == prev, "score"], s.loc[m == month, "score"], metric=metric,
                                     scale=ds.scales[metric])["p_value"])
    if metric in _RATES:
        x1, x2 = np.round(before["value"] * before["n"] / 100.0), np.round(now["value"] * now["n"] / 100.0)
        return float(two_proportion_z(x1, before["n"], x2, now["n"])[1])
    if metric == "tickets":
        return float(poisson_rates_test(before["value"], days[0], now["value"], days[1]))
    tickets = ds.tickets[month_labels(ds.tickets["created_at"], tz).isin([prev, month]).to_numpy()]
    events = ds.ticket_events[ds.ticket_events["ticket_id"].isin(tickets["ticket_id"]).to_numpy()]
    hours = _ticket_hours(replace(ds, tickets=tickets, ticket_events=events), metric, calendar, as_of)
    created = month_labels(tickets.set_index("ticket_id")["created_at"], tz).reindex(hours.index)
    a, b = hours[created == prev].dropna(), hours[created == month].dropna()
    if len(a) == 0 or len(b) == 0:
        return float("nan")
    return float(_st.mannwhitneyu(a, b, alternative="two-sided").pvalue)


def _untested_reason(metric: str, n_now: float, n_before: float) -> str:
    """Why the change of ``metric`` could not be tested, from each month's ``n``."""
    if not np.isfinite(n_before):
        return "no previous month"
    least, test = _TEST_MINIMUM.get(metric, (1, "the test"))
    one, many = _COUNTED.get(metric, ("observation", "observations"))
    short = [f"{when} had {int(n):,} {one if n == 1 else many}"
             for when, n in (("the previous month", n_before), ("this month", n_now)) if n < least]
    if not short:
        return "the test statistic is undefined for these data"
    return f"{' and '.join(short)}; {test} needs at least {least} in each month"


def headline_kpis(ds: Dataset, month: str, tz: str = "UTC", calendar: Any = None,
                  sla: Mapping[str, Mapping[str, float]] | None = None,
                  table: pd.DataFrame | None = None, as_of: Any = None,
                  metrics: Mapping[str, tuple[str, str, int]] | None = None) -> pd.DataFrame:
    """The headline KPIs of ``month`` with interval, ``n``, change and its p-value.

    The ticket count is compared per day: months differ in length, and the data may
    begin or end part-way through a month. Each month counts the days of it the ticket
    data cover, from the first ticket created to ``as_of`` (on the wall clock of ``tz``,
    :func:`slm_lib.periods.observed_days`). Ends read from the data fall on average one gap
    between tickets inside the true ones: about one ticket's worth of days, far below the
    count's own noise (its square root).

    Parameters
    ----------
    ds : Dataset
    month : str
        ``'YYYY-MM'`` in time zone ``tz``.
    tz, calendar, sla
        As in :func:`slm_lib.metrics.table.metric_table`.
    table : DataFrame, optional
        A precomputed ``metric_table(ds, freq="M", tz=tz, calendar=calendar, sla=sla, as_of=as_of)``.
    as_of : timestamp, optional
        When the data end (the export time); default ``ds.observation_end()``, the clock of
        the SLA figures (the end of the report month for :func:`slm_lib.nb.report_data`).
    metrics : mapping, optional
        ``{metric: (label, unit, direction)}`` to report instead of :data:`HEADLINE`, e.g.
        :data:`LIFECYCLE_KPIS`; the Holm adjustment runs over these.

    Returns
    -------
    pandas.DataFrame
        One row per metric of :data:`HEADLINE` (or ``metrics``) the table has: ``metric, label, unit, value, ci_low,
        ci_high, n, previous, delta, p_value, p_adjusted, significant, assessment,
        per_day, previous_per_day`` where ``assessment`` is ``"better"``, ``"worse"``,
        ``"no clear change"`` or ``"new"``, and ``per_day`` / ``previous_per_day`` are the
        tickets created per observed day (NaN for the other metrics).

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
        table = metric_table(ds, freq="M", tz=tz, calendar=calendar, sla=sla, as_of=as_of)
    overall = table.set_index(["period", "metric"])
    hook = getattr(ds, "engine_first_created", None)
    start = hook() if hook is not None else ds.tickets["created_at"].min()
    if pd.notna(start):
        end = tickets_as_of(ds, as_of)[1]
        days = (observed_days(prev, start, end, tz), observed_days(month, start, end, tz))
    else:
        days = (np.nan, np.nan)
    part = getattr(ds, "engine_collect_window", None)
    if part is not None:  # on an engine: the tests read the two months' rows only
        ds = part(month_bounds(prev, tz)[0], month_bounds(month, tz)[1])
    rows = []
    for metric, (label, unit, _) in (HEADLINE if metrics is None else metrics).items():
        if (month, metric) not in overall.index:
            continue
        now = overall.loc[(month, metric)]
        before = overall.loc[(prev, metric)] if (prev, metric) in overall.index else None
        unit = unit.format(low=ds.scales["ces"][0], high=ds.scales["ces"][1])
        per_day = metric == "tickets"
        rows.append({"metric": metric, "label": label, "unit": unit, "value": now["value"], "ci_low": now["ci_low"],
                     "ci_high": now["ci_high"], "n": int(now["n"]),
                     "previous": np.nan if before is None else before["value"],
                     "n_previous": np.nan if before is None else before["n"],
                     "delta": np.nan if before is None else now["value"] - before["value"],
                     "p_value": np.nan if before is None else _change_test(ds, metric, month, prev, now, before, tz,
                                                                           calendar, days, as_of),
                     "per_day": _per_day(now, days[1]) if per_day else np.nan,
                     "previous_per_day": _per_day(before, days[0]) if per_day else np.nan})
    kpis = pd.DataFrame(rows, columns=KPI_COLUMNS)
    untested = ~np.isfinite(kpis["p_value"].to_numpy(float))
    kpis["test_note"] = [_untested_reason(m, n, b) if u else ""
                         for m, n, b, u in zip(kpis["metric"], kpis["n"], kpis["n_previous"].astype(float), untested)]
    return _judge(kpis)


def _per_day(row: pd.Series | None, days: float) -> float:
    return float(row["value"]) / days if row is not None and days > 0 else float("nan")


def _judge(kpis: pd.DataFrame) -> pd.DataFrame:
    """Holm-adjusted p-values over the month's tests, significance and better/worse.

    Ten figures tested at 5% would flag one change by chance every other month; Holm's
    step-down adjustment keeps the chance of any false alarm in the month at 5%.
    """
    p_values = pd.to_numeric(kpis["p_value"], errors="coerce").astype(float)   # object dtype when no row
    tested = p_values.notna() & np.isfinite(p_values)
    adjusted = pd.Series(holm_adjusted(kpis["p_value"].to_numpy(dtype=float)), index=kpis.index)
    direction = kpis["metric"].map(_DIRECTION).fillna(0)
    significant = adjusted < 1.0 - CONFIDENCE
    better = np.sign(kpis["delta"]) == direction
    assessment = np.select([kpis["previous"].isna(), ~tested, ~significant, direction == 0, better],
                           ["new", NOT_TESTABLE, "no clear change", np.where(kpis["delta"] > 0, "up", "down"),
                            "better"], "worse")
    return kpis.assign(p_adjusted=adjusted, significant=significant.to_numpy(bool), assessment=assessment)


def kpi_sentence(row: Mapping[str, Any]) -> str:
    """One plain-words sentence for one row of :func:`headline_kpis`.

    Examples
    --------
    >>> kpi_sentence({"label": "NPS", "unit": "points", "value": 31.0, "ci_low": 26.0,
    ...     "ci_high": 36.0, "n": 410, "previous": 38.5, "delta": -7.5, "p_value": 0.03,
    ...     "significant": True, "assessment": "worse"})
    'NPS fell from 38.5 to 31.0 points (95% CI 26.0 to 36.0, n = 410): worse, and unlikely to be noise (p = 0.03).'

    The ticket count also gives its daily rates, which the test compares (months differ in length):

    >>> kpi_sentence({"label": "Tickets created", "unit": "tickets", "value": 3100.0, "ci_low": 2992.0,
    ...     "ci_high": 3211.0, "n": 3100, "previous": 2800.0, "delta": 300.0, "p_value": 1.0,
    ...     "significant": False, "assessment": "no clear change", "per_day": 100.0, "previous_per_day": 100.0})
    'Tickets created rose from 2,800 to 3,100 (95% CI 2,992 to 3,211, n = 3,100), 100.0 a day against 100.0: within normal month-to-month variation (p = 1).'

    No change at all reads as such:

    >>> kpi_sentence({"label": "Median time on hold", "unit": "h", "value": 0.0, "ci_low": 0.0, "ci_high": 0.0,
    ...     "n": 1480, "previous": 0.0, "delta": 0.0, "p_value": 0.34, "significant": False,
    ...     "assessment": "no clear change"})
    'Median time on hold stayed at 0.0 h (95% CI 0.0 to 0.0, n = 1,480): within normal month-to-month variation (p = 0.34).'
    """
    unit = "" if row["unit"] == "tickets" else (row["unit"] if row["unit"] == "%" else f" {row['unit']}")
    value = f"{format_kpi(row['value'], row['unit'])}{unit}"
    ci = (f"95% CI {format_kpi(row['ci_low'], row['unit'])} to {format_kpi(row['ci_high'], row['unit'])}, "
          if np.isfinite(row["ci_low"]) and np.isfinite(row["ci_high"]) else "")
    where = f"({ci}n = {row['n']:,})"
    if not np.isfinite(row["previous"]):
        return f"{row['label']} was {value} {where}; no previous month to compare with."
    if row["delta"] == 0:
        change = f"{row['label']} stayed at {value} {where}"
    else:
        verb = "rose" if row["delta"] > 0 else "fell"
        change = f"{row['label']} {verb} from {format_kpi(row['previous'], row['unit'])} to {value} {where}"
    if np.isfinite(row.get("per_day", np.nan)) and np.isfinite(row.get("previous_per_day", np.nan)):
        change += f", {row['per_day']:,.1f} a day against {row['previous_per_day']:,.1f}"
    if not np.isfinite(row["p_value"]):
        note = row.get("test_note") or ""
        return f"{change}: {NOT_TESTABLE}{', ' + note if note else ''}."
    p_adj = row.get("p_adjusted", row["p_value"])
    p = format_p(p_adj) + (" adjusted for the month's comparisons" if "p_adjusted" in row else "")
    if row["significant"]:
        judged = f"{row['assessment']}, and " if row["assessment"] in ("better", "worse") else ""
        return f"{change}: {judged}unlikely to be noise ({p})."
    if "p_adjusted" in row and row["p_value"] < 1.0 - CONFIDENCE:
        return f"{change}: a signal to watch, not yet clear ({format_p(row['p_value'])} on its own; {p})."
    return f"{change}: within normal month-to-month variation ({p})."


def kpi_sentences(kpis: pd.DataFrame, only_significant: bool = False) -> list[str]:
    """Sentences for every KPI (or only the significant changes), clear changes first."""
    ordered = kpis.sort_values("p_value", na_position="last")
    if only_significant:
        ordered = ordered[ordered["significant"]]
    return [kpi_sentence(r) for r in ordered.to_dict("records")]
