"""Benchmark of slm_lib.synth.generate: wall time and peak memory for ~1M and ~10M tickets.

Each size runs in a fresh Python process so its peak resident memory (``ru_maxrss``) is
its own. The default sample has about 12 tickets per customer over 24 months, so the
customer count is chosen as tickets / 12. Target: 10 million tickets in under 2 minutes.

Usage: ``.venv/bin/python benchmarks/bench_synth.py [TICKETS ...]`` (default 1e6 1e7).
"""
from __future__ import annotations

import json
import resource
import subprocess
import sys
import time

TICKETS_PER_CUSTOMER = 11.9  # 24 months, default parameters (35,736 tickets / 3,000 customers)


def run_one(customers: int) -> dict:
    """Generate once in this process; wall time, peak RSS and table sizes."""
    from slm_lib.synth import generate

    t0 = time.perf_counter()
    ds = generate(customers=customers, months=24, seed=0)
    seconds = time.perf_counter() - t0
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"customers": customers, "tickets": len(ds.tickets), "surveys": len(ds.surveys),
            "revenue": len(ds.revenue), "seconds": seconds, "peak_mb": peak_mb}


def main(targets: list[float]) -> None:
    rows = []
    for target in targets:
        customers = int(round(target / TICKETS_PER_CUSTOMER))
        out = subprocess.run([sys.executable, __file__, "--one", str(customers)],
                             check=True, capture_output=True, text=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    print(f"{'customers':>10} {'tickets':>11} {'surveys':>10} {'revenue':>11} {'wall s':>8} {'peak MB':>8}")
    for r in rows:
        print(f"{r['customers']:>10,} {r['tickets']:>11,} {r['surveys']:>10,} {r['revenue']:>11,} "
              f"{r['seconds']:>8.1f} {r['peak_mb']:>8.0f}")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--one":
        print(json.dumps(run_one(int(sys.argv[2]))))
    else:
        main([float(a) for a in sys.argv[1:]] or [1e6, 1e7])
