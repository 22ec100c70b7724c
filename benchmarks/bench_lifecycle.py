"""Benchmark: ticket_lifecycle against the same per-ticket aggregation in DuckDB SQL.

Builds 1M random canonical tickets (a year of arrivals, replies and reopens as counts)
and their ticket events (about 12 per ticket, from :func:`slm_lib.synth.events.ticket_events`,
so the events agree with the tickets), then times, interleaved and best of ``--repeat``:
``slm_lib.metrics.lifecycle.ticket_lifecycle`` in calendar hours and the query
:func:`lifecycle_sql` computing the same table in DuckDB (window functions over the
events ordered like :mod:`slm_lib.events`: time, kind at the same instant, table order);
then ``ticket_lifecycle`` in business hours (Europe/Berlin, no SQL reference) and the
peak memory. ``tests/test_lifecycle.py`` checks that the query gives slm's figures.

The events are in the order an export from a help desk's incremental API has them: by
time, all tickets mixed (``--sorted`` keeps them grouped by ticket instead).

Run: ``.venv/bin/python benchmarks/bench_lifecycle.py [--tickets 1000000 --repeat 3]``
"""
from __future__ import annotations

import argparse
import time

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from slm_lib.calendar import BusinessCalendar
from slm_lib.io.dataset import Dataset
from slm_lib.metrics.lifecycle import ticket_lifecycle
from slm_lib.periods import epoch_ns
from slm_lib.schema import CHANNELS, PRIORITIES, empty_frame
from slm_lib.synth.events import ticket_events

from _memory import print_peak_memory

START = np.datetime64("2024-01-01T00:00:00", "s")
YEAR_S = 365 * 86_400


def _ids(prefix: str, numbers: np.ndarray) -> pd.Series:
    digits = pc.cast(pa.array(numbers), pa.string())
    return pd.Series(pd.array(pc.binary_join_element_wise(prefix, digits, ""), dtype="str"))


def _pick(options: tuple[str, ...], codes: np.ndarray) -> pd.Series:
    arr = pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(list(options)))
    return pd.Series(pd.array(arr.cast(pa.string()), dtype="str"))


def make_dataset(n_tickets: int, seed: int = 0, by_time: bool = True) -> Dataset:
    """Random canonical tickets and ticket events that agree with them."""
    rng = np.random.default_rng(seed)
    created = START + rng.integers(0, YEAR_S, n_tickets).astype("timedelta64[s]")
    frt = (rng.exponential(6.0, n_tickets) * 3600).astype("timedelta64[s]")
    res = (rng.exponential(40.0, n_tickets) * 3600).astype("timedelta64[s]")
    answered = rng.random(n_tickets) < 0.97
    first = np.where(answered, created + frt, np.datetime64("NaT"))
    resolved = np.where(answered & (rng.random(n_tickets) < 0.92), created + frt + res, np.datetime64("NaT"))
    reopens = np.where(answered, rng.poisson(0.15, n_tickets), 0)
    utc = lambda a: pd.Series(pd.DatetimeIndex(a.astype("datetime64[ns]")).tz_localize("UTC"))  # noqa: E731
    tickets = pd.DataFrame({
        "ticket_id": _ids("t", np.arange(n_tickets)),
        "customer_id": _ids("c", rng.integers(0, 300_000, n_tickets)),
        "created_at": utc(created), "first_response_at": utc(first), "resolved_at": utc(resolved),
        "channel": _pick(CHANNELS, rng.integers(0, 6, n_tickets)),
        "priority": _pick(PRIORITIES, rng.integers(0, 4, n_tickets)),
        "agent_id": _ids("a", rng.integers(0, 400, n_tickets)),
        "team": _ids("team", rng.integers(0, 10, n_tickets)),
        "replies": np.where(answered, 1 + rng.poisson(0.9, n_tickets) + reopens, 0).astype(np.int64),
        "reopens": reopens.astype(np.int64),
        "category": _pick(("billing",), np.zeros(n_tickets, dtype=np.int32)),
    })
    end = pd.Timestamp(START + YEAR_S + 90 * 86_400, tz="UTC")
    events = ticket_events(tickets, rng, end=end)
    if by_time:
        events = events.iloc[np.argsort(epoch_ns(events["at"]), kind="stable")].reset_index(drop=True)
    return Dataset(tickets=tickets, ticket_events=events, customers=empty_frame("customers"), source="bench")


