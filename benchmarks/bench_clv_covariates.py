"""Benchmark: BG/NBD and sBG with covariates (dropout / churn driven by service) against the plain fits.

BG/NBD: customers simulated from the CDNOW parameters (r = 0.243, alpha = 4.414, a = 0.793,
b = 2.426, T = 39 weeks, purchase times to the day), with a standardised covariate z and
``a_i = a exp(0.5 z_i)`` (planted gamma_a = 0.5, gamma_b = 0), and a 0/1 covariate with
``b_i = b exp(-0.4 d_i)``. A continuous covariate makes every customer's row distinct (no
compression), the worst case. sBG: monthly churn ``theta_i ~ Beta(0.7 exp(0.5 z_i), 1.2)``,
observed for 24 months.

For each size it prints, in the same run: the plain fit (reference: ``BetaGeoModel().fit`` /
``ShiftedBetaGeoModel().fit`` on the survivor counts), the covariate fit, the ratio, and the
recovered coefficients with their 95% intervals beside the planted values.

Run: ``.venv/bin/python benchmarks/bench_clv_covariates.py [--sizes 10000 100000]``
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd

from slm_lib.clv import (
    BetaGeoCovariateModel,
    BetaGeoModel,
    ShiftedBetaGeoCovariateModel,
    ShiftedBetaGeoModel,
)

BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
WEEKS = 39.0


def simulate_bgnbd(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    z, d = rng.normal(size=n), (rng.random(n) < 0.3).astype(float)
    lam = rng.gamma(BG["r"], 1 / BG["alpha"], n)
    drop = rng.beta(BG["a"] * np.exp(0.5 * z), BG["b"] * np.exp(-0.4 * d))
    x, last, now, active = np.zeros(n), np.zeros(n), np.zeros(n), np.arange(n)
    while active.size:
        now[active] += rng.exponential(1 / lam[active])
        bought = active[now[active] <= WEEKS]
        when = np.floor(now[bought] * 7) / 7
        new_day = when > last[bought]
        x[bought[new_day]] += 1
        last[bought] = when
        active = bought[rng.random(bought.size) >= drop[bought]]
    return x, last, pd.DataFrame({"z": z, "d": d})


def timed(func, *args):
    start = time.perf_counter()
    out = func(*args)
    return out, time.perf_counter() - start


def show(summary: pd.DataFrame, truth: dict[str, float]) -> None:
    s = summary.set_index("parameter")
    for name, value in truth.items():
        row = s.loc[name]
        inside = "inside" if row["ci_low"] < value < row["ci_high"] else "OUTSIDE"
        print(f"    {name:>8}: planted {value:+.3f}, estimate {row['estimate']:+.3f} "
              f"(95% CI {row['ci_low']:+.3f} to {row['ci_high']:+.3f}) {inside}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    args = parser.parse_args()
    for n in args.sizes:
        rng = np.random.default_rng(n)
        x, t_x, cov = simulate_bgnbd(n, rng)
        T = np.full(n, WEEKS)
        _, plain = timed(BetaGeoModel().fit, x, t_x, T)
        model, linked = timed(BetaGeoCovariateModel(["z", "d"]).fit, x, t_x, T, cov)
        print(f"BG/NBD, {n:,} customers: plain fit {plain:.2f} s (reference), with 2 dropout covariates "
              f"{linked:.2f} s, ratio {linked / plain:.1f}x (includes the plain fit it starts from)")
        show(model.summary, {"a:z": 0.5, "b:z": 0.0, "a:d": 0.0, "b:d": -0.4})
        z = rng.normal(size=n)
        life = rng.geometric(rng.beta(0.7 * np.exp(0.5 * z), 1.2))
        renewals, churned = np.minimum(life - 1, 24), life <= 24
        survivors = [int((renewals >= t).sum()) for t in range(25)]
        _, plain = timed(ShiftedBetaGeoModel().fit, survivors)
        sbg, linked = timed(ShiftedBetaGeoCovariateModel(["z"]).fit, renewals, churned,
                             pd.DataFrame({"z": z}))
        print(f"sBG, {n:,} customers: plain fit on survivor counts {plain:.3f} s (reference), with a churn "
              f"covariate {linked:.2f} s, ratio {linked / plain:.0f}x")
        show(sbg.summary, {"alpha": 0.7, "alpha:z": 0.5, "beta": 1.2, "beta:z": 0.0})


if __name__ == "__main__":
    main()
