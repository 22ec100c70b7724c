"""customer_features' comment features: hand-computed sentiment and theme shares, where the themes come
from, and no leakage (comments from as_of on change nothing)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from slm_lib.errors import ConfigError, InsufficientDataError
from slm_lib.features import FEATURE_COLUMNS, customer_features
from slm_lib.io.dataset import Dataset
from slm_lib.synth import generate
from slm_lib.voice import comment_themes

AS_OF = pd.Timestamp("2024-04-01", tz="UTC")
TEXT = ["comments", "mean_comment_sentiment", "theme_refund_share", "theme_rude_agent_share"]


def utc(*values):
    return pd.to_datetime(list(values), utc=True)


def keyword_themes(texts: pd.Series) -> pd.Series:
    """A rule: 'refund' -> refund, 'rude' -> rude agent, otherwise no theme."""
    lower = texts.str.lower()
    return pd.Series(np.select([lower.str.contains("refund"), lower.str.contains("rude")], ["refund", "rude agent"],
                               None), index=texts.index)


@pytest.fixture()
def hand() -> Dataset:
    customers = pd.DataFrame({"customer_id": ["c1", "c2", "c3"], "signup_at": utc("2023-01-01", "2023-01-01", "2023-06-01"),
                              "segment": "smb", "region": None, "churned_at": utc(None, None, None)})
    rows = [  # customer, submitted_at, comment; VADER: Great support! 0.7959, rude... -0.4588, refund? 0, Thanks! 0.4926
        ("c1", "2024-02-01", "Great support!"),                      # no theme
        ("c1", "2024-03-10", "The agent was rude and dismissive."),  # rude agent
        ("c1", "2024-03-20", "Where is my refund?"),                 # refund
        ("c1", "2024-03-22", "Service très lent."),                  # no theme, no score (not English): counted
        ("c1", "2024-03-25", None),                                  # an answer without a comment: not counted
        ("c1", "2024-04-01", "refund refund"),                       # at as_of: not yet known
        ("c1", "2023-12-15", "Refund please"),                       # before the 90-day window
        ("c3", "2024-03-01", "Thanks!"),
        ("c9", "2024-03-01", "refund"),                              # no such customer
    ]
    surveys = pd.DataFrame({"response_id": [f"R{i}" for i in range(len(rows))], "customer_id": [r[0] for r in rows],
                            "ticket_id": None, "submitted_at": utc(*(r[1] for r in rows)), "type": "csat", "score": 3,
                            "comment": [r[2] for r in rows]})
    return Dataset(customers=customers, surveys=surveys)


def test_hand_computed_sentiment_and_shares(hand):
    f = customer_features(hand, AS_OF, lookback="90D", themes=keyword_themes).set_index("customer_id")
    at = list(FEATURE_COLUMNS).index("mean_ces") + 1
    assert f.reset_index().columns.tolist() == [*FEATURE_COLUMNS[:at], *TEXT, *FEATURE_COLUMNS[at:]]
    assert f["comments"].tolist() == [4, 0, 1]
    np.testing.assert_allclose(f["mean_comment_sentiment"], [(0.7959 - 0.4588 + 0.0) / 3, np.nan, 0.4926])
    np.testing.assert_allclose(f["theme_refund_share"], [1 / 4, np.nan, 0.0])
    np.testing.assert_allclose(f["theme_rude_agent_share"], [1 / 4, np.nan, 0.0])


def test_a_rule_may_give_names_as_a_list_or_categories_on_any_index(hand):
    expected = customer_features(hand, AS_OF, lookback="90D", themes=keyword_themes)
    as_list = customer_features(hand, AS_OF, lookback="90D", themes=lambda t: keyword_themes(t).tolist())
    pd.testing.assert_frame_equal(as_list, expected)
    categories = pd.CategoricalDtype(["rude agent", "refund", "billing"])
    as_categories = customer_features(hand, AS_OF, lookback="90D",
                                      themes=lambda t: keyword_themes(t).astype(categories).reset_index(drop=True))
    assert as_categories.filter(like="theme_").columns.tolist() == [
        "theme_rude_agent_share", "theme_refund_share", "theme_billing_share"]       # every category, in its order
    pd.testing.assert_frame_equal(as_categories[expected.columns], expected)


def test_default_has_no_text_columns_and_the_same_values(hand):
    plain = customer_features(hand, AS_OF)
    assert plain.columns.tolist() == list(FEATURE_COLUMNS)
    pd.testing.assert_frame_equal(plain, customer_features(hand, AS_OF, themes=keyword_themes)[plain.columns])


@pytest.fixture(scope="module")
def synthetic() -> Dataset:
    return generate(customers=600, months=9, seed=2, start="2024-11-01")


def perturbed_from(ds: Dataset, instant: pd.Timestamp) -> Dataset:
    """The same data with every comment from ``instant`` on replaced, and one more comment on each answer."""
    s = ds.surveys.copy()
    later = (s["submitted_at"] >= instant).to_numpy()
    s.loc[later, "comment"] = np.where(np.arange(later.sum()) % 2, "My refund never came, awful!", "Lovely agent")
    return Dataset(tickets=ds.tickets, surveys=s, customers=ds.customers, revenue=ds.revenue)


@pytest.mark.parametrize("themes", [5, "rule"])
def test_comments_from_as_of_on_change_nothing(synthetic, themes):
    themes = keyword_themes if themes == "rule" else themes
    first, second = pd.Timestamp("2025-05-01", tz="UTC"), pd.Timestamp("2025-07-01", tz="UTC")
    panel = customer_features(synthetic, [first, second], lookback="3M", horizon="1M", themes=themes)
    assert panel["comments"].gt(0).sum() > 100
    after = customer_features(perturbed_from(synthetic, second), [first, second], lookback="3M", horizon="1M",
                              themes=themes)
    pd.testing.assert_frame_equal(after, panel)
    # comments between the two instants only reach the second one's rows (the themes are fitted before the first)
    between = customer_features(perturbed_from(synthetic, first), [first, second], lookback="3M", horizon="1M",
                                themes=themes)
    earlier = (panel["as_of"] == first).to_numpy()
    pd.testing.assert_frame_equal(between[earlier], panel[earlier])
    assert not between[~earlier].equals(panel[~earlier])


def test_themes_fitted_before_as_of_same_as_passing_that_fit(synthetic):
    as_of = pd.Timestamp("2025-06-01", tz="UTC")
    fitted = comment_themes(synthetic.surveys[synthetic.surveys["submitted_at"] < as_of], n_themes=6, seed=0)
    inside = customer_features(synthetic, as_of, lookback="3M", themes=6)
    pd.testing.assert_frame_equal(customer_features(synthetic, as_of, lookback="3M", themes=fitted), inside)
    names = [f"theme_{n}_share" for n in fitted.names]
    assert [c for c in inside.columns if c.startswith("theme_")] == names and "theme_refund_share" in names
    assert customer_features(synthetic, as_of, lookback="3M", text_features=True).filter(like="theme_").shape[1] == 8
    # a customer's shares add up to at most 1 (comments without a theme word belong to none)
    assert (inside[names].sum(axis=1)[inside["comments"] > 0] <= 1 + 1e-12).all()


def test_themes_fitted_on_the_future_are_refused(synthetic):
    everything = comment_themes(synthetic.surveys, n_themes=6, seed=0)
    with pytest.raises(ConfigError, match="fitted on .* survey comment.* at or after the earliest as_of"):
        customer_features(synthetic, pd.Timestamp("2025-06-01", tz="UTC"), themes=everything)


def test_errors(synthetic):
    with pytest.raises(InsufficientDataError, match="before the earliest as_of"):
        customer_features(synthetic, pd.Timestamp("2024-11-15", tz="UTC"), themes=8)
    with pytest.raises(ConfigError, match="themes must be"):
        customer_features(synthetic, pd.Timestamp("2025-06-01", tz="UTC"), themes="refund")
    with pytest.raises(ConfigError, match="one name .* per text"):
        customer_features(synthetic, pd.Timestamp("2025-06-01", tz="UTC"), themes=lambda t: t.dropna().head(3))
    with pytest.raises(ConfigError, match="clash"):
        customer_features(synthetic, pd.Timestamp("2025-06-01", tz="UTC"),
                          themes=lambda t: pd.Series(np.where(t.str.len() % 2, "Refund", "refund"), index=t.index))
