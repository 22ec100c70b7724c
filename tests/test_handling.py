"""Tests of slm_lib.metrics.handling (csat_by_handling): CSAT by how the ticket was handled, by hand."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from slm_lib.errors import InsufficientDataError
from slm_lib.io.dataset import Dataset
from slm_lib.metrics.handling import csat_by_handling, handling_sentences
from slm_lib.schema import empty_frame
from slm_lib.stats import holm_adjusted, two_proportion_z
from test_lifecycle import _events, _tickets

EVENTS = [
    # k1: handed off before its CSAT answer (5 March), reopened only after it; two replies, 2 h of requester wait
    ("k1", "2024-03-04 09:00", "status", "system", "new", None, None),
    ("k1", "2024-03-04 09:00", "assignment", "system", None, "a1", "blue"),
    ("k1", "2024-03-04 09:00", "status", "agent", "open", "a1", "blue"),
    ("k1", "2024-03-04 10:00", "public_reply", "agent", None, "a1", "blue"),
    ("k1", "2024-03-04 10:00", "status", "agent", "pending", "a1", "blue"),
    ("k1", "2024-03-04 12:00", "customer_message", "customer", None, None, None),
    ("k1", "2024-03-04 12:00", "status", "customer", "open", None, None),
    ("k1", "2024-03-04 12:30", "assignment", "agent", None, "a2", "blue"),
    ("k1", "2024-03-04 13:00", "public_reply", "agent", None, "a2", "blue"),
    ("k1", "2024-03-04 13:00", "status", "agent", "solved", "a2", "blue"),
    ("k1", "2024-03-06 09:00", "customer_message", "customer", None, None, None),
    ("k1", "2024-03-06 09:00", "status", "customer", "open", None, None),
    ("k1", "2024-03-06 10:00", "public_reply", "agent", None, "a2", "blue"),
    ("k1", "2024-03-06 10:00", "status", "agent", "solved", "a2", "blue"),
    # k2: one touch, half an hour of wait
    ("k2", "2024-03-04 09:00", "status", "system", "open", None, None),
    ("k2", "2024-03-04 09:30", "public_reply", "agent", None, "a1", "blue"),
    ("k2", "2024-03-04 09:30", "status", "agent", "solved", "a1", "blue"),
    # k3: 27 h to the first reply, reopened an hour later and solved again: 28 h of wait, before its answer
    ("k3", "2024-03-01 09:00", "status", "system", "open", None, None),
    ("k3", "2024-03-02 12:00", "public_reply", "agent", None, "a1", "blue"),
    ("k3", "2024-03-02 12:00", "status", "agent", "solved", "a1", "blue"),
    ("k3", "2024-03-02 13:00", "status", "customer", "open", None, None),
    ("k3", "2024-03-02 14:00", "public_reply", "agent", None, "a1", "blue"),
    ("k3", "2024-03-02 14:00", "status", "agent", "solved", "a1", "blue"),
]
TICKETS = [("k1", "2024-03-04 09:00", "2024-03-04 10:00", "2024-03-06 10:00", 3, 1),
           ("k2", "2024-03-04 09:00", "2024-03-04 09:30", "2024-03-04 09:30", 1, 0),
           ("k3", "2024-03-01 09:00", "2024-03-02 12:00", "2024-03-02 14:00", 2, 1),
           ("k4", "2024-03-01 09:00", "2024-03-01 10:00", "2024-03-01 11:00", 1, 0)]   # k4: no events


def _data() -> Dataset:
    answers = [("r1", "k1", "2024-03-05 09:00", 2), ("r2", "k2", "2024-03-04 12:00", 5),
               ("r3", "k3", "2024-03-03 09:00", 4), ("r4", "k4", "2024-03-02 09:00", 1),
               ("r5", None, "2024-03-02 09:00", 1)]
    ids, tickets, at, scores = zip(*answers)
    surveys = empty_frame("surveys").reindex(range(len(answers))).assign(
        response_id=ids, customer_id="c1", ticket_id=tickets, submitted_at=pd.to_datetime(at, utc=True),
        type="csat", score=scores)
    return Dataset(tickets=_tickets(TICKETS), surveys=surveys, ticket_events=_events(EVENTS))


def test_csat_by_handling_by_hand():
    t = csat_by_handling(_data(), "2024-03", months=1).set_index("factor")
    # satisfied = 4-5. handed off: k1 (2) vs k2 (5), k3 (4); one touch: k2 vs k1, k3;
    # reopened before the answer: k3 vs k1 (its reopen came after), k2; waited over 24 h: k3 vs k1, k2
    expected = {"handed off": (1, 0, 2, 2), "solved in one touch": (1, 1, 2, 1), "reopened": (1, 1, 2, 1),
                "kept waiting over 24 h": (1, 1, 2, 1)}
    for factor, (n1, x1, n0, x0) in expected.items():
        row = t.loc[factor]
        assert (row["n_with"], row["n_without"]) == (n1, n0)
        assert row["csat_with"] == pytest.approx(100 * x1 / n1) and row["csat_without"] == pytest.approx(100 * x0 / n0)
        assert row["difference"] == pytest.approx(100 * (x1 / n1 - x0 / n0))
        assert row["p_value"] == pytest.approx(float(two_proportion_z(x0, n0, x1, n1)[1]), nan_ok=True)
        assert row["small_n"]
    np.testing.assert_allclose(t["p_adjusted"], holm_adjusted(t["p_value"].to_numpy()), equal_nan=True)


def test_the_wait_threshold_and_the_months_choose_what_counts():
    t = csat_by_handling(_data(), wait_hours=1.5).set_index("factor")      # k1's 2 h now count as waiting
    assert t.loc["kept waiting over 1.5 h", ["n_with", "n_without"]].tolist() == [2, 1]
    with pytest.raises(InsufficientDataError, match="2024-02"):
        csat_by_handling(_data(), "2024-02", months=1)
    with pytest.raises(InsufficientDataError, match="needs ticket_events"):
        csat_by_handling(Dataset(tickets=_tickets(TICKETS), surveys=_data().surveys))


def test_handling_sentences_say_what_cannot_be_told():
    lines = handling_sentences(csat_by_handling(_data()))
    assert len(lines) == 4 and all("Too few answers on one side" in line for line in lines)
    assert lines[0].startswith("Tickets ") and "n = 1)" in lines[0]


def test_recovers_the_planted_reopen_penalty_on_generated_data():
    """The generator's frontline team reopens more and scores lower: reopened tickets score clearly worse."""
    from slm_lib.synth import generate

    t = csat_by_handling(generate(customers=1500, months=6, seed=8, events=True)).set_index("factor")
    assert t.loc["reopened", "diff_ci_high"] < 0 and t.loc["reopened", "p_adjusted"] < 0.05
