"""Writing a Dataset as canonical tables (SPEC §3): one CSV or Parquet file per table.

The output is deterministic: identical frames give byte-identical files, so a generated
sample can be committed and regenerated without spurious diffs.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from slm_lib.errors import DataValidationError
from slm_lib.io.dataset import Dataset
from slm_lib.schema import COLUMNS, QUIET_TABLES, TABLES, TS

FORMATS: tuple[str, ...] = ("csv", "parquet")


def _canonical(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    """``frame`` with exactly the canonical columns of ``table``, in canonical order."""
    missing = [c for c in COLUMNS[table] if c not in frame.columns]
    if missing:
        raise DataValidationError(
            f"{table}: cannot save, missing canonical column(s) {', '.join(missing)}")
    return frame.loc[:, list(COLUMNS[table])].reset_index(drop=True)


def _utc_naive(values: pd.Series) -> np.ndarray:
    """Timestamps as naive UTC ``datetime64[ns]`` (naive input is taken as UTC)."""
    ts = pd.to_datetime(values, utc=True)
    return ts.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]")


def format_timestamps(values: pd.Series) -> pd.Series:
    """ISO 8601 UTC strings with a ``Z`` suffix; missing values become empty strings.

    Seconds precision (``2026-10-01T09:30:00Z``); a column holding sub-second values
    is written with microseconds instead, so no information is lost silently.

    Examples
    --------
    >>> format_timestamps(pd.Series(pd.to_datetime(["2026-10-01 09:30"], utc=True))).tolist()
    ['2026-10-01T09:30:00Z']
    """
    naive = _utc_naive(values)
    missing = np.isnat(naive)
    whole = naive[~missing]
    unit = "s" if (whole.astype("int64") % 1_000_000_000 == 0).all() else "us"
    text = np.char.add(np.datetime_as_string(naive, unit=unit), "Z")
    return pd.Series(np.where(missing, "", text), index=values.index, dtype=object)


def _csv_frame(frame: pd.DataFrame, table: str) -> pd.DataFrame:
    out = frame.copy()
    for column, dtype in COLUMNS[table].items():
        if dtype == TS:
            out[column] = format_timestamps(out[column])
    return out


def save_data(ds: Dataset, directory: str | os.PathLike, format: str = "csv",
              formats: Mapping[str, str] | None = None) -> list[Path]:
    """Write the canonical tables of ``ds`` to ``directory`` (created if needed).

    Files are ``tickets.<ext>``, ``surveys.<ext>``, ``customers.<ext>``, ``revenue.<ext>``
    and ``ticket_events.<ext>`` when it has rows or the directory holds one already (its
    absence is the usual case, :data:`slm_lib.schema.QUIET_TABLES`; an old file is emptied,
    never left beside tickets it no longer describes).
    Columns are in canonical order and rows in the frame's order. In CSV, timestamps are
    ISO 8601 UTC with ``Z`` (seconds precision), missing values are empty fields,
    floats use Python's shortest round-trip representation (so ``load_data`` reads back
    exactly the same values), lines end with ``\\n`` and the encoding is UTF-8. In Parquet,
    timestamps are UTC microseconds (what Spark and the engines of :mod:`slm_lib.engines` read). Other empty
    optional tables are written too (header only). The quality table is not written.

    Parameters
    ----------
    ds : Dataset
        The tables to write; every canonical column must be present (extra columns are
        not written).
    directory : str or path-like
        Target data directory.
    format : {"csv", "parquet"}
        File format.
    formats : mapping, optional
        Another format for some tables, e.g. ``{"ticket_events": "parquet"}`` (events are
        many narrow rows: Parquet holds them in a fifth of the space of CSV).

    Returns
    -------
    list of pathlib.Path
        The files written, in table order.

    Raises
    ------
    ValueError
        If a format is not ``"csv"`` or ``"parquet"``, or ``formats`` names an unknown table.
    DataValidationError
        If a table lacks a canonical column.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as d:
    ...     [p.name for p in save_data(Dataset(), d)]
    ['tickets.csv', 'surveys.csv', 'customers.csv', 'revenue.csv']
    """
    chosen = {table: format for table in TABLES} | dict(formats or {})
    if set(chosen) - set(TABLES):
        raise ValueError(f"formats: unknown table(s) {sorted(set(chosen) - set(TABLES))}; tables are {TABLES}")
    if set(chosen.values()) - set(FORMATS):
        raise ValueError(f"format must be one of {FORMATS}, got {sorted(set(chosen.values()) - set(FORMATS))}")
    target = Path(directory)
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for table in TABLES:
        path = target / f"{table}.{chosen[table]}"
        if table in QUIET_TABLES and getattr(ds, table).empty and not path.exists():
            continue
        frame = _canonical(getattr(ds, table), table)
        if chosen[table] == "csv":
            _csv_frame(frame, table).to_csv(path, index=False, lineterminator="\n",
                                            encoding="utf-8", na_rep="")
        else:
            for column, dtype in COLUMNS[table].items():
                if dtype == TS:
                    frame[column] = pd.to_datetime(frame[column], utc=True).astype(TS)
            # microseconds: what Spark reads and the engines keep (pandas' nanoseconds they do not)
            frame.to_parquet(path, index=False, engine="pyarrow", compression="snappy", coerce_timestamps="us",
                             allow_truncated_timestamps=True)
        written.append(path)
    return written
