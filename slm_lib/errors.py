"""Exception classes raised by slm_lib.

Every error the library raises on purpose derives from :class:`SlmError`, so callers
(the CLI, the report runner, a notebook) can catch one class and print one readable
message per problem.
"""
from __future__ import annotations

from dataclasses import dataclass, field


class SlmError(Exception):
    """Base class of every error raised on purpose by slm_lib."""


@dataclass(frozen=True)
class Problem:
    """One data problem: where it is, what rule it breaks, how many rows, examples.

    ``example_rows`` are 1-based data row numbers as a user sees them in the file
    (row 1 is the first row after the header).
    """

    file: str
    column: str
    rule: str
    n_rows: int
    example_rows: tuple[int, ...] = field(default_factory=tuple)
    table: str = ""

    def __str__(self) -> str:
        rows = ", ".join(str(r) for r in self.example_rows[:5])
        where = f" (e.g. rows {rows})" if rows else ""
        return f"{self.file}: column '{self.column}': {self.rule}: {self.n_rows} row(s){where}"


class DataValidationError(SlmError, ValueError):
    """Input data break the canonical data contract (SPEC §3).

    ``problems`` lists every problem found, not only the first one; ``str(err)`` prints
    one line per problem naming file, column, rule, number of rows and example rows.
    """

    def __init__(self, problems: list[Problem] | Problem | str):
        if isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = [] if isinstance(problems, str) else list(problems)
        message = problems if isinstance(problems, str) else "\n".join(str(p) for p in self.problems)
        super().__init__(message)


class MissingTableError(DataValidationError):
    """A required table (tickets) is missing from the data directory."""


class MappingError(SlmError, ValueError):
    """An import mapping (SPEC §10) is invalid or does not fit the export it is applied to."""


class ConfigError(SlmError, ValueError):
    """A configuration value (SLA targets, calendar, parameters) is invalid."""


class EngineNotSupportedError(ConfigError):
    """A function that reads rows in memory was given data on an engine (:mod:`slm_lib.engines`)."""


class JourneySpecError(ConfigError):
    """A journey stage definition is invalid; ``stage`` and ``key`` name where (None when not one stage/key)."""

    def __init__(self, message: str, stage: str | None = None, key: str | None = None):
        where = ", ".join(f"{what} {name!r}" for what, name in (("stage", stage), ("key", key)) if name is not None)
        super().__init__(f"journey stages: {where + ': ' if where else ''}{message}")
        self.stage, self.key = stage, key


class InsufficientDataError(SlmError, ValueError):
    """There are too few observations to compute what was asked."""


class ModelFitError(SlmError, RuntimeError):
    """A model cannot be fitted (separation, constant driver, too few events, no convergence)."""


class ReportError(SlmError, RuntimeError):
    """A report run failed; the message names the notebook and the failing cell."""
