"""Tests of slm_lib.engines.journeys / stages and the engine month slices: equal to pandas (notebook 06's calls)."""
from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import slm_lib as slm
import slm_lib.synth as synth
from slm_lib.engines import LazyDataset, open_dataset
from slm_lib.engines.dataset import CORE_TABLES
from slm_lib.errors import ConfigError, InsufficientDataError
from slm_lib.io.dataset import Dataset
from slm_lib.summary import month_comments, month_subset

STAGES = {"onboarding": {"from": "signup_at", "start_days": 0, "end_days": 30},
          "before_churn": {"from": "churned_at", "start_days": -90, "end_days": 0}}
at = lambda *v: pd.to_datetime(list(v), utc=True)  # noqa: E731


def same(engine: pd.DataFrame, pandas_frame: pd.DataFrame) -> None:
    """Same rows, columns and dtypes; numbers to 1e-9."""
    pd.testing.assert_frame_equal(engine, pandas_frame, rtol=1e-9, atol=1e-9)


def same_journeys(lazy: LazyDataset, ds: Dataset, days: float = 7, by: str = "channel",
                  paths: tuple = ({"window_days": 90, "length": 3, "kinds": ("ticket", "survey")},)) -> None:
    """Every journey function of notebook 06 on ``lazy`` equals it on ``ds``."""
    for group in (None, by):
        same(slm.repeat_contact_rate(lazy, days=days, by=group), slm.repeat_contact_rate(ds, days=days, by=group))
    a, b = slm.channel_switching(lazy, days=days), slm.channel_switching(ds, days=days)
    same(a.summary, b.summary)
    same(a.transitions, b.transitions)
    same(a.matrix(), b.matrix())
    same(slm.journey_stages(lazy, STAGES, repeat_days=days), slm.journey_stages(ds, STAGES, repeat_days=days))
    for kwargs in paths:
        try:
            expected = slm.paths_before_churn(ds, **kwargs)
        except InsufficientDataError as err:
            with pytest.raises(InsufficientDataError, match=str(err)[:40]):
                slm.paths_before_churn(lazy, **kwargs)
            continue
        got = slm.paths_before_churn(lazy, **kwargs)
        same(got.table, expected.table)
        assert (got.churned, got.retained) == (expected.churned, expected.retained)


def write(ds: Dataset, directory) -> None:
    """Parquet in microseconds (what Spark reads)."""
    for name in ("tickets", "ticket_events", "surveys", "customers", "revenue"):
        frame = getattr(ds, name)
        if len(frame):
            frame.to_parquet(directory / f"{name}.parquet", index=False, coerce_timestamps="us")


# ----------------------------------------------------------------------------- the samples on DuckDB
@pytest.fixture(scope="module")
def samples() -> tuple[LazyDataset, Dataset]:
    # without ticket events (the lifecycle makes each call slow); events: test_the_notebook_month_with_events
    return open_dataset("data_samples", tables=CORE_TABLES), slm.load_data("data_samples", tables=CORE_TABLES)


def test_duckdb_journeys_equal_pandas_on_the_samples(samples):
    same_journeys(*samples, by="segment", paths=({"window_days": 90, "length": 3, "kinds": ("ticket", "survey")},
                                                 {"window_days": 45, "length": 2, "seed": 3, "as_of": "2026-06-30"}))


def test_month_slices_on_the_samples(samples):
    """Notebook 06's voice data: the months' tickets and surveys, and the comments of the trend."""
    lazy, ds = samples
    part, expected = (month_subset(x, "2026-10", tz="Europe/Berlin", months=2) for x in samples)
    for name in ("tickets", "surveys"):
        same(getattr(part, name), getattr(expected, name))
    assert len(part.tickets) > 1000 and len(part.revenue) == 0
    assert set(part.customers["customer_id"]) == set(part.tickets["customer_id"]) | set(part.surveys["customer_id"])
    comments = month_comments(lazy, "2026-10", tz="Europe/Berlin", months=12)
    same(comments, month_comments(ds, "2026-10", tz="Europe/Berlin", months=12))
    assert comments["comment"].notna().all() and len(comments) > 1000
    # the notebook's trend from these comments: the last 12 months of the trend of every survey
    same(slm.sentiment_trend(comments, tz="Europe/Berlin"),
         slm.nb.recent_periods(slm.sentiment_trend(ds.surveys, tz="Europe/Berlin"), "2026-10", 12))


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory) -> tuple[LazyDataset, Dataset]:
    """A synthetic half-year with ticket events, cut at a month's end, as Parquet (microseconds)."""
    ds = slm.nb.report_data(synth.generate(customers=300, months=7, seed=2, events=True), "2025-04")
    directory = tmp_path_factory.mktemp("synthetic")
    write(ds, directory)
    return directory, ds


