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

from slm_lib.errors import DataValidationError, MappingError
from slm_lib.io.imports import import_exports, read_export
from slm_lib.io.imports.mapping import validate_mapping
from slm_lib.io.imports.readers import explode_records
from slm_lib.io.load import load_data, validate

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


# --------------------------------------------------------------------------- Zendesk
ZENDESK_EVENTS = [
    # 101: email from Ann; Agent One asks, waits (pending), Ann answers (open), solved with a private note
    "2001 101 03-01 09:00:00 customer_message customer",
    "2002 101 03-01 09:00:00 status customer new",
    "2003 101 03-01 09:00:00 priority customer high",
    "2005 101 03-01 09:00:00 assignment customer team=20",
    "2007 101 03-01 10:30:00 public_reply agent agent=501",
    "2008 101 03-01 10:30:00 assignment agent agent=501",
    "2009 101 03-01 10:30:00 status agent pending",
    "2010 101 03-01 15:00:40 customer_message customer",
    "2011 101 03-01 15:00:40 status customer open",
    "2012 101 03-02 10:00:00 internal_note agent agent=501",
    "2013 101 03-02 10:00:00 status agent solved",
    # 102: on hold (Zendesk "hold") waiting for a vendor, solved, closed by an automation (author -1)
    "2014 102 03-02 14:30:00 customer_message customer",
    "2015 102 03-02 14:30:00 status customer new",
    "2016 102 03-02 14:30:00 assignment customer team=21",
    "2018 102 03-02 15:00:00 public_reply agent agent=502",
    "2019 102 03-02 15:00:00 assignment agent agent=502",
    "2020 102 03-02 15:00:00 status agent on_hold",
    "2021 102 03-02 16:00:00 public_reply agent agent=502",
    "2022 102 03-02 16:00:00 status agent open",
    "2023 102 03-02 16:30:00 status agent solved",
    "2024 102 03-06 17:00:00 status system closed",
    "2025 103 03-03 10:00:00 customer_message customer",
    "2026 103 03-03 10:00:00 status customer new",
    "2027 103 03-03 10:00:00 priority customer urgent",
    "2028 103 03-03 10:00:00 assignment customer team=20",
    "2029 103 03-03 10:05:00 internal_note agent agent=501",
    "2030 103 03-03 10:05:00 status agent open",
    # 105 was merged into 102: its history is read, and dropped when imported into a directory
    "2031 105 03-03 12:00:00 customer_message customer",
    "2032 105 03-03 12:00:00 status customer new",
    "2033 105 03-03 12:30:00 internal_note agent agent=502",
    "2034 105 03-03 12:30:00 status agent closed",
    # 106: a call logged by Agent One, so the opening comment is the customer's request; solved,
    # reopened by Cy, handed to Agent Two / group 21 with priority high, back to Agent One, solved
    "2035 106 03-04 08:00:00 customer_message customer",
    "2036 106 03-04 08:00:00 status agent new",
    "2037 106 03-04 08:00:00 priority agent low",
    "2038 106 03-04 08:00:00 assignment agent agent=501",
    "2039 106 03-04 08:00:00 assignment agent team=20",
    "2040 106 03-04 08:45:00 public_reply agent agent=501",
    "2041 106 03-04 08:45:00 status agent solved",
    "2042 106 03-04 12:00:00 customer_message customer",
    "2043 106 03-04 12:00:00 status customer open",
    "2044 106 03-04 13:00:00 public_reply agent agent=501",
    "2045 106 03-04 13:00:00 status agent pending",
    "2046 106 03-04 13:00:00 assignment agent agent=502",
    "2047 106 03-04 13:00:00 assignment agent team=21",
    "2054 106 03-04 13:00:00 priority agent high",
    "2048 106 03-04 16:00:00 customer_message customer",
    "2049 106 03-04 16:00:00 status customer open",
    "2050 106 03-05 08:00:00 public_reply agent agent=502",
    "2051 106 03-05 08:00:00 assignment agent agent=501",
    "2052 106 03-05 08:00:00 assignment agent team=20",
    "2053 106 03-05 08:00:00 status agent solved",
    "2055 106 03-05 08:00:00 priority agent low",
    "2056 107 03-05 12:00:00 customer_message customer",
    "2057 107 03-05 12:00:00 status customer new",
    "2058 107 03-05 12:00:00 assignment customer team=21",
    "2059 107 03-05 12:00:00 priority customer normal",
    "2060 107 03-05 12:15:00 public_reply agent agent=502",
    "2061 107 03-05 12:15:00 assignment agent agent=502",
    "2062 107 03-05 12:15:00 status agent pending",
]


