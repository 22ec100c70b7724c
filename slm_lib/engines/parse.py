"""The parsing and normalisation of :mod:`slm_lib.io.load` as ibis expressions (SPEC §3 on an engine).

CSV text becomes canonical values in the engine: blank strings are missing, ids and
categories stripped, categories lower-cased and channel synonyms mapped
(:data:`slm_lib.schema.CHANNEL_SYNONYMS`), timestamps parsed to UTC instants (naive =
UTC, offsets converted; the session must run in UTC), numbers to float64. Typed Parquet
columns are taken as they are (timestamps as UTC instants, a float NaN as missing).

Timestamps follow the grammar of pandas' ``format="ISO8601"`` (its C parser), value by
value: a year ``YYYY``, then optionally a month and a day, either both of two digits without
separator (``20261001``) or of one or two digits after the same separator, one of ``-./\\``
or a space (``2026-10``, ``2026-1-5``, ``2026/10/01``); after a day, ``T`` or a space and a
time ``hh``, ``hh:mm[:ss]`` (one or two digits each) or ``hhmm[ss]`` (two digits each),
seconds optionally followed by ``.`` and up to 18 digits; after a time, optionally spaces
and ``Z`` or an offset ``±h[h][[:]m[m]]``. Hours below 24, minutes and seconds below 60, real
days of the month, offsets below 24 hours. Values of the common form
``YYYY-MM-DD[(T| )hh:mm:ss[.ffffff][Z|±hh:mm]]`` are cast directly; the others are split
into their parts by regular expressions, their wall time rebuilt in that form and cast, and
their offset subtracted (DuckDB evaluates only the rows that need it). The engine keeps
microseconds (pandas nanoseconds): digits after the sixth are dropped.

Numbers are decimal (``+3``, ``2.5``, ``.5``, ``1e3``) or ``inf`` / ``infinity`` (any case),
as pandas reads them.
"""
from __future__ import annotations

from typing import Any

import ibis
import ibis.expr.datatypes as dt

from slm_lib.schema import CHANNEL_SYNONYMS, COLUMNS, DEFAULT_PRIORITY, DOMAINS, TS, TS_RANGE, VERBATIM

UTC = dt.Timestamp(timezone="UTC")
#: The common form, cast as it is: ``YYYY-MM-DD[(T| )hh:mm:ss[.ffffff][Z|±hh:mm]]`` (offsets below 18 hours,
#: Spark's limit).
CANONICAL_TIMESTAMP = (r"^[0-9]{4}-[0-9]{2}-[0-9]{2}([T ]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]([.][0-9]{1,6})?"
                       r"(Z|[+-](0[0-9]|1[0-7]):[0-5][0-9])?)?$")
_H2, _M2, _M12 = "([01][0-9]|2[0-3])", "[0-5][0-9]", "[0-5]?[0-9]"
_ZONE = r"(\s*(Z|[+-](" + _H2 + "(:?(" + _M2 + "|[0-9]))?|[0-9](:(" + _M2 + "|[0-9]))?)))?"
_TIME = (r"[T ](" + _H2 + "|([01]?[0-9]|2[0-3]):" + _M12 + "(:" + _M12 + r"([.][0-9]{0,18})?)?"
         + "|" + _H2 + _M2 + "(" + _M2 + r"([.][0-9]{0,18})?)?)" + _ZONE)
_DAYS = "|".join(f"[{sep}][0-9]{{1,2}}[{sep}][0-9]{{1,2}}" for sep in ("-", ".", "/", "\\\\", " "))
#: pandas' ISO 8601 grammar (module docstring): the timestamps it reads, and only those (days of the month
#: aside: the cast rejects impossible ones).
TIMESTAMP_PATTERN = rf"^[0-9]{{4}}(([0-9]{{4}}|{_DAYS})({_TIME})?|[-./\\ ][0-9]{{1,2}})?$"
#: The parts of a timestamp of :data:`TIMESTAMP_PATTERN`: month, day, hour, minute, second, six digits of
#: fraction, offset sign, hours, minutes (an engine numbers at most 9 groups).
PARTS_PATTERN = (r"^[0-9]{4}(?:[-./\\ ]?([0-9]{1,2})(?:[-./\\ ]?([0-9]{1,2})(?:[T ]([0-9]{1,2}):?([0-9]{1,2})?"
                 r":?([0-9]{1,2})?(?:[.]([0-9]{0,6})[0-9]*)?\s*(?:Z|([+-])([0-9]{1,2}):?([0-9]{1,2})?)?)?)?)?$")
