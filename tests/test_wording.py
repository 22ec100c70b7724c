"""How slm writes p-values, estimates and names (slm_lib.wording)."""
from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from slm_lib.wording import format_p


@pytest.mark.parametrize(("p", "sentence", "cell"), [
    (0.0312, "p = 0.031", "0.031"),
    (0.05, "p = 0.05", "0.05"),
    (0.001, "p = 0.001", "0.001"),
    (0.000999, "p < 0.001", "< 0.001"),
    (0.0, "p < 0.001", "< 0.001"),
    (0.5, "p = 0.5", "0.5"),
    (1.0, "p = 1", "1"),
    (float("nan"), "not testable", "not testable"),
    (None, "not testable", "not testable"),
])
def test_format_p_hand_written(p, sentence, cell):
    assert format_p(p) == sentence and format_p(p, bare=True) == cell


def test_format_p_gives_the_reason_only_when_there_is_no_test():
    why = "the previous month had 1 CES answer"
    assert format_p(float("nan"), why) == "not testable: the previous month had 1 CES answer"
    assert format_p(0.2, why) == "p = 0.2"


@given(st.floats(min_value=0, max_value=1))
def test_format_p_never_hides_a_large_p_behind_a_small_one(p):
    text = format_p(p, bare=True)
    if text == "< 0.001":
        assert p < 0.001
    else:
        assert math.isclose(float(text), p, rel_tol=0.05, abs_tol=0.0005)
