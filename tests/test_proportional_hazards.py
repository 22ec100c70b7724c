"""Proportional-hazards test: closed forms, a direct implementation, simulations, sentences and errors."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy.stats import chi2, rankdata

from slm_lib.errors import ConfigError, InsufficientDataError, ModelFitError
from slm_lib.models import churn_hazard_model, churn_model
from slm_lib.models.proportional_hazards import proportional_hazards_sentences, proportional_hazards_test

COLUMNS = ["term", "role", "label", "statistic", "df", "p_value", "p_adjusted", "transform", "events"]

# Therneau & Grambsch's test data 1 (the row with a missing status is dropped by the model).
THERNEAU = pd.DataFrame({"duration_days": [9, 3, 1, 1, 6, 6, 8], "event": [1, np.nan, 1, 0, 1, 1, 0],
                         "x": [0, 2, 1, 1, 1, 0, 0]})


def score_test_1d(U: np.ndarray, info: np.ndarray, g: np.ndarray) -> float:
    """Score test of g(t) x from per-death score and information contributions (one covariate)."""
    g = g - g.mean()
    u = np.array([U.sum(), (g * U).sum()])
    i2 = np.array([[info.sum(), (g * info).sum()], [(g * info).sum(), (g ** 2 * info).sum()]])
    return float(np.linalg.solve(i2, u) @ u)


def test_closed_form_breslow_identity():
    """Breslow: exp(beta) = (3 + sqrt(33)) / 2; per-death score and information written out by hand."""
    r = (3 + np.sqrt(33)) / 2
    m = churn_hazard_model(THERNEAU, ["x"], min_events_per_term=1, ties="breslow")
    assert m.table.loc[0, "estimate"] == pytest.approx(np.log(r), abs=1e-9)
    U = np.array([1 / (r + 1), 3 / (r + 3), -r / (r + 3), 0])
    info = np.array([r / (r + 1) ** 2, 3 * r / (r + 3) ** 2, 3 * r / (r + 3) ** 2, 0])
    expected = score_test_1d(U, info, np.array([1.0, 6, 6, 9]))
    test = proportional_hazards_test(m, transform="identity")
    assert list(test.columns) == COLUMNS
    assert test["statistic"].tolist() == pytest.approx([expected, expected], abs=1e-8)
    assert test["p_value"].tolist() == pytest.approx([chi2.sf(expected, 1)] * 2, abs=1e-8)
    assert test["term"].tolist() == ["x", "global"] and test["events"].tolist() == [4, 4]


def test_closed_form_efron_log():
    """Efron: exp(beta) is the root of a cubic; the tied deaths at t = 6 split the risk set in halves."""
    r = 2 * np.sqrt(23 / 3) * np.cos(np.arccos(45 / 23 * np.sqrt(3 / 23)) / 3)
    m = churn_hazard_model(THERNEAU, ["x"], min_events_per_term=1)
    assert m.table.loc[0, "estimate"] == pytest.approx(np.log(r), abs=1e-9)
    U = np.array([1 / (r + 1), 3 / (r + 3), -r / (r + 5), 0])
    info = np.array([r / (r + 1) ** 2, 3 * r / (r + 3) ** 2, 5 * r / (r + 5) ** 2, 0])
    expected = score_test_1d(U, info, np.log([1.0, 6, 6, 9]))
    test = proportional_hazards_test(m, transform="log")
    assert test.loc[0, "statistic"] == pytest.approx(expected, abs=1e-8)
    assert (test["transform"] == "log").all()


def direct_zph(time, status, X, beta, transform, efron):
    """Textbook score test, one event time and one Efron step at a time (no library code)."""
    n, p = X.shape
    risk = np.exp(X @ beta)
    death_times = np.unique(time[status == 1])
    if transform == "identity":
        gfun = dict(zip(death_times, death_times))
    elif transform == "log":
        gfun = dict(zip(death_times, np.log(death_times)))
    elif transform == "rank":
        ranks = rankdata(time)
        gfun = {t: ranks[time == t][0] for t in death_times}
    else:
        surv, gfun = 1.0, {}
        for t in death_times:
            gfun[t] = 1 - surv
            surv *= 1 - np.sum((time == t) & (status == 1)) / np.sum(time >= t)
    g_events = np.array([gfun[t] for t in time[status == 1]])
    gbar = g_events.mean()
    u = np.zeros(2 * p)
    imat = np.zeros((2 * p, 2 * p))
    for t in death_times:
        at_risk = time >= t
        dying = at_risk & (time == t) & (status == 1)
        d = dying.sum()
        g = gfun[t] - gbar
        for j in range(d):
            frac = j / d if efron else 0.0
            w = risk * (at_risk - frac * dying)
            mean = w @ X / w.sum()
            cov = (X - mean).T @ ((X - mean) * w[:, None]) / w.sum()
            step_score = X[dying].sum(axis=0) / d - mean
            u += np.r_[step_score, g * step_score]
            imat += np.block([[cov, g * cov], [g * cov, g * g * cov]])
    u[:p] = 0.0  # zero at the fit
    per_term = []
    for j in range(p):
        keep = list(range(p)) + [p + j]
        per_term.append(np.linalg.solve(imat[np.ix_(keep, keep)], u[keep]) @ u[keep])
    return np.array(per_term + [np.linalg.solve(imat, u) @ u])


TEN_ROWS = pd.DataFrame({
    "duration_days": [2.0, 3, 3, 3, 5, 7, 7, 8, 11, 12],
    "event":         [1, 1, 1, 0, 1, 1, 0, 1, 0, 1],
    "x":             [1.2, -0.4, 0.9, 0.3, -1.1, 0.5, -0.2, 1.7, -0.8, 0.1],
    "segment":       ["mid", "smb", "mid", "smb", "smb", "mid", "mid", "smb", "smb", "mid"],
})


@pytest.mark.parametrize("transform", ["km", "rank", "identity", "log"])
@pytest.mark.parametrize("ties", ["efron", "breslow"])
def test_matches_direct_implementation(transform, ties):
    m = churn_hazard_model(TEN_ROWS, ["x", "segment"], min_events_per_term=1, ties=ties)
    X = np.column_stack([TEN_ROWS["x"], TEN_ROWS["segment"] == "mid"]).astype(float)
    expected = direct_zph(TEN_ROWS["duration_days"].to_numpy(), TEN_ROWS["event"].to_numpy(), X,
                          m.table["estimate"].to_numpy(), transform, ties == "efron")
    test = proportional_hazards_test(m, transform=transform)
    assert test["term"].tolist() == ["x", "segment[mid]", "global"]
    assert test["statistic"].to_numpy() == pytest.approx(expected, abs=1e-8)
    assert test["df"].tolist() == [1, 1, 2]
    assert test["label"].tolist() == ["x (per +1)", "segment: mid (vs smb)", "all terms together"]


def proportional(seed: int, n: int) -> pd.DataFrame:
    """Exponential times, log hazard ratio 0.5 per SD of x and 0.3 for segment mid, uniform censoring."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, n)
    seg = rng.choice(["smb", "mid"], n)
    t = rng.exponential(1 / np.exp(0.5 * x + 0.3 * (seg == "mid")))
    c = rng.uniform(0.5, 3, n)
    return pd.DataFrame({"x": x, "segment": seg, "duration_days": np.minimum(t, c), "event": (t < c).astype(int)})


