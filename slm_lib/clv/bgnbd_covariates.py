"""BG/NBD with drop-out driven by customer covariates (e.g. the service a customer received).

Purchasing is the BG/NBD's (:mod:`slm_lib.clv.bgnbd`); the drop-out probability after each
purchase is ``p_i ~ Beta(a_i, b_i)`` with ``a_i = a0 exp(z_i' gamma_a)`` and
``b_i = b0 exp(z_i' gamma_b)`` (:mod:`slm_lib.clv.linked`, pymc-marketing's definition), so
each covariate moves the odds of the mean drop-out probability ``a_i / b_i`` by
``exp(gamma_a - gamma_b)`` per stated unit (:attr:`BetaGeoCovariateModel.dropout_effects`).
Covariates are time-invariant: measured once per customer (e.g. median first response
over a lookback window) and taken to hold over the whole purchase history.

The fit starts from the plain BG/NBD (no covariate) and maximises the likelihood over the
distinct ``(x, t_x, T, z)`` rows with closed-form score and Hessian (per-row BG/NBD
derivatives, :func:`slm_lib.clv.bgnbd.bgnbd_row_derivatives`, chained through the links).
With every coefficient 0 the likelihood is the BG/NBD's exactly.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from slm_lib.clv.bgnbd import (_UPPER, BetaGeoModel, alive_probability, bgnbd_loglik, bgnbd_row_derivatives,
                               conditional_expected_purchases)
from slm_lib.clv.compress import unique_rows, weighted_sum
from slm_lib.clv.linked import (LinkedMLEResult, as_theta, covariate_design, customer_values, dropout_effects,
                                linked_names, linked_score_information, param_designs, row_values,
                                term_scales)
from slm_lib.clv.mle import _LOG_BOUND, PositiveMLEModel, newton_minimise
from slm_lib.clv.rfm import like_input, validate_rfm
from slm_lib.errors import ConfigError, ModelFitError

_HINT = ("check that the covariates vary and are on a sensible scale (units={column: 10} or 'sd'), "
         "and that recency and T use the same time unit")


PARAMS = ("r", "alpha", "a", "b")


def covariate_loglik(theta: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray,
                     designs: Sequence[np.ndarray], weights: np.ndarray) -> float:
    """Weighted BG/NBD log-likelihood with ``theta = (log r, log alpha, log a0, gamma_a, log b0, gamma_b)``.

    ``designs``: one per parameter (:func:`slm_lib.clv.linked.param_designs`), ones then the
    covariates for a linked parameter (the coefficients then follow it in ``theta``).

    Examples
    --------
    >>> x, tx, T = np.array([0., 2.]), np.array([0., 5.]), np.array([10., 10.])
    >>> theta = np.log([0.5, 3.0, 0.8, 1.0, 2.0, 1.0]) * [1, 1, 1, 0, 1, 0]   # coefficients 0
    >>> designs = param_designs(np.column_stack([np.ones(2), [1.0, -1.0]]), PARAMS, ("a", "b"))
    >>> bool(np.isclose(covariate_loglik(theta, x, tx, T, designs, np.ones(2)),
    ...                 bgnbd_loglik([0.5, 3.0, 0.8, 2.0], x, tx, T).sum()))
    True
    """
    r, alpha, a, b = row_values(theta, designs)
    return float(weighted_sum(weights, bgnbd_loglik((r[0], alpha[0], a, b), x, t_x, T)))


def covariate_score_information(theta: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray,
                                designs: Sequence[np.ndarray], weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Score and observed information of :func:`covariate_loglik` in ``theta``, closed form."""
    r, alpha, a, b = row_values(theta, designs)
    with np.errstate(all="ignore"):
        grad, upper, curv, d, (grad_c, upper_c) = bgnbd_row_derivatives((r[0], alpha[0], a, b), x, t_x, T)
    hess = curv[:, None, None] * d[:, :, None] * d[:, None, :]
    hess[:, _UPPER[0], _UPPER[1]] += upper + upper_c
    hess[:, (1, 3), (0, 2)] = hess[:, (0, 2), (1, 3)]     # the two off-diagonal direct terms
    values = np.column_stack([r, alpha, a, b])
    return linked_score_information(values, grad + grad_c, hess, designs, weights)


