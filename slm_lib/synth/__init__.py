"""Synthetic service data with planted, documented effects (SPEC §6, §9).

``generate(customers, months, seed, start)`` returns a :class:`slm_lib.io.dataset.Dataset`
with the four canonical tables (and, with ``events=True``, ticket_events); :data:`TRUE_EFFECTS`
documents every planted value.
The same seed always gives the same frames (``numpy.random.default_rng(seed)``; rows
sorted by time, ids numbered in that order).

Data-generating process (the contract shared with ``slm_lib.features``)
---------------------------------------------------------------------
Time: months m = 0..M-1 from ``start`` (a month start, UTC). "Month start" = 00:00 UTC
of the 1st.

Features at an as_of instant (a month start), lookback window
W = [as_of - 3 calendar months, as_of). Only information known at as_of is used:

- tickets_in_window: the customer's tickets with created_at in W.
- median_frt_h: median over tickets in W with first_response_at < as_of of
  (first_response_at - created_at) in calendar hours; NaN if none.
- sla_breach_share: over tickets in W, with first-response target T(priority) from
  ``config.DEFAULT_SLA_TARGETS["first_response"]`` (calendar hours): breached if
  (first_response_at < as_of and FRT > T) or (first_response_at null or >= as_of and
  as_of - created_at > T); achieved if first_response_at < as_of and FRT <= T; otherwise
  pending and excluded. share = breached / (breached + achieved); NaN if that is 0.
- last_nps_category: category of the customer's most recent NPS answer submitted in W:
  promoter (9-10), passive (7-8), detractor (0-6); "none" if no NPS answer in W.
- mean_csat: mean CSAT score (1-5) of answers submitted in W; NaN if none.
- theme_refund_share: over the customer's survey answers with a comment submitted in W,
  the share whose comment's planted theme is "refund" (``slm_lib.synth.comments``); NaN
  if none (``customer_features(..., themes=slm_lib.synth.comments.planted_themes)``).
- tenure_years = (as_of - signup_at) / 365.25 days.
- segment (smb / mid / enterprise).

Churn (contractual, discrete-time monthly hazard). Each customer active at the start of
month m (signed up before it, not churned) churns during month m (churned_at uniform
inside the month) with probability p, features at as_of = start of month m::

    logit p = b0[segment] + b_tenure * min(tenure_years, 5)
            + b_frt * median_frt_h / 10      (0 when NaN) + b_no_ticket * [no ticket in W]
            + b_sla * sla_breach_share       (0 when NaN)
            + b_detractor * [detractor] + b_passive * [passive] + b_nps_none * [none]
            + b_wait * median_requester_wait_h / 10   (with ticket events only; 0 when NaN)
            + b_theme * theme_refund_share   (0 when NaN)

with b_frt = +0.20 per +10 h, b_sla = +1.0 per share 0 -> 1 (+0.10 per +10 points),
b_detractor = +0.90, b_passive = +0.35, b_nps_none = +0.30 (promoter is the reference),
b_no_ticket = 0.0, b_tenure = -0.15 per year, b_theme = +1.0 per share 0 -> 1 (a customer
who wrote only about refunds vs one who wrote about other things or nothing), b0 = smb
-4.0, mid -4.3, enterprise -4.7 (monthly churn about 2.3 %). With ``events=True``, b_wait = +0.15 per +10 h of median requester
wait: time in new, open and on_hold of the tickets created in W, from their events before
as_of (an open ticket's wait runs to as_of), as ``slm.customer_features`` computes
``median_requester_wait_h``; monthly churn is then about 2.9 % (a ticket left waiting for
weeks makes its customer's churn nearly certain). Since the wait includes the wait for the
first reply, a churn model holding median FRT fixed reads it as the wait beyond the first
reply. Experience in month t therefore moves churn in months t+1..t+3 (the lag) and
nothing else does.

Revenue. Customers pay once a month on their signup day of month (the last day if the
month is shorter), in the signup month too, and not after churning; in month m
amount = base[segment] * exp(0.05 * (mean_csat - 4)) * LogNormal(0, 0.25), mean_csat
at as_of = start of month m (term 0 when NaN); base = smb 49, mid 390, enterprise 2900.
About 0.5 % of payments are followed by a refund (negative amount, same order_id,
1-20 days later).

Time variation. A monthly staffing multiplier s_m = LogNormal(0, 0.25) scales every
first-response and resolution time; months 7, 15 and 19 after ``start`` are also x1.8
(planted understaffed months: for the default sample 2025-06, 2026-02 and 2026-06).

Everything else (not a driver of churn or revenue)
--------------------------------------------------
- Customers: 60 % signed up in the 3 years before ``start``, the rest sign up during the
  months (growing 1 -> 1.5x); segments smb 62 % / mid 28 % / enterprise 10 %; regions
  north_america / emea / apac / latam, 2 % missing.
- Tickets: Poisson per customer-month (mean 0.5 / 1.0 / 2.2 by segment, Gamma frailty);
  arrivals follow a weekday profile (Mon busiest, weekends ~30 %) and a business-hours
  daily profile; channel mix email 36 %, chat 24 %, phone 12 %, web 18 %, social 10 %
  (each customer prefers one channel, used 70 % of the time); priorities low 20 %,
  normal 55 %, high 18 %, urgent 7 %; 8 categories routed to 5 teams of 8 agents
  (A01..A40, each with a skill multiplier). First response and resolution are log-normal,
  median FRT ~7 h for e-mail vs minutes for chat/phone; 1.2 % of tickets get no reply,
  2 % are never resolved; replies and reopens are counts.
- Delivery gap (planted, descriptive): team ``frontline`` handles about 40 % of tickets
  and answers fastest (FRT x0.45, meets the first-response SLA) but closes tickets
  prematurely: reopen rate 0.30 vs 0.05-0.10 elsewhere and CSAT 0.6 points lower.
- Surveys: CSAT (1-5) after ~20 % of resolved tickets, CES (1-7) after ~10 %, submitted
  hours after resolution; relationship NPS (0-10) from ~5 % of active customers a month,
  lower with the customer's SLA breach share. ~30 % of answers carry a comment from
  score-dependent templates with a planted theme, drawn with the answer from a random
  stream of its own (seed ``[seed, 2]``); ~6 % of those contain a fictitious e-mail address or phone
  number, ~1 in 200 contains HTML (``<b>``, ``<script>`` ...).
- Censoring: replies, resolutions and answers after the end of the last month are null
  or absent, as in an export taken at that instant.
- Ticket events (``events=True``): each ticket's history drawn from its own fields (as
  exported at the end of the data) by :func:`slm_lib.synth.events.event_arrays` as soon as
  the ticket is created (statuses, replies, follow-ups, holds, reassignments, reopens,
  closes; all before the end of the data), so they agree with the tickets. They come from a
  random stream of their own (seed ``[seed, 1]``); the other tables differ from those
  generated without events only through the churn the requester wait adds.

Examples
--------
>>> ds = generate(customers=50, months=3, seed=1)
>>> ds.source, ds.customers["customer_id"].iloc[0]
('synthetic', 'C00001')
>>> TRUE_EFFECTS["churn_detractor_vs_promoter"]["value"]
0.9
"""
from __future__ import annotations

