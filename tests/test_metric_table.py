"""Tests of slm_lib.metrics.table: metric_table and agent_table."""
from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slm_lib.calendar import BusinessCalendar
from slm_lib.config import DEFAULT_SLA_TARGETS
from slm_lib.errors import ConfigError
from slm_lib.io.dataset import Dataset
from slm_lib.metrics.sla import sla_compliance
from slm_lib.metrics.survey import ces_summary, csat_summary, nps_summary
from slm_lib.metrics.lifecycle_table import EVENT_METRICS
from slm_lib.metrics.table import METRICS, agent_table, metric_table
from slm_lib.metrics.tickets import (fcr_rate, first_response_time, reopen_rate, replies_per_ticket,
                                     resolution_rate, resolution_time)
from slm_lib.schema import CHANNELS, PRIORITIES

SPEC_METRICS = {"nps", "csat", "ces", "tickets", "frt_mean", "frt_median", "frt_p90", "resolution_mean", "repeat_contact_rate",
                "resolution_median", "resolution_p90", "resolution_rate", "fcr", "reopen_rate",
                "replies_per_ticket", "sla_first_response", "sla_resolution"}
COLUMNS = ["period", "metric", "n", "value", "ci_low", "ci_high", "small_n"]


def random_dataset(seed: int, n_tickets: int = 300, n_surveys: int = 200, months: int = 3) -> Dataset:
    """Canonical tickets, surveys and customers with random values over ``months`` months."""
    rng = np.random.default_rng(seed)
    start = pd.Timestamp("2024-01-01", tz="UTC")
    created = start + pd.to_timedelta(rng.uniform(0, 30 * months, n_tickets), unit="D")
    frt = pd.to_timedelta(rng.exponential(5, n_tickets), unit="h")
    res = pd.to_timedelta(rng.exponential(50, n_tickets), unit="h")
    ids = np.array([f"T{i:05d}" for i in range(n_tickets)], dtype=object)
    cust = np.array([f"C{i:03d}" for i in range(20)], dtype=object)
    tickets = pd.DataFrame({
        "ticket_id": pd.array(ids, dtype="str"),
        "customer_id": pd.array(cust[rng.integers(0, 20, n_tickets)], dtype="str"),
        "created_at": created,
        "first_response_at": pd.Series(created + frt).where(rng.random(n_tickets) < 0.9),
        "resolved_at": pd.Series(created + frt + res).where(rng.random(n_tickets) < 0.8),
        "channel": pd.array(np.array(CHANNELS, dtype=object)[rng.integers(0, 3, n_tickets)], dtype="str"),
        "priority": pd.array(np.array(PRIORITIES, dtype=object)[rng.integers(0, 4, n_tickets)], dtype="str"),
        "agent_id": pd.array(np.array(["A1", "A2", "A3"], dtype=object)[rng.integers(0, 3, n_tickets)], dtype="str"),
        "team": pd.array(np.array(["t1", "t2"], dtype=object)[rng.integers(0, 2, n_tickets)], dtype="str"),
        "replies": rng.poisson(1.5, n_tickets).astype("int64"),
        "reopens": (rng.random(n_tickets) < 0.15).astype("int64"),
        "category": pd.array(["billing"] * n_tickets, dtype="str"),
    })
    kind = rng.integers(0, 3, n_surveys)
    lo, hi = np.array([1, 0, 1])[kind], np.array([5, 10, 7])[kind]
    tix = rng.integers(0, n_tickets, n_surveys)
    has = rng.random(n_surveys) < 0.85
    surveys = pd.DataFrame({
        "response_id": pd.array([f"R{i}" for i in range(n_surveys)], dtype="str"),
        "customer_id": tickets["customer_id"].to_numpy()[tix],
        "ticket_id": pd.array(np.where(has, ids[tix], None), dtype="str"),
        "submitted_at": (tickets["created_at"].iloc[tix].reset_index(drop=True)
                         + pd.to_timedelta(rng.uniform(0, 5, n_surveys), unit="D")),
        "type": pd.array(np.array(["csat", "nps", "ces"], dtype=object)[kind], dtype="str"),
        "score": (lo + rng.integers(0, hi - lo + 1)).astype("int64"),
        "comment": pd.array([None] * n_surveys, dtype="str"),
    })
    customers = pd.DataFrame({
        "customer_id": pd.array(cust, dtype="str"),
        "signup_at": pd.to_datetime(["2023-01-01"] * 20, utc=True),
        "segment": pd.array(np.where(np.arange(20) % 2 == 0, "smb", "enterprise"), dtype="str"),
        "region": pd.array(["eu"] * 20, dtype="str"),
        "churned_at": pd.to_datetime([None] * 20, utc=True),
    })
    return Dataset(tickets=tickets, surveys=surveys, customers=customers)


