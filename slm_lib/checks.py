"""The rules of SPEC §3 evaluated on pandas frames: one boolean mask per rule, vectorised over whole columns.

The rules themselves are declared once in :mod:`slm_lib.schema` (:func:`~slm_lib.schema.table_rules`,
:data:`~slm_lib.schema.REFERENCES`, :data:`~slm_lib.schema.CROSS_ORDER`); this module turns
each into a mask, :mod:`slm_lib.engines.validate` into an ibis predicate. Each check returns
:class:`Violation` objects carrying the mask of the offending rows, so the caller can either
report them (``errors="raise"``) or drop them (``errors="drop"``); ``slm_lib.io.load``
applies both the same way to files and to in-memory datasets.

Pandera was considered for the per-column checks; it is not used because the loader needs
one boolean mask per rule (to drop rows and count them), rules across tables, and problems
that exclude values already reported as unparseable. Plain vectorised masks do all three
in one pass without building a failure-case frame per check.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from slm_lib.keys import lookup_positions
from slm_lib.schema import CROSS_ORDER, REFERENCES, Rule, cross_order_rule, isin, reference_rule, shown_values, table_rules


@dataclass(frozen=True)
class Violation:
    """Rows of one table that break one rule; ``mask`` is aligned with the table's rows."""

    table: str
    column: str
    rule: str
    mask: np.ndarray

    @property
    def n_rows(self) -> int:
        """Number of offending rows."""
        return int(self.mask.sum())


def _examples(values: pd.Series, mask: np.ndarray, k: int = 3) -> str:
    shown = pd.unique(values[mask].astype(str))[:k]
    return shown_values(shown)


class _Arrays:
    """numpy arrays of a frame's columns, each converted once per check (several rules read one column)."""

    def __init__(self, frame: pd.DataFrame):
        self.frame, self._done = frame, {}

    def numbers(self, column: str) -> np.ndarray:
        if ("f", column) not in self._done:
            self._done["f", column] = self.frame[column].to_numpy(dtype="float64", na_value=np.nan)
        return self._done["f", column]

    def objects(self, column: str) -> np.ndarray:
        if ("o", column) not in self._done:
            self._done["o", column] = self.frame[column].to_numpy(dtype=object, na_value=None)
        return self._done["o", column]


def _rule_mask(rule: Rule, arrays: _Arrays, skip: np.ndarray) -> np.ndarray | None:
    """Offending rows of one rule (not ``unique``) as a boolean array; None when it does not apply to the dtype."""
    frame = arrays.frame
    values = frame[rule.column]
    if rule.kind == "missing":
        return values.isna().to_numpy() & ~skip
    if rule.kind == "range":
        number = arrays.numbers(rule.column)
        return (arrays.objects(rule.other) == rule.values[0]) & ((number < rule.values[1]) | (number > rule.values[2]))
    if rule.kind in ("integer", "finite", "negative"):
        if values.dtype.kind not in "fiu":
            return None
        number = arrays.numbers(rule.column)
        known = ~np.isnan(number)
        if rule.kind == "integer":
            return known & ~(np.isfinite(number) & (np.floor(number) == number))
        return known & (~np.isfinite(number) if rule.kind == "finite" else number < 0)
    if rule.kind == "domain":
        return values.notna().to_numpy() & ~isin(values, rule.values)
    if rule.kind == "required_when":
        condition = (frame[rule.other] == rule.values[0]).to_numpy(dtype=bool, na_value=False)
        return values.isna().to_numpy() & condition & ~skip
    return (values < frame[rule.other]).to_numpy()   # order


