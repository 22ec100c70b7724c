"""Notebook helpers (slm_lib.nb): sections that degrade to a note instead of failing."""
import pandas as pd
import pytest

import slm_lib as slm
from slm_lib.errors import InsufficientDataError
from slm_lib.metrics.survey import nps
from slm_lib.nb import Unavailable, attempt, bullets, month_subset, report_data
from slm_lib.periods import month_bounds, month_starts


def test_attempt_returns_result_or_note_and_absorbs_dependent_steps():
    assert attempt(nps, [10, 10, 0, 8]) == 25.0
    note = attempt(nps, [], what="NPS")
    assert isinstance(note, Unavailable) and note.what == "NPS" and "no non-missing scores" in note.reason
    # steps built on it: attribute access, calls, indexing and further attempts all give the same note
    assert note.table[note.table["role"] == "driver"] is note and note.sentences() is note
    assert attempt(pd.DataFrame.describe, note) is note
    assert bullets(note) is note and list(note) == [] and len(note) == 0


def test_attempt_does_not_hide_programming_errors():
    with pytest.raises(TypeError):
        attempt(nps)  # a missing argument is a bug, not a data condition
    def boom():
        raise InsufficientDataError("too few")
    assert attempt(boom, what="X").reason == "too few"


def test_notes_and_bullets_render_escaped_html_once():
    note = Unavailable("Model", "driver <x> & y")
    assert note._repr_html_() == "<blockquote><b>Model not shown:</b> driver &lt;x&gt; &amp; y</blockquote>"
    assert note._repr_html_() == ""
    assert not hasattr(note, "_ipython_display_")
    assert bullets(["a < b", "c"])._repr_html_() == "<ul><li>a &lt; b</li><li>c</li></ul>"
    assert bullets([])._repr_html_() == ""


# ----------------------------------------------------------------------------- report_data: no future data


SAMPLE = "data_samples"
PAST = "2025-09"


def _fields_at_the_cut(events: pd.DataFrame) -> pd.DataFrame:
    """Per ticket, the fields its events (those before the cut, by ticket and time) imply, in plain pandas:
    first agent reply, agent replies, reopens (solved/closed -> another status) and the resolution in
    force (the last change into solved/closed, if the ticket is solved or closed at the cut)."""
    done = ("solved", "closed")
    reply = events[(events["kind"] == "public_reply") & (events["actor"] == "agent")].groupby("ticket_id")["at"]
    st = events[events["kind"] == "status"]
    before = st.groupby("ticket_id")["status"].shift().fillna("new")
    enters, leaves = st["status"].isin(done) & ~before.isin(done), ~st["status"].isin(done) & before.isin(done)
    in_force = st.groupby("ticket_id")["status"].last().isin(done)
    resolved = st[enters].groupby("ticket_id")["at"].last()
    return pd.DataFrame({"first_response_at": reply.min(), "replies": reply.size(),
                         "reopens": leaves.groupby(st["ticket_id"]).sum(),
                         "resolved_at": resolved.where(in_force.reindex(resolved.index))})


def _cut_export(tmp_path, end: str):
    """The sample as an export taken at ``end`` would hold it, written independently of slm with plain pandas
    (ticket fields from the events known at ``end``, as a help desk's export would show them)."""
    end = pd.Timestamp(end, tz="UTC")
    when = lambda col: pd.to_datetime(col, utc=True, format="ISO8601")  # noqa: E731
    raw = {t: pd.read_csv(f"{SAMPLE}/{t}.csv", dtype=str) for t in ("tickets", "surveys", "customers", "revenue")}
    t, s, c, r = raw["tickets"], raw["surveys"], raw["customers"], raw["revenue"]
    e = pd.read_parquet(f"{SAMPLE}/ticket_events.parquet")
    e = e[e["at"] < end]
    t = t[when(t["created_at"]) < end].set_index("ticket_id")
    implied = _fields_at_the_cut(e).reindex(t.index)
    assert implied["first_response_at"].notna().sum() > 0.9 * len(t)   # the sample's tickets all have events
    t["replies"], t["reopens"] = implied["replies"].fillna(0).astype(int), implied["reopens"].fillna(0).astype(int)
    for col in ("first_response_at", "resolved_at"):
        t[col] = implied[col].dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    c = c[when(c["signup_at"]) < end].copy()
    c.loc[~(when(c["churned_at"]) < end), "churned_at"] = None
    cut = {"tickets": t.reset_index(), "surveys": s[when(s["submitted_at"]) < end], "customers": c,
           "revenue": r[when(r["paid_at"]) < end]}
    for name, frame in cut.items():
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    e.to_parquet(tmp_path / "ticket_events.parquet", index=False)
    return tmp_path


