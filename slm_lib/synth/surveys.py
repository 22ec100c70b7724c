"""Synthetic survey answers: CSAT and CES after tickets, relationship NPS each month.

Only answers are recorded (non-response is the missing majority): CSAT follows about
20 % of resolved tickets, CES about 10 %, and about 5 % of active customers answer the
NPS survey each month. Scores depend on the ticket (resolution time, reopens, the
``frontline`` delivery-gap penalty), the customer's disposition and, for NPS, the
customer's SLA breach share at the month start.

Examples
--------
>>> import numpy as np
>>> round_clip(np.array([0.2, 3.6, 9.0]), 1, 5).tolist()
[1, 4, 5]
"""
from __future__ import annotations

import numpy as np

from slm_lib.synth.tickets import FRONTLINE
from slm_lib.synth.window import NEVER

SURVEY_TYPES: tuple[str, ...] = ("csat", "nps", "ces")
CSAT, NPS, CES = 0, 1, 2
CSAT_RESPONSE: float = 0.20
CES_RESPONSE: float = 0.10
NPS_MONTHLY_RESPONSE: float = 0.05
#: Median delay (h) between resolution and a post-ticket survey answer.
ANSWER_DELAY_MEDIAN_H: float = 3.0
#: CSAT points lost on tickets handled by the delivery-gap team.
DELIVERY_GAP_CSAT: float = 0.6
#: CES shift per channel (email, chat, phone, web, social): higher = more effort.
CES_CHANNEL_SHIFT: tuple[float, ...] = (0.4, -0.2, -0.3, 0.3, 0.1)


def round_clip(latent: np.ndarray, low: int, high: int) -> np.ndarray:
    """Round a latent score to the nearest integer inside ``[low, high]`` (int64).

    Examples
    --------
    >>> round_clip(np.array([-3.0, 11.2]), 0, 10).tolist()
    [0, 10]
    """
    return np.clip(np.rint(latent), low, high).astype(np.int64)


def ticket_surveys(
    rng: np.random.Generator, tickets: dict[str, np.ndarray], first_index: int, mood: np.ndarray
) -> dict[str, np.ndarray]:
    """CSAT and CES answers for one month of tickets.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    tickets : dict
        Output of :func:`slm_lib.synth.tickets.month_tickets`.
    first_index : int
        Generation index of the first of these tickets (to link answers to tickets).
    mood : numpy.ndarray
        Disposition of every customer.

    Returns
    -------
    dict of numpy.ndarray
        ``customer, ticket, submitted, type, score`` (ticket = generation index).

    Examples
    --------
    >>> t = {"customer": np.array([0]), "resolved": np.array([0]), "reopens": np.array([0]),
    ...      "created": np.array([0]), "team": np.array([0]), "replies": np.array([1]),
    ...      "channel": np.array([0])}
    >>> sorted(ticket_surveys(np.random.default_rng(0), t, 0, np.zeros(1)))
    ['customer', 'score', 'submitted', 'ticket', 'type']
    """
    n = tickets["customer"].size
    resolved = tickets["resolved"] != NEVER
    res_h = np.where(resolved, (tickets["resolved"] - tickets["created"]) / 3600.0, 0.0)
    cust_mood = mood[tickets["customer"]]
    reopens = tickets["reopens"]

    csat_latent = (4.75 - 0.22 * np.log1p(res_h) - 0.7 * reopens
                   - DELIVERY_GAP_CSAT * (tickets["team"] == FRONTLINE)
                   + 0.35 * cust_mood + 0.8 * rng.standard_normal(n))
    ces_latent = (2.3 + 0.35 * (tickets["replies"] - 1) + 0.9 * reopens
                  + np.asarray(CES_CHANNEL_SHIFT)[tickets["channel"]]
                  - 0.3 * cust_mood + 1.0 * rng.standard_normal(n))
    parts = []
    for kind, rate, latent, (low, high) in ((CSAT, CSAT_RESPONSE, csat_latent, (1, 5)),
                                            (CES, CES_RESPONSE, ces_latent, (1, 7))):
        pick = np.flatnonzero(resolved & (rng.random(n) < rate))
        delay_h = ANSWER_DELAY_MEDIAN_H * np.exp(1.2 * rng.standard_normal(pick.size))
        parts.append({"customer": tickets["customer"][pick], "ticket": first_index + pick,
                      "submitted": tickets["resolved"][pick] + np.round(delay_h * 3600).astype(np.int64),
                      "type": np.full(pick.size, kind, dtype=np.int8),
                      "score": round_clip(latent[pick], low, high)})
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def nps_surveys(
    rng: np.random.Generator,
    begin: int,
    end: int,
    candidates: np.ndarray,
    signup: np.ndarray,
    churned: np.ndarray,
    mood: np.ndarray,
    breach_share: np.ndarray,
) -> dict[str, np.ndarray]:
    """Relationship NPS answers submitted in the month ``[begin, end)``.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    begin, end : int
        Month bounds (seconds).
    candidates : numpy.ndarray
        Positions of customers active at some point of the month.
    signup, churned, mood : numpy.ndarray
        Per-customer signup time, churn time (``NEVER`` if none) and disposition.
    breach_share : numpy.ndarray
        SLA breach share of every customer at ``begin`` (NaN counts as 0).

    Returns
    -------
    dict of numpy.ndarray
        ``customer, ticket (-1), submitted, type, score``.

    Examples
    --------
    >>> out = nps_surveys(np.random.default_rng(0), 0, 100, np.arange(200), np.zeros(200, int),
    ...                   np.full(200, NEVER), np.zeros(200), np.zeros(200))
    >>> bool(((out["score"] >= 0) & (out["score"] <= 10)).all())
    True
    """
    pick = candidates[rng.random(candidates.size) < NPS_MONTHLY_RESPONSE]
    lo = np.maximum(signup[pick], begin)
    hi = np.minimum(churned[pick], end)
    submitted = lo + np.floor(rng.random(pick.size) * (hi - lo)).astype(np.int64)
    latent = (7.7 + 1.3 * mood[pick] - 1.2 * np.nan_to_num(breach_share[pick], nan=0.0)
              + 1.6 * rng.standard_normal(pick.size))
    return {"customer": pick, "ticket": np.full(pick.size, -1, dtype=np.int64), "submitted": submitted,
            "type": np.full(pick.size, NPS, dtype=np.int8), "score": round_clip(latent, 0, 10)}
