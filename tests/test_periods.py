"""Tests of slm_lib.periods: UTC instants as int64 nanoseconds and their bounds."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slm_lib.errors import ConfigError, DataValidationError
from slm_lib.periods import (NAT_NS, check_freq, epoch_ns, latest_timestamp, month_bounds, month_labels, month_starts,
                             period_codes, period_labels, period_ordinals, period_starts, utc_instant)


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


# ----------------------------------------------------------------------------- periods, one home


@pytest.mark.parametrize("freq, expected", [
    ("M", ["1700-01", "2024-02", "2260-12"]), ("Q", ["1700Q1", "2024Q1", "2260Q4"]),
    ("Y", ["1700", "2024", "2260"]), ("W", ["1700-01-11", "2024-02-26", "2260-12-31"]),
    ("D", ["1700-01-15", "2024-02-29", "2260-12-31"])])
def test_period_codes_day_table_and_long_spans_agree(freq, expected):
    stamps = pd.Series(pd.to_datetime(["2024-02-29 23:59", None, "1700-01-15 00:00", "2260-12-31 12:00"], utc=True))
    codes, labels = period_codes(stamps, freq)  # 560 years: every value converted
    assert codes[1] == -1 and labels.take(codes[[2, 0, 3]]).tolist() == expected
    near, near_labels = period_codes(stamps.iloc[:2], freq)  # one day: the day lookup table
    assert near.tolist() == [0, -1] and near_labels.tolist() == [expected[1]]


def test_period_ordinals_count_like_pandas_periods_in_the_local_calendar():
    stamps = pd.Series(pd.to_datetime(["2024-03-31 22:30", "2023-12-31 23:30", "2024-06-15 00:00"], utc=True))
    for freq in ("M", "Q", "Y", "D"):
        expected = [pd.Period(t.tz_convert("Europe/Berlin").tz_localize(None), freq).ordinal for t in stamps]
        assert period_ordinals(stamps, freq, "Europe/Berlin").tolist() == expected
    # 2024-03-31 22:30 UTC is April in Berlin, 2023-12-31 23:30 UTC is 2024 there
    assert period_labels(period_ordinals(stamps, "Q", "Europe/Berlin"), "Q").tolist() == ["2024Q2", "2024Q1", "2024Q2"]
    assert month_labels(stamps, "Europe/Berlin").tolist() == ["2024-04", "2024-01", "2024-06"]


def test_quarters_are_labelled_one_way_and_aliases_map_to_it():
    assert check_freq("QE") == check_freq("QS") == "Q" and check_freq("a") == "Y"
    with pytest.raises(ConfigError, match="freq must be one of"):
        check_freq("H")
    assert period_labels(np.array([0, 3]), "Q").tolist() == ["1970Q1", "1970Q4"]


def test_month_bounds_and_starts_follow_the_time_zone():
    start, end = month_bounds("2026-10", "America/New_York")
    assert (start, end) == (pd.Timestamp("2026-10-01 04:00", tz="UTC"), pd.Timestamp("2026-11-01 04:00", tz="UTC"))
    starts = month_starts("2026-03", 2, tz="Europe/Berlin")
    assert starts == [pd.Timestamp("2026-02-01 00:00", tz="Europe/Berlin"), pd.Timestamp("2026-03-01", tz="Europe/Berlin")]
    assert starts[1] == pd.Timestamp("2026-02-28 23:00", tz="UTC")


def test_latest_timestamp_ignores_missing_and_empty_columns():
    a = pd.Series(pd.to_datetime(["2024-01-01", None], utc=True))
    assert latest_timestamp(a, pd.Series([], dtype="datetime64[ns, UTC]")) == pd.Timestamp("2024-01-01", tz="UTC")
    assert latest_timestamp(pd.Series([pd.NaT])) is pd.NaT


@settings(max_examples=80, deadline=None)
@given(st.integers(0, 2 * 10**9), st.sampled_from(["D", "W", "M", "Q", "Y"]),
       st.sampled_from(["UTC", "Europe/Berlin", "America/Sao_Paulo", "Asia/Kolkata"]))
def test_period_starts_bound_the_period_of_each_instant(seconds, freq, tz):
    ts = pd.Series([pd.Timestamp(seconds, unit="s", tz="UTC")])
    k = period_ordinals(ts, freq, tz)[0]
    start, end = period_starts(np.array([k, k + 1]), freq, tz)
    assert start <= ts.iloc[0] < end
    assert period_starts(np.array([k]), freq, tz)[0].tz_convert(tz).hour in (0, 1)   # local midnight (or DST shift)


def test_month_starts_where_midnight_does_not_exist_or_repeats():
    # Havana and Asuncion change clocks at midnight: the month start is the first valid instant
    start, end = month_bounds("2026-10", "America/Havana")
    assert end - start == pd.Timedelta(days=31) + (end.utcoffset() - start.utcoffset()) * -1
    starts = month_starts("2023-10", 2, tz="America/Asuncion")
    assert starts[1] == pd.Timestamp("2023-10-01 04:00", tz="UTC")    # 01:00 local, the skipped midnight
