"""Tests of slm_lib.io.load (load_data, validate) and slm_lib.io.save (save_data)."""
from __future__ import annotations

import io
import re
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from slm_lib.config import check_scales
from slm_lib.errors import ConfigError, DataValidationError, InsufficientDataError, MissingTableError
from slm_lib.io.dataset import Dataset
from slm_lib.io.load import load_data, validate
from slm_lib.io.save import save_data
from slm_lib.schema import COLUMNS, empty_frame

BASE = {
    "customers": """customer_id,signup_at,segment,region,churned_at
c1,2025-01-01T00:00:00Z,smb,eu,
c2,2025-02-01T00:00:00Z,enterprise,,2026-06-01T00:00:00Z
c3,2025-03-01T00:00:00Z,smb,us,
""",
    "tickets": """ticket_id,customer_id,created_at,first_response_at,resolved_at,channel,priority,agent_id,team,replies,reopens,category
t1,c1,2026-10-01T09:00:00Z,2026-10-01T09:30:00Z,2026-10-01T12:00:00Z,email,high,a1,blue,2,0,billing
t2,c1,2026-10-02T10:00:00Z,,,chat,normal,,,0,0,
t3,c2,2026-10-03T11:00:00Z,2026-10-03T11:05:00Z,2026-10-04T11:00:00Z,phone,urgent,a2,red,1,1,tech
t4,c3,2026-10-04T12:00:00Z,2026-10-04T13:00:00Z,,web,low,a1,blue,1,0,tech
""",
    "surveys": """response_id,customer_id,ticket_id,submitted_at,type,score,comment
r1,c1,t1,2026-10-02T09:00:00Z,csat,5,"Great, thanks ""really"" ok"
r2,c2,t3,2026-10-05T09:00:00Z,nps,9,
r3,c3,,2026-10-06T09:00:00Z,ces,2,"Line one
line two"
r4,c1,t2,2026-10-07T09:00:00Z,nps,0,
""",
    "revenue": """customer_id,paid_at,amount,order_id
c1,2026-01-01T00:00:00Z,19.99,o1
c2,2026-02-01T00:00:00Z,-5.0,
c3,2026-03-01T00:00:00Z,100.0,o3
""",
    # agrees with the tickets: first agent public reply, last solve while solved, replies, reopens
    "ticket_events": """event_id,ticket_id,at,kind,actor,status,agent_id,team,priority,body
e1,t1,2026-10-01T09:00:00Z,status,system,new,,,,
e2,t1,2026-10-01T09:00:00Z,customer_message,customer,,,,,"Hello, I ""can't"" log in"
e3,t1,2026-10-01T09:10:00Z,assignment,system,,a1,blue,,
e4,t1,2026-10-01T09:30:00Z,public_reply,agent,,a1,blue,,Try this
e5,t1,2026-10-01T09:30:00Z,status,agent,pending,a1,blue,,
e6,t1,2026-10-01T11:00:00Z,customer_message,customer,,,,,Works
e7,t1,2026-10-01T11:00:00Z,status,system,open,,,,
e8,t1,2026-10-01T12:00:00Z,public_reply,agent,,a1,blue,,  Great
e9,t1,2026-10-01T12:00:00Z,status,agent,solved,a1,blue,,
e10,t2,2026-10-02T10:00:00Z,status,system,new,,,,
e11,t3,2026-10-03T11:05:00Z,public_reply,agent,,a2,red,,Done
e12,t3,2026-10-03T11:05:00Z,status,agent,solved,a2,red,,
e13,t3,2026-10-03T15:00:00Z,status,customer,open,,,,
e14,t3,2026-10-04T11:00:00Z,status,agent,solved,a2,red,urgent,
e15,t4,2026-10-04T13:00:00Z,public_reply,agent,,a1,blue,,On it
e16,t4,2026-10-04T13:00:00Z,priority,agent,,,,low,
""",
}


def raw(table: str) -> pd.DataFrame:
    """A base table as strings (blank cells as empty strings), ready to corrupt."""
    return pd.read_csv(io.StringIO(BASE[table]), dtype=str, keep_default_na=False)


def write(directory, **frames: pd.DataFrame):
    """Write the base tables to ``directory``, replacing those given as frames."""
    directory.mkdir(parents=True, exist_ok=True)
    for table in BASE:
        frame = frames.get(table, raw(table))
        if frame is not None:
            frame.to_csv(directory / f"{table}.csv", index=False, lineterminator="\n")
    return directory


def corrupt(table: str, column: str, rows: list[int], value: str) -> pd.DataFrame:
    frame = raw(table)
    frame.loc[rows, column] = value
    return frame


def test_base_loads_with_canonical_dtypes(tmp_path):
    ds = load_data(write(tmp_path))
    for table, frame in ds.tables().items():
        assert list(frame.columns) == list(COLUMNS[table])
        assert {c: str(t) for c, t in frame.dtypes.items()} == COLUMNS[table]
    assert len(ds.tickets) == 4 and len(ds.surveys) == 4 and ds.quality.empty
    assert ds.surveys.comment.iloc[2] == "Line one\nline two"
    assert ds.surveys.comment.iloc[0] == 'Great, thanks "really" ok'
    assert pd.isna(ds.tickets.resolved_at.iloc[1]) and pd.isna(ds.tickets.agent_id.iloc[1])


