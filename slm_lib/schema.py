"""The canonical tables of SPEC §3: columns, dtypes, normalisation and rules.

The rules are declared here once, as data (nullable columns, unique ids, allowed values,
score scales, timestamp order, references between tables) and as the list of
:class:`Rule` objects :func:`table_rules` derives from it. Two evaluators read that one
declaration: :mod:`slm_lib.checks` turns each rule into a pandas mask (``load_data``) and
:mod:`slm_lib.engines.validate` into an ibis predicate (DuckDB, Spark), so both report the
same problems with the same words.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from slm_lib.config import SCALES

TS = "datetime64[ns, UTC]"
STR = "str"
#: First and last day of the instants a timestamp column can hold (nanoseconds since 1970 in
#: int64); a value outside is reported as not a timestamp, on every engine.
TS_RANGE: tuple[str, str] = ("1677-09-22", "2262-04-11")

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


def shown_values(values) -> str:
    """Example values as a rule's message shows them (``'a', 'b'``)."""
    return ", ".join(repr(str(v)) for v in values)


#: Kinds of single-table rules, in the order :func:`table_rules` lists them for a column.
RULE_KINDS: tuple[str, ...] = ("missing", "integer", "finite", "negative", "domain", "required_when", "order",
                               "range", "unique")


@dataclass(frozen=True)
class Rule:
    """One rule of SPEC §3 on one column, declared once for every engine.

    ``kind`` says how it is evaluated (:data:`RULE_KINDS`); ``other`` and ``values`` are
    its arguments: the earlier column of an ``order`` rule, the condition column and value
    of ``required_when``, the allowed values of ``domain``, the type column and
    ``(type, low, high)`` of ``range``. The pandas masks (:func:`row_violations`) and the
    ibis predicates (:mod:`slm_lib.engines.validate`) both read these, so the rules have
    one declaration.
    """

    table: str
    column: str
    kind: str
    other: str = ""
    values: tuple = ()

    def text(self, examples: str = "") -> str:
        """The rule as a problem names it; ``domain`` rules show ``examples`` of the unknown values."""
        if self.kind == "domain":
            return f"unknown value(s) {examples} (allowed: {', '.join(self.values)})"
        if self.kind == "required_when":
            return f"missing value where {self.other} is {self.values[0]!r}"
        if self.kind == "order":
            return f"{self.column} before {self.other}"
        if self.kind == "range":
            return f"out of range for {self.values[0]} ({self.values[1]}-{self.values[2]})"
        if self.kind == "unique":
            return f"duplicate {self.column}"
        return {"missing": "missing value", "integer": "not an integer", "finite": "not a finite number",
                "negative": "negative value"}[self.kind]


def table_rules(table: str, columns, scales: Mapping[str, tuple[int, int]] | None = None) -> list[Rule]:
    """The single-table rules of ``table`` that apply to the given ``columns``, in the order they are checked.

    Per column in canonical order: missing value, not an integer / not a finite number,
    negative value, unknown value; then conditional requirements, timestamp order, score
    ranges and, last, the unique id (judged among rows that break no earlier rule).

    Examples
    --------
    >>> [r.text() for r in table_rules("customers", ["customer_id", "signup_at", "churned_at"])]
    ['missing value', 'missing value', 'churned_at before signup_at', 'duplicate customer_id']
    """
    scales = SCALES if scales is None else scales
    present = [c for c in COLUMNS[table] if c in set(columns)]
    rules: list[Rule] = []
    for column in present:
        if column not in NULLABLE[table]:
            rules.append(Rule(table, column, "missing"))
        dtype = COLUMNS[table][column]
        if dtype in ("int64", "float64"):
            rules.append(Rule(table, column, "integer" if dtype == "int64" else "finite"))
            if column in NON_NEGATIVE.get(table, ()):
                rules.append(Rule(table, column, "negative"))
        if column in DOMAINS.get(table, {}):
            rules.append(Rule(table, column, "domain", values=DOMAINS[table][column]))
    rules += [Rule(table, column, "required_when", other, (value,)) for column, other, value in REQUIRED_WHEN.get(table, ())
              if {column, other} <= set(present)]
    rules += [Rule(table, later, "order", earlier) for later, earlier in ORDER.get(table, ())
              if {later, earlier} <= set(present)]
    if table == "surveys" and {"type", "score"} <= set(present):
        rules += [Rule(table, "score", "range", "type", (kind, low, high)) for kind, (low, high) in scales.items()]
    if UNIQUE.get(table) in present:
        rules.append(Rule(table, UNIQUE[table], "unique"))
    return rules


def reference_rule(column: str, target: str) -> str:
    """The rule text of a reference (:data:`REFERENCES`) that is not found."""
    return f"{column} not in {target}"


def cross_order_rule(column: str, target: str, target_column: str) -> str:
    """The rule text of a row that precedes the row it refers to (:data:`CROSS_ORDER`)."""
    return f"{column} before the {target[:-1]}'s {target_column}"
