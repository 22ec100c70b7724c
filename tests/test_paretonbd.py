"""Tests of the Pareto/NBD model (slm_lib.clv.paretonbd) and the shared continuous-time base (clv.repeat)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.integrate import quad
from scipy.special import gammaln

from slm_lib.clv.paretonbd import (ParetoNBDModel, alive_probability, conditional_expected_purchases,
                                   hyp2f1_a1, pareto_nbd_loglik, unconditional_expected_purchases)
from slm_lib.clv.rfm import rfm_summary
from slm_lib.errors import DataValidationError, ModelFitError

DATA = Path(__file__).parent / "data"
PUBLISHED = {"r": 0.553, "alpha": 10.58, "s": 0.606, "beta": 11.67}   # Fader, Hardie & Lee 2005; BTYD
BTYD = (0.5534, 10.5802, 0.6061, 11.6562)                              # BTYD walkthrough estimates


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    ref = pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv")
    return ref.rename(columns={"x": "frequency", "t_x": "recency"})


@pytest.fixture(scope="module")
def fitted(cdnow) -> ParetoNBDModel:
    return ParetoNBDModel().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])


def simulate(n, r, alpha, s, beta, T, rng):
    """Pareto/NBD: Poisson purchases at rate lambda until an exponential death at rate mu (or T)."""
    lam, mu = rng.gamma(r, 1 / alpha, n), rng.gamma(s, 1 / beta, n)
    until = np.minimum(rng.exponential(1 / mu), T)
    x = rng.poisson(lam * until).astype(float)
    tx = np.where(x > 0, until * rng.random(n) ** (1 / np.maximum(x, 1)), 0.0)   # max of x uniforms
    return x, tx, until < T


def test_cdnow_reproduces_the_published_estimates(fitted):
    est = fitted.params_
    assert (round(est["r"], 3), round(est["alpha"], 2), round(est["s"], 3), round(est["beta"], 2)) == \
        tuple(PUBLISHED.values())
    assert round(fitted.log_likelihood_, 1) == -9595.0 and fitted.result_.n_obs == 2357
    summary = fitted.summary.set_index("parameter")
    assert (summary["ci_low"] < summary["estimate"]).all() and (summary["estimate"] < summary["ci_high"]).all()
    assert summary.loc["beta", "std_error"] > summary.loc["alpha", "std_error"]   # drop-out: weakly identified


def test_cdnow_from_raw_purchases_gives_the_btyd_log_likelihood():
    tx = pd.read_csv(DATA / "CDNOW_sample.txt", sep=r"\s+", header=None,
                     names=["customer", "id", "date", "cds", "dollars"], dtype={"id": str, "date": str})
    tx["date"] = pd.to_datetime(tx["date"], format="%Y%m%d")
    rfm = rfm_summary(tx, "id", "date", "dollars", observation_end="1997-09-30")
    pn = ParetoNBDModel().fit(rfm["frequency"], rfm["recency"], rfm["T"])
    assert round(pn.log_likelihood_, 2) == -9594.98
    assert round(pn.params_["r"], 3) == 0.553 and round(pn.params_["s"], 3) == 0.606


@pytest.mark.parametrize("params", [(0.55, 10.6, 0.6, 11.7), (2.0, 3.0, 0.3, 40.0), (0.3, 40.0, 2.5, 2.0),
                                    (1.0, 5.0, 1.0, 5.0)])
@pytest.mark.parametrize("x, tx, T", [(0, 0.0, 39.0), (3, 20.0, 39.0), (12, 38.0, 39.0), (1, 39.0, 39.0)])
def test_likelihood_matches_direct_integration(params, x, tx, T):
    # L = Gamma(r+x)/Gamma(r) alpha^r beta^s [(alpha+T)^-(r+x) (beta+T)^-s + s int_tx^T (alpha+u)^-(r+x) (beta+u)^-(s+1) du]
    r, alpha, s, beta = params
    inner = quad(lambda u: (alpha + u) ** -(r + x) * (beta + u) ** -(s + 1), tx, T, epsabs=0, epsrel=1e-12)[0]
    direct = (gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta)
              + np.log((alpha + T) ** -(r + x) * (beta + T) ** -s + s * inner))
    mine = pareto_nbd_loglik(params, np.array([x], float), np.array([tx]), np.array([T]))[0]
    assert mine == pytest.approx(direct, rel=1e-10, abs=1e-10)


def _series(b, c, z, terms=200_000):
    """2F1(1, b; c; z) = sum_k prod_{j<k} (b+j)/(c+j) z, summed far past convergence."""
    k = np.arange(terms)
    with np.errstate(divide="ignore"):       # z = 0: log 0 = -inf, terms 0
        return 1 + np.exp(np.cumsum(np.log((b + k) / (c + k) * z))).sum()


@settings(max_examples=60, deadline=None)
@given(st.one_of(st.integers(1, 300).map(float), st.floats(0.05, 500)), st.one_of(st.integers(1, 30).map(float),
       st.floats(0.05, 50)), st.one_of(st.sampled_from([0.0, 0.5, 10 / 11, 0.99, 0.999]), st.floats(0, 0.999)))
def test_hyp2f1_a1_matches_the_series(b, gap, z):
    assert hyp2f1_a1(b, b + gap, z) == pytest.approx(_series(b, b + gap, z), rel=1e-11)


def test_hyp2f1_a1_closed_forms():
    assert hyp2f1_a1(0.5, 1.0, 0.9) == pytest.approx(0.1 ** -0.5, rel=1e-13)      # c = 1: (1 - z)^-b
    assert hyp2f1_a1(1.0, 2.0, 0.999) == pytest.approx(-np.log(0.001) / 0.999, rel=1e-12)


def test_btyd_reference_values(fitted):
    expected = [0.0, 0.05077821, 0.09916088, 0.14542507, 0.18979930, 0.23247466, 0.27361274, 0.31335159,
                0.35181024, 0.38909211]                          # BTYD manual, pnbd.Expectation(0:9)
    np.testing.assert_allclose(unconditional_expected_purchases(np.arange(10.0), (0.55, 10.56, 0.61, 11.64)),
                               expected, atol=1e-8)
    assert alive_probability([26.0], [30.86], [31.0], BTYD)[0] == pytest.approx(0.9979, abs=1e-4)
    assert fitted.expected_purchases(52, [26], [30.86], [31])[0] == pytest.approx(25.46, abs=0.01)


def test_predictions_against_a_simulation(fitted):
    p = fitted.params_
    rng = np.random.default_rng(11)
    n, T, t = 200_000, 39.0, 39.0
    x, _, dead = simulate(n, *p.values(), T, rng)
    assert fitted.expected_purchases(T) == pytest.approx(x.mean(), abs=4 * x.std() / np.sqrt(n))
    # customers with no repeat purchase by T: share alive and purchases in (T, T + t]
    lam, mu = rng.gamma(p["r"], 1 / p["alpha"], n), rng.gamma(p["s"], 1 / p["beta"], n)
    death = rng.exponential(1 / mu)
    none = rng.poisson(lam * np.minimum(death, T)) == 0
    alive = death[none] > T
    future = rng.poisson(lam[none] * np.clip(death[none] - T, 0, t))
    assert fitted.probability_alive([0], [0.0], [T])[0] == pytest.approx(alive.mean(), abs=4 * alive.std() / np.sqrt(none.sum()))
    assert fitted.expected_purchases(t, [0], [0.0], [T])[0] == pytest.approx(
        future.mean(), abs=4 * future.std() / np.sqrt(none.sum()))


def test_recovers_simulated_parameters():
    truth = {"r": 0.8, "alpha": 8.0, "s": 0.5, "beta": 10.0}
    rng = np.random.default_rng(2024)
    T = rng.uniform(52, 104, 8000)
    x, tx, _ = simulate(8000, *truth.values(), T, rng)
    summary = ParetoNBDModel().fit(x, tx, T).summary.set_index("parameter")
    for name, value in truth.items():
        z = (np.log(summary.loc[name, "estimate"]) - np.log(value)) * summary.loc[name, "estimate"] \
            / summary.loc[name, "std_error"]
        assert abs(z) < 3, (name, summary.loc[name].to_dict())


def test_weights_equal_repeated_rows(cdnow):
    f, r, T = (cdnow[c].to_numpy() for c in ("frequency", "recency", "T"))
    weighted = ParetoNBDModel().fit(f, r, T, weights=np.full(len(f), 2.0))
    doubled = ParetoNBDModel().fit(np.tile(f, 2), np.tile(r, 2), np.tile(T, 2))
    for name in PUBLISHED:
        assert weighted.params_[name] == pytest.approx(doubled.params_[name], rel=1e-8)
    assert weighted.log_likelihood_ == pytest.approx(doubled.log_likelihood_, rel=1e-12)
    assert weighted.result_.n_obs == doubled.result_.n_obs == 2 * len(f)
    zero = ParetoNBDModel().fit(np.r_[f, 5], np.r_[r, 1.0], np.r_[T, 2.0], weights=np.r_[np.ones(len(f)), 0.0])
    assert zero.log_likelihood_ == pytest.approx(ParetoNBDModel().fit(f, r, T).log_likelihood_, rel=1e-10)


def test_large_frequencies_stay_finite():
    params = (10.465, 7.98565181e-03, 3.0516, 2.820)           # lifetimes' overflow case
    x, tx, T = np.array([400.0, 500.0, 500.0]), np.array([5.0, 1.0, 4.0]), np.array([6.0, 37.0, 37.0])
    assert np.all(np.isfinite(pareto_nbd_loglik(params, x, tx, T)))
    pa = alive_probability(x, tx, T, params)
    assert np.all((pa >= 0) & (pa <= 1))
    pn = (0.55, 10.58, 0.61, 11.67)                             # one more purchase: a small change
    left, right = (conditional_expected_purchases(10.0, k, 200.0, 200.0, pn) for k in (132.0, 133.0))
    assert 0 < right - left < 0.1


params_st = st.fixed_dictionaries({"r": st.floats(0.05, 20), "alpha": st.floats(0.01, 100),
                                   "s": st.floats(0.05, 20), "beta": st.floats(0.01, 100)})


@settings(max_examples=80, deadline=None)
@given(params_st, st.integers(0, 300), st.floats(0, 1), st.floats(0.5, 200))
def test_probability_alive_in_unit_interval(params, x, share, T):
    recency = 0.0 if x == 0 else share * T
    pa = ParetoNBDModel().probability_alive([x], [recency], [T], params=params)[0]
    assert 0.0 <= pa <= 1.0


@settings(max_examples=50, deadline=None)
@given(params_st, st.integers(0, 20), st.floats(0, 1))
def test_expected_purchases_monotone_in_t(params, x, share):
    t = np.linspace(0, 104, 27)
    pn = ParetoNBDModel()
    uncond = pn.expected_purchases(t, params=params)
    cond = pn.expected_purchases(t, np.full(27, x), np.full(27, 0.0 if x == 0 else share * 39), np.full(27, 39.0),
                                 params=params)
    for values in (uncond, cond):
        assert np.all(np.isfinite(values)) and values[0] == 0.0
        assert np.all(np.diff(values) >= -1e-9 * np.maximum(1, np.abs(values[1:])))


def test_s_equal_to_one_is_the_limit():
    near = [unconditional_expected_purchases(20.0, (0.5, 10.0, s, 12.0)) for s in (1 - 1e-7, 1.0, 1 + 1e-7)]
    assert near[1] == pytest.approx(near[0], rel=1e-6) and near[1] == pytest.approx(near[2], rel=1e-6)


def test_series_input_keeps_its_index(fitted):
    idx = pd.Index(["u", "v"], name="customer_id")
    out = fitted.probability_alive(pd.Series([0, 2], idx), pd.Series([0.0, 5.0], idx), pd.Series([9.0, 9.0], idx))
    assert isinstance(out, pd.Series) and out.index.equals(idx) and out.name == "probability_alive"


def test_invalid_inputs_and_failures_raise():
    with pytest.raises(DataValidationError, match="recency: must not exceed T"):
        ParetoNBDModel().fit([0, 1], [0.0, 6.0], [5.0, 5.0])
    with pytest.raises(DataValidationError, match="weights: 1 values for 2 customers"):
        ParetoNBDModel().fit([0, 1], [0.0, 1.0], [5.0, 5.0], weights=[1.0])
    with pytest.raises(DataValidationError, match="weights: must be finite and >= 0"):
        ParetoNBDModel().fit([0, 1], [0.0, 1.0], [5.0, 5.0], weights=[1.0, -2.0])
    with pytest.raises(ModelFitError, match="Pareto/NBD.*no customer has a repeat purchase"):
        ParetoNBDModel().fit([0, 0, 1], [0.0, 0.0, 1.0], [5.0, 6.0, 7.0], weights=[1, 1, 0])
    with pytest.raises(ModelFitError, match="Pareto/NBD.*not fitted"):
        ParetoNBDModel().params_
    x = np.array([0, 1, 2, 0, 3, 1, 0, 5, 2, 0] * 30)        # regular buyers, no heterogeneity to estimate
    with pytest.raises(ModelFitError, match="Pareto/NBD.*drift toward 0 or infinity"):
        ParetoNBDModel().fit(x, np.array([0, 10, 20, 0, 30, 5, 0, 35, 15, 0] * 30), np.full(300, 39.0))


def test_coarse_grid_start_reaches_the_same_optimum(monkeypatch):
    from slm_lib.clv import paretonbd
    rng = np.random.default_rng(8)
    T = rng.uniform(30, 60, 4000)
    x, tx, _ = simulate(4000, 0.6, 8.0, 0.8, 12.0, T, rng)          # exact times: every history distinct
    assert len(np.unique(np.c_[x, tx, T], axis=0)) > paretonbd.COARSE_ROWS
    coarse = ParetoNBDModel().fit(x, tx, T)
    monkeypatch.setattr(paretonbd, "COARSE_ROWS", 10 ** 9)
    plain = ParetoNBDModel().fit(x, tx, T)
    assert coarse.log_likelihood_ == pytest.approx(plain.log_likelihood_, abs=1e-6)
    for name in PUBLISHED:
        assert coarse.params_[name] == pytest.approx(plain.params_[name], rel=1e-4)


def test_predictive_clv_with_the_pareto_nbd(fitted, cdnow):
    from slm_lib.clv import GammaGammaModel, predictive_clv
    f, r, T, m = (cdnow[c] for c in ("frequency", "recency", "T", "zbar"))
    gg = GammaGammaModel().fit(f[f > 0], m[f > 0])
    out = predictive_clv(fitted, gg, f, r, T, m, horizon=39, discount_rate=0.0)
    # undiscounted: the conditional expectation over the horizon times the expected spend
    np.testing.assert_allclose(out["expected_purchases"], fitted.expected_purchases(39, f, r, T), rtol=1e-10)
    np.testing.assert_allclose(out["clv"], out["expected_purchases"] * out["expected_spend"], rtol=1e-10)
    np.testing.assert_allclose(out["probability_alive"], fitted.probability_alive(f, r, T), rtol=1e-12)
    assert ((out["ci_low"] < out["clv"]) & (out["clv"] < out["ci_high"])).all()