def switching(seed: int, n: int, t0: float = 0.5) -> pd.DataFrame:
    """Log hazard ratio of x is +0.8 up to t0 and -0.8 after (piecewise exponential); segment stays 0.3."""
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, n)
    seg = rng.choice(["smb", "mid"], n)
    base = 0.3 * (seg == "mid")
    h1, h2 = np.exp(0.8 * x + base), np.exp(-0.8 * x + base)
    e = rng.exponential(1, n)
    t = np.where(e < h1 * t0, e / h1, t0 + (e - h1 * t0) / h2)
    c = rng.uniform(0.5, 3, n)
    return pd.DataFrame({"x": x, "segment": seg, "duration_days": np.minimum(t, c), "event": (t < c).astype(int)})


def test_proportional_hazards_not_rejected():
    m = churn_hazard_model(proportional(3, 1500), ["x"], controls=["segment"])
    for transform in ("km", "rank", "identity"):
        test = proportional_hazards_test(m, transform=transform).set_index("term")
        assert (test["p_value"] > 0.05).all(), test
    sentences = proportional_hazards_sentences(proportional_hazards_test(m))
    assert len(sentences) == 1 and sentences[0].startswith("No driver shows a clear change of its hazard ratio")


def test_time_varying_effect_detected():
    m = churn_hazard_model(switching(3, 1500), ["x"], controls=["segment"])
    for transform in ("km", "rank", "identity"):
        test = proportional_hazards_test(m, transform=transform).set_index("term")
        assert test.loc["x", "p_value"] < 0.001 and test.loc["global", "p_value"] < 0.001
        assert test.loc["segment[mid]", "p_value"] > 0.01
    (sentence,) = proportional_hazards_sentences(proportional_hazards_test(m))
    assert sentence.startswith("The effect of x (per +1) changes over time (p < 0.001; ") and "Holm" in sentence
    assert (proportional_hazards_test(m)["p_adjusted"] >= proportional_hazards_test(m)["p_value"]).all()


@settings(max_examples=2, deadline=None)
@given(st.integers(0, 10_000), st.floats(0.01, 100))
def test_time_scale_invariance(seed, scale):
    """km and rank depend on the order of the times only; identity is unchanged by a change of units."""
    df = proportional(seed, 60)
    try:
        base = churn_hazard_model(df, ["x"], min_events_per_term=1)
    except ModelFitError:
        assume(False)
    squashed = churn_hazard_model(df.assign(duration_days=np.log1p(df["duration_days"])), ["x"],
                                  min_events_per_term=1)
    scaled = churn_hazard_model(df.assign(duration_days=df["duration_days"] * scale), ["x"],
                                min_events_per_term=1)
    for transform, other in (("km", squashed), ("rank", squashed), ("identity", scaled)):
        a = proportional_hazards_test(base, transform=transform)["statistic"]
        b = proportional_hazards_test(other, transform=transform)["statistic"]
        assert b.to_numpy() == pytest.approx(a.to_numpy(), rel=1e-6, abs=1e-9)


