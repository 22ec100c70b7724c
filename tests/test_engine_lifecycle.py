"""Tests of slm_lib.engines.lifecycle: ticket lifecycle and the metric_table event rows on the engine equal pandas."""
from __future__ import annotations

from dataclasses import replace

import shutil

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import slm_lib as slm
from slm_lib.calendar import BusinessCalendar
from slm_lib.engines import lifecycle_table, open_dataset
from slm_lib.errors import InsufficientDataError
from slm_lib.io.dataset import Dataset
from slm_lib.metrics.lifecycle import LIFECYCLE_COLUMNS, ticket_lifecycle
from slm_lib.metrics.lifecycle_table import EVENT_METRICS
from slm_lib.metrics.table import metric_table
from slm_lib.schema import EVENT_KINDS
from test_engine_clock import GERMAN_HOLIDAYS

TOL = {"check_exact": False, "rtol": 1e-9, "atol": 1e-9}
#: Business calendars of the equality tests: Berlin with holidays and DST, UTC 09-17.
BUSINESS = [BusinessCalendar(tz="Europe/Berlin", holidays=GERMAN_HOLIDAYS),
            BusinessCalendar(start="09:00", end="17:00")]
#: Around a DST change: a 24-hour desk (business time = wall clock), and a Monday-Saturday desk in New York.
AROUND_DST = [BusinessCalendar(weekdays=range(7), start="00:00", end="24:00", tz="Europe/Berlin"),
              BusinessCalendar(weekdays=range(6), start="00:00", end="24:00", tz="America/New_York"), BUSINESS[0]]
at = lambda *v: pd.to_datetime(list(v), utc=True)  # noqa: E731


