"""Tests of slm_lib.engines.event_checks: tickets against their ticket_events on the engine give pandas' quality rows."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import slm_lib as slm
from slm_lib.engines import open_dataset
from slm_lib.engines.session import set_time_zone
from slm_lib.schema import COLUMNS, EVENT_ACTORS, EVENT_KINDS, EVENT_STATUSES

TABLES = ("tickets", "ticket_events")
DAY = "2024-01-01T"


def ticket(tid: str, first: str = "", resolved: str = "", replies: int = 0, reopens: int = 0,
           channel: str = "email") -> dict:
    return {"ticket_id": tid, "customer_id": "C1", "created_at": f"{DAY}08:00:00Z", "first_response_at": first,
            "resolved_at": resolved, "channel": channel, "priority": "normal", "agent_id": "", "team": "",
            "replies": str(replies), "reopens": str(reopens), "category": ""}


def event(tid: str, at: str, kind: str, actor: str = "agent", status: str = "") -> dict:
    return {"ticket_id": tid, "at": at, "kind": kind, "actor": actor, "status": status, "agent_id": "", "team": "",
            "priority": "", "body": ""}


def write(directory: Path, tickets: list[dict], events: list[dict]) -> Path:
    """Tickets and events as CSV text; event ids follow the table order (as ``slm generate`` writes them)."""
    directory.mkdir(parents=True, exist_ok=True)
    pd.DataFrame(tickets, columns=list(COLUMNS["tickets"])).to_csv(directory / "tickets.csv", index=False)
    frame = pd.DataFrame(events, columns=[c for c in COLUMNS["ticket_events"] if c != "event_id"])
    frame.insert(0, "event_id", [f"E{i:04d}" for i in range(len(frame))])
    frame.to_csv(directory / "ticket_events.csv", index=False)
    return directory


def quality(directory: Path, errors: str = "raise", engine: str = "duckdb", con=None) -> tuple[pd.DataFrame, ...]:
    """The quality tables of pandas and of the engine on one directory."""
    ds = slm.load_data(directory, tables=TABLES, errors=errors)
    lazy = open_dataset(directory, engine, tables=TABLES, errors=errors, con=con)
    return ds.quality, lazy.quality


def test_each_disagreement_hand_counted(tmp_path):
    """T1 agrees (its reply half a second from first_response_at); T2 disagrees on every field; T3 has no events;
    T4 was reopened after its resolution (unresolved, one reopen); T5's only reply is the customer's."""
    h = lambda t: f"{DAY}{t}Z"  # noqa: E731
    tickets = [ticket("T1", h("09:30:00"), h("10:00:00"), 1), ticket("T2", h("09:12:00"), h("10:00:00"), 2),
               ticket("T3", h("09:00:00"), "", 3), ticket("T4", "", h("10:00:00"), 0, 1),
               ticket("T5", h("09:00:00"))]
    events = [event("T1", h("09:00:00"), "customer_message", "customer"), event("T1", h("09:30:00.5"), "public_reply"),
              event("T1", h("10:00:00"), "status", status="solved"),
              event("T2", h("09:10:00"), "public_reply"), event("T2", h("10:00:00"), "status", status="solved"),
              event("T2", h("11:00:00"), "status", status="open"), event("T2", h("12:00:00"), "status", status="closed"),
              event("T4", h("10:00:00"), "status", status="solved"), event("T4", h("11:00:00"), "status", status="open"),
              event("T5", h("09:00:00"), "public_reply", "customer"), event("T5", h("09:00:00"), "status", status="open")]
    expected_pandas, engine = quality(write(tmp_path, tickets, events))
    got = engine[["column", "n_rows", "example_rows", "action"]].to_numpy().tolist()
    assert got == [["first_response_at", 2, "2, 5", "flagged"], ["resolved_at", 2, "2, 4", "flagged"],
                   ["replies", 1, "2", "flagged"], ["reopens", 1, "2", "flagged"], ["*", 1, "3", "info"]]
    assert engine["rule"].iloc[1].endswith("on 2 ticket(s), e.g. ticket_id 'T2', 'T4'")
    pd.testing.assert_frame_equal(engine, expected_pandas)


def test_the_samples_with_edited_tickets_equal_pandas(tmp_path):
    """The samples agree with their events; edited tickets disagree and tickets stripped of events are counted."""
    tickets = pd.read_csv("data_samples/tickets.csv", dtype=str, keep_default_na=False)
    events = pd.read_parquet("data_samples/ticket_events.parquet")
    tickets.loc[[5, 40, 41, 900], "replies"] = "17"
    tickets.loc[[7, 3000], "reopens"] = "4"
    tickets.loc[[9, 12], "first_response_at"] = ""
    shifted = pd.to_datetime(tickets.loc[[20, 21], "resolved_at"], utc=True) + pd.to_timedelta([0.5, 2.0], "s")
    tickets.loc[[20, 21], "resolved_at"] = shifted.dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")   # 0.5 s agrees, 2 s not
    tickets.loc[8, "channel"] = "fax"                                                      # dropped in drop mode
    events = events[~events["ticket_id"].isin(tickets.loc[[2, 30, 31], "ticket_id"])]
    tickets.to_csv(tmp_path / "tickets.csv", index=False)
    events.to_parquet(tmp_path / "ticket_events.parquet", index=False)
    pandas, engine = quality(tmp_path, errors="drop")
    assert pandas["action"].tolist() == ["dropped"] * 2 + ["flagged"] * 4 + ["info"]   # the fax ticket and its events
    assert pandas.loc[3, "n_rows"] == 1 and pandas.loc[4, "example_rows"] == "6, 40, 41, 900"   # rows after the drop
    pd.testing.assert_frame_equal(engine, pandas)


MINUTE = st.integers(0, 3)


@st.composite
def histories(draw) -> tuple[list[dict], list[dict]]:
    """Up to four tickets with random fields and up to twelve events at few instants (ties of one kind included)."""
    n = draw(st.integers(1, 4))
    at = lambda m: f"{DAY}09:0{m}:00Z" if m is not None else ""  # noqa: E731
    tickets = [ticket(f"T{i}", at(draw(st.none() | MINUTE)), at(draw(st.none() | MINUTE)), draw(st.integers(0, 2)),
                      draw(st.integers(0, 1)), draw(st.sampled_from(["email", "email", "fax"])))
               for i in range(n)]
    events = []
    for _ in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from(EVENT_KINDS))
        events.append(event(f"T{draw(st.integers(0, n - 1))}", at(draw(MINUTE)), kind,
                            draw(st.sampled_from(EVENT_ACTORS)),
                            draw(st.sampled_from(EVENT_STATUSES)) if kind == "status" else ""))
    return tickets, events


@settings(max_examples=3, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(histories())
def test_random_histories_give_the_pandas_quality(tmp_path_factory, history):
    directory = write(tmp_path_factory.mktemp("events"), *history)
    pandas, engine = quality(directory, errors="drop")
    pd.testing.assert_frame_equal(engine, pandas)


def test_spark_checks_events_and_reads_the_iso_forms_as_pandas(spark, tmp_path):
    """One Spark case: every form of the parse table read or rejected as pandas does (one query), then tickets
    written in several forms, with a disagreement and a ticket without events, give pandas' quality table."""
    from test_engine_parse import FORMS, assert_parsed_as_pandas

    set_time_zone(spark, "UTC")
    assert_parsed_as_pandas(spark, FORMS)
    forms = ["2024-01-01T09:30:00.000000+00:00", "2024-01-01 10:00:00+0000", "20240101T0930Z",
             "2024-01-01T11:00:00.5+01:00", "2024/01/01 09:05"]
    tickets = [ticket("T1", forms[0], forms[1], 1), ticket("T2", forms[2], "", 2), ticket("T3", forms[3], forms[4])]
    events = [event("T1", "2024-01-01T09:30:00Z", "public_reply"),
              event("T1", "2024-01-01T10:00:00Z", "status", status="solved"),
              event("T2", "2024-01-01 09:30:00.2 Z", "public_reply")]
    pandas, engine = quality(write(tmp_path, tickets, events), engine="spark", con=spark)
    assert pandas["action"].tolist() == ["flagged", "info"]
    pd.testing.assert_frame_equal(engine, pandas)