def test_round_trip_csv_is_exact_and_byte_identical(tmp_path):
    ds = load_data(write(tmp_path / "in"))
    save_data(ds, tmp_path / "out")
    back = load_data(tmp_path / "out")
    for table in BASE:
        pd.testing.assert_frame_equal(back.tables()[table], ds.tables()[table])
        assert (tmp_path / "out" / f"{table}.csv").read_bytes() == (
            tmp_path / "in" / f"{table}.csv").read_bytes()


def test_round_trip_parquet(tmp_path):
    ds = load_data(write(tmp_path / "in"))
    save_data(ds, tmp_path / "pq", format="parquet")
    back = load_data(tmp_path / "pq")
    for table in BASE:
        pd.testing.assert_frame_equal(back.tables()[table], ds.tables()[table])


def test_save_writes_iso_utc_and_header_only_for_empty_tables(tmp_path):
    tickets = load_data(write(tmp_path / "in")).tickets
    tickets["created_at"] = tickets.created_at.dt.tz_convert("Europe/Berlin")
    save_data(Dataset(tickets=tickets), tmp_path / "out")
    text = (tmp_path / "out" / "tickets.csv").read_text()
    assert "t1,c1,2026-10-01T09:00:00Z,2026-10-01T09:30:00Z,2026-10-01T12:00:00Z,email" in text
    assert (tmp_path / "out" / "revenue.csv").read_text() == "customer_id,paid_at,amount,order_id\n"


def test_save_keeps_sub_second_precision(tmp_path):
    tickets = load_data(write(tmp_path / "in")).tickets
    tickets.loc[0, "created_at"] += pd.Timedelta("250ms")
    save_data(Dataset(tickets=tickets), tmp_path / "out")
    assert "2026-10-01T09:00:00.250000Z" in (tmp_path / "out" / "tickets.csv").read_text()
    assert load_data(tmp_path / "out").tickets.created_at.iloc[0] == tickets.created_at.iloc[0]


def test_save_rejects_unknown_format_and_missing_column(tmp_path):
    with pytest.raises(ValueError, match="format"):
        save_data(Dataset(), tmp_path, format="xlsx")
    with pytest.raises(DataValidationError, match="tickets: cannot save.*category"):
        save_data(Dataset(tickets=empty_frame("tickets").drop(columns="category")), tmp_path)


def test_offsets_converted_and_naive_taken_as_utc(tmp_path):
    tickets = raw("tickets")
    tickets.loc[0, "created_at"] = "2026-10-01T11:00:00+02:00"
    tickets.loc[1, "created_at"] = "2026-10-02 10:00:00"
    tickets.loc[2, "created_at"] = "2026-10-03T06:00:00-05:00"
    ds = load_data(write(tmp_path, tickets=tickets))
    assert str(ds.tickets.created_at.dtype) == "datetime64[ns, UTC]"
    assert ds.tickets.created_at.iloc[:3].tolist() == list(pd.to_datetime(
        ["2026-10-01T09:00Z", "2026-10-02T10:00Z", "2026-10-03T11:00Z"], utc=True))


def test_channel_synonyms_priority_default_and_type_case(tmp_path):
    tickets = raw("tickets")
    tickets["channel"] = ["E-mail", " Live Chat ", "telephone", "Web Form"]
    tickets.loc[[1, 3], "priority"] = ""
    surveys = raw("surveys")
    surveys["type"] = ["CSAT", "Nps", "ces ", "NPS"]
    ds = load_data(write(tmp_path, tickets=tickets, surveys=surveys))
    assert ds.tickets.channel.tolist() == ["email", "chat", "phone", "web"]
    assert ds.tickets.priority.tolist() == ["high", "normal", "urgent", "normal"]
    assert ds.surveys.type.tolist() == ["csat", "nps", "ces", "nps"]
    info = ds.quality[ds.quality.action == "info"].iloc[0]
    assert (info.column, info.n_rows, info.example_rows) == ("priority", 2, "2, 4")
    assert "normal" in info.rule


