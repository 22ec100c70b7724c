"""Headline KPIs and their sentences (slm_lib.summary)."""
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest

from slm_lib.errors import ConfigError, InsufficientDataError
from slm_lib.io.dataset import Dataset
from slm_lib.metrics.survey import compare_periods
from slm_lib.periods import check_month, previous_month
from slm_lib.nb import verbatim_comments
from slm_lib.summary import (data_months, headline_kpis, kpi_sentence, kpi_sentences,
                             month_subset, select_segment)


def _ts(values):
    return pd.Series(pd.to_datetime(values, utc=True)).astype("datetime64[ns, UTC]")


@pytest.fixture()
def two_months():
    # September: 10 NPS responses (5 promoters, 2 detractors) -> NPS 30; October: 10 (2 P, 5 D) -> -30.
    sep = [10] * 5 + [8] * 3 + [3] * 2
    oct_ = [9] * 2 + [7] * 3 + [0] * 5
    surveys = pd.DataFrame({
        "response_id": [f"r{i}" for i in range(20)], "customer_id": ["c1"] * 10 + ["c2"] * 10,
        "ticket_id": [np.nan] * 20,
        "submitted_at": _ts(["2026-09-15T12:00:00Z"] * 10 + ["2026-10-15T12:00:00Z"] * 10),
        "type": ["nps"] * 20, "score": sep + oct_, "comment": pd.Series([np.nan] * 20, dtype="str")})
    created = ["2026-09-01T10:00:00Z"] * 3 + ["2026-10-01T10:00:00Z"] * 2
    response = ["2026-09-01T11:00:00Z", "2026-09-01T12:00:00Z", "2026-09-01T13:00:00Z",
                "2026-10-01T20:00:00Z", "2026-10-02T10:00:00Z"]
    tickets = pd.DataFrame({
        "ticket_id": [f"t{i}" for i in range(5)], "customer_id": ["c1", "c1", "c2", "c2", "c1"],
        "created_at": _ts(created), "first_response_at": _ts(response), "resolved_at": _ts(response),
        "channel": ["email"] * 5, "priority": ["normal"] * 5, "agent_id": ["a"] * 5, "team": ["t"] * 5,
        "replies": [1] * 5, "reopens": [0] * 5, "category": ["x"] * 5})
    customers = pd.DataFrame({"customer_id": ["c1", "c2"], "signup_at": _ts(["2025-01-01", "2025-01-01"]),
                              "segment": ["smb", "enterprise"], "region": ["emea", "emea"],
                              "churned_at": _ts([None, None])})
    return Dataset(tickets=tickets, surveys=surveys, customers=customers)


def test_month_helpers(two_months):
    assert previous_month("2026-01") == "2025-12"
    assert data_months(two_months) == ["2026-09", "2026-10"]
    for bad in ("2026-13", "2026/10", "Oct 2026", "2026-1", "2026--1", "20-6-10", "2026-00"):
        with pytest.raises(ConfigError, match="YYYY-MM"):
            check_month(bad)


def test_month_subset_keeps_the_months_and_their_tickets_events(two_months):
    events = pd.DataFrame({"event_id": ["e0", "e3", "e4"], "ticket_id": ["t0", "t3", "t4"]})
    ds = replace(two_months, ticket_events=events)
    october = month_subset(ds, "2026-10")
    assert october.tickets["ticket_id"].tolist() == ["t3", "t4"] and len(october.surveys) == 10
    assert october.ticket_events["event_id"].tolist() == ["e3", "e4"]
    both = month_subset(ds, "2026-10", months=2)
    assert len(both.tickets) == 5 and len(both.surveys) == 20 and len(both.ticket_events) == 3
    assert len(month_subset(ds, "2026-11", months=1).tickets) == 0
    with pytest.raises(ConfigError, match="at least 1"):
        month_subset(ds, "2026-10", months=0)


