"""Free-text comments on survey answers, built from templates that depend on the score.

About 30 % of answers carry a comment. Some comments contain an e-mail address or a
phone number (to exercise masking) and about 1 in 200 contains HTML such as ``<b>`` or
``<script>`` (to exercise escaping). All names, addresses and numbers are fictitious
(``example.com`` / ``example.org`` domains, 555-01xx style numbers).

Examples
--------
>>> import numpy as np
>>> c = make_comments(np.random.default_rng(0), np.zeros(400, np.int8), np.full(400, 5))
>>> bool(0.2 < np.mean([isinstance(x, str) for x in c]) < 0.4)
True
"""
from __future__ import annotations

import numpy as np

from slm_lib.config import NPS_DETRACTOR_MAX, NPS_PROMOTER_MIN

COMMENT_SHARE: float = 0.30
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
_DETAILS = {
    "negative": ["Nobody answered for days.", "The issue came back after it was closed.",
                 "I had to explain the problem three times.", "The agent closed my ticket without fixing it.",
                 "Still waiting for a real answer.", "The reply did not address my question.",
                 "Billing is still wrong.", "We are considering other vendors."],
    "neutral": ["The answer took a while but it worked.", "Had to follow up once.",
                "The documentation link helped a bit.", "Resolved, but the process is clunky.",
                "The agent was polite.", "Not sure the root cause is fixed.",
                "It took two replies.", "The form was long."],
    "positive": ["The agent solved it on the first reply.", "Fixed within the hour.",
                 "Clear explanation and a quick fix.", "The chat was fast and easy.",
                 "They followed up without me asking.", "Everything works now.",
                 "Best support I have had from a vendor.", "Keep it up."],
}
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


def make_comments(rng: np.random.Generator, types: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """A comment (str) or NaN for each survey answer.

    Parameters
    ----------
    rng : numpy.random.Generator
        Source of randomness.
    types, scores : numpy.ndarray
        Survey type code (0 csat, 1 nps, 2 ces) and score of each answer.

    Returns
    -------
    numpy.ndarray
        Object array: comment text, or NaN when the answer has no comment.

    Examples
    --------
    >>> out = make_comments(np.random.default_rng(3), np.array([0] * 50), np.array([1] * 50))
    >>> any(isinstance(x, str) and "." in x for x in out)
    True
    """
    n = scores.size
    out = np.full(n, np.nan, dtype=object)
    has = np.flatnonzero(rng.random(n) < COMMENT_SHARE)
    mood = sentiment(types[has], scores[has])
    text = _pick(rng, _OPENERS, mood) + " " + _pick(rng, _DETAILS, mood)

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
    return out
