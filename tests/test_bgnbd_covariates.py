"""BG/NBD with dropout covariates: planted-effect recovery, the no-effect case, closed-form derivatives."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from slm_lib.clv.bgnbd import BetaGeoModel, alive_probability, bgnbd_loglik
from slm_lib.clv.bgnbd_covariates import (PARAMS, BetaGeoCovariateModel, covariate_loglik,
                                          covariate_score_information)
from slm_lib.clv.linked import param_designs
from slm_lib.clv.mle import numerical_gradient, numerical_hessian
from slm_lib.errors import DataValidationError, ModelFitError

T_OBS = 39.0


def simulate(z, r, alpha, a, b, rng):
    """BG/NBD purchases over (0, T_OBS] with one (a_i, b_i) per customer."""
    n = len(z)
    lam, p = rng.gamma(r, 1.0 / alpha, n), rng.beta(a, b)
    t, x, tx = np.zeros(n), np.zeros(n), np.zeros(n)
    active = np.ones(n, dtype=bool)
    while active.any():
        t_next = t + rng.exponential(1.0 / lam)
        buys = active & (t_next <= T_OBS)
        x[buys] += 1
        tx[buys] = t_next[buys]
        t = np.where(buys, t_next, t)
        active = buys & (rng.random(n) >= p)
    return x, tx


@pytest.fixture(scope="module")
def planted():
    """20,000 customers; standardised covariate raises a: gamma_a = 0.5, gamma_b = 0 (drop-out odds x e^0.5)."""
    rng = np.random.default_rng(3)
    z = rng.normal(size=20_000)
    x, tx = simulate(z, 0.5, 5.0, 0.8 * np.exp(0.5 * z), np.full(len(z), 2.5), rng)
    frame = pd.DataFrame({"service": z})
    model = BetaGeoCovariateModel(["service"]).fit(x, tx, np.full(len(z), T_OBS), frame)
    return model, x, tx, frame


def test_planted_dropout_effect_inside_95_ci(planted):
    model = planted[0]
    truth = {"r": 0.5, "alpha": 5.0, "a": 0.8, "a:service": 0.5, "b": 2.5, "b:service": 0.0}
    summary = model.summary.set_index("parameter")
    for name, value in truth.items():
        assert summary.loc[name, "ci_low"] < value < summary.loc[name, "ci_high"], name
    effect = model.dropout_effects.iloc[0]
    assert effect["ci_low"] < np.exp(0.5) < effect["ci_high"]
    assert effect["ci_low"] > 1 and effect["p_value"] < 1e-6 and effect["n"] == 20_000
    assert effect["label"] == "service (per +1)"


def test_covariate_fit_improves_on_the_plain_bgnbd_it_starts_from(planted):
    model = planted[0]
    assert model.log_likelihood_ > model.baseline_.log_likelihood_


def test_no_effect_gives_the_plain_fit_and_intervals_covering_zero():
    rng = np.random.default_rng(11)
    z = rng.normal(size=8_000)
    x, tx = simulate(z, 0.5, 5.0, np.full(len(z), 0.8), np.full(len(z), 2.5), rng)
    T = np.full(len(z), T_OBS)
    model = BetaGeoCovariateModel(["service"]).fit(x, tx, T, pd.DataFrame({"service": z}))
    s = model.summary.set_index("parameter")
    for coef in ("a:service", "b:service"):
        assert s.loc[coef, "ci_low"] < 0 < s.loc[coef, "ci_high"]
    plain = BetaGeoModel().fit(x, tx, T).summary.set_index("parameter")
    for name in ("r", "alpha", "a", "b"):   # same parameters, well inside one standard error
        assert abs(s.loc[name, "estimate"] - plain.loc[name, "estimate"]) < plain.loc[name, "std_error"]
    assert model.log_likelihood_ - BetaGeoModel().fit(x, tx, T).log_likelihood_ < 3   # chi2(2) at 95%: 3.0 / 2


def test_loglik_at_zero_coefficients_is_the_bgnbd_loglik():
    rng = np.random.default_rng(0)
    x = rng.poisson(1.5, 50).astype(float)
    tx = np.where(x > 0, rng.uniform(1, 30, 50), 0.0)
    dz = np.column_stack([np.ones(50), rng.normal(size=(50, 2))])
    theta = np.r_[np.log([0.4, 4.0, 0.9]), 0.0, 0.0, np.log(2.0), 0.0, 0.0]
    ll = covariate_loglik(theta, x, tx, np.full(50, 30.0), param_designs(dz, PARAMS, ('a', 'b')), np.ones(50))
    assert ll == pytest.approx(np.sum(bgnbd_loglik([0.4, 4.0, 0.9, 2.0], x, tx, np.full(50, 30.0))), rel=1e-12)


def test_closed_form_score_and_information_match_finite_differences():
    rng = np.random.default_rng(1)
    x = rng.poisson(1.5, 60).astype(float)
    tx = np.where(x > 0, rng.uniform(1, 30, 60), 0.0)
    T, w = np.full(60, 30.0), rng.integers(1, 4, 60).astype(float)
    dz = np.column_stack([np.ones(60), rng.normal(size=60), rng.random(60) < 0.4])
    theta = np.array([np.log(0.4), np.log(4.0), np.log(0.9), 0.3, -0.2, np.log(2.0), -0.4, 0.5])
    for linked, drop in ((("a", "b"), []), (("b",), [3, 4])):
        designs = param_designs(dz, PARAMS, linked)
        at = np.delete(theta, drop)
        score, info = covariate_score_information(at, x, tx, T, designs, w)
        f = lambda t, designs=designs: covariate_loglik(t, x, tx, T, designs, w)
        np.testing.assert_allclose(score, numerical_gradient(f, at), rtol=1e-5, atol=1e-5)
        np.testing.assert_allclose(-info, numerical_hessian(f, at), rtol=1e-4, atol=1e-3)


def test_predictions_use_each_customers_dropout_parameters(planted):
    model, x, tx, frame = planted
    T = np.full(len(x), T_OBS)
    r, alpha, a, b = model.customer_params(frame.iloc[:5])
    expected = alive_probability(x[:5], tx[:5], T[:5], (r, alpha, a, b))
    np.testing.assert_allclose(model.probability_alive(x[:5], tx[:5], T[:5], frame.iloc[:5]), expected)
    p = model.params_
    np.testing.assert_allclose(a, p["a"] * np.exp(p["a:service"] * frame["service"].iloc[:5]))
    assert np.all(model.expected_purchases(10.0, x[:5], tx[:5], T[:5], frame.iloc[:5]) >= 0)


def test_stated_units_label_and_missing_covariates_are_dropped_and_counted():
    rng = np.random.default_rng(2)
    frt = rng.gamma(2.0, 8.0, 3_000)
    x, tx = simulate(frt, 0.5, 5.0, 0.8 * np.exp(0.3 * frt / 10), np.full(3_000, 2.5), rng)
    frame = pd.DataFrame({"median_frt_h": np.where(np.arange(3_000) < 40, np.nan, frt)})
    model = BetaGeoCovariateModel(["median_frt_h"], units={"median_frt_h": 10}).fit(
        x, tx, np.full(3_000, T_OBS), frame)
    assert model.n_dropped_ == 40 and model.result_.n_obs == 2_960
    assert model.summary["label"].tolist()[3] == "a: median first response (per +10 h)"
    assert model.dropout_effects["unit"].tolist() == ["+10 h"]


def test_bad_covariates_raise():
    x, tx, T = np.array([0.0, 1.0, 2.0]), np.array([0.0, 3.0, 9.0]), np.full(3, 10.0)
    with pytest.raises(DataValidationError, match="one row per customer"):
        BetaGeoCovariateModel(["z"]).fit(x, tx, T, pd.DataFrame({"z": [1.0, 2.0]}))
    with pytest.raises(ModelFitError, match="constant"):
        BetaGeoCovariateModel(["z"]).fit(x, tx, T, pd.DataFrame({"z": [1.0, 1.0, 1.0]}))
    with pytest.raises(ModelFitError, match="not fitted"):
        _ = BetaGeoCovariateModel(["z"]).dropout_effects