class BetaGeoCovariateModel(PositiveMLEModel):
    """BG/NBD whose drop-out parameters ``a``, ``b`` depend on customer covariates.

    Parameters
    ----------
    dropout_covariates : sequence of str
        Columns of the ``covariates`` frame given to :meth:`fit`.
    units : mapping, optional
        Stated change of numeric covariates (``{"median_frt_h": 10}``: per +10 h; ``"sd"``).
    references : mapping, optional
        Reference level of categorical covariates.
    linked : tuple of str, default ("a", "b")
        Drop-out parameters that depend on the covariates; ``("a",)`` keeps ``b`` common.

    Attributes (after :meth:`fit`)
    -------------------------------
    params_ : dict
        ``r, alpha, a, b`` (``a``, ``b`` at ``z = 0``) and coefficients ``a:<term>``, ``b:<term>``.
    summary : pandas.DataFrame
        parameter, label, estimate, std_error, ci_low, ci_high.
    dropout_effects : pandas.DataFrame
        Odds ratio of the mean drop-out probability per stated unit, with 95% interval.
    design_ : Design
        Covariate terms; ``n_dropped_`` customers had a missing covariate and were left out.

    Examples
    --------
    >>> x = np.array([0, 1, 2, 0, 3, 1, 0, 5, 2, 0] * 30)
    >>> t_x = np.where(x > 0, np.array([0, 10, 20, 0, 30, 5, 0, 35, 15, 0] * 30), 0.0)
    >>> z = pd.DataFrame({"median_frt_h": np.random.default_rng(1).gamma(2.0, 8.0, 300)})
    >>> m = BetaGeoCovariateModel(["median_frt_h"], units={"median_frt_h": 10}).fit(x, t_x, np.full(300, 39.0), z)
    >>> m.summary["label"].tolist()[-1]
    'b: median first response (per +10 h)'
    """

    name, param_names, usage = "BG/NBD with dropout covariates", ("r", "alpha", "a", "b"), \
        ".fit(frequency, recency, T, covariates)"

    def __init__(self, dropout_covariates: Sequence[str], units: Mapping[str, float | str] | None = None,
                 references: Mapping[str, str] | None = None, linked: Sequence[str] = ("a", "b")) -> None:
        super().__init__()
        if not linked or set(linked) - {"a", "b"}:
            raise ConfigError(f"linked: give 'a', 'b' or both, got {list(linked)}")
        self.linked = tuple(linked)
        self.dropout_covariates = list(dropout_covariates)
        self.units, self.references = dict(units or {}), dict(references or {})
        self.design_ = None
        self.n_dropped_ = 0
        self.scales_: dict[str, float] = {}
        self.baseline_: BetaGeoModel | None = None

    def fit(self, frequency: Any, recency: Any, T: Any, covariates: pd.DataFrame,
            initial: dict[str, float] | None = None) -> BetaGeoCovariateModel:
        """Fit by maximum likelihood.

        Parameters
        ----------
        frequency, recency, T : array-like
            Per-customer repeat purchases, recency and age (:func:`slm_lib.clv.rfm.rfm_summary`).
        covariates : pandas.DataFrame
            One row per customer in the same order, holding ``dropout_covariates``.
        initial : dict, optional
            Starting values of the plain BG/NBD fit that starts this one.

        Raises
        ------
        DataValidationError, ConfigError
            Invalid RFM inputs or covariates.
        ModelFitError
            A constant or collinear covariate, no repeat purchases, or no convergence.
        """
        x, t_x, big_t = validate_rfm(frequency, recency, T)
        design = covariate_design(covariates, self.dropout_covariates, len(x), self.units, self.references)
        keep = design.X.index.to_numpy()
        x, t_x, big_t, z = x[keep], t_x[keep], big_t[keep], design.X.to_numpy(float)
        try:
            self.baseline_ = BetaGeoModel().fit(x, t_x, big_t, initial=initial)
        except ModelFitError as exc:
            raise ModelFitError(f"{self.name}: the BG/NBD without covariates does not fit, so neither "
                                f"can this one: {exc}") from exc
        rows, counts, _ = unique_rows(x, t_x, big_t, *z.T)
        ux, ut_x, u_t, dz = rows[0], rows[1], rows[2], np.column_stack([np.ones(len(rows[0])), *rows[3:]])
        w = counts.astype(float)
        k = dz.shape[1] - 1

        data = (ux, ut_x, u_t, param_designs(dz, PARAMS, self.linked), w)

        def objective(theta: np.ndarray) -> float:
            if np.any(np.abs(theta) > 2 * _LOG_BOUND):
                return np.inf
            with np.errstate(all="ignore"):
                value = -covariate_loglik(theta, *data)
            return value if np.isfinite(value) else np.inf

        def derivatives(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            score, info = covariate_score_information(theta, *data)
            return -score, info

        names, logs, labels = linked_names(PARAMS, self.linked, design)
        theta0 = as_theta(self.baseline_.params_, PARAMS, self.linked, k)
        if not np.isfinite(objective(theta0)):
            raise ModelFitError(f"{self.name}: the log-likelihood is not finite at the start; {_HINT}")
        natural = np.where(np.asarray(logs), 1.0, 0.0)
        theta, cov, best = newton_minimise(objective, derivatives, theta0, names, self.name, _HINT,
                                           lambda t: np.where(natural > 0, np.exp(t), t))
        self.result_ = LinkedMLEResult(self.name, tuple(names), theta, cov, -best, len(x),
                                       log_scale=tuple(logs), labels=tuple(labels))
        self.design_, self.n_dropped_ = design, design.n_dropped
        self.scales_ = term_scales(covariates, design)
        return self

    @property
    def dropout_effects(self) -> pd.DataFrame:
        """term, unit, label, log_odds, std_error, odds_ratio, ci_low, ci_high, p_value, n.

        ``odds_ratio``: the factor on the odds of the mean drop-out probability after a
        purchase, ``a_i / b_i``, per stated unit of the covariate (``exp(gamma_a - gamma_b)``).
        """
        result = self._fitted()
        return dropout_effects(result, self.design_, "a", "b", result.n_obs)

    def customer_params(self, covariates: pd.DataFrame) -> tuple[float, float, np.ndarray, np.ndarray]:
        """``(r, alpha, a_i, b_i)`` of each customer (rows of ``covariates``; NaN where a covariate is missing)."""
        p = self._fitted().params
        a, b = customer_values(p, ("a", "b"), self.design_, self.scales_, covariates)
        return p["r"], p["alpha"], a, b

    def probability_alive(self, frequency: Any, recency: Any, T: Any, covariates: pd.DataFrame) -> Any:
        """P(alive at T) of each customer given her history and covariates."""
        x, t_x, big_t = validate_rfm(frequency, recency, T)
        return like_input(alive_probability(x, t_x, big_t, self.customer_params(covariates)), frequency,
                          "probability_alive")

    def expected_purchases(self, t: float, frequency: Any, recency: Any, T: Any, covariates: pd.DataFrame) -> Any:
        """Expected purchases of each customer in ``(T, T + t]`` given her history and covariates."""
        x, t_x, big_t = validate_rfm(frequency, recency, T)
        out = conditional_expected_purchases(float(t), x, t_x, big_t, self.customer_params(covariates))
        return like_input(out, frequency, "expected_purchases")
