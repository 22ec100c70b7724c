"""customer_features on an engine: one row of aggregates per active customer and ``as_of`` (SPEC §5, §9 engines).

The engine (DuckDB, Spark, any ibis backend with window functions) reduces the tickets,
surveys and payments of each window to one row per customer active at ``as_of``: ticket
counts, SLA breached and decided counts (first-response SLA judged an instant before
``as_of``, :func:`slm_lib.engines.sla.sla_flags`), reopened and resolved counts,
the two middle order statistics of the first response times (``row_number`` by customer,
:func:`slm_lib.engines.aggregates.ranked`: the median is exact), survey means, the score
of the latest NPS answer, revenue before ``as_of`` and in the horizon. That small table
then goes through :func:`slm_lib.features.feature_rows`, the pandas engine's own shares,
categories, tenure and outcomes, so both engines have one formula; the windows are those
of :func:`slm_lib.features._windows` (calendar offsets on the wall clock of an aware
``as_of``). Every table is joined to a small table of the instants and their windows, so a
panel of several ``as_of`` is one query (on the samples, 12 month starts took 1.4-2.1 s
this way against 5-9 s for the union of one query per instant, most of it ibis compiling
twelve queries; on 1M tickets and 6 month starts 5.0-5.5 s against 6.1-6.6 s).

Durations are integer microseconds between clock columns of
:mod:`slm_lib.engines.clock` (calendar time, or the business time of a ``calendar``), in
hours: first response times, the SLA clocks and, with ticket events, the requester waits
of each ticket's lifecycle on the same clock; without events a ticket's resolution and
reopening come from its own fields, as on the pandas engine. With events, each ticket's
lifecycle states (:func:`slm_lib.engines.lifecycle.lifecycle_states`: the state in force
from one status event to the next) are computed once and joined to the instants on the
interval holding each, instead of replaying the events before every instant (one
lifecycle per instant); on the samples, 10 month ends: 7-12 s -> 2.0-2.1 s, notebook 04's
at_risk 18-37 s -> 3.2-5.7 s (pandas 0.9-1.3 s and 2.2-2.7 s; three runs on 2026-12-07,
load 3-4 on 2 cores).
"""
from __future__ import annotations

from typing import Any

import ibis
import numpy as np
import pandas as pd

from slm_lib.comment_features import ThemeSource
from slm_lib.engines.aggregates import ranked
from slm_lib.engines.clock import ON_CLOCK, Clock, engine_clock
from slm_lib.engines.session import set_time_zone
from slm_lib.engines.sla import sla_flags, with_sla_clocks
from slm_lib.engines.lifecycle import lifecycle_states
from slm_lib.engines.timestamps import US_PER_HOUR, instant
from slm_lib.errors import ConfigError
from slm_lib.features import _COUNTS, _windows, comment_features, feature_arguments, feature_rows
from slm_lib.schema import COLUMNS
from slm_lib.voice import CommentThemes

#: Columns of the per-customer medians (hours).
_MEDIANS = ("median_frt_h", "median_requester_wait_h")
#: The groups of the engine's aggregates: the instant (its position in ``as_of``) and the customer.
_KEYS = ("_k", "customer_id")


