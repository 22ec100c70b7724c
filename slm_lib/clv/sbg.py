"""Shifted-beta-geometric (sBG) model of contractual retention (Fader & Hardie 2007, 2010).

At the end of each period an alive customer churns with probability ``theta``;
``theta ~ Beta(alpha, beta)`` across customers. With ``B`` the beta function:

- churn in period t: ``P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta)``, t = 1, 2, ...
- survival: ``S(t) = B(alpha, beta + t) / B(alpha, beta)``
- retention rate: ``r(t) = S(t) / S(t-1) = (beta + t - 1) / (alpha + beta + t - 1)``
- discounted expected residual lifetime of a customer who has made ``n - 1`` renewals
  (Fader & Hardie 2010): ``DERL(d, n) = sum_{t >= n} S(t)/S(n-1) / (1+d)^(t-n)
  = B(alpha, beta + n) / B(alpha, beta + n - 1) * 2F1(1, beta + n; alpha + beta + n; 1/(1+d))``.

Fitted to survivors ``n_0, ..., n_k`` (customers alive at the start of periods 0..k):
``LL = sum_t (n_{t-1} - n_t) log P(T = t) + n_k log S(k)``. On Fader & Hardie's (2007)
cohorts, years 0-7, it gives regular alpha = 0.704, beta = 1.182 (LL -1680.27) and high
end alpha = 0.668, beta = 3.806 (LL -1611.16).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.special import betaln, hyp2f1

from slm_lib.clv.mle import PositiveMLEModel, fit_positive_mle
from slm_lib.clv.rfm import as_array
from slm_lib.config import CONFIDENCE
from slm_lib.errors import DataValidationError, InsufficientDataError, ModelFitError

PARAMS = ("alpha", "beta")


def sbg_loglik(params: np.ndarray, survivors: np.ndarray) -> float:
    """sBG log-likelihood of survivor counts ``n_0 >= n_1 >= ... >= n_k``.

    Examples
    --------
    >>> round(sbg_loglik([1.0, 1.0], np.array([100.0, 50.0])), 3)
    -69.315
    """
    alpha, beta = params
    t = np.arange(1, len(survivors))
    churned = survivors[:-1] - survivors[1:]
    log_p = betaln(alpha + 1, beta + t - 1) - betaln(alpha, beta)
    log_s = betaln(alpha, beta + t[-1]) - betaln(alpha, beta)
    return float(np.sum(churned * log_p) + survivors[-1] * log_s)


def _validate_survivors(survivors: Any) -> np.ndarray:
    n = as_array(survivors, "survivors")
    if len(n) < 2:
        raise InsufficientDataError(f"survivors: {len(n)} value(s); need counts at the start of at least "
                                    "periods 0 and 1")
    for mask, rule in ((n < 0, "must be >= 0"), (n != np.round(n), "must be whole counts"),
                       (np.r_[False, np.diff(n) > 0], "must not increase from one period to the next")):
        if mask.any():
            raise DataValidationError(f"survivors: {rule}: {int(mask.sum())} value(s) "
                                      f"(e.g. periods {np.flatnonzero(mask)[:5].tolist()})")
    if n[0] <= 0:
        raise DataValidationError("survivors: the cohort is empty at period 0")
    return n


class ShiftedBetaGeoModel(PositiveMLEModel):
    """sBG model of contractual retention fitted by maximum likelihood.

    Attributes (after :meth:`fit`)
    -------------------------------
    params_ : dict
        ``{"alpha", "beta"}``.
    log_likelihood_ : float
    survivors_ : numpy.ndarray
        The survivor counts fitted.
    result_ : MLEResult

    Examples
    --------
    >>> sbg = ShiftedBetaGeoModel().fit([1000, 631, 468, 382, 326, 289, 262, 241])
    >>> {k: round(v, 3) for k, v in sbg.params_.items()}
    {'alpha': 0.704, 'beta': 1.182}
    >>> round(float(sbg.survival(12)), 3)
    0.17
    """

    name, param_names, usage = "sBG", PARAMS, ".fit(survivors)"

    def __init__(self) -> None:
        super().__init__()
        self.survivors_: np.ndarray | None = None

    def fit(self, survivors: Any, initial: dict[str, float] | None = None) -> "ShiftedBetaGeoModel":
        """Fit to the customers alive at the start of periods 0, 1, 2, ... of one cohort.

        Raises
        ------
        DataValidationError
            Negative, fractional or increasing counts.
        InsufficientDataError
            Fewer than two periods.
        ModelFitError
            No churn at all, nobody left, or the optimiser does not converge.
        """
        n = _validate_survivors(survivors)
        if n[-1] == n[0]:
            raise ModelFitError("sBG: nobody churned, so the churn-rate distribution cannot be "
                                "estimated; observe the cohort for longer")
        init = {"alpha": 1.0, "beta": 1.0, **(initial or {})}
        self.result_ = fit_positive_mle(
            lambda p: -sbg_loglik(p, n), [init[k] for k in PARAMS], PARAMS, self.name, int(n[0]),
            hint="the retention curve may be flat or drop to 0 in one step; use more periods or "
                 "other starting values via initial={...}")
        self.survivors_ = n
        return self

    def _ab(self, params: dict[str, float] | None) -> tuple[Any, Any]:
        p = params if params is not None else self.params_
        return p["alpha"], p["beta"]

    def survival(self, t: Any, params: dict[str, float] | None = None) -> Any:
        """Share of the cohort alive at the start of period ``t`` (``S(0) = 1``)."""
        a, b = self._ab(params)
        return np.exp(betaln(a, b + np.asarray(t, dtype=float)) - betaln(a, b))

    def retention_rate(self, t: Any, params: dict[str, float] | None = None) -> Any:
        """Share of those alive at period ``t - 1`` still alive at ``t`` (t >= 1)."""
        a, b = self._ab(params)
        tt = np.asarray(t, dtype=float)
        if np.any(tt < 1):
            raise DataValidationError("t: retention_rate is defined for periods t >= 1")
        return (b + tt - 1) / (a + b + tt - 1)

    def derl(self, discount_rate: float, n: int = 1, params: dict[str, float] | None = None) -> Any:
        """Discounted expected residual lifetime after ``n - 1`` renewals (F&H 2010).

        ``sum_{t >= n} S(t)/S(n-1) / (1+d)^(t-n)`` in closed form with the Gauss
        hypergeometric function. Infinite for ``d = 0`` when ``alpha <= 1``.

        Examples
        --------
        >>> sbg = ShiftedBetaGeoModel()
        >>> round(float(sbg.derl(0.1, 1, params={"alpha": 0.704, "beta": 1.182})), 3)
        2.965
        """
        if discount_rate < 0:
            raise DataValidationError(f"discount_rate: must be >= 0, got {discount_rate}")
        if int(n) != n or n < 1:
            raise DataValidationError(f"n: must be an integer >= 1, got {n}")
        a, b = self._ab(params)
        ratio = np.exp(betaln(a, b + n) - betaln(a, b + n - 1))
        return ratio * hyp2f1(1.0, b + n, a + b + n, 1.0 / (1.0 + discount_rate))

    def contractual_clv(self, margin: float, discount_rate: float, n: int = 1,
                        n_draws: int = 2000, seed: int = 0) -> pd.Series:
        """Expected residual value ``margin * DERL`` with a parametric-bootstrap interval.

        The interval draws (alpha, beta) from the asymptotic normal of the log-scale MLE
        (``n_draws``, seeded) and takes the central :data:`slm_lib.config.CONFIDENCE` share
        of ``margin * DERL``; it reflects parameter uncertainty only.

        Returns
        -------
        pandas.Series
            ``derl, clv, ci_low, ci_high``.
        """
        draws = self._fitted().draw(n_draws, seed)
        values = margin * self.derl(discount_rate, n, params={"alpha": draws[:, 0], "beta": draws[:, 1]})
        derl = float(self.derl(discount_rate, n))
        lo, hi = np.quantile(values, [0.5 - CONFIDENCE / 2, 0.5 + CONFIDENCE / 2])
        return pd.Series({"derl": derl, "clv": margin * derl, "ci_low": lo, "ci_high": hi})

    def projection(self, periods: int, actual: Any = None) -> pd.DataFrame:
        """Projected survival for periods 0..``periods`` beside the fitted and actual counts.

        Parameters
        ----------
        periods : int
            Last period to project.
        actual : array-like, optional
            Actual survivors for periods 0, 1, ... (any length; missing periods are NaN).

        Returns
        -------
        pandas.DataFrame
            ``period, fitted`` (True where the period was used in the fit), ``survival``,
            ``retention_rate``, ``expected_survivors``, ``actual_survivors``,
            ``actual_share`` and ``error_pct`` (projection vs actual share, in % of actual).
        """
        n = self.survivors_ if self.survivors_ is not None else np.array([np.nan])
        t = np.arange(periods + 1)
        surv = self.survival(t)
        act = np.full(len(t), np.nan)
        if actual is not None:
            values = as_array(actual, "actual")[: len(t)]
            act[: len(values)] = values
        share = act / act[0] if actual is not None else act
        return pd.DataFrame({
            "period": t, "fitted": t < len(n), "survival": surv,
            "retention_rate": np.r_[np.nan, self.retention_rate(t[1:])] if periods >= 1 else [np.nan],
            "expected_survivors": n[0] * surv, "actual_survivors": act, "actual_share": share,
            "error_pct": 100 * (surv - share) / share,
        })


def survivor_counts(customers: pd.DataFrame, recency_col: str = "recency", T_col: str = "T",
                    by: str | None = "cohort") -> pd.DataFrame:
    """Survivors at the start of each period from one row per customer.

    Layout of Fader & Hardie's cohorts (``sbg_cohorts.csv``): ``recency`` is the last
    period a customer was active (1..T); a customer with ``recency == T`` is still alive
    (censored), one with ``recency = t < T`` churned at the end of period t. Survivors at
    the start of period t = number of customers with ``recency > t``, t = 0..T-1.

    Returns
    -------
    pandas.DataFrame
        Tidy: ``<by>, period, survivors``.

    Raises
    ------
    DataValidationError
        T differing within a group (survivor counts need a common observation window),
        recency outside 1..T or not whole.

    Examples
    --------
    >>> df = pd.DataFrame({"recency": [1, 2, 3, 3], "T": 3, "cohort": "a"})
    >>> survivor_counts(df)["survivors"].tolist()
    [4, 3, 2]
    """
    for col in (recency_col, T_col) + ((by,) if by else ()):
        if col not in customers:
            raise DataValidationError(f"customers: column '{col}' not found; available: {list(customers.columns)}")
    frame = customers.assign(_g="all") if by is None else customers
    key = by or "_g"
    rec, big_t = as_array(frame[recency_col], recency_col), as_array(frame[T_col], T_col)
    bad = (rec < 1) | (rec > big_t) | (rec != np.round(rec)) | (big_t != np.round(big_t))
    if bad.any():
        raise DataValidationError(f"customers: column '{recency_col}': must be a whole period in 1..{T_col}: "
                                  f"{int(bad.sum())} row(s) (e.g. rows {(np.flatnonzero(bad)[:5] + 1).tolist()})")
    spread = frame.groupby(key)[T_col].nunique()
    if (spread > 1).any():
        raise DataValidationError(f"customers: column '{T_col}' differs within group(s) "
                                  f"{spread[spread > 1].index.tolist()[:5]}; survivor counts need one "
                                  "observation window per group")
    t_max = int(big_t.max())
    periods = np.arange(t_max)
    alive = rec[:, None] > periods[None, :]           # customers x periods
    counts = pd.DataFrame(alive, columns=periods).groupby(frame[key].to_numpy()).sum()
    group_t = frame.groupby(key)[T_col].first().astype(int)
    tidy = counts.stack().rename("survivors").reset_index()
    tidy.columns = [key, "period", "survivors"]
    tidy = tidy[tidy["period"] < tidy[key].map(group_t)]
    tidy["survivors"] = tidy["survivors"].astype("int64")
    out = tidy.reset_index(drop=True)
    return out.drop(columns="_g") if by is None else out
