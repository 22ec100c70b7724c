"""Tests of slm_lib.voice.themes: TF-IDF equals scikit-learn's, planted themes are recovered, the
detractor/promoter comparison is hand-checked, results are deterministic."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import adjusted_rand_score

from slm_lib.errors import ConfigError, DataValidationError, InsufficientDataError
from slm_lib.synth import generate
from slm_lib.synth.comments import planted_themes
from slm_lib.voice import comment_themes
from slm_lib.voice.themes import CommentThemes
from slm_lib.voice.tfidf import TOKEN_PATTERN, theme_matrix, tfidf_rows


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.sampled_from(["refund", "Refund", "late", "the", "it's", "abc123", "x_y", "über", "e-mail",
                                          "²nd", "wait", "waiting!", "reply,", "42", "a", "I"]), max_size=8).map(" ".join),
                min_size=1, max_size=20), st.integers(1, 3))
def test_theme_matrix_equals_scikit_learn_tfidf_over_all_texts(texts, min_df):
    codes, distinct = pd.factorize(pd.Series(texts))
    matrix, terms, _ = theme_matrix(pd.Series(distinct), np.bincount(codes), min_df)
    try:
        expected = TfidfVectorizer(token_pattern=TOKEN_PATTERN, stop_words="english", min_df=min_df,
                                   sublinear_tf=True)
        reference = expected.fit_transform(texts).toarray()
    except ValueError:  # scikit-learn: no term left
        assert matrix.shape[1] == 0
        return
    assert terms.tolist() == expected.get_feature_names_out().tolist()
    np.testing.assert_allclose(matrix.toarray()[codes], reference, rtol=1e-12, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.sampled_from(["refund late", "late reply", "Refund, refund!", "no words 42", "über refund", ""]),
                min_size=1, max_size=12), st.lists(st.sampled_from(["refund", "late reply", "new words only", "ÜBER"]),
                                                   max_size=5))
def test_tfidf_rows_of_the_fitted_texts_are_their_matrix_rows_and_new_words_are_left_out(texts, others):
    codes, distinct = pd.factorize(pd.Series(texts))
    matrix, terms, idf = theme_matrix(pd.Series(distinct), np.bincount(codes), 1)
    np.testing.assert_allclose(tfidf_rows(pd.Series(distinct), terms, idf).toarray(), matrix.toarray(), rtol=1e-12)
    rows = tfidf_rows(pd.Series(others, dtype=object), terms, idf)
    assert rows.shape == (len(others), len(terms))
    for text, row in zip(others, rows.toarray()):                  # only the fitted terms, each row of unit length
        known = [t for t in text.lower().replace(",", " ").split() if t in set(terms)]
        assert (row > 0).sum() == len(set(known)) and (not known or row @ row == pytest.approx(1.0))


@pytest.fixture(scope="module")
def sample():
    """The committed sample's generator call (`make samples`)."""
    return generate(customers=3000, months=24, seed=7, start="2024-11-01")


@pytest.fixture(scope="module")
def themes(sample):
    return comment_themes(sample.surveys, n_themes=8, by="nps_category", seed=0)


def test_planted_themes_are_recovered(sample, themes):
    comments = themes.comments
    truth = planted_themes(sample.surveys.set_index("response_id").loc[comments["id"], "comment"])
    ari = adjusted_rand_score(truth.to_numpy(), comments["theme"].fillna(0).to_numpy())
    print(f"adjusted Rand index, recovered vs planted themes: {ari:.3f} ({len(comments):,} comments)")
    assert ari >= 0.8
    # every recovered theme is mostly one planted theme, named by its words
    top = pd.crosstab(comments["theme"].to_numpy(), truth.to_numpy()).idxmax(axis=1)
    assert set(top) == {"waiting", "refund", "rude agent", "came back", "billing", "documentation", "fixed fast",
                        "friendly agent"}
    labels = themes.table.set_index("theme")["label"]
    assert "refund" in labels[top.index[top == "refund"][0]] and "rude" in labels[top.index[top == "rude agent"][0]]


def test_table_counts_shares_and_intervals(themes):
    t = themes.table
    assert t["theme"].tolist() == list(range(1, 9)) and t["n"].is_monotonic_decreasing
    assert t["n"].sum() + themes.n_unassigned == themes.n_comments == len(themes.comments)
    np.testing.assert_allclose(t["share"], 100 * t["n"] / themes.n_comments)
    assert ((t["ci_low"] < t["share"]) & (t["share"] < t["ci_high"])).all()
    assert themes.terms.groupby("theme")["rank"].max().eq(8).all()


def test_detractors_write_about_problems_promoters_about_fixes(sample, themes):
    c = themes.comparison.set_index("theme")
    truth = planted_themes(sample.surveys.set_index("response_id").loc[themes.comments["id"], "comment"])
    planted = pd.crosstab(themes.comments["theme"].to_numpy(), truth.to_numpy()).idxmax(axis=1)
    for theme, name in planted.items():
        clear = c.loc[theme, "p_adjusted"] < 0.05
        if name in ("waiting", "refund", "rude agent", "came back"):
            assert clear and c.loc[theme, "diff"] > 10
        if name in ("fixed fast", "friendly agent"):
            assert clear and c.loc[theme, "diff"] < -10
    assert len(themes.sentences()) == 8 and themes.sentences()[0].startswith("Theme ")


def test_same_seed_same_themes(sample, themes):
    again = comment_themes(sample.surveys, n_themes=8, by="nps_category", seed=0)
    pd.testing.assert_frame_equal(again.table, themes.table)
    pd.testing.assert_frame_equal(again.comments, themes.comments)
    pd.testing.assert_frame_equal(again.comparison, themes.comparison)


