"""Validation of SPEC §3 on an engine: the rules of :mod:`slm_lib.schema` as ibis predicates.

The same pipeline as :func:`slm_lib.io.load.load_data`, table by table in
:data:`~slm_lib.schema.DEPENDENCY_ORDER`: parse each column (:mod:`slm_lib.engines.parse`),
evaluate every rule of :func:`~slm_lib.schema.table_rules` plus the references and the
cross-table timestamp order, then raise one :class:`~slm_lib.errors.DataValidationError`
(same problems, same order, same words as pandas) or drop the offending rows lazily and
record them in the quality table.

What runs on the engine: one aggregation per table counts the rows breaking each
single-table rule (the unique id by ``count - count distinct`` among otherwise valid rows);
one filtered count per reference or cross-table order. Only for a rule that some rows
break are example values and the first five row numbers fetched (an ``ORDER BY row
LIMIT``); a file's row number is the engine's ``row_number()`` in reading order (DuckDB
keeps insertion order; Spark orders by ``monotonically_increasing_id``). Nothing is
collected but these counts and examples.

When the validated ``ticket_events`` have rows, the tickets' first_response_at,
resolved_at, replies and reopens are compared with what their events imply
(:func:`slm_lib.engines.event_checks.event_records`): pandas' ``flagged`` rows and its
``info`` row about tickets without events, with example rows counted among the validated
tickets in reading order. Timestamps are read in every ISO 8601 form pandas reads
(:mod:`slm_lib.engines.parse`).

Not on the engine: the reason text of an unreadable file (the engine's error, not pandas').
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import reduce
from operator import or_
from typing import Any

import ibis
import ibis.expr.types as ir
import pandas as pd

from slm_lib.config import check_scales
from slm_lib.errors import DataValidationError, Problem
from slm_lib.io.dataset import make_quality
from slm_lib.io.load import ERRORS
from slm_lib.io.problems import check_columns, parse_rule, priority_filled, quality_record, unchecked_references
from slm_lib.engines.dataset import kept
from slm_lib.engines.event_checks import event_records
from slm_lib.engines.session import set_time_zone
from slm_lib.engines.parse import canonical, irregular, parsed_columns, with_default_priority
from slm_lib.schema import (COLUMNS, CROSS_ORDER, DEPENDENCY_ORDER, REFERENCES, TS, Rule, cross_order_rule,
                            reference_rule, shown_values, table_rules)

Stage = Callable[[Any], Any]


@ibis.udf.scalar.builtin(name="monotonically_increasing_id")
def _spark_row_id() -> int:  # type: ignore[empty-body]
    """Spark's increasing id of a row in reading order (not consecutive)."""


def numbered(t: Any) -> Any:
    """``t`` with ``_row``: 1-based row number in reading order (the row of a file a user sees)."""
    backend = t._find_backend().name
    window = ibis.window(order_by=_spark_row_id()) if backend == "pyspark" else ibis.window()
    return t.mutate(_row=ibis.row_number().over(window) + 1)


def predicate(rule: Rule, t: Any) -> Any:
    """The rows of ``t`` (parsed columns, ``_bad_<column>`` parse flags) that break ``rule`` (not ``unique``)."""
    x, kind = t[rule.column], rule.kind
    if kind in ("integer", "finite") and x.type().is_integer():
        return ibis.literal(False)
    unparsed = t[f"_bad_{rule.column}"] if f"_bad_{rule.column}" in t.columns else ibis.literal(False)
    if kind == "missing":
        found = x.isnull() & ~unparsed
    elif kind == "integer":
        small = ibis.ifelse(x.abs() < 2.0 ** 53, x, 0.0)   # larger doubles are all whole (and overflow int64)
        found = x.notnull() & (x.isinf() | (small.floor() != small))
    elif kind == "finite":
        found = x.notnull() & x.isinf()
    elif kind == "negative":
        found = x < 0
    elif kind == "domain":
        found = x.notnull() & ~x.isin(list(rule.values))
    elif kind == "required_when":
        found = x.isnull() & (t[rule.other] == rule.values[0]) & ~unparsed
    elif kind == "order":
        found = x < t[rule.other]
    else:  # range
        found = (t[rule.other] == rule.values[0]) & ((x < rule.values[1]) | (x > rule.values[2]))
    return found.fill_null(False)


def _count(value: Any) -> Any:
    """Number of rows where ``value`` holds (0 for a constant False, such as an integer rule on an integer column)."""
    if not isinstance(value, ir.Column):
        return ibis.literal(0, "int64")
    return value.cast("int64").sum().fill_null(0)


def _rows(t: Any, flag: Any, k: int = 5) -> tuple[int, ...]:
    """The first ``k`` row numbers of ``t`` (numbered) where ``flag`` holds."""
    got = t.filter(flag).order_by("_row").limit(k).select("_row").execute()
    return tuple(int(r) for r in got["_row"])


