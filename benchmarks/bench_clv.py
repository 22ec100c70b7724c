"""Benchmark: BG/NBD fit, Gamma-Gamma fit and predictive CLV with 95% intervals at 10k, 100k and 1M customers.

Customers are simulated from the published CDNOW parameters (BG/NBD r = 0.243, alpha = 4.414,
a = 0.793, b = 2.426; Gamma-Gamma p = 6.25, q = 3.74, gamma = 15.44), all observed for T = 39
weeks from their first purchase. Purchase times are kept to the day, as
:func:`slm_lib.clv.rfm.rfm_summary` gives them (purchases on one day count once; recency and T
are days / 7); ``--continuous`` keeps exact times instead, so no two customers share a history
(the worst case for slm, which compresses identical histories).

Each size times, in the same run and on the same data, slm's ``BetaGeoModel().fit``,
``GammaGammaModel().fit`` and ``predictive_clv`` (52 weeks, 1% a month, with intervals), and
a reference: lifetimes 0.11.3 (``--lifetimes PYTHON``, the interpreter of a throwaway venv
with ``pip install lifetimes``: its fits and ``customer_lifetime_value`` over 12 months, no
intervals), else a plain ``scipy.optimize.minimize`` (BFGS, finite-difference gradients) of
the same per-customer likelihoods. It prints the times, slm's estimates beside the
reference's, and the ratio reference / slm. Target: the three slm steps under 10 s at 1M.

``--more`` also times the Pareto/NBD and MBG/NBD fits on the same customers and a BG/BB fit
on as many simulated donors (6 yearly periods, the donation-data parameters), against a plain
scipy BFGS of the same per-customer likelihood up to 100k customers.

Run: ``.venv/bin/python benchmarks/bench_clv.py [--sizes 10000 100000 1000000]
[--lifetimes /tmp/lt/bin/python] [--continuous] [--more]``
"""
from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import optimize

from slm_lib.clv import (BetaGeoBetaBinomModel, BetaGeoModel, GammaGammaModel, ModifiedBetaGeoModel, ParetoNBDModel,
                         predictive_clv)
from slm_lib.clv.bgbb import bgbb_loglik
from slm_lib.clv.bgnbd import bgnbd_loglik
from slm_lib.clv.gammagamma import gammagamma_loglik
from slm_lib.clv.compress import unique_rows
from slm_lib.clv.mbgnbd import mbgnbd_loglik
from slm_lib.clv.paretonbd import pareto_nbd_loglik

from _memory import print_peak_memory

BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
BGBB = {"alpha": 1.204, "beta": 0.750, "gamma": 0.657, "delta": 2.783}   # FHS 2010 donations, 6 years
#: The other models' plain-scipy reference (every customer a row, no compression) stops at this size.
REFERENCE_MAX = 100_000
GG = {"p": 6.25, "q": 3.74, "gamma": 15.44}
WEEKS = 39.0


def simulate(n: int, seed: int = 0, continuous: bool = False) -> dict[str, np.ndarray]:
    """frequency, recency, T (weeks) and monetary_value of ``n`` customers from the CDNOW parameters."""
    rng = np.random.default_rng(seed)
    lam, drop = rng.gamma(BG["r"], 1 / BG["alpha"], n), rng.beta(BG["a"], BG["b"], n)
    x, last = np.zeros(n), np.zeros(n)                      # repeat purchases, time of the last one
    now, active = np.zeros(n), np.arange(n)
    while active.size:                                      # one round per purchase of the busiest buyer
        now[active] += rng.exponential(1 / lam[active])
        bought = active[now[active] <= WEEKS]
        when = now[bought] if continuous else np.floor(now[bought] * 7) / 7
        new_day = when > last[bought]                       # purchases on one day count once
        x[bought[new_day]] += 1
        last[bought] = when
        active = bought[rng.random(bought.size) >= drop[bought]]
    nu = rng.gamma(GG["q"], 1 / GG["gamma"], n)
    spend = np.where(x > 0, rng.gamma(GG["p"] * np.maximum(x, 1), 1 / nu) / np.maximum(x, 1), 0.0)
    return {"frequency": x, "recency": np.where(x > 0, last, 0.0), "T": np.full(n, WEEKS),
            "monetary_value": np.round(spend, 2)}


