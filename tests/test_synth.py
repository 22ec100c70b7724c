"""Tests of slm_lib.synth: determinism, the data contract, realism, planted-effect recovery."""
from __future__ import annotations

import filecmp
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from hypothesis import given, settings
from hypothesis import strategies as st

from slm_lib.config import DEFAULT_SLA_TARGETS
from slm_lib.errors import ConfigError
from slm_lib.io.load import validate
from slm_lib.io.save import save_data
from slm_lib.schema import COLUMNS
from slm_lib.synth import TRUE_EFFECTS, generate
from slm_lib.synth.comments import THEMES, planted_themes, sentiment
from slm_lib.synth.effects import CHURN_THEME
from slm_lib.synth.window import group_median

START = "2024-11-01"


@pytest.fixture(scope="module")
def small():
    return generate(customers=300, months=6, seed=11, start=START)


@pytest.fixture(scope="module")
def medium():
    return generate(customers=3000, months=12, seed=3, start=START)


@pytest.fixture(scope="module")
def large():
    """20,000 customers x 24 months (~240k tickets): enough to recover the planted effects."""
    return generate(customers=20000, months=24, seed=7, start=START)


# --- determinism and the data contract ------------------------------------------------

def test_same_seed_gives_identical_frames(small):
    again = generate(customers=300, months=6, seed=11, start=START)
    for name, frame in small.tables().items():
        pd.testing.assert_frame_equal(frame, again.tables()[name], check_exact=True)


def test_other_seed_gives_other_data(small):
    other = generate(customers=300, months=6, seed=12, start=START)
    assert not small.tickets["created_at"].equals(other.tickets["created_at"])


def test_saved_files_are_byte_identical(tmp_path):
    for run in ("a", "b"):
        save_data(generate(customers=120, months=3, seed=5, start=START), tmp_path / run)
    files = sorted(p.name for p in (tmp_path / "a").iterdir())
    assert set(files) >= {"tickets.csv", "surveys.csv", "customers.csv", "revenue.csv"}
    match, mismatch, errors = filecmp.cmpfiles(tmp_path / "a", tmp_path / "b", files, shallow=False)
    assert mismatch == [] and errors == [] and sorted(match) == files


def test_committed_sample_is_current(tmp_path):
    """data_samples/ is exactly what `make samples` writes (generate(3000, 24, seed 7, events) + save_data)."""
    sample = Path(__file__).resolve().parents[1] / "data_samples"
    ds = generate(customers=3000, months=24, seed=7, start=START, events=True)
    assert 30_000 < len(ds.tickets) < 45_000
    save_data(ds, tmp_path, formats={"ticket_events": "parquet"})
    names = ["customers.csv", "tickets.csv", "surveys.csv", "revenue.csv", "ticket_events.parquet"]
    match, mismatch, errors = filecmp.cmpfiles(sample, tmp_path, names, shallow=False)
    assert sorted(match) == sorted(names), f"stale data_samples/: {mismatch + errors}; run `make samples`"


def test_columns_and_dtypes_are_canonical(small):
    assert small.source == "synthetic"
    for name, frame in small.tables().items():
        assert list(frame.columns) == list(COLUMNS[name])
        assert {c: str(t) for c, t in frame.dtypes.items()} == COLUMNS[name]
        assert len(frame) > 0 or name == "ticket_events"   # events only with generate(events=True)


def test_passes_validation_without_problems(small):
    checked = validate(small)
    assert len(checked.quality) == 0
    for name, frame in small.tables().items():
        assert len(checked.tables()[name]) == len(frame)


def test_contract_rules_hold_directly(small):
    t, s, c, r = small.tickets, small.surveys, small.customers, small.revenue
    assert not (t["first_response_at"] < t["created_at"]).any()
    assert not (t["resolved_at"] < t["created_at"]).any()
    for ids in (t["ticket_id"], s["response_id"], c["customer_id"]):
        assert ids.is_unique and ids.notna().all()
    known = set(c["customer_id"])
    assert set(t["customer_id"]) <= known and set(s["customer_id"]) <= known and set(r["customer_id"]) <= known
    assert set(s["ticket_id"].dropna()) <= set(t["ticket_id"])
    for kind, (low, high) in {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}.items():
        scores = s.loc[s["type"] == kind, "score"]
        assert scores.between(low, high).all() and len(scores) > 0
    assert (t[["replies", "reopens"]] >= 0).all().all()


