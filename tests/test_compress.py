"""Tests of the distinct-row helpers of the CLV models (slm_lib.clv.compress)."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import gammaln

from slm_lib.clv.compress import by_count, unique_rows
from slm_lib.errors import DataValidationError


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 3), st.sampled_from([0.0, 0.5, -1.5]), st.integers(0, 2)),
                min_size=1, max_size=40))
def test_unique_rows_rebuilds_every_row_in_order_of_first_appearance(rows):
    cols = [np.array(c, dtype=float) for c in zip(*rows)]
    distinct, counts, inverse = unique_rows(*cols)
    for col, uniq in zip(cols, distinct):
        np.testing.assert_array_equal(uniq[inverse], col)
    assert counts.tolist() == np.bincount(inverse).tolist() and counts.sum() == len(rows)
    assert list(zip(*(d.tolist() for d in distinct))) == list(dict.fromkeys(tuple(map(float, r)) for r in rows))


def test_by_count_evaluates_once_per_value():
    calls = []
    out = by_count(lambda j: calls.append(j) or gammaln(j + 0.5), np.array([4.0, 0.0, 4.0, 2.0]))
    np.testing.assert_allclose(out, gammaln(np.array([4.5, 0.5, 4.5, 2.5])))
    assert len(calls) == 1 and calls[0].tolist() == [0.0, 1.0, 2.0, 3.0, 4.0]
    assert by_count(lambda j: 1 / j, np.array([2, 1, 2])).tolist() == [0.5, 1.0, 0.5]   # no 1 / 0 when min is 1
    with pytest.raises(DataValidationError, match="counts: must be whole numbers >= 0: 2 value"):
        by_count(np.sqrt, np.array([1.0, 1.5, -1.0]))