NUMBER_PATTERN = r"^[+-]?(([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?|[iI][nN][fF]([iI][nN][iI][tT][yY])?)$"


def text(x: Any, verbatim: bool = False) -> Any:
    """Strings with blank ones missing; stripped unless ``verbatim`` (comments, event bodies)."""
    s = x if x.type().is_string() else x.cast("string")
    stripped = s.strip()
    return stripped.nullif("") if not verbatim else ibis.ifelse(stripped == "", ibis.null("string"), s)


def timestamp(x: Any, regular: bool = False) -> tuple[Any, Any]:
    """UTC instants and a flag of values that are not ISO 8601 timestamps (or outside :data:`TS_RANGE`).

    ``regular``: the caller knows every value is in the common form (:func:`irregular` counted
    none), so the cast alone gives the same instants, in a fraction of the SQL that every
    later query of the column repeats.
    """
    if x.type().is_timestamp():
        return (x if x.type().timezone == "UTC" else x.cast(UTC)), ibis.literal(False)
    s = text(x)
    cast = s.try_cast(UTC) if regular else ibis.ifelse(
        s.re_search(CANONICAL_TIMESTAMP), s.try_cast(UTC),
        ibis.ifelse(s.re_search(TIMESTAMP_PATTERN), _rebuilt(s), ibis.null(UTC)))
    low, high = (ibis.timestamp(f"{day} 00:00:00").cast(UTC) for day in TS_RANGE)
    ts = ibis.ifelse(cast.between(low, high), cast, ibis.null(UTC))
    return ts, (s.notnull() & ts.isnull()).fill_null(False)


def irregular(x: Any) -> Any:
    """Flag of the text timestamps that are not in the common form :data:`CANONICAL_TIMESTAMP`."""
    s = text(x)
    return (s.notnull() & ~s.re_search(CANONICAL_TIMESTAMP)).fill_null(False)


def _rebuilt(s: Any) -> Any:
    """A value of :data:`TIMESTAMP_PATTERN` as an instant: its wall time cast, its offset subtracted.

    The offset is subtracted as minutes: Spark's cast knows offsets up to 18 hours only, pandas reads them up
    to 23:59. Each part is one small expression of ``s``: the SQL stays short wherever the column is used.
    """
    month, day, hour, minute, second, fraction, sign, oh, om = (s.re_extract(PARTS_PATTERN, i) for i in range(1, 10))
    two = lambda v: ("00" + v).right(2)  # noqa: E731  ('' -> '00')
    date = lambda v: ("0" + v.nullif("").fill_null("1")).right(2)  # noqa: E731  ('' -> '01')
    wall = (s.substr(0, 4) + "-" + date(month) + "-" + date(day) + " " + two(hour) + ":" + two(minute) + ":"
            + two(second) + "." + (fraction + "000000").left(6))
    minutes = ("0" + oh).cast("int64") * 60 + ("0" + om).cast("int64")
    return wall.try_cast(UTC) - (minutes * ibis.ifelse(sign == "-", -1, 1)).as_interval("m")


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


def parsed_columns(t: Any, table: str, filled: dict[str, Any],
                   regular: set[str] = frozenset()) -> tuple[dict[str, Any], dict[str, Any]]:
    """Canonical columns of ``t`` parsed (``filled`` ones as constants) and the parse-failure flag of each.

    The priority of tickets is returned before its default is filled in: the caller counts
    the missing ones first. Timestamp columns in ``regular`` hold the common form only
    (:func:`timestamp`).
    """
    values: dict[str, Any] = {}
    bad: dict[str, Any] = {}
    for column, dtype in COLUMNS[table].items():
        if column in filled:
            kind = "string" if dtype == "str" else dtype
            values[column] = ibis.literal(filled[column], type=UTC if dtype == TS else kind)
        elif column in t.columns:
            if dtype == TS:
                values[column], bad[column] = timestamp(t[column], column in regular)
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
