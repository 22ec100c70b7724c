"""The statistical core of the volume forecast: the model of one count series, the seasonal
naive baseline and the scores of a forecast (MASE, interval coverage).

The model (chosen by rolling-origin backtests, see :mod:`slm_lib.forecast`) is a structural
time series (statsmodels ``UnobservedComponents``) of ``log(1 + count)``: a local linear
trend, a weekly seasonal pattern for daily counts (trigonometric, 3 harmonics: the full
pattern of 7 days), and a yearly pattern as 3 pairs of Fourier terms when the history holds
at least two years (each time of year seen twice). The Fourier terms are functions of the
period ordinal, so every fit and forecast shares their phase; their coefficients sit in the
state vector (``mle_regression=False``), so their uncertainty reaches the intervals.
On the log scale the predictive distribution is normal with mean ``mu`` and variance ``s²``;
back on counts the forecast is the mean ``exp(mu + s²/2) - 1`` and the interval bounds are the
back-transformed quantiles (a log scale keeps them non-negative and widens them on busy
days, as count noise does).
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm
from statsmodels.tsa.statespace.structural import UnobservedComponents

from slm_lib.errors import ModelFitError

#: Periods in a year and in a week, per frequency.
YEAR: dict[str, float] = {"D": 365.25, "W": 365.25 / 7}
#: Fourier pairs of the yearly pattern.
YEARLY_HARMONICS: int = 3
#: Coverage levels of the prediction intervals, in %.
LEVELS: tuple[int, int] = (80, 95)


@dataclass(frozen=True)
class Prediction:
    """Forecast of one series: mean and interval bounds per level (``bounds[80] = (lower, upper)``)."""

    mean: np.ndarray
    bounds: dict[int, tuple[np.ndarray, np.ndarray]]
    params: np.ndarray
    yearly: bool


def has_yearly(n_periods: int, freq: str) -> bool:
    """Whether a history of ``n_periods`` holds two full years, enough to fit a yearly pattern.

    Examples
    --------
    >>> has_yearly(729, "D"), has_yearly(731, "D"), has_yearly(105, "W")
    (False, True, True)
    """
    return n_periods >= 2 * YEAR[freq]


def fourier_terms(ordinals: np.ndarray, freq: str, harmonics: int = YEARLY_HARMONICS) -> np.ndarray:
    """Columns ``sin(2πkt/P), cos(2πkt/P)``, k = 1..harmonics, of period ordinals t (P: a year).

    Examples
    --------
    >>> fourier_terms(np.array([0, 13]), "W", 2).round(2).tolist()   # 13 weeks: a quarter of a year on
    [[0.0, 0.0, 1.0, 1.0], [1.0, 0.01, 0.01, -1.0]]
    """
    angle = 2 * np.pi * np.asarray(ordinals, dtype=np.float64)[:, None] / YEAR[freq]
    k = np.arange(1, harmonics + 1)
    return np.column_stack([f(angle * k) for f in (np.sin, np.cos)])


def fit_predict(counts: np.ndarray, first: int, freq: str, horizon: int,
                start_params: np.ndarray | None = None, what: str = "forecast_volume") -> Prediction:
    """Fit the model to ``counts`` (periods with ordinals ``first, first + 1, ...``) and forecast.

    ``start_params`` (variances of an earlier fit of the same model) only speed up the
    optimiser; the fit is the maximum likelihood whatever they are.

    Raises
    ------
    ModelFitError
        The fit fails or gives a non-finite forecast (``what`` names the series).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> y = rng.poisson(np.tile([60, 60, 60, 60, 60, 20, 20], 12))
    >>> p = fit_predict(y, 0, "D", 7)
    >>> low, high = p.bounds[95]
    >>> bool((low <= p.mean).all() and (p.mean <= high).all()), bool(p.mean[-2:].max() < p.mean[:5].min())
    (True, True)
    """
    n = len(counts)
    yearly = has_yearly(n, freq)
    past = fourier_terms(np.arange(first, first + n), freq) if yearly else None
    ahead = fourier_terms(np.arange(first + n, first + n + horizon), freq) if yearly else None
    seasonal = [{"period": 7, "harmonics": 3}] if freq == "D" else None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # optimiser chatter; a failed fit shows as non-finite output
        try:
            model = UnobservedComponents(np.log1p(np.asarray(counts, dtype=np.float64)), level="local linear trend",
                                         freq_seasonal=seasonal, exog=past, mle_regression=False)
            result = model.fit(start_params=start_params, disp=False)
            pred = result.get_forecast(horizon, exog=ahead)
            mu, var = np.asarray(pred.predicted_mean), np.asarray(pred.var_pred_mean)
        except (np.linalg.LinAlgError, ValueError) as err:
            raise ModelFitError(f"{what}: the model could not be fitted to {n} periods: {err}") from err
    if not (np.isfinite(mu).all() and np.isfinite(var).all()):
        raise ModelFitError(f"{what}: the model fitted to {n} periods gives no finite forecast")
    sd = np.sqrt(np.maximum(var, 0.0))
    bounds = {}
    for level in LEVELS:
        z = norm.ppf(0.5 + level / 200)
        bounds[level] = (np.maximum(np.expm1(mu - z * sd), 0.0), np.expm1(mu + z * sd))
    return Prediction(np.expm1(mu + var / 2), bounds, np.asarray(result.params), yearly)


def seasonal_naive(counts: np.ndarray, season: int, horizon: int) -> np.ndarray:
    """Each future period gets the count of the same period one season earlier (the last season repeated).

    Examples
    --------
    >>> seasonal_naive(np.array([5, 1, 2, 6, 3]), 2, 3).tolist()
    [6.0, 3.0, 6.0]
    """
    last = np.asarray(counts, dtype=np.float64)[-season:]
    return np.resize(last, horizon)


def naive_scale(counts: np.ndarray, season: int) -> float:
    """In-sample mean absolute error of the seasonal naive rule: the denominator of MASE.

    NaN when the series is no longer than one season or constant over it.

    Examples
    --------
    >>> naive_scale(np.array([5, 1, 2, 6, 3]), 2)   # |2-5|, |6-1|, |3-2|
    3.0
    """
    y = np.asarray(counts, dtype=np.float64)
    if len(y) <= season:
        return float("nan")
    scale = float(np.mean(np.abs(y[season:] - y[:-season])))
    return scale if scale > 0 else float("nan")