def lifecycle_sql(as_of: str) -> str:
    """ticket_lifecycle in calendar hours, in DuckDB SQL (``events`` carries its table order as ``seq``)."""
    return f"""
    WITH e AS (
      SELECT e.ticket_id, e."at"::TIMESTAMPTZ AS ts, e.kind, e.actor, e.status, e.agent_id, e.team,
             t.created_at::TIMESTAMPTZ AS created_at, e.seq,
             CASE e.kind WHEN 'customer_message' THEN 0 WHEN 'public_reply' THEN 1 WHEN 'internal_note' THEN 2
                         WHEN 'assignment' THEN 3 WHEN 'priority' THEN 4 ELSE 5 END AS rnk
      FROM events e JOIN tickets t USING (ticket_id)
      WHERE e."at" <= TIMESTAMPTZ '{as_of}' AND t.created_at <= TIMESTAMPTZ '{as_of}'),
    s AS (
      SELECT ticket_id, ts, status,
             coalesce(lag(status) OVER w, 'new') AS prev,
             coalesce(lead(ts) OVER w, TIMESTAMPTZ '{as_of}') AS next_at,
             row_number() OVER w AS k
      FROM e WHERE kind = 'status' AND status IS NOT NULL
      WINDOW w AS (PARTITION BY ticket_id ORDER BY ts, rnk, seq)),
    st AS (
      SELECT ticket_id,
             sum(epoch_us(next_at) - epoch_us(ts)) FILTER (status IN ('new', 'open', 'on_hold')) AS requester_us,
             sum(epoch_us(next_at) - epoch_us(ts)) FILTER (status = 'pending') AS agent_us,
             sum(epoch_us(next_at) - epoch_us(ts)) FILTER (status = 'on_hold') AS hold_us,
             min(ts) AS first_status_at,
             min(ts) FILTER (status IN ('solved', 'closed') AND prev NOT IN ('solved', 'closed')) AS first_res,
             max(ts) FILTER (status IN ('solved', 'closed') AND prev NOT IN ('solved', 'closed')) AS last_res,
             count(*) FILTER (status NOT IN ('solved', 'closed') AND prev IN ('solved', 'closed')) AS reopens,
             min(ts) FILTER (status NOT IN ('solved', 'closed') AND prev IN ('solved', 'closed')) AS first_reopened_at,
             arg_max(status, k) AS now
      FROM s GROUP BY ticket_id),
    c AS (
      SELECT ticket_id, ts, kind = 'public_reply' AS is_reply,
             coalesce(lag(kind = 'public_reply') OVER w, false) AS after_reply,
             min(CASE WHEN kind = 'public_reply' THEN ts END)
                 OVER (w ROWS BETWEEN CURRENT ROW AND UNBOUNDED FOLLOWING) AS answered_at
      FROM e WHERE kind = 'customer_message' OR (kind = 'public_reply' AND actor = 'agent')
      WINDOW w AS (PARTITION BY ticket_id ORDER BY ts, rnk, seq)),
    nr AS (
      SELECT ticket_id, median((epoch_us(answered_at) - epoch_us(ts)) / 3.6e9) AS next_reply_h_median,
             count(*) AS next_reply_count
      FROM c WHERE NOT is_reply AND after_reply AND answered_at IS NOT NULL GROUP BY ticket_id),
    a AS (
      SELECT ticket_id, any_value(created_at) AS created_at,
             count(*) FILTER (kind = 'public_reply' AND actor = 'agent') AS agent_replies,
             count(DISTINCT agent_id) FILTER (kind = 'assignment') AS assignee_stations,
             count(DISTINCT team) FILTER (kind = 'assignment') AS group_stations
      FROM e GROUP BY ticket_id),
    h AS (
      SELECT ticket_id, count(*) FILTER (agent_id <> before) AS handoffs
      FROM (SELECT ticket_id, agent_id, lag(agent_id) OVER (PARTITION BY ticket_id ORDER BY ts, rnk, seq) AS before
            FROM e WHERE kind = 'assignment' AND agent_id IS NOT NULL)
      GROUP BY ticket_id)
    SELECT a.ticket_id, coalesce(st.now, 'new') AS status,
           (coalesce(st.requester_us, 0) + epoch_us(coalesce(st.first_status_at, TIMESTAMPTZ '{as_of}'))
            - epoch_us(a.created_at)) / 3.6e9 AS requester_wait_h,
           coalesce(st.agent_us, 0) / 3.6e9 AS agent_wait_h,
           coalesce(st.hold_us, 0) / 3.6e9 AS on_hold_h,
           (epoch_us(st.first_res) - epoch_us(a.created_at)) / 3.6e9 AS first_resolution_h,
           CASE WHEN st.now IN ('solved', 'closed')
                THEN (epoch_us(st.last_res) - epoch_us(a.created_at)) / 3.6e9 END AS full_resolution_h,
           nr.next_reply_h_median, coalesce(nr.next_reply_count, 0) AS next_reply_count,
           a.agent_replies, coalesce(st.reopens, 0) AS reopens, st.first_reopened_at,
           a.assignee_stations, a.group_stations, coalesce(h.handoffs, 0) AS handoffs,
           coalesce(st.now IN ('solved', 'closed'), false) AND a.agent_replies <= 1 AS one_touch
    FROM a LEFT JOIN st USING (ticket_id) LEFT JOIN nr USING (ticket_id) LEFT JOIN h USING (ticket_id)
    """


