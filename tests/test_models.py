"""Models: known coefficients on simulated data, fit errors, and planted-effect recovery on synth data."""
from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from slm_lib.errors import ConfigError, InsufficientDataError, ModelFitError
from slm_lib.models import churn_hazard_model, churn_model, clv_model, lagged_effects, newey_west_maxlags
from slm_lib.wording import format_p

LOGIT_COLUMNS = ["term", "role", "unit", "label", "estimate", "std_error", "ci_low", "ci_high", "p_value", "effect",
                 "effect_ci_low", "effect_ci_high", "effect_type", "ame_pp", "ame_ci_low", "ame_ci_high",
                 "n", "events"]


def covers(table: pd.DataFrame, term: str, value: float) -> bool:
    row = table.set_index("term").loc[term]
    return bool(row["ci_low"] <= value <= row["ci_high"])


def z_scores(table: pd.DataFrame, truth: dict[str, float]) -> dict[str, float]:
    """(estimate - true value) / std_error per term: the check for a sweep over many terms.

    Six 95% intervals all cover their true values only 74% of the time; |z| < 3 on every term
    holds 98% of the time for a correct model and still catches a biased estimate or a
    standard error that is too small.
    """
    t = table.set_index("term")
    return {term: float((t.loc[term, "estimate"] - value) / t.loc[term, "std_error"]) for term, value in truth.items()}


@pytest.fixture(scope="module")
def churn_data() -> pd.DataFrame:
    rng = np.random.default_rng(42)
    n = 20_000
    df = pd.DataFrame({
        "median_frt_h": rng.gamma(2.0, 8.0, n),
        "sla_breach_share": rng.random(n),
        "last_nps_category": rng.choice(["promoter", "passive", "detractor", "none"], n),
        "segment": rng.choice(["smb", "mid", "enterprise"], n, p=[0.6, 0.3, 0.1]),
    })
    lp = (-2.5 + 0.3 * df["median_frt_h"] / 10 + 0.8 * df["sla_breach_share"]
          + 0.9 * (df["last_nps_category"] == "detractor") + 0.4 * (df["last_nps_category"] == "passive")
          - 0.5 * (df["segment"] == "enterprise"))
    df["churned"] = rng.random(n) < 1 / (1 + np.exp(-lp))
    df.loc[:99, "median_frt_h"] = np.nan
    return df


def test_churn_model_recovers_known_coefficients(churn_data):
    m = churn_model(churn_data, ["median_frt_h", "sla_breach_share", "last_nps_category"], controls=["segment"],
                    units={"median_frt_h": 10})
    t = m.table
    assert list(t.columns) == LOGIT_COLUMNS
    z = z_scores(t, {"median_frt_h": 0.3, "sla_breach_share": 0.8, "last_nps_category[detractor]": 0.9,
                     "last_nps_category[passive]": 0.4, "last_nps_category[none]": 0.0, "segment[enterprise]": -0.5})
    assert all(abs(v) < 3 for v in z.values()), z
    row = t.set_index("term").loc["median_frt_h"]
    assert row["unit"] == "+10 h" and row["role"] == "driver" and row["effect_type"] == "odds ratio"
    assert row["effect"] == pytest.approx(np.exp(row["estimate"]))
    assert t.set_index("term").loc["last_nps_category[detractor]", "unit"] == "detractor vs promoter"
    assert t.set_index("term").loc["segment[mid]", "role"] == "control"
    # AME of a numeric term = mean p (1 - p) * beta, in percentage points
    p = m.result.predict()
    assert row["ame_pp"] == pytest.approx(100 * np.mean(p * (1 - p)) * row["estimate"], rel=1e-6)
    assert row["ame_ci_low"] < row["ame_pp"] < row["ame_ci_high"]
    assert m.n == len(churn_data) - 100 and m.n_dropped == 100 and m.dropped_by == {"median_frt_h": 100}
    assert (t["n"] == m.n).all() and (t["events"] == int(churn_data["churned"].iloc[100:].sum())).all()


