"""Predictive CLV: BG/NBD purchases x Gamma-Gamma spend, discounted (SPEC §5).

The purchase model may also be a Pareto/NBD or MBG/NBD (:class:`slm_lib.clv.paretonbd.ParetoNBDModel`,
:class:`slm_lib.clv.mbgnbd.ModifiedBetaGeoModel`): each gives P(alive) and the purchases of a
customer alive at T, the two pieces used here.

For each customer, the horizon is cut into discount periods (a month by default, the
``lifetimes`` convention); the expected purchases in period k,
``E[Y(t_k)] - E[Y(t_{k-1})]`` from the BG/NBD conditional expectation, are valued at the
Gamma-Gamma expected spend and discounted by ``(1 + discount_rate)^k``. The purchases of an
alive customer depend on her ``(x, T)`` only and her probability of being alive on
``(x, t_x, T)``, so both are computed once per distinct value (a few thousand for a
million customers whose times are in days) and looked up for each customer.

Interval: the delta method on the log scale. ``log CLV = log(discounted purchases) +
log(spend)``; the first depends on the BG/NBD parameters, the second on the Gamma-Gamma
ones, fitted separately, so ``Var(log CLV)`` is the sum of the two variances, each
``grad' cov grad`` with the observed-information covariance of the log-scale estimates
(:meth:`slm_lib.clv.mle.MLEResult.delta_method`). ``ci_low``/``ci_high`` are
``CLV * exp(-/+ z se)`` at :data:`slm_lib.config.CONFIDENCE`, asymmetric and positive like
the parameter intervals. On CDNOW they agree with the quantiles of a parametric bootstrap
(2,000 parameter draws from the same asymptotic normal, CLV recomputed for each): the bounds
differ by less than 1.3% of the CLV for 95% of customers and by 3.8% at most
(``tests/test_gammagamma.py``), where the bootstrap took 20 s and the delta method 0.03 s.
The interval covers parameter uncertainty (how well the population is known), not the
Poisson noise of one customer's future purchases.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd

from slm_lib.clv.bgnbd import BetaGeoModel
from slm_lib.clv.gammagamma import GammaGammaModel, conditional_expected_spend
from slm_lib.clv.compress import unique_rows, weighted_sum
from slm_lib.clv.rfm import TIME_UNITS, unit_days, validate_rfm
from slm_lib.config import CONFIDENCE, DEFAULT_MIN_N
from slm_lib.errors import DataValidationError
from slm_lib.stats import normal_interval


def predictive_clv(bg: BetaGeoModel, gg: GammaGammaModel, frequency: Any, recency: Any, T: Any,
                   monetary_value: Any, horizon: float = 52, discount_rate: float = 0.01,
                   time_unit: str = "W", discount_period: str = "M", interval: bool = True) -> pd.DataFrame:
    """Expected discounted customer value over a horizon, with a 95% interval.

    Parameters
    ----------
    bg : BetaGeoModel, ParetoNBDModel or ModifiedBetaGeoModel
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
    interval : bool, default True
        Compute ``ci_low``/``ci_high`` (delta method, parameter uncertainty); False leaves
        them NaN.

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
    >>> out = predictive_clv(bg, gg, [0, 2], [0.0, 30.0], [39.0, 39.0], [0.0, 30.0])
    >>> out["clv"].round(1).tolist()
    [8.3, 44.9]
    >>> bool((out["ci_low"] < out["clv"]).all() and (out["clv"] < out["ci_high"]).all())
    True
    """
    x, t_x, big_t = validate_rfm(frequency, recency, T)
    row, purchases = _discounted_purchases(bg, x, t_x, big_t, horizon, discount_rate, time_unit, discount_period)
    spend = np.asarray(gg.expected_spend(frequency, monetary_value), dtype=float)
    alive, total, discounted = purchases(_bg_params(bg))
    clv = discounted[row] * spend
    lo = hi = np.full(len(x), np.nan)
    if interval:
        zbar = np.asarray(monetary_value, dtype=float)
        _, var_purchases = bg.result_.delta_method(lambda p: np.log(purchases(p)[2]))
        _, var_spend = gg.result_.delta_method(lambda p: np.log(conditional_expected_spend(x, zbar, p)))
        lo, hi = np.exp(normal_interval(np.log(clv), np.sqrt(var_purchases[row] + var_spend), CONFIDENCE))
    index = frequency.index if isinstance(frequency, pd.Series) else pd.RangeIndex(len(x))
    return pd.DataFrame({
        "probability_alive": alive[row], "expected_purchases": total[row],
        "expected_spend": spend, "clv": clv, "ci_low": lo, "ci_high": hi,
    }, index=index)


def _bg_params(bg: BetaGeoModel) -> np.ndarray:
    return np.array([bg.params_[k] for k in bg.param_names])


def _discounted_purchases(bg: BetaGeoModel, x: np.ndarray, t_x: np.ndarray, big_t: np.ndarray, horizon: float,
                          discount_rate: float, time_unit: str,
                          discount_period: str) -> tuple[np.ndarray, Callable]:
    """Each customer's distinct history and ``params -> (P(alive), purchases, discounted purchases)`` per history.

    ``bg`` is any purchase model with ``alive(x, t_x, T, params)`` and ``alive_purchases(t,
    x, T, params)`` (BG/NBD, Pareto/NBD, MBG/NBD): purchases of an alive customer depend on
    ``(x, T)`` only.
    """
    alive_probability, alive_purchases = type(bg).alive, type(bg).alive_purchases
    if horizon <= 0:
        raise DataValidationError(f"horizon: must be > 0, got {horizon}")
    if discount_rate < 0:
        raise DataValidationError(f"discount_rate: must be >= 0, got {discount_rate}")
    if discount_period not in TIME_UNITS:
        raise DataValidationError(f"discount_period: {discount_period!r} is not one of {sorted(TIME_UNITS)}")
    step = unit_days(discount_period) / unit_days(time_unit)
    edges = np.minimum(np.arange(0, int(np.ceil(horizon / step - 1e-9)) + 1) * step, horizon)
    factor = (1.0 + discount_rate) ** -np.arange(1, len(edges))
    (ux, ut_x, u_t), _, row = unique_rows(x, t_x, big_t)      # distinct histories
    (px, p_t), _, pair = unique_rows(ux, u_t)                   # distinct (x, T) among them

    def purchases(params: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per distinct history: P(alive), expected purchases in the horizon, discounted ones."""
        alive = alive_probability(ux, ut_x, u_t, params)
        cum = alive_purchases(edges[:, None], px, p_t, params)     # edges x distinct (x, T)
        return alive, alive * cum[-1][pair], alive * weighted_sum(factor, np.diff(cum, axis=0))[pair]

    return row, purchases


