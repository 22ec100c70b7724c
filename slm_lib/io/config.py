"""Reading configuration files: SLA targets (SPEC §4 "SLA targets ... from configuration") and journey stages from YAML."""
from __future__ import annotations

import os
from pathlib import Path

import yaml

from slm_lib.errors import ConfigError, JourneySpecError


def read_sla_targets(path: str | os.PathLike) -> dict[str, dict[str, float]]:
    """SLA targets in hours from a YAML file, in the shape ``metric_table(sla=...)`` takes.

    The file holds any of ``first_response``, ``resolution``, ``next_reply``,
    ``requester_wait`` and ``agent_work`` (the last three need ticket events), each mapping
    a priority to hours; the values are checked where they are used (``metrics.sla.validate_targets``).

    Examples
    --------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "sla.yaml")
    >>> _ = Path(path).write_text("first_response: {urgent: 0.5, high: 2}\\nresolution: {urgent: 4}\\n")
    >>> read_sla_targets(path)["first_response"]["urgent"]
    0.5
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: SLA target file not found") from None
    except yaml.YAMLError as err:
        raise ConfigError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise ConfigError(f"{path}: expected targets such as 'first_response:' and 'resolution:', each mapping "
                          f"priority -> hours, e.g. 'first_response: {{urgent: 1, high: 4}}'")
    return {str(target): {str(k): v for k, v in hours.items()} for target, hours in data.items()}


def read_journey_stages(path: str | os.PathLike) -> dict:
    """Journey stage definitions from a YAML file, as written (checked by :func:`slm_lib.journeys.stages.parse_stages`).

    Examples
    --------
    >>> import tempfile
    >>> path = os.path.join(tempfile.mkdtemp(), "stages.yaml")
    >>> _ = Path(path).write_text("onboarding: {from: signup_at, start_days: 0, end_days: 30}\\n")
    >>> read_journey_stages(path)["onboarding"]["end_days"]
    30
    """
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise JourneySpecError(f"{path}: file not found") from None
    except yaml.YAMLError as err:
        raise JourneySpecError(f"{path}: not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise JourneySpecError(f"{path}: expected stage names mapping to their definitions, e.g. "
                               f"'onboarding: {{from: signup_at, start_days: 0, end_days: 30}}'")
    return data
