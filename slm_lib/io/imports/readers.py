"""Reading vendor export files into flat DataFrames (SPEC §10).

Three formats: CSV with ``header_rows`` header lines (the first one names the columns,
the others are question texts or import ids as Qualtrics and SurveyMonkey write them),
JSON (the records under a dotted ``records`` path, e.g. ``"tickets"``; the whole document
when it is a list) and JSON lines. Nested objects are flattened to dotted column names
(``via.channel``, ``statistics.first_admin_reply_at``). Two selectors reach into lists:
``contacts.contacts[0].id`` (by position) and ``sla.values[name=Time to first response]``
(the first element whose ``name`` equals the value). :func:`explode_records` turns a list
column into rows (one per audit event, conversation part or changelog item). Every frame
carries ``_file`` and ``_row`` (the 1-based data row or record number a user sees in the
file; exploded rows keep the number of the record they come from).
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pandas as pd

from slm_lib.errors import MappingError

FORMATS: tuple[str, ...] = ("csv", "json", "jsonl")
_DOT = re.compile(r"\.(?![^\[]*\])")
_SELECTOR = re.compile(r"^(?P<name>[^\[\]]+)\[(?:(?P<pos>-?\d+)|(?P<key>[^=\]]+)=(?P<value>[^\]]*))\]$")


def _records_at(document: Any, path: str | None, file: str) -> list:
    """The list of records found under the dotted ``path`` of a parsed JSON document."""
    node = document
    for part in (path.split(".") if path else []):
        if not isinstance(node, dict) or part not in node:
            keys = sorted(node) if isinstance(node, dict) else []
            raise MappingError(f"{file}: no records at '{path}' (top-level keys: {', '.join(keys) or 'none'})")
        node = node[part]
    if isinstance(node, dict):
        node = [node]
    if not isinstance(node, list):
        raise MappingError(f"{file}: records at '{path or '<document>'}' are not a list of objects")
    return node


def read_file(path: str | Path, format: str, records: str | None = None, header_rows: int = 1,
              required: bool = True) -> pd.DataFrame:
    """Read one export file into a flat frame of strings/objects with ``_file`` and ``_row``.

    Parameters
    ----------
    path : str or path-like
        The export file.
    format : {"csv", "json", "jsonl"}
        File format.
    records : str, optional
        Dotted path of the record list inside a JSON document (``"tickets"``).
    header_rows : int
        CSV only: number of header lines; the first names the columns, the rest are skipped.
    required : bool
        When False, a JSON document without ``records`` gives an empty frame instead of
        an error (used for optional side-loaded records such as Zendesk ``users``).

    Returns
    -------
    pandas.DataFrame
        One row per record; CSV cells are kept as strings (missing = NaN).

    Raises
    ------
    MappingError
        If the file cannot be read or the records path does not exist.

    Examples
    --------
    >>> import tempfile, os
    >>> with tempfile.TemporaryDirectory() as d:
    ...     p = os.path.join(d, "t.json")
    ...     _ = open(p, "w").write('{"tickets": [{"id": 1, "via": {"channel": "web"}}]}')
    ...     read_file(p, "json", records="tickets")["via.channel"].tolist()
    ['web']
    """
    path = Path(path)
    file = path.name
    if format not in FORMATS:
        raise MappingError(f"{file}: unknown format {format!r}; use one of {', '.join(FORMATS)}")
    try:
        if format == "csv":
            # extra header rows are dropped as parsed records, not as physical lines: their
            # quoted question texts may span several lines (Qualtrics, SurveyMonkey)
            frame = pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""],
                                encoding="utf-8-sig").iloc[header_rows - 1:]
            frame.columns = [str(c).strip() for c in frame.columns]
        else:
            text = path.read_text(encoding="utf-8-sig")
            if format == "jsonl":
                rows = [json.loads(line) for line in text.splitlines() if line.strip()]
            else:
                document = json.loads(text)
                if not required and records and isinstance(document, dict) and records not in document:
                    rows = []
                else:
                    rows = _records_at(document, records, file)
            frame = pd.json_normalize(rows, sep=".") if rows else pd.DataFrame()
    except (OSError, UnicodeDecodeError, ValueError, pd.errors.ParserError) as exc:
        if isinstance(exc, MappingError):
            raise
        raise MappingError(f"{file}: cannot read as {format}: {exc}") from exc
    frame = frame.reset_index(drop=True)
    frame["_file"] = file
    frame["_row"] = pd.RangeIndex(1, len(frame) + 1)
    return frame


def _flat(values: pd.Series) -> pd.DataFrame:
    """Flatten a Series of dicts (missing = NaN) into dotted columns, keeping the index."""
    present = values.dropna()
    present = present[present.map(type).eq(dict)]
    if present.empty:
        return pd.DataFrame(index=values.index)
    flat = pd.json_normalize(present.tolist(), sep=".")
    flat.index = present.index
    return flat.reindex(values.index)


def column_at(frame: pd.DataFrame, path: str) -> pd.Series | None:
    """The values at a dotted ``path`` with optional list selectors, or None if absent.

    Plain dotted paths are columns of the flattened frame; a column whose name differs only
    in letter case matches when it is the only one. A segment ``name[0]`` takes an
    element of a list column by position and ``name[key=value]`` the first element whose
    ``key`` equals ``value``; the remaining path is then read inside that element.

    Examples
    --------
    >>> f = pd.DataFrame({"sla": [[{"name": "a", "ms": 1}, {"name": "b", "ms": 2}]]})
    >>> column_at(f, "sla[name=b].ms").tolist()
    [2]
    """
    if path in frame.columns:
        return frame[path]
    folded = [c for c in frame.columns if isinstance(c, str) and c.casefold() == path.casefold()]
    if len(folded) == 1:  # header case differs, e.g. Salesforce Data Loader's CREATEDDATE
        return frame[folded[0]]
    parts = _DOT.split(path)
    for i in range(1, len(parts) + 1):
        rest = ".".join(parts[i:])
        match = _SELECTOR.match(parts[i - 1])
        if match is None:
            continue
        base = ".".join(parts[:i - 1] + [match["name"]])
        if base not in frame.columns:
            return None
        items = frame[base].explode()
        items = items[items.notna()]
        if match["pos"] is not None:
            pos = int(match["pos"])
            picked = items.groupby(level=0).nth(pos)
        else:
            inner = _flat(items.reset_index(drop=True))
            inner.index = items.index
            key = inner.get(match["key"])
            if key is None:
                return pd.Series(pd.NA, index=frame.index, dtype=object)
            picked = items[key.astype(str).eq(match["value"]).to_numpy()]
            picked = picked[~picked.index.duplicated()]
        picked = picked.reindex(frame.index)
        if not rest:
            return picked
        sub = _flat(picked)
        return column_at(sub, rest) if not sub.empty else pd.Series(pd.NA, index=frame.index, dtype=object)
    return None


def explode_records(frame: pd.DataFrame, path: str) -> pd.DataFrame | None:
    """One row per element of the list column ``path`` (None when the frame has no such column).

    Each element's fields become dotted columns under ``path`` (``events.type``,
    ``events.author_id``); the record's own columns are repeated on each of its rows, the
    list column itself included (so ``events[type=Create].id`` still sees the whole list).
    Records whose list is empty or missing give no row. Nested lists stay lists: explode
    them in turn (``changelog.histories``, then ``changelog.histories.items``).

    Examples
    --------
    >>> f = pd.DataFrame({"id": [1, 2], "events": [[{"type": "Comment"}, {"type": "Change"}], []]})
    >>> explode_records(f, "events")[["id", "events.type"]].values.tolist()
    [[1, 'Comment'], [1, 'Change']]
    """
    values = column_at(frame, path)
    if values is None:
        return None
    items = values.explode()
    items = items[items.map(type).eq(dict)]
    parent = frame.loc[items.index].reset_index(drop=True)
    inner = _flat(items.reset_index(drop=True))
    inner.columns = [f"{path}.{c}" for c in inner.columns]
    return pd.concat([parent.drop(columns=[c for c in inner.columns if c in parent.columns]), inner], axis=1)