def test_churn_model_sentences_and_standardised_units(churn_data):
    m = churn_model(churn_data, ["median_frt_h"], units={"median_frt_h": 10})
    (sentence,) = m.sentences()
    row = m.table.iloc[0]
    assert 0.01 <= row["effect_ci_high"] - row["effect_ci_low"] < 0.1  # so the odds ratio has 3 decimals
    assert 0.1 <= row["ame_ci_high"] - row["ame_ci_low"] < 1  # and the change in probability 2
    assert sentence == (f"Each +10 h of median first response multiplies the odds of churn by {row['effect']:.3f} "
                        f"(95% CI {row['effect_ci_low']:.3f} to {row['effect_ci_high']:.3f}); churn probability "
                        f"{row['ame_pp']:+.2f} pp (95% CI {row['ame_ci_low']:+.2f} to {row['ame_ci_high']:+.2f}).")
    sd = churn_model(churn_data, ["median_frt_h"], units={"median_frt_h": "sd"})
    scale = churn_data["median_frt_h"].dropna().std()
    assert sd.table.loc[0, "unit"].startswith("+1 SD")
    assert sd.table.loc[0, "estimate"] == pytest.approx(row["estimate"] * scale / 10, rel=1e-6)


def test_churn_hazard_model_known_hazard_ratio():
    rng = np.random.default_rng(7)
    n = 2000
    x = rng.normal(0, 1, n)
    seg = rng.choice(["smb", "mid"], n)
    t = rng.exponential(1 / np.exp(0.5 * x + 0.3 * (seg == "mid")))
    df = pd.DataFrame({"x": x, "segment": seg, "duration_days": np.minimum(t, 1.5), "event": (t < 1.5).astype(int)})
    m = churn_hazard_model(df, ["x"], controls=["segment"])
    z = z_scores(m.table, {"x": 0.5, "segment[mid]": 0.3})
    assert all(abs(v) < 3 for v in z.values()), z
    assert m.table.loc[0, "effect_type"] == "hazard ratio"
    assert m.table.loc[0, "effect"] == pytest.approx(np.exp(m.table.loc[0, "estimate"]))
    assert m.table.loc[0, "events"] == df["event"].sum()
    assert "multiplies the hazard of churn" in m.sentences()[0]


def test_churn_hazard_model_with_distinct_churn_times_of_many_customers():
    """52,600 customers, no tied times, four terms: statsmodels' PHReg.fit (ncg) did not converge here."""
    rng = np.random.default_rng(0)
    n = 52_600
    frt, csat, seg = rng.normal(10, 5, n), rng.normal(0, 1, n), rng.choice(["smb", "mid", "ent"], n)
    t = rng.exponential(1 / np.exp(-6 + 0.03 * frt + 0.2 * csat))
    df = pd.DataFrame({"median_frt_h": frt, "mean_csat": csat, "segment": seg,
                       "duration_days": np.minimum(t, 365), "event": (t < 365).astype(int)})
    m = churn_hazard_model(df, ["median_frt_h", "mean_csat"], controls=["segment"])
    z = z_scores(m.table, {"median_frt_h": 0.03, "mean_csat": 0.2, "segment[ent]": 0.0, "segment[mid]": 0.0})
    assert all(abs(v) < 3 for v in z.values()), z


@pytest.mark.parametrize("method", ["gamma", "log_ols"])
def test_clv_model_percent_effect(method):
    rng = np.random.default_rng(11)
    n = 5000
    csat = rng.integers(1, 6, n).astype(float)
    df = pd.DataFrame({"mean_csat": csat, "revenue_horizon": 100 * np.exp(0.08 * csat + rng.normal(0, 0.3, n))})
    df.loc[:9, "revenue_horizon"] = 0.0
    m = clv_model(df, ["mean_csat"], method=method)
    assert covers(m.table, "mean_csat", 0.08)
    row = m.table.iloc[0]
    assert row["effect_type"] == "% change"
    assert row["effect"] == pytest.approx(100 * np.expm1(row["estimate"]))
    assert m.dropped_by == {"revenue_horizon <= 0": 10} and m.n == n - 10
    assert m.sentences()[0].startswith(
        "Each +1 point of mean CSAT changes expected revenue in the following window by +")
    assert row["label"] == "mean CSAT (per +1 point)"
    assert clv_model(df.assign(mean_csat=df["mean_csat"] * 10), ["mean_csat"], units={"mean_csat": 10},
                     method=method).table.loc[0, "label"] == "mean CSAT (per +10 points)"


