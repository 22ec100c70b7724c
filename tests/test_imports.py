"""Tests of the import engine (SPEC §10) and the Zendesk, Delighted and Stripe mappings."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from slm_lib.errors import ConfigError, DataValidationError, MappingError
from slm_lib.io.imports import import_exports, read_export
from slm_lib.io.imports.convert import parse_hours, parse_timestamps
from slm_lib.io.imports.identity import customer_keys, hash_keys
from slm_lib.io.imports.merge import combine
from slm_lib.io.imports.mapping import builtin_mappings, validate_mapping
from slm_lib.io.load import load_data

EXPORTS = Path(__file__).parent / "fixtures" / "exports"


def files(vendor: str) -> list[Path]:
    return sorted((EXPORTS / vendor).iterdir())


def utc(*values: str | None) -> list:
    return [pd.Timestamp(v, tz="UTC") if v else pd.NaT for v in values]


# --------------------------------------------------------------------------- Zendesk
def test_zendesk_tickets_exact_rows():
    ds = read_export("zendesk", files("zendesk"))
    t = ds.tickets
    assert t["ticket_id"].tolist() == ["101", "102", "103", "106", "107"]   # 104 deleted, 105 merged
    assert t["customer_id"].tolist() == ["9001", "9002", "9001", "9003", "9002"]
    assert t["created_at"].tolist() == utc("2024-03-01 09:00", "2024-03-02 14:30", "2024-03-03 10:00",
                                           "2024-03-04 08:00", "2024-03-05 12:00")
    assert t["first_response_at"].tolist() == utc("2024-03-01 10:30", "2024-03-02 15:00", None,
                                                  "2024-03-04 08:45", "2024-03-05 12:15")
    assert t["resolved_at"].tolist() == utc("2024-03-02 10:00", "2024-03-02 16:30", None,
                                            "2024-03-05 08:00", None)
    assert t["channel"].tolist() == ["email", "web", "chat", "phone", "social"]
    assert t["priority"].tolist() == ["high", "normal", "urgent", "low", "normal"]
    assert t["agent_id"].fillna("-").tolist() == ["501", "502", "-", "501", "502"]
    assert t["team"].tolist() == ["20", "21", "20", "20", "21"]
    assert t["replies"].tolist() == [1, 2, 0, 3, 1]
    assert t["reopens"].tolist() == [0, 0, 0, 1, 0]
    assert t["category"].fillna("-").tolist() == ["incident", "question", "-", "problem", "task"]
    assert t["vendor_frt_business_h"].tolist()[:2] == [1.0, 0.5]
    assert t["replies"].dtype == "int64" and str(t["created_at"].dtype) == "datetime64[ns, UTC]"


def test_zendesk_surveys_and_csat_equals_good_share():
    ds = read_export("zendesk", files("zendesk"))
    s = ds.surveys
    assert s["response_id"].tolist() == ["7001", "7002", "7006", "7003"]   # offered/unoffered dropped
    assert s["score"].tolist() == [5, 1, 5, 5]
    assert set(s["type"]) == {"csat"}
    assert s["submitted_at"].iloc[0] == pd.Timestamp("2024-03-02 11:00", tz="UTC")   # updated_at
    good, bad = 3, 1                                                              # fixture: good/bad
    top2 = (s["score"] >= 4).mean()
    assert top2 == good / (good + bad)
    quality = ds.quality.set_index("rule")["n_rows"]
    assert quality["filtered by mapping: unanswered"] == 2
    assert quality["filtered by mapping: deleted"] == 1 and quality["filtered by mapping: merged"] == 1


def test_zendesk_email_key_from_sideloaded_users_and_hash():
    ds = read_export("zendesk", files("zendesk"), key="email")
    assert ds.tickets["customer_id"].tolist()[:2] == ["ann@example.com", "bob@example.com"]
    hashed = read_export("zendesk", files("zendesk"), key="email", hash_salt="s3")
    expected = hash_keys(pd.Series(["ann@example.com"]), "s3").iloc[0]
    assert hashed.tickets["customer_id"].iloc[0] == expected
    assert len(expected) == 16 and "@" not in "".join(hashed.customers["customer_id"])


def test_zendesk_without_users_cannot_key_by_email(tmp_path):
    for f in files("zendesk"):
        shutil.copy(f, tmp_path / f.name)
    doc = json.loads((tmp_path / "tickets.json").read_text())
    doc.pop("users")
    (tmp_path / "tickets.json").write_text(json.dumps(doc))
    with pytest.raises(MappingError, match="requester.email"):
        read_export("zendesk", sorted(tmp_path.iterdir()), key="email")


# --------------------------------------------------------------------------- Delighted, Stripe
def test_delighted_exact_rows_last_response_wins():
    s = read_export("delighted", files("delighted"), key="email").surveys
    assert s["response_id"].tolist() == ["5001", "5002", "5003"]
    assert s["customer_id"].tolist() == ["ann@example.com", "bob@example.com", "dee@example.com"]
    assert s["score"].tolist() == [10, 7, 8]                        # 5002 updated 6 -> 7
    assert s["comment"].fillna("-").tolist() == ["Love it", "Better after the fix", "Good <b>but</b> slow"]
    assert s["submitted_at"].tolist() == utc("2024-03-02 09:00", "2024-03-03 09:00", "2024-03-04 09:00")
    assert set(s["type"]) == {"nps"}


def test_stripe_exact_rows_refunds_negative_failed_dropped():
    r = read_export("stripe", files("stripe")).revenue
    assert r["order_id"].tolist() == ["ch_1A", "ch_1B", "ch_1D", "ch_1E", "ch_1D:refund", "ch_1E:refund"]
    assert r["amount"].tolist() == [49.0, 1200.0, 99.0, 49.0, -30.0, -49.0]
    assert r["customer_id"].tolist() == ["cus_A", "cus_B", "cus_C", "cus_A", "cus_C", "cus_A"]
    assert r["paid_at"].tolist() == utc("2024-03-01 10:15", "2024-03-02 11:00", "2024-03-04 16:45",
                                        "2024-03-05 12:00", "2024-03-06 08:00", "2024-03-07 09:15")
    assert set(r["currency"]) == {"usd"}


def rows(revenue: pd.DataFrame) -> list[tuple]:
    """Canonical revenue rows as (customer_id, paid_at UTC text, amount, order_id)."""
    return list(zip(revenue["customer_id"], revenue["paid_at"].dt.strftime("%Y-%m-%d %H:%M:%S"),
                    revenue["amount"], revenue["order_id"]))


def test_stripe_without_refund_date_dates_refunds_by_payment():
    """An export whose column selection leaves out 'Refunded date (UTC)' (the mapping lists it with
    'Created date (UTC)' as fallback): refunds take the payment date, and the quality table says so."""
    ds = read_export("stripe", files("stripe_no_refund_date"), key="email")
    assert rows(ds.revenue) == [
        ("pat@example.com", "2024-04-01 08:00:05", 29.0, "ch_3PaA"),
        ("quinn@example.com", "2024-04-02 10:30:00", 120.0, "ch_3PaB"),
        ("quinn@example.com", "2024-04-02 10:30:00", -20.0, "ch_3PaB:refund"),   # partial refund, payment date
        ("pat@example.com", "2024-04-04 12:00:00", 59.0, "ch_3PaD"),
        ("pat@example.com", "2024-04-04 12:00:00", -59.0, "ch_3PaD:refund"),
        ("rae@example.com", "2024-04-05 13:15:00", 1050.0, "ch_3PaE")]          # ch_3PaC failed
    notes = ds.quality.query("action == 'info' and table == 'revenue'")
    assert notes[["column", "rule", "n_rows"]].values.tolist() == [
        ["Refunded date (UTC)", "column not in the file: paid_at read from 'Created date (UTC)'", 2]]


def test_stripe_older_payments_export_with_created_utc(tmp_path):
    """The older Dashboard payments export names the payment time 'Created (UTC)' and has no refund date."""
    r = read_export("stripe", files("stripe_legacy")).revenue
    assert rows(r) == [
        ("cus_L1", "2019-06-03 09:12:00", 15.0, "ch_1ELa"),
        ("cus_L2", "2019-06-04 17:45:00", 45.0, "ch_1ELb"),
        ("cus_L2", "2019-06-04 17:45:00", -45.0, "ch_1ELb:refund"),
        ("cus_L1", "2019-06-06 12:30:00", 80.0, "ch_1ELd"),
        ("cus_L1", "2019-06-06 12:30:00", -30.0, "ch_1ELd:refund")]               # ch_1ELc failed
    assert set(r["currency"]) == {"eur"}
    summary = import_exports("stripe", files("stripe_legacy"), tmp_path)
    assert summary[["part", "rows_read", "rows_kept", "dropped_failed"]].values.tolist() == [
        ["payments", 4, 3, 1], ["refunds", 2, 2, 0]]
    assert summary["columns_not_in_file"].tolist() == ["Created date (UTC)", "Refunded date (UTC), Created date (UTC)"]
    assert load_data(tmp_path, tables=["revenue"]).revenue["amount"].sum() == pytest.approx(15 + 45 + 80 - 45 - 30)


def test_stripe_without_any_created_column_names_file_alternatives_and_closest(tmp_path):
    path = tmp_path / "unified_payments.csv"
    path.write_text((EXPORTS / "stripe" / "unified_payments.csv").read_text().replace("Created date (UTC)", "Created"))
    with pytest.raises(MappingError) as err:
        read_export("stripe", [path])
    message = str(err.value)
    assert message.startswith("unified_payments.csv: columns 'Created date (UTC)' or 'Created (UTC)' named "
                              "by the mapping are not in the file; closest columns: ")
    assert "'Created'" in message.split("closest columns: ")[1]


# --------------------------------------------------------------------------- directory imports
def run_three(out: Path, salt: str | None = "pepper") -> list[pd.DataFrame]:
    return [import_exports(v, files(v), out, key="email", hash_salt=salt)
            for v in ("zendesk", "delighted", "stripe")]


def test_three_sources_combine_and_pass_load_data(tmp_path):
    summaries = run_three(tmp_path)
    ds = load_data(tmp_path)
    assert (len(ds.tickets), len(ds.surveys), len(ds.revenue), len(ds.customers)) == (5, 7, 6, 4)
    zendesk = summaries[0].set_index("table")
    assert zendesk.loc["tickets", "rows_read"] == 7 and zendesk.loc["tickets", "rows_kept"] == 5
    assert zendesk.loc["tickets", "dropped_deleted"] == 1 and zendesk.loc["tickets", "dropped_merged"] == 1
    assert zendesk.loc["surveys", "dropped_unanswered"] == 2
    assert zendesk.loc["surveys", "unlinked_ticket"] == 1             # rating of merged ticket 105
    assert ds.surveys.set_index("response_id").loc["7006", "ticket_id"] != "105"
    assert not ds.customers["customer_id"].str.contains("@").any()
    assert set(ds.customers["segment"]) == {"unknown"}


def test_reimport_is_idempotent(tmp_path):
    run_three(tmp_path)
    before = {p.name: p.read_bytes() for p in tmp_path.glob("*.csv")}
    run_three(tmp_path)
    assert {p.name: p.read_bytes() for p in tmp_path.glob("*.csv")} == before
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".import-")]


def test_newer_export_updates_tickets_by_id(tmp_path):
    import_exports("zendesk", files("zendesk"), tmp_path)
    newer = tmp_path / "newer"
    newer.mkdir()
    tickets = (EXPORTS / "zendesk" / "tickets.json").read_text().replace('"status": "open", "priority": "urgent"',
                                                                       '"status": "open", "priority": "high"')
    (newer / "tickets.json").write_text(tickets)
    metrics = (EXPORTS / "zendesk" / "ticket_metrics.json").read_text().replace(
        '"ticket_id": 103, "created_at": "2024-03-03T10:00:00Z", "replies": 0',
        '"ticket_id": 103, "created_at": "2024-03-03T10:00:00Z", "replies": 4')
    (newer / "ticket_metrics.json").write_text(metrics)
    out = tmp_path / "data"
    import_exports("zendesk", files("zendesk"), out)
    import_exports("zendesk", sorted(newer.iterdir()), out)
    t = load_data(out).tickets.set_index("ticket_id")
    assert len(t) == 5
    assert t.loc["103", "priority"] == "high" and t.loc["103", "replies"] == 4


def test_import_keeps_the_ticket_events_the_directory_holds(tmp_path):
    out = tmp_path / "data"
    import_exports("zendesk", files("zendesk"), out)
    first = load_data(out).tickets.iloc[0]
    (out / "ticket_events.csv").write_text("event_id,ticket_id,at,kind,actor,status,agent_id,team,priority,body\n"
                                           f"e1,{first.ticket_id},{first.created_at:%Y-%m-%dT%H:%M:%SZ},"
                                           "internal_note,agent,,,,,looked at it\n")
    import_exports("zendesk", files("zendesk"), out)
    assert load_data(out).ticket_events["body"].tolist() == ["looked at it"]


# --------------------------------------------------------------------------- errors, nothing written
def write_yaml(tmp_path: Path, mapping: dict) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(mapping))
    return path


CSV_MAPPING = {"name": "mine", "tables": {"revenue": {
    "files": "pay*.csv", "identity": {"id": "cust"},
    "fields": {"paid_at": "date", "amount": "amount", "order_id": "order"}}}}


def test_missing_column_names_file_column_and_closest(tmp_path):
    (tmp_path / "pay.csv").write_text("cust,paid_date,date_paid,amount,order\nc1,2024-01-01T00:00Z,x,5,o1\n")
    out = tmp_path / "out"
    with pytest.raises(MappingError) as err:
        import_exports(write_yaml(tmp_path, CSV_MAPPING), [tmp_path / "pay.csv"], out)
    message = str(err.value)
    assert "pay.csv" in message and "'date'" in message and "date_paid" in message
    assert not out.exists()


@pytest.mark.parametrize("change, match", [
    ({"tables": {"revenue": {"files": "p.csv", "feilds": {}}}}, "did you mean 'fields'"),
    ({"tables": {"revenue": {"files": "p.csv", "identity": {"id": "c"},
                             "fields": {"paid_at": "d", "amount": "a", "amount_usd": "a"}}}}, "unknown revenue field"),
    ({"tables": {"revenue": {"files": "p.csv", "identity": {"id": "c"}, "fields": {"paid_at": "d"}}}},
     "not mapped: amount"),
    ({"tables": {"invoices": {"files": "p.csv"}}}, "unknown key"),
    ({"tables": {"tickets": {"files": "t.csv", "identity": {"id": "c"}, "fields": {
        "ticket_id": "id", "created_at": "c", "resolved_at": {"base": "first_response_at", "duration": "d"}}}}},
     "'base' must name another timestamp field"),
    ({"tables": {"revenue": {"files": "p.csv", "identity": {"id": "c"},
                             "fields": {"paid_at": {"column": "d", "timestamp": "yyyy"}, "amount": "a"}}}},
     "timestamp format"),
])
def test_bad_mapping_is_rejected(change, match):
    with pytest.raises(MappingError, match=match):
        validate_mapping({"name": "bad", **change})


OPTIONAL_MAPPING = {"name": "opt", "tables": {"tickets": {
    "files": "t*.csv", "identity": {"email": ["Email", "Requester email"]},
    "drop": [{"column": "Spam", "equals": True, "reason": "spam", "optional": True}],
    "fields": {"ticket_id": "Id", "created_at": ["Created", "Opened"],
               "category": {"column": "Type", "optional": True},
               "agent_id": {"column": "Agent", "only_if": {"column": "Agent", "not_in": ["no agent"]},
                            "optional": True}}}}}


def test_optional_columns_and_fallbacks_when_the_file_lacks_them(tmp_path):
    (tmp_path / "t.csv").write_text("Id,Opened,Requester email\n1,2024-03-01T09:00Z,A@x.io\n2,2024-03-02T09:00Z,b@x.io\n")
    ds = read_export(write_yaml(tmp_path, OPTIONAL_MAPPING), [tmp_path / "t.csv"], key="email")
    t = ds.tickets
    assert t["ticket_id"].tolist() == ["1", "2"] and t["customer_id"].tolist() == ["a@x.io", "b@x.io"]
    assert t["created_at"].tolist() == utc("2024-03-01 09:00", "2024-03-02 09:00")
    assert t["category"].isna().all() and t["agent_id"].isna().all()
    notes = ds.quality.query("action == 'info' and table == 'tickets'").set_index("column")["rule"].to_dict()
    assert notes == {"Spam": "optional column not in the file: read as missing (drop filter 'spam')",
                     "Email": "column not in the file: customer_id read from 'Requester email'",
                     "Created": "column not in the file: created_at read from 'Opened'",
                     "Type": "optional column not in the file: read as missing (category)",
                     "Agent": "optional column not in the file: read as missing (agent_id)"}


def test_optional_columns_and_fallbacks_present_are_read_per_row(tmp_path):
    (tmp_path / "t.csv").write_text("Id,Created,Opened,Email,Requester email,Spam,Type,Agent\n"
                                    "1,2024-03-01T09:00Z,2024-01-01T00:00Z,,c@x.io,false,question,No Agent\n"
                                    "2,,2024-03-02T09:00Z,d@x.io,e@x.io,true,incident,Jo\n"
                                    "3,2024-03-03T09:00Z,,f@x.io,,false,,Jo\n")
    ds = read_export(write_yaml(tmp_path, OPTIONAL_MAPPING), [tmp_path / "t.csv"], key="email")
    t = ds.tickets
    assert t["ticket_id"].tolist() == ["1", "3"]                                    # 2 dropped as spam
    assert t["customer_id"].tolist() == ["c@x.io", "f@x.io"]                        # first non-empty per row
    assert t["created_at"].tolist() == utc("2024-03-01 09:00", "2024-03-03 09:00")
    assert t["category"].fillna("-").tolist() == ["question", "-"]
    assert t["agent_id"].fillna("-").tolist() == ["-", "Jo"]
    assert ds.quality.query("action == 'info' and table == 'tickets'").empty


def test_optional_does_not_excuse_a_required_column_or_a_bad_flag(tmp_path):
    (tmp_path / "t.csv").write_text("Id,Requester email\n1,a@x.io\n")
    with pytest.raises(MappingError, match=r"t.csv: columns 'Created' or 'Opened' named by the mapping are not in "
                                           r"the file; closest columns: none \(2 columns in the file\)"):
        read_export(write_yaml(tmp_path, OPTIONAL_MAPPING), [tmp_path / "t.csv"], key="email")
    bad = {"name": "bad", "tables": {"revenue": {"files": "p.csv", "identity": {"id": "c"}, "fields": {
        "paid_at": "d", "amount": {"column": "a", "optional": "yes"}}}}}
    with pytest.raises(MappingError, match=r"fields.amount: 'optional' must be true or false, got 'yes'"):
        validate_mapping(bad)


def test_unknown_builtin_suggests_closest():
    with pytest.raises(MappingError, match="zendesk"):
        read_export("zendesks", files("zendesk"))


def test_builtin_name_beside_a_folder_of_that_name(tmp_path, monkeypatch):
    """Exports kept in a folder named after the tool (cd exports; slm import --from zendesk zendesk/...)."""
    (tmp_path / "zendesk").mkdir()
    monkeypatch.chdir(tmp_path)
    assert len(read_export("zendesk", files("zendesk")).tickets) == 5


def test_unparseable_timestamp_reported_with_rows_nothing_written(tmp_path):
    (tmp_path / "pay.csv").write_text("cust,date,amount,order\nc1,2024-01-01T00:00Z,5,o1\n"
                                      "c2,yesterday,5,o2\nc3,2024-13-45T00:00Z,5,o3\n")
    out = tmp_path / "out"
    with pytest.raises(DataValidationError) as err:
        import_exports(write_yaml(tmp_path, CSV_MAPPING), [tmp_path / "pay.csv"], out)
    problem = err.value.problems[0]
    assert (problem.file, problem.column, problem.n_rows, problem.example_rows) == ("pay.csv", "date", 2, (2, 3))
    assert not out.exists()
    ds = read_export(write_yaml(tmp_path, CSV_MAPPING), [tmp_path / "pay.csv"], errors="drop")
    assert ds.revenue["order_id"].tolist() == ["o1"]
    assert ds.quality.query("action == 'dropped'")["n_rows"].tolist() == [2]


def test_local_times_need_tz_and_unknown_tz_is_an_error(tmp_path):
    (tmp_path / "pay.csv").write_text("cust,date,amount,order\nc1,2024-07-01 10:00,5,o1\n")
    mapping = write_yaml(tmp_path, CSV_MAPPING)
    with pytest.raises(MappingError, match=r"column 'date'.*--tz"):
        read_export(mapping, [tmp_path / "pay.csv"])
    with pytest.raises(ConfigError, match="Mars/Olympus"):
        read_export(mapping, [tmp_path / "pay.csv"], tz="Mars/Olympus")
    ds = read_export(mapping, [tmp_path / "pay.csv"], tz="Europe/Berlin")
    assert ds.revenue["paid_at"].iloc[0] == pd.Timestamp("2024-07-01 08:00", tz="UTC")
    out = tmp_path / "out"
    with pytest.raises(MappingError, match="--tz"):
        import_exports(mapping, [tmp_path / "pay.csv"], out)
    with pytest.raises(ConfigError):
        import_exports(mapping, [tmp_path / "pay.csv"], out, tz="Europe/Berlinn")
    assert not out.exists()


def test_stray_file_is_an_error():
    with pytest.raises(MappingError, match="unified_payments.csv"):
        read_export("zendesk", files("zendesk") + files("stripe"))


# --------------------------------------------------------------------------- converters
def test_parse_timestamps_epochs_offsets():
    ts, bad = parse_timestamps(pd.Series([1709370000, None]), "epoch_s", None, "f")
    assert ts.iloc[0] == pd.Timestamp("2024-03-02 09:00", tz="UTC") and not bad.any()
    ts, _ = parse_timestamps(pd.Series(["1709370000000"]), "epoch_ms", None, "f")
    assert ts.iloc[0] == pd.Timestamp("2024-03-02 09:00", tz="UTC")
    ts, _ = parse_timestamps(pd.Series(["2024-03-01T10:00:00-05:00", "2024-03-01 10:00"]), "iso", "UTC", "f")
    assert ts.tolist() == utc("2024-03-01 15:00", "2024-03-01 10:00")
    ts, _ = parse_timestamps(pd.Series(["01/03/2024 10:00"]), "%d/%m/%Y %H:%M", "America/New_York", "f")
    assert ts.iloc[0] == pd.Timestamp("2024-03-01 15:00", tz="UTC")


def test_parse_hours_units_and_clock_text():
    hours, bad = parse_hours(pd.Series(["36:30:00", "0:45", "7200000", "x"]), "ms")
    assert hours.tolist()[:3] == [36.5, 0.75, 2.0] and bad.tolist() == [False, False, False, True]


def test_every_builtin_mapping_is_valid():
    assert {"zendesk", "delighted", "stripe"} <= set(builtin_mappings())
    from slm_lib.io.imports.mapping import load_mapping
    for name in builtin_mappings():
        assert load_mapping(name)["name"] == name


# --------------------------------------------------------------------------- reconciliation (item 4)
def test_reconcile_business_hours_against_calendar():
    from slm_lib.calendar import BusinessCalendar
    from slm_lib.io.imports import reconcile_business_hours

    ds = read_export("zendesk", files("zendesk"))
    table = reconcile_business_hours(ds, BusinessCalendar()).set_index("measure")
    # Mon-Fri 09-17 UTC: FRT ours 1.5, 0, 0, 0.25 h vs vendor 1.0, 0.5, 0, 0.25 h
    assert table.loc["first_response", "n"] == 4
    assert table.loc["first_response", "median_abs_diff_min"] == pytest.approx(15.0)
    assert table.loc["first_response", "share_within_5min"] == pytest.approx(0.5)
    # resolution ours 8, 0, 8 h vs vendor 7, 2, 8 h
    assert table.loc["resolution", "n"] == 3
    assert table.loc["resolution", "median_abs_diff_min"] == pytest.approx(60.0)
    assert table.loc["resolution", "mean_diff_min"] == pytest.approx((60 - 120 + 0) / 3)
    assert table.loc["resolution", "share_within_5min"] == pytest.approx(1 / 3)
    assert reconcile_business_hours(read_export("stripe", files("stripe")), BusinessCalendar()).empty


def test_imported_directory_runs_metrics_and_csat_is_good_share(tmp_path):
    from slm_lib.metrics.table import metric_table

    run_three(tmp_path, salt=None)
    table = metric_table(load_data(tmp_path)).set_index("metric")
    assert table.loc["csat", "value"] == pytest.approx(100 * 3 / 4)      # good / (good + bad)
    assert table.loc["csat", "n"] == 4
    assert table.loc["nps", "value"] == pytest.approx(100 / 3)        # 10, 7, 8: 1 promoter, 0 detractors
    assert table.loc["tickets", "value"] == 5


def test_errors_drop_counts_invalid_rows_in_summary(tmp_path):
    (tmp_path / "pay.csv").write_text("cust,date,amount,order\nc1,2024-01-01T00:00Z,5,o1\n,2024-01-02T00:00Z,7,o2\n")
    summary = import_exports(write_yaml(tmp_path, CSV_MAPPING), [tmp_path / "pay.csv"], tmp_path / "out",
                             errors="drop")
    row = summary.iloc[0]
    assert (row["rows_read"], row["rows_kept"], row["dropped_invalid"]) == (2, 1, 1)


def test_documented_example_mapping_is_valid():
    text = (Path(__file__).parents[1] / "docs" / "imports.md").read_text()
    block = text.split("```yaml\nname: mytool", 1)[1].split("```", 1)[0]
    mapping = validate_mapping(yaml.safe_load("name: mytool" + block), "docs/imports.md")
    assert [len(b) for b in mapping["tables"].values()] == [1, 1, 2]


def test_reconcile_from_an_imported_directory(tmp_path):
    from slm_lib.calendar import BusinessCalendar
    from slm_lib.io.imports import read_vendor_durations, reconcile_business_hours

    import_exports("zendesk", files("zendesk"), tmp_path)
    import_exports("zendesk", files("zendesk"), tmp_path)
    vendor = read_vendor_durations(tmp_path)
    assert vendor["ticket_id"].tolist() == ["101", "102", "106", "107"]
    from_dir = reconcile_business_hours(load_data(tmp_path), BusinessCalendar(), vendor=vendor)
    direct = reconcile_business_hours(read_export("zendesk", files("zendesk")), BusinessCalendar())
    pd.testing.assert_frame_equal(from_dir, direct)


# --------------------------------------------------------------------------- properties
_revenue_rows = st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 5),
                                   st.sampled_from([5.0, -5.0, 12.5]), st.sampled_from(["o1", "o2", None])),
                         max_size=12)


def _revenue(rows) -> pd.DataFrame:
    return pd.DataFrame({
        "customer_id": pd.Series([r[0] for r in rows], dtype="str"),
        "paid_at": pd.to_datetime([pd.Timestamp("2024-01-01") + pd.Timedelta(days=r[1]) for r in rows],
                                  utc=True).astype("datetime64[ns, UTC]"),
        "amount": pd.Series([r[2] for r in rows], dtype="float64"),
        "order_id": pd.Series([r[3] for r in rows], dtype="str")})


@settings(max_examples=60, deadline=None)
@given(_revenue_rows, _revenue_rows)
def test_combine_is_idempotent_and_new_wins(old_rows, new_rows):
    old, new = _revenue(old_rows), _revenue(new_rows)
    once = combine(old, new, "revenue")
    pd.testing.assert_frame_equal(combine(once, new, "revenue"), once)
    assert not once["order_id"].dropna().duplicated().any()
    for order in new["order_id"].dropna().unique():
        last = new[new["order_id"] == order].iloc[-1]
        assert once.loc[once["order_id"] == order, "amount"].tolist() == [last["amount"]]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.emails(), min_size=1, max_size=8), st.text(min_size=1, max_size=8))
def test_email_keys_ignore_case_and_spaces_and_hash_consistently(emails, salt):
    plain = pd.Series(emails)
    messy = pd.Series([f"  {e.upper()} " for e in emails])
    assert customer_keys([plain], "email", salt).tolist() == customer_keys([messy], "email", salt).tolist()
    assert customer_keys([plain], "email").tolist() == [e.strip().lower() for e in emails]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 500), st.integers(0, 59), st.integers(0, 59))
def test_clock_text_and_seconds_agree(h, m, s):
    clock = parse_hours(pd.Series([f"{h:02d}:{m:02d}:{s:02d}"]), "hours")[0].iloc[0]
    seconds = parse_hours(pd.Series([h * 3600 + m * 60 + s]), "seconds")[0].iloc[0]
    assert clock == pytest.approx(seconds, abs=1e-9)


def test_failed_import_leaves_existing_directory_untouched(tmp_path):
    out = tmp_path / "data"
    run_three(out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "unified_payments.csv").write_text(
        (EXPORTS / "stripe" / "unified_payments.csv").read_text().replace("2024-03-02 11:00", "02/03/2024"))
    with pytest.raises(DataValidationError, match="Created date"):
        import_exports("stripe", [bad / "unified_payments.csv"], out, key="email", hash_salt="pepper")
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_real_customers_export_replaces_inferred_customers(tmp_path):
    out = tmp_path / "data"
    import_exports("zendesk", files("zendesk"), out, key="email")
    assert set(load_data(out).customers["segment"]) == {"unknown"}
    (tmp_path / "crm_accounts.csv").write_text(
        "Email,Signed up,Plan,Country\nANN@example.com,2023-05-01,enterprise,DE\nbob@example.com,2023-06-01,smb,\n")
    mapping = write_yaml(tmp_path, {"name": "crm", "tables": {"customers": {
        "files": "crm*.csv", "identity": {"email": "Email"}, "timestamp": "%Y-%m-%d",
        "fields": {"signup_at": "Signed up", "segment": "Plan", "region": "Country"}}}})
    import_exports(mapping, [tmp_path / "crm_accounts.csv"], out, key="email", tz="UTC")
    customers = load_data(out).customers.set_index("customer_id")
    assert customers.loc["ann@example.com", "segment"] == "enterprise"
    assert customers.loc["ann@example.com", "signup_at"] == pd.Timestamp("2023-05-01", tz="UTC")
    assert customers.loc["ann@example.com", "region"] == "DE"
    assert customers.loc["cy@example.com", "segment"] == "unknown"                 # still inferred
    import_exports("zendesk", files("zendesk"), out, key="email")                  # re-import keeps CRM data
    assert load_data(out).customers.set_index("customer_id").loc["bob@example.com", "segment"] == "smb"


def test_json_lines_with_nested_paths_and_epoch_ms(tmp_path):
    (tmp_path / "events.jsonl").write_text(
        '{"id": 1, "who": {"mail": "A@x.io"}, "ts": 1709283600000, "nps": {"value": "9"}}\n\n'
        '{"id": 2, "who": {"mail": "b@x.io"}, "ts": 1709370000000, "nps": {"value": null}}\n')
    mapping = write_yaml(tmp_path, {"name": "ev", "tables": {"surveys": {
        "files": "*.jsonl", "format": "jsonl", "timestamp": "epoch_ms", "identity": {"email": "who.mail"},
        "drop": [{"column": "nps.value", "empty": True, "reason": "unanswered"}],
        "fields": {"response_id": "id", "submitted_at": "ts", "type": {"value": "nps"}, "score": "nps.value"}}}})
    s = read_export(mapping, [tmp_path / "events.jsonl"], key="email").surveys
    assert (s["response_id"].tolist(), s["customer_id"].tolist(), s["score"].tolist()) == (["1"], ["a@x.io"], [9])
    assert s["submitted_at"].tolist() == utc("2024-03-01 09:00")
