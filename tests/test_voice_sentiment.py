"""Tests of slm_lib.voice.sentiment: scores, labels, languages, masks, the trend table, CSAT validity."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats
from snownlp import SnowNLP

from slm_lib.errors import ConfigError, DataValidationError
from slm_lib.stats import mean_from_values, wilson_interval
from slm_lib.synth import generate
from slm_lib.voice import sentiment, sentiment_trend


def test_english_scores_are_vader_compound_and_labels_use_documented_thresholds():
    out = sentiment(pd.Series(["The book was good.", "I am not happy", "Meh.", "The refund never arrived."],
                              index=[10, 11, 12, 13]))
    assert out.index.tolist() == [10, 11, 12, 13]
    # good 1.9 -> 1.9 / sqrt(1.9^2 + 15); happy 2.7 negated (x -0.74); meh -0.3; no lexicon word -> 0
    expected = [1.9 / math.sqrt(1.9 ** 2 + 15), -1.998 / math.sqrt(1.998 ** 2 + 15), -0.3 / math.sqrt(0.09 + 15), 0.0]
    assert out["score"].tolist() == [round(x, 4) for x in expected] == [0.4404, -0.4585, -0.0772, 0.0]
    assert out["label"].tolist() == ["positive", "negative", "negative", "neutral"]   # |score| >= 0.05
    assert out["lang"].tolist() == ["en"] * 4 and out["reason"].isna().all()


def test_chinese_scores_are_snownlp_probability_mapped_to_minus_one_one():
    texts = ["服务很好，问题很快就解决了", "等了三天都没有人回复，太失望了", "一般般吧"]
    out = sentiment(texts)
    p = [SnowNLP(t).sentiments for t in texts]
    np.testing.assert_allclose(out["score"], [2 * x - 1 for x in p])
    assert out["score"].round(4).tolist() == [0.8426, -0.9851, 0.0067]
    assert out["label"].tolist() == ["positive", "negative", "neutral"]                # |score| >= 0.2
    assert out["lang"].tolist() == ["zh"] * 3


def test_other_languages_get_nan_and_the_reason():
    out = sentiment(["Le service était très lent.", "サポートは遅いです", "Очень медленно", "🙂🙂", None, 7.0 * np.nan])
    assert out["score"].isna().all() and out["label"].isna().all()
    assert out["lang"].tolist()[:4] == ["und", "ja", "und", "und"]
    assert out["reason"].tolist() == ["Latin script, not English", "no sentiment scorer for language ja",
                                      "a script other than Latin, Chinese, Japanese or Korean",
                                      "no letters (only numbers, symbols or emoji)", "no text", "no text"]


def test_masked_personal_data_stays_out_of_the_score():
    # as words, the two masks would put "very" three places before "good" (damped booster)
    out = sentiment(["very good", "very [email] [phone] good", "very\t[iban][card] good!", "very good!"])
    assert out["score"].iloc[0] == out["score"].iloc[1] and out["score"].iloc[2] == out["score"].iloc[3]
    escaped = sentiment(["I don&#x27;t like it", "I don't like it"])["score"]
    assert escaped.iloc[0] == escaped.iloc[1] < 0


def test_given_language_scores_every_text_with_letters():
    out = sentiment(["Servicio excelente", "!!", None], lang="en")
    assert out["score"].tolist()[0] == 0.0 and out["lang"].tolist()[:2] == ["en", "und"]
    assert out["reason"].tolist()[1:] == ["no letters (only numbers, symbols or emoji)", "no text"]
    with pytest.raises(ConfigError, match="lang must be"):
        sentiment(["x"], lang="fr")
    with pytest.raises(DataValidationError, match=r"1 rows are not \(positions \[1\]\)"):
        sentiment(["ok", 3])


def test_repeated_texts_get_the_same_row():
    out = sentiment(pd.Series(["Great support!", "Awful.", "Great support!"]))
    assert out.iloc[0].equals(out.iloc[2]) and out["score"].iloc[1] < 0


def test_sentiment_trend_by_hand():
    s = pd.DataFrame({"submitted_at": pd.to_datetime(["2026-01-03", "2026-01-09", "2026-01-20", "2026-02-02",
                                                      "2026-02-03"], utc=True),
                      "comment": ["The book was good.", "I am not happy", "Meh.", "Très lent.", None]})
    out = sentiment_trend(s, min_n=3)
    jan = out.loc[out["period"] == "2026-01"].set_index("metric")
    scores = [0.4404, -0.4585, -0.0772]
    _, low, high, _ = mean_from_values(scores)
    assert jan.loc["comment_sentiment", ["n", "value"]].tolist() == [3, pytest.approx(np.mean(scores))]
    assert jan.loc["comment_sentiment", ["ci_low", "ci_high"]].tolist() == pytest.approx([float(low), float(high)])
    share_low, _ = wilson_interval(2, 3)
    assert jan.loc["negative_comment_share", ["n", "value"]].tolist() == [3, pytest.approx(200 / 3)]
    assert jan.loc["negative_comment_share", "ci_low"] == pytest.approx(100 * float(share_low))
    assert not jan["small_n"].any()
    assert "2026-02" not in set(out["period"])          # the only February comment is French: not scored
    assert list(out.columns) == ["period", "metric", "n", "value", "ci_low", "ci_high", "small_n"]


@pytest.fixture(scope="module")
def sample():
    return generate(customers=3000, months=24, seed=7, start="2024-11-01")


def spearman_with_interval(x: np.ndarray, y: np.ndarray) -> tuple[float, float, float]:
    """Spearman rho with a 95% Fisher-z interval, variance 1.06 / (n - 3) (Fieller, Hartley & Pearson 1957)."""
    rho = stats.spearmanr(x, y).statistic
    half = 1.959964 * math.sqrt(1.06 / (len(x) - 3))
    return rho, math.tanh(math.atanh(rho) - half), math.tanh(math.atanh(rho) + half)


def test_comment_sentiment_tracks_the_csat_score_of_the_same_answer(sample):
    csat = sample.surveys.loc[(sample.surveys["type"] == "csat") & sample.surveys["comment"].notna()]
    scored = sentiment(csat["comment"])
    keep = scored["score"].notna()
    rho, low, high = spearman_with_interval(scored.loc[keep, "score"].to_numpy(), csat.loc[keep, "score"].to_numpy())
    print(f"Spearman rho(comment sentiment, CSAT) = {rho:.3f} (95% CI {low:.3f} to {high:.3f}), n = {int(keep.sum())}")
    assert keep.mean() > 0.9 and low > 0.5
