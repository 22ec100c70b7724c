"""Shifted-beta-geometric retention with churn driven by customer covariates.

Each customer churns at the end of a period with probability ``theta_i ~ Beta(alpha_i,
beta_i)``, ``alpha_i = alpha0 exp(z_i' gamma_alpha)``, ``beta_i = beta0 exp(z_i' gamma_beta)``
(:mod:`slm_lib.clv.linked`): covariates that are the same for a cohort or group (segment,
plan) or differ by customer (the service she received). The odds of the mean churn
probability ``alpha_i / beta_i`` move by ``exp(gamma_alpha - gamma_beta)`` per stated unit
(:attr:`ShiftedBetaGeoCovariateModel.churn_effects`).

Data are per customer: ``renewals`` ``n`` (alive at the start of periods 0..n), whether she
churned before the start of period ``n + 1`` (else she is censored, still a customer), and
the period ``k0`` at which she entered the data (0 unless left-truncated, e.g. followed from
an ``as_of`` date). Her log-likelihood, in the notation of :mod:`slm_lib.clv.sbg`, is
``log P(T = n + 1) - log S(k0)`` if she churned and ``log S(n) - log S(k0)`` if not, i.e.
``betaln(alpha + 1, beta + n) - betaln(alpha, beta + k0)`` or ``betaln(alpha, beta + n) -
betaln(alpha, beta + k0)``. With every coefficient 0 this is the sBG fitted to the same
customers' survivor counts. Cohort survivor counts with cohort- or group-level covariates
(segment, plan, the cohort's onboarding experience) enter as weighted rows
(:func:`cohort_lifetimes`).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.special import betaln

from slm_lib.clv.compress import unique_rows, weighted_sum
from slm_lib.clv.linked import (LinkedMLEResult, as_theta, covariate_design, customer_values, dropout_effects,
                                linked_names, linked_score_information, param_designs, row_values,
                                term_scales)
from slm_lib.clv.mle import _LOG_BOUND, PositiveMLEModel, newton_minimise
from slm_lib.clv.rfm import as_array
from slm_lib.clv.sbg import ShiftedBetaGeoModel, as_cohorts, betaln_derivatives
from slm_lib.errors import ConfigError, DataValidationError, ModelFitError

_HINT = ("check that the covariates vary and are on a sensible scale (units={column: 10} or 'sd'), "
         "and that enough customers churned in each covariate group")


def _validate(renewals: Any, churned: Any, entered: Any,
              weights: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    n = as_array(renewals, "renewals")
    died = np.asarray(churned, dtype=bool).reshape(-1)
    k0 = np.zeros(len(n)) if entered is None else as_array(entered, "entered")
    cnt = np.ones(len(n)) if weights is None else as_array(weights, "weights")
    if not len(died) == len(k0) == len(cnt) == len(n):
        raise DataValidationError(f"renewals, churned, entered, weights: need one value per customer, got "
                                  f"{len(n):,}, {len(died):,}, {len(k0):,}, {len(cnt):,}")
    bad = (n < 0) | (n != np.round(n)) | (k0 < 0) | (k0 != np.round(k0)) | (k0 > n) | (cnt < 0)
    if bad.any():
        raise DataValidationError(f"renewals/entered/weights: need whole periods with 0 <= entered <= renewals and "
                                  f"weights >= 0: {int(bad.sum()):,} row(s) (e.g. rows "
                                  f"{(np.flatnonzero(bad)[:5] + 1).tolist()})")
    return n, died, k0, cnt


def cohort_lifetimes(survivors: pd.DataFrame, cohort_col: str | list[str] = "cohort") -> pd.DataFrame:
    """Survivor counts of cohorts as weighted customer rows: the input of a fit with cohort-level covariates.

    A cohort first observed at period ``k0`` with survivors ``n_k0, ..., n_L`` gives
    ``n_{t-1} - n_t`` customers who churned with ``t - 1`` renewals (t = k0+1..L) and
    ``n_L`` still customers with ``L`` renewals, all ``entered`` at ``k0``; the likelihood is
    the sBG's of the counts (:func:`slm_lib.clv.sbg.tallies_loglik`).

    Parameters
    ----------
    survivors : pandas.DataFrame
        Tidy ``<cohort_col>, period, survivors`` (:func:`slm_lib.clv.contractual.cohort_survivors`,
        :func:`slm_lib.clv.sbg.survivor_counts`).
    cohort_col : str or list of str, default "cohort"
        Column(s) identifying a cohort (e.g. ``["segment", "cohort"]``), kept in the output
        so that cohort- or group-level covariates can be joined.

    Returns
    -------
    pandas.DataFrame
        ``<cohort_col>, renewals, churned, entered, customers`` (the weight of each row).

    Examples
    --------
    >>> s = pd.DataFrame({"cohort": ["a"] * 3, "period": [0, 1, 2], "survivors": [10, 6, 5]})
    >>> cohort_lifetimes(s).drop(columns="cohort").values.tolist()
    [[0, True, 0, 4], [1, True, 0, 1], [2, False, 0, 5]]
    """
    keys = [cohort_col] if isinstance(cohort_col, str) else list(cohort_col)
    rows = []
    for name, (start, counts) in as_cohorts(survivors, cohort_col).items():   # one per cohort, not per customer
        last = start + len(counts) - 1
        key = name if isinstance(name, tuple) else (name,)
        rows += [(*key, t - 1, True, start, counts[t - 1 - start] - counts[t - start])
                 for t in range(start + 1, last + 1)]
        rows.append((*key, last, False, start, counts[-1]))
    out = pd.DataFrame(rows, columns=[*keys, "renewals", "churned", "entered", "customers"])
    out = out[out["customers"] > 0].reset_index(drop=True)
    return out.astype({"renewals": "int64", "entered": "int64", "customers": "int64"})


PARAMS = ("alpha", "beta")


def covariate_loglik(theta: np.ndarray, renewals: np.ndarray, churned: np.ndarray, entered: np.ndarray,
                     designs: Sequence[np.ndarray], weights: np.ndarray) -> float:
    """Weighted sBG log-likelihood of customers, ``theta = (log alpha0, gamma_alpha, log beta0, gamma_beta)``.

    ``churned`` is 0/1; ``designs`` one per parameter (:func:`slm_lib.clv.linked.param_designs`).

    Examples
    --------
    >>> from slm_lib.clv.sbg import sbg_loglik
    >>> n, died = np.array([0., 1., 1.]), np.array([1., 0., 0.])   # 3 customers: one left after period 1
    >>> one = [np.ones((3, 1))] * 2
    >>> bool(np.isclose(covariate_loglik(np.log([0.7, 1.2]), n, died, np.zeros(3), one, np.ones(3)),
    ...                 sbg_loglik([0.7, 1.2], np.array([3., 2.]))))
    True
    """
    a, b = row_values(theta, designs)
    return float(weighted_sum(weights, betaln(a + churned, b + renewals) - betaln(a, b + entered)))


def covariate_score_information(theta: np.ndarray, renewals: np.ndarray, churned: np.ndarray, entered: np.ndarray,
                                designs: Sequence[np.ndarray], weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Score and observed information of :func:`covariate_loglik` in ``theta``, closed form."""
    a, b = row_values(theta, designs)
    g_out, h_out = betaln_derivatives(a + churned, b + renewals)
    g_in, h_in = betaln_derivatives(a, b + entered)
    return linked_score_information(np.column_stack([a, b]), g_out - g_in, h_out - h_in, designs, weights)


