"""Churn model evaluation: Harrell's C by sorting against an all-pairs numpy reference, and at_risk on data_samples.

Run: ``.venv/bin/python benchmarks/bench_churn_eval.py``. Prints seconds per call and the ratio to
the reference in the same run (the reference compares every pair in blocks: O(n²)).
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

import slm_lib as slm
from slm_lib import nb


def all_pairs_c(t: np.ndarray, d: np.ndarray, r: np.ndarray, block: int = 2000) -> float:
    """Harrell's C by comparing every churner with every other row (the reference)."""
    num = den = 0.0
    for s in np.array_split(np.flatnonzero(d), max(1, d.sum() // block)):
        later = (t[None, :] > t[s, None]) | ((t[None, :] == t[s, None]) & ~d[None, :])
        num += np.sum(later * ((r[None, :] < r[s, None]) + 0.5 * (r[None, :] == r[s, None])))
        den += later.sum()
    return num / den


def timed(run) -> tuple[float, object]:
    start = time.perf_counter()
    out = run()
    return time.perf_counter() - start, out


def main() -> None:
    rng = np.random.default_rng(0)
    for n in (10_000, 30_000, 100_000):
        t, d, r = rng.exponential(size=n).round(2), rng.random(n) < 0.3, rng.normal(size=n).round(1)
        fast, c = timed(lambda: slm.concordance_index(t, d, r))
        if n <= 30_000:
            ref, c_ref = timed(lambda: all_pairs_c(t, d, r))
            print(f"concordance_index n={n:,}: {fast:.2f} s (with its SE); all-pairs reference {ref:.2f} s "
                  f"(ratio {ref / fast:.1f}x); C {c['value']:.6f} vs {c_ref:.6f}")
        else:
            print(f"concordance_index n={n:,}: {fast:.2f} s (all-pairs reference skipped: O(n²))")
    data = Path(__file__).resolve().parents[1] / "data_samples"
    ds = nb.report_data(str(data), "2026-10")
    seconds, risk = timed(lambda: slm.at_risk(ds, "2026-11-01", top=100))
    auc = risk.auc
    print(f"at_risk on data_samples (as_of 2026-11-01, 12 training months + holdout): {seconds:.2f} s; "
          f"holdout AUC {auc['value']:.3f} ({auc['ci_low']:.3f} to {auc['ci_high']:.3f}), n = {int(auc['n']):,}")


if __name__ == "__main__":
    main()
