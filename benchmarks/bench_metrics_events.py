"""Benchmark: metric_table with ticket events against the same table without them.

Builds the lifecycle benchmark's data (:func:`bench_lifecycle.make_dataset`: 1M canonical
tickets over a year and about 12M ticket events that agree with them, in export order by
time), then times, interleaved and best of ``--repeat``, ``metric_table(freq="M",
by="channel")`` on the tickets alone and on the tickets with their events (which adds the
ticket lifecycle at the observation end, the next-reply and requester-wait SLA clocks with
the priority in force, and the event rows of :mod:`slm_lib.metrics.lifecycle_table`); then
one run of each in business hours (Europe/Berlin), ``sla_compliance`` with events, and the
peak memory of the table with events.

Run: ``.venv/bin/python benchmarks/bench_metrics_events.py [--tickets 1000000 --repeat 3]``
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace

from slm_lib.calendar import BusinessCalendar
from slm_lib.metrics.lifecycle_table import EVENT_METRICS
from slm_lib.metrics.sla import sla_compliance
from slm_lib.metrics.table import metric_table
from slm_lib.schema import empty_frame

from _memory import print_peak_memory
from bench_lifecycle import make_dataset


def _runs(times: list[float]) -> str:
    return f"{min(times):.2f}s (runs: {', '.join(f'{t:.2f}' for t in times)})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    t0 = time.perf_counter()
    ds = make_dataset(args.tickets)
    plain = replace(ds, ticket_events=empty_frame("ticket_events"), as_of=ds.observation_end())
    print(f"built {len(ds.tickets):,} tickets + {len(ds.ticket_events):,} events in {time.perf_counter() - t0:.1f}s")

    without, with_events = [], []   # interleaved, best of each: the machine is shared
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        base = metric_table(plain, freq="M", by="channel")
        without.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        table = metric_table(ds, freq="M", by="channel")
        with_events.append(time.perf_counter() - t0)
    extra = table["metric"].isin(EVENT_METRICS)
    print(f"rows: without events {len(base):,}; with events {len(table):,} ({int(extra.sum()):,} from the events)")
    print(f"metric_table without events       : {_runs(without)}")
    print(f"metric_table with events          : {_runs(with_events)} "
          f"(+{min(with_events) - min(without):.2f}s, {min(with_events) / min(without):.1f}x)")

    calendar = BusinessCalendar(tz="Europe/Berlin", holidays=("2024-12-25", "2024-12-26"))
    t0 = time.perf_counter()
    metric_table(plain, freq="M", by="channel", calendar=calendar, tz="Europe/Berlin")
    mid = time.perf_counter()
    metric_table(ds, freq="M", by="channel", calendar=calendar, tz="Europe/Berlin")
    print(f"business hours (Europe/Berlin)    : without events {mid - t0:.2f}s, with events "
          f"{time.perf_counter() - mid:.2f}s (one run each)")

    t0 = time.perf_counter()
    sla = sla_compliance(ds)
    print(f"sla_compliance with events        : {time.perf_counter() - t0:.2f}s "
          f"({', '.join(sla['target'].unique())})")

    print_peak_memory("metric_table with events", lambda: metric_table(ds, freq="M", by="channel"))


if __name__ == "__main__":
    main()
