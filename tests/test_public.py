"""Tests of slm_lib.io.public: CDNOW and IBM Telco readers and the Telco feature adapter."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slm_lib.clv.rfm import rfm_summary
from slm_lib.errors import DataValidationError
from slm_lib.io.public import TELCO_SERVICES, read_cdnow, read_telco, telco_features
from slm_lib.models.churn import churn_hazard_model, churn_model
from slm_lib.survival import logrank_test, survival_curves

PUBLIC = Path(__file__).resolve().parents[1] / "data_samples" / "public"
TELCO = PUBLIC / "telco_customer_churn.csv"
CDNOW = PUBLIC / "CDNOW_sample.txt"


@pytest.fixture(scope="module")
def telco() -> pd.DataFrame:
    return read_telco(TELCO)


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    return read_cdnow(CDNOW)


# --- Telco -------------------------------------------------------------------------------------

def test_telco_churn_rate_is_the_published_one(telco):
    assert len(telco) == 7043 and telco["customer_id"].is_unique
    assert int(telco["churned"].sum()) == 1869
    assert round(100 * telco["churned"].mean(), 1) == 26.5


def test_telco_churn_by_tech_support(telco):
    rates = (100 * telco.groupby("tech_support")["churned"].mean()).round(1).to_dict()
    assert rates == {"No": 41.6, "Yes": 15.2, "No internet service": 7.4}


def test_telco_blank_total_charges_kept_as_nan_all_tenure_zero(telco):
    blank = telco["total_charges"].isna()
    assert int(blank.sum()) == 11
    assert (telco.loc[blank, "tenure_months"] == 0).all()
    assert int((telco["tenure_months"] == 0).sum()) == 11      # and every tenure-0 customer is one of them


def test_telco_dtypes_and_values(telco):
    for col in ("senior", "partner", "dependents", "phone_service", "paperless_billing", "churned"):
        assert telco[col].dtype == bool, col
    assert telco["tenure_months"].dtype == np.int64
    assert telco["monthly_charges"].dtype == np.float64
    assert int(telco["senior"].sum()) == 1142
    assert telco["contract"].value_counts().to_dict() == {"Month-to-month": 3875, "Two year": 1695, "One year": 1473}
    # total charges of a billed customer are read as dollars: first row of the file
    assert telco.loc[0, ["customer_id", "monthly_charges", "total_charges"]].tolist() == ["7590-VHVEG", 29.85, 29.85]


def test_telco_features_columns_and_recoding(telco):
    f = telco_features(telco)
    assert len(f) == len(telco)
    assert (f["duration"] == telco["tenure_months"]).all()
    assert (f["event"] == telco["churned"].astype(int)).all()
    assert np.allclose(f["tenure_years"], telco["tenure_months"] / 12)
    for col in TELCO_SERVICES:
        assert set(f[col]) == {"yes", "no"}
        assert ((f[col] == "yes") == (telco[col] == "Yes")).all(), col
    assert set(f["senior"]) == {"yes", "no"} and int((f["senior"] == "yes").sum()) == 1142
    # no add-on is a linear copy of internet_service any more
    assert (f.loc[f["internet_service"] == "No", "tech_support"] == "no").all()


def test_telco_features_run_slm_models_unchanged(telco):
    f = telco_features(telco)
    refs = {"contract": "Month-to-month", "internet_service": "DSL", "tech_support": "no"}
    logit = churn_model(f, ["tech_support", "contract", "internet_service"], controls=["tenure_years"],
                        references=refs)
    assert logit.n == 7043 and logit.table["events"].iloc[0] == 1869
    row = logit.table.set_index("term").loc["tech_support[yes]"]
    assert row["effect"] < 1 and row["effect_ci_high"] < 1            # support customers churn less
    cox = churn_hazard_model(f, ["contract"], duration="duration", references=refs)
    two_year = cox.table.set_index("term").loc["contract[Two year]", "effect"]
    assert two_year < 0.1
    curves = survival_curves(f, group="contract")
    assert set(curves["group"]) == {"Month-to-month", "One year", "Two year"}
    assert curves.groupby("group")["n"].first().sum() == 7043
    assert logrank_test(f, "contract")["p_value"] < 1e-10


def test_telco_features_needs_read_telco_columns():
    with pytest.raises(DataValidationError, match="tenure_months"):
        telco_features(pd.DataFrame({"customer_id": ["a"], "churned": [True]}))


TELCO_HEADER = ("customerID,gender,SeniorCitizen,Partner,Dependents,tenure,PhoneService,MultipleLines,"
                "InternetService,OnlineSecurity,OnlineBackup,DeviceProtection,TechSupport,StreamingTV,"
                "StreamingMovies,Contract,PaperlessBilling,PaymentMethod,MonthlyCharges,TotalCharges,Churn")
TELCO_ROW = ("{id},Female,0,Yes,No,{tenure},No,No phone service,DSL,No,Yes,No,No,No,No,Month-to-month,Yes,"
             "Electronic check,29.85,{total},{churn}")


def _telco_file(tmp_path: Path, rows: list[dict]) -> Path:
    path = tmp_path / "telco.csv"
    path.write_text(TELCO_HEADER + "\n" + "\n".join(TELCO_ROW.format(**r) for r in rows) + "\n")
    return path


def test_telco_blank_total_with_tenure_is_an_error_naming_rows(tmp_path):
    path = _telco_file(tmp_path, [{"id": "a", "tenure": 0, "total": " ", "churn": "No"},
                                  {"id": "b", "tenure": 3, "total": " ", "churn": "No"}])
    with pytest.raises(DataValidationError) as err:
        read_telco(path)
    assert "TotalCharges" in str(err.value) and "rows 2" in str(err.value) and str(path) in str(err.value)


def test_telco_bad_values_and_duplicates_are_all_reported(tmp_path):
    path = _telco_file(tmp_path, [{"id": "a", "tenure": "x", "total": 1, "churn": "No"},
                                  {"id": "a", "tenure": 2, "total": 5, "churn": "Maybe"}])
    with pytest.raises(DataValidationError) as err:
        read_telco(path)
    rules = {(p.column, p.n_rows) for p in err.value.problems}
    assert rules == {("customerID", 2), ("tenure", 1), ("Churn", 1)}      # columns as the file names them


def test_telco_fractional_tenure_is_an_error(tmp_path):
    path = _telco_file(tmp_path, [{"id": "a", "tenure": "1.5", "total": 1, "churn": "No"}])
    with pytest.raises(DataValidationError, match="'tenure': not a whole number"):
        read_telco(path)


def test_telco_missing_column_and_missing_file(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("customerID,tenure\na,1\n")
    with pytest.raises(DataValidationError, match="Churn"):
        read_telco(path)
    with pytest.raises(DataValidationError, match="not found"):
        read_telco(tmp_path / "absent.csv")


# --- CDNOW -------------------------------------------------------------------------------------

def test_cdnow_sample_layout(cdnow):
    assert list(cdnow.columns) == ["customer_id", "sample_id", "date", "cds", "amount"]
    assert len(cdnow) == 6919
    assert cdnow["customer_id"].nunique() == 2357 and cdnow["sample_id"].nunique() == 2357
    assert cdnow["date"].min() == pd.Timestamp("1997-01-01") and cdnow["date"].max() == pd.Timestamp("1998-06-30")
    assert cdnow.iloc[0][["customer_id", "sample_id", "cds", "amount"]].tolist() == ["00004", "0001", 2, 29.33]


def test_cdnow_feeds_rfm_summary_with_published_counts(cdnow):
    rfm = rfm_summary(cdnow, date_col="date", observation_end="1997-09-30")
    assert len(rfm) == 2357
    assert int(rfm["frequency"].sum()) == 2457
    assert int((rfm["frequency"] > 0).sum()) == 946


def test_cdnow_master_layout_with_header(tmp_path):
    path = tmp_path / "master.txt"
    path.write_text(" customer_id  date number_of_cds  dollar_value\n 00001 19970101  1   11.77\n"
                    " 00002 19970112  1   12.00\n 00002 19970112  5   77.00\n")
    tx = read_cdnow(path)
    assert list(tx.columns) == ["customer_id", "date", "cds", "amount"]
    assert tx["customer_id"].tolist() == ["00001", "00002", "00002"]
    assert tx["cds"].tolist() == [1, 1, 5] and tx["amount"].sum() == pytest.approx(100.77)


def test_cdnow_errors_name_file_column_and_rows(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_text(" 00004 0001 19970101  2   29.33\n 00004 0001 19971399  2   x\n")
    with pytest.raises(DataValidationError) as err:
        read_cdnow(path)
    assert {(p.column, p.example_rows) for p in err.value.problems} == {("date", (2,)), ("amount", (2,))}
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("a b\n1 2\n")
    with pytest.raises(DataValidationError, match="expected 5 columns"):
        read_cdnow(wrong)
    empty = tmp_path / "empty.txt"
    empty.write_text("")
    with pytest.raises(DataValidationError, match="empty.txt"):
        read_cdnow(empty)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(1, 99999), st.dates(pd.Timestamp("1990-01-01").date(),
                                                          pd.Timestamp("2030-12-31").date()),
                          st.integers(0, 40), st.integers(0, 10**6)), min_size=1, max_size=30))
def test_cdnow_round_trip(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("cd") / "tx.txt"
    text = "".join(f" {c:05d} {i + 1:04d} {d:%Y%m%d} {n:3d} {cents / 100:9.2f}\n"
                   for i, (c, d, n, cents) in enumerate(lines))
    path.write_text(text)
    tx = read_cdnow(path)
    assert tx["customer_id"].tolist() == [f"{c:05d}" for c, *_ in lines]
    assert tx["date"].dt.date.tolist() == [d for _, d, _, _ in lines]
    assert tx["cds"].tolist() == [n for *_, n, _ in lines]
    assert np.allclose(tx["amount"], [cents / 100 for *_, cents in lines])
