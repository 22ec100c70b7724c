"""The monthly simulation loop and the assembly of the canonical tables.

Each month ``m`` (as_of = its first instant): compute every customer's window features
from the records generated so far, draw churn for the active customers from the planted
hazard (with the planted theme of the comments in the window), bill them (amount with the
planted CSAT effect), then generate the month's tickets, their CSAT/CES answers and the
month's NPS answers, each answer with its comment or none. Records whose timestamps fall
after the end of the last month are censored (null) or dropped, as in a real export.

Examples
--------
>>> from slm_lib.synth import generate
>>> ds = generate(customers=40, months=2, seed=1)
>>> ds.source, list(ds.customers.columns)[:2]
('synthetic', ['customer_id', 'signup_at'])
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from slm_lib.errors import ConfigError
from slm_lib.synth import effects as fx
from slm_lib.periods import NAT_NS
from slm_lib.schema import EVENT_KINDS
from slm_lib.synth.comments import THEMES, comment_draws
from slm_lib.synth.customers import SEGMENTS, make_customers
from slm_lib.synth.events import event_arrays
from slm_lib.synth.surveys import nps_surveys, ticket_surveys
from slm_lib.synth.tickets import AGENTS_PER_TEAM, SLA_TARGET_H, TEAMS, month_tickets
from slm_lib.synth.window import NEVER, churn_logit, window_features

_COEF = {"tenure": fx.B_TENURE, "tenure_cap": fx.TENURE_CAP_YEARS, "frt": fx.B_FRT,
         "frt_scale_h": fx.FRT_SCALE_H, "sla": fx.B_SLA, "detractor": fx.B_DETRACTOR,
         "passive": fx.B_PASSIVE, "nps_none": fx.B_NPS_NONE, "no_ticket": fx.B_NO_TICKET,
         "wait": fx.B_WAIT, "wait_scale_h": fx.WAIT_SCALE_H, "theme": fx.B_THEME}
_CHURN_THEME = list(THEMES).index(fx.CHURN_THEME)
_YEAR_S = 365.25 * 86400
_DAY_S = 86400
_NS = 10**9
_STATUS_KIND = EVENT_KINDS.index("status")
#: Second entry of the seed of the ticket events' random stream (``[seed, EVENTS_STREAM]``).
EVENTS_STREAM: int = 1
#: Second entry of the seed of the survey comments' random stream (``[seed, COMMENTS_STREAM]``).
COMMENTS_STREAM: int = 2


def month_bounds(start: str | pd.Timestamp, months: int) -> np.ndarray:
    """Month starts (int seconds since the epoch, UTC) of ``months`` months from ``start``.

    Raises
    ------
    ConfigError
        If ``start`` is not a date or not the first instant of a month.

    Examples
    --------
    >>> month_bounds("2024-11", 1).tolist()
    [1730419200, 1733011200]
    """
    try:
        first = pd.Timestamp(start)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"synth.generate: start={start!r} is not a date (use YYYY-MM or YYYY-MM-01)") from exc
    first = first.tz_localize("UTC") if first.tz is None else first.tz_convert("UTC")
    if first != first.normalize() or first.day != 1:
        raise ConfigError(f"synth.generate: start={start!r} is not the first instant of a month")
    return pd.date_range(first, periods=months + 1, freq="MS").as_unit("s").asi8


def _staffing(rng: np.random.Generator, months: int) -> np.ndarray:
    s = np.exp(fx.STAFFING_SD * rng.standard_normal(months))
    bad = [m for m in fx.STAFFING_BAD_MONTHS if m < months]
    s[bad] *= fx.STAFFING_BAD_FACTOR
    return s


def _concat(parts: list[dict[str, np.ndarray]], keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    return {k: np.concatenate([p[k] for p in parts]) for k in keys}


def _payments(rng: np.random.Generator, begin: int, end: int, cust: np.ndarray,
              customers: dict[str, np.ndarray], churned: np.ndarray,
              mean_csat: np.ndarray) -> dict[str, np.ndarray]:
    """This month's payment of each customer in ``cust`` (on its signup day of month, the
    last day when the month is shorter; none before signup or after churn), with the
    planted CSAT effect: base[segment] * exp(g_csat * (mean_csat - 4)) * LogNormal(0, sd)."""
    signup = customers["signup"][cust]
    days_in_month = (end - begin) // _DAY_S
    signup_day = pd.to_datetime(signup, unit="s").day.to_numpy()
    seconds_of_day = signup % _DAY_S
    paid = begin + (np.minimum(signup_day, days_in_month) - 1) * _DAY_S + seconds_of_day
    ok = (paid >= signup) & (paid < churned[cust])
    cust, paid = cust[ok], paid[ok]
    base = np.asarray([fx.BASE_REVENUE[s] for s in SEGMENTS])[customers["segment"][cust]]
    csat_term = fx.G_CSAT * (np.nan_to_num(mean_csat[cust], nan=fx.CSAT_CENTER) - fx.CSAT_CENTER)
    amount = base * np.exp(csat_term + fx.REVENUE_NOISE_SD * rng.standard_normal(cust.size))
    return {"customer": cust, "paid": paid, "amount": np.round(amount, 2)}


def _refunds(rng: np.random.Generator, pay: dict[str, np.ndarray], order: np.ndarray) -> dict[str, np.ndarray]:
    """Refund rows for ~0.5 % of payments: full (60 %) or partial, 1-20 days later, same order."""
    k = np.flatnonzero(rng.random(order.size) < fx.REFUND_SHARE)
    share = np.where(rng.random(k.size) < 0.6, 1.0, rng.uniform(0.2, 0.8, k.size))
    return {"customer": pay["customer"][k], "order": order[k],
            "paid": pay["paid"][k] + rng.integers(1 * _DAY_S, 20 * _DAY_S, k.size),
            "amount": -np.round(pay["amount"][k] * share, 2)}


def _month_events(rng: np.random.Generator, tickets: dict[str, np.ndarray], end: int) -> dict[str, np.ndarray]:
    """The events of a month's tickets as exported at ``end`` (the end of the data).

    Replies, resolutions and counts after ``end`` are censored first, as
    :func:`slm_lib.synth.assemble.to_dataset` censors the tickets, so that the events agree
    with the tickets of the export. Times in ns (:func:`slm_lib.synth.events.event_arrays`).
    """
    replied = tickets["first_response"] < end
    ns = lambda s: np.where(s < end, s * _NS, NAT_NS)  # noqa: E731
    return event_arrays(tickets["created"] * _NS, ns(tickets["first_response"]), ns(tickets["resolved"]),
                        np.where(replied, tickets["replies"], 0), np.where(replied, tickets["reopens"], 0),
                        rng, end * _NS)


def _status_events(drawn: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The status events of :func:`_month_events` output (``ticket``, ``at`` in s, ``status``)."""
    keep = drawn["kind"] == _STATUS_KIND
    return {"ticket": drawn["ticket"][keep], "at": drawn["at"][keep] // _NS, "status": drawn["status"][keep]}


def _joined(parts: list[dict[str, np.ndarray]], sizes: list[int], keys: tuple[str, ...]) -> dict[str, np.ndarray]:
    """Consecutive months' event arrays as one, ticket positions shifted into the concatenation of their tickets."""
    offsets = np.cumsum([0, *sizes[:-1]])
    shifted = [{**p, "ticket": p["ticket"] + o} for p, o in zip(parts, offsets)]
    return _concat(shifted or [{k: np.zeros(0, np.int64) for k in keys}], keys)


def simulate(customers: int, months: int, seed: int, start: str, events: bool = False) -> dict:
    """Run the monthly simulation; raw arrays (codes, int seconds, ``NEVER`` = null).

    With ``events``, each month's tickets get their ticket events right away (from the random
    stream ``[seed, EVENTS_STREAM]``), and churn feels the planted requester-wait effect.
    Survey answers get their comments when drawn (from the stream ``[seed, COMMENTS_STREAM]``),
    so that churn feels the planted comment theme of the answers in the window.

    Examples
    --------
    >>> raw = simulate(30, 2, 0, "2024-11")
    >>> sorted(raw)
    ['customers', 'end', 'revenue', 'start', 'surveys', 'tickets']
    >>> sorted(simulate(30, 2, 0, "2024-11", events=True)["events"])
    ['actor', 'at', 'kind', 'own', 'pick', 'status', 'ticket']
    """
    if customers < 1 or months < 1:
        raise ConfigError(f"synth.generate: customers and months must be >= 1, got {customers}, {months}")
    bounds = month_bounds(start, months)
    rng = np.random.default_rng(seed)
    event_rng = np.random.default_rng([seed, EVENTS_STREAM]) if events else None
    comment_rng = np.random.default_rng([seed, COMMENTS_STREAM])
    cust = make_customers(rng, customers, bounds)
    n = customers
    churned = np.full(n, NEVER, dtype=np.int64)
    staffing = _staffing(rng, months)
    agent_skill = np.exp(0.3 * rng.standard_normal(len(TEAMS) * AGENTS_PER_TEAM))
    b0 = np.asarray([fx.CHURN_B0[s] for s in SEGMENTS])[cust["segment"]]

    ticket_months: list[dict[str, np.ndarray]] = []
    survey_by_month: list[list[dict[str, np.ndarray]]] = [[] for _ in range(months)]
    payments: list[dict[str, np.ndarray]] = []
    event_months: list[dict[str, np.ndarray]] = []
    status_months: list[dict[str, np.ndarray]] = []   # their status events, for the monthly wait
    n_tickets = 0
    t_keys = ("customer", "created", "first_response", "priority")
    s_keys = ("customer", "ticket", "submitted", "type", "score", "comment", "theme")
    for m in range(months):
        begin, end = int(bounds[m]), int(bounds[m + 1])
        w0 = max(m - fx.LOOKBACK_MONTHS, 0)
        window_tickets = _concat(ticket_months[w0:m] or [{k: np.zeros(0, np.int64) for k in t_keys}], t_keys)
        window_tickets["target_h"] = SLA_TARGET_H[window_tickets["priority"]]
        answers = _concat([p for parts in survey_by_month[w0:m] for p in parts]
                          or [{k: np.zeros(0, np.int64) for k in s_keys}], s_keys)
        is_csat, is_nps = answers["type"] == 0, answers["type"] == 1
        status = _joined(status_months[w0:m], [p["customer"].size for p in ticket_months[w0:m]],
                         ("ticket", "at", "status")) if events else None
        commented = answers["theme"] >= 0
        feats = window_features(n, begin, window_tickets,
                                {k: v[is_csat] for k, v in answers.items()},
                                {k: v[is_nps] for k, v in answers.items()}, status,
                                {k: answers[k][commented] for k in ("customer", "theme")}, _CHURN_THEME)

        active = np.flatnonzero((cust["signup"] < begin) & (churned == NEVER))
        tenure = (begin - cust["signup"][active]) / _YEAR_S
        p = 1.0 / (1.0 + np.exp(-churn_logit(b0[active], tenure, feats.take(active), _COEF)))
        leaving = active[rng.random(active.size) < p]
        churned[leaving] = begin + np.floor(rng.random(leaving.size) * (end - begin)).astype(np.int64)

        present = np.flatnonzero((cust["signup"] < end) & (churned >= begin))
        payments.append(_payments(rng, begin, end, present, cust, churned, feats.mean_csat))
        tickets = month_tickets(rng, begin, end, cust, churned, present, float(staffing[m]), agent_skill)
        ticket_months.append(tickets)
        if events:
            event_months.append(_month_events(event_rng, tickets, int(bounds[-1])))
            status_months.append(_status_events(event_months[-1]))
        answered = ticket_surveys(rng, tickets, n_tickets, cust["mood"])
        n_tickets += tickets["customer"].size
        nps = nps_surveys(rng, begin, end, present, cust["signup"], churned, cust["mood"],
                          feats.sla_breach_share)
        for part in (answered, nps):
            part["comment"], part["theme"] = comment_draws(comment_rng, part["type"], part["score"])
            month_of = np.searchsorted(bounds, part["submitted"], side="right") - 1
            for k in np.unique(month_of[month_of < months]):
                survey_by_month[k].append({key: v[month_of == k] for key, v in part.items()})

    pay = _concat(payments, ("customer", "paid", "amount"))
    order = np.arange(pay["customer"].size)
    refunds = _refunds(rng, pay, order)
    surveys = _concat([p for parts in survey_by_month for p in parts]
                      or [{k: np.zeros(0, np.int64) for k in s_keys}], s_keys[:-1])
    raw = {"customers": {**cust, "churned": churned},
            "tickets": _concat(ticket_months, tuple(ticket_months[0])),
            "surveys": surveys,
            "revenue": {"customer": np.concatenate([pay["customer"], refunds["customer"]]),
                        "paid": np.concatenate([pay["paid"], refunds["paid"]]),
                        "amount": np.concatenate([pay["amount"], refunds["amount"]]),
                        "order": np.concatenate([order, refunds["order"]])},
            "start": int(bounds[0]), "end": int(bounds[-1])}
    if events:
        raw["events"] = _joined(event_months, [p["customer"].size for p in ticket_months], tuple(event_months[0]))
    return raw
