"""Tests of slm_lib.calendar.BusinessCalendar: hand-computed cases and properties."""
from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slm_lib.calendar import BusinessCalendar
from slm_lib.errors import ConfigError, DataValidationError

UTC9to5 = BusinessCalendar()
BERLIN = BusinessCalendar(holidays=("2026-04-03", "2026-04-06"), tz="Europe/Berlin")
NEW_YORK = BusinessCalendar(tz="America/New_York")


def utc(text: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz="UTC")


def local(text: str, tz: str) -> pd.Timestamp:
    return pd.Timestamp(text, tz=tz).tz_convert("UTC")


def hours(cal: BusinessCalendar, a: str, b: str) -> float:
    return float(cal.hours_between(local(a, cal.tz), local(b, cal.tz)))


# --- hand-computed cases (2026-03-06 is a Friday) -------------------------------------
@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("2026-03-06 16:30", "2026-03-09 09:30", 1.0),  # Friday -> Monday (issue 3)
        ("2026-03-10 10:00", "2026-03-10 12:15", 2.25),  # same day
        ("2026-03-10 07:00", "2026-03-10 10:00", 1.0),  # start before opening
        ("2026-03-10 15:00", "2026-03-10 20:00", 2.0),  # end after closing
        ("2026-03-10 06:00", "2026-03-10 20:00", 8.0),  # both outside, same day
        ("2026-03-10 17:30", "2026-03-10 23:00", 0.0),  # entirely after closing
        ("2026-03-07 10:00", "2026-03-08 15:00", 0.0),  # Saturday -> Sunday
        ("2026-03-07 10:00", "2026-03-09 11:00", 2.0),  # weekend start
        ("2026-03-05 16:00", "2026-03-08 12:00", 9.0),  # weekend end: Thu 1 h + Fri 8 h
        ("2026-03-07 10:00", "2026-03-14 10:00", 40.0),  # Saturday to Saturday
        ("2026-03-10 16:00", "2026-03-11 10:00", 2.0),  # overnight
        ("2026-03-10 18:00", "2026-03-11 08:00", 0.0),  # overnight, closed throughout
        ("2026-03-02 09:00", "2026-03-16 09:00", 80.0),  # two weeks
        ("2026-03-02 12:00", "2026-03-25 10:30", 134.5),  # multi-week: 5 + 16 days * 8 + 1.5
        ("2026-03-10 11:00", "2026-03-10 11:00", 0.0),  # zero length
        ("2026-03-10 17:00", "2026-03-11 09:00", 0.0),  # closing to opening
    ],
)
def test_hours_between_hand_computed(a: str, b: str, expected: float) -> None:
    assert hours(UTC9to5, a, b) == pytest.approx(expected, abs=1e-12)


def test_spanning_holidays() -> None:
    # Thu 2 Apr 16:00 -> Tue 7 Apr 10:00 in Berlin; Good Friday and Easter Monday closed.
    assert hours(BERLIN, "2026-04-02 16:00", "2026-04-07 10:00") == pytest.approx(2.0)
    assert hours(UTC9to5, "2026-04-02 16:00", "2026-04-07 10:00") == pytest.approx(18.0)
    assert hours(BERLIN, "2026-04-03 10:00", "2026-04-03 15:00") == 0.0


def test_dst_spring_forward_berlin() -> None:
    # Fri 27 Mar 16:00 CET (15:00 UTC) -> Mon 30 Mar 10:00 CEST (08:00 UTC), 29 Mar is the change.
    got = BERLIN.hours_between(utc("2026-03-27 15:00"), utc("2026-03-30 08:00"))
    assert got == pytest.approx(2.0)
    # Opening hours are wall-clock: on the change day itself a 7-day desk still has 8 h.
    every_day = BusinessCalendar(weekdays=range(7), tz="Europe/Berlin")
    assert hours(every_day, "2026-03-28 17:00", "2026-03-30 09:00") == pytest.approx(8.0)
    # A 24 h desk counts wall-clock hours: 24 h on a day that lasts 23 h.
    always = BusinessCalendar(weekdays=range(7), start="00:00", end="24:00", tz="Europe/Berlin")
    assert hours(always, "2026-03-29 00:00", "2026-03-30 00:00") == pytest.approx(24.0)


def test_dst_fall_back_new_york() -> None:
    # Fri 30 Oct 16:00 EDT (20:00 UTC) -> Mon 2 Nov 10:00 EST (15:00 UTC); 1 Nov is the change.
    got = NEW_YORK.hours_between(utc("2026-10-30 20:00"), utc("2026-11-02 15:00"))
    assert got == pytest.approx(2.0)
    # The same UTC instants read in UTC opening hours give a different answer.
    assert UTC9to5.hours_between(utc("2026-10-30 20:00"), utc("2026-11-02 15:00")) == pytest.approx(6.0)