def test_duckdb_journeys_with_ticket_events_equal_pandas(synthetic):
    """The solve in force from ticket events (reopened tickets), and the month's tickets' events."""
    directory, ds = synthetic
    lazy = open_dataset(directory)
    lazy.as_of = ds.as_of
    same_journeys(lazy, ds)
    part, expected = (month_subset(x, "2025-04", months=2) for x in (lazy, ds))
    for name in ("tickets", "surveys", "ticket_events"):
        same(getattr(part, name), getattr(expected, name))


# ----------------------------------------------------------------------------- by hand
def test_repeat_rate_and_switching_by_hand(tmp_path):
    """Censoring, a tie in created_at (ticket_id order), follow-ups across channels, a missing channel."""
    tickets = pd.DataFrame({
        "ticket_id": ["t1", "t2", "t3", "t4", "t5", "t6"], "customer_id": ["x", "x", "x", "y", "y", "y"],
        "created_at": at("2024-01-01", "2024-01-03", "2024-01-03", "2024-01-02", "2024-01-20", "2024-01-29"),
        "first_response_at": at(*[None] * 6),
        "resolved_at": at("2024-01-02", "2024-01-04", "2024-01-05", "2024-01-03", "2024-01-21", "2024-01-30"),
        "channel": ["chat", "phone", None, "chat", "chat", "email"], "priority": "normal", "replies": 1, "reopens": 0})
    tickets = tickets.astype({"channel": "str"})
    write(Dataset(tickets=tickets), tmp_path)
    lazy = open_dataset(tmp_path)
    lazy.as_of = pd.Timestamp("2024-02-01", tz="UTC")
    # solved and judged (window over by 02-01): t1..t5; t6 solved 01-30 is censored.
    # t1 solved 01-02 -> t2 on 01-03: repeat; t4 solved 01-03 -> t5 17 days later: no; others: none after
    rate = slm.repeat_contact_rate(lazy, days=7)
    assert rate[["n", "repeats", "censored"]].values.tolist() == [[5, 1, 1]]
    assert rate["value"].iloc[0] == pytest.approx(20.0)
    # follow-ups within 7 days: t1->t2 (chat->phone), t2->t3 (tie at 01-03: ticket_id order; phone->unknown)
    # t5->t6 (chat->email, 9 days): not a follow-up
    sw = slm.channel_switching(lazy, days=7)
    assert sw.summary[["from_channel", "n", "switched"]].values.tolist() == [["all", 2, 2], ["chat", 1, 1],
                                                                             ["phone", 1, 1]]
    assert sw.matrix().loc["phone", "unknown"] == 1 and list(sw.matrix().columns) == ["chat", "email", "phone",
                                                                                     "unknown"]
    same(sw.transitions, slm.channel_switching(Dataset(tickets=tickets, as_of="2024-02-01"), days=7).transitions)


def test_stages_and_paths_by_hand(tmp_path):
    """The docstring example of paths_before_churn and a stage window's edges on the engine."""
    c = pd.DataFrame({"customer_id": ["a", "b"], "signup_at": at("2023-10-01", "2023-10-01"),
                      "segment": "smb", "region": "eu", "churned_at": at("2024-03-01", None)})
    t = pd.DataFrame({"ticket_id": ["t0", "t1", "t2"], "customer_id": ["a", "a", "b"],
                      "created_at": at("2023-10-15", "2024-02-20", "2023-10-31"),
                      "first_response_at": at("2023-10-15 02:00", "2024-02-20 01:00", None),
                      "resolved_at": at(None, None, None), "channel": ["web", "phone", "chat"], "priority": "normal",
                      "replies": 0, "reopens": 0})
    write(Dataset(customers=c, tickets=t.astype({"channel": "str"})), tmp_path)
    lazy = open_dataset(tmp_path)
    lazy.as_of = pd.Timestamp("2024-06-01", tz="UTC")
    p = slm.paths_before_churn(lazy, min_n=1)
    assert p.table[["path", "n_churned", "n_retained"]].values.tolist() == [["(none)", 0, 1], ["ticket:phone", 1, 0]]
    same(p.table, slm.paths_before_churn(Dataset(customers=c, tickets=t, as_of="2024-06-01"), min_n=1).table)
    js = slm.journey_stages(lazy, STAGES).set_index(["stage", "metric"])
    # onboarding [signup, signup + 30 days): t0 (a) and b's t2 at day 30 is out; before churn: t1
    assert js.loc[("onboarding", "tickets"), "n"] == 1 and js.loc[("onboarding", "customers"), "n"] == 2
    assert js.loc[("onboarding", "frt_median"), "value"] == pytest.approx(2.0)
    assert js.loc[("before_churn", "frt_median"), "value"] == pytest.approx(1.0)
    with pytest.raises(ConfigError, match="unknown touchpoint kinds"):
        slm.paths_before_churn(lazy, kinds=("ticket", "letter"))


