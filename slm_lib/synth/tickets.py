"""Synthetic tickets of one month: arrival times, channel, priority, routing, timings.

Arrivals follow a weekly and daily profile (weekdays busier, business-hours peak, some
nights and weekends). Response and resolution times are log-normal, slower and heavier
for e-mail/web/social than for chat/phone, scaled by priority, team, agent skill and the
month's staffing multiplier. The ``frontline`` team is the planted delivery gap: fastest
first replies, but about 3x the reopens (its CSAT penalty lives in ``surveys``).

Examples
--------
>>> import numpy as np
>>> t = arrival_times(np.random.default_rng(0), 1_730_419_200, 1_733_011_200, 5)
>>> bool(((t >= 1_730_419_200) & (t < 1_733_011_200)).all())
True
"""
from __future__ import annotations

import numpy as np

from slm_lib.config import DEFAULT_SLA_TARGETS
from slm_lib.synth.window import NEVER

CHANNELS: tuple[str, ...] = ("email", "chat", "phone", "web", "social")
CHANNEL_SHARE: tuple[float, ...] = (0.36, 0.24, 0.12, 0.18, 0.10)
#: Probability that a ticket uses the customer's preferred channel.
CHANNEL_LOYALTY: float = 0.7
#: Median first response (h) and log-sd per channel.
FRT_MEDIAN_H: tuple[float, ...] = (7.0, 0.08, 0.03, 5.0, 3.0)
FRT_SIGMA: tuple[float, ...] = (1.0, 0.7, 0.5, 0.9, 0.9)
#: Median time from first response to resolution (h) per channel.
RES_MEDIAN_H: tuple[float, ...] = (20.0, 0.4, 0.25, 16.0, 10.0)
RES_SIGMA: float = 1.1

PRIORITIES: tuple[str, ...] = ("low", "normal", "high", "urgent")
PRIORITY_SHARE: tuple[float, ...] = (0.20, 0.55, 0.18, 0.07)
PRIORITY_FRT_MULT: tuple[float, ...] = (1.5, 1.0, 0.5, 0.25)
PRIORITY_RES_MULT: tuple[float, ...] = (1.8, 1.0, 0.6, 0.3)
#: First-response SLA target (h) per priority code, from the shared configuration.
SLA_TARGET_H: np.ndarray = np.array([DEFAULT_SLA_TARGETS["first_response"][p] for p in PRIORITIES])

CATEGORIES: tuple[str, ...] = ("billing", "technical_issue", "bug", "account_access", "how_to",
                               "onboarding", "feature_request", "general")
CATEGORY_SHARE: tuple[float, ...] = (0.18, 0.20, 0.10, 0.12, 0.14, 0.08, 0.06, 0.12)
TEAMS: tuple[str, ...] = ("billing", "technical", "accounts", "onboarding", "frontline")
#: Home team of each category (index into TEAMS).
CATEGORY_TEAM: np.ndarray = np.array([0, 1, 1, 2, 3, 3, 4, 4])
FRONTLINE: int = TEAMS.index("frontline")
#: Share of tickets first picked up by frontline whatever the category; share re-routed at random.
FRONTLINE_PICKUP: float = 0.3
RANDOM_ROUTING: float = 0.08
TEAM_FRT_MULT: tuple[float, ...] = (1.0, 1.3, 0.9, 1.1, 0.45)
TEAM_RES_MULT: tuple[float, ...] = (0.9, 1.4, 0.8, 1.0, 0.5)
TEAM_REOPEN_RATE: tuple[float, ...] = (0.06, 0.10, 0.05, 0.06, 0.30)
AGENTS_PER_TEAM: int = 8
#: Extra replies per ticket (beyond the first) per channel.
EXTRA_REPLIES: tuple[float, ...] = (1.8, 0.9, 0.3, 1.5, 1.1)
#: Share of tickets never answered; of those, share closed by the customer.
NO_RESPONSE: float = 0.012
NO_RESPONSE_CLOSED: float = 0.5
#: Share of answered tickets never resolved.
UNRESOLVED: float = 0.02
REOPEN_EXTRA_MEDIAN_H: float = 20.0

#: Relative arrival intensity per weekday (Monday first) and per UTC hour.
WEEKDAY_WEIGHT: np.ndarray = np.array([1.15, 1.10, 1.05, 1.0, 0.9, 0.35, 0.30])
HOUR_WEIGHT: np.ndarray = np.array([0.12, 0.10, 0.08, 0.08, 0.10, 0.15, 0.30, 0.60, 0.95, 1.15, 1.2, 1.15,
                                    1.05, 1.1, 1.15, 1.1, 1.0, 0.85, 0.6, 0.45, 0.38, 0.3, 0.22, 0.16])


