"""Service experience in the CLV models from a Dataset: data assembly by hand, planted drop-out effect recovered."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from slm_lib.clv.service import (churn_data, dropout_data, dropout_sentences, service_churn, service_dropout)
from slm_lib.errors import InsufficientDataError
from slm_lib.io.dataset import Dataset
from slm_lib.synth import generate

AS_OF = pd.Timestamp("2025-01-01", tz="UTC")


def utc(*values):
    return pd.to_datetime(list(values), utc=True)


def _customers(ids, signup, churned):
    return pd.DataFrame({"customer_id": pd.array(ids, dtype="string"), "signup_at": utc(*signup),
                         "segment": pd.array(["smb"] * len(ids), dtype="string"),
                         "region": pd.array([None] * len(ids), dtype="string"), "churned_at": utc(*churned)})


def test_churn_data_counts_renewals_from_the_signup_month_left_truncated_at_as_of():
    c = _customers(["a", "b", "c"], ["2024-03-10", "2024-11-20", "2024-06-01"],
                   ["2025-02-14", None, "2024-12-05"])          # c left before as_of: not followed
    out = churn_data(Dataset(customers=c), AS_OF, horizon="3M").set_index("customer_id")
    assert out.index.tolist() == ["a", "b"]
    # a: signup month 2024-03, as_of month 2025-01 -> 10 renewals made; churned in 2025-02 -> 11, churned
    assert out.loc["a", ["entered", "renewals", "churned"]].tolist() == [10, 11, True]
    # b: 2024-11 -> entered 2; still a customer at 2025-04-01 -> censored at 5 renewals
    assert out.loc["b", ["entered", "renewals", "churned"]].tolist() == [2, 5, False]


def _simulated_base(n, gamma_per_10h, rng):
    """Customers active at AS_OF with one ticket before it (FRT planted) and BG/NBD purchases after it (days)."""
    ids = [f"C{i:05d}" for i in range(n)]
    frt = rng.gamma(2.0, 10.0, n)                                        # hours, mean 20 h
    created = AS_OF - pd.to_timedelta(rng.uniform(5, 60, n), unit="D")
    tickets = pd.DataFrame({
        "ticket_id": pd.array([f"T{i}" for i in range(n)], dtype="string"),
        "customer_id": pd.array(ids, dtype="string"), "created_at": created,
        "first_response_at": created + pd.to_timedelta(frt, unit="h"), "resolved_at": utc(*[None] * n),
        "priority": pd.array(["normal"] * n, dtype="string"), "reopens": 0})
    weeks = 39.0
    lam = rng.gamma(0.6, 1.0 / 4.0, n)                                   # r = 0.6, alpha = 4 (per week)
    p = rng.beta(0.8 * np.exp(gamma_per_10h * frt / 10), 2.5)
    rows = []
    for i in range(n):                                                  # first purchase at AS_OF + s days
        t, s = 0.0, rng.uniform(0, 7)
        days = [s]
        while True:
            t += rng.exponential(1.0 / lam[i])
            if t > weeks:
                break
            days.append(s + 7 * t)
            if rng.random() < p[i]:
                break
        rows += [(ids[i], d) for d in days]
    pay = pd.DataFrame(rows, columns=["customer_id", "day"])
    revenue = pd.DataFrame({"customer_id": pd.array(pay["customer_id"], dtype="string"),
                            "paid_at": AS_OF + pd.to_timedelta(pay["day"], unit="D"), "amount": 10.0,
                            "order_id": pd.array([f"O{i}" for i in range(len(pay))], dtype="string")})
    return Dataset(customers=_customers(ids, ["2024-01-01"] * n, [None] * n), tickets=tickets, revenue=revenue)


def test_service_dropout_recovers_a_planted_frt_effect_from_a_dataset():
    ds = _simulated_base(3_000, 0.5, np.random.default_rng(8))
    end = AS_OF + pd.Timedelta(days=7 * 39 + 7)
    data = dropout_data(ds, AS_OF, observation_end=end)
    assert len(data) == 3_000 and data["median_frt_h"].notna().all()
    model = service_dropout(ds, ["median_frt_h"], AS_OF, observation_end=end, units={"median_frt_h": 10})
    s = model.summary.set_index("parameter")
    assert s.loc["a:median_frt_h", "ci_low"] < 0.5 < s.loc["a:median_frt_h", "ci_high"]
    assert s.loc["b:median_frt_h", "ci_low"] < 0 < s.loc["b:median_frt_h", "ci_high"]
    effect = model.dropout_effects.iloc[0]
    assert effect["ci_low"] < np.exp(0.5) < effect["ci_high"] and effect["ci_low"] > 1
    assert dropout_sentences(model)[0].startswith(
        "Each +10 h of median first response multiplies the odds of dropping out after a purchase by")


def test_dropout_data_needs_purchases_after_as_of():
    c = _customers(["a"], ["2024-01-01"], [None])
    rev = pd.DataFrame({"customer_id": pd.array(["a"], dtype="string"), "paid_at": utc("2024-06-01"),
                        "amount": [5.0], "order_id": pd.array(["o"], dtype="string")})
    with pytest.raises(InsufficientDataError, match="paid after it"):
        dropout_data(Dataset(customers=c, revenue=rev), AS_OF)


def test_service_churn_on_synthetic_data_reads_the_planted_direction():
    ds = generate(customers=2_000, months=12, seed=3)
    model = service_churn(ds, ["sla_breach_share"], "2025-05-01", horizon="6M")
    eff = model.churn_effects.iloc[0]
    assert eff["n"] + model.n_dropped_ == len(model.data_) and eff["events"] == int(
        model.data_.dropna(subset=["sla_breach_share"])["churned"].sum())
    assert eff["odds_ratio"] > 1          # planted: +1.0 on the logit per share 0 -> 1


# ----------------------------------------------------------------------------- on an engine (DuckDB)
@pytest.fixture(scope="module")
def samples():
    from slm_lib.engines import open_dataset
    from slm_lib.engines.dataset import CORE_TABLES
    from slm_lib.io.load import load_data
    return open_dataset("data_samples", tables=CORE_TABLES), load_data("data_samples", tables=CORE_TABLES)


@pytest.mark.parametrize("as_of, horizon, end", [("2026-04-01", "6M", None), ("2025-09-15T08:00", "3M", "2026-03-31")])
def test_engine_churn_and_dropout_data_equal_pandas_on_the_samples(samples, as_of, horizon, end):
    lazy, ds = samples
    expected = churn_data(ds, as_of, horizon=horizon)
    pd.testing.assert_frame_equal(churn_data(lazy, as_of, horizon=horizon), expected, rtol=1e-9, atol=1e-9)
    assert expected["churned"].any() and (expected["entered"] < expected["renewals"]).any()
    expected = dropout_data(ds, as_of, observation_end=end)
    pd.testing.assert_frame_equal(dropout_data(lazy, as_of, observation_end=end), expected, rtol=1e-9, atol=1e-9)
    assert expected["frequency"].gt(0).any() and expected["median_frt_h"].notna().any()


def test_engine_service_churn_fits_the_same_model(samples):
    lazy, ds = samples
    args = (["median_frt_h", "sla_breach_share"], "2026-04-01")
    expected = service_churn(ds, *args, units={"median_frt_h": 10})
    pd.testing.assert_frame_equal(service_churn(lazy, *args, units={"median_frt_h": 10}).churn_effects,
                                  expected.churn_effects, rtol=1e-9, atol=1e-9)
    assert expected.churn_effects["n"].gt(100).all()
