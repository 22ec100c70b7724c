"""Applying one mapping block to one export file (SPEC §10).

Read the file, explode nested lists into rows (``explode``), join side files, select rows
(``where``), drop filtered rows counted by reason (``drop``), check every referenced
column exists, then build the canonical fields with the converters of
:mod:`slm_lib.io.imports.convert`. Rows that cannot be converted become
:class:`slm_lib.errors.Problem` entries (file, column, rule, count, example rows).
"""
from __future__ import annotations

import difflib
import fnmatch
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from slm_lib.errors import MappingError, Problem
from slm_lib.io.imports.convert import map_values, parse_hours, parse_timestamps, to_number
from slm_lib.io.imports.identity import customer_keys, hash_keys, to_text
from slm_lib.io.imports.mapping import PLACEHOLDER, REQUIRED_FIELDS
from slm_lib.io.imports.readers import column_at, explode_records, read_file
from slm_lib.schema import (CHANNELS, COLUMNS, EVENT_ACTORS, EVENT_KINDS, EVENT_STATUSES, PRIORITIES, SURVEY_TYPES,
                            TS)

#: Per table, canonical fields a block may leave unmapped and the value they take then (others: missing).
UNMAPPED_DEFAULTS: dict[str, dict[str, object]] = {
    "tickets": {"priority": "normal", "channel": "other", "replies": 0, "reopens": 0},
    "customers": {"segment": "unknown"},
}
VOCABULARY = {"channel": CHANNELS, "priority": PRIORITIES, "type": SURVEY_TYPES, "kind": EVENT_KINDS,
              "actor": EVENT_ACTORS, "status": EVENT_STATUSES}


@dataclass
class BlockResult:
    """The canonical rows one block produced from one file, with counts and problems."""

    table: str
    file: str
    frame: pd.DataFrame
    counts: dict[str, int]
    problems: list[Problem] = field(default_factory=list)
    bad: pd.Series | None = None
    part: str = ""
    notes: dict[str, str] = field(default_factory=dict)


def matches(path: str | Path, patterns: list[str]) -> bool:
    """Whether a file's name matches one of the basename glob ``patterns`` (case-insensitive).

    Examples
    --------
    >>> matches("/tmp/Tickets-2024.json", ["tickets*.json"])
    True
    """
    name = Path(path).name.lower()
    return any(fnmatch.fnmatch(name, p.lower()) for p in patterns)


def _not_in_file(frame: pd.DataFrame, names: list[str], file: str) -> MappingError:
    columns = [c for c in frame.columns if c not in ("_file", "_row")]
    score = {c: max(difflib.SequenceMatcher(None, n, str(c)).ratio() for n in names) for c in columns}
    close = sorted((c for c in columns if score[c] >= 0.4), key=lambda c: -score[c])
    what = (f"column '{names[0]}' named by the mapping is" if len(names) == 1 else
            "columns " + " or ".join(f"'{n}'" for n in names) + " named by the mapping are")
    return MappingError(f"{file}: {what} not in the file; closest columns: "
                        + (", ".join(repr(c) for c in close[:3]) if close else "none")
                        + f" ({len(columns)} columns in the file)")


def read_columns(frame: pd.DataFrame, names: list[str], file: str, optional: bool = False,
                 notes: dict[str, str] | None = None, field: str = "") -> pd.Series:
    """Per row, the first non-empty value among the columns ``names`` (a column and its fallbacks).

    Columns the file lacks are skipped; when none is in the file, the values are all missing
    if ``optional``, else a :class:`MappingError` names the file, the columns and the closest
    columns that exist. Preferred columns the file lacks (those listed before the first one
    present, or all of an optional field's) are recorded in ``notes`` (column -> what was read
    instead) for the quality table.

    Examples
    --------
    >>> f = pd.DataFrame({"Created (UTC)": ["2019-06-03 09:12"]})
    >>> notes = {}
    >>> read_columns(f, ["Created date (UTC)", "Created (UTC)"], "p.csv", notes=notes, field="paid_at").tolist()
    ['2019-06-03 09:12']
    >>> notes
    {'Created date (UTC)': "column not in the file: paid_at read from 'Created (UTC)'"}
    """
    found = {n: column_at(frame, n) for n in names}
    present = [n for n in names if found[n] is not None]
    if not present and not optional:
        raise _not_in_file(frame, names, file)
    if notes is not None:
        note = (f"column not in the file: {field} read from '{present[0]}'" if present
                else f"optional column not in the file: read as missing ({field})")
        for name in names[:names.index(present[0])] if present else names:
            notes.setdefault(name, note)
    if not present:
        return pd.Series(pd.NA, index=frame.index, dtype=object)
    out = found[present[0]]
    for other in present[1:]:
        out = out.where(to_text(out).notna(), found[other])
    return out


