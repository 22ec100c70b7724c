"""Tests of slm_lib.engines: metric_table on DuckDB and Spark equals the pandas engine."""
from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import slm_lib as slm
from slm_lib.engines import ENGINE_TICKET_METRICS, LazyDataset, connect, from_tables, open_dataset
from slm_lib.engines.dataset import MEMORY_LIMIT_ENV
from slm_lib.engines.dataset import CORE_TABLES
from slm_lib.errors import ConfigError, MissingTableError
from slm_lib.io.dataset import Dataset
from slm_lib.metrics.table import METRICS, SURVEY_METRICS, metric_table

ENGINE_METRICS = set(ENGINE_TICKET_METRICS) | set(SURVEY_METRICS)
VALUES = ["n", "value", "ci_low", "ci_high", "small_n"]


def assert_same_table(engine: pd.DataFrame, pandas_table: pd.DataFrame, keys: list[str]) -> None:
    """Equal rows (labels exactly, numbers to 1e-9) after sorting both by their keys."""
    expected = pandas_table[pandas_table["metric"].isin(ENGINE_METRICS)]
    assert set(engine["metric"]) <= ENGINE_METRICS
    frames = []
    for frame in (engine, expected):
        frame = frame.astype({k: object for k in keys})
        frame[keys] = frame[keys].where(frame[keys].notna(), "<missing>").astype(str)
        frames.append(frame.sort_values(keys + ["metric"]).reset_index(drop=True)[keys + ["metric"] + VALUES])
    assert len(frames[0]) == len(frames[1]) > 0
    pd.testing.assert_frame_equal(frames[0], frames[1], check_dtype=False, rtol=1e-9, atol=1e-9)


@pytest.fixture(scope="module")
def samples() -> tuple[LazyDataset, Dataset]:
    # without ticket events on both sides (tests/test_engine_lifecycle.py compares the tables with events)
    return open_dataset("data_samples", tables=CORE_TABLES), slm.load_data("data_samples", tables=CORE_TABLES)


@pytest.mark.parametrize("freq, by, tz", [("M", None, "UTC"), ("M", ["channel"], "UTC"),
                                          ("Q", ["segment", "priority"], "UTC"), ("W", ["team"], "Pacific/Auckland"),
                                          ("D", None, "America/New_York")])
def test_duckdb_metric_table_equals_pandas_on_the_samples(samples, freq, by, tz):
    lazy, ds = samples
    assert_same_table(metric_table(lazy, freq=freq, by=by, tz=tz), metric_table(ds, freq=freq, by=by, tz=tz),
                      ["period"] + (by or []))


def test_sla_clocks_judged_at_an_explicit_as_of_and_other_targets(samples):
    lazy, ds = samples
    sla = {"first_response": {"urgent": 0.5, "high": 65 / 60, "normal": 8}, "resolution": {"low": 100}}
    kwargs = {"freq": "Q", "by": ["priority"], "as_of": "2025-06-30 12:00", "sla": sla}
    engine, pandas_table = metric_table(lazy, **kwargs), metric_table(ds, **kwargs)
    assert_same_table(engine, pandas_table, ["period", "priority"])
    judged = engine[(engine.metric == "sla_resolution") & (engine.n > 0)]
    assert set(judged["priority"]) == {"low"}


def test_engine_table_has_the_columns_and_metric_order_of_metric_table(samples):
    out = metric_table(samples[0], by="channel")
    assert list(out.columns) == ["period", "channel", "metric", "n", "value", "ci_low", "ci_high", "small_n"]
    first = out[(out["period"] == "2024-11") & (out["channel"] == "chat")]["metric"].tolist()
    assert first == ["csat", "ces", *ENGINE_TICKET_METRICS]  # NPS surveys answer no ticket: channel NaN
    rank = out["metric"].map({m: i for i, m in enumerate(METRICS)})
    assert (rank.groupby([out["period"], out["channel"].fillna("-")]).diff().dropna() > 0).all()


def test_engine_refuses_an_unknown_by(samples):
    with pytest.raises(ConfigError, match="neither"):
        metric_table(samples[0], by="colour")


