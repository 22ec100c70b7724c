"""Cox partial likelihood by risk-set sums: Efron or Breslow ties, score, information and the Newton fit.

Shared by :func:`slm_lib.models.churn_hazard_model` (the fit) and
:mod:`slm_lib.models.proportional_hazards` (the scaled Schoenfeld residual test). Each row is
binned by the last distinct event time it reaches; sums per bin, cumulated from the last bin
back, are the sums over the risk set of every event time, so one evaluation is a few passes
over the rows. Weighted sums over event times of the risk sets' ``x x'`` sums fold into one
weighted Gram matrix of the rows (each row weighted by the cumulated weight of the event
times it is at risk at), so nothing of size events x terms x terms is ever formed.
statsmodels' ``PHReg.fit`` loops in Python over event times instead: 28 s for 52,600
customers with distinct churn times, against well under a second here.

Efron's method splits the ``d`` tied deaths at a time into ``d`` steps; step ``j`` (0-based)
removes the fraction ``j / d`` of the deaths' risk from the risk set (Breslow: never).
"""
from __future__ import annotations

import warnings

import numpy as np
from statsmodels.duration.hazard_regression import PHReg, PHRegResults
from statsmodels.tools.sm_exceptions import ConvergenceWarning

#: Newton stops when its next step would raise the log partial likelihood by less than this.
_DECREMENT = 1e-12


class RiskSets:
    """Rows of a Cox model binned by distinct event time, with the tallies that do not depend on beta.

    Attributes
    ----------
    times : numpy.ndarray
        Distinct event times, ascending.
    deaths, n_risk : numpy.ndarray
        Events at each time and rows at risk there.
    dx : numpy.ndarray
        Sum of ``x`` over the events at each time (times x terms).
    step_time, step_fraction : numpy.ndarray
        One entry per event: index of its time and its Efron fraction ``j / d``.

    Examples
    --------
    >>> sets = RiskSets(np.array([2., 1., 2., 3.]), np.array([1., 1., 1., 0.]), np.zeros((4, 1)))
    >>> sets.times.tolist(), sets.deaths.tolist(), sets.n_risk.tolist(), sets.step_fraction.tolist()
    ([1.0, 2.0], [1, 2], [4, 3], [0.0, 0.0, 0.5])
    """

    def __init__(self, time: np.ndarray, status: np.ndarray, X: np.ndarray) -> None:
        self.X, self.status = X, status
        self.times = np.unique(time[status > 0])
        self.bins = np.searchsorted(self.times, time, side="right")   # 0: gone before the first event
        self.deaths = np.rint(self.per_time(status)).astype(np.int64)
        self.n_risk = np.cumsum(np.bincount(self.bins, minlength=len(self.times) + 1)[1:][::-1])[::-1]
        self.dx = self.per_time(X * status[:, None])
        d = self.deaths
        self.step_time = np.repeat(np.arange(len(d)), d)
        self.step_fraction = (np.arange(d.sum()) - np.repeat(np.cumsum(d) - d, d)) / d[self.step_time]

    def per_time(self, values: np.ndarray) -> np.ndarray:
        """Sums of ``values`` (rows, or rows x columns) over the rows of each bin 1..m."""
        if values.ndim == 1:
            return np.bincount(self.bins, weights=values, minlength=len(self.times) + 1)[1:]
        return np.column_stack([self.per_time(col) for col in values.T])   # a column per term

    def steps(self, risk: np.ndarray, efron: bool) -> tuple[np.ndarray, np.ndarray]:
        """Risk-set total and mean of ``x`` at each event's step (risk weights ``exp(x'b)``)."""
        at_risk = lambda v: np.cumsum(self.per_time(v)[::-1], axis=0)[::-1]  # noqa: E731
        k, f = self.step_time, self.step_fraction if efron else np.zeros(len(self.step_time))
        dead = risk * self.status
        c0 = at_risk(risk)[k] - f * self.per_time(dead)[k]
        s1 = at_risk(self.X * risk[:, None])[k] - f[:, None] * self.per_time(self.X * dead[:, None])[k]
        return c0, s1 / c0[:, None]

    def information(self, risk: np.ndarray, a: np.ndarray, c0: np.ndarray, mean: np.ndarray,
                    efron: bool) -> np.ndarray:
        """``sum over steps of a * (risk-weighted covariance of x in the step's risk set)``."""
        m = len(self.times)
        f = self.step_fraction if efron else np.zeros(len(self.step_time))
        w_all = np.r_[0.0, np.cumsum(np.bincount(self.step_time, weights=a / c0, minlength=m))]
        w_dead = np.r_[0.0, np.bincount(self.step_time, weights=a * f / c0, minlength=m)]
        v = risk * (w_all[self.bins] - self.status * w_dead[self.bins])
        return np.einsum("i,ij,ik->jk", v, self.X, self.X) - np.einsum("e,ei,ej->ij", a, mean, mean)

    def evaluate(self, beta: np.ndarray, efron: bool) -> tuple[float, np.ndarray, np.ndarray]:
        """Log partial likelihood, score and information at ``beta``."""
        eta = np.einsum("ij,j->i", self.X, beta)
        shift = eta.max(initial=0.0)
        risk = np.exp(eta - shift)
        c0, mean = self.steps(risk, efron)
        ll = float(np.einsum("i,i->", self.status, eta) - np.sum(np.log(c0)) - len(c0) * shift)
        ones = np.ones(len(c0))
        return ll, self.dx.sum(axis=0) - mean.sum(axis=0), self.information(risk, ones, c0, mean, efron)


