"""Benchmark: ticket_lifecycle and metric_table with ticket events on DuckDB against the pandas engine.

The 1M random tickets and their events of ``bench_lifecycle.make_dataset`` (about 12
events per ticket, agreeing with the tickets) are written to Parquet (microseconds); then,
in one run: ``ticket_lifecycle`` on the pandas engine (data in memory) and on DuckDB (from
the Parquet files, only the per-ticket table comes back), and ``metric_table`` by channel
with its event rows on both. The two lifecycles are checked equal.

Run: ``.venv/bin/python benchmarks/bench_engine_lifecycle.py [--tickets 1000000]``
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from bench_lifecycle import make_dataset
from slm_lib.engines import open_dataset
from slm_lib.metrics.lifecycle import ticket_lifecycle
from slm_lib.metrics.table import metric_table


def timed(label: str, run):
    start = time.perf_counter()
    out = run()
    print(f"{label:<44} {time.perf_counter() - start:7.2f} s")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    args = parser.parse_args()
    ds = timed(f"generate {args.tickets:,} tickets with events", lambda: make_dataset(args.tickets))
    as_of = ds.observation_end()
    print(f"{len(ds.ticket_events):,} events; as_of {as_of}")
    with tempfile.TemporaryDirectory() as directory:
        for name in ("tickets", "ticket_events"):
            getattr(ds, name).to_parquet(Path(directory) / f"{name}.parquet", index=False, coerce_timestamps="us")
        lazy = open_dataset(directory)
        pandas_frame = timed("ticket_lifecycle, pandas engine", lambda: ticket_lifecycle(ds, as_of=as_of))
        engine = timed("ticket_lifecycle, DuckDB from Parquet", lambda: ticket_lifecycle(lazy, as_of=as_of))
        expected = pandas_frame.sort_values("ticket_id").reset_index(drop=True)
        pd.testing.assert_frame_equal(engine, expected, check_exact=False, rtol=1e-9, atol=1e-9)
        print(f"equal: {len(engine):,} tickets")
        kwargs = {"by": "channel", "as_of": as_of}
        a = timed("metric_table by channel (events), pandas engine", lambda: metric_table(ds, **kwargs))
        b = timed("metric_table by channel (events), DuckDB", lambda: metric_table(lazy, **kwargs))
        keys = ["period", "channel", "metric"]
        a, b = (f.sort_values(keys).reset_index(drop=True) for f in (a, b))
        same = np.allclose(a["value"].astype(float), b["value"].astype(float), rtol=1e-9, atol=1e-9, equal_nan=True)
        print(f"metric_table rows {len(b):,}; values equal: {same}")


if __name__ == "__main__":
    main()
