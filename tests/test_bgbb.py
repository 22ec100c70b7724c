"""Tests of the BG/BB model (slm_lib.clv.bgbb) on the donation data of Fader, Hardie & Shang (2010)."""
from __future__ import annotations

from itertools import product
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import comb

from slm_lib.clv.bgbb import BetaGeoBetaBinomModel, bgbb_loglik, transaction_count_probabilities
from slm_lib.errors import DataValidationError, ModelFitError

DATA = Path(__file__).parent / "data"
PUBLISHED = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}


@pytest.fixture(scope="module")
def donations() -> pd.DataFrame:
    return pd.read_csv(DATA / "donations.csv")


@pytest.fixture(scope="module")
def fitted(donations) -> BetaGeoBetaBinomModel:
    return BetaGeoBetaBinomModel().fit(donations["frequency"], donations["recency"], donations["n"],
                                       weights=donations["n_custs"])


def simulate(n, alpha, beta, gamma, delta, periods, rng):
    """BG/BB: alive customers transact with probability p each period; die with theta at each period's start."""
    p, theta = rng.beta(alpha, beta, n), rng.beta(gamma, delta, n)
    alive = np.ones(n, dtype=bool)
    x, last = np.zeros(n), np.zeros(n)
    for t in range(1, periods + 1):
        alive &= rng.random(n) >= theta
        buys = alive & (rng.random(n) < p)
        x += buys
        last[buys] = t
    return x, last, alive, theta


def test_donations_reproduce_fader_hardie_shang_2010(fitted, donations):
    assert donations["n_custs"].sum() == 11104 and len(donations) == 22
    for name, value in PUBLISHED.items():
        assert round(fitted.params_[name], 3) == value, name
    assert round(fitted.log_likelihood_, 1) == -33225.6 and fitted.result_.n_obs == 11104


def test_donations_published_predictions(fitted, donations):
    f, r, n = donations["frequency"], donations["recency"], donations["n"]
    # Table 6: P(alive in 2002) for 0 repeats, 2 repeats last in 1999 (period 4), 6 repeats last in 2001
    alive = fitted.probability_alive([0, 2, 6], [0, 4, 6], [6, 6, 6])
    np.testing.assert_allclose(alive, [0.11, 0.59, 0.93], atol=0.005)
    # the paper's spreadsheet: 12,884.2 expected repeat donations in 2002-2006; 3,454.9 and 1,253.1
    # donors with 0 and 6 repeat donations in 1996-2001
    assert (fitted.expected_purchases(5, f, r, n) * donations["n_custs"]).sum() == pytest.approx(12884.2, abs=0.1)
    counts = fitted.transaction_counts(6, 11104).set_index("frequency")["expected"]
    assert counts[0] == pytest.approx(3454.9, abs=0.1) and counts[6] == pytest.approx(1253.1, abs=0.1)
    assert counts.sum() == pytest.approx(11104)


def test_likelihood_sums_to_one_over_every_history():
    # every (x, t_x) of n periods is one possible outcome: probabilities add up to 1
    for n in (1, 3, 6):
        hist = np.array([(x, t) for x, t in product(range(n + 1), range(n + 1)) if (x == 0) == (t == 0) and x <= t])
        # a history (x, t_x) stands for C(t_x - 1, x - 1) sequences (the last transaction is at t_x)
        ways = np.where(hist[:, 0] > 0, comb(hist[:, 1] - 1, hist[:, 0] - 1), 1.0)
        params = (1.204, 0.750, 0.657, 2.783)
        ll = bgbb_loglik(params, hist[:, 0].astype(float), hist[:, 1].astype(float), np.full(len(hist), float(n)))
        assert (ways * np.exp(ll)).sum() == pytest.approx(1.0, rel=1e-12)


