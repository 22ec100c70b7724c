"""Benchmark of slm_lib.text: comments masked and escaped per second.

Three corpora of survey comments, all from :func:`slm_lib.synth.comments.make_comments`:

* ``synth``: the generator's comments as they are (about 6 % carry an e-mail address or a
  phone number, 1 in 200 some HTML);
* ``digits``: every comment with a random voucher number, date, time and order id
  appended (``Voucher 4831207 on 2026-03-17 at 14:05, ref ORD-2026-004417.``), so every
  text has a run of seven digits that is no phone number and goes through the
  phone-number matcher in every region: the slow path (a reference word such as
  ``order`` right before the number would hide it from the matcher);
* ``wide``: every comment with a Japanese sentence appended (``ありがとうございました。``),
  so every text is folded (fullwidth and other compatibility characters read as ASCII)
  before the pre-filters.

Prints, per corpus, the number of comments, the wall time of
:func:`slm_lib.text.safe_comments` over the Series and the comments per second.

Run: ``.venv/bin/python benchmarks/bench_text.py [--comments 1000000 --digits 20000 --wide 200000]``
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from slm_lib.synth.comments import COMMENT_SHARE, make_comments
from slm_lib.text import safe_comments



def synth_comments(n: int, seed: int = 0) -> pd.Series:
    """About ``n`` generated comments (answers without a comment dropped)."""
    rng = np.random.default_rng(seed)
    answers = int(n / COMMENT_SHARE * 1.05)
    c = make_comments(rng, rng.integers(0, 3, answers).astype(np.int8), rng.integers(1, 6, answers))
    c = c[[isinstance(x, str) for x in c]][:n]
    return pd.Series(c, dtype="str", name="comment")


def with_numbers(comments: pd.Series, seed: int = 0) -> pd.Series:
    """Each comment with a random voucher number, date, time and order id appended."""
    rng = np.random.default_rng(seed)
    n = len(comments)
    part = lambda low, high, width: pd.Series(rng.integers(low, high, n)).astype(str).str.zfill(width)  # noqa: E731
    return (comments + " Voucher " + part(1_000_000, 10_000_000, 7).values + " on 2026-" + part(1, 13, 2).values
            + "-" + part(1, 29, 2).values + " at " + part(8, 18, 2).values + ":" + part(0, 60, 2).values
            + ", ref ORD-2026-" + part(0, 1_000_000, 6).values + ".")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--comments", type=int, default=1_000_000)
    parser.add_argument("--digits", type=int, default=20_000)
    parser.add_argument("--wide", type=int, default=200_000)
    args = parser.parse_args()
    corpora = {"synth": synth_comments(args.comments),
               "digits": with_numbers(synth_comments(args.digits, seed=1)),
               "wide": synth_comments(args.wide, seed=2) + "　ありがとうございました。"}
    print(f"{'corpus':>8} {'comments':>10} {'wall s':>8} {'comments/s':>11}")
    for name, comments in corpora.items():
        t0 = time.perf_counter()
        safe_comments(comments)
        seconds = time.perf_counter() - t0
        print(f"{name:>8} {len(comments):>10,} {seconds:>8.2f} {len(comments) / seconds:>11,.0f}")


if __name__ == "__main__":
    main()
