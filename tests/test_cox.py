"""Tests of the Cox partial likelihood and Newton fit (slm_lib.models._cox) against statsmodels' PHReg."""
from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm
from statsmodels.duration.hazard_regression import PHRegResults

from slm_lib.models._cox import RiskSets, fit_cox


def _model(n: int, distinct: bool, ties: str, seed: int = 0) -> sm.PHReg:
    rng = np.random.default_rng(seed)
    X = np.column_stack([rng.normal(10, 5, n), rng.normal(0, 1, n), rng.random(n) < 0.3])
    t = rng.exponential(1 / np.exp(-3 + 0.03 * X[:, 0] + 0.4 * X[:, 1] + 0.3 * X[:, 2]))
    follow = np.minimum(t, 60.0)
    time = follow if distinct else np.ceil(follow)          # whole days: many tied churn times
    return sm.PHReg(time, X - X.mean(axis=0), status=(t < 60).astype(float), ties=ties)


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("distinct", [True, False])
def test_loglik_score_and_information_equal_statsmodels(ties, distinct):
    model = _model(600, distinct, ties)
    sets = RiskSets(np.asarray(model.endog), np.asarray(model.status, float), np.asarray(model.exog))
    for beta in ([0.0, 0.0, 0.0], [0.03, 0.4, 0.3], [0.5, -3.0, 4.0], [-1.0, 8.0, -10.0]):   # to extreme risks
        beta = np.array(beta)
        ll, score, info = sets.evaluate(beta, ties == "efron")
        assert ll == pytest.approx(model.loglike(beta), rel=1e-10)
        np.testing.assert_allclose(score, model.score(beta), rtol=1e-8, atol=1e-8 * np.abs(info).max())
        np.testing.assert_allclose(info, -model.hessian(beta), rtol=1e-8, atol=1e-10 * np.abs(info).max())


@pytest.mark.parametrize("ties", ["efron", "breslow"])
@pytest.mark.parametrize("distinct", [True, False])
def test_fit_equals_statsmodels_newton(ties, distinct):
    model = _model(3000, distinct, ties, seed=1)
    ours = fit_cox(model)
    ref = model.fit(method="newton", maxiter=100, disp=0)
    assert isinstance(ours, PHRegResults) and ours.model is model
    np.testing.assert_allclose(ours.params, ref.params, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.bse, ref.bse, rtol=1e-8)


def test_no_convergence_warns_and_a_singular_information_raises():
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    model = _model(300, True, "efron")
    with pytest.warns(ConvergenceWarning, match="no convergence in 1 Newton steps"):
        fit_cox(model, maxiter=1)
    copy = sm.PHReg(model.endog, np.column_stack([model.exog[:, 0], 2 * model.exog[:, 0]]), status=model.status)
    with pytest.raises(np.linalg.LinAlgError):
        fit_cox(copy)