def row(table: pd.DataFrame, metric: str, **keys) -> pd.Series:
    mask = table["metric"] == metric
    for k, v in keys.items():
        mask &= table[k] == v
    assert mask.sum() == 1, (metric, keys)
    return table[mask].iloc[0]


# ----------------------------------------------------------------------------- structure
def test_columns_periods_and_metric_names():
    ds = random_dataset(0)
    mt = metric_table(ds)
    assert list(mt.columns) == COLUMNS
    assert set(mt["metric"]) == SPEC_METRICS == set(METRICS) - set(EVENT_METRICS)   # no ticket events: none of those
    assert sorted(mt.loc[mt.metric == "tickets", "period"]) == ["2024-01", "2024-02", "2024-03"]
    assert set(mt["period"]) <= {"2024-01", "2024-02", "2024-03", "2024-04"}
    assert mt["n"].dtype == np.int64 and mt["small_n"].dtype == bool
    assert not mt.duplicated(["period", "metric"]).any()
    mt_by = metric_table(ds, by=["channel", "priority"])
    assert list(mt_by.columns) == ["period", "channel", "priority"] + COLUMNS[1:]


@settings(max_examples=12, deadline=None)
@given(st.integers(0, 10_000))
def test_one_group_equals_scalar_functions(seed):
    ds = random_dataset(seed, n_tickets=150, n_surveys=90, months=1)
    ds.surveys = ds.surveys[ds.surveys["submitted_at"] < "2024-02-01"]
    t = ds.tickets[ds.tickets["created_at"] < "2024-02-01"]
    ds.tickets = t
    mt = metric_table(ds, min_n=30)
    assert set(mt["period"]) == {"2024-01"} and (mt["small_n"] == (mt["n"] < 30)).all()
    s = ds.surveys
    expected = {
        "nps": nps_summary(s.loc[s.type == "nps", "score"]),
        "csat": csat_summary(s.loc[s.type == "csat", "score"]),
        "ces": ces_summary(s.loc[s.type == "ces", "score"]),
        "fcr": fcr_rate(t), "reopen_rate": reopen_rate(t), "resolution_rate": resolution_rate(t),
        "replies_per_ticket": replies_per_ticket(t),
    }
    for metric, ref in expected.items():
        got = row(mt, metric)
        assert got["n"] == ref["n"], metric
        np.testing.assert_allclose(got[["value", "ci_low", "ci_high"]].astype(float),
                                   ref[["value", "ci_low", "ci_high"]].astype(float), rtol=1e-12, err_msg=metric)
    frt, res = first_response_time(t), resolution_time(t)
    for prefix, x in (("frt", frt), ("resolution", res)):
        assert row(mt, f"{prefix}_mean")["value"] == pytest.approx(x.mean())
        assert row(mt, f"{prefix}_median")["value"] == pytest.approx(x.median())
        assert row(mt, f"{prefix}_p90")["value"] == pytest.approx(np.quantile(x, 0.9))
        assert row(mt, f"{prefix}_mean")["n"] == len(x)
    sla = sla_compliance(t, as_of=None).set_index(["target", "priority"])
    for target in ("first_response", "resolution"):
        ref = sla.loc[(target, "all")]
        got = row(mt, f"sla_{target}")
        assert got["n"] == ref["n"] and got["value"] == pytest.approx(ref["value"])
    tick = row(mt, "tickets")
    assert tick["n"] == len(t) == tick["value"] and tick["ci_low"] < tick["value"] < tick["ci_high"]


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000), st.sampled_from(["channel", "team", "segment"]))
def test_intervals_contain_estimate_and_groups_partition(seed, by):
    ds = random_dataset(seed, n_tickets=120, n_surveys=80, months=2)
    mt = metric_table(ds, by=by)
    ok = mt["value"].notna() & mt["ci_low"].notna()
    assert (mt.loc[ok, "ci_low"] <= mt.loc[ok, "value"] + 1e-9).all()
    assert (mt.loc[ok, "value"] <= mt.loc[ok, "ci_high"] + 1e-9).all()
    nps_rows = mt[mt.metric == "nps"]
    assert nps_rows["value"].between(-100, 100).all()
    overall = metric_table(ds)
    # counts of the groups add up to the ungrouped count (the group partitions the data)
    for metric in ("tickets", "nps", "csat", "ces", "fcr", "sla_first_response"):
        by_sum = mt[mt.metric == metric].groupby("period")["n"].sum()
        total = overall[overall.metric == metric].set_index("period")["n"]
        pd.testing.assert_series_equal(by_sum, total, check_names=False)


