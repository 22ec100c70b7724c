"""MBG/NBD model of repeat purchasing (Batislam, Denizel & Filiztekin 2007).

The BG/NBD with one change: a customer may also drop out right at her first purchase, so a
customer without repeat purchases is not certainly alive. Purchases while alive are Poisson
with rate ``lambda ~ Gamma(r, alpha)``; at time 0 and after each purchase she drops out
with probability ``p ~ Beta(a, b)``:

``L = B(a, b+x+1)/B(a, b) * Gamma(r+x)/Gamma(r) * alpha^r
      * [ (alpha+T)^-(r+x) + a/(b+x) * (alpha+t_x)^-(r+x) ]``

which is the BG/NBD likelihood at ``b + 1`` (:func:`slm_lib.clv.bgnbd.bgnbd_loglik`) plus
``log(b/(a+b))`` (alive after the first purchase) plus, for ``x = 0``, the term of dropping
out at time 0, ``log(1 + a/b ((alpha+T)/alpha)^r)``. The score and observed information
follow the same way from :func:`slm_lib.clv.bgnbd.bgnbd_score_information`, in closed form.
On the CDNOW sample (weeks, calibration to 1997-09-30) the fit gives r = 0.525,
alpha = 6.183, a = 0.891, b = 1.614, the BTYDplus estimates.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import expit

from slm_lib.clv.bgnbd import bgnbd_loglik, bgnbd_score_information, purchases_given_alive
from slm_lib.clv.compress import weighted_sum
from slm_lib.clv.repeat import RepeatPurchaseModel

PARAMS = ("r", "alpha", "a", "b")


def _drop_at_start(params: Any, T: np.ndarray) -> np.ndarray:
    """``log(a/b) + r log((alpha+T)/alpha)``: log odds of "dropped at time 0" for ``x = 0``."""
    r, alpha, a, b = params
    return np.log(a / b) + r * (np.log(alpha + T) - np.log(alpha))


def mbgnbd_loglik(params: Any, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Per-customer MBG/NBD log-likelihood.

    Examples
    --------
    >>> z = np.array([0.0])       # all parameters 1, no purchase in T = 1: 1/2 * (1/2 + 1)
    >>> round(float(np.exp(mbgnbd_loglik([1.0, 1.0, 1.0, 1.0], z, z, z + 1)[0])), 4)
    0.75
    """
    r, alpha, a, b = params
    start = np.where(x == 0, np.logaddexp(0.0, _drop_at_start(params, T)), 0.0)
    return bgnbd_loglik((r, alpha, a, b + 1), x, t_x, T) + np.log(b) - np.log(a + b) + start