def _first_values(t: Any, column: str, flag: Any, k: int = 3) -> str:
    """The first ``k`` distinct values of ``column`` (as strings, in row order) where ``flag`` holds."""
    got = (t.filter(flag).select(_v=t[column].cast("string"), _row=t._row).group_by("_v")
           .aggregate(_first=ibis._._row.min()).order_by("_first").limit(k).execute())
    return shown_values(got["_v"])


class Frame:
    """A table's parsed frame on the engine: its raw table, parsed columns, then added stages.

    ``plain()`` is what counts run on; ``numbered()`` adds the row number ``_row`` (and the
    stages that need it) for examples, duplicates and first occurrences.
    """

    def __init__(self, raw: Any, table: str, filled: Mapping[str, Any], same: set[str] = frozenset()):
        self.raw, self.table, self.filled, self.same = raw, table, dict(filled), set(same)
        self.regular: set[str] = set()   # text timestamp columns in the common form only (parse.irregular)
        self.stages: list[tuple[Stage, bool]] = []

    def start(self, src: Any, extra: Mapping[str, Any] = {}) -> Any:
        """Parsed columns (the raw ones where they are already canonical), parse flags and ``extra``."""
        parsed, bad = parsed_columns(src, self.table, self.filled, self.regular)
        flags = {f"_bad_{c}": b for c, b in bad.items()}
        if self.table == "tickets" and "priority" in parsed:
            flags["_priority_missing"] = parsed["priority"].isnull()
        values = {c: src[c] if c in self.same else v for c, v in with_default_priority(parsed, self.table).items()}
        return src.select(**values, **flags, **extra)

    def plain(self) -> Any:
        return reduce(lambda t, s: s[0](t), [s for s in self.stages if not s[1]], self.start(self.raw))

    def numbered(self) -> Any:
        src = numbered(self.raw)
        return reduce(lambda t, s: s[0](t), self.stages, self.start(src, {"_row": src._row}))

    def add(self, stage: Stage, numbered_only: bool = False) -> None:
        self.stages.append((stage, numbered_only))


def _duplicates(key: str, invalid: Callable[[Any], Any]) -> Stage:
    """Stage adding ``_dup``: a repeated ``key`` after its first occurrence among rows valid otherwise."""
    def stage(t: Any) -> Any:
        t = t.mutate(_valid=~invalid(t))
        later = ibis.row_number().over(group_by=[t[key], t._valid], order_by=t._row) > 0
        return t.mutate(_dup=(t._valid & t[key].notnull() & later).fill_null(False))
    return stage


def _first_rows(frame: Frame, key: str) -> Any:
    """The first row (in reading order) of each ``key`` of a frame."""
    t = frame.numbered()
    return t.filter(ibis.row_number().over(group_by=t[key], order_by=t._row) == 0)


def _lookup(reference: Any, key: str, column: str, name: str) -> Stage:
    """Stage adding ``name``: ``column`` of the row of ``reference`` (unique by ``key``) with the same ``key``."""
    right = reference.select(**{f"{name}_key": reference[key], name: reference[column]})
    return lambda t: t.left_join(right, t[key] == right[f"{name}_key"]).drop(f"{name}_key")


def _column_flag(name: str) -> Callable[[Any], Any]:
    return lambda t: t[name]


