"""BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005, "Counting your customers the easy way").

While alive, a customer buys as a Poisson process with rate ``lambda ~ Gamma(r, alpha)``;
after each purchase she drops out with probability ``p ~ Beta(a, b)``. For a customer with
``x`` repeat purchases, last at ``t_x``, observed for ``T``:

``L = B(a, b+x)/B(a, b) * Gamma(r+x)/Gamma(r) * alpha^r
      * [ (alpha+T)^-(r+x) + 1{x>0} * a/(b+x-1) * (alpha+t_x)^-(r+x) ]``

written on the log scale with ``gammaln``/``betaln`` and ``logaddexp``. Parameters are
estimated by maximum likelihood (:mod:`slm_lib.clv.mle`) from the distinct
``(x, t_x, T)`` rows weighted by their counts, with the score and observed information in
closed form (:func:`bgnbd_score_information`) and observed-information standard errors.
On the CDNOW sample (calibration to 1997-09-30, weeks) the fit gives the published
r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import betaln, digamma, expit, gammaln, hyp2f1, polygamma, roots_jacobi

from slm_lib.clv.compress import by_count, unique_rows, weighted_sum
from slm_lib.clv.mle import PositiveMLEModel, fit_positive_mle
from slm_lib.clv.rfm import as_array, like_input, validate_rfm
from slm_lib.errors import ModelFitError

PARAMS = ("r", "alpha", "a", "b")
_QUAD_NODES = 128


def bgnbd_loglik(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Per-customer BG/NBD log-likelihood.

    Parameters
    ----------
    params : array-like
        ``(r, alpha, a, b)``, all positive; ``a`` and ``b`` may be arrays, one value per customer.
    x, t_x, T : numpy.ndarray
        Repeat purchases, recency and age of each customer.

    Returns
    -------
    numpy.ndarray
        Log-likelihood contribution of each customer.

    Examples
    --------
    >>> round(float(bgnbd_loglik([1.0, 1.0, 1.0, 1.0], np.array([0.]), np.array([0.]), np.array([1.]))[0]), 4)
    -0.6931
    """
    r, alpha, a, b = params
    if np.ndim(a) == 0 and np.ndim(b) == 0:
        head = by_count(lambda j: gammaln(r + j) - gammaln(r) + betaln(a, b + j) - betaln(a, b), x)
    else:   # one (a, b) per row (dropout covariates)
        head = by_count(lambda j: gammaln(r + j) - gammaln(r), x) + betaln(a, b + x) - betaln(a, b)
    head = head + r * np.log(alpha)
    stay = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        drop = np.where(x > 0, np.log(a) - np.log(np.maximum(b + x - 1, 1e-300))
                        - (r + x) * np.log(alpha + t_x), -np.inf)
    return head + np.logaddexp(stay, drop)


