"""Tests of the shifted-beta-geometric model (slm_lib.clv.sbg) on Fader & Hardie's (2007) cohorts."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import beta as beta_fn

from slm_lib.clv.sbg import ShiftedBetaGeoModel, survivor_counts
from slm_lib.errors import DataValidationError, InsufficientDataError, ModelFitError

DATA = Path(__file__).parent / "data"
#: Fader & Hardie (2007), table 1: survivors per 1,000 at the start of years 0-12 (years 8-12 not in the csv).
PUBLISHED_SURVIVORS = {
    "regular": [1000, 631, 468, 382, 326, 289, 262, 241, 223, 207, 194, 183, 173],
    "highend": [1000, 869, 743, 653, 593, 551, 517, 491, 468, 445, 427, 409, 394],
}
PUBLISHED_FIT = {"regular": (0.704, 1.182, -1680.27), "highend": (0.668, 3.806, -1611.16)}


@pytest.fixture(scope="module")
def survivors() -> pd.DataFrame:
    return survivor_counts(pd.read_csv(DATA / "sbg_cohorts.csv"), "recency", "T", by="cohort")


@pytest.fixture(scope="module")
def fits(survivors) -> dict[str, ShiftedBetaGeoModel]:
    return {c: ShiftedBetaGeoModel().fit(g.sort_values("period")["survivors"].to_numpy())
            for c, g in survivors.groupby("cohort")}


def test_survivor_counts_from_the_csv_match_the_paper(survivors):
    for cohort, published in PUBLISHED_SURVIVORS.items():
        got = survivors[survivors["cohort"] == cohort].sort_values("period")
        assert got["period"].tolist() == list(range(8))
        assert got["survivors"].tolist() == published[:8]


@pytest.mark.parametrize("cohort", ["regular", "highend"])
def test_reproduces_fader_hardie_2007(fits, cohort):
    alpha, beta, ll = PUBLISHED_FIT[cohort]
    fit = fits[cohort]
    assert round(fit.params_["alpha"], 3) == alpha
    assert round(fit.params_["beta"], 3) == beta
    assert round(fit.log_likelihood_, 2) == ll


def test_projection_of_years_8_to_12_against_published_actuals(fits):
    reg = fits["regular"].projection(12, actual=PUBLISHED_SURVIVORS["regular"]).set_index("period")
    high = fits["highend"].projection(12, actual=PUBLISHED_SURVIVORS["highend"]).set_index("period")
    assert reg["fitted"].tolist() == [True] * 8 + [False] * 5
    # year-12 actuals (17.3%, 39.4%) are the paper's data; the model projects 17.0% and 37.8%
    assert reg.loc[12, "actual_share"] == pytest.approx(0.173)
    assert high.loc[12, "actual_share"] == pytest.approx(0.394)
    assert round(reg.loc[12, "survival"], 3) == 0.170
    assert round(high.loc[12, "survival"], 3) == 0.378
    assert (reg.loc[8:, "error_pct"].abs() < 2.0).all()       # regular within 2% over years 8-12
    assert (high.loc[8:, "error_pct"].abs() < 4.5).all()      # high end drifts low, within 4.5%
    np.testing.assert_allclose(reg["expected_survivors"], 1000 * reg["survival"])


def test_standard_errors_match_a_finite_difference_hessian(fits):
    fit = fits["regular"]
    n = np.array(PUBLISHED_SURVIVORS["regular"][:8], dtype=float)

    def nll(v):
        a, b = v
        churn = -np.diff(n)
        t = np.arange(1, 8)
        p = beta_fn(a + 1, b + t - 1) / beta_fn(a, b)
        return -(np.sum(churn * np.log(p)) + n[-1] * np.log(beta_fn(a, b + 7) / beta_fn(a, b)))

    est = np.array([fit.params_["alpha"], fit.params_["beta"]])
    assert nll(est) == pytest.approx(-fit.log_likelihood_, rel=1e-10)
    h = 1e-3 * est
    hess = np.array([[(nll(est + ei + ej) - nll(est + ei - ej) - nll(est - ei + ej) + nll(est - ei - ej))
                      / (4 * h[i] * h[j]) for j, ej in enumerate(np.diag(h))] for i, ei in enumerate(np.diag(h))])
    np.testing.assert_allclose(fit.summary["std_error"].to_numpy(), np.sqrt(np.diag(np.linalg.inv(hess))), rtol=0.01)


def test_survival_and_retention_curves(fits):
    fit = fits["highend"]
    t = np.arange(0, 30)
    s = fit.survival(t)
    assert s[0] == 1.0 and np.all(np.diff(s) < 0)
    np.testing.assert_allclose(fit.retention_rate(t[1:]), s[1:] / s[:-1], rtol=1e-12)
    assert np.all(np.diff(fit.retention_rate(t[1:])) > 0)      # heterogeneity: retention rises with tenure
    with pytest.raises(DataValidationError, match="t: retention_rate"):
        fit.retention_rate(0)


def direct_derl(model, d, n, terms=20000):
    t = np.arange(n, n + terms)
    return np.sum(model.survival(t) / model.survival(n - 1) * (1 + d) ** -(t - n).astype(float))


@pytest.mark.parametrize("cohort", ["regular", "highend"])
@pytest.mark.parametrize("d, n", [(0.1, 1), (0.1, 5), (0.05, 1), (0.2, 12)])
def test_derl_matches_a_direct_numerical_sum(fits, cohort, d, n):
    fit = fits[cohort]
    assert float(fit.derl(d, n)) == pytest.approx(direct_derl(fit, d, n), rel=1e-9)


@settings(max_examples=50, deadline=None)
@given(st.floats(0.2, 5), st.floats(0.2, 10), st.floats(0.03, 0.5), st.integers(1, 20))
def test_derl_closed_form_equals_series(alpha, beta, d, n):
    model = ShiftedBetaGeoModel()
    params = {"alpha": alpha, "beta": beta}
    t = np.arange(n, n + 3000)
    series = np.sum(model.survival(t, params) / model.survival(n - 1, params) * (1 + d) ** -(t - n).astype(float))
    assert float(model.derl(d, n, params=params)) == pytest.approx(series, rel=1e-8)


def test_derl_grows_with_renewals_and_contractual_clv(fits):
    fit = fits["regular"]
    assert fit.derl(0.1, 1) < fit.derl(0.1, 2) < fit.derl(0.1, 5)    # survivors are better customers
    clv = fit.contractual_clv(margin=100.0, discount_rate=0.1, n=1, n_draws=500, seed=3)
    assert clv["clv"] == pytest.approx(100.0 * float(fit.derl(0.1, 1)))
    assert clv["ci_low"] < clv["clv"] < clv["ci_high"]
    assert clv.equals(fit.contractual_clv(margin=100.0, discount_rate=0.1, n=1, n_draws=500, seed=3))
    with pytest.raises(DataValidationError, match="discount_rate"):
        fit.derl(-0.1)
    with pytest.raises(DataValidationError, match="n: must be an integer >= 1"):
        fit.derl(0.1, 0)


def test_recovers_simulated_cohort():
    rng = np.random.default_rng(8)
    theta = rng.beta(0.8, 2.5, 20000)
    lifetimes = rng.geometric(theta)                 # periods survived before churning (>= 1)
    survivors = [(lifetimes > t).sum() for t in range(10)]
    summary = ShiftedBetaGeoModel().fit(survivors).summary.set_index("parameter")
    for name, value in {"alpha": 0.8, "beta": 2.5}.items():
        assert abs(summary.loc[name, "estimate"] - value) < 3 * summary.loc[name, "std_error"], name


@pytest.mark.parametrize("survivors, error, match", [
    ([1000, 800, 850], DataValidationError, "survivors: must not increase"),
    ([1000, -1], DataValidationError, "survivors: must be >= 0"),
    ([1000, 600.5], DataValidationError, "survivors: must be whole counts"),
    ([0, 0], DataValidationError, "survivors: the cohort is empty"),
    ([1000], InsufficientDataError, "survivors: 1 value"),
    ([1000, 1000, 1000], ModelFitError, "sBG: nobody churned"),
])
def test_invalid_survivors(survivors, error, match):
    with pytest.raises(error, match=match):
        ShiftedBetaGeoModel().fit(survivors)


def test_survivor_counts_rules():
    df = pd.DataFrame({"recency": [1, 2, 3, 3, 1, 2], "T": [3, 3, 3, 3, 2, 2], "cohort": list("aaaabb")})
    out = survivor_counts(df)
    assert out[out["cohort"] == "a"]["survivors"].tolist() == [4, 3, 2]
    assert out[out["cohort"] == "b"]["survivors"].tolist() == [2, 1]
    with pytest.raises(DataValidationError, match="'T' differs within group"):
        survivor_counts(df.assign(cohort="a"))
    with pytest.raises(DataValidationError, match="recency"):
        survivor_counts(df.assign(recency=[0, 2, 3, 3, 1, 2]))
    with pytest.raises(DataValidationError, match="column 'cohort' not found"):
        survivor_counts(df.drop(columns="cohort"))
    assert survivor_counts(df[df["cohort"] == "a"], by=None)["survivors"].tolist() == [4, 3, 2]


# --- several cohorts ------------------------------------------------------------------------

from scipy import stats as sps  # noqa: E402
from scipy.integrate import quad  # noqa: E402

from slm_lib.clv.sbg import as_cohorts, cohort_tallies, sbg_loglik, tallies_loglik, tallies_score_information  # noqa: E402
from test_bgnbd import central_derivatives  # noqa: E402


def test_joint_fit_of_the_two_fader_hardie_cohorts(survivors, fits):
    joint = ShiftedBetaGeoModel().fit(survivors)           # tidy frame: cohort, period, survivors
    cohorts = {c: np.array(PUBLISHED_SURVIVORS[c][:8], dtype=float) for c in PUBLISHED_SURVIVORS}
    pj = [joint.params_["alpha"], joint.params_["beta"]]
    assert joint.log_likelihood_ == pytest.approx(sum(sbg_loglik(pj, n) for n in cohorts.values()), rel=1e-12)
    separate = sum(f.log_likelihood_ for f in fits.values())
    assert joint.log_likelihood_ < separate
    # the cohorts differ (beta 1.18 vs 3.81): a likelihood-ratio test of common parameters rejects
    assert 2 * (separate - joint.log_likelihood_) > sps.chi2.ppf(0.999, df=2)
    a_sep = sorted(f.params_["beta"] for f in fits.values())
    assert a_sep[0] < joint.params_["beta"] < a_sep[1]
    assert joint.survivors_ is None and joint.result_.n_obs == 2000
    assert joint.cohorts_.groupby("cohort")["period"].max().tolist() == [7, 7]
    same = [ShiftedBetaGeoModel().fit(x).params_ for x in (cohorts, list(cohorts.values()))]
    for p in same:
        assert p == pytest.approx(joint.params_, rel=1e-6)


def test_duplicating_every_cohort_doubles_the_loglik_and_keeps_the_parameters():
    cohorts = {"a": [500, 400, 330, 290], "b": [300, 250, 215], "c": [800, 610]}
    once = ShiftedBetaGeoModel().fit(cohorts)
    twice = ShiftedBetaGeoModel().fit({**cohorts, **{k + "2": v for k, v in cohorts.items()}})
    assert twice.log_likelihood_ == pytest.approx(2 * once.log_likelihood_, rel=1e-9)
    assert twice.params_ == pytest.approx(once.params_, rel=1e-5)
    # twice the data: standard errors shrink by sqrt(2)
    np.testing.assert_allclose(twice.summary["std_error"] * np.sqrt(2), once.summary["std_error"], rtol=1e-3)


def test_splitting_a_cohort_into_a_head_and_a_left_truncated_tail_changes_nothing(fits):
    n = PUBLISHED_SURVIVORS["regular"][:8]
    split = pd.DataFrame({"cohort": ["head"] * 4 + ["tail"] * 5, "period": [0, 1, 2, 3, 3, 4, 5, 6, 7],
                          "survivors": n[:4] + n[3:]})
    fit = ShiftedBetaGeoModel().fit(split)
    assert fit.log_likelihood_ == pytest.approx(fits["regular"].log_likelihood_, rel=1e-12)
    assert fit.params_ == pytest.approx(fits["regular"].params_, rel=1e-6)
    assert fit.result_.n_obs == 1000 + n[3]                # entrants: the tail enters at period 3


@pytest.mark.parametrize("params", [(0.704, 1.182), (1.0, 1.0), (0.01, 50.0), (30.0, 0.05)])
def test_score_and_information_match_numerical_derivatives(params):
    n = PUBLISHED_SURVIVORS["regular"][:8]   # a whole cohort and a left-truncated one
    tallies = cohort_tallies([0, 3], [7, 7], np.array(n + n[3:], dtype=float))
    score, info = tallies_score_information(params, *tallies)
    scale = np.sqrt(np.abs(np.diag(info)) * np.square(params))
    num = central_derivatives(lambda p: tallies_loglik(p, *tallies), params)
    np.testing.assert_allclose(score * params, num * params, rtol=1e-6, atol=1e-6 * scale.max())
    jac = central_derivatives(lambda p: tallies_score_information(p, *tallies)[0], params)
    np.testing.assert_allclose(-info, jac, rtol=1e-5, atol=1e-6 * np.abs(info).max())


def test_cohort_tallies_by_hand():
    churned, censored, entered = cohort_tallies([0, 2, 0], [3, 4, 1], np.array(
        [10., 8., 5., 5., 7., 6., 3., 4., 1.]))
    assert churned.tolist() == [0, 2 + 3, 3, 0 + 1, 3]
    assert censored.tolist() == [0, 1, 0, 5, 3]
    assert entered.tolist() == [14, 0, 7, 0, 0]


def test_recovers_simulated_cohorts_of_different_lengths():
    rng = np.random.default_rng(21)
    alpha, beta = 1.3, 4.0
    cohorts = {}
    for j, (size, periods) in enumerate([(3000, 12), (2500, 9), (2000, 6), (1500, 3), (1000, 2)]):
        life = rng.geometric(rng.beta(alpha, beta, size))
        cohorts[f"c{j}"] = (life[:, None] > np.arange(periods)[None, :]).sum(axis=0)
    summary = ShiftedBetaGeoModel().fit(cohorts).summary.set_index("parameter")
    for name, value in {"alpha": alpha, "beta": beta}.items():  # two parameters: |z| < 3 each
        est, se = summary.loc[name, ["estimate", "std_error"]]
        assert abs(est - value) < 3 * se, name


def test_several_cohorts_input_rules():
    frame = pd.DataFrame({"cohort": ["a", "a", "b", "b"], "period": [0, 1, 0, 1], "survivors": [10, 8, 6, 5]})
    with pytest.raises(DataValidationError, match=r"duplicated \(cohort, period\)"):
        ShiftedBetaGeoModel().fit(pd.concat([frame, frame.iloc[:1]]))
    with pytest.raises(DataValidationError, match="consecutive"):
        ShiftedBetaGeoModel().fit(frame.assign(period=[0, 2, 0, 1]))
    with pytest.raises(DataValidationError, match=r"column\(s\) \['survivors'\] not found"):
        ShiftedBetaGeoModel().fit(frame.drop(columns="survivors"))
    with pytest.raises(DataValidationError, match="survivors \\(cohort 'b'\\): must not increase"):
        ShiftedBetaGeoModel().fit({"a": [10, 8], "b": [5, 6]})
    with pytest.raises(InsufficientDataError, match="every cohort has a single period"):
        ShiftedBetaGeoModel().fit({"a": [10], "b": [5]})
    with pytest.raises(ModelFitError, match="nobody churned"):
        ShiftedBetaGeoModel().fit({"a": [10, 10], "b": [5, 5, 5]})
    seg = frame.assign(segment="x")
    longer = pd.DataFrame({"cohort": ["a", "a", "a", "b", "b"], "period": [0, 1, 2, 0, 1],
                           "survivors": [20, 12, 9, 9, 7], "segment": "y"})
    fit = ShiftedBetaGeoModel().fit(pd.concat([seg, longer]), cohort_col=["segment", "cohort"])
    assert len(fit.cohorts_) == 9 and fit.result_.n_obs == 45
    # churn in the first period only identifies alpha / (alpha + beta), not alpha and beta
    with pytest.raises(ModelFitError, match="sBG: the Hessian at the optimum is not positive definite"):
        ShiftedBetaGeoModel().fit(pd.concat([seg, seg.assign(segment="y", survivors=[20, 12, 9, 7])]),
                                  cohort_col=["segment", "cohort"])
    starts = {k: s for k, (s, _) in as_cohorts(frame.assign(period=[3, 4, 0, 1])).items()}
    assert starts == {"a": 3, "b": 0}


def test_projection_of_a_multi_cohort_fit():
    fit = ShiftedBetaGeoModel().fit({"a": [500, 400, 330, 290], "b": [300, 250]})
    proj = fit.projection(5)
    assert proj["fitted"].tolist() == [True] * 4 + [False] * 2
    assert proj["expected_survivors"].isna().all()


@settings(max_examples=50, deadline=None)
@given(st.floats(1.05, 6), st.floats(0.2, 10), st.integers(1, 15))
def test_residual_lifetime_is_the_mean_of_further_renewals(alpha, beta, n):
    # alive after n - 1 renewals: churn rate ~ Beta(alpha, beta + n - 1); further renewals
    # are geometric with mean (1 - theta) / theta; integrate that over the posterior
    post = sps.beta(alpha, beta + n - 1)
    expected = quad(lambda th: (1 - th) / th * post.pdf(th), 0, 1, limit=200)[0]
    model = ShiftedBetaGeoModel()
    got = float(model.residual_lifetime(n, {"alpha": alpha, "beta": beta}))
    assert got == pytest.approx(expected, rel=1e-5)
    assert got == pytest.approx(float(model.derl(0.0, n, {"alpha": alpha, "beta": beta})), rel=1e-9)


def test_residual_lifetime_infinite_without_a_mean_and_derl_over_several_customers(fits):
    fit = fits["regular"]                                   # alpha 0.704 <= 1
    assert np.isinf(fit.residual_lifetime(3))
    renewals = np.array([1, 1, 4, 9])
    got = fit.contractual_clv(50.0, 0.01, renewals, n_draws=300, seed=1)
    assert got["derl"] == pytest.approx(np.mean([float(fit.derl(0.01, k)) for k in renewals]), rel=1e-12)
    assert got["ci_low"] < got["clv"] < got["ci_high"]
    with pytest.raises(DataValidationError, match="n: must be an integer >= 1"):
        fit.derl(0.1, np.array([1, 0]))
