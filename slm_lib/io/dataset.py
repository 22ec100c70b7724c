"""The Dataset: the four canonical tables plus the data-quality table."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from slm_lib.schema import empty_frame

QUALITY_COLUMNS = ["table", "file", "column", "rule", "n_rows", "example_rows", "action"]


#: Values of the quality table's ``action`` column.
QUALITY_ACTIONS: tuple[str, ...] = ("dropped", "info", "filled", "missing table")


def empty_quality() -> pd.DataFrame:
    """An empty data-quality table (one row per problem found while loading)."""
    return pd.DataFrame({c: pd.Series(dtype="int64" if c == "n_rows" else "str") for c in QUALITY_COLUMNS})


def make_quality(records: list[dict]) -> pd.DataFrame:
    """A data-quality table from records with the keys of ``QUALITY_COLUMNS``.

    ``example_rows`` is a comma-separated string of 1-based row numbers; ``action`` is one
    of ``QUALITY_ACTIONS``.

    Examples
    --------
    >>> make_quality([{"table": "tickets", "file": "tickets.csv", "column": "channel",
    ...                "rule": "missing value", "n_rows": 2, "example_rows": "3, 9",
    ...                "action": "dropped"}]).n_rows.tolist()
    [2]
    """
    if not records:
        return empty_quality()
    frame = pd.DataFrame.from_records(records, columns=QUALITY_COLUMNS)
    return frame.astype({c: "int64" if c == "n_rows" else "str" for c in QUALITY_COLUMNS})


@dataclass
class Dataset:
    """The canonical tables of SPEC §3.

    Attributes
    ----------
    tickets, surveys, customers, revenue : pandas.DataFrame
        Canonical columns and dtypes (``slm_lib.schema.COLUMNS``); a missing optional
        table is an empty frame with the canonical columns.
    quality : pandas.DataFrame
        One row per data problem found and what was done about it
        (columns ``table, file, column, rule, n_rows, example_rows, action``).
    source : str or None
        Where the data came from (a directory, ``"synthetic"``, ...).
    """

    tickets: pd.DataFrame = field(default_factory=lambda: empty_frame("tickets"))
    surveys: pd.DataFrame = field(default_factory=lambda: empty_frame("surveys"))
    customers: pd.DataFrame = field(default_factory=lambda: empty_frame("customers"))
    revenue: pd.DataFrame = field(default_factory=lambda: empty_frame("revenue"))
    quality: pd.DataFrame = field(default_factory=empty_quality)
    source: str | None = None

    def tables(self) -> dict[str, pd.DataFrame]:
        """The four canonical tables by name."""
        return {"tickets": self.tickets, "surveys": self.surveys,
                "customers": self.customers, "revenue": self.revenue}

    def __repr__(self) -> str:
        sizes = ", ".join(f"{k}={len(v):,}" for k, v in self.tables().items())
        return f"Dataset({sizes}, quality_problems={len(self.quality)}, source={self.source!r})"
