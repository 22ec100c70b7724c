"""Combining imported tables with a canonical data directory (SPEC §10).

Several sources combine in one directory (tickets from the help desk, NPS from the survey
tool, payments from billing). Rows are identified by their id: tickets by ``ticket_id``,
surveys by ``response_id``, customers by ``customer_id``, ticket events by ``event_id``,
revenue by ``order_id`` or, when a payment has none, by a hash of (customer_id, paid_at,
amount). The newer import wins
(last write wins by id), so importing the same export twice adds nothing and a newer export
of the same tickets updates them. Output rows are sorted, so the files are deterministic.
"""
from __future__ import annotations

import pandas as pd

from slm_lib.schema import COLUMNS, TS, empty_frame

SORT_KEYS: dict[str, list[str]] = {
    "tickets": ["created_at", "ticket_id"],
    "surveys": ["submitted_at", "response_id"],
    "customers": ["customer_id"],
    "revenue": ["paid_at", "customer_id", "order_id", "amount"],
    "ticket_events": ["ticket_id", "at", "event_id"],
}


def row_keys(frame: pd.DataFrame, table: str) -> pd.Series:
    """The identity of each row of ``table`` used for de-duplication.

    Examples
    --------
    >>> f = pd.DataFrame({"customer_id": ["c"], "paid_at": pd.to_datetime(["2024-01-01"], utc=True),
    ...                   "amount": [5.0], "order_id": [None]})
    >>> row_keys(f, "revenue").str.startswith("hash:").tolist()
    [True]
    """
    if table == "tickets":
        return frame["ticket_id"].astype("str")
    if table == "surveys":
        return frame["response_id"].astype("str")
    if table == "customers":
        return frame["customer_id"].astype("str")
    if table == "ticket_events":
        return frame["event_id"].astype("str")
    content = pd.DataFrame({"customer_id": frame["customer_id"].astype("str"),
                            "paid_at": pd.to_datetime(frame["paid_at"], utc=True).astype(TS),
                            "amount": frame["amount"].astype("float64")})
    hashed = "hash:" + pd.util.hash_pandas_object(content, index=False).astype("str")
    return ("order:" + frame["order_id"].astype("str")).where(frame["order_id"].notna(), hashed)


def combine(old: pd.DataFrame, new: pd.DataFrame, table: str) -> pd.DataFrame:
    """``old`` updated by ``new``: one row per id, ``new`` wins, sorted deterministically.

    Examples
    --------
    >>> old = pd.DataFrame({"customer_id": ["a"], "signup_at": pd.to_datetime(["2024-01-01"], utc=True),
    ...     "segment": ["smb"], "region": [None], "churned_at": pd.NaT})
    >>> new = old.assign(segment="ent")
    >>> combine(old, new, "customers")["segment"].tolist()
    ['ent']
    """
    if old.empty:
        both = new
    elif new.empty:
        both = old
    else:
        both = pd.concat([old, new], ignore_index=True)
    both = both[~row_keys(both, table).duplicated(keep="last")]
    return both.sort_values(SORT_KEYS[table], kind="stable", na_position="last").reset_index(drop=True)


def seen_customers(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Customers inferred from the keys seen in tickets, surveys and revenue.

    ``signup_at`` is the first timestamp seen for the key (created_at, submitted_at,
    paid_at), ``segment`` is ``"unknown"``; region and churned_at stay missing.

    Examples
    --------
    >>> t = pd.DataFrame({"customer_id": ["a", "a"],
    ...                   "created_at": pd.to_datetime(["2024-02-01", "2024-01-01"], utc=True)})
    >>> seen_customers({"tickets": t})["signup_at"].dt.strftime("%Y-%m-%d").tolist()
    ['2024-01-01']
    """
    stamps = {"tickets": "created_at", "surveys": "submitted_at", "revenue": "paid_at"}
    parts = [tables[t][["customer_id", c]].rename(columns={c: "signup_at"})
             for t, c in stamps.items() if t in tables and len(tables[t])]
    if not parts:
        return empty_frame("customers")
    seen = pd.concat(parts, ignore_index=True).dropna(subset=["customer_id"])
    first = seen.groupby("customer_id", as_index=False)["signup_at"].min()
    out = pd.DataFrame({"customer_id": first["customer_id"].astype("str"),
                        "signup_at": first["signup_at"].astype(TS),
                        "segment": "unknown", "region": pd.Series(pd.NA, index=first.index, dtype="str"),
                        "churned_at": pd.Series(pd.NaT, index=first.index, dtype=TS)})
    return out[list(COLUMNS["customers"])]


def merge_customers(existing: pd.DataFrame, imported: pd.DataFrame, inferred: pd.DataFrame) -> pd.DataFrame:
    """Existing customers updated by imported ones, plus inferred customers not known yet.

    An inferred customer never overwrites a known one; a known customer whose segment is
    ``"unknown"`` (itself inferred by an earlier import) takes the earlier ``signup_at``.

    Examples
    --------
    >>> inf = seen_customers({"revenue": pd.DataFrame({"customer_id": ["a"],
    ...     "paid_at": pd.to_datetime(["2024-01-01"], utc=True)})})
    >>> merge_customers(empty_frame("customers"), empty_frame("customers"), inf)["segment"].tolist()
    ['unknown']
    """
    known = combine(existing, imported, "customers")
    if inferred.empty:
        return known
    merged = known.merge(inferred[["customer_id", "signup_at"]], on="customer_id", how="left",
                         suffixes=("", "_seen"))
    earlier = merged["segment"].eq("unknown") & (merged["signup_at_seen"] < merged["signup_at"])
    merged.loc[earlier, "signup_at"] = merged.loc[earlier, "signup_at_seen"]
    known = merged.drop(columns="signup_at_seen")
    fresh = inferred[~inferred["customer_id"].isin(known["customer_id"])]
    return combine(known, fresh, "customers")