def ticket_states(window: Any, states: Any = None) -> Any:
    """Per ticket of ``window`` and instant: the ticket's state at that instant.

    ``window``: the tickets created in the lookback of each instant, one row per ticket and
    instant, with the instant's number ``_k``, time ``_now`` and the clock columns of
    ``created_at`` and ``as_of`` (:func:`slm_lib.engines.sla.with_sla_clocks` at ``_now``).
    Adds ``_resolved`` and ``_reopened`` (booleans), ``_requester_wait_h`` and
    ``_handed_off`` (float, NULL when unknown). A ticket with events before the instant
    takes them from its lifecycle's state then (``states``,
    :func:`slm_lib.engines.lifecycle.lifecycle_states`, joined on the interval holding the
    instant); one without keeps its own fields, as on the pandas engine: resolved before
    ``_now``, reopened when resolved with ``reopens > 0``, no requester wait or handoff.
    """
    resolved = (window.resolved_at < window._now).fill_null(False)
    reopened = resolved & (window.reopens > 0).fill_null(False)
    if states is None:
        return window.mutate(_resolved=resolved, _reopened=reopened, _requester_wait_h=ibis.null("float64"),
                             _handed_off=ibis.null("float64"))
    st = states.rename(_sid="ticket_id", _sresolved="resolved", _sreopened="reopened")
    j = window.left_join(st, (window.ticket_id == st._sid) & (st._from < window._now)
                         & (st._to.isnull() | (window._now <= st._to)))
    has = j._sid.notnull()
    wait = j._wait0 + j._waiting * j[ON_CLOCK + "as_of"] - j[ON_CLOCK + "created_at"]
    handed = (j._handoff_at.notnull() & (j._handoff_at < j._now)).cast("float64")
    return j.mutate(_resolved=has.ifelse(j._sresolved, resolved), _reopened=has.ifelse(j._sreopened, reopened),
                    _requester_wait_h=wait.cast("float64") / US_PER_HOUR,
                    _handed_off=has.ifelse(handed, ibis.null("float64"))).drop(*st.columns)