def bgnbd_score_information(params: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray,
                            weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and minus the Hessian of the weighted BG/NBD log-likelihood, natural scale.

    With ``u = -(r+x) log(alpha+T)``, ``v = log a - log(b+x-1) - (r+x) log(alpha+t_x)``
    (``-inf`` when ``x = 0``) and ``s = 1 / (1 + exp(u - v))`` the share of the likelihood
    from "dropped out after the last purchase", each customer's log-likelihood is
    ``head(x) + logaddexp(u, v)``, so its gradient is ``head' + (1-s) u' + s v'`` and its
    Hessian ``head'' + (1-s) u'' + s v'' + s (1-s) (v'-u')(v'-u')'``, with digamma and
    trigamma derivatives of the gamma and beta functions in ``head``.

    Parameters
    ----------
    params : array-like
        ``(r, alpha, a, b)``.
    x, t_x, T : numpy.ndarray
        Repeat purchases, recency and age.
    weights : numpy.ndarray, optional
        Number of customers each row stands for (default 1).

    Returns
    -------
    tuple of numpy.ndarray
        Score (4) and observed information (4 x 4).

    Examples
    --------
    >>> x, tx, T = np.array([0., 2.]), np.array([0., 5.]), np.array([10., 10.])
    >>> score, info = bgnbd_score_information([0.5, 3.0, 0.8, 2.0], x, tx, T)
    >>> bool(np.allclose(info, info.T))
    True
    """
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=float)
    grad, upper, curv, d, (grad_c, upper_c) = bgnbd_row_derivatives(params, x, t_x, T)
    n = w.sum()
    hess = np.einsum("i,ij,ik->jk", w * curv, d, d)
    hess[_UPPER] += weighted_sum(w, upper) + n * upper_c
    hess = np.triu(hess) + np.triu(hess, 1).T
    return weighted_sum(w, grad) + n * grad_c, -hess


#: Positions of the entries of :func:`bgnbd_row_derivatives`'s ``upper``: (r, r), (r, alpha),
#: (alpha, alpha), (a, a), (a, b), (b, b); the other pairs have no direct second derivative.
_UPPER = ((0, 0, 1, 2, 2, 3), (0, 1, 1, 2, 3, 3))


def bgnbd_row_derivatives(params: Any, x: np.ndarray, t_x: np.ndarray,
                          T: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple]:
    """Each row's BG/NBD score and Hessian in ``(r, alpha, a, b)``, natural scale, in parts.

    ``a`` and ``b`` may be arrays (one per row, as with dropout covariates); special
    functions of the count are then evaluated per row instead of once per count. The
    Hessian of row i is ``curv[i] * outer(d[i], d[i])`` plus ``upper[i]`` at the positions
    :data:`_UPPER` (symmetric), see :func:`bgnbd_score_information`; the terms every row
    shares (``r log alpha - gammaln(r)``) come once, in ``const``, to be added per row.

    Returns
    -------
    tuple
        ``grad`` (n x 4), ``upper`` (n x 6), ``curv`` (n), ``d`` (n x 4) and
        ``const = (grad_const (4), upper_const (6))``.

    Examples
    --------
    >>> grad, upper, curv, d, const = bgnbd_row_derivatives([0.5, 3.0, 0.8, 2.0], np.array([0., 2.]),
    ...                                              np.array([0., 5.]), np.array([10., 10.]))
    >>> grad.shape, upper.shape, curv.tolist()[0]
    ((2, 4), (2, 6), 0.0)
    """
    r, alpha = float(params[0]), float(params[1])
    a, b = (np.asarray(v, dtype=float) for v in params[2:])
    k = np.asarray(x).astype(np.intp)
    rep = x > 0
    bx = np.where(rep, b + x - 1, 1.0)
    l_big, l_rec = np.log(alpha + T), np.log(alpha + t_x)
    with np.errstate(divide="ignore"):
        v = np.where(rep, np.log(a) - np.log(bx) - (r + x) * (l_rec - l_big), -np.inf)   # v - u
    s = expit(v)
    big, rec = 1 / (alpha + T), 1 / (alpha + t_x)
    mix = (1 - s) * big + s * rec                        # d/d alpha of -(u or v) / (r + x)
    if a.ndim == 0 and b.ndim == 0:                      # one (a, b): tables by count
        psi_ab = by_count(lambda j: digamma(a + b) - digamma(a + b + j), k)
        psi_b = by_count(lambda j: digamma(b + j) - digamma(b) + digamma(a + b) - digamma(a + b + j), k)
        tri_ab = by_count(lambda j: polygamma(1, a + b) - polygamma(1, a + b + j), k)
        tri_b = by_count(lambda j: polygamma(1, b + j) - polygamma(1, b), k)
    else:
        psi_ab = digamma(a + b) - digamma(a + b + x)
        psi_b = digamma(b + x) - digamma(b) + psi_ab
        tri_ab, tri_b = polygamma(1, a + b) - polygamma(1, a + b + x), polygamma(1, b + x) - polygamma(1, b)
    one = np.ones(len(x))
    grad = np.column_stack([
        by_count(lambda j: digamma(r + j), k) - (1 - s) * l_big - s * l_rec,
        -(r + x) * mix, psi_ab + s / a, psi_b - s / bx])
    d = np.column_stack([l_big - l_rec, (r + x) * (big - rec), one / a, -1 / bx])
    upper = np.column_stack([
        by_count(lambda j: polygamma(1, r + j) - polygamma(1, r), k), -mix,
        (r + x) * ((1 - s) * big ** 2 + s * rec ** 2), tri_ab - s / a ** 2, tri_ab * one,
        tri_ab + tri_b + s / bx ** 2])
    const = (np.array([np.log(alpha) - digamma(r), r / alpha, 0.0, 0.0]),
             np.array([0.0, 1 / alpha, -r / alpha ** 2, 0.0, 0.0, 0.0]))
    return grad, upper, s * (1 - s), d, const


def purchases_given_alive(t: Any, shape: Any, scale: Any, a: Any, b: Any) -> np.ndarray:
    """``E_p[(1 - (scale / (scale + p t))^shape) / p]`` with ``p ~ Beta(a, b)``; broadcasts.

    The expected purchases in a period of length ``t`` of an alive customer whose purchase
    rate is ``Gamma(shape, scale)`` and drop-out probability ``Beta(a, b)`` (Fader, Hardie &
    Lee 2005, from ``E[X(t) | lambda, p] = (1 - exp(-lambda p t)) / p``). Closed form
    ``(a+b-1)/(a-1) * [1 - (scale/(scale+t))^shape * 2F1(shape, b; a+b-1; t/(scale+t))]``
    where it is well conditioned; where ``a + b - 1 <= 0.5`` (the 2F1 has a pole at
    ``a + b = 1``) or ``a`` is within 0.001 of 1 (0/0), 128-node Gauss-Jacobi quadrature of
    the integral over p instead (relative error below 1e-10).

    Examples
    --------
    >>> round(float(purchases_given_alive(39.0, 0.243, 4.414, 0.793, 2.426)), 4)
    1.1967
    >>> round(float(purchases_given_alive(39.0, 0.243, 4.414, 1.0, 2.426)), 4)   # quadrature branch
    1.0843
    """
    t, shape, scale, a, b = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (t, shape, scale, a, b)))
    c = a + b - 1
    closed = (c > 0.5) & (np.abs(a - 1) > 1e-3)
    out = np.empty(t.shape)
    tc, sh, sc, ac, bc, cc = (v[closed] for v in (t, shape, scale, a, b, c))
    out[closed] = cc / (ac - 1) * (1 - (sc / (sc + tc)) ** sh * hyp2f1(sh, bc, cc, tc / (sc + tc)))
    rest = ~closed
    if rest.any():
        pairs = np.unique(np.stack([a[rest], b[rest]], axis=1), axis=0)
        for a_k, b_k in pairs:  # one quadrature rule per distinct (a, b): a few, not one per row
            nodes, weights = roots_jacobi(_QUAD_NODES, b_k - 1, a_k - 1)
            p, w = (1 + nodes) / 2, weights / weights.sum()
            m = rest & (a == a_k) & (b == b_k)
            g = -np.expm1(-shape[m, None] * np.log1p(t[m, None] * p / scale[m, None])) / p
            out[m] = g @ w
    return out


def unconditional_expected_purchases(t: Any, params: Any) -> np.ndarray:
    """``E[X(t)]`` for a customer observed from her first purchase; broadcasts.

    ``(a+b-1)/(a-1) * [1 - (alpha/(alpha+t))^r * 2F1(r, b; a+b-1; t/(alpha+t))]``
    (Fader, Hardie & Lee 2005, eq. 9), via :func:`purchases_given_alive`.

    Examples
    --------
    >>> abs(float(unconditional_expected_purchases(0.0, (0.25, 4.0, 0.8, 2.5))))
    0.0
    """
    r, alpha, a, b = params
    return purchases_given_alive(t, r, alpha, a, b)


def alive_probability(x: Any, t_x: Any, T: Any, params: Any) -> np.ndarray:
    """P(alive at T | x, t_x, T) for parameters ``(r, alpha, a, b)``; broadcasts.

    Examples
    --------
    >>> alive_probability(np.array([0.0]), np.array([0.0]), np.array([5.0]), (1, 1, 1, 1)).tolist()
    [1.0]
    """
    r, alpha, a, b = params
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_ratio = (np.log(a) - np.log(np.maximum(b + x - 1, 1e-300))
                     + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x)))
        return np.where(x > 0, 1.0 / (1.0 + np.exp(np.minimum(log_ratio, 700.0))), 1.0)


def alive_purchases(t: Any, x: Any, T: Any, params: Any) -> np.ndarray:
    """``E[Y(t) | alive at T, x, T]``: expected purchases in ``(T, T + t]`` of a customer still alive.

    Given alive, the rate is ``Gamma(r+x, alpha+T)`` and the drop-out probability
    ``Beta(a, b+x)`` (:func:`purchases_given_alive`); recency does not enter, so customers
    with one ``(x, T)`` share the value. Arguments broadcast.

    Examples
    --------
    >>> round(float(alive_purchases(52.0, 2.0, 39.0, (0.243, 4.414, 0.793, 2.426))), 3)
    2.14
    """
    r, alpha, a, b = params
    x, T = np.asarray(x, dtype=float), np.asarray(T, dtype=float)
    return purchases_given_alive(t, r + x, alpha + T, a, b + x)


def conditional_expected_purchases(t: Any, x: Any, t_x: Any, T: Any, params: Any) -> np.ndarray:
    """``E[Y(t) | x, t_x, T]``: expected purchases in ``(T, T + t]``; arguments broadcast.

    ``(a+b+x-1)/(a-1) * [1 - ((alpha+T)/(alpha+T+t))^(r+x) * 2F1(r+x, b+x; a+b+x-1; t/(alpha+T+t))]
    * P(alive)`` (Fader, Hardie & Lee 2005, eq. 10): :func:`alive_purchases` times
    :func:`alive_probability`.

    Examples
    --------
    >>> abs(float(conditional_expected_purchases(0.0, 2.0, 10.0, 20.0, (0.25, 4.0, 0.8, 2.5))))
    0.0
    """
    return alive_purchases(t, x, T, params) * alive_probability(x, t_x, T, params)


class BetaGeoModel(PositiveMLEModel):
    """BG/NBD model fitted by maximum likelihood.

    Attributes (after :meth:`fit`)
    -------------------------------
    params_ : dict
        ``{"r", "alpha", "a", "b"}``.
    log_likelihood_ : float
        Maximised log-likelihood.
    result_ : MLEResult
        Estimates on the log scale and their covariance (for intervals and draws).

    Examples
    --------
    >>> x = np.array([0, 1, 2, 0, 3, 1, 0, 5, 2, 0] * 30)
    >>> t_x = np.where(x > 0, np.array([0, 10, 20, 0, 30, 5, 0, 35, 15, 0] * 30), 0.0)
    >>> bg = BetaGeoModel().fit(x, t_x, np.full(300, 39.0))
    >>> sorted(bg.params_)
    ['a', 'alpha', 'b', 'r']
    >>> bool(0 < bg.probability_alive(1, 10, 39)[0] < 1)
    True
    """

    name, param_names, usage = "BG/NBD", PARAMS, ".fit(frequency, recency, T)"
    alive = staticmethod(alive_probability)             # per-history pieces of predictive_clv
    alive_purchases = staticmethod(alive_purchases)

    def fit(self, frequency: Any, recency: Any, T: Any,
            initial: dict[str, float] | None = None) -> "BetaGeoModel":
        """Fit by maximum likelihood.

        Parameters
        ----------
        frequency, recency, T : array-like
            Per-customer repeat purchases, time of last purchase since the first, age
            (same time unit), e.g. the columns of :func:`slm_lib.clv.rfm.rfm_summary`.
        initial : dict, optional
            Starting values (default r=1, alpha=mean T, a=1, b=1).

        Returns
        -------
        BetaGeoModel
            ``self``, fitted.

        Raises
        ------
        DataValidationError
            Invalid inputs (negative or too large recency, non-integer frequency, ...).
        ModelFitError
            No repeat purchases at all, or the optimiser does not converge.
        """
        x, t_x, big_t = validate_rfm(frequency, recency, T)
        if not np.any(x > 0):
            raise ModelFitError("BG/NBD: no customer has a repeat purchase (frequency > 0), so the "
                                "drop-out process cannot be estimated; use a longer calibration period")
        init = {"r": 1.0, "alpha": float(np.mean(big_t)), "a": 1.0, "b": 1.0, **(initial or {})}
        rows, counts, _ = unique_rows(x, t_x, big_t)   # customers with one history count once, weighted
        weights = counts.astype(float)
        self.result_ = fit_positive_mle(
            lambda p: -weighted_sum(weights, bgnbd_loglik(p, *rows)), [init[k] for k in PARAMS], PARAMS, self.name,
            len(x), score_information=lambda p: bgnbd_score_information(p, *rows, weights),
            hint="check that recency and T use the same time unit, try another time unit "
                 "(weeks) or other starting values via initial={...}")
        return self

    def _p(self, params: dict[str, float] | None) -> tuple[float, float, float, float]:
        p = params if params is not None else self.params_
        return p["r"], p["alpha"], p["a"], p["b"]

    def expected_purchases(self, t: Any, frequency: Any = None, recency: Any = None, T: Any = None,
                           params: dict[str, float] | None = None) -> Any:
        """Expected number of purchases in a period of length ``t``.

        Without history: ``E[X(t)]`` for a new customer, from time 0 (float for scalar
        ``t``). With ``frequency, recency, T``: ``E[Y(t) | x, t_x, T]``, the expected
        purchases in ``(T, T + t]`` for each customer (array, or Series indexed like
        ``frequency``). ``params`` overrides the fitted parameters (used for intervals).

        Examples
        --------
        >>> bg = BetaGeoModel()
        >>> p = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
        >>> round(bg.expected_purchases(39.0, params=p), 3)
        1.197
        """
        r, alpha, a, b = self._p(params)
        if frequency is None:
            val = unconditional_expected_purchases(np.asarray(t, dtype=float), (r, alpha, a, b))
            return float(val) if val.ndim == 0 else val
        x, t_x, big_t = validate_rfm(frequency, recency, T)
        tt = as_array(t, "t") if np.ndim(t) else float(t)
        out = conditional_expected_purchases(tt, x, t_x, big_t, (r, alpha, a, b))
        return like_input(out, frequency, "expected_purchases")

    def probability_alive(self, frequency: Any, recency: Any, T: Any,
                          params: dict[str, float] | None = None) -> Any:
        """P(alive at T | x, t_x, T) = 1 / (1 + 1{x>0} a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)).

        Equals 1 when frequency is 0: in the BG/NBD a customer can drop out only right
        after a repeat purchase.

        Examples
        --------
        >>> bg = BetaGeoModel()
        >>> p = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
        >>> bg.probability_alive([0, 2], [0.0, 30.0], [39.0, 39.0], params=p).round(3).tolist()
        [1.0, 0.72]
        """
        x, t_x, big_t = validate_rfm(frequency, recency, T)
        return like_input(alive_probability(x, t_x, big_t, self._p(params)), frequency, "probability_alive")
