"""The problems a data directory can have before and around its rows (SPEC §3), shared by every engine.

Where each table's file is (missing, ambiguous, empty), which columns are missing or extra,
the texts of parse failures and the quality records: :mod:`slm_lib.io.load` (pandas) and
:mod:`slm_lib.engines.validate` (DuckDB, Spark) both report them through these functions,
so the two say the same thing in the same words.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from slm_lib.errors import MissingTableError, Problem
from slm_lib.schema import COLUMNS, DEFAULT_PRIORITY, NULLABLE, QUIET_TABLES, REFERENCES, REQUIRED_TABLES, TS


def quality_record(problem: Problem, action: str) -> dict:
    """A row of the quality table (:data:`slm_lib.io.dataset.QUALITY_COLUMNS`) for ``problem``."""
    return {"table": problem.table, "file": problem.file, "column": problem.column,
            "rule": problem.rule, "n_rows": problem.n_rows,
            "example_rows": ", ".join(map(str, problem.example_rows)), "action": action}


def parse_rule(dtype: str, shown: str) -> str:
    """The rule text of values of a column of canonical ``dtype`` that cannot be parsed (examples ``shown``)."""
    return f"{'not an ISO 8601 timestamp' if dtype == TS else 'not a number'} (e.g. {shown})"


def check_columns(table: str, columns: Iterable[str], n: int, file: str, errors: str,
                  quality: list[dict], fatal: list[Problem]) -> dict[str, Any]:
    """Extra columns (``info``) and missing ones (fatal; in drop mode a nullable one or the priority is filled).

    Returns the filled columns and their value (None, or the default priority).
    """
    columns = list(columns)
    for extra in (c for c in columns if c not in COLUMNS[table]):
        quality.append(quality_record(Problem(file, extra, "extra column ignored", 0, (), table), "info"))
    filled: dict[str, Any] = {}
    for column in (c for c in COLUMNS[table] if c not in columns):
        defaulted = table == "tickets" and column == "priority"
        if errors == "drop" and (column in NULLABLE[table] or defaulted):
            filled[column] = DEFAULT_PRIORITY if defaulted else None
            quality.append(quality_record(Problem(file, column, f"missing column, filled with {filled[column]!r}",
                                           n, (), table), "filled"))
        else:
            fatal.append(Problem(file, column, "missing column", n, (), table))
    return filled


def priority_filled(file: str, n_rows: int, example_rows: tuple[int, ...]) -> dict:
    """The ``info`` quality record of tickets whose missing priority became the default."""
    return quality_record(Problem(file, "priority", f"missing priority set to {DEFAULT_PRIORITY!r}", n_rows, example_rows,
                           "tickets"), "info")


def events_unchecked(file: str, n_rows: int, example_rows: tuple[int, ...]) -> dict:
    """The ``info`` record of tickets without any ticket_events (their fields not compared with events)."""
    return quality_record(Problem(file, "*", "no ticket_events: first_response_at, resolved_at, replies and reopens "
                                  "not checked against events", n_rows, example_rows, "tickets"), "info")


def unchecked_references(given: set[str], known: Mapping[str, Any], with_rows: set[str],
                         files: Mapping[str, str]) -> list[dict]:
    """``info`` records of referenced tables that were given but have no rows, while a table referring to them has."""
    unchecked = {target for source, _, target, _ in REFERENCES
                 if target in given and known.get(target) is None and source in with_rows}
    return [quality_record(Problem(file=files[t], column="*", table=t, n_rows=0,
                            rule="table has no rows: references to it were not checked"), "info")
            for t in sorted(unchecked)]


def locate(directory: Path, table: str, quality: list[dict], fatal: list[Problem],
           directories: bool = False) -> tuple[str, Path | None]:
    """The file name of ``table`` in ``directory`` and its path, or None when there is none to read.

    A missing required table raises; a missing optional one is a ``missing table`` record
    (not :data:`~slm_lib.schema.QUIET_TABLES`); both ``.csv`` and ``.parquet``, or an empty
    file, are fatal problems. ``directories``: a directory ``<table>.parquet`` of part files
    counts as the table (the engines read those).
    """
    candidates = [directory / f"{table}.{ext}" for ext in ("csv", "parquet")]
    present = [p for p in candidates if p.is_file() or (directories and p.suffix == ".parquet" and p.is_dir())]
    file = str(present[0] if present else candidates[0])
    if not present:
        if table in REQUIRED_TABLES:
            raise MissingTableError(f"{directory}: required table {table!r} not found "
                                    f"(expected {candidates[0].name} or {candidates[1].name})")
        if table not in QUIET_TABLES:
            quality.append(quality_record(Problem(file, "*", f"missing table (no {candidates[0].name} "
                                           f"or {candidates[1].name})", 0, (), table), "missing table"))
        return file, None
    if len(present) > 1:
        fatal.append(Problem(file, "*", f"both {candidates[0].name} and {candidates[1].name} present; keep one",
                             0, (), table))
        return file, None
    if present[0].is_file() and present[0].stat().st_size == 0:
        fatal.append(Problem(file, "*", "empty file", 0, (), table))
        return file, None
    return file, present[0]
