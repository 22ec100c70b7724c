"""Tests of slm_lib.voice.language: the documented rule for en / zh / undetermined."""
from __future__ import annotations

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from slm_lib.voice.language import (
    ENGLISH_WORDS,
    NO_LETTERS,
    OTHER_LATIN_WORDS,
    detect_language,
    readable_text,
)


def test_languages_and_reasons():
    texts = pd.Series({
        "en": "The refund never arrived.",
        "en_short": "Excellent service.",
        "zh": "退款还没到账，太失望了",
        "zh_mixed": "服务很好 ok",
        "ja": "サポートは遅いです",
        "ko": "서비스가 느려요",
        "fr": "Le remboursement n'est pas arrivé.",
        "de": "Der Service war sehr langsam und nicht hilfreich.",
        "es": "El servicio fue muy lento.",
        "ru": "Очень медленно",
        "short_es": "Servicio excelente",
        "digits": "12345 !!",
        "missing": None,
    })
    out = detect_language(texts)
    assert out.index.equals(texts.index)
    assert out["lang"].to_dict() == {"en": "en", "en_short": "en", "zh": "zh", "zh_mixed": "zh", "ja": "ja", "ko": "ko",
                                     "fr": "und", "de": "und", "es": "und", "ru": "und", "short_es": "und",
                                     "digits": "und", "missing": out["lang"]["missing"]}
    assert pd.isna(out["lang"]["missing"])
    reasons = out["reason"]
    assert reasons[["en", "zh", "ja", "ko"]].isna().all()
    assert reasons[["fr", "de", "es"]].tolist() == ["Latin script, not English"] * 3
    assert reasons["ru"] == "a script other than Latin, Chinese, Japanese or Korean"
    assert reasons["short_es"].startswith("no function word")
    assert reasons["digits"] == NO_LETTERS and reasons["missing"] == "no text"


def test_masks_tags_and_entities_are_not_read():
    assert readable_text(pd.Series(["a[email]b &lt;i&gt;x&lt;/i&gt; <b>y</b> www.example.com/x"])).to_pylist() == \
        ["a b  x   y   "]
    # a masked address is no evidence of a language, and an escaped apostrophe is one
    out = detect_language(pd.Series(["[email] [phone]", "Merci [email]", "It&#x27;s late"]))
    assert out["lang"].tolist() == ["und", "und", "en"]


def test_function_word_lists_do_not_overlap():
    assert not ENGLISH_WORDS & OTHER_LATIN_WORDS
    assert {"the", "and", "not"} <= ENGLISH_WORDS and not {"a", "in", "is", "was", "no"} & ENGLISH_WORDS


@settings(max_examples=50, deadline=None)
@given(st.lists(st.sampled_from(["The", "refund", "never", "came", "and", "it", "is", "late", "[email]", "[phone]"]),
                min_size=1, max_size=10))
def test_masks_never_change_the_language(words):
    text = " ".join(words)
    bare = " ".join(w for w in words if not w.startswith("["))
    out = detect_language(pd.Series([text, bare]))
    assert out["lang"].iloc[0] == out["lang"].iloc[1]