def test_headline_kpis_hand_computed(two_months):
    k = headline_kpis(two_months, "2026-10").set_index("metric")
    assert k.loc["nps", "value"] == pytest.approx(-30.0)
    assert k.loc["nps", "previous"] == pytest.approx(30.0)
    assert k.loc["nps", "delta"] == pytest.approx(-60.0)
    expected_p = compare_periods([10] * 5 + [8] * 3 + [3] * 2, [9] * 2 + [7] * 3 + [0] * 5)["p_value"]
    assert k.loc["nps", "p_value"] == pytest.approx(expected_p)
    assert k.loc["nps", "n"] == 10
    # tickets 3 -> 2, compared per day: the data run from the first ticket (1 Sep 10:00) to the
    # data set's observation end, its latest timestamp (the October surveys, 15 Oct 12:00), so
    # September is observed 29 14/24 days and October 14 12/24
    assert k.loc["tickets", "value"] == 2 and k.loc["tickets", "previous"] == 3
    sep, oct_ = 30 - 10 / 24, 14 + 12 / 24
    assert k.loc["tickets", "per_day"] == pytest.approx(2 / oct_)
    assert k.loc["tickets", "previous_per_day"] == pytest.approx(3 / sep)
    from scipy.stats import binomtest
    assert k.loc["tickets", "p_value"] == pytest.approx(binomtest(2, 5, oct_ / (sep + oct_)).pvalue)
    # median FRT: September 1, 2, 3 h -> 2 h; October 10 h and 24 h -> 17 h
    assert k.loc["frt_median", "previous"] == pytest.approx(2.0)
    assert k.loc["frt_median", "value"] == pytest.approx(17.0)
    assert set(k["assessment"]) <= {"better", "worse", "no clear change", "up", "down", "new"}


def test_headline_kpis_first_month_and_missing_month(two_months):
    k = headline_kpis(two_months, "2026-09").set_index("metric")
    assert (k["assessment"] == "new").all() and k["delta"].isna().all()
    with pytest.raises(InsufficientDataError, match="2026-11"):
        headline_kpis(two_months, "2026-11")


def test_sentences_name_direction_interval_and_n(two_months):
    k = headline_kpis(two_months, "2026-10")
    text = kpi_sentences(k)
    nps = next(s for s in text if s.startswith("NPS"))
    assert "fell from 30.0 to -30.0 points" in nps and "n = 10" in nps and "95% CI" in nps
    first = kpi_sentence(headline_kpis(two_months, "2026-09").iloc[0])
    assert "no previous month" in first
    assert kpi_sentences(k, only_significant=True) == [s for s, sig in
                                                       zip(kpi_sentences(k), k.sort_values("p_value", na_position="last")["significant"]) if sig]


def test_select_segment(two_months):
    sub = select_segment(two_months, "smb")
    assert set(sub.tickets["customer_id"]) == {"c1"} and set(sub.surveys["customer_id"]) == {"c1"}
    events = pd.DataFrame({"event_id": ["e0", "e2", "e4"], "ticket_id": ["t0", "t2", "t4"],
                           "at": two_months.tickets["created_at"].iloc[[0, 2, 4]].to_numpy(),
                           "kind": "status", "actor": "system", "status": "new"})
    with_events = select_segment(Dataset(tickets=two_months.tickets, customers=two_months.customers,
                                         ticket_events=events), "smb")
    assert with_events.ticket_events["event_id"].tolist() == ["e0", "e4"]   # t2 is c2's (enterprise)
    assert select_segment(two_months, None) is two_months
    with pytest.raises(ConfigError, match="segments are"):
        select_segment(two_months, "gold")


def test_verbatim_comments_worst_first_and_masked(two_months):
    ds = two_months
    surveys = ds.surveys.copy()
    surveys.loc[10, "comment"] = "Awful. Mail me at jane.doe@example.com <script>alert(1)</script>"
    surveys.loc[11, "comment"] = "great"
    surveys.loc[15, "comment"] = "call +1 555 123 4567"
    from dataclasses import replace
    out = verbatim_comments(replace(ds, surveys=surveys), "2026-10")
    # scores: row 10 -> 9, row 11 -> 9, row 15 -> 0: the detractor comes first
    assert out["score"].tolist() == [0, 9, 9]
    assert out.loc[0, "comment"] == "call [phone]"
    assert "jane.doe" not in " ".join(out["comment"]) and "example.com" not in " ".join(out["comment"])
    assert "Mail me at [email] <script>" in " ".join(out["comment"])
    assert verbatim_comments(replace(ds, surveys=surveys), "2026-10", n=1)["comment"].tolist() == ["call [phone]"]
    html = out.to_html()
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert verbatim_comments(ds, "2026-10").empty