def test_predictions_against_a_simulation(fitted):
    p = tuple(fitted.params_.values())
    rng = np.random.default_rng(3)
    n = 200_000
    x, last, alive, theta = simulate(n, *p, 6, rng)
    probs = transaction_count_probabilities(6, p)
    observed = np.bincount(x.astype(int), minlength=7) / n
    np.testing.assert_allclose(observed, probs, atol=4 * np.sqrt(probs * (1 - probs) / n).max())
    assert fitted.expected_purchases(6) == pytest.approx(x.mean(), abs=4 * x.std() / np.sqrt(n))
    # P(alive in period 7) of the customers with 2 repeats, the last in period 4
    group = (x == 2) & (last == 4)
    survive = alive[group] & (rng.random(group.sum()) >= theta[group])
    share = survive.mean()
    assert fitted.probability_alive([2], [4], [6])[0] == pytest.approx(
        share, abs=4 * np.sqrt(share * (1 - share) / group.sum()))


def test_recovers_simulated_parameters():
    truth = {"alpha": 0.9, "beta": 1.5, "gamma": 0.8, "delta": 3.0}
    rng = np.random.default_rng(2024)
    x, last, _, _ = simulate(20_000, *truth.values(), 10, rng)
    summary = BetaGeoBetaBinomModel().fit(x, last, np.full(len(x), 10)).summary.set_index("parameter")
    for name, value in truth.items():
        z = (summary.loc[name, "estimate"] - value) / summary.loc[name, "std_error"]
        assert abs(z) < 3, (name, summary.loc[name].to_dict())


def test_weights_equal_repeated_rows(donations, fitted):
    k = donations["n_custs"].to_numpy()
    cols = [np.repeat(donations[c].to_numpy(), k) for c in ("frequency", "recency", "n")]
    every = BetaGeoBetaBinomModel().fit(*cols)
    for name in PUBLISHED:
        assert every.params_[name] == pytest.approx(fitted.params_[name], rel=1e-8)
    assert every.log_likelihood_ == pytest.approx(fitted.log_likelihood_, rel=1e-12)


params_st = st.fixed_dictionaries({k: st.floats(0.05, 20) for k in PUBLISHED})


@settings(max_examples=60, deadline=None)
@given(params_st, st.integers(1, 40), st.data())
def test_probability_alive_in_unit_interval_and_expectations_monotone(params, n, data):
    x = data.draw(st.integers(0, n))
    t_x = 0 if x == 0 else data.draw(st.integers(x, n))
    bb = BetaGeoBetaBinomModel()
    for ahead in (0, 1, 5):
        pa = bb.probability_alive([x], [t_x], [n], ahead=ahead, params=params)[0]
        assert 0.0 <= pa <= 1.0 + 1e-12
    periods = np.arange(0, 30)
    uncond = bb.expected_purchases(periods, params=params)
    cond = np.array([bb.expected_purchases(k, [x], [t_x], [n], params=params)[0] for k in periods])
    for values in (uncond, cond):
        assert values[0] == 0.0 and np.all(np.diff(values) >= -1e-12) and np.all(np.isfinite(values))


def test_series_input_keeps_its_index(fitted):
    idx = pd.Index(["u", "v"], name="donor")
    out = fitted.expected_purchases(5, pd.Series([0, 3], idx), pd.Series([0, 5], idx), pd.Series([6, 6], idx))
    assert isinstance(out, pd.Series) and out.index.equals(idx)


@pytest.mark.parametrize("freq, rec, n, match", [
    ([1], [0], [6], "recency: must lie between frequency and n_periods"),
    ([2], [7], [6], "recency: must lie between frequency and n_periods"),
    ([1.5], [2], [6], "whole numbers"),
    ([0], [0], [0], "n_periods: must be >= 1"),
])
def test_invalid_inputs_raise(freq, rec, n, match):
    with pytest.raises(DataValidationError, match=match):
        BetaGeoBetaBinomModel().fit(freq, rec, n)


def test_fit_failures_raise():
    with pytest.raises(ModelFitError, match="BG/BB.*no customer has a repeat transaction"):
        BetaGeoBetaBinomModel().fit([0, 0], [0, 0], [6, 6])
    with pytest.raises(ModelFitError, match="BG/BB.*not fitted"):
        BetaGeoBetaBinomModel().params_
