"""Lagged effects of monthly service metrics on a monthly outcome (SPEC §6): OLS with HAC errors."""
from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np
import pandas as pd
import statsmodels.api as sm

from slm_lib.errors import ConfigError, InsufficientDataError
from slm_lib.models._design import Z, ModelResult, Term, build_design, change_in, coef_table, fit_checked
from slm_lib.wording import (effect_sentence, feature_label, format_estimate, is_clear, lag_words, outcome_label,
                              term_label)

__all__ = ["lagged_effects", "newey_west_maxlags"]


def newey_west_maxlags(n_obs: int) -> int:
    """Newey-West (1994) rule of thumb for the HAC bandwidth: floor(4 (T / 100) ** (2 / 9)), at least 1.

    Examples
    --------
    >>> newey_west_maxlags(21), newey_west_maxlags(100)
    (2, 4)
    """
    return max(1, int(np.floor(4 * (n_obs / 100) ** (2 / 9))))


def _check_consecutive(monthly: pd.DataFrame, period: str) -> pd.DataFrame:
    if period not in monthly.columns:
        return monthly.reset_index(drop=True)
    months = pd.PeriodIndex(pd.Series(monthly[period]).astype(str), freq="M")
    order = np.argsort(months.asi8)
    ords = months.asi8[order]
    gaps = np.flatnonzero(np.diff(ords) != 1)
    if len(gaps):
        raise ConfigError(f"lagged_effects: '{period}' is not a run of consecutive months "
                          f"(gap or duplicate after {months[order][gaps[0]]}); lags would be wrong")
    return monthly.iloc[order].reset_index(drop=True)


def lagged_effects(monthly: pd.DataFrame, outcome: str, driver: str, lags: Iterable[int] = (0, 1, 2, 3),
                   controls: Iterable[str] = (), period: str = "month", maxlags: int | None = None,
                   units: Mapping[str, float | str] | None = None) -> ModelResult:
    """Distributed-lag regression of a monthly outcome on a monthly driver.

    ``outcome_t = a + sum_k b_k * driver_{t-k} + controls_t + e_t``, fitted by OLS with
    Newey-West (HAC, Bartlett kernel) standard errors.

    Parameters
    ----------
    monthly : pandas.DataFrame
        One row per month (consecutive months, e.g. :func:`slm_lib.features.monthly_service_panel`).
    outcome, driver : str
        Columns, e.g. ``"churn_rate"`` (in %) and ``"median_frt_h"``.
    lags : sequence of int
        Lags in months (0 = same month).
    period : str
        Month column used to sort and to check there are no gaps (ignored if absent: rows are
        then taken as consecutive months in order).
    maxlags : int, optional
        HAC bandwidth; default :func:`newey_west_maxlags` of the number of usable months.
    units : mapping, optional
        ``{driver: 10}`` gives effects per +10 units of the driver (applies to every lag).

    Returns
    -------
    ModelResult
        ``table`` rows ``<driver>_lag<k>`` and a final ``<driver>_cumulative`` row (sum of all lag
        coefficients, its interval from the HAC covariance), columns ``term, role, unit, lag,
        estimate, std_error, ci_low, ci_high, p_value, effect, effect_ci_low, effect_ci_high,
        effect_type, n, maxlags``. The effect is the change in the outcome (its own units) per
        stated change of the driver. The first ``max(lags)`` months are dropped (counted).

    Examples
    --------
    >>> rng = np.random.default_rng(3)
    >>> frt = rng.normal(10, 3, 60)
    >>> churn = 2 + 0.1 * np.r_[0, frt[:-1]] + rng.normal(0, 0.1, 60)
    >>> m = lagged_effects(pd.DataFrame({"frt": frt, "churn": churn}), "churn", "frt", lags=(0, 1))
    >>> m.table["term"].tolist()
    ['frt_lag0', 'frt_lag1', 'frt_cumulative']
    """
    lags = sorted(set(int(k) for k in lags))
    if not lags or lags[0] < 0:
        raise ConfigError(f"lagged_effects: lags must be non-negative integers, got {lags}")
    controls = list(controls)
    monthly = _check_consecutive(monthly, period)
    for col in [outcome, driver, *controls]:
        if col not in monthly.columns:
            raise ConfigError(f"lagged_effects: column '{col}' not in the monthly table ({list(monthly.columns)})")
    unit = (units or {}).get(driver, 1.0)
    frame = pd.DataFrame({f"{driver}_lag{k}": monthly[driver].shift(k) for k in lags})
    frame[controls] = monthly[controls]
    frame[outcome] = monthly[outcome]
    frame = frame.iloc[max(lags):]
    lag_cols = [f"{driver}_lag{k}" for k in lags]
    n = int(frame.notna().all(axis=1).sum())
    n_params = len(lag_cols) + len(controls) + 1
    if n <= n_params + 2:
        raise InsufficientDataError(f"lagged_effects: {n} usable months for {n_params} parameters "
                                    f"(lags {lags}); need at least {n_params + 3} months with data")
    design = build_design(frame, lag_cols, controls, outcome, units={c: unit for c in lag_cols})
    bw = newey_west_maxlags(n) if maxlags is None else int(maxlags)
    res = fit_checked(lambda: sm.OLS(design.y, design.X).fit(cov_type="HAC", cov_kwds={"maxlags": bw}),
                      "lagged_effects", design)

    weights = np.isin(design.X.columns, lag_cols).astype(float)
    total = res.t_test(weights[None, :])
    cum_est, cum_se = float(np.squeeze(total.effect)), float(np.squeeze(total.sd))
    cum_name = f"{driver}_cumulative"
    design.terms.append(Term(cum_name, driver, "driver", design.terms[0].unit))
    table = coef_table(res, design, names=[t.name for t in design.terms[:-1]])
    table = pd.concat([table, pd.DataFrame({
        "term": [cum_name], "role": ["driver"], "unit": [design.terms[0].unit], "estimate": [cum_est],
        "std_error": [cum_se], "ci_low": [cum_est - Z * cum_se], "ci_high": [cum_est + Z * cum_se],
        "p_value": [float(np.squeeze(total.pvalue))]})], ignore_index=True)
    table.insert(3, "lag", [int(t.rsplit("lag", 1)[1]) if "_lag" in t else np.nan
                            for t in table["term"]])  # one label per term
    table.loc[table["term"] == cum_name, "lag"] = np.nan
    drivers = table["role"] == "driver"
    table.loc[drivers, "label"] = [term_label(driver, u, lag=k) for u, k in zip(table.loc[drivers, "unit"],
                                                                                table.loc[drivers, "lag"])]
    table["effect"], table["effect_ci_low"], table["effect_ci_high"] = (
        table["estimate"], table["ci_low"], table["ci_high"])
    table["effect_type"] = change_in(outcome)
    table["n"] = n
    table["maxlags"] = bw

    words, outcome_unit = outcome_label(outcome)
    in_total = f"in total over lags of {lags[0]} to {lags[-1]} months"

    def sentence(r: pd.Series) -> str:
        when = in_total if pd.isna(r["lag"]) else lag_words(r["lag"])
        change = format_estimate(r["effect"], r["effect_ci_low"], r["effect_ci_high"], outcome_unit)
        return effect_sentence(f"Each {r['unit']} of monthly {feature_label(driver)[0]}", f"changes {words} {when} by",
                               f"{words} {when}", change, is_clear(r["effect_ci_low"], r["effect_ci_high"]))

    return ModelResult(table, res, "ols_hac", outcome, n, design.n_dropped + max(lags),
                       {**design.dropped_by, "first months (lags)": max(lags)}, sentence)
