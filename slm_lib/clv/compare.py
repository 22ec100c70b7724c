"""Which repeat-purchase model forecasts best: BG/NBD, Pareto/NBD and MBG/NBD side by side.

:func:`compare_clv_models` fits each model on the calibration columns of a
:func:`slm_lib.clv.holdout.calibration_holdout_split` and scores it twice: by its fit to the
calibration data (log-likelihood, AIC, BIC) and by its forecast of each customer's holdout
purchases (:func:`slm_lib.clv.holdout.holdout_errors`: total error, MAE, RMSE). The mean
absolute error carries a 95% interval, and so does its paired difference from the best
model (the same customers, so the comparison is sharper than two separate intervals).
:func:`compare_clv_sentences` says the result in words.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import pandas as pd

from slm_lib.clv.bgnbd import BetaGeoModel
from slm_lib.clv.holdout import holdout_errors, holdout_predictions
from slm_lib.clv.mbgnbd import ModifiedBetaGeoModel
from slm_lib.clv.paretonbd import ParetoNBDModel
from slm_lib.errors import DataValidationError, ModelFitError
from slm_lib.stats import mean_from_values
from slm_lib.wording import format_estimate, format_number, interval_decimals, is_clear

#: Models :func:`compare_clv_models` knows, by the name it takes.
MODELS: dict[str, type] = {"bgnbd": BetaGeoModel, "pareto_nbd": ParetoNBDModel, "mbgnbd": ModifiedBetaGeoModel}

#: Columns that rank models, and whether higher is better.
RANKABLE = {"mae_per_customer": False, "rmse_per_customer": False, "abs_total_error_pct": False,
            "aic": False, "bic": False, "log_likelihood": True}

_COLUMNS = ["rank", "model", "label", "n_customers", "n_params", "log_likelihood", "aic", "bic",
            "actual_total", "predicted_total", "total_error_pct", "mae_per_customer", "mae_ci_low",
            "mae_ci_high", "mae_diff", "mae_diff_low", "mae_diff_high", "rmse_per_customer",
            "correlation", "note"]


def _score(name: str, split: pd.DataFrame) -> tuple[dict[str, Any], np.ndarray | None]:
    """One model's row of the table and its per-customer absolute errors (None if the fit failed)."""
    cls = MODELS[name]
    row: dict[str, Any] = {"model": name, "label": cls.name, "n_customers": len(split),
                           "n_params": len(cls.param_names), "note": ""}
    try:
        model = cls().fit(split["frequency_cal"], split["recency_cal"], split["T_cal"])
    except ModelFitError as exc:
        row["note"] = str(exc)
        return row, None
    k, n, ll = row["n_params"], len(split), model.log_likelihood_
    row.update(log_likelihood=ll, aic=2 * k - 2 * ll, bic=k * np.log(n) - 2 * ll)
    row.update(holdout_errors(split, model).set_index("metric")["value"].drop("n_customers").to_dict())
    err = np.abs(holdout_predictions(split, model) - split["frequency_holdout"].to_numpy(dtype=float))
    _, row["mae_ci_low"], row["mae_ci_high"], _ = (float(v) for v in mean_from_values(err))
    return row, err