def test_ids_are_padded_and_in_time_order(small):
    assert small.customers["customer_id"].iloc[0] == "C00001"
    assert small.tickets["ticket_id"].iloc[0] == "T000001"
    assert small.surveys["response_id"].iloc[0] == "R000001"
    assert small.tickets["created_at"].is_monotonic_increasing
    assert small.surveys["submitted_at"].is_monotonic_increasing
    assert small.customers["signup_at"].is_monotonic_increasing
    assert small.revenue["paid_at"].is_monotonic_increasing


def test_everything_happens_before_the_end_and_after_signup(small):
    end = pd.Timestamp("2025-05-01", tz="UTC")
    assert small.tickets["created_at"].min() >= pd.Timestamp(START, tz="UTC")
    for frame, column in ((small.tickets, "resolved_at"), (small.surveys, "submitted_at"),
                          (small.revenue, "paid_at"), (small.customers, "churned_at")):
        assert not (frame[column] >= end).any()
    joined = small.tickets.merge(small.customers, on="customer_id")
    assert (joined["created_at"] >= joined["signup_at"]).all()
    assert not (joined["created_at"] >= joined["churned_at"]).any()


def test_bad_arguments_raise_config_error():
    with pytest.raises(ConfigError, match="first instant of a month"):
        generate(customers=10, months=2, start="2024-11-15")
    with pytest.raises(ConfigError, match="not a date"):
        generate(customers=10, months=2, start="soon")
    with pytest.raises(ConfigError, match="must be >= 1"):
        generate(customers=10, months=0)


# --- realism ----------------------------------------------------------------------

def test_response_rates_in_documented_ranges(medium):
    t, s = medium.tickets, medium.surveys
    resolved = t["resolved_at"].notna().sum()
    counts = s["type"].value_counts()
    assert 0.17 < counts["csat"] / resolved < 0.23
    assert 0.08 < counts["ces"] / resolved < 0.12
    assert 0.25 < s["comment"].notna().mean() < 0.35
    customer_months = 3000 * 12  # upper bound; NPS answers about 5 % of active customer-months
    assert 0.03 * customer_months < counts["nps"] < 0.05 * customer_months


def test_email_is_slower_than_chat_and_phone(medium):
    t = medium.tickets
    frt = (t["first_response_at"] - t["created_at"]).dt.total_seconds().groupby(t["channel"]).median()
    assert frt["email"] > 10 * frt["chat"] and frt["email"] > 10 * frt["phone"]
    assert set(t["channel"]) == {"email", "chat", "phone", "web", "social"}
    assert set(t["priority"]) == {"low", "normal", "high", "urgent"}
    assert t["team"].nunique() == 5 and 30 <= t["agent_id"].nunique() <= 40


def test_weekdays_busier_than_weekends_and_days_than_nights(medium):
    created = medium.tickets["created_at"]
    per_day = created.dt.day_of_week.value_counts()
    assert per_day[[0, 1, 2, 3, 4]].min() > 2 * per_day[[5, 6]].max()
    hour = created.dt.hour
    assert hour.between(9, 16).sum() > 3 * (hour < 6).sum() > 0


def test_delivery_gap_team_is_fast_but_unhappy(medium):
    t, s = medium.tickets, medium.surveys
    frontline = t["team"] == "frontline"
    frt = (t["first_response_at"] - t["created_at"]).dt.total_seconds()
    assert frt[frontline].median() < frt[~frontline].median()
    assert (t.loc[frontline, "reopens"] > 0).mean() > 2 * (t.loc[~frontline, "reopens"] > 0).mean()
    csat = s[s["type"] == "csat"].merge(t[["ticket_id", "team"]], on="ticket_id")
    by_team = csat.groupby("team")["score"].mean()
    assert by_team.idxmin() == "frontline" and by_team.drop("frontline").min() - by_team["frontline"] > 0.3


def test_comments_contain_contacts_and_some_html(medium):
    comments = medium.surveys["comment"].dropna()
    assert comments.str.contains(r"[\w.]+@example\.(?:com|org|net)", regex=True).sum() > 10
    assert comments.str.contains(r"\+\d", regex=True).sum() > 10
    html = comments.str.contains("<", regex=False).mean()
    assert 0 < html < 0.02


