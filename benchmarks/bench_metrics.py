"""Benchmark: metric_table(freq="M", by="channel") against the same aggregation in DuckDB SQL.

Builds 10M tickets and 2M surveys directly with numpy (canonical columns and dtypes),
times ``slm_lib.metrics.table.metric_table`` and one DuckDB query computing the same
per-(month, channel) aggregates (counts, means, standard deviations, medians, p90s, rates,
SLA achieved/breached with the open-ticket clock rule, NPS/CSAT/CES counts and moments;
surveys joined to their ticket for the channel; repeat contacts by an ASOF join), and prints both times, the ratio and the
peak memory, then one run of the same table in business hours (no SQL reference for
that). Interval arithmetic on the few hundred result rows is not timed separately:
it is part of metric_table and negligible. Sizes can be scaled: ``--tickets``, ``--surveys``.

Run: ``.venv/bin/python benchmarks/bench_metrics.py [--tickets 10000000 --surveys 2000000]``
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
from slm_lib.config import DEFAULT_SLA_TARGETS
from slm_lib.io.dataset import Dataset
from slm_lib.metrics.table import metric_table
from slm_lib.schema import CHANNELS, PRIORITIES, empty_frame

from _memory import print_peak_memory

START = np.datetime64("2024-01-01T00:00:00", "ns")
SPAN_NS = np.int64(365 * 24 * 3600) * 10**9


def _ids(prefix: str, numbers: np.ndarray) -> pd.arrays.ArrowStringArray:
    """``prefix`` + number as a pandas str array, built in Arrow (fast for 10M rows)."""
    digits = pc.cast(pa.array(numbers), pa.string())
    return pd.array(pc.binary_join_element_wise(prefix, digits, ""), dtype="str")


def _pick(options: tuple[str, ...], codes: np.ndarray) -> pd.arrays.ArrowStringArray:
    return pd.array(pa.DictionaryArray.from_arrays(pa.array(codes.astype(np.int32)), pa.array(list(options)))
                    .cast(pa.string()), dtype="str")


def make_frames(n_tickets: int, n_surveys: int, seed: int = 0) -> Dataset:
    """Random canonical tickets and surveys (12 months, 6 channels, 4 priorities)."""
    rng = np.random.default_rng(seed)
    created = START + rng.integers(0, SPAN_NS, n_tickets).astype("timedelta64[ns]")
    frt = (rng.exponential(6.0, n_tickets) * 3.6e12).astype("timedelta64[ns]")
    res = (rng.exponential(60.0, n_tickets) * 3.6e12).astype("timedelta64[ns]")
    first = np.where(rng.random(n_tickets) < 0.95, created + frt, np.datetime64("NaT"))
    resolved = np.where(rng.random(n_tickets) < 0.85, created + frt + res, np.datetime64("NaT"))
    ids = _ids("t", np.arange(n_tickets))
    utc = lambda a: pd.DatetimeIndex(a).tz_localize("UTC")  # noqa: E731
    tickets = pd.DataFrame({
        "ticket_id": ids,
        "customer_id": _ids("c", rng.integers(0, 500_000, n_tickets)),
        "created_at": utc(created), "first_response_at": utc(first), "resolved_at": utc(resolved),
        "channel": _pick(CHANNELS, rng.integers(0, 6, n_tickets)),
        "priority": _pick(PRIORITIES, rng.integers(0, 4, n_tickets)),
        "agent_id": _ids("a", rng.integers(0, 500, n_tickets)),
        "team": _ids("team", rng.integers(0, 10, n_tickets)),
        "replies": rng.poisson(1.5, n_tickets).astype(np.int64),
        "reopens": (rng.random(n_tickets) < 0.1).astype(np.int64),
        "category": _pick(("billing",), np.zeros(n_tickets, dtype=np.int32)),
    })
    kind = rng.integers(0, 3, n_surveys)
    hi = np.array([5, 10, 7])[kind]
    lo = np.array([1, 0, 1])[kind]
    tix = rng.integers(0, n_tickets, n_surveys)
    has_ticket = rng.random(n_surveys) < 0.9
    surveys = pd.DataFrame({
        "response_id": _ids("r", np.arange(n_surveys)),
        "customer_id": tickets["customer_id"].take(tix).reset_index(drop=True),
        "ticket_id": pd.array(pc.if_else(pa.array(has_ticket), pa.array(ids).take(pa.array(tix)), None), dtype="str"),
        "submitted_at": utc(created[tix] + (rng.exponential(48, n_surveys) * 3.6e12).astype("timedelta64[ns]")),
        "type": _pick(("csat", "nps", "ces"), kind),
        "score": (lo + rng.integers(0, hi - lo + 1)).astype(np.int64),
        "comment": pd.array(pa.nulls(n_surveys, pa.string()), dtype="str"),
    })
    return Dataset(tickets=tickets, surveys=surveys, customers=empty_frame("customers"), source="bench")


def duckdb_sql(as_of: str, end: str) -> str:
    """The same per-(month, channel) aggregation as metric_table, in SQL.

    ``as_of``: the SLA clocks' instant; ``end``: the data set's observation end, where the
    repeat contact windows are censored (an ASOF join finds each solved ticket's next contact).
    """
    def target_case(name: str) -> str:
        whens = " ".join(f"WHEN '{p}' THEN {h}" for p, h in DEFAULT_SLA_TARGETS[name].items())
        return f"CASE coalesce(priority, 'normal') {whens} END"
    return f"""
    WITH t AS (
      SELECT strftime(created_at::TIMESTAMPTZ AT TIME ZONE 'UTC', '%Y-%m') AS period, channel,
             (epoch_ns(first_response_at) - epoch_ns(created_at)) / 3.6e12 AS frt,
             (epoch_ns(resolved_at) - epoch_ns(created_at)) / 3.6e12 AS res,
             resolved_at IS NOT NULL AS resolved, replies, reopens,
             {target_case('first_response')} AS t_fr, {target_case('resolution')} AS t_res,
             (epoch_ns(TIMESTAMPTZ '{as_of}') - epoch_ns(created_at)) / 3.6e12 AS clock
      FROM tickets),
    tk AS (
      SELECT period, channel, count(*) AS tickets,
             count(frt) AS frt_n, avg(frt) AS frt_mean, stddev_samp(frt) AS frt_sd,
             quantile_cont(frt, 0.5) AS frt_median, quantile_cont(frt, 0.9) AS frt_p90,
             count(res) AS res_n, avg(res) AS res_mean, stddev_samp(res) AS res_sd,
             quantile_cont(res, 0.5) AS res_median, quantile_cont(res, 0.9) AS res_p90,
             count(*) FILTER (resolved) AS n_resolved,
             count(*) FILTER (resolved AND replies <= 1 AND reopens = 0) AS n_fcr,
             count(*) FILTER (resolved AND reopens > 0) AS n_reopened,
             avg(replies) FILTER (resolved) AS replies_mean, stddev_samp(replies) FILTER (resolved) AS replies_sd,
             count(*) FILTER (frt IS NOT NULL AND frt <= t_fr) AS fr_achieved,
             count(*) FILTER ((frt IS NOT NULL AND frt > t_fr) OR (frt IS NULL AND clock > t_fr)) AS fr_breached,
             count(*) FILTER (res IS NOT NULL AND res <= t_res) AS res_achieved,
             count(*) FILTER ((res IS NOT NULL AND res > t_res) OR (res IS NULL AND clock > t_res)) AS res_breached
      FROM t GROUP BY ALL),
    sv AS (
      SELECT strftime(s.submitted_at::TIMESTAMPTZ AT TIME ZONE 'UTC', '%Y-%m') AS period, k.channel,
             count(*) FILTER (s.type = 'nps') AS nps_n,
             count(*) FILTER (s.type = 'nps' AND s.score >= 9) AS promoters,
             count(*) FILTER (s.type = 'nps' AND s.score <= 6) AS detractors,
             count(*) FILTER (s.type = 'csat') AS csat_n,
             count(*) FILTER (s.type = 'csat' AND s.score >= 4) AS satisfied,
             avg(s.score) FILTER (s.type = 'ces') AS ces_mean,
             stddev_samp(s.score) FILTER (s.type = 'ces') AS ces_sd
      FROM surveys s LEFT JOIN tickets k USING (ticket_id) GROUP BY ALL),
    rc AS (
      SELECT strftime(a.created_at::TIMESTAMPTZ AT TIME ZONE 'UTC', '%Y-%m') AS period, a.channel,
             count(*) AS repeat_n, count(*) FILTER (b.created_at <= a.resolved_at + INTERVAL 7 DAY) AS repeats
      FROM (SELECT customer_id, channel, created_at, resolved_at FROM tickets
            WHERE resolved_at <= TIMESTAMPTZ '{end}' - INTERVAL 7 DAY) a
      ASOF LEFT JOIN (SELECT customer_id, created_at FROM tickets) b
        ON a.customer_id = b.customer_id AND b.created_at > a.resolved_at
      GROUP BY ALL)
    SELECT * FROM tk FULL JOIN sv USING (period, channel) FULL JOIN rc USING (period, channel)
    """


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=10_000_000)
    parser.add_argument("--surveys", type=int, default=2_000_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    t0 = time.perf_counter()
    ds = make_frames(args.tickets, args.surveys)
    print(f"built {len(ds.tickets):,} tickets + {len(ds.surveys):,} surveys in {time.perf_counter() - t0:.1f}s")
    as_of = max(ds.tickets[c].max() for c in ("created_at", "first_response_at", "resolved_at"))

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    # Arrow tables: DuckDB scans them zero-copy (a pandas frame with Arrow-backed str
    # columns would be converted row by row, which would flatter metric_table)
    con.register("tickets", pa.Table.from_pandas(ds.tickets, preserve_index=False))
    con.register("surveys", pa.Table.from_pandas(ds.surveys, preserve_index=False))
    sql = duckdb_sql(as_of.isoformat(), ds.observation_end().isoformat())

    # interleaved runs, best of each: the machine is shared, so load drifts during a run
    slm_times, duck_times = [], []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        table = metric_table(ds, freq="M", by="channel")
        slm_times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        duck = con.execute(sql).df()
        duck_times.append(time.perf_counter() - t0)

    check = table[table.metric == "frt_median"].set_index(["period", "channel"])["value"]
    ref = duck.set_index(["period", "channel"])["frt_median"].reindex(check.index)
    slm_best, duck_best = min(slm_times), min(duck_times)
    print(f"metric_table rows: {len(table):,}; duckdb rows: {len(duck):,}; "
          f"max |frt_median diff| = {np.nanmax(np.abs(check.to_numpy() - ref.to_numpy())):.2e} h")
    check = table[table.metric == "repeat_contact_rate"].set_index(["period", "channel"])["value"]
    ref = duck.set_index(["period", "channel"]).reindex(check.index)
    print(f"max |repeat_contact_rate diff| = "
          f"{np.nanmax(np.abs(check.to_numpy() - 100 * ref['repeats'] / ref['repeat_n'])):.2e} points")
    print(f"slm metric_table : {slm_best:.2f}s (runs: {', '.join(f'{t:.2f}' for t in slm_times)})")
    print(f"duckdb SQL       : {duck_best:.2f}s (runs: {', '.join(f'{t:.2f}' for t in duck_times)})")
    print(f"ratio slm/duckdb : {slm_best / duck_best:.2f}x (target <= 1.5x)")

    calendar = BusinessCalendar(tz="Europe/Berlin")  # no SQL reference: business hours are ours alone
    t0 = time.perf_counter()
    metric_table(ds, freq="M", by="channel", calendar=calendar, tz="Europe/Berlin")
    print(f"slm metric_table, business hours (Europe/Berlin): {time.perf_counter() - t0:.2f}s (one run)")

    print_peak_memory("metric_table", lambda: metric_table(ds, freq="M", by="channel"))


if __name__ == "__main__":
    main()
