"""Journey stages as users write them (a dict or a YAML file), checked into :class:`Stage` objects.

A stage is a window of days relative to an **anchor**, one instant per customer::

    onboarding:   {from: signup_at, start_days: 0, end_days: 30}     # first 30 days after signup
    renewal:      {from: contract_end_at, start_days: -60, end_days: 0}   # 60 days before contract end
    before_churn: {from: churned_at, start_days: -90, end_days: 0}   # churned customers only

* ``from`` (required): a timestamp column of ``customers`` (``signup_at``, ``churned_at``,
  or any other) or the name of an extra anchor passed to
  :func:`slm_lib.journeys.stages.journey_stages` (``anchors={"contract_end_at": series}``).
  A customer without the anchor (e.g. no ``churned_at``) is in no window of that stage.
* ``start_days``, ``end_days`` (required numbers, ``start_days < end_days``, negative =
  before the anchor): the window is ``[anchor + start_days, anchor + end_days)``.

Stages may overlap (a customer who churns in the first month is in ``onboarding`` and in
``before_churn``); each stage is measured on its own. Any mistake raises
:class:`slm_lib.errors.JourneySpecError` naming the stage and the key.
"""
from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from numbers import Real
from typing import Any

from slm_lib.errors import JourneySpecError
from slm_lib.io.config import read_journey_stages

#: The keys of a stage definition (all required).
STAGE_KEYS: tuple[str, ...] = ("from", "start_days", "end_days")


@dataclass(frozen=True)
class Stage:
    """One checked stage: ``[anchor + start_days, anchor + end_days)`` for each customer."""

    name: str
    anchor: str
    start_days: float
    end_days: float


def _days(name: str, key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise JourneySpecError(f"expected a finite number of days, got {value!r}", name, key)
    return float(value)


def parse_stages(stages: Mapping[str, Any] | str | os.PathLike, anchors: Iterable[str]) -> list[Stage]:
    """Check stage definitions (module docstring) against the available ``anchors``.

    Parameters
    ----------
    stages : mapping or path
        ``{name: {"from": ..., "start_days": ..., "end_days": ...}}`` or a YAML file of it.
    anchors : iterable of str
        Anchor names that exist (timestamp columns of customers, extra anchors).

    Raises
    ------
    JourneySpecError
        Naming the stage and the key: not a mapping, unknown or missing key, unknown
        anchor, a day count that is not a finite number, ``end_days <= start_days``.

    Examples
    --------
    >>> parse_stages({"onboarding": {"from": "signup_at", "start_days": 0, "end_days": 30}}, ["signup_at"])
    [Stage(name='onboarding', anchor='signup_at', start_days=0.0, end_days=30.0)]
    >>> parse_stages({"renewal": {"from": "contract_end", "start_days": -60, "end_days": 0}}, ["signup_at"])
    Traceback (most recent call last):
    ...
    slm_lib.errors.JourneySpecError: journey stages: stage 'renewal', key 'from': unknown anchor 'contract_end'; \
available: ['signup_at'] (timestamp columns of customers, or pass anchors={'contract_end': ...})
    """
    if isinstance(stages, (str, os.PathLike)):
        stages = read_journey_stages(stages)
    if not isinstance(stages, Mapping) or not stages:
        raise JourneySpecError(f"expected a non-empty mapping of stage name -> definition, got {stages!r}")
    known = sorted(set(anchors))
    out = []
    for name, spec in stages.items():
        if not isinstance(name, str) or not name.strip():
            raise JourneySpecError(f"a stage name must be a non-empty string, got {name!r}")
        if not isinstance(spec, Mapping):
            raise JourneySpecError(f"expected a mapping with keys {list(STAGE_KEYS)}, got {spec!r}", name)
        for key in spec:
            if key not in STAGE_KEYS:
                raise JourneySpecError(f"unknown key; a stage has {list(STAGE_KEYS)}", name, str(key))
        for key in STAGE_KEYS:
            if key not in spec:
                raise JourneySpecError("missing (every stage needs from, start_days and end_days)", name, key)
        anchor = spec["from"]
        if not isinstance(anchor, str) or anchor not in known:
            raise JourneySpecError(f"unknown anchor {anchor!r}; available: {known} (timestamp columns of customers, "
                                   f"or pass anchors={{{anchor!r}: ...}})", name, "from")
        start, end = _days(name, "start_days", spec["start_days"]), _days(name, "end_days", spec["end_days"])
        if end <= start:
            raise JourneySpecError(f"must be greater than start_days ({start:g}), got {end:g}", name, "end_days")
        out.append(Stage(name=name, anchor=anchor, start_days=start, end_days=end))
    return out
