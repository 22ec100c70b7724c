"""The monthly report on an engine: ``slm report --engine duckdb`` against ``--engine pandas``, same data, one run.

Writes N tickets (+20% surveys), their customers and N/2 payments to Parquet with the
generator of ``bench_scale.py``, then runs the CLI in a child process per engine and prints
its wall time and the peak RSS of the largest process of the run (the CLI or a notebook
kernel). On an engine only the report notebooks that declare an ``engine`` parameter run;
the pandas run is limited to the same notebooks, so both write the same pages.

Usage: ``python benchmarks/bench_report_engine.py [--tickets 1000000] [--dir /tmp/slm_scale]
[--engines duckdb pandas]`` (pandas needs the data in memory: about 3.5 GiB per 10M tickets in
each process).
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nbformat
import papermill as pm

sys.path.insert(0, str(Path(__file__).parent))
from bench_scale import generate, generate_revenue  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
MONTH = "2024-06"   # the generator's tickets span 2023-01 .. 2024-12


def engine_notebooks() -> list[str]:
    """The report notebooks that declare an ``engine`` parameter (those that run on an engine)."""
    found = sorted((ROOT / "notebooks").glob("0*.ipynb"))
    return [str(p) for p in found if "engine" in pm.inspect_notebook(str(p))]


def run(engine: str, directory: Path, notebooks: list[str]) -> None:
    out = Path(tempfile.mkdtemp(prefix=f"report-{engine}-"))
    command = [str(Path(sys.executable).parent / "slm"), "report", "--data", str(directory), "--out", str(out),
               "--month", MONTH, "--jobs", "2", "--engine", engine, "--notebooks", *notebooks]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20  # the largest process of the run
    status = "ok" if done.returncode == 0 else f"FAILED: {done.stderr.strip().splitlines()[-1:]}"
    pages = sorted(p.name for p in (out / MONTH).glob("*.html")) if done.returncode == 0 else []
    print(f"{engine}\t{seconds:.1f} s\tpeak RSS {rss:.2f} GiB\t{status}\t{', '.join(pages)}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--dir", default="/tmp/slm_scale")
    parser.add_argument("--engines", nargs="+", default=["duckdb", "pandas"])
    parser.add_argument("--run", help=argparse.SUPPRESS)
    args = parser.parse_args()
    directory = Path(args.dir) / f"{args.tickets}"
    if args.run:
        return run(args.run, directory, engine_notebooks())
    if not (directory / "tickets.parquet").exists():
        generate(directory, args.tickets)
    if not (directory / "revenue.parquet").exists():
        generate_revenue(directory, args.tickets // 2)
    notebooks = engine_notebooks()
    titles = [nbformat.read(p, as_version=4).cells[0].source.splitlines()[0] for p in notebooks]
    print(f"{args.tickets:,} tickets, report {MONTH}, notebooks: {'; '.join(titles)}")
    for engine in args.engines:   # each in its own process: its peak RSS is its own
        subprocess.run([sys.executable, __file__, "--run", engine, "--tickets", str(args.tickets), "--dir", args.dir],
                       check=True)


if __name__ == "__main__":
    main()
