"""Benchmark: vectorised business hours on 1M ticket pairs vs a per-row reference.

Times ``BusinessCalendar.hours_between`` (and ``add_hours``, ``is_open``) on one million
random (created, resolved) pairs in Europe/Berlin with holidays, and a straightforward
per-row pure-Python implementation (loop over local days) on a 10,000-row subsample,
extrapolated to one million. Prints the figures and checks both agree on the subsample.

Run: ``.venv/bin/python benchmarks/bench_calendar.py [--n 1000000] [--sample 10000]``
"""
from __future__ import annotations

import argparse
import datetime as dt
import time

import numpy as np
import pandas as pd

from slm_lib.calendar import BusinessCalendar


def per_row_hours(cal: BusinessCalendar, created: pd.Series, resolved: pd.Series) -> np.ndarray:
    """The obvious implementation: one Python loop per ticket, one per local day."""
    open_h, open_m = map(int, cal.start.split(":"))
    close_h, close_m = map(int, cal.end.split(":"))
    out = np.empty(len(created))
    for i, (a, b) in enumerate(zip(created, resolved)):
        wall_a = a.tz_convert(cal.tz).tz_localize(None).to_pydatetime()
        wall_b = b.tz_convert(cal.tz).tz_localize(None).to_pydatetime()
        total = 0.0
        day = wall_a.date()
        while day <= wall_b.date():
            if day.weekday() in cal.weekdays and day not in cal.holidays:
                midnight = dt.datetime.combine(day, dt.time())
                lo = max(midnight + dt.timedelta(hours=open_h, minutes=open_m), wall_a)
                hi = min(midnight + dt.timedelta(hours=close_h, minutes=close_m), wall_b)
                total += max((hi - lo).total_seconds(), 0.0)
            day += dt.timedelta(days=1)
        out[i] = total / 3600
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    cal = BusinessCalendar(
        holidays=("2026-01-01", "2026-04-03", "2026-04-06", "2026-05-01", "2026-12-25", "2026-12-26"),
        tz="Europe/Berlin",
    )
    origin = pd.Timestamp("2026-01-01", tz="UTC")
    created_s = rng.integers(0, 365 * 86_400, args.n)
    duration_s = rng.exponential(36 * 3600, args.n).astype("int64")  # mean 1.5 days, long tail
    created = pd.Series(origin + pd.to_timedelta(created_s, unit="s"))
    resolved = pd.Series(origin + pd.to_timedelta(created_s + duration_s, unit="s"))
    resolved[rng.random(args.n) < 0.05] = pd.NaT  # 5 % unresolved

    t0 = time.perf_counter()
    fast = cal.hours_between(created, resolved)
    t_fast = time.perf_counter() - t0

    t0 = time.perf_counter()
    cal.add_hours(created, 8.0)
    t_add = time.perf_counter() - t0
    t0 = time.perf_counter()
    cal.is_open(created)
    t_open = time.perf_counter() - t0

    sample = rng.choice(np.flatnonzero(resolved.notna().to_numpy()), args.sample, replace=False)
    t0 = time.perf_counter()
    slow = per_row_hours(cal, created.iloc[sample], resolved.iloc[sample])
    t_slow = time.perf_counter() - t0
    t_slow_full = t_slow * args.n / args.sample
    max_diff = float(np.max(np.abs(slow - fast[sample])))

    print(f"pairs: {args.n:,} (Europe/Berlin, 09:00-17:00 Mon-Fri, 6 holidays, 5% NaT)")
    print(f"hours_between, vectorised:          {t_fast:8.3f} s")
    print(f"add_hours(8 h), vectorised:         {t_add:8.3f} s")
    print(f"is_open, vectorised:                {t_open:8.3f} s")
    print(f"{f'per-row Python on {args.sample:,} rows:':36s}{t_slow:8.3f} s")
    print(f"{f'per-row Python extrapolated to {args.n:,}:':36s}{t_slow_full:8.1f} s")
    print(f"speed-up:                           {t_slow_full / t_fast:8.0f} x")
    print(f"max |difference| on the subsample:  {max_diff:.2e} h")


if __name__ == "__main__":
    main()