def _check_table(frame: Frame, file: str, errors: str, scales: Mapping[str, tuple[int, int]],
                 quality: list[dict], fatal: list[Problem], frames: Mapping[str, Frame],
                 state: dict[str, dict[str, Any]]) -> list[Problem]:
    """Check one table: its problems (drop mode: recorded in ``quality`` instead); ``state`` gets its valid rows.

    ``state`` holds per checked table ``kept`` (valid rows, or all rows in raise mode),
    ``numbered`` (the same rows with their row number ``_row``), ``rows`` (their number),
    ``known`` (``kept`` when its ids can be referenced, else None) and ``dup`` (whether its id
    repeats).
    """
    table, raw = frame.table, frame.raw
    texts = [c for c in COLUMNS[table] if c in raw.columns and c not in frame.filled and COLUMNS[table][c] == "str"
             and raw[c].type().is_string()]
    stamps = [c for c in COLUMNS[table] if c in raw.columns and c not in frame.filled and COLUMNS[table][c] == TS
              and raw[c].type().is_string()]
    t = frame.start(raw, {f"_raw_{c}": raw[c] for c in texts + stamps})
    values = [c for c in COLUMNS[table] if c in t.columns]
    bad = [c for c in values if f"_bad_{c}" in t.columns]
    rules = table_rules(table, values, scales)
    single = [r for r in rules if r.kind != "unique"]
    agg = {"_n": t.count(), **{f"_bad_{c}": _count(t[f"_bad_{c}"]) for c in bad},
           **{f"_rule_{i}": _count(predicate(r, t)) for i, r in enumerate(single)},
           **{f"_same_{c}": _count(~t[c].identical_to(t[f"_raw_{c}"])) for c in texts},
           **{f"_irregular_{c}": _count(irregular(t[f"_raw_{c}"])) for c in stamps}}
    if "_priority_missing" in t.columns:
        agg["_pm"] = _count(t._priority_missing)
    invalid = lambda f: reduce(or_, [predicate(r, f) for r in single] + [f[f"_bad_{c}"] for c in bad],  # noqa: E731
                               ibis.literal(False))
    unique = next((r for r in rules if r.kind == "unique"), None)
    key = unique.column if unique is not None else None
    if key is not None:
        agg |= {"_keys": t[key].count(where=~invalid(t)), "_distinct": t[key].nunique(where=~invalid(t))}
    counts = {k: int(v) for k, v in t.aggregate(**agg).execute().iloc[0].fillna(0).items()}
    n = counts["_n"]
    table_fatal: list[Problem] = []
    check_columns(table, raw.columns, n, file, errors, quality, table_fatal)
    fatal.extend(table_fatal)
    frame.same = {c for c in texts if counts[f"_same_{c}"] == 0}
    frame.regular = {c for c in stamps if counts[f"_irregular_{c}"] == 0}
    if counts.get("_pm"):
        quality.append(priority_filled(file, counts["_pm"], _rows(frame.numbered(), _column_flag("_priority_missing"))))

    found: list[tuple[str, str, int, Callable[[Any], Any]]] = []
    for c in bad:
        if counts[f"_bad_{c}"]:
            u = numbered(raw)
            shown = _first_values(u, c, _parse_failure(frame, u, c))
            found.append((c, parse_rule(COLUMNS[table][c], shown), counts[f"_bad_{c}"], _column_flag(f"_bad_{c}")))
    for i, r in enumerate(single):
        if counts[f"_rule_{i}"]:
            test = (lambda rule: lambda f: predicate(rule, f))(r)
            shown = _first_values(frame.numbered(), r.column, test) if r.kind == "domain" else ""
            found.append((r.column, r.text(shown), counts[f"_rule_{i}"], test))
    dup = key is not None and counts["_keys"] > counts["_distinct"]
    if dup:
        frame.add(_duplicates(key, invalid), numbered_only=True)
        found.append((key, unique.text(), counts["_keys"] - counts["_distinct"], _column_flag("_dup")))
    for source, column, target, target_column in REFERENCES:
        known = state.get(target, {}).get("known")
        if source == table and known is not None and column in values:
            ids = known.select(_id=known[target_column]).filter(ibis._._id.notnull())._id
            test = (lambda c, ids: lambda f: (f[c].notnull() & ~f[c].isin(ids)).fill_null(False))(column, ids)
            _found_by_count(found, frame, column, reference_rule(column, target), test)
    for i, (source, column, target, key_column, target_column) in enumerate(CROSS_ORDER):
        other = frames.get(target)
        if source != table or other is None or not {column, key_column} <= set(values) or not n \
                or not {key_column, target_column} <= set(state[target]["kept"].columns) or not state[target]["rows"]:
            continue
        ref = _first_rows(other, key_column) if state[target]["dup"] and errors == "raise" else state[target]["kept"]
        test = (lambda c, name: lambda f: (f[name].notnull() & (f[c] < f[name])).fill_null(False))(column, f"_ref_{i}")
        _found_by_count(found, frame, column, cross_order_rule(column, target, target_column), test,
                        _lookup(ref, key_column, target_column, f"_ref_{i}"))

    problems = [Problem(file, column, text, count, _rows(frame.numbered(), test), table)
                for column, text, count, test in found]
    drop = errors == "drop" and not table_fatal
    kept, in_order, rows = (frame.numbered() if dup else frame.plain()), frame.numbered(), n
    if drop and found:
        quality.extend(quality_record(p, "dropped") for p in problems)
        valid = lambda f: ~reduce(or_, [test(f) for *_, test in found])  # noqa: E731
        kept, in_order = kept.filter(valid(kept)), in_order.filter(valid(in_order))
        rows = int(kept.count().execute())
    state[table] = {"kept": kept, "rows": rows, "dup": dup, "known": kept if n and key is not None else None,
                    "numbered": in_order}
    return [] if drop else problems


def _parse_failure(frame: Frame, u: Any, column: str) -> Any:
    """Flag of the rows of numbered raw table ``u`` whose ``column`` cannot be parsed."""
    return parsed_columns(u, frame.table, frame.filled, frame.regular)[1][column]


