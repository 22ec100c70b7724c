"""Predictive CLV: BG/NBD purchases x Gamma-Gamma spend, discounted (SPEC §5).

For each customer, the horizon is cut into discount periods (a month by default, the
``lifetimes`` convention); the expected purchases in period k,
``E[Y(t_k)] - E[Y(t_{k-1})]`` from the BG/NBD conditional expectation, are valued at the
Gamma-Gamma expected spend and discounted by ``(1 + discount_rate)^k``.

Interval: a seeded parametric bootstrap. Parameter vectors of both models are drawn from
the asymptotic normal of their log-scale maximum-likelihood estimates (observed
information, :meth:`slm_lib.clv.mle.MLEResult.draw`) and the CLV is recomputed for every
draw; ``ci_low``/``ci_high`` are the central :data:`slm_lib.config.CONFIDENCE` quantiles.
The interval covers parameter uncertainty (how well the population is known), not the
Poisson noise of one customer's future purchases.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from slm_lib.clv.bgnbd import BetaGeoModel, alive_probability, conditional_expected_purchases
from slm_lib.clv.gammagamma import GammaGammaModel
from slm_lib.clv.rfm import TIME_UNITS, unit_days, validate_rfm
from slm_lib.config import CONFIDENCE
from slm_lib.errors import DataValidationError


def _discounted_purchases(x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray, bg_params: Any,
                          edges: np.ndarray, discount_rate: float) -> tuple[np.ndarray, np.ndarray]:
    """Undiscounted and discounted expected purchases in the horizon, per customer."""
    cum = conditional_expected_purchases(edges[:, None], x[None, :], t_x[None, :], big_t[None, :], bg_params)
    steps = np.diff(cum, axis=0)                       # periods x customers
    factor = (1.0 + discount_rate) ** -np.arange(1, len(edges))[:, None]
    return cum[-1], np.sum(steps * factor, axis=0)


def predictive_clv(bg: BetaGeoModel, gg: GammaGammaModel, frequency: Any, recency: Any, T: Any,
                   monetary_value: Any, horizon: float = 52, discount_rate: float = 0.01,
                   time_unit: str = "W", discount_period: str = "M", n_draws: int = 200,
                   seed: int = 0) -> pd.DataFrame:
    """Expected discounted customer value over a horizon, with a bootstrap interval.

    Parameters
    ----------
    bg : BetaGeoModel
        Fitted purchase model.
    gg : GammaGammaModel
        Fitted spend model.
    frequency, recency, T, monetary_value : array-like
        Per-customer summary (:func:`slm_lib.clv.rfm.rfm_summary`), in ``time_unit``.
    horizon : float, default 52
        Length of the forecast in ``time_unit`` (52 weeks).
    discount_rate : float, default 0.01
        Discount rate per ``discount_period`` (1% a month).
    time_unit : str, default "W"
        Unit of recency, T and horizon.
    discount_period : str, default "M"
        Length of one discounting step (``"D"``, ``"W"``, ``"M"``, ``"Y"``).
    n_draws : int, default 200
        Parametric-bootstrap draws for the interval (0: no interval, columns are NaN).
    seed : int, default 0
        Seed of the draws.

    Returns
    -------
    pandas.DataFrame
        One row per customer (index of ``frequency`` when it is a Series):
        ``probability_alive, expected_purchases`` (undiscounted, in the horizon),
        ``expected_spend`` (per purchase), ``clv``, ``ci_low``, ``ci_high``.

    Examples
    --------
    >>> bg = BetaGeoModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, np.eye(4) * 1e-4)
    >>> gg = GammaGammaModel.from_params({"p": 6.25, "q": 3.74, "gamma": 15.44}, np.eye(3) * 1e-4)
    >>> out = predictive_clv(bg, gg, [0, 2], [0.0, 30.0], [39.0, 39.0], [0.0, 30.0], n_draws=50)
    >>> out["clv"].round(1).tolist()
    [8.3, 44.9]
    """
    x, t_x, big_t = validate_rfm(frequency, recency, T)
    if horizon <= 0:
        raise DataValidationError(f"horizon: must be > 0, got {horizon}")
    if discount_rate < 0:
        raise DataValidationError(f"discount_rate: must be >= 0, got {discount_rate}")
    if discount_period not in TIME_UNITS:
        raise DataValidationError(f"discount_period: {discount_period!r} is not one of {sorted(TIME_UNITS)}")
    step = unit_days(discount_period) / unit_days(time_unit)
    edges = np.minimum(np.arange(0, int(np.ceil(horizon / step - 1e-9)) + 1) * step, horizon)
    spend = np.asarray(gg.expected_spend(frequency, monetary_value), dtype=float)
    bgp = tuple(bg.params_[k] for k in ("r", "alpha", "a", "b"))
    purchases, discounted = _discounted_purchases(x, t_x, big_t, bgp, edges, discount_rate)
    clv = discounted * spend
    lo = hi = np.full(len(x), np.nan)
    if n_draws > 0:
        bg_draws = bg.result_.draw(n_draws, seed)
        gg_draws = gg.result_.draw(n_draws, np.random.default_rng(seed).integers(2**32))
        zbar = np.where(x > 0, np.asarray(monetary_value, dtype=float), 0.0)
        sims = np.empty((n_draws, len(x)))
        for i in range(n_draws):  # loop over bootstrap draws; each draw is vectorised over customers
            p, q, g = gg_draws[i]
            draw_spend = (g + x * zbar) * p / (p * x + q - 1) if q > 1 else np.nan
            sims[i] = _discounted_purchases(x, t_x, big_t, bg_draws[i], edges, discount_rate)[1] * draw_spend
        lo, hi = np.nanquantile(sims, [0.5 - CONFIDENCE / 2, 0.5 + CONFIDENCE / 2], axis=0)
    index = frequency.index if isinstance(frequency, pd.Series) else pd.RangeIndex(len(x))
    return pd.DataFrame({
        "probability_alive": alive_probability(x, t_x, big_t, bgp),
        "expected_purchases": purchases, "expected_spend": spend,
        "clv": clv, "ci_low": lo, "ci_high": hi,
    }, index=index)
