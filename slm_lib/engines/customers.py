"""What the retention and value models read of customers and payments, on an engine (SPEC §5, §9 engines).

:func:`slm_lib.models.at_risk`, :func:`slm_lib.clv.service.dropout_data` / :func:`~slm_lib.clv.service.churn_data`
and :func:`slm_lib.clv.contractual.contractual_clv` need, besides the per-customer features
(:mod:`slm_lib.engines.features`), only small tables that the engine computes here:

- the customers active at an instant, with the columns asked for (one row per customer);
- a data set whose revenue table holds only the purchases of a window (of given customers),
  for :func:`slm_lib.clv.rfm.rfm_summary`'s engine form (one row per customer comes back);
- each customer's payment total over a window;
- the signup cohorts' members counted by group, cohort and periods survived (one row per
  group, cohort and period of churn).

No ticket, survey, event or payment row is collected; the models then run on these tables
through the same pandas code as on the pandas engine.
"""
from __future__ import annotations

from dataclasses import replace
from typing import Any, Iterable

import ibis
import pandas as pd

from slm_lib.engines.dataset import fetch
from slm_lib.engines.session import period_ordinal, set_time_zone
from slm_lib.engines.timestamps import instant
from slm_lib.errors import ConfigError
from slm_lib.periods import NAT_ORDINAL
from slm_lib.schema import COLUMNS, TS


def _canonical(got: pd.DataFrame, table: str) -> pd.DataFrame:
    """Collected columns in the pandas engine's dtypes (timestamps in UTC); other columns as they came."""
    out = {}
    for column in got.columns:
        dtype = COLUMNS[table].get(column)
        values = got[column]
        out[column] = (pd.to_datetime(values, utc=True).astype(TS) if dtype == TS
                       else values.astype(dtype) if dtype is not None else values)
    return pd.DataFrame(out, index=got.index)


def active_customers(lazy: Any, as_of: pd.Timestamp, columns: Iterable[str]) -> pd.DataFrame:
    """The customers signed up before ``as_of`` and not churned before it: ``columns`` of their rows, by customer_id.

    Raises
    ------
    ConfigError
        A column the customers table does not have.
    """
    c = lazy.require("customers", "customers active at an instant")
    columns = list(columns)
    missing = [col for col in columns if col not in c.columns]
    if missing:
        raise ConfigError(f"customers has no column(s) {missing}; available: {list(c.columns)}")
    set_time_zone(lazy.con, "UTC")
    now = instant(as_of, up=True)
    c = c.filter(c.signup_at < now, c.churned_at.isnull() | (c.churned_at >= now))
    got = _canonical(fetch(lazy.con, c.select(*columns)), "customers")
    return got.sort_values("customer_id", kind="stable", ignore_index=True) if "customer_id" in got else got


def purchases(lazy: Any, start: pd.Timestamp | None, end: pd.Timestamp | None, customers: Any = None) -> Any:
    """``lazy`` whose revenue table holds only the purchases (amount > 0) paid in ``[start, end)`` (of ``customers``)."""
    r = lazy.require("revenue", "purchases")
    r = r.filter(r.amount > 0)
    if start is not None:
        r = r.filter(r.paid_at >= instant(start, up=True))
    if end is not None:
        r = r.filter(r.paid_at < instant(end, up=True))
    if customers is not None:
        ids = ibis.memtable(pd.DataFrame({"_id": pd.Series(list(customers), dtype=object)}),
                            schema=ibis.schema({"_id": "string"}))
        r = r.filter(r.customer_id.isin(ids._id))
    return replace(lazy, tables={**lazy.tables, "revenue": r})


def payment_totals(lazy: Any, start: pd.Timestamp, end: pd.Timestamp) -> pd.Series:
    """Net amount paid in ``[start, end)`` per customer (refunds included), indexed by customer_id."""
    r = lazy.tables.get("revenue")
    if r is None:
        return pd.Series(dtype=float, index=pd.Index([], dtype="str", name="customer_id"), name="amount")
    r = r.filter(r.paid_at >= instant(start, up=True), r.paid_at < instant(end, up=True))
    got = fetch(lazy.con, r.group_by("customer_id").aggregate(amount=r.amount.cast("float64").sum()))
    return got.set_index("customer_id")["amount"].astype(float).sort_index()


def cohort_lives(lazy: Any, as_of: pd.Timestamp, freq: str, by: str | None, tz: str) -> pd.DataFrame:
    """Customers signed up before ``as_of`` counted by group, signup cohort and periods survived.

    Columns ``group`` (the ``by`` value, ``"all"`` without ``by``), ``cohort``
    (period ordinal in ``tz``), ``life`` (period of the churn before ``as_of`` minus the
    cohort; :data:`slm_lib.periods.NAT_ORDINAL` for customers not churned before it) and
    ``n``. Periods are those of :func:`slm_lib.periods.period_ordinals`.
    """
    c = lazy.require("customers", "cohort survivors")
    set_time_zone(lazy.con, tz)
    now = instant(as_of, up=True)
    c = c.filter(c.signup_at < now)
    cohort = period_ordinal(c.signup_at, freq)
    churn = (c.churned_at < now).ifelse(c.churned_at, ibis.null(c.churned_at.type()))
    c = c.select(group=c[by] if by else ibis.literal("all"), cohort=cohort,
                 life=period_ordinal(churn, freq) - cohort)
    got = fetch(lazy.con, c.group_by(["group", "cohort", "life"]).aggregate(n=c.count()))
    return got.assign(cohort=got["cohort"].astype("int64"), life=got["life"].fillna(NAT_ORDINAL).astype("int64"),
                      n=got["n"].astype("int64"))
