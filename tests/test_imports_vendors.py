"""Exact canonical rows of the help-desk and survey mappings beyond Zendesk/Delighted/Stripe (whose rows
are in test_imports.py), and the vendor-layout checks of docs/imports.md (e.g. Delighted survey types)."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from slm_lib.errors import DataValidationError, MappingError
from slm_lib.io.imports import import_exports, read_export
from slm_lib.io.load import load_data

EXPORTS = Path(__file__).parent / "fixtures" / "exports"


def files(vendor: str) -> list[Path]:
    return sorted((EXPORTS / vendor).iterdir())


def utc(*values: str | None) -> list:
    return [pd.Timestamp(v, tz="UTC") if v else pd.NaT for v in values]


def column(frame: pd.DataFrame, name: str) -> list:
    return frame[name].astype(object).where(frame[name].notna(), None).tolist()


def test_freshdesk_local_times_need_tz():
    with pytest.raises(MappingError, match=r"tickets.csv: column 'Created time'.*--tz"):
        read_export("freshdesk", files("freshdesk"))


def test_freshdesk_tickets_exact_rows():
    t = read_export("freshdesk", files("freshdesk"), tz="America/New_York", key="email").tickets
    assert column(t, "ticket_id") == ["1", "2", "4", "5"]       # spam/deleted are not in the export
    assert column(t, "customer_id") == ["ann@example.com", "bob@example.com", "cy@example.com", "ann@example.com"]
    # EST (UTC-5) before 10 March 2024, EDT (UTC-4) after
    assert t["created_at"].tolist() == utc("2024-03-01 14:00", "2024-03-04 16:00", "2024-03-11 13:00",
                                           "2024-03-12 18:00")
    assert t["first_response_at"].tolist() == utc("2024-03-01 15:00", "2024-03-04 16:20", None, "2024-03-12 18:05")
    assert t["resolved_at"].tolist() == utc("2024-03-01 20:30", "2024-03-05 16:00", None, "2024-03-12 19:00")
    assert column(t, "channel") == ["email", "web", "phone", "chat"]
    assert column(t, "priority") == ["high", "normal", "urgent", "low"]
    assert column(t, "agent_id") == ["Jane Agent", "Joe Agent", None, "Jane Agent"]     # "No Agent"
    assert column(t, "team") == ["Tier 1", "Billing", None, "Tier 1"]                   # "No Group"
    assert column(t, "replies") == [2, 1, 0, 3]
    # "HH:MM:SS"; ticket 4 reads "00:00:00" (no response, unresolved) and is kept out
    assert column(t, "vendor_frt_business_h") == [1.0, 20 / 60, None, 5 / 60]
    assert column(t, "vendor_resolution_business_h") == [6.5, 8.0, None, 1.0]


def test_freshdesk_ratings_both_scales():
    s = read_export("freshdesk", files("freshdesk"), tz="America/New_York", key="email").surveys
    assert column(s, "response_id") == ["11", "12", "13", "14"]
    assert column(s, "score") == [5, 2, 5, 3]           # 103, -101, classic 1 happy, classic 2 neutral
    assert column(s, "customer_id") == ["ann@example.com", "bob@example.com", "ann@example.com", "cy@example.com"]
    assert column(s, "ticket_id") == ["1", "2", "5", "4"]


def without_columns(path: Path, columns: list[str], out: Path) -> Path:
    """A copy of a CSV export with ``columns`` left out, as an export dialog with them unticked writes it."""
    target = out / path.name
    pd.read_csv(path, dtype=str, keep_default_na=False).drop(columns=columns).to_csv(target, index=False)
    return target


def test_freshdesk_export_without_optional_columns(tmp_path):
    """The dialog preselects few fields (freshconsult's EXPORT_FIELDS); Agent, Group, Type, Closed time and the
    business-hours durations (SLA management only) may be left out: those fields are missing, nothing fails."""
    narrow = without_columns(EXPORTS / "freshdesk" / "tickets.csv", [
        "Type", "Agent", "Group", "Closed time", "First response time (in hrs)", "Resolution time (in hrs)"], tmp_path)
    ds = read_export("freshdesk", [narrow], tz="America/New_York", key="email")
    t = ds.tickets
    assert column(t, "ticket_id") == ["1", "2", "4", "5"]
    assert t["resolved_at"].tolist() == utc("2024-03-01 20:30", "2024-03-05 16:00", None, "2024-03-12 19:00")
    assert t[["agent_id", "team", "category", "vendor_frt_business_h", "vendor_resolution_business_h"]].isna().all().all()
    assert column(t, "replies") == [2, 1, 0, 3] and column(t, "priority") == ["high", "normal", "urgent", "low"]
    notes = ds.quality.query("action == 'info' and table == 'tickets'").set_index("column")["rule"].to_dict()
    assert notes == {"Agent": "optional column not in the file: read as missing (agent_id)",
                     "Group": "optional column not in the file: read as missing (team)",
                     "Type": "optional column not in the file: read as missing (category)",
                     "First response time (in hrs)": "optional column not in the file: read as missing "
                                                     "(vendor_frt_business_h)",
                     "Resolution time (in hrs)": "optional column not in the file: read as missing "
                                                 "(vendor_resolution_business_h)"}


def test_freshdesk_closed_time_is_the_fallback_of_resolved_time(tmp_path):
    narrow = without_columns(EXPORTS / "freshdesk" / "tickets.csv", ["Resolved time"], tmp_path)
    ds = read_export("freshdesk", [narrow], tz="America/New_York", key="email")
    # ticket 2 is Resolved but not closed: without 'Resolved time' it has no resolution time
    assert ds.tickets["resolved_at"].tolist() == utc("2024-03-02 20:30", None, None, "2024-03-12 19:00")
    assert ds.quality.query("column == 'Resolved time' and table == 'tickets'")["rule"].tolist() == [
        "column not in the file: resolved_at read from 'Closed time'"]


@pytest.mark.parametrize("left_out", ["Priority", "Initial response time", "Agent interactions"])
def test_freshdesk_columns_metrics_depend_on_stay_required(tmp_path, left_out):
    narrow = without_columns(EXPORTS / "freshdesk" / "tickets.csv", [left_out], tmp_path)
    with pytest.raises(MappingError, match=rf"tickets.csv: column '{left_out}' named by the mapping is not in the file"):
        read_export("freshdesk", [narrow], tz="America/New_York", key="email")


def test_intercom_exact_rows():
    ds = read_export("intercom", files("intercom"))
    t, s = ds.tickets, ds.surveys
    assert column(t, "ticket_id") == ["1911149811", "1911149812", "1911149813"]
    assert column(t, "customer_id") == ["c-1", "c-2", "c-1"]
    assert t["created_at"].tolist() == utc("2024-03-01 09:00", "2024-03-02 09:00", "2024-03-03 09:00")
    assert t["first_response_at"].tolist() == utc("2024-03-01 09:15", "2024-03-02 10:00", None)
    # the reopened (open) conversation keeps its last_close_at out of resolved_at
    assert t["resolved_at"].tolist() == utc("2024-03-01 11:00", None, None)
    assert column(t, "channel") == ["chat", "email", "chat"]
    assert column(t, "priority") == ["high", "normal", "normal"]
    assert column(t, "reopens") == [0, 1, 0]
    # office-hours seconds; the Saturday conversation waited outside office hours only
    assert column(t, "vendor_frt_business_h") == [0.25, 0.0, None]
    assert column(t, "vendor_resolution_business_h") == [2.0, None, None]     # only when closed
    assert column(s, "response_id") == ["1911149811:rating", "1911149812:rating"]
    assert column(s, "score") == [5, 2]
    assert s["submitted_at"].tolist() == utc("2024-03-01 11:01", "2024-03-02 11:01")


def test_intercom_page_without_any_rating_gives_no_surveys(tmp_path):
    """conversation_rating is null on unrated conversations; a page with none rated has no rating columns."""
    doc = json.loads((EXPORTS / "intercom" / "conversations.json").read_text())
    for conversation in doc["conversations"]:
        conversation["conversation_rating"] = None
    (tmp_path / "conversations.json").write_text(json.dumps(doc))
    ds = read_export("intercom", [tmp_path / "conversations.json"])
    assert column(ds.tickets, "ticket_id") == ["1911149811", "1911149812", "1911149813"]
    assert ds.surveys.empty
    quality = ds.quality.query("table == 'surveys'").set_index("column")["rule"].to_dict()
    assert quality == {"": "filtered by mapping: unanswered",
                       "conversation_rating.rating": "optional column not in the file: read as missing "
                                                     "(drop filter 'unanswered')",
                       "conversation_rating.created_at": "optional column not in the file: read as missing "
                                                         "(submitted_at)",
                       "conversation_rating.remark": "optional column not in the file: read as missing (comment)"}


def test_intercom_ratings_without_remarks(tmp_path):
    doc = json.loads((EXPORTS / "intercom" / "conversations.json").read_text())
    for conversation in doc["conversations"]:
        (conversation["conversation_rating"] or {}).pop("remark", None)
    (tmp_path / "conversations.json").write_text(json.dumps(doc))
    s = read_export("intercom", [tmp_path / "conversations.json"]).surveys
    assert column(s, "score") == [5, 2] and column(s, "comment") == [None, None]


def test_hubspot_exact_rows():
    t = read_export("hubspot", files("hubspot")).tickets
    assert column(t, "ticket_id") == ["512", "513", "515"]                          # 514 archived
    assert column(t, "customer_id") == ["901", "902", "901"]                        # first contact
    assert t["first_response_at"].tolist() == utc("2024-03-01 10:30", "2024-03-02 15:02", "2024-03-04 12:00")
    assert t["resolved_at"].tolist() == utc("2024-03-02 10:00", None, "2024-03-04 13:00")
    assert column(t, "channel") == ["email", "chat", "phone"]
    assert column(t, "priority") == ["high", "normal", "urgent"]
    with pytest.raises(MappingError, match="no 'email' customer key"):
        read_export("hubspot", files("hubspot"), key="email")


def test_jira_sla_cycles_exact_rows():
    t = read_export("jira", files("jira"), key="email").tickets
    assert column(t, "ticket_id") == ["HELP-1", "HELP-2"]                           # HELP-3 declined
    assert column(t, "customer_id") == ["ann@example.com", "bob@example.com"]
    assert t["created_at"].tolist() == utc("2024-03-01 09:00", "2024-03-02 09:00")
    assert t["first_response_at"].tolist() == utc("2024-03-01 10:00", None)
    assert t["resolved_at"].tolist() == utc("2024-03-02 11:00", None)              # last completed cycle
    assert column(t, "priority") == ["high", "normal"]
    assert column(t, "vendor_frt_business_h")[0] == 1.0


def test_salesforce_exact_rows():
    t = read_export("salesforce", files("salesforce"), key="email").tickets
    assert column(t, "ticket_id") == ["00001001", "00001002", "00001005"]           # merged, deleted dropped
    assert t["first_response_at"].tolist() == utc("2024-03-01 09:40", None, "2024-03-04 12:10")
    assert t["resolved_at"].tolist() == utc("2024-03-01 17:00", None, None)         # reopened: not closed
    assert column(t, "channel") == ["email", "web", "chat"]
    assert column(t, "priority") == ["high", "normal", "urgent"]
    assert column(t, "customer_id") == ["ann@example.com", "bob@example.com", "ann@example.com"]


def test_salesforce_upper_case_headers_of_older_data_loader(tmp_path):
    upper = []
    for path in files("salesforce"):  # older Data Loader releases write CREATEDDATE, CASENUMBER, ...
        head, rest = path.read_text().split("\n", 1)
        upper.append(tmp_path / path.name)
        upper[-1].write_text(head.upper() + "\n" + rest)
    pd.testing.assert_frame_equal(read_export("salesforce", upper, key="email").tickets.drop(columns="_file", errors="ignore"),
                                  read_export("salesforce", files("salesforce"), key="email").tickets
                                  .drop(columns="_file", errors="ignore"), check_like=True)


def test_salesforce_needs_the_milestone_file():
    with pytest.raises(MappingError, match=r"Case.csv: .*\*casemilestone\*.csv.*none was given"):
        read_export("salesforce", [EXPORTS / "salesforce" / "Case.csv"])


def test_qualtrics_three_header_rows_preview_and_unanswered_dropped():
    s = read_export("qualtrics", files("qualtrics"), tz="America/Denver", key="email").surveys
    assert column(s, "response_id") == ["R_1aA", "R_3cC", "R_5eE"]      # Status 16 = Offline, kept
    assert column(s, "score") == [9, 4, 10]
    assert column(s, "customer_id") == ["ann@example.com", "bob@example.com", "dee@example.com"]
    assert s["submitted_at"].tolist() == utc("2024-03-01 15:02:11", "2024-03-03 17:03:05",   # MST = UTC-7
                                             "2024-03-06 19:00")
    assert column(s, "comment") == ["Friendly, fast", "Too expensive", "Offline kiosk"]


def test_surveymonkey_two_header_rows_labels_and_us_dates():
    s = read_export("surveymonkey", files("surveymonkey"), tz="America/Los_Angeles", key="email").surveys
    assert column(s, "response_id") == ["114356789012", "114356789013"]
    assert column(s, "score") == [10, 6]                                            # "10 - Extremely likely"
    assert column(s, "customer_id") == ["ann@example.com", "bob@example.com"]
    assert s["submitted_at"].tolist() == utc("2024-03-01 18:15", "2024-03-02 21:02:30")


def test_typeform_answers_by_ref():
    s = read_export("typeform", files("typeform")).surveys
    assert column(s, "response_id") == ["t1", "t3"]                                 # t2 skipped the scale
    assert column(s, "score") == [9, 3]
    assert column(s, "customer_id") == ["9001", "9003"]
    assert column(s, "comment") == ["Easy to use", None]


def test_delighted_unknown_survey_type_is_refused_not_read_as_nps(tmp_path):
    (tmp_path / "survey_responses.json").write_text(
        (EXPORTS / "delighted" / "survey_responses.json").read_text().replace('"nps"', '"smileys"', 1))
    with pytest.raises(DataValidationError, match="survey_type.*smileys"):
        read_export("delighted", [tmp_path / "survey_responses.json"])


@pytest.mark.parametrize("vendor, tz", [("freshdesk", "America/New_York"), ("intercom", None),
                                        ("hubspot", None), ("jira", None), ("salesforce", None)])
def test_helpdesk_imports_pass_load_data(tmp_path, vendor, tz):
    import_exports(vendor, files(vendor), tmp_path, tz=tz)
    ds = load_data(tmp_path)
    assert len(ds.tickets) >= 2 and set(ds.customers["segment"]) == {"unknown"}


def test_survey_out_of_scale_is_reported(tmp_path):
    (tmp_path / "typeform_responses.json").write_text(
        (EXPORTS / "typeform" / "typeform_responses.json").read_text().replace('"number": 9', '"number": 11'))
    read_export("typeform", [tmp_path / "typeform_responses.json"])      # import converts...
    with pytest.raises(DataValidationError, match="score"):                 # ...the directory check refuses
        import_exports("typeform", [tmp_path / "typeform_responses.json"], tmp_path / "out")
    assert not (tmp_path / "out" / "surveys.csv").exists()
