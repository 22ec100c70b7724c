"""Tests of the BG/NBD model (slm_lib.clv.bgnbd) and the shared MLE engine (slm_lib.clv.mle)."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import gammaln

from slm_lib.clv.bgnbd import BetaGeoModel, bgnbd_loglik, bgnbd_score_information
from slm_lib.clv.compress import unique_rows
from slm_lib.clv.mle import MLEResult, fit_positive_mle, numerical_hessian
from slm_lib.errors import DataValidationError, ModelFitError

DATA = Path(__file__).parent / "data"
PUBLISHED = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    ref = pd.read_csv(DATA / "cdnow_customers_summary_with_transactions.csv")
    return ref.rename(columns={"x": "frequency", "t_x": "recency"})


@pytest.fixture(scope="module")
def fitted(cdnow) -> BetaGeoModel:
    return BetaGeoModel().fit(cdnow["frequency"], cdnow["recency"], cdnow["T"])


def simulate(n, r, alpha, a, b, T, rng):
    """Simulate the BG/NBD process: repeat purchases x and time of the last one in (0, T]."""
    lam, p = rng.gamma(r, 1.0 / alpha, n), rng.beta(a, b, n)
    t, x, tx = np.zeros(n), np.zeros(n), np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        t_next = t + rng.exponential(1.0 / lam)
        buys = active & (t_next <= T)
        x[buys] += 1
        tx[buys] = t_next[buys]
        t = np.where(buys, t_next, t)
        active = buys & (rng.random(n) >= p)       # drop out after a purchase with probability p
    return x, tx


def test_cdnow_reproduces_fader_hardie_lee_2005(fitted):
    for name, value in PUBLISHED.items():   # every published digit (3-4 significant figures)
        assert round(fitted.params_[name], 3) == value, name
    assert round(fitted.log_likelihood_, 1) == -9582.4
    assert fitted.result_.n_obs == 2357


def test_cdnow_from_raw_purchases_matches_too():
    from slm_lib.clv.rfm import rfm_summary
    tx = pd.read_csv(DATA / "CDNOW_sample.txt", sep=r"\s+", header=None,
                     names=["customer", "id", "date", "cds", "dollars"], dtype={"id": str, "date": str})
    tx["date"] = pd.to_datetime(tx["date"], format="%Y%m%d")
    rfm = rfm_summary(tx, "id", "date", "dollars", observation_end="1997-09-30")
    bg = BetaGeoModel().fit(rfm["frequency"], rfm["recency"], rfm["T"])
    for name, value in PUBLISHED.items():
        assert round(bg.params_[name], 3) == value, name
    assert round(bg.log_likelihood_, 1) == -9582.4


def _independent_loglik(p, x, tx, T):
    """BG/NBD log-likelihood written from the paper's A1..A4 terms, on the natural scale."""
    r, alpha, a, b = p
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = gammaln(a + b) + gammaln(b + x) - gammaln(b) - gammaln(a + b + x)
    a3 = -(r + x) * np.log(alpha + T)
    a4 = np.log(a) - np.log(np.where(x > 0, b + x - 1, 1.0)) - (r + x) * np.log(alpha + tx)
    return np.sum(a1 + a2 + np.log(np.exp(a3) + (x > 0) * np.exp(a4)))


