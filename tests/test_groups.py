"""Per-group changes and means (slm_lib.metrics.groups)."""
import numpy as np
import pandas as pd
import pytest

from slm_lib.io.dataset import Dataset
from slm_lib.metrics.groups import changes_by_group, mean_by_group
from slm_lib.metrics.survey import compare_periods


def _ts(values):
    return pd.Series(pd.to_datetime(values, utc=True)).astype("datetime64[ns, UTC]")


def test_changes_by_group_equal_per_group_compare_periods():
    # customer a (smb): CSAT 5,5,2 in September -> 4,1 in October; customer b (mid): NPS 10,0 -> 9,9
    customers = pd.DataFrame({"customer_id": ["a", "b"], "signup_at": _ts(["2025-01-01"] * 2),
                              "segment": ["smb", "mid"], "region": ["x", "x"], "churned_at": _ts([None, None])})
    rows = [("a", "csat", "2026-09-10", 5), ("a", "csat", "2026-09-11", 5), ("a", "csat", "2026-09-12", 2),
            ("a", "csat", "2026-10-10", 4), ("a", "csat", "2026-10-11", 1),
            ("b", "nps", "2026-09-10", 10), ("b", "nps", "2026-09-11", 0),
            ("b", "nps", "2026-10-10", 9), ("b", "nps", "2026-10-11", 9), ("b", "nps", "2026-08-01", 0)]
    surveys = pd.DataFrame({"response_id": [f"r{i}" for i in range(len(rows))],
                            "customer_id": [r[0] for r in rows], "ticket_id": pd.Series([np.nan] * len(rows), dtype="str"),
                            "submitted_at": _ts([r[2] for r in rows]), "type": [r[1] for r in rows],
                            "score": [r[3] for r in rows], "comment": pd.Series([np.nan] * len(rows), dtype="str")})
    out = changes_by_group(Dataset(surveys=surveys, customers=customers), "2026-10", by="segment", min_n=3)
    out = out.set_index(["metric", "group"])
    assert list(out.index) == [("csat", "smb"), ("nps", "mid")]
    csat = out.loc[("csat", "smb")]
    assert csat["before"] == pytest.approx(200 / 3) and csat["after"] == pytest.approx(50.0)
    assert csat["p_value"] == pytest.approx(compare_periods([5, 5, 2], [4, 1], metric="csat")["p_value"])
    nps = out.loc[("nps", "mid")]
    assert (nps["before"], nps["after"], nps["n_before"], nps["n_after"]) == (0.0, 100.0, 2, 2)
    assert out["small_n"].all()


def test_mean_by_group_interval_contains_mean():
    f = pd.DataFrame({"g": ["a"] * 5 + ["b"] * 40, "v": np.r_[np.arange(5.0), np.linspace(0, 1, 40)]})
    m = mean_by_group(f, "v", "g", min_n=30).set_index("group")
    assert m.loc["a", "mean"] == 2.0 and m.loc["a", "n"] == 5 and bool(m.loc["a", "small_n"])
    # t interval by hand: 2 +- t(0.975, 4) * sd / sqrt(5)
    half = 2.7764451051977987 * np.std(np.arange(5.0), ddof=1) / np.sqrt(5)
    assert m.loc["a", "ci_low"] == pytest.approx(2 - half) and m.loc["a", "ci_high"] == pytest.approx(2 + half)
    assert not bool(m.loc["b", "small_n"])


def test_scorecard_from_agent_table():
    from slm_lib.metrics.groups import scorecard
    from slm_lib.metrics.table import agent_table
    t = pd.DataFrame({"ticket_id": ["a", "b", "c"], "customer_id": ["c"] * 3, "team": ["x", "x", np.nan],
                      "created_at": _ts(["2024-01-05 10:00"] * 3),
                      "first_response_at": _ts(["2024-01-05 12:00", "2024-01-05 14:00", "2024-01-05 11:00"]),
                      "resolved_at": _ts([None] * 3), "priority": ["high"] * 3, "replies": [1, 1, 1], "reopens": [0] * 3})
    card = scorecard(agent_table(t, by="team", min_n=2), "team", metrics=("tickets", "frt_median"))
    assert card["team"].tolist() == ["(none)", "x"]
    assert card.set_index("team").loc["x", "frt_median"] == pytest.approx(3.0)
    assert card.set_index("team").loc["x", "tickets"] == 2
    assert card["small_n"].tolist() == [True, False]
    assert list(card.columns) == ["team", "tickets", "frt_median", "csat_n", "small_n"]


def test_scorecard_leaves_out_groups_without_tickets_and_flags_on_ranked_metrics():
    from slm_lib.metrics.groups import scorecard
    t = pd.DataFrame({"team": ["a", "a", "a", np.nan], "metric": ["tickets", "csat", "ces", "csat"],
                      "n": [50, 40, 3, 15], "value": [50.0, 70.0, 2.0, 73.3], "small_n": [False, False, True, True]})
    card = scorecard(t, "team", metrics=("tickets", "csat", "ces"))
    assert card["team"].tolist() == ["a"]          # the NaN group exists only through surveys: not a team here
    assert not card.loc[0, "small_n"]               # CES on 3 answers does not make the team "small"


def test_rate_by_group_wilson_by_hand():
    from slm_lib.metrics.groups import rate_by_group
    f = pd.DataFrame({"g": ["a"] * 10 + ["b"] * 40, "churned": [True] * 8 + [False] * 2 + [True] * 10 + [False] * 30})
    r = rate_by_group(f, "churned", "g", min_n=30).set_index("group")
    assert r.loc["a", "rate"] == 80.0 and r.loc["a", "events"] == 8 and bool(r.loc["a", "small_n"])
    # Wilson 95% for 8/10: 49.02% to 94.33% (textbook value)
    assert r.loc["a", "ci_low"] == pytest.approx(49.016, abs=1e-3) and r.loc["a", "ci_high"] == pytest.approx(94.332, abs=1e-3)
    assert r.loc["b", "rate"] == 25.0 and not bool(r.loc["b", "small_n"])
