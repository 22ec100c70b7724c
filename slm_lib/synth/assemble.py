"""Turn the simulation's raw arrays into the canonical tables (SPEC §3) of a Dataset.

Rows are sorted deterministically (by time, then customer) and ids are numbered in
that order with zero padding wide enough for the size (``C00001``, ``T000001``,
``R000001``, ``O000001``). Times after the end of the last month are censored.

Examples
--------
>>> make_ids("T", 3, 6).tolist()
['T000001', 'T000002', 'T000003']
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from slm_lib.io.dataset import Dataset
from slm_lib.schema import COLUMNS
from slm_lib.synth.customers import REGIONS, SEGMENTS
from slm_lib.synth.surveys import SURVEY_TYPES
from slm_lib.synth.tickets import AGENTS_PER_TEAM, CATEGORIES, CHANNELS, PRIORITIES, TEAMS
from slm_lib.synth.window import NEVER


def make_ids(prefix: str, n: int, min_width: int) -> np.ndarray:
    """``prefix`` + 1..n zero-padded to ``max(min_width, digits of n)``.

    Examples
    --------
    >>> make_ids("C", 2, 5).tolist()
    ['C00001', 'C00002']
    """
    width = max(min_width, len(str(n)))
    if n == 0:
        return np.array([], dtype=f"<U{width + len(prefix)}")
    numbers = np.arange(1, n + 1).astype(f"<U{width}")
    return np.strings.add(prefix, np.strings.zfill(numbers, width))


def _ts(seconds: np.ndarray, null: np.ndarray | None = None) -> pd.Series:
    ns = seconds.astype(np.int64) * 1_000_000_000
    if null is not None:
        ns = np.where(null, np.iinfo(np.int64).min, ns)  # the NaT bit pattern
    return pd.Series(pd.DatetimeIndex(ns.view("M8[ns]")).tz_localize("UTC"))


def _str(values: np.ndarray, null: np.ndarray | None = None) -> pd.Series:
    out = pd.Series(values, dtype="str")
    return out if null is None else out.where(~null)


def _labels(names: tuple[str, ...], codes: np.ndarray) -> pd.Series:
    """String labels of integer codes; code -1 is missing."""
    table = np.asarray(names + ("",))
    return _str(table[codes], codes < 0)


def _frame(table: str, columns: dict[str, pd.Series]) -> pd.DataFrame:
    frame = pd.DataFrame({c: columns[c].reset_index(drop=True) for c in COLUMNS[table]})
    return frame.astype(COLUMNS[table])


def to_dataset(raw: dict) -> Dataset:
    """The canonical Dataset of a :func:`slm_lib.synth.generator.simulate` result.

    Examples
    --------
    >>> from slm_lib.synth.generator import simulate
    >>> to_dataset(simulate(20, 1, 0, "2024-11")).source
    'synthetic'
    """
    end = raw["end"]
    c, t, s, r = raw["customers"], raw["tickets"], raw["surveys"], raw["revenue"]
    customer_ids = make_ids("C", c["signup"].size, 5)
    customers = _frame("customers", {
        "customer_id": _str(customer_ids), "signup_at": _ts(c["signup"]),
        "segment": _labels(SEGMENTS, c["segment"]), "region": _labels(REGIONS, c["region"]),
        "churned_at": _ts(c["churned"], c["churned"] == NEVER)})

    order = np.lexsort((np.arange(t["customer"].size), t["customer"], t["created"]))
    new_position = np.empty(order.size, dtype=np.int64)
    new_position[order] = np.arange(order.size)
    t = {k: v[order] for k, v in t.items()}
    no_reply = t["first_response"] >= end
    ticket_ids = make_ids("T", order.size, 6)
    agent_ids = make_ids("A", len(TEAMS) * AGENTS_PER_TEAM, 2)
    tickets = _frame("tickets", {
        "ticket_id": _str(ticket_ids), "customer_id": _str(customer_ids[t["customer"]]),
        "created_at": _ts(t["created"]), "first_response_at": _ts(t["first_response"], no_reply),
        "resolved_at": _ts(t["resolved"], t["resolved"] >= end),
        "channel": _labels(CHANNELS, t["channel"]), "priority": _labels(PRIORITIES, t["priority"]),
        "agent_id": _str(agent_ids[np.maximum(t["agent"], 0)], t["agent"] < 0),
        "team": _labels(TEAMS, t["team"]),
        "replies": pd.Series(np.where(no_reply, 0, t["replies"])),
        "reopens": pd.Series(np.where(no_reply, 0, t["reopens"])),
        "category": _labels(CATEGORIES, t["category"])})

    keep = s["submitted"] < end
    s = {k: v[keep] for k, v in s.items()}
    order = np.lexsort((s["ticket"], s["customer"], s["type"], s["submitted"]))
    s = {k: v[order] for k, v in s.items()}
    has_ticket = s["ticket"] >= 0
    surveys = _frame("surveys", {
        "response_id": _str(make_ids("R", order.size, 6)),
        "customer_id": _str(customer_ids[s["customer"]]),
        "ticket_id": _str(ticket_ids[new_position[np.maximum(s["ticket"], 0)]] if ticket_ids.size
                          else np.full(order.size, ""), ~has_ticket),
        "submitted_at": _ts(s["submitted"]), "type": _labels(SURVEY_TYPES, s["type"]),
        "score": pd.Series(s["score"].astype(np.int64)), "comment": pd.Series(s["comment"], dtype="str")})

    keep = r["paid"] < end
    r = {k: v[keep] for k, v in r.items()}
    order = np.lexsort((r["amount"] < 0, r["customer"], r["paid"]))
    r = {k: v[order] for k, v in r.items()}
    is_payment = r["amount"] > 0
    number = np.zeros(int(r["order"].max()) + 1 if r["order"].size else 0, dtype=np.int64)
    number[r["order"][is_payment]] = np.arange(int(is_payment.sum()))  # numbered in time order
    order_ids = make_ids("O", int(is_payment.sum()), 6)[number[r["order"]]]
    revenue = _frame("revenue", {
        "customer_id": _str(customer_ids[r["customer"]]), "paid_at": _ts(r["paid"]),
        "amount": pd.Series(r["amount"].astype(np.float64)), "order_id": _str(order_ids)})
    return Dataset(tickets=tickets, surveys=surveys, customers=customers, revenue=revenue,
                   source="synthetic")