def test_findings_actions_display_and_recent(two_months):
    from slm_lib.nb import findings_markdown, kpi_display, recent_periods, suggested_actions
    k = headline_kpis(two_months, "2026-10")
    worse = k.assign(assessment=["worse"] + ["no clear change"] * (len(k) - 1), significant=[True] + [False] * (len(k) - 1))
    actions = suggested_actions(worse)
    assert len(actions) == 1 and actions[0].startswith("NPS got worse: ")
    md = findings_markdown(worse, "2026-10")
    assert md.startswith("**2026-10: 1 of") and "What to do" in md
    calm = findings_markdown(k.assign(significant=False, assessment="no clear change"), "2026-10")
    assert "No headline figure moved" in calm and "What to do" not in calm
    shown = kpi_display(k)
    assert list(shown.columns) == ["unit", "value", "95% CI", "n", "previous", "change", "p", "p (adjusted)",
                                   "assessment"]
    assert shown.index[0] == "NPS" and shown.loc["NPS", "change"] == "-60.0"
    t = pd.DataFrame({"period": ["2025-12", "2026-01", "2026-02"]})
    assert recent_periods(t, "2026-02", 2)["period"].tolist() == ["2026-01", "2026-02"]


def test_significance_is_holm_adjusted_over_the_months_tests(two_months):
    from statsmodels.stats.multitest import multipletests
    k = headline_kpis(two_months, "2026-10")
    tested = k["p_value"].notna()
    expected = multipletests(k.loc[tested, "p_value"], method="holm")[1]
    assert k.loc[tested, "p_adjusted"].to_numpy() == pytest.approx(expected)
    assert (k["p_adjusted"][tested] >= k["p_value"][tested]).all()
    assert (k["significant"] == (k["p_adjusted"] < 0.05)).all()
    # a raw p of 0.03 among ten tests is not a clear change any more
    from slm_lib.summary import _judge
    raw = k.assign(p_value=[0.03] + [0.5] * (len(k) - 1), delta=1.0)
    judged = _judge(raw)
    assert not judged["significant"].any() and (judged["assessment"] == "no clear change").all()


def test_findings_list_changes_to_watch(two_months):
    from slm_lib.nb import findings_markdown
    k = headline_kpis(two_months, "2026-10")
    k = k.assign(p_value=[0.01] + [0.6] * (len(k) - 1), p_adjusted=[0.1] + [1.0] * (len(k) - 1), significant=False,
                 assessment="no clear change")
    md = findings_markdown(k, "2026-10")
    assert "**To watch**" in md and md.count("\n- NPS fell") == 1
    assert "a signal to watch, not yet clear (p = 0.01 on its own; p = 0.1 adjusted" in md
    assert "To watch" not in findings_markdown(k.assign(p_value=0.6), "2026-10")


def test_a_seven_point_csat_scale_is_used_by_every_figure():
    """CSAT answered on 1-7 (load_data(scales=...)): top-2-box is 6-7 everywhere, nothing falls back to 1-5."""
    import slm_lib as slm
    from dataclasses import replace
    base = slm.synth.generate(customers=400, months=3, seed=5)
    to7 = {1: 1, 2: 2, 3: 4, 4: 6, 5: 7}          # the same answers on a 1-7 scale, 3 -> the neutral 4
    csat = base.surveys["type"] == "csat"
    seven = replace(base, surveys=base.surveys.assign(score=base.surveys["score"].where(~csat, base.surveys["score"]
                                                                                         .map(to7))),
                    scales={"csat": (1, 7)})
    month = "2025-01"
    for exclude in (False, True):
        five_t = slm.metric_table(base, exclude_neutral=exclude)
        seven_t = slm.metric_table(seven, exclude_neutral=exclude)
        pd.testing.assert_frame_equal(five_t, seven_t)   # top-2-box and neutral map one to one
    k5, k7 = (headline_kpis(d, month).set_index("metric") for d in (base, seven))
    pd.testing.assert_series_equal(k5.loc["csat"], k7.loc["csat"])
    assert k7.loc["ces", "unit"] == "on a 1-7 scale"
    c5, c7 = (slm.changes_by_group(d, month, by="segment", metrics=("csat",)) for d in (base, seven))
    pd.testing.assert_frame_equal(c5, c7)
    v7 = verbatim_comments(seven, month, n=50)
    assert (v7.loc[v7["type"] == "CSAT", "score"] <= 7).all() and len(v7) == len(verbatim_comments(base, month, n=50))
    # a 1-7 answer of 6 is satisfied, 5 is not; with scores beyond 5 the 1-5 default would refuse
    assert compare_periods([6, 6, 5, 5], [7, 7, 7, 5], metric="csat", scale=(1, 7))["diff"] == pytest.approx(25.0)
    with pytest.raises(Exception, match="outside the scale 1-5"):
        compare_periods([6, 6, 5, 5], [7, 7, 7, 5], metric="csat")