def test_every_comment_has_one_planted_theme_tied_to_its_score(medium):
    s = medium.surveys.dropna(subset=["comment"])
    themes = planted_themes(s["comment"])
    assert themes.notna().all() and set(themes) == set(THEMES)
    nps = s["type"] == "nps"
    detractor, promoter = themes[nps & (s["score"] <= 6)], themes[nps & (s["score"] >= 9)]
    negative = ["waiting", "refund", "rude agent", "came back"]
    assert detractor.isin(negative).mean() > 0.8 > 0.1 > promoter.isin(negative).mean()
    assert promoter.isin(["fixed fast", "friendly agent"]).mean() > 0.7
    # unhappy customers comment more often: 60 % / 35 % / 20 % by sentiment
    answered = medium.surveys[medium.surveys["type"] == "nps"]
    share = answered["comment"].notna().groupby(answered["score"] <= 6).mean()
    assert share[True] > 0.5 > 0.3 > share[False]


def test_theme_weights_are_probabilities_and_sentences_name_one_theme():
    weights = np.array([w for w, _ in THEMES.values()])
    np.testing.assert_allclose(weights.sum(axis=0), 1.0)
    sentences = [x for _, theme_sentences in THEMES.values() for x in theme_sentences]
    assert len(sentences) == len(set(sentences))
    assert planted_themes(pd.Series(sentences)).tolist() == [t for t, (_, ss) in THEMES.items() for _ in ss]


def test_sentiment_of_scores():
    types = np.array([0, 0, 0, 1, 1, 1, 2, 2, 2])
    scores = np.array([2, 3, 4, 6, 8, 9, 1, 4, 5])
    assert sentiment(types, scores).tolist() == [0, 1, 2, 0, 1, 2, 2, 1, 0]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 2**32 - 1)), min_size=1, max_size=40))
def test_group_median_matches_pandas(pairs):
    keys = np.array([k for k, _ in pairs])
    values = np.array([v for _, v in pairs])
    expected = pd.Series(values).groupby(keys).median().reindex(range(5)).to_numpy()
    np.testing.assert_allclose(group_median(keys, values, 5), expected, rtol=1e-15, equal_nan=True)


def test_true_effects_document_every_planted_value():
    required = {"churn_frt_per_10h", "churn_sla_breach_share", "churn_detractor_vs_promoter",
                "churn_passive_vs_promoter", "churn_tenure_per_year", "churn_requester_wait_per_10h",
                "churn_refund_theme_share", "revenue_csat_per_point",
                "lag_months", "staffing_bad_months"}
    assert required <= set(TRUE_EFFECTS)
    for effect in TRUE_EFFECTS.values():
        assert {"value", "scale", "per", "feature", "model", "description"} <= set(effect)
    assert TRUE_EFFECTS["lag_months"]["value"] == (1, 2, 3)


# --- planted effects, recovered directly --------------------------------------------

def customer_month_panel(ds, start: str, months: int) -> pd.DataFrame:
    """Customer-month panel with the features of the DGP contract, built with pandas."""
    bounds = pd.date_range(start, periods=months + 1, freq="MS", tz="UTC")
    t, s, c = ds.tickets, ds.surveys, ds.customers
    s = s.assign(refund=planted_themes(s["comment"]) == CHURN_THEME)
    target = t["priority"].map(DEFAULT_SLA_TARGETS["first_response"])
    frt = (t["first_response_at"] - t["created_at"]).dt.total_seconds() / 3600
    frames = []
    for m in range(months):
        as_of, w0 = bounds[m], bounds[m] - pd.DateOffset(months=3)
        at_risk = c[(c["signup_at"] < as_of) & ~(c["churned_at"] < as_of)].set_index("customer_id")
        inw = (t["created_at"] >= w0) & (t["created_at"] < as_of)
        answered = t["first_response_at"] < as_of
        waited = (as_of - t["created_at"]).dt.total_seconds() / 3600
        breached = (answered & (frt > target)) | (~answered & (waited > target))
        achieved = answered & (frt <= target)
        g = pd.DataFrame({"customer_id": t["customer_id"], "n": 1, "frt": frt.where(answered),
                          "breached": breached, "decided": breached | achieved})[inw]
        agg = g.groupby("customer_id").agg(n=("n", "sum"), median_frt_h=("frt", "median"),
                                           breached=("breached", "sum"), decided=("decided", "sum"))
        sw = s[(s["submitted_at"] >= w0) & (s["submitted_at"] < as_of)]
        csat = sw[sw["type"] == "csat"].groupby("customer_id")["score"].mean().rename("mean_csat")
        theme = sw[sw["comment"].notna()].groupby("customer_id")["refund"].mean().rename("theme_share")
        nps = (sw[sw["type"] == "nps"].sort_values("submitted_at").groupby("customer_id")["score"]
               .last().rename("nps"))
        p = at_risk.join(agg).join(csat).join(nps).join(theme)
        p["month"] = m
        p["tenure_years"] = (as_of - p["signup_at"]).dt.total_seconds() / (365.25 * 86400)
        p["churn"] = (p["churned_at"] < bounds[m + 1]).astype(float)
        frames.append(p.reset_index())
    panel = pd.concat(frames, ignore_index=True)
    panel["sla_breach_share"] = panel["breached"] / panel["decided"].where(panel["decided"] > 0)
    panel["category"] = pd.cut(panel["nps"], [-1, 6, 8, 10], labels=["detractor", "passive", "promoter"])
    panel["category"] = panel["category"].astype("str").where(panel["nps"].notna(), "none")
    return panel


