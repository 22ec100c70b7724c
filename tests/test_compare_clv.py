"""Tests of compare_clv_models and compare_clv_sentences (slm_lib.clv.compare)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from slm_lib.clv import compare
from slm_lib.clv.compare import compare_clv_models, compare_clv_sentences
from slm_lib.clv.holdout import calibration_holdout_split, holdout_errors
from slm_lib.clv.paretonbd import ParetoNBDModel
from slm_lib.errors import DataValidationError, ModelFitError

DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="module")
def split() -> pd.DataFrame:
    tx = pd.read_csv(DATA / "CDNOW_sample.txt", sep=r"\s+", header=None,
                     names=["customer", "id", "date", "cds", "dollars"], dtype={"id": str, "date": str})
    tx["date"] = pd.to_datetime(tx["date"], format="%Y%m%d")
    return calibration_holdout_split(tx, "id", "date", "dollars", calibration_end="1997-09-30",
                                     observation_end="1998-06-30")


@pytest.fixture(scope="module")
def table(split) -> pd.DataFrame:
    return compare_clv_models(split)


def test_table_on_cdnow(table, split):
    assert table["model"].tolist() == ["pareto_nbd", "mbgnbd", "bgnbd"]          # by holdout MAE
    assert table["rank"].tolist() == [1, 2, 3] and (table["note"] == "").all()
    assert table["mae_per_customer"].is_monotonic_increasing
    row = table.set_index("model")
    assert round(row.loc["bgnbd", "log_likelihood"], 1) == -9582.4          # the published fits
    assert round(row.loc["pareto_nbd", "log_likelihood"], 1) == -9595.0
    n, k = len(split), 4
    assert row["aic"].tolist() == pytest.approx((2 * k - 2 * row["log_likelihood"]).tolist())
    assert row["bic"].tolist() == pytest.approx((k * np.log(n) - 2 * row["log_likelihood"]).tolist())
    pn = ParetoNBDModel().fit(split["frequency_cal"], split["recency_cal"], split["T_cal"])
    errors = holdout_errors(split, pn).set_index("metric")["value"]
    for metric in ("actual_total", "predicted_total", "total_error_pct", "mae_per_customer", "rmse_per_customer"):
        assert row.loc["pareto_nbd", metric] == pytest.approx(errors[metric], rel=1e-9), metric
    # intervals: around the MAE; the paired difference from the best is the difference of the MAEs
    assert ((row["mae_ci_low"] < row["mae_per_customer"]) & (row["mae_per_customer"] < row["mae_ci_high"])).all()
    assert row["mae_diff"].tolist() == pytest.approx((row["mae_per_customer"] - row.loc["pareto_nbd", "mae_per_customer"]).tolist())
    assert row.loc["pareto_nbd", ["mae_diff", "mae_diff_low", "mae_diff_high"]].tolist() == [0.0, 0.0, 0.0]
    assert row.loc["bgnbd", "mae_diff_low"] > 0                               # clearly behind on these customers


def test_rank_by_other_columns(split):
    by_bic = compare_clv_models(split, rank_by="bic")
    assert by_bic["bic"].is_monotonic_increasing and by_bic["model"].iloc[0] == "mbgnbd"
    by_ll = compare_clv_models(split, models=("bgnbd", "pareto_nbd"), rank_by="log_likelihood")
    assert by_ll["model"].tolist() == ["bgnbd", "pareto_nbd"]


def test_sentences(table):
    text = compare_clv_sentences(table)
    assert text[0].startswith("Pareto/NBD forecasts the holdout best") and "2,357 customers" in text[0]
    assert text[1].startswith("MBG/NBD:") and "clearly worse than Pareto/NBD" in text[1]
    assert text[-1].startswith("On the calibration data MBG/NBD fits best (lowest BIC; BG/NBD +")


def test_a_model_that_cannot_be_fitted_is_kept_and_ranked_last(split, monkeypatch):
    class Broken(ParetoNBDModel):
        name = "Broken"

        def fit(self, *args, **kwargs):
            raise ModelFitError("Broken: the optimiser did not converge")

    monkeypatch.setitem(compare.MODELS, "broken", Broken)
    table = compare_clv_models(split, models=("broken", "bgnbd"))
    assert table["model"].tolist() == ["bgnbd", "broken"] and table["rank"].tolist() == [1, 2]
    assert np.isnan(table["mae_per_customer"].iloc[1]) and "did not converge" in table["note"].iloc[1]
    assert compare_clv_sentences(table)[-1] == "Broken could not be fitted: Broken: the optimiser did not converge"


def test_the_true_model_fits_best_on_its_own_data():
    # customers simulated from a Pareto/NBD (exponential lifetimes, no drop-out tied to purchases)
    rng = np.random.default_rng(42)
    n, T, hold = 4000, 52.0, 52.0
    lam, mu = rng.gamma(0.8, 1 / 6.0, n), rng.gamma(1.5, 1 / 20.0, n)
    death = rng.exponential(1 / mu)
    x = rng.poisson(lam * np.minimum(death, T)).astype(float)
    tx = np.where(x > 0, np.minimum(death, T) * rng.random(n) ** (1 / np.maximum(x, 1)), 0.0)
    split = pd.DataFrame({"frequency_cal": x, "recency_cal": tx, "T_cal": T, "duration_holdout": hold,
                          "frequency_holdout": rng.poisson(lam * np.clip(death - T, 0, hold))})
    table = compare_clv_models(split, rank_by="log_likelihood")
    assert table["model"].iloc[0] == "pareto_nbd"


@pytest.mark.parametrize("kwargs, match", [
    ({"models": ("bgnbd", "prophet")}, "models: \\['prophet'\\]"),
    ({"models": ()}, "models: none given"),
    ({"rank_by": "r2"}, "rank_by"),
])
def test_invalid_arguments_raise(split, kwargs, match):
    with pytest.raises(DataValidationError, match=match):
        compare_clv_models(split, **kwargs)


def test_missing_columns_and_empty_split_raise(split):
    with pytest.raises(DataValidationError, match="frequency_holdout"):
        compare_clv_models(split.drop(columns="frequency_holdout"))
    with pytest.raises(DataValidationError, match="no customers"):
        compare_clv_models(split.iloc[:0])