def test_empty_dataset_gives_empty_table_with_columns():
    empty = metric_table(Dataset(), by="channel")
    assert empty.empty and list(empty.columns) == ["period", "channel"] + COLUMNS[1:]


def test_groups_without_resolved_tickets_carry_n0_and_nan():
    ds = random_dataset(8, n_tickets=40, n_surveys=0, months=1)
    ds.tickets["resolved_at"] = pd.Series(pd.NaT, index=ds.tickets.index, dtype="datetime64[ns, UTC]")
    mt = metric_table(ds)
    r = row(mt, "resolution_median")
    assert r["n"] == 0 and np.isnan(r["value"]) and r["small_n"]
    assert row(mt, "resolution_rate")["value"] == 0.0


# ----------------------------------------------------------------------------- groups
def test_surveys_take_channel_of_their_ticket():
    ds = random_dataset(2)
    mt = metric_table(ds, by="channel")
    s = ds.surveys.merge(ds.tickets[["ticket_id", "channel"]], on="ticket_id", how="left")
    s["period"] = s["submitted_at"].dt.strftime("%Y-%m")
    chat = s[(s.channel == "chat") & (s.type == "csat") & (s.period == "2024-02")]
    got = row(mt, "csat", period="2024-02", channel="chat")
    assert got["n"] == len(chat) and got["value"] == pytest.approx(100 * (chat.score >= 4).mean())
    missing = mt[mt["channel"].isna()]
    assert set(missing["metric"]) <= {"nps", "csat", "ces"} and len(missing) > 0
    no_ticket = s[s.ticket_id.isna() & (s.type == "nps") & (s.period == "2024-01")]
    got = missing[(missing.metric == "nps") & (missing.period == "2024-01")].iloc[0]
    assert got["n"] == len(no_ticket)


def test_by_customer_column_segment():
    ds = random_dataset(3)
    mt = metric_table(ds, by="segment")
    t = ds.tickets.merge(ds.customers[["customer_id", "segment"]], on="customer_id")
    t = t[(t.segment == "smb") & (t.created_at < "2024-02-01")]
    assert row(mt, "tickets", period="2024-01", segment="smb")["n"] == len(t)
    assert row(mt, "fcr", period="2024-01", segment="smb")["value"] == pytest.approx(fcr_rate(t)["value"])


def test_timezone_moves_period_boundary_and_other_freqs():
    ds = random_dataset(4, n_tickets=3, n_surveys=0)
    ds.tickets["created_at"] = pd.to_datetime(["2024-01-31 23:30", "2024-02-01 00:30", "2024-03-31 22:30"], utc=True)
    ds.tickets["first_response_at"] = ds.tickets["created_at"] + pd.Timedelta(hours=1)
    utc = metric_table(ds)
    assert utc[utc.metric == "tickets"].set_index("period")["n"].to_dict() == {"2024-01": 1, "2024-02": 1,
                                                                                "2024-03": 1}
    berlin = metric_table(ds, tz="Europe/Berlin")  # 23:30 UTC Jan 31 is 00:30 Feb 1 in Berlin
    assert berlin[berlin.metric == "tickets"].set_index("period")["n"].to_dict() == {"2024-02": 2, "2024-04": 1}
    q = metric_table(ds, freq="Q")
    assert q[q.metric == "tickets"].set_index("period")["n"].to_dict() == {"2024Q1": 3}
    w = metric_table(ds, freq="W")
    assert set(w["period"]) == {"2024-01-29", "2024-03-25"}  # Mondays
    assert set(metric_table(ds, freq="Y")["period"]) == {"2024"}
    assert set(metric_table(ds, freq="D", tz="America/New_York")["period"]) == {"2024-01-31", "2024-03-31"}


def test_tickets_without_any_creation_time_leave_the_survey_rows():
    ds = random_dataset(9)
    ds.tickets["created_at"] = pd.NaT
    mt = metric_table(ds)
    assert set(mt["metric"]) == {"nps", "csat", "ces"} and mt["n"].sum() == ds.surveys["score"].notna().sum()


