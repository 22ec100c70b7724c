"""The Dataset: the four canonical tables plus the data-quality table."""
from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from slm_lib.schema import empty_frame

QUALITY_COLUMNS = ["table", "file", "column", "rule", "n_rows", "example_rows", "action"]


def empty_quality() -> pd.DataFrame:
    """An empty data-quality table (one row per problem found while loading)."""
    return pd.DataFrame({c: pd.Series(dtype="int64" if c == "n_rows" else "str") for c in QUALITY_COLUMNS})


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
