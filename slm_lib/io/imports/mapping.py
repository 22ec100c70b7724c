"""Import mappings (SPEC §10): load a YAML mapping and check it before any file is read.

A mapping is data, not code: per canonical table one or more *blocks*, each naming the
files it reads (basename globs), their format, nested lists to explode into rows
(``explode``: one row per audit event, conversation part or changelog item), optional
joins with side files, row selection (``where``), drop filters counted by reason
(``drop``), the customer identity columns, and one spec per canonical field.
``docs/imports.md`` documents the format; the built-in mappings live in
``slm_lib/io/mappings/<name>.yaml``.
"""
from __future__ import annotations

import difflib
import os
import re
from pathlib import Path
from typing import Any

import yaml

from slm_lib.errors import MappingError
from slm_lib.io.imports.readers import FORMATS
from slm_lib.schema import COLUMNS, TS

MAPPINGS_DIR = Path(__file__).resolve().parent.parent / "mappings"

TOP_KEYS = {"name", "description", "tz", "tables"}
BLOCK_KEYS = {"description", "files", "format", "records", "header_rows", "explode", "joins", "where", "drop",
              "identity", "fields", "extras", "timestamp"}
JOIN_KEYS = {"files", "format", "records", "header_rows", "left_on", "right_on", "prefix", "required", "where"}
FILTER_OPS = {"in", "not_in", "contains", "empty", "nonempty", "gt", "lt", "equals", "same_as", "not_same_as"}
FIELD_KEYS = {"column", "value", "template", "map", "default", "timestamp", "base", "duration", "unit", "scale",
              "suffix", "only_if", "description", "optional"}
#: ``{column}`` placeholders of a ``template`` field.
PLACEHOLDER = re.compile(r"\{([^{}]+)\}")
#: Units of duration columns: how many of the unit make one hour.
UNITS = {"ms": 3_600_000.0, "seconds": 3600.0, "minutes": 60.0, "hours": 1.0, "days": 1 / 24}
IDENTITY_KEYS = ("id", "email")
#: Canonical fields every block of a table must fill (customer_id may come from ``identity``).
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "tickets": ("ticket_id", "customer_id", "created_at"),
    "surveys": ("response_id", "customer_id", "submitted_at", "type", "score"),
    "customers": ("customer_id", "signup_at"),
    "revenue": ("customer_id", "paid_at", "amount"),
    "ticket_events": ("event_id", "ticket_id", "at", "kind", "actor"),
}


def builtin_mappings() -> list[str]:
    """Names of the mappings shipped with slm (``slm import --from NAME``).

    Examples
    --------
    >>> "zendesk" in builtin_mappings()
    True
    """
    return sorted(p.stem for p in MAPPINGS_DIR.glob("*.yaml"))


def _unknown(keys: Any, allowed: set[str], where: str) -> None:
    extra = sorted(set(map(str, keys)) - allowed)
    if extra:
        hints = {k: difflib.get_close_matches(k, sorted(allowed), n=1) for k in extra}
        text = ", ".join(f"'{k}'" + (f" (did you mean '{hints[k][0]}'?)" if hints[k] else "") for k in extra)
        raise MappingError(f"{where}: unknown key(s) {text}; allowed: {', '.join(sorted(allowed))}")


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _check_timestamp(fmt: Any, where: str) -> None:
    if not (fmt in ("iso", "epoch_s", "epoch_ms") or (isinstance(fmt, str) and "%" in fmt)):
        raise MappingError(f"{where}: timestamp format {fmt!r} is not iso, epoch_s, epoch_ms "
                           "or a strptime pattern such as '%d/%m/%Y %H:%M'")


def _optional(spec: dict, where: str) -> None:
    if not isinstance(spec.get("optional", False), bool):
        raise MappingError(f"{where}: 'optional' must be true or false, got {spec['optional']!r}")


