"""Instants as ibis literals of the engines' microseconds (the one place an engine query meets a pandas Timestamp)."""
from __future__ import annotations

from typing import Any

import ibis
import pandas as pd

#: Microseconds per hour: the engines' durations (integer µs) in hours.
US_PER_HOUR = 3.6e9


def instant(ts: pd.Timestamp, up: bool = False) -> Any:
    """A UTC instant as an ibis literal of the engines' microseconds, for ``x <= instant(t)`` (or ``x < instant(t, up=True)``).

    Rounded down, ``x <= t`` keeps its meaning for every stored (microsecond) ``x``; rounded
    up, ``x < t`` does (an end one nanosecond after the last event keeps that event).
    """
    return ibis.literal((ts.ceil("us") if up else ts.floor("us")).to_pydatetime(), type="timestamp('UTC', 6)")