def test_nat_gives_nan_and_vector_shapes() -> None:
    created = pd.Series(pd.to_datetime(["2026-03-06 16:30", None, "2026-03-10 10:00"], utc=True))
    answered = pd.Series(pd.to_datetime(["2026-03-09 09:30", "2026-03-09 09:30", None], utc=True))
    got = UTC9to5.hours_between(created, answered)
    assert isinstance(got, np.ndarray) and got.dtype == np.float64
    assert got[0] == pytest.approx(1.0)
    assert np.isnan(got[1]) and np.isnan(got[2])
    index_got = UTC9to5.hours_between(pd.DatetimeIndex(created), answered.to_numpy())
    np.testing.assert_array_equal(index_got, got)
    # a scalar broadcasts against an array
    broadcast = UTC9to5.hours_between(utc("2026-03-06 16:30"), answered)
    assert broadcast[0] == pytest.approx(1.0) and broadcast[2] != broadcast[2]


def test_reversed_interval_is_negative() -> None:
    a, b = utc("2026-03-06 16:30"), utc("2026-03-09 09:30")
    assert float(UTC9to5.hours_between(b, a)) == -1.0


def test_naive_input_is_utc() -> None:
    naive = UTC9to5.hours_between(pd.Timestamp("2026-03-06 16:30"), np.datetime64("2026-03-09T09:30"))
    assert float(naive) == 1.0


def test_length_mismatch_raises() -> None:
    with pytest.raises(DataValidationError, match="start has 2 values but end has 3"):
        UTC9to5.hours_between(pd.to_datetime(["2026-03-06"] * 2, utc=True), pd.to_datetime(["2026-03-07"] * 3, utc=True))


# --- add_hours and is_open -------------------------------------------------------------
@pytest.mark.parametrize(
    ("start", "add", "expected"),
    [
        ("2026-03-06 16:30", 1.0, "2026-03-09 09:30"),  # over the weekend
        ("2026-03-06 16:30", 0.5, "2026-03-06 17:00"),  # earliest: closing time, not Monday
        ("2026-03-07 12:00", 1.0, "2026-03-09 10:00"),  # from Saturday
        ("2026-03-06 18:00", 1.0, "2026-03-09 10:00"),  # from after closing
        ("2026-03-10 07:00", 8.0, "2026-03-10 17:00"),  # from before opening
        ("2026-03-10 10:00", 24.0, "2026-03-13 10:00"),  # three days later
        ("2026-03-07 12:00", 0.0, "2026-03-07 12:00"),  # zero hours: unchanged
    ],
)
def test_add_hours_hand_computed(start: str, add: float, expected: str) -> None:
    assert UTC9to5.add_hours(utc(start), add) == utc(expected)


def test_add_hours_dst_holidays_missing_and_series() -> None:
    # Berlin: Thu 2 Apr 16:00 CEST + 2 h skips Good Friday, the weekend and Easter Monday.
    assert BERLIN.add_hours(local("2026-04-02 16:00", "Europe/Berlin"), 2) == local("2026-04-07 10:00", "Europe/Berlin")
    # Fri 16:00 CET + 2 h = Mon 10:00 CEST = 08:00 UTC.
    assert BERLIN.add_hours(utc("2026-03-27 15:00"), 2.0) == utc("2026-03-30 08:00")
    created = pd.Series(pd.to_datetime(["2026-03-06 16:30", None, "2026-03-10 10:00"], utc=True), index=[7, 8, 9])
    due = UTC9to5.add_hours(created, np.array([1.0, 1.0, np.nan]))
    assert isinstance(due, pd.Series) and list(due.index) == [7, 8, 9]
    assert due.iloc[0] == utc("2026-03-09 09:30") and due.iloc[1:].isna().all()
    with pytest.raises(DataValidationError, match="hours must be finite and >= 0"):
        UTC9to5.add_hours(created, -1.0)


def test_is_open() -> None:
    stamps = pd.to_datetime(
        [
            "2026-03-10 09:00",  # opening: open
            "2026-03-10 16:59:59",  # open
            "2026-03-10 17:00",  # closing: closed
            "2026-03-07 12:00",  # Saturday
            None,
        ],
        utc=True,
        format="ISO8601",
    )
    assert UTC9to5.is_open(stamps).tolist() == [True, True, False, False, False]
    assert not BERLIN.is_open(local("2026-04-03 12:00", "Europe/Berlin"))  # Good Friday
    assert BERLIN.is_open(utc("2026-03-30 07:30"))  # 09:30 CEST
    assert not BERLIN.is_open(utc("2026-03-27 07:30"))  # 08:30 CET