def clv_by_segment(bg: BetaGeoModel, gg: GammaGammaModel, frequency: Any, recency: Any, T: Any,
                   monetary_value: Any, segment: Any, horizon: float = 52, discount_rate: float = 0.01,
                   time_unit: str = "W", discount_period: str = "M", min_n: int = DEFAULT_MIN_N) -> pd.DataFrame:
    """Discounted CLV summed and averaged by segment, with 95% intervals (parameter uncertainty).

    The same CLV as :func:`predictive_clv`; a segment's total ``S = sum_i D_i(bg) M_i(gg)``
    (discounted purchases times expected spend) gets its interval by the delta method on
    ``log S`` with the gradient of the **sum** (customers share the parameters, so their
    intervals cannot be added): ``Var log S = Var_bg + Var_gg``, the two models being fitted
    separately. The mean per customer is ``S / n`` with the same relative interval.

    Parameters
    ----------
    bg, gg, frequency, recency, T, monetary_value, horizon, discount_rate, time_unit, discount_period
        As :func:`predictive_clv`.
    segment : array-like
        Each customer's segment (e.g. ``features["segment"]``); customers without one are left out.
    min_n : int, default 30
        Segments with fewer customers are flagged ``small_n``.

    Returns
    -------
    pandas.DataFrame
        ``segment, n, total_clv, total_low, total_high, mean_clv, mean_low, mean_high,
        probability_alive`` (mean), ``small_n``, one row per segment (sorted), then ``all``.

    Examples
    --------
    >>> bg = BetaGeoModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}, np.eye(4) * 1e-4)
    >>> gg = GammaGammaModel.from_params({"p": 6.25, "q": 3.74, "gamma": 15.44}, np.eye(3) * 1e-4)
    >>> out = clv_by_segment(bg, gg, [0, 2, 1], [0.0, 30.0, 5.0], [39.0, 39.0, 39.0], [0.0, 30.0, 20.0],
    ...                      ["a", "b", "b"])
    >>> out[["segment", "n", "total_clv"]].round(1).values.tolist()
    [['a', 1, 8.3], ['b', 2, 53.8], ['all', 3, 62.1]]
    """
    x, t_x, big_t = validate_rfm(frequency, recency, T)
    seg = pd.Series(np.asarray(segment, dtype=object))
    if len(seg) != len(x):
        raise DataValidationError(f"segment: need one value per customer ({len(x):,}), got {len(seg):,}")
    row, purchases = _discounted_purchases(bg, x, t_x, big_t, horizon, discount_rate, time_unit, discount_period)
    codes, labels = pd.factorize(seg, sort=True)
    keep = codes >= 0
    groups = np.r_[codes[keep], np.full(keep.sum(), len(labels))]   # each segment, then everyone
    take = np.r_[np.flatnonzero(keep), np.flatnonzero(keep)]
    spend = np.asarray(gg.expected_spend(frequency, monetary_value), dtype=float)
    zbar = np.asarray(monetary_value, dtype=float)

    def totals(discounted: np.ndarray, per_purchase: np.ndarray) -> np.ndarray:
        return np.bincount(groups, weights=(discounted[row] * per_purchase)[take], minlength=len(labels) + 1)

    alive, _, discounted = purchases(_bg_params(bg))
    total = totals(discounted, spend)
    _, var_bg = bg.result_.delta_method(lambda p: np.log(totals(purchases(p)[2], spend)))
    _, var_gg = gg.result_.delta_method(lambda p: np.log(totals(discounted, conditional_expected_spend(x, zbar, p))))
    lo, hi = np.exp(normal_interval(np.log(total), np.sqrt(var_bg + var_gg), CONFIDENCE))
    n = np.bincount(groups, minlength=len(labels) + 1)
    alive_mean = np.bincount(groups, weights=alive[row][take], minlength=len(labels) + 1) / n
    return pd.DataFrame({
        "segment": [*map(str, labels), "all"], "n": n, "total_clv": total, "total_low": lo, "total_high": hi,
        "mean_clv": total / n, "mean_low": lo / n, "mean_high": hi / n, "probability_alive": alive_mean,
        "small_n": n < min_n})
