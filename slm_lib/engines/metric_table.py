"""metric_table on an engine: the scalable aggregates as ibis expressions (SPEC §9 engines).

The engine (DuckDB, Spark, any ibis backend with window functions) computes per group only
sums and counts: counts of tickets and flags, sums of values and of their squared and cubed
deviations about the group mean (two passes: a window mean, then the sums), and the order
statistics at the ranks :func:`slm_lib.stats.quantile_order_ranks` asks for (``row_number``
over the group ordered by the value, joined to the wanted ranks). The small aggregated
table then goes through the same :mod:`slm_lib.stats` functions as the pandas engine, so
values and intervals have one formula. Quantiles are exact on every engine by
construction (order statistics selected by rank; no approximate percentile is ever used).

Durations are exact integer microseconds between the timestamps on a clock of
:mod:`slm_lib.engines.clock` (calendar time, or the business time of a ``calendar``),
scaled to hours after selection; SLA clocks are judged on the same clock. With ticket
events the table gains the rows of :mod:`slm_lib.engines.event_metrics` from one lifecycle
kept on the engine (in calendar time: business hours are not on the event rows yet).
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
from slm_lib.engines.clock import ON_CLOCK, Clock, engine_clock, with_clocks
from slm_lib.engines.dataset import cached
from slm_lib.engines.event_metrics import event_group_metrics, event_tables, sla_priority, solved_at, with_lifecycle
from slm_lib.engines.lifecycle import has_rows
from slm_lib.engines.timestamps import US_PER_HOUR, instant
from slm_lib.errors import ConfigError
from slm_lib.metrics.contacts import REPEAT_DAYS
from slm_lib.metrics.grouping import by_list
from slm_lib.metrics.sla import PRIORITIES, SLA_EVENTS, last_ns_within, validate_targets
from slm_lib.metrics.survey import nps_from_counts
from slm_lib.metrics.lifecycle_table import EVENT_METRICS
from slm_lib.metrics.table import (
    METRICS,
    SURVEY_METRICS,
    TICKET_METRICS,
    Result,
    tidy_metrics,
)
from slm_lib.periods import check_freq, latest_timestamp, period_labels, utc_instant
from slm_lib.stats import (
    mean_from_moments,
    poisson_interval,
    quantile_order_ranks,
    quantiles_from_order_statistics,
    share_from_counts,
)

ENGINE_TICKET_METRICS: tuple[str, ...] = TICKET_METRICS
_QS = (0.5, 0.9)


_EPOCH = ibis.date(1970, 1, 1)


def period_ordinal(ts: Any, freq: str) -> Any:
    """ibis expression of :func:`slm_lib.periods.period_ordinals` of a timestamp, in the session time zone.

    Months, quarters and years since 1970, Monday weeks, days since 1970-01-01; NULL stays NULL.
    :func:`slm_lib.periods.period_labels` labels them on the small aggregated table.
    """
    freq = check_freq(freq)
    if freq in ("D", "W"):
        days = ts.date().delta(_EPOCH, unit="day")
        return days if freq == "D" else (days + 3) // 7  # 1970-01-01 is a Thursday
    years = ts.year() - 1970
    return {"M": lambda: years * 12 + ts.month() - 1, "Q": lambda: years * 4 + ts.quarter() - 1,
            "Y": lambda: years}[freq]()


def _labelled(groups: pd.DataFrame, freq: str | None) -> pd.DataFrame:
    """``groups`` with the period ordinals of :func:`period_ordinal` replaced by their labels."""
    if not freq or groups.empty:
        return groups
    labels = period_labels(groups["period"].to_numpy(dtype=np.int64), freq)
    return groups.assign(period=np.asarray(labels, dtype=object))


def _with_columns(t: Any, other: Any, key: str, columns: Sequence[str]) -> Any:
    """``t`` with ``columns`` of ``other`` looked up by ``key`` (left join; other unique by key)."""
    if not columns:
        return t
    right = other.select(_k=other[key], **{c: other[c] for c in columns})
    return t.left_join(right, t[key] == right["_k"]).drop("_k")


def _sums(xs: Mapping[str, Any]) -> dict[str, Any]:
    """Aggregates ``_<name>_n`` and ``_<name>_s`` (count and sum of non-null values) of each value."""
    out = {}
    for name, x in xs.items():
        out[f"_{name}_n"], out[f"_{name}_s"] = x.count(), x.sum()
    return out


def _moments(t: Any, xs: Mapping[str, Any], keys: list[str], first: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per value and group row of ``first``: n, sum, and sums of squared and cubed deviations about the mean.

    ``first`` holds the groups' ``keys`` and the :func:`_sums` of ``xs``; the means go back
    to the engine (a small table joined on the keys, NULL matching NULL) for a second pass.
    """
    means = {f"_m_{name}": (first[f"_{name}_s"] / first[f"_{name}_n"].where(first[f"_{name}_n"] > 0)).fillna(0.0)
             for name in xs}
    base = t.mutate(**{f"_x_{name}": x for name, x in xs.items()})
    if keys:
        small = first[keys].rename(columns={k: f"_k{i}" for i, k in enumerate(keys)}).assign(**means)
        schema = {f"_k{i}": base.schema()[k] for i, k in enumerate(keys)} | {m: "float64" for m in means}
        w = ibis.memtable(small, schema=ibis.schema(schema))
        base = base.join(w, [base[k].identical_to(w[f"_k{i}"]) for i, k in enumerate(keys)])
    else:
        base = base.mutate(**{m: ibis.literal(float(v.iloc[0]) if len(v) else 0.0) for m, v in means.items()})
    devs = {name: base[f"_x_{name}"] - base[f"_m_{name}"] for name in xs}
    agg = _grouped(base, keys).aggregate(**{f"_{name}_{k}": v for name, d in devs.items()
                                          for k, v in (("ss", (d * d).sum()), ("s3", (d * d * d).sum()))})
    second = _merged(first, agg.execute(), keys) if keys else agg.execute().fillna(0)
    return {name: pd.DataFrame({"n": first[f"_{name}_n"].to_numpy(), "s": first[f"_{name}_s"].fillna(0).to_numpy(),
                                "ss": second[f"_{name}_ss"].to_numpy(), "s3": second[f"_{name}_s3"].to_numpy()})
            for name in xs}