class ShiftedBetaGeoCovariateModel(PositiveMLEModel):
    """sBG whose churn-rate distribution ``Beta(alpha, beta)`` depends on customer covariates.

    Parameters
    ----------
    churn_covariates : sequence of str
        Columns of the ``covariates`` frame given to :meth:`fit`.
    units, references : mapping, optional
        Stated change of numeric covariates (number or ``"sd"``) and reference levels.
    linked : tuple of str, default ("alpha", "beta")
        Parameters that depend on the covariates. ``("alpha",)`` keeps ``beta`` common: then
        the churn probability in period ``t``, ``alpha_i / (alpha_i + beta + t - 2)``, is
        multiplied by about ``exp(gamma_alpha)`` per unit for long-standing customers (a
        hazard ratio), with fewer parameters to estimate.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> z = pd.DataFrame({"detractor": rng.random(600) < 0.3})
    >>> theta = rng.beta(np.where(z["detractor"], 1.5, 0.75), 2.0)
    >>> life = rng.geometric(theta)                          # churns in period life (1, 2, ...)
    >>> m = ShiftedBetaGeoCovariateModel(["detractor"]).fit(np.minimum(life - 1, 12), life <= 12, z)
    >>> m.churn_effects["label"].tolist()
    ['detractor: True (vs False)']
    """

    name, param_names, usage = "sBG with churn covariates", ("alpha", "beta"), ".fit(renewals, churned, covariates)"

    def __init__(self, churn_covariates: Sequence[str], units: Mapping[str, float | str] | None = None,
                 references: Mapping[str, str] | None = None, linked: Sequence[str] = PARAMS) -> None:
        super().__init__()
        if not linked or set(linked) - set(PARAMS):
            raise ConfigError(f"linked: give 'alpha', 'beta' or both, got {list(linked)}")
        self.linked = tuple(linked)
        self.churn_covariates = list(churn_covariates)
        self.units, self.references = dict(units or {}), dict(references or {})
        self.design_ = None
        self.n_dropped_ = 0
        self.churn_events_ = 0
        self.scales_: dict[str, float] = {}

    def fit(self, renewals: Any, churned: Any, covariates: pd.DataFrame, entered: Any = None,
            weights: Any = None, initial: dict[str, float] | None = None) -> ShiftedBetaGeoCovariateModel:
        """Fit by maximum likelihood.

        Parameters
        ----------
        renewals : array-like of int
            Periods survived: the customer was alive at the start of periods 0..renewals.
        churned : array-like of bool
            She left before the start of period ``renewals + 1`` (False: still a customer).
        covariates : pandas.DataFrame
            One row per customer in the same order, holding ``churn_covariates``.
        entered : array-like of int, optional
            Period at which each customer entered the data (left truncation; default 0).
        weights : array-like, optional
            Customers each row stands for (default 1), e.g. ``customers`` of
            :func:`cohort_lifetimes` for cohort- or group-level covariates.
        initial : dict, optional
            Starting ``alpha``, ``beta`` (default 1, 1); coefficients start at 0.

        Raises
        ------
        DataValidationError
            Renewals or entry periods that are not whole, or entry after the last renewal.
        ModelFitError
            Nobody churned, a constant or collinear covariate, or no convergence.
        """
        n, died, k0, cnt = _validate(renewals, churned, entered, weights)
        design = covariate_design(covariates, self.churn_covariates, len(n), self.units, self.references)
        keep = design.X.index.to_numpy()
        n, died, k0, cnt, z = n[keep], died[keep], k0[keep], cnt[keep], design.X.to_numpy(float)
        if not cnt[died].sum() > 0:
            raise ModelFitError(f"{self.name}: nobody churned, so the churn-rate distribution cannot be estimated")
        rows, _, inverse = unique_rows(n, died.astype(float), k0, *z.T)
        un, ud, uk = rows[0], rows[1], rows[2]
        dz = np.column_stack([np.ones(len(un)), *rows[3:]])
        w = np.bincount(inverse, weights=cnt, minlength=len(un))
        k = dz.shape[1] - 1

        data = (un, ud, uk, param_designs(dz, PARAMS, self.linked), w)

        def objective(theta: np.ndarray) -> float:
            if np.any(np.abs(theta) > 2 * _LOG_BOUND):
                return np.inf
            with np.errstate(all="ignore"):
                value = -covariate_loglik(theta, *data)
            return value if np.isfinite(value) else np.inf

        def derivatives(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            score, info = covariate_score_information(theta, *data)
            return -score, info

        start = {"alpha": 1.0, "beta": 1.0, **(initial or {})}
        names, logs, labels = linked_names(PARAMS, self.linked, design)
        theta0 = as_theta(start, PARAMS, self.linked, k)
        if not np.isfinite(objective(theta0)):
            raise ModelFitError(f"{self.name}: the log-likelihood is not finite at the start; {_HINT}")
        flags = np.asarray(logs)
        theta, cov, best = newton_minimise(objective, derivatives, theta0, names, self.name, _HINT,
                                           lambda t: np.where(flags, np.exp(t), t))
        self.result_ = LinkedMLEResult(self.name, tuple(names), theta, cov, -best, round(float(cnt.sum())),
                                       log_scale=tuple(logs), labels=tuple(labels))
        self.design_, self.n_dropped_, self.churn_events_ = design, design.n_dropped, round(float(cnt[died].sum()))
        self.scales_ = term_scales(covariates, design)
        return self

    @property
    def churn_effects(self) -> pd.DataFrame:
        """term, unit, label, log_odds, std_error, odds_ratio, ci_low, ci_high, p_value, n, events.

        ``odds_ratio``: the factor on the odds of the mean churn probability per period,
        ``alpha_i / beta_i``, per stated unit of the covariate (``exp(gamma_alpha - gamma_beta)``).
        """
        result = self._fitted()
        return dropout_effects(result, self.design_, "alpha", "beta", result.n_obs, self.churn_events_)

    def customer_params(self, covariates: pd.DataFrame) -> dict[str, np.ndarray]:
        """``{"alpha": alpha_i, "beta": beta_i}`` of each row of ``covariates`` (NaN where a covariate is missing)."""
        alpha, beta = customer_values(self._fitted().params, PARAMS, self.design_, self.scales_, covariates)
        return {"alpha": alpha, "beta": beta}

    def retention_rate(self, t: Any, covariates: pd.DataFrame) -> pd.Series:
        """Probability of each customer alive at the start of period ``t - 1`` still being one at ``t`` (t >= 1).

        A Series on the index of ``covariates`` (one value per row).
        """
        rate = ShiftedBetaGeoModel().retention_rate(t, params=self.customer_params(covariates))
        return pd.Series(rate, index=covariates.index, name="retention_rate")

    def derl(self, discount_rate: float, covariates: pd.DataFrame, n: Any = 1) -> pd.Series:
        """Discounted expected residual lifetime of each customer after ``n - 1`` renewals (F&H 2010).

        As :meth:`slm_lib.clv.sbg.ShiftedBetaGeoModel.derl` with each customer's ``alpha_i``,
        ``beta_i``: times a monthly margin, the value of a customer with her service record, so
        the value of better service is the difference between two covariate frames. A Series
        on the index of ``covariates``.

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> z = pd.DataFrame({"median_frt_h": rng.gamma(2.0, 10.0, 3000)})
        >>> life = rng.geometric(rng.beta(0.8 * np.exp(0.3 * z["median_frt_h"] / 10), 3.0))
        >>> m = ShiftedBetaGeoCovariateModel(["median_frt_h"], units={"median_frt_h": 10}, linked=("alpha",))
        >>> m = m.fit(np.minimum(life - 1, 24), life <= 24, z)
        >>> fast, slow = m.derl(0.01, pd.DataFrame({"median_frt_h": [5.0, 40.0]}), n=13)
        >>> bool(fast > slow)
        True
        """
        value = ShiftedBetaGeoModel().derl(discount_rate, n, params=self.customer_params(covariates))
        return pd.Series(value, index=covariates.index, name="derl")
