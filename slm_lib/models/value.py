"""CLV / forward-revenue model (SPEC §6): GLM Gamma with log link, or OLS with HC3 errors."""
from __future__ import annotations

from typing import Iterable, Literal, Mapping

import numpy as np
import pandas as pd
import statsmodels.api as sm

from slm_lib.errors import ConfigError, InsufficientDataError
from slm_lib.models._design import ModelResult, build_design, change_in, coef_table, describe_term, fit_checked
from slm_lib.wording import effect_sentence, format_estimate, is_clear, outcome_label

__all__ = ["clv_model"]


def clv_model(features: pd.DataFrame, drivers: Iterable[str], controls: Iterable[str] = (),
              outcome: str = "revenue_horizon", method: Literal["gamma", "log_ols", "ols"] = "gamma",
              units: Mapping[str, float | str] | None = None,
              references: Mapping[str, str] | None = None) -> ModelResult:
    """Regression of customer value (forward revenue or CLV) on service drivers.

    Parameters
    ----------
    features : pandas.DataFrame
        One row per customer, e.g. :func:`slm_lib.features.customer_features`.
    drivers, controls, units, references
        As in :func:`slm_lib.models.churn_model`.
    outcome : str
        Value column; default ``revenue_horizon`` (revenue in the horizon after ``as_of``);
        ``historical_clv`` also works.
    method : {"gamma", "log_ols", "ols"}
        ``gamma``: GLM Gamma family with log link (rows with outcome <= 0 dropped and counted);
        effect = % change in expected value per stated unit, 100 (exp(b) - 1).
        ``log_ols``: OLS of log(outcome) with HC3 errors, same % effect (outcome > 0 only).
        ``ols``: OLS of the outcome in its own units with HC3 errors; effect = change in
        outcome units per stated unit.

    Returns
    -------
    ModelResult
        ``table``: ``term, role, unit, estimate, std_error, ci_low, ci_high, p_value, effect,
        effect_ci_low, effect_ci_high, effect_type, n``. ``dropped_by`` counts rows dropped for
        missing values and, for log models, ``"<outcome> <= 0"``.

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> csat = rng.integers(1, 6, 2000).astype(float)
    >>> df = pd.DataFrame({"mean_csat": csat,
    ...                    "revenue_horizon": 100 * np.exp(0.05 * csat + rng.normal(0, 0.25, 2000))})
    >>> m = clv_model(df, ["mean_csat"])
    >>> m.table.loc[0, "effect_type"]
    '% change'
    """
    what = "clv_model"
    if method not in ("gamma", "log_ols", "ols"):
        raise ConfigError(f"{what}: method={method!r}; use 'gamma', 'log_ols' or 'ols'")
    design = build_design(features, drivers, controls, outcome, units, references)
    y, X = design.y, design.X
    dropped_by = dict(design.dropped_by)
    n_dropped = design.n_dropped
    if method != "ols":
        positive = (y > 0).to_numpy()
        if (~positive).any():
            dropped_by[f"{outcome} <= 0"] = int((~positive).sum())
            n_dropped += int((~positive).sum())
            y, X = y[positive], X[positive]
    if len(y) <= X.shape[1]:
        raise InsufficientDataError(f"{what}: {len(y)} usable rows for {X.shape[1]} parameters")

    if method == "gamma":
        model = sm.GLM(y, X, family=sm.families.Gamma(link=sm.families.links.Log()))
        res = fit_checked(lambda: model.fit(), what, design)
    elif method == "log_ols":
        res = fit_checked(lambda: sm.OLS(np.log(y), X).fit(cov_type="HC3"), what, design)
    else:
        res = fit_checked(lambda: sm.OLS(y, X).fit(cov_type="HC3"), what, design)

    table = coef_table(res, design)
    if method == "ols":
        table["effect"], table["effect_ci_low"], table["effect_ci_high"] = (
            table["estimate"], table["ci_low"], table["ci_high"])
        table["effect_type"] = change_in(outcome)
    else:
        for src, dst in (("estimate", "effect"), ("ci_low", "effect_ci_low"), ("ci_high", "effect_ci_high")):
            table[dst] = 100 * np.expm1(table[src])
        table["effect_type"] = "% change"
    table["n"] = len(y)

    words, unit = outcome_label(outcome)
    words, unit = (words, unit) if method == "ols" else (f"expected {words}", "%")

    def sentence(r: pd.Series) -> str:
        change = format_estimate(r["effect"], r["effect_ci_low"], r["effect_ci_high"], unit)
        return effect_sentence(describe_term(r, design.terms), f"changes {words} by", words, change,
                               is_clear(r["effect_ci_low"], r["effect_ci_high"]))

    return ModelResult(table, res, method, outcome, len(y), n_dropped, dropped_by, sentence)
