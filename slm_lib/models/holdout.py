"""Churn models judged on a later period they never saw (time-split holdout).

The models are fitted on customer features at earlier instants ``a_k = as_of - k * horizon``
(``k = 1 .. train_periods``), whose outcome windows ``(a_k, a_k + horizon]`` all end at or
before ``as_of``; they are judged on the features at ``as_of`` and the outcome window
``(as_of, as_of + horizon]``, which no training row overlaps. Features look back from each
instant only (:func:`slm_lib.features.customer_features`), so nothing after an instant
enters its row.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

import numpy as np
import pandas as pd
from scipy.special import expit

from slm_lib.errors import InsufficientDataError
from slm_lib.features import customer_features, window_offset
from slm_lib.io.dataset import Dataset
from slm_lib.models._design import ModelResult, design_rows
from slm_lib.models.churn import churn_hazard_model, churn_model, default_churn_drivers
from slm_lib.models.evaluation import brier_score, calibration_table, concordance_index, roc_auc
from slm_lib.wording import format_estimate

__all__ = ["ChurnHoldout", "evaluate_churn", "churn_holdout", "split_instants", "linear_predictor"]


def linear_predictor(model: ModelResult, features: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``x'b`` of new rows and its standard error (NaN for rows the model cannot score)."""
    X = design_rows(model.design, features).to_numpy(float)
    params = np.asarray(model.result.params, dtype=float)
    cov = np.asarray(model.result.cov_params(), dtype=float)
    eta = X @ params
    se = np.sqrt(np.einsum("ij,jk,ik->i", X, cov, X))
    return eta, se


@dataclass
class ChurnHoldout:
    """Churn models fitted on earlier periods and judged on a later one.

    ``metrics``: one row per model and measure (``model, metric, value, std_error, ci_low,
    ci_high, n, events``; ``auc`` and ``brier`` of the logistic model, ``c_index`` of the Cox
    model); ``calibration``: :func:`slm_lib.models.evaluation.calibration_table` of the
    logistic model's probabilities; ``predictions``: the holdout rows scored
    (``customer_id, churned, duration_days, event, probability, risk``); ``logit``, ``cox``:
    the fitted models.
    """

    metrics: pd.DataFrame
    calibration: pd.DataFrame
    predictions: pd.DataFrame
    logit: ModelResult
    cox: ModelResult

    def sentences(self) -> list[str]:
        """The holdout figures in words."""
        m = self.metrics.set_index("metric")
        out = []
        for metric, words in (("auc", "ranks a churner above a stayer (AUC)"),
                              ("c_index", "orders customers by time to churn (C-index)")):
            if metric in m.index:
                r = m.loc[metric]
                out.append(f"On {int(r['n']):,} customers ({int(r['events']):,} churned) of a later period, the "
                           f"model {words} {format_estimate(r['value'], r['ci_low'], r['ci_high'], signed=False)} "
                           "of the time (0.5 = chance).")
        return out


def evaluate_churn(train: pd.DataFrame, test: pd.DataFrame, drivers: Iterable[str], controls: Iterable[str] = (),
                   units: Mapping[str, float | str] | None = None, bins: int = 10) -> ChurnHoldout:
    """Fit the Logit and Cox churn models on ``train`` rows and judge them on ``test`` rows.

    Both frames are :func:`slm_lib.features.customer_features` output (``churned``,
    ``duration_days``, ``event``). Test rows the models cannot score (a missing driver) are
    left out of the measures.

    Raises
    ------
    InsufficientDataError
        No scorable test row with both churners and stayers.
    """
    drivers, controls = list(drivers), list(controls)
    logit = churn_model(train, drivers, controls, units=units)
    cox = churn_hazard_model(train, drivers, controls, units=units)
    eta, _ = linear_predictor(logit, test)
    risk, _ = linear_predictor(cox, test)
    pred = test[["customer_id", "churned", "duration_days", "event"]].assign(probability=expit(eta), risk=risk)
    pred = pred.loc[np.isfinite(eta) & np.isfinite(risk)].reset_index(drop=True)
    y = pred["churned"].to_numpy(float)
    if not 0 < y.sum() < len(y):
        raise InsufficientDataError(f"churn holdout: {len(pred):,} scorable test rows with {int(y.sum())} churned; "
                                    "need churners and stayers")
    rows = {("logit", "auc"): roc_auc(y, pred["probability"]), ("logit", "brier"): brier_score(y, pred["probability"]),
            ("cox", "c_index"): concordance_index(pred["duration_days"], pred["event"], pred["risk"])}
    metrics = pd.DataFrame([{"model": k[0], "metric": k[1], **v.drop(["reference", "pairs"], errors="ignore")}
                            for k, v in rows.items()])
    return ChurnHoldout(metrics, calibration_table(y, pred["probability"], bins), pred, logit, cox)


def split_instants(as_of: Any, horizon: Any, periods: int) -> list[pd.Timestamp]:
    """``as_of - k * horizon`` for ``k = periods .. 0`` (oldest first), UTC.

    Examples
    --------
    >>> [str(t.date()) for t in split_instants("2026-10-01", "1M", 2)]
    ['2026-08-01', '2026-09-01', '2026-10-01']
    """
    step = window_offset(horizon)
    base = pd.Timestamp(as_of)
    base = base.tz_localize("UTC") if base.tzinfo is None else base
    return [(base - step * k).tz_convert("UTC") for k in range(periods, -1, -1)]


def churn_holdout(ds: Dataset, as_of: Any, horizon: str = "1M", lookback: str = "3M", train_periods: int = 12,
                  drivers: Iterable[str] | None = None, controls: Iterable[str] = ("tenure_years", "segment"),
                  units: Mapping[str, float | str] | None = None, bins: int = 10) -> ChurnHoldout:
    """Fit churn models on ``train_periods`` earlier windows, judge them on the window after ``as_of``.

    Parameters
    ----------
    ds : Dataset
        Needs outcomes up to ``as_of + horizon``.
    as_of : timestamp
        Start of the holdout window; training windows end at or before it (module docstring).
    horizon, lookback : str
        Outcome window and feature lookback (``customer_features``).
    drivers, units : optional
        Default :func:`slm_lib.models.churn.default_churn_drivers`.
    controls : sequence of str

    Returns
    -------
    ChurnHoldout

    Examples
    --------
    >>> import slm_lib.synth as synth
    >>> ho = churn_holdout(synth.generate(customers=1500, months=14, seed=3), "2025-11-01", train_periods=9)
    >>> ho.metrics["metric"].tolist()
    ['auc', 'brier', 'c_index']
    """
    if drivers is None:
        drivers, default_units = default_churn_drivers(ds)
        units = default_units if units is None else units
    panel = customer_features(ds, split_instants(as_of, horizon, train_periods), lookback=lookback, horizon=horizon)
    last = panel["as_of"] == panel["as_of"].max()
    return evaluate_churn(panel.loc[~last], panel.loc[last], drivers, controls, units, bins)