# (table, column, rows to corrupt (0-based), value, expected rule text)
RULES = [
    ("tickets", "created_at", [2], "yesterday", "not an ISO 8601 timestamp (e.g. 'yesterday')"),
    ("tickets", "first_response_at", [0], "2026-13-45T00:00:00Z", "not an ISO 8601 timestamp"),
    ("tickets", "replies", [1, 3], "two", "not a number (e.g. 'two')"),
    ("tickets", "replies", [0], "1.5", "not an integer"),
    ("tickets", "replies", [0], "-1", "negative value"),
    ("tickets", "reopens", [2, 3], "-2", "negative value"),
    ("tickets", "ticket_id", [1], "t1", "duplicate ticket_id"),
    ("tickets", "customer_id", [0, 2], "c99", "customer_id not in customers"),
    ("tickets", "customer_id", [3], "", "missing value"),
    ("tickets", "channel", [1], "fax", "unknown value(s) 'fax' (allowed: email, chat, phone, web, social, other)"),
    ("tickets", "channel", [0], "", "missing value"),
    ("tickets", "priority", [2], "critical", "unknown value(s) 'critical'"),
    ("tickets", "first_response_at", [2], "2026-10-03T10:00:00Z", "first_response_at before created_at"),
    ("tickets", "resolved_at", [0], "2026-09-30T00:00:00Z", "resolved_at before created_at"),
    ("surveys", "response_id", [3], "r2", "duplicate response_id"),
    ("surveys", "score", [0], "4.5", "not an integer"),
    ("surveys", "score", [1], "", "missing value"),
    ("surveys", "type", [2], "csi", "unknown value(s) 'csi' (allowed: csat, nps, ces)"),
    ("surveys", "ticket_id", [2], "t99", "ticket_id not in tickets"),
    ("surveys", "customer_id", [1], "c99", "customer_id not in customers"),
    ("surveys", "submitted_at", [0], "01/10/2026", "not an ISO 8601 timestamp"),
    ("customers", "customer_id", [2], "c1", "duplicate customer_id"),
    ("customers", "segment", [0], "", "missing value"),
    ("customers", "churned_at", [1], "never", "not an ISO 8601 timestamp"),
    ("revenue", "amount", [1], "abc", "not a number (e.g. 'abc')"),
    ("revenue", "amount", [0], "inf", "not a finite number"),
    ("revenue", "customer_id", [2], "c99", "customer_id not in customers"),
    ("revenue", "paid_at", [0], "", "missing value"),
    ("ticket_events", "ticket_id", [3, 5], "t99", "ticket_id not in tickets"),
    ("ticket_events", "at", [10], "2026-10-03T10:59:59Z", "at before the ticket's created_at"),
    ("ticket_events", "kind", [2], "reassigned", "unknown value(s) 'reassigned' (allowed: status, public_reply, "
                                                 "customer_message, internal_note, assignment, priority)"),
    ("ticket_events", "status", [4], "waiting", "unknown value(s) 'waiting' (allowed: new, open, pending, on_hold, "
                                                "solved, closed)"),
    ("ticket_events", "status", [9], "", "missing value where kind is 'status'"),
    ("ticket_events", "actor", [1], "bot", "unknown value(s) 'bot' (allowed: agent, customer, system)"),
    ("ticket_events", "priority", [15], "p1", "unknown value(s) 'p1'"),
    ("ticket_events", "event_id", [7], "e3", "duplicate event_id"),
    ("ticket_events", "at", [0], "", "missing value"),
]


@pytest.mark.parametrize(("table", "column", "rows", "value", "rule"), RULES)
def test_each_rule_is_reported_with_file_column_count_and_rows(tmp_path, table, column, rows, value, rule):
    write(tmp_path, **{table: corrupt(table, column, rows, value)})
    with pytest.raises(DataValidationError) as info:
        load_data(tmp_path)
    problems = [p for p in info.value.problems if p.column == column and rule in p.rule]
    assert len(problems) == 1, str(info.value)
    expected_rows = tuple(r + 1 for r in rows) if "duplicate" not in rule else (rows[0] + 1,)
    assert problems[0].n_rows == len(expected_rows)
    assert problems[0].example_rows == expected_rows
    line = str(problems[0])
    assert line.startswith(str(tmp_path / f"{table}.csv") + f": column '{column}': ")
    assert f"{len(expected_rows)} row(s) (e.g. rows {', '.join(map(str, expected_rows))})" in line


@pytest.mark.parametrize(("type_", "score", "rule"), [
    ("csat", "0", "out of range for csat (1-5)"), ("csat", "6", "out of range for csat (1-5)"),
    ("nps", "11", "out of range for nps (0-10)"), ("ces", "8", "out of range for ces (1-7)"),
])
def test_score_out_of_range_by_type(tmp_path, type_, score, rule):
    surveys = raw("surveys")
    surveys.loc[1, ["type", "score"]] = [type_, score]
    write(tmp_path, surveys=surveys)
    expected = f"surveys.csv: column 'score': {rule}: 1 row(s) (e.g. rows 2)"
    with pytest.raises(DataValidationError, match=re.escape(expected)):
        load_data(tmp_path)


def test_scales_override(tmp_path):
    surveys = raw("surveys")
    surveys.loc[0, "score"] = "7"
    write(tmp_path, surveys=surveys)
    with pytest.raises(DataValidationError, match="out of range for csat"):
        load_data(tmp_path)
    ds = load_data(tmp_path, scales={"csat": (1, 7), "nps": (0, 10), "ces": (1, 7)})
    assert ds.surveys.score.iloc[0] == 7


def test_every_problem_of_every_table_is_reported_at_once(tmp_path):
    tickets = corrupt("tickets", "channel", [0], "pigeon")
    tickets.loc[[1, 2], "created_at"] = "soon"
    surveys = corrupt("surveys", "score", [3], "42")
    revenue = corrupt("revenue", "amount", [2], "lots")
    write(tmp_path, tickets=tickets, surveys=surveys, revenue=revenue)
    with pytest.raises(DataValidationError) as info:
        load_data(tmp_path)
    found = {(p.table, p.column, p.n_rows) for p in info.value.problems}
    assert found == {("tickets", "channel", 1), ("tickets", "created_at", 2),
                     ("surveys", "score", 1), ("revenue", "amount", 1)}
    assert len(str(info.value).splitlines()) == 4