def _found_by_count(found: list, frame: Frame, column: str, text: str, test: Callable[[Any], Any],
                    stage: Stage | None = None) -> None:
    """Append the rule to ``found`` when its filtered count on the frame (after ``stage``) is positive.

    The ``stage`` (a join) stays on the frame only then: valid rows are not joined again by every metric.
    """
    t = frame.plain() if stage is None else stage(frame.plain())
    count = int(t.filter(test(t)).count().execute())
    if count:
        if stage is not None:
            frame.add(stage)
        found.append((column, text, count, test))


def validate_tables(con: Any, raw: Mapping[str, Any], files: Mapping[str, str], errors: str,
                    scales: Mapping[str, tuple[int, int]] | None, quality: list[dict],
                    fatal: list[Problem]) -> tuple[dict[str, Any], pd.DataFrame]:
    """Validate raw ibis tables as :func:`slm_lib.io.load.load_data` validates frames.

    Parameters
    ----------
    con : ibis backend
        The connection of the tables (its session time zone is set to UTC).
    raw : mapping of table name to ibis table
        The tables as read (CSV as text, Parquet typed); absent tables are not checked.
    files : mapping
        The file name each table is reported under.
    errors : {"raise", "drop"}
    scales : mapping, optional
        Survey scales.
    quality, fatal : list
        Records and fatal problems found before (missing tables, ambiguous or empty files).

    Returns
    -------
    tables, quality
        The canonical tables (parsed, normalised and, in drop mode, filtered), each computed
        once and :func:`~slm_lib.engines.dataset.kept` on the engine so that later queries
        neither re-read nor re-parse the files, and the quality table.

    Raises
    ------
    DataValidationError
        As :func:`~slm_lib.io.load.load_data` does, with the same problems in the same order.
    """
    if errors not in ERRORS:
        raise ValueError(f"errors must be one of {ERRORS}, got {errors!r}")
    scales = check_scales(scales)
    set_time_zone(con, "UTC")
    frames: dict[str, Frame] = {}
    state: dict[str, dict[str, Any]] = {}
    problems: list[Problem] = []
    for table in (t for t in DEPENDENCY_ORDER if t in raw):
        t = raw[table]
        t = t.rename({str(c).strip().lower(): c for c in t.columns if str(c).strip().lower() != c})
        frames[table] = Frame(t, table, check_columns(table, t.columns, 0, files[table], errors, [], []))
        problems += _check_table(frames[table], files[table], errors, scales, quality, fatal, frames, state)
    quality.extend(unchecked_references(set(raw), {t: s["known"] for t, s in state.items()},
                                        {t for t, s in state.items() if s["rows"]}, files))
    if fatal or (errors == "raise" and problems):
        raise DataValidationError(fatal + problems)
    if "tickets" in state and state.get("ticket_events", {}).get("rows"):
        tickets, events = state["tickets"]["numbered"], state["ticket_events"]["kept"]
        quality.extend(event_records(con, tickets, events, files["tickets"]))
    return {t: kept(con, canonical(s["kept"], t)) for t, s in state.items()}, make_quality(quality)


def engine_validate(lazy: Any, errors: str = "raise", scales: Mapping[str, tuple[int, int]] | None = None) -> Any:
    """:func:`slm_lib.io.load.validate` of a :class:`~slm_lib.engines.LazyDataset` on its engine (the dispatch hook).

    Returns a new LazyDataset whose tables are the validated ones (parsed, normalised,
    offending rows filtered out in drop mode; kept on the engine) and whose ``quality`` holds the rows of
    ``lazy.quality`` followed by what this check found. Problems name the table's file
    (``lazy.files``; the table name for tables not read from a file).

    Examples
    --------
    >>> from slm_lib.engines import connect, from_tables
    >>> con = connect("duckdb")
    >>> _ = con.raw_sql("CREATE TABLE t AS SELECT * FROM (VALUES ('T1', 'C1', '2026-10-01T09:00:00Z', 'E-mail', "
    ...                 "'0', '0'), ('T2', 'C1', 'soon', 'chat', '1', '0')) "
    ...                 "v(ticket_id, customer_id, created_at, channel, replies, reopens)")
    >>> lazy = engine_validate(from_tables(con, {"tickets": con.table("t")}), errors="drop")
    >>> lazy.quality[["column", "rule", "n_rows", "example_rows", "action"]].tail(1).to_numpy().tolist()
    [['created_at', "not an ISO 8601 timestamp (e.g. 'soon')", 1, '2', 'dropped']]
    >>> lazy.tickets.select("ticket_id", "channel", "priority").execute().to_numpy().tolist()
    [['T1', 'email', 'normal']]
    """
    files = {t: lazy.files.get(t, t) for t in lazy.tables}
    tables, quality = validate_tables(lazy.con, lazy.tables, files, errors, lazy.scales if scales is None else scales,
                                      lazy.quality.to_dict("records"), [])
    return replace(lazy, tables=tables, quality=quality, scales=check_scales(lazy.scales if scales is None else scales))
