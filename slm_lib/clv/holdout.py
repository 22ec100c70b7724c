"""Calibration/holdout validation of the BG/NBD forecast (SPEC §5, Fader, Hardie & Lee 2005).

Split purchases at ``calibration_end``, fit on the calibration summary, and compare what
the model predicts for the holdout with what happened:

- :func:`calibration_holdout_split`: per-customer calibration summary and holdout counts;
- :func:`purchase_tracking`: repeat purchases per period (actual vs predicted, and
  cumulative), over calibration and holdout;
- :func:`conditional_expectations`: mean holdout purchases by number of calibration repeat
  purchases (0, 1, ..., 7+), actual vs the conditional expectation;
- :func:`holdout_errors`: total error (%) and mean absolute error per customer.

All return tidy frames; plotting lives in :mod:`slm_lib.plots`. Purchases on one day count
once (CDNOW conventions, :mod:`slm_lib.clv.rfm`). Only customers whose first purchase is on
or before ``calibration_end`` are followed.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from slm_lib.clv.bgnbd import BetaGeoModel, unconditional_expected_purchases
from slm_lib.clv.rfm import daily_purchases, rfm_summary, to_day, unit_days
from slm_lib.errors import DataValidationError

#: Calibration-frequency groups of :func:`conditional_expectations` are 0..cap-1 and cap+.
FREQUENCY_CAP = 7


def _ends(daily: pd.DataFrame, calibration_end: Any, observation_end: Any) -> tuple[pd.Timestamp, pd.Timestamp]:
    cal, obs = to_day(calibration_end, like=daily["day"]), to_day(observation_end, like=daily["day"])
    if obs <= cal:
        raise DataValidationError(f"observation_end ({obs.date()}) must be after calibration_end ({cal.date()})")
    return cal, obs


def calibration_holdout_split(transactions: pd.DataFrame, customer_col: str = "customer_id",
                              date_col: str = "paid_at", amount_col: str | None = "amount", *,
                              calibration_end: Any, observation_end: Any,
                              time_unit: str = "W") -> pd.DataFrame:
    """Calibration summary and holdout purchases per customer.

    Parameters
    ----------
    transactions : pandas.DataFrame
        One row per purchase.
    customer_col, date_col, amount_col : str
        Column names (as :func:`slm_lib.clv.rfm.rfm_summary`).
    calibration_end, observation_end : date-like
        Last day of the calibration period and of the holdout period (both inclusive).
    time_unit : str, default "W"

    Returns
    -------
    pandas.DataFrame
        Indexed by customer (first purchase on or before ``calibration_end``):
        ``frequency_cal, recency_cal, T_cal, monetary_value_cal`` (rfm summary to
        calibration_end), ``frequency_holdout`` (purchase days in
        ``(calibration_end, observation_end]``), ``monetary_value_holdout`` (mean per holdout
        purchase day, 0 if none) and ``duration_holdout``.

    Examples
    --------
    >>> tx = pd.DataFrame({"customer_id": ["a", "a", "a", "b"],
    ...                    "paid_at": ["2024-01-01", "2024-01-08", "2024-02-05", "2024-02-01"],
    ...                    "amount": [10.0, 5.0, 20.0, 7.0]})
    >>> split = calibration_holdout_split(tx, calibration_end="2024-01-28", observation_end="2024-02-25")
    >>> split[["frequency_cal", "frequency_holdout", "duration_holdout"]].to_dict("index")
    {'a': {'frequency_cal': 1, 'frequency_holdout': 1, 'duration_holdout': 4.0}}
    """
    unit = unit_days(time_unit)
    daily = daily_purchases(transactions, customer_col, date_col, amount_col, observation_end)
    cal_end, obs_end = _ends(daily, calibration_end, observation_end)
    cal = rfm_summary(transactions, customer_col, date_col, amount_col, cal_end, time_unit)
    cal.columns = [f"{c}_cal" for c in cal.columns]
    hold = daily[daily["day"] > cal_end].groupby("customer_id")["amount"].agg(["size", "mean"])
    out = cal.join(hold.rename_axis(cal.index.name), how="left")
    out["frequency_holdout"] = out.pop("size").fillna(0).astype("int64")
    out["monetary_value_holdout"] = out.pop("mean").fillna(0.0)
    out["duration_holdout"] = (obs_end - cal_end).days / unit
    return out


def purchase_tracking(transactions: pd.DataFrame, bg: BetaGeoModel, customer_col: str = "customer_id",
                      date_col: str = "paid_at", *, calibration_end: Any, observation_end: Any,
                      time_unit: str = "W") -> pd.DataFrame:
    """Repeat purchases per period, actual vs BG/NBD prediction, over calibration and holdout.

    Periods are consecutive ``time_unit`` blocks starting on the first purchase day in the
    data. The prediction for customer i, first purchase at ``s_i``, over period
    ``[u, v)`` is ``E[X(v - s_i)] - E[X(u - s_i)]`` (clipped at 0), summed over customers.
    Periods cover whole days (a purchase on day d sits in ``[d, d + 1)``), so the last
    calibration period ends at the end of ``calibration_end``, one day beyond the start of
    that day that ``T_cal`` measures to (CDNOW convention); the difference is one day of
    purchases.

    Examples
    --------
    >>> tx = pd.DataFrame({"customer_id": ["a", "a", "b"], "paid_at": ["2024-01-01", "2024-01-09", "2024-01-02"]})
    >>> bg = BetaGeoModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    >>> track = purchase_tracking(tx, bg, calibration_end="2024-01-07", observation_end="2024-01-14")
    >>> track[["period", "sample", "actual"]].to_dict("list")
    {'period': [1, 2], 'sample': ['calibration', 'holdout'], 'actual': [0, 1]}

    Returns
    -------
    pandas.DataFrame
        ``period`` (1, 2, ...), ``period_start``, ``sample`` ("calibration" or "holdout",
        by the period's last day), ``actual``, ``predicted``, ``actual_cumulative``,
        ``predicted_cumulative``. A last partial period is kept (its length is shorter).
    """
    unit = unit_days(time_unit)
    daily = daily_purchases(transactions, customer_col, date_col, None, observation_end)
    cal_end, obs_end = _ends(daily, calibration_end, observation_end)
    first = daily.groupby("customer_id")["day"].transform("min")
    daily = daily[first <= cal_end].assign(first=first[first <= cal_end])
    origin = daily["day"].min()
    span = (obs_end - origin).days + 1                       # days covered, obs_end inclusive
    edges = np.minimum(np.arange(0, int(np.ceil(span / unit)) + 1) * unit, span)  # in days
    repeat_days = (daily.loc[daily["day"] > daily["first"], "day"] - origin).dt.days.to_numpy()
    actual = np.histogram(repeat_days, bins=edges)[0]
    starts = (daily.drop_duplicates("customer_id")["first"] - origin).dt.days.value_counts()
    s, n = starts.index.to_numpy(dtype=float), starts.to_numpy(dtype=float)
    params = tuple(bg.params_[k] for k in ("r", "alpha", "a", "b"))
    age = np.clip(edges[None, :] - s[:, None], 0.0, None) / unit  # first-purchase groups x edges
    cum = unconditional_expected_purchases(age, params)
    predicted = (n[:, None] * np.clip(np.diff(cum, axis=1), 0.0, None)).sum(axis=0)
    period_end = origin + pd.to_timedelta(edges[1:] - 1, unit="D")
    return pd.DataFrame({
        "period": np.arange(1, len(edges)),
        "period_start": origin + pd.to_timedelta(edges[:-1], unit="D"),
        "sample": np.where(period_end <= cal_end, "calibration", "holdout"),
        "actual": actual.astype("int64"), "predicted": predicted,
        "actual_cumulative": np.cumsum(actual).astype("int64"),
        "predicted_cumulative": np.cumsum(predicted),
    })


def holdout_predictions(split: pd.DataFrame, bg: BetaGeoModel) -> np.ndarray:
    """Each customer's expected holdout purchases, ``E[Y(duration_holdout) | calibration history]``.

    ``bg`` is any fitted model with ``expected_purchases(t, frequency, recency, T)`` (BG/NBD,
    Pareto/NBD, MBG/NBD).
    """
    return np.asarray(bg.expected_purchases(split["duration_holdout"].to_numpy(), split["frequency_cal"],
                                            split["recency_cal"], split["T_cal"]), dtype=float)


def conditional_expectations(split: pd.DataFrame, bg: BetaGeoModel, cap: int = FREQUENCY_CAP) -> pd.DataFrame:
    """Mean holdout purchases by calibration repeat purchases: actual vs conditional expectation.

    Parameters
    ----------
    split : pandas.DataFrame
        Output of :func:`calibration_holdout_split`.
    bg : BetaGeoModel
        Model fitted on the calibration columns.
    cap : int, default 7
        Frequencies at or above ``cap`` form one group labelled ``"7+"``.

    Returns
    -------
    pandas.DataFrame
        ``frequency_cal`` (label "0", ..., "7+"), ``n``, ``actual``, ``predicted`` (means per
        customer in the group).

    Examples
    --------
    >>> split = pd.DataFrame({"frequency_cal": [0, 1, 9], "recency_cal": [0.0, 5.0, 30.0],
    ...                       "T_cal": [39.0, 39.0, 39.0], "frequency_holdout": [0, 2, 6],
    ...                       "duration_holdout": 39.0})
    >>> bg = BetaGeoModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    >>> conditional_expectations(split, bg)[["frequency_cal", "n", "actual"]].to_dict("list")
    {'frequency_cal': ['0', '1', '7+'], 'n': [1, 1, 1], 'actual': [0.0, 2.0, 6.0]}
    """
    group = np.minimum(split["frequency_cal"].to_numpy(), cap)
    frame = pd.DataFrame({"group": group, "actual": split["frequency_holdout"].to_numpy(dtype=float),
                          "predicted": holdout_predictions(split, bg)})
    out = frame.groupby("group").agg(n=("actual", "size"), actual=("actual", "mean"),
                                     predicted=("predicted", "mean")).reset_index()
    labels = out["group"].astype(int).astype(str).where(out["group"] < cap, f"{cap}+")
    return pd.DataFrame({"frequency_cal": labels, "n": out["n"].astype("int64"),
                         "actual": out["actual"], "predicted": out["predicted"]})


def holdout_errors(split: pd.DataFrame, bg: BetaGeoModel) -> pd.DataFrame:
    """Numeric fit of the holdout forecast.

    Returns
    -------
    pandas.DataFrame
        Tidy ``metric, value``: ``n_customers``, ``actual_total``, ``predicted_total``,
        ``total_error_pct`` (100 x (predicted - actual) / actual), ``mae_per_customer``
        (mean |predicted - actual|), ``rmse_per_customer``, ``correlation`` (Pearson,
        predicted vs actual per customer).

    Examples
    --------
    >>> split = pd.DataFrame({"frequency_cal": [0, 1, 9], "recency_cal": [0.0, 5.0, 30.0],
    ...                       "T_cal": [39.0, 39.0, 39.0], "frequency_holdout": [0, 2, 6],
    ...                       "duration_holdout": 39.0})
    >>> bg = BetaGeoModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426})
    >>> holdout_errors(split, bg).set_index("metric").loc["actual_total", "value"]
    np.float64(8.0)
    """
    actual = split["frequency_holdout"].to_numpy(dtype=float)
    predicted = holdout_predictions(split, bg)
    if len(actual) == 0:
        raise DataValidationError("split: no customers to evaluate")
    total_a, total_p = actual.sum(), predicted.sum()
    err = predicted - actual
    corr = float(np.corrcoef(predicted, actual)[0, 1]) if len(actual) > 1 else np.nan
    return pd.DataFrame({
        "metric": ["n_customers", "actual_total", "predicted_total", "total_error_pct",
                   "mae_per_customer", "rmse_per_customer", "correlation"],
        "value": [float(len(actual)), total_a, total_p,
                  100 * (total_p - total_a) / total_a if total_a > 0 else np.nan,
                  float(np.mean(np.abs(err))), float(np.sqrt(np.mean(err ** 2))), corr],
    })
