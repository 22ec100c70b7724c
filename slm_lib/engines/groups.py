"""Group keys of the operational tables on an engine, in the order of the pandas engine.

A ``by`` column is a tickets column or a customers column looked up by ``customer_id`` (a
ticket whose customer is unknown gets a missing value, its own group), as in
:mod:`slm_lib.metrics.grouping`. The engine lists the distinct key combinations of the
tickets (a small table); :func:`slm_lib.metrics.grouping.by_codes` and
:func:`~slm_lib.metrics.grouping.combine_codes` then order and number them exactly as the
pandas engine numbers the groups of all tickets, so aggregates keyed by the same columns
land in the same rows.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from slm_lib.engines.dataset import fetch
from slm_lib.engines.aggregates import with_columns
from slm_lib.errors import ConfigError
from slm_lib.metrics.grouping import by_codes, combine_codes
from slm_lib.schema import COLUMNS, empty_frame


def keyed_tickets(lazy: Any, by: list[str]) -> Any:
    """The tickets of ``lazy`` with the customers' ``by`` columns joined (ticket columns win a name clash).

    Raises
    ------
    ConfigError
        For a ``by`` column that is neither a tickets nor a customers column.
    """
    tickets, customers = lazy.tickets, lazy.customers
    known = set(customers.columns) - {"customer_id"} if customers is not None else set()
    for col in by:
        if col not in tickets.columns and col not in known:
            raise ConfigError(f"metric_table: by column {col!r} is neither a tickets nor a customers column")
    return with_columns(tickets, customers, "customer_id", [c for c in by if c not in tickets.columns])


def _canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """Key columns in the dtypes pandas gives them (schema columns), missing values as NaN."""
    out = {}
    for col in frame.columns:
        values = frame[col].astype(object).where(frame[col].notna(), np.nan)
        dtype = COLUMNS["tickets"].get(col, COLUMNS["customers"].get(col))
        out[col] = values.astype(dtype) if dtype is not None else values.infer_objects()
    return pd.DataFrame(out, index=frame.index)


def group_codes(con: Any, keyed: Any, by: list[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The groups of ``keyed`` (tickets with their ``by`` columns) as the pandas engine numbers them.

    Returns
    -------
    (keys, lookup)
        ``keys``: one row per group in group order (``combine_codes``'s labels; one row and
        no column without ``by``). ``lookup``: the distinct key combinations with their group
        number in ``_g``, to merge onto engine results keyed by the same columns.

    Examples
    --------
    >>> from slm_lib.engines.dataset import connect
    >>> con = connect("duckdb")
    >>> _ = con.raw_sql("CREATE TABLE t AS SELECT * FROM (VALUES ('b'), ('a'), (NULL), ('b')) AS v(team)")
    >>> keys, lookup = group_codes(con, con.table("t"), ["team"])
    >>> keys["team"].tolist(), lookup.sort_values("_g")["_g"].tolist()
    (['a', 'b', nan], [0, 1, 2])
    """
    if not by:
        return pd.DataFrame(index=[0]), pd.DataFrame({"_g": [0]})
    found = _canonical(fetch(con, keyed.select(*by).distinct())[by]).reset_index(drop=True)
    codes, labels, _ = by_codes(by, found, empty_frame("surveys"), empty_frame("customers"))
    group, keys = combine_codes(codes, labels, by)
    return keys.reset_index(drop=True), found.assign(_g=group)


def coded(rows: pd.DataFrame, lookup: pd.DataFrame, by: list[str]) -> np.ndarray:
    """The group number of each row of an engine result keyed by ``by`` (missing keys match missing keys)."""
    if not by:
        return np.zeros(len(rows), dtype=np.int64)
    keys = _canonical(rows[by])
    return keys.merge(lookup, on=by, how="left")["_g"].to_numpy(dtype=np.int64)