def compare_clv_models(split: pd.DataFrame, models: Sequence[str] = ("bgnbd", "pareto_nbd", "mbgnbd"),
                       rank_by: str = "mae_per_customer") -> pd.DataFrame:
    """Fit several repeat-purchase models on a calibration period and rank them on the holdout.

    Parameters
    ----------
    split : pandas.DataFrame
        Output of :func:`slm_lib.clv.holdout.calibration_holdout_split` (columns
        ``frequency_cal, recency_cal, T_cal, frequency_holdout, duration_holdout``).
    models : sequence of str, default ("bgnbd", "pareto_nbd", "mbgnbd")
        Names from :data:`MODELS`.
    rank_by : str, default "mae_per_customer"
        One of :data:`RANKABLE` (``abs_total_error_pct``: the aggregate forecast error,
        either sign).

    Returns
    -------
    pandas.DataFrame
        One row per model, best first: ``rank, model, label, n_customers, n_params,
        log_likelihood, aic, bic`` (calibration fit, lower AIC/BIC better),
        ``actual_total, predicted_total, total_error_pct`` (holdout purchases, all
        customers), ``mae_per_customer`` with ``mae_ci_low, mae_ci_high`` (95%),
        ``mae_diff, mae_diff_low, mae_diff_high`` (paired difference in absolute error from
        the top model, 95%), ``rmse_per_customer, correlation`` and ``note`` (why a model
        could not be fitted; its numbers are then NaN and it ranks last).

    Raises
    ------
    DataValidationError
        Unknown model names or ``rank_by``, missing columns, or no customers.

    Examples
    --------
    >>> split = pd.DataFrame({"frequency_cal": [0, 1, 3, 0, 2, 5] * 50,
    ...                       "recency_cal": [0.0, 10.0, 30.0, 0.0, 20.0, 35.0] * 50, "T_cal": 39.0,
    ...                       "frequency_holdout": [0, 1, 2, 1, 0, 4] * 50, "duration_holdout": 39.0})
    >>> table = compare_clv_models(split, models=("bgnbd", "mbgnbd"))
    >>> table["model"].tolist() == table.sort_values("mae_per_customer")["model"].tolist()
    True
    """
    unknown = [m for m in models if m not in MODELS]
    if unknown or not models:
        raise DataValidationError(f"models: {unknown or 'none given'}; choose from {sorted(MODELS)}")
    if rank_by not in RANKABLE:
        raise DataValidationError(f"rank_by: {rank_by!r} is not one of {sorted(RANKABLE)}")
    need = ["frequency_cal", "recency_cal", "T_cal", "frequency_holdout", "duration_holdout"]
    missing = [c for c in need if c not in split]
    if missing:
        raise DataValidationError(f"split: column(s) {missing} not found; use calibration_holdout_split")
    if len(split) == 0:
        raise DataValidationError("split: no customers to compare the models on")
    scored = [_score(name, split) for name in dict.fromkeys(models)]
    table = pd.DataFrame([row for row, _ in scored]).reindex(columns=_COLUMNS)
    table["abs_total_error_pct"] = table["total_error_pct"].abs()
    order = table[rank_by].rank(ascending=not RANKABLE[rank_by], method="min", na_option="bottom")
    table["rank"] = order.astype(int)
    best = int(order.to_numpy().argmin())
    errors = [err for _, err in scored]
    for i, err in enumerate(errors):
        if err is not None and errors[best] is not None:
            diff = mean_from_values(err - errors[best])
            table.loc[i, ["mae_diff", "mae_diff_low", "mae_diff_high"]] = [float(v) for v in diff[:3]]
    return table.sort_values(["rank", "model"]).drop(columns="abs_total_error_pct").reset_index(drop=True)


def compare_clv_sentences(table: pd.DataFrame) -> list[str]:
    """Plain-words reading of :func:`compare_clv_models`: the best forecaster, how clear its lead
    is, and which model fits the calibration data best.

    Examples
    --------
    >>> t = pd.DataFrame({"rank": [1, 2], "label": ["Pareto/NBD", "BG/NBD"], "n_customers": [2357, 2357],
    ...                   "actual_total": [1788.0, 1788.0], "predicted_total": [1700.0, 1820.0],
    ...                   "total_error_pct": [-4.9, 1.8], "mae_per_customer": [0.621, 0.628],
    ...                   "mae_ci_low": [0.57, 0.58], "mae_ci_high": [0.67, 0.68], "mae_diff": [0.0, 0.007],
    ...                   "mae_diff_low": [0.0, -0.002], "mae_diff_high": [0.0, 0.016],
    ...                   "bic": [19221.0, 19195.9], "note": ["", ""]})
    >>> compare_clv_sentences(t)[1]
    'BG/NBD: 0.63 (95% CI 0.58 to 0.68), total forecast +1.8%; no clear difference from Pareto/NBD in absolute error per customer (+0.007, 95% CI -0.002 to +0.016).'
    """
    fitted = table[table["note"].fillna("") == ""]
    out = []
    for i, r in enumerate(fitted.to_dict("records")):
        mae = format_estimate(r["mae_per_customer"], r["mae_ci_low"], r["mae_ci_high"], signed=False)
        pct = f"{format_number(r['total_error_pct'], 1, signed=True)}%"
        if i == 0:
            d = interval_decimals(0.0, r["actual_total"] / 10)
            out.append(f"{r['label']} forecasts the holdout best: its forecast of each customer's purchases "
                       f"is off by {mae} on average over {r['n_customers']:,} customers; in total it predicts {format_number(r['predicted_total'], d)} "
                       f"purchases against {format_number(r['actual_total'], d)} made ({pct}).")
            continue
        diff = format_estimate(r["mae_diff"], r["mae_diff_low"], r["mae_diff_high"]).replace(" (95% CI", ", 95% CI")
        clear = is_clear(r["mae_diff_low"], r["mae_diff_high"])
        verdict = "clearly worse than" if clear and r["mae_diff"] > 0 else "no clear difference from"
        out.append(f"{r['label']}: {mae}, total forecast {pct}; {verdict} {fitted['label'].iloc[0]} in absolute error "
                   f"per customer ({diff}.")
    if len(fitted) > 1:
        by_bic = fitted.sort_values("bic")
        gaps = ", ".join(f"{lbl} +{gap:,.1f}" for lbl, gap in zip(by_bic["label"].iloc[1:],
                                                                 by_bic["bic"].iloc[1:] - by_bic["bic"].iloc[0]))
        out.append(f"On the calibration data {by_bic['label'].iloc[0]} fits best (lowest BIC; {gaps}).")
    for r in table[table["note"].fillna("") != ""].to_dict("records"):
        out.append(f"{r['label']} could not be fitted: {r['note']}")
    return out
