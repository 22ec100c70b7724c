"""Tests of slm_lib.metrics.lifecycle (ticket_lifecycle) and slm_lib.metrics.backlog (backlog)."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slm_lib.calendar import BusinessCalendar
from slm_lib.errors import ConfigError, InsufficientDataError
from slm_lib.io.dataset import Dataset
from slm_lib.io.load import validate
from slm_lib.metrics.backlog import backlog
from slm_lib.metrics.lifecycle import LIFECYCLE_COLUMNS, ticket_lifecycle
from slm_lib.schema import COLUMNS, empty_frame

UTC = "UTC"


def _ts(*values):
    return pd.to_datetime(list(values), utc=True)


def _tickets(rows):
    """rows: (ticket_id, created_at, first_response_at, resolved_at, replies, reopens)."""
    frame = empty_frame("tickets").reindex(range(len(rows)))
    ids, created, first, resolved, replies, reopens = zip(*rows)
    return validate(Dataset(tickets=frame.assign(
        ticket_id=ids, customer_id="c1", channel="email", priority="normal", created_at=_ts(*created),
        first_response_at=_ts(*first), resolved_at=_ts(*resolved), replies=replies, reopens=reopens))).tickets


def _events(rows):
    """rows: (ticket_id, at, kind, actor, status, agent_id, team)."""
    frame = pd.DataFrame(rows, columns=["ticket_id", "at", "kind", "actor", "status", "agent_id", "team"])
    frame.insert(0, "event_id", [f"e{i}" for i in range(len(frame))])
    frame["at"] = _ts(*frame["at"])
    return frame.assign(priority=None, body=None)


# T1 (Mon 2024-03-04): new -> open -> pending -> open -> on_hold -> solved -> reopened -> solved -> closed,
# three agent replies, reassigned twice. Hours in comments.
T1 = [
    ("t1", "2024-03-04 09:00", "status", "system", "new", None, None),
    ("t1", "2024-03-04 09:00", "customer_message", "customer", None, None, None),
    ("t1", "2024-03-04 09:15", "assignment", "system", None, "a1", "blue"),
    ("t1", "2024-03-04 10:00", "status", "agent", "open", "a1", "blue"),          # new 1 h
    ("t1", "2024-03-04 11:00", "public_reply", "agent", None, "a1", "blue"),      # first response
    ("t1", "2024-03-04 11:00", "status", "agent", "pending", "a1", "blue"),       # open 1 h
    ("t1", "2024-03-04 13:00", "customer_message", "customer", None, None, None),  # next-reply clock starts
    ("t1", "2024-03-04 13:00", "status", "system", "open", None, None),           # pending 2 h
    ("t1", "2024-03-04 13:30", "customer_message", "customer", None, None, None),  # clock already running
    ("t1", "2024-03-04 14:00", "assignment", "agent", None, "a2", "blue"),        # handoff 1
    ("t1", "2024-03-04 15:00", "public_reply", "agent", None, "a2", "blue"),      # next reply: 2 h
    ("t1", "2024-03-04 15:00", "status", "agent", "on_hold", "a2", "blue"),       # open 2 h
    ("t1", "2024-03-04 17:00", "status", "agent", "solved", "a2", "blue"),        # on hold 2 h; first resolution 8 h
    ("t1", "2024-03-05 09:00", "customer_message", "customer", None, None, None),  # next-reply clock starts
    ("t1", "2024-03-05 09:00", "status", "customer", "open", None, None),         # reopened; solved 16 h
    ("t1", "2024-03-05 09:30", "assignment", "agent", None, "a1", "green"),       # handoff 2
    ("t1", "2024-03-05 10:00", "internal_note", "agent", None, "a1", "green"),
    ("t1", "2024-03-05 12:00", "public_reply", "agent", None, "a1", "green"),     # next reply: 3 h
    ("t1", "2024-03-05 12:00", "status", "agent", "solved", "a1", "green"),       # open 3 h; full resolution 27 h
    ("t1", "2024-03-06 12:00", "status", "system", "closed", None, None),
]
# T2: created Friday 2024-03-29 16:00 Berlin (CET); the clocks go to CEST on Sunday 31 March.
T2 = [
    ("t2", "2024-03-29 15:00", "status", "system", "open", None, None),
    ("t2", "2024-04-01 07:30", "public_reply", "agent", None, "a3", "red"),       # Mon 09:30 CEST
    ("t2", "2024-04-01 07:30", "status", "agent", "pending", "a3", "red"),
    ("t2", "2024-04-01 08:00", "customer_message", "customer", None, None, None),  # 10:00 CEST
    ("t2", "2024-04-01 08:00", "status", "customer", "open", None, None),
    ("t2", "2024-04-01 09:00", "public_reply", "agent", None, "a3", "red"),       # 11:00 CEST
    ("t2", "2024-04-01 10:00", "status", "agent", "solved", "a3", "red"),         # 12:00 CEST
]
# T3: one reply and solved (one touch); T4: still open at as_of, solved only afterwards.
T3 = [("t3", "2024-03-06 10:00", "public_reply", "agent", None, "a1", None),
      ("t3", "2024-03-06 10:00", "status", "agent", "solved", "a1", None)]
T4 = [("t4", "2024-04-01 09:00", "status", "system", "new", None, None),
      ("t4", "2024-04-01 09:00", "customer_message", "customer", None, None, None),
      ("t4", "2024-04-01 10:00", "public_reply", "agent", None, "a1", None),
      ("t4", "2024-04-01 10:00", "status", "agent", "open", "a1", None),
      ("t4", "2024-04-01 10:30", "customer_message", "customer", None, None, None),
      ("t4", "2024-04-03 10:00", "status", "agent", "solved", "a1", None)]
AS_OF = "2024-04-01 12:00"
#: The hand-computed tickets t1-t4 (their events above) and t5, which has no events.
TICKET_ROWS = [
    ("t1", "2024-03-04 09:00", "2024-03-04 11:00", "2024-03-05 12:00", 3, 1),
    ("t2", "2024-03-29 15:00", "2024-04-01 07:30", "2024-04-01 10:00", 2, 0),
    ("t3", "2024-03-06 09:30", "2024-03-06 10:00", "2024-03-06 10:00", 1, 0),
    ("t4", "2024-04-01 09:00", "2024-04-01 10:00", "2024-04-03 10:00", 1, 0),
    ("t5", "2024-03-10 09:00", None, None, 0, 0)]


@pytest.fixture(scope="module")
def ds() -> Dataset:
    tickets = _tickets(TICKET_ROWS)
    return validate(Dataset(tickets=tickets, ticket_events=_events(T1 + T2 + T3 + T4)))


def test_hand_computed_lifecycle_in_calendar_hours(ds):
    lc = ticket_lifecycle(ds, as_of=AS_OF)
    assert list(lc.columns) == list(LIFECYCLE_COLUMNS) and lc["ticket_id"].tolist() == ["t1", "t2", "t3", "t4"]
    t1 = lc.iloc[0]
    assert t1["status"] == "closed"
    assert (t1.requester_wait_h, t1.agent_wait_h, t1.on_hold_h) == pytest.approx((9.0, 2.0, 2.0))
    assert (t1.first_resolution_h, t1.full_resolution_h) == pytest.approx((8.0, 27.0))
    assert (t1.next_reply_h_median, t1.next_reply_count) == (pytest.approx(2.5), 2)
    assert (t1.agent_replies, t1.reopens, t1.first_reopened_at) == (3, 1, pd.Timestamp("2024-03-05 09:00", tz=UTC))
    assert (t1.assignee_stations, t1.group_stations, t1.handoffs, t1.one_touch) == (2, 2, 2, False)
    t2 = lc.iloc[1]   # 64.5 h open over the weekend, 0.5 h pending, 2 h open again
    assert (t2.requester_wait_h, t2.agent_wait_h, t2.full_resolution_h) == pytest.approx((66.5, 0.5, 67.0))
    assert (t2.next_reply_h_median, t2.next_reply_count, t2.one_touch) == (pytest.approx(1.0), 1, False)
    t3 = lc.iloc[2]   # new for 30 minutes until the reply that solved it
    assert (t3.requester_wait_h, t3.full_resolution_h, t3.one_touch, t3.next_reply_count) == (0.5, 0.5, True, 0)
    assert np.isnan(t3.next_reply_h_median) and (t3.assignee_stations, t3.group_stations, t3.handoffs) == (0, 0, 0)
    t4 = lc.iloc[3]   # open at as_of: its clock runs to 12:00, the solve on 3 April is not known yet
    assert (t4.status, t4.requester_wait_h, t4.one_touch) == ("open", 3.0, False)
    assert np.isnan(t4.first_resolution_h) and np.isnan(t4.full_resolution_h) and t4.next_reply_count == 0
    assert pd.isna(t4.first_reopened_at) and str(lc["first_reopened_at"].dtype) == "datetime64[ns, UTC]"


def test_hand_computed_lifecycle_in_business_hours_across_a_weekend_and_dst(ds):
    cal = BusinessCalendar(start="09:00", end="17:00", tz="Europe/Berlin")
    lc = ticket_lifecycle(ds, calendar=cal, as_of=AS_OF).set_index("ticket_id")
    # T1 in Berlin (CET): new 10-11 (1 h), open 11-12 (1), pending 12-14 (2), open 14-16 (2), on hold 16-18
    # (1 h before closing), solved overnight, open again Tue 10-13 (3)
    t1 = lc.loc["t1"]
    assert (t1.requester_wait_h, t1.agent_wait_h, t1.on_hold_h) == pytest.approx((1 + 1 + 2 + 1 + 3, 2.0, 1.0))
    assert (t1.first_resolution_h, t1.full_resolution_h) == pytest.approx((7.0, 7.0 + 4.0))
    t2 = lc.loc["t2"]   # Fri 16-17 CET (1) + Mon 09:00-09:30 CEST (0.5); pending 0.5; open 10-12 CEST (2)
    assert (t2.requester_wait_h, t2.agent_wait_h, t2.full_resolution_h) == pytest.approx((3.5, 0.5, 4.0))
    assert t2.next_reply_h_median == pytest.approx(1.0)


def test_events_after_as_of_are_ignored_and_tickets_without_events_have_no_row(ds):
    early = ticket_lifecycle(ds, as_of="2024-03-04 16:00").set_index("ticket_id")
    assert early.index.tolist() == ["t1"]
    t1 = early.loc["t1"]   # on hold since 15:00; not solved yet
    assert (t1.status, t1.requester_wait_h, t1.on_hold_h, t1.agent_replies) == ("on_hold", 5.0, 1.0, 2)
    assert np.isnan(t1.first_resolution_h) and t1.handoffs == 1 and t1.next_reply_count == 1


def test_default_as_of_is_the_observation_end_and_no_events_is_refused(ds):
    lc = ticket_lifecycle(ds).set_index("ticket_id")
    assert lc.loc["t4", "status"] == "solved" and lc.loc["t4", "full_resolution_h"] == pytest.approx(49.0)
    with pytest.raises(InsufficientDataError, match="no ticket_events"):
        ticket_lifecycle(replace(ds, ticket_events=empty_frame("ticket_events")))


def test_the_hand_computed_tickets_agree_with_their_own_fields(ds):
    about_tickets = ds.quality[ds.quality["table"] == "tickets"]
    assert about_tickets["action"].tolist() == ["info"] and about_tickets["rule"].iloc[0].startswith("no ticket_events")
    assert about_tickets["example_rows"].iloc[0] == "5"    # t5


# --------------------------------------------------------------------------- backlog
def test_backlog_by_day_and_age_from_events(ds):
    b = backlog(ds, freq="D", age_buckets=(1, 3), as_of="2024-03-07")
    wide = b.pivot(index="period", columns="age_bucket", values="open_tickets")[["0-1d", "1-3d", "3d+"]]
    # end of 4 March: t1 pending->open->hold->solved at 17:00: not open. 5 March: reopened, solved at 12:00.
    # 6 March: t3 created 09:30 and solved 10:00 (not open at midnight)
    assert wide.loc["2024-03-04"].tolist() == [0, 0, 0] and wide.loc["2024-03-06"].tolist() == [0, 0, 0]
    at_noon = backlog(ds, freq="D", age_buckets=(1, 3), as_of="2024-03-07", tz="Asia/Tokyo")  # day ends 15:00 UTC
    wide = at_noon.pivot(index="period", columns="age_bucket", values="open_tickets")[["0-1d", "1-3d", "3d+"]]
    assert wide.loc["2024-03-04"].tolist() == [1, 0, 0]   # t1 on hold at 15:00 UTC, 6 h old
    assert wide.loc["2024-03-05"].tolist() == [0, 0, 0]   # solved at 12:00 UTC
    assert list(b.columns) == ["period", "age_bucket", "open_tickets"] and b["open_tickets"].dtype == np.int64


def test_backlog_without_events_uses_created_and_resolved_and_groups(ds):
    plain = replace(ds, ticket_events=empty_frame("ticket_events"))
    b = backlog(plain, freq="W", by="channel", age_buckets=(7,), as_of="2024-04-08")
    assert list(b.columns) == ["period", "channel", "age_bucket", "open_tickets"]
    wide = b.pivot(index="period", columns="age_bucket", values="open_tickets")[["0-7d", "7d+"]]
    # weeks end on Monday midnight: 11 March: t5 (1 day old); 18 and 25 March: t5 older than 7 days;
    # 1 April 00:00: t2 (created Friday, resolved Monday 10:00) and t5
    assert wide.loc["2024-03-04"].tolist() == [1, 0] and wide.loc["2024-03-11"].tolist() == [0, 1]
    assert wide.loc["2024-03-25"].tolist() == [1, 1] and wide.loc["2024-04-01"].tolist() == [0, 1]
    with pytest.raises(ConfigError, match="age_buckets"):
        backlog(plain, age_buckets=(3, 1))


# --------------------------------------------------------------------------- properties
START = pd.Timestamp("2024-03-01", tz=UTC)
STATUSES = ("new", "open", "pending", "on_hold", "solved", "closed")
KINDS = ("status", "status", "public_reply", "customer_message", "internal_note", "assignment")


@st.composite
def histories(draw):
    """A few tickets with random event sequences (minutes after creation), validated."""
    n = draw(st.integers(1, 4))
    created = [START + pd.Timedelta(minutes=draw(st.integers(0, 3000))) for _ in range(n)]
    rows = []
    for i in range(n):
        for _ in range(draw(st.integers(1, 12))):
            kind = draw(st.sampled_from(KINDS))
            rows.append((f"t{i}", created[i] + pd.Timedelta(minutes=draw(st.integers(0, 6000))), kind,
                         "customer" if kind == "customer_message" else "agent",
                         draw(st.sampled_from(STATUSES)) if kind == "status" else None,
                         draw(st.sampled_from(["a1", "a2", None])), draw(st.sampled_from(["x", "y", None]))))
    events = pd.DataFrame(rows, columns=["ticket_id", "at", "kind", "actor", "status", "agent_id", "team"])
    events.insert(0, "event_id", [f"e{i}" for i in range(len(events))])
    tickets = empty_frame("tickets").reindex(range(n)).assign(
        ticket_id=[f"t{i}" for i in range(n)], customer_id="c", channel="chat", priority="normal",
        created_at=pd.DatetimeIndex(created), replies=0, reopens=0)
    return Dataset(tickets=tickets.astype({c: t for c, t in COLUMNS["tickets"].items()}),
                   ticket_events=events.assign(priority=None, body=None).astype(COLUMNS["ticket_events"]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=histories(), cut=st.integers(0, 9000), business=st.booleans())
def test_waits_never_exceed_the_time_the_ticket_has_existed(data, cut, business):
    cal = BusinessCalendar(tz="America/New_York") if business else None
    as_of = START + pd.Timedelta(minutes=cut)
    lc = ticket_lifecycle(data, calendar=cal, as_of=as_of)
    if lc.empty:
        return
    created = data.tickets.set_index("ticket_id").loc[lc["ticket_id"], "created_at"].reset_index(drop=True)
    alive = cal.hours_between(created, as_of) if cal else (as_of - created).dt.total_seconds() / 3600
    waits = lc["requester_wait_h"] + lc["agent_wait_h"]
    assert (lc["on_hold_h"] <= lc["requester_wait_h"] + 1e-9).all()
    assert (waits <= alive + 1e-9).all() and (lc[["requester_wait_h", "agent_wait_h"]] >= -1e-9).all().all()
    # a resolved ticket's waits fit in its full resolution: they are equal when it was never reopened
    done = lc["full_resolution_h"].notna()
    assert (waits[done] <= lc.loc[done, "full_resolution_h"] + 1e-9).all()
    never = done & (lc["reopens"] == 0)
    assert np.allclose(waits[never], lc.loc[never, "full_resolution_h"])
    assert (lc["first_resolution_h"].fillna(0) <= lc["full_resolution_h"].fillna(np.inf) + 1e-9).all()
    assert (lc["one_touch"] <= lc["status"].isin(["solved", "closed"])).all()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=histories(), cut=st.integers(0, 9000), business=st.booleans())
def test_as_of_truncation_equals_recomputing_on_the_events_up_to_as_of(data, cut, business):
    cal = BusinessCalendar(start="08:00", end="18:30", tz="Europe/London") if business else None
    as_of = START + pd.Timedelta(minutes=cut)
    events = data.ticket_events
    known = replace(data, ticket_events=events[events["at"] <= as_of].reset_index(drop=True))
    if known.ticket_events.empty:
        return
    pd.testing.assert_frame_equal(ticket_lifecycle(data, calendar=cal, as_of=as_of),
                                  ticket_lifecycle(known, calendar=cal, as_of=as_of))
    # what an export taken just after as_of holds gives the same figures
    pd.testing.assert_frame_equal(ticket_lifecycle(data.until(as_of + pd.Timedelta("1ns")), calendar=cal, as_of=as_of),
                                  ticket_lifecycle(known, calendar=cal, as_of=as_of))


# --------------------------------------------------------------------------- DuckDB cross-check
def _bench():
    """The benchmark module: its data generator and its SQL are the ones checked here."""
    import importlib.util
    import sys
    from pathlib import Path
    folder = Path(__file__).resolve().parents[1] / "benchmarks"
    if str(folder) not in sys.path:   # the benchmarks import their shared helpers (_memory) as scripts do
        sys.path.append(str(folder))
    path = folder / "bench_lifecycle.py"
    spec = importlib.util.spec_from_file_location("bench_lifecycle", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("as_of", ["2024-07-01 12:00", None])
def test_lifecycle_matches_the_duckdb_sql_of_the_benchmark(as_of):
    bench = _bench()
    ds = bench.make_dataset(3000, seed=5)
    assert not (validate(ds).quality["action"] == "flagged").any()   # the generated events agree with the tickets
    as_of = ds.observation_end() if as_of is None else pd.Timestamp(as_of, tz=UTC)
    ours = ticket_lifecycle(ds, as_of=as_of).set_index("ticket_id")
    sql = bench.duckdb_connection(ds).execute(bench.lifecycle_sql(as_of.isoformat())).df().set_index("ticket_id")
    assert len(ours) > 1000 and sorted(ours.index) == sorted(sql.index)
    sql = sql.reindex(ours.index)
    assert (ours["status"] == sql["status"]).all() and ours["status"].isin(["open", "pending"]).any()
    for column in ("requester_wait_h", "agent_wait_h", "on_hold_h", "first_resolution_h", "full_resolution_h",
                   "next_reply_h_median"):
        np.testing.assert_allclose(ours[column], sql[column].astype(float), rtol=1e-9, atol=1e-9, equal_nan=True,
                                   err_msg=column)
    for column in ("next_reply_count", "agent_replies", "reopens", "assignee_stations", "group_stations",
                   "handoffs", "one_touch"):
        assert (ours[column].to_numpy() == sql[column].to_numpy()).all(), column
    reopened = pd.to_datetime(sql["first_reopened_at"], utc=True).astype("datetime64[ns, UTC]")
    assert ours["first_reopened_at"].equals(reopened) and ours["reopens"].gt(0).any() and ours["handoffs"].gt(0).any()
