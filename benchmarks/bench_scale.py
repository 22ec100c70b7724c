"""metric_table and rfm_summary beyond memory: DuckDB (and Spark) engine from Parquet vs hand-written DuckDB SQL.

Writes N tickets (+20% surveys) and N purchases to Parquet in chunks (numpy + pyarrow), then
runs, each in its own process so that its peak RSS is its own:

* ``duckdb``: ``metric_table(load_data(dir, engine="duckdb"))`` (slm's ibis definitions);
* ``sql``: the same aggregates as hand-written DuckDB queries (quantile_cont for the
  quantiles, an ASOF join for the repeat contacts), the reference;
* ``rfm_duckdb``: ``rfm_summary(load_data(dir, engine="duckdb"))``, one row per customer
  collected; ``rfm_sql``: the same summary as one hand-written DuckDB query (collected to
  pandas too), the reference;
* ``features_duckdb``: ``customer_features`` at one ``as_of`` (90-day windows) on the engine,
  one row per customer collected; ``features_pandas``: the pandas engine on a tenth of the
  tickets (its own data directory; loading excluded from its time), the reference;
* ``spark``, ``rfm_spark`` and ``features_spark``: the engine on a local PySpark session
  (with ``--spark``).

Usage: ``python benchmarks/bench_scale.py [--tickets 10000000] [--dir /tmp/slm_scale] [--spark]
[--only metric_table|rfm_summary|customer_features]``.
"""
from __future__ import annotations

import argparse
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

CHUNK = 2_000_000
T0 = np.datetime64("2023-01-01T00:00:00", "us").astype(np.int64)
YEAR_US = 730 * 86_400 * 1_000_000
FEATURES_AS_OF = "2024-01-01"  # the middle of the generated two years


def _ts(us: np.ndarray, valid: np.ndarray | None = None) -> pa.Array:
    return pa.array(us, type=pa.timestamp("us", tz="UTC"), mask=None if valid is None else ~valid)


def _labels(names: list[str], rng: np.random.Generator, n: int) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(rng.integers(0, len(names), n).astype(np.int32)),
                                          pa.array(names)).cast(pa.string())


def generate(directory: Path, n_tickets: int, seed: int = 1) -> None:
    """tickets.parquet, surveys.parquet (20% of tickets) and customers.parquet under ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n_customers = max(n_tickets // 100, 10)
    cust = np.char.add("C", np.arange(n_customers).astype("U9"))
    pq.write_table(pa.table({"customer_id": cust, "signup_at": _ts(np.full(n_customers, T0)),
                             "segment": _labels(["smb", "mid", "ent"], rng, n_customers),
                             "region": _labels(["emea", "amer", "apac"], rng, n_customers),
                             "churned_at": _ts(np.zeros(n_customers, np.int64), np.zeros(n_customers, bool))}),
                   directory / "customers.parquet")
    tickets = surveys = None
    for start in range(0, n_tickets, CHUNK):
        n = min(CHUNK, n_tickets - start)
        ids = np.char.add("T", np.arange(start, start + n).astype("U10"))
        created = T0 + np.sort(rng.integers(0, YEAR_US, n))
        frt = created + (rng.exponential(4.0, n) * 3.6e9).astype(np.int64)
        res = frt + (rng.exponential(40.0, n) * 3.6e9).astype(np.int64)
        t = pa.table({"ticket_id": ids, "customer_id": cust[rng.integers(0, n_customers, n)],
                      "created_at": _ts(created), "first_response_at": _ts(frt, rng.random(n) < 0.95),
                      "resolved_at": _ts(res, rng.random(n) < 0.85),
                      "channel": _labels(["email", "chat", "phone", "web", "social"], rng, n),
                      "priority": _labels(["low", "normal", "high", "urgent"], rng, n),
                      "agent_id": _labels([f"A{i}" for i in range(60)], rng, n),
                      "team": _labels(["frontline", "billing", "tech"], rng, n),
                      "replies": rng.poisson(2.0, n), "reopens": (rng.random(n) < 0.1).astype(np.int64),
                      "category": _labels(["billing", "bug", "account"], rng, n)})
        k = n // 5
        pick = rng.integers(0, n, k)
        kind = rng.integers(0, 3, k)
        score = np.where(kind == 0, rng.integers(0, 11, k), np.where(kind == 1, rng.integers(1, 6, k),
                                                                       rng.integers(1, 8, k)))
        s = pa.table({"response_id": np.char.add("R", np.arange(start, start + k).astype("U10")),
                      "customer_id": t["customer_id"].take(pick), "ticket_id": pa.array(ids[pick],
                                                                                         mask=rng.random(k) < 0.2),
                      "submitted_at": _ts(created[pick] + rng.integers(0, 5 * 86_400_000_000, k)),
                      "type": pa.DictionaryArray.from_arrays(pa.array(kind.astype(np.int32)),
                                                             pa.array(["nps", "csat", "ces"])).cast(pa.string()),
                      "score": score, "comment": pa.nulls(k, pa.string())})
        if tickets is None:
            tickets = pq.ParquetWriter(directory / "tickets.parquet", t.schema)
            surveys = pq.ParquetWriter(directory / "surveys.parquet", s.schema)
        tickets.write_table(t)
        surveys.write_table(s)
    tickets.close()
    surveys.close()


def generate_revenue(directory: Path, n_purchases: int, seed: int = 2) -> None:
    """revenue.parquet: ``n_purchases`` payments of the customers of :func:`generate` over the same two years."""
    rng = np.random.default_rng(seed)
    cust = pq.read_table(directory / "customers.parquet", columns=["customer_id"])["customer_id"]
    writer = None
    for start in range(0, n_purchases, CHUNK):
        n = min(CHUNK, n_purchases - start)
        r = pa.table({"customer_id": cust.take(rng.integers(0, len(cust), n)),
                      "paid_at": _ts(T0 + rng.integers(0, YEAR_US, n)),
                      "amount": np.round(rng.gamma(2.0, 30.0, n), 2),
                      "order_id": np.char.add("O", np.arange(start, start + n).astype("U10"))})
        writer = writer or pq.ParquetWriter(directory / "revenue.parquet", r.schema)
        writer.write_table(r)
    writer.close()


RFM_SQL = """
WITH d AS (SELECT customer_id, CAST(paid_at AS DATE) AS day, sum(coalesce(amount, 0)) AS amount
           FROM read_parquet('{d}/revenue.parquet') WHERE customer_id IS NOT NULL GROUP BY customer_id, day),
     f AS (SELECT *, min(day) OVER (PARTITION BY customer_id) AS first, max(day) OVER () AS end_day FROM d)