def _join(frame: pd.DataFrame, join: dict, paths: list[Path], file: str) -> pd.DataFrame:
    sides = [p for p in paths if matches(p, join["files"])]
    if not sides:
        if join["required"]:
            raise MappingError(f"{file}: the mapping joins records from a file matching "
                               f"{' or '.join(join['files'])}, but none was given")
        return frame
    # a required join needs its records in one of the files, not in each (Zendesk users may be
    # side-loaded in the export itself or come in a users file of their own)
    right = pd.concat([read_file(p, join["format"], join["records"], join["header_rows"], False)
                       for p in sides], ignore_index=True)
    right_key = column_at(right, join["right_on"])
    if right.empty or right_key is None:
        if join["required"]:
            what = f"'{join['records']}' records with " if join["records"] else ""
            raise MappingError(f"{', '.join(p.name for p in sides)}: no {what}'{join['right_on']}' to join on")
        return frame
    for spec in join["where"]:
        right = right[filter_mask(right, spec, ", ".join(p.name for p in sides))]
    right = right.drop(columns=["_file", "_row"])
    right["_key"] = to_text(column_at(right, join["right_on"]))
    right = right.drop_duplicates("_key", keep="last").set_index("_key")
    right.columns = [f"{join['prefix']}.{c}" for c in right.columns]
    left_key = to_text(read_columns(frame, [join["left_on"]], file))
    joined = right.reindex(left_key.to_numpy())
    joined.index = frame.index
    return pd.concat([frame, joined], axis=1)


def filter_mask(frame: pd.DataFrame, spec: dict, file: str, notes: dict[str, str] | None = None,
                field: str = "") -> pd.Series:
    """Rows matching one filter (``in``, ``not_in``, ``contains``, ``empty``, ``nonempty``,
    ``gt``, ``lt``, ``equals``, ``same_as``, ``not_same_as``); text is compared stripped and
    lower-cased.

    ``same_as`` / ``not_same_as`` compare with another column of the same row (a comment's
    author and the ticket's reporter); ``not_same_as`` matches a present value whenever the
    other column differs or is missing.
    ``contains`` looks for a token in list values (JSON ``tags``) or in comma/space
    separated text (CSV ``Tags``). The column of an ``optional`` filter may be missing from
    the file: its values are then all missing (``empty`` matches every row, the other
    operators none) and ``notes`` records it for ``field`` (default: the drop reason).

    Examples
    --------
    >>> f = pd.DataFrame({"tags": [["vip", "closed_by_merge"], ["vip"]]})
    >>> filter_mask(f, {"column": "tags", "contains": "closed_by_merge"}, "t.json").tolist()
    [True, False]
    """
    label = field or (f"drop filter '{spec['reason']}'" if spec.get("reason") else "row filter")
    raw = read_columns(frame, [spec["column"]], file, bool(spec.get("optional")), notes, label)
    text = to_text(raw).str.lower() if raw.dtype != object or not raw.map(type).eq(list).any() else None
    if "contains" in spec:
        tokens = to_text(raw.explode()).str.lower().str.split(r"[,\s]+", regex=True).explode()
        hit = tokens.eq(str(spec["contains"]).lower()).groupby(level=0).any()
        return hit.reindex(frame.index, fill_value=False).astype(bool)
    if text is None:
        raise MappingError(f"{file}: column '{spec['column']}' holds lists; only 'contains' can filter it")
    if "in" in spec or "not_in" in spec:
        values = [str(v).lower() for v in (spec.get("in") or spec.get("not_in"))]
        hit = text.isin(values)
        return hit if "in" in spec else text.notna() & ~hit
    if "equals" in spec:
        return text.eq(str(spec["equals"]).lower()).fillna(False).astype(bool)
    if "same_as" in spec or "not_same_as" in spec:
        other_name = spec.get("same_as") or spec["not_same_as"]
        other = to_text(read_columns(frame, [other_name], file, bool(spec.get("optional")), notes, label)).str.lower()
        same = (text == other).fillna(False).astype(bool)
        return same if "same_as" in spec else text.notna() & ~same
    if "empty" in spec or "nonempty" in spec:
        want_empty = bool(spec.get("empty", not spec.get("nonempty")))
        return text.isna() if want_empty else text.notna()
    number = to_number(raw)[0]
    return (number > float(spec["gt"])) if "gt" in spec else (number < float(spec["lt"]))