def test_clv_model_ols_levels_hc3():
    rng = np.random.default_rng(12)
    x = rng.normal(0, 1, 3000)
    df = pd.DataFrame({"x": x, "historical_clv": 50 + 7 * x + rng.normal(0, 1 + np.abs(x), 3000)})
    m = clv_model(df, ["x"], outcome="historical_clv", method="ols")
    assert covers(m.table, "x", 7.0)
    assert m.result.cov_type == "HC3" and m.table.loc[0, "effect_type"] == "change in historical CLV"
    with pytest.raises(ConfigError, match="method"):
        clv_model(df, ["x"], outcome="historical_clv", method="poisson")


def _lagged_monthly(driver: str) -> pd.DataFrame:
    """120 months where churn_rate = 2 + 0.04 x driver one month earlier + 0.02 x two months earlier + noise."""
    rng = np.random.default_rng(5)
    n = 120
    frt = rng.normal(10, 3, n)
    churn = 2 + 0.04 * np.r_[np.nan, frt[:-1]] + 0.02 * np.r_[np.nan, np.nan, frt[:-2]] + rng.normal(0, 0.05, n)
    return pd.DataFrame({"month": pd.period_range("2015-01", periods=n, freq="M").strftime("%Y-%m"),
                         driver: frt, "churn_rate": churn})


def test_lagged_effects_known_lags():
    monthly = _lagged_monthly("frt")
    n = len(monthly)
    shuffled = monthly.sample(frac=1, random_state=0)  # sorted by month inside
    m = lagged_effects(shuffled, "churn_rate", "frt", lags=(0, 1, 2), units={"frt": 10})
    t = m.table.set_index("term")
    assert t.index.tolist() == ["frt_lag0", "frt_lag1", "frt_lag2", "frt_cumulative"]
    z = z_scores(m.table, {"frt_lag0": 0.0, "frt_lag1": 0.4, "frt_lag2": 0.2})
    assert all(abs(v) < 3 for v in z.values()), z
    assert t.loc["frt_cumulative", "estimate"] == pytest.approx(t.loc[["frt_lag0", "frt_lag1", "frt_lag2"],
                                                                      "estimate"].sum())
    assert m.result.cov_type == "HAC" and (t["maxlags"] == newey_west_maxlags(n - 2)).all()
    assert m.n == n - 2 and t.loc["frt_lag1", "lag"] == 1 and np.isnan(t.loc["frt_cumulative", "lag"])
    assert m.readable().index.tolist() == ["frt, the same month (per +10)", "frt, 1 month before (per +10)",
                                           "frt, 2 months before (per +10)", "frt, all lags summed (per +10)"]
    assert m.readable().columns[0] == "change in the monthly churn rate (pp)"
    assert (m.readable()["n"] == f"{n - 2}").all()
    with_control = lagged_effects(monthly.assign(staff=np.random.default_rng(1).normal(50, 5, n)), "churn_rate", "frt",
                                  lags=(0, 1), controls=["staff"])
    assert with_control.readable("all").index.tolist() == [
        "frt, the same month (per +1)", "frt, 1 month before (per +1)", "staff (per +1)", "frt, all lags summed (per +1)"]
    with pytest.raises(ConfigError, match="consecutive"):
        lagged_effects(monthly.drop(index=5), "churn_rate", "frt")
    with pytest.raises(InsufficientDataError, match="months"):
        lagged_effects(monthly.iloc[:6], "churn_rate", "frt")


def test_error_perfect_separation_numeric():
    df = pd.DataFrame({"median_frt_h": np.arange(200.0), "churned": np.arange(200) >= 100})
    with pytest.raises(ModelFitError, match="separation by driver 'median_frt_h'"):
        churn_model(df, ["median_frt_h"], min_events_per_term=1)


