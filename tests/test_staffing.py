"""Tests of slm_lib.forecast.staffing: Erlang C reference values, an exact independent computation,
monotonicity in volume, stability for large traffic, and errors."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slm_lib.errors import ConfigError, DataValidationError
from slm_lib.forecast.staffing import ERLANG_C_MODEL, erlang_c_staffing


def exact_erlang_c(traffic: Fraction, agents: int) -> Fraction:
    """Probability of waiting by the textbook formula in exact rationals (A^N/N! N/(N-A) over the sum)."""
    top = traffic ** agents / math.factorial(agents) * Fraction(agents) / (agents - traffic)
    return top / (sum(traffic ** k / math.factorial(k) for k in range(agents)) + top)


def exact_service_level(traffic: Fraction, agents: int, target_s: float, handle_s: float) -> float:
    return 1.0 - float(exact_erlang_c(traffic, agents)) * math.exp(-float(agents - traffic) * target_s / handle_s)


def test_call_centre_helper_worked_example():
    # 100 calls in 30 minutes, AHT 180 s, 80% answered in 20 s: A = 10 erlangs. Call Centre Helper,
    # "Erlang C Formula - Made Simple With an Easy Worked Example": 14 agents. By hand (exact rationals
    # above): 13 agents give P(wait) 0.2853 and service level 79.6% < 80%; 14 give 0.1741 and 88.8%.
    s = erlang_c_staffing([100], handle_time_s=180, target_answer_s=20, target_share=0.8, period_s=1800)
    row = s.iloc[0]
    assert row["traffic_erlangs"] == pytest.approx(10.0)
    assert row["agents"] == 14
    assert row["prob_wait"] == pytest.approx(0.174132, abs=1e-6)
    assert row["service_level"] == pytest.approx(0.888350, abs=1e-6)
    assert row["asa_s"] == pytest.approx(7.8359, abs=1e-4)                 # C * AHT / (N - A)
    assert row["occupancy"] == pytest.approx(10 / 14)
    assert exact_service_level(Fraction(10), 13, 20, 180) == pytest.approx(0.79559, abs=1e-5)
    assert row["model"] == ERLANG_C_MODEL and "Erlang C" in row["model"] and "before shrinkage" in row["model"]


def test_a_lower_target_share_needs_fewer_agents():
    # Same traffic, 60% in 20 s: 12 agents give 64.0% (exact), 11 give 39.0%.
    s = erlang_c_staffing([100], handle_time_s=180, target_answer_s=20, target_share=0.6, period_s=1800)
    assert s.at[0, "agents"] == 12
    assert exact_service_level(Fraction(10), 11, 20, 180) < 0.6 <= exact_service_level(Fraction(10), 12, 20, 180)


@settings(max_examples=40, deadline=None)
@given(volume=st.integers(1, 400), handle=st.integers(30, 900), target=st.integers(0, 120),
       share=st.sampled_from([0.5, 0.8, 0.9, 0.95]))
def test_agents_are_the_smallest_meeting_the_target_by_the_exact_formula(volume, handle, target, share):
    s = erlang_c_staffing([volume], handle_time_s=handle, target_answer_s=target, target_share=share, period_s=3600)
    n = int(s.at[0, "agents"])
    traffic = Fraction(volume * handle, 3600)
    assert n > traffic
    assert s.at[0, "service_level"] == pytest.approx(exact_service_level(traffic, n, target, handle), abs=1e-9)
    assert exact_service_level(traffic, n, target, handle) >= share - 1e-12
    assert n - 1 <= traffic or exact_service_level(traffic, n - 1, target, handle) < share


@settings(max_examples=60, deadline=None)
@given(low=st.floats(0, 5000), extra=st.floats(0, 5000), handle=st.floats(10, 1200))
def test_more_volume_never_needs_fewer_agents(low, extra, handle):
    s = erlang_c_staffing([low, low + extra], handle_time_s=handle, period_s=1800)
    assert s["agents"].iloc[0] <= s["agents"].iloc[1]


def test_large_traffic_is_stable_and_keeps_the_index():
    volume = pd.Series([0.0, 50_000.0, np.nan], index=pd.Index(["2026-11-02", "2026-11-03", "2026-11-04"],
                                                                name="period"))
    s = erlang_c_staffing(volume, handle_time_s=300, target_answer_s=60, period_s=3600)   # 4,167 erlangs
    assert s.index.equals(volume.index)
    assert s.at["2026-11-02", "agents"] == 0 and np.isnan(s.at["2026-11-02", "occupancy"])
    big = s.loc["2026-11-03"]
    assert 50_000 * 300 / 3600 < big["agents"] < 50_000 * 300 / 3600 * 1.05
    assert 0.8 <= big["service_level"] < 1 and 0.95 < big["occupancy"] < 1
    assert pd.isna(s.at["2026-11-04", "agents"]) and np.isnan(s.at["2026-11-04", "service_level"])


@pytest.mark.parametrize("kwargs, match", [({"handle_time_s": 0}, "handle_time_s"), ({"period_s": -1}, "period_s"),
                                           ({"target_share": 1.0}, "target_share"),
                                           ({"target_answer_s": -5}, "target_answer_s")])
def test_bad_settings_are_config_errors(kwargs, match):
    settings_ = {"handle_time_s": 180, "period_s": 1800, **kwargs}
    with pytest.raises(ConfigError, match=match):
        erlang_c_staffing([10], **settings_)


def test_negative_volume_is_named():
    with pytest.raises(DataValidationError, match=r"volume must be a finite count >= 0: 2 value\(s\), e.g. positions "
                                                  r"\[1, 2\]"):
        erlang_c_staffing([5, -1, np.inf], handle_time_s=180, period_s=1800)