class _Problems:
    def __init__(self, table: str, file: str, rows: pd.Series):
        self.table, self.file, self.rows, self.items, self.bad = table, file, rows, [], None

    def add(self, column: str, rule: str, mask: pd.Series) -> None:
        mask = mask.fillna(False).astype(bool)
        if mask.any():
            examples = tuple(int(r) for r in self.rows[mask].head(5))
            self.items.append(Problem(self.file, column, rule, int(mask.sum()), examples, self.table))
            self.bad = mask if self.bad is None else self.bad | mask


def _convert(name: str, dtype: str, spec: dict, frame: pd.DataFrame, out: pd.DataFrame, ctx: dict,
             problems: _Problems) -> pd.Series:
    """One canonical (or extra) field from its spec."""
    file = ctx["file"]
    source = spec["template"] if "template" in spec else ", ".join(spec.get("column", [spec.get("duration", name)]))
    optional, notes = bool(spec.get("optional")), ctx["notes"]
    if "only_if" in spec:
        keep = filter_mask(frame, spec["only_if"], file, notes, name)
        frame = frame.loc[keep].reindex(frame.index)
    if "base" in spec:
        duration = read_columns(frame, [spec["duration"]], file, optional, notes, name)
        hours, bad = parse_hours(duration, spec.get("unit", "minutes"))
        problems.add(spec["duration"], f"cannot read as a duration in {spec.get('unit', 'minutes')}", bad)
        return out[spec["base"]] + pd.to_timedelta((hours * 3_600_000).round(), unit="ms")
    if "value" in spec:
        raw = pd.Series(spec["value"], index=frame.index, dtype=object)
    elif "template" in spec:
        raw = fill_template(frame, spec["template"], file, optional, notes, name)
    else:
        raw = read_columns(frame, spec["column"], file, optional, notes, name)
    if "map" in spec:
        raw, bad, unknown = map_values(raw, spec["map"], spec.get("default"))
        problems.add(source, f"value(s) not in the mapping's map: {', '.join(map(repr, unknown))}", bad)
    elif spec.get("default") is not None:
        raw = raw.where(to_text(raw).notna(), spec["default"])
    if dtype == TS:
        fmt = spec.get("timestamp", ctx["timestamp"])
        values, bad = parse_timestamps(raw, fmt, ctx["tz"], f"{file}: column '{source}'")
        first = to_text(raw)[bad].head(1).tolist()
        problems.add(source, f"cannot parse as timestamp ({fmt}), e.g. {first[0]!r}" if first else "", bad)
        return values
    if dtype in ("int64", "float64") or "unit" in spec:
        if "unit" in spec:
            number, bad = parse_hours(raw, spec["unit"])
        else:
            number, bad = to_number(raw)
        problems.add(source, "not a number", bad)
        number = number * float(spec.get("scale", 1))
        if dtype == "int64":
            fraction = number.notna() & (number != number.round())
            problems.add(source, "not a whole number", fraction)
        return number
    text = to_text(raw)
    if name in VOCABULARY:
        text = text.str.lower()
        problems.add(source, f"{name} must be one of {', '.join(VOCABULARY[name])}",
                     text.notna() & ~text.isin(VOCABULARY[name]))
    if "suffix" in spec:
        text = text + str(spec["suffix"])
    return text


def fill_template(frame: pd.DataFrame, template: str, file: str, optional: bool = False,
                  notes: dict[str, str] | None = None, field: str = "") -> pd.Series:
    """Per row, ``template`` with each ``{column}`` replaced by that column's text; missing
    when one of the columns is (ids built from several columns, e.g. a changelog item's
    history id and field).

    Examples
    --------
    >>> f = pd.DataFrame({"id": [10, 11], "field": ["status", None]})
    >>> fill_template(f, "{id}:{field}", "t.json").tolist()
    ['10:status', nan]
    """
    parts = PLACEHOLDER.split(template)   # literal, column, literal, column, ..., literal
    out = pd.Series(parts[0], index=frame.index, dtype="str")
    for i in range(1, len(parts), 2):
        out = out + to_text(read_columns(frame, [parts[i]], file, optional, notes, field)) + parts[i + 1]
    return out


def _exploded(frame: pd.DataFrame, spec: dict, file: str, notes: dict[str, str]) -> pd.DataFrame:
    """``frame`` with the list column of one ``explode`` spec turned into rows."""
    out = explode_records(frame, spec["column"])
    if out is not None:
        return out
    if not spec["optional"]:
        raise _not_in_file(frame, [spec["column"]], file)
    notes.setdefault(spec["column"], "optional column not in the file: no rows (explode)")
    return frame.iloc[:0]


