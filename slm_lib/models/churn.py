"""Churn models (SPEC §6): Logit on a churn flag and Cox proportional hazards on time to churn."""
from __future__ import annotations

import re
from typing import Iterable, Mapping

import numpy as np
import pandas as pd
import statsmodels.api as sm

from slm_lib.errors import ModelFitError
from slm_lib.io.dataset import Dataset, has_ticket_events
from slm_lib.models._cox import fit_cox
from slm_lib.models._design import (Z, ModelResult, build_design, check_events, check_separation, coef_table,
                                    describe_term, fit_checked, model_values)
from slm_lib.wording import effect_sentence, format_estimate, is_clear, outcome_label

__all__ = ["churn_model", "churn_hazard_model", "default_churn_drivers"]


def churn_model(features: pd.DataFrame, drivers: Iterable[str], controls: Iterable[str] = (),
                outcome: str = "churned", units: Mapping[str, float | str] | None = None,
                references: Mapping[str, str] | None = None, min_events_per_term: float = 10,
                maxiter: int = 100) -> ModelResult:
    """Logistic regression of churn on service drivers (odds ratios and marginal effects).

    Parameters
    ----------
    features : pandas.DataFrame
        One row per customer (or customer-period), e.g. :func:`slm_lib.features.customer_features`.
    drivers, controls : sequence of str
        Feature columns. Numeric columns enter per stated unit (``units``), categorical ones by
        treatment coding against a reference (``references``; ``last_nps_category`` ->
        ``promoter``, ``segment`` -> ``smb``, otherwise the most frequent level).
    outcome : str
        Binary (0/1 or bool) column.
    units : mapping, optional
        Column -> change the coefficient refers to, e.g. ``{"median_frt_h": 10}`` ("per +10 h")
        or ``"sd"`` (per standard deviation). Default 1.
    min_events_per_term : float
        Fewer events (the rarer outcome) than this many per term raises :class:`ModelFitError`.

    Returns
    -------
    ModelResult
        ``table`` columns ``term, role, unit, estimate, std_error, ci_low, ci_high, p_value``
        (log-odds), ``effect, effect_ci_low, effect_ci_high`` (odds ratio per stated unit),
        ``effect_type``, ``ame_pp, ame_ci_low, ame_ci_high`` (average marginal effect on churn
        probability in percentage points: derivative for numeric terms, discrete 0 -> 1 change
        for categorical levels), ``n``, ``events``. ``result`` is the statsmodels Logit result.

    Raises
    ------
    ModelFitError
        Perfect separation, constant driver, too few events, singular design, no convergence;
        the message names the term. An outcome that is not 0/1 or bool; the message names the
        column, how many rows and which values.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.normal(10, 5, 3000)
    >>> df = pd.DataFrame({"median_frt_h": x, "churned": rng.random(3000) < 1 / (1 + np.exp(2 - 0.05 * x))})
    >>> m = churn_model(df, ["median_frt_h"], units={"median_frt_h": 10})
    >>> m.table.loc[0, "unit"]
    '+10 h'
    """
    what = "churn_model"
    design = build_design(features, drivers, controls, outcome, units, references, binary_outcome=True)
    y = design.y
    events = int(min(y.sum(), len(y) - y.sum()))
    check_events(events, len(design.terms), min_events_per_term, what)
    check_separation(design, what)
    res = fit_checked(lambda: sm.Logit(y, design.X).fit(disp=0, method="newton", maxiter=maxiter), what, design)

    table = coef_table(res, design)
    table["effect"] = np.exp(table["estimate"])
    table["effect_ci_low"] = np.exp(table["ci_low"])
    table["effect_ci_high"] = np.exp(table["ci_high"])
    table["effect_type"] = "odds ratio"
    margeff = res.get_margeff(at="overall", method="dydx", dummy=True)
    names = [c for c in design.X.columns if c != "const"]
    ame = pd.Series(np.asarray(margeff.margeff), index=names)[table["term"]].to_numpy() * 100
    ame_se = pd.Series(np.asarray(margeff.margeff_se), index=names)[table["term"]].to_numpy() * 100
    table["ame_pp"], table["ame_ci_low"], table["ame_ci_high"] = ame, ame - Z * ame_se, ame + Z * ame_se
    table["n"] = len(y)
    table["events"] = int(y.sum())

    word = outcome_label(outcome)[0]

    def sentence(r: pd.Series) -> str:
        odds = format_estimate(r["effect"], r["effect_ci_low"], r["effect_ci_high"], signed=False)
        ame = format_estimate(r["ame_pp"], r["ame_ci_low"], r["ame_ci_high"], "pp")
        return effect_sentence(describe_term(r, design.terms), f"multiplies the odds of {word} by", word,
                               f"{odds}; {word} probability {ame}",
                               is_clear(r["effect_ci_low"], r["effect_ci_high"], 1.0), "odds ratio")

    return ModelResult(table, res, "logit", outcome, len(y), design.n_dropped, design.dropped_by, sentence, design)