# --- construction ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"tz": "Mars/Olympus"}, "unknown IANA time zone"),
        ({"start": "17:00", "end": "09:00"}, "start must be before end"),
        ({"start": "09:00", "end": "09:00"}, "start must be before end"),
        ({"weekdays": ()}, "need at least one"),
        ({"weekdays": (0, 7)}, "need at least one"),
        ({"start": "9am"}, "expected a time as 'HH:MM'"),
        ({"end": "24:30"}, "not a time of day"),
        ({"holidays": ("not a date",)}, "holidays"),
    ],
)
def test_invalid_configuration(kwargs: dict, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        BusinessCalendar(**kwargs)


def test_frozen_hashable_normalised() -> None:
    a = BusinessCalendar(weekdays=[4, 0, 1, 2, 3, 3], start="9:00", holidays=["2026-12-25", dt.date(2026, 1, 1)])
    b = BusinessCalendar(holidays=(pd.Timestamp("2026-01-01"), "2026-12-25"))
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert a.weekdays == (0, 1, 2, 3, 4) and a.start == "09:00"
    assert a.holidays == (dt.date(2026, 1, 1), dt.date(2026, 12, 25))
    assert a.hours_per_day == 8.0
    with pytest.raises(dataclasses.FrozenInstanceError):
        a.start = "08:00"  # type: ignore[misc]


# --- properties against a slow reference ------------------------------------------------
CALENDARS = [
    UTC9to5,
    BusinessCalendar(weekdays=range(6), start="08:30", end="18:00", holidays=("2026-04-03", "2026-12-25"), tz="Europe/Berlin"),
    BusinessCalendar(weekdays=(6, 0, 1, 2, 3), start="10:00", end="19:00", tz="Asia/Kolkata"),
    BusinessCalendar(weekdays=(0, 2, 4), start="07:15", end="22:45", holidays=("2026-11-26",), tz="America/New_York"),
]
#: opening hours that contain DST changes: wall-clock business time can exceed elapsed time
ROUND_THE_CLOCK = BusinessCalendar(weekdays=range(7), start="00:00", end="24:00", tz="America/New_York")

LOW, HIGH = int(utc("2025-12-01").timestamp()), int(utc("2027-01-31").timestamp())
seconds = st.integers(LOW, HIGH)


def reference_hours(cal: BusinessCalendar, a: pd.Timestamp, b: pd.Timestamp) -> float:
    """Loop over local days and intersect each day's opening window with [a, b]."""
    if b < a:
        return -reference_hours(cal, b, a)
    wall_a = a.tz_convert(cal.tz).tz_localize(None).to_pydatetime()
    wall_b = b.tz_convert(cal.tz).tz_localize(None).to_pydatetime()
    open_h, open_m = map(int, cal.start.split(":"))
    close_h, close_m = map(int, cal.end.split(":"))
    total = 0.0
    day = wall_a.date()
    while day <= wall_b.date():
        if day.weekday() in cal.weekdays and day not in cal.holidays:
            midnight = dt.datetime.combine(day, dt.time())
            lo = max(midnight + dt.timedelta(hours=open_h, minutes=open_m), wall_a)
            hi = min(midnight + dt.timedelta(hours=close_h, minutes=close_m), wall_b)
            total += max((hi - lo).total_seconds(), 0.0)
        day += dt.timedelta(days=1)
    return total / 3600


def stamps(values: list[int]) -> pd.DatetimeIndex:
    return pd.to_datetime(values, unit="s", utc=True)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(CALENDARS + [ROUND_THE_CLOCK]), st.lists(st.tuples(seconds, seconds), min_size=1, max_size=8))
def test_agrees_with_reference(cal: BusinessCalendar, pairs: list[tuple[int, int]]) -> None:
    a, b = stamps([p[0] for p in pairs]), stamps([p[1] for p in pairs])
    expected = [reference_hours(cal, x, y) for x, y in zip(a, b)]
    np.testing.assert_allclose(cal.hours_between(a, b), expected, rtol=0, atol=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(CALENDARS + [ROUND_THE_CLOCK]), st.lists(seconds, min_size=3, max_size=3))
def test_additive(cal: BusinessCalendar, values: list[int]) -> None:
    a, b, c = stamps(sorted(values))
    assert float(cal.hours_between(a, c)) == pytest.approx(
        float(cal.hours_between(a, b)) + float(cal.hours_between(b, c)), abs=1e-9
    )


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(CALENDARS), st.lists(st.tuples(seconds, seconds), min_size=1, max_size=8))
def test_bounded_by_calendar_hours(cal: BusinessCalendar, pairs: list[tuple[int, int]]) -> None:
    a = stamps([min(p) for p in pairs])
    b = stamps([max(p) for p in pairs])
    got = cal.hours_between(a, b)
    elapsed = (b - a).total_seconds().to_numpy() / 3600
    assert np.all(got >= 0) and np.all(got <= elapsed + 1e-9)


@settings(max_examples=60, deadline=None)
@given(
    st.sampled_from(CALENDARS),
    st.lists(st.tuples(seconds, st.integers(0, 400 * 60)), min_size=1, max_size=8),
)
def test_add_hours_inverts_hours_between(cal: BusinessCalendar, rows: list[tuple[int, int]]) -> None:
    start = stamps([r[0] for r in rows])
    add = np.array([r[1] / 60 for r in rows])  # whole minutes of business time
    due = cal.add_hours(start, add)
    np.testing.assert_allclose(cal.hours_between(start, due), add, rtol=0, atol=1e-9)
    # earliest such instant: one minute earlier has not yet accumulated the hours
    earlier = cal.hours_between(start, due - pd.Timedelta(minutes=1))
    assert np.all((add == 0) | (earlier < add))
