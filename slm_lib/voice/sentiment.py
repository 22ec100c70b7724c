"""Sentiment of customer texts: a score in [-1, 1] and a label, offline, or NaN with the reason.

Scorers (both ship their lexicon or model inside the package: nothing is downloaded at run time):

``en``: VADER (``vaderSentiment``, Hutto & Gilbert 2014), a rule-based scorer on an English
    lexicon of 7,500 words with negation, boosters, "but", capitals and "!"; the score is
    VADER's ``compound`` (already in [-1, 1], rounded by VADER to 4 decimals).
``zh``: SnowNLP (``snownlp``): its naive Bayes classifier, trained on product reviews, gives
    the probability p that a text is positive; the score is ``2 p - 1``. It is a
    classifier's confidence, not an intensity: factual sentences often score far from 0
    (``订单号在邮件里`` -0.92), so compare Chinese scores with each other, not with English ones.

The language of each text comes from :func:`slm_lib.voice.language.detect_language` (``lang
= "auto"``) or is given. Texts in any other language, or whose language cannot be told,
get a NaN score and the reason, never a made-up score. Scorers read the text without masked
personal data, HTML tags and web addresses (:func:`slm_lib.voice.language.readable_text`):
``[email]`` and ``[phone]`` stay masked and change no score.

Labels (:data:`LABEL_THRESHOLDS`): ``positive`` when score >= t, ``negative`` when score <= -t,
``neutral`` in between, with t = 0.05 for VADER (its authors' convention) and t = 0.2 for
SnowNLP (p between 0.4 and 0.6 is neutral).

Each distinct text is scored once (a million comments hold many repeats). English texts
are scored all at once by :func:`slm_lib.voice.vader.vader_compound` (VADER's rules in
pyarrow and numpy, equal to ``polarity_scores``); Chinese texts one at a time by SnowNLP
(about 1.5 ms each, plus 2.5 s to load its model the first time a Chinese text comes).

Examples
--------
>>> import pandas as pd
>>> sentiment(pd.Series(["The agent was rude and dismissive.", "Thanks!"]))[["score", "label"]].values.tolist()
[[-0.4588, 'negative'], [0.4926, 'positive']]
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from slm_lib.config import DEFAULT_MIN_N
from slm_lib.errors import ConfigError, DataValidationError
from slm_lib.periods import check_freq, period_codes
from slm_lib.stats import mean_from_moments, share_from_counts
from slm_lib.voice.language import NO_LETTERS, UNDETERMINED, languages, readable_text
from slm_lib.voice.vader import vader_compound

__all__ = ["LABEL_THRESHOLDS", "sentiment", "sentiment_trend"]

#: |score| at or above which a text is positive / negative, per scorer.
LABEL_THRESHOLDS: dict[str, float] = {"en": 0.05, "zh": 0.2}
TREND_METRICS = ("comment_sentiment", "negative_comment_share")


def _snownlp(texts: list[str]) -> np.ndarray:
    # snownlp loads its model when imported (2.5 s): only when a Chinese text comes
    from snownlp import SnowNLP

    return np.array([2.0 * SnowNLP(t).sentiments - 1.0 for t in texts], dtype=np.float64)


SCORERS = {"en": vader_compound, "zh": _snownlp}


def _as_series(texts: pd.Series | Iterable[str]) -> pd.Series:
    s = texts if isinstance(texts, pd.Series) else pd.Series(list(texts), dtype=object)
    if pd.api.types.infer_dtype(s, skipna=True) not in ("string", "empty"):
        bad = s.map(lambda x: not (isinstance(x, str) or pd.isna(x)))   # only on the error path
        rows = np.flatnonzero(bad.to_numpy())[:5].tolist()
        raise DataValidationError(f"sentiment: texts must be strings or missing; {int(bad.sum())} rows are not "
                                  f"(positions {rows})")
    return s


def sentiment(texts: pd.Series | Iterable[str], lang: str = "auto") -> pd.DataFrame:
    """Sentiment score in [-1, 1] and label of each text, with its language and, for NaN, the reason.

    Parameters
    ----------
    texts : pandas.Series or iterable of str
        Customer texts (survey comments, message bodies); missing values allowed. Masked
        personal data (``[email]`` ...) and HTML entities of escaped text are read as such.
    lang : {"auto", "en", "zh"}
        ``"auto"`` detects each text's language (:func:`slm_lib.voice.language.detect_language`);
        ``"en"`` or ``"zh"`` scores every text with that language's scorer.

    Returns
    -------
    pandas.DataFrame
        On the index of ``texts``: ``score`` (float, NaN when not scored), ``label``
        (negative / neutral / positive, NaN when not scored), ``lang`` (``en``, ``zh``, ``ja``,
        ``ko``, ``und``; NaN for a missing text) and ``reason`` (why the score is NaN; NaN when
        scored).

    Raises
    ------
    ConfigError
        If ``lang`` is not one of the above.
    DataValidationError
        If a text is neither a string nor missing.

    Examples
    --------
    >>> out = sentiment(["Great support!", "服务很好，问题很快就解决了", "Service très lent.", None])
    >>> out["score"].round(4).tolist(), out["label"].tolist()[:2], out["lang"].tolist()
    ([0.7959, 0.8426, nan, nan], ['positive', 'positive'], ['en', 'zh', 'und', nan])
    >>> out["reason"].tolist()[2:]
    ['Latin script, not English', 'no text']
    """
    if lang not in ("auto", *SCORERS):
        raise ConfigError(f"sentiment: lang must be 'auto', 'en' or 'zh', not {lang!r}")
    s = _as_series(texts)
    codes, distinct = pd.factorize(s.to_numpy(dtype=object))      # each distinct text is read once
    distinct = pd.Series(distinct, dtype="str")
    readable = readable_text(distinct)
    text = readable.to_numpy(zero_copy_only=False)
    if lang == "auto":
        found = languages(readable)
    else:  # given: every text with a letter goes to that scorer
        letters = pc.count_substring_regex(readable, r"\p{L}").to_numpy(zero_copy_only=False) > 0
        found = pd.DataFrame({"lang": np.where(letters, lang, UNDETERMINED), "reason": np.where(letters, None, NO_LETTERS)})
    langs = found["lang"].to_numpy(dtype=object)
    score = np.full(len(distinct), np.nan)
    threshold = np.full(len(distinct), np.nan)
    for code, scorer in SCORERS.items():
        rows = np.flatnonzero(langs == code)
        if rows.size:
            score[rows] = scorer(text[rows].tolist())
            threshold[rows] = LABEL_THRESHOLDS[code]
    label = np.select([score >= threshold, score <= -threshold, np.isfinite(score)], ["positive", "negative", "neutral"],
                      None)
    reason = found["reason"].fillna(("no sentiment scorer for language " + found["lang"]).where(np.isnan(score)))
    per_text = pd.DataFrame({"score": score, "label": label, "lang": found["lang"].to_numpy(dtype=object),
                             "reason": reason.to_numpy(dtype=object)})
    missing = pd.DataFrame({"score": [np.nan], "label": [None], "lang": [None], "reason": ["no text"]})
    out = pd.concat([per_text, missing], ignore_index=True).take(np.where(codes >= 0, codes, len(distinct)))
    return out.set_axis(s.index).astype({"label": "str", "lang": "str", "reason": "str"})


def sentiment_trend(surveys: pd.DataFrame, freq: str = "M", by: str | None = None, tz: str = "UTC",
                    min_n: int = DEFAULT_MIN_N) -> pd.DataFrame:
    """Mean comment sentiment and share of negative comments per period, each with n and a 95% interval.

    Parameters
    ----------
    surveys : pandas.DataFrame
        Canonical surveys (``submitted_at``, ``comment``, and ``by`` if given).
    freq : {"D", "W", "M", "Q"}
        Period of ``submitted_at`` in ``tz``.
    by : str, optional
        A surveys column to group by as well (e.g. ``"type"``).
    tz : str
        Time zone of the periods.
    min_n : int
        ``small_n`` flags periods with fewer scored comments.

    Returns
    -------
    pandas.DataFrame
        The shape of :func:`slm_lib.metrics.table.metric_table`: ``period, [by], metric, n,
        value, ci_low, ci_high, small_n`` with metrics ``comment_sentiment`` (mean score,
        skewness-corrected t interval) and ``negative_comment_share`` (% labelled negative,
        Wilson interval); ``n`` counts the scored comments (NaN scores are left out).

    Examples
    --------
    >>> s = pd.DataFrame({"submitted_at": pd.to_datetime(["2026-01-05", "2026-01-20", "2026-02-02"], utc=True),
    ...                   "comment": ["Great support!", "The agent was rude.", "Thanks!"]})
    >>> sentiment_trend(s)[["period", "metric", "n", "value"]].round(3).values.tolist()
    [['2026-01', 'comment_sentiment', 2, 0.169], ['2026-01', 'negative_comment_share', 2, 50.0], ['2026-02', 'comment_sentiment', 1, 0.493], ['2026-02', 'negative_comment_share', 1, 0.0]]
    """
    freq = check_freq(freq)
    missing = [c for c in ("submitted_at", "comment", *([by] if by else [])) if c not in surveys.columns]
    if missing:
        raise DataValidationError(f"sentiment_trend: surveys lack column(s) {missing}")
    rows = surveys.loc[surveys["comment"].notna()]
    scored = sentiment(rows["comment"])
    keep = scored["score"].notna().to_numpy()
    rows, scored = rows.loc[keep], scored.loc[keep]
    codes, labels = period_codes(rows["submitted_at"], freq, tz)
    keys = ["period", *([by] if by else [])]
    frame = pd.DataFrame({"period": labels.take(codes), **({by: rows[by].to_numpy()} if by else {}),
                          "score": scored["score"].to_numpy(), "negative": (scored["label"] == "negative").to_numpy()})
    dev = frame["score"] - frame.groupby(keys, observed=True)["score"].transform("mean")
    sums = frame.assign(dev2=dev ** 2, dev3=dev ** 3).groupby(keys, observed=True, sort=True).agg(
        n=("score", "size"), total=("score", "sum"), dev2=("dev2", "sum"), dev3=("dev3", "sum"),
        negative=("negative", "sum"))
    n = sums["n"].to_numpy(np.float64)
    value, low, high, _ = mean_from_moments(sums["total"], sums["dev2"], n, sums["dev3"])
    share, share_low, share_high = share_from_counts(sums["negative"].to_numpy(np.float64), n)
    index = sums.index.to_frame(index=False)
    parts = [index.assign(metric=m, n=n.astype(np.int64), value=v, ci_low=lo, ci_high=hi)
             for m, v, lo, hi in zip(TREND_METRICS, (value, share), (low, share_low), (high, share_high))]
    out = pd.concat(parts, ignore_index=True).sort_values([*keys, "metric"], kind="stable")
    return out.assign(small_n=out["n"] < min_n).reset_index(drop=True)