def _middle(t: Any, value: Any, name: str) -> Any:
    """Per instant and customer: the two middle order statistics of ``value`` (equal when its count is odd)."""
    r = ranked(t, value, list(_KEYS))
    r = r.mutate(_n=r._v.count().over(ibis.window(group_by=list(_KEYS))))
    mid = r.filter((r._r == (r._n - 1) // 2) | (r._r == r._n // 2))
    return mid.group_by(list(_KEYS)).aggregate(**{f"_{name}_lo": mid._v.min(), f"_{name}_hi": mid._v.max()})


def _instants(windows: list[tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp]]) -> Any:
    """The as_of table: per instant ``_k`` its time ``_now``, lookback start ``_lo`` and horizon end ``_hi``."""
    frame = pd.DataFrame(windows, columns=["_now", "_lo", "_hi"]).assign(_k=np.arange(len(windows), dtype="int64"))
    table = ibis.memtable(frame)
    return table.mutate(**{c: table[c].cast("timestamp('UTC', 6)") for c in ("_now", "_lo", "_hi")})


def _per_customer(lazy: Any, instants: Any, targets: dict, clock: Clock, states: Any = None) -> Any:
    """One row per instant ``_k`` and customer active then, with the aggregates :func:`feature_rows` reads.

    Each table is joined to the as_of table ``instants`` on its windows (a range join), so a
    panel is one query; durations on ``clock``.
    """
    c = lazy.customers.cross_join(instants)
    c = c.filter(c.signup_at < c._now, c.churned_at.isnull() | (c.churned_at > c._now))
    out = c.select("_k", "customer_id", "segment", "signup_at", "churned_at")
    aggs = []
    t = lazy.tickets.filter(lambda r: r.customer_id.notnull())
    t = t.join(instants, (t.created_at >= instants._lo) & (t.created_at < instants._now))
    t = with_sla_clocks(t, clock, t._now, ("first_response_at",))
    achieved, breached = sla_flags(t, {"first_response": targets["first_response"]}, t._now,
                                   before=True)["first_response"]
    answered = t.first_response_at.notnull() & (t.first_response_at < t._now)
    waited = t[ON_CLOCK + "first_response_at"] - t[ON_CLOCK + "created_at"]
    frt = answered.ifelse(waited.cast("float64") / US_PER_HOUR, ibis.null("float64"))
    t = ticket_states(t.mutate(_achieved=achieved, _breached=breached, _frt_h=frt), states)
    aggs.append(t.group_by(list(_KEYS)).aggregate(
        tickets=t.count(), breached=t._breached.cast("int64").sum(),
        decided=(t._breached | t._achieved).cast("int64").sum(), reopened=t._reopened.cast("int64").sum(),
        resolved=t._resolved.cast("int64").sum(), handoff_share=t._handed_off.mean()))
    aggs += [_middle(t, t[value], name) for name, value in zip(_MEDIANS, ("_frt_h", "_requester_wait_h"))]
    if lazy.surveys is not None:
        s = lazy.surveys.filter(lambda r: r.customer_id.notnull() & r.score.notnull())
        s = s.join(instants, (s.submitted_at >= instants._lo) & (s.submitted_at < instants._now))
        s = s.mutate(_score=s.score.cast("float64"))
        aggs.append(s.group_by(list(_KEYS)).aggregate(
            mean_csat=(s.type == "csat").ifelse(s._score, ibis.null("float64")).mean(),
            mean_ces=(s.type == "ces").ifelse(s._score, ibis.null("float64")).mean()))
        nps = s.filter(s.type == "nps")
        latest = ibis.window(group_by=list(_KEYS), order_by=[nps.submitted_at.desc(), nps.response_id.desc()])
        nps = nps.mutate(_r=ibis.row_number().over(latest))
        aggs.append(nps.filter(nps._r == 0).select(*_KEYS, last_nps=nps._score))
    if lazy.revenue is not None:
        r = lazy.revenue.filter(lambda x: x.customer_id.notnull())
        r = r.join(instants, r.paid_at < instants._hi)
        r = r.mutate(_amount=r.amount.cast("float64"), _before=r.paid_at < r._now)
        aggs.append(r.group_by(list(_KEYS)).aggregate(
            historical_clv=r._before.ifelse(r._amount, ibis.null("float64")).sum(),
            revenue_horizon=r._before.ifelse(ibis.null("float64"), r._amount).sum()))
    columns = list(out.columns)
    for i, agg in enumerate(aggs):  # one chain of joins on the instant and customer
        agg = agg.rename(**{f"_k{i}": "_k", f"_c{i}": "customer_id"})
        columns += [c for c in agg.columns if c not in (f"_k{i}", f"_c{i}")]
        out = out.left_join(agg, (out._k == agg[f"_k{i}"]) & (out.customer_id == agg[f"_c{i}"]))
    return out.select(*columns)


def _collected(frame: pd.DataFrame) -> pd.DataFrame:
    """The per-customer rows of one ``as_of`` as :func:`feature_rows` reads them (dtypes, missing values)."""
    frame = frame.sort_values("customer_id", kind="stable").reset_index(drop=True)
    out = frame[["customer_id", "segment"]].astype({c: COLUMNS["customers"][c] for c in ("customer_id", "segment")})
    for col in ("signup_at", "churned_at"):
        out[col] = pd.to_datetime(frame[col], utc=True)
    out["tickets"] = frame["tickets"].fillna(0).to_numpy("int64")
    for col in (*_COUNTS, "handoff_share", "mean_csat", "mean_ces", "last_nps", "historical_clv", "revenue_horizon"):
        out[col] = frame[col].to_numpy(float) if col in frame else np.full(len(frame), np.nan)
    for col in _MEDIANS:
        out[col] = (frame[f"_{col}_lo"].to_numpy(float) + frame[f"_{col}_hi"].to_numpy(float)) / 2
    out[["historical_clv", "revenue_horizon"]] = out[["historical_clv", "revenue_horizon"]].fillna(0.0)
    return out


def _comments(lazy: Any, windows: list[tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp]],
              themes: ThemeSource | None) -> pd.DataFrame:
    """The survey answers :class:`~slm_lib.comment_features.CommentFeatures` reads, collected from the engine.

    Those with a comment submitted in a window, with the comments before the earliest
    ``as_of`` that fitted themes need (``themes`` a number), and the answers of fitted
    themes' own comments (to check that they precede the earliest ``as_of``).
    """
    s = lazy.require("surveys", "customer_features' text features")
    has = s.comment.notnull()
    wanted = ibis.or_(*[(s.submitted_at >= instant(lo, up=True)) & (s.submitted_at < instant(now, up=True))
                        for now, lo, _ in windows])
    first = min(now for now, _, _ in windows)
    if themes is None or (isinstance(themes, (int, np.integer)) and not isinstance(themes, bool)):
        wanted = wanted | (s.submitted_at < instant(first, up=True))
    got = s.filter(has & wanted)
    if isinstance(themes, CommentThemes):
        ids = themes.comments.loc[themes.comments["source"] == "survey", ["id"]].astype("str")
        fitted = ibis.memtable(ids, schema=ibis.schema({"id": "string"}))
        got = s.filter((has & wanted) | s.response_id.isin(fitted.id))
    frame = got.execute().sort_values("response_id", kind="stable").reset_index(drop=True)
    frame["submitted_at"] = pd.to_datetime(frame["submitted_at"], utc=True)
    return frame