def test_standard_errors_match_a_finite_difference_hessian(fitted, cdnow):
    x, tx, T = (cdnow[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    est = np.array([fitted.params_[k] for k in ("r", "alpha", "a", "b")])
    assert -_independent_loglik(est, x, tx, T) == pytest.approx(-fitted.log_likelihood_, rel=1e-10)
    k, h = len(est), 1e-3 * est
    hess = np.empty((k, k))
    f = lambda v: -_independent_loglik(v, x, tx, T)  # noqa: E731
    for i in range(k):
        for j in range(k):
            ei, ej = np.eye(k)[i] * h[i], np.eye(k)[j] * h[j]
            hess[i, j] = (f(est + ei + ej) - f(est + ei - ej) - f(est - ei + ej) + f(est - ei - ej)) / (4 * h[i] * h[j])
    se = np.sqrt(np.diag(np.linalg.inv(hess)))
    summary = fitted.summary
    assert list(summary.columns) == ["parameter", "estimate", "std_error", "ci_low", "ci_high"]
    np.testing.assert_allclose(summary["std_error"].to_numpy(), se, rtol=0.01)
    assert (summary["ci_low"] < summary["estimate"]).all() and (summary["estimate"] < summary["ci_high"]).all()
    assert (summary["ci_low"] > 0).all()


def test_expected_purchases_limits_and_monte_carlo(fitted):
    assert fitted.expected_purchases(0.0) == pytest.approx(0.0, abs=1e-12)
    cond = fitted.expected_purchases(0.0, [0, 3], [0.0, 20.0], [30.0, 30.0])
    np.testing.assert_allclose(cond, 0.0, atol=1e-12)
    # unconditional E[X(t)] against a simulation of the process at the fitted parameters
    p = fitted.params_
    x, _ = simulate(100_000, p["r"], p["alpha"], p["a"], p["b"], 39.0, np.random.default_rng(7))
    se = x.std() / np.sqrt(len(x))
    assert abs(fitted.expected_purchases(39.0) - x.mean()) < 4 * se


def test_probability_alive_is_one_without_repeat_purchases(fitted):
    pa = fitted.probability_alive([0, 0, 1, 1], [0.0, 0.0, 5.0, 30.0], [10.0, 40.0, 39.0, 39.0])
    assert pa[0] == pa[1] == 1.0
    assert 0 < pa[2] < pa[3] < 1                      # a more recent purchase: more likely alive
    r, alpha, a, b = (fitted.params_[k] for k in ("r", "alpha", "a", "b"))
    hand = 1 / (1 + a / (b + 1 - 1) * ((alpha + 39) / (alpha + 30)) ** (r + 1))
    assert pa[3] == pytest.approx(hand)


def test_series_input_keeps_its_index(fitted):
    idx = pd.Index(["u", "v"], name="customer_id")
    out = fitted.expected_purchases(10, pd.Series([0, 2], idx), pd.Series([0.0, 5.0], idx), pd.Series([9.0, 9.0], idx))
    assert isinstance(out, pd.Series) and out.index.equals(idx)


params_st = st.fixed_dictionaries({
    "r": st.floats(0.1, 5), "alpha": st.floats(0.5, 20),
    "a": st.one_of(st.floats(0.2, 0.9), st.floats(1.1, 5)), "b": st.floats(0.5, 10)})


@settings(max_examples=60, deadline=None)
@given(params_st, st.integers(0, 30), st.floats(0, 1), st.floats(1, 100))
def test_probability_alive_in_unit_interval(params, x, share, T):
    recency = 0.0 if x == 0 else share * T
    pa = BetaGeoModel().probability_alive([x], [recency], [T], params=params)[0]
    assert 0.0 <= pa <= 1.0


@settings(max_examples=50, deadline=None)
@given(params_st, st.integers(0, 10), st.floats(0, 1))
def test_expected_purchases_monotone_in_t(params, x, share):
    t = np.linspace(0, 104, 27)
    bg = BetaGeoModel()
    uncond = bg.expected_purchases(t, params=params)
    cond = bg.expected_purchases(t, np.full(27, x), np.full(27, 0.0 if x == 0 else share * 39), np.full(27, 39.0),
                                 params=params)
    for values in (uncond, cond):
        assert np.all(np.isfinite(values))
        assert np.all(np.diff(values) >= -1e-9 * np.maximum(1, np.abs(values[1:])))


def test_recovers_simulated_parameters():
    truth = {"r": 0.5, "alpha": 6.0, "a": 0.7, "b": 2.0}
    rng = np.random.default_rng(2024)
    n = 6000
    T = rng.uniform(26, 52, n)
    x, tx = simulate(n, *truth.values(), T, rng)
    bg = BetaGeoModel().fit(x, tx, T)
    summary = bg.summary.set_index("parameter")
    for name, value in truth.items():
        z = (summary.loc[name, "estimate"] - value) / summary.loc[name, "std_error"]
        assert abs(z) < 3, (name, summary.loc[name].to_dict())


@pytest.mark.parametrize("freq, rec, T, match", [
    ([0, 1], [0.0, -1.0], [5.0, 5.0], "recency"),
    ([0, 1], [0.0, 6.0], [5.0, 5.0], "recency: must not exceed T"),
    ([0, 1.5], [0.0, 1.0], [5.0, 5.0], "frequency"),
])
def test_invalid_inputs_raise(freq, rec, T, match):
    with pytest.raises(DataValidationError, match=match):
        BetaGeoModel().fit(freq, rec, T)


def test_fit_failures_raise_model_fit_error():
    with pytest.raises(ModelFitError, match="BG/NBD.*no customer has a repeat purchase"):
        BetaGeoModel().fit([0, 0, 0], [0.0, 0.0, 0.0], [5.0, 6.0, 7.0])
    with pytest.raises(ModelFitError, match="BG/NBD.*not fitted"):
        BetaGeoModel().params_


def test_mle_engine_reports_non_convergence_and_boundaries():
    with pytest.raises(ModelFitError, match="toy: parameter\\(s\\) m ran off"):
        fit_positive_mle(lambda p: 1.0 / p[0], [1.0], ["m"], "toy", 10)
    with pytest.raises(ModelFitError, match="toy: the Hessian .* not positive definite"):
        fit_positive_mle(lambda p: np.log(p[0]) ** 2, [1.0, 1.0], ["m", "unused"], "toy", 10)
    with pytest.raises(ModelFitError, match="toy: starting values"):
        fit_positive_mle(lambda p: p[0], [-1.0], ["m"], "toy", 10)
    with pytest.raises(ModelFitError, match="toy: the log-likelihood is not finite"):
        fit_positive_mle(lambda p: np.nan, [1.0], ["m"], "toy", 10)


def test_a_drop_out_probability_shared_by_all_names_a_and_b_as_drifting():
    # p ~ Beta(2e6, 8e6) is p = 0.2 for everyone: the likelihood keeps rising as a, b grow together
    x, tx = simulate(2000, 0.5, 6.0, 2e6, 8e6, 39.0, np.random.default_rng(0))
    with pytest.raises(ModelFitError, match=r"BG/NBD: the optimiser did not converge .*parameter\(s\) a, b drift "
                                            r"toward 0 or infinity"):
        BetaGeoModel().fit(x, tx, np.full(2000, 39.0))


def test_mle_engine_exponential_mean_and_se():
    x = np.random.default_rng(0).exponential(3.0, 400)
    res = fit_positive_mle(lambda p: np.sum(np.log(p[0]) + x / p[0]), [1.0], ["mean"], "exp", len(x))
    assert res.params["mean"] == pytest.approx(x.mean(), rel=1e-6)
    # observed information of the exponential mean: n / mean^2 -> se = mean / sqrt(n)
    assert res.summary["std_error"].iloc[0] == pytest.approx(x.mean() / np.sqrt(len(x)), rel=1e-4)
    draws = res.draw(4000, seed=1)
    assert draws.shape == (4000, 1) and (draws > 0).all()
    assert np.std(np.log(draws)) == pytest.approx(np.sqrt(res.cov_log[0, 0]), rel=0.05)


def test_numerical_hessian_of_a_quadratic():
    h = numerical_hessian(lambda v: 3 * v[0] ** 2 + v[0] * v[1] - 2 * v[1] ** 2, np.array([0.3, -1.2]))
    np.testing.assert_allclose(h, [[6.0, 1.0], [1.0, -4.0]], atol=1e-5)


@pytest.mark.parametrize("t, shape, scale, a, b", [
    (39.0, 0.243, 4.414, 0.793, 2.426),     # closed form (CDNOW)
    (104.0, 3.2, 43.4, 0.79, 5.4),          # closed form, conditional-like
    (52.0, 1.0, 1.0, 1.0, 1.0),             # a = 1: quadrature (0/0 in the closed form)
    (104.0, 5.0, 0.5, 0.5, 0.5),            # a + b = 1: quadrature (pole of the 2F1)
    (104.0, 0.1, 0.5, 0.2, 0.5),            # a + b < 1: quadrature
    (30.0, 2.0, 3.0, 1.0011, 2.0),          # closed form next to the branch boundary
    (30.0, 2.0, 3.0, 0.9991, 2.0),          # quadrature next to the branch boundary
])
def test_purchases_given_alive_matches_direct_integration(t, shape, scale, a, b):
    from scipy import integrate
    from scipy.special import beta as beta_fn

    from slm_lib.clv.bgnbd import purchases_given_alive

    def integrand(p):
        return -np.expm1(-shape * np.log1p(p * t / scale)) / p * p ** (a - 1) * (1 - p) ** (b - 1)

    direct = sum(integrate.quad(integrand, lo, hi, epsabs=0, epsrel=1e-12, limit=500)[0]
                 for lo, hi in ((0, 1e-3), (1e-3, 1))) / beta_fn(a, b)
    assert float(purchases_given_alive(t, shape, scale, a, b)) == pytest.approx(direct, rel=1e-8)


def test_from_params_builds_a_usable_model_and_checks_its_input(fitted):
    bg = BetaGeoModel.from_params(fitted.params_)
    assert bg.expected_purchases(39.0) == pytest.approx(fitted.expected_purchases(39.0))
    assert bg.summary["std_error"].eq(0).all()
    assert np.isnan(bg.log_likelihood_)
    with pytest.raises(ModelFitError, match="BG/NBD: parameter\\(s\\) \\['b'\\] missing"):
        BetaGeoModel.from_params({"r": 1, "alpha": 1, "a": 1})
    with pytest.raises(ModelFitError, match="BG/NBD: parameters must be positive"):
        BetaGeoModel.from_params({"r": 1, "alpha": -1, "a": 1, "b": 1})


def central_derivatives(f, p, rel=1e-5):
    """Gradient of ``f`` at ``p`` by central differences of relative step ``rel`` (a test's own reference)."""
    p = np.asarray(p, dtype=float)
    steps = np.diag(rel * p)
    return np.array([(np.asarray(f(p + e)) - np.asarray(f(p - e))) / (2 * e[i]) for i, e in enumerate(steps)])


@pytest.mark.parametrize("params", [
    (0.243, 4.414, 0.793, 2.426),   # the CDNOW optimum (score about 0)
    (1.0, 38.9, 1.0, 1.0),          # the default start
    (0.01, 100.0, 0.05, 30.0),      # almost nobody buys, rare drop-out
    (5.0, 0.1, 20.0, 0.05),         # heavy buyers, b + x - 1 down to 0.05 for x = 1
    (50.0, 1e-3, 1e-3, 100.0),      # P(alive) at 0 or 1 for every buyer
])
def test_score_and_information_match_numerical_derivatives(cdnow, params):
    x, tx, T = (cdnow[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T"))
    score, info = bgnbd_score_information(params, x, tx, T)
    total = lambda p: np.sum(bgnbd_loglik(p, x, tx, T))  # noqa: E731
    scale = np.sqrt(np.abs(np.diag(info)) * np.square(params))    # the score's natural size
    np.testing.assert_allclose(score * params, central_derivatives(total, params) * params,
                               rtol=1e-6, atol=1e-6 * scale.max())
    jac = central_derivatives(lambda p: bgnbd_score_information(p, x, tx, T)[0], params)
    np.testing.assert_allclose(-info, jac, rtol=1e-5, atol=1e-6 * np.abs(info).max())
    np.testing.assert_allclose(info, info.T)


def test_compressed_likelihood_equals_the_one_of_every_customer(cdnow):
    x, tx, T = (np.tile(cdnow[c].to_numpy(dtype=float), 3) for c in ("frequency", "recency", "T"))
    rows, counts, _ = unique_rows(x, tx, T)
    assert counts.sum() == len(x) and len(counts) < len(cdnow)       # the sample has repeated histories
    params = (0.3, 5.0, 0.7, 2.0)
    assert counts @ bgnbd_loglik(params, *rows) == pytest.approx(np.sum(bgnbd_loglik(params, x, tx, T)), rel=1e-12)
    for mine, every in zip(bgnbd_score_information(params, *rows, counts), bgnbd_score_information(params, x, tx, T)):
        np.testing.assert_allclose(mine, every, rtol=1e-10)
    bg = BetaGeoModel().fit(x, tx, T)                               # every customer three times
    for name, value in PUBLISHED.items():
        assert round(bg.params_[name], 3) == value, name
    assert round(bg.log_likelihood_, 1) == round(3 * -9582.43, 1) and bg.result_.n_obs == 3 * 2357


def test_engine_rejects_an_optimum_where_the_score_is_not_zero():
    # a score that does not belong to the likelihood (a wrong derivative) cannot be driven to zero
    def wrong(p):   # derivatives of (log m - 2)^2, curvature 2 on the log scale, for (log m - 1)^2
        theta = np.log(p[0])
        return np.array([-2 * (theta - 2) / p[0]]), np.array([[(2 - 2 * (theta - 2)) / p[0] ** 2]])

    with pytest.raises(ModelFitError, match="toy: the optimiser did not converge"):
        fit_positive_mle(lambda p: (np.log(p[0]) - 1) ** 2, [1.0], ["m"], "toy", 10, score_information=wrong)


def test_delta_method_variance():
    cov = np.array([[0.04, 0.01], [0.01, 0.09]])
    res = MLEResult("toy", ("a", "b"), np.log([2.0, 3.0]), cov, 0.0, 100)
    value, var = res.delta_method(lambda p: np.log(p[0]) + 2 * np.log(p[1]))   # linear in the log scale
    assert value == pytest.approx(np.log(2) + 2 * np.log(3))
    assert var == pytest.approx(0.04 + 4 * 0.01 + 4 * 0.09, rel=1e-8)
    # a product of the parameters per row: the variance against draws from the same normal
    rows = np.array([1.0, 5.0])
    value, var = res.delta_method(lambda p: np.log(p[0] * rows + p[1]))
    sims = np.log(res.draw(200_000, seed=2)[:, :1] * rows + res.draw(200_000, seed=2)[:, 1:])
    np.testing.assert_allclose(var, sims.var(axis=0), rtol=0.03)
    zero = MLEResult("toy", ("a", "b"), np.log([2.0, 3.0]), np.zeros((2, 2)), 0.0, 100)
    assert zero.delta_method(lambda p: p[0] * rows)[1].tolist() == [0.0, 0.0]
