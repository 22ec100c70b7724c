"""Tests of slm_lib.events: the order of a ticket's events and the ticket fields they imply."""
from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from slm_lib.events import (EVENT_STATUSES, NAT_NS, _time_order, event_disagreements, event_history,
                            implied_fields)


def _events(rows):
    """rows: (ticket_id, minute, kind, actor, status)."""
    frame = pd.DataFrame(rows, columns=["ticket_id", "minute", "kind", "actor", "status"])
    frame["at"] = pd.Timestamp("2024-03-01", tz="UTC") + pd.to_timedelta(frame.pop("minute"), unit="min")
    return frame


def test_same_instant_order_is_message_reply_note_assignment_priority_status_then_table_order():
    e = _events([("a", 0, "status", "agent", "pending"), ("a", 0, "public_reply", "agent", None),
                 ("a", 0, "customer_message", "customer", None), ("a", 0, "status", "agent", "solved"),
                 ("b", -5, "status", "system", "new"), ("a", -1, "assignment", "system", None)])
    h = event_history(pd.DataFrame({"ticket_id": ["a", "b"]}), e)
    assert h.row.tolist() == [5, 2, 1, 0, 3, 4]
    assert implied_fields(h)["status"].tolist() == [EVENT_STATUSES.index("solved"), EVENT_STATUSES.index("new")]


def test_through_keeps_events_up_to_the_instant_and_unknown_tickets_are_left_out():
    e = _events([("a", 0, "status", "system", "new"), ("a", 10, "status", "agent", "open"),
                 ("zz", 1, "status", "agent", "open")])
    h = event_history(pd.DataFrame({"ticket_id": ["a"]}), e, through=pd.Timestamp("2024-03-01 00:10", tz="UTC").value)
    assert h.row.tolist() == [0, 1]
    h = event_history(pd.DataFrame({"ticket_id": ["a"]}), e, through=pd.Timestamp("2024-03-01 00:09", tz="UTC").value)
    assert h.row.tolist() == [0]


def test_implied_fields_of_a_reopened_ticket():
    e = _events([("a", 0, "customer_message", "customer", None), ("a", 5, "public_reply", "agent", None),
                 ("a", 5, "status", "agent", "solved"), ("a", 9, "public_reply", "system", None),
                 ("a", 60, "status", "customer", "open"), ("a", 90, "public_reply", "agent", None),
                 ("a", 90, "status", "agent", "solved"), ("a", 200, "status", "system", "closed")])
    f = implied_fields(event_history(pd.DataFrame({"ticket_id": ["a", "b"]}), e))
    minute = lambda m: (pd.Timestamp("2024-03-01", tz="UTC") + pd.Timedelta(minutes=m)).value  # noqa: E731
    assert f["has_events"].tolist() == [True, False]
    assert f["first_response_at"].tolist() == [minute(5), NAT_NS]
    assert f["resolved_at"].tolist() == [minute(90), NAT_NS]           # solved -> closed is not a new resolution
    assert f["replies"].tolist() == [2, 0] and f["reopens"].tolist() == [1, 0]
    then = implied_fields(event_history(pd.DataFrame({"ticket_id": ["a", "b"]}), e), before=minute(60))
    assert then["resolved_at"][0] == minute(5) and then["reopens"][0] == 0 and then["replies"][0] == 1
    reopened = implied_fields(event_history(pd.DataFrame({"ticket_id": ["a"]}), e), before=minute(61))
    assert reopened["resolved_at"][0] == NAT_NS                         # open again: unresolved


def test_closed_without_solved_is_a_resolution():
    e = _events([("a", 0, "status", "system", "new"), ("a", 30, "status", "system", "closed")])
    f = implied_fields(event_history(pd.DataFrame({"ticket_id": ["a"]}), e))
    assert f["resolved_at"][0] == (pd.Timestamp("2024-03-01", tz="UTC") + pd.Timedelta(minutes=30)).value


def test_disagreements_need_a_second_between_timestamps():
    created = pd.Timestamp("2024-03-01", tz="UTC")
    t = pd.DataFrame({"ticket_id": ["a", "b"], "replies": [1, 1], "reopens": [0, 0], "created_at": [created] * 2,
                      "first_response_at": [created + pd.Timedelta("5min 999ms"), created + pd.Timedelta("5min 1s")],
                      "resolved_at": pd.Series([pd.NaT, pd.NaT], dtype="datetime64[ns, UTC]")})
    e = _events([("a", 5, "public_reply", "agent", None), ("b", 5, "public_reply", "agent", None)])
    found, unchecked = event_disagreements(t, e)
    assert [(v.column, v.mask.tolist()) for v in found] == [("first_response_at", [False, True])]
    assert not unchecked.any()


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 50), st.integers(0, 5), st.booleans()),
                min_size=1, max_size=60))
def test_packed_sort_equals_lexsort(rows):
    ticket, seconds, rank, fraction = (np.array(c) for c in zip(*rows))
    at = seconds.astype(np.int64) * 10**9 + 1_700_000_000 * 10**9
    expected = np.lexsort((rank, at, ticket))
    assert _time_order(ticket.astype(np.int64), at, rank.astype(np.int64)).tolist() == expected.tolist()
    sub_second = at + fraction * 500_000_000          # the lexsort path
    assert _time_order(ticket.astype(np.int64), sub_second, rank.astype(np.int64)).tolist() == \
        np.lexsort((rank, sub_second, ticket)).tolist()
