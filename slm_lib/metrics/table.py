"""Grouped metric tables: every SPEC §4 metric per period and group, tidy (SPEC §9).

Output columns: ``period, <by...>, metric, n, value, ci_low, ci_high, small_n``
(:func:`agent_table` has no ``period``). Conventions:

* Periods: survey metrics by ``submitted_at``, ticket metrics by ``created_at``, both
  converted to ``tz`` first. Labels are strings: ``"YYYY-MM"`` (freq ``"M"``),
  ``"YYYYQn"`` (``"Q"``), ``"YYYY"`` (``"Y"``), the Monday ``"YYYY-MM-DD"`` (``"W"``),
  ``"YYYY-MM-DD"`` (``"D"``).
* ``by``: columns of tickets (channel, priority, team, agent_id, category, ...) or of
  customers (segment, region, ...; joined via customer_id). Surveys take the value of the
  ticket they answer (via ticket_id), or of their customer for customer columns. A
  missing group value (e.g. a survey without ticket_id) is its own group with NaN label.
* Rows: ticket metrics for every group with at least one ticket, survey metrics for every
  group with at least one survey of that type; ``n`` may be 0 (value NaN), e.g. no
  resolved ticket yet. Rates are in percent (Wilson), means carry skewness-corrected t
  intervals (:func:`slm_lib.stats.mean_t_interval`), medians and p90 distribution-free
  order-statistic intervals, NPS the adjusted Wald interval with the SPEC §4 standard error
  (:func:`slm_lib.stats.nps_interval`).
  ``tickets``: value = n = the count, interval exact Poisson (Garwood).
* SLA rows use :mod:`slm_lib.metrics.sla` (``as_of`` default: the data set's
  :meth:`~slm_lib.io.dataset.Dataset.observation_end`); their ``n`` is achieved + breached.
* With ticket events (a Dataset whose ``ticket_events`` has rows) the table gains
  ``sla_next_reply``, ``sla_requester_wait`` (``sla_agent_work`` when targeted),
  ``requester_wait_median``, ``agent_wait_median``, ``on_hold_median``,
  ``full_resolution_median``, ``next_reply_median``, ``one_touch_rate`` and
  ``handoff_rate``, and ``reopen_rate`` is read from the events; definitions in
  :mod:`slm_lib.metrics.lifecycle_table`, all from one ticket lifecycle at ``as_of``, and
  the SLA clocks take the priority in force when each started. Without events these rows
  are absent.
* ``repeat_contact_rate``: solved tickets whose customer opened a new ticket (any channel)
  within ``repeat_days`` (default 7) after the solve, over solved tickets whose window
  ended by ``as_of`` (the honest first-contact resolution). Tickets solved less than
  ``repeat_days`` before ``as_of`` are censored and left out; with ticket events the solve
  is the ticket's last one in force at ``as_of`` (:mod:`slm_lib.metrics.contacts`). Like
  every ticket metric it belongs to the solved ticket's ``created_at`` period and group
  (``by="channel"``: the channel of the first contact); the next contact may fall in any
  period, so it needs the whole data set, not one month's subset. Wilson interval.
* CSAT thresholds come from the data set's CSAT scale (``Dataset.scales``): top-2-box and
  the middle point as neutral (:func:`slm_lib.config.csat_cutoffs`).
* ``small_n`` = n < ``min_n`` (default ``slm_lib.config.DEFAULT_MIN_N``).

Everything is computed with ``numpy.bincount`` over integer group codes and a linear-time
selection of the order statistics behind medians and p90s
(:func:`slm_lib.stats.grouped_quantiles`): no Python loop over groups or rows, no full sort.
The survey side (its hash join to the tickets) runs on a second thread beside the ticket
metrics; the numpy and Arrow kernels release the GIL.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np
import pandas as pd

from slm_lib.config import DEFAULT_MIN_N, NPS_DETRACTOR_MAX, NPS_PROMOTER_MIN, SCALES, csat_cutoffs
from slm_lib.errors import ConfigError
from slm_lib.metrics.contacts import REPEAT_DAYS, observation_end, repeat_flags
from slm_lib.metrics.grouping import by_codes, by_list, combine_codes
from slm_lib.metrics.lifecycle_table import EVENT_METRICS, lifecycle_group_metrics
from slm_lib.metrics.sla import ACHIEVED, BREACHED, event_sla_codes, sla_status_codes, tickets_as_of
from slm_lib.metrics.sla_events import events_lifecycle
from slm_lib.metrics.survey import nps_from_counts
from slm_lib.metrics.tickets import elapsed_hours, require_columns, ticket_flags
from slm_lib.periods import NAT_NS, epoch_ns, period_codes
from slm_lib.schema import empty_frame
from slm_lib.stats import grouped_quantiles, mean_from_moments, poisson_interval, share_from_counts

TICKET_METRICS: tuple[str, ...] = (
    "tickets", "frt_mean", "frt_median", "frt_p90", "resolution_mean", "resolution_median",
    "resolution_p90", "resolution_rate", "fcr", "reopen_rate", "repeat_contact_rate", "replies_per_ticket",
    "sla_first_response", "sla_resolution")
SURVEY_METRICS: tuple[str, ...] = ("nps", "csat", "ces")
METRICS: tuple[str, ...] = SURVEY_METRICS + TICKET_METRICS + EVENT_METRICS
Result = dict[str, tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]  # metric -> n, value, lo, hi


# ----------------------------------------------------------------------------- engines
def _mean_metric(x: np.ndarray, g: np.ndarray, size: int,
                 bounds: tuple[float, float] = (0.0, np.inf)) -> tuple[np.ndarray, ...]:
    """n, mean and its interval per group; the interval is clipped to the values' possible range."""
    n = np.bincount(g, minlength=size)
    total = np.bincount(g, weights=x, minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = total / n
    dev = x - mean[g]
    square = dev * dev   # products, not ** (numpy's power of 3 is a slow general pow)
    ssd = np.bincount(g, weights=square, minlength=size)
    square *= dev
    value, low, high, _ = mean_from_moments(total, ssd, n, np.bincount(g, weights=square, minlength=size))
    return n, value, np.clip(low, *bounds), np.clip(high, *bounds)


def duration_metrics(prefix: str, tickets: pd.DataFrame, column: str, hours: np.ndarray | None,
                     group: np.ndarray, size: int) -> Result:
    """Mean, median and p90 hours from created_at to ``column`` per group (``prefix_mean`` ...).

    ``hours``: business hours per ticket (NaN = no event), or None for calendar hours.
    """
    if hours is None:  # calendar hours in exact int64 nanoseconds: quantiles are selected as integers
        start, end = epoch_ns(tickets["created_at"]), epoch_ns(tickets[column])
        ok = (group >= 0) & (start != NAT_NS) & (end != NAT_NS)
        raw, scale = end[ok] - start[ok], 1.0 / 3.6e12
        x = raw / 3.6e12  # as elapsed_hours
    else:
        ok = (group >= 0) & ~np.isnan(hours)
        raw, scale = hours[ok], 1.0
        x = raw
    g = group[ok]
    n, *mean = _mean_metric(x, g, size)
    qs = grouped_quantiles(raw, g, size, (0.5, 0.9), scale=scale)
    return {f"{prefix}_mean": (n, *mean), f"{prefix}_median": (n, *qs[0.5]), f"{prefix}_p90": (n, *qs[0.9])}


def _share(x: np.ndarray, n: np.ndarray) -> tuple[np.ndarray, ...]:
    return (n, *share_from_counts(x, n))


def _ticket_group_metrics(tickets: pd.DataFrame, group: np.ndarray, size: int, calendar: Any = None,
                         sla: Mapping[str, Mapping[str, float]] | None = None, as_of: Any = None,
                         data: Any = None, repeat_days: float | None = REPEAT_DAYS) -> Result:
    """Every ticket metric per group code (``-1`` = excluded): metric -> (n, value, ci_low, ci_high).

    ``data``: the Dataset ``tickets`` belong to; with ticket events it adds the rows of
    :mod:`slm_lib.metrics.lifecycle_table`, its SLA clocks take the priority in force and
    repeat contacts read solve times from the events.
    """
    out: Result = {}
    flags = ticket_flags(tickets)
    lc = events_lifecycle(data, calendar, as_of)
    priority, judged = (None, {}) if lc is None else event_sla_codes(lc, tickets, data.ticket_events, sla, calendar)
    events = {"frt": "first_response_at", "resolution": "resolved_at"}
    # business hours are the costly part: computed once per event, shared with the SLA clocks
    hours = {c: elapsed_hours(tickets["created_at"], tickets[c], calendar) for c in events.values()} \
        if calendar is not None else {}
    for prefix, column in events.items():
        out.update(duration_metrics(prefix, tickets, column, hours.get(column), group, size))
    _counted_metrics(tickets, group, size, calendar, sla, as_of, out, flags, hours, priority)
    if lc is not None:
        out.update(lifecycle_group_metrics(lc, judged, group, size, flags))
    if repeat_days is not None:
        repeat = repeat_flags(tickets, getattr(data, "ticket_events", None), observation_end(tickets, as_of),
                              repeat_days, None if lc is None else lc.history)
        counted = repeat.counted & (group >= 0)
        n = np.bincount(group[counted], minlength=size)
        out["repeat_contact_rate"] = _share(np.bincount(group[counted & repeat.repeat], minlength=size), n)
    return out


def _cross_counts(group: np.ndarray, size: int, code: np.ndarray, n_codes: int) -> np.ndarray:
    """``size x n_codes`` counts of (group, code) pairs in one bincount; excluded rows (-1) dropped."""
    key = group * n_codes
    key += code
    if len(group) and group.min() < 0:
        key = key[group >= 0]
    return np.bincount(key, minlength=size * n_codes).reshape(size, n_codes)


def _counted_metrics(tickets: pd.DataFrame, group: np.ndarray, size: int, calendar: Any, sla: Any, as_of: Any,
                     out: Result, f: Mapping[str, np.ndarray], event_hours: Mapping[str, np.ndarray] | None = None,
                     priority: np.ndarray | None = None) -> None:
    """Volume, rates, replies and SLA compliance per group (the metrics built from counts).

    One bincount over every ticket: bits 0-2 of the cell code are the flags (1 resolved,
    2 first-contact resolved, 4 reopened), then two bits per SLA target (status code + 1).
    """
    cell = f["resolved"].astype(np.int16)
    cell += 2 * f["fcr"]
    cell += 4 * f["reopened"]
    statuses = sla_status_codes(tickets, sla, as_of, calendar, event_hours, priority)
    for i, code in enumerate(statuses.values()):
        cell += (code + 1).astype(np.int16) << (3 + 2 * i)
    cells = _cross_counts(group, size, cell, 8 << 2 * len(statuses))
    flags = cells.reshape(size, 4 ** len(statuses), 8).sum(axis=1)
    with_bit = lambda b: flags[:, (np.arange(8) & b) != 0].sum(axis=1)  # noqa: E731
    n, resolved = flags.sum(axis=1), with_bit(1)
    out["tickets"] = (n, n.astype(np.float64), *poisson_interval(n))
    out["resolution_rate"] = _share(resolved, n)
    out["fcr"] = _share(with_bit(2), resolved)
    out["reopen_rate"] = _share(with_bit(4), resolved)
    rmask = f["resolved"] & (group >= 0)
    out["replies_per_ticket"] = _mean_metric(tickets["replies"].to_numpy(dtype=np.float64)[rmask],
                                             group[rmask], size)
    for i, target in enumerate(statuses):
        status = cells.reshape(size, 4 ** (len(statuses) - 1 - i), 4, 8 << 2 * i).sum(axis=(1, 3))  # code + 1
        achieved, breached = status[:, ACHIEVED + 1], status[:, BREACHED + 1]
        out[f"sla_{target}"] = _share(achieved, achieved + breached)


def survey_group_metrics(surveys: pd.DataFrame, group: np.ndarray, size: int, threshold: int | None,
                         exclude_neutral: bool, scales: Mapping[str, tuple[int, int]]) -> Result:
    """NPS, CSAT and CES per group code: metric -> (n, value, ci_low, ci_high) arrays."""
    score = surveys["score"].to_numpy(dtype=np.float64)
    ok = (group >= 0) & ~np.isnan(score)
    g_all = np.where(ok, group, 0)
    count = lambda mask: np.bincount(g_all[mask & ok], minlength=size)  # noqa: E731
    is_nps, is_csat, is_ces = ((surveys["type"] == k).to_numpy(dtype=bool, na_value=False)
                               for k in ("nps", "csat", "ces"))
    out: Result = {}
    n = count(is_nps)
    out["nps"] = (n, *nps_from_counts(count(is_nps & (score >= NPS_PROMOTER_MIN)),
                                      count(is_nps & (score <= NPS_DETRACTOR_MAX)), n))
    top2, neutral = csat_cutoffs(scales["csat"])
    csat_in = is_csat & ~(exclude_neutral & (score == neutral)) if neutral is not None else is_csat
    out["csat"] = _share(count(csat_in & (score >= (top2 if threshold is None else threshold))), count(csat_in))
    m = is_ces & ok
    out["ces"] = _mean_metric(score[m], group[m], size, scales["ces"])
    return out


def tidy_metrics(labels: pd.DataFrame, results: Result, metrics: Sequence[str], present: Mapping[str, np.ndarray],
                 min_n: int) -> pd.DataFrame:
    """Rows ``<labels...>, metric, n, value, ci_low, ci_high, small_n`` of the groups ``present`` per metric."""
    frames = []
    for metric in metrics:
        n, value, low, high = results[metric]
        keep = present[metric]
        part = labels[keep].reset_index(drop=True)
        part["metric"] = metric
        part["n"] = np.asarray(n)[keep].astype(np.int64)
        part["value"] = np.asarray(value, dtype=np.float64)[keep]
        part["ci_low"] = np.asarray(low, dtype=np.float64)[keep]
        part["ci_high"] = np.asarray(high, dtype=np.float64)[keep]
        frames.append(part)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    out["small_n"] = out["n"] < min_n if len(out) else pd.Series(dtype=bool)
    return out


def _grouped(tickets: pd.DataFrame, surveys: pd.DataFrame, customers: pd.DataFrame, by: Sequence[str],
             freq: str | None, tz: str, calendar: Any, sla: Any, as_of: Any, min_n: int,
             csat_threshold: int | None, exclude_neutral: bool,
             scales: Mapping[str, tuple[int, int]], data: Any = None,
             repeat_days: float | None = REPEAT_DAYS) -> pd.DataFrame:
    require_columns(tickets, ("ticket_id", "customer_id", "created_at", "first_response_at", "resolved_at",
                              "priority", "replies", "reopens"))
    require_columns(surveys, ("ticket_id", "customer_id", "submitted_at", "type", "score"), "surveys")
    t_by, by_labels, survey_codes = by_codes(by, tickets, surveys, customers)
    names = (["period"] if freq else []) + list(by)
    columns = names + ["metric", "n", "value", "ci_low", "ci_high", "small_n"]

    def side(table: pd.DataFrame, keys: list[np.ndarray], period: tuple[np.ndarray, np.ndarray] | None) -> pd.DataFrame:
        labels = list(by_labels)
        if period is not None:
            keys, labels = [period[0]] + keys, [period[1]] + labels
        group, label_frame = combine_codes(keys or [np.zeros(len(table), np.int64)], labels or [pd.Index([None])],
                                      names or ["_all"])
        size = len(label_frame)
        if table is tickets:
            res = _ticket_group_metrics(tickets, group, size, calendar, sla, as_of, data, repeat_days)
            present = {m: np.ones(size, dtype=bool) for m in res}
            metrics = TICKET_METRICS + EVENT_METRICS
        else:
            res = survey_group_metrics(surveys, group, size, csat_threshold, exclude_neutral, scales)
            present = {m: res[m][0] > 0 for m in res}
            metrics = SURVEY_METRICS
        return tidy_metrics(label_frame[names], res, [m for m in metrics if m in res], present, min_n)

    def survey_side() -> pd.DataFrame:
        return side(surveys, survey_codes(), period_codes(surveys["submitted_at"], freq, tz) if freq else None)

    frames = []
    with ThreadPoolExecutor(max_workers=1) as pool:  # the survey join runs beside the ticket metrics
        survey_job = pool.submit(survey_side) if len(surveys) else None
        if len(tickets):
            frames.append(side(tickets, t_by, period_codes(tickets["created_at"], freq, tz) if freq else None))
        if survey_job is not None:
            frames.append(survey_job.result())
    if not frames:
        return pd.DataFrame({c: pd.Series(dtype=object) for c in columns})
    out = pd.concat(frames, ignore_index=True)
    order = pd.Categorical(out["metric"], categories=list(METRICS), ordered=True)
    out = out.assign(_m=order).sort_values(names + ["_m"], kind="stable", na_position="last")
    return out.drop(columns="_m").reset_index(drop=True)[columns]


# ----------------------------------------------------------------------------- public
def metric_table(ds: Any, freq: str = "M", by: str | Sequence[str] | None = None, calendar: Any = None,
                 sla: Mapping[str, Mapping[str, float]] | None = None, tz: str = "UTC",
                 min_n: int = DEFAULT_MIN_N, as_of: Any = None, csat_threshold: int | None = None,
                 exclude_neutral: bool = False, repeat_days: float | None = REPEAT_DAYS) -> pd.DataFrame:
    """One tidy table of every SPEC §4 metric per period (and group).

    Parameters
    ----------
    ds : Dataset or LazyDataset
        Needs ``tickets``, ``surveys`` and (for customer ``by`` columns) ``customers``. A
        :class:`~slm_lib.engines.LazyDataset` (``load_data(path, engine="duckdb")``) is
        computed on its engine: same columns and values (the rows read from ticket events
        included), without business hours (:func:`slm_lib.engines.engine_metric_table`).
    freq : {"M", "Q", "Y", "W", "D"}
        Period length; labels described in the module docstring (``"YYYY-MM"`` for "M").
    by : str or list of str, optional
        Group columns of tickets or customers.
    calendar : BusinessCalendar, optional
        Business hours for durations and SLA clocks.
    sla : mapping, optional
        SLA targets (default ``slm_lib.config.DEFAULT_SLA_TARGETS``).
    tz : str
        Time zone of the period boundaries.
    min_n : int
        Rows with ``n < min_n`` get ``small_n = True``.
    as_of : timestamp, optional
        Clock reference for open tickets in SLA metrics and for the ticket lifecycle (events
        after it are ignored); default ``ds.observation_end()``.
    csat_threshold, exclude_neutral
        As in :func:`slm_lib.metrics.survey.csat`, on the CSAT scale of ``ds.scales``.
    repeat_days : float or None
        Window of ``repeat_contact_rate`` (module docstring); None leaves that row out
        (it sorts every ticket by customer and time: about 3-5 s of 10M tickets).

    Returns
    -------
    pandas.DataFrame
        ``period, <by...>, metric, n, value, ci_low, ci_high, small_n``, sorted by period,
        group and metric (order of :data:`METRICS`; the rows from ticket events only when
        ``ds.ticket_events`` has rows).

    Examples
    --------
    >>> from slm_lib.io.dataset import Dataset
    >>> t = pd.DataFrame({"ticket_id": ["a"], "customer_id": ["c"], "channel": ["chat"],
    ...     "created_at": pd.to_datetime(["2024-01-05 10:00"], utc=True),
    ...     "first_response_at": pd.to_datetime(["2024-01-05 12:00"], utc=True),
    ...     "resolved_at": pd.to_datetime([None], utc=True), "priority": ["high"],
    ...     "replies": [1], "reopens": [0]})
    >>> mt = metric_table(Dataset(tickets=t))
    >>> mt.loc[mt.metric == "frt_mean", ["period", "n", "value"]].values.tolist()
    [['2024-01', 1, 2.0]]
    """
    on_engine = getattr(ds, "engine_metric_table", None)  # a LazyDataset (slm_lib.engines) computes it itself
    if on_engine is not None:
        return on_engine(freq=freq, by=by, calendar=calendar, sla=sla, tz=tz, min_n=min_n, as_of=as_of,
                         csat_threshold=csat_threshold, exclude_neutral=exclude_neutral, repeat_days=repeat_days)
    customers = getattr(ds, "customers", None)
    return _grouped(ds.tickets, ds.surveys, customers if customers is not None else empty_frame("customers"),
                    by_list(by), freq, tz, calendar, sla, tickets_as_of(ds, as_of)[1], min_n, csat_threshold,
                    exclude_neutral, getattr(ds, "scales", SCALES), ds, repeat_days)


def agent_table(data: Any, by: str | Sequence[str] = "agent_id", min_n: int = DEFAULT_MIN_N,
                calendar: Any = None, sla: Mapping[str, Mapping[str, float]] | None = None, as_of: Any = None,
                surveys: pd.DataFrame | None = None, csat_threshold: int | None = None,
                exclude_neutral: bool = False, month: str | None = None, tz: str = "UTC") -> pd.DataFrame:
    """Every ticket metric (and, with surveys, NPS/CSAT/CES) per agent or team, flagged small_n.

    ``data`` is a Dataset (its tickets and surveys, CSAT scale and observation end are
    used) or a tickets frame (then ``surveys`` optional, default scales, SLA clocks judged
    at the latest ticket timestamp). Surveys count for the agent/team of the ticket they
    answer (via ticket_id).

    With ``month`` (a Dataset only), the rows of that month of :func:`metric_table` by the
    same groups: tickets created in the month, surveys submitted in it whatever month their
    ticket was created in. A team's scorecard then agrees with its row of
    :func:`slm_lib.metrics.gap.delivery_gap`.

    Returns
    -------
    pandas.DataFrame ``<by...>, metric, n, value, ci_low, ci_high, small_n``.

    Examples
    --------
    >>> t = pd.DataFrame({"ticket_id": ["a", "b"], "customer_id": ["c", "c"], "agent_id": ["x", "y"],
    ...     "created_at": pd.to_datetime(["2024-01-05 10:00"] * 2, utc=True),
    ...     "first_response_at": pd.to_datetime(["2024-01-05 12:00", None], utc=True),
    ...     "resolved_at": pd.to_datetime([None, None], utc=True), "priority": ["high"] * 2,
    ...     "replies": [1, 0], "reopens": [0, 0]})
    >>> at = agent_table(t)
    >>> at.loc[at.metric == "frt_mean", ["agent_id", "n", "small_n"]].values.tolist()
    [['x', 1, True], ['y', 0, True]]
    """
    if month is not None:
        if isinstance(data, pd.DataFrame) or surveys is not None:
            raise ConfigError("agent_table(month=...) takes a Dataset (its surveys attach to tickets of any month)")
        table = metric_table(data, freq="M", by=by, calendar=calendar, sla=sla, tz=tz, min_n=min_n, as_of=as_of,
                             csat_threshold=csat_threshold, exclude_neutral=exclude_neutral)
        return table[table["period"] == month].drop(columns="period").reset_index(drop=True)
    tickets, as_of = tickets_as_of(data, as_of)
    if not isinstance(data, pd.DataFrame):
        surveys = data.surveys if surveys is None else surveys
    return _grouped(tickets, surveys if surveys is not None else empty_frame("surveys"),
                    empty_frame("customers"), by_list(by), None, "UTC", calendar, sla, as_of, min_n,
                    csat_threshold, exclude_neutral, getattr(data, "scales", SCALES), data)