def test_duckdb_takes_the_memory_limit_of_the_environment(monkeypatch):
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "1GB")
    assert connect("duckdb").raw_sql("SELECT current_setting('memory_limit')").fetchone()[0] == "953.6 MiB"
    monkeypatch.setenv(MEMORY_LIMIT_ENV, "1 GB'; DROP TABLE x; --")
    with pytest.raises(ConfigError, match="is not a DuckDB memory limit"):
        connect("duckdb")


def test_tables_already_in_a_database_give_the_same_table(samples):
    """A warehouse's tables (here DuckDB tables, not files) through from_tables: the same metric table."""
    _, ds = samples
    con = connect("duckdb")
    for name in ("tickets", "surveys", "customers"):   # tables of the database, loaded as a warehouse would be
        con.raw_sql(f"CREATE TABLE support_{name} AS SELECT * FROM read_csv('data_samples/{name}.csv')")
    lazy = from_tables(con, {name: con.table(f"support_{name}") for name in ("tickets", "surveys", "customers")})
    assert lazy.engine == "duckdb" and lazy.revenue is None
    assert_same_table(metric_table(lazy, by="channel", tz="Europe/Berlin"),
                      metric_table(ds, by="channel", tz="Europe/Berlin"), ["period", "channel"])


def test_from_tables_needs_tickets_and_known_names_and_refuses_local_calendars_it_cannot_set():
    con = connect("duckdb")
    con.raw_sql("CREATE TABLE t AS SELECT 'T1' AS ticket_id")
    t = con.table("t")
    with pytest.raises(MissingTableError, match="'tickets' not given"):
        from_tables(con, {"surveys": t})
    with pytest.raises(ConfigError, match=r"\['events'\] are not tables"):
        from_tables(con, {"tickets": t, "events": t})

    class Warehouse:   # a backend slm cannot set a session time zone on
        name = "snowflake"

    lazy = LazyDataset(Warehouse(), {"tickets": t}, "snowflake")
    with pytest.raises(ConfigError, match="tz='Europe/Berlin' on the snowflake backend"):
        metric_table(lazy, tz="Europe/Berlin", as_of="2024-01-01")


def test_load_data_engine_returns_a_lazy_dataset():
    lazy = slm.load_data("data_samples", engine="duckdb")
    assert isinstance(lazy, LazyDataset) and lazy.engine == "duckdb"
    assert int(lazy.tickets.count().execute()) == len(pd.read_csv("data_samples/tickets.csv"))
    with pytest.raises(ConfigError, match="engine"):
        slm.load_data("data_samples", engine="polars")