from slm_lib.io.dataset import Dataset
from slm_lib.synth.assemble import to_dataset
from slm_lib.synth.effects import TRUE_EFFECTS
from slm_lib.synth.generator import simulate

__all__ = ["TRUE_EFFECTS", "generate"]


def generate(customers: int = 3000, months: int = 24, seed: int = 0, start: str = "2024-11-01",
             events: bool = False) -> Dataset:
    """Generate a synthetic Dataset with the planted effects of :data:`TRUE_EFFECTS`.

    Parameters
    ----------
    customers : int
        Number of customers (rows of the customers table); about 12 tickets per customer
        over 24 months.
    months : int
        Number of calendar months to simulate.
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed gives identical frames.
    start : str
        First month (``"YYYY-MM"`` or ``"YYYY-MM-01"``), UTC.
    events : bool
        Also draw ticket_events that agree with the tickets (about 14 per ticket), and let
        the requester wait they imply drive churn (``churn_requester_wait_per_10h``).

    Returns
    -------
    Dataset
        ``tickets, surveys, customers, revenue`` (and ``ticket_events``) with the canonical
        columns and dtypes (``slm_lib.schema.COLUMNS``), ``source="synthetic"``.

    Raises
    ------
    ConfigError
        If ``customers`` or ``months`` is below 1 or ``start`` is not a month start.

    Examples
    --------
    >>> ds = generate(customers=100, months=2, seed=3, start="2025-01")
    >>> str(ds.tickets["created_at"].min()) >= "2025-01-01"
    True
    """
    return to_dataset(simulate(int(customers), int(months), int(seed), start, events=bool(events)))