def test_sentences_name_drivers_controls_and_global():
    test = pd.DataFrame({"term": ["median_frt_h", "sla_breach_share", "tenure_years", "global"],
                         "role": ["driver", "driver", "control", "global"],
                         "label": ["median first response", "SLA breach share", "tenure", "all terms together"],
                         "p_value": [0.31, 0.0004, 0.012, 0.001]})
    assert proportional_hazards_sentences(test) == [  # Holm over 3 terms: 0.0012, 0.024, 0.31
        "The effect of SLA breach share changes over time (p < 0.001; 0.0012 after a Holm adjustment over 3 "
        "terms): read its hazard ratio as an average over the follow-up, not a constant effect.",
        "The effect of the control tenure changes over time (p = 0.012; 0.024 after a Holm adjustment over 3 "
        "terms): the driver hazard ratios are adjusted for its average effect only."]
    quiet = test.assign(p_value=[0.31, 0.08, 0.5, 0.04])
    assert proportional_hazards_sentences(quiet) == [
        "No driver shows a clear change of its hazard ratio over time (smallest p = 0.08; 3 terms tested).",
        "Taken together the hazard ratios drift over time (p = 0.04, global test) although no single one does "
        "clearly: read them as averages over the follow-up."]
    watch = test.assign(p_value=[0.31, 0.03, 0.5, 0.2])  # 0.03 x 3 = 0.09 after adjustment
    assert proportional_hazards_sentences(watch) == [
        "No driver shows a clear change of its hazard ratio over time (smallest p = 0.03; 3 terms tested).",
        "A sign to watch, not clear once the 3 terms are adjusted for multiple testing: SLA breach share "
        "(p = 0.03, 0.09 adjusted)."]


def test_errors():
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=400), "churned": rng.random(400) < 0.3})
    with pytest.raises(ConfigError, match="needs a Cox model.*'logit'"):
        proportional_hazards_test(churn_model(df, ["x"]))
    m = churn_hazard_model(TEN_ROWS, ["x"], min_events_per_term=1)
    with pytest.raises(ConfigError, match="transform='weeks'"):
        proportional_hazards_test(m, transform="weeks")
    zero = TEN_ROWS.assign(duration_days=TEN_ROWS["duration_days"] - 2)
    with pytest.raises(ConfigError, match="positive event times; 1 event"):
        proportional_hazards_test(churn_hazard_model(zero, ["x"], min_events_per_term=1), transform="log")
    one_time = TEN_ROWS.assign(duration_days=np.where(TEN_ROWS["event"] == 1, 4.0, 9.0))
    with pytest.raises(InsufficientDataError, match="at one time"):
        proportional_hazards_test(churn_hazard_model(one_time, ["x"], min_events_per_term=1))
    # x = 1 only among those at risk at the first event time: nothing to say about later times
    early = pd.DataFrame({"duration_days": [1, 1, 1, 1, 1, 2, 3, 4, 5, 6.0], "event": [1, 0, 0, 1, 0, 1, 1, 1, 1, 0],
                          "x": [1, 1, 1, 0, 0, 0, 0, 0, 0, 0]})
    with pytest.raises(InsufficientDataError, match="term 'x' gives no information about a change over time"):
        proportional_hazards_test(churn_hazard_model(early, ["x"], min_events_per_term=1))


def test_global_test_drops_a_combination_without_trend_information():
    """After t = 1 only (a, b) = (1, 0) or (0, 1) stay at risk: a + b is informed at t = 1 only.

    The information of the g(t) x columns is then c [[1, -1], [-1, 1]] and the score (u, -u), so
    the global test has 1 df and equals each per-term test u^2 / c.
    """
    df = pd.DataFrame({"duration_days": [1, 1, 1, 1, 1, 2, 3, 4, 5, 6, 7, 8.0],
                       "event": [1, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0, 1],
                       "a": [1, 1, 0, 0, 1, 1, 0, 1, 0, 1, 0, 0],
                       "b": [1, 1, 0, 0, 0, 0, 1, 0, 1, 0, 1, 1]})
    test = proportional_hazards_test(churn_hazard_model(df, ["a", "b"], min_events_per_term=1))
    assert test["df"].tolist() == [1, 1, 1]
    assert test["statistic"].to_numpy() == pytest.approx([test.loc[0, "statistic"]] * 3, rel=1e-9)


def test_sentences_never_write_a_missing_p_as_small():
    test = pd.DataFrame({"term": ["x", "global"], "role": ["driver", "global"], "label": ["x", "all terms together"],
                         "p_value": [float("nan"), float("nan")]})
    text = " ".join(proportional_hazards_sentences(test))
    assert "0.001" not in text and "not testable" in text