@st.composite
def small_dataset(draw) -> Dataset:
    """Tickets (sub-second timestamps, missing responses, resolutions and channels), surveys and customers."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, k = draw(st.integers(1, 60)), draw(st.integers(0, 40))
    created = pd.Timestamp("2024-01-30", tz="UTC") + pd.to_timedelta(rng.integers(0, 70 * 86_400_000_000, n), "us")
    after = lambda scale: pd.to_timedelta(rng.integers(0, scale * 3_600_000_000, n), "us")
    ids = [f"T{i}" for i in range(n)]
    tickets = pd.DataFrame({
        "ticket_id": ids, "customer_id": rng.choice(["C1", "C2", "C3"], n),
        "created_at": created,
        "first_response_at": pd.Series(created + after(8)).where(rng.random(n) < 0.8),
        "resolved_at": pd.Series(created + after(90)).where(rng.random(n) < 0.7),
        "channel": pd.Series(rng.choice(["chat", "email", "web"], n)).where(rng.random(n) < 0.9),
        "priority": rng.choice(["low", "high"], n), "agent_id": rng.choice(["A1", "A2"], n), "team": "t",
        "replies": rng.integers(0, 4, n), "reopens": (rng.random(n) < 0.2).astype("int64"), "category": "x"})
    kind = rng.choice(["nps", "csat", "ces"], k)
    high = np.select([kind == "nps", kind == "csat"], [10, 5], 7)
    tix = rng.integers(0, n, k)
    surveys = pd.DataFrame({
        "response_id": [f"R{i}" for i in range(k)], "customer_id": tickets["customer_id"].to_numpy()[tix],
        "ticket_id": pd.Series(np.array(ids, dtype=object)[tix]).where(rng.random(k) < 0.8),
        "submitted_at": tickets["created_at"].to_numpy()[tix] + pd.to_timedelta(rng.integers(0, 9, k), "D"),
        "type": kind, "score": (rng.random(k) * (high + 1)).astype("int64").clip(np.where(kind == "nps", 0, 1)),
        "comment": None})
    surveys = surveys.astype({c: "str" for c in ("response_id", "customer_id", "ticket_id", "type", "comment")})
    surveys["submitted_at"] = pd.to_datetime(surveys["submitted_at"], utc=True)
    customers = pd.DataFrame({"customer_id": ["C1", "C2", "C3"], "signup_at": pd.Timestamp("2023-01-01", tz="UTC"),
                              "segment": ["smb", "smb", "ent"], "region": "eu", "churned_at": pd.NaT})
    return Dataset(tickets=tickets, surveys=surveys, customers=customers)


def write_parquet(ds: Dataset, directory) -> None:
    for name in ("tickets", "surveys", "customers"):
        getattr(ds, name).to_parquet(directory / f"{name}.parquet", index=False, coerce_timestamps="us")  # Spark reads no ns


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ds=small_dataset(), by=st.sampled_from([None, ["channel"], ["segment", "priority"]]))
def test_duckdb_equals_pandas_on_generated_data(tmp_path_factory, ds, by):
    directory = tmp_path_factory.mktemp("engine")
    write_parquet(ds, directory)
    assert_same_table(metric_table(open_dataset(directory), by=by), metric_table(ds, by=by), ["period"] + (by or []))
    shutil.rmtree(directory)


# ----------------------------------------------------------------------------- spark (fixture in conftest.py)
def test_spark_metric_table_equals_pandas_on_the_samples(spark, samples):
    lazy = open_dataset("data_samples", engine="spark", con=spark, tables=CORE_TABLES)
    kwargs = {"by": ["channel"], "tz": "Asia/Kolkata"}
    assert_same_table(metric_table(lazy, **kwargs), metric_table(samples[1], **kwargs), ["period", "channel"])


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ds=small_dataset())
def test_spark_equals_pandas_on_generated_data(spark, tmp_path_factory, ds):
    directory = tmp_path_factory.mktemp("spark")
    write_parquet(ds, directory)
    assert_same_table(metric_table(open_dataset(directory, engine="spark", con=spark), by=["segment"]),
                      metric_table(ds, by=["segment"]), ["period", "segment"])
    shutil.rmtree(directory)


def test_repeat_contacts_on_the_engine_by_hand(tmp_path):
    """Next contact strictly after the solve, ties, overlapping tickets, no customer, censoring."""
    at = lambda *v: pd.to_datetime(list(v), utc=True)  # noqa: E731
    tickets = pd.DataFrame({
        "ticket_id": ["a", "b", "c", "d", "e", "f", "g"],
        "customer_id": ["x", "x", "x", "y", "y", None, "z"],
        "created_at": at("2024-01-01", "2024-01-03", "2024-01-04", "2024-01-01", "2024-01-02", "2024-01-01",
                         "2024-01-28"),
        "resolved_at": at("2024-01-03", "2024-01-20", "2024-01-05", "2024-01-10", "2024-01-09", "2024-01-02",
                          "2024-01-29"),
        "first_response_at": pd.NaT, "channel": "chat", "priority": "normal", "replies": 1, "reopens": 0})
    tickets["first_response_at"] = tickets["created_at"] + pd.Timedelta(hours=1)
    # a: solved when b opens (not after it) -> next is c, 1 day later: repeat
    # b: solved 01-20, nothing after -> counted, no repeat; c: solved 01-05, nothing created after -> no repeat
    # d: solved 01-10 while e (created 01-02) is older -> no repeat; e: solved 01-09, nothing after -> no repeat
    # f: no customer -> not counted; g: solved 01-29, window ends after as_of 01-31 -> censored
    ds = Dataset(tickets=tickets, as_of="2024-01-31")
    tickets.to_parquet(tmp_path / "tickets.parquet", index=False, coerce_timestamps="us")
    table = metric_table(open_dataset(tmp_path), freq=None, as_of="2024-01-31")
    row = table.set_index("metric").loc["repeat_contact_rate"]
    assert (row["n"], row["value"]) == (5, 20.0)
    assert_same_table(table, metric_table(ds, freq=None, as_of="2024-01-31"), [])
