"""Predicted survival curves of a fitted Cox churn model, and partial effects of one driver, with 95% bands.

For a covariate profile ``x`` the cumulative hazard is ``H(t | x) = exp(x'b) H0(t)`` with
Breslow's baseline ``H0(t) = sum over event times t_k <= t of d_k / S0(t_k)``, ``S0`` the
risk set's sum of ``exp(x'b)`` (covariates centred as in the fit). Its variance is the
Tsiatis (1981) / R ``survfit.coxph`` one: ``exp(2 x'b) [sum d_k / S0_k² + A(t)' V A(t)]`` with
``A(t) = sum_{t_k <= t} (x - xbar_k) d_k / S0_k``, ``xbar_k`` the risk-weighted mean of the
risk set and ``V`` the covariance of ``b``: the first term is the baseline's own noise, the
second the uncertainty of the coefficients. The pointwise 95% band is on the log-log scale
(``log H ± z se(H) / H``), so it stays inside (0, 1). Survival is ``exp(-H)``.
"""
from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np
import pandas as pd

from slm_lib.errors import ConfigError
from slm_lib.models._cox import RiskSets
from slm_lib.models._design import ModelResult, design_rows
from slm_lib.stats import z_critical
from slm_lib.wording import feature_label

__all__ = ["predicted_survival", "partial_effects", "reference_profile"]


def _check(model: ModelResult) -> None:
    if model.kind != "cox" or model.design is None:
        raise ConfigError(f"predicted_survival: needs a Cox model from churn_hazard_model, got {model.kind!r}")


def reference_profile(model: ModelResult) -> dict[str, object]:
    """Feature values of the reference customer: numeric features at their mean in the fitted rows, levels at the reference.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> x = rng.normal(5, 1, 500)
    >>> t = rng.exponential(1 / np.exp(0.5 * (x - 5)))
    >>> from slm_lib.models import churn_hazard_model
    >>> m = churn_hazard_model(pd.DataFrame({"x": x, "duration_days": np.minimum(t, 2), "event": t < 2}), ["x"])
    >>> round(float(reference_profile(m)["x"]), 3) == round(float(x.mean()), 3)
    True
    """
    _check(model)
    out: dict[str, object] = {}
    for t in model.design.terms:
        out[t.source] = t.reference if t.level is not None else float(model.design.X[t.name].mean() * t.scale)
    return out


def predicted_survival(model: ModelResult, profiles: pd.DataFrame | Mapping[str, object],
                       times: Iterable[float] | None = None) -> pd.DataFrame:
    """Survival curves of given customers (covariate profiles) from a fitted Cox model, with 95% pointwise bands.

    Parameters
    ----------
    model : ModelResult
        :func:`slm_lib.models.churn_hazard_model` result.
    profiles : DataFrame or mapping
        One row per profile, feature columns in their own units (e.g. ``median_frt_h = 24``,
        ``last_nps_category = "detractor"``); features left out are at the reference
        (:func:`reference_profile`). The index names the profiles.
    times : iterable of float, optional
        Times (the model's duration unit, e.g. days) to report; default every event time.

    Returns
    -------
    pandas.DataFrame
        ``profile, time, survival, ci_low, ci_high, cumulative_hazard, n, events``.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> x = rng.normal(0, 1, 800)
    >>> t = rng.exponential(10 / np.exp(0.5 * x))
    >>> from slm_lib.models import churn_hazard_model
    >>> m = churn_hazard_model(pd.DataFrame({"x": x, "duration_days": np.minimum(t, 20), "event": t < 20}), ["x"])
    >>> s = predicted_survival(m, pd.DataFrame({"x": [0.0]}, index=["average"]), times=[5.0])
    >>> bool(s.loc[0, "ci_low"] < np.exp(-0.5) < s.loc[0, "ci_high"])
    True
    """
    _check(model)
    frame = pd.DataFrame([profiles]) if isinstance(profiles, Mapping) else profiles
    full = pd.DataFrame({k: [v] * len(frame) for k, v in reference_profile(model).items()}, index=frame.index)
    for col in frame.columns:
        full[col] = frame[col]
    res, design = model.result, model.design
    means = design.X.mean().to_numpy()
    Xc = np.asarray(res.model.exog, dtype=float)
    beta, cov = np.asarray(res.params, dtype=float), np.asarray(res.cov_params(), dtype=float)
    sets = RiskSets(np.asarray(res.model.endog, dtype=float), np.asarray(res.model.status, dtype=float), Xc)
    risk = np.exp(Xc @ beta)
    s0 = np.cumsum(sets.per_time(risk)[::-1])[::-1]
    xbar = np.cumsum(sets.per_time(Xc * risk[:, None])[::-1], axis=0)[::-1] / s0[:, None]
    dh = sets.deaths / s0
    h0, var0 = np.cumsum(dh), np.cumsum(sets.deaths / s0 ** 2)
    when = sets.times if times is None else np.asarray(list(times), dtype=float)
    k = np.searchsorted(sets.times, when, "right") - 1            # last event time at or before each time
    z = z_critical()
    rows = []
    for name, x in zip(full.index, design_rows(design, full).to_numpy(float) - means):
        r = np.exp(x @ beta)
        a = np.cumsum((x[None, :] - xbar) * dh[:, None], axis=0)
        var = r ** 2 * (var0 + np.einsum("kj,jl,kl->k", a, cov, a))
        h = np.where(k >= 0, r * h0[np.maximum(k, 0)], 0.0)
        se = np.where(k >= 0, np.sqrt(var[np.maximum(k, 0)]), 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            spread = np.where(h > 0, np.exp(z * se / h), 1.0)
        rows.append(pd.DataFrame({"profile": name, "time": when, "survival": np.exp(-h),
                                  "ci_low": np.exp(-h * spread), "ci_high": np.exp(-h / spread),
                                  "cumulative_hazard": h}))
    out = pd.concat(rows, ignore_index=True)
    out["n"], out["events"] = model.n, int(sets.deaths.sum())
    return out


def partial_effects(model: ModelResult, driver: str, values: Iterable[object],
                    times: Iterable[float] | None = None) -> pd.DataFrame:
    """Survival curves as one driver takes each of ``values``, the other features at the reference.

    Returns
    -------
    pandas.DataFrame
        :func:`predicted_survival` columns, ``profile`` reading e.g. ``"median first response = 24 h"``,
        plus ``driver`` and ``value``.

    Examples
    --------
    >>> rng = np.random.default_rng(2)
    >>> x = rng.normal(0, 1, 800)
    >>> t = rng.exponential(10 / np.exp(0.5 * x))
    >>> from slm_lib.models import churn_hazard_model
    >>> m = churn_hazard_model(pd.DataFrame({"x": x, "duration_days": np.minimum(t, 20), "event": t < 20}), ["x"])
    >>> p = partial_effects(m, "x", [-1, 1], times=[10.0])
    >>> bool(p.loc[0, "survival"] > p.loc[1, "survival"])   # higher x, sooner churn
    True
    """
    _check(model)
    sources = {t.source for t in model.design.terms}
    if driver not in sources:
        raise ConfigError(f"partial_effects: '{driver}' is not a term of the model ({sorted(sources)})")
    values = list(values)
    words, symbol = feature_label(driver)
    is_level = any(t.source == driver and t.level is not None for t in model.design.terms)
    frame = pd.DataFrame({driver: values}, index=[f"{words} = {v}{'' if is_level else symbol}" for v in values])
    out = predicted_survival(model, frame, times)
    out["driver"] = driver
    out["value"] = np.repeat(np.array(values, dtype=object), len(out) // max(len(values), 1))
    return out
