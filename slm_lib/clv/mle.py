"""One maximum-likelihood engine shared by the BG/NBD, Gamma-Gamma and sBG models.

Every model here has strictly positive parameters. They are estimated on the log scale
(``theta = log(param)``), which keeps the optimiser unconstrained. Each model gives its
score (gradient of the log-likelihood) and observed information (minus its Hessian) in
closed form; the engine carries them to the log scale and runs a trust-region Newton
method (``scipy.optimize.minimize(method="trust-exact")``). Standard errors come from the
observed information at the optimum, on the log scale, carried to the natural scale by the
delta method (``Var(param) = param**2 * Var(theta)``). A likelihood given without
derivatives is differentiated numerically (central differences).

Customers with identical data contribute identical terms: the models fit the distinct rows
(:func:`slm_lib.clv.compress.unique_rows`) with their counts as weights, which CDNOW-style
data (times in days, one observation end) shrink by orders of magnitude.

The 95% interval (level from :data:`slm_lib.config.CONFIDENCE`) of each parameter is the
Wald interval on the log scale, transformed back: ``exp(theta +/- z * se_theta)``. It is
asymmetric and always positive, which a symmetric interval on the natural scale is not.

A fit that does not converge, ends on a boundary (a parameter running off to 0 or
infinity) or has a Hessian that is not positive definite raises
:class:`slm_lib.errors.ModelFitError` naming the model and what to try.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Self, Sequence

import numpy as np
import pandas as pd
from scipy import optimize

from slm_lib.config import CONFIDENCE
from slm_lib.errors import ModelFitError
from slm_lib.stats import normal_interval

#: Log-scale bound beyond which a parameter is taken to have run off to 0 or infinity.
_LOG_BOUND = 18.0

#: A fit that fails with a parameter beyond this on the log scale (22,000-fold) names it as drifting off.
_LOG_FAR = 10.0

#: The optimum is accepted when the Newton step would raise the log-likelihood by less than this.
_NEWTON_DECREMENT = 1e-8

#: Score and observed information of a log-likelihood at natural-scale parameters.
ScoreInformation = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


def numerical_hessian(f: Callable[[np.ndarray], float], x: np.ndarray,
                      step: float = 1e-4) -> np.ndarray:
    """Hessian of a scalar function by central finite differences.

    Each step is ``step * max(1, |x_i|)``; ``1e-4`` (about eps**(1/4)) balances truncation
    and rounding error of the second difference.

    Parameters
    ----------
    f : callable
        Scalar function of a 1-d array.
    x : numpy.ndarray
        Point at which to evaluate the Hessian.
    step : float, default 1e-4
        Relative step.

    Returns
    -------
    numpy.ndarray
        The symmetric ``k x k`` Hessian.

    Examples
    --------
    >>> h = numerical_hessian(lambda v: v[0] ** 2 + 3 * v[0] * v[1], np.array([1.0, 2.0]))
    >>> np.round(h, 4).tolist()
    [[2.0, 3.0], [3.0, 0.0]]
    """
    x = np.asarray(x, dtype=float)
    k = x.size
    h = step * np.maximum(1.0, np.abs(x))
    eye = np.eye(k) * h
    f0 = f(x)
    hess = np.empty((k, k))
    for i in range(k):  # loop over parameters (k <= 4), not over rows
        hess[i, i] = (f(x + 2 * eye[i]) - 2 * f0 + f(x - 2 * eye[i])) / (4 * h[i] ** 2)
        for j in range(i + 1, k):
            hess[i, j] = hess[j, i] = (
                f(x + eye[i] + eye[j]) - f(x + eye[i] - eye[j])
                - f(x - eye[i] + eye[j]) + f(x - eye[i] - eye[j])
            ) / (4 * h[i] * h[j])
    return hess


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, step: float = 1e-6) -> np.ndarray:
    """Gradient of a scalar function by central differences (step ``step * max(1, |x_i|)``).

    Examples
    --------
    >>> np.round(numerical_gradient(lambda v: v[0] ** 2 + 3 * v[1], np.array([1.0, 2.0])), 6).tolist()
    [2.0, 3.0]
    """
    x = np.asarray(x, dtype=float)
    h = step * np.maximum(1.0, np.abs(x))
    return np.array([(f(x + e) - f(x - e)) / (2 * e[i]) for i, e in enumerate(np.diag(h))])


@dataclass(frozen=True)
class MLEResult:
    """The result of a maximum-likelihood fit with positive parameters.

    Attributes
    ----------
    model : str
        Name of the model (used in messages).
    names : tuple of str
        Parameter names, in order.
    log_params : numpy.ndarray
        Estimates on the log scale.
    cov_log : numpy.ndarray
        Covariance of the log-scale estimates (inverse observed information).
    log_likelihood : float
        Maximised log-likelihood.
    n_obs : int
        Number of observations (customers) in the fit.
    """

    model: str
    names: tuple[str, ...]
    log_params: np.ndarray
    cov_log: np.ndarray
    log_likelihood: float
    n_obs: int

    @property
    def params(self) -> dict[str, float]:
        """Estimates on the natural scale, by name."""
        return {n: float(v) for n, v in zip(self.names, np.exp(self.log_params))}

    @property
    def cov(self) -> np.ndarray:
        """Covariance on the natural scale (delta method: ``J cov_log J``, ``J = diag(params)``)."""
        p = np.exp(self.log_params)
        return self.cov_log * np.outer(p, p)

    @property
    def summary(self) -> pd.DataFrame:
        """Tidy table: parameter, estimate, std_error, ci_low, ci_high (log-scale Wald interval)."""
        se_log = np.sqrt(np.diag(self.cov_log))
        est = np.exp(self.log_params)
        lo, hi = normal_interval(self.log_params, se_log, CONFIDENCE)
        return pd.DataFrame({
            "parameter": list(self.names),
            "estimate": est,
            "std_error": est * se_log,
            "ci_low": np.exp(lo),
            "ci_high": np.exp(hi),
        })

    def draw(self, n_draws: int, seed: int | np.random.Generator | None = 0) -> np.ndarray:
        """Parameter draws from the asymptotic normal of the log-scale estimates.

        Parameters
        ----------
        n_draws : int
            Number of draws.
        seed : int or numpy.random.Generator, default 0
            Seed for reproducible draws.

        Returns
        -------
        numpy.ndarray
            ``n_draws x k`` array of natural-scale parameters (columns in ``names`` order).
        """
        rng = np.random.default_rng(seed)
        return self.natural(rng.multivariate_normal(self.log_params, self.cov_log, size=n_draws))

    def natural(self, theta: np.ndarray) -> np.ndarray:
        """Natural-scale parameters (``names`` order, last axis) from the fitted scale: ``exp``."""
        return np.exp(theta)

    def delta_method(self, func: Callable[[np.ndarray], np.ndarray],
                     step: float = 1e-3) -> tuple[np.ndarray, np.ndarray]:
        """A function of the parameters at the estimate and its variance by the delta method.

        ``Var f = grad' cov_log grad`` on the log scale, with the gradient taken along the
        principal axes of ``cov_log`` (one standard deviation long) by central differences
        of ``step`` of an axis: ``2 k`` evaluations of ``func`` for ``k`` parameters,
        whatever the size of its output. Zero covariance gives zero variance.

        Parameters
        ----------
        func : callable
            Natural-scale parameter vector (``names`` order) -> array (e.g. one value per
            customer).
        step : float, default 1e-3
            Central-difference step, in standard deviations along each axis.

        Returns
        -------
        tuple of numpy.ndarray
            ``func`` at the estimate and its variance, same shape.

        Examples
        --------
        >>> res = MLEResult("toy", ("m",), np.log([2.0]), np.array([[0.01]]), 0.0, 10)
        >>> value, var = res.delta_method(lambda p: np.log(p[0]) * np.ones(2))
        >>> np.round(var, 6).tolist()    # log m is the log-scale parameter: its variance, 0.01
        [0.01, 0.01]
        """
        value = np.asarray(func(self.natural(self.log_params)), dtype=float)
        lam, vec = np.linalg.eigh(self.cov_log)
        var = np.zeros(value.shape)
        for axis in (vec * np.sqrt(np.clip(lam, 0.0, None))).T:   # k <= 4 axes, not rows
            if axis.any():
                up, down = (np.asarray(func(self.natural(self.log_params + sign * step * axis)))
                            for sign in (1.0, -1.0))
                var += ((up - down) / (2 * step)) ** 2
        return value, var


def fit_positive_mle(neg_loglik: Callable[[np.ndarray], float], start: Sequence[float],
                     names: Sequence[str], model: str, n_obs: int,
                     hint: str = "check the inputs or pass other starting values",
                     score_information: ScoreInformation | None = None) -> MLEResult:
    """Minimise a negative log-likelihood over strictly positive parameters.

    Trust-region Newton on the log scale with the model's score and observed information
    (numerical derivatives of ``neg_loglik`` when none are given). The optimum is accepted
    when the Newton step from it would raise the log-likelihood by less than 1e-8.

    Parameters
    ----------
    neg_loglik : callable
        Negative log-likelihood as a function of the **natural-scale** parameter vector.
    start : sequence of float
        Positive starting values.
    names : sequence of str
        Parameter names (for the summary and error messages).
    model : str
        Model name for error messages.
    n_obs : int
        Number of observations in the fit.
    hint : str
        What the user could try if the fit fails (appended to the error message).
    score_information : callable, optional
        ``params -> (score, information)``: gradient of the log-likelihood and minus its
        Hessian at natural-scale parameters, in closed form.

    Returns
    -------
    MLEResult

    Raises
    ------
    ModelFitError
        No convergence, a parameter on the boundary, a non-finite likelihood or a Hessian
        that is not positive definite.

    Examples
    --------
    >>> x = np.array([1.0, 2.0, 3.0, 4.0])
    >>> nll = lambda p: -np.sum(-np.log(p[0]) - x / p[0])   # exponential with mean p[0]
    >>> round(fit_positive_mle(nll, [1.0], ["mean"], "exponential", 4).params["mean"], 4)
    2.5
    >>> score = lambda p: (np.array([np.sum(x / p[0] ** 2 - 1 / p[0])]),
    ...                    np.array([[np.sum(2 * x / p[0] ** 3 - 1 / p[0] ** 2)]]))
    >>> round(fit_positive_mle(nll, [1.0], ["mean"], "exponential", 4, score_information=score).params["mean"], 4)
    2.5
    """
    start = np.asarray(start, dtype=float)
    if np.any(~np.isfinite(start)) or np.any(start <= 0):
        raise ModelFitError(f"{model}: starting values must be positive and finite, got {start.tolist()}")

    def objective(theta: np.ndarray) -> float:
        if np.any(np.abs(theta) > 2 * _LOG_BOUND):
            return np.inf
        with np.errstate(all="ignore"):
            value = float(neg_loglik(np.exp(theta)))
        return value if np.isfinite(value) else np.inf

    def derivatives(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Gradient and Hessian of ``objective`` (chain rule from the natural scale)."""
        if score_information is None:
            with np.errstate(invalid="ignore"):   # inf - inf in differences off the support
                return numerical_gradient(objective, theta), numerical_hessian(objective, theta)
        p = np.exp(theta)
        with np.errstate(all="ignore"):
            score, info = score_information(p)
        return -p * score, info * np.outer(p, p) - np.diag(p * score)

    theta = np.log(start)
    if not np.isfinite(objective(theta)):
        raise ModelFitError(f"{model}: the log-likelihood is not finite at the starting values "
                            f"{dict(zip(names, start.tolist()))}; {hint}")
    theta, cov_log, best = newton_minimise(objective, derivatives, theta, names, model, hint, np.exp)
    return MLEResult(model=model, names=tuple(names), log_params=theta,
                     cov_log=cov_log, log_likelihood=-best, n_obs=int(n_obs))


