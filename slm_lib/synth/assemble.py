"""Turn the simulation's raw arrays into the canonical tables (SPEC §3) of a Dataset.

Rows are sorted deterministically (by time, ties in generation order) and ids are numbered in
that order with zero padding wide enough for the size (``C00001``, ``T000001``,
``R000001``, ``O000001``). Times after the end of the last month are censored.

Examples
--------
>>> make_ids("T", 3, 6).to_pylist()
['T000001', 'T000002', 'T000003']
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa

from slm_lib.io.dataset import Dataset
from slm_lib.schema import COLUMNS, EVENT_ACTORS, EVENT_KINDS, EVENT_STATUSES
from slm_lib.synth.customers import REGIONS, SEGMENTS
from slm_lib.synth.surveys import SURVEY_TYPES
from slm_lib.synth.tickets import AGENTS_PER_TEAM, CATEGORIES, CHANNELS, PRIORITIES, TEAMS
from slm_lib.synth.window import NEVER

_ASSIGNMENT, _PRIORITY = EVENT_KINDS.index("assignment"), EVENT_KINDS.index("priority")
_AGENT = EVENT_ACTORS.index("agent")


def make_ids(prefix: str, n: int, min_width: int) -> pa.Array:
    """``prefix`` + 1..n zero-padded to ``max(min_width, digits of n)``, as an arrow string array.

    The characters are written straight into one byte buffer (no Python string per id).

    Examples
    --------
    >>> make_ids("C", 2, 5).to_pylist()
    ['C00001', 'C00002']
    """
    width = max(min_width, len(str(n)))
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    size = head.size + width
    chars = np.empty((n, size), dtype=np.uint8)
    chars[:, :head.size] = head
    numbers = np.arange(1, n + 1, dtype=np.int64)
    for position in range(width - 1, -1, -1):
        chars[:, head.size + position] = ord("0") + numbers % 10
        numbers //= 10
    offsets = np.arange(0, (n + 1) * size, size, dtype=np.int64)
    return pa.LargeStringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(chars.tobytes()))


def time_order(times: np.ndarray, origin: int) -> np.ndarray:
    """Positions sorting ``times`` (int seconds >= origin), ties kept in their current order.

    Each time is packed with its position into one unique int64, so any sort algorithm
    gives the same, platform-independent order.

    Examples
    --------
    >>> time_order(np.array([5, 3, 5, 4]), 0).tolist()
    [1, 3, 0, 2]
    """
    packed = ((times - origin).astype(np.int64) << 32) | np.arange(times.size, dtype=np.int64)
    return (np.sort(packed) & 0xFFFFFFFF).astype(np.int64)


def _ts(seconds: np.ndarray, null: np.ndarray | None = None) -> pd.Series:
    ns = seconds.astype(np.int64) * 1_000_000_000
    if null is not None:
        ns = np.where(null, np.iinfo(np.int64).min, ns)  # the NaT bit pattern
    return pd.Series(pd.DatetimeIndex(ns.view("M8[ns]")).tz_localize("UTC"))


def _str(values: np.ndarray | pa.Array, null: np.ndarray | None = None) -> pd.Series:
    out = pd.Series(values, dtype="str")
    return out if null is None else out.where(~null)


def _take(ids: pa.Array, positions: np.ndarray, null: np.ndarray | None = None) -> pd.Series:
    """``ids[positions]`` as a ``str`` Series (arrow take: no Python objects); null where ``null``."""
    taken = ids.take(pa.array(positions, mask=null))
    return pd.Series(taken, dtype="str")


def _labels(names: tuple[str, ...], codes: np.ndarray) -> pd.Series:
    """String labels of integer codes; code -1 is missing."""
    missing = codes < 0
    indices = pa.array(np.where(missing, 0, codes).astype(np.int32), mask=missing)
    return pd.Series(pa.DictionaryArray.from_arrays(indices, pa.array(names)).cast(pa.large_string()),
                     dtype="str")


def _frame(table: str, columns: dict[str, pd.Series]) -> pd.DataFrame:
    frame = pd.DataFrame({c: columns[c].reset_index(drop=True) for c in COLUMNS[table]})
    return frame.astype(COLUMNS[table])


def event_frame(tickets: pd.DataFrame, drawn: dict[str, np.ndarray]) -> pd.DataFrame:
    """Canonical ``ticket_events`` of :func:`event_arrays` output whose ``ticket`` are rows of ``tickets``.

    Agents and teams come from the tickets; an assignment to someone else names one of the
    tickets' agents (chosen by ``pick``). Ids ``E0000001``... in the order of ``drawn``.
    """
    ticket, kind, actor, own = drawn["ticket"], drawn["kind"], drawn["actor"], drawn["own"]
    agents = tickets["agent_id"].to_numpy(dtype=object, na_value=None)
    pool = np.unique(tickets["agent_id"].dropna().to_numpy(dtype=object))
    other = pool[(drawn["pick"] * len(pool)).astype(np.int64)] if len(pool) else np.full(len(ticket), None)
    agent_of = np.where(own, agents[ticket], np.where(kind == _ASSIGNMENT, other, None))
    speaks = actor == _AGENT
    frame = pd.DataFrame({
        "event_id": pd.Series(make_ids("E", len(ticket), 7), dtype="str"),
        "ticket_id": tickets["ticket_id"].take(ticket).reset_index(drop=True),
        "at": pd.Series(pd.to_datetime(drawn["at"].view("datetime64[ns]"), utc=True)),
        "kind": _labels(EVENT_KINDS, kind),
        "actor": _labels(EVENT_ACTORS, actor),
        "status": _labels(EVENT_STATUSES, drawn["status"]),
        "agent_id": pd.Series(np.where(speaks | (kind == _ASSIGNMENT), agent_of, None), dtype="str"),
        "team": tickets["team"].take(ticket).reset_index(drop=True).where(kind == _ASSIGNMENT),
        "priority": tickets["priority"].take(ticket).reset_index(drop=True).where(kind == _PRIORITY),
        "body": pd.Series(None, index=range(len(ticket)), dtype="str"),
    })
    return frame.astype(COLUMNS["ticket_events"])


def to_dataset(raw: dict) -> Dataset:
    """The canonical Dataset of a :func:`slm_lib.synth.generator.simulate` result.

    ``raw`` is consumed (its tables are popped) so that memory is freed column by column.

    Examples
    --------
    >>> from slm_lib.synth.generator import simulate
    >>> to_dataset(simulate(20, 1, 0, "2024-11")).source
    'synthetic'
    """
    end, origin = raw["end"], raw["start"]
    c = raw.pop("customers")
    customer_ids = make_ids("C", c["signup"].size, 5)
    customers = _frame("customers", {
        "customer_id": _str(customer_ids), "signup_at": _ts(c["signup"]),
        "segment": _labels(SEGMENTS, c["segment"]), "region": _labels(REGIONS, c["region"]),
        "churned_at": _ts(c["churned"], c["churned"] == NEVER)})

    t = raw.pop("tickets")
    order = time_order(t["created"], origin)
    new_position = np.empty(order.size, dtype=np.int64)
    new_position[order] = np.arange(order.size)
    ticket_ids = make_ids("T", order.size, 6)
    agent_ids = make_ids("A", len(TEAMS) * AGENTS_PER_TEAM, 2)

    def column(key: str) -> np.ndarray:
        return t.pop(key)[order]

    no_reply = t["first_response"][order] >= end
    agent = column("agent")
    resolved = column("resolved")
    tickets = _frame("tickets", {
        "ticket_id": _str(ticket_ids), "customer_id": _take(customer_ids, column("customer")),
        "created_at": _ts(column("created")), "first_response_at": _ts(column("first_response"), no_reply),
        "resolved_at": _ts(resolved, resolved >= end),
        "channel": _labels(CHANNELS, column("channel")), "priority": _labels(PRIORITIES, column("priority")),
        "agent_id": _take(agent_ids, agent, agent < 0), "team": _labels(TEAMS, column("team")),
        "replies": pd.Series(np.where(no_reply, 0, column("replies")).astype(np.int64)),
        "reopens": pd.Series(np.where(no_reply, 0, column("reopens")).astype(np.int64)),
        "category": _labels(CATEGORIES, column("category"))})
    del agent, resolved, order
    optional = {}
    if "events" in raw:   # by ticket (in the tickets' new order), then time, as ticket_events writes them
        e = raw.pop("events")
        e["ticket"] = new_position[e["ticket"]]
        by_ticket = np.argsort(e["ticket"], kind="stable")
        optional["ticket_events"] = event_frame(tickets, {k: v[by_ticket] for k, v in e.items()})

    s = raw.pop("surveys")
    keep = np.flatnonzero(s["submitted"] < end)
    order = keep[time_order(s["submitted"][keep], origin)]
    s = {k: v[order] for k, v in s.items()}
    has_ticket = s["ticket"] >= 0
    surveys = _frame("surveys", {
        "response_id": _str(make_ids("R", order.size, 6)),
        "customer_id": _take(customer_ids, s["customer"]),
        "ticket_id": _take(ticket_ids, new_position[np.maximum(s["ticket"], 0)] if len(ticket_ids)
                           else np.zeros(order.size, np.int64), ~has_ticket),
        "submitted_at": _ts(s["submitted"]), "type": _labels(SURVEY_TYPES, s["type"]),
        "score": pd.Series(s["score"].astype(np.int64)), "comment": pd.Series(s["comment"], dtype="str")})
    del s, new_position

    r = raw.pop("revenue")
    keep = np.flatnonzero(r["paid"] < end)
    order = keep[time_order(r["paid"][keep], origin)]
    r = {k: v[order] for k, v in r.items()}
    is_payment = r["amount"] > 0
    number = np.zeros(int(r["order"].max()) + 1 if r["order"].size else 0, dtype=np.int64)
    number[r["order"][is_payment]] = np.arange(int(is_payment.sum()))  # numbered in time order
    order_ids = make_ids("O", int(is_payment.sum()), 6)
    revenue = _frame("revenue", {
        "customer_id": _take(customer_ids, r["customer"]), "paid_at": _ts(r["paid"]),
        "amount": pd.Series(r["amount"].astype(np.float64)), "order_id": _take(order_ids, number[r["order"]])})
    return Dataset(tickets=tickets, surveys=surveys, customers=customers, revenue=revenue,
                   **optional, source="synthetic",
                   as_of=_ts(np.array([end])).iloc[0])  # observed at the end of the last month
