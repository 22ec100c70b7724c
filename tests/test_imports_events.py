"""Ticket histories from vendor exports into ``ticket_events`` (SPEC §3, §10): the engine's list
explosion, templates and column comparisons, and the exact canonical events of the Zendesk (audits
and incremental events), Intercom (conversation parts), Jira (changelog and comments) and Freshdesk
(conversations) mappings, which validate against the tickets of the same export."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from slm_lib.errors import MappingError
from slm_lib.io.imports import read_export
from slm_lib.io.imports.mapping import validate_mapping
from slm_lib.io.imports.readers import explode_records

EXPORTS = Path(__file__).parent / "fixtures" / "exports"
ZENDESK = sorted((EXPORTS / "zendesk").iterdir())
AUDITS = EXPORTS / "zendesk_events" / "ticket_audits.json"
INCREMENTAL = [EXPORTS / "zendesk_events" / "ticket_events.json", EXPORTS / "zendesk_events" / "users.json"]
INTERCOM = [EXPORTS / "intercom_events" / "conversations.json"]
JIRA = [EXPORTS / "jira" / "jira_requests.json", EXPORTS / "jira_events" / "issues.json"]
FRESHDESK = [EXPORTS / "freshdesk" / "tickets.csv", EXPORTS / "freshdesk" / "satisfaction_ratings.json",
             EXPORTS / "freshdesk_events" / "conversations.json"]


def compact(events: pd.DataFrame) -> list[str]:
    """One readable line per event: id, ticket, time, kind, actor, then status / priority / assignee / team."""
    lines = []
    for r in events.itertuples():
        value = r.status if r.kind == "status" else r.priority if r.kind == "priority" else None
        parts = [r.event_id, r.ticket_id, r.at.strftime("%m-%d %H:%M:%S"), r.kind, r.actor,
                 value if pd.notna(value) else None,
                 f"agent={r.agent_id}" if pd.notna(r.agent_id) else None,
                 f"team={r.team}" if pd.notna(r.team) else None]
        lines.append(" ".join(p for p in parts if p))
    return lines


# --------------------------------------------------------------------------- engine
def test_explode_nested_lists_keeps_record_columns_and_numbers():
    issues = pd.DataFrame({"key": ["A-1", "A-2", "A-3"], "_row": [1, 2, 3],
                           "histories": [[{"id": 7, "items": [{"field": "status"}, {"field": "assignee"}]}],
                                         [], [{"id": 9, "items": [{"field": "priority"}]}]]})
    rows = explode_records(explode_records(issues, "histories"), "histories.items")
    assert rows[["key", "_row", "histories.id", "histories.items.field"]].values.tolist() == [
        ["A-1", 1, 7, "status"], ["A-1", 1, 7, "assignee"], ["A-3", 3, 9, "priority"]]
    assert explode_records(issues, "comments") is None


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 9), max_size=4), max_size=6))
def test_explode_gives_one_row_per_element_in_order(lists):
    frame = pd.DataFrame({"id": range(len(lists)), "items": [[{"v": v} for v in xs] for xs in lists]})
    rows = explode_records(frame, "items")
    assert rows["id"].tolist() == [i for i, xs in enumerate(lists) for _ in xs]
    if len(rows):
        assert rows["items.v"].tolist() == [v for xs in lists for v in xs]


EVENTS_MAPPING = {"name": "mine", "tables": {"ticket_events": {
    "files": "hist*.json", "format": "json", "records": "issues", "explode": "changes",
    "where": [{"column": "changes.by", "not_same_as": "reporter"}],
    "fields": {"event_id": {"template": "{key}:{changes.n}"}, "ticket_id": "key", "at": "changes.at",
               "kind": {"value": "status"}, "actor": {"value": "agent"}, "status": "changes.to"}}}}


def test_template_ids_and_column_comparison(tmp_path):
    (tmp_path / "hist.json").write_text(json.dumps({"issues": [
        {"key": "T1", "reporter": "ann", "changes": [{"n": 1, "by": "joe", "at": "2024-03-01T10:00:00Z", "to": "open"},
                                                      {"n": 2, "by": "ann", "at": "2024-03-01T11:00:00Z", "to": "open"},
                                                      {"n": 3, "by": "joe", "at": "2024-03-01T12:00:00Z", "to": "solved"}]},
        {"key": "T2", "reporter": None, "changes": [{"n": 1, "by": "joe", "at": "2024-03-02T10:00:00Z", "to": "open"}]},
    ]}))
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump(EVENTS_MAPPING))
    ev = read_export(tmp_path / "mine.yaml", [tmp_path / "hist.json"]).ticket_events
    assert compact(ev) == ["T1:1 T1 03-01 10:00:00 status agent open", "T1:3 T1 03-01 12:00:00 status agent solved",
                           "T2:1 T2 03-02 10:00:00 status agent open"]    # no reporter: not the reporter


@pytest.mark.parametrize("change, match", [
    ({"explode": {"column": "changes", "optinal": True}}, r"explode\[0\]: unknown key\(s\) 'optinal'"),
    ({"explode": 3}, r"explode\[0\]: explode names a list column"),
    ({"fields": {**EVENTS_MAPPING["tables"]["ticket_events"]["fields"], "event_id": {"template": "key"}}},
     r"fields.event_id: a template is text naming columns in braces"),
    ({"fields": {**EVENTS_MAPPING["tables"]["ticket_events"]["fields"], "event_id": {"template": "{key}", "column": "key"}}},
     r"fields.event_id: give exactly one of 'column', 'value', 'template'"),
    ({"where": [{"column": "changes.by", "same_as": ["reporter"]}]}, r"where\[0\]: 'same_as' names another column"),
    ({"fields": {"ticket_id": "key", "at": "changes.at"}}, r"required ticket_events field\(s\) not mapped: event_id, kind, actor"),
])
def test_bad_events_mapping_is_rejected(change, match):
    block = {**EVENTS_MAPPING["tables"]["ticket_events"], **change}
    with pytest.raises(MappingError, match=match):
        validate_mapping({"name": "mine", "tables": {"ticket_events": block}}, "mine.yaml")


def test_explode_of_a_missing_list_names_the_file_and_closest_columns(tmp_path):
    (tmp_path / "hist.json").write_text(json.dumps({"issues": [{"key": "T1", "reporter": "ann", "changelog": []}]}))
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump(EVENTS_MAPPING))
    with pytest.raises(MappingError, match=r"hist.json: column 'changes' named by the mapping is not in the file; "
                                           r"closest columns: 'changelog'"):
        read_export(tmp_path / "mine.yaml", [tmp_path / "hist.json"])


