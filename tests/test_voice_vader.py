"""Tests of slm_lib.voice.vader: VADER's compound score, vectorised, equals vaderSentiment's own."""
from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from slm_lib.voice.language import vader_analyzer
from slm_lib.voice.vader import vader_compound


def reference(text: str) -> float:
    return vader_analyzer().polarity_scores(text)["compound"]


def normalized(total: float) -> float:
    return round(total / math.sqrt(total * total + 15), 4)


def test_hand_computed_scores():
    # lexicon: good 1.9, happy 2.7, rude -2.0; booster 0.293, caps 0.733, negation x -0.74, "!" 0.292 each
    expected = {
        "The book was good.": normalized(1.9),                                   # 0.4404 (VADER's README)
        "I am not happy": normalized(2.7 * -0.74),                               # -0.4585
        "The agent was VERY rude!!": normalized(-2.0 - 0.293 - 0.733 - 2 * 0.292),  # -0.6818
        "": 0.0,
    }
    assert vader_compound(list(expected)).tolist() == list(expected.values())
    assert list(expected.values()) == [0.4404, -0.4585, -0.6818, 0.0]
    assert [reference(t) for t in expected] == list(expected.values())


WORDS = ["good", "bad", "happy", "rude", "great", "terrible", "love", "hate", "no", "not", "never", "so", "this",
         "very", "VERY", "extremely", "kind", "of", "sort", "least", "at", "or", "nor", "without", "doubt", "isn't",
         "don't", "cant", "but", "BUT", "the", "bomb", "yeah", "right", "GOOD", "Bad", "help", "helpful", "slow",
         "refund", "waiting", "fixed", "agent", ":)", ":(", "<3", "good!", "(great)", "bad?", "...", "!!", "?",
         "barely", "hardly", "kinda", "problem", "problems", "friendly", "disappointed", "okay", "meh", "très",
         "😀", "I", "OK", "thanks"]


@settings(max_examples=150, deadline=None)
@given(st.lists(st.lists(st.sampled_from(WORDS), max_size=14).map(" ".join), min_size=1, max_size=12))
def test_equals_vader_on_generated_texts(texts):
    assert vader_compound(texts).tolist() == [reference(t) for t in texts]


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("abcnotgdAB !?.,'\t\n:)(")), max_size=40))
def test_equals_vader_on_arbitrary_characters(text):
    assert vader_compound([text]).tolist() == [reference(text)]