# ----------------------------------------------------------------------------- generated data
@st.composite
def journey_data(draw) -> Dataset:
    """Customers (some churned), tickets on hourly instants (ties), surveys and payments; ids in table order."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, k, m, people = draw(st.integers(1, 50)), draw(st.integers(0, 30)), draw(st.integers(0, 30)), 6
    start = pd.Timestamp("2024-01-01", tz="UTC")
    hours = lambda size, span: start + pd.to_timedelta(rng.integers(0, span * 24, size), "h")  # noqa: E731
    ids = [f"C{i}" for i in range(people)]
    churn = pd.Series(hours(people, 120)).where(rng.random(people) < 0.5)
    customers = pd.DataFrame({"customer_id": ids, "signup_at": start - pd.to_timedelta(rng.integers(0, 60, people), "D"),
                              "segment": rng.choice(["smb", "ent"], people), "region": "eu", "churned_at": churn})
    created = hours(n, 100)
    tickets = pd.DataFrame({
        "ticket_id": [f"T{i:03d}" for i in range(n)], "customer_id": rng.choice(ids, n), "created_at": created,
        "first_response_at": pd.Series(created + pd.to_timedelta(rng.integers(0, 30, n), "h")).where(rng.random(n) < 0.8),
        "resolved_at": pd.Series(created + pd.to_timedelta(rng.integers(0, 200, n), "h")).where(rng.random(n) < 0.7),
        "channel": pd.Series(rng.choice(["chat", "email", "web"], n)).where(rng.random(n) < 0.9),
        "priority": "normal", "agent_id": "A1", "team": "t", "replies": 1, "reopens": 0, "category": "x"})
    kind = rng.choice(["nps", "csat", "ces"], k)
    surveys = pd.DataFrame({
        "response_id": [f"R{i:03d}" for i in range(k)], "customer_id": rng.choice(ids, k), "ticket_id": None,
        "submitted_at": hours(k, 110), "type": kind,
        "score": np.where(kind == "nps", rng.integers(0, 11, k), rng.integers(1, 6, k)), "comment": None})
    revenue = pd.DataFrame({"customer_id": rng.choice(ids, m), "paid_at": hours(m, 110),
                            "amount": rng.choice([-5.0, 10.0, 20.0], m), "order_id": [f"O{i:03d}" for i in range(m)]})
    frames = {"tickets": tickets, "surveys": surveys, "customers": customers, "revenue": revenue}
    return Dataset(**{name: f.astype({c: "str" for c in f.columns if f[c].dtype == object}) for name, f in frames.items()},
                   as_of="2024-05-01")


@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ds=journey_data(), days=st.sampled_from([2.5, 7.0]))
def test_duckdb_journeys_equal_pandas_on_generated_data(tmp_path_factory, ds, days):
    directory = tmp_path_factory.mktemp("journeys")
    write(ds, directory)
    lazy = open_dataset(directory)
    lazy.as_of = ds.as_of
    same_journeys(lazy, ds, days, by="segment", paths=({"window_days": 20, "length": 3, "min_n": 1},
                                                       {"window_days": 30, "length": 2, "kinds": ("payment",)}))
    shutil.rmtree(directory)


# ----------------------------------------------------------------------------- spark (fixture in conftest.py)
def test_spark_journeys_equal_pandas(spark, tmp_path):
    """A small synthetic quarter on Spark (without ticket events: their lifecycle is tested on DuckDB above)."""
    ds = slm.nb.report_data(synth.generate(customers=120, months=5, seed=4), "2025-03")
    write(ds, tmp_path)
    lazy = open_dataset(tmp_path, engine="spark", con=spark)
    lazy.as_of = ds.as_of
    same_journeys(lazy, ds, paths=({"window_days": 60, "length": 2, "min_n": 1},))
