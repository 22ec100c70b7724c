"""Benchmark: customer_features with and without the comment features (sentiment and themes).

Times, interleaved and best of ``--repeat``, ``slm.customer_features`` on ``--data``
(default ``data_samples/``, the committed sample) at one ``as_of`` and at the 12 month
starts of notebook 04's churn panel, plainly (the reference) and with
``text_features=True`` (8 themes fitted on the comments before the first ``as_of``), then
with the planted themes as a rule (``themes=planted_themes``), and prints the extra time.

Run: ``.venv/bin/python benchmarks/bench_features.py [--data data_samples --repeat 5]``
"""
from __future__ import annotations

import argparse
import time

import pandas as pd

import slm_lib as slm
from slm_lib.synth.comments import planted_themes


def best_of(repeat: int, ds: slm.Dataset, as_of, variants: dict[str, dict]) -> dict[str, float]:
    """Best time of each variant's customer_features call, the variants interleaved in each round."""
    best = dict.fromkeys(variants, float("inf"))
    for _ in range(repeat):
        for name, kwargs in variants.items():
            t0 = time.perf_counter()
            slm.customer_features(ds, as_of, lookback="3M", horizon="1M", **kwargs)
            best[name] = min(best[name], time.perf_counter() - t0)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="data_samples")
    parser.add_argument("--month", default="2026-10")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    ds = slm.load_data(args.data)
    comments = int(ds.surveys["comment"].notna().sum())
    print(f"{args.data}: {len(ds.customers):,} customers, {len(ds.surveys):,} survey answers, {comments:,} comments")
    for label, as_of in ((f"as_of {args.month}-01", pd.Timestamp(f"{args.month}-01", tz="UTC")),
                         ("12 month starts", slm.month_starts(args.month, 12))):
        t = best_of(args.repeat, ds, as_of, {"plain": {}, "text": {"text_features": True},
                                             "rule": {"themes": planted_themes}})
        plain, text, rule = t["plain"], t["text"], t["rule"]
        print(f"{label:>22}: plain {plain:.2f} s (reference); text_features=True {text:.2f} s "
              f"(+{text - plain:.2f} s, x{text / plain:.2f}); themes=planted_themes {rule:.2f} s")


if __name__ == "__main__":
    main()
