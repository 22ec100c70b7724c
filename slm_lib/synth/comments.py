"""Free-text comments on survey answers, built from templates that depend on the score.

About 30 % of answers carry a comment: 60 % of negative, 35 % of neutral and 20 % of
positive answers (unhappy customers write more often). A comment is an optional opener of
the answer's sentiment (``"Very disappointed."``) and one sentence of a planted theme
(:data:`THEMES`: waiting, refund, rude agent, came back, billing, documentation, fixed fast,
friendly agent), drawn with weights that depend on the sentiment: a detractor mostly writes
about waiting, refunds, rudeness or a problem that came back, a promoter about a fast fix
or a friendly agent. Each theme has six wordings and themes share words, so recovering them
is not trivial; :func:`planted_themes` reads the theme back from the text, so theme
recovery can be checked against the truth without a column that the canonical surveys
table does not have. Some comments contain an e-mail address or a phone number (to
exercise masking) and about 1 in 200 contains HTML such as ``<b>`` or ``<script>`` (to
exercise escaping). All names, addresses and numbers are fictitious (``example.com`` /
``example.org`` domains, 555-01xx style numbers).

Examples
--------
>>> import numpy as np
>>> c = pd.Series(make_comments(np.random.default_rng(0), np.zeros(400, np.int8), np.full(400, 1)))
>>> bool(0.5 < c.notna().mean() < 0.7), bool(planted_themes(c.dropna()).notna().all())
(True, True)
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from slm_lib.config import NPS_DETRACTOR_MAX, NPS_PROMOTER_MIN

#: About this share of the generated answers carries a comment (their mix of sentiments).
COMMENT_SHARE: float = 0.30
#: Chance that a negative, neutral and positive answer carries a comment.
COMMENT_SHARE_BY_SENTIMENT: tuple[float, float, float] = (0.60, 0.35, 0.20)
CONTACT_SHARE: float = 0.06
HTML_SHARE: float = 0.005

_OPENERS = {
    "negative": ["Very disappointed.", "Not happy at all.", "This was frustrating.",
                 "Poor experience this time.", "Honestly, terrible.", "I expected much better.",
                 "Third time I have to write about this.", "Slow and unhelpful."],
    "neutral": ["It was okay.", "Fine, nothing special.", "Mixed feelings.", "Average experience.",
                "Got there in the end.", "Could be better, could be worse.", "Acceptable.", "Meh."],
    "positive": ["Great support!", "Thank you so much.", "Really happy with the help.",
                 "Excellent service.", "Quick and friendly.", "Five stars from me.",
                 "Impressed, as always.", "Super helpful team."],
}
#: Planted themes: probability of the theme for a negative, neutral and positive answer (each
#: column sums to 1) and its sentences. Each sentence belongs to one theme (which is how
#: :func:`planted_themes` reads the theme back) and themes share words ("agent", "ticket",
#: "fixed", "problem", "reply", "order", "chat"), as customers' words do.
THEMES: dict[str, tuple[tuple[float, float, float], tuple[str, ...]]] = {
    "waiting": ((0.20, 0.10, 0.02), (
        "Still waiting for a reply after three days.", "Days of waiting for a reply.",
        "Too much waiting before anyone answered.", "Waiting a whole week for a response is not acceptable.",
        "I keep waiting and nobody replies.", "Hours of waiting to get a reply on the phone.")),
    "refund": ((0.20, 0.05, 0.03), (
        "The refund never arrived.", "My refund is still missing from my account.",
        "Still no refund for the cancelled order.", "The refund took weeks to process.",
        "You refused my refund without a reason.", "Where is the refund for my cancelled order?")),
    "rude agent": ((0.25, 0.10, 0.0), (
        "The rep was rude and dismissive.", "Rude staff, condescending tone.",
        "The person on the chat was rude when I asked again.", "Such a rude support agent.",
        "The rep hung up on me, very rude.", "Sarcastic and rude replies from your staff.")),
    "came back": ((0.25, 0.10, 0.0), (
        "The problem came back after the ticket was closed.", "Same problem again a day after you closed the ticket.",
        "The problem is back again, I had to reopen the ticket.",
        "It broke again although the ticket was marked as fixed.", "Again the same problem as last week.",
        "Had to reopen my ticket again.")),
    "billing": ((0.10, 0.25, 0.05), (
        "The invoice was higher than agreed.", "Double charge on my invoice.", "Charged twice, the invoice is wrong.",
        "The invoice shows the wrong plan.", "Confusing invoice and an extra charge.",
        "Unexpected charge on my last invoice.")),
    "documentation": ((0.0, 0.30, 0.10), (
        "The documentation was outdated.", "The article did not cover my case.",
        "Could not find anything in the documentation.", "The documentation and the FAQ article contradict each other.",
        "Better documentation would have saved me a ticket.", "The setup article in the documentation only partly helped.")),
    "fixed fast": ((0.0, 0.05, 0.40), (
        "Fixed quickly.", "Problem fixed within the hour.", "Fixed quickly with the very first reply.",
        "Everything fixed the same morning.", "Quickly fixed, no back and forth.", "Fixed in minutes and it works now.")),
    "friendly agent": ((0.0, 0.05, 0.40), (
        "The agent was friendly and patient.", "Friendly agent who really knew the product.",
        "A friendly, polite and clear agent.", "Friendly people on the chat.",
        "The agent explained everything patiently, very friendly.", "Such a friendly and helpful agent.")),
}
#: Share of comments that start with a general opener (``"Very disappointed."``) before the theme sentence.
OPENER_SHARE: float = 0.75
_NAMES = np.array(["anna", "ben", "chloe", "david", "emma", "farid", "grace", "hugo", "ines", "jon",
                   "kim", "lena", "marco", "nora", "omar", "priya"], dtype=object)
_DOMAINS = np.array(["example.com", "example.org", "mail.example.net"], dtype=object)
_TWO_DIGITS = np.array([f"{i:02d}" for i in range(100)], dtype=object)
_HTML = np.array(["<b>Please fix this.</b>", "<script>alert('hi')</script>", "<i>urgent</i>",
                  "<a href='http://example.com'>see here</a>", "<br/>Thanks<br/>"], dtype=object)


def sentiment(types: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Sentiment code per answer: 0 negative, 1 neutral, 2 positive.

    CSAT (type 0) 1-2 / 3 / 4-5; NPS (type 1) 0-6 / 7-8 / 9-10; CES (type 2, lower is
    better) 5-7 / 4 / 1-3.

    Examples
    --------
    >>> sentiment(np.array([0, 1, 2]), np.array([5, 7, 6])).tolist()
    [2, 1, 0]
    """
    csat = np.where(scores <= 2, 0, np.where(scores == 3, 1, 2))
    nps = np.where(scores <= NPS_DETRACTOR_MAX, 0, np.where(scores < NPS_PROMOTER_MIN, 1, 2))
    ces = np.where(scores >= 5, 0, np.where(scores == 4, 1, 2))
    return np.select([types == 0, types == 1], [csat, nps], ces).astype(np.int8)


