"""Churn model evaluation: AUC and Harrell's C against brute-force pair counts, Brier, calibration, time-split
holdout, and Cox predicted survival curves (coverage of the truth on simulated data, invariants)."""
from __future__ import annotations

import functools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import slm_lib.synth as synth
from slm_lib.errors import DataValidationError
from slm_lib.models import (brier_score, calibration_table, churn_hazard_model, churn_holdout, concordance_index,
                            partial_effects, predicted_survival, roc_auc)


def brute_concordance(t, d, r):
    """Harrell's C and its infinitesimal-jackknife SE by looping over every pair."""
    n = len(t)
    num, den, total_num, total = np.zeros(n), np.zeros(n), 0.0, 0
    for i in range(n):
        for j in range(n):
            if i != j and d[i] and (t[i] < t[j] or (t[i] == t[j] and not d[j])):
                h = 1.0 if r[i] > r[j] else 0.5 if r[i] == r[j] else 0.0
                total_num, total = total_num + h, total + 1
                num[[i, j]] += h
                den[[i, j]] += 1
    c = total_num / total
    return c, float(np.sqrt(np.sum(((num - c * den) / total) ** 2))), total


def test_auc_hand_computed():
    # churners score 0.35, 0.8, 0.9; stayers 0.1, 0.2, 0.4: 8 of 9 pairs in order
    auc = roc_auc([0, 0, 1, 1, 0, 1], [0.1, 0.4, 0.35, 0.8, 0.2, 0.9])
    assert auc["value"] == pytest.approx(8 / 9)
    # DeLong by hand: V10 = (2/3, 1, 1), V01 = (1, 2/3, 1) ... per stayer: share of churners above
    v10, v01 = np.array([2 / 3, 1, 1]), np.array([1, 2 / 3, 1])
    assert auc["std_error"] ** 2 == pytest.approx(np.var(v10, ddof=1) / 3 + np.var(v01, ddof=1) / 3)
    assert auc["ci_low"] < auc["value"] <= auc["ci_high"] <= 1.0
    assert roc_auc([0, 1], [0.5, 0.5])["value"] == 0.5   # a tie counts half


def test_concordance_hand_computed():
    # pairs (1,2) (1,3) (1,4) (2,3) (2,4); only (2,3) is out of order: risk 0.5 < 0.7
    c = concordance_index([1, 2, 3, 4], [1, 1, 0, 1], [0.9, 0.5, 0.7, 0.1])
    assert c["value"] == pytest.approx(0.8) and c["pairs"] == 5 and c["events"] == 3


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.booleans(), st.integers(0, 3)), min_size=2, max_size=30))
def test_concordance_matches_brute_force(rows):
    t, d, r = (np.array(v, dtype=float) for v in zip(*rows))
    d = d.astype(bool)
    comparable = any(d[i] and (t[i] < t[j] or (t[i] == t[j] and not d[j]))
                     for i in range(len(t)) for j in range(len(t)) if i != j)
    if not comparable:
        with pytest.raises(DataValidationError, match="no comparable pair"):
            concordance_index(t, d, r)
        return
    c = concordance_index(t, d, r)
    value, se, pairs = brute_concordance(t, d, r)
    assert c["value"] == pytest.approx(value, abs=1e-12) and c["std_error"] == pytest.approx(se, abs=1e-12)
    assert c["pairs"] == pairs and 0 <= c["ci_low"] <= c["value"] <= c["ci_high"] <= 1


def test_concordance_on_binary_outcome_is_auc_with_delong_variance():
    rng = np.random.default_rng(1)
    y = rng.random(300) < 0.3
    s = rng.normal(size=300) + y
    auc, c = roc_auc(y, s), concordance_index(np.where(y, 0.0, 1.0), y, s)
    assert c["value"] == pytest.approx(auc["value"])
    m, k = y.sum(), (~y).sum()
    # the jackknife uses 1/m where DeLong uses 1/(m - 1): equal to within a few percent here
    assert c["std_error"] ** 2 == pytest.approx(auc["std_error"] ** 2, rel=3 / min(m, k))


