"""VADER's compound score for many texts at once: the same numbers as ``vaderSentiment``, vectorised.

``SentimentIntensityAnalyzer.polarity_scores`` runs a Python loop over the words of one
text (60-70 µs for a 15-word comment, over a minute for a million distinct comments).
:func:`vader_compound` applies the same rules to all words of all texts at once in
pyarrow and numpy, in the same order of floating-point operations, so the result equals
``polarity_scores(text)["compound"]`` exactly (tests compare them on generated texts):

1. words: the text split on whitespace, each word stripped of leading and trailing
   punctuation unless that leaves two characters or fewer (emoticons such as ``:)`` stay);
2. each word in VADER's lexicon gets its valence, then, in VADER's order: ``no`` before a
   lexicon word counts as a negation, not as a word of its own; a negation ``no`` up to
   three words before flips it (times -0.74); an ALL-CAPS word in a text that is not all
   caps gains 0.733; each of the three words before it that is not a lexicon word adds
   its booster value (damped 1, 0.95, 0.9 by distance) and applies the negation rules
   (``not``, ``n't``, ``never`` ...; ``never so`` / ``never this`` boost by 1.25);
   ``least`` before it (not ``at least``, ``very least``) flips it; booster words and
   ``kind`` before ``of`` score 0;
3. the sum, plus 0.292 per ``!`` (at most 4) and 0.18 per ``?`` (2-3; 0.96 for more) in
   the direction of the sum, normalised to ``x / sqrt(x^2 + 15)`` and rounded to 4 decimals.

Texts that need VADER's rarer rules go through ``polarity_scores`` itself, one at a time:
texts with a non-ASCII character (emoji descriptions, Unicode case rules), with the word
``but`` (VADER's weighting of words around it depends on repeated values in its list), with
a special idiom or a two-word booster (``kind of``, ``the bomb``, ``yeah right`` ...), or with
the ASCII separators that Python, unlike pyarrow, takes for whitespace.

Examples
--------
>>> vader_compound(["The agent was VERY rude!!", "Not bad at all.", "Great, but slow."]).tolist()
[-0.6818, 0.431, 0.3716]
"""
from __future__ import annotations

import string
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from vaderSentiment import vaderSentiment as vs

from slm_lib.voice.language import vader_analyzer

__all__ = ["vader_compound"]

_PHRASES = [p for p in (*vs.SPECIAL_CASES, *vs.BOOSTER_DICT) if " " in p]
_NEGATE = pa.array(vs.NEGATE)
_BOOSTER_WORDS = pa.array(list(vs.BOOSTER_DICT))
_BOOSTER_VALUES = np.array(list(vs.BOOSTER_DICT.values()), dtype=np.float64)
#: The words VADER's rules name (lower case).
_RULE_WORDS = frozenset({"no", "or", "nor", "kind", "of", "so", "this", "never", "without", "doubt", "least", "at",
                         "very"})


def _lexicon() -> tuple[pa.Array, np.ndarray]:
    lexicon = vader_analyzer().lexicon
    return pa.array(list(lexicon)), np.array(list(lexicon.values()), dtype=np.float64)


def _lookup(words: pa.Array, keys: pa.Array, values: np.ndarray) -> np.ndarray:
    """values[key] per word, NaN where the word is not a key."""
    index = pc.index_in(words, value_set=keys).to_numpy(zero_copy_only=False)
    found = ~np.isnan(index.astype(np.float64))
    out = np.full(len(words), np.nan)
    out[found] = values[index[found].astype(np.int64)]
    return out


def _shifted(x: np.ndarray, d: int, fill: object) -> np.ndarray:
    """``x`` moved ``d`` places later (x[i - d] at i); the first ``d`` places hold ``fill``."""
    out = np.empty_like(x)
    out[:d] = fill
    out[d:] = x[:-d] if d else x
    return out


def _words(texts: pa.Array) -> tuple[pa.Array, np.ndarray]:
    """VADER's words of each text (split on whitespace, punctuation stripped unless that leaves <= 2
    characters), flattened, with the position of each word's text."""
    split = pc.ascii_split_whitespace(texts)
    raw = pc.list_flatten(split)
    stripped = pc.utf8_trim(raw, string.punctuation)
    return pc.if_else(pc.less_equal(pc.utf8_length(stripped), 2), raw, stripped), pc.list_parent_indices(split).to_numpy()


