"""Defaults shared across the library: SLA targets, survey scales, small-n threshold.

One place for every default so the generator, the metrics and the reports agree.
"""
from __future__ import annotations

#: SLA targets in hours per priority (calendar hours unless a BusinessCalendar is given).
DEFAULT_SLA_TARGETS: dict[str, dict[str, float]] = {
    "first_response": {"urgent": 1.0, "high": 4.0, "normal": 8.0, "low": 24.0},
    "resolution": {"urgent": 8.0, "high": 24.0, "normal": 72.0, "low": 168.0},
}

#: Survey score scales (inclusive bounds).
SCALES: dict[str, tuple[int, int]] = {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}

#: The neutral CSAT answer that ``exclude_neutral=True`` drops from the denominator (SPEC §4).
CSAT_NEUTRAL: int = 3

#: Groups with fewer observations than this are flagged ``small_n``.
DEFAULT_MIN_N: int = 30

#: Confidence level of every interval.
CONFIDENCE: float = 0.95
