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


def _cut_export(tmp_path, end: str):
    """The sample as an export taken at ``end`` would hold it, written independently of slm with plain pandas."""
    end = pd.Timestamp(end, tz="UTC")
    when = lambda col: pd.to_datetime(col, utc=True, format="ISO8601")  # noqa: E731
    raw = {t: pd.read_csv(f"{SAMPLE}/{t}.csv", dtype=str) for t in ("tickets", "surveys", "customers", "revenue")}
    t, s, c, r = raw["tickets"], raw["surveys"], raw["customers"], raw["revenue"]
    t = t[when(t["created_at"]) < end].copy()
    for col in ("first_response_at", "resolved_at"):
        t.loc[~(when(t[col]) < end), col] = None
    c = c[when(c["signup_at"]) < end].copy()
    c.loc[~(when(c["churned_at"]) < end), "churned_at"] = None
    cut = {"tickets": t, "surveys": s[when(s["submitted_at"]) < end], "customers": c,
           "revenue": r[when(r["paid_at"]) < end]}
    for name, frame in cut.items():
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
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
        "teams": slm.agent_table(this_month, by="team"),
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


def test_past_month_report_is_the_same_on_data_that_run_on_and_on_data_cut_at_its_end(tmp_path):
    end = str(month_bounds(PAST)[1])
    full = _report_figures(report_data(SAMPLE, PAST), PAST)
    cut = _report_figures(report_data(_cut_export(tmp_path, end), PAST), PAST)
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