def test_small_n_flag_and_errors():
    ds = random_dataset(5)
    mt = metric_table(ds, min_n=50)
    assert (mt["small_n"] == (mt["n"] < 50)).all() and mt["small_n"].any() and (~mt["small_n"]).any()
    with pytest.raises(ConfigError, match="freq"):
        metric_table(ds, freq="fortnight")
    with pytest.raises(ConfigError, match="'shoe_size'"):
        metric_table(ds, by="shoe_size")


def test_business_calendar_integration():
    ds = random_dataset(6, months=1)
    cal = BusinessCalendar()
    mt = metric_table(ds, calendar=cal)
    t = ds.tickets[ds.tickets.created_at < "2024-02-01"]
    frt = first_response_time(t, calendar=cal)
    assert row(mt, "frt_mean", period="2024-01")["value"] == pytest.approx(frt.mean())
    assert row(mt, "frt_median", period="2024-01")["value"] == pytest.approx(frt.median())
    sla = sla_compliance(t, as_of=max(ds.tickets[c].max() for c in ("created_at", "first_response_at", "resolved_at")),
                         calendar=cal).set_index(["target", "priority"])
    for target in ("first_response", "resolution"):  # SLA clocks in business hours too
        assert row(mt, f"sla_{target}", period="2024-01")["n"] == sla.loc[(target, "all"), "n"]
        assert row(mt, f"sla_{target}", period="2024-01")["value"] == pytest.approx(sla.loc[(target, "all"), "value"])


def test_agent_table_flags_small_groups():
    ds = random_dataset(7, n_tickets=90)
    at = agent_table(ds.tickets, min_n=40, surveys=ds.surveys)
    assert list(at.columns) == ["agent_id"] + COLUMNS[1:]
    a1 = ds.tickets[ds.tickets.agent_id == "A1"]
    got = row(at, "reopen_rate", agent_id="A1")
    assert got["n"] == reopen_rate(a1)["n"] and got["value"] == pytest.approx(reopen_rate(a1)["value"])
    assert got["small_n"] == (got["n"] < 40)
    teams = agent_table(ds.tickets, by="team")
    assert set(teams["team"]) == {"t1", "t2"}


