"""The planted effects of the synthetic generator and the values that define them.

Every coefficient the churn and revenue processes use lives here, once, and
:data:`TRUE_EFFECTS` documents them for the models that must recover them
(SPEC §6, ``docs/synthetic.md``).

Examples
--------
>>> TRUE_EFFECTS["churn_frt_per_10h"]["value"]
0.2
>>> TRUE_EFFECTS["lag_months"]["value"]
(1, 2, 3)
"""
from __future__ import annotations

from typing import Any

#: Lookback window of every feature, in calendar months before ``as_of``.
LOOKBACK_MONTHS: int = 3

# --- churn: discrete-time monthly hazard, log-odds --------------------------------
#: Intercept per segment (monthly churn about 1.5-2.5 %).
CHURN_B0: dict[str, float] = {"smb": -4.0, "mid": -4.3, "enterprise": -4.7}
B_TENURE: float = -0.15        # per year of tenure, tenure capped at TENURE_CAP
TENURE_CAP_YEARS: float = 5.0
B_FRT: float = 0.20            # per FRT_SCALE_H hours of median first response time
FRT_SCALE_H: float = 10.0
B_SLA: float = 1.0             # per SLA breach share 0 -> 1
B_DETRACTOR: float = 0.90      # last NPS category detractor vs promoter
B_PASSIVE: float = 0.35        # passive vs promoter
B_NPS_NONE: float = 0.30       # no NPS response in the window vs promoter
B_NO_TICKET: float = 0.0       # no ticket in the window
B_WAIT: float = 0.15           # per WAIT_SCALE_H hours of median requester wait (data with ticket events only)
WAIT_SCALE_H: float = 10.0
#: The planted comment theme (a key of :data:`slm_lib.synth.comments.THEMES`) whose share moves churn.
CHURN_THEME: str = "refund"
B_THEME: float = 1.0           # per share 0 -> 1 of the customer's commented answers about CHURN_THEME

# --- revenue ------------------------------------------------------------------------
#: Monthly fee per segment before the CSAT effect and the noise.
BASE_REVENUE: dict[str, float] = {"smb": 49.0, "mid": 390.0, "enterprise": 2900.0}
G_CSAT: float = 0.05           # log revenue per CSAT point (mean CSAT in the window)
CSAT_CENTER: float = 4.0
REVENUE_NOISE_SD: float = 0.25
REFUND_SHARE: float = 0.005

# --- time variation ----------------------------------------------------------------
STAFFING_SD: float = 0.25
#: Month offsets from ``start`` with a planted staffing shortage (response times x1.8).
STAFFING_BAD_MONTHS: tuple[int, ...] = (7, 15, 19)
STAFFING_BAD_FACTOR: float = 1.8

#: The team that meets SLA but leaves customers unhappy (the "delivery gap").
DELIVERY_GAP_TEAM: str = "frontline"

_CHURN_MODEL = "slm.churn_model (Logit) / slm.churn_hazard_model (Cox, direction)"

