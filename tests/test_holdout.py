"""Tests of the calibration/holdout validation (slm_lib.clv.holdout) on CDNOW."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from slm_lib.clv.bgnbd import BetaGeoModel
from slm_lib.clv.holdout import (calibration_holdout_split, conditional_expectations, holdout_errors,
                                 purchase_tracking)
from slm_lib.errors import DataValidationError

DATA = Path(__file__).parent / "data"
CAL, OBS = "1997-09-30", "1998-06-30"


@pytest.fixture(scope="module")
def tx() -> pd.DataFrame:
    raw = pd.read_csv(DATA / "CDNOW_sample.txt", sep=r"\s+", header=None,
                      names=["customer", "id", "date", "cds", "dollars"], dtype={"id": str, "date": str})
    return raw.assign(date=pd.to_datetime(raw["date"], format="%Y%m%d"))


@pytest.fixture(scope="module")
def split(tx) -> pd.DataFrame:
    return calibration_holdout_split(tx, "id", "date", "dollars", calibration_end=CAL, observation_end=OBS)


@pytest.fixture(scope="module")
def bg(split) -> BetaGeoModel:
    return BetaGeoModel().fit(split["frequency_cal"], split["recency_cal"], split["T_cal"])


def test_split_counts_equal_a_direct_pandas_computation(tx, split):
    cal = tx[tx["date"] <= CAL]
    hold = tx[(tx["date"] > CAL) & (tx["date"] <= OBS)]
    ids = cal["id"].unique()
    freq_cal = cal.groupby("id")["date"].nunique() - 1
    freq_hold = hold.groupby("id")["date"].nunique().reindex(ids, fill_value=0)
    first = cal.groupby("id")["date"].min()
    assert len(split) == len(ids) == 2357
    pd.testing.assert_series_equal(split["frequency_cal"], freq_cal.reindex(split.index), check_names=False)
    pd.testing.assert_series_equal(split["frequency_holdout"], freq_hold.reindex(split.index), check_names=False)
    np.testing.assert_allclose(split["T_cal"], (pd.Timestamp(CAL) - first.reindex(split.index)).dt.days / 7)
    assert split["frequency_cal"].sum() == 2457
    assert split["frequency_holdout"].sum() == 1882
    assert (split["duration_holdout"] == 39.0).all()
    spend = hold.groupby(["id", "date"])["dollars"].sum().groupby("id").mean()
    np.testing.assert_allclose(split.loc[spend.index, "monetary_value_holdout"], spend)


def test_split_hand_example_and_errors():
    tx = pd.DataFrame({"customer_id": ["a", "a", "a", "a", "b", "c"],
                       "paid_at": ["2024-01-01", "2024-01-08", "2024-02-05", "2024-02-05", "2024-02-01", "2024-01-03"],
                       "amount": [10.0, 5.0, 20.0, 4.0, 7.0, 1.0]})
    split = calibration_holdout_split(tx, calibration_end="2024-01-28", observation_end="2024-02-25")
    assert list(split.index) == ["a", "c"]                         # b first buys in the holdout
    assert split.loc["a", "frequency_holdout"] == 1                # two purchases on one day count once
    assert split.loc["a", "monetary_value_holdout"] == 24.0
    assert split.loc["c", "frequency_holdout"] == 0
    with pytest.raises(DataValidationError, match="observation_end .* must be after calibration_end"):
        calibration_holdout_split(tx, calibration_end="2024-01-28", observation_end="2024-01-28")


def test_tracking_actuals_and_predictions(tx, split, bg):
    track = purchase_tracking(tx, bg, "id", "date", calibration_end=CAL, observation_end=OBS)
    assert len(track) == 78
    assert (track["sample"] == "calibration").sum() == 39
    assert track["period_start"].iloc[0] == pd.Timestamp("1997-01-01")
    cal_rows = track[track["sample"] == "calibration"]
    assert cal_rows["actual"].sum() == 2457
    assert track["actual"].sum() - cal_rows["actual"].sum() == 1882
    assert track["actual_cumulative"].iloc[-1] == 4339
    # predicted cumulative at the end of week 78 = sum of E[X(age)] over customers, computed directly
    first = tx.groupby("id")["date"].min()
    age_weeks = ((pd.Timestamp(OBS) - first).dt.days + 1) / 7
    direct = bg.expected_purchases(age_weeks.to_numpy()).sum()
    assert track["predicted_cumulative"].iloc[-1] == pytest.approx(direct, rel=1e-9)
    assert np.all(np.diff(track["predicted_cumulative"]) > 0)
    # weekly actual counts equal a direct count of repeat purchase days
    days = tx.drop_duplicates(["id", "date"])
    repeat = days[days["date"] > days["id"].map(first)]
    week = (repeat["date"] - pd.Timestamp("1997-01-01")).dt.days // 7 + 1
    np.testing.assert_array_equal(track["actual"], week.value_counts().reindex(range(1, 79), fill_value=0))


def test_conditional_expectations_by_calibration_frequency(split, bg):
    table = conditional_expectations(split, bg)
    assert table["frequency_cal"].tolist() == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert table["n"].sum() == 2357
    groups = split["frequency_cal"].clip(upper=7)
    np.testing.assert_allclose(table["actual"], split.groupby(groups)["frequency_holdout"].mean())
    zero = split[split["frequency_cal"] == 0]
    assert table.loc[0, "predicted"] == pytest.approx(
        bg.expected_purchases(39.0, zero["frequency_cal"], zero["recency_cal"], zero["T_cal"]).mean())
    assert np.all(np.diff(table["predicted"]) > 0)


def test_holdout_error_metrics(split, bg):
    metrics = holdout_errors(split, bg).set_index("metric")["value"]
    predicted = bg.expected_purchases(39.0, split["frequency_cal"], split["recency_cal"], split["T_cal"])
    actual = split["frequency_holdout"]
    assert metrics["actual_total"] == 1882
    assert metrics["predicted_total"] == pytest.approx(predicted.sum())
    assert metrics["total_error_pct"] == pytest.approx(100 * (predicted.sum() - 1882) / 1882)
    assert metrics["mae_per_customer"] == pytest.approx((predicted - actual).abs().mean())
    assert metrics["n_customers"] == 2357
    assert -15 < metrics["total_error_pct"] < -10                  # BG/NBD under-forecasts CDNOW's holdout
    assert 0 < metrics["correlation"] < 1