# ----------------------------------------------------------------------------- DuckDB cross-check
def _duckdb_reference(ds: Dataset, as_of: pd.Timestamp) -> pd.DataFrame:
    def case(name: str) -> str:
        return "CASE coalesce(priority, 'normal') " + " ".join(
            f"WHEN '{p}' THEN {h}" for p, h in DEFAULT_SLA_TARGETS[name].items()) + " END"
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.register("tickets", ds.tickets)
    con.register("surveys", ds.surveys)
    sql = f"""
    WITH t AS (
      SELECT strftime(created_at AT TIME ZONE 'UTC', '%Y-%m') AS period, channel,
             epoch_us(first_response_at - created_at) / 3.6e9 AS frt,
             epoch_us(resolved_at - created_at) / 3.6e9 AS res,
             resolved_at IS NOT NULL AS resolved, replies, reopens,
             {case('first_response')} AS t_fr, {case('resolution')} AS t_res,
             epoch_us(TIMESTAMPTZ '{as_of.isoformat()}' - created_at) / 3.6e9 AS clock
      FROM tickets)
    SELECT period, channel, 'tickets' AS metric, count(*) AS n, count(*)::DOUBLE AS value FROM t GROUP BY 1, 2, 3
    UNION ALL SELECT period, channel, 'frt_mean', count(frt), avg(frt) FROM t GROUP BY 1, 2, 3
    UNION ALL SELECT period, channel, 'frt_median', count(frt), quantile_cont(frt, 0.5) FROM t GROUP BY 1, 2, 3
    UNION ALL SELECT period, channel, 'frt_p90', count(frt), quantile_cont(frt, 0.9) FROM t GROUP BY 1, 2, 3
    UNION ALL SELECT period, channel, 'resolution_mean', count(res), avg(res) FROM t GROUP BY 1, 2, 3
    UNION ALL SELECT period, channel, 'resolution_median', count(res), quantile_cont(res, 0.5) FROM t GROUP BY 1, 2, 3
    UNION ALL SELECT period, channel, 'resolution_p90', count(res), quantile_cont(res, 0.9) FROM t GROUP BY 1, 2, 3
    UNION ALL SELECT period, channel, 'resolution_rate', count(*), 100.0 * avg(resolved::INT) FROM t GROUP BY 1, 2, 3
    UNION ALL SELECT period, channel, 'fcr', count(*) FILTER (resolved),
        100.0 * avg((replies <= 1 AND reopens = 0)::INT) FILTER (resolved) FROM t GROUP BY 1, 2, 3
    UNION ALL SELECT period, channel, 'reopen_rate', count(*) FILTER (resolved),
        100.0 * avg((reopens > 0)::INT) FILTER (resolved) FROM t GROUP BY 1, 2, 3
    UNION ALL SELECT period, channel, 'replies_per_ticket', count(*) FILTER (resolved),
        avg(replies) FILTER (resolved) FROM t GROUP BY 1, 2, 3
    UNION ALL SELECT period, channel, 'sla_first_response', count(*) FILTER (frt IS NOT NULL OR clock > t_fr),
        100.0 * avg(coalesce(frt <= t_fr, false)::INT) FILTER (frt IS NOT NULL OR clock > t_fr) FROM t GROUP BY 1, 2, 3
    UNION ALL SELECT period, channel, 'sla_resolution', count(*) FILTER (res IS NOT NULL OR clock > t_res),
        100.0 * avg((res IS NOT NULL AND res <= t_res)::INT) FILTER (res IS NOT NULL OR clock > t_res)
        FROM t GROUP BY 1, 2, 3
    UNION ALL SELECT period, channel, 'repeat_contact_rate', count(*) FILTER (counted),
        100.0 * avg(coalesce(nxt <= resolved_at + INTERVAL 7 DAY, false)::INT) FILTER (counted)
        FROM (SELECT strftime(a.created_at AT TIME ZONE 'UTC', '%Y-%m') AS period, a.channel, a.resolved_at,
                     a.resolved_at <= TIMESTAMPTZ '{as_of.isoformat()}' - INTERVAL 7 DAY AS counted,
                     b.created_at AS nxt
              FROM tickets a ASOF LEFT JOIN tickets b
                ON a.customer_id = b.customer_id AND b.created_at > a.resolved_at) GROUP BY 1, 2, 3
    UNION ALL SELECT strftime(s.submitted_at AT TIME ZONE 'UTC', '%Y-%m'), k.channel, s.type, count(*),
        CASE s.type WHEN 'nps' THEN 100.0 * (avg((s.score >= 9)::INT) - avg((s.score <= 6)::INT))
                    WHEN 'csat' THEN 100.0 * avg((s.score >= 4)::INT) ELSE avg(s.score) END
        FROM surveys s LEFT JOIN tickets k USING (ticket_id) GROUP BY 1, 2, 3
    """
    return con.execute(sql).df()


def test_metric_table_matches_duckdb_on_synthetic_data():
    from slm_lib.synth import generate
    ds = generate(customers=500, months=6, seed=1)
    mt = metric_table(ds, by="channel")
    as_of = ds.observation_end()
    assert as_of == pd.Timestamp("2025-05-01", tz="UTC")   # synthetic data are observed at the end of the last month
    ref = _duckdb_reference(ds, as_of)
    key = ["period", "channel", "metric"]
    got = mt.assign(channel=mt["channel"].astype(object).where(mt["channel"].notna(), "<none>"))
    ref = ref.assign(channel=ref["channel"].astype(object).where(ref["channel"].notna(), "<none>"))
    merged = got.merge(ref, on=key, how="outer", suffixes=("", "_sql"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged[merged["_merge"] != "both"][key]
    assert (merged["n"] == merged["n_sql"]).all()
    np.testing.assert_allclose(merged["value"].astype(float), merged["value_sql"].astype(float),
                               rtol=1e-9, atol=1e-6, equal_nan=True)
    assert len(merged) > 100


@pytest.mark.parametrize("keys, query, expected", [
    (pd.Series(["a", "b", None], dtype=object), pd.Series(["b", "z", None, "a"], dtype="str"), [1, -1, -1, 0]),
    (pd.Series([1, 2, 3]), pd.Series(["b"], dtype="str"), [-1]),         # types Arrow cannot compare
    (pd.Series(["a", "b"], dtype="str"), pd.Series([None, None], dtype="str"), [-1, -1]),
    (pd.Series([], dtype="str"), pd.Series(["b"], dtype="str"), [-1]),
])
def test_lookup_positions(keys, query, expected):
    from slm_lib.keys import lookup_positions
    assert lookup_positions(keys, query).tolist() == expected