def _field(spec: Any, where: str) -> dict:
    """Normalise one field spec: a column name (str), a list (a column and its fallbacks), or a dict.

    ``optional: true`` lets the file lack the column (and the ``duration`` and ``only_if``
    columns of the spec): the values are then missing. ``template: "{a}:{b}"`` joins the
    text of several columns (missing when one of them is).
    """
    if isinstance(spec, (str, list)):
        spec = {"column": spec}
    if not isinstance(spec, dict):
        raise MappingError(f"{where}: a field spec must be a column name or a mapping, got {spec!r}")
    _unknown(spec, FIELD_KEYS, where)
    spec = dict(spec)  # YAML aliases share one dict between blocks: never normalise it in place
    kinds = [k for k in ("column", "value", "template", "base") if k in spec]
    if len(kinds) != 1:
        raise MappingError(f"{where}: give exactly one of 'column', 'value', 'template' or 'base'+'duration'")
    if "template" in spec and not (isinstance(spec["template"], str) and PLACEHOLDER.search(spec["template"])):
        raise MappingError(f"{where}: a template is text naming columns in braces, e.g. '{{id}}:{{field}}', "
                           f"got {spec['template']!r}")
    if "base" in spec and "duration" not in spec:
        raise MappingError(f"{where}: a derived field needs 'duration' (a column) besides 'base'")
    if "unit" in spec and spec["unit"] not in UNITS:
        raise MappingError(f"{where}: unit {spec['unit']!r} is not one of {', '.join(UNITS)}")
    if "timestamp" in spec:
        _check_timestamp(spec["timestamp"], where)
    if "map" in spec:
        if not isinstance(spec["map"], dict):
            raise MappingError(f"{where}: 'map' must be a mapping of vendor value -> value")
        spec["map"] = {str(k).strip().lower(): v for k, v in spec["map"].items()}
    _optional(spec, where)
    if "column" in spec:
        spec["column"] = [str(c) for c in _as_list(spec["column"])]
    if "only_if" in spec:
        spec["only_if"] = _filter(spec["only_if"], f"{where}.only_if", False)
        if spec.get("optional"):
            spec["only_if"].setdefault("optional", True)
    return spec


def _filter(spec: Any, where: str, need_reason: bool) -> dict:
    if not isinstance(spec, dict):
        raise MappingError(f"{where}: a filter must be a mapping with 'column' and one operator")
    _unknown(spec, FILTER_OPS | {"column", "reason", "optional"}, where)
    _optional(spec, where)
    spec = dict(spec)
    ops = [k for k in spec if k in FILTER_OPS]
    if "column" not in spec or len(ops) != 1:
        raise MappingError(f"{where}: a filter needs 'column' and exactly one of {', '.join(sorted(FILTER_OPS))}")
    if ops[0] in ("same_as", "not_same_as") and not isinstance(spec[ops[0]], str):
        raise MappingError(f"{where}: '{ops[0]}' names another column, got {spec[ops[0]]!r}")
    if need_reason and not spec.get("reason"):
        raise MappingError(f"{where}: a drop filter needs a 'reason' (it names the dropped_<reason> count)")
    return spec


def _explode(spec: Any, where: str) -> dict:
    """One list column to explode: its dotted path, or ``{column: path, optional: true}``."""
    spec = {"column": spec} if isinstance(spec, str) else spec
    if not isinstance(spec, dict) or not isinstance(spec.get("column"), str):
        raise MappingError(f"{where}: explode names a list column, e.g. 'events' or {{column: events, optional: true}}")
    _unknown(spec, {"column", "optional"}, where)
    _optional(spec, where)
    return {"column": spec["column"], "optional": bool(spec.get("optional"))}