def _report_figures(ds, month: str, tz: str = "UTC") -> dict:
    """The tables behind the report notebooks of ``month`` (the same calls, on the same data)."""
    this_month = month_subset(ds, month, tz=tz)
    controls, drivers = ["tenure_years", "segment"], ["median_frt_h", "sla_breach_share", "last_nps_category"]
    followed = slm.customer_features(ds, as_of=month_starts(month, 12, tz=tz)[0], lookback="3M", horizon="12M")
    panel = slm.customer_features(ds, as_of=month_starts(month, 12, tz=tz), lookback="3M", horizon="1M")
    return {
        "metric_table": slm.metric_table(ds, tz=tz),
        "by_channel": slm.metric_table(ds, by="channel", tz=tz),
        "kpis": slm.headline_kpis(ds, month, tz=tz),
        "sla": slm.sla_compliance(this_month),
        "teams": slm.agent_table(ds, by="team", month=month, tz=tz),
        "gap": slm.delivery_gap(ds, month, by="team", tz=tz),
        "changes": slm.changes_by_group(ds, month, by="segment", tz=tz),
        "comments": slm.nb.verbatim_comments(ds, month, tz=tz),
        "cohorts": slm.cohort_retention(ds, mode="contractual", tz=tz),
        "followed": followed,
        "panel": panel,
        "churn_model": slm.churn_model(panel, drivers, controls=controls).table,
        "monthly": slm.monthly_service_panel(ds, tz=tz),
        "clv_features": slm.customer_features(ds, as_of=month_starts(month, 3, tz=tz)[0], lookback="3M", horizon="3M"),
        "contractual": slm.contractual_clv(ds, as_of=month_starts(month, 1, tz=tz)[0], by=None, n_draws=200, tz=tz),
    }


@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin"])
def test_past_month_report_is_the_same_on_data_that_run_on_and_on_data_cut_at_its_end(tmp_path, tz):
    end = month_bounds(PAST, tz)[1]
    full = _report_figures(report_data(SAMPLE, PAST, tz=tz), PAST, tz)
    # an export taken at the month's end, its time known (as an Airflow run would pass it)
    cut = _report_figures(report_data(_cut_export(tmp_path, str(end.tz_convert("UTC"))), PAST, tz=tz, as_of=end), PAST, tz)
    for name in full:
        pd.testing.assert_frame_equal(full[name], cut[name], check_exact=False, rtol=1e-12, obj=name)
    # and nothing of the report looks past the month: the latest month anywhere is the report month
    assert full["metric_table"]["period"].max() == PAST and full["monthly"]["month"].iloc[-1] == PAST
    assert full["cohorts"].index[-1] == PAST


def test_without_the_cut_a_past_month_report_sees_later_data():
    """The leak the cut removes: on all the data, cohorts and the monthly panel run past the month."""
    ds = slm.load_data(SAMPLE, errors="drop")
    assert slm.monthly_service_panel(ds)["month"].iloc[-1] > PAST
    assert slm.cohort_retention(ds).index[-1] > PAST