def test_brier_and_calibration_hand_computed():
    b = brier_score([0, 1, 0, 1], [0.1, 0.8, 0.3, 0.6])
    assert b["value"] == pytest.approx((0.01 + 0.04 + 0.09 + 0.16) / 4) and b["reference"] == 0.25
    t = calibration_table([0, 0, 1, 0, 1, 1], [0.1, 0.2, 0.3, 0.6, 0.7, 0.9], bins=2)
    assert t["n"].tolist() == [3, 3] and t["events"].tolist() == [1, 2]
    assert t["predicted"].tolist() == pytest.approx([0.2, 2.2 / 3])
    assert (t["ci_low"] <= t["observed"]).all() and (t["observed"] <= t["ci_high"]).all() and t["small_n"].all()
    with pytest.raises(DataValidationError, match="missing"):
        roc_auc([0, 1], [0.1, np.nan])


def test_calibration_on_planted_probabilities():
    rng = np.random.default_rng(5)
    p = rng.beta(1, 6, 20_000)
    t = calibration_table(rng.random(20_000) < p, p)
    assert len(t) == 10 and t["n"].sum() == 20_000
    inside = (t["ci_low"] <= t["predicted"]) & (t["predicted"] <= t["ci_high"])
    assert inside.sum() >= 8   # true probabilities: the Wilson intervals cover the predicted mean


@functools.lru_cache(maxsize=1)
def generated() -> object:
    return synth.generate(customers=3000, months=14, seed=4)


def test_churn_holdout_ranks_better_than_chance_on_planted_data():
    ho = churn_holdout(generated(), "2025-11-01", train_periods=9)
    m = ho.metrics.set_index("metric")
    assert m.loc["auc", "ci_low"] > 0.5 and m.loc["c_index", "ci_low"] > 0.5
    assert m.loc["brier", "value"] < 0.25
    cal = ho.calibration
    assert cal["n"].sum() == m.loc["auc", "n"] and cal["events"].sum() == m.loc["auc", "events"]
    # the highest-risk decile churns more than the lowest
    assert cal["observed"].iloc[-1] > cal["observed"].iloc[0]
    assert ho.logit.table["n"].iloc[0] > len(ho.predictions)   # trained on 9 earlier windows
    assert len(ho.sentences()) == 2


def simulated_cox(rng, n=400, beta=0.5, base=0.05, end=20.0) -> pd.DataFrame:
    x = rng.normal(0, 1, n)
    t = rng.exponential(1 / (base * np.exp(beta * x)))
    return pd.DataFrame({"x": x, "duration_days": np.minimum(t, end), "event": (t < end).astype(int)})


def test_predicted_survival_bands_cover_the_truth():
    rng = np.random.default_rng(11)
    hits, total = 0, 0
    for _ in range(30):
        m = churn_hazard_model(simulated_cox(rng), ["x"])
        s = predicted_survival(m, pd.DataFrame({"x": [0.0, 1.0]}), times=[5.0, 15.0])
        truth = np.exp(-0.05 * s["time"] * np.exp(0.5 * np.array([0.0, 0.0, 1.0, 1.0])))
        hits += int(((s["ci_low"] <= truth) & (truth <= s["ci_high"])).sum())
        total += len(s)
    assert hits / total >= 0.85     # nominal 95%; 120 bands


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000), st.floats(-2, 2))
def test_predicted_survival_properties(seed, x):
    m = churn_hazard_model(simulated_cox(np.random.default_rng(seed), n=200), ["x"])
    s = predicted_survival(m, {"x": x})
    assert ((s["survival"] >= 0) & (s["survival"] <= 1)).all()
    assert (np.diff(s["survival"]) <= 1e-12).all()
    assert ((s["ci_low"] <= s["survival"] + 1e-12) & (s["survival"] <= s["ci_high"] + 1e-12)).all()
    p = partial_effects(m, "x", [-1.0, 1.0], times=[10.0])
    slope = m.table["estimate"].iloc[0]
    assert (p["survival"].iloc[0] - p["survival"].iloc[1]) * slope >= 0   # more x, sooner churn when b > 0


def test_plots_state_units_and_n():
    from slm_lib.plots import calibration_plot, predicted_survival_plot
    rng = np.random.default_rng(3)
    m = churn_hazard_model(simulated_cox(rng), ["x"])
    fig = predicted_survival_plot(partial_effects(m, "x", [-1.0, 1.0]))
    assert "n = 400" in fig.axes[0].get_title() and [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == \
        ["x = -1.0", "x = 1.0"]
    p = rng.beta(1, 6, 2000)
    fig = calibration_plot(calibration_table(rng.random(2000) < p, p))
    assert "n = 2,000" in fig.axes[0].get_title() and fig.axes[0].get_xlabel().endswith("(%)")