@pytest.fixture(scope="module")
def panel(large):
    return customer_month_panel(large, START, 24)


def test_detractors_churn_more_than_promoters(panel):
    rate = panel.groupby("category")["churn"].mean()
    assert rate["detractor"] > 1.5 * rate["promoter"]
    assert 0.015 <= panel["churn"].mean() <= 0.025


def test_planted_churn_coefficients_are_recovered(panel):
    X = pd.get_dummies(panel["segment"], dtype=float)
    X["tenure"] = np.minimum(panel["tenure_years"], 5.0)
    X["frt_10h"] = panel["median_frt_h"].fillna(0.0) / 10.0
    X["no_ticket"] = panel["n"].isna().astype(float)
    X["sla"] = panel["sla_breach_share"].fillna(0.0)
    X["theme"] = panel["theme_share"].fillna(0.0)
    for category in ("detractor", "passive", "none"):
        X[category] = (panel["category"] == category).astype(float)
    fit = sm.Logit(panel["churn"], X).fit(disp=0)
    truth = {"frt_10h": TRUE_EFFECTS["churn_frt_per_10h"]["value"],
             "sla": TRUE_EFFECTS["churn_sla_breach_share"]["value"],
             "detractor": TRUE_EFFECTS["churn_detractor_vs_promoter"]["value"],
             "passive": TRUE_EFFECTS["churn_passive_vs_promoter"]["value"],
             "none": TRUE_EFFECTS["churn_nps_none_vs_promoter"]["value"],
             "no_ticket": TRUE_EFFECTS["churn_no_ticket"]["value"],
             "theme": TRUE_EFFECTS["churn_refund_theme_share"]["value"],
             "tenure": TRUE_EFFECTS["churn_tenure_per_year"]["value"]}
    # eight terms: all eight 95% intervals cover only 66% of the time; |z| < 3 per term 98%
    z = {k: round(float((fit.params[k] - v) / fit.bse[k]), 2) for k, v in truth.items()}
    assert all(abs(v) < 3 for v in z.values()), z


def test_planted_revenue_effect_is_recovered(large, panel):
    pay = large.revenue[large.revenue["amount"] > 0]
    start = pd.Timestamp(START, tz="UTC")
    month = (pay["paid_at"].dt.year - start.year) * 12 + pay["paid_at"].dt.month - start.month
    rows = pd.DataFrame({"customer_id": pay["customer_id"], "month": month, "amount": pay["amount"]})
    rows = rows.merge(panel[["customer_id", "month", "segment", "mean_csat"]], on=["customer_id", "month"])
    rows = rows[rows["mean_csat"].notna()]
    X = pd.get_dummies(rows["segment"], dtype=float)
    X["csat"] = rows["mean_csat"] - 4.0
    fit = sm.OLS(np.log(rows["amount"]), X).fit(cov_type="HC3")
    low, high = fit.conf_int(0.05).loc["csat"]
    assert low <= TRUE_EFFECTS["revenue_csat_per_point"]["value"] <= high


# --- ticket events ---------------------------------------------------------------------