def _tickets_created(created) -> pd.DataFrame:
    """Resolved one-reply tickets created at the given instants (a UTC Series)."""
    n = len(created)
    return pd.DataFrame({
        "ticket_id": [f"t{i}" for i in range(n)], "customer_id": ["c1"] * n, "created_at": created,
        "first_response_at": created + pd.Timedelta(hours=1), "resolved_at": created + pd.Timedelta(hours=2),
        "channel": ["email"] * n, "priority": ["normal"] * n, "agent_id": ["a"] * n, "team": ["t"] * n,
        "replies": [1] * n, "reopens": [0] * n, "category": ["x"] * n})


def _daily(first_day: str, days: int, per_day: int, tz: str) -> pd.Series:
    """``per_day`` tickets on each of ``days`` local days, 10:00-19:54 on the wall clock of ``tz``."""
    day = pd.date_range(first_day, periods=days, freq="D", tz=tz)
    at = [d + pd.Timedelta(minutes=600 + 6 * j) for d in day for j in range(per_day)]
    return pd.Series(pd.DatetimeIndex(at).tz_convert("UTC")).astype("datetime64[ns, UTC]")


@pytest.mark.parametrize("tz", ["UTC", "Europe/Berlin"])
def test_ticket_count_compared_per_day_february_to_march(tz):
    # 100 tickets a day: 2,800 in February, 3,100 in March (Berlin's March has 743 hours but 31 days).
    # Per day nothing changed: k2 = 3,100 is the mode of Binomial(5,900, 31/59), so p = 1 exactly.
    # The old test of an even split, binomial(3,100 of 5,900, 0.5), gave p = 9.9e-5: a clear "rise".
    created = pd.concat([_ts(["2026-01-15T12:00:00Z"]), _daily("2026-02-01", 28, 100, tz),
                         _daily("2026-03-01", 31, 100, tz)], ignore_index=True)
    ds = Dataset(tickets=_tickets_created(created))
    k = headline_kpis(ds, "2026-03", tz=tz, as_of=pd.Timestamp("2026-04-01", tz=tz)).set_index("metric")
    row = k.loc["tickets"]
    assert (row["previous"], row["value"]) == (2800, 3100)
    assert row["per_day"] == pytest.approx(100.0) and row["previous_per_day"] == pytest.approx(100.0)
    assert row["p_value"] == pytest.approx(1.0, abs=1e-12)
    assert row["assessment"] == "no clear change"
    assert ", 100.0 a day against 100.0:" in kpi_sentence(row.to_dict() | {"label": "Tickets created"})


def test_ticket_count_in_a_partly_observed_month_hand_computed():
    # 3 tickets in September (30 days from the first ticket at 1 Sep 00:00), 3 in the 10 days of
    # October before the data end (the last resolution, 11 Oct 00:00): the daily rate tripled.
    # Given 6 tickets, October's number is Binomial(6, 10/40) if the rate held: P(k) = C(6,k) 3^(6-k) / 4^6
    # = 729, 1458, 1215, 540, 135, 18, 1 (/4096); two-sided p = P(3) + P(4) + P(5) + P(6) = 694/4096.
    created = _ts(["2026-09-01T00:00:00Z", "2026-09-12T09:00:00Z", "2026-09-25T17:00:00Z",
                   "2026-10-02T08:00:00Z", "2026-10-05T08:00:00Z", "2026-10-10T20:00:00Z"])
    tickets = _tickets_created(created)
    tickets.loc[5, "resolved_at"] = pd.Timestamp("2026-10-11T00:00:00Z")
    k = headline_kpis(Dataset(tickets=tickets), "2026-10").set_index("metric")
    assert k.loc["tickets", "p_value"] == pytest.approx(694 / 4096)
    assert k.loc["tickets", "per_day"] == pytest.approx(0.3)
    assert k.loc["tickets", "previous_per_day"] == pytest.approx(0.1)
    # an export taken at the end of October observes the whole month: 3 in 31 days against 3 in 30
    whole = headline_kpis(Dataset(tickets=tickets), "2026-10", as_of="2026-11-01").set_index("metric")
    from scipy.stats import binomtest
    assert whole.loc["tickets", "p_value"] == pytest.approx(binomtest(3, 6, 31 / 61).pvalue)


