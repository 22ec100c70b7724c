"""Tests of slm_lib.metrics.sla_events (SLA clocks timed by ticket events) through slm_lib.metrics.sla."""
from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slm_lib.calendar import BusinessCalendar
from slm_lib.config import DEFAULT_SLA_TARGETS
from slm_lib.errors import ConfigError
from slm_lib.io.dataset import Dataset
from slm_lib.io.load import validate
from slm_lib.metrics.lifecycle import lifecycle
from slm_lib.metrics.sla import event_sla_codes, sla_compliance, validate_targets
from slm_lib.metrics.sla_events import priority_codes
from slm_lib.schema import empty_frame
from test_lifecycle import START, histories

AS_OF = pd.Timestamp("2024-03-04 20:00", tz="UTC")

# Monday 4 March 2024, UTC. (ticket, at, kind, actor, status, priority)
# A: created normal, made urgent at 10:00 (its priority today); replies 11:30 and 13:30, solved 13:30.
#    requester wait: new 09:00-11:30 + open 12:00-13:30 = 4 h; next reply 12:00 -> 13:30 = 1.5 h under urgent
A = [("A", "09:00", "status", "system", "new", None), ("A", "09:00", "customer_message", "customer", None, None),
     ("A", "09:00", "priority", "system", None, "normal"), ("A", "10:00", "priority", "agent", None, "urgent"),
     ("A", "11:30", "public_reply", "agent", None, None), ("A", "11:30", "status", "agent", "pending", None),
     ("A", "12:00", "customer_message", "customer", None, None), ("A", "12:00", "status", "customer", "open", None),
     ("A", "13:30", "public_reply", "agent", None, None), ("A", "13:30", "status", "agent", "solved", None)]
# B (normal): pending 10:00-15:00 (the requester's clock pauses), on hold 16:00-18:00 (it runs), solved 18:00.
#    requester wait 1 + 1 + 2 = 4 h, agent work 2 h; next reply 15:00 -> 16:00 = 1 h
B = [("B", "09:00", "status", "system", "new", None), ("B", "09:00", "customer_message", "customer", None, None),
     ("B", "10:00", "public_reply", "agent", None, None), ("B", "10:00", "status", "agent", "pending", None),
     ("B", "15:00", "customer_message", "customer", None, None), ("B", "15:00", "status", "customer", "open", None),
     ("B", "16:00", "public_reply", "agent", None, None), ("B", "16:00", "status", "agent", "on_hold", None),
     ("B", "18:00", "status", "agent", "solved", None)]
# C (normal): a thank-you at 10:00 answered by solving at 10:15 (next reply 0.25 h, stopped by the resolution);
#    reopened by a message at 12:00 that nobody answers by 20:00 (8 h running). Requester wait 0.5 + 0.25 + 8.
C = [("C", "09:00", "status", "system", "new", None), ("C", "09:00", "customer_message", "customer", None, None),
     ("C", "09:30", "public_reply", "agent", None, None), ("C", "09:30", "status", "agent", "pending", None),
     ("C", "10:00", "customer_message", "customer", None, None), ("C", "10:00", "status", "customer", "open", None),
     ("C", "10:15", "status", "agent", "solved", None),
     ("C", "12:00", "customer_message", "customer", None, None), ("C", "12:00", "status", "customer", "open", None)]
# D (normal): created 19:00, nothing else by 20:00: every clock pending.
D = [("D", "19:00", "status", "system", "new", None), ("D", "19:00", "customer_message", "customer", None, None)]

TARGETS = {"first_response": {"urgent": 1, "normal": 4}, "resolution": {"urgent": 2, "normal": 8},
           "next_reply": {"urgent": 1, "normal": 4}, "requester_wait": {"urgent": 2, "normal": 4.5},
           "agent_work": {"urgent": 2, "normal": 3}}