@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 10**6))
def test_ticket_events_agree_with_the_tickets_and_end_before_the_data(small, seed):
    from dataclasses import replace

    from slm_lib.events import event_disagreements, event_history
    from slm_lib.synth.events import ticket_events
    end = pd.Timestamp("2025-05-01", tz="UTC")
    events = ticket_events(small.tickets, np.random.default_rng(seed), end=end)
    assert event_disagreements(small.tickets, events)[0] == []
    assert events["at"].max() < end and (events["at"].astype("int64") % 10**9 == 0).all()
    checked = validate(replace(small, ticket_events=events))
    assert not (checked.quality["action"] == "flagged").any() and len(checked.ticket_events) == len(events)
    assert set(events["kind"]) == {"status", "public_reply", "customer_message", "internal_note", "assignment",
                                   "priority"}
    assert set(events["status"].dropna()) == {"new", "open", "pending", "on_hold", "solved", "closed"}
    history = event_history(small.tickets, events)           # written by ticket (in the tickets' order), then time
    written = np.lexsort((events["at"].to_numpy(dtype="int64"), history.ticket[np.argsort(history.row)]))
    assert (written == np.arange(len(events))).all()
    again = ticket_events(small.tickets, np.random.default_rng(seed), end=end)
    pd.testing.assert_frame_equal(events, again)


def test_generate_with_events_agrees_and_only_churn_feels_them(small):
    """The events pass validation and agree with the tickets; the first month (no window yet) is the
    same as without events, later months differ only because the planted wait changes who churns."""
    from slm_lib.events import event_disagreements

    with_events = generate(customers=300, months=6, seed=11, start=START, events=True)
    assert small.ticket_events.empty and len(with_events.ticket_events) > 10 * len(with_events.tickets)
    checked = validate(with_events)
    assert checked.quality.empty and with_events.ticket_events["at"].max() < with_events.as_of
    assert event_disagreements(with_events.tickets, with_events.ticket_events)[0] == []
    first = pd.Timestamp(START, tz="UTC") + pd.DateOffset(months=1)
    for ds in (small, with_events):   # churn in the first month has no window: the same customers leave
        assert (ds.customers["churned_at"] < first).sum() == (small.customers["churned_at"] < first).sum()
    pd.testing.assert_frame_equal(small.customers.drop(columns="churned_at"),
                                  with_events.customers.drop(columns="churned_at"), check_exact=True)
    assert not small.customers["churned_at"].equals(with_events.customers["churned_at"])


def generated_window_features(**kwargs) -> tuple:
    """``generate(**kwargs)`` and the generator's window features at each month start (seconds -> WindowFeatures)."""
    from slm_lib.synth import generator

    seen = {}

    def spy(n, as_of, *args, **kw):
        seen[as_of] = generator_window(n, as_of, *args, **kw)
        return seen[as_of]

    generator_window = generator.window_features
    try:
        generator.window_features = spy
        ds = generate(**kwargs)
    finally:
        generator.window_features = generator_window
    return ds, seen


@pytest.mark.parametrize("month", [3, 5])
def test_planted_requester_wait_is_the_one_customer_features_computes(month):
    """The generator's churn reads median_requester_wait_h as slm.customer_features computes it."""
    from slm_lib.features import customer_features

    ds, seen = generated_window_features(customers=800, months=6, seed=4, start=START, events=True)
    as_of = pd.Timestamp(START, tz="UTC") + pd.DateOffset(months=month)
    f = customer_features(ds, as_of, lookback="3M", horizon="1M")
    planted = seen[as_of.value // 10**9].median_requester_wait_h[f["customer_id"].str[1:].astype(int) - 1]
    np.testing.assert_allclose(planted, f["median_requester_wait_h"], rtol=1e-12, equal_nan=True)
    assert f["median_requester_wait_h"].notna().sum() > 200


@pytest.mark.parametrize("month", [3, 5])
def test_planted_theme_share_is_the_one_customer_features_computes(month):
    """The generator's churn reads theme_refund_share as slm.customer_features computes it with the planted themes."""
    from slm_lib.features import customer_features

    ds, seen = generated_window_features(customers=800, months=6, seed=4, start=START)
    as_of = pd.Timestamp(START, tz="UTC") + pd.DateOffset(months=month)
    f = customer_features(ds, as_of, lookback="3M", horizon="1M", themes=planted_themes)
    planted = seen[as_of.value // 10**9].theme_share[f["customer_id"].str[1:].astype(int) - 1]
    column = TRUE_EFFECTS["churn_refund_theme_share"]["feature"]
    np.testing.assert_allclose(planted, f[column], rtol=1e-12, equal_nan=True)
    assert f[column].gt(0).sum() > 10 and f["comments"].gt(0).sum() > 100