def test_drop_mode_counts_and_cascades(tmp_path):
    customers = corrupt("customers", "signup_at", [0], "bad")        # c1 invalid
    tickets = corrupt("tickets", "replies", [3], "-1")               # t4 invalid
    write(tmp_path, customers=customers, tickets=tickets)
    ds = load_data(tmp_path, errors="drop")
    dropped = ds.quality[ds.quality.action == "dropped"].set_index(["table", "column"])
    assert dropped.loc[("customers", "signup_at"), "n_rows"] == 1
    assert dropped.loc[("tickets", "replies"), "n_rows"] == 1
    # c1's tickets t1, t2, surveys r1, r4 and revenue row go with c1
    assert dropped.loc[("tickets", "customer_id"), ["n_rows", "example_rows"]].tolist() == [2, "1, 2"]
    assert dropped.loc[("surveys", "customer_id"), "n_rows"] == 2
    assert dropped.loc[("revenue", "customer_id"), "n_rows"] == 1
    assert ds.tickets.ticket_id.tolist() == ["t3"]
    assert ds.surveys.response_id.tolist() == ["r2", "r3"]
    assert ds.customers.customer_id.tolist() == ["c2", "c3"]
    validate(ds)  # the result passes validation
    assert str(ds.tickets.replies.dtype) == "int64"


def test_drop_mode_surveys_of_dropped_tickets_go_too(tmp_path):
    write(tmp_path, tickets=corrupt("tickets", "resolved_at", [0], "2020-01-01T00:00:00Z"))
    ds = load_data(tmp_path, errors="drop")
    assert "r1" not in ds.surveys.response_id.tolist()
    row = ds.quality[(ds.quality.table == "surveys") & (ds.quality.column == "ticket_id")].iloc[0]
    assert (row.n_rows, row.example_rows, row.rule) == (1, "1", "ticket_id not in tickets")


def test_missing_optional_table_is_reported(tmp_path):
    write(tmp_path, revenue=None, customers=None)
    ds = load_data(tmp_path)
    assert ds.revenue.empty and list(ds.revenue.columns) == list(COLUMNS["revenue"])
    missing = ds.quality[ds.quality.action == "missing table"]
    assert sorted(missing.table) == ["customers", "revenue"]
    assert len(ds.tickets) == 4  # no customers table: references not checked


def test_missing_tickets_or_directory_raise_missing_table(tmp_path):
    write(tmp_path, tickets=None)
    with pytest.raises(MissingTableError, match="required table 'tickets' not found"):
        load_data(tmp_path)
    with pytest.raises(MissingTableError, match="nowhere: data directory not found"):
        load_data(tmp_path / "nowhere")


def test_missing_columns(tmp_path):
    write(tmp_path, tickets=raw("tickets").drop(columns=["replies", "category"]))
    with pytest.raises(DataValidationError) as info:
        load_data(tmp_path)
    assert {(p.column, p.rule, p.n_rows) for p in info.value.problems} == {
        ("replies", "missing column", 4), ("category", "missing column", 4)}
    with pytest.raises(DataValidationError, match="column 'replies': missing column"):
        load_data(tmp_path, errors="drop")
    write(tmp_path, tickets=raw("tickets").drop(columns=["priority", "category", "resolved_at"]))
    ds = load_data(tmp_path, errors="drop")
    assert ds.tickets.priority.eq("normal").all() and ds.tickets.category.isna().all()
    assert ds.tickets.resolved_at.isna().all() and str(ds.tickets.resolved_at.dtype) == "datetime64[ns, UTC]"
    assert sorted(ds.quality[ds.quality.action == "filled"].column) == ["category", "priority", "resolved_at"]


def test_extra_column_is_ignored_and_noted(tmp_path):
    tickets = raw("tickets").assign(sentiment="ok")
    ds = load_data(write(tmp_path, tickets=tickets))
    assert "sentiment" not in ds.tickets.columns
    assert ds.quality.loc[0, ["column", "action"]].tolist() == ["sentiment", "info"]


@pytest.mark.parametrize(("content", "rule"), [
    (b"", "empty file"),
    (b"ticket_id,customer_id\n\xff\xfe\x00bad\n", "unreadable file"),
])
def test_empty_or_unreadable_file(tmp_path, content, rule):
    write(tmp_path)
    (tmp_path / "surveys.csv").write_bytes(content)
    for mode in ("raise", "drop"):
        with pytest.raises(DataValidationError, match=rf"surveys\.csv: column '\*': {rule}"):
            load_data(tmp_path, errors=mode)


def test_unreadable_parquet_and_both_formats(tmp_path):
    write(tmp_path)
    (tmp_path / "revenue.parquet").write_text("not parquet")
    with pytest.raises(DataValidationError, match="both revenue.csv and revenue.parquet present"):
        load_data(tmp_path)
    (tmp_path / "revenue.csv").unlink()
    with pytest.raises(DataValidationError, match=r"revenue\.parquet: column '\*': unreadable file"):
        load_data(tmp_path)


def test_tickets_without_rows_is_an_error(tmp_path):
    write(tmp_path, tickets=raw("tickets").iloc[:0])
    with pytest.raises(DataValidationError, match="tickets.csv: column '\\*': no data rows"):
        load_data(tmp_path)


