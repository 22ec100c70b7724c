"""Tests of slm_lib.periods: UTC instants as int64 nanoseconds and their bounds."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from slm_lib.errors import ConfigError, DataValidationError
from slm_lib.periods import NAT_NS, epoch_ns, utc_instant


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_epoch_ns_any_unit_and_zone(unit):
    utc = pd.Series(pd.to_datetime(["1970-01-01 00:00:01", None, "2024-03-31 01:30:00"], utc=True)).astype(
        f"datetime64[{unit}, UTC]")
    expected = [10**9, NAT_NS, 1711848600 * 10**9]
    assert epoch_ns(utc).tolist() == expected
    assert epoch_ns(utc.dt.tz_convert("Europe/Berlin")).tolist() == expected  # same instants
    assert epoch_ns(utc.dt.tz_localize(None)).tolist() == expected  # naive = UTC (SPEC §3)


def test_epoch_ns_is_a_read_only_view_for_nanosecond_columns():
    s = pd.Series(pd.to_datetime(["2024-01-01"], utc=True)).astype("datetime64[ns, UTC]")
    view = epoch_ns(s)
    assert np.shares_memory(view, s.array.asi8) and not view.flags.writeable


def test_dates_beyond_nanosecond_range_are_a_data_error_naming_column_and_rows():
    s = pd.Series(pd.to_datetime(["2024-01-01", "2300-05-01", None, "1500-01-01"], utc=True), name="created_at")
    with pytest.raises(DataValidationError, match=r"column 'created_at'.*2300-05-01.*2 row\(s\) \(e.g. rows 2, 4\)"):
        epoch_ns(s)
    with pytest.raises(ConfigError, match="as_of: '2300-01-01'"):
        utc_instant("2300-01-01")
    assert utc_instant("2026-10-01T02:00+02:00") == pd.Timestamp("2026-10-01", tz="UTC")