SELECT customer_id, count(*) - 1 AS frequency, date_diff('day', min(day), max(day)) / 7.0 AS recency,
       date_diff('day', min(day), any_value(end_day)) / 7.0 AS T,
       coalesce(sum(amount) FILTER (day > first) / nullif(count(*) - 1, 0), 0) AS monetary_value
FROM f GROUP BY customer_id ORDER BY customer_id
"""

HAND_SQL = """
WITH t AS (
  SELECT strftime(created_at, '%Y-%m') AS period,
         date_diff('microsecond', created_at, first_response_at) / 3.6e9 AS frt,
         date_diff('microsecond', created_at, resolved_at) / 3.6e9 AS res,
         resolved_at IS NOT NULL AS resolved, replies, reopens
  FROM read_parquet('{d}/tickets.parquet'))
SELECT period, count(*) AS tickets,
       avg(frt), quantile_cont(frt, 0.5), quantile_cont(frt, 0.9), stddev_samp(frt), skewness(frt),
       avg(res), quantile_cont(res, 0.5), quantile_cont(res, 0.9), stddev_samp(res), skewness(res),
       avg(resolved::INT), sum((resolved AND replies <= 1 AND reopens = 0)::INT), sum((resolved AND reopens > 0)::INT),
       avg(replies) FILTER (resolved), stddev_samp(replies) FILTER (resolved), skewness(replies) FILTER (resolved)
FROM t GROUP BY period ORDER BY period;
SELECT strftime(submitted_at, '%Y-%m') AS period,
       count(*) FILTER (type = 'nps'), count(*) FILTER (type = 'nps' AND score >= 9),
       count(*) FILTER (type = 'nps' AND score <= 6), count(*) FILTER (type = 'csat'),
       count(*) FILTER (type = 'csat' AND score >= 4), avg(score) FILTER (type = 'ces'),
       stddev_samp(score) FILTER (type = 'ces'), skewness(score) FILTER (type = 'ces')
FROM read_parquet('{d}/surveys.parquet') WHERE score IS NOT NULL GROUP BY period ORDER BY period;
SELECT strftime(a.created_at, '%Y-%m') AS period, count(*) AS counted,
       count(*) FILTER (b.created_at <= a.resolved_at + INTERVAL 7 DAY) AS repeats
FROM (SELECT customer_id, created_at, resolved_at FROM read_parquet('{d}/tickets.parquet')
      WHERE resolved_at <= (SELECT greatest(max(created_at), max(first_response_at), max(resolved_at))
                            FROM read_parquet('{d}/tickets.parquet')) - INTERVAL 7 DAY) a
ASOF LEFT JOIN (SELECT customer_id, created_at FROM read_parquet('{d}/tickets.parquet')) b
  ON a.customer_id = b.customer_id AND b.created_at > a.resolved_at