def test_data_that_end_inside_the_month_are_cut_where_they_end_and_say_so():
    """An export taken on 11 October: October is about 10.4 days long, not 31 (review finding: a fall of 70%)."""
    from dataclasses import replace
    export = replace(slm.synth.generate(customers=600, months=14, seed=3).until("2025-10-11T12:00"), as_of=None)
    ds = report_data(export, "2025-10")
    assert ds.as_of == export.observation_end() + pd.Timedelta(1, "ns") < pd.Timestamp("2025-10-11T12:00", tz="UTC")
    k = slm.headline_kpis(ds, "2025-10").set_index("metric")
    assert k.loc["tickets", "per_day"] == pytest.approx(k.loc["tickets", "value"] / ((ds.as_of - pd.Timestamp(
        "2025-10-01", tz="UTC")) / pd.Timedelta(days=1)))
    assert k.loc["tickets", "assessment"] == "no clear change"
    assert "covered for 10.4 of its 31 days" in slm.nb.coverage_note(ds, "2025-10")   # the last record 10:13
    assert slm.nb.coverage_note(report_data(export, "2025-09"), "2025-09") == ""
    # told the export time, the cut is there
    assert report_data(export, "2025-10", as_of="2025-10-11T12:00").as_of == pd.Timestamp("2025-10-11T12:00", tz="UTC")


def test_the_cut_drops_what_a_load_of_the_export_would_refuse_and_flags_unknown_reopens():
    utc = lambda *v: pd.to_datetime(list(v), utc=True)  # noqa: E731
    customers = pd.DataFrame({"customer_id": ["c1", "late"], "signup_at": utc("2025-01-01", "2025-07-15"),
                              "segment": "smb", "region": None, "churned_at": utc(None, None)})
    tickets = pd.DataFrame({"ticket_id": ["t1", "t2", "t3"], "customer_id": ["c1", "late", "c1"],
                            "created_at": utc("2025-06-02", "2025-06-03", "2025-06-10"),
                            "first_response_at": utc("2025-06-02 01:00", "2025-06-03 01:00", "2025-06-10 01:00"),
                            "resolved_at": utc("2025-06-05", "2025-06-04", "2025-07-03"), "channel": "email",
                            "priority": "normal", "agent_id": None, "team": None, "replies": 1,
                            "reopens": [0, 0, 1], "category": None})
    surveys = pd.DataFrame({"response_id": ["r1"], "customer_id": ["late"], "ticket_id": ["t2"],
                            "submitted_at": utc("2025-06-05"), "type": "csat", "score": [5], "comment": None})
    cut = slm.Dataset(tickets=tickets, customers=customers, surveys=surveys).until("2025-07-01")
    assert cut.tickets["ticket_id"].tolist() == ["t1", "t3"] and cut.surveys.empty
    q = cut.quality.set_index(["table", "action"])
    assert q.loc[("tickets", "dropped"), "n_rows"] == 1 and q.loc[("surveys", "dropped"), "n_rows"] == 1
    assert q.loc[("tickets", "info"), "n_rows"] == 1 and "unknown without ticket_events" in q.loc[
        ("tickets", "info"), "rule"]


def test_report_data_of_an_unfinished_month_is_cut_at_now():
    ds = slm.synth.generate(customers=200, months=3, seed=2)
    now = pd.Timestamp("2025-01-15 12:00", tz="UTC")
    cut = report_data(ds, "2025-01", now=now)
    assert cut.as_of == now and cut.tickets["created_at"].max() < now
    assert cut.tickets["resolved_at"].max() < now and cut.customers["churned_at"].max() < now


def test_report_data_keeps_a_segment_and_its_scales():
    ds = slm.synth.generate(customers=300, months=3, seed=2)
    cut = report_data(ds, "2024-12", segment="smb")
    assert set(cut.customers["segment"]) == {"smb"} and cut.scales == ds.scales
    assert str(cut.as_of) == "2025-01-01 00:00:00+00:00"


