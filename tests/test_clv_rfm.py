"""Tests of slm_lib.clv.rfm (rfm_summary, validate_rfm) and slm_lib.features.historical_clv."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from slm_lib.features import historical_clv
from slm_lib.clv.rfm import purchase_rfm, rfm_summary, validate_rfm
from slm_lib.errors import DataValidationError

DATA = Path(__file__).parent / "data"


def cdnow() -> pd.DataFrame:
    """CDNOW sample purchases with the master id as customer id."""
    tx = pd.read_csv(DATA / "CDNOW_sample.txt", sep=r"\s+", header=None,
                     names=["customer", "id", "date", "cds", "dollars"], dtype={"id": str, "date": str})
    return tx.assign(date=pd.to_datetime(tx["date"], format="%Y%m%d"))


def test_hand_example_same_day_counts_once():
    tx = pd.DataFrame({
        "customer_id": ["a", "a", "a", "a", "b", "c"],
        "paid_at": ["2024-01-01 09:00", "2024-01-01 18:00", "2024-01-08", "2024-01-22", "2024-01-15", "2024-02-10"],
        "amount": [10.0, 5.0, 20.0, 40.0, 7.0, 3.0],
    })
    out = rfm_summary(tx, observation_end="2024-01-29")
    assert list(out.index) == ["a", "b"]                         # c first buys after the end
    a, b = out.loc["a"], out.loc["b"]
    assert a["frequency"] == 2                                     # Jan 1 counts once
    assert a["recency"] == pytest.approx(3.0)                      # 21 days / 7
    assert a["T"] == pytest.approx(4.0)                            # 28 days / 7
    assert a["monetary_value"] == pytest.approx(30.0)              # (20 + 40) / 2, first day excluded
    assert (b["frequency"], b["recency"], b["monetary_value"]) == (0, 0.0, 0.0)
    assert b["T"] == pytest.approx(2.0)
    days = rfm_summary(tx, observation_end="2024-01-29", time_unit="D")
    assert days.loc["a", "T"] == 28 and days.loc["a", "recency"] == 21


def test_observation_end_day_is_included_and_utc_input_works():
    tx = pd.DataFrame({"customer_id": ["a", "a", "a"],
                       "paid_at": pd.to_datetime(["2024-01-01", "2024-01-29 23:30", "2024-01-30"],
                                                 utc=True, format="ISO8601"),
                       "amount": [1.0, 2.0, 4.0]})
    out = rfm_summary(tx, observation_end="2024-01-29")
    assert out.loc["a", "frequency"] == 1
    assert out.loc["a", "monetary_value"] == 2.0
    # a time-zone aware end is converted to UTC before taking its day
    tokyo = rfm_summary(tx, observation_end=pd.Timestamp("2024-01-30 08:00", tz="Asia/Tokyo"))
    assert tokyo.loc["a", "frequency"] == 1


def test_cdnow_sample_reproduces_published_summary():
    out = rfm_summary(cdnow(), "id", "date", "dollars", observation_end="1997-09-30")
    assert len(out) == 2357
    assert out["frequency"].sum() == 2457
    assert (out["frequency"] > 0).sum() == 946
    ref = pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv")
    np.testing.assert_array_equal(out["frequency"].to_numpy(), ref["x"].to_numpy())
    # the published file is rounded to 2 decimals
    np.testing.assert_allclose(out["recency"].to_numpy(), ref["t_x"].to_numpy(), atol=0.0051)
    np.testing.assert_allclose(out["T"].to_numpy(), ref["T"].to_numpy(), atol=0.0051)
    np.testing.assert_allclose(out["monetary_value"].to_numpy(), ref["zbar"].to_numpy(), atol=0.0051)
    # one day earlier loses the 13 repeat purchases of 1997-09-30
    assert rfm_summary(cdnow(), "id", "date", "dollars", observation_end="1997-09-29")["frequency"].sum() == 2444


def test_bad_inputs_name_the_argument():
    tx = pd.DataFrame({"customer_id": ["a"], "paid_at": ["2024-01-01"], "amount": [1.0]})
    with pytest.raises(DataValidationError, match="time_unit"):
        rfm_summary(tx, observation_end="2024-02-01", time_unit="fortnight")
    with pytest.raises(DataValidationError, match="paid"):
        rfm_summary(tx.rename(columns={"paid_at": "when"}), observation_end="2024-02-01")
    with pytest.raises(DataValidationError, match="paid_at.*unparseable"):
        rfm_summary(tx.assign(paid_at=[None]), observation_end="2024-02-01")


@pytest.mark.parametrize("freq, rec, T, name", [
    ([1, 2], [-1.0, 3.0], [5.0, 5.0], "recency: must be >= 0"),
    ([1, 2], [6.0, 3.0], [5.0, 5.0], "recency: must not exceed T"),
    ([1.5, 2], [1.0, 3.0], [5.0, 5.0], "frequency: must be a non-negative integer"),
    ([-1, 2], [1.0, 3.0], [5.0, 5.0], "frequency: must be a non-negative integer"),
    ([0, 2], [1.0, 3.0], [5.0, 5.0], "recency: must be 0 where frequency is 0"),
    ([1, 2], [1.0, 3.0], [0.0, 5.0], "T: must be > 0"),
    ([1, 2], [1.0, np.nan], [5.0, 5.0], "recency: missing"),
    ([1, 2], [1.0], [5.0, 5.0], "lengths differ"),
])
def test_validate_rfm_errors(freq, rec, T, name):
    with pytest.raises(DataValidationError, match=name):
        validate_rfm(freq, rec, T)


def test_historical_clv_inclusive_nets_refunds_and_reindexes():
    rev = pd.DataFrame({
        "customer_id": ["a", "a", "b", "a", "b"],
        "paid_at": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01 12:00", "2024-03-02", "2024-03-01 12:00:01"],
                                  utc=True, format="ISO8601"),
        "amount": [10.0, -2.5, 7.0, 99.0, 50.0],
    })
    out = historical_clv(rev, pd.Timestamp("2024-03-01 12:00", tz="UTC"), customers=["b", "a", "z"])
    assert out.to_dict() == {"a": 7.5, "b": 7.0, "z": 0.0}
    assert out.name == "historical_clv"
    # a naive as_of is UTC; without customers= only payers appear
    assert historical_clv(rev, "2024-01-15").to_dict() == {"a": 10.0}
    assert historical_clv(rev, "2030-01-01").sum() == pytest.approx(rev["amount"].sum())
    with pytest.raises(DataValidationError, match="amount"):
        historical_clv(rev.drop(columns="amount"), "2024-01-15")


def test_historical_clv_ignores_everything_after_as_of():
    rng = np.random.default_rng(3)
    rev = pd.DataFrame({"customer_id": rng.choice(list("abcde"), 200),
                        "paid_at": pd.Timestamp("2024-01-01", tz="UTC")
                        + pd.to_timedelta(rng.integers(0, 365, 200), "D"),
                        "amount": rng.normal(50, 20, 200)})
    as_of = pd.Timestamp("2024-06-30", tz="UTC")
    before = historical_clv(rev, as_of)
    later = rev["paid_at"] > as_of
    changed = rev.assign(amount=rev["amount"].where(~later, 1e6))
    pd.testing.assert_series_equal(historical_clv(changed, as_of), before)
    expected = rev[~later].groupby("customer_id")["amount"].sum()
    np.testing.assert_allclose(before.to_numpy(), expected.to_numpy())


# ----------------------------------------------------------------------------- purchase_rfm (a data set's purchases)
def test_purchase_rfm_keeps_positive_payments_of_the_window_and_customers():
    from slm_lib.io.dataset import Dataset
    ts = lambda *s: pd.to_datetime(list(s), utc=True)  # noqa: E731
    pay = pd.DataFrame({"customer_id": ["a", "a", "a", "b", "c", "a"], "amount": [5.0, -5.0, 8.0, 7.0, 2.0, 4.0],
                        "paid_at": ts("2024-01-01", "2024-01-03", "2024-01-08", "2024-01-09", "2024-01-10",
                                      "2024-01-15")})
    ds = Dataset(revenue=pay)
    got = purchase_rfm(ds, start=pd.Timestamp("2024-01-01", tz="UTC"), end=pd.Timestamp("2024-01-15", tz="UTC"),
                       customers=["a", "b"], time_unit="D")
    assert got.to_dict("index") == {"a": {"frequency": 1, "recency": 7.0, "T": 8.0, "monetary_value": 8.0},
                                    "b": {"frequency": 0, "recency": 0.0, "T": 0.0, "monetary_value": 0.0}}
    empty = purchase_rfm(ds, start=pd.Timestamp("2024-02-01", tz="UTC"))
    assert empty.empty and list(empty.columns) == list(got.columns) and empty.index.name == "customer_id"


def test_engine_purchase_rfm_equals_pandas_on_the_samples():
    from slm_lib.engines import open_dataset
    from slm_lib.engines.dataset import CORE_TABLES
    from slm_lib.io.load import load_data
    lazy, ds = open_dataset("data_samples", tables=CORE_TABLES), load_data("data_samples", tables=CORE_TABLES)
    start, end = pd.Timestamp("2025-06-01T10:00", tz="UTC"), pd.Timestamp("2026-02-01", tz="UTC")
    some = sorted(ds.customers["customer_id"])[::3]
    for kwargs in ({"end": end, "observation_end": end - pd.Timedelta(1, "ns")},
                   {"start": start, "customers": some, "time_unit": "D"}, {"start": start, "end": end}):
        expected = purchase_rfm(ds, **kwargs)
        assert expected["frequency"].gt(0).sum() > 100
        pd.testing.assert_frame_equal(purchase_rfm(lazy, **kwargs), expected, rtol=1e-9, atol=1e-9)
    assert purchase_rfm(lazy, start=pd.Timestamp("2030-01-01", tz="UTC")).empty
    assert purchase_rfm(open_dataset("data_samples", tables=("tickets",))).empty   # no revenue table