#: Every planted value: its size, scale, the change of the driver it refers to, the
#: ``customer_features`` column that carries it and the model that recovers it.
TRUE_EFFECTS: dict[str, dict[str, Any]] = {
    "churn_frt_per_10h": {
        "value": B_FRT, "scale": "log-odds", "per": "+10 h median first response time",
        "feature": "median_frt_h", "model": _CHURN_MODEL,
        "description": "Monthly churn log-odds rise by 0.20 per +10 calendar hours of the customer's "
                       "median FRT over the 3 months before the month start (term 0 without tickets).",
    },
    "churn_requester_wait_per_10h": {
        "value": B_WAIT, "scale": "log-odds", "per": "+10 h median requester wait, at the same median FRT",
        "feature": "median_requester_wait_h", "model": _CHURN_MODEL,
        "description": "Only in data generated with ticket events (generate(events=True)): monthly churn "
                       "log-odds rise by 0.15 per +10 hours of the customer's median requester wait (time "
                       "in new, open and on_hold, from the events before the month start) over the 3 months "
                       "before it, on top of the FRT effect; term 0 without tickets. Since the wait "
                       "includes the wait for the first reply, the churn model must hold median FRT fixed "
                       "to read it as the wait beyond the first reply.",
    },
    "churn_refund_theme_share": {
        "value": B_THEME, "scale": "log-odds",
        "per": f"share of commented answers about '{CHURN_THEME}' 0 -> 1 (+{B_THEME / 10:.2f} per +10 points)",
        "feature": f"theme_{CHURN_THEME}_share", "model": _CHURN_MODEL,
        "description": f"Monthly churn log-odds rise by {B_THEME} per share 0 -> 1 of the customer's survey "
                       f"answers with a comment submitted in the 3 months before the month start whose comment "
                       f"is about '{CHURN_THEME}' (its planted theme; term 0 without a comment). "
                       f"customer_features(ds, as_of, themes=slm_lib.synth.comments.planted_themes) gives the "
                       f"feature exactly; fitted themes (themes=8) give the theme whose top term is "
                       f"'{CHURN_THEME}', nearly the same comments. Refund comments come mostly from unhappy "
                       f"answers, so the churn model must hold the last NPS category fixed.",
    },
    "churn_sla_breach_share": {
        "value": B_SLA, "scale": "log-odds", "per": "SLA breach share 0 -> 1 (+0.10 per +10 points)",
        "feature": "sla_breach_share", "model": _CHURN_MODEL,
        "description": "First-response SLA breach share of the customer's tickets in the window "
                       "(targets config.DEFAULT_SLA_TARGETS['first_response']).",
    },
    "churn_detractor_vs_promoter": {
        "value": B_DETRACTOR, "scale": "log-odds", "per": "last NPS detractor (0-6) vs promoter (9-10)",
        "feature": "last_nps_category", "model": _CHURN_MODEL,
        "description": "Most recent relationship-NPS answer in the window was a detractor.",
    },
    "churn_passive_vs_promoter": {
        "value": B_PASSIVE, "scale": "log-odds", "per": "last NPS passive (7-8) vs promoter",
        "feature": "last_nps_category", "model": _CHURN_MODEL,
        "description": "Most recent relationship-NPS answer in the window was a passive.",
    },
    "churn_nps_none_vs_promoter": {
        "value": B_NPS_NONE, "scale": "log-odds", "per": "no NPS answer in the window vs promoter",
        "feature": "last_nps_category", "model": _CHURN_MODEL,
        "description": "The customer gave no NPS answer in the window.",
    },
    "churn_no_ticket": {
        "value": B_NO_TICKET, "scale": "log-odds", "per": "no ticket in the window",
        "feature": "tickets_in_window", "model": _CHURN_MODEL,
        "description": "Indicator of tickets_in_window == 0 (planted at zero: a null effect).",
    },
    "churn_tenure_per_year": {
        "value": B_TENURE, "scale": "log-odds", "per": "+1 year of tenure (tenure capped at 5 years)",
        "feature": "tenure_years", "model": _CHURN_MODEL,
        "description": "Longer-standing customers churn less; the model term is min(tenure_years, 5).",
    },
    "churn_intercept_by_segment": {
        "value": dict(CHURN_B0), "scale": "log-odds", "per": "segment (smb / mid / enterprise)",
        "feature": "segment", "model": _CHURN_MODEL,
        "description": "Baseline monthly log-odds of churn per segment (monthly churn about 1.5-2.5 %).",
    },
    "revenue_csat_per_point": {
        "value": G_CSAT, "scale": "log revenue", "per": "+1 point of mean CSAT (1-5) in the window",
        "feature": "mean_csat", "model": "slm.clv_model (OLS on log amount / GLM Gamma log link)",
        "description": "Each monthly payment = base[segment] * exp(0.05 * (mean_csat - 4)) * "
                       "LogNormal(0, 0.25); +5.1 % revenue per CSAT point (term 0 without CSAT).",
    },
    "revenue_base_by_segment": {
        "value": dict(BASE_REVENUE), "scale": "amount per month", "per": "segment",
        "feature": "segment", "model": "slm.clv_model",
        "description": "Monthly fee before the CSAT effect and the log-normal noise (sd 0.25).",
    },
    "lag_months": {
        "value": (1, 2, 3), "scale": "months", "per": "service experience in month t",
        "feature": "monthly median FRT / SLA breach share", "model": "slm.lagged_effects (OLS, HAC)",
        "description": "Features use the 3 months before each month start, so experience in month t "
                       "moves churn in months t+1, t+2 and t+3 only (no effect at lag 0).",
    },
    "staffing_bad_months": {
        "value": STAFFING_BAD_MONTHS, "scale": "month offset from start",
        "per": f"response times x{STAFFING_BAD_FACTOR} in those months",
        "feature": "median_frt_h", "model": "slm.lagged_effects",
        "description": "Every month has a staffing multiplier LogNormal(0, 0.25) on all response and "
                       "resolution times; months 7, 15 and 19 after start are also x1.8 (understaffed).",
    },
    "delivery_gap_team": {
        "value": DELIVERY_GAP_TEAM, "scale": "team", "per": "tickets handled by that team",
        "feature": "team", "model": "descriptive (metric_table by team)",
        "description": "The frontline team answers fastest (meets first-response SLA) but closes "
                       "tickets prematurely: about 3x the reopens and CSAT about 0.6 points lower.",
    },
}