def test_zendesk_audits_exact_events():
    ev = read_export("zendesk", ZENDESK + [AUDITS]).ticket_events
    assert compact(ev) == ZENDESK_EVENTS     # subject, tags and notification events give no row
    body = ev.set_index("event_id")["body"]
    assert body["2010"] == "It is INV-2024-0211." and body["2012"] == "Credit note issued in the billing system."
    assert ev.loc[ev["kind"].isin(["status", "assignment", "priority"]), "body"].isna().all()
    assert ev.loc[ev["kind"] != "priority", "priority"].isna().all()   # not the tickets' default "normal"


def test_zendesk_incremental_events_equal_the_audits_of_the_same_history():
    """The Incremental Ticket Event Export (child_events carrying the field they set, comments side-loaded
    with include=comment_events, users from the incremental user export) gives the same rows."""
    audits = read_export("zendesk", ZENDESK + [AUDITS]).ticket_events
    incremental = read_export("zendesk", ZENDESK + INCREMENTAL).ticket_events
    pd.testing.assert_frame_equal(incremental, audits)
    both = read_export("zendesk", ZENDESK + [AUDITS] + INCREMENTAL)
    pd.testing.assert_frame_equal(both.ticket_events, audits)      # same ids: importing both adds nothing


def test_zendesk_users_may_come_from_a_users_file(tmp_path):
    doc = json.loads(AUDITS.read_text())
    users = {"users": doc.pop("users")}
    (tmp_path / "ticket_audits.json").write_text(json.dumps(doc))
    (tmp_path / "users.json").write_text(json.dumps(users))
    apart = read_export("zendesk", ZENDESK + [tmp_path / "ticket_audits.json", tmp_path / "users.json"])
    pd.testing.assert_frame_equal(apart.ticket_events, read_export("zendesk", ZENDESK + [AUDITS]).ticket_events)
    with pytest.raises(MappingError, match=r"ticket_audits.json: no 'users' records with 'id' to join on"):
        read_export("zendesk", ZENDESK + [tmp_path / "ticket_audits.json"])
    users["users"] = [u for u in users["users"] if u["id"] != 502]
    (tmp_path / "users.json").write_text(json.dumps(users))
    with pytest.raises(DataValidationError, match=r"value\(s\) not in the mapping's map: '502'"):
        read_export("zendesk", ZENDESK + [tmp_path / "ticket_audits.json", tmp_path / "users.json"])


def test_zendesk_import_validates_and_agrees_with_the_tickets(tmp_path):
    summary = import_exports("zendesk", ZENDESK + [AUDITS], tmp_path).set_index("part")
    # the merged-away ticket 105: 2 field changes, 1 request, 1 note dropped with it
    assert summary.loc[summary["table"].eq("ticket_events"), "dropped_unknown_ticket"].to_dict() == {
        "audits, field changes": 2, "audits, public comments": 0, "audits, requests": 1, "audits, internal notes": 1}
    ds = load_data(tmp_path)
    assert len(ds.ticket_events) == len(ZENDESK_EVENTS) - 4
    assert ds.quality.empty      # first reply, resolution, replies and reopens all agree with the metrics
    import_exports("zendesk", ZENDESK + INCREMENTAL, tmp_path)
    pd.testing.assert_frame_equal(load_data(tmp_path).ticket_events, ds.ticket_events)


