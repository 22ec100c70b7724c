"""Tests of slm_lib.schema: declared rules and the vectorised checks."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slm_lib.config import SCALES
from slm_lib.checks import reference_violations, row_violations
from slm_lib.schema import (CHANNEL_SYNONYMS, CHANNELS, COLUMNS, DOMAINS, NON_NEGATIVE, NULLABLE, ORDER,
                            REFERENCES, TABLES, UNIQUE, empty_frame, isin, normalise_category,
                            normalise_channel)


def test_declared_rules_name_existing_columns():
    for table in TABLES:
        assert NULLABLE[table] <= set(COLUMNS[table])
    for table, key in UNIQUE.items():
        assert key in COLUMNS[table] and key not in NULLABLE[table]
    for table, columns in NON_NEGATIVE.items():
        assert all(COLUMNS[table][c] == "int64" for c in columns)
    for table, pairs in ORDER.items():
        assert all(COLUMNS[table][c] == "datetime64[ns, UTC]" for pair in pairs for c in pair)
    for source, column, target, target_column in REFERENCES:
        assert column in COLUMNS[source] and UNIQUE[target] == target_column
    assert set(CHANNEL_SYNONYMS.values()) <= set(CHANNELS)


def test_empty_frame_has_canonical_dtypes():
    for table in TABLES:
        frame = empty_frame(table)
        assert {c: str(t) for c, t in frame.dtypes.items()} == COLUMNS[table]


def test_normalise_channel_maps_only_documented_synonyms():
    values = pd.Series(["EMAIL", " e-mail ", "Mail", "LiveChat", "voice", "Portal", "Twitter",
                        "facebook", "fax", None, "Other"])
    assert normalise_channel(values).tolist()[:9] == ["email", "email", "email", "chat", "phone", "web",
                                                      "social", "social", "fax"]
    out = normalise_channel(values)
    assert pd.isna(out.iloc[9]) and out.iloc[10] == "other"
    assert str(out.dtype) == "str" and out.index.equals(values.index)


def test_normalise_category_keeps_index_and_missing():
    values = pd.Series([" HIGH", None, "Low"], index=[10, 20, 30])
    out = normalise_category(values)
    assert out.index.tolist() == [10, 20, 30]
    assert out.iloc[0] == "high" and pd.isna(out.iloc[1]) and out.iloc[2] == "low"


def test_isin_handles_missing_and_empty_sets():
    values = pd.Series(["a", None, "b"], dtype="str")
    assert isin(values, []).tolist() == [False, False, False]
    assert isin(values, pd.Index(["b"])).tolist() == [False, False, True]
    assert isin(pd.Series([], dtype="str"), ["a"]).tolist() == []


def tickets(**overrides) -> pd.DataFrame:
    created = pd.to_datetime(["2026-10-01T09:00Z", "2026-10-01T10:00Z", "2026-10-01T11:00Z"], utc=True)
    frame = pd.DataFrame({
        "ticket_id": ["t1", "t2", "t3"], "customer_id": ["c1", "c2", "c1"], "created_at": created,
        "first_response_at": created + pd.Timedelta("1h"), "resolved_at": created + pd.Timedelta("5h"),
        "channel": ["email", "chat", "web"], "priority": ["low", "normal", "high"],
        "agent_id": [None, "a", "b"], "team": [None, None, "x"], "replies": [1.0, 2.0, 0.0],
        "reopens": [0.0, 0.0, 1.0], "category": [None, None, None]})
    for column, value in overrides.items():
        frame[column] = value
    return frame


def test_valid_tickets_have_no_violations():
    assert row_violations("tickets", tickets()) == []


def test_row_violations_masks_are_positional():
    frame = tickets(replies=[1.0, -2.0, 0.5], channel=["email", "pigeon", None],
                    resolved_at=pd.to_datetime(["2026-09-01", None, "2026-10-02"], utc=True))
    found = {(v.column, v.rule): v.mask.tolist() for v in row_violations("tickets", frame)}
    assert found == {
        ("replies", "not an integer"): [False, False, True],
        ("replies", "negative value"): [False, True, False],
        ("channel", "missing value"): [False, False, True],
        ("channel", "unknown value(s) 'pigeon' (allowed: email, chat, phone, web, social, other)"):
            [False, True, False],
        ("resolved_at", "resolved_at before created_at"): [True, False, False],
    }


def test_unparsed_rows_are_not_reported_again_as_missing():
    frame = tickets(created_at=pd.to_datetime([None, "2026-10-01", None], utc=True))
    unparsed = {"created_at": np.array([True, False, False])}
    (v,) = [v for v in row_violations("tickets", frame, unparsed=unparsed) if v.rule == "missing value"]
    assert v.mask.tolist() == [False, False, True]


def test_duplicates_flag_later_occurrences():
    frame = tickets(ticket_id=["t1", "t1", "t1"])
    (v,) = row_violations("tickets", frame)
    assert (v.rule, v.mask.tolist()) == ("duplicate ticket_id", [False, True, True])


@pytest.mark.parametrize("survey_type", sorted(SCALES))
def test_score_range_by_type_and_scales_override(survey_type):
    low, high = SCALES[survey_type]
    frame = pd.DataFrame({"response_id": ["r1", "r2", "r3"], "customer_id": ["c"] * 3, "ticket_id": [None] * 3,
                          "submitted_at": pd.to_datetime(["2026-01-01"] * 3, utc=True),
                          "type": [survey_type] * 3, "score": [low - 1.0, float(high), high + 1.0],
                          "comment": [None] * 3})
    (v,) = row_violations("surveys", frame)
    assert v.rule == f"out of range for {survey_type} ({low}-{high})"
    assert v.mask.tolist() == [True, False, True]
    wide = dict(SCALES, **{survey_type: (low - 1, high + 1)})
    assert row_violations("surveys", frame, scales=wide) == []


def test_reference_violations_skip_unknown_tables():
    frame = pd.DataFrame({"response_id": ["r1", "r2"], "customer_id": ["c1", "c2"], "ticket_id": ["t1", None]})
    assert reference_violations("surveys", frame, {"customers": None, "tickets": None}) == []
    found = reference_violations("surveys", frame, {"customers": pd.Index(["c1"]),
                                                     "tickets": pd.Index(["t2"])})
    assert [(v.column, v.rule, v.mask.tolist()) for v in found] == [
        ("customer_id", "customer_id not in customers", [False, True]),
        ("ticket_id", "ticket_id not in tickets", [True, False])]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.sampled_from(list(DOMAINS["tickets"]["priority"]) + ["p1", "crit"]), min_size=1, max_size=40))
def test_domain_violation_count_equals_unknown_values(values):
    frame = tickets().iloc[:0].reindex(range(len(values)))
    frame["priority"] = pd.Series(values, dtype="str")
    found = [v for v in row_violations("tickets", frame) if v.column == "priority"]
    n_unknown = sum(v not in DOMAINS["tickets"]["priority"] for v in values)
    assert sum(v.n_rows for v in found) == n_unknown


def test_event_rules_status_required_for_status_events_and_not_before_the_ticket():
    from slm_lib.checks import cross_order_violations
    events = pd.DataFrame({"event_id": ["e1", "e2", "e3"], "ticket_id": ["t1", "t1", "t2"], "kind": [
        "status", "public_reply", "status"], "actor": ["agent"] * 3, "status": [None, None, "Open".lower()],
        "at": pd.to_datetime(["2026-10-01T10:00Z", "2026-10-01T08:59Z", "2026-10-01T10:00Z"], utc=True)})
    (v,) = row_violations("ticket_events", events)
    assert (v.column, v.rule, v.mask.tolist()) == ("status", "missing value where kind is 'status'",
                                                   [True, False, False])
    (v,) = cross_order_violations("ticket_events", events, {"tickets": tickets()})
    assert (v.column, v.rule, v.mask.tolist()) == ("at", "at before the ticket's created_at", [False, True, False])
