"""Delivery gap (slm_lib.metrics.gap)."""
import numpy as np
import pandas as pd
import pytest

from slm_lib.io.dataset import Dataset
from slm_lib.metrics.gap import delivery_gap


def _ts(values):
    return pd.Series(pd.to_datetime(values, utc=True)).astype("datetime64[ns, UTC]")


def _dataset(n_per_team=40):
    """Team A answers within 1 h (SLA met) but gets CSAT 2; team B answers in 12 h (breach) and gets CSAT 5."""
    n = 2 * n_per_team
    team = np.repeat(["A", "B"], n_per_team)
    created = pd.Timestamp("2026-10-05T10:00:00Z")
    frt = np.where(team == "A", 1.0, 12.0)
    tickets = pd.DataFrame({
        "ticket_id": [f"t{i}" for i in range(n)], "customer_id": "c1",
        "created_at": _ts([created] * n),
        "first_response_at": _ts(created + pd.to_timedelta(frt, unit="h")),
        "resolved_at": _ts(created + pd.to_timedelta(frt + 1, unit="h")),
        "channel": "email", "priority": "normal", "agent_id": "a", "team": team,
        "replies": 1, "reopens": 0, "category": "x"})
    surveys = pd.DataFrame({
        "response_id": [f"r{i}" for i in range(n)], "customer_id": "c1", "ticket_id": tickets["ticket_id"],
        "submitted_at": _ts([created + pd.Timedelta(days=1)] * n), "type": "csat",
        "score": np.where(team == "A", 2, 5), "comment": np.nan})
    return Dataset(tickets=tickets, surveys=surveys)


def test_gap_flags_team_meeting_sla_with_unhappy_customers():
    gap = delivery_gap(_dataset(), "2026-10", by="team").set_index("group")
    # overall: first-response SLA (normal = 8 h) met by A only -> 50%; CSAT 50% (half score 5)
    assert gap.attrs["overall"] == {"sla_first_response": pytest.approx(50.0), "csat": pytest.approx(50.0)}
    assert gap.loc["A", "sla_first_response"] == pytest.approx(100.0) and gap.loc["A", "csat"] == 0.0
    assert gap.loc["B", "sla_first_response"] == 0.0 and gap.loc["B", "csat"] == pytest.approx(100.0)
    assert bool(gap.loc["A", "gap"]) and not bool(gap.loc["B", "gap"])
    assert gap.index[0] == "A"  # worst CSAT first
    assert (gap["csat_n"] == 40).all()


def test_small_groups_are_flagged_not_in_gap():
    gap = delivery_gap(_dataset(n_per_team=10), "2026-10", by="team", min_n=30)
    assert gap["small_n"].all() and not gap["gap"].any()


def test_other_month_is_empty():
    assert delivery_gap(_dataset(), "2026-09", by="team").empty


def test_gap_sentences():
    from slm_lib.metrics.gap import gap_sentences
    gap = delivery_gap(_dataset(), "2026-10", by="team")
    text = gap_sentences(gap)
    assert len(text) == 1 and text[0].startswith("Team A met the first-response SLA on 100% of tickets (overall 50%)")
    assert "n = 40" in text[0]
    assert gap_sentences(gap[~gap["gap"]])[0].startswith("No team meets SLAs")


def test_gap_sentences_name_the_grouping_in_words():
    from slm_lib.metrics.gap import gap_sentences
    gap = delivery_gap(_dataset(), "2026-10", by="team")
    assert gap_sentences(gap[~gap["gap"]], by="agent_id") == [
        "No agent meets SLAs while leaving customers clearly less satisfied than average."]