# --------------------------------------------------------------------------- Intercom
INTERCOM_EVENTS = [
    "2001:source 2001 03-01 09:00:00 customer_message customer",
    "7001:assignment 2001 03-01 09:00:30 assignment system team=5017691",     # Fin routes it to a team
    "7002:assignment 2001 03-01 09:14:00 assignment agent agent=814860",
    "7003 2001 03-01 09:15:00 public_reply agent agent=814860",
    "7004:status 2001 03-01 09:16:00 status agent pending",                   # snoozed
    "7005 2001 03-01 09:40:00 customer_message customer",
    "7005:status 2001 03-01 09:40:00 status customer open",                   # her reply unsnoozes it
    "7006 2001 03-01 09:50:00 internal_note agent agent=814860",
    "7007 2001 03-01 10:00:00 public_reply agent agent=814860",
    "7008:status 2001 03-01 11:00:00 status agent solved",
    "2002:source 2002 03-02 09:00:00 customer_message customer",
    "7101 2002 03-02 10:00:00 public_reply agent agent=814861",
    "7102:status 2002 03-02 11:00:00 status agent solved",
    "7103 2002 03-02 12:00:00 customer_message customer",
    "7103:status 2002 03-02 12:00:00 status customer open",                   # his reply reopens it
    "7104:assignment 2002 03-02 12:05:00 assignment agent agent=814861",      # assign_and_reopen: two rows
    "7104:status 2002 03-02 12:05:00 status agent open",
    "7105 2002 03-02 13:00:00 public_reply agent agent=814861",
    "2003:source 2003 03-03 09:00:00 customer_message customer",
    "7201 2003 03-03 09:00:05 public_reply system",                           # the bot answers, not an agent
    "7202 2003 03-03 09:01:00 customer_message customer",
    "7202:status 2003 03-03 09:01:00 status customer open",
    "7203:status 2003 03-03 09:02:00 status system solved",
]


def test_intercom_conversation_parts_exact_events(tmp_path):
    ev = read_export("intercom", INTERCOM).ticket_events
    assert compact(ev) == INTERCOM_EVENTS
    assert ev.set_index("event_id").loc["7005", "body"] == "<p>Visa ending 4242.</p>"
    import_exports("intercom", INTERCOM, tmp_path)
    ds = load_data(tmp_path)
    assert len(ds.ticket_events) == len(INTERCOM_EVENTS)
    # first reply, resolution and reopens agree; Intercom's API has no reply count (tickets.replies 0)
    flagged = ds.quality.query("action == 'flagged'")
    assert flagged["column"].tolist() == ["replies"] and flagged["n_rows"].tolist() == [2]


def test_intercom_conversations_without_parts_give_no_events():
    """The list endpoint leaves conversation_parts out: no partial history, and the summary says why."""
    ds = read_export("intercom", sorted((EXPORTS / "intercom").iterdir()))
    assert ds.ticket_events.empty and len(ds.tickets) == 3
    notes = ds.quality.query("table == 'ticket_events'")["column"]
    assert set(notes) == {"conversation_parts.conversation_parts", "conversation_parts.total_count", "source.body"}


