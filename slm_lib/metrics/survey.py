"""Survey metrics: NPS, CSAT, CES, their intervals and period-over-period tests (SPEC §4).

Empty-input rule (one rule for the whole ``slm_lib.metrics`` package)
---------------------------------------------------------------------
NaN scores are ignored. A function that returns a bare float (:func:`nps`, :func:`csat`,
:func:`ces`) raises :class:`~slm_lib.errors.InsufficientDataError` when no score is left,
because there is no number to return. A function that returns ``n`` beside the value
(the ``*_summary`` functions, :func:`compare_periods`, every table) never raises for lack
of data: it returns ``n = 0`` and NaN value and bounds.

Thresholds: NPS promoters score 9–10, detractors 0–6 (9 is a promoter, 6 a detractor;
``slm_lib.config.NPS_PROMOTER_MIN`` / ``NPS_DETRACTOR_MAX``, categorised by :func:`nps_category`).
CSAT is top-2-box: satisfied means ``score >= threshold``, by default the two top points of
the scale (4 on 1–5, 6 on 1–7); the neutral score is the middle of the scale (3 on 1–5,
whatever the threshold; :func:`slm_lib.config.csat_cutoffs`), dropped from the denominator
with ``exclude_neutral=True``. Percent metrics (NPS points, CSAT %) are on a 0–100 scale.

The ``*_from_counts`` functions turn aggregated counts (arrays, one per group) into value
and interval; :mod:`slm_lib.metrics.table` uses them so scalar and grouped results agree.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike

from slm_lib.config import NPS_DETRACTOR_MAX, NPS_PROMOTER_MIN, SCALES, csat_cutoffs
from slm_lib.errors import ConfigError, DataValidationError, InsufficientDataError
from slm_lib.stats import (mean_from_values, normal_interval, nps_interval, nps_se, proportion_diff_se,
                           share_from_counts, two_proportion_z, two_sample_z, welch_t)

SUMMARY_INDEX = ["n", "value", "ci_low", "ci_high"]
Metric = Literal["nps", "csat", "ces"]


def _scores(scores: ArrayLike, metric: str, scale: tuple[int, int] | None = None) -> np.ndarray:
    """Scores as a float array without NaN; out-of-scale values raise DataValidationError."""
    series = scores if isinstance(scores, pd.Series) else pd.Series(np.ravel(np.asarray(scores, dtype=object)))
    try:
        arr = pd.to_numeric(series, errors="raise").to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError) as exc:
        raise DataValidationError(f"{metric} scores: non-numeric value ({exc})") from exc
    arr = arr[~np.isnan(arr)]
    lo, hi = scale if scale is not None else SCALES[metric]
    bad = (arr < lo) | (arr > hi)
    if bad.any():
        raise DataValidationError(
            f"{metric} scores: {int(bad.sum())} value(s) outside the scale {lo}-{hi} "
            f"(e.g. {arr[bad][:3].tolist()})")
    return arr


def _require(arr: np.ndarray, metric: str) -> None:
    if arr.size == 0:
        raise InsufficientDataError(f"{metric}: no non-missing scores to compute it from")


# ----------------------------------------------------------------------------- from counts
def nps_from_counts(promoters: ArrayLike, detractors: ArrayLike,
                    n: ArrayLike) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """NPS value and interval from counts (arrays): ``(value, ci_low, ci_high)``; n=0 -> NaN.

    Examples
    --------
    >>> v, lo, hi = nps_from_counts([50, 0], [20, 0], [100, 0])
    >>> v.tolist()
    [30.0, nan]
    """
    pr, de, n = (np.asarray(v, dtype=np.float64) for v in (promoters, detractors, n))
    with np.errstate(invalid="ignore", divide="ignore"):
        value = np.where(n > 0, 100.0 * (pr - de) / n, np.nan)
    low, high = nps_interval(pr, de, n)
    return value, low, high


def _summary(n: float, value: float, low: float, high: float) -> pd.Series:
    return pd.Series([n, value, low, high], index=SUMMARY_INDEX, dtype=np.float64)


# ----------------------------------------------------------------------------- NPS
def nps(scores: ArrayLike) -> float:
    """Net Promoter Score: 100 × (share of 9–10 − share of 0–6).

    Parameters
    ----------
    scores : array_like of numbers on 0–10; NaN ignored.

    Raises
    ------
    InsufficientDataError
        No non-missing score.

    Examples
    --------
    >>> nps([10] * 50 + [8] * 30 + [3] * 20)
    30.0
    """
    arr = _scores(scores, "nps")
    _require(arr, "nps")
    return float(100.0 * ((arr >= NPS_PROMOTER_MIN).sum() - (arr <= NPS_DETRACTOR_MAX).sum()) / arr.size)


def nps_summary(scores: ArrayLike) -> pd.Series:
    """NPS with its n and adjusted Wald interval (:func:`slm_lib.stats.nps_interval`):
    Series ``n, value, ci_low, ci_high``.

    Examples
    --------
    >>> s = nps_summary([10] * 50 + [8] * 30 + [3] * 20)
    >>> int(s["n"]), float(s["value"]), round(float(s["ci_low"]), 2)
    (100, 30.0, 14.05)
    """
    arr = _scores(scores, "nps")
    v, lo, hi = nps_from_counts((arr >= NPS_PROMOTER_MIN).sum(), (arr <= NPS_DETRACTOR_MAX).sum(), arr.size)
    return _summary(arr.size, v, lo, hi)


def nps_category(scores: ArrayLike) -> np.ndarray:
    """``"promoter"`` (9–10), ``"passive"`` (7–8), ``"detractor"`` (0–6) or ``"none"`` (missing) per score.

    Examples
    --------
    >>> nps_category([10, 7, 6, np.nan]).tolist()
    ['promoter', 'passive', 'detractor', 'none']
    """
    s = np.asarray(scores, dtype=np.float64)
    return np.select([s >= NPS_PROMOTER_MIN, s > NPS_DETRACTOR_MAX, s >= 0], ["promoter", "passive", "detractor"],
                     "none").astype(object)


# ----------------------------------------------------------------------------- CSAT
def _csat_counts(arr: np.ndarray, threshold: int | None, exclude_neutral: bool,
                 scale: tuple[int, int] | None) -> tuple[int, int]:
    top2, neutral = csat_cutoffs(scale)
    if exclude_neutral and neutral is not None:
        arr = arr[arr != neutral]
    return int((arr >= (top2 if threshold is None else threshold)).sum()), int(arr.size)


def csat(scores: ArrayLike, threshold: int | None = None, exclude_neutral: bool = False,
         scale: tuple[int, int] | None = None) -> float:
    """CSAT: percent of scores ≥ ``threshold`` (top-2-box: 4 and 5 on 1–5).

    Parameters
    ----------
    scores : array_like; NaN ignored.
    threshold : int, optional
        Lowest satisfied score; default the second-highest point of the scale (4 on 1–5).
    exclude_neutral : bool
        Drop the neutral score (the middle of the scale, 3 on 1–5) from the denominator.
    scale : (low, high), optional
        Score scale; default ``slm_lib.config.SCALES["csat"]`` (a Dataset's ``scales``).

    Examples
    --------
    >>> csat([5, 4, 3, 2])
    50.0
    >>> round(csat([5, 4, 3, 2], exclude_neutral=True), 2)
    66.67
    >>> csat([7, 6, 5, 4], scale=(1, 7))
    50.0
    """
    arr = _scores(scores, "csat", scale)
    x, n = _csat_counts(arr, threshold, exclude_neutral, scale)
    if n == 0:
        raise InsufficientDataError("csat: no non-missing (non-neutral) scores to compute it from")
    return float(100.0 * x / n)


def csat_summary(scores: ArrayLike, threshold: int | None = None, exclude_neutral: bool = False,
                 scale: tuple[int, int] | None = None) -> pd.Series:
    """CSAT with n and Wilson interval (percent): Series ``n, value, ci_low, ci_high``.

    Examples
    --------
    >>> s = csat_summary([5] * 8 + [1] * 2)
    >>> float(s["value"]), round(float(s["ci_low"]), 2)
    (80.0, 49.02)
    """
    arr = _scores(scores, "csat", scale)
    x, n = _csat_counts(arr, threshold, exclude_neutral, scale)
    v, lo, hi = share_from_counts(x, n)
    return _summary(n, v, lo, hi)


# ----------------------------------------------------------------------------- CES
def ces(scores: ArrayLike, scale: tuple[int, int] | None = None) -> float:
    """Customer Effort Score: the mean score (lower is less effort on the default 1–7 scale).

    Examples
    --------
    >>> round(ces([1, 1, 2, 2, 2, 2, 2, 4, 4, 4, 4, 4, 4, 4]), 3)
    2.857
    """
    arr = _scores(scores, "ces", scale)
    _require(arr, "ces")
    return float(arr.mean())


def ces_summary(scores: ArrayLike, scale: tuple[int, int] | None = None) -> pd.Series:
    """CES with n and t interval (skewness-corrected, :func:`slm_lib.stats.mean_t_interval`):
    Series ``n, value, ci_low, ci_high``.

    Examples
    --------
    >>> s = ces_summary([1, 2, 3, 4, 5])
    >>> float(s["value"]), round(float(s["ci_low"]), 3)
    (3.0, 1.037)
    """
    arr = _scores(scores, "ces", scale)
    v, lo, hi, _ = mean_from_values(arr)
    low, high = scale if scale is not None else SCALES["ces"]
    return _summary(arr.size, v, *np.clip([lo, hi], low, high))   # an interval never leaves the scale


# ----------------------------------------------------------------------------- comparison
COMPARE_INDEX = ["diff", "statistic", "p_value", "n_before", "n_after", "ci_low", "ci_high",
                 "before", "after"]


def nps_change_from_counts(promoters_before: ArrayLike, detractors_before: ArrayLike, n_before: ArrayLike,
                           promoters_after: ArrayLike, detractors_after: ArrayLike,
                           n_after: ArrayLike) -> dict[str, np.ndarray]:
    """Change of NPS (after - before) with its two-sample z test, from counts (arrays).

    The z statistic and the interval of the difference use the SPEC §4 standard errors,
    ``se = sqrt(se_before² + se_after²)``.

    Returns
    -------
    dict of float arrays: ``diff, statistic, p_value, ci_low, ci_high, before, after``.

    Examples
    --------
    >>> r = nps_change_from_counts(40, 20, 100, 50, 20, 100)
    >>> float(r["diff"]), round(float(r["p_value"]), 3)
    (10.0, 0.355)
    """
    before, _, _ = nps_from_counts(promoters_before, detractors_before, n_before)
    after, _, _ = nps_from_counts(promoters_after, detractors_after, n_after)
    diff = after - before
    se = np.sqrt(nps_se(promoters_before, detractors_before, n_before) ** 2
                 + nps_se(promoters_after, detractors_after, n_after) ** 2)
    stat, p = two_sample_z(diff, se)
    low, high = normal_interval(diff, se)
    return {"diff": diff, "statistic": stat, "p_value": p, "ci_low": low, "ci_high": high,
            "before": before, "after": after}


def csat_change_from_counts(satisfied_before: ArrayLike, n_before: ArrayLike, satisfied_after: ArrayLike,
                            n_after: ArrayLike) -> dict[str, np.ndarray]:
    """Change of CSAT (after - before, percentage points) with its pooled two-proportion z test.

    The interval of the difference uses the unpooled standard error.

    Returns
    -------
    dict of float arrays: ``diff, statistic, p_value, ci_low, ci_high, before, after``.

    Examples
    --------
    >>> r = csat_change_from_counts(40, 100, 55, 120)
    >>> round(float(r["diff"]), 2), round(float(r["p_value"]), 4)
    (5.83, 0.3844)
    """
    before, _, _ = share_from_counts(satisfied_before, n_before)
    after, _, _ = share_from_counts(satisfied_after, n_after)
    diff = after - before
    stat, p = two_proportion_z(satisfied_before, n_before, satisfied_after, n_after)
    low, high = normal_interval(diff, 100.0 * proportion_diff_se(satisfied_before, n_before, satisfied_after,
                                                                 n_after))
    return {"diff": diff, "statistic": stat, "p_value": p, "ci_low": low, "ci_high": high,
            "before": before, "after": after}


def compare_periods(before: ArrayLike, after: ArrayLike, metric: Metric = "nps",
                    threshold: int | None = None, exclude_neutral: bool = False,
                    scale: tuple[int, int] | None = None) -> pd.Series:
    """Test the change of NPS, CSAT or CES between two periods; ``diff = after - before``.

    NPS: two-sample z with the SPEC §4 standard errors (:func:`nps_change_from_counts`).
    CSAT: pooled two-proportion z test; interval of the difference from unpooled SEs
    (:func:`csat_change_from_counts`). CES: Welch t test (:func:`slm_lib.stats.welch_t`).
    Intervals are 95% (``slm_lib.config.CONFIDENCE``) and in the units of the metric (NPS
    points, CSAT percentage points, CES score points). An empty side gives NaN with its
    ``n = 0``. ``threshold``, ``exclude_neutral`` and ``scale`` are as in :func:`csat`
    (``scale`` also bounds CES scores).

    Returns
    -------
    pandas.Series (float64; the counts are whole numbers)
        ``diff, statistic, p_value, n_before, n_after, ci_low, ci_high, before, after``.

    Examples
    --------
    >>> r = compare_periods([10] * 40 + [0] * 20 + [8] * 40, [10] * 50 + [0] * 20 + [8] * 30)
    >>> float(r["diff"]), int(r["n_after"])
    (10.0, 100)
    """
    if metric not in ("nps", "csat", "ces"):
        raise ConfigError(f"compare_periods: metric must be 'nps', 'csat' or 'ces', got {metric!r}")
    b, a = _scores(before, metric, scale), _scores(after, metric, scale)
    nb, na = b.size, a.size
    if metric == "nps":
        r = nps_change_from_counts((b >= NPS_PROMOTER_MIN).sum(), (b <= NPS_DETRACTOR_MAX).sum(), nb,
                                   (a >= NPS_PROMOTER_MIN).sum(), (a <= NPS_DETRACTOR_MAX).sum(), na)
    elif metric == "csat":
        xb, nb = _csat_counts(b, threshold, exclude_neutral, scale)  # n without dropped neutrals
        xa, na = _csat_counts(a, threshold, exclude_neutral, scale)
        r = csat_change_from_counts(xb, nb, xa, na)
    else:
        vb = b.mean() if nb else np.nan
        va = a.mean() if na else np.nan
        r = welch_t(vb, b.std(ddof=1) if nb > 1 else np.nan, nb,
                    va, a.std(ddof=1) if na > 1 else np.nan, na) | {"before": vb, "after": va}
    values = [r["diff"], r["statistic"], r["p_value"], nb, na, r["ci_low"], r["ci_high"], r["before"], r["after"]]
    return pd.Series([float(v) for v in values], index=COMPARE_INDEX, dtype=np.float64, name=metric)
