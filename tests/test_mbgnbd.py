"""Tests of the MBG/NBD model (slm_lib.clv.mbgnbd)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import gammaln

from slm_lib.clv.mbgnbd import ModifiedBetaGeoModel, mbgnbd_loglik, mbgnbd_score_information
from slm_lib.clv.mle import numerical_gradient, numerical_hessian
from slm_lib.errors import DataValidationError, ModelFitError

DATA = Path(__file__).parent / "data"
BTYDPLUS = {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}   # BTYDplus (and lifetimes' test) on CDNOW


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    ref = pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv")
    return ref.rename(columns={"x": "frequency", "t_x": "recency"})


@pytest.fixture(scope="module")
def fitted(cdnow) -> ModifiedBetaGeoModel:
    return ModifiedBetaGeoModel().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])


def simulate(n, r, alpha, a, b, T, rng):
    """MBG/NBD: Poisson purchases; drop-out with probability p at time 0 and after each purchase.

    Returns repeat purchases x, time of the last one, and whether the customer is alive at T.
    """
    lam, p = rng.gamma(r, 1 / alpha, n), rng.beta(a, b, n)
    allowed = rng.geometric(p) - 1                 # purchases she lives to make: P(K >= k) = (1-p)^k
    events = rng.poisson(lam * T)                  # purchases she would make in (0, T] if she never left
    x = np.minimum(allowed, events).astype(float)
    tx = np.where(x > 0, T * rng.beta(np.maximum(x, 1), np.maximum(events - x + 1, 1)), 0.0)  # x-th of events
    return x, tx, allowed > events


def _independent_loglik(params, x, tx, T):
    """The MBG/NBD log-likelihood written from Batislam et al. (2007), natural scale."""
    r, alpha, a, b = params
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x + 1) - gammaln(b) - gammaln(a + b + x + 1)
    a3 = -(r + x) * np.log(alpha + T)
    a4 = np.log(a) - np.log(b + x) + (r + x) * (np.log(alpha + T) - np.log(alpha + tx))
    return a1 + a2 + a3 + np.log1p(np.exp(a4))


def test_cdnow_reproduces_btydplus(fitted):
    for name, value in BTYDPLUS.items():
        assert round(fitted.params_[name], 3) == value, name
    assert round(fitted.log_likelihood_, 1) == -9582.1 and fitted.result_.n_obs == 2357
    summary = fitted.summary.set_index("parameter")
    assert (summary["ci_low"] < summary["estimate"]).all() and (summary["estimate"] < summary["ci_high"]).all()


def test_likelihood_matches_the_paper(cdnow):
    x, tx, T = (cdnow[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    for params in [(0.525, 6.183, 0.891, 1.614), (2.0, 0.5, 3.0, 0.2), (0.05, 80.0, 0.1, 20.0)]:
        np.testing.assert_allclose(mbgnbd_loglik(params, x, tx, T), _independent_loglik(params, x, tx, T),
                                   rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("params", [
    (0.525, 6.183, 0.891, 1.614),   # the CDNOW optimum
    (1.0, 38.9, 1.0, 1.0),          # the default start
    (0.01, 100.0, 0.05, 30.0),
    (5.0, 0.1, 20.0, 0.05),
])
def test_score_and_information_match_numerical_derivatives(cdnow, params):
    x, tx, T = (cdnow[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    params = np.array(params)
    score, info = mbgnbd_score_information(params, x, tx, T)
    total = lambda p: np.sum(mbgnbd_loglik(p, x, tx, T))  # noqa: E731
    on_log = lambda th: total(np.exp(th))                 # noqa: E731  (differences on the log scale)
    th = np.log(params)
    np.testing.assert_allclose(score * params, numerical_gradient(on_log, th), rtol=1e-5,
                               atol=1e-6 * np.abs(score * params).max())
    hess_log = -info * np.outer(params, params) + np.diag(score * params)
    np.testing.assert_allclose(hess_log, numerical_hessian(on_log, th), rtol=1e-3,
                               atol=1e-4 * np.abs(hess_log).max())
    np.testing.assert_allclose(info, info.T)


def test_predictions_against_a_simulation(fitted):
    p = fitted.params_
    x, _, alive = simulate(200_000, *p.values(), 39.0, np.random.default_rng(5))
    assert fitted.expected_purchases(39.0) == pytest.approx(x.mean(), abs=4 * x.std() / np.sqrt(len(x)))
    none = x == 0
    share = alive[none].mean()
    assert fitted.probability_alive([0], [0.0], [39.0])[0] == pytest.approx(
        share, abs=4 * np.sqrt(share * (1 - share) / none.sum()))
    assert fitted.probability_alive([0], [0.0], [39.0])[0] < 1        # unlike the BG/NBD


def test_recovers_simulated_parameters():
    truth = {"r": 0.6, "alpha": 5.0, "a": 0.8, "b": 2.5}
    rng = np.random.default_rng(2024)
    T = rng.uniform(26, 52, 8000)
    x, tx, _ = simulate(8000, *truth.values(), T, rng)
    summary = ModifiedBetaGeoModel().fit(x, tx, T).summary.set_index("parameter")
    for name, value in truth.items():
        z = (summary.loc[name, "estimate"] - value) / summary.loc[name, "std_error"]
        assert abs(z) < 3, (name, summary.loc[name].to_dict())


def test_weights_equal_repeated_rows(cdnow):
    f, r, T = (cdnow[c].to_numpy() for c in ("frequency", "recency", "T"))
    w = np.arange(len(f)) % 3 + 1.0
    weighted = ModifiedBetaGeoModel().fit(f, r, T, weights=w)
    k = w.astype(int)
    repeated = ModifiedBetaGeoModel().fit(np.repeat(f, k), np.repeat(r, k), np.repeat(T, k))
    for name in BTYDPLUS:
        assert weighted.params_[name] == pytest.approx(repeated.params_[name], rel=1e-8)
    assert weighted.log_likelihood_ == pytest.approx(repeated.log_likelihood_, rel=1e-12)
    np.testing.assert_allclose(weighted.summary["std_error"], repeated.summary["std_error"], rtol=1e-6)


params_st = st.fixed_dictionaries({
    "r": st.floats(0.1, 5), "alpha": st.floats(0.5, 20),
    "a": st.one_of(st.floats(0.2, 0.9), st.floats(1.1, 5)), "b": st.floats(0.5, 10)})


@settings(max_examples=60, deadline=None)
@given(params_st, st.integers(0, 200), st.floats(0, 1), st.floats(1, 100))
def test_probability_alive_in_unit_interval(params, x, share, T):
    recency = 0.0 if x == 0 else share * T
    pa = ModifiedBetaGeoModel().probability_alive([x], [recency], [T], params=params)[0]
    assert 0.0 <= pa <= 1.0


@settings(max_examples=50, deadline=None)
@given(params_st, st.integers(0, 10), st.floats(0, 1))
def test_expected_purchases_monotone_in_t(params, x, share):
    t = np.linspace(0, 104, 27)
    mbg = ModifiedBetaGeoModel()
    uncond = mbg.expected_purchases(t, params=params)
    cond = mbg.expected_purchases(t, np.full(27, x), np.full(27, 0.0 if x == 0 else share * 39),
                                  np.full(27, 39.0), params=params)
    for values in (uncond, cond):
        assert np.all(np.isfinite(values)) and abs(values[0]) < 1e-12
        assert np.all(np.diff(values) >= -1e-9 * np.maximum(1, np.abs(values[1:])))


def test_invalid_inputs_and_failures_raise():
    with pytest.raises(DataValidationError, match="frequency"):
        ModifiedBetaGeoModel().fit([0, 1.5], [0.0, 1.0], [5.0, 5.0])
    with pytest.raises(DataValidationError, match="weights: all zero"):
        ModifiedBetaGeoModel().fit([0, 1], [0.0, 1.0], [5.0, 5.0], weights=[0, 0])
    with pytest.raises(ModelFitError, match="MBG/NBD.*no customer has a repeat purchase"):
        ModifiedBetaGeoModel().fit([0, 0], [0.0, 0.0], [5.0, 6.0])
    with pytest.raises(ModelFitError, match="MBG/NBD.*not fitted"):
        ModifiedBetaGeoModel().summary


def test_predictive_clv_with_the_mbg_nbd(fitted, cdnow):
    from slm_lib.clv import GammaGammaModel, clv_by_segment, predictive_clv
    f, r, T, m = (cdnow[c] for c in ("frequency", "recency", "T", "zbar"))
    gg = GammaGammaModel().fit(f[f > 0], m[f > 0])
    out = predictive_clv(fitted, gg, f, r, T, m, horizon=52, discount_rate=0.0)
    np.testing.assert_allclose(out["expected_purchases"], fitted.expected_purchases(52, f, r, T), rtol=1e-10)
    assert ((out["ci_low"] < out["clv"]) & (out["clv"] < out["ci_high"])).all()
    seg = clv_by_segment(fitted, gg, f, r, T, m, np.where(f > 0, "repeat", "one-off"), horizon=52,
                         discount_rate=0.0)
    totals = seg.set_index("segment")["total_clv"]
    assert totals["all"] == pytest.approx(out["clv"].sum(), rel=1e-10)
    assert totals["one-off"] + totals["repeat"] == pytest.approx(totals["all"], rel=1e-10)
