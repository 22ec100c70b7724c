"""Gamma-Gamma model of spend per transaction (Fader & Hardie 2013, "The Gamma-Gamma model of monetary value").

Each transaction value of a customer is ``Gamma(p, nu)``; across customers
``nu ~ Gamma(q, gamma)``. For a customer with ``x`` repeat purchases of mean value
``zbar`` the likelihood of ``zbar`` is

``f(zbar) = Gamma(px+q) / (Gamma(px) Gamma(q)) * gamma^q * x^(px) * zbar^(px-1) / (gamma + x zbar)^(px+q)``

and the expected spend per transaction given the history is
``(gamma + x zbar) p / (p x + q - 1)``. Only customers with ``x > 0`` carry information;
the fit uses them alone. On the CDNOW sample (946 repeat customers, mean repeat-day value
from the raw purchases or the published summary's ``zbar``) it gives the published
p = 6.25, q = 3.74, gamma = 15.44.
"""
from __future__ import annotations

from typing import Any

import numpy as np
from scipy.special import gammaln

from slm_lib.clv.mle import PositiveMLEModel, fit_positive_mle
from slm_lib.clv.rfm import as_array, like_input
from slm_lib.errors import DataValidationError, InsufficientDataError, ModelFitError

PARAMS = ("p", "q", "gamma")


def gammagamma_loglik(params: np.ndarray, x: np.ndarray, zbar: np.ndarray) -> np.ndarray:
    """Per-customer Gamma-Gamma log-likelihood of the mean spend ``zbar`` (``x > 0``).

    Examples
    --------
    >>> round(float(gammagamma_loglik([1.0, 2.0, 1.0], np.array([1.0]), np.array([1.0]))[0]), 4)
    -1.3863
    """
    p, q, g = params
    px = p * x
    return (gammaln(px + q) - gammaln(px) - gammaln(q) + q * np.log(g)
            + (px - 1) * np.log(zbar) + px * np.log(x) - (px + q) * np.log(g + x * zbar))


def _validate(frequency: Any, monetary_value: Any) -> tuple[np.ndarray, np.ndarray]:
    x, m = as_array(frequency, "frequency"), as_array(monetary_value, "monetary_value")
    if len(x) != len(m):
        raise DataValidationError(f"frequency, monetary_value: lengths differ ({len(x)}, {len(m)})")
    for name, mask, rule in (("frequency", (x < 0) | (x != np.round(x)), "must be a non-negative integer"),
                             ("monetary_value", (x > 0) & (m <= 0), "must be > 0 where frequency > 0")):
        if mask.any():
            raise DataValidationError(f"{name}: {rule}: {int(mask.sum())} value(s) "
                                      f"(e.g. positions {np.flatnonzero(mask)[:5].tolist()})")
    return x, m


class GammaGammaModel(PositiveMLEModel):
    """Gamma-Gamma spend model fitted by maximum likelihood on repeat customers.

    Attributes (after :meth:`fit`)
    -------------------------------
    params_ : dict
        ``{"p", "q", "gamma"}``.
    log_likelihood_ : float
        Maximised log-likelihood (customers with frequency > 0).
    result_ : MLEResult

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> x = rng.integers(1, 6, 400)
    >>> zbar = rng.gamma(6.0 * x, 1.0 / rng.gamma(4.0, 1.0 / 15.0, 400)) / x
    >>> gg = GammaGammaModel().fit(x, zbar)
    >>> sorted(gg.params_)
    ['gamma', 'p', 'q']
    """

    name, param_names, usage = "Gamma-Gamma", PARAMS, ".fit(frequency, monetary_value)"

    def fit(self, frequency: Any, monetary_value: Any,
            initial: dict[str, float] | None = None) -> "GammaGammaModel":
        """Fit on the customers with ``frequency > 0`` (the others are ignored).

        Parameters
        ----------
        frequency : array-like
            Repeat purchases per customer.
        monetary_value : array-like
            Mean value of the repeat purchases (positive where frequency > 0).
        initial : dict, optional
            Starting values (default p=1, q=1, gamma=1).

        Raises
        ------
        DataValidationError
            Negative or non-integer frequency, non-positive spend of a repeat customer.
        InsufficientDataError
            Fewer than 10 repeat customers.
        ModelFitError
            The optimiser does not converge.
        """
        x, m = _validate(frequency, monetary_value)
        keep = x > 0
        if keep.sum() < 10:
            raise InsufficientDataError(f"Gamma-Gamma: {int(keep.sum())} customer(s) with frequency > 0; "
                                        "at least 10 repeat customers are needed")
        x, m = x[keep], m[keep]
        init = {"p": 1.0, "q": 1.0, "gamma": 1.0, **(initial or {})}
        self.result_ = fit_positive_mle(
            lambda p: -np.sum(gammagamma_loglik(p, x, m)), [init[k] for k in PARAMS], PARAMS,
            self.name, len(x),
            hint="spend may be nearly constant across customers (q runs off); rescale amounts "
                 "(e.g. to hundreds) or pass other starting values via initial={...}")
        return self

    def expected_spend(self, frequency: Any, monetary_value: Any,
                       params: dict[str, float] | None = None) -> Any:
        """Expected value of a future transaction given each customer's history.

        ``(gamma + x zbar) p / (p x + q - 1)``; for ``x = 0`` this is the population mean
        ``p gamma / (q - 1)`` (requires ``q > 1``).

        Examples
        --------
        >>> gg = GammaGammaModel()
        >>> p = {"p": 6.25, "q": 3.74, "gamma": 15.44}
        >>> gg.expected_spend([0, 2], [0.0, 30.0], params=p).round(2).tolist()
        [35.22, 30.94]
        """
        x, m = _validate(frequency, monetary_value)
        pr = params if params is not None else self.params_
        p, q, g = pr["p"], pr["q"], pr["gamma"]
        if q <= 1:
            raise ModelFitError(f"Gamma-Gamma: q = {q:.3g} <= 1, so the mean spend is infinite; "
                                "the model does not suit these amounts")
        zbar = np.where(x > 0, m, 0.0)
        return like_input((g + x * zbar) * p / (p * x + q - 1), frequency, "expected_spend")
