"""Customer journeys on an engine: repeat contact, channel switching, paths before churn (:mod:`slm_lib.journeys`).

The engine computes per group, per channel pair or per customer only: counts of solved
and repeated tickets (the running counts and equi-join of
:func:`slm_lib.engines.ticket_metrics.repeat_counts`, the solve in force from ticket events
as in the metric table), the follow-up counts between channels (``lead`` over each
customer's tickets), and each seen customer's last touchpoints (``row_number`` over its
touchpoints, latest first). The small results go through the same pandas functions as the
pandas engine (:func:`slm_lib.journeys.repeat.rate_table`,
:func:`slm_lib.journeys.switching.switching_tables`,
:func:`slm_lib.journeys.paths.path_table`); the seeded tenure matching of the retained
customers runs in pandas on the per-customer table (signup, churn), as on the pandas engine.

Rows have no file order on an engine: tickets (touchpoints) of one customer at the same
instant follow each other in ``ticket_id`` (``response_id``, ``order_id``) order, which is
the pandas engine's table order when the files list them by id.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import ibis
import numpy as np
import pandas as pd

from slm_lib.config import DEFAULT_MIN_N, NPS_DETRACTOR_MAX, NPS_PROMOTER_MIN, csat_cutoffs
from slm_lib.engines.clock import engine_clock
from slm_lib.engines.dataset import cached, fetch
from slm_lib.engines.event_metrics import event_tables, solved_at, with_lifecycle
from slm_lib.engines.lifecycle import has_rows
from slm_lib.engines.aggregates import with_columns
from slm_lib.engines.session import observation_end, set_time_zone
from slm_lib.engines.ticket_metrics import repeat_counts
from slm_lib.engines.timestamps import US_PER_HOUR, instant
from slm_lib.errors import ConfigError
from slm_lib.journeys.paths import (TOUCHPOINT_KINDS, PathsBeforeChurn, churned_by, path_table,
                                    reference_instants)
from slm_lib.journeys.repeat import rate_table
from slm_lib.journeys.switching import UNKNOWN_CHANNEL, ChannelSwitching, switching_tables
from slm_lib.keys import lookup_positions
from slm_lib.metrics.contacts import REPEAT_DAYS
from slm_lib.metrics.grouping import by_list
from slm_lib.periods import NAT_NS, epoch_ns, utc_instant
from slm_lib.schema import COLUMNS, TS

_NS_PER_DAY = 86_400 * 10**9


def _as_of(lazy: Any, as_of: Any) -> pd.Timestamp | None:
    set_time_zone(lazy.con, "UTC")
    return observation_end(lazy) if as_of is None else utc_instant(as_of)


@contextmanager
def solved_tickets(lazy: Any, as_of: pd.Timestamp) -> Iterator[tuple[Any, str]]:
    """The tickets and the column of their solve in force at ``as_of``, as ``metric_table`` reads them.

    Without ticket events (or none with rows) the tickets' ``resolved_at``; with them the
    tickets joined to their lifecycle and :func:`slm_lib.engines.event_metrics.solved_at`.
    The tickets are kept on the engine while the block runs (computed once: a cut data
    set's tickets are a query of their own, which every later query would repeat).
    """
    tickets, events = lazy.tickets, lazy.ticket_events
    if events is None or not has_rows(events):
        with cached(lazy.con, tickets) as kept:
            yield kept, "resolved_at"
        return
    with cached(lazy.con, event_tables(tickets, events, as_of, engine_clock(None, lazy.con)).lifecycle) as lc:
        whole = with_lifecycle(tickets, lc)
        with cached(lazy.con, whole.mutate(_solved_at=solved_at(whole))) as kept:
            yield kept, "_solved_at"


def engine_repeat_contact_rate(lazy: Any, days: float = REPEAT_DAYS, by: str | Sequence[str] | None = None,
                               as_of: Any = None, min_n: int = DEFAULT_MIN_N) -> pd.DataFrame:
    """:func:`slm_lib.journeys.repeat.repeat_contact_rate` of a :class:`~slm_lib.engines.dataset.LazyDataset`.

    Groups are those of the tickets (a customers column joined by ``customer_id``), sorted,
    a missing value last.

    Examples
    --------
    >>> from slm_lib.engines import open_dataset
    >>> engine_repeat_contact_rate(open_dataset("data_samples"), by="channel")   # doctest: +SKIP
    """
    by = by_list(by)
    as_of = _as_of(lazy, as_of)
    customers = lazy.customers
    cust_cols = set(customers.columns) - {"customer_id"} if customers is not None else set()
    for col in by:
        if col not in lazy.tickets.columns and col not in cust_cols:
            raise ConfigError(f"metric_table: by column {col!r} is neither a tickets nor a customers column")
    window_us = int(round(days * US_PER_HOUR * 24))
    with solved_tickets(lazy, as_of) as (whole, solved):
        t = with_columns(whole, customers, "customer_id", [c for c in by if c not in whole.columns])
        counts = repeat_counts(t, whole, as_of, days, engine_clock(None, lazy.con), solved)
        if counts:
            at, now = t[solved], instant(as_of)
            late = at.notnull() & (at <= now) & (t.created_at <= now) & \
                (at > instant(as_of - pd.Timedelta(microseconds=window_us)))
            counts["_rc_c"] = late.cast("int64").sum()
        else:   # no timestamp at all: nothing is solved
            counts = {k: ibis.literal(0, type="int64") for k in ("_rc_n", "_rc_r", "_rc_c")}
        got = (t.group_by(by) if by else t).aggregate(**counts).execute()
    if by:
        got = got.sort_values(by, kind="stable", na_position="last").reset_index(drop=True)
        for c in by:   # labels as on the pandas engine: the canonical dtype, NaN for a missing value
            got[c] = got[c].astype(object).where(got[c].notna(), np.nan)
            kind = COLUMNS["tickets" if c in lazy.tickets.columns else "customers"].get(c)
            got[c] = got[c].astype(kind) if kind is not None and kind != TS else got[c]
    column = lambda name: got[name].fillna(0).to_numpy(dtype=np.int64)  # noqa: E731
    return rate_table(got[by], column("_rc_n"), column("_rc_r"), column("_rc_c"), min_n)


def engine_channel_switching(lazy: Any, days: float = REPEAT_DAYS, as_of: Any = None,
                             min_n: int = DEFAULT_MIN_N) -> ChannelSwitching:
    """:func:`slm_lib.journeys.switching.channel_switching` of a :class:`~slm_lib.engines.dataset.LazyDataset`.

    Each ticket of a customer (created by ``as_of``) with the next one (``lead`` in
    ``created_at``, ``ticket_id`` order); the pairs at most ``days`` apart counted per
    (channel, next channel).

    Examples
    --------
    >>> from slm_lib.engines import open_dataset
    >>> engine_channel_switching(open_dataset("data_samples")).summary   # doctest: +SKIP
    """
    as_of = _as_of(lazy, as_of)
    t = lazy.tickets
    seen = t.group_by(_ch=t.channel).aggregate(_n=t.count()).execute()["_ch"]
    channels = sorted(str(c) for c in seen.dropna())
    if seen.isna().any():
        channels.append(UNKNOWN_CHANNEL)
    k = len(channels)
    counts = np.zeros((k, k), dtype=np.int64)
    if as_of is not None and k:
        epoch = engine_clock(None, lazy.con)
        known = t.filter(t.customer_id.notnull() & t.created_at.notnull() & (t.created_at <= instant(as_of)))
        known = known.mutate(_ch=known.channel.fill_null(UNKNOWN_CHANNEL), _us=epoch(known.created_at))
        w = ibis.window(group_by=known.customer_id, order_by=[known.created_at, known.ticket_id])
        pairs = known.mutate(_to=known._ch.lead().over(w), _gap=known._us.lead().over(w) - known._us)
        pairs = pairs.filter(pairs._gap.notnull() & (pairs._gap <= int(round(days * _NS_PER_DAY)) // 1000))
        got = pairs.group_by(["_ch", "_to"]).aggregate(_n=pairs.count()).execute()
        code = {c: i for i, c in enumerate(channels)}
        np.add.at(counts, (got["_ch"].map(code).to_numpy(dtype=np.int64), got["_to"].map(code).to_numpy(dtype=np.int64)),
                  got["_n"].to_numpy(dtype=np.int64))
    return switching_tables(counts, channels, days, min_n)


def _touchpoints(lazy: Any, kinds: Sequence[str], epoch: Any) -> list[Any]:
    """The touchpoints of ``kinds`` as tables ``_c, _us, _kind, _id, _tok`` (module docstring of paths)."""
    parts = []
    t, s, r = lazy.tickets, lazy.surveys, lazy.revenue
    if "ticket" in kinds:
        parts.append(t.select(_c=t.customer_id, _us=epoch(t.created_at), _kind=ibis.literal(0, type="int64"),
                              _id=t.ticket_id, _tok="ticket:" + t.channel.fill_null(UNKNOWN_CHANNEL)))
    if "survey" in kinds and s is not None:
        s = s.filter(s.type.isin(("nps", "csat")) & s.score.notnull())
        top2, _ = csat_cutoffs(lazy.scales["csat"])
        label = ibis.cases((s.type == "csat", (s.score >= top2).ifelse("survey:csat_good", "survey:csat_bad")),
                           (s.score >= NPS_PROMOTER_MIN, "survey:promoter"),
                           (s.score > NPS_DETRACTOR_MAX, "survey:passive"), else_="survey:detractor")
        parts.append(s.select(_c=s.customer_id, _us=epoch(s.submitted_at), _kind=ibis.literal(1, type="int64"),
                              _id=s.response_id, _tok=label))
    if "payment" in kinds and r is not None:
        parts.append(r.select(_c=r.customer_id, _us=epoch(r.paid_at), _kind=ibis.literal(2, type="int64"),
                              _id=r.order_id.cast("string"), _tok=(r.amount < 0).ifelse("refund", "payment")))
    return parts


def _stacked(parts: list[Any]) -> Any:
    """The touchpoint tables as one (UNION ALL)."""
    return parts[0].union(*parts[1:], distinct=False) if len(parts) > 1 else parts[0]


def _first_touch(lazy: Any) -> int | None:
    """The first touchpoint of any kind on record, in ns (None: none)."""
    every = _stacked(_touchpoints(lazy, TOUCHPOINT_KINDS, engine_clock(None, lazy.con)))
    first = every.aggregate(_m=every._us.min()).execute()["_m"].iloc[0]
    return None if pd.isna(first) else int(first) * 1000


def engine_paths_before_churn(lazy: Any, window_days: float = 90, length: int = 3, as_of: Any = None, seed: int = 0,
                              min_n: int = DEFAULT_MIN_N,
                              kinds: Sequence[str] = TOUCHPOINT_KINDS) -> PathsBeforeChurn:
    """:func:`slm_lib.journeys.paths.paths_before_churn` of a :class:`~slm_lib.engines.dataset.LazyDataset`.

    The customers' signup and churn come back (one row per customer) for the seeded
    matching of reference dates; the seen customers' reference windows go to the engine,
    which returns each one's last ``length`` touchpoints in its window.

    Examples
    --------
    >>> from slm_lib.engines import open_dataset
    >>> engine_paths_before_churn(open_dataset("data_samples")).table   # doctest: +SKIP
    """
    if as_of is not None:
        lazy = lazy.until(utc_instant(as_of))
    end = _as_of(lazy, None)
    c = lazy.customers
    people = fetch(lazy.con, c.select("customer_id", "signup_at", "churned_at"))
    people = people.assign(customer_id=people["customer_id"].astype(str)).sort_values("customer_id", kind="stable")
    people = people.reset_index(drop=True)
    signup = epoch_ns(pd.to_datetime(people["signup_at"], utc=True))
    churned = epoch_ns(pd.to_datetime(people["churned_at"], utc=True))
    is_churned = churned_by(churned, end.value, kinds)
    window = int(round(window_days * _NS_PER_DAY))
    ref = reference_instants(people["customer_id"], signup, churned, is_churned, end.value, _first_touch(lazy),
                             window, seed)
    seen = np.flatnonzero(ref != NAT_NS)
    bounds = pd.DataFrame({"_rc": people["customer_id"].to_numpy()[seen], "_lo": (ref[seen] - window) // 1000,
                           "_hi": ref[seen] // 1000})
    parts = _touchpoints(lazy, kinds, engine_clock(None, lazy.con))
    got = pd.DataFrame({"_c": [], "_r": [], "_tok": []})
    if parts and len(bounds):
        w = ibis.memtable(bounds, schema=ibis.schema({"_rc": "string", "_lo": "int64", "_hi": "int64"}))
        tp = _stacked(parts)
        tp = tp.join(w, tp._c == w._rc)
        tp = tp.filter(tp._us.notnull() & (tp._us <= tp._hi) & (tp._us > tp._lo))
        tp = tp.mutate(_r=ibis.row_number().over(group_by=tp._c, order_by=[tp._us.desc(), tp._kind.desc(),
                                                                             tp._id.desc()]))
        got = tp.filter(tp._r < length).select("_c", "_r", "_tok").execute()
    customer = lookup_positions(people["customer_id"], got["_c"].astype(str))
    return path_table(customer, got["_r"].to_numpy(dtype=np.int64), got["_tok"].to_numpy(dtype=object), ref,
                      is_churned, window_days, length, min_n)
