"""Tests of slm_lib.metrics.tickets and slm_lib.metrics.sla."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from slm_lib.calendar import BusinessCalendar
from slm_lib.errors import ConfigError, DataValidationError
from slm_lib.metrics.sla import sla_compliance, sla_status, sla_status_codes, validate_targets
from slm_lib.metrics.tickets import (fcr_rate, first_response_time, reopen_rate, replies_per_ticket,
                                     resolution_rate, resolution_time, volume_by_channel)
from slm_lib.schema import empty_frame


def ts(*values):
    return pd.to_datetime(list(values), utc=True)


def make_tickets(rows):
    """rows: (id, created, first_response, resolved, priority, replies, reopens, channel)."""
    cols = ["ticket_id", "created_at", "first_response_at", "resolved_at", "priority", "replies",
            "reopens", "channel"]
    df = pd.DataFrame(rows, columns=cols)
    for c in ("created_at", "first_response_at", "resolved_at"):
        df[c] = pd.to_datetime(df[c], utc=True)
    df["customer_id"] = "c1"
    return df


TICKETS = make_tickets([
    ("a", "2024-03-01 08:00", "2024-03-01 08:30", "2024-03-01 12:00", "urgent", 1, 0, "chat"),
    ("b", "2024-03-01 09:00", "2024-03-01 12:00", "2024-03-04 09:00", "high", 3, 0, "email"),
    ("c", "2024-03-02 10:00", None, None, "normal", 0, 0, "email"),
    ("d", "2024-03-02 11:00", "2024-03-02 11:15", "2024-03-02 13:00", None, 0, 2, "phone"),
])


# ----------------------------------------------------------------------------- durations
def test_first_response_time_hand_computed():
    frt = first_response_time(TICKETS)
    assert frt.index.name == "ticket_id" and frt.name == "frt_hours"
    assert frt.to_dict() == {"a": 0.5, "b": 3.0, "d": 0.25}


def test_resolution_time_hand_computed():
    res = resolution_time(TICKETS)
    assert res.to_dict() == {"a": 4.0, "b": 72.0, "d": 2.0}


def test_business_hours_frt_over_weekend():
    # Friday 16:30 -> Monday 09:30 with 09:00-17:00 opening hours is 1.0 business hour
    t = make_tickets([("x", "2024-03-01 16:30", "2024-03-04 09:30", "2024-03-04 10:00", "high", 1, 0, "chat")])
    cal = BusinessCalendar()
    assert first_response_time(t, calendar=cal)["x"] == pytest.approx(1.0)
    assert resolution_time(t, calendar=cal)["x"] == pytest.approx(1.5)
    assert first_response_time(t)["x"] == pytest.approx(65.0)


def test_missing_column_named():
    with pytest.raises(DataValidationError, match="first_response_at"):
        first_response_time(TICKETS.drop(columns="first_response_at"))


# ----------------------------------------------------------------------------- rates
def test_rates_hand_computed():
    # resolved: a (1 reply, 0 reopens), b (3 replies), d (0 replies, 2 reopens)
    f = fcr_rate(TICKETS)
    assert list(f.index) == ["n", "value", "ci_low", "ci_high"]
    assert f["n"] == 3 and f["value"] == pytest.approx(100 / 3)
    assert reopen_rate(TICKETS)["value"] == pytest.approx(100 / 3)
    r = resolution_rate(TICKETS)
    assert r["n"] == 4 and r["value"] == 75.0
    rp = replies_per_ticket(TICKETS)
    assert rp["n"] == 3 and rp["value"] == pytest.approx(4 / 3)
    for s in (f, r, rp):
        assert s["ci_low"] <= s["value"] <= s["ci_high"]


def test_rates_on_empty_are_nan_with_n0():
    empty = empty_frame("tickets")
    for fn in (fcr_rate, reopen_rate, resolution_rate, replies_per_ticket):
        s = fn(empty)
        assert s["n"] == 0 and np.isnan(s["value"])


def test_volume_by_channel():
    v = volume_by_channel(TICKETS)
    assert v[["channel", "n", "share"]].values.tolist() == [["email", 2, 50.0], ["chat", 1, 25.0],
                                                           ["phone", 1, 25.0]]
    assert (v["ci_low"] <= v["share"]).all() and (v["share"] <= v["ci_high"]).all()


# ----------------------------------------------------------------------------- SLA
OPEN = make_tickets([
    # urgent first-response target 1h, resolution 8h
    ("o1", "2024-03-01 08:00", None, None, "urgent", 0, 0, "chat"),
    ("o2", "2024-03-01 08:00", "2024-03-01 08:45", None, "urgent", 1, 0, "chat"),
])


def test_open_ticket_pending_before_clock_passes():
    st = sla_status(OPEN, as_of="2024-03-01 08:50")
    assert st.loc["o1", "first_response"] == "pending"
    assert st.loc["o2", "first_response"] == "achieved"
    assert st.loc["o1", "resolution"] == "pending" and st.loc["o2", "resolution"] == "pending"
    c = sla_compliance(OPEN, as_of="2024-03-01 08:50").set_index(["target", "priority"])
    assert c.loc[("first_response", "urgent"), ["achieved", "breached", "pending", "n"]].tolist() == [1, 0, 1, 1]
    assert c.loc[("first_response", "urgent"), "value"] == 100.0
    assert c.loc[("resolution", "urgent"), "n"] == 0 and np.isnan(c.loc[("resolution", "urgent"), "value"])


def test_open_ticket_breached_after_clock_passes():
    st = sla_status(OPEN, as_of="2024-03-01 17:00")
    assert st.loc["o1", "first_response"] == "breached"
    assert st.loc["o1", "resolution"] == "breached" and st.loc["o2", "resolution"] == "breached"
    c = sla_compliance(OPEN, as_of="2024-03-01 17:00").set_index(["target", "priority"])
    assert c.loc[("first_response", "urgent"), "value"] == 50.0
    assert c.loc[("resolution", "all"), ["achieved", "breached"]].tolist() == [0, 2]


def test_event_after_as_of_is_not_yet_seen_and_late_tickets_excluded():
    st = sla_status(OPEN, as_of="2024-03-01 08:40")
    assert st.loc["o2", "first_response"] == "pending"
    assert sla_status(OPEN, as_of="2024-03-01 07:00")["first_response"].isna().all()


def test_sla_exact_target_is_achieved_and_default_as_of():
    t = make_tickets([("e", "2024-03-01 08:00", "2024-03-01 09:00", "2024-03-01 16:00", "urgent", 1, 0, "chat"),
                      ("f", "2024-03-01 08:00", "2024-03-01 09:01", None, "urgent", 1, 0, "chat")])
    st = sla_status(t)  # as_of = latest timestamp = 16:00
    assert st.loc["e"].tolist() == ["achieved", "achieved"]
    assert st.loc["f", "first_response"] == "breached" and st.loc["f", "resolution"] == "pending"


def test_missing_priority_is_normal_and_all_row():
    c = sla_compliance(TICKETS, as_of="2024-03-10").set_index(["target", "priority"])
    # d has no priority -> normal (first response target 8h): responded in 15 min
    assert c.loc[("first_response", "normal"), ["achieved", "breached"]].tolist() == [1, 1]
    allrow = c.loc[("first_response", "all")]
    assert allrow["n"] == 4 and allrow["achieved"] == 3
    assert list(c.reset_index().columns) == ["target", "priority", "achieved", "breached", "pending", "n",
                                             "value", "ci_low", "ci_high"]


def test_sla_one_nanosecond_past_target_is_breached_in_any_time_unit():
    t = make_tickets([("g", "2024-03-01 08:00", None, None, "urgent", 0, 0, "chat")])
    t["first_response_at"] = t["created_at"] + pd.Timedelta(hours=1, microseconds=1)
    t["resolved_at"] = t["created_at"] + pd.Timedelta(hours=4)  # exactly on the urgent target
    targets = {"first_response": {"urgent": 1}, "resolution": {"urgent": 4}}
    for unit in ("s", "us", "ns"):  # pandas keeps the unit of the source; statuses must not depend on it
        stamped = t.astype({c: f"datetime64[{unit}, UTC]" for c in ("created_at", "first_response_at", "resolved_at")})
        expected = ["breached", "achieved"] if unit != "s" else ["achieved", "achieved"]  # 1 µs lost at s
        assert sla_status(stamped, targets).loc["g"].tolist() == expected, unit
    t["first_response_at"] = t["created_at"].astype("datetime64[ns, UTC]") + pd.Timedelta(hours=1, nanoseconds=1)
    assert sla_status(t, targets).loc["g", "first_response"] == "breached"


def test_sla_business_hours():
    # created Fri 16:30, answered Mon 09:30: 1 business hour -> meets a 1h target, not in calendar hours
    t = make_tickets([("x", "2024-03-01 16:30", "2024-03-04 09:30", None, "urgent", 1, 0, "chat")])
    targets = {"first_response": {"urgent": 1}}
    assert sla_status(t, targets, calendar=BusinessCalendar()).loc["x", "first_response"] == "achieved"
    assert sla_status(t, targets).loc["x", "first_response"] == "breached"


def test_sla_every_whole_minute_target_met_exactly_is_achieved():
    created = pd.Timestamp("2024-03-01", tz="UTC")
    for m in range(1, 1441):  # each target answered on time and 1 ns late
        on_time = created + pd.Timedelta(minutes=m)
        t = pd.DataFrame({"created_at": [created, created], "priority": ["high", "high"],
                          "first_response_at": [on_time, on_time + pd.Timedelta(1, "ns")]})
        codes = sla_status_codes(t, {"first_response": {"high": m / 60}}, as_of="2024-03-03")["first_response"]
        assert codes.tolist() == [0, 1], m  # 65/60 h * 3.6e12 is 3899999999999.9995: flooring would breach


def test_sla_target_beyond_int64_nanoseconds_is_never_breached():
    t = make_tickets([("h", "2024-03-01 08:00", "2030-03-01 08:00", None, "low", 0, 0, "chat")])
    assert sla_status(t, {"first_response": {"low": 1e7}, "resolution": {"low": 1e7}}).loc["h"].tolist() == \
        ["achieved", "pending"]


def test_sla_codes_reuse_precomputed_business_hours():
    rng = np.random.default_rng(5)
    created = pd.Timestamp("2024-03-01", tz="UTC") + pd.to_timedelta(rng.integers(0, 30 * 24 * 60, 400), "min")
    t = pd.DataFrame({"created_at": created, "priority": rng.choice(["low", "normal", "high", "urgent", None], 400),
                      "first_response_at": created + pd.to_timedelta(rng.exponential(10, 400), "h"),
                      "resolved_at": created + pd.to_timedelta(rng.exponential(60, 400), "h")})
    t.loc[rng.random(400) < 0.2, "resolved_at"] = pd.NaT
    cal = BusinessCalendar(tz="Europe/Berlin")
    hours = {c: cal.hours_between(t["created_at"], t[c]) for c in ("first_response_at", "resolved_at")}
    as_of = "2024-03-20"  # some events after as_of: their clocks stop at as_of, not at the event
    direct = sla_status_codes(t, as_of=as_of, calendar=cal)
    shared = sla_status_codes(t, as_of=as_of, calendar=cal, event_hours=hours)
    for name in direct:
        np.testing.assert_array_equal(direct[name], shared[name])
        assert set(np.unique(direct[name])) == {-1, 0, 1, 2}


def test_custom_targets_subset():
    c = sla_compliance(TICKETS, {"resolution": {"high": 100}})
    assert c[["target", "priority"]].values.tolist() == [["resolution", "high"], ["resolution", "all"]]
    assert c["achieved"].tolist() == [1, 1]


@pytest.mark.parametrize("bad, match", [
    ({"first_reply": {"urgent": 1}}, "first_reply"),
    ({"resolution": {"critical": 1}}, "critical"),
    ({"resolution": {"urgent": -2}}, r"\['urgent'\]"),
    ({"resolution": {"urgent": "soon"}}, "soon"),
    ({"resolution": 5}, "resolution"),
    (["resolution"], "mapping"),
])
def test_invalid_targets_raise_config_error(bad, match):
    with pytest.raises(ConfigError, match=match):
        validate_targets(bad)
    with pytest.raises(ConfigError):
        sla_compliance(TICKETS, bad)