def test_error_quasi_separation_by_level():
    rng = np.random.default_rng(0)
    cat = np.repeat(["promoter", "passive", "detractor"], 200)
    y = np.where(cat == "detractor", True, rng.random(600) < 0.3)
    df = pd.DataFrame({"last_nps_category": cat, "churned": y})
    with pytest.raises(ModelFitError, match=r"last_nps_category\[detractor\]"):
        churn_model(df, ["last_nps_category"])


def test_error_constant_driver_and_single_level():
    rng = np.random.default_rng(1)
    df = pd.DataFrame({"sla_breach_share": 0.5, "segment": "smb", "x": rng.normal(size=500),
                       "churned": rng.random(500) < 0.3})
    with pytest.raises(ModelFitError, match="driver 'sla_breach_share' is constant"):
        churn_model(df, ["sla_breach_share"])
    with pytest.raises(ModelFitError, match="control 'segment' has a single level"):
        churn_model(df, ["x"], controls=["segment"])


def test_error_too_few_events():
    rng = np.random.default_rng(2)
    df = pd.DataFrame({"x": rng.normal(size=1000), "z": rng.normal(size=1000), "churned": False})
    df.loc[:14, "churned"] = True
    with pytest.raises(ModelFitError, match="too few events: 15 for 2 term"):
        churn_model(df, ["x", "z"])


def test_error_singular_design():
    rng = np.random.default_rng(3)
    x = rng.normal(size=1000)
    df = pd.DataFrame({"x": x, "x_copy": 2 * x, "churned": rng.random(1000) < 0.3})
    with pytest.raises(ModelFitError, match="singular design: term 'x_copy'"):
        churn_model(df, ["x", "x_copy"])


def test_error_no_convergence(churn_data):
    with pytest.raises(ModelFitError, match="did not converge"):
        churn_model(churn_data, ["median_frt_h", "sla_breach_share"], maxiter=1)


