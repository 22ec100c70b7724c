"""Value conversions of the import engine (SPEC §10): timestamps, durations, value maps, types.

Each converter takes a Series of raw export values and returns the converted Series plus a
boolean mask of the rows it could not convert, so the caller reports them like SPEC §3
errors (file, column, count, example rows) instead of dropping them silently.
"""
from __future__ import annotations

import zoneinfo

import numpy as np
import pandas as pd

from slm_lib.errors import ConfigError, MappingError
from slm_lib.io.imports.identity import to_text
from slm_lib.io.imports.mapping import UNITS

_OFFSET = r"(?:[zZ]|[+-]\d{2}(?::?\d{2})?)$"


def check_timezone(tz: str) -> str:
    """Return ``tz`` if it is a known IANA time zone, else raise ConfigError.

    Examples
    --------
    >>> check_timezone("Europe/Berlin")
    'Europe/Berlin'
    """
    try:
        zoneinfo.ZoneInfo(str(tz))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ConfigError(f"unknown time zone {tz!r}: use an IANA name such as 'UTC', "
                          "'Europe/Berlin' or 'America/New_York'") from exc
    return str(tz)


def _localize(naive: pd.Series, tz: str) -> pd.Series:
    """Naive local wall times in ``tz`` to UTC; ambiguous or skipped DST times become NaT."""
    return naive.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT").dt.tz_convert("UTC")


def parse_timestamps(values: pd.Series, fmt: str, tz: str | None, where: str) -> tuple[pd.Series, pd.Series]:
    """Parse export timestamps to UTC.

    Parameters
    ----------
    values : pandas.Series
        Raw values (strings or numbers).
    fmt : str
        ``"iso"`` (with or without offset), ``"epoch_s"``, ``"epoch_ms"`` or a strptime pattern.
    tz : str, optional
        Time zone of values written without an offset. Required when such values occur.
    where : str
        ``"<file>: column '<name>'"``, used in the error when ``tz`` is missing.

    Returns
    -------
    (pandas.Series, pandas.Series)
        ``datetime64[ns, UTC]`` values and the mask of present values that did not parse.

    Raises
    ------
    MappingError
        Values without an offset and no time zone given.

    Examples
    --------
    >>> ts, bad = parse_timestamps(pd.Series(["2024-03-01T10:00:00+01:00", "x"]), "iso", None, "f")
    >>> ts.iloc[0].isoformat(), bad.tolist()
    ('2024-03-01T09:00:00+00:00', [False, True])
    """
    present = values.notna() & to_text(values).notna()
    out = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns, UTC]")
    if fmt in ("epoch_s", "epoch_ms"):
        number = pd.to_numeric(values.where(present), errors="coerce")
        parsed = pd.to_datetime(number, unit="s" if fmt == "epoch_s" else "ms", utc=True, errors="coerce")
        out = parsed.astype("datetime64[ns, UTC]")
        return out, present & out.isna()
    text = to_text(values)
    if fmt == "iso":
        aware = present & text.str.contains(_OFFSET, regex=True, na=False)
    else:
        aware = present & ("%z" in fmt or "%Z" in fmt)
    naive = present & ~aware
    pattern = "ISO8601" if fmt == "iso" else fmt
    if aware.any():
        out[aware] = pd.to_datetime(text[aware], format=pattern, utc=True, errors="coerce")
    if naive.any():
        local = pd.to_datetime(text[naive], format=pattern, errors="coerce")
        if getattr(local.dt, "tz", None) is not None:
            local = local.dt.tz_localize(None)
        if tz is None and local.notna().any():
            example = text[local.notna().idxmax()]
            raise MappingError(f"{where} holds local times without a UTC offset (e.g. {example!r}) and the "
                               "export's time zone is not known: pass the source time zone, "
                               "e.g. --tz Europe/Berlin")
        if tz is not None:
            out[naive] = _localize(local, tz)
    return out, present & out.isna()


def parse_hours(values: pd.Series, unit: str) -> tuple[pd.Series, pd.Series]:
    """Durations in hours from numbers in ``unit`` or ``[-]HH:MM[:SS]`` text.

    ``HH`` may exceed 24 (Freshdesk writes ``"36:05:00"``). Returns the hours and the mask
    of present values that did not parse.

    Examples
    --------
    >>> parse_hours(pd.Series(["01:30:00", "90", None]), "minutes")[0].tolist()
    [1.5, 1.5, nan]
    """
    text = to_text(values)
    present = text.notna()
    clock = present & text.str.contains(":", regex=False, na=False)
    hours = pd.to_numeric(text.where(present & ~clock), errors="coerce") / UNITS[unit]
    if clock.any():
        parts = text[clock].str.extract(r"^\s*(-?)(\d+):(\d{1,2})(?::(\d{1,2}(?:\.\d+)?))?\s*$")
        sign = np.where(parts[0].eq("-"), -1.0, 1.0)
        value = (parts[1].astype(float) + parts[2].astype(float) / 60
                 + pd.to_numeric(parts[3], errors="coerce").fillna(0.0) / 3600) * sign
        hours[clock] = value
    hours = hours.astype("float64")
    return hours, present & hours.isna()


def map_values(values: pd.Series, table: dict, default: object = None) -> tuple[pd.Series, pd.Series, list[str]]:
    """Apply a value map (keys compared stripped and lower-cased).

    Missing values, and values the map does not name, take ``default`` when one is
    given; otherwise unnamed values are returned as a bad-row mask with their distinct
    values (for the error message).

    Examples
    --------
    >>> out, bad, unknown = map_values(pd.Series(["Mail", "fax"]), {"mail": "email"})
    >>> out.tolist(), bad.tolist(), unknown
    (['email', nan], [False, True], ['fax'])
    """
    key = to_text(values).str.lower()
    mapped = key.map(table)
    unmatched = key.notna() & ~key.isin(list(table))
    if default is not None:
        return mapped.where(~unmatched & key.notna(), default), pd.Series(False, index=values.index), []
    return mapped, unmatched, sorted(key[unmatched].unique().tolist())[:5]


def to_number(values: pd.Series) -> tuple[pd.Series, pd.Series]:
    """Numbers from export values; ``1,234.50`` thousands separators are removed.

    A decimal comma (``12,50``) is not guessed: it does not parse and is reported.

    Examples
    --------
    >>> to_number(pd.Series(["1,234.50", "n/a", "12,50"]))[0].tolist()
    [1234.5, nan, nan]
    """
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        number = values.astype("float64")
        return number, pd.Series(False, index=values.index)
    text = to_text(values)
    grouped = text.str.fullmatch(r"[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?", na=False)
    text = text.where(~grouped, text.str.replace(",", "", regex=False))
    number = pd.to_numeric(text, errors="coerce").astype("float64")
    return number, text.notna() & number.isna()