# --------------------------------------------------------------------------- Jira
JIRA_EVENTS = [
    "HELP-1:request HELP-1 03-01 09:00:00 customer_message customer",
    "30001:assignee HELP-1 03-01 09:05:00 assignment agent agent=5b10ac8d82e05b22cc7d4ef5",
    "30001:priority HELP-1 03-01 09:05:00 priority agent high",
    "30001:status HELP-1 03-01 09:05:00 status agent open",                   # In Progress
    "20001:comment HELP-1 03-01 10:00:00 public_reply agent agent=5b10ac8d82e05b22cc7d4ef5",
    "30002:status HELP-1 03-01 10:00:00 status agent pending",                # Waiting for customer
    "20002:comment HELP-1 03-01 12:00:00 customer_message customer",
    "30003:status HELP-1 03-01 12:00:00 status system open",                  # Automation for Jira
    "20003:comment HELP-1 03-01 14:00:00 internal_note agent agent=5b10ac8d82e05b22cc7d4ef5",
    "20004:comment HELP-1 03-01 15:00:00 public_reply agent agent=5b10ac8d82e05b22cc7d4ef5",
    "30004:status HELP-1 03-01 15:00:00 status agent solved",
    "20005:comment HELP-1 03-02 09:00:00 customer_message customer",
    "30005:status HELP-1 03-02 09:00:00 status system open",
    "30006:assignee HELP-1 03-02 09:30:00 assignment agent agent=5b10ac8d82e05b22cc7d4ef6",
    "20006:comment HELP-1 03-02 11:00:00 public_reply agent agent=5b10ac8d82e05b22cc7d4ef6",
    "30007:status HELP-1 03-02 11:00:00 status agent solved",
    "HELP-2:request HELP-2 03-02 09:00:00 customer_message customer",
    "20007:comment HELP-2 03-02 09:30:00 customer_message customer",   # the reporter has an Atlassian account
    "20008:comment HELP-2 03-02 10:00:00 customer_message customer",   # another portal customer
    "HELP-3:request HELP-3 03-03 09:00:00 customer_message customer",
    "20009:comment HELP-3 03-03 09:10:00 public_reply agent agent=5b10ac8d82e05b22cc7d4ef5",
    "30008:assignee HELP-3 03-03 09:10:00 assignment agent agent=5b10ac8d82e05b22cc7d4ef5",
    "30008:status HELP-3 03-03 09:10:00 status agent closed",                 # Declined
]


def test_jira_changelog_and_comments_exact_events(tmp_path):
    ev = read_export("jira", JIRA).ticket_events
    assert compact(ev) == JIRA_EVENTS
    summary = import_exports("jira", JIRA, tmp_path)
    assert summary["dropped_unknown_ticket"].sum() == 4        # the declined HELP-3 is not a ticket
    ds = load_data(tmp_path)
    assert compact(ds.ticket_events) == JIRA_EVENTS[:-4]
    # the SLA cycles give the same first reply and resolution; the request API counts no replies or reopens
    flagged = ds.quality.query("action == 'flagged'")
    assert flagged["column"].tolist() == ["replies", "reopens"] and flagged["n_rows"].tolist() == [1, 1]


def test_jira_status_outside_the_default_workflows_is_named(tmp_path):
    doc = json.loads((EXPORTS / "jira_events" / "issues.json").read_text())
    doc["issues"][0]["changelog"]["histories"][1]["items"][0]["toString"] = "Awaiting Vendor"
    (tmp_path / "issues.json").write_text(json.dumps(doc))
    with pytest.raises(DataValidationError, match=r"issues.json: column 'changelog.histories.items.toString': "
                                                  r"value\(s\) not in the mapping's map: 'awaiting vendor'.*"
                                                  r"\(e.g. rows 1\)"):
        read_export("jira", [tmp_path / "issues.json"])


# --------------------------------------------------------------------------- Freshdesk
FRESHDESK_EVENTS = [
    "9001 1 03-01 15:00:00 public_reply agent agent=43000000101",
    "9002 1 03-01 16:00:00 internal_note agent agent=43000000101",
    "1:solved 1 03-01 20:30:00 status system solved",        # Resolved time 15:30 EST of the ticket export
    "9003 1 03-01 20:30:00 public_reply agent agent=43000000101",
    "1:solved:closed 1 03-02 20:30:00 status system closed",
    "9004 2 03-04 16:20:00 public_reply agent agent=43000000102",
    "9005 2 03-04 18:00:00 customer_message customer",
    "2:solved 2 03-05 16:00:00 status system solved",
    "9006 3 03-06 10:00:00 internal_note agent agent=43000000101",   # ticket 3 is not in the export
    "9007 5 03-12 18:05:00 public_reply agent agent=43000000101",
    "9008 5 03-12 18:20:00 customer_message customer",
    "9009 5 03-12 18:30:00 public_reply agent agent=43000000101",    # a public note is a response
    "5:solved 5 03-12 19:00:00 status system solved",
    "5:solved:closed 5 03-12 19:00:00 status system closed",
    "9010 5 03-12 19:00:00 public_reply agent agent=43000000101",
]