def _codes_of(words: list[str], vocabulary: pa.Array) -> dict[str, int]:
    """Position of each word in ``vocabulary``, -1 for a word it does not hold."""
    found = pc.index_in(pa.array(words, type=vocabulary.type), value_set=vocabulary).to_pylist()
    return {w: -1 if i is None else i for w, i in zip(words, found)}


def _fast(texts: pa.Array, words: pa.Array, code: np.ndarray, vocabulary: pa.Array, parent: np.ndarray) -> np.ndarray:
    """Compound scores of ASCII texts without ``but``, idioms or odd separators (VADER's common rules).

    ``words`` are the texts' words (:func:`_words`), ``code`` their lower-case forms as positions
    in ``vocabulary``, ``parent`` the text of each word.
    """
    n = len(texts)
    rule_codes = _codes_of(sorted(_RULE_WORDS), vocabulary)

    def is_(word: str) -> int:   # the code of a rule word, -1 (no word) when the texts never use it
        return rule_codes[word]

    upper = (pc.equal(words, pc.ascii_upper(words)).to_numpy(zero_copy_only=False)      # str.isupper: no lower-case
             & pc.not_equal(words, pc.ascii_lower(words)).to_numpy(zero_copy_only=False))  # letter, one upper-case
    n_words = np.bincount(parent, minlength=n)
    starts = np.cumsum(n_words) - n_words
    position = np.arange(len(code)) - starts[parent]
    last = position == n_words[parent] - 1
    capped = np.bincount(parent, weights=upper, minlength=n)
    cap_diff = ((n_words - capped > 0) & (n_words - capped < n_words))[parent]

    keys, values = _lexicon()
    valence = _lookup(vocabulary, keys, values)[code]
    in_lexicon = ~np.isnan(valence)
    booster = _lookup(vocabulary, _BOOSTER_WORDS, _BOOSTER_VALUES)[code]
    negation = (pc.is_in(vocabulary, value_set=_NEGATE).to_numpy(zero_copy_only=False)
                | pc.match_substring(vocabulary, "n't").to_numpy(zero_copy_only=False))[code]

    def before(x: np.ndarray, d: int, fill: object) -> np.ndarray:   # the value d words earlier, same text
        return np.where(position >= d, _shifted(x, d, fill), fill)

    w = {d: before(code, d, -2) for d in (1, 2, 3)}                 # -2: no word there
    nxt = np.where(last, -2, np.roll(code, -1))
    next_in_lexicon = np.where(last, False, np.roll(in_lexicon, -1))
    so_this = [is_("so"), is_("this")]
    scored = in_lexicon & np.isnan(booster) & ~((code == is_("kind")) & (nxt == is_("of")))

    v = np.where(scored, valence, 0.0)
    v = np.where(scored & (code == is_("no")) & next_in_lexicon, 0.0, v)
    no_before = ((w[1] == is_("no")) | (w[2] == is_("no"))
                 | ((w[3] == is_("no")) & np.isin(w[1], [is_("or"), is_("nor")])))
    v = np.where(scored & no_before, valence * vs.N_SCALAR, v)
    v = np.where(scored & upper & cap_diff, np.where(v > 0, v + vs.C_INCR, v - vs.C_INCR), v)
    for d, damp in ((1, 1.0), (2, 0.95), (3, 0.9)):
        step = scored & (position >= d) & ~before(in_lexicon, d, True)
        b = before(booster, d, np.nan)
        s = np.where(np.isnan(b), 0.0, np.where(v < 0, -b, b))
        caps = ~np.isnan(b) & before(upper, d, False) & cap_diff
        s = np.where(caps, np.where(v > 0, s + vs.C_INCR, s - vs.C_INCR), s)
        if damp != 1.0:
            s = np.where(s != 0, s * damp, s)
        v = np.where(step, v + s, v)
        negated = before(negation, d, False)
        if d == 1:
            flip, boost = negated, np.zeros_like(negated)
        elif d == 2:
            boost = (w[2] == is_("never")) & np.isin(w[1], so_this)
            flip = ~boost & ~((w[2] == is_("without")) & (w[1] == is_("doubt"))) & negated
        else:
            boost = ((w[3] == is_("never")) & np.isin(w[2], so_this)) | np.isin(w[1], so_this)
            flip = ~boost & ~((w[3] == is_("without")) & ((w[2] == is_("doubt")) | (w[1] == is_("doubt")))) & negated
        v = np.where(step & boost, v * 1.25, np.where(step & flip, v * vs.N_SCALAR, v))
    least = scored & (w[1] == is_("least")) & ~before(in_lexicon, 1, True)
    v = np.where(least & ((position == 1) | ((w[2] != is_("at")) & (w[2] != is_("very")))), v * vs.N_SCALAR, v)

    total = np.bincount(parent, weights=v, minlength=n)
    bangs = np.minimum(pc.count_substring(texts, "!").to_numpy(zero_copy_only=False), 4) * 0.292
    questions = pc.count_substring(texts, "?").to_numpy(zero_copy_only=False)
    emphasis = bangs + np.where(questions > 3, 0.96, np.where(questions > 1, questions * 0.18, 0.0))
    total = np.where(total > 0, total + emphasis, np.where(total < 0, total - emphasis, total))
    compound = np.clip(total / np.sqrt(total * total + 15.0), -1.0, 1.0)
    return _round4(np.where(n_words > 0, compound, 0.0))