def run_slm(data: dict[str, np.ndarray]) -> dict:
    """slm's three steps, timed; estimates and the total CLV."""
    f, r, big_t, m = (data[k] for k in ("frequency", "recency", "T", "monetary_value"))
    t0 = time.perf_counter()
    bg = BetaGeoModel().fit(f, r, big_t)
    t1 = time.perf_counter()
    gg = GammaGammaModel().fit(f, m)
    t2 = time.perf_counter()
    clv = predictive_clv(bg, gg, f, r, big_t, m, horizon=52, discount_rate=0.01)
    t3 = time.perf_counter()
    return {"bg_s": t1 - t0, "gg_s": t2 - t1, "clv_s": t3 - t2, "bg": bg.params_, "gg": gg.params_,
            "clv_total": float(clv["clv"].sum())}


LIFETIMES = """
import json, sys, time
import numpy as np
import pandas as pd
from lifetimes import BetaGeoFitter, GammaGammaFitter
d = np.load(sys.argv[1])
f, r, T, m = (pd.Series(d[k]) for k in ("frequency", "recency", "T", "monetary_value"))
t0 = time.perf_counter()
bg = BetaGeoFitter().fit(f, r, T)
t1 = time.perf_counter()
keep = f > 0
gg = GammaGammaFitter().fit(f[keep], m[keep])
t2 = time.perf_counter()
clv = gg.customer_lifetime_value(bg, f, r, T, m, time=12, discount_rate=0.01, freq="W")
t3 = time.perf_counter()
print(json.dumps({"bg_s": t1 - t0, "gg_s": t2 - t1, "clv_s": t3 - t2, "bg": bg.params_.to_dict(),
                  "gg": dict(zip(("p", "q", "gamma"), gg.params_.to_list())), "clv_total": float(clv.sum())}))
"""


def run_lifetimes(python: str, data: dict[str, np.ndarray]) -> dict:
    """lifetimes' fits and CLV (no intervals) in its own interpreter, on the same customers."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "customers.npz"
        np.savez(path, **data)
        out = subprocess.run([python, "-c", LIFETIMES, str(path)], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def run_scipy(data: dict[str, np.ndarray]) -> dict:
    """Plain scipy: BFGS with finite-difference gradients on the log scale, every customer a row."""
    f, r, big_t, m = (data[k] for k in ("frequency", "recency", "T", "monetary_value"))
    keep = f > 0
    with np.errstate(all="ignore"):          # BFGS probes parameters where the likelihood overflows
        t0 = time.perf_counter()
        bg = optimize.minimize(lambda th: -np.sum(bgnbd_loglik(np.exp(th), f, r, big_t)),
                               np.log([1.0, WEEKS, 1.0, 1.0]), method="BFGS")
        t1 = time.perf_counter()
        gg = optimize.minimize(lambda th: -np.sum(gammagamma_loglik(np.exp(th), f[keep], m[keep])),
                               np.zeros(3), method="BFGS")
        t2 = time.perf_counter()
    return {"bg_s": t1 - t0, "gg_s": t2 - t1, "clv_s": float("nan"),
            "bg": dict(zip(BG, np.exp(bg.x))), "gg": dict(zip(GG, np.exp(gg.x))), "clv_total": float("nan")}


def simulate_bgbb(n: int, periods: int = 6, seed: int = 0) -> dict[str, np.ndarray]:
    """Repeat transactions and the last transaction's period of ``n`` BG/BB customers (donation parameters)."""
    rng = np.random.default_rng(seed)
    p, theta = rng.beta(BGBB["alpha"], BGBB["beta"], n), rng.beta(BGBB["gamma"], BGBB["delta"], n)
    alive, x, last = np.ones(n, dtype=bool), np.zeros(n), np.zeros(n)
    for t in range(1, periods + 1):
        alive &= rng.random(n) >= theta
        buys = alive & (rng.random(n) < p)
        x += buys
        last[buys] = t
    return {"frequency": x, "recency": last, "n_periods": np.full(n, float(periods))}