def mbgnbd_score_information(params: Any, x: np.ndarray, t_x: np.ndarray, T: np.ndarray,
                             weights: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Gradient and minus the Hessian of the weighted MBG/NBD log-likelihood, natural scale.

    The BG/NBD ones at ``b + 1``, plus those of ``log b - log(a+b)`` and, for ``x = 0``, of
    ``softplus(v)`` with ``v = log(a/b) + r log((alpha+T)/alpha)``: ``sigma v'`` and
    ``sigma v'' + sigma (1-sigma) v' v''`` with ``sigma = expit(v)``.

    Examples
    --------
    >>> x, tx, T = np.array([0., 2.]), np.array([0., 5.]), np.array([10., 10.])
    >>> score, info = mbgnbd_score_information([0.5, 3.0, 0.8, 2.0], x, tx, T)
    >>> bool(np.allclose(info, info.T))
    True
    """
    r, alpha, a, b = (float(v) for v in params)
    w = np.ones(len(x)) if weights is None else np.asarray(weights, dtype=float)
    score, info = bgnbd_score_information((r, alpha, a, b + 1), x, t_x, T, w)
    n, c = w.sum(), 1 / (a + b) ** 2
    score = score + n * np.array([0.0, 0.0, -1 / (a + b), 1 / b - 1 / (a + b)])
    hess = n * np.array([[0, 0, 0, 0], [0, 0, 0, 0], [0, 0, c, c], [0, 0, c, c - 1 / b ** 2]])
    zero = x == 0
    if zero.any():
        w0, big = w[zero], T[zero]
        sig = expit(_drop_at_start((r, alpha, a, b), big))
        lg, inv = np.log(alpha + big) - np.log(alpha), 1 / (alpha + big) - 1 / alpha
        d = np.column_stack([lg, r * inv, np.full(len(big), 1 / a), np.full(len(big), -1 / b)])
        score = score + weighted_sum(w0 * sig, d)
        hess = hess + np.einsum("i,ij,ik->jk", w0 * sig * (1 - sig), d, d)
        r_alpha = weighted_sum(w0 * sig, inv)
        hess[0, 1] += r_alpha
        hess[1, 0] += r_alpha
        hess[1, 1] += weighted_sum(w0 * sig, r * (1 / alpha ** 2 - 1 / (alpha + big) ** 2))
        hess[2, 2] -= w0 @ sig / a ** 2
        hess[3, 3] += w0 @ sig / b ** 2
    return score, info - hess


def alive_probability(x: Any, t_x: Any, T: Any, params: Any) -> np.ndarray:
    """P(alive at T | x, t_x, T) = 1 / (1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x)); broadcasts.

    Below 1 also for ``x = 0`` (she may have dropped out at her first purchase).

    Examples
    --------
    >>> p = (0.525, 6.183, 0.891, 1.614)
    >>> alive_probability(np.array([0.0, 2.0]), np.array([0.0, 30.43]), np.array([38.86, 38.86]), p).round(3).tolist()
    [0.39, 0.706]
    """
    r, alpha, a, b = params
    x, t_x, T = (np.asarray(v, dtype=float) for v in (x, t_x, T))
    return expit(-(np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))))


def unconditional_expected_purchases(t: Any, params: Any) -> np.ndarray:
    """``E[X(t)] = b/(a-1) [1 - (alpha/(alpha+t))^r 2F1(r, b+1; a+b; t/(alpha+t))]``; broadcasts.

    Alive after the first purchase with probability ``b/(a+b)``, then a BG/NBD customer
    with ``p ~ Beta(a, b+1)`` (:func:`slm_lib.clv.bgnbd.purchases_given_alive`).

    Examples
    --------
    >>> p = (0.525, 6.183, 0.891, 1.614)
    >>> round(float(unconditional_expected_purchases(1.0, p)), 4)
    0.0531
    """
    r, alpha, a, b = params
    return b / (a + b) * purchases_given_alive(t, r, alpha, a, b + 1)


def alive_purchases(t: Any, x: Any, T: Any, params: Any) -> np.ndarray:
    """``E[Y(t) | alive at T, x, T]``: expected purchases in ``(T, T + t]`` of a customer still alive.

    Given alive, the rate is ``Gamma(r+x, alpha+T)`` and the drop-out probability
    ``Beta(a, b+x+1)`` (:func:`slm_lib.clv.bgnbd.purchases_given_alive`); recency does not
    enter. Arguments broadcast.

    Examples
    --------
    >>> round(float(alive_purchases(39.0, 2.0, 38.86, (0.525, 6.183, 0.891, 1.614))), 3)
    1.788
    """
    r, alpha, a, b = params
    x, T = np.asarray(x, dtype=float), np.asarray(T, dtype=float)
    return purchases_given_alive(t, r + x, alpha + T, a, b + x + 1)


def conditional_expected_purchases(t: Any, x: Any, t_x: Any, T: Any, params: Any) -> np.ndarray:
    """``E[Y(t) | x, t_x, T]``: expected purchases in ``(T, T + t]``; broadcasts.

    ``(a+b+x)/(a-1) [1 - ((alpha+T)/(alpha+T+t))^(r+x) 2F1(r+x, b+x+1; a+b+x; t/(alpha+T+t))]
    * P(alive)``: :func:`alive_purchases` times :func:`alive_probability`.

    Examples
    --------
    >>> p = (0.525, 6.183, 0.891, 1.614)
    >>> round(float(conditional_expected_purchases(39.0, 2.0, 30.43, 38.86, p)), 3)
    1.263
    """
    return alive_purchases(t, x, T, params) * alive_probability(x, t_x, T, params)


class ModifiedBetaGeoModel(RepeatPurchaseModel):
    """MBG/NBD model fitted by maximum likelihood (closed-form score and information).

    Attributes (after :meth:`fit`)
    -------------------------------
    params_ : dict
        ``{"r", "alpha", "a", "b"}``.
    log_likelihood_ : float
    summary : pandas.DataFrame
        parameter, estimate, std_error, ci_low, ci_high.

    Examples
    --------
    >>> mbg = ModifiedBetaGeoModel.from_params({"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614})
    >>> round(mbg.expected_purchases(78.0), 3)      # a new customer, first 78 weeks
    1.805
    >>> mbg.probability_alive([0, 2], [0.0, 30.43], [38.86, 38.86]).round(3).tolist()
    [0.39, 0.706]
    """

    name, param_names = "MBG/NBD", PARAMS
    loglik = staticmethod(mbgnbd_loglik)
    score_information = staticmethod(mbgnbd_score_information)
    unconditional = staticmethod(unconditional_expected_purchases)
    conditional = staticmethod(conditional_expected_purchases)
    alive = staticmethod(alive_probability)
    alive_purchases = staticmethod(alive_purchases)

    @staticmethod
    def start(x: np.ndarray, t_x: np.ndarray, T: np.ndarray, counts: np.ndarray) -> dict[str, float]:
        """r = a = b = 1 and alpha the mean age, as for the BG/NBD."""
        return {"r": 1.0, "alpha": float(np.average(T, weights=counts)), "a": 1.0, "b": 1.0}