def engine_customer_features(lazy: Any, as_of: Any, lookback: Any = "90D", horizon: Any = "90D",
                             sla_targets: dict | None = None, calendar: Any = None, text_features: bool = False,
                             themes: ThemeSource | None = None) -> pd.DataFrame:
    """:func:`slm_lib.features.customer_features` of a :class:`~slm_lib.engines.LazyDataset`.

    Same parameters, rows, columns, dtypes and values (with ticket events, the event columns
    from each ticket's lifecycle on the engine, :func:`slm_lib.engines.lifecycle.lifecycle_states`;
    with a ``calendar``, business hours: :func:`slm_lib.engines.clock.engine_clock`). The engine
    collects one row per active customer and ``as_of`` (one query for all of them). With
    text features the survey answers with a comment submitted in the windows are collected
    (with, for themes fitted here, the comments before the earliest ``as_of``) and go
    through :class:`~slm_lib.comment_features.CommentFeatures` as on the pandas engine.

    Raises
    ------
    ConfigError
        Bad windows or targets, an empty ``as_of``, duplicate customer ids; a calendar with
        a local time zone on a backend other than DuckDB and Spark.
    MissingTableError
        No customers table.

    Examples
    --------
    >>> from slm_lib.engines import open_dataset
    >>> f = engine_customer_features(open_dataset("data_samples"), "2025-01-01")   # doctest: +SKIP
    """
    instants, lookback, horizon, targets = feature_arguments(as_of, lookback, horizon, sla_targets)
    lazy.require("customers", "customer_features")
    set_time_zone(lazy.con, "UTC")  # Spark hands timestamps back as wall times of its session zone
    ids = lazy.customers.customer_id
    check = lazy.customers.aggregate(_n=ids.count(), _u=ids.nunique()).execute()
    if int(check["_n"].iloc[0]) != int(check["_u"].iloc[0]):
        raise ConfigError("customer_features: customers.customer_id has duplicates; validate the data first")
    windows = [_windows(a, lookback, horizon) for a in instants]
    clock = engine_clock(calendar, lazy.con)
    events = lazy.tables.get("ticket_events")
    states = None if events is None else lifecycle_states(events, clock)
    got = _per_customer(lazy, _instants(windows), targets, clock, states).execute()
    frames = [_collected(got.loc[got["_k"] == k]) for k in range(len(windows))]
    text = None
    if text_features or themes is not None:
        comments = _comments(lazy, windows, themes)
        text = comment_features(comments, instants, text_features, themes)
        for k, (now, start, _) in enumerate(windows):
            sv = comments.loc[(comments["submitted_at"] >= start) & (comments["submitted_at"] < now)]
            sv = sv.assign(_pos=pd.Index(frames[k]["customer_id"]).get_indexer(sv["customer_id"]))
            frames[k] = frames[k].assign(**text.window(sv.loc[sv["_pos"] >= 0], np.arange(len(frames[k]))))
    return pd.concat([feature_rows(f, now, end, text) for f, (now, _, end) in zip(frames, windows)],
                     ignore_index=True)
