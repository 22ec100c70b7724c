"""Pareto/NBD model of repeat purchasing (Schmittlein, Morrison & Colombo 1987).

While alive, a customer buys as a Poisson process with rate ``lambda ~ Gamma(r, alpha)``;
her lifetime is exponential with rate ``mu ~ Gamma(s, beta)``. For ``x`` repeat purchases,
the last at ``t_x``, observed for ``T`` (Fader & Hardie 2005, "A note on deriving the
Pareto/NBD model and related expressions"):

``L = Gamma(r+x)/Gamma(r) alpha^r beta^s [ (alpha+T)^-(r+x) (beta+T)^-s + s/(r+s+x) A0 ]``

where ``A0 = (r+s+x) * integral_{t_x}^{T} (alpha+u)^-(r+x) (beta+u)^-(s+1) du`` ("alive
until some time in (t_x, T], no purchase after t_x"). In closed form, for ``alpha >= beta``
``A0 = F(alpha+t_x) - F(alpha+T)`` with ``F(y) = 2F1(r+s+x, s+1; r+s+x+1; (alpha-beta)/y) /
y^(r+s+x)``, and for ``beta > alpha`` the same with ``beta`` for ``alpha`` and ``r+x`` for
``s+1``: the branch keeps the 2F1 argument in ``[0, 1)``, where its series converges.
Euler's transformation takes the growth of the 2F1 out in closed form, leaving a
``2F1(1, b; c; z)`` evaluated by its continued fraction (:func:`hyp2f1_a1`; scipy's
``hyp2f1`` fails on some of these arguments), and both terms and their difference are
taken on the log scale (``log(e^u - e^v) = u +
log(-expm1(v - u))``), so customers with hundreds of purchases neither overflow nor lose
the difference. Derivatives are numerical (central differences of the likelihood of the
distinct rows: the 2F1 has no closed-form derivative in its parameters).

On the CDNOW sample (calibration to 1997-09-30, weeks) the fit gives the published
r = 0.553, alpha = 10.58, s = 0.606, beta = 11.67 (LL -9594.98).
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit, gammaln

from slm_lib.clv.compress import by_count, weighted_rows
from slm_lib.clv.repeat import RepeatPurchaseModel
from slm_lib.errors import ModelFitError

PARAMS = ("r", "alpha", "s", "beta")

#: Above this many distinct histories the fit starts from a fit on a coarse time grid.
COARSE_ROWS = 3000


def hyp2f1_a1(b: Any, c: Any, z: Any, max_terms: int = 20_000) -> np.ndarray:
    """``2F1(1, b; c; z)`` for ``c > b > 0`` and ``0 <= z < 1``, by Gauss's continued fraction.

    ``2F1(1, b; c; z) = 1 / (1 + k1 z / (1 + k2 z / (1 + ...)))`` with
    ``k(2n+1) = -(c-1+n)(b+n) / ((c-1+2n)(c+2n))`` and ``k(2n) = n(b-c+1-n) / ((c+2n-2)(c+2n-1))``,
    evaluated by the modified Lentz method until a step changes it by less than 1e-15
    (NaN if it has not after ``max_terms`` steps). ``scipy.special.hyp2f1`` returns NaN for
    many such arguments (e.g. ``2F1(1, 2; 105; 10/11)``, integer ``c - b``) and is off by up
    to 0.3% for others; this stays within 1e-12 of the series summed to convergence, and
    needs a dozen steps where ``z`` is small (CDNOW: ``z < 0.1``), a few hundred at
    ``z = 0.999``.

    Examples
    --------
    >>> round(float(hyp2f1_a1(2.0, 105.0, 10 / 11)), 9)
    1.017777353
    >>> bool(abs(hyp2f1_a1(1.0, 2.0, 0.5) - 2 * np.log(2)) < 1e-14)     # -log(1 - z) / z
    True
    """
    b, c, z = (np.array(v, dtype=float) for v in np.broadcast_arrays(b, c, z))
    out = np.full(b.size, np.nan)
    shape = b.shape
    rows = np.arange(b.size)                                  # rows still iterating
    b, c, z = b.ravel(), c.ravel(), z.ravel()
    f, big_c, big_d = np.ones(b.size), np.ones(b.size), np.zeros(b.size)
    for j in range(1, max_terms):
        n = j // 2
        if j == 1:                # -(c-1) b / ((c-1) c), simplified: no 0/0 at c = 1
            k = -b / c
        elif j % 2:
            k = -(c - 1 + n) * (b + n) / ((c - 1 + 2 * n) * (c + 2 * n))
        else:
            k = n * (b - c + 1 - n) / ((c + 2 * n - 2) * (c + 2 * n - 1))
        step = k * z
        big_d = 1 + step * big_d
        big_d = 1 / np.where(np.abs(big_d) < 1e-300, 1e-300, big_d)
        big_c = 1 + step / big_c
        big_c = np.where(np.abs(big_c) < 1e-300, 1e-300, big_c)
        delta = big_c * big_d
        f *= delta
        if j % 8 == 0:           # converged rows leave in batches: further steps only multiply by 1
            done = np.abs(delta - 1) <= 1e-15
            out[rows[done]] = 1 / f[done]
            keep = ~done
            rows, b, c, z, f, big_c, big_d = (v[keep] for v in (rows, b, c, z, f, big_c, big_d))
            if not rows.size:
                break
    return out.reshape(shape)


def _log_a0(params: Any, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """``log A0`` (module docstring); ``-inf`` where ``t_x == T``.

    ``2F1(m, q; m+1; z) = (1-z)^(1-q) 2F1(1, m+1-q; m+1; z)`` (Euler's transformation)
    puts the growth in ``(1-z)^(1-q)``, taken on the log scale; the remaining series has
    terms below ``z^k``, so it lies in ``[1, 1/(1-z))`` and cannot overflow however large
    the parameters or ``x``.
    """
    r, alpha, s, beta = params
    x, t_x, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, t_x, T)))
    shape = x.shape
    x, t_x, T = x.ravel(), t_x.ravel(), T.ravel()
    m = r + s + x
    (big, small), q = ((alpha, beta), s + 1) if alpha >= beta else ((beta, alpha), r + x)

    ends = np.concatenate([t_x, T])            # both ends in one continued-fraction pass
    mm, qq = np.tile(m, 2), np.tile(np.broadcast_to(q, m.shape), 2)
    log_big = np.log(big + ends)
    log_f = ((1 - qq) * (np.log(small + ends) - log_big) - mm * log_big
             + np.log(hyp2f1_a1(mm + 1 - qq, mm + 1, (big - small) / (big + ends))))
    upper, lower = log_f[:len(t_x)], log_f[len(t_x):]
    with np.errstate(divide="ignore"):
        return (upper + np.log(-np.expm1(np.minimum(lower - upper, 0.0)))).reshape(shape)


def _log_terms(params: Any, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Log of the "alive at T" and "died in (t_x, T]" terms of the bracket of L."""
    r, alpha, s, beta = params
    alive = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    died = np.log(s) - np.log(r + s + x) + _log_a0(params, x, t_x, T)
    return alive, died


def pareto_nbd_loglik(params: Any, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Per-customer Pareto/NBD log-likelihood.

    Parameters
    ----------
    params : array-like
        ``(r, alpha, s, beta)``, all positive.
    x, t_x, T : numpy.ndarray
        Repeat purchases, recency and age of each customer.

    Returns
    -------
    numpy.ndarray
        Log-likelihood contribution of each customer.

    Examples
    --------
    >>> one = np.array([1.0])      # all parameters 1, no purchase in T = 1: 1/2 * 1/2 + 1/2 * 3/4
    >>> round(float(np.exp(pareto_nbd_loglik([1.0, 1.0, 1.0, 1.0], 0 * one, 0 * one, one)[0])), 4)
    0.625
    """
    r, alpha, s, beta = params
    head = by_count(lambda j: gammaln(r + j), x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
    return head + np.logaddexp(*_log_terms(params, x, t_x, T))


def alive_probability(x: Any, t_x: Any, T: Any, params: Any) -> np.ndarray:
    """P(alive at T | x, t_x, T): the share of the likelihood from "alive at T"; broadcasts.

    Examples
    --------
    >>> p = (0.5534, 10.5802, 0.6061, 11.6562)      # BTYD walkthrough, p. 8: 0.9979
    >>> round(float(alive_probability(np.array([26.0]), np.array([30.86]), np.array([31.0]), p)[0]), 4)
    0.9979
    """
    x, t_x, T = np.broadcast_arrays(*(np.asarray(v, dtype=float) for v in (x, t_x, T)))
    alive, died = _log_terms(params, x, t_x, T)
    return expit(alive - died)


def _grow(k: float, y: Any) -> np.ndarray:
    """``(1 - exp(-k y)) / k``, and its limit ``y`` at ``k = 0``."""
    y = np.asarray(y, dtype=float)
    return y if abs(k) < 1e-12 else -np.expm1(-k * y) / k


def unconditional_expected_purchases(t: Any, params: Any) -> np.ndarray:
    """``E[X(t)] = r beta / (alpha (s-1)) [1 - (beta/(beta+t))^(s-1)]`` (``s = 1``: its limit).

    Examples
    --------
    >>> p = (0.55, 10.56, 0.61, 11.64)      # BTYD manual, pnbd.Expectation: 0.05077821
    >>> round(float(unconditional_expected_purchases(1.0, p)), 8)
    0.05077821
    """
    r, alpha, s, beta = params
    return r * beta / alpha * _grow(s - 1, np.log1p(np.asarray(t, dtype=float) / beta))


def alive_purchases(t: Any, x: Any, T: Any, params: Any) -> np.ndarray:
    """``E[Y(t) | alive at T, x, T]``: expected purchases in ``(T, T + t]`` of a customer still alive.

    Given alive, the purchase rate is ``Gamma(r+x, alpha+T)`` and the drop-out rate
    ``Gamma(s, beta+T)``: ``(r+x)(beta+T) / ((alpha+T)(s-1)) [1 - ((beta+T)/(beta+T+t))^(s-1)]``;
    recency does not enter. Arguments broadcast.

    Examples
    --------
    >>> round(float(alive_purchases(52.0, 26.0, 31.0, (0.5534, 10.5802, 0.6061, 11.6562))), 2)
    25.51
    """
    r, alpha, s, beta = params
    x, T = np.asarray(x, dtype=float), np.asarray(T, dtype=float)
    return (r + x) * (beta + T) / (alpha + T) * _grow(s - 1, np.log1p(np.asarray(t) / (beta + T)))


def conditional_expected_purchases(t: Any, x: Any, t_x: Any, T: Any, params: Any) -> np.ndarray:
    """``E[Y(t) | x, t_x, T]``: expected purchases in ``(T, T + t]``; broadcasts.

    :func:`alive_purchases` times :func:`alive_probability` (Fader, Hardie & Lee 2005).

    Examples
    --------
    >>> p = (0.5534, 10.5802, 0.6061, 11.6562)      # BTYD walkthrough: 25.46 from its fit
    >>> round(float(conditional_expected_purchases(52.0, 26.0, 30.86, 31.0, p)), 2)
    25.45
    """
    return alive_purchases(t, x, T, params) * alive_probability(x, t_x, T, params)


class ParetoNBDModel(RepeatPurchaseModel):
    """Pareto/NBD model fitted by maximum likelihood.

    Attributes (after :meth:`fit`)
    -------------------------------
    params_ : dict
        ``{"r", "alpha", "s", "beta"}``: purchase rate ``Gamma(r, alpha)``, drop-out rate
        ``Gamma(s, beta)``.
    log_likelihood_ : float
    summary : pandas.DataFrame
        parameter, estimate, std_error, ci_low, ci_high.

    Examples
    --------
    >>> pn = ParetoNBDModel.from_params({"r": 0.553, "alpha": 10.58, "s": 0.606, "beta": 11.67})
    >>> pn.probability_alive([0, 2, 2], [0.0, 30.43, 5.0], [38.86, 38.86, 38.86]).round(3).tolist()
    [0.295, 0.869, 0.13]
    >>> round(pn.expected_purchases(39.0), 3)      # a new customer, first 39 weeks
    1.213
    """

    name, param_names = "Pareto/NBD", PARAMS
    loglik = staticmethod(pareto_nbd_loglik)
    unconditional = staticmethod(unconditional_expected_purchases)
    conditional = staticmethod(conditional_expected_purchases)
    alive = staticmethod(alive_probability)
    alive_purchases = staticmethod(alive_purchases)

    @classmethod
    def start(cls, x: np.ndarray, t_x: np.ndarray, T: np.ndarray, counts: np.ndarray) -> dict[str, float]:
        """The fit to the histories on a coarse time grid, or r = s = 1, alpha = beta = mean age.

        The likelihood has no closed-form derivatives, so each Newton step costs 33
        evaluations on every distinct row. With more than :data:`COARSE_ROWS` of them,
        recency and T are first put on a grid of ``max(T) / 128`` (recency rounded, T
        rounded up: the order ``recency <= T`` and zero recencies are kept); the fit to
        those few rows starts the full fit a couple of Newton steps from its optimum.
        """
        scale = float(np.average(T, weights=counts))
        default = {"r": 1.0, "alpha": scale, "s": 1.0, "beta": scale}
        step = float(np.max(T)) / 128
        grid_tx, grid_t = np.round(t_x / step) * step, np.ceil(T / step) * step
        coarse, _ = weighted_rows(x, grid_tx, grid_t, weights=counts)
        if len(x) <= COARSE_ROWS or len(coarse[0]) > len(x) / 2:
            return default
        try:
            return cls().fit(x, grid_tx, grid_t, weights=counts, initial=default).params_
        except ModelFitError:
            return default