def newton_minimise(objective: Callable[[np.ndarray], float],
                    derivatives: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]], theta: np.ndarray,
                    names: Sequence[str], model: str, hint: str,
                    natural: Callable[[np.ndarray], np.ndarray]) -> tuple[np.ndarray, np.ndarray, float]:
    """Trust-region Newton minimisation of a negative log-likelihood in unconstrained ``theta``, checked.

    ``objective`` is finite at the start; ``derivatives`` gives its gradient and Hessian;
    ``natural`` turns ``theta`` into the values quoted in error messages. Returns the
    minimiser, its covariance (inverse Hessian, symmetrised) and the minimum.

    Raises
    ------
    ModelFitError
        As :func:`fit_positive_mle`: no convergence, a parameter beyond ``exp(18)`` on its
        scale, a non-finite optimum or a Hessian that is not positive definite.

    Examples
    --------
    >>> f = lambda t: float((t[0] - 1.0) ** 2)
    >>> d = lambda t: (np.array([2 * (t[0] - 1.0)]), np.array([[2.0]]))
    >>> theta, cov, best = newton_minimise(f, d, np.array([0.0]), ["m"], "toy", "", np.exp)
    >>> round(float(theta[0]), 6), cov.tolist()
    (1.0, [[0.5]])
    """
    cache: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}

    def at(point: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        key = point.tobytes()
        if key not in cache:   # the optimiser asks for the gradient and the Hessian at one point
            cache.clear()
            cache[key] = derivatives(point)
        return cache[key]

    try:   # Newton converges in about 10 iterations from the default starts; 100 means it cannot
        res = optimize.minimize(objective, theta, method="trust-exact", jac=lambda t: at(t)[0],
                                hess=lambda t: at(t)[1], options={"gtol": 1e-10, "maxiter": 100})
    except (ValueError, np.linalg.LinAlgError) as exc:   # non-finite derivatives on the way
        raise ModelFitError(f"{model}: the optimiser failed ({exc}); {hint}") from exc
    theta, best = res.x, float(res.fun)
    if not np.isfinite(best):
        raise ModelFitError(f"{model}: the log-likelihood is not finite at the optimum; {hint}")
    off = [n for n, t in zip(names, theta) if abs(t) > _LOG_BOUND]
    if off:
        raise ModelFitError(f"{model}: parameter(s) {', '.join(off)} ran off to 0 or infinity "
                            f"({dict(zip(names, natural(theta).round(6).tolist()))}): the data do not "
                            f"identify the model; {hint}")
    far = [n for n, t in zip(names, theta) if abs(t) > _LOG_FAR]
    drift = (f" (parameter(s) {', '.join(far)} drift toward 0 or infinity, "
             f"{dict(zip(names, natural(theta).round(6).tolist()))}: the data may not identify the model)"
             if far else "")   # a likelihood still rising along a ridge toward the boundary
    grad, hess = at(theta)
    try:
        if not (np.all(np.isfinite(hess)) and np.all(np.isfinite(grad))):
            raise np.linalg.LinAlgError("non-finite Hessian")
        np.linalg.cholesky(hess)
        cov_log = np.linalg.inv(hess)
    except np.linalg.LinAlgError as exc:
        raise ModelFitError(f"{model}: the Hessian at the optimum is not positive definite ({exc}), "
                            f"so the optimum is not a proper maximum and standard errors do not "
                            f"exist{drift}; {hint}") from exc
    if not grad @ cov_log @ grad < 2 * _NEWTON_DECREMENT:
        raise ModelFitError(f"{model}: the optimiser did not converge after {res.nit} iterations "
                            f"(last message: {res.message}){drift}; {hint}")
    return theta, (cov_log + cov_log.T) / 2, best


class PositiveMLEModel:
    """Base of the CLV models: fitted state, parameters, summary and construction from known values.

    Subclasses set ``name``, ``param_names`` and ``usage`` (how to fit, for the
    not-fitted error) and store an :class:`MLEResult` in ``result_`` when fitted.

    Examples
    --------
    >>> class Toy(PositiveMLEModel):
    ...     name, param_names, usage = "toy", ("m",), ".fit(x)"
    >>> Toy.from_params({"m": 2.0}).params_
    {'m': 2.0}
    """

    name: str = "model"
    param_names: tuple[str, ...] = ()
    usage: str = ".fit(...)"

    def __init__(self) -> None:
        self.result_: MLEResult | None = None

    @classmethod
    def from_params(cls, params: dict[str, float], cov_log: np.ndarray | None = None) -> Self:
        """A model with known parameters (e.g. published ones) instead of a fit.

        ``cov_log`` is the covariance of the log parameters (default zeros: no uncertainty,
        so intervals collapse to the point prediction).
        """
        missing = [k for k in cls.param_names if k not in params]
        if missing:
            raise ModelFitError(f"{cls.name}: parameter(s) {missing} missing; need {list(cls.param_names)}")
        values = np.array([params[k] for k in cls.param_names], dtype=float)
        if np.any(~np.isfinite(values)) or np.any(values <= 0):
            raise ModelFitError(f"{cls.name}: parameters must be positive and finite, got {params}")
        k = len(values)
        cov = np.zeros((k, k)) if cov_log is None else np.asarray(cov_log, dtype=float)
        model = cls()
        model.result_ = MLEResult(cls.name, cls.param_names, np.log(values), cov, float("nan"), 0)
        return model

    def _fitted(self) -> MLEResult:
        if self.result_ is None:
            raise ModelFitError(f"{self.name}: the model is not fitted yet; call {self.usage} first")
        return self.result_

    @property
    def params_(self) -> dict[str, float]:
        """Fitted parameters by name."""
        return self._fitted().params

    @property
    def log_likelihood_(self) -> float:
        """Maximised log-likelihood (NaN for a model built with :meth:`from_params`)."""
        return self._fitted().log_likelihood

    @property
    def summary(self) -> pd.DataFrame:
        """parameter, estimate, std_error, ci_low, ci_high (observed information)."""
        return self._fitted().summary