def _grouped(table: Any, keys: list[str]) -> Any:
    """``table`` grouped by ``keys``, or the whole table as one group when there are none (freq=None, no by)."""
    return table.group_by(keys) if keys else table


def ibis_window(keys: list[str], order_by: Any = None) -> Any:
    """A window over the groups ``keys`` (all rows when there are none), optionally ordered."""
    return ibis.window(group_by=keys or None, order_by=order_by)


def ranked(t: Any, raw: Any, keys: list[str]) -> Any:
    """The rows of ``t`` with a value ``raw`` (as ``_v``) and its 0-based rank ``_r`` in its group (``row_number``).

    The order statistics of every engine quantile are these rows selected by rank.
    """
    base = t.mutate(_v=raw).filter(lambda r: r._v.notnull())
    return base.mutate(_r=ibis.row_number().over(ibis_window(keys, base._v)))


def _order_statistics(con: Any, t: Any, raw: Any, keys: list[str], groups: pd.DataFrame,
                      counts: np.ndarray, qs: tuple[float, ...] = _QS) -> np.ndarray:
    """Values of ``raw`` at the ranks of :func:`quantile_order_ranks` per group row of ``groups``."""
    ranks = quantile_order_ranks(counts, qs)
    wanted = pd.DataFrame({"_g": np.tile(np.arange(len(groups)), len(ranks)), "_r": ranks.ravel()})
    wanted = wanted[np.tile(counts > 0, len(ranks))].drop_duplicates()
    if wanted.empty:
        return np.full(ranks.shape, np.nan)
    base = ranked(t, raw, keys)
    schema = {k: base.schema()[k] for k in keys}
    want = groups[keys].iloc[wanted["_g"]].reset_index(drop=True).assign(_g=wanted["_g"].to_numpy(),
                                                                         _r=wanted["_r"].to_numpy())
    w = ibis.memtable(want, schema=ibis.schema({**schema, "_g": "int64", "_r": "int64"}))
    cond = [base[k].identical_to(w[k]) for k in keys] + [base._r == w._r]
    got = base.join(w, cond).select(_g=w._g, _r=w._r, _v=base._v).execute()
    found = pd.Series(got["_v"].to_numpy(dtype=np.float64), index=pd.MultiIndex.from_arrays([got["_g"], got["_r"]]))
    pairs = pd.MultiIndex.from_arrays([np.tile(np.arange(len(groups)), len(ranks)), ranks.ravel()])
    return found.reindex(pairs).to_numpy().reshape(ranks.shape)