def arrival_times(rng: np.random.Generator, begin: int, end: int, n: int) -> np.ndarray:
    """``n`` arrival times (int seconds) in ``[begin, end)`` from the weekly/daily profile.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    begin, end : int
        Month bounds in seconds since the epoch (whole hours).
    n : int
        Number of arrivals.

    Returns
    -------
    numpy.ndarray
        int64 seconds, unsorted.

    Examples
    --------
    >>> arrival_times(np.random.default_rng(0), 0, 3600, 2).tolist() < [3600, 3600]
    True
    """
    hours = np.arange(begin, end, 3600, dtype=np.int64)
    weekday = ((hours // 86400) + 3) % 7  # 1970-01-01 was a Thursday (Monday = 0)
    weight = WEEKDAY_WEIGHT[weekday] * HOUR_WEIGHT[(hours // 3600) % 24]
    pick = rng.choice(hours.size, size=n, p=weight / weight.sum())
    return hours[pick] + rng.integers(0, 3600, size=n)


def _lognormal_h(rng: np.random.Generator, median_h: np.ndarray, sigma: np.ndarray | float) -> np.ndarray:
    return median_h * np.exp(sigma * rng.standard_normal(np.shape(median_h)))


def month_tickets(
    rng: np.random.Generator,
    begin: int,
    end: int,
    customers: dict[str, np.ndarray],
    churned: np.ndarray,
    eligible: np.ndarray,
    staffing: float,
    agent_skill: np.ndarray,
) -> dict[str, np.ndarray]:
    """Tickets created in the month ``[begin, end)`` by the ``eligible`` customers.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    begin, end : int
        Month bounds (seconds).
    customers : dict
        Output of :func:`slm_lib.synth.customers.make_customers`.
    churned : numpy.ndarray
        Churn time of every customer (``NEVER`` if active); no ticket after it.
    eligible : numpy.ndarray
        Positions of customers active at some point of the month.
    staffing : float
        The month's multiplier on every response and resolution time.
    agent_skill : numpy.ndarray
        Time multiplier of each agent (``AGENTS_PER_TEAM`` consecutive agents per team).

    Returns
    -------
    dict of numpy.ndarray
        ``customer, created, first_response, resolved`` (int64 seconds, ``NEVER`` = null),
        ``channel, priority, category, team, agent`` (codes; agent -1 = none),
        ``replies, reopens`` (small ints); compact dtypes keep 10 million tickets cheap.

    Examples
    --------
    >>> from slm_lib.synth.customers import make_customers
    >>> g = np.random.default_rng(0)
    >>> c = make_customers(g, 50, np.array([0, 2_592_000]))
    >>> t = month_tickets(g, 0, 2_592_000, c, np.full(50, NEVER), np.arange(50), 1.0, np.ones(40))
    >>> bool((t["resolved"] >= t["created"]).all())
    True
    """
    counts = rng.poisson(customers["rate"][eligible])
    cust = np.repeat(eligible, counts)
    created = arrival_times(rng, begin, end, cust.size)
    keep = (created >= customers["signup"][cust]) & (created < churned[cust])
    cust, created = cust[keep], created[keep]
    n = cust.size

    channel = np.where(rng.random(n) < CHANNEL_LOYALTY, customers["channel_pref"][cust],
                       rng.choice(len(CHANNELS), size=n, p=CHANNEL_SHARE)).astype(np.int8)
    priority = rng.choice(len(PRIORITIES), size=n, p=PRIORITY_SHARE).astype(np.int8)
    category = rng.choice(len(CATEGORIES), size=n, p=CATEGORY_SHARE).astype(np.int8)
    team = CATEGORY_TEAM[category]
    team = np.where(rng.random(n) < FRONTLINE_PICKUP, FRONTLINE, team)
    team = np.where(rng.random(n) < RANDOM_ROUTING, rng.integers(0, len(TEAMS), n), team).astype(np.int8)
    agent = team.astype(np.int64) * AGENTS_PER_TEAM + rng.integers(0, AGENTS_PER_TEAM, n)
    skill = agent_skill[agent]

    frt_median = (np.asarray(FRT_MEDIAN_H)[channel] * np.asarray(PRIORITY_FRT_MULT)[priority]
                  * np.asarray(TEAM_FRT_MULT)[team] * skill * staffing)
    frt_h = _lognormal_h(rng, frt_median, np.asarray(FRT_SIGMA)[channel])
    first_response = created + np.round(frt_h * 3600.0).astype(np.int64)

    reopens = rng.poisson(np.asarray(TEAM_REOPEN_RATE)[team]).astype(np.int64)
    res_median = (np.asarray(RES_MEDIAN_H)[channel] * np.asarray(PRIORITY_RES_MULT)[priority]
                  * np.asarray(TEAM_RES_MULT)[team] * skill * staffing)
    res_h = _lognormal_h(rng, res_median, RES_SIGMA)
    res_h += reopens * _lognormal_h(rng, np.full(n, REOPEN_EXTRA_MEDIAN_H), 0.8)
    resolved = first_response + np.round(res_h * 3600.0).astype(np.int64)
    replies = 1 + rng.poisson(np.asarray(EXTRA_REPLIES)[channel]) + reopens

    resolved[rng.random(n) < UNRESOLVED] = NEVER
    silent = rng.random(n) < NO_RESPONSE
    closed_h = _lognormal_h(rng, np.full(n, 48.0), 1.0)
    closed = created + np.round(closed_h * 3600.0).astype(np.int64)
    resolved = np.where(silent, np.where(rng.random(n) < NO_RESPONSE_CLOSED, closed, NEVER), resolved)
    first_response[silent] = NEVER
    agent[silent] = -1
    replies[silent] = 0
    reopens[silent] = 0
    return {"customer": cust.astype(np.int32), "created": created, "first_response": first_response,
            "resolved": resolved, "channel": channel, "priority": priority, "category": category,
            "team": team, "agent": agent.astype(np.int16), "replies": replies.astype(np.int16),
            "reopens": reopens.astype(np.int16)}