GROUP BY period ORDER BY period;
"""


def _lazy(directory: str, engine: str, memory_limit: str | None) -> object:
    """The data set on ``engine``; DuckDB capped at ``memory_limit`` (it spills to its temp directory)."""
    from slm_lib.engines import connect, open_dataset
    con = None
    if engine == "duckdb" and memory_limit:
        con = connect("duckdb")
        con.raw_sql(f"SET memory_limit = '{memory_limit}'")
    return open_dataset(directory, engine, con=con)


def run(kind: str, directory: str, memory_limit: str | None = None) -> None:
    """One measurement (child process): prints seconds and peak RSS (the JVM's for Spark, a child)."""
    import duckdb

    import slm_lib as slm
    start = time.perf_counter()
    check = ""
    if kind in ("sql", "rfm_sql"):
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        if memory_limit:
            con.execute(f"SET memory_limit = '{memory_limit}'")
        if kind == "sql":
            for sql in HAND_SQL.format(d=directory).split(";")[:3]:
                rows = con.execute(sql).fetchall()
        else:
            rows = con.execute(RFM_SQL.format(d=directory)).df()
    elif kind.startswith("rfm_"):
        rows = slm.rfm_summary(_lazy(directory, kind[4:], memory_limit))
    elif kind.startswith("features_"):
        engine = kind[len("features_"):]
        if engine == "pandas":
            from slm_lib.engines.dataset import LAZY_TABLES
            ds = slm.load_data(directory, tables=LAZY_TABLES)
            start = time.perf_counter()
        else:
            ds = _lazy(directory, engine, memory_limit)
        rows = slm.customer_features(ds, FEATURES_AS_OF)
        check = f"{rows['tickets'].sum()} tickets in the windows"
    else:
        rows = slm.metric_table(_lazy(directory, kind, memory_limit))
    seconds = time.perf_counter() - start
    if kind.startswith("rfm_"):  # the two must agree: repeat purchases and repeat spend
        check = f"{rows['frequency'].sum()} / {(rows['frequency'] * rows['monetary_value']).sum():.2f}"
    rss = max(resource.getrusage(who).ru_maxrss for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)) / 2**20
    print(f"{kind}\t{seconds:.1f}\t{rss:.2f}\t{len(rows)}\t{check}", flush=True)


def _ensure(directory: Path, n: int) -> None:
    """Generate ``n`` tickets and ``n`` purchases under ``directory`` unless they are there."""
    for name, make in (("tickets", generate), ("revenue", generate_revenue)):
        if not (directory / f"{name}.parquet").exists():
            start = time.perf_counter()
            make(directory, n)
            what = "tickets (+20% surveys)" if name == "tickets" else "purchases"
            print(f"generated {n:,} {what} to Parquet in {time.perf_counter() - start:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tickets", type=int, default=10_000_000)
    parser.add_argument("--dir", default="/tmp/slm_scale")
    parser.add_argument("--spark", action="store_true", help="also the Spark engine (local session)")
    parser.add_argument("--only", choices=["metric_table", "rfm_summary", "customer_features"],
                        help="time only this one")
    parser.add_argument("--memory-limit", help="DuckDB memory_limit for the engine and the SQL, e.g. 6GB")
    parser.add_argument("--run", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run:
        return run(args.run, args.dir, args.memory_limit)
    directory = Path(args.dir) / f"{args.tickets}"
    small = Path(args.dir) / f"{args.tickets // 10}"  # the pandas engine's customer_features
    _ensure(directory, args.tickets)
    if args.only in (None, "customer_features"):
        _ensure(small, args.tickets // 10)
    engines = ["duckdb"] + (["spark"] if args.spark else [])
    runs = {"metric_table": ("sql", engines), "rfm_summary": ("rfm_sql", [f"rfm_{e}" for e in engines]),
            "customer_features": ("features_pandas", [f"features_{e}" for e in engines])}
    for what, (reference, kinds) in runs.items():
        if args.only not in (None, what):
            continue
        figures = {}
        for kind in [reference] + kinds:
            limit = ["--memory-limit", args.memory_limit] if args.memory_limit else []
            where = small if kind == "features_pandas" else directory
            out = subprocess.run([sys.executable, __file__, "--run", kind, "--dir", str(where), *limit],
                                 capture_output=True, text=True, check=True).stdout.rstrip("\n").splitlines()[-1]
            _, seconds, rss, rows, check = out.split("\t")
            figures[kind] = float(seconds)
            print(f"{what} {kind:>10}: {seconds} s, peak RSS {rss} GiB, {rows} rows {check}")
        for kind in kinds:
            if kind.startswith("features_"):  # the reference ran on a tenth of the tickets
                print(f"{what}: {kind} on {args.tickets:,} tickets / pandas on {args.tickets // 10:,}: "
                      f"{figures[kind] / figures[reference]:.2f}x the time for 10x the data")
            else:
                print(f"{what}: {kind} engine / hand-written DuckDB SQL: {figures[kind] / figures[reference]:.2f}x")


if __name__ == "__main__":
    main()