def _hazard_data(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    t = rng.exponential(1.0, n)
    return pd.DataFrame({"x": rng.normal(size=n), "duration_days": np.minimum(t, 2.0), "event": (t < 2.0).astype(int)})


@pytest.mark.parametrize("values, shown", [
    ([0, 1, 2, 0, 1, 2], "2 of 6 rows hold other values (2)"),
    ([0.0, 0.5, 1.0, 0.0, 1.0, 0.0], "1 of 6 rows hold other values (0.5)"),
    (["no", "yes", "no", "no", "yes", "no"], "6 of 6 rows hold other values ('no', 'yes')"),
])
def test_error_outcome_not_binary_names_column_and_values(values, shown):
    df = pd.DataFrame({"x": np.arange(6.0), "churned": values})
    with pytest.raises(ModelFitError, match=rf"model: outcome 'churned' must be 0/1 or bool; {re.escape(shown)}"):
        churn_model(df, ["x"], min_events_per_term=0)


def test_error_hazard_event_and_duration_values_named():
    df = _hazard_data()
    events, late = int(df["event"].sum()), int((df["duration_days"] <= 1.5).sum())
    with pytest.raises(ModelFitError, match=re.escape(f"churn_hazard_model: event 'event' must be 0/1 or bool; "
                                                      f"{events} of 300 rows hold other values (2)")):
        churn_hazard_model(df.assign(event=df["event"] * 2), ["x"], min_events_per_term=1)
    with pytest.raises(ModelFitError, match=re.escape("churn_hazard_model: event 'event' must be 0/1 or bool; "
                                                      "300 of 300 rows hold other values ('active', 'churned')")):
        churn_hazard_model(df.assign(event=np.where(df["event"] == 1, "churned", "active")), ["x"],
                           min_events_per_term=1)
    text = df["duration_days"].astype(str).where(df["duration_days"] > 1.5, "n/a")
    with pytest.raises(ModelFitError, match=re.escape(f"churn_hazard_model: duration 'duration_days' must be "
                                                      f"numeric; {late} of 300 rows hold other values ('n/a')")):
        churn_hazard_model(df.assign(duration_days=text), ["x"], min_events_per_term=1)


def test_error_hazard_fit_with_extreme_driver_is_a_fit_error():
    df = _hazard_data()
    df.loc[0, "x"] = 1e200          # exp(x'b) overflows: statsmodels cannot form the covariance
    with pytest.raises(ModelFitError, match=r"churn_hazard_model: fit failed \(.*\); terms \['x'\]"):
        churn_hazard_model(df, ["x"], min_events_per_term=1)


def test_error_hazard_non_finite_estimates(monkeypatch):
    import types

    import slm_lib.models.churn as churn

    nan_fit = types.SimpleNamespace(params=np.array([np.nan]), bse=np.array([np.inf]))
    monkeypatch.setattr(churn, "fit_checked", lambda fit, what, design: nan_fit)
    with pytest.raises(ModelFitError, match=r"churn_hazard_model: the fit did not converge \(non-finite estimates "
                                            r"for terms \['x'\]\)"):
        churn_hazard_model(_hazard_data(), ["x"], min_events_per_term=1)


def test_error_negative_duration_counted():
    df = _hazard_data()
    df.loc[:2, "duration_days"] = -1.0
    with pytest.raises(ModelFitError, match=r"churn_hazard_model: 3 negative value\(s\) in duration 'duration_days'"):
        churn_hazard_model(df, ["x"], min_events_per_term=1)


def test_config_errors(churn_data):
    with pytest.raises(ConfigError, match="not in the features"):
        churn_model(churn_data, ["no_such_column"])
    with pytest.raises(ConfigError, match="at least one driver"):
        churn_model(churn_data, [])
    with pytest.raises(ConfigError, match="units given"):
        churn_model(churn_data, ["sla_breach_share"], units={"median_frt_h": 10})
    with pytest.raises(ConfigError, match="both as driver and control"):
        churn_model(churn_data, ["segment"], controls=["segment"])


# ---------------------------------------------------------------------------------------------
# Planted-effect recovery on slm_lib.synth data (the contract in slm_lib.synth's docstring)
# ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def synth_panel():
    from slm_lib.features import customer_features
    from slm_lib.service_panel import monthly_service_panel
    from slm_lib.synth import generate
    from slm_lib.synth.comments import planted_themes

    ds = generate(customers=20_000, months=24, seed=0, events=True)   # events: the requester-wait effect too
    month_starts = pd.date_range("2024-11-01", periods=24, freq="MS", tz="UTC")
    panel = customer_features(ds, month_starts, lookback="3M", horizon="1M", themes=planted_themes)
    panel["tenure_years_capped"] = np.minimum(panel["tenure_years"], 5.0)
    panel["theme_refund_share"] = panel["theme_refund_share"].fillna(0.0)   # the planted term is 0 without a comment
    return panel, monthly_service_panel(ds, months=month_starts.strftime("%Y-%m"))


def test_recovers_planted_churn_effects(synth_panel):
    from slm_lib.synth import TRUE_EFFECTS

    panel, _ = synth_panel
    m = churn_model(panel, ["median_frt_h", "median_requester_wait_h", "sla_breach_share", "last_nps_category",
                            "theme_refund_share"],
                    controls=["segment", "tenure_years_capped"], units={"median_frt_h": 10, "median_requester_wait_h": 10})
    expected = {"median_frt_h": "churn_frt_per_10h", "median_requester_wait_h": "churn_requester_wait_per_10h",
                "theme_refund_share": "churn_refund_theme_share",
                "sla_breach_share": "churn_sla_breach_share",
                "last_nps_category[detractor]": "churn_detractor_vs_promoter",
                "last_nps_category[passive]": "churn_passive_vs_promoter",
                "last_nps_category[none]": "churn_nps_none_vs_promoter",
                "tenure_years_capped": "churn_tenure_per_year"}
    truth = {term: TRUE_EFFECTS[name]["value"] for term, name in expected.items()}
    z = z_scores(m.table, truth)
    assert all(abs(v) < 3 for v in z.values()), z
    t = m.table.set_index("term")
    assert all(np.sign(t.loc[term, "estimate"]) == np.sign(value) for term, value in truth.items())
    # the wait planted with the events (issue 12): inside its own 95% interval, and not zero
    assert covers(m.table, "median_requester_wait_h", truth["median_requester_wait_h"])
    assert t.loc["median_requester_wait_h", "ci_low"] > 0
    # the comment theme planted with the comments (issue 13)
    assert covers(m.table, "theme_refund_share", truth["theme_refund_share"])
    assert t.loc["theme_refund_share", "ci_low"] > 0


def test_every_comment_theme_together_only_refunds_move_churn(synth_panel):
    """One share per planted theme (0 without a comment: read against customers who wrote nothing): the refund
    theme carries its planted effect and the seven others none, although they too come from unhappy answers."""
    from slm_lib.synth import TRUE_EFFECTS

    panel, _ = synth_panel
    shares = [c for c in panel.columns if c.startswith("theme_")]
    assert len(shares) == 8
    m = churn_model(panel.fillna(dict.fromkeys(shares, 0.0)),
                    ["median_frt_h", "median_requester_wait_h", "sla_breach_share", "last_nps_category", *shares],
                    controls=["segment", "tenure_years_capped"], units={"median_frt_h": 10, "median_requester_wait_h": 10})
    truth = dict.fromkeys(shares, 0.0) | {"theme_refund_share": TRUE_EFFECTS["churn_refund_theme_share"]["value"]}
    z = z_scores(m.table, truth)
    assert all(abs(v) < 3 for v in z.values()), z


def test_recovers_planted_theme_effect_with_fitted_themes():
    """The committed sample's size: themes fitted on the comments of the first six months (no refund
    column is given), the panel after them; the fitted refund theme carries the planted effect."""
    from slm_lib.features import customer_features
    from slm_lib.synth import TRUE_EFFECTS, generate

    ds = generate(customers=3000, months=24, seed=7)
    panel = customer_features(ds, pd.date_range("2025-05-01", periods=18, freq="MS", tz="UTC"), lookback="3M",
                              horizon="1M", themes=8)
    shares = [c for c in panel.columns if c.startswith("theme_")]
    assert len(shares) == 8 and "theme_refund_share" in shares
    panel = panel.fillna({c: 0.0 for c in shares}).assign(tenure_years_capped=np.minimum(panel["tenure_years"], 5.0))
    m = churn_model(panel, ["median_frt_h", "sla_breach_share", "last_nps_category", "theme_refund_share"],
                    controls=["segment", "tenure_years_capped"], units={"median_frt_h": 10, "theme_refund_share": 0.1})
    row = m.table.set_index("term").loc["theme_refund_share"]
    true = TRUE_EFFECTS["churn_refund_theme_share"]["value"] / 10      # per +10 points
    print(f"theme_refund_share per +10 points: {row['estimate']:.3f} (95% CI {row['ci_low']:.3f} to "
          f"{row['ci_high']:.3f}), planted {true:.3f}; n = {m.n:,}, {m.table['events'].iloc[0]} churned")
    assert row["ci_low"] <= true <= row["ci_high"] and row["ci_low"] > 0


def test_hazard_model_planted_directions(synth_panel):
    """Cox on a 25% row sample: hazard ratios are not odds ratios, so only the directions are planted."""
    from slm_lib.synth import TRUE_EFFECTS

    panel, _ = synth_panel
    sample = panel.sample(frac=0.25, random_state=0)
    m = churn_hazard_model(sample, ["median_frt_h", "sla_breach_share"], controls=["tenure_years_capped"],
                           units={"median_frt_h": 10})
    t = m.table.set_index("term")
    for term, name in {"median_frt_h": "churn_frt_per_10h", "sla_breach_share": "churn_sla_breach_share",
                       "tenure_years_capped": "churn_tenure_per_year"}.items():
        assert np.sign(t.loc[term, "ci_low"]) == np.sign(t.loc[term, "ci_high"]) == np.sign(
            TRUE_EFFECTS[name]["value"]), (term, t.loc[term, ["estimate", "ci_low", "ci_high"]].tolist())


def test_recovers_planted_revenue_effect(synth_panel):
    from slm_lib.synth import TRUE_EFFECTS

    panel, _ = synth_panel
    true = TRUE_EFFECTS["revenue_csat_per_point"]["value"]
    for method in ("gamma", "log_ols"):
        m = clv_model(panel, ["mean_csat"], controls=["segment"], method=method)
        assert covers(m.table, "mean_csat", true), (method, m.table.iloc[0].tolist())
        assert m.table.loc[0, "estimate"] > 0


def test_recovers_lagged_frt_effect(synth_panel):
    from slm_lib.synth import TRUE_EFFECTS

    _, monthly = synth_panel
    m = lagged_effects(monthly, "churn_rate", "median_frt_h", lags=(0, 1, 2, 3), units={"median_frt_h": 10})
    t = m.table.set_index("term")
    for k in TRUE_EFFECTS["lag_months"]["value"]:
        assert t.loc[f"median_frt_h_lag{k}", "estimate"] > 0
    assert t.loc["median_frt_h_cumulative", "ci_low"] > 0
    assert covers(m.table, "median_frt_h_lag0", 0.0)


def test_readable_table_states_effect_interval_and_pp(churn_data):
    m = churn_model(churn_data, ["median_frt_h", "last_nps_category"], units={"median_frt_h": 10})
    r = m.readable()
    row = m.table.set_index("term").loc["median_frt_h"]
    assert list(r.columns) == ["odds ratio", "95% CI", "p", "n", "events", "churn probability (pp)"]
    first = r.iloc[0]
    assert first["n"] == f"{m.n:,}" and first["events"] == f"{int(m.table['events'].iloc[0]):,}"
    assert r.index.tolist() == ["median first response (per +10 h)", "last NPS answer: detractor (vs promoter)",
                                "last NPS answer: none (vs promoter)", "last NPS answer: passive (vs promoter)"]
    assert 0.01 <= row["effect_ci_high"] - row["effect_ci_low"] < 0.1  # two significant digits of the width
    assert first["odds ratio"] == f"{row['effect']:.3f}"
    assert first["95% CI"] == f"{row['effect_ci_low']:.3f} to {row['effect_ci_high']:.3f}"
    assert first["churn probability (pp)"].startswith(f"{row['ame_pp']:+.2f} (")
    assert r.index.tolist() == m.table.loc[m.table["role"] == "driver", "label"].tolist()
    nps = m.readable(terms="last_nps_category", adjust=True)
    assert nps.index.tolist() == r.index.tolist()[1:] and list(nps.columns[2:4]) == ["p", "p (Holm)"]
    raw = m.table.loc[m.table["term"].str.startswith("last_nps_category"), "p_value"].to_numpy()
    order = np.argsort(raw)   # Holm by hand over the three NPS terms
    holm = np.maximum.accumulate(np.minimum(1, raw[order] * np.array([3, 2, 1])))[np.argsort(order)]
    assert nps["p (Holm)"].tolist() == [format_p(p, bare=True) for p in holm]
    assert len(m.sentences(terms="last_nps_category")) == 3 and len(m.sentences(terms="nothing")) == 0


def test_lag_sentences_use_words_units_and_sensible_rounding():
    monthly = _lagged_monthly("median_frt_h")
    m = lagged_effects(monthly, "churn_rate", "median_frt_h", lags=(0, 1, 2), units={"median_frt_h": 10})
    same, one, _, total = m.sentences()
    # lag 0: -0.011882 (-0.042762 to 0.018998), width 0.06 -> 3 decimals; spans 0 -> no claim
    assert same == ("Each +10 h of monthly median first response: no clear effect on the monthly churn rate the same "
                    "month; -0.012 pp (95% CI -0.043 to +0.019).")
    # lag 1: 0.420059 (0.370215 to 0.469903), width 0.0997 -> 3 decimals
    assert one == ("Each +10 h of monthly median first response changes the monthly churn rate 1 month later by "
                   "+0.420 pp (95% CI +0.370 to +0.470).")
    # summed: 0.626627 (0.569867 to 0.683387), width 0.11 -> 2 decimals
    assert total == ("Each +10 h of monthly median first response changes the monthly churn rate in total over lags "
                     "of 0 to 2 months by +0.63 pp (95% CI +0.57 to +0.68).")


def test_sentences_claim_an_effect_only_when_the_interval_excludes_none(churn_data):
    noisy = churn_data.assign(noise=np.random.default_rng(9).normal(0, 1, len(churn_data)),
                              duration_days=np.random.default_rng(10).exponential(200, len(churn_data)),
                              event=churn_data["churned"].astype(int),
                              revenue_horizon=np.random.default_rng(11).gamma(2.0, 50.0, len(churn_data)))
    models = [(churn_model(noisy, ["noise", "median_frt_h"], units={"median_frt_h": 10}), 1.0),
              (churn_hazard_model(noisy, ["noise", "last_nps_category"]), 1.0),
              (clv_model(noisy, ["noise"]), 0.0),
              (clv_model(noisy, ["noise"], method="ols"), 0.0)]
    claims = []
    for model, null in models:
        for sentence, (_, row) in zip(model.sentences(), model.table.iterrows()):
            spans = row["effect_ci_low"] <= null <= row["effect_ci_high"]
            assert ("no clear effect" in sentence) == spans, sentence
            assert "_" not in sentence and "[" not in sentence, sentence  # no raw column or term names
            claims.append(spans)
    assert any(claims) and not all(claims)  # both kinds were seen


def test_model_result_shows_itself_as_a_captioned_table_in_jupyter():
    from IPython.core.formatters import DisplayFormatter
    rng = np.random.default_rng(4)
    n = 1000
    df = pd.DataFrame({"median_frt_h": rng.gamma(2.0, 8.0, n), "segment": rng.choice(["smb", "<b>mid</b>"], n)})
    df["churned"] = rng.random(n) < 0.2 + 0.01 * df["median_frt_h"]
    df.loc[:4, "median_frt_h"] = np.nan
    m = churn_model(df, ["median_frt_h"], controls=["segment"], units={"median_frt_h": 10})
    churned = int(df["churned"].iloc[5:].sum())
    assert m.caption == (f"Logistic regression of churn: n = 995, {churned:,} churned; drivers below, adjusted for "
                         "segment; 5 rows left out.")
    data, _ = DisplayFormatter().format(m)
    page = data["text/html"]
    assert page.startswith('<table border="1" class="dataframe">\n<caption>Logistic regression of churn: n = 995')
    assert "<th>median first response (per +10 h)</th>" in page and "segment" not in page.split("</caption>")[1]
    assert page == m._repr_html_()  # no random ids: the same every time (nbval compares outputs)
    assert "<b>mid</b>" not in page  # levels are data: escaped wherever they appear
    assert data["text/plain"] == repr(m)


def test_every_model_result_has_a_tidy_summary_property():
    from slm_lib.clv import BetaGeoModel, GammaGammaModel, ShiftedBetaGeoModel
    rng = np.random.default_rng(6)
    x = rng.normal(0, 1, 2000)
    t = rng.exponential(1 / np.exp(0.5 * x))
    df = pd.DataFrame({"x": x, "churned": rng.random(2000) < 1 / (1 + np.exp(-x)),
                       "duration_days": np.minimum(t, 2), "event": (t < 2).astype(int),
                       "revenue_horizon": 100 * np.exp(0.1 * x + rng.normal(0, 0.2, 2000))})
    fitted = [churn_model(df, ["x"]), churn_hazard_model(df, ["x"]), clv_model(df, ["x"]),
              BetaGeoModel.from_params({"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}),
              GammaGammaModel.from_params({"p": 6.25, "q": 3.74, "gamma": 15.44}),
              ShiftedBetaGeoModel.from_params({"alpha": 0.668, "beta": 3.806})]
    for model in fitted:
        summary = model.summary
        assert isinstance(summary, pd.DataFrame), type(model).__name__
        assert {"estimate", "std_error", "ci_low", "ci_high"} <= set(summary.columns), type(model).__name__
    logit = fitted[0]
    pd.testing.assert_frame_equal(logit.summary, logit.table)
    summary = logit.summary
    summary["estimate"] = 0.0  # a copy: the model's own table is untouched
    assert logit.table["estimate"].iloc[0] != 0.0
