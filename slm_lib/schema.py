"""The canonical tables of SPEC §3: columns, dtypes and rules.

The rules are declared here as data (nullable columns, unique ids, allowed values, score
scales, timestamp order, references between tables) and checked by
:func:`row_violations` and :func:`reference_violations`, vectorised over whole columns.
Each check returns :class:`Violation` objects carrying a boolean mask of the offending
rows, so the caller can either report them (``errors="raise"``) or drop them
(``errors="drop"``); ``slm_lib.io.load`` is the only caller and applies both the same way
to files and to in-memory datasets.

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
import pyarrow as pa
import pyarrow.compute as pc

from slm_lib.config import SCALES
from slm_lib.keys import lookup_positions

TS = "datetime64[ns, UTC]"
STR = "str"

#: Column -> dtype of each canonical table, in canonical column order.
COLUMNS: dict[str, dict[str, str]] = {
    "tickets": {
        "ticket_id": STR,
        "customer_id": STR,
        "created_at": TS,
        "first_response_at": TS,
        "resolved_at": TS,
        "channel": STR,
        "priority": STR,
        "agent_id": STR,
        "team": STR,
        "replies": "int64",
        "reopens": "int64",
        "category": STR,
    },
    "surveys": {
        "response_id": STR,
        "customer_id": STR,
        "ticket_id": STR,
        "submitted_at": TS,
        "type": STR,
        "score": "int64",
        "comment": STR,
    },
    "customers": {
        "customer_id": STR,
        "signup_at": TS,
        "segment": STR,
        "region": STR,
        "churned_at": TS,
    },
    "revenue": {
        "customer_id": STR,
        "paid_at": TS,
        "amount": "float64",
        "order_id": STR,
    },
    "ticket_events": {
        "event_id": STR,
        "ticket_id": STR,
        "at": TS,
        "kind": STR,
        "actor": STR,
        "status": STR,
        "agent_id": STR,
        "team": STR,
        "priority": STR,
        "body": STR,
    },
}

TABLES: tuple[str, ...] = tuple(COLUMNS)
REQUIRED_TABLES: tuple[str, ...] = ("tickets",)
CHANNELS: tuple[str, ...] = ("email", "chat", "phone", "web", "social", "other")
PRIORITIES: tuple[str, ...] = ("low", "normal", "high", "urgent")
SURVEY_TYPES: tuple[str, ...] = ("csat", "nps", "ces")
EVENT_KINDS: tuple[str, ...] = ("status", "public_reply", "customer_message", "internal_note", "assignment",
                                "priority")
EVENT_ACTORS: tuple[str, ...] = ("agent", "customer", "system")
#: Ticket statuses (Zendesk's): the requester waits in new, open and on_hold; the agent in pending.
EVENT_STATUSES: tuple[str, ...] = ("new", "open", "pending", "on_hold", "solved", "closed")
#: Optional tables whose absence is the usual case (most exports carry no event history): a
#: missing file gives an empty table without a ``missing table`` row in the quality table.
QUIET_TABLES: tuple[str, ...] = ("ticket_events",)


def empty_frame(table: str) -> pd.DataFrame:
    """An empty DataFrame with the canonical columns and dtypes of ``table``.

    Examples
    --------
    >>> list(empty_frame("revenue").columns)
    ['customer_id', 'paid_at', 'amount', 'order_id']
    """
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in COLUMNS[table].items()})


#: Columns that may hold missing values; every other column is required.
NULLABLE: dict[str, frozenset[str]] = {
    "tickets": frozenset({"first_response_at", "resolved_at", "agent_id", "team", "category"}),
    "surveys": frozenset({"ticket_id", "comment"}),
    "customers": frozenset({"region", "churned_at"}),
    "revenue": frozenset({"order_id"}),
    "ticket_events": frozenset({"status", "agent_id", "team", "priority", "body"}),
}

#: The id column of a table that must be unique.
UNIQUE: dict[str, str] = {"tickets": "ticket_id", "surveys": "response_id", "customers": "customer_id",
                          "ticket_events": "event_id"}

#: Integer columns that must be >= 0.
NON_NEGATIVE: dict[str, tuple[str, ...]] = {"tickets": ("replies", "reopens")}

#: (later, earlier) timestamp pairs: ``later`` must not precede ``earlier`` when both are set.
ORDER: dict[str, tuple[tuple[str, str], ...]] = {
    "tickets": (("first_response_at", "created_at"), ("resolved_at", "created_at")),
    "customers": (("churned_at", "signup_at"),),
}

#: Closed sets of allowed values (after normalisation: stripped and lower-cased).
DOMAINS: dict[str, dict[str, tuple[str, ...]]] = {
    "tickets": {"channel": CHANNELS, "priority": PRIORITIES},
    "surveys": {"type": SURVEY_TYPES},
    "ticket_events": {"kind": EVENT_KINDS, "actor": EVENT_ACTORS, "status": EVENT_STATUSES, "priority": PRIORITIES},
}

#: (column, other column, value): ``column`` is required on the rows where ``other column``
#: equals ``value`` (a status event must say which status).
REQUIRED_WHEN: dict[str, tuple[tuple[str, str, str], ...]] = {"ticket_events": (("status", "kind", "status"),)}

#: (table, column, referenced table, referenced column): every non-missing value of
#: ``column`` must exist in the referenced table (checked when that table has rows).
REFERENCES: tuple[tuple[str, str, str, str], ...] = (
    ("tickets", "customer_id", "customers", "customer_id"),
    ("surveys", "customer_id", "customers", "customer_id"),
    ("surveys", "ticket_id", "tickets", "ticket_id"),
    ("revenue", "customer_id", "customers", "customer_id"),
    ("ticket_events", "ticket_id", "tickets", "ticket_id"),
)

#: (table, column, referenced table, key, referenced column): a row's ``column`` must not
#: precede ``referenced column`` of the row it refers to (a survey answered before its ticket).
CROSS_ORDER: tuple[tuple[str, str, str, str, str], ...] = (
    ("surveys", "submitted_at", "tickets", "ticket_id", "created_at"),
    ("ticket_events", "at", "tickets", "ticket_id", "created_at"),
)

#: Tables in the order their references need them (a referenced table comes first).
DEPENDENCY_ORDER: tuple[str, ...] = ("customers", "tickets", "ticket_events", "surveys", "revenue")

#: Priority given to tickets whose priority is missing.
DEFAULT_PRIORITY: str = "normal"

#: Channel names seen in exports -> canonical channel (keys lower-case, spaces collapsed).
#: Any other value that is not a canonical channel is reported, never guessed.
CHANNEL_SYNONYMS: dict[str, str] = {
    "e-mail": "email", "mail": "email", "e mail": "email",
    "live chat": "chat", "livechat": "chat", "live-chat": "chat",
    "telephone": "phone", "voice": "phone", "phone call": "phone",
    "web form": "web", "webform": "web", "web-form": "web", "portal": "web",
    "twitter": "social", "facebook": "social", "instagram": "social",
}

#: Columns kept verbatim (not stripped) when normalising strings.
VERBATIM: frozenset[str] = frozenset({"comment", "body"})


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


def _per_unique(values: pd.Series, func) -> pd.Series:
    """Apply a string transformation once per distinct value (fast on long columns)."""
    codes, uniques = pd.factorize(values)
    done = func(pd.Series(uniques, dtype="str")).to_numpy(dtype=object, na_value=np.nan)
    return pd.Series(np.append(done, np.nan)[codes], index=values.index, dtype="str")


def _lower(values: pd.Series) -> pd.Series:
    return _per_unique(values, lambda u: u.str.strip().str.lower())


def isin(values: pd.Series, allowed: pd.Index | pd.Series | tuple | list) -> np.ndarray:
    """Vectorised membership test of string ``values`` in ``allowed`` (missing -> False).

    Uses ``pyarrow.compute.is_in``: pandas' own ``isin`` on Arrow strings loops in Python
    over ``allowed``, which is slow for id sets of a million customers or tickets.

    Examples
    --------
    >>> isin(pd.Series(["a", None, "c"]), ["a", "b"]).tolist()
    [True, False, False]
    """
    kind = pa.large_string()
    haystack = pa.array(pd.Series(allowed, dtype="str"), type=kind, from_pandas=True)
    needles = pa.array(pd.Series(values, dtype="str"), type=kind, from_pandas=True)
    found = pc.is_in(needles, value_set=haystack, skip_nulls=True)
    return pc.fill_null(found, False).to_numpy(zero_copy_only=False)


def normalise_channel(values: pd.Series) -> pd.Series:
    """Lower-case, strip and map documented synonyms (:data:`CHANNEL_SYNONYMS`).

    Unknown values are returned lower-cased so that :func:`row_violations` reports them.

    Examples
    --------
    >>> normalise_channel(pd.Series(["E-mail", " Live Chat", "fax"])).tolist()
    ['email', 'chat', 'fax']
    """
    return _per_unique(values, lambda u: u.str.strip().str.lower().replace(CHANNEL_SYNONYMS))


def normalise_category(values: pd.Series) -> pd.Series:
    """Lower-case and strip (the columns with a closed set of values: priority, survey type, event kind...).

    Examples
    --------
    >>> normalise_category(pd.Series([" High", "NPS"])).tolist()
    ['high', 'nps']
    """
    return _lower(values)


def _examples(values: pd.Series, mask: np.ndarray, k: int = 3) -> str:
    shown = pd.unique(values[mask].astype(str))[:k]
    return ", ".join(repr(v) for v in shown)


def row_violations(table: str, frame: pd.DataFrame, *,
                   scales: Mapping[str, tuple[int, int]] | None = None,
                   unparsed: Mapping[str, np.ndarray] | None = None) -> list[Violation]:
    """Check the single-table rules of ``table`` on a frame with parsed columns.

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
    scales = SCALES if scales is None else scales
    unparsed = unparsed or {}
    present = [c for c in COLUMNS[table] if c in frame.columns]
    found: list[Violation] = []

    def add(column: str, rule: str, mask: np.ndarray) -> None:
        if mask.any():
            found.append(Violation(table, column, rule, mask))

    for column in present:
        values = frame[column]
        skip = unparsed.get(column, np.zeros(len(frame), dtype=bool))
        if column not in NULLABLE[table]:
            add(column, "missing value", values.isna().to_numpy() & ~skip)
        dtype = COLUMNS[table][column]
        if dtype in ("int64", "float64") and values.dtype.kind in "fiu":
            number = values.to_numpy(dtype="float64", na_value=np.nan)
            known = ~np.isnan(number)
            if dtype == "int64":
                add(column, "not an integer", known & ~(np.isfinite(number) & (np.floor(number) == number)))
            else:
                add(column, "not a finite number", known & ~np.isfinite(number))
            if column in NON_NEGATIVE.get(table, ()):
                add(column, "negative value", known & (number < 0))
        allowed = DOMAINS.get(table, {}).get(column)
        if allowed is not None:
            bad = values.notna().to_numpy() & ~isin(values, allowed)
            if bad.any():
                add(column, f"unknown value(s) {_examples(values, bad)} "
                            f"(allowed: {', '.join(allowed)})", bad)
    for column, other, value in REQUIRED_WHEN.get(table, ()):
        if column in frame.columns and other in frame.columns:
            skip = unparsed.get(column, np.zeros(len(frame), dtype=bool))
            add(column, f"missing value where {other} is {value!r}",
                frame[column].isna().to_numpy() & (frame[other] == value).to_numpy(dtype=bool, na_value=False) & ~skip)
    for later, earlier in ORDER.get(table, ()):
        if later in frame.columns and earlier in frame.columns:
            add(later, f"{later} before {earlier}", (frame[later] < frame[earlier]).to_numpy())
    if table == "surveys" and {"type", "score"} <= set(frame.columns):
        score = frame["score"].to_numpy(dtype="float64", na_value=np.nan)
        kind = frame["type"].to_numpy(dtype=object, na_value=None)
        for survey_type, (low, high) in scales.items():
            add("score", f"out of range for {survey_type} ({low}-{high})",
                (kind == survey_type) & ((score < low) | (score > high)))
    key = UNIQUE.get(table)
    if key in frame.columns:
        # a repeated id counts only among otherwise valid rows: dropping an invalid first copy
        # must not take its valid twin with it
        invalid = np.zeros(len(frame), dtype=bool)
        for mask in [v.mask for v in found] + list(unparsed.values()):
            invalid |= mask
        values = frame[key].where(~invalid)
        add(key, f"duplicate {key}", (values.duplicated(keep="first") & values.notna()).to_numpy())
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
            found.append(Violation(table, column, f"{column} not in {target}", mask))
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
            found.append(Violation(table, column, f"{column} before the {target[:-1]}'s {target_column}", mask))
    return found