@pytest.fixture()
def one_ces_answer_before(two_months):
    """September has one CES answer (score 2), October three (3, 4, 5): Welch t cannot be computed."""
    from dataclasses import replace
    ces = pd.DataFrame({
        "response_id": ["c0", "c1", "c2", "c3"], "customer_id": ["c1"] * 4, "ticket_id": [np.nan] * 4,
        "submitted_at": _ts(["2026-09-20T12:00:00Z"] + ["2026-10-20T12:00:00Z"] * 3),
        "type": ["ces"] * 4, "score": [2, 3, 4, 5], "comment": pd.Series([np.nan] * 4, dtype="str")})
    return replace(two_months, surveys=pd.concat([two_months.surveys, ces], ignore_index=True))


def test_untestable_change_says_so_and_why(one_ces_answer_before):
    k = headline_kpis(one_ces_answer_before, "2026-10")
    ces = k.set_index("metric").loc["ces"]
    assert ces["previous"] == 2.0 and ces["value"] == pytest.approx(4.0) and ces["n_previous"] == 1
    assert np.isnan(ces["p_value"]) and not ces["significant"] and ces["assessment"] == "not testable"
    assert ces["test_note"] == "the previous month had 1 CES answer; a Welch t test needs at least 2 in each month"
    sentence = kpi_sentence(ces.to_dict() | {"metric": "ces"})
    assert "0.001" not in sentence and "variation" not in sentence
    assert sentence == ("CES rose from 2.0 to 4.0 on a 1-7 scale (95% CI 1.5 to 6.5, n = 3): not testable, "
                        "the previous month had 1 CES answer; a Welch t test needs at least 2 in each month.")
    from slm_lib.nb import kpi_display
    shown = kpi_display(k)
    assert shown.loc["CES", "p"] == "not testable" and shown.loc["CES", "p (adjusted)"] == "not testable"
    # every other row keeps its reason empty: it was tested
    assert (k.loc[k["metric"] != "ces", "test_note"] == "").all()


def test_first_month_rows_say_there_is_nothing_to_compare(two_months):
    k = headline_kpis(two_months, "2026-09")
    assert (k["test_note"] == "no previous month").all() and k["n_previous"].isna().all()


def test_lifecycle_kpis_from_ticket_events_hand_computed():
    """The conversation's figures: values from metric_table, changes tested on the tickets the median counts."""
    from scipy.stats import mannwhitneyu

    from slm_lib.metrics.lifecycle import ticket_lifecycle
    from slm_lib.summary import LIFECYCLE_KPIS
    from slm_lib.synth import generate
    from slm_lib.stats import two_proportion_z

    ds = generate(customers=500, months=3, seed=6, events=True)
    k = headline_kpis(ds, "2025-01", metrics=LIFECYCLE_KPIS).set_index("metric")
    assert list(k.index) == list(LIFECYCLE_KPIS)
    assert k.loc["requester_wait_median", "label"] == "Median requester wait" and k.loc["one_touch_rate", "unit"] == "%"
    lc = ticket_lifecycle(ds).merge(ds.tickets[["ticket_id", "created_at"]], on="ticket_id")
    month = lc["created_at"].dt.strftime("%Y-%m")
    solved = lc["status"].isin(["solved", "closed"])
    for m, when in (("value", "2025-01"), ("previous", "2024-12")):
        waits = lc.loc[solved & (month == when), "requester_wait_h"]
        assert k.loc["requester_wait_median", m] == pytest.approx(waits.median())
    a = lc.loc[solved & (month == "2024-12"), "requester_wait_h"]
    b = lc.loc[solved & (month == "2025-01"), "requester_wait_h"]
    assert k.loc["requester_wait_median", "p_value"] == pytest.approx(mannwhitneyu(a, b).pvalue)
    one = [(lc.loc[solved & (month == w), "one_touch"].sum(), (solved & (month == w)).sum()) for w in ("2024-12", "2025-01")]
    assert k.loc["one_touch_rate", "p_value"] == pytest.approx(float(two_proportion_z(*one[0], *one[1])[1]))
    sentences = kpi_sentences(k.reset_index())
    assert len(sentences) == len(LIFECYCLE_KPIS) and any(s.startswith("Median requester wait") for s in sentences)


def test_lifecycle_kpis_without_ticket_events_are_an_empty_table(two_months):
    from slm_lib.summary import LIFECYCLE_KPIS

    k = headline_kpis(two_months, "2026-10", metrics=LIFECYCLE_KPIS)
    assert k.empty and list(k.columns)[:5] == ["metric", "label", "unit", "value", "ci_low"]
    assert kpi_sentences(k) == []