def test_freshdesk_conversations_exact_events(tmp_path):
    ev = read_export("freshdesk", FRESHDESK, tz="America/New_York").ticket_events
    assert compact(ev) == FRESHDESK_EVENTS
    summary = import_exports("freshdesk", FRESHDESK, tmp_path, tz="America/New_York")
    assert summary["dropped_unknown_ticket"].sum() == 1
    ds = load_data(tmp_path)
    assert compact(ds.ticket_events) == [e for e in FRESHDESK_EVENTS if not e.startswith("9006")]
    # replies (Agent interactions) and resolutions agree; ticket 4 has no conversation yet
    assert ds.quality["action"].tolist() == ["info"] and ds.quality["example_rows"].tolist() == ["3"]


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
FIELDS = EVENTS_MAPPING["tables"]["ticket_events"]["fields"]


def test_template_ids_and_column_comparison(tmp_path):
    change = lambda n, by, at, to: {"n": n, "by": by, "at": f"2024-03-0{at}:00Z", "to": to}   # noqa: E731
    (tmp_path / "hist.json").write_text(json.dumps({"issues": [
        {"key": "T1", "reporter": "ann", "changes": [change(1, "joe", "1T10:00", "open"),
                                                      change(2, "ann", "1T11:00", "open"),
                                                      change(3, "joe", "1T12:00", "solved")]},
        {"key": "T2", "reporter": None, "changes": [change(1, "joe", "2T10:00", "open")]},
    ]}))
    (tmp_path / "mine.yaml").write_text(yaml.safe_dump(EVENTS_MAPPING))
    ev = read_export(tmp_path / "mine.yaml", [tmp_path / "hist.json"]).ticket_events
    assert compact(ev) == ["T1:1 T1 03-01 10:00:00 status agent open", "T1:3 T1 03-01 12:00:00 status agent solved",
                           "T2:1 T2 03-02 10:00:00 status agent open"]    # no reporter: not the reporter


@pytest.mark.parametrize("change, match", [
    ({"explode": {"column": "changes", "optinal": True}}, r"explode\[0\]: unknown key\(s\) 'optinal'"),
    ({"explode": 3}, r"explode\[0\]: explode names a list column"),
    ({"fields": {**FIELDS, "event_id": {"template": "key"}}},
     r"fields.event_id: a template is text naming columns in braces"),
    ({"fields": {**FIELDS, "event_id": {"template": "{key}", "column": "key"}}},
     r"fields.event_id: give exactly one of 'column', 'value', 'template'"),
    ({"where": [{"column": "changes.by", "same_as": ["reporter"]}]}, r"where\[0\]: 'same_as' names another column"),
    ({"fields": {"ticket_id": "key", "at": "changes.at"}},
     r"required ticket_events field\(s\) not mapped: event_id, kind, actor"),
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



def test_imported_events_pass_the_contract_checks():
    """validate() of an import: unknown kinds/statuses cannot come out of the mappings (their maps name them)."""
    ds = validate(read_export("zendesk", ZENDESK + [AUDITS]), errors="drop")
    dropped = ds.quality.query("action == 'dropped' and table == 'ticket_events'")
    assert dropped["rule"].str.contains("ticket_id").all() and dropped["n_rows"].sum() == 4     # ticket 105 only


def test_documented_events_mapping_is_valid():
    text = (Path(__file__).parents[1] / "docs" / "imports.md").read_text()
    block = text.split("```yaml\n  ticket_events:\n", 1)[1].split("```", 1)[0]
    mapping = validate_mapping({"name": "doc", "tables": yaml.safe_load("ticket_events:\n" + block)}, "docs/imports.md")
    assert [e["column"] for e in mapping["tables"]["ticket_events"][0]["explode"]] == [
        "changelog.histories", "changelog.histories.items"]
