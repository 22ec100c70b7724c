"""The parsing and normalisation of :mod:`slm_lib.io.load` as ibis expressions (SPEC §3 on an engine).

CSV text becomes canonical values in the engine: blank strings are missing, ids and
categories stripped, categories lower-cased and channel synonyms mapped
(:data:`slm_lib.schema.CHANNEL_SYNONYMS`), timestamps parsed to UTC instants (naive =
UTC, offsets converted; the session must run in UTC), numbers to float64. Typed Parquet
columns are taken as they are (timestamps as UTC instants, a float NaN as missing).

The engine accepts a narrower ISO 8601 grammar than pandas' ``format="ISO8601"``: a date
``YYYY-MM-DD``, optionally a time ``hh:mm[:ss[.fff]]`` after ``T`` or a space, optionally
``Z`` or an offset ``±hh[[:]mm]``. Reduced forms pandas also accepts (``2026-10``,
``20261001``, ``2026-10-01T09``, an offset after a space) are reported as not timestamps.
Numbers are decimal (``+3``, ``2.5``, ``.5``, ``1e3``) or ``inf`` / ``infinity`` (any case),
as pandas reads them.
"""
from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.datatypes as dt

from slm_lib.schema import CHANNEL_SYNONYMS, COLUMNS, DEFAULT_PRIORITY, DOMAINS, TS, TS_RANGE, VERBATIM

UTC = dt.Timestamp(timezone="UTC")
TIMESTAMP_PATTERN = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]+)?)?)?"
                     r"(Z|[+-][0-9]{2}(:?[0-9]{2})?)?$")
NUMBER_PATTERN = r"^[+-]?(([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|[iI][nN][fF]([iI][nN][iI][tT][yY])?)$"


def text(x: Any, verbatim: bool = False) -> Any:
    """Strings with blank ones missing; stripped unless ``verbatim`` (comments, event bodies)."""
    s = x if x.type().is_string() else x.cast("string")
    stripped = s.strip()
    return stripped.nullif("") if not verbatim else ibis.ifelse(stripped == "", ibis.null("string"), s)


def timestamp(x: Any) -> tuple[Any, Any]:
    """UTC instants and a flag of values that are not ISO 8601 timestamps (or outside :data:`TS_RANGE`)."""
    if x.type().is_timestamp():
        return (x if x.type().timezone == "UTC" else x.cast(UTC)), ibis.literal(False)
    s = text(x)
    cast = ibis.ifelse(s.re_search(TIMESTAMP_PATTERN), s.try_cast(UTC), ibis.null(UTC))
    low, high = (ibis.timestamp(f"{day} 00:00:00").cast(UTC) for day in TS_RANGE)
    ts = ibis.ifelse((cast >= low) & (cast <= high), cast, ibis.null(UTC))
    return ts, (s.notnull() & ts.isnull()).fill_null(False)


def number(x: Any) -> tuple[Any, Any]:
    """Numbers (integers kept, others float64; NaN = missing, as in pandas) and a flag of values that are not numbers."""
    if x.type().is_integer():
        return x, ibis.literal(False)
    if x.type().is_numeric():
        value = x.cast("float64")
        return ibis.ifelse(value.isnan(), ibis.null("float64"), value), ibis.literal(False)
    s = text(x)
    value = ibis.ifelse(s.re_search(NUMBER_PATTERN), s.try_cast("float64"), ibis.null("float64"))
    return value, (s.notnull() & value.isnull()).fill_null(False)


def category(x: Any, table: str, column: str) -> Any:
    """Stripped strings; lower-cased with synonyms mapped for the channel, lower-cased for other closed sets."""
    s = text(x, verbatim=column in VERBATIM)
    if column == "channel":
        return s.lower().substitute(CHANNEL_SYNONYMS)
    return s.lower() if column in DOMAINS.get(table, {}) else s


def parsed_columns(t: Any, table: str, filled: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Canonical columns of ``t`` parsed (``filled`` ones as constants) and the parse-failure flag of each.

    The priority of tickets is returned before its default is filled in: the caller counts
    the missing ones first.
    """
    values: dict[str, Any] = {}
    bad: dict[str, Any] = {}
    for column, dtype in COLUMNS[table].items():
        if column in filled:
            kind = "string" if dtype == "str" else dtype
            values[column] = ibis.literal(filled[column], type=UTC if dtype == TS else kind)
        elif column in t.columns:
            if dtype == TS:
                values[column], bad[column] = timestamp(t[column])
            elif dtype in ("int64", "float64"):
                values[column], bad[column] = number(t[column])
            else:
                values[column] = category(t[column], table, column)
    return values, bad


def with_default_priority(values: dict[str, Any], table: str) -> dict[str, Any]:
    """``values`` with a missing ticket priority set to :data:`slm_lib.schema.DEFAULT_PRIORITY`."""
    if table != "tickets" or "priority" not in values:
        return values
    return {**values, "priority": values["priority"].fill_null(DEFAULT_PRIORITY)}


def canonical(t: Any, table: str) -> Any:
    """``t``'s canonical columns in canonical order and types (timestamps as UTC instants)."""
    out = {}
    for column, dtype in COLUMNS[table].items():
        kind, now = UTC if dtype == TS else dt.String() if dtype == "str" else dt.dtype(dtype), t[column].type()
        same = now.is_timestamp() and now.timezone == "UTC" if dtype == TS else now.copy(nullable=True) == kind
        out[column] = t[column] if same else t[column].cast(kind)
    return t.select(**out)
