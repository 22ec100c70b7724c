"""customer_features (hand-computed windows, no leakage) and monthly_service_panel."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from slm_lib.errors import ConfigError
from slm_lib.features import FEATURE_COLUMNS, customer_features, window_offset
from slm_lib.service_panel import monthly_service_panel
from slm_lib.io.dataset import Dataset

AS_OF = pd.Timestamp("2024-04-01", tz="UTC")
OUTCOMES = ["churned", "revenue_horizon", "duration_days", "event"]


def utc(*values):
    return pd.to_datetime(list(values), utc=True, format="ISO8601")


def tickets_frame(rows):
    cols = ["ticket_id", "customer_id", "created_at", "first_response_at", "resolved_at", "priority", "reopens"]
    df = pd.DataFrame(rows, columns=cols)
    for c in ("created_at", "first_response_at", "resolved_at"):
        df[c] = pd.to_datetime(df[c], utc=True, format="ISO8601")
    return df.assign(channel="email", agent_id=None, team=None, replies=1, category=None)


@pytest.fixture()
def hand() -> Dataset:
    customers = pd.DataFrame({
        "customer_id": ["c1", "c2", "c3", "c4", "c5", "c6", "c7"],
        "signup_at": utc("2023-06-01", "2024-02-01", "2024-01-01", "2024-04-01", "2023-01-01", "2023-01-01",
                         "2023-01-01"),
        "segment": ["smb", "mid", "smb", "smb", "smb", "enterprise", "smb"],
        "region": [None] * 7,
        "churned_at": utc(None, "2024-04-20", "2024-03-15", None, "2024-04-01", "2024-05-01", "2024-05-02"),
    })
    tickets = tickets_frame([
        ("t1", "c1", "2023-12-31 23:00", "2024-01-01 00:00", None, "normal", 0),   # before the window
        ("t2", "c1", "2024-01-10 00:00", "2024-01-10 04:00", "2024-01-11", "normal", 1),  # 4 h, achieved
        ("t3", "c1", "2024-02-10 00:00", "2024-02-10 10:00", "2024-02-12", "normal", 0),  # 10 h, breached
        ("t4", "c1", "2024-03-31 22:00", "2024-04-01 01:00", None, "urgent", 0),   # answered after as_of: breached
        ("t5", "c1", "2024-03-31 20:00", None, None, "low", 0),                    # pending (4 h < 24 h)
        ("t6", "c1", "2024-04-01 00:00", "2024-04-01 00:10", None, "normal", 0),   # at as_of: excluded
        ("t7", "c1", "2024-03-01 00:00", "2024-03-01 06:00", "2024-04-02", "normal", 2),  # 6 h; resolved later
    ])
    surveys = pd.DataFrame({
        "response_id": [f"r{i}" for i in range(8)],
        "customer_id": ["c1"] * 8,
        "ticket_id": [None] * 8,
        "submitted_at": utc("2024-01-15", "2024-03-20", "2024-04-01", "2024-01-20", "2024-03-25", "2024-04-02",
                            "2024-02-01", "2023-12-01"),
        "type": ["csat", "csat", "csat", "nps", "nps", "nps", "ces", "ces"],
        "score": [4, 2, 5, 9, 5, 10, 2, 4],
        "comment": [None] * 8,
    })
    revenue = pd.DataFrame({
        "customer_id": ["c1"] * 5 + ["c2"],
        "paid_at": utc("2024-01-15", "2024-02-01", "2024-04-01", "2024-05-01", "2023-07-01", "2024-03-01"),
        "amount": [100.0, -20.0, 100.0, 100.0, 50.0, 30.0],
        "order_id": [None] * 6,
    })
    return Dataset(tickets=tickets, surveys=surveys, customers=customers, revenue=revenue)


def test_features_by_hand(hand):
    f = customer_features(hand, AS_OF, lookback="3M", horizon="1M").set_index("customer_id")
    assert list(f.reset_index().columns) == list(FEATURE_COLUMNS)
    assert f.index.tolist() == ["c1", "c2", "c6", "c7"]  # c3, c5 churned; c4 signs up at as_of
    c1 = f.loc["c1"]
    assert c1["tickets"] == 5
    assert c1["median_frt_h"] == 6.0          # t2 4 h, t3 10 h, t7 6 h
    assert c1["sla_breach_share"] == 0.5      # achieved t2, t7; breached t3, t4; t5 pending
    assert c1["reopen_share"] == 0.5          # resolved before as_of: t2 (reopened), t3
    assert c1["mean_csat"] == 3.0
    assert c1["last_nps_category"] == "detractor"
    assert c1["mean_ces"] == 2.0
    assert c1["historical_clv"] == 130.0      # 50 + 100 - 20 refund
    assert c1["revenue_horizon"] == 100.0     # [as_of, as_of + 1 month)
    assert c1["tenure_days"] == (AS_OF - pd.Timestamp("2023-06-01", tz="UTC")).days
    assert c1["tenure_years"] == pytest.approx(c1["tenure_days"] / 365.25)
    assert not c1["churned"] and c1["event"] == 0 and c1["duration_days"] == 30
    assert np.isnan(f["median_requester_wait_h"]).all() and np.isnan(f["handoff_share"]).all()   # no events
    c2 = f.loc["c2"]
    assert c2["tickets"] == 0 and np.isnan(c2["median_frt_h"]) and np.isnan(c2["sla_breach_share"])
    assert c2["last_nps_category"] == "none" and np.isnan(c2["mean_csat"])
    assert c2["churned"] and c2["event"] == 1 and c2["duration_days"] == 19
    assert c2["historical_clv"] == 30.0 and c2["revenue_horizon"] == 0.0
    assert f.loc["c6", "churned"] and f.loc["c6", "duration_days"] == 30  # churn at as_of + horizon counts
    assert not f.loc["c7", "churned"]
    assert (f["as_of"] == AS_OF).all()


def test_days_lookback_and_stacked_panel(hand):
    f = customer_features(hand, AS_OF, lookback="30D", horizon="30D").set_index("customer_id")
    assert f.loc["c1", "tickets"] == 2        # W = [2 March, 1 April): t4, t5 (t7 is 1 March)
    panel = customer_features(hand, ["2024-03-01", "2024-04-01"], lookback="3M", horizon="1M")
    assert panel.groupby("as_of").size().tolist() == [6, 4]
    march = panel.loc[panel["as_of"] == pd.Timestamp("2024-03-01", tz="UTC")].set_index("customer_id")
    assert march.loc["c3", "churned"]         # churned 15 March, inside (1 Mar, 1 Apr]
    assert march.loc["c1", "tickets"] == 3    # W = [1 Dec, 1 Mar): t1, t2, t3


def test_window_offset():
    assert window_offset("3M") == pd.DateOffset(months=3)
    assert window_offset("3MS") == pd.DateOffset(months=3)
    assert window_offset("M") == pd.DateOffset(months=1)
    assert window_offset("2Y") == pd.DateOffset(years=2)
    assert window_offset("90D") == pd.Timedelta(days=90)
    assert pd.Timestamp("2024-03-31") - window_offset("1M") == pd.Timestamp("2024-02-29")
    with pytest.raises(ConfigError, match="neither"):
        window_offset("three months")
    with pytest.raises(ConfigError, match="positive"):
        window_offset("-5D")
    with pytest.raises(ConfigError):
        window_offset(90)


def test_no_leakage_after_as_of():
    """Rewriting everything dated at or after as_of moves outcomes, never features."""
    from slm_lib.synth import generate

    ds = generate(customers=600, months=8, seed=3)
    as_of = pd.Timestamp("2025-03-01", tz="UTC")
    before = customer_features(ds, as_of, lookback="3M", horizon="2M")

    t = ds.tickets.copy()
    late_fr = t["first_response_at"] >= as_of
    t.loc[late_fr, "first_response_at"] = t.loc[late_fr, "first_response_at"] + pd.Timedelta(days=9)
    open_now = t["first_response_at"].isna() & (t["created_at"] < as_of)
    t.loc[open_now, "first_response_at"] = as_of + pd.Timedelta(hours=1)   # answered only after as_of
    late_res = t["resolved_at"] >= as_of
    t.loc[late_res, "resolved_at"] = pd.NaT
    t.loc[late_res, "reopens"] = 7
    new = t.loc[t["created_at"] >= as_of].assign(
        ticket_id=lambda d: "new-" + d["ticket_id"], created_at=lambda d: d["created_at"] + pd.Timedelta(days=1))
    t = pd.concat([t.loc[t["created_at"] < as_of], new, new.assign(ticket_id=lambda d: d["ticket_id"] + "b")],
                  ignore_index=True)

    s = ds.surveys.loc[ds.surveys["submitted_at"] < as_of]
    extra = s.sample(200, random_state=1).assign(
        response_id=lambda d: "x" + d["response_id"], submitted_at=as_of + pd.Timedelta(days=3),
        score=lambda d: np.where(d["type"] == "nps", 0, 1))
    s = pd.concat([s, extra], ignore_index=True)

    r = ds.revenue.copy()
    r.loc[r["paid_at"] >= as_of, "amount"] *= 3
    c = ds.customers.copy()
    future = c["churned_at"] > as_of
    c.loc[future, "churned_at"] = pd.NaT
    stay = c.index[(c["signup_at"] < as_of) & c["churned_at"].isna()][:50]
    c.loc[stay, "churned_at"] = as_of + pd.Timedelta(days=5)

    after = customer_features(Dataset(tickets=t, surveys=s, customers=c, revenue=r), as_of,
                              lookback="3M", horizon="2M")
    features = [col for col in FEATURE_COLUMNS if col not in OUTCOMES]
    pd.testing.assert_frame_equal(before[features], after[features])
    assert before["tickets"].sum() > 500 and before["median_frt_h"].notna().sum() > 100
    assert not before["churned"].equals(after["churned"])          # the edits did reach the outcomes
    assert not np.allclose(before["revenue_horizon"], after["revenue_horizon"])


def test_monthly_service_panel_by_hand(hand):
    p = monthly_service_panel(hand, months=["2024-01", "2024-02", "2024-03"]).set_index("month")
    assert p["active"].tolist() == [4, 5, 6]      # signed up before the month start, not churned by then
    assert p["churned"].tolist() == [0, 0, 2]     # c3 (15 March) and c5 (1 April 00:00: end of March)
    assert p.loc["2024-03", "churn_rate"] == pytest.approx(200 / 6)
    assert p["tickets"].tolist() == [1, 1, 3]
    assert p.loc["2024-01", "median_frt_h"] == 4.0
    assert p.loc["2024-03", "median_frt_h"] == 4.5  # t4 3 h, t7 6 h (t5 unanswered)
    assert p.loc["2024-02", "sla_breach_share"] == 100.0
    assert p.loc["2024-01", "mean_csat"] == 4.0
    assert p.loc["2024-01", "nps"] == 100.0 and p.loc["2024-03", "nps"] == -100.0
    assert np.isnan(p.loc["2024-02", "nps"])
    default = monthly_service_panel(hand)
    assert default["month"].iloc[0] == "2023-07" and default["month"].iloc[-1] == "2024-05"


def test_bad_arguments(hand):
    with pytest.raises(ConfigError, match="empty"):
        customer_features(hand, [])
    with pytest.raises(ConfigError, match="first_response"):
        customer_features(hand, AS_OF, sla_targets={"resolution": {"normal": 8}})


def test_monthly_panel_months_follow_the_time_zone():
    from slm_lib.service_panel import monthly_service_panel
    from slm_lib.io.dataset import Dataset
    from slm_lib.schema import empty_frame
    utc = lambda *v: pd.to_datetime(list(v), utc=True)  # noqa: E731
    c = empty_frame("customers")
    c.loc[0] = ["a", pd.Timestamp("2023-06-01", tz="UTC"), "smb", None, pd.Timestamp("2024-01-31 23:30", tz="UTC")]
    c.loc[1] = ["b", pd.Timestamp("2023-06-01", tz="UTC"), "smb", None, pd.NaT]
    t = pd.DataFrame({"ticket_id": ["t1"], "customer_id": ["b"], "created_at": utc("2024-01-31 23:30"),
                      "first_response_at": utc("2024-02-01 01:30"), "resolved_at": utc(None), "priority": ["normal"],
                      "replies": [1], "reopens": [0]})
    ds = Dataset(tickets=t, customers=c)
    utc_panel = monthly_service_panel(ds, months=["2024-01", "2024-02"]).set_index("month")
    berlin = monthly_service_panel(ds, months=["2024-01", "2024-02"], tz="Europe/Berlin").set_index("month")
    # 23:30 UTC on 31 January is 00:30 on 1 February in Berlin: ticket and churn move to February
    assert utc_panel.loc["2024-01", "tickets"] == 1 and utc_panel.loc["2024-01", "churned"] == 1
    assert berlin.loc["2024-02", "tickets"] == 1 and berlin.loc["2024-02", "churned"] == 1
    assert berlin.loc["2024-01", "tickets"] == 0 and berlin.loc["2024-02", "median_frt_h"] == 2.0


def test_as_of_may_be_a_datetime_a_numpy_datetime_or_a_list_of_them(hand):
    from datetime import datetime, timezone
    expected = customer_features(hand, "2024-04-01", lookback="3M", horizon="1M")
    for as_of in (datetime(2024, 4, 1), datetime(2024, 4, 1, tzinfo=timezone.utc), np.datetime64("2024-04-01")):
        pd.testing.assert_frame_equal(customer_features(hand, as_of, lookback="3M", horizon="1M"), expected)
    panel = customer_features(hand, [datetime(2024, 3, 1), datetime(2024, 4, 1)], lookback="3M", horizon="1M")
    assert panel["as_of"].nunique() == 2


def test_calendar_windows_run_on_the_wall_clock_of_the_as_of_zone():
    """A Berlin month start plus one month is the next Berlin month start, not 28 Mar 23:00 UTC + 1M."""
    from slm_lib.periods import month_starts
    c = pd.DataFrame({"customer_id": ["a"], "signup_at": utc("2025-01-01"), "segment": ["smb"], "region": [None],
                      "churned_at": utc("2026-03-30 12:00")})
    start = month_starts("2026-03", 1, tz="Europe/Berlin")[0]          # 2026-02-28 23:00 UTC
    f = customer_features(Dataset(customers=c), start, lookback="3M", horizon="1M")
    assert f["churned"].tolist() == [True]
    assert f["duration_days"].iloc[0] == pytest.approx((pd.Timestamp("2026-03-30 12:00", tz="UTC") - start) / pd.Timedelta(days=1))
    # the horizon ends at the Berlin start of April (31 March 22:00 UTC), not three days early
    later = c.assign(churned_at=utc("2026-03-31 21:00"))
    assert customer_features(Dataset(customers=later), start, lookback="3M", horizon="1M")["churned"].tolist() == [True]
    assert customer_features(Dataset(customers=later), start.tz_convert("UTC").tz_localize(None), lookback="3M",
                             horizon="1M")["churned"].tolist() == [False]   # naive: UTC months


# --------------------------------------------------------------------------- with ticket events
# c1's tickets in the window before 1 April. (ticket, at, kind, actor, status, agent_id)
K1 = [("k1", "2024-03-01 09:00", "status", "system", "new", None),                # solved on 1 March,
      ("k1", "2024-03-01 09:00", "customer_message", "customer", None, None),     # reopened on 5 April
      ("k1", "2024-03-01 10:00", "public_reply", "agent", None, "a1"),
      ("k1", "2024-03-01 10:00", "status", "agent", "pending", "a1"),
      ("k1", "2024-03-01 11:00", "status", "agent", "solved", "a1"),
      ("k1", "2024-04-05 09:00", "customer_message", "customer", None, None),
      ("k1", "2024-04-05 09:00", "status", "customer", "open", None)]
K2 = [("k2", "2024-03-10 09:00", "status", "system", "new", None),                # handed off, reopened and
      ("k2", "2024-03-10 09:00", "customer_message", "customer", None, None),     # solved again in March
      ("k2", "2024-03-10 09:05", "assignment", "system", None, "a1"),
      ("k2", "2024-03-10 10:00", "public_reply", "agent", None, "a1"),
      ("k2", "2024-03-10 10:00", "status", "agent", "pending", "a1"),
      ("k2", "2024-03-10 12:00", "customer_message", "customer", None, None),
      ("k2", "2024-03-10 12:00", "status", "customer", "open", None),
      ("k2", "2024-03-10 12:30", "assignment", "agent", None, "a2"),
      ("k2", "2024-03-10 13:00", "public_reply", "agent", None, "a2"),
      ("k2", "2024-03-10 13:00", "status", "agent", "solved", "a2"),
      ("k2", "2024-03-11 09:00", "customer_message", "customer", None, None),
      ("k2", "2024-03-11 09:00", "status", "customer", "open", None),
      ("k2", "2024-03-11 10:00", "status", "agent", "solved", "a2")]
K3 = [("k3", "2024-03-31 20:00", "status", "system", "new", None),                # waiting at as_of
      ("k3", "2024-03-31 20:00", "customer_message", "customer", None, None)]


@pytest.fixture()
def with_events() -> Dataset:
    customers = pd.DataFrame({"customer_id": ["c1", "c2"], "signup_at": utc("2023-01-01", "2023-01-01"),
                              "segment": ["smb", "smb"], "region": [None] * 2, "churned_at": utc(None, None)})
    tickets = tickets_frame([   # as exported on 6 April: k1 reopened and open again; k9 has no events
        ("k1", "c1", "2024-03-01 09:00", "2024-03-01 10:00", None, "normal", 1),
        ("k2", "c1", "2024-03-10 09:00", "2024-03-10 10:00", "2024-03-11 10:00", "normal", 1),
        ("k3", "c1", "2024-03-31 20:00", None, None, "normal", 0),
        ("k9", "c2", "2024-03-05 09:00", "2024-03-05 10:00", "2024-03-06 09:00", "normal", 1)])
    events = pd.DataFrame(K1 + K2 + K3, columns=["ticket_id", "at", "kind", "actor", "status", "agent_id"])
    events = events.assign(event_id=[f"e{i}" for i in range(len(events))], at=utc(*events["at"]), team=None,
                           priority=None, body=None)
    return Dataset(tickets=tickets, customers=customers, ticket_events=events)


def test_event_features_by_hand(with_events):
    f = customer_features(with_events, AS_OF, lookback="3M", horizon="1M").set_index("customer_id")
    c1 = f.loc["c1"]
    # k1 was solved at as_of (its reopen on 5 April is not known yet) and k2 had been reopened: 1 of 2.
    # Its own fields (resolved_at missing, reopens 1) would have left k1 out and counted k2 only (1 of 1).
    assert c1["reopen_share"] == 0.5
    assert c1["median_requester_wait_h"] == 3.0   # k1 1 h new; k2 1 + 1 + 1 h; k3 4 h so far
    assert c1["handoff_share"] == pytest.approx(1 / 3)   # k2 went from a1 to a2
    c2 = f.loc["c2"]   # k9 has no events: its fields give the reopen, and no wait or handoff is known
    assert c2["reopen_share"] == 1.0 and np.isnan(c2["median_requester_wait_h"]) and np.isnan(c2["handoff_share"])
    later = customer_features(with_events, "2024-04-06", lookback="3M", horizon="1M").set_index("customer_id")
    assert later.loc["c1", "reopen_share"] == 1.0   # by 6 April k1 is open again: k2 is the only solved one


def test_event_features_do_not_leak():
    """The features at as_of are those of the data as exported at as_of (events rewound with them)."""
    from slm_lib.synth import generate

    ds = generate(customers=400, months=8, seed=5, events=True)
    as_of = pd.Timestamp("2025-03-01", tz="UTC")
    features = [col for col in FEATURE_COLUMNS if col not in OUTCOMES]
    now = customer_features(ds, as_of, lookback="3M", horizon="2M")
    then = customer_features(ds.until(as_of), as_of, lookback="3M", horizon="2M")
    pd.testing.assert_frame_equal(now[features], then[features])
    assert now["median_requester_wait_h"].notna().sum() > 100 and now["handoff_share"].gt(0).any()
    assert now["reopen_share"].gt(0).any()
