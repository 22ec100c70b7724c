"""Defaults shared across the library: SLA targets, survey scales, small-n threshold.

One place for every default so the generator, the metrics and the reports agree.
"""
from __future__ import annotations

from collections.abc import Mapping

from slm_lib.errors import ConfigError

#: SLA targets in hours per priority (calendar hours unless a BusinessCalendar is given).
#: ``next_reply`` and ``requester_wait`` are timed by ticket events (judged only when a data
#: set has them): a next reply as fast as a first one; requester wait (time in new, open and
#: on_hold) half of the resolution target, the rest left to time waiting on the customer.
DEFAULT_SLA_TARGETS: dict[str, dict[str, float]] = {
    "first_response": {"urgent": 1.0, "high": 4.0, "normal": 8.0, "low": 24.0},
    "resolution": {"urgent": 8.0, "high": 24.0, "normal": 72.0, "low": 168.0},
    "next_reply": {"urgent": 1.0, "high": 4.0, "normal": 8.0, "low": 24.0},
    "requester_wait": {"urgent": 4.0, "high": 12.0, "normal": 36.0, "low": 84.0},
}

#: Survey score scales (inclusive bounds).
SCALES: dict[str, tuple[int, int]] = {"csat": (1, 5), "nps": (0, 10), "ces": (1, 7)}

#: NPS categories (SPEC §4): promoters score at least this, detractors at most ``NPS_DETRACTOR_MAX``.
NPS_PROMOTER_MIN: int = 9
NPS_DETRACTOR_MAX: int = 6


def check_scales(scales: Mapping[str, tuple[int, int]] | None) -> dict[str, tuple[int, int]]:
    """Survey scales ``{type: (low, high)}``, types not given taking :data:`SCALES`.

    NPS is defined on 0-10 only (its categories are fixed); another NPS scale is refused.

    Examples
    --------
    >>> check_scales({"csat": (1, 7)})["csat"], check_scales(None)["ces"]
    ((1, 7), (1, 7))
    """
    out = dict(SCALES)
    for kind, bounds in (scales or {}).items():
        if kind not in SCALES:
            raise ConfigError(f"scales: unknown survey type {kind!r}; expected one of {list(SCALES)}")
        try:
            low, high = (int(b) for b in bounds)
        except (TypeError, ValueError):
            raise ConfigError(f"scales[{kind!r}]: expected (low, high) integers, got {bounds!r}") from None
        if low >= high:
            raise ConfigError(f"scales[{kind!r}]: low {low} must be below high {high}")
        out[kind] = (low, high)
    if out["nps"] != SCALES["nps"]:
        raise ConfigError(f"scales['nps']: NPS is defined on 0-10 only, got {out['nps']}")
    return out


def csat_cutoffs(scale: tuple[int, int] | None = None) -> tuple[int, int | None]:
    """Top-2-box threshold and neutral answer of a CSAT scale: ``(high - 1, middle)``.

    The middle exists on scales with an odd number of points (3 on 1-5, 4 on 1-7); on an
    even scale there is no neutral answer (``None``) and ``exclude_neutral`` drops nothing.

    Examples
    --------
    >>> csat_cutoffs(), csat_cutoffs((1, 7)), csat_cutoffs((1, 4))
    ((4, 3), (6, 4), (3, None))
    """
    low, high = SCALES["csat"] if scale is None else scale
    return high - 1, ((low + high) // 2 if (low + high) % 2 == 0 else None)

#: Groups with fewer observations than this are flagged ``small_n``.
DEFAULT_MIN_N: int = 30

#: Confidence level of every interval.
CONFIDENCE: float = 0.95