MORE = (("Pareto/NBD", ParetoNBDModel, pareto_nbd_loglik, [1.0, WEEKS, 1.0, WEEKS]),
        ("MBG/NBD", ModifiedBetaGeoModel, mbgnbd_loglik, [1.0, WEEKS, 1.0, 1.0]),
        ("BG/BB", BetaGeoBetaBinomModel, bgbb_loglik, [1.0, 1.0, 1.0, 1.0]))


def run_more(data: dict[str, np.ndarray], discrete: dict[str, np.ndarray], reference: bool) -> None:
    """Fit times of the other models (slm) and of a plain scipy BFGS of the same likelihood, printed."""
    for label, model, loglik, start in MORE:
        cols = [discrete[k] for k in ("frequency", "recency", "n_periods")] if model is BetaGeoBetaBinomModel \
            else [data[k] for k in ("frequency", "recency", "T")]
        t0 = time.perf_counter()
        fitted = model().fit(*cols)
        slm_s = time.perf_counter() - t0
        ref = "      -   (above the reference's size limit)"
        if reference:
            with np.errstate(all="ignore"):
                t0 = time.perf_counter()
                res = optimize.minimize(lambda th: -np.sum(loglik(np.exp(th), *cols)), np.log(start), method="BFGS")
                ref_s = time.perf_counter() - t0
            ref = f"{ref_s:7.2f}s   ratio {ref_s / slm_s:6.1f}x   (scipy LL {-res.fun:,.1f})"
        print(f"  {label + ' fit':<18} slm {slm_s:7.2f}s   scipy BFGS {ref}   slm LL {fitted.log_likelihood_:,.1f}; "
              + ", ".join(f"{k}={v:.4g}" for k, v in fitted.params_.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--lifetimes", help="python of a venv with lifetimes installed (reference)")
    parser.add_argument("--continuous", action="store_true", help="exact purchase times, not days")
    parser.add_argument("--more", action="store_true",
                        help="also fit Pareto/NBD and MBG/NBD (same customers) and BG/BB (6 yearly periods)")
    args = parser.parse_args()
    name = "lifetimes 0.11.3 (CLV without intervals)" if args.lifetimes else "scipy BFGS (fits only)"
    for n in args.sizes:
        data = simulate(n, continuous=args.continuous)
        histories = len(unique_rows(data["frequency"], data["recency"], data["T"])[1])
        print(f"\n{n:,} customers ({int((data['frequency'] > 0).sum()):,} repeat buyers, {histories:,} distinct "
              f"(frequency, recency, T); times {'exact' if args.continuous else 'in days'})")
        slm = run_slm(data)
        ref = run_lifetimes(args.lifetimes, data) if args.lifetimes else run_scipy(data)
        for label, key in (("BG/NBD fit", "bg_s"), ("Gamma-Gamma fit", "gg_s"), ("CLV (slm: 95% CI)", "clv_s")):
            theirs = f"{ref[key]:7.2f}s   ratio {ref[key] / slm[key]:6.1f}x" if np.isfinite(ref[key]) else "      -"
            print(f"  {label:<18} slm {slm[key]:7.2f}s   {name} {theirs}")
        total_slm = slm["bg_s"] + slm["gg_s"] + slm["clv_s"]
        total_ref = ref["bg_s"] + ref["gg_s"] + np.nan_to_num(ref["clv_s"])
        print(f"  {'total':<18} slm {total_slm:7.2f}s   {name} {total_ref:7.2f}s   ratio "
              f"{total_ref / total_slm:6.1f}x (slm target < 10 s at 1M, with 95% intervals)")
        for model in ("bg", "gg"):
            print(f"  {model} estimates: slm " + ", ".join(f"{k}={v:.4g}" for k, v in slm[model].items())
                  + "; reference " + ", ".join(f"{k}={v:.4g}" for k, v in ref[model].items()))
        if np.isfinite(ref["clv_total"]):
            print(f"  total CLV: slm {slm['clv_total']:,.0f} (52 weeks), reference {ref['clv_total']:,.0f} (12 months)")
        if args.more:
            run_more(data, simulate_bgbb(n), n <= REFERENCE_MAX)
    print_peak_memory(f"slm fits + CLV at {args.sizes[-1]:,}", lambda: run_slm(data))


if __name__ == "__main__":
    main()