def _dataset(rows, tickets) -> Dataset:
    """Events from ``rows`` on 4 March; ``tickets``: (id, created, first_response, resolved, priority, replies, reopens)."""
    day = lambda hm: pd.Timestamp(f"2024-03-04 {hm}", tz="UTC") if hm else pd.NaT  # noqa: E731
    events = pd.DataFrame(rows, columns=["ticket_id", "at", "kind", "actor", "status", "priority"])
    events["at"] = pd.DatetimeIndex([day(t) for t in events["at"]])
    events.insert(0, "event_id", [f"e{i}" for i in range(len(events))])
    frame = empty_frame("tickets").reindex(range(len(tickets)))
    ids, created, first, resolved, priority, replies, reopens = zip(*tickets)
    frame = frame.assign(ticket_id=ids, customer_id="c1", channel="email", priority=priority,
                         created_at=pd.DatetimeIndex([day(t) for t in created]),
                         first_response_at=pd.DatetimeIndex([day(t) for t in first]),
                         resolved_at=pd.DatetimeIndex([day(t) for t in resolved]), replies=replies, reopens=reopens)
    ds = validate(Dataset(tickets=frame, ticket_events=events.assign(agent_id=None, team=None, body=None)))
    assert not (ds.quality["action"] == "flagged").any()     # the tickets agree with their events
    return replace(ds, as_of=AS_OF)


@pytest.fixture(scope="module")
def ds() -> Dataset:
    return _dataset(A + B + C + D, [("A", "09:00", "11:30", "13:30", "urgent", 2, 0),
                                    ("B", "09:00", "10:00", "18:00", "normal", 2, 0),
                                    ("C", "09:00", "09:30", None, "normal", 1, 1),
                                    ("D", "19:00", None, None, "normal", 0, 0)])


def _counts(table: pd.DataFrame, target: str) -> dict[str, list[int]]:
    part = table[table["target"] == target].set_index("priority")
    return {p: part.loc[p, ["achieved", "breached", "pending"]].tolist() for p in part.index}


def test_hand_computed_compliance_with_a_priority_changed_after_the_clock_started(ds):
    c = sla_compliance(ds, TARGETS)
    assert c["target"].unique().tolist() == list(TARGETS)
    # A was created normal: its first response (2.5 h), resolution (4.5 h) and requester wait (4 h) are judged
    # against normal targets though it is urgent today; its next reply started at 12:00 under urgent: 1.5 h > 1 h.
    assert _counts(c, "first_response") == {"urgent": [0, 0, 0], "normal": [3, 0, 1], "all": [3, 0, 1]}
    assert _counts(c, "resolution") == {"urgent": [0, 0, 0], "normal": [1, 2, 1], "all": [1, 2, 1]}
    assert _counts(c, "next_reply") == {"urgent": [0, 1, 0], "normal": [2, 1, 0], "all": [2, 2, 0]}
    # requester wait: A 4 h and B 4 h (its 5 h in pending paused the clock) within 4.5 h; C 8.75 h running
    assert _counts(c, "requester_wait") == {"urgent": [0, 0, 0], "normal": [2, 1, 1], "all": [2, 1, 1]}
    # agent work also pauses on hold: B 2 h within 3 h, A 4 h not
    assert _counts(c, "agent_work") == {"urgent": [0, 0, 0], "normal": [1, 2, 1], "all": [1, 2, 1]}
    everything = c.set_index(["target", "priority"])
    assert everything.loc[("next_reply", "all"), "n"] == 4 and everything.loc[("next_reply", "all"), "value"] == 50.0


def test_the_clocks_hold_the_hand_computed_hours_and_priorities(ds):
    lc = lifecycle(ds, as_of=AS_OF)
    priority, judged = event_sla_codes(lc, ds.tickets, ds.ticket_events, TARGETS)
    assert [["low", "normal", "high", "urgent"][p] for p in priority] == ["normal"] * 4
    nr, codes = judged["next_reply"]
    assert (nr.elapsed / lc.unit).tolist() == [1.5, 1.0, 0.25, 8.0] and nr.stopped.tolist() == [True, True, True, False]
    assert nr.ticket.tolist() == [0, 1, 2, 2] and nr.priority.tolist() == [3, 1, 1, 1] and codes.tolist() == [1, 0, 0, 1]
    rw, codes = judged["requester_wait"]
    assert (rw.elapsed / lc.unit).tolist() == [4.0, 4.0, 8.75, 1.0] and codes.tolist() == [0, 0, 1, 2]
    assert (judged["agent_work"][0].elapsed / lc.unit).tolist() == [4.0, 2.0, 8.75, 1.0]