def test_tables_subset(tmp_path):
    write(tmp_path, revenue=corrupt("revenue", "amount", [0], "x"))
    ds = load_data(tmp_path, tables=["tickets", "surveys"])
    assert ds.revenue.empty and ds.customers.empty and len(ds.surveys) == 4
    with pytest.raises(ValueError, match="unknown table"):
        load_data(tmp_path, tables=["tickets", "orders"])
    with pytest.raises(ValueError, match="errors must be one of"):
        load_data(tmp_path, errors="ignore")


def test_validate_in_memory_names_table_and_positions(tmp_path):
    ds = load_data(write(tmp_path))
    tickets = ds.tickets.copy()
    tickets.loc[2, "reopens"] = -3
    with pytest.raises(DataValidationError, match=r"^tickets: column 'reopens': negative value: 1 row\(s\) "
                       r"\(e\.g\. rows 3\)$"):
        validate(Dataset(tickets=tickets, customers=ds.customers))
    cleaned = validate(Dataset(tickets=tickets, customers=ds.customers), errors="drop")
    assert cleaned.tickets.ticket_id.tolist() == ["t1", "t2", "t4"]


# ---------------------------------------------------------------- property tests

words = st.sampled_from(["billing", "tech", "access", "a,b", 'say "hi"', "ünï"])
comments = st.one_of(st.none(), st.text(alphabet="ab ,;\"'\né€1", min_size=1, max_size=20)
                     .filter(lambda s: s.strip() != ""))