def order_quantiles(con: Any, t: Any, raw: Any, keys: list[str], groups: pd.DataFrame, counts: np.ndarray,
                    qs: tuple[float, ...] = _QS, scale: float = 1 / US_PER_HOUR) -> dict[float, tuple[np.ndarray, ...]]:
    """Exact quantiles and intervals of ``raw`` per group row of ``groups`` (``counts`` non-null values each).

    What :func:`slm_lib.stats.grouped_quantiles` returns, from the order statistics the
    engine selects by rank; ``scale`` converts the selected values (default µs -> hours).
    """
    at = _order_statistics(con, t, raw, keys, groups, counts, qs) * scale
    return quantiles_from_order_statistics(at, counts, qs)


def _merged(groups: pd.DataFrame, agg: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """``agg`` aligned to the rows of ``groups`` (missing groups: zero counts and sums)."""
    if not keys:
        agg = agg if len(agg) else pd.DataFrame({c: [0] for c in agg.columns})
        return agg.reset_index(drop=True)
    out = groups[keys].merge(agg, on=keys, how="left")
    return out.drop(columns=keys).fillna(0)


def _mean_result(m: pd.DataFrame, bounds: tuple[float, float] = (0.0, np.inf)) -> tuple[np.ndarray, ...]:
    n = m["n"].to_numpy(dtype=np.int64)
    value, low, high, _ = mean_from_moments(m["s"], m["ss"], n, m["s3"])
    return n, value, np.clip(low, *bounds), np.clip(high, *bounds)


def target_limit(priority: Any, per_priority: Mapping[str, float], shift: int = 0) -> Any:
    """The longest whole-microsecond time within the SLA target of ``priority`` (int64; NULL: no target).

    ``(last_ns_within(hours) + shift) // 1000``: integer microseconds ``x`` are within the
    target exactly when ``1000 * x`` nanoseconds are (:func:`slm_lib.metrics.sla.last_ns_within`);
    ``shift=1`` for a clock judged 1 ns before its end (:func:`sla_flags`).
    """
    limits = [(priority == p, (last_ns_within(per_priority[p]) + shift) // 1000) for p in PRIORITIES
              if p in per_priority and np.isfinite(per_priority[p])]
    return ibis.cases(*limits, else_=ibis.null("int64")) if limits else ibis.null("int64")


def sla_flags(t: Any, sla: Any, as_of: Any, before: bool = False, priority: Any = None,
              on_clock: bool = False) -> dict[str, tuple[Any, Any]]:
    """Per ticket and target of :data:`SLA_EVENTS`: (achieved, breached) as :func:`sla_status_codes` judges them.

    Judged at ``as_of`` (an instant, or a timestamp column of ``t``: one instant per row),
    or with ``before=True`` an instant (1 ns) before it, so that an event stamped exactly at
    ``as_of`` is not yet known. ``priority``: the priority expression whose targets apply
    (default the tickets' own; with ticket events the one in force at creation). Calendar
    time in integer microseconds, compared with the longest whole-microsecond time within
    the target (:func:`target_limit`; a clock still running at ``as_of - 1 ns`` is past a
    target of ``L`` ns when its microseconds to ``as_of`` exceed ``(L + 1) // 1000``), so
    equal to the pandas engine for timestamps of microsecond resolution and a
    whole-microsecond ``as_of``. ``on_clock`` (``before=False`` only): elapsed on the
    :func:`with_clocks` columns of the stamps and ``as_of``, business hours too (pandas'
    float ``hours <= target`` holds exactly up to the same limit).
    """
    now = as_of if isinstance(as_of, ibis.Expr) else instant(as_of, up=before)
    started = t.created_at.notnull() & ((t.created_at < now) if before else (t.created_at <= now))
    out = {}
    for name, per_priority in {k: v for k, v in validate_targets(sla).items() if k in SLA_EVENTS}.items():
        event = t[SLA_EVENTS[name]]
        seen = event.notnull() & ((event < now) if before else (event <= now))
        elapsed = (seen.ifelse(t[ON_CLOCK + SLA_EVENTS[name]], t[ON_CLOCK + "as_of"]) - t[ON_CLOCK + "created_at"]
                   if on_clock else seen.ifelse(event, now).delta(t.created_at, unit="microsecond"))
        prio = t.priority if priority is None else priority
        limit = target_limit(prio, per_priority)
        judged = started & limit.notnull()
        breached = judged & (elapsed > (seen.ifelse(limit, target_limit(prio, per_priority, 1)) if before else limit))
        out[name] = (judged & ~breached & seen, breached)
    return out


def _sla_counts(t: Any, sla: Any, as_of: pd.Timestamp | None, priority: Any = None) -> dict[str, Any]:
    """Achieved and breached counts per target of :data:`SLA_EVENTS` (:func:`sla_flags` on the clock at ``as_of``)."""
    if as_of is None:  # no timestamp at all: nothing is judged
        return {f"_{k}_{name}": ibis.literal(0) for name in SLA_EVENTS for k in "ab"}
    out: dict[str, Any] = {}
    for name, (achieved, breached) in sla_flags(t, sla, as_of, priority=priority, on_clock=True).items():
        out[f"_a_{name}"], out[f"_b_{name}"] = achieved.cast("int64").sum(), breached.cast("int64").sum()
    return out


def _repeat_counts(t: Any, tickets: Any, as_of: pd.Timestamp | None, days: float | None,
                   epoch: Clock, solved: str = "resolved_at") -> dict[str, Any]:
    """Counted and repeated solved tickets as :func:`slm_lib.metrics.contacts.repeat_flags` judges them.

    A solved ticket (resolved by ``as_of``) is counted when its ``days`` window ended by
    ``as_of`` and it has a customer; it is a repeat when the customer's first ticket created
    (by ``as_of``) strictly after the solve came at most ``days`` after it. ``tickets`` is
    the whole table, so the next contact may fall in any period.

    Found with equi-joins and running counts only, which every engine runs in about one
    sort (an inequality join on customer and time took DuckDB 7x longer than the rest of
    the table at 10M tickets): the customer's creations and solves in one time order,
    creations before solves at the same instant (not "after" the solve); a solve preceded
    by ``k`` creations has as next contact the creation of rank ``k`` (0-based). ``solved``:
    the column of the solve instant (with ticket events :func:`slm_lib.engines.event_metrics.solved_at`).
    The gap is measured on the ``epoch`` clock (Spark's DATEDIFF counts wall-clock time of
    the session zone, an hour off across a DST change).
    """
    if days is None or as_of is None:
        return {}
    window_us = int(round(days * US_PER_HOUR * 24))
    now, cutoff = instant(as_of), instant(as_of - pd.Timedelta(microseconds=window_us))
    at = t[solved]
    counted = at.notnull() & (at <= now) & (t.created_at <= now) & (at <= cutoff) & t.customer_id.notnull()
    known = tickets.filter(tickets.customer_id.notnull() & (tickets.created_at <= now))
    creations = known.select(_c=known.customer_id, _at=known.created_at, _kind=ibis.literal(0), _id=known.ticket_id)
    done = known.filter(known[solved].notnull() & (known[solved] <= now))
    solves = done.select(_c=done.customer_id, _at=done[solved], _kind=ibis.literal(1), _id=done.ticket_id)
    both = creations.union(solves)
    before = (both._kind == 0).cast("int64").sum().over(ibis.cumulative_window(group_by="_c",
                                                                                order_by=["_at", "_kind", "_id"]))
    asked = both.mutate(_k=before).filter(lambda r: r._kind == 1)
    ranked = creations.mutate(_r=ibis.row_number().over(group_by="_c", order_by=["_at", "_id"]))
    nxt = asked.join(ranked, [asked._c == ranked._c, asked._k == ranked._r], lname="", rname="{name}_next")
    hits = nxt.filter(epoch(nxt._at_next) - epoch(nxt._at) <= window_us).select(ticket_id=nxt._id)
    repeat = t.ticket_id.isin(hits.ticket_id)
    return {"_rc_n": counted.cast("int64").sum(), "_rc_r": (counted & repeat).cast("int64").sum()}


def _ticket_side(con: Any, t: Any, keys: list[str], sla: Any, as_of: pd.Timestamp | None,
                 repeat: Mapping[str, Any], priority: Any = None) -> tuple[pd.DataFrame, Result]:
    resolved = t.resolved_at.notnull()
    raws = {p: t[ON_CLOCK + c] - t[ON_CLOCK + "created_at"] for p, c in (("frt", "first_response_at"),
                                                                            ("resolution", "resolved_at"))}
    values = {"replies": resolved.ifelse(t.replies.cast("float64"), ibis.null())}
    values.update({p: raw.cast("float64") / US_PER_HOUR for p, raw in raws.items()})
    counts = _grouped(t, keys).aggregate(
        _n=t.count(), _resolved=resolved.cast("int64").sum(),
        _fcr=(resolved & (t.replies <= 1) & (t.reopens == 0)).cast("int64").sum(),
        _reopened=(resolved & (t.reopens > 0)).cast("int64").sum(), **_sla_counts(t, sla, as_of, priority),
        **repeat, **_sums(values)).execute()
    groups = counts[keys].copy() if keys else pd.DataFrame(index=range(len(counts)))
    n, res = counts["_n"].to_numpy(dtype=np.int64), counts["_resolved"].to_numpy(dtype=np.int64)
    out: Result = {"tickets": (n, n.astype(np.float64), *poisson_interval(n)),
                   "resolution_rate": (n, *share_from_counts(res, n)),
                   "fcr": (res, *share_from_counts(counts["_fcr"], res)),
                   "reopen_rate": (res, *share_from_counts(counts["_reopened"], res))}
    if "_rc_n" in counts:
        counted = counts["_rc_n"].to_numpy(dtype=np.int64)
        out["repeat_contact_rate"] = (counted, *share_from_counts(counts["_rc_r"], counted))
    moments = _moments(t, values, keys, counts)
    out["replies_per_ticket"] = _mean_result(moments["replies"])
    for prefix, raw in raws.items():
        out[f"{prefix}_mean"] = _mean_result(moments[prefix])
        k = moments[prefix]["n"].to_numpy(dtype=np.int64)
        qs = order_quantiles(con, t, raw, keys, groups, k)
        out[f"{prefix}_median"], out[f"{prefix}_p90"] = (k, *qs[0.5]), (k, *qs[0.9])
    for name in SLA_EVENTS:
        if f"_a_{name}" in counts:
            achieved, judged = counts[f"_a_{name}"], counts[f"_a_{name}"] + counts[f"_b_{name}"]
            out[f"sla_{name}"] = (judged.to_numpy(dtype=np.int64), *share_from_counts(achieved, judged))
    return groups, out


def observation_end(lazy: Any) -> pd.Timestamp | None:
    """The data set's ``as_of``, else the latest timestamp in the engine's tables (:meth:`slm_lib.io.dataset.Dataset.observation_end`).

    Read with the session in UTC: Spark hands timestamps back as wall times of its session
    time zone.
    """
    if getattr(lazy, "as_of", None) is not None:
        return lazy.as_of
    _set_time_zone(lazy.con, "UTC")
    columns = {"tickets": ("created_at", "first_response_at", "resolved_at"), "surveys": ("submitted_at",),
               "customers": ("signup_at", "churned_at"), "revenue": ("paid_at",), "ticket_events": ("at",)}
    found = []
    for name, cols in columns.items():
        table = lazy.tables.get(name)
        if table is not None:
            row = table.aggregate(**{c: table[c].max() for c in cols if c in table.columns}).execute()
            found += [pd.to_datetime(row[c], utc=True) for c in row.columns]
    end = latest_timestamp(*found)
    return None if pd.isna(end) else end


def _survey_side(s: Any, keys: list[str], threshold: int | None, exclude_neutral: bool,
                 scales: Mapping[str, tuple[int, int]]) -> tuple[pd.DataFrame, Result]:
    s = s.filter(s.score.notnull())
    score = s.score.cast("float64")
    top2, neutral = csat_cutoffs(scales["csat"])
    is_nps, is_csat = s.type == "nps", s.type == "csat"
    csat_in = is_csat & (score != neutral) if (neutral is not None and exclude_neutral) else is_csat
    as_int = lambda e: e.cast("int64").sum()  # noqa: E731
    ces = {"ces": (s.type == "ces").ifelse(score, ibis.null())}
    counts = _grouped(s, keys).aggregate(
        _nps=as_int(is_nps), _prom=as_int(is_nps & (score >= NPS_PROMOTER_MIN)),
        _det=as_int(is_nps & (score <= NPS_DETRACTOR_MAX)), _csat=as_int(csat_in),
        _sat=as_int(csat_in & (score >= (top2 if threshold is None else threshold))),
        **_sums(ces)).execute()
    groups = counts[keys].copy() if keys else pd.DataFrame(index=range(len(counts)))
    n = counts["_nps"].to_numpy(dtype=np.int64)
    out: Result = {"nps": (n, *nps_from_counts(counts["_prom"], counts["_det"], n))}
    n = counts["_csat"].to_numpy(dtype=np.int64)
    out["csat"] = (n, *share_from_counts(counts["_sat"], n))
    out["ces"] = _mean_result(_moments(s, ces, keys, counts)["ces"], scales["ces"])
    return groups, out


def _set_time_zone(con: Any, tz: str) -> None:
    """Periods and timestamps read in ``tz`` (DuckDB, Spark); elsewhere only a UTC session is trusted.

    On other backends (warehouses) the session must run in UTC, and only ``tz="UTC"`` is
    accepted: a local calendar there is refused rather than silently read in another zone.
    """
    if con.name == "duckdb":
        con.raw_sql(f"SET TimeZone = '{tz}'")
    elif con.name == "pyspark":
        con._session.conf.set("spark.sql.session.timeZone", tz)
    elif tz != "UTC":
        raise ConfigError(f"tz={tz!r} on the {con.name} backend: local calendars are supported on DuckDB and "
                          "Spark; run the session in UTC and use tz='UTC'")


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
    (:func:`slm_lib.engines.clock.engine_clock`); the event rows are then refused.

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
    _set_time_zone(con, tz)

    def keyed(table: Any, when: str) -> Any:
        table = _with_columns(table, customers, "customer_id", c_cols)
        if freq:
            table = table.mutate(period=period_ordinal(table[when], freq)).filter(lambda r: r.period.notnull())
        return table

    frames = []
    events = lazy.ticket_events
    ev = event_tables(tickets, events, as_of) if events is not None and as_of is not None and has_rows(events) \
        else None
    if ev is not None and calendar is not None:
        raise ConfigError("metric_table on an engine: the rows from ticket events are not in business hours on the "
                          "engine yet; use engine='pandas' for a calendar with ticket events")
    epoch = engine_clock(None, con)

    def clocked(table: Any) -> Any:
        t = keyed(table, "created_at")
        stamps = {c: t[c] for c in ("created_at", *SLA_EVENTS.values())}
        stamps.update({} if as_of is None else {"as_of": instant(as_of)})   # the SLA clocks' stop for open tickets
        return with_clocks(t, engine_clock(calendar, con), stamps)

    if ev is None:
        t = clocked(tickets)
        groups, res = _ticket_side(con, t, names, sla, as_of, _repeat_counts(t, tickets, as_of, repeat_days, epoch))
    else:  # the lifecycle is computed once (kept on the engine) and joined by every query of the table
        with cached(con, ev.lifecycle) as lc:
            whole = with_lifecycle(tickets, lc)
            whole = whole.mutate(_solved_at=solved_at(whole))
            t = clocked(whole)
            groups, res = _ticket_side(con, t, names, sla, as_of,
                                       _repeat_counts(t, whole, as_of, repeat_days, epoch, "_solved_at"),
                                       sla_priority(t))
            res.update(event_group_metrics(con, t, names, groups, ev, sla))
    frames.append(tidy_metrics(_labelled(groups, freq)[names], res,
                               [m for m in (*ENGINE_TICKET_METRICS, *EVENT_METRICS) if m in res],
                               {m: np.ones(len(groups), dtype=bool) for m in res}, min_n))
    if surveys is not None:
        s = keyed(_with_columns(surveys, tickets, "ticket_id", t_cols), "submitted_at")
        groups, res = _survey_side(s, names, csat_threshold, exclude_neutral, lazy.scales)
        frames.append(tidy_metrics(_labelled(groups, freq)[names], res, list(SURVEY_METRICS),
                                       {m: res[m][0] > 0 for m in res}, min_n))
    out = pd.concat([f for f in frames if len(f)], ignore_index=True)
    for c in names:  # group labels as on the pandas engine: NaN for a missing value
        out[c] = out[c].astype(object).where(out[c].notna(), np.nan)
    order = pd.Categorical(out["metric"], categories=list(METRICS), ordered=True)
    out = out.assign(_m=order).sort_values(names + ["_m"], kind="stable", na_position="last")
    return out.drop(columns="_m").reset_index(drop=True)[names + ["metric", "n", "value", "ci_low", "ci_high",
                                                                   "small_n"]]