def churn_hazard_model(features: pd.DataFrame, drivers: Iterable[str], controls: Iterable[str] = (),
                       duration: str = "duration_days", event: str = "event",
                       units: Mapping[str, float | str] | None = None, references: Mapping[str, str] | None = None,
                       min_events_per_term: float = 10, ties: str = "efron") -> ModelResult:
    """Cox proportional hazards model of time to churn (hazard ratios per stated unit).

    Parameters
    ----------
    features : pandas.DataFrame
        Needs a ``duration`` column (time at risk, > 0) and an ``event`` column (1 = churned,
        0 = censored); :func:`slm_lib.features.customer_features` gives ``duration_days`` and
        ``event`` (time from ``as_of`` to churn within the horizon).
    drivers, controls, units, references, min_events_per_term
        As in :func:`churn_model`.
    ties : {"efron", "breslow"}

    Returns
    -------
    ModelResult
        ``table``: ``term, role, unit, estimate, std_error, ci_low, ci_high, p_value`` (log hazard),
        ``effect`` = hazard ratio per stated unit with its interval, ``effect_type``, ``n``, ``events``.

    Raises
    ------
    ModelFitError
        As in :func:`churn_model`; also a non-numeric or negative ``duration``, an ``event`` that
        is not 0/1 or bool, and a fit that fails or gives non-finite estimates.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> x = rng.normal(0, 1, 2000)
    >>> t = rng.exponential(1 / np.exp(0.5 * x))
    >>> df = pd.DataFrame({"x": x, "duration_days": np.minimum(t, 2), "event": (t < 2).astype(int)})
    >>> m = churn_hazard_model(df, ["x"])
    >>> bool(m.table.loc[0, "effect_ci_low"] < np.exp(0.5) < m.table.loc[0, "effect_ci_high"])
    True
    """
    what = "churn_hazard_model"
    design = build_design(features, drivers, controls, None, units, references, extra=[duration, event],
                          intercept=False)
    time = model_values(design.extra[duration], "duration", what).to_numpy()
    status = model_values(design.extra[event], "event", what, binary=True).to_numpy()
    if (time < 0).any():
        raise ModelFitError(f"{what}: {int((time < 0).sum())} negative value(s) in duration '{duration}'")
    events = int(status.sum())
    check_events(events, len(design.terms), min_events_per_term, what)
    design.y = pd.Series(status, index=design.X.index, name=event)
    check_separation(design, what, numeric=False)
    # Centred covariates (the Cox coefficients do not change) keep exp(x'b) in range. The fit is slm's own
    # vectorised Newton-Raphson (slm_lib.models._cox): statsmodels' PHReg.fit loops in Python over event
    # times (28 s for 52,600 customers with distinct churn times); the result is statsmodels' PHRegResults.
    model = sm.PHReg(time, design.X - design.X.mean(), status=status, ties=ties)
    res = fit_checked(lambda: fit_cox(model), what, design)
    if not np.all(np.isfinite(res.params)) or not np.all(np.isfinite(res.bse)):
        raise ModelFitError(f"{what}: the fit did not converge (non-finite estimates for terms "
                            f"{list(design.X.columns)})")
    table = coef_table(res, design)
    table["effect"] = np.exp(table["estimate"])
    table["effect_ci_low"] = np.exp(table["ci_low"])
    table["effect_ci_high"] = np.exp(table["ci_high"])
    table["effect_type"] = "hazard ratio"
    table["n"] = len(time)
    table["events"] = events

    def sentence(r: pd.Series) -> str:
        ratio = format_estimate(r["effect"], r["effect_ci_low"], r["effect_ci_high"], signed=False)
        return effect_sentence(describe_term(r, design.terms), "multiplies the hazard of churn by",
                               "the hazard of churn", ratio, is_clear(r["effect_ci_low"], r["effect_ci_high"], 1.0),
                               "hazard ratio")

    return ModelResult(table, res, "cox", event, len(time), design.n_dropped, design.dropped_by, sentence, design)


def default_churn_drivers(ds: Dataset, features: pd.DataFrame | None = None) -> tuple[list[str], dict[str, float]]:
    """The service drivers of the retention models and the units their effects are read in.

    Median first response (per +10 h), SLA breach share (per +10 points) and the last NPS
    answer; when the data carry ticket events also the median requester wait (per +10 h,
    read at the same median first response: the wait beyond the first reply) and the share
    of tickets handed off (per +10 points); when ``features`` (``slm.customer_features(...,
    text_features=True)``) carry comment themes, each theme's share of the customer's
    comments (per +10 points). A share is NaN for a customer without a comment in the
    window: fill it with 0 to compare with them (the model otherwise keeps only customers
    who wrote), and read the themes together (several themes, several chances of a false
    effect).

    Examples
    --------
    >>> default_churn_drivers(Dataset())
    (['median_frt_h', 'sla_breach_share', 'last_nps_category'], {'median_frt_h': 10, 'sla_breach_share': 0.1})
    >>> default_churn_drivers(Dataset(), pd.DataFrame(columns=["comments", "theme_refund_share"]))[0][-1]
    'theme_refund_share'
    """
    drivers, units = ["median_frt_h", "sla_breach_share", "last_nps_category"], {"median_frt_h": 10,
                                                                                  "sla_breach_share": 0.1}
    if has_ticket_events(ds):
        drivers += ["median_requester_wait_h", "handoff_share"]
        units |= {"median_requester_wait_h": 10, "handoff_share": 0.1}
    themes = [c for c in (features.columns if features is not None else []) if re.fullmatch(r"theme_.+_share", c)]
    return drivers + themes, units | dict.fromkeys(themes, 0.1)
