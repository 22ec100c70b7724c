"""The canonical tables of SPEC §3: columns, dtypes and rules."""
from __future__ import annotations

import pandas as pd

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
}

TABLES: tuple[str, ...] = tuple(COLUMNS)
REQUIRED_TABLES: tuple[str, ...] = ("tickets",)
CHANNELS: tuple[str, ...] = ("email", "chat", "phone", "web", "social", "other")
PRIORITIES: tuple[str, ...] = ("low", "normal", "high", "urgent")
SURVEY_TYPES: tuple[str, ...] = ("csat", "nps", "ces")


def empty_frame(table: str) -> pd.DataFrame:
    """An empty DataFrame with the canonical columns and dtypes of ``table``.

    Examples
    --------
    >>> list(empty_frame("revenue").columns)
    ['customer_id', 'paid_at', 'amount', 'order_id']
    """
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in COLUMNS[table].items()})
