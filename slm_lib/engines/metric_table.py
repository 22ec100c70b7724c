"""metric_table on an engine: the scalable aggregates as ibis expressions (SPEC §9 engines).

The engine (DuckDB, Spark, any ibis backend with window functions) computes per group only
sums and counts (:mod:`slm_lib.engines.aggregates`: counts, central moments, exact order
statistics); the small aggregated table then goes through the same :mod:`slm_lib.stats`
functions as the pandas engine, so values and intervals have one formula. The ticket rows
are :mod:`slm_lib.engines.ticket_metrics`, the survey rows here.

Durations are exact integer microseconds between the timestamps on a clock of
:mod:`slm_lib.engines.clock` (calendar time, or the business time of a ``calendar``),
scaled to hours after selection; SLA clocks are judged on the same clock. With ticket
events the table gains the rows of :mod:`slm_lib.engines.event_metrics` from one lifecycle
kept on the engine, on the same clock.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import ibis
import numpy as np
import pandas as pd

from slm_lib.config import (
    DEFAULT_MIN_N,
    NPS_DETRACTOR_MAX,
    NPS_PROMOTER_MIN,
    csat_cutoffs,
)
from slm_lib.engines.aggregates import grouped, mean_result, moments, value_sums, with_columns
from slm_lib.engines.clock import engine_clock, wall_clock
from slm_lib.engines.dataset import cached
from slm_lib.engines.event_metrics import event_group_metrics, event_tables, sla_priority, solved_at, with_lifecycle
from slm_lib.engines.lifecycle import has_rows
from slm_lib.engines.session import observation_end, period_ordinal, set_time_zone
from slm_lib.engines.sla import with_sla_clocks
from slm_lib.engines.ticket_metrics import repeat_table, ticket_side
from slm_lib.errors import ConfigError
from slm_lib.metrics.contacts import REPEAT_DAYS
from slm_lib.metrics.grouping import by_list
from slm_lib.metrics.lifecycle_table import EVENT_METRICS
from slm_lib.metrics.survey import nps_from_counts
from slm_lib.metrics.table import (
    METRICS,
    SURVEY_METRICS,
    TICKET_METRICS,
    Result,
    tidy_metrics,
)
from slm_lib.periods import period_labels, utc_instant
from slm_lib.stats import share_from_counts

ENGINE_TICKET_METRICS: tuple[str, ...] = TICKET_METRICS


def _labelled(groups: pd.DataFrame, freq: str | None) -> pd.DataFrame:
    """``groups`` with the period ordinals of :func:`period_ordinal` replaced by their labels."""
    if not freq or groups.empty:
        return groups
    labels = period_labels(groups["period"].to_numpy(dtype=np.int64), freq)
    return groups.assign(period=np.asarray(labels, dtype=object))


def survey_side(s: Any, keys: list[str], threshold: int | None, exclude_neutral: bool,
                 scales: Mapping[str, tuple[int, int]]) -> tuple[pd.DataFrame, Result]:
    s = s.filter(s.score.notnull())
    score = s.score.cast("float64")
    top2, neutral = csat_cutoffs(scales["csat"])
    is_nps, is_csat = s.type == "nps", s.type == "csat"
    csat_in = is_csat & (score != neutral) if (neutral is not None and exclude_neutral) else is_csat
    as_int = lambda e: e.cast("int64").sum()  # noqa: E731
    ces = {"ces": (s.type == "ces").ifelse(score, ibis.null())}
    counts = grouped(s, keys).aggregate(
        _nps=as_int(is_nps), _prom=as_int(is_nps & (score >= NPS_PROMOTER_MIN)),
        _det=as_int(is_nps & (score <= NPS_DETRACTOR_MAX)), _csat=as_int(csat_in),
        _sat=as_int(csat_in & (score >= (top2 if threshold is None else threshold))),
        **value_sums(ces)).execute()
    groups = counts[keys].copy() if keys else pd.DataFrame(index=range(len(counts)))
    n = counts["_nps"].to_numpy(dtype=np.int64)
    out: Result = {"nps": (n, *nps_from_counts(counts["_prom"], counts["_det"], n))}
    n = counts["_csat"].to_numpy(dtype=np.int64)
    out["csat"] = (n, *share_from_counts(counts["_sat"], n))
    out["ces"] = mean_result(moments(s, ces, keys, counts)["ces"], scales["ces"])
    return groups, out


def engine_metric_table(lazy: Any, freq: str | None = "M", by: str | Sequence[str] | None = None,
                        calendar: Any = None, sla: Any = None, tz: str = "UTC", min_n: int = DEFAULT_MIN_N,
                        as_of: Any = None, csat_threshold: int | None = None,
                        exclude_neutral: bool = False, repeat_days: float | None = REPEAT_DAYS) -> pd.DataFrame:
    """:func:`slm_lib.metrics.table.metric_table` of a :class:`~slm_lib.engines.dataset.LazyDataset`.

    Same parameters and columns; rows sorted by period, group (NaN last) and metric. The
    ticket metrics are those of :data:`ENGINE_TICKET_METRICS`, SLA clocks on the tickets'
    fields; with ``ticket_events`` (a table with rows) also the event rows of
    :mod:`slm_lib.metrics.lifecycle_table` and the event-based reopens, repeat contacts and
    priorities, as on the pandas engine (:mod:`slm_lib.engines.event_metrics`). ``as_of``
    defaults to the latest timestamp of the tickets, surveys, customers, revenue and events.
    With a ``calendar`` durations and SLA clocks are business hours
    (:func:`slm_lib.engines.clock.engine_clock`), the event rows included.

    Raises
    ------
    ConfigError
        For an unknown ``by``, or a local time zone (``tz``, ``calendar.tz``) on a backend
        other than DuckDB and Spark.

    Examples
    --------
    >>> from slm_lib.engines import open_dataset
    >>> mt = engine_metric_table(open_dataset("data_samples"), by="channel")   # doctest: +SKIP
    """
    by = by_list(by)
    con, tickets, surveys, customers = lazy.con, lazy.tickets, lazy.surveys, lazy.customers
    cust_cols = set(customers.columns) - {"customer_id"} if customers is not None else set()
    for col in by:
        if col not in tickets.columns and col not in cust_cols:
            raise ConfigError(f"metric_table: by column {col!r} is neither a tickets nor a customers column")
    t_cols = [c for c in by if c in tickets.columns]
    c_cols = [c for c in by if c not in tickets.columns]
    names = (["period"] if freq else []) + list(by)
    as_of = observation_end(lazy) if as_of is None else utc_instant(as_of)
    set_time_zone(con, tz)
    wall = wall_clock(con, tz)

    def keyed(table: Any, when: str) -> Any:
        table = with_columns(table, customers, "customer_id", c_cols)
        if freq:
            table = table.filter(table[when].notnull()).mutate(period=period_ordinal(table[when], freq, wall))
        return table

    frames = []
    events = lazy.ticket_events
    epoch, clock = engine_clock(None, con), engine_clock(calendar, con)
    ev = event_tables(tickets, events, as_of, clock) if events is not None and as_of is not None and has_rows(events) \
        else None

    def clocked(table: Any) -> Any:
        return with_sla_clocks(keyed(table, "created_at"), clock, as_of)

    if ev is None:
        t = clocked(tickets)
        groups, res = ticket_side(con, t, names, sla, as_of, repeat_table(t, tickets, as_of, repeat_days, epoch, names))
    else:  # the lifecycle is computed once (kept on the engine) and joined by every query of the table
        with cached(con, ev.lifecycle) as lc:
            whole = with_lifecycle(tickets, lc)
            whole = whole.mutate(_solved_at=solved_at(whole))
            t = clocked(whole)
            groups, res = ticket_side(con, t, names, sla, as_of,
                                      repeat_table(t, whole, as_of, repeat_days, epoch, names, "_solved_at"),
                                      sla_priority(t))
            res.update(event_group_metrics(con, t, names, groups, ev, sla))
    frames.append(tidy_metrics(_labelled(groups, freq)[names], res,
                               [m for m in (*ENGINE_TICKET_METRICS, *EVENT_METRICS) if m in res],
                               {m: np.ones(len(groups), dtype=bool) for m in res}, min_n))
    if surveys is not None:
        s = keyed(with_columns(surveys, tickets, "ticket_id", t_cols), "submitted_at")
        groups, res = survey_side(s, names, csat_threshold, exclude_neutral, lazy.scales)
        frames.append(tidy_metrics(_labelled(groups, freq)[names], res, list(SURVEY_METRICS),
                                       {m: res[m][0] > 0 for m in res}, min_n))
    out = pd.concat([f for f in frames if len(f)], ignore_index=True)
    for c in names:  # group labels as on the pandas engine: NaN for a missing value
        out[c] = out[c].astype(object).where(out[c].notna(), np.nan)
    order = pd.Categorical(out["metric"], categories=list(METRICS), ordered=True)
    out = out.assign(_m=order).sort_values(names + ["_m"], kind="stable", na_position="last")
    return out.drop(columns="_m").reset_index(drop=True)[names + ["metric", "n", "value", "ci_low", "ci_high",
                                                                   "small_n"]]