@st.composite
def datasets(draw):
    n = draw(st.integers(1, 25))
    created = np.array(draw(st.lists(st.integers(0, 10**8), min_size=n, max_size=n)), dtype="int64")
    delay = np.array(draw(st.lists(st.one_of(st.none(), st.integers(0, 10**6)), min_size=n, max_size=n)),
                     dtype="float64")
    start = pd.Timestamp("2024-01-01", tz="UTC")
    created_at = start + pd.to_timedelta(created, unit="s")
    tickets = pd.DataFrame({
        "ticket_id": [f"t{i}" for i in range(n)],
        "customer_id": draw(st.lists(st.sampled_from(["c1", "c2", "c3"]), min_size=n, max_size=n)),
        "created_at": created_at,
        "first_response_at": created_at + pd.to_timedelta(delay, unit="s"),
        "resolved_at": created_at + pd.to_timedelta(delay * 3, unit="s"),
        "channel": draw(st.lists(st.sampled_from(["email", "chat", "phone", "web", "social", "other"]),
                                 min_size=n, max_size=n)),
        "priority": draw(st.lists(st.sampled_from(["low", "normal", "high", "urgent"]), min_size=n, max_size=n)),
        "agent_id": draw(st.lists(st.one_of(st.none(), st.sampled_from(["a1", "a2"])), min_size=n, max_size=n)),
        "team": draw(st.lists(st.one_of(st.none(), st.just("blue")), min_size=n, max_size=n)),
        "replies": draw(st.lists(st.integers(0, 50), min_size=n, max_size=n)),
        "reopens": draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)),
        "category": draw(st.lists(st.one_of(st.none(), words), min_size=n, max_size=n)),
    })
    m = draw(st.integers(0, 10))
    types = draw(st.lists(st.sampled_from(["csat", "nps", "ces"]), min_size=m, max_size=m))
    surveys = pd.DataFrame({
        "response_id": [f"r{i}" for i in range(m)],
        "customer_id": ["c1"] * m,
        "ticket_id": draw(st.lists(st.one_of(st.none(), st.sampled_from(list(tickets.ticket_id))),
                                   min_size=m, max_size=m)),
        # answered after every ticket: a survey may not precede the ticket it answers
        "submitted_at": (created_at.max() if n else start) + pd.to_timedelta(np.arange(m) + 1, unit="D"),
        "type": types,
        "score": [draw(st.integers(*{"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}[t])) for t in types],
        "comment": draw(st.lists(comments, min_size=m, max_size=m)),
    })
    amounts = draw(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=2))
    revenue = pd.DataFrame({"customer_id": ["c1", "c3"], "paid_at": [start, start],
                            "amount": amounts, "order_id": ["o1", None]})
    customers = pd.DataFrame({"customer_id": ["c1", "c2", "c3"], "signup_at": [start] * 3,
                              "segment": ["smb"] * 3, "region": [None, "eu", None],
                              "churned_at": [pd.NaT, start, pd.NaT]})
    return validate(Dataset(tickets=tickets, surveys=surveys, customers=customers, revenue=revenue))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ds=datasets(), fmt=st.sampled_from(["csv", "parquet"]))
def test_random_valid_datasets_round_trip(tmp_path, ds, fmt):
    save_data(ds, tmp_path, format=fmt)
    back = load_data(tmp_path)
    for table, frame in ds.tables().items():
        pd.testing.assert_frame_equal(back.tables()[table], frame)
    for path in tmp_path.iterdir():
        path.unlink()


@settings(max_examples=20, deadline=None)
@given(ds=datasets(), data=st.data())
def test_corrupting_k_rows_reports_exactly_k(ds, data):
    n = len(ds.tickets)
    rows = sorted(data.draw(st.sets(st.integers(0, n - 1), min_size=1, max_size=n)))
    column = data.draw(st.sampled_from(["replies", "reopens"]))
    tickets = ds.tickets.copy()
    tickets.loc[rows, column] = -1
    with pytest.raises(DataValidationError) as info:
        validate(Dataset(tickets=tickets, surveys=ds.surveys, customers=ds.customers, revenue=ds.revenue))
    (problem,) = info.value.problems
    assert (problem.column, problem.rule, problem.n_rows) == (column, "negative value", len(rows))
    assert problem.example_rows == tuple(r + 1 for r in rows[:5])
    kept = validate(Dataset(tickets=tickets, customers=ds.customers), errors="drop")
    assert len(kept.tickets) == n - len(rows)


def test_parquet_from_other_tools_naive_times_and_numeric_ids(tmp_path):
    customers = pd.DataFrame({"customer_id": [1, 2], "signup_at": pd.to_datetime(["2025-01-01", "2025-02-01"]),
                              "segment": ["smb", "smb"], "region": [None, None], "churned_at": [pd.NaT, pd.NaT]})
    tickets = raw("tickets").assign(customer_id=["1", "1", "2", "2"])
    tickets["created_at"] = pd.to_datetime(tickets.created_at).dt.tz_convert("America/New_York")
    for column in ("replies", "reopens"):
        tickets[column] = tickets[column].astype("int32")
    tickets.to_parquet(tmp_path / "tickets.parquet")
    customers.to_parquet(tmp_path / "customers.parquet")
    ds = load_data(tmp_path)
    assert ds.customers.customer_id.tolist() == ["1", "2"]
    assert ds.customers.signup_at.iloc[0] == pd.Timestamp("2025-01-01", tz="UTC")
    assert ds.tickets.created_at.iloc[0] == pd.Timestamp("2026-10-01T09:00", tz="UTC")
    assert str(ds.tickets.replies.dtype) == "int64"


def test_drop_keeps_the_valid_copy_of_a_duplicated_id():
    """An invalid first copy of an id is dropped for its own problem; its valid twin stays."""
    from slm_lib.io.load import validate
    from slm_lib.io.dataset import Dataset
    t = pd.DataFrame({"ticket_id": ["t1", "t1", "t2"], "customer_id": ["c", "c", "c"],
                      "created_at": pd.to_datetime(["2026-10-01"] * 3, utc=True),
                      "first_response_at": pd.to_datetime([None] * 3, utc=True),
                      "resolved_at": pd.to_datetime([None] * 3, utc=True),
                      "channel": ["fax", "email", "chat"], "priority": ["normal"] * 3,
                      "agent_id": [None] * 3, "team": [None] * 3, "replies": [0] * 3, "reopens": [0] * 3,
                      "category": [None] * 3})
    ds = validate(Dataset(tickets=t), errors="drop")
    assert ds.tickets["ticket_id"].tolist() == ["t1", "t2"] and ds.tickets["channel"].tolist() == ["email", "chat"]
    assert "duplicate" not in " ".join(ds.quality["rule"])


def test_survey_before_its_ticket_is_an_impossible_order():
    from slm_lib.io.load import validate
    from slm_lib.io.dataset import Dataset
    from slm_lib.errors import DataValidationError
    t = pd.DataFrame({"ticket_id": ["t1"], "customer_id": ["c"], "created_at": pd.to_datetime(["2026-10-02"], utc=True),
                      "first_response_at": pd.to_datetime([None], utc=True), "resolved_at": pd.to_datetime([None], utc=True),
                      "channel": ["email"], "priority": ["normal"], "agent_id": [None], "team": [None],
                      "replies": [0], "reopens": [0], "category": [None]})
    s = pd.DataFrame({"response_id": ["r1", "r2"], "customer_id": ["c", "c"], "ticket_id": ["t1", "t1"],
                      "submitted_at": pd.to_datetime(["2026-10-01", "2026-10-03"], utc=True), "type": ["csat", "csat"],
                      "score": [5, 4], "comment": [None, None]})
    with pytest.raises(DataValidationError, match=r"surveys: column 'submitted_at': submitted_at before the ticket's created_at: 1 row\(s\) \(e.g. rows 1\)"):
        validate(Dataset(tickets=t, surveys=s))
    assert validate(Dataset(tickets=t, surveys=s), errors="drop").surveys["response_id"].tolist() == ["r2"]


def test_header_only_customers_file_is_reported_not_silent(tmp_path):
    from slm_lib.io.load import load_data
    from slm_lib.io.save import save_data
    from slm_lib.synth import generate
    save_data(generate(customers=30, months=2, seed=5), tmp_path)
    (tmp_path / "customers.csv").write_text("customer_id,signup_at,segment,region,churned_at\n")
    ds = load_data(tmp_path)
    note = ds.quality[ds.quality["table"] == "customers"]
    assert note["rule"].tolist() == ["table has no rows: references to it were not checked"]
    assert note["action"].tolist() == ["info"] and note["file"].iloc[0].endswith("customers.csv")


# ----------------------------------------------------------------------------- Dataset: scales, as_of, until


def _utc(*values):
    return pd.Series(pd.to_datetime(list(values), utc=True, format="ISO8601"))


def _small() -> Dataset:
    tickets = empty_frame("tickets").reindex(range(3))
    tickets = tickets.assign(
        ticket_id=["t1", "t2", "t3"], customer_id="c1", channel="email", priority="normal", replies=1, reopens=0,
        created_at=_utc("2024-01-10", "2024-01-31 23:00", "2024-02-01"),
        first_response_at=_utc("2024-01-10 01:00", "2024-02-01", None),
        resolved_at=_utc("2024-02-05", None, None))
    customers = pd.DataFrame({"customer_id": ["c1", "c2", "c3"], "signup_at": _utc("2023-01-01", "2023-06-01",
                                                                                   "2024-02-01"),
                              "segment": "smb", "region": None, "churned_at": _utc(None, "2024-02-01", None)})
    surveys = pd.DataFrame({"response_id": ["r1", "r2"], "customer_id": "c1", "ticket_id": None,
                            "submitted_at": _utc("2024-01-31 23:59:59", "2024-02-01"), "type": "nps", "score": [9, 3],
                            "comment": None})
    revenue = pd.DataFrame({"customer_id": "c1", "paid_at": _utc("2024-01-15", "2024-02-01"), "amount": [10.0, 20.0],
                            "order_id": None})
    return Dataset(tickets=tickets, surveys=surveys, customers=customers, revenue=revenue)


def test_until_keeps_only_what_had_happened_before_the_instant():
    cut = _small().until("2024-02-01")
    assert cut.tickets["ticket_id"].tolist() == ["t1", "t2"]   # t3 was created at the instant: not yet
    assert cut.tickets["first_response_at"].tolist() == [pd.Timestamp("2024-01-10 01:00", tz="UTC"), pd.NaT]
    assert cut.tickets["resolved_at"].isna().all()             # t1 was resolved later: still open then
    assert cut.customers["customer_id"].tolist() == ["c1", "c2"] and cut.customers["churned_at"].isna().all()
    assert cut.surveys["response_id"].tolist() == ["r1"] and cut.revenue["amount"].tolist() == [10.0]
    assert cut.as_of == pd.Timestamp("2024-02-01", tz="UTC") == cut.observation_end()
    # cutting again later cannot bring anything back; an earlier cut wins
    assert cut.until("2024-03-01").as_of == cut.as_of and len(cut.until("2024-01-20").tickets) == 1


def test_observation_end_defaults_to_the_latest_timestamp_and_refuses_empty_data():
    assert _small().observation_end() == pd.Timestamp("2024-02-05", tz="UTC")
    assert Dataset(as_of="2024-03-01T01:00+01:00").observation_end() == pd.Timestamp("2024-03-01", tz="UTC")
    with pytest.raises(InsufficientDataError, match="no timestamps"):
        Dataset().observation_end()


def test_scales_are_carried_from_load_to_every_copy(tmp_path):
    save_data(_small(), tmp_path)
    ds = load_data(tmp_path, scales={"csat": (1, 7)}, as_of="2024-03-01")
    assert ds.scales == {"csat": (1, 7), "nps": (0, 10), "ces": (1, 7)} and ds.as_of == pd.Timestamp("2024-03-01",
                                                                                                      tz="UTC")
    assert validate(ds).scales == ds.scales and ds.until("2024-02-01").scales == ds.scales
    with pytest.raises(ConfigError, match="NPS is defined on 0-10"):
        check_scales({"nps": (1, 5)})
    with pytest.raises(ConfigError, match="unknown survey type"):
        Dataset(scales={"effort": (1, 5)})


# ----------------------------------------------------------------------------- ticket_events
def test_ticket_events_are_normalised_and_a_missing_events_file_is_quiet(tmp_path):
    events = raw("ticket_events")
    events.loc[3, ["kind", "actor"]] = [" Public_Reply", "AGENT"]
    events.loc[15, "priority"] = "Low"
    ds = load_data(write(tmp_path, ticket_events=events))
    assert ds.ticket_events.loc[3, ["kind", "actor"]].tolist() == ["public_reply", "agent"]
    assert ds.ticket_events.loc[15, "priority"] == "low" and ds.ticket_events["priority"].isna().sum() == 14
    assert ds.ticket_events.loc[7, "body"] == "  Great"
    assert ds.ticket_events.loc[1, "body"] == 'Hello, I "can\'t" log in'
    assert ds.quality.empty
    quiet = load_data(write(tmp_path / "none", ticket_events=None))
    assert quiet.ticket_events.empty and quiet.quality.empty
    assert list(quiet.ticket_events.columns) == list(COLUMNS["ticket_events"])


def test_ticket_fields_that_disagree_with_events_are_flagged_not_resolved(tmp_path):
    tickets = raw("tickets")
    tickets.loc[0, "replies"] = "3"                                    # events: 2 agent replies
    tickets.loc[0, "resolved_at"] = "2026-10-01T12:00:01Z"             # events: solved at 12:00:00
    tickets.loc[2, "reopens"] = "0"                                    # events: solved -> open once
    tickets.loc[3, "first_response_at"] = "2026-10-04T13:00:00.900Z"   # under a second apart: agrees
    events = raw("ticket_events")
    events = events[events.ticket_id != "t2"]
    ds = load_data(write(tmp_path, tickets=tickets, ticket_events=events))
    flagged = ds.quality[ds.quality.action == "flagged"].set_index("column")
    assert sorted(flagged.index) == ["reopens", "replies", "resolved_at"]
    assert flagged.loc["replies", "rule"] == ("replies disagrees with ticket_events (the number of agent public_reply "
                                              "events) on 1 ticket(s), e.g. ticket_id 't1'")
    assert (flagged.loc["resolved_at", "n_rows"], flagged.loc["resolved_at", "example_rows"]) == (1, "1")
    assert "e.g. ticket_id 't3'" in flagged.loc["reopens", "rule"]
    assert flagged["file"].str.endswith("tickets.csv").all()
    # both sides kept as they are
    assert ds.tickets["replies"].tolist() == [3, 0, 1, 1] and len(ds.ticket_events) == len(events)
    (info,) = ds.quality[ds.quality.action == "info"].itertuples()
    assert (info.n_rows, info.example_rows) == (1, "2") and info.rule.startswith("no ticket_events")


def test_cli_validate_shows_flagged_disagreements(tmp_path, capsys):
    from slm_lib.cli import main
    write(tmp_path, tickets=corrupt("tickets", "reopens", [2], "0"))
    assert main(["validate", "--data", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "flagged" in out and "reopens disagrees with ticket_events" in out and "'t3'" in out


def test_drop_mode_drops_and_counts_bad_events_and_events_of_dropped_tickets(tmp_path):
    events = corrupt("ticket_events", "kind", [2], "reassigned")
    events.loc[10, "at"] = "2026-10-03T10:00:00Z"                     # t3's reply before t3 was created
    write(tmp_path, tickets=corrupt("tickets", "replies", [3], "-1"), ticket_events=events)   # t4 invalid
    ds = load_data(tmp_path, errors="drop")
    dropped = ds.quality[(ds.quality.action == "dropped") & (ds.quality.table == "ticket_events")].set_index("column")
    assert dropped.loc["kind", ["n_rows", "example_rows"]].tolist() == [1, "3"]
    assert dropped.loc["at", ["n_rows", "example_rows"]].tolist() == [1, "11"]
    assert dropped.loc["ticket_id", ["n_rows", "example_rows"]].tolist() == [2, "15, 16"]
    assert "e3" not in ds.ticket_events["event_id"].tolist() and len(ds.ticket_events) == 12
    flagged = ds.quality[ds.quality.action == "flagged"]
    # t3's reply went
    assert flagged[["column", "n_rows"]].values.tolist() == [["first_response_at", 1], ["replies", 1]]
    validate(ds, errors="drop")


def test_until_cuts_events_and_the_counts_they_carry(tmp_path):
    ds = load_data(write(tmp_path))
    cut = ds.until("2026-10-03T16:00:00Z")     # t3: replied and solved, reopened at 15:00, solved again next day
    assert cut.ticket_events["at"].max() < pd.Timestamp("2026-10-03T16:00:00Z")
    assert cut.ticket_events["event_id"].tolist() == [f"e{i}" for i in range(1, 14)]
    t3 = cut.tickets.set_index("ticket_id").loc["t3"]
    assert (t3.replies, t3.reopens, pd.isna(t3.resolved_at)) == (1, 1, True)
    before_reopen = ds.until("2026-10-03T12:00:00Z").tickets.set_index("ticket_id").loc["t3"]
    assert (before_reopen.reopens, before_reopen.resolved_at) == (0, pd.Timestamp("2026-10-03T11:05:00Z"))
    t1 = ds.until("2026-10-01T10:00:00Z").tickets.set_index("ticket_id").loc["t1"]
    assert (t1.replies, t1.first_response_at, pd.isna(t1.resolved_at)) == (1, pd.Timestamp("2026-10-01T09:30Z"), True)
    assert validate(cut).quality.empty         # an earlier export agrees with its own events
    assert ds.observation_end() == pd.Timestamp("2026-10-07T09:00:00Z")
    # t3 still open after its reopen (no second solve yet): before the reopen it was solved all the same
    still_open = replace(ds, tickets=ds.tickets.assign(resolved_at=ds.tickets["resolved_at"].where(
        ds.tickets["ticket_id"] != "t3")), ticket_events=ds.ticket_events[ds.ticket_events["event_id"] != "e14"])
    assert validate(still_open).quality.empty
    t3 = still_open.until("2026-10-03T12:00:00Z").tickets.set_index("ticket_id").loc["t3"]
    assert (t3.reopens, t3.resolved_at) == (0, pd.Timestamp("2026-10-03T11:05:00Z"))


def test_save_writes_events_only_when_there_are_some_or_were_before(tmp_path):
    ds = load_data(write(tmp_path / "in"))
    save_data(ds, tmp_path / "out")
    assert (tmp_path / "out" / "ticket_events.csv").read_bytes() == (tmp_path / "in" / "ticket_events.csv").read_bytes()
    save_data(Dataset(tickets=ds.tickets), tmp_path / "out")          # no events now: the old file is emptied
    assert (tmp_path / "out" / "ticket_events.csv").read_text() == ",".join(COLUMNS["ticket_events"]) + "\n"
    assert load_data(tmp_path / "out").ticket_events.empty
    save_data(Dataset(tickets=ds.tickets), tmp_path / "plain")
    assert not (tmp_path / "plain" / "ticket_events.csv").exists()
