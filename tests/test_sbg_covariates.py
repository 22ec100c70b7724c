"""sBG with churn covariates: planted-effect recovery, equivalence with the plain sBG, derivatives."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from slm_lib.clv.linked import param_designs
from slm_lib.clv.mle import numerical_gradient, numerical_hessian
from slm_lib.clv.sbg import ShiftedBetaGeoModel, cohort_tallies, tallies_loglik
from slm_lib.clv.sbg_covariates import (PARAMS, ShiftedBetaGeoCovariateModel, cohort_lifetimes,
                                        covariate_loglik, covariate_score_information)
from slm_lib.errors import DataValidationError, ModelFitError


def lifetimes(alpha, beta, horizon, rng):
    """Renewals (capped at ``horizon``) and churned flags of customers with churn rate Beta(alpha, beta)."""
    life = rng.geometric(rng.beta(alpha, beta))    # churns in period life = 1, 2, ...
    return np.minimum(life - 1, horizon), life <= horizon


def test_planted_churn_effects_inside_95_ci():
    rng = np.random.default_rng(4)
    z = rng.normal(size=8_000)
    detractor = rng.random(8_000) < 0.3
    renewals, churned = lifetimes(0.7 * np.exp(0.5 * z + 0.4 * detractor), 1.2 * np.exp(-0.3 * z), 24, rng)
    frame = pd.DataFrame({"service": z, "detractor": detractor})
    model = ShiftedBetaGeoCovariateModel(["service", "detractor"]).fit(renewals, churned, frame)
    truth = {"alpha": 0.7, "alpha:service": 0.5, "alpha:detractor[True]": 0.4, "beta": 1.2,
             "beta:service": -0.3, "beta:detractor[True]": 0.0}
    s = model.summary.set_index("parameter")
    for name, value in truth.items():
        assert s.loc[name, "ci_low"] < value < s.loc[name, "ci_high"], name
    eff = model.churn_effects.set_index("term")
    assert eff.loc["service", "ci_low"] < np.exp(0.8) < eff.loc["service", "ci_high"]
    assert eff.loc["detractor[True]", "ci_low"] < np.exp(0.4) < eff.loc["detractor[True]", "ci_high"]
    assert eff["events"].iloc[0] == int(churned.sum()) and eff["n"].iloc[0] == 8_000
    assert eff.loc["detractor[True]", "label"] == "detractor: True (vs False)"


def test_loglik_at_zero_coefficients_is_the_plain_sbg_with_left_truncation():
    # cohort A from period 0: 10 -> 6 -> 5; cohort B entering at period 1 with 8 -> 7
    renewals = np.array([0] * 4 + [1] * 1 + [2] * 5 + [1] * 1 + [2] * 7, dtype=float)
    churned = np.array([1] * 4 + [1] * 1 + [0] * 5 + [1] * 1 + [0] * 7, dtype=float)
    entered = np.array([0] * 10 + [1] * 8, dtype=float)
    tallies = cohort_tallies([0, 1], [2, 2], np.array([10.0, 6.0, 5.0, 8.0, 7.0]))
    one = [np.ones((18, 1))] * 2
    for alpha, beta in ((0.7, 1.2), (2.0, 0.5)):
        ll = covariate_loglik(np.log([alpha, beta]), renewals, churned, entered, one, np.ones(18))
        assert ll == pytest.approx(tallies_loglik([alpha, beta], *tallies), rel=1e-12)


def test_no_effect_covariate_gives_the_plain_sbg_fit():
    rng = np.random.default_rng(7)
    z = rng.normal(size=6_000)
    renewals, churned = lifetimes(np.full(6_000, 0.7), 1.2, 7, rng)
    model = ShiftedBetaGeoCovariateModel(["service"]).fit(renewals, churned, pd.DataFrame({"service": z}))
    plain = ShiftedBetaGeoModel().fit([int((renewals >= t).sum()) for t in range(8)]).summary.set_index("parameter")
    s = model.summary.set_index("parameter")
    for coef in ("alpha:service", "beta:service"):
        assert s.loc[coef, "ci_low"] < 0 < s.loc[coef, "ci_high"]
    for name in ("alpha", "beta"):
        assert abs(s.loc[name, "estimate"] - plain.loc[name, "estimate"]) < plain.loc[name, "std_error"]


def test_closed_form_score_and_information_match_finite_differences():
    rng = np.random.default_rng(1)
    renewals = rng.integers(0, 10, 40).astype(float)
    churned = (rng.random(40) < 0.6).astype(float)
    entered = np.minimum(rng.integers(0, 3, 40), renewals)
    dz = np.column_stack([np.ones(40), rng.normal(size=40)])
    theta, w = np.array([np.log(0.8), 0.3, np.log(1.5), -0.2]), rng.integers(1, 5, 40).astype(float)
    for linked, drop in ((PARAMS, []), (("alpha",), [3])):
        designs = param_designs(dz, PARAMS, linked)
        at = np.delete(theta, drop)
        score, info = covariate_score_information(at, renewals, churned, entered, designs, w)
        f = lambda t, designs=designs: covariate_loglik(t, renewals, churned, entered, designs, w)
        np.testing.assert_allclose(score, numerical_gradient(f, at), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(-info, numerical_hessian(f, at), rtol=1e-4, atol=1e-4)


def test_invalid_inputs_raise():
    frame = pd.DataFrame({"z": [0.0, 1.0, 2.0]})
    with pytest.raises(DataValidationError, match="entered <= renewals"):
        ShiftedBetaGeoCovariateModel(["z"]).fit([1, 2, 0], [True, False, True], frame, entered=[0, 0, 1])
    with pytest.raises(DataValidationError, match="one value per customer"):
        ShiftedBetaGeoCovariateModel(["z"]).fit([1, 2, 0], [True, False], frame)
    with pytest.raises(ModelFitError, match="nobody churned"):
        ShiftedBetaGeoCovariateModel(["z"]).fit([1, 2, 0], [False, False, False], frame)


def test_a_cohort_level_covariate_reproduces_fader_hardie_2007_for_both_cohorts():
    """Regular and high-end cohorts, years 0-7, as weighted rows with a 0/1 covariate linked to alpha and beta.

    Two groups and four parameters: the fit is the two separate sBG fits, so it must give the
    published alpha = 0.704, beta = 1.182 (regular), 0.668 and 3.806 (high end), LL -1680.27 - 1611.16.
    """
    survivors = pd.DataFrame({
        "cohort": ["regular"] * 8 + ["highend"] * 8, "period": list(range(8)) * 2,
        "survivors": [1000, 631, 468, 382, 326, 289, 262, 241, 1000, 869, 743, 653, 593, 551, 517, 491]})
    rows = cohort_lifetimes(survivors)
    assert rows.groupby("cohort")["customers"].sum().tolist() == [1000, 1000]
    model = ShiftedBetaGeoCovariateModel(["high_end"], references={"high_end": "False"}).fit(
        rows["renewals"], rows["churned"], rows.assign(high_end=rows["cohort"] == "highend"), rows["entered"],
        weights=rows["customers"])
    p = model.params_
    assert round(p["alpha"], 3) == 0.704 and round(p["beta"], 3) == 1.182
    assert round(p["alpha"] * np.exp(p["alpha:high_end[True]"]), 3) == 0.668
    assert round(p["beta"] * np.exp(p["beta:high_end[True]"]), 3) == 3.806
    assert model.log_likelihood_ == pytest.approx(-1680.27 - 1611.16, abs=0.01)   # each published to 0.01
    assert model.result_.n_obs == 2000 and model.churn_events_ == 759 + 509


def test_cohort_lifetimes_keeps_left_truncated_cohorts_and_group_keys():
    s = pd.DataFrame({"segment": ["smb"] * 3 + ["mid"] * 2, "cohort": ["2024-01"] * 3 + ["2024-02"] * 2,
                      "period": [0, 1, 2, 1, 2], "survivors": [10, 6, 6, 8, 7]})
    out = cohort_lifetimes(s, ["segment", "cohort"])
    assert out.columns.tolist() == ["segment", "cohort", "renewals", "churned", "entered", "customers"]
    mid = out[out["segment"] == "mid"]
    assert mid[["renewals", "churned", "entered", "customers"]].values.tolist() == [[1, True, 1, 1], [2, False, 1, 7]]
    smb = out[out["segment"] == "smb"]                   # no churn between periods 1 and 2: no such row
    assert smb[["renewals", "churned", "customers"]].values.tolist() == [[0, True, 4], [2, False, 6]]


def test_customer_predictions_use_each_customers_alpha_and_beta():
    rng = np.random.default_rng(9)
    frt = rng.gamma(2.0, 10.0, 4_000)
    renewals, churned = lifetimes(0.8 * np.exp(0.3 * frt / 10), 3.0, 24, rng)
    model = ShiftedBetaGeoCovariateModel(["median_frt_h"], units={"median_frt_h": 10}, linked=("alpha",)).fit(
        renewals, churned, pd.DataFrame({"median_frt_h": frt}))
    p = model.params_
    new = pd.DataFrame({"median_frt_h": [0.0, 20.0, np.nan]})
    params = model.customer_params(new)
    np.testing.assert_allclose(params["alpha"][:2], p["alpha"] * np.exp(p["alpha:median_frt_h"] * np.array([0, 2])))
    assert np.isnan(params["alpha"][2]) and np.isnan(params["beta"][2]) and (params["beta"][:2] == p["beta"]).all()
    plain = ShiftedBetaGeoModel()
    for i in range(2):
        one = {"alpha": params["alpha"][i], "beta": p["beta"]}
        assert model.retention_rate(3, new)[i] == pytest.approx(plain.retention_rate(3, params=one))
        assert model.derl(0.01, new, n=13)[i] == pytest.approx(plain.derl(0.01, 13, params=one))
    assert model.derl(0.01, new, n=13)[0] > model.derl(0.01, new, n=13)[1]   # slower answers, shorter lives
    named = new.set_axis(["fast", "slow", "unknown"])
    assert model.derl(0.01, named, n=13).index.tolist() == ["fast", "slow", "unknown"]
    assert model.retention_rate(3, named).name == "retention_rate"
    assert "beta:median_frt_h" not in p
    eff = model.churn_effects.iloc[0]                                     # only alpha linked: OR = exp(gamma_alpha)
    assert eff["odds_ratio"] == pytest.approx(np.exp(p["alpha:median_frt_h"]))
    assert eff["ci_low"] < np.exp(0.3) < eff["ci_high"]
