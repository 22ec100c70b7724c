"""Tests of slm_lib.engines.parse: timestamps in every form pandas' ISO 8601 parser reads, and only those."""
from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slm_lib.engines import connect
from slm_lib.engines.session import set_time_zone
from slm_lib.engines.parse import timestamp
from slm_lib.io.load import parse_timestamps

# reduced dates, separators, one-digit fields, basic times, offsets in every spelling, fractions, and
# near misses: impossible days and clocks, offsets of 24 hours, lower-case letters, trailing parts, mixed separators
FORMS = [
    '2024-01-01T08:00:00Z', '2024-01-01T08:00:00+02:00', '2024-01-01T08:00:00+0200', '2024-01-01T08:00:00+02',
    '2024-01-01T08:00:00.123456789Z', '2024-01-01T08:00:00.5', '2024-01-01 08:00:00', '2024-01-01', '2024-01',
    '2024', '20240101', '20240101T080000', '20240101T0800', '2024-01-01T08', '2024-01-01T08:00',
    '2024-01-01T08:00Z', '2024-01-01 08:00:00 +02:00', '2024-01-01 08:00:00+02:00', '2024-01-01T08:00:00z',
    '2024-01-01t08:00:00', '2024-01-01T08:00:00-05:30', '2024-01-01T24:00:00', '2024-02-30', '2024-02-29',
    '2023-02-29', '2024-01-01T08:60', '2024-01-01T08:00:60', '2024-W01', '2024-001', '2024-1-1',
    '2024-01-01T8:00', '2024-01-01T08:00:00 Z', '2024-01-01T08:00:00UTC', '2024-01-01T08:00:00+2',
    '2024-01-01T08:00:00+02:00:00', '2024-01-01T08:00:00.', '2024-01-01T08:00:00,5', '+2024-01-01',
    '2024/01/01', '2024.01.01', '2024\\01\\01', '2024 01 01', '2024-01/01', '2024-01-01T0800',
    '2024-01-01T080000', '2024-01-01T08:00:00+14:00', '2024-01-01T08:00:00+25:00', '2024-01-01T08:00:00+0230',
    '2024-01-01T08:00:00-00:00', '2024-01-01   08:00:00', '2024-01-01T08:00:00.1234567891234', '2024-0101',
    '202401-01', '2024-01-01T08:0000', '2024-01-01T0800:00', '2024-01-01T08:00:00 +0200',
    '2024-01-01T08:00:00+02:0', '2024-01-01T08:00:00+020', '10000-01-01', '0999-01-01', '1677-09-22',
    '2262-04-11', '2262-04-11T00:00:01', '2024-01-01T08:00:00-0000', '2024-01-01 08', '2024-01-01T08Z',
    '2024-01-01T08+02', '2024-01-01Z', '2024-01-01+02:00', '2024-12-31T23:59:59.999999999+00:00', '202401',
    '20241', '2024011', '2024-101', '2024-1', '2024-13', '2024-00-10', '2024-01-00', '2024-01-01T8',
    '2024-01-01T8Z', '2024-01-01T08:5', '2024-01-01T08:5:7', '2024-01-01T08:00:7', '2024-01-01T08007',
    '2024-01-01T08:00:00+2:30', '2024-01-01T08:00:00+230', '2024-01-01T08:00:00+24',
    '2024-01-01T08:00:00+02:60', '2024-01-01T08:00:00+02:', '2024-01-01T08:00:00Zx',
    '2024-01-01T08:00:00.12345678901234567890', '2024-01-01T08:00:00.123456789012345678', 'soon', 'NaT',
    '2024-01-01T', '2024-01-01 T08:00', '2024-01-01T08:00:00.5Z', '2024-01-01T08:00:00.000001+01:00',
    '-2024-01-01', '2024-01-01T23:59:59-23:59', '2024-06-15T12:30:45.25-0330', '2024-01-01\t08:00']


@pytest.fixture(scope="module")
def con():
    con = connect("duckdb")
    set_time_zone(con, "UTC")
    return con


def assert_parsed_as_pandas(con, values: list[str]) -> None:
    """The engine's instants (µs) and unparsed flags equal pandas' (instants floored to the microsecond)."""
    t = ibis.memtable(pd.DataFrame({"x": values}, dtype=object))
    ts, bad = timestamp(t.x)
    got = con.execute(t.select(ts=ts, bad=bad))
    want, want_bad = parse_timestamps(pd.Series(values, dtype=object))
    pd.testing.assert_series_equal(pd.to_datetime(got["ts"], utc=True).astype("datetime64[us, UTC]"),
                                   want.dt.floor("us").astype("datetime64[us, UTC]"), check_names=False)
    np.testing.assert_array_equal(got["bad"].astype(bool).to_numpy(), want_bad)


def test_every_form_is_read_as_pandas_reads_it(con):
    assert_parsed_as_pandas(con, FORMS)
    _, bad = parse_timestamps(pd.Series(FORMS))
    assert 30 < (~bad).sum() < len(FORMS)   # both kinds in the table


def test_hand_read_forms(con):
    t = ibis.memtable(pd.DataFrame({"x": ["2024-1-5 8:05", "20240105T0805+0130", "2024/01/05 08 -2", "2024-01-05Z"]}))
    got = con.execute(t.select(ts=timestamp(t.x)[0]))["ts"]
    assert pd.to_datetime(got, utc=True).tolist()[:3] == [pd.Timestamp(v, tz="UTC") for v in
                                                          ("2024-01-05 08:05", "2024-01-05 06:35", "2024-01-05 10:00")]
    assert pd.isna(got.iloc[3])


PART = st.sampled_from(["0", "1", "5", "00", "01", "09", "12", "13", "23", "24", "29", "31", "59", "60", "123"])


@st.composite
def stamps(draw) -> str:
    """Strings near the grammar: its parts with separators, some of them wrong."""
    sep = draw(st.sampled_from(["-", "/", ".", " ", "", ":"]))
    v = draw(st.sampled_from(["2024", "2023", "1677", "0999", "202"])) + sep + draw(PART)
    if draw(st.booleans()):
        v += draw(st.sampled_from([sep, sep, "-", ""])) + draw(PART)
        if draw(st.booleans()):
            colon = draw(st.sampled_from([":", ":", ""]))
            v += draw(st.sampled_from(["T", " ", "t"])) + draw(PART) + colon + draw(PART)
            v += draw(st.sampled_from(["", colon + draw(PART), ":" + draw(PART) + "." + draw(PART)]))
            v += draw(st.sampled_from(["", "Z", " Z", "+", "-", " +"])) + draw(st.sampled_from(["", "2", "02"]))
            v += draw(st.sampled_from(["", ":", ""])) + draw(st.sampled_from(["", "3", "30", "60"]))
    return v.strip()


@settings(max_examples=15, deadline=None)
@given(st.lists(stamps(), min_size=1, max_size=40))
def test_random_forms_are_read_as_pandas_reads_them(values):
    con = connect("duckdb")
    set_time_zone(con, "UTC")
    assert_parsed_as_pandas(con, [v for v in values if v] or ["2024"])
