"""Tests of slm_lib.journeys (repeat contact, channel switching, stages, paths before churn, sentences)
and of repeat_contact_rate in metric_table."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slm_lib.errors import ConfigError, InsufficientDataError, JourneySpecError
from slm_lib.io.dataset import Dataset
from slm_lib.journeys import (channel_switching, journey_sentences, journey_stages, parse_stages,
                              paths_before_churn, repeat_contact_rate, repeat_contacts)
from slm_lib.metrics.table import metric_table
from slm_lib.schema import empty_frame
from slm_lib.stats import risk_ratio_interval

UTC = "UTC"


def ts(*values):
    return pd.to_datetime(list(values), utc=True, format="mixed")


def tickets(rows):
    """rows: (ticket_id, customer_id, channel, created_at, resolved_at)."""
    ids, cust, channel, created, resolved = zip(*rows)
    n = len(rows)
    return empty_frame("tickets").reindex(range(n)).assign(
        ticket_id=pd.array(ids, dtype="str"), customer_id=pd.array(cust, dtype="str"),
        channel=pd.array(channel, dtype="str"), created_at=ts(*created), first_response_at=ts(*created),
        resolved_at=ts(*resolved), priority="normal", replies=1, reopens=0)


def customers(rows):
    """rows: (customer_id, signup_at, churned_at)."""
    ids, signup, churn = zip(*rows)
    return empty_frame("customers").reindex(range(len(rows))).assign(
        customer_id=pd.array(ids, dtype="str"), signup_at=ts(*signup), churned_at=ts(*churn), segment="smb")


# x: a solved Jan 2, b created Jan 5 (3 days later: repeat), b solved Jan 6, c created Jan 13 12:00 (7.5 days: no),
#    c solved Jan 28 (censored at as_of Feb 1). y: d solved Jan 3, e created exactly 7 days later (repeat, edge),
#    e never solved. z: f created and solved Jan 1, g created at the same instant f was solved (not after: no repeat).
ROWS = [
    ("a", "x", "chat", "2024-01-01", "2024-01-02"),
    ("b", "x", "phone", "2024-01-05", "2024-01-06"),
    ("c", "x", "chat", "2024-01-13 12:00", "2024-01-28"),
    ("d", "y", "email", "2024-01-01", "2024-01-03"),
    ("e", "y", "chat", "2024-01-10", None),
    ("f", "z", "email", "2024-01-01", "2024-01-01 10:00"),
    ("g", "z", "email", "2024-01-01 10:00", None),
]
AS_OF = "2024-02-01"


def hand_ds(**kw):
    return Dataset(tickets=tickets(ROWS), as_of=AS_OF, **kw)


# ----------------------------------------------------------------------------- repeat contact
def test_repeat_contacts_hand_computed():
    r = repeat_contacts(hand_ds()).set_index("ticket_id")
    assert list(r.index) == ["a", "b", "c", "d", "f"]       # solved tickets only
    assert r["next_ticket_id"].tolist()[:2] == ["b", "c"] and r.loc["d", "next_ticket_id"] == "e"
    assert r.loc["a", "next_channel"] == "phone" and r.loc["a", "days_to_next"] == pytest.approx(3.0)
    assert r.loc["b", "days_to_next"] == pytest.approx(7.5)
    assert r["repeat"].to_dict() == {"a": True, "b": False, "c": False, "d": True, "f": False}
    assert r["censored"].to_dict() == {"a": False, "b": False, "c": True, "d": False, "f": False}
    assert pd.isna(r.loc["f", "next_ticket_id"])               # g was created at f's solve, not after it
    rate = repeat_contact_rate(hand_ds()).iloc[0]
    assert (rate["n"], rate["repeats"], rate["censored"]) == (4, 2, 1) and rate["value"] == 50.0
    assert rate["ci_low"] < 50 < rate["ci_high"] and rate["small_n"]


def test_repeat_contact_rate_by_channel_and_as_of():
    by = repeat_contact_rate(hand_ds(), by="channel").set_index("channel")
    assert by.loc["chat", ["n", "repeats", "censored"]].tolist() == [1, 1, 1]   # a (repeat); c censored
    assert by.loc["email", ["n", "repeats"]].tolist() == [2, 1]                 # d repeat, f not
    assert by.loc["phone", ["n", "repeats"]].tolist() == [1, 0]
    # as_of Jan 9: b's solve (Jan 6) is censored, c and e do not exist yet, so d has no repeat yet but is censored too
    early = repeat_contacts(hand_ds(), as_of="2024-01-09").set_index("ticket_id")
    assert list(early.index) == ["a", "b", "d", "f"]
    assert early["censored"].to_dict() == {"a": False, "b": True, "d": True, "f": False}
    assert early.loc["b", "next_ticket_id"] is pd.NA or pd.isna(early.loc["b", "next_ticket_id"])


def test_repeat_contact_uses_last_solve_from_events_and_ignores_later_events():
    t = tickets([("a", "x", "chat", "2024-01-01", "2024-01-10"), ("b", "x", "web", "2024-01-12", None),
                 ("c", "x", "web", "2024-01-25", None)])
    # a: solved Jan 2, reopened Jan 3, solved again Jan 10 -> last solve Jan 10; b 2 days later is a repeat.
    e = pd.DataFrame({"event_id": ["1", "2", "3"], "ticket_id": "a", "kind": "status", "actor": "agent",
                      "status": ["solved", "open", "solved"], "at": ts("2024-01-02", "2024-01-03", "2024-01-10"),
                      "agent_id": None, "team": None, "priority": None, "body": None})
    r = repeat_contacts(Dataset(tickets=t, ticket_events=e, as_of=AS_OF)).set_index("ticket_id")
    assert r.loc["a", "solved_at"] == pd.Timestamp("2024-01-10", tz=UTC) and r.loc["a", "repeat"]
    # seen at Jan 5: a is reopened, so not solved; nothing after Jan 5 is read
    assert repeat_contacts(Dataset(tickets=t, ticket_events=e, as_of=AS_OF), as_of="2024-01-05").empty


def test_metric_table_repeat_contact_rate_matches_the_journey_function():
    ds = hand_ds()
    mt = metric_table(ds, by="channel")
    rows = mt[mt["metric"] == "repeat_contact_rate"]
    assert set(rows["period"]) == {"2024-01"}
    got = rows.set_index("channel")[["n", "value"]]
    ref = repeat_contact_rate(ds, by="channel").set_index("channel")[["n", "value"]]
    pd.testing.assert_frame_equal(got.sort_index(), ref.sort_index(), check_dtype=False)
    assert metric_table(ds, repeat_days=2).query("metric == 'repeat_contact_rate'")["value"].iloc[0] == 0.0


def random_tickets(seed: int, n: int = 60) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    created = pd.Timestamp("2024-01-01", tz=UTC) + pd.to_timedelta(rng.integers(0, 60 * 24, n), unit="h")
    solved = pd.Series(created + pd.to_timedelta(rng.integers(0, 96, n), unit="h")).where(rng.random(n) < 0.8)
    return tickets(list(zip([f"t{i}" for i in range(n)], [f"c{i}" for i in rng.integers(0, 6, n)],
                            np.array(["chat", "email", "web"])[rng.integers(0, 3, n)], created, solved)))


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_repeat_contact_properties(seed):
    t = random_tickets(seed)
    ds = Dataset(tickets=t, as_of="2024-03-05")
    r = repeat_contacts(ds)
    # brute force: the customer's first ticket created strictly after the solve
    for _, row in r.iterrows():
        later = t[(t.customer_id == row.customer_id) & (t.created_at > row.solved_at)]
        first = later.sort_values("created_at", kind="stable").iloc[0] if len(later) else None
        assert (first is None and pd.isna(row.next_created_at)) or first.created_at == row.next_created_at
    overall = repeat_contact_rate(ds).iloc[0]
    assert overall["n"] == 0 or 0 <= overall["value"] <= 100
    assert overall["ci_low"] <= overall["value"] <= overall["ci_high"] or overall["n"] == 0
    shuffled = repeat_contact_rate(Dataset(tickets=t.sample(frac=1, random_state=seed), as_of="2024-03-05"))
    pd.testing.assert_frame_equal(shuffled, repeat_contact_rate(ds))     # row order does not matter
    in_order = repeat_contact_rate(Dataset(tickets=t.sort_values("created_at"), as_of="2024-03-05"))
    pd.testing.assert_frame_equal(in_order, repeat_contact_rate(ds))     # (sorted rows skip the time sort)
    by = repeat_contact_rate(ds, by="channel")                               # merging groups: counts add
    assert by["n"].sum() == overall["n"] and by["repeats"].sum() == overall["repeats"]
    assert by["censored"].sum() == overall["censored"]


@pytest.mark.parametrize("steps", [0, 1, 4])
def test_next_contact_search_forward_steps_and_binary_search_agree(monkeypatch, steps):
    import slm_lib.metrics.contacts as contacts
    monkeypatch.setattr(contacts, "_STEPS", steps)
    # one busy customer: ticket 0 open for 10 h while 12 more arrive each hour; every ticket solved after 3.5 h
    start = pd.Timestamp("2024-01-01", tz=UTC)
    rows = [(f"t{i}", "busy", "chat", start + pd.Timedelta(hours=i), start + pd.Timedelta(hours=i + 3.5))
            for i in range(13)]
    rows[0] = ("t0", "busy", "chat", start, start + pd.Timedelta(hours=10))
    r = repeat_contacts(Dataset(tickets=tickets(rows), as_of="2024-02-01")).set_index("ticket_id")
    assert r.loc["t0", "next_ticket_id"] == "t11"      # the first created after 10:00 is t11 (11:00)
    assert r.loc["t3", "next_ticket_id"] == "t7" and pd.isna(r.loc["t12", "next_ticket_id"])


# ----------------------------------------------------------------------------- channel switching
def test_channel_switching_hand_computed():
    sw = channel_switching(hand_ds())
    # follow-ups within 7 days: a->b (chat->phone, 4 d), b->c? 8.5 d no; d->e (email->chat, exactly 9 d) no;
    # f->g (email->email, 10 h)
    s = sw.summary.set_index("from_channel")
    assert s.loc["all", ["n", "switched"]].tolist() == [2, 1] and s.loc["all", "value"] == 50.0
    assert s.loc["chat", "value"] == 100.0 and s.loc["email", "value"] == 0.0
    m = sw.matrix()
    assert m.loc["chat", "phone"] == 1 and m.loc["email", "email"] == 1 and m.values.sum() == 2
    assert sw.transitions.groupby("from_channel")["share"].sum().tolist() == [100.0, 100.0]


@settings(max_examples=20, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from([1, 3, 7]))
def test_channel_switching_properties(seed, days):
    ds = Dataset(tickets=random_tickets(seed), as_of="2024-03-05")
    sw = channel_switching(ds, days=days)
    s = sw.summary.set_index("from_channel")
    assert s.loc["all", "n"] == sw.transitions["n"].sum() == s.drop("all")["n"].sum()
    off = sw.transitions[sw.transitions.from_channel != sw.transitions.to_channel]["n"].sum()
    assert s.loc["all", "switched"] == off
    wider = channel_switching(ds, days=days + 1).summary.set_index("from_channel").loc["all", "n"]
    assert wider >= s.loc["all", "n"]      # a longer window never has fewer follow-ups


# ----------------------------------------------------------------------------- stages
STAGES = {"onboarding": {"from": "signup_at", "start_days": 0, "end_days": 10},
          "before_churn": {"from": "churned_at", "start_days": -20, "end_days": 0}}


def stage_ds():
    c = customers([("x", "2023-12-31", "2024-01-20"), ("y", "2023-12-01", None), ("z", "2023-12-31", None)])
    s = empty_frame("surveys").reindex(range(3)).assign(
        response_id=pd.array(["r1", "r2", "r3"], dtype="str"), customer_id=pd.array(["x", "x", "y"], dtype="str"),
        submitted_at=ts("2024-01-03", "2024-01-15", "2024-01-03"), type=pd.array(["nps", "nps", "csat"], dtype="str"),
        score=[10, 3, 5])
    return Dataset(tickets=tickets(ROWS), customers=c, surveys=s, as_of=AS_OF)


def test_journey_stages_hand_computed():
    js = journey_stages(stage_ds(), STAGES).set_index(["stage", "metric"])
    # onboarding (signup + [0, 10) days): x's a, b (Jan 1, Jan 5) and z's f, g; y signed up Dec 1: outside
    assert js.loc[("onboarding", "customers"), "n"] == 3
    assert js.loc[("onboarding", "tickets"), "n"] == 4
    assert js.loc[("onboarding", "nps"), ["n", "value"]].tolist() == [1, 100.0]   # r1; r2 is on day 15
    assert ("onboarding", "csat") not in js.index                                  # y's answer is not in the stage
    # before churn (x churned Jan 20: [Dec 31, Jan 20)): a, b, c; survey r1 and r2
    assert js.loc[("before_churn", "customers"), "n"] == 1
    assert js.loc[("before_churn", "tickets"), "n"] == 3
    assert js.loc[("before_churn", "nps"), ["n", "value"]].tolist() == [2, 0.0]
    assert js.loc[("before_churn", "repeat_contact_rate"), ["n", "value"]].tolist() == [2, 50.0]   # a yes, b no
    assert list(js.index.get_level_values(0).unique()) == ["onboarding", "before_churn"]
    assert (js["small_n"] == (js["n"] < 30)).all()


def test_journey_stages_extra_anchor_and_yaml(tmp_path):
    ends = pd.Series(ts("2024-01-15"), index=["y"])
    js = journey_stages(stage_ds(), {"renewal": {"from": "contract_end_at", "start_days": -60, "end_days": 0}},
                        anchors={"contract_end_at": ends})
    assert js.set_index("metric").loc["tickets", "n"] == 2 and js.set_index("metric").loc["csat", "n"] == 1   # d, e; r3
    path = tmp_path / "stages.yaml"
    path.write_text("onboarding: {from: signup_at, start_days: 0, end_days: 10}\n")
    pd.testing.assert_frame_equal(journey_stages(stage_ds(), str(path)),
                                  journey_stages(stage_ds(), {"onboarding": STAGES["onboarding"]}))


@pytest.mark.parametrize("spec, stage, key", [
    ({"s1": {"from": "signup_at", "start_days": 0}}, "s1", "end_days"),
    ({"s1": {"from": "signup_at", "start_days": 0, "end_days": 5, "until": 3}}, "s1", "until"),
    ({"s1": {"from": "nope", "start_days": 0, "end_days": 5}}, "s1", "from"),
    ({"s1": {"from": "signup_at", "start_days": "0", "end_days": 5}}, "s1", "start_days"),
    ({"s1": {"from": "signup_at", "start_days": 0, "end_days": float("nan")}}, "s1", "end_days"),
    ({"s1": {"from": "signup_at", "start_days": 5, "end_days": 5}}, "s1", "end_days"),
    ({"s1": ["signup_at", 0, 5]}, "s1", None),
    ({}, None, None),
])
def test_bad_stage_spec_names_stage_and_key(spec, stage, key):
    with pytest.raises(JourneySpecError) as err:
        parse_stages(spec, ["signup_at", "churned_at"])
    assert err.value.stage == stage and err.value.key == key
    assert (stage is None or repr(stage) in str(err.value)) and (key is None or repr(key) in str(err.value))


def test_stage_yaml_errors(tmp_path):
    with pytest.raises(JourneySpecError, match="not found"):
        parse_stages(str(tmp_path / "missing.yaml"), ["signup_at"])
    bad = tmp_path / "bad.yaml"
    bad.write_text("- just a list\n")
    with pytest.raises(JourneySpecError, match="expected stage names"):
        parse_stages(str(bad), ["signup_at"])


# ----------------------------------------------------------------------------- paths before churn
def paths_ds():
    c = customers([("k1", "2024-01-01", "2024-03-01"), ("k2", "2024-01-01", "2024-03-01"),
                   ("r1", "2024-01-01", None), ("r2", "2023-09-01", None)])
    t = tickets([("t1", "k1", "phone", "2024-02-01", "2024-02-02"), ("t2", "k1", "email", "2024-02-10", None),
                 ("t3", "k2", "email", "2024-02-10", None), ("t4", "r1", "chat", "2024-02-05", None),
                 ("t5", "r2", "chat", "2023-10-20", None), ("t6", "k1", "chat", "2023-10-01", None)])
    r = empty_frame("revenue").reindex(range(2)).assign(customer_id=pd.array(["k1", "r1"], dtype="str"),
                                                         paid_at=ts("2024-02-15", "2024-02-20"), amount=[10.0, -5.0])
    return Dataset(customers=c, tickets=t, revenue=r, as_of="2024-06-01")


def test_paths_before_churn_hand_computed():
    assert paths_before_churn(paths_ds(), window_days=90, length=2, min_n=1).retained == 1   # r2 is too early
    p = paths_before_churn(paths_ds(), window_days=30, length=2, min_n=1)
    assert (p.churned, p.retained) == (2, 2)
    # every churned tenure is 60 days, so both retained customers are seen 60 days after signup:
    # r1 at 2024-03-01 (t4, then the refund), r2 at 2023-10-31 (t5); the data start 2023-10-01 (t6), so every
    # reference must be on or after 2023-12-30 when the window is 90 days, and on or after 2023-10-11 for 10 days
    t = p.table.set_index("path")
    assert t.loc["ticket:email > payment", "n_churned"] == 1          # k1: phone, email, payment -> last 2
    assert t.loc["ticket:email", "n_churned"] == 1                    # k2
    assert t.loc["ticket:chat > refund", "n_retained"] == 1
    assert t.loc["ticket:chat", "n_retained"] == 1
    assert t["share_churned"].sum() == pytest.approx(100) and t["share_retained"].sum() == pytest.approx(100)
    row = t.loc["ticket:email"]
    lift, lo, hi = risk_ratio_interval(1, 2, 0, 2)
    assert row["lift"] == pytest.approx(float(lift)) and row["ci_low"] == pytest.approx(float(lo))
    again = paths_before_churn(paths_ds(), window_days=30, length=2, min_n=1)
    pd.testing.assert_frame_equal(again.table, p.table)                # deterministic


def test_paths_before_churn_needs_churn_and_matches_tenures():
    ds = paths_ds()
    with pytest.raises(InsufficientDataError):
        paths_before_churn(Dataset(customers=ds.customers.assign(churned_at=pd.NaT), as_of="2024-06-01"))
    young = paths_ds()
    young.customers.loc[young.customers.customer_id == "r1", "signup_at"] = pd.Timestamp("2024-05-15", tz=UTC)
    assert paths_before_churn(young, window_days=30, min_n=1).retained == 1   # r1 is younger than every churned tenure
    with pytest.raises(InsufficientDataError, match="whole window"):       # churn only 60 days after the data start
        paths_before_churn(ds, window_days=180)


def test_paths_before_churn_kinds():
    p = paths_before_churn(paths_ds(), window_days=30, length=2, min_n=1, kinds=("ticket",))
    assert set(p.table["path"]) == {"ticket:phone > ticket:email", "ticket:email", "ticket:chat"}
    assert p.table.set_index("path").loc["ticket:chat", "n_retained"] == 2
    with pytest.raises(ConfigError, match="'calls'"):
        paths_before_churn(paths_ds(), kinds=("ticket", "calls"))


def test_risk_ratio_interval_zero_cells_stay_finite():
    rr, lo, hi = risk_ratio_interval(np.array([0, 5]), 50, np.array([4, 0]), 50)
    assert np.isfinite(rr).all() and (lo < rr).all() and (rr < hi).all()


# ----------------------------------------------------------------------------- sentences
def test_journey_sentences_name_small_groups_and_claim_only_clear_lifts():
    ds = hand_ds()
    text = journey_sentences(repeat_contact_rate(ds), repeat_contact_rate(ds, by="channel"), channel_switching(ds),
                             paths_before_churn(paths_ds(), window_days=30, length=2, min_n=1))
    assert text[0].startswith("50% (95% CI") and "of 4 solved tickets" in text[0]
    assert any(s.startswith("Too few solved tickets to judge: chat, email, phone") for s in text)
    assert text[-1].startswith("No path is clearly more common")      # 2 vs 2 customers: nothing is clear