def by_ticket(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values("ticket_id").reset_index(drop=True)


def assert_same_metrics(engine: pd.DataFrame, pandas_table: pd.DataFrame, keys: list[str]) -> None:
    """Every row equal (labels exactly, numbers to 1e-9): the event rows included."""
    frames = []
    for frame in (engine, pandas_table):
        frame = frame.astype({k: object for k in keys})
        frame[keys] = frame[keys].where(frame[keys].notna(), "<missing>").astype(str)
        frames.append(frame.sort_values(keys + ["metric"]).reset_index(drop=True))
    pd.testing.assert_frame_equal(frames[0], frames[1], check_dtype=False, **TOL)


@pytest.fixture(scope="module")
def samples() -> tuple:
    return open_dataset("data_samples"), slm.load_data("data_samples")


@pytest.mark.parametrize("as_of", [None, "2025-03-15 12:00", "2025-06-01"])
def test_duckdb_lifecycle_equals_pandas_on_the_samples(samples, as_of):
    lazy, ds = samples
    engine, pandas_frame = ticket_lifecycle(lazy, as_of=as_of), by_ticket(ticket_lifecycle(ds, as_of=as_of))
    assert list(engine.columns) == list(LIFECYCLE_COLUMNS) and len(engine) > 1000
    pd.testing.assert_frame_equal(engine, pandas_frame, **TOL)


def test_an_event_exactly_at_as_of_counts_on_the_samples(samples):
    lazy, ds = samples
    instant = ds.ticket_events.loc[ds.ticket_events["kind"] == "assignment", "at"].iloc[500]
    pd.testing.assert_frame_equal(ticket_lifecycle(lazy, as_of=instant), by_ticket(ticket_lifecycle(ds, as_of=instant)),
                                  **TOL)


@pytest.mark.parametrize("freq, by", [("M", None), ("Q", ["channel"]), ("Y", ["priority", "segment"])])
def test_metric_table_event_rows_equal_pandas_on_the_samples(samples, freq, by):
    lazy, ds = samples
    engine = metric_table(lazy, freq=freq, by=by)
    assert set(EVENT_METRICS) - {"sla_agent_work"} <= set(engine["metric"])  # no default agent_work target
    assert_same_metrics(engine, metric_table(ds, freq=freq, by=by), ["period"] + (by or []))


def test_metric_table_event_sla_targets_and_as_of(samples):
    lazy, ds = samples
    sla = {"first_response": {"high": 2}, "next_reply": {"urgent": 0.5, "normal": 3}, "agent_work": {"low": 12},
           "requester_wait": {"high": 20}}
    kwargs = {"freq": "Q", "by": ["priority"], "sla": sla, "as_of": "2025-09-30 18:00"}
    engine = metric_table(lazy, **kwargs)
    assert {"sla_agent_work", "sla_next_reply"} <= set(engine["metric"])
    assert_same_metrics(engine, metric_table(ds, **kwargs), ["period", "priority"])


def test_duckdb_business_hours_equal_pandas_on_the_samples(samples):
    """The lifecycle (both calendars) and the event rows of metric_table (every event SLA clock) in business hours."""
    lazy, ds = samples
    calendar_hours = by_ticket(ticket_lifecycle(ds))
    for calendar in BUSINESS:
        engine = ticket_lifecycle(lazy, calendar=calendar)
        pd.testing.assert_frame_equal(engine, by_ticket(ticket_lifecycle(ds, calendar=calendar)), **TOL)
        assert (engine["requester_wait_h"] < calendar_hours["requester_wait_h"] - 1).mean() > 0.3
    sla = {"first_response": {"high": 2}, "next_reply": {"urgent": 0.5, "normal": 3}, "agent_work": {"low": 12},
           "requester_wait": {"high": 20, "normal": 8}}
    kwargs = {"freq": "Q", "by": ["channel"], "sla": sla, "calendar": BUSINESS[0]}
    table = metric_table(lazy, **kwargs)
    assert {"sla_agent_work", "sla_next_reply", "sla_requester_wait", "requester_wait_median"} <= set(table["metric"])
    assert_same_metrics(table, metric_table(ds, **kwargs), ["period", "channel"])


def test_engine_lifecycle_needs_events(tmp_path):
    shutil.copy("data_samples/tickets.csv", tmp_path / "tickets.csv")
    with pytest.raises(InsufficientDataError, match="no ticket_events"):
        ticket_lifecycle(open_dataset(tmp_path))


# ----------------------------------------------------------------------------- by hand
def hand_dataset() -> Dataset:
    """T1: every edge case of the lifecycle docstring; T2: no status event; T3 created after as_of; T4 no events."""
    tickets = pd.DataFrame({
        "ticket_id": ["T1", "T2", "T3", "T4"], "customer_id": "c", "channel": "chat", "priority": "normal",
        "created_at": at("2024-01-01 08:00", "2024-01-01 20:00", "2024-01-03 00:00", "2024-01-01 00:00"),
        "first_response_at": at("2024-01-01 10:00", None, None, None),
        "resolved_at": at("2024-01-01 18:00", None, None, None), "replies": [3, 0, 0, 0], "reopens": [1, 0, 0, 0]})
    rows = [  # time, kind, actor, status, agent, team
        ("2024-01-01 08:00", "customer_message", "customer", None, None, None),
        ("2024-01-01 09:00", "status", "agent", "open", None, None),       # new 08-09 (before any status event)
        ("2024-01-01 09:00", "assignment", "system", None, "A1", "x"),    # same instant: assignment before status
        ("2024-01-01 10:00", "status", "agent", "pending", None, None),
        ("2024-01-01 10:00", "public_reply", "agent", None, None, None),  # first reply
        ("2024-01-01 12:00", "status", "customer", "open", None, None),   # pending 10-12
        ("2024-01-01 12:00", "customer_message", "customer", None, None, None),
        ("2024-01-01 13:00", "assignment", "system", None, None, "y"),    # back to a queue: no handoff
        ("2024-01-01 13:30", "assignment", "agent", None, "A2", "y"),     # handoff 1
        ("2024-01-01 14:00", "status", "agent", "on_hold", None, None),   # open 12-14
        ("2024-01-01 14:00", "public_reply", "agent", None, None, None),  # answers 12:00 after 2 h
        ("2024-01-01 15:00", "public_reply", "agent", None, None, None),  # answers the message of its instant: 0 h
        ("2024-01-01 15:00", "customer_message", "customer", None, None, None),
        ("2024-01-01 16:00", "status", "system", "closed", None, None),   # on_hold 14-16, closed unsolved: resolved
        ("2024-01-01 18:00", "status", "customer", "open", None, None),   # reopened ...
        ("2024-01-01 18:00", "status", "agent", "solved", None, None),    # ... and solved at the same instant
        ("2024-01-02 00:00", "assignment", "agent", None, "A1", "x"),     # at as_of: counts (handoff 2)
        ("2024-01-02 01:00", "status", "customer", "open", None, None),   # after as_of: ignored
    ]
    t2 = [("2024-01-01 21:00", "customer_message", "customer", None, None, None)]
    t3 = [("2024-01-01 23:00", "customer_message", "customer", None, None, None)]
    frame = pd.DataFrame([("T1", *r) for r in rows] + [("T2", *r) for r in t2] + [("T3", *r) for r in t3],
                         columns=["ticket_id", "at", "kind", "actor", "status", "agent_id", "team"])
    frame["at"] = pd.to_datetime(frame["at"], utc=True, format="ISO8601")
    frame.insert(0, "event_id", [f"E{i:02d}" for i in range(len(frame))])
    frame["priority"], frame["body"] = None, None
    return Dataset(tickets=tickets, ticket_events=frame.astype({c: "str" for c in ("status", "agent_id", "team")}))


def write(ds: Dataset, directory) -> None:
    """Parquet in microseconds (what Spark reads)."""
    for name in ("tickets", "ticket_events", "surveys", "customers", "revenue"):
        frame = getattr(ds, name)
        if len(frame):
            frame.to_parquet(directory / f"{name}.parquet", index=False, coerce_timestamps="us")


def test_lifecycle_by_hand(tmp_path):
    ds = hand_dataset()
    write(ds, tmp_path)
    out = ticket_lifecycle(open_dataset(tmp_path), as_of="2024-01-02")
    assert out["ticket_id"].tolist() == ["T1", "T2"]
    t1, t2 = out.iloc[0], out.iloc[1]
    assert t1["status"] == "solved" and t2["status"] == "new"
    assert (t1["requester_wait_h"], t1["agent_wait_h"], t1["on_hold_h"]) == (6.0, 2.0, 2.0)
    assert (t1["first_resolution_h"], t1["full_resolution_h"]) == (8.0, 10.0)
    assert (t1["next_reply_count"], t1["next_reply_h_median"], t1["agent_replies"]) == (2, 1.0, 3)
    assert (t1["reopens"], t1["first_reopened_at"]) == (1, pd.Timestamp("2024-01-01 18:00", tz="UTC"))
    assert (t1["assignee_stations"], t1["group_stations"], t1["handoffs"], t1["one_touch"]) == (2, 2, 2, False)
    assert t2["requester_wait_h"] == 4.0 and np.isnan(t2["next_reply_h_median"]) and np.isnan(t2["full_resolution_h"])
    pd.testing.assert_frame_equal(out, by_ticket(ticket_lifecycle(ds, as_of="2024-01-02")), **TOL)


def test_lifecycle_table_of_the_events_strictly_before(tmp_path):
    """inclusive=False drops the assignment at as_of (what customer_features reads); clocks still run to as_of."""
    write(hand_dataset(), tmp_path)
    lazy = open_dataset(tmp_path)
    when = pd.Timestamp("2024-01-02", tz="UTC")
    got = {inclusive: lifecycle_table(lazy.tickets, lazy.ticket_events, when, inclusive=inclusive)
           .order_by("ticket_id").execute() for inclusive in (True, False)}
    assert got[True]["handoffs"].tolist() == [2, 0] and got[False]["handoffs"].tolist() == [1, 0]
    assert got[False]["requester_wait"].tolist() == [6 * 3_600_000_000, 4 * 3_600_000_000]
    assert got[False]["resolved_at"].iloc[0] == pd.Timestamp("2024-01-01 18:00", tz="UTC")


def test_lifecycle_table_takes_another_clock(tmp_path):
    """Every duration is a difference of the clock: a clock running twice as fast doubles them."""
    write(hand_dataset(), tmp_path)
    lazy = open_dataset(tmp_path)
    fast = lambda ts: 2 * ts.delta(pd.Timestamp(0, tz="UTC").to_pydatetime(), unit="microsecond")  # noqa: E731
    when = pd.Timestamp("2024-01-02", tz="UTC")
    plain = lifecycle_table(lazy.tickets, lazy.ticket_events, when).order_by("ticket_id").execute()
    double = lifecycle_table(lazy.tickets, lazy.ticket_events, when, clock=fast).order_by("ticket_id").execute()
    for column in ("requester_wait", "agent_wait", "on_hold", "first_resolution"):
        np.testing.assert_array_equal(double[column].to_numpy(float), 2 * plain[column].to_numpy(float))


# ----------------------------------------------------------------------------- generated histories
@st.composite
def histories(draw, starts: tuple[str, ...] = ("2024-01-01",)) -> tuple[Dataset, pd.Timestamp]:
    """A few tickets with random events on a coarse grid (many ties), unassigned assignments, late events."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n = draw(st.integers(1, 4))
    start = pd.Timestamp(draw(st.sampled_from(starts)), tz="UTC")
    created = start + pd.to_timedelta(rng.integers(0, 6, n), "h")
    tickets = pd.DataFrame({
        "ticket_id": [f"T{i}" for i in range(n)], "customer_id": rng.choice(["c1", "c2"], n),
        "channel": rng.choice(["chat", "email"], n), "priority": rng.choice(["low", "normal", "urgent"], n),
        "created_at": created, "first_response_at": pd.Series(created + pd.Timedelta(hours=1)).where(rng.random(n) < .7),
        "resolved_at": pd.Series(created + pd.Timedelta(hours=5)).where(rng.random(n) < .5),
        "replies": rng.integers(0, 3, n), "reopens": rng.integers(0, 2, n)})
    k = draw(st.integers(1, 40))
    ticket = rng.integers(0, n, k)
    kinds = rng.choice(list(EVENT_KINDS), k, p=[.35, .2, .2, .05, .15, .05])
    events = pd.DataFrame({
        "event_id": [f"E{i:03d}" for i in range(k)], "ticket_id": tickets["ticket_id"].to_numpy()[ticket],
        "at": created[ticket] + pd.to_timedelta(rng.integers(-1, 8, k), "h"),  # many ties; some before creation
        "kind": kinds, "actor": rng.choice(["agent", "customer", "system"], k, p=[.6, .3, .1]),
        "status": np.where(kinds == "status", rng.choice(["new", "open", "pending", "on_hold", "solved", "closed"], k),
                           None),
        "agent_id": np.where(kinds == "assignment", rng.choice(["A1", "A2", None], k), None),
        "team": np.where(kinds == "assignment", rng.choice(["x", "y", None], k), None),
        "priority": np.where(kinds == "priority", rng.choice(["low", "urgent", None], k), None), "body": None})
    events = events.astype({c: "str" for c in ("status", "agent_id", "team", "priority", "body")})
    times = sorted(set(events["at"]))
    as_of = draw(st.sampled_from(times)) if draw(st.booleans()) else start + pd.Timedelta(hours=draw(st.integers(2, 12)))
    return Dataset(tickets=tickets, ticket_events=events), as_of


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=histories())
def test_duckdb_lifecycle_equals_pandas_on_generated_histories(tmp_path_factory, case):
    ds, as_of = case
    directory = tmp_path_factory.mktemp("life")
    write(ds, directory)
    expected = by_ticket(ticket_lifecycle(ds, as_of=as_of))
    pd.testing.assert_frame_equal(ticket_lifecycle(open_dataset(directory), as_of=as_of), expected, **TOL)
    shutil.rmtree(directory)


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=histories())
def test_duckdb_metric_table_event_rows_equal_pandas_on_generated_histories(tmp_path_factory, case):
    ds, as_of = case
    ds = valid(ds)
    directory = tmp_path_factory.mktemp("rows")
    write(ds, directory)
    kwargs = {"freq": None, "by": ["channel"], "as_of": as_of, "repeat_days": 0.25}
    assert_same_metrics(metric_table(open_dataset(directory), **kwargs), metric_table(ds, **kwargs), ["channel"])
    shutil.rmtree(directory)


def valid(ds: Dataset) -> Dataset:
    """``ds`` without events before their ticket's creation (SPEC §3); on those the repeat contacts differ by
    design (engines.event_metrics.solved_at)."""
    created = ds.ticket_events["ticket_id"].map(ds.tickets.set_index("ticket_id")["created_at"])
    return replace(ds, ticket_events=ds.ticket_events.assign(at=ds.ticket_events["at"].where(
        ds.ticket_events["at"] >= created, created)))


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(case=histories(("2026-03-28 20:00", "2026-10-24 20:00", "2026-03-07 22:00", "2026-10-31 23:00")),
       calendar=st.sampled_from(AROUND_DST))
def test_duckdb_business_hours_equal_pandas_around_dst(tmp_path_factory, case, calendar):
    """Lifecycle and event rows on histories across a DST change (Berlin, New York) in business hours."""
    ds, as_of = case
    ds = valid(ds)
    directory = tmp_path_factory.mktemp("dst")
    write(ds, directory)
    lazy = open_dataset(directory)
    expected = by_ticket(ticket_lifecycle(ds, calendar=calendar, as_of=as_of))
    pd.testing.assert_frame_equal(ticket_lifecycle(lazy, calendar=calendar, as_of=as_of), expected, **TOL)
    kwargs = {"freq": None, "by": ["channel"], "as_of": as_of, "calendar": calendar,
              "sla": {"next_reply": {"low": 1, "urgent": 2}, "requester_wait": {"normal": 3}}}
    assert_same_metrics(metric_table(lazy, **kwargs), metric_table(ds, **kwargs), ["channel"])
    shutil.rmtree(directory)


# ----------------------------------------------------------------------------- spark (fixture in conftest.py)
def test_spark_lifecycle_and_event_rows_equal_pandas(spark, samples, tmp_path):
    """The lifecycle in calendar hours, the event rows of metric_table in business hours."""
    ds = samples[1].until("2025-04-01")   # a month of tickets (Spark's per-stage cost grows with the data)
    tickets = ds.tickets[ds.tickets["created_at"] >= pd.Timestamp("2025-03-01", tz="UTC")]
    ds = replace(ds, tickets=tickets, ticket_events=ds.ticket_events[ds.ticket_events["ticket_id"].isin(
        tickets["ticket_id"])], surveys=ds.surveys.iloc[:0], as_of=None)
    write(ds, tmp_path)
    lazy = open_dataset(tmp_path, engine="spark", con=spark)
    as_of = "2025-03-15 12:00"
    pd.testing.assert_frame_equal(ticket_lifecycle(lazy, as_of=as_of), by_ticket(ticket_lifecycle(ds, as_of=as_of)),
                                  **TOL)
    kwargs = {"freq": "Q", "by": ["channel"], "calendar": BUSINESS[0]}   # the event rows in business hours
    assert_same_metrics(metric_table(lazy, **kwargs), metric_table(ds, **kwargs), ["period", "channel"])