def duckdb_connection(ds: Dataset) -> duckdb.DuckDBPyConnection:
    """A connection with ``tickets`` and ``events`` (plus ``seq``) registered as Arrow tables (zero-copy scans)."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("tickets", pa.Table.from_pandas(ds.tickets[["ticket_id", "created_at"]], preserve_index=False))
    events = ds.ticket_events.assign(seq=np.arange(len(ds.ticket_events), dtype=np.int64))
    con.register("events", pa.Table.from_pandas(events, preserve_index=False))
    return con


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sorted", action="store_true", help="events grouped by ticket, not by time")
    args = parser.parse_args()

    t0 = time.perf_counter()
    ds = make_dataset(args.tickets, by_time=not args.sorted)
    print(f"built {len(ds.tickets):,} tickets + {len(ds.ticket_events):,} events "
          f"({'by ticket' if args.sorted else 'by time'}) in {time.perf_counter() - t0:.1f}s")
    as_of = ds.observation_end()
    con = duckdb_connection(ds)
    sql = lifecycle_sql(as_of.isoformat())

    slm_times, duck_times = [], []   # interleaved, best of each: the machine is shared
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        table = ticket_lifecycle(ds, as_of=as_of)
        slm_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        duck = con.execute(sql).df()
        duck_times.append(time.perf_counter() - t0)
    ref = duck.set_index("ticket_id").reindex(table["ticket_id"])
    gap = np.nanmax(np.abs(table["requester_wait_h"].to_numpy() - ref["requester_wait_h"].to_numpy()))
    slm_best, duck_best = min(slm_times), min(duck_times)
    print(f"rows: slm {len(table):,}, duckdb {len(duck):,}; max |requester_wait_h diff| = {gap:.1e} h")
    print(f"slm ticket_lifecycle (calendar): {slm_best:.2f}s (runs: {', '.join(f'{t:.2f}' for t in slm_times)})")
    print(f"duckdb SQL                     : {duck_best:.2f}s (runs: {', '.join(f'{t:.2f}' for t in duck_times)})")
    print(f"ratio slm/duckdb               : {slm_best / duck_best:.2f}x (target <= 1.5x)")

    calendar = BusinessCalendar(tz="Europe/Berlin", holidays=("2024-12-25", "2024-12-26"))
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        ticket_lifecycle(ds, calendar=calendar, as_of=as_of)
        times.append(time.perf_counter() - t0)
    print(f"slm ticket_lifecycle (business hours, Europe/Berlin): {min(times):.2f}s "
          f"(runs: {', '.join(f'{t:.2f}' for t in times)}; target < 10 s)")

    print_peak_memory("ticket_lifecycle", lambda: ticket_lifecycle(ds, as_of=as_of))


if __name__ == "__main__":
    main()