def apply_block(block: dict, table: str, path: Path, paths: list[Path], ctx: dict) -> BlockResult:
    """Canonical rows of ``table`` from one export file through one mapping block.

    ``ctx`` holds ``tz`` (source time zone or None), ``key`` ("id"/"email"), ``salt`` and
    ``mapping`` (the mapping's name). Returns the rows (canonical columns, extras,
    ``_file``, ``_row``), the counts by reason, the conversion problems and the notes on
    optional or fallback columns the file lacks (see :func:`read_columns`).

    Raises
    ------
    MappingError
        A referenced column is missing and neither optional nor replaced by one of its
        fallbacks (message names the file, the column and the closest columns), a local
        time has no time zone, or the chosen key is not in the mapping.
    """
    file = path.name
    frame = read_file(path, block["format"], block.get("records"), block["header_rows"])
    notes: dict[str, str] = {}
    for spec in block["explode"]:
        frame = _exploded(frame, spec, file, notes)
    if block["explode"] and frame.empty:   # no elements at all: nothing to map (and no columns to check)
        out = cast_canonical(pd.DataFrame({c: pd.Series(dtype=object) for c in COLUMNS[table]}), table)
        out["_file"], out["_row"] = pd.Series(dtype="str"), pd.Series(dtype="int64")
        return BlockResult(table, file, out, {"rows_read": 0}, [], pd.Series(False, index=out.index, dtype=bool),
                           str(block.get("description") or ""), notes)
    for join in block["joins"]:
        frame = _join(frame, join, paths, file)
    for spec in block["where"]:
        frame = frame[filter_mask(frame, spec, file, notes)]
    counts = {"rows_read": len(frame)}
    for spec in block["drop"]:
        hit = filter_mask(frame, spec, file, notes)
        reason = f"dropped_{spec['reason']}"
        counts[reason] = counts.get(reason, 0) + int(hit.sum())
        frame = frame[~hit]
    frame = frame.reset_index(drop=True)
    ctx = {**ctx, "file": file, "timestamp": block["timestamp"], "notes": notes}
    problems = _Problems(table, file, frame["_row"])
    out = pd.DataFrame(index=frame.index)
    if block["identity"]:
        if ctx["key"] not in block["identity"]:
            raise MappingError(f"mapping '{ctx['mapping']}' table {table}: no '{ctx['key']}' customer key; "
                               f"available: {', '.join(block['identity'])} (use --key)")
        names = block["identity"][ctx["key"]]
        out["customer_id"] = customer_keys([read_columns(frame, names, file, notes=notes, field="customer_id")],
                                           ctx["key"], ctx["salt"])
        problems.add(", ".join(names), f"missing customer key ({ctx['key']})", out["customer_id"].isna())
    fields = block["fields"]
    order = sorted(fields, key=lambda f: "base" in fields[f])
    for name in order:
        out[name] = _convert(name, COLUMNS[table][name], fields[name], frame, out, ctx, problems)
        if name == "customer_id" and ctx["salt"] is not None:
            out[name] = hash_keys(out[name], ctx["salt"])
        required = name in REQUIRED_FIELDS[table] or COLUMNS[table][name] == "int64"
        if required and name != "customer_id" and "base" not in fields[name]:
            already = problems.bad if problems.bad is not None else False
            problems.add(", ".join(fields[name].get("column", [name])), "missing value",
                         out[name].isna() & ~already)
    for name in COLUMNS[table]:
        if name not in out:
            default = UNMAPPED_DEFAULTS.get(table, {}).get(name)
            out[name] = pd.Series(default if default is not None else pd.NA, index=frame.index)
    for name, spec in block["extras"].items():
        out[name] = _convert(name, TS if "timestamp" in spec else "str", spec, frame, out, ctx, problems)
    out = cast_canonical(out, table)
    out["_file"], out["_row"] = frame["_file"], frame["_row"]
    bad = problems.bad if problems.bad is not None else pd.Series(False, index=frame.index)
    return BlockResult(table, file, out, counts, problems.items, bad, str(block.get("description") or ""), notes)


def cast_canonical(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """Canonical columns first, in order and with canonical dtypes (ints keep NaN as 0 only
    where the value was missing; such rows are reported as problems); extras follow."""
    frame = frame.copy()
    for name, dtype in COLUMNS[table].items():
        if dtype == TS:
            frame[name] = pd.to_datetime(frame[name], utc=True).astype(TS)
        elif dtype == "int64":
            frame[name] = pd.to_numeric(frame[name], errors="coerce").fillna(0).round().astype("int64")
        elif dtype == "float64":
            frame[name] = pd.to_numeric(frame[name], errors="coerce").astype("float64")
        else:
            frame[name] = to_text(frame[name])
    extras = [c for c in frame.columns if c not in COLUMNS[table]]
    return frame[list(COLUMNS[table]) + extras]