def test_business_hours_and_without_events(ds):
    c = sla_compliance(ds, TARGETS, calendar=BusinessCalendar(start="09:00", end="17:00"))
    # C's unanswered message has waited 12:00-17:00 (5 business hours > 4); D arrived after hours (0 h).
    # B's hold 16:00-18:00 is 1 business hour: requester wait 3 h, agent work 2 h.
    assert _counts(c, "next_reply")["all"] == [2, 2, 0]
    assert _counts(c, "requester_wait")["all"] == [2, 1, 1] and _counts(c, "agent_work")["all"] == [1, 2, 1]
    plain = sla_compliance(replace(ds, ticket_events=empty_frame("ticket_events")), TARGETS)
    assert plain["target"].unique().tolist() == ["first_response", "resolution"]   # event targets skipped
    assert _counts(plain, "first_response")["urgent"] == [0, 1, 0]               # A judged as urgent: 2.5 h > 1 h
    assert sla_compliance(ds.tickets, TARGETS, as_of=AS_OF)["target"].unique().tolist() == ["first_response",
                                                                                           "resolution"]


def test_a_clock_exactly_at_its_target_is_achieved():
    # 65 minutes of requester wait against a 65/60 h target (65/60 * 3.6e12 is not a whole number)
    rows = [("E", "09:00", "status", "system", "new", None), ("E", "09:00", "customer_message", "customer", None, None),
            ("E", "10:05", "public_reply", "agent", None, None), ("E", "10:05", "status", "agent", "solved", None)]
    ds = _dataset(rows, [("E", "09:00", "10:05", "10:05", "normal", 1, 0)])
    c = sla_compliance(ds, {"requester_wait": {"normal": 65 / 60}, "first_response": {"normal": 65 / 60}})
    assert _counts(c, "requester_wait")["all"] == [1, 0, 0] == _counts(c, "first_response")["all"]


def test_priority_codes_and_target_validation():
    assert priority_codes(pd.Series(["high", None, "p2"], dtype="str")).tolist() == [2, 1, -1]
    assert validate_targets({"next_reply": {"urgent": 2}}) == {"next_reply": {"urgent": 2.0}}
    assert {"next_reply", "requester_wait"} <= set(DEFAULT_SLA_TARGETS)
    with pytest.raises(ConfigError, match="unknown target 'periodic_update'.*agent_work"):
        validate_targets({"periodic_update": {"urgent": 2}})


# --------------------------------------------------------------------------- properties
EVENT_ONLY = {"next_reply": {"normal": 1.5}, "requester_wait": {"normal": 20}, "agent_work": {"normal": 10}}


def _event_rows(data: Dataset, as_of: pd.Timestamp, calendar=None) -> pd.DataFrame:
    return sla_compliance(data, EVENT_ONLY, as_of=as_of, calendar=calendar).query("priority == 'all'")


@settings(max_examples=50, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=histories(), cut=st.integers(0, 9000), later=st.integers(1, 3000), business=st.booleans())
def test_events_after_as_of_change_nothing_and_breaches_never_heal(data, cut, later, business):
    cal = BusinessCalendar(tz="Europe/Paris") if business else None
    as_of = START + pd.Timedelta(minutes=cut)
    events = data.ticket_events
    known = replace(data, ticket_events=events[events["at"] <= as_of].reset_index(drop=True))
    if known.ticket_events.empty:
        return
    now = _event_rows(data, as_of, cal).reset_index(drop=True)
    pd.testing.assert_frame_equal(now, _event_rows(known, as_of, cal).reset_index(drop=True))
    after = _event_rows(data, as_of + pd.Timedelta(minutes=later), cal).reset_index(drop=True)
    assert (after["breached"].to_numpy() >= now["breached"].to_numpy()).all()
    clocks = now.set_index("target")[["achieved", "breached", "pending"]].sum(axis=1)
    assert (after.set_index("target")[["achieved", "breached", "pending"]].sum(axis=1) >= clocks).all()
