"""Historical CLV: revenue summed over each customer's life up to ``as_of`` (SPEC §5)."""
from __future__ import annotations

from typing import Any, Iterable

import pandas as pd

from slm_lib.errors import DataValidationError


def historical_clv(revenue: pd.DataFrame, as_of: Any, customer_col: str = "customer_id",
                   date_col: str = "paid_at", amount_col: str = "amount",
                   customers: Iterable[str] | None = None) -> pd.Series:
    """Revenue per customer paid on or before ``as_of`` (inclusive), refunds netted.

    Parameters
    ----------
    revenue : pandas.DataFrame
        The canonical ``revenue`` table (``customer_id, paid_at, amount``; refunds negative).
    as_of : datetime-like
        Cut-off instant; a payment at exactly ``as_of`` counts, later ones do not. A naive
        value is read as UTC when ``paid_at`` is time-zone aware.
    customer_col, date_col, amount_col : str
        Column names.
    customers : iterable of str, optional
        Customers to report; those without payments up to ``as_of`` get 0. Default: every
        customer with a payment up to ``as_of``.

    Returns
    -------
    pandas.Series
        ``historical_clv`` (float) indexed by customer id, sorted.

    Examples
    --------
    >>> rev = pd.DataFrame({"customer_id": ["a", "a", "b", "a"],
    ...                     "paid_at": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01",
    ...                                                "2024-03-02"], utc=True),
    ...                     "amount": [10.0, -2.5, 7.0, 99.0]})
    >>> historical_clv(rev, "2024-03-01", customers=["a", "b", "c"]).tolist()
    [7.5, 7.0, 0.0]
    """
    missing = [c for c in (customer_col, date_col, amount_col) if c not in revenue]
    if missing:
        raise DataValidationError(f"revenue: column(s) {missing} not found; available: {list(revenue.columns)}")
    paid = pd.to_datetime(revenue[date_col], format="ISO8601")
    cut = pd.Timestamp(as_of)
    if paid.dt.tz is not None:
        cut = cut.tz_localize("UTC") if cut.tzinfo is None else cut.tz_convert("UTC")
    elif cut.tzinfo is not None:
        cut = cut.tz_convert("UTC").tz_localize(None)
    amount = pd.to_numeric(revenue[amount_col], errors="raise").astype(float)
    keep = (paid <= cut).to_numpy()
    out = amount[keep].groupby(revenue[customer_col][keep].to_numpy()).sum()
    out.index.name = customer_col
    if customers is not None:
        out = out.reindex(pd.Index(list(customers), name=customer_col), fill_value=0.0)
    return out.sort_index().astype(float).rename("historical_clv")