def _pick(rng: np.random.Generator, pools: dict[str, list[str]], mood: np.ndarray) -> np.ndarray:
    out = np.empty(mood.size, dtype=object)
    for code, name in enumerate(("negative", "neutral", "positive")):
        where = np.flatnonzero(mood == code)
        pool = np.array(pools[name], dtype=object)
        out[where] = pool[rng.integers(0, pool.size, where.size)]
    return out


_SENTENCES = np.array([sentences for _, sentences in THEMES.values()], dtype=object)  # theme x sentence
_CUMULATIVE = np.cumsum([weights for weights, _ in THEMES.values()], axis=0).T  # mood x theme


def _theme_sentences(rng: np.random.Generator, mood: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One theme per comment, drawn with its weights for the mood, and one of its sentences: ``(theme, sentence)``."""
    theme = np.minimum((rng.random(mood.size)[:, None] >= _CUMULATIVE[mood]).sum(axis=1), len(THEMES) - 1)
    return theme, _SENTENCES[theme, rng.integers(0, _SENTENCES.shape[1], mood.size)]


def planted_themes(comments: pd.Series) -> pd.Series:
    """The planted theme of each generated comment (the key of :data:`THEMES`), read from its theme sentence.

    A generated comment holds exactly one theme sentence, which belongs to one theme;
    masking or appended text do not change it. Missing comments and texts
    that hold no planted predicate give NaN.

    Examples
    --------
    >>> planted_themes(pd.Series(["Meh. Days of waiting for a reply.", None, "Fixed quickly."])).tolist()
    ['waiting', nan, 'fixed fast']
    """
    phrase_theme = {phrase: name for name, (_, sentences) in THEMES.items() for phrase in sentences}
    pattern = "(" + "|".join(re.escape(phrase) for phrase in sorted(phrase_theme, key=len, reverse=True)) + ")"
    found = comments.astype("str").str.extract(pattern, expand=False)
    return found.map(phrase_theme).rename("planted_theme")


def make_comments(rng: np.random.Generator, types: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """A comment (str) or NaN for each survey answer: the text of :func:`comment_draws`.

    Examples
    --------
    >>> out = make_comments(np.random.default_rng(3), np.array([0] * 50), np.array([1] * 50))
    >>> any(isinstance(x, str) and "." in x for x in out)
    True
    """
    return comment_draws(rng, types, scores)[0]


def comment_draws(rng: np.random.Generator, types: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A comment (str) or NaN for each survey answer, and its planted theme.

    A comment is an optional general opener of the answer's sentiment followed by one sentence
    of a planted theme (:data:`THEMES`, drawn with the weights of the answer's sentiment), and
    sometimes contact details or HTML.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    types, scores : numpy.ndarray
        Survey type code (0 csat, 1 nps, 2 ces) and score of each answer.

    Returns
    -------
    (numpy.ndarray, numpy.ndarray)
        Object array: comment text, or NaN when the answer has no comment; int8 array: the
        position of the comment's theme in :data:`THEMES` (-1 without a comment).

    Examples
    --------
    >>> text, theme = comment_draws(np.random.default_rng(3), np.array([0] * 50), np.array([1] * 50))
    >>> planted = planted_themes(pd.Series(text)).map({name: k for k, name in enumerate(THEMES)})
    >>> bool((planted.fillna(-1) == theme).all())
    True
    """
    n = scores.size
    out = np.full(n, np.nan, dtype=object)
    mood = sentiment(types, scores)
    has = np.flatnonzero(rng.random(n) < np.asarray(COMMENT_SHARE_BY_SENTIMENT)[mood])
    mood = mood[has]
    opener = _pick(rng, _OPENERS, mood)
    theme, sentence = _theme_sentences(rng, mood)
    text = np.where(rng.random(has.size) < OPENER_SHARE, opener + " " + sentence, sentence)

    contact = rng.random(has.size) < CONTACT_SHARE
    phone = rng.random(has.size) < 0.5
    k = np.flatnonzero(contact & ~phone)
    emails = (_NAMES[rng.integers(0, _NAMES.size, k.size)] + "."
              + rng.integers(1, 99, k.size).astype(str).astype(object) + "@"
              + _DOMAINS[rng.integers(0, _DOMAINS.size, k.size)])
    text[k] = text[k] + " Contact me at " + emails + "."
    k = np.flatnonzero(contact & phone)
    digits = _TWO_DIGITS[rng.integers(0, 100, k.size)]
    numbers = np.where(rng.random(k.size) < 0.5, "+1 (212) 555-01", "+44 20 7946 00").astype(object)
    text[k] = text[k] + " Call me on " + numbers + digits + "."
    k = np.flatnonzero(rng.random(has.size) < HTML_SHARE)
    text[k] = text[k] + " " + _HTML[rng.integers(0, _HTML.size, k.size)]
    out[has] = text
    themes = np.full(n, -1, dtype=np.int8)
    themes[has] = theme
    return out, themes