def row_violations(table: str, frame: pd.DataFrame, *,
                   scales: Mapping[str, tuple[int, int]] | None = None,
                   unparsed: Mapping[str, np.ndarray] | None = None) -> list[Violation]:
    """Check the single-table rules of ``table`` (:func:`table_rules`) on a frame with parsed columns.

    Parameters
    ----------
    table : str
        Canonical table name.
    frame : pandas.DataFrame
        The table, timestamps parsed, numbers as float or int (missing allowed), strings
        normalised. Absent columns are skipped (the caller reports them).
    scales : mapping, optional
        Survey score scales ``{type: (low, high)}``; default :data:`slm_lib.config.SCALES`.
    unparsed : mapping of column -> bool array, optional
        Rows whose value could not be parsed (already reported); they are not reported
        again as missing.

    Returns
    -------
    list of Violation
        Only rules with at least one offending row.

    Examples
    --------
    >>> t = pd.DataFrame({"customer_id": ["c1", "c1", "c1"], "signup_at": pd.to_datetime(
    ...     [None, "2026-01-01", "2026-02-01"], utc=True), "segment": ["smb", "smb", "smb"]})
    >>> [(v.column, v.rule, v.n_rows) for v in row_violations("customers", t)]
    [('signup_at', 'missing value', 1), ('customer_id', 'duplicate customer_id', 1)]
    """
    unparsed = unparsed or {}
    found: list[Violation] = []
    nothing = np.zeros(len(frame), dtype=bool)
    arrays = _Arrays(frame)
    for rule in table_rules(table, frame.columns, scales):
        if rule.kind == "unique":
            # a repeated id counts only among otherwise valid rows: dropping an invalid first copy
            # must not take its valid twin with it
            invalid = nothing.copy()
            for mask in [v.mask for v in found] + list(unparsed.values()):
                invalid |= mask
            values = frame[rule.column].where(~invalid)
            mask = (values.duplicated(keep="first") & values.notna()).to_numpy()
        else:
            mask = _rule_mask(rule, arrays, unparsed.get(rule.column, nothing))
        if mask is not None and mask.any():
            examples = _examples(frame[rule.column], mask) if rule.kind == "domain" else ""
            found.append(Violation(table, rule.column, rule.text(examples), mask))
    return found


def reference_violations(table: str, frame: pd.DataFrame,
                         known: Mapping[str, pd.Index | None]) -> list[Violation]:
    """Check the references of ``table`` (:data:`REFERENCES`) against known ids.

    Parameters
    ----------
    table : str
        The referencing table.
    frame : pandas.DataFrame
        Its rows.
    known : mapping of referenced table -> ids
        Ids of each referenced table; ``None`` (or a missing key) skips the check, e.g.
        when the customers table was not given.

    Examples
    --------
    >>> r = pd.DataFrame({"customer_id": ["c1", "c9"]})
    >>> [(v.rule, v.n_rows) for v in reference_violations("revenue", r, {"customers": pd.Index(["c1"])})]
    [('customer_id not in customers', 1)]
    """
    found = []
    for source, column, target, target_column in REFERENCES:
        ids = known.get(target)
        if source != table or ids is None or column not in frame.columns:
            continue
        values = frame[column]
        mask = values.notna().to_numpy() & ~isin(values, ids)
        if mask.any():
            found.append(Violation(table, column, reference_rule(column, target), mask))
    return found


def cross_order_violations(table: str, frame: pd.DataFrame,
                           parsed: Mapping[str, pd.DataFrame]) -> list[Violation]:
    """Rows whose timestamp precedes that of the row they refer to (:data:`CROSS_ORDER`).

    Examples
    --------
    >>> t = pd.DataFrame({"ticket_id": ["t1"], "created_at": pd.to_datetime(["2026-10-02"], utc=True)})
    >>> s = pd.DataFrame({"ticket_id": ["t1", "t1", None], "submitted_at": pd.to_datetime(
    ...     ["2026-10-01", "2026-10-03", "2026-09-01"], utc=True)})
    >>> [(v.rule, v.n_rows) for v in cross_order_violations("surveys", s, {"tickets": t})]
    [("submitted_at before the ticket's created_at", 1)]
    """
    found = []
    for source, column, target, key, target_column in CROSS_ORDER:
        other = parsed.get(target)
        if source != table or other is None or not {column, key} <= set(frame.columns) \
                or not {key, target_column} <= set(other.columns):
            continue
        if not len(other) or not len(frame):
            continue
        position = lookup_positions(other[key], frame[key])   # a repeated id is reported by its own rule
        instants = lambda s: s.to_numpy(dtype="datetime64[ns]")  # noqa: E731  (UTC; NaT compares False)
        reference = instants(other[target_column])[np.maximum(position, 0)]
        mask = (position >= 0) & (instants(frame[column]) < reference)
        if mask.any():
            found.append(Violation(table, column, cross_order_rule(column, target, target_column), mask))
    return found