def fit_cox(model: PHReg, maxiter: int = 50) -> PHRegResults:
    """Maximum partial likelihood of a statsmodels ``PHReg`` (no strata, entry or offset).

    Newton-Raphson with step halving from ``beta = 0``, as R's ``coxph``; the covariance is the
    inverse observed information, as ``PHReg.fit``.

    Returns
    -------
    PHRegResults
        The statsmodels result for ``model`` at the estimate.

    Raises
    ------
    numpy.linalg.LinAlgError
        A singular information matrix or a non-finite likelihood on the way. Not converging in
        ``maxiter`` steps emits a statsmodels ``ConvergenceWarning``.

    Examples
    --------
    >>> import statsmodels.api as sm
    >>> model = sm.PHReg(np.array([9., 1, 1, 6, 6, 8]), np.array([[0.], [1], [1], [1], [0], [0]]),
    ...                  status=np.array([1., 1, 0, 1, 1, 0]), ties="breslow")
    >>> round(float(np.exp(fit_cox(model).params[0])), 6)   # (3 + sqrt(33)) / 2
    4.372281
    """
    X = np.asarray(model.exog, dtype=float)
    sets = RiskSets(np.asarray(model.endog, dtype=float), np.asarray(model.status, dtype=float), X)
    efron = model.ties == "efron"
    beta = np.zeros(X.shape[1])
    ll, score, info = sets.evaluate(beta, efron)
    converged = False
    for _ in range(maxiter):
        if not (np.isfinite(ll) and np.all(np.isfinite(score)) and np.all(np.isfinite(info))):
            raise np.linalg.LinAlgError(f"non-finite log partial likelihood at beta = {beta.tolist()}")
        step = np.linalg.solve(info, score)
        decrement = float(score @ step)
        t = 1.0
        while True:   # step halving: a few halvings at most, not a loop over rows
            cand = sets.evaluate(beta + t * step, efron)
            if cand[0] >= ll - 1e-12 * abs(ll) or t < 1e-10:
                break
            t /= 2
        if cand[0] < ll - 1e-12 * abs(ll):   # no step raises the likelihood: at its numerical top
            converged = decrement < 1e-6
            break
        beta, (ll, score, info) = beta + t * step, cand
        if decrement < _DECREMENT:
            converged = True
            break
    if not converged:
        warnings.warn(f"Cox fit: no convergence in {maxiter} Newton steps", ConvergenceWarning, stacklevel=2)
    return PHRegResults(model, beta, np.linalg.inv(info))