def _block(block: Any, table: str, where: str) -> dict:
    if not isinstance(block, dict):
        raise MappingError(f"{where}: a table entry must be a mapping")
    _unknown(block, BLOCK_KEYS, where)
    block = dict(block)
    if not block.get("files"):
        raise MappingError(f"{where}: 'files' (one or more file name patterns) is required")
    block["files"] = [str(f) for f in _as_list(block["files"])]
    block.setdefault("format", "csv")
    if block["format"] not in FORMATS:
        raise MappingError(f"{where}: format {block['format']!r} is not one of {', '.join(FORMATS)}")
    block.setdefault("header_rows", 1)
    if not isinstance(block["header_rows"], int) or block["header_rows"] < 1:
        raise MappingError(f"{where}: header_rows must be an integer >= 1")
    block.setdefault("timestamp", "iso")
    _check_timestamp(block["timestamp"], where)
    block["explode"] = [_explode(e, f"{where}.explode[{i}]")
                        for i, e in enumerate(_as_list(block.get("explode", [])))]
    joins = []
    for i, join in enumerate(_as_list(block.get("joins", []))):
        jwhere = f"{where}.joins[{i}]"
        if not isinstance(join, dict):
            raise MappingError(f"{jwhere}: a join must be a mapping")
        _unknown(join, JOIN_KEYS, jwhere)
        missing = [k for k in ("files", "left_on", "right_on", "prefix") if k not in join]
        if missing:
            raise MappingError(f"{jwhere}: missing key(s) {', '.join(missing)}")
        join = {"format": "json", "header_rows": 1, "records": None, "required": True, **join}
        join["files"] = [str(f) for f in _as_list(join["files"])]
        join["where"] = [_filter(f, f"{jwhere}.where[{k}]", False) for k, f in enumerate(join.get("where") or [])]
        joins.append(join)
    block["joins"] = joins
    block["where"] = [_filter(f, f"{where}.where[{i}]", False) for i, f in enumerate(block.get("where", []))]
    block["drop"] = [_filter(f, f"{where}.drop[{i}]", True) for i, f in enumerate(block.get("drop", []))]
    identity = block.get("identity") or {}
    _unknown(identity, set(IDENTITY_KEYS), f"{where}.identity")
    block["identity"] = {k: [str(c) for c in _as_list(v)] for k, v in identity.items()}
    fields = block.get("fields") or {}
    unknown = sorted(set(fields) - set(COLUMNS[table]))
    if unknown:
        hints = difflib.get_close_matches(unknown[0], list(COLUMNS[table]), n=3)
        raise MappingError(f"{where}.fields: unknown {table} field(s) {', '.join(unknown)}"
                           + (f" (closest: {', '.join(hints)})" if hints else "")
                           + f"; canonical fields: {', '.join(COLUMNS[table])}")
    if "customer_id" in fields and block["identity"]:
        raise MappingError(f"{where}: give customer_id either in 'fields' or through 'identity', not both")
    block["fields"] = {k: _field(v, f"{where}.fields.{k}") for k, v in fields.items()}
    for name, spec in block["fields"].items():
        base = spec.get("base")
        if base is not None and (base not in block["fields"] or "base" in block["fields"][base]
                                 or COLUMNS[table].get(base) != TS or COLUMNS[table][name] != TS):
            raise MappingError(f"{where}.fields.{name}: 'base' must name another timestamp field of the "
                               f"block read from a column (got {base!r})")
    missing = [f for f in REQUIRED_FIELDS[table]
               if f not in block["fields"] and not (f == "customer_id" and block["identity"])]
    if missing:
        raise MappingError(f"{where}: required {table} field(s) not mapped: {', '.join(missing)}")
    block["extras"] = {k: _field(v, f"{where}.extras.{k}") for k, v in (block.get("extras") or {}).items()}
    return block


def validate_mapping(raw: Any, origin: str = "<mapping>") -> dict:
    """Check a parsed mapping and return it normalised (every block a full dict).

    Raises
    ------
    MappingError
        Unknown keys (with the closest allowed key), unknown target fields, required
        fields not mapped, bad formats, units or timestamp patterns. The message names
        ``origin`` and the path inside the mapping.

    Examples
    --------
    >>> m = validate_mapping({"name": "x", "tables": {"revenue": {"files": "pay*.csv",
    ...     "fields": {"customer_id": "cust", "paid_at": "date", "amount": "amt"}}}})
    >>> m["tables"]["revenue"][0]["format"]
    'csv'
    """
    if not isinstance(raw, dict):
        raise MappingError(f"{origin}: a mapping must be a YAML mapping with 'tables'")
    _unknown(raw, TOP_KEYS, origin)
    tables = raw.get("tables")
    if not isinstance(tables, dict) or not tables:
        raise MappingError(f"{origin}: 'tables' must map canonical table names to file blocks")
    _unknown(tables, set(COLUMNS), f"{origin}: tables")
    out = {"name": str(raw.get("name", Path(origin).stem)), "description": raw.get("description", ""),
           "tz": raw.get("tz"), "tables": {}}
    for table, blocks in tables.items():
        out["tables"][table] = [_block(b, table, f"{origin}: tables.{table}[{i}]")
                                for i, b in enumerate(_as_list(blocks))]
    return out


def load_mapping(source: str | os.PathLike) -> dict:
    """Load a built-in mapping by name (``"zendesk"``) or a user's YAML file, validated.

    Examples
    --------
    >>> load_mapping("stripe")["name"]
    'stripe'
    """
    text_source = str(source)
    path = Path(text_source)
    if not (path.suffix in (".yaml", ".yml") or path.is_file()):
        path = MAPPINGS_DIR / f"{text_source.lower()}.yaml"
        if not path.exists():
            close = difflib.get_close_matches(text_source.lower(), builtin_mappings(), n=3)
            raise MappingError(f"unknown import source {text_source!r}; built-in: {', '.join(builtin_mappings())}"
                               + (f" (closest: {', '.join(close)})" if close else "")
                               + "; or give the path of a YAML mapping")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise MappingError(f"{path}: cannot read mapping: {exc}") from exc
    return validate_mapping(raw, origin=str(path.name))