def test_sla_by_priority_agrees_with_the_headline_for_a_past_month():
    ds = report_data(SAMPLE, PAST)
    headline = slm.headline_kpis(ds, PAST).set_index("metric")
    table = slm.sla_compliance(month_subset(ds, PAST)).set_index(["target", "priority"])
    for target in ("first_response", "resolution"):
        assert table.loc[(target, "all"), "value"] == pytest.approx(headline.loc[f"sla_{target}", "value"], rel=1e-12)
        assert table.loc[(target, "all"), "n"] == headline.loc[f"sla_{target}", "n"]
    # a month's subset keeps the data's observation end, so an open ticket is judged at the end of the month,
    # not at the month's last timestamp (the old default of a bare frame)
    t = pd.DataFrame({"ticket_id": ["a", "b"], "priority": "urgent", "created_at": pd.to_datetime(
        ["2025-09-10 08:00", "2025-09-30 20:00"], utc=True), "first_response_at": pd.to_datetime(
        ["2025-09-10 08:30", None], utc=True), "resolved_at": pd.to_datetime([None, None], utc=True)})
    month = slm.Dataset(tickets=t.assign(customer_id="c", channel="email", replies=0, reopens=0), as_of="2025-10-01")
    judged = slm.sla_compliance(month, {"first_response": {"urgent": 1}}).set_index("priority")
    bare = slm.sla_compliance(t, {"first_response": {"urgent": 1}}).set_index("priority")
    assert judged.loc["all", ["achieved", "breached"]].tolist() == [1, 1]   # b waited 4 h by the month's end
    assert bare.loc["all", ["achieved", "breached", "pending"]].tolist() == [1, 0, 1]


def test_team_scorecard_and_delivery_gap_agree_on_csat():
    """Surveys of this month about last month's tickets count for their team in both (review finding)."""
    ds = report_data(SAMPLE, PAST)
    teams = slm.agent_table(ds, by="team", month=PAST)
    csat = teams[teams["metric"] == "csat"].set_index("team")
    gap = slm.delivery_gap(ds, PAST, by="team").set_index("group")
    assert len(gap) > 1
    for team, row in gap.iterrows():
        assert csat.loc[team, "value"] == pytest.approx(row["csat"]) and csat.loc[team, "n"] == row["csat_n"]
    with pytest.raises(slm.errors.ConfigError, match="takes a Dataset"):
        slm.agent_table(ds.tickets, by="team", month=PAST)


def test_coverage_note_is_silent_for_an_export_taken_at_the_month_end():
    assert slm.nb.coverage_note(slm.Dataset(as_of="2026-10-31T23:40"), "2026-10") == ""
    assert "covered for 29.0 of its 31 days" in slm.nb.coverage_note(slm.Dataset(as_of="2026-10-30"), "2026-10")


def test_the_last_event_of_data_that_end_inside_the_month_is_kept():
    """The data's latest timestamp is an event they hold: a cut there must not drop it."""
    ds = slm.synth.generate(customers=200, months=3, seed=2)
    last = ds.surveys["submitted_at"].max()
    export = slm.Dataset(**ds.tables(), as_of=None).until(last + pd.Timedelta(1, "ns"))
    export = slm.Dataset(**export.tables())                       # an export whose time is unknown
    cut = report_data(export, f"{last:%Y-%m}")
    assert cut.surveys["submitted_at"].max() == last and len(cut.surveys) == len(export.surveys)


def test_churn_drivers_add_the_events_and_the_comment_themes_of_the_features():
    from slm_lib.io.dataset import Dataset
    from slm_lib.nb import churn_drivers

    base, units = churn_drivers(Dataset())
    features = pd.DataFrame(columns=["median_frt_h", "comments", "mean_comment_sentiment", "theme_refund_share",
                                     "theme_rude_agent_share"])
    drivers, with_themes = churn_drivers(Dataset(), features)
    assert drivers == base + ["theme_refund_share", "theme_rude_agent_share"]
    assert with_themes == units | {"theme_refund_share": 0.1, "theme_rude_agent_share": 0.1}
    assert churn_drivers(Dataset(), features[["median_frt_h"]]) == (base, units)
