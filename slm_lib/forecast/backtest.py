"""Rolling-origin backtest of the volume forecast against the seasonal naive rule.

At each origin the model is fitted to the history before it and forecasts the next
``horizon`` periods, which the history holds: the test windows are the last ``horizon``
periods, the ``horizon`` before them, and so on (non-overlapping), each training window
keeping at least the minimum history. Scores per origin (Hyndman & Koehler 2006, "Another
look at measures of forecast accuracy"):

* MASE: the mean absolute error over the window divided by the in-sample mean absolute
  error of the seasonal naive rule on the training window. Model and baseline share the
  denominator, so the model beats the baseline exactly when its MASE is lower.
* coverage: the share of actual counts inside the model's 80% and 95% intervals.

Across origins each score is a mean with its t interval (origins are the independent
units: errors within one window are correlated), and the model-minus-baseline MASE is a
paired difference.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from slm_lib.forecast.model import LEVELS, fit_predict, naive_scale, seasonal_naive
from slm_lib.periods import period_labels
from slm_lib.stats import mean_t_interval

#: Per-origin score columns of :func:`backtest_origins`.
SCORES: tuple[str, ...] = ("mase_model", "mase_baseline", *(f"coverage_{level}" for level in LEVELS))


def origin_lengths(n_periods: int, horizon: int, min_train: int, max_origins: int) -> list[int]:
    """Training lengths of the rolling origins, oldest first: ``n - k * horizon`` for k = K..1.

    Examples
    --------
    >>> origin_lengths(100, 10, 56, 6), origin_lengths(60, 10, 56, 6)
    ([60, 70, 80, 90], [])
    """
    return [n_periods - k * horizon for k in range(max_origins, 0, -1) if n_periods - k * horizon >= min_train]


def backtest_origins(counts: np.ndarray, first: int, freq: str, horizon: int, season: int, lengths: list[int],
                     start_params: np.ndarray | None = None, what: str = "forecast_volume") -> pd.DataFrame:
    """Scores of the model and of the seasonal naive rule at each origin (module docstring).

    Returns
    -------
    pandas.DataFrame
        One row per origin: ``origin`` (label of the first forecast period), ``train``
        (periods fitted), ``forecasts`` (periods scored), ``mase_model``, ``mase_baseline``,
        ``coverage_80``, ``coverage_95`` (shares in %).

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> y = rng.poisson(np.tile([60, 60, 60, 60, 60, 20, 20], 14))
    >>> b = backtest_origins(y, 0, "D", 14, 7, [70, 84])
    >>> b["origin"].tolist(), bool((b["mase_model"] < b["mase_baseline"]).all())
    (['1970-03-12', '1970-03-26'], True)
    """
    rows = []
    for train in lengths:
        past, actual = counts[:train], np.asarray(counts[train:train + horizon], dtype=np.float64)
        pred = fit_predict(past, first, freq, horizon, start_params, what)
        scale = naive_scale(past, season)
        row = {"origin": period_labels(np.array([first + train]), freq)[0], "train": train,
               "forecasts": horizon,
               "mase_model": np.mean(np.abs(actual - pred.mean)) / scale,
               "mase_baseline": np.mean(np.abs(actual - seasonal_naive(past, season, horizon))) / scale}
        for level, (low, high) in pred.bounds.items():
            row[f"coverage_{level}"] = 100.0 * np.mean((actual >= low) & (actual <= high))
        rows.append(row)
    return pd.DataFrame(rows, columns=["origin", "train", "forecasts", *SCORES])


def summarise_origins(scores: np.ndarray) -> tuple[np.ndarray, ...]:
    """Mean over origins with its 95% t interval, per row of ``scores`` (groups x origins; NaN skipped).

    Returns ``(n, mean, ci_low, ci_high)``: origins with a score, and their mean and interval.
    The plain t interval: a handful of origins is too few for a skewness correction.

    Examples
    --------
    >>> n, m, lo, hi = summarise_origins(np.array([[0.7, 0.8, 0.9], [1.0, np.nan, 1.0]]))
    >>> n.tolist(), m.round(2).tolist(), lo.round(3).tolist()
    ([3, 2], [0.8, 1.0], [0.552, 1.0])
    """
    ok = np.isfinite(scores)
    n = ok.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(ok, scores, 0.0).sum(axis=1) / n
        dev = np.where(ok, scores - mean[:, None], 0.0)
        sd = np.sqrt((dev * dev).sum(axis=1) / (n - 1))
    low, high = mean_t_interval(mean, sd, n)
    return n, mean, low, high
