"""Tests of slm_lib.metrics.lifecycle_table: the rows metric_table gains from ticket events."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from slm_lib.calendar import BusinessCalendar
from slm_lib.config import DEFAULT_SLA_TARGETS
from slm_lib.io.dataset import Dataset
from slm_lib.io.load import validate
from slm_lib.metrics.lifecycle_table import EVENT_METRICS
from slm_lib.metrics.table import agent_table, metric_table
from slm_lib.schema import empty_frame
from slm_lib.stats import share_from_counts
from test_lifecycle import T1, T2, T3, T4, TICKET_ROWS, _bench, _events, _tickets


@pytest.fixture(scope="module")
def ds() -> Dataset:
    """test_lifecycle's hand-computed tickets t1-t4 (t5 has no events); observed until t4's solve on 3 April."""
    tickets = _tickets(TICKET_ROWS)
    return validate(Dataset(tickets=tickets, ticket_events=_events(T1 + T2 + T3 + T4)))


def _values(table: pd.DataFrame, period: str) -> dict[str, tuple[int, float]]:
    part = table[table["period"] == period].set_index("metric")
    return {m: (int(part.loc[m, "n"]), float(part.loc[m, "value"])) for m in part.index}


def test_hand_computed_event_rows_in_calendar_hours(ds):
    mt = metric_table(ds)
    march, april = _values(mt, "2024-03"), _values(mt, "2024-04")
    # March: t1, t2, t3 solved (t5 has no events and no resolution). Hours from test_lifecycle.
    assert march["requester_wait_median"] == (3, 9.0)          # 9, 66.5, 0.5
    assert march["agent_wait_median"] == (3, 0.5)              # 2, 0.5, 0
    assert march["on_hold_median"] == (3, 0.0)                 # 2, 0, 0
    assert march["full_resolution_median"] == (3, 27.0)        # 27, 67, 0.5
    assert march["next_reply_median"] == (2, 1.75)             # t1's median 2.5, t2's 1.0
    assert march["one_touch_rate"] == march["handoff_rate"] == march["reopen_rate"] == (3, pytest.approx(100 / 3))
    assert march["sla_next_reply"] == (3, 100.0)               # 2 h, 3 h and 1 h within 8 h (normal)
    assert march["sla_requester_wait"] == (3, pytest.approx(200 / 3))   # t2 waited 66.5 h > 36 h
    # April: t4, solved at the observation end after 49 h of requester wait; its customer's 10:30 message
    # was never answered: solving it 47.5 h later stopped the next-reply clock, late.
    assert april["requester_wait_median"] == april["full_resolution_median"] == (1, 49.0)
    assert april["next_reply_median"][0] == 0 and np.isnan(april["next_reply_median"][1])
    assert april["one_touch_rate"] == (1, 100.0) and april["handoff_rate"] == april["reopen_rate"] == (1, 0.0)
    assert april["sla_next_reply"] == april["sla_requester_wait"] == (1, 0.0)
    rates = mt[mt["metric"].isin(["one_touch_rate", "handoff_rate", "reopen_rate"]) & (mt["period"] == "2024-03")]
    _, low, high = share_from_counts(1, 3)
    assert np.allclose(rates["ci_low"], low) and np.allclose(rates["ci_high"], high) and rates["small_n"].all()
    medians = mt[mt["metric"].str.endswith("_median") & mt["n"].gt(0)]
    assert (medians["ci_low"] <= medians["value"]).all() and (medians["value"] <= medians["ci_high"]).all()


def test_business_hours_and_an_earlier_as_of(ds):
    cal = BusinessCalendar(start="09:00", end="17:00", tz="Europe/Berlin")
    march = _values(metric_table(ds, calendar=cal, tz="Europe/Berlin"), "2024-03")
    assert march["requester_wait_median"] == (3, 3.5)          # 8, 3.5, 0.5 business hours
    assert march["full_resolution_median"] == (3, 4.0)         # 11, 4, 0.5
    # on 4 March at 16:00 only t1 exists, on hold and unsolved: no solved ticket yet, one answered next reply
    early = _values(metric_table(ds.until("2024-03-04 16:00")), "2024-03")
    assert early["requester_wait_median"][0] == 0 and early["next_reply_median"] == (1, 2.0)
    assert early["sla_requester_wait"] == (0, pytest.approx(np.nan, nan_ok=True))
    assert early["sla_next_reply"] == (1, 100.0)


def test_without_events_the_rows_are_absent_and_tickets_without_events_keep_their_reopens(ds):
    plain = metric_table(replace(ds, ticket_events=empty_frame("ticket_events")))
    assert not set(plain["metric"]) & set(EVENT_METRICS)
    # t5 resolved and reopened by its own fields: counted in the events' reopen_rate as it was without events
    t = ds.tickets.copy()
    t.loc[t["ticket_id"] == "t5", ["resolved_at", "reopens"]] = [pd.Timestamp("2024-03-11", tz="UTC"), 1]
    mixed = _values(metric_table(replace(ds, tickets=t)), "2024-03")
    assert mixed["reopen_rate"] == (4, 50.0) and mixed["one_touch_rate"][0] == 3


def test_synthetic_events_leave_the_other_rows_unchanged_and_reach_agent_tables():
    from slm_lib.synth import generate
    ds = generate(customers=300, months=3, seed=4, events=True)
    with_events = metric_table(ds, by="channel")
    without = metric_table(replace(ds, ticket_events=empty_frame("ticket_events")), by="channel")
    keys = ["period", "channel", "metric"]
    same = with_events[~with_events["metric"].isin(EVENT_METRICS)].reset_index(drop=True)
    pd.testing.assert_frame_equal(same, without)   # reopen_rate from the events equals the tickets' own
    assert set(with_events["metric"]) >= set(EVENT_METRICS) - {"sla_agent_work"}
    assert not with_events.duplicated(keys).any()
    agents = agent_table(ds)
    assert {"requester_wait_median", "sla_next_reply"} <= set(agents["metric"])


# --------------------------------------------------------------------------- DuckDB cross-check
def test_event_rows_match_duckdb_on_the_per_ticket_sql_of_the_benchmark():
    bench = _bench()
    ds = bench.make_dataset(3000, seed=11)
    as_of = ds.observation_end()
    mt = metric_table(ds, by="channel")
    con = bench.duckdb_connection(ds)
    con.register("tk", ds.tickets[["ticket_id", "channel", "priority"]])
    target = "CASE coalesce(tk.priority, 'normal') " + " ".join(
        f"WHEN '{p}' THEN {h}" for p, h in DEFAULT_SLA_TARGETS["requester_wait"].items()) + " END"
    solved = "lc.status IN ('solved', 'closed')"
    sql = f"""
    WITH lc AS ({bench.lifecycle_sql(as_of.isoformat())})
    SELECT strftime(t.created_at::TIMESTAMPTZ AT TIME ZONE 'UTC', '%Y-%m') AS period, tk.channel,
           count(*) FILTER ({solved}) AS n_solved,
           quantile_cont(requester_wait_h, 0.5) FILTER ({solved}) AS requester_wait_median,
           quantile_cont(agent_wait_h, 0.5) FILTER ({solved}) AS agent_wait_median,
           quantile_cont(on_hold_h, 0.5) FILTER ({solved}) AS on_hold_median,
           quantile_cont(full_resolution_h, 0.5) FILTER ({solved}) AS full_resolution_median,
           count(*) FILTER (next_reply_count > 0) AS n_next,
           quantile_cont(next_reply_h_median, 0.5) FILTER (next_reply_count > 0) AS next_reply_median,
           100.0 * avg(one_touch::INT) FILTER ({solved}) AS one_touch_rate,
           100.0 * avg((handoffs > 0)::INT) FILTER ({solved}) AS handoff_rate,
           100.0 * avg((reopens > 0)::INT) FILTER ({solved}) AS reopen_rate,
           count(*) FILTER ({solved} OR requester_wait_h > {target}) AS n_rw,
           100.0 * avg(({solved} AND requester_wait_h <= {target})::INT)
               FILTER ({solved} OR requester_wait_h > {target}) AS sla_requester_wait
    FROM lc JOIN tickets t USING (ticket_id) JOIN tk USING (ticket_id) GROUP BY ALL
    """
    ref = con.execute(sql).df().set_index(["period", "channel"])
    ours = mt.set_index(["period", "channel", "metric"])
    n_of = {"next_reply_median": "n_next", "sla_requester_wait": "n_rw"}
    for metric in ("requester_wait_median", "agent_wait_median", "on_hold_median", "full_resolution_median",
                   "next_reply_median", "one_touch_rate", "handoff_rate", "reopen_rate", "sla_requester_wait"):
        got = ours.xs(metric, level="metric").reindex(ref.index)
        assert (got["n"].to_numpy() == ref[n_of.get(metric, "n_solved")].to_numpy()).all(), metric
        np.testing.assert_allclose(got["value"], ref[metric].astype(float), rtol=1e-9, atol=1e-9, err_msg=metric)
    assert len(ref) >= 60 and ref["on_hold_median"].max() == 0 and (ref["handoff_rate"] > 0).all()