def test_assign_gives_the_fitted_texts_their_themes_and_new_texts_one(sample, themes):
    texts = sample.surveys.loc[sample.surveys["comment"].notna(), "comment"]
    assigned = themes.assign(texts)
    assert assigned.index.equals(texts.index)
    np.testing.assert_array_equal(assigned.to_numpy(), themes.comments["theme"].to_numpy())
    names = themes.names
    new = themes.assign(pd.Series(["Where is my refund for the cancelled order?", "So rude!", "zzz", None]))
    assert names[new.iloc[0]] == "refund" and names[new.iloc[1]] == "rude" and new.iloc[2:].isna().all()


def test_names_are_top_terms_made_unique():
    terms = pd.DataFrame({"theme": [1, 1, 2, 2, 3, 3, 4, 4, 5], "rank": [1, 2, 1, 2, 1, 2, 1, 2, 1],
                          "term": ["agent", "friendly", "agent", "rude", "Über", "spät", "reply", "late", "reply"]})
    t = CommentThemes(pd.DataFrame({"theme": [1, 2, 3, 4, 5, 6]}), None, None, None, terms, 0, 0)
    assert t.names.tolist() == ["agent_friendly", "agent_rude", "über", "reply_late", "reply", "6"]
    with pytest.raises(ConfigError, match="no fitted model"):
        t.assign(pd.Series(["refund"]))


def small_surveys() -> pd.DataFrame:
    """Promoters write about friendly agents, detractors about refunds and waiting; hand-countable."""
    rows = ([("promoter", 10, "friendly agent helped")] * 8 + [("promoter", 9, "refund came quickly")] * 1
            + [("promoter", 9, "waiting reply long")] * 1
            + [("detractor", 2, "friendly agent helped")] * 1 + [("detractor", 3, "refund came quickly")] * 5
            + [("detractor", 0, "waiting reply long")] * 4 + [("passive", 7, "waiting reply long")] * 2)
    return pd.DataFrame({"response_id": [f"R{i}" for i in range(len(rows))], "type": "nps",
                         "score": [r[1] for r in rows], "comment": [r[2] for r in rows]})


def test_comparison_and_holm_by_hand():
    t = comment_themes(small_surveys(), n_themes=3, by="nps_category", min_comments=1)
    assert t.n_unassigned == 0
    assert t.terms.groupby("theme").size().max() <= 8       # fewer terms than n_terms: all of them
    assert t.readable().columns.tolist() == ["top terms", "comments", "share of comments (%)", "95% CI"]
    assert "<caption>3 themes in 22 comments" in t._repr_html_()
    # counts: friendly 8/10 promoters vs 1/10 detractors; refund 1/10 vs 5/10; waiting 1/10 vs 4/10
    for word, (x1, x2) in {"agent": (8, 1), "refund": (1, 5), "long": (1, 4)}.items():
        row = t.comparison.loc[t.comparison["label"].str.contains(word)].iloc[0]
        assert (row["n_reference"], row["n_compared"]) == (10, 10)
        assert row["share_reference"] == 10 * x1 and row["share_compared"] == 10 * x2
        pooled = (x1 + x2) / 20
        z = (x2 / 10 - x1 / 10) / math.sqrt(pooled * (1 - pooled) * (1 / 10 + 1 / 10))
        assert row["p_value"] == pytest.approx(math.erfc(abs(z) / math.sqrt(2)))
        se = math.sqrt(x1 / 10 * (1 - x1 / 10) / 10 + x2 / 10 * (1 - x2 / 10) / 10)
        assert row["ci_low"] == pytest.approx(10 * (x2 - x1) - 100 * 1.959964 * se, abs=1e-4)
    # Holm over 3 themes: sorted p ascending, multiplied by 3, 2, 1, running maximum, capped at 1
    p = t.comparison["p_value"].to_numpy()
    order = np.argsort(p)
    holm = np.minimum(1, np.maximum.accumulate(p[order] * np.array([3, 2, 1])))
    expected = np.empty(3)
    expected[order] = holm
    np.testing.assert_allclose(t.comparison["p_adjusted"], expected)
    # groups: every group x theme, shares of the group's comments
    g = t.groups
    assert len(g) == 9 and g.groupby("group")["n"].sum().to_dict() == {"detractor": 10, "passive": 2, "promoter": 10}


def test_examples_are_masked_and_messages_join():
    s = small_surveys()
    s.loc[0, "comment"] = "friendly agent helped, write to jo.doe@example.com"
    events = pd.DataFrame({"event_id": ["E1", "E2", "E3"], "kind": ["customer_message", "public_reply",
                                                                     "customer_message"],
                           "body": ["refund came quickly please", "we are on it", None]})
    t = comment_themes(s, n_themes=3, min_comments=1, ticket_events=events)
    assert t.n_comments == len(s) + 1 and set(t.comments["source"]) == {"survey", "message"}
    examples = t.examples(n=5)
    assert not examples["comment"].str.contains("@").any()
    assert examples["comment"].str.contains("[email]", regex=False).any()
    assert examples.groupby("theme")["comment"].apply(lambda c: c.is_unique).all()
    assert "example" not in set(t.terms["term"])


def test_refusals():
    s = small_surveys()
    with pytest.raises(ConfigError, match="n_themes"):
        comment_themes(s, n_themes=1)
    with pytest.raises(ConfigError, match="compare needs by"):
        comment_themes(s, compare=("promoter", "detractor"))
    with pytest.raises(DataValidationError, match="comment"):
        comment_themes(s.drop(columns="comment"))
    with pytest.raises(InsufficientDataError, match="8 themes need"):
        comment_themes(s.head(3), n_themes=8)
    with pytest.raises(ConfigError, match="without by"):
        comment_themes(s, n_themes=3, min_comments=1).examples(group="detractor")
