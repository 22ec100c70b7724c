"""Benchmark of slm_lib.voice: sentiment and themes of a million survey comments.

Two corpora of survey answers with a comment, both from :func:`slm_lib.synth.comments.make_comments`:

* ``synth``: the generator's comments as they are (openers and planted theme sentences:
  many repeats, as short real comments have: "Thanks!", "Great service.");
* ``distinct``: every comment with a different made-up word appended (``Ref qzkxa.``), so
  no two texts are equal: the worst case, where reading each distinct text once saves nothing.

Prints, per corpus, the wall time of :func:`slm_lib.voice.sentiment` and of
:func:`slm_lib.voice.comment_themes` (8 themes, ``by="nps_category"``), their sum against
the 60 s target, and references measured in the same run on the ``synth`` corpus: a plain
loop of VADER's ``polarity_scores`` over every comment against
:func:`slm_lib.voice.vader.vader_compound` over every comment (the same numbers,
vectorised), and scikit-learn's ``TfidfVectorizer`` over every comment (what
``theme_matrix`` computes from the distinct texts). Then the peak memory of the themes.

Run: ``.venv/bin/python benchmarks/bench_voice.py [--comments 1000000] [--no-reference]``
"""
from __future__ import annotations

import argparse
import string
import time

import numpy as np
import pandas as pd
from _memory import print_peak_memory
from sklearn.feature_extraction.text import TfidfVectorizer

from slm_lib.synth.comments import make_comments
from slm_lib.voice import comment_themes, sentiment
from slm_lib.voice.language import readable_text, vader_analyzer
from slm_lib.voice.tfidf import TOKEN_PATTERN
from slm_lib.voice.vader import vader_compound

TARGET_S = 60.0


def synth_surveys(n: int, seed: int = 0) -> pd.DataFrame:
    """``n`` survey answers with a comment: CSAT, NPS and CES in equal parts, uniform scores."""
    rng = np.random.default_rng(seed)
    answers = 3 * n
    types = rng.integers(0, 3, answers).astype(np.int8)
    scores = np.where(types == 1, rng.integers(0, 11, answers), np.where(types == 0, rng.integers(1, 6, answers),
                                                                          rng.integers(1, 8, answers)))
    comment = make_comments(rng, types, scores)
    keep = np.flatnonzero(pd.notna(comment))[:n]
    return pd.DataFrame({"response_id": [f"R{i:07d}" for i in range(keep.size)],
                         "type": np.array(["csat", "nps", "ces"], dtype=object)[types[keep]],
                         "score": scores[keep].astype(np.int64), "comment": pd.Series(comment[keep], dtype="str")})


def made_up_words(n: int, seed: int = 1) -> np.ndarray:
    """``n`` different five-letter lower-case words."""
    codes = np.random.default_rng(seed).choice(26 ** 5, n, replace=False)
    letters = np.array(list(string.ascii_lowercase), dtype=object)
    out = letters[codes % 26]
    for _ in range(4):
        codes //= 26
        out = out + letters[codes % 26]
    return out


def timed(label: str, run) -> float:
    t0 = time.perf_counter()
    run()
    seconds = time.perf_counter() - t0
    print(f"  {label:<58} {seconds:>7.2f} s")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=1_000_000)
    parser.add_argument("--no-reference", action="store_true", help="skip the plain VADER and TF-IDF references")
    args = parser.parse_args()
    synth = synth_surveys(args.comments)
    distinct = synth.assign(comment=synth["comment"] + " Ref " + made_up_words(len(synth)) + ".")
    for name, surveys in (("synth", synth), ("distinct", distinct)):
        print(f"{name}: {len(surveys):,} comments, {surveys['comment'].nunique():,} distinct")
        total = timed("sentiment(comments)", lambda s=surveys: sentiment(s["comment"]))
        total += timed("comment_themes(surveys, 8, by='nps_category')",
                       lambda s=surveys: comment_themes(s, n_themes=8, by="nps_category"))
        print(f"  {'sentiment + themes (target < 60 s)':<58} {total:>7.2f} s")
    if not args.no_reference:
        print("references on the synth corpus, every comment processed:")
        texts = readable_text(synth["comment"]).to_pylist()
        analyzer = vader_analyzer()
        timed("plain VADER loop: polarity_scores per comment", lambda: [analyzer.polarity_scores(t) for t in texts])
        timed("vader_compound over every comment (no repeats skipped)", lambda: vader_compound(texts))
        timed("TfidfVectorizer(sublinear_tf, min_df=5).fit_transform",
              lambda: TfidfVectorizer(token_pattern=TOKEN_PATTERN, stop_words="english", min_df=5,
                                      sublinear_tf=True).fit_transform(texts))
    print_peak_memory("comment_themes(distinct)", lambda: comment_themes(distinct, n_themes=8, by="nps_category"))


if __name__ == "__main__":
    main()