def _round4(x: np.ndarray) -> np.ndarray:
    """Python's ``round(x, 4)`` (correctly rounded) for an array: numpy's, redone in Python near a tie."""
    out = np.round(x, 4)
    scaled = np.abs(x) * 1e4
    near_tie = np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6
    out[near_tie] = [round(value, 4) for value in x[near_tie].tolist()]
    return out


def vader_compound(texts: Sequence[str] | pa.Array) -> np.ndarray:
    """VADER's ``compound`` score of each text, equal to ``polarity_scores(text)["compound"]``.

    Parameters
    ----------
    texts : sequence of str or pyarrow.Array
        Texts without missing values.

    Returns
    -------
    numpy.ndarray
        float64 scores in [-1, 1], rounded to 4 decimals as VADER rounds them.

    Examples
    --------
    >>> vader_compound(["Thanks!", "", "I am not happy :("]).tolist()
    [0.4926, 0.0, -0.1511]
    """
    arr = texts if isinstance(texts, pa.Array) else pa.array(list(texts), type=pa.large_string())
    out = np.full(len(arr), np.nan)
    plain = np.flatnonzero(pc.string_is_ascii(arr).to_numpy(zero_copy_only=False)
                           & ~pc.match_substring_regex(arr, "[\x1c-\x1f]").to_numpy(zero_copy_only=False))
    subset = arr.take(pa.array(plain))
    words, parent = _words(subset)
    encoded = pc.dictionary_encode(pc.ascii_lower(words))        # each distinct word looked up once
    code, vocabulary = encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64), encoded.dictionary
    rare = _rare_rule_words(code, parent, vocabulary)
    rare_text = np.bincount(parent[rare], minlength=len(subset)) > 0
    keep = ~rare_text[parent]
    renumber = np.cumsum(~rare_text) - 1
    fast = np.flatnonzero(~rare_text)
    out[plain[fast]] = _fast(subset.take(pa.array(fast)), words.filter(pa.array(keep)), code[keep], vocabulary,
                             renumber[parent[keep]])
    analyzer = vader_analyzer()
    for i in np.flatnonzero(np.isnan(out)):
        out[i] = analyzer.polarity_scores(arr[int(i)].as_py())["compound"]
    return out


def _rare_rule_words(code: np.ndarray, parent: np.ndarray, vocabulary: pa.Array) -> np.ndarray:
    """Words that start ``but`` or a special idiom or two-word booster of VADER (its rarer rules)."""
    phrases = [p.split(" ") for p in _PHRASES] + [["but"]]
    codes = _codes_of(sorted({w for p in phrases for w in p}), vocabulary)
    rare = np.zeros(len(code), dtype=bool)
    for phrase in phrases:
        if any(codes[w] < 0 for w in phrase):
            continue
        hit = code == codes[phrase[0]]
        for k, word in enumerate(phrase[1:], start=1):
            later = np.zeros(len(code), dtype=bool)
            later[:-k] = (code[k:] == codes[word]) & (parent[k:] == parent[:-k])
            hit &= later
        rare |= hit
    return rare
