"""Proportional-hazards check of a Cox model: the scaled Schoenfeld residual test (SPEC §6).

A Cox hazard ratio is one number for the whole follow-up. It describes the data only when the
effect of the term is the same early and late (proportional hazards). Grambsch & Therneau (1994):
if the log hazard ratio of a term drifts as ``beta + theta * g(t)`` for a time scale ``g``, its
scaled Schoenfeld residuals trend with ``g(t)``; the test of ``theta = 0`` is the score test of the
Cox model extended by the column ``g(t) * x``, evaluated at the fitted ``beta`` and ``theta = 0``.

This is the test of R's ``survival::cox.zph`` (version 3 onwards, with one row per design column
as ``terms=FALSE``): the per-term statistic adds that term's ``g(t) * x`` to all the model terms,
the global one adds all of them at once, and ties are handled as in the fit (Efron or Breslow).
statsmodels' ``PHRegResults.schoenfeld_residuals`` centre on the full risk set whatever the tie
method and give no per-time covariance, so the sums are recomputed here from the model data.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats as _st
from statsmodels.duration.hazard_regression import PHRegResults

from slm_lib.config import CONFIDENCE
from slm_lib.errors import ConfigError, InsufficientDataError
from slm_lib.models._cox import RiskSets
from slm_lib.models._design import ModelResult
from slm_lib.stats import holm_adjusted
from slm_lib.wording import format_p

__all__ = ["proportional_hazards_test", "proportional_hazards_sentences"]

Transform = Literal["km", "rank", "identity", "log"]

#: Share of a term's time-trend information below which it counts as none (numerical zero).
_TOL = 1e-10

#: Time scales ``g(t)`` the test accepts (see :func:`proportional_hazards_test`).
TRANSFORMS: tuple[str, ...] = ("km", "rank", "identity", "log")


def _time_scale(transform: str, time: np.ndarray, sets: RiskSets) -> np.ndarray:
    """``g`` at each distinct event time, centred on its mean over the events."""
    t, d = sets.times, sets.deaths
    if transform == "identity":
        g = t
    elif transform == "log":
        if t[0] <= 0:
            raise ConfigError(f"proportional_hazards_test: transform='log' needs positive event times; "
                              f"{int(d[0])} event(s) at time {t[0]:g}")
        g = np.log(t)
    elif transform == "rank":
        ordered = np.sort(time)  # average rank of t among all follow-up times (ties share it)
        g = (np.searchsorted(ordered, t, side="left") + 1 + np.searchsorted(ordered, t, side="right")) / 2
    else:  # km: left-continuous, so a death does not count in its own time's value
        surv = np.cumprod(1 - d / sets.n_risk)
        g = 1 - np.r_[1.0, surv[:-1]]
    return g - np.sum(d * g) / np.sum(d)


def proportional_hazards_test(model: ModelResult, transform: Transform = "km") -> pd.DataFrame:
    """Test whether each hazard ratio of a Cox model is constant over the follow-up.

    For each term the statistic is the score test that its log hazard ratio does not drift with
    ``g(t)`` (chi-square, 1 df, given all other terms); the ``global`` row tests all terms at once
    (df = number of terms, less any combination of terms that carries no information about a
    change over time). A small p-value says the term's hazard ratio changes over time: the
    model's hazard ratio is then an average over the follow-up, not a constant effect.

    Parameters
    ----------
    model : ModelResult
        A Cox model from :func:`slm_lib.models.churn_hazard_model`.
    transform : {"km", "rank", "identity", "log"}
        Time scale ``g(t)``: one minus the Kaplan-Meier survival just before ``t`` (default, as R's
        ``cox.zph``: spreads the events evenly and is robust to a few long follow-ups), the rank
        of ``t`` among all follow-up times, ``t`` itself, or ``log(t)``.

    Returns
    -------
    pandas.DataFrame
        One row per model term (in the order of ``model.table``) and a last ``global`` row:
        ``term, role, label`` (plain words), ``statistic`` (chi-square), ``df``, ``p_value``,
        ``p_adjusted`` (Holm over the term rows, as the report's KPI changes; the global row keeps
        its own p), ``transform``, ``events``.

    Raises
    ------
    ConfigError
        ``model`` is not a Cox model, an unknown ``transform``, or ``"log"`` with events at time 0.
    InsufficientDataError
        All events happen at one time, or a term varies among those at risk at one event time
        only, so there is no change over time to test.

    Examples
    --------
    >>> from slm_lib.models import churn_hazard_model
    >>> rng = np.random.default_rng(1)
    >>> x = rng.normal(0, 1, 2000)
    >>> t = rng.exponential(1 / np.exp(0.5 * x))
    >>> df = pd.DataFrame({"x": x, "duration_days": np.minimum(t, 2), "event": (t < 2).astype(int)})
    >>> test = proportional_hazards_test(churn_hazard_model(df, ["x"]))
    >>> test[["term", "df", "transform"]].values.tolist()
    [['x', 1.0, 'km'], ['global', 1.0, 'km']]
    >>> bool(test.loc[0, "p_value"] > 0.01)
    True
    """
    what = "proportional_hazards_test"
    res = getattr(model, "result", None)
    if getattr(model, "kind", None) != "cox" or not isinstance(res, PHRegResults):
        kind = getattr(model, "kind", type(model).__name__)
        raise ConfigError(f"{what}: needs a Cox model from churn_hazard_model, got a {kind!r} model; "
                          "proportional hazards is an assumption of the Cox model only")
    if transform not in TRANSFORMS:
        raise ConfigError(f"{what}: transform={transform!r}; use one of {list(TRANSFORMS)}")
    ph = res.model
    time, status = np.asarray(ph.endog, float), np.asarray(ph.status, float)
    X = np.asarray(ph.exog, float)
    X = X - X.mean(axis=0)  # covariances do not change; sums stay well conditioned
    eta = X @ np.asarray(res.params, float)
    sets = RiskSets(time, status, X)
    if len(sets.times) < 2:
        raise InsufficientDataError(f"{what}: all {int(status.sum())} events happen at one time "
                                    f"({sets.times[0]:g}); there is no time trend to test")
    g = _time_scale(transform, time, sets)
    # Score of the g(t) x columns and the blocks of the information of the extended model
    efron, risk = ph.ties == "efron", np.exp(eta - eta.max())
    c0, mean = sets.steps(risk, efron)
    ge = g[sets.step_time]
    score = g @ sets.dx - ge @ mean
    i11, i12, i22 = (sets.information(risk, a, c0, mean, efron) for a in (np.ones(len(ge)), ge, ge ** 2))
    names = list(ph.exog_names)
    # The model score is zero at the fit, so each test reduces to the Schur complement of the model
    # terms in the information of the extended model; scaled by each term's own trend information
    # (a diagonal of 1 = none of it is explained by the model terms) it is free of units.
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = 1 / np.sqrt(np.diag(i22))
        schur = (i22 - i12.T @ np.linalg.solve(i11, i12)) * np.outer(scale, scale)
    flat = ~(np.diag(schur) > _TOL)  # also a term with no trend information at all (0 / 0)
    if flat.any():
        raise InsufficientDataError(
            f"{what}: term '{names[int(np.argmax(flat))]}' gives no information about a change over time: "
            "its g(t) x column adds nothing to the model terms (e.g. the term varies among the customers "
            "at risk at a single event time only)")
    z = score * scale
    # Global: a combination of terms may carry no trend information even when each term does; it is
    # left out of the test and of its df (pseudo-inverse on the informative directions).
    lam, vec = np.linalg.eigh(schur)
    keep = lam > _TOL
    stat = np.r_[z ** 2 / np.diag(schur), np.sum((vec[:, keep].T @ z) ** 2 / lam[keep])]
    df = np.r_[np.ones(len(names)), float(keep.sum())]
    table = model.table.set_index("term").reindex(names)
    labels = table["label"].tolist()
    p_value = _st.chi2.sf(stat, df)
    return pd.DataFrame({
        "term": names + ["global"], "role": table["role"].tolist() + ["global"],
        "label": labels + ["all terms together"], "statistic": stat, "df": df,
        "p_value": p_value, "p_adjusted": np.r_[holm_adjusted(p_value[:-1]), p_value[-1]],
        "transform": transform, "events": int(status.sum()),
    })



def proportional_hazards_sentences(test: pd.DataFrame, confidence: float = CONFIDENCE) -> list[str]:
    """Plain words for a :func:`proportional_hazards_test` result.

    A term's hazard ratio clearly changes over time when its Holm-adjusted p-value over all the
    terms is below ``1 - confidence`` (with eight terms, one of them would pass an unadjusted
    0.05 by chance in about a third of models with constant effects). One sentence per such
    driver or control, else one sentence that no driver's does; terms below the threshold only
    before adjustment are named as signs to watch; when only the global test flags a change,
    one sentence says so.

    Examples
    --------
    >>> test = pd.DataFrame({"term": ["median_frt_h", "tenure_years", "global"],
    ...                      "role": ["driver", "control", "global"],
    ...                      "label": ["median first response", "tenure", "all terms together"],
    ...                      "p_value": [0.003, 0.4, 0.01]})
    >>> print(*proportional_hazards_sentences(test))  # doctest: +NORMALIZE_WHITESPACE
    The effect of median first response changes over time (p = 0.003; 0.006 after a Holm
    adjustment over 2 terms): read its hazard ratio as an average over the follow-up, not a
    constant effect.
    >>> print(*proportional_hazards_sentences(test.assign(p_value=[0.21, 0.6, 0.3])))
    No driver shows a clear change of its hazard ratio over time (smallest p = 0.21; 2 terms tested).
    """
    alpha = 1 - confidence
    terms = test.loc[test["role"] != "global"].assign(_adj=lambda t: holm_adjusted(t["p_value"].to_numpy()))
    clear = terms.loc[terms["_adj"] < alpha]
    watch = terms.loc[(terms["p_value"] < alpha) & (terms["_adj"] >= alpha)]
    drivers = terms.loc[terms["role"] == "driver"]
    k = len(terms)
    out = []
    for _, r in clear.iterrows():
        p = f"{format_p(r['p_value'])}; {format_p(r['_adj'], bare=True)} after a Holm adjustment over {k} terms"
        if r["role"] == "driver":
            out.append(f"The effect of {r['label']} changes over time ({p}): read its hazard "
                       "ratio as an average over the follow-up, not a constant effect.")
        else:
            out.append(f"The effect of the control {r['label']} changes over time ({p}): the "
                       "driver hazard ratios are adjusted for its average effect only.")
    if len(drivers) and not (drivers["_adj"] < alpha).any():
        smallest = drivers["p_value"].min()  # NaN only when no driver could be tested
        out.insert(0, f"No driver shows a clear change of its hazard ratio over time "
                      f"({'smallest ' if np.isfinite(smallest) else ''}{format_p(smallest)}; {k} terms tested).")
    if len(watch):
        names = ", ".join(f"{r['label']} ({format_p(r['p_value'])}, {format_p(r['_adj'], bare=True)} adjusted)"
                          for _, r in watch.iterrows())
        out.append(f"A sign to watch, not clear once the {k} terms are adjusted for multiple testing: {names}.")
    glob = test.loc[test["role"] == "global", "p_value"]
    if clear.empty and len(glob) and glob.iloc[0] < alpha:
        out.append(f"Taken together the hazard ratios drift over time ({format_p(glob.iloc[0])}, global test) although "
                   "no single one does clearly: read them as averages over the follow-up.")
    return out
