"""rfm_summary and cohort_retention on an engine: per-customer and per-cohort aggregates (SPEC §9 engines).

The engine (DuckDB, Spark, any ibis backend with window functions) reduces the purchases
to one row per customer and purchase day, then to one row per customer (RFM), or the
customers to counts per cohort and age (retention); only those small tables come back and
go through the same code as the pandas functions (:func:`slm_lib.cohorts.retention_frame`).

Days are those of :func:`slm_lib.clv.rfm.to_day` (the UTC calendar date), as days since
1970-01-01 from the engine's epoch microseconds (DuckDB's date of a time-zone-aware
timestamp goes through ICU for every row: that doubled the summary's CPU). Periods are those
of :func:`slm_lib.periods.period_ordinals` (the local date in ``tz``): the session time zone
is set accordingly before the dates are taken.
"""
from __future__ import annotations

from typing import Any, Literal

import ibis
import numpy as np
import pandas as pd

from slm_lib.clv.rfm import unit_days
from slm_lib.cohorts import observed_ages, retention_frame
from slm_lib.engines.clock import engine_clock, wall_days
from slm_lib.engines.session import observation_end as engine_observation_end
from slm_lib.engines.session import period_ordinal, set_time_zone
from slm_lib.engines.timestamps import instant
from slm_lib.errors import ConfigError, DataValidationError, InsufficientDataError
from slm_lib.periods import check_freq, period_ordinals, utc_instant

_EPOCH = pd.Timestamp(0, tz="UTC")


def engine_rfm_summary(lazy: Any, customer_col: str = "customer_id", date_col: str = "paid_at",
                       amount_col: str | None = "amount", observation_end: Any = None,
                       time_unit: str = "W") -> pd.DataFrame:
    """:func:`slm_lib.clv.rfm.rfm_summary` of the revenue table of a :class:`~slm_lib.engines.LazyDataset`.

    Same parameters (the columns are those of the revenue table), columns, index and values;
    the engine collects one row per customer.

    Raises
    ------
    MissingTableError
        The data set has no revenue table.
    DataValidationError
        A column is missing or a purchase has no date.

    Examples
    --------
    >>> from slm_lib.engines import open_dataset
    >>> rfm = engine_rfm_summary(open_dataset("data_samples"), time_unit="D")   # doctest: +SKIP
    """
    unit = unit_days(time_unit)
    revenue = lazy.require("revenue", "rfm_summary")
    missing = [c for c in (customer_col, date_col, amount_col) if c is not None and c not in revenue.columns]
    if missing:
        raise DataValidationError(f"transactions: column(s) {missing} not found; available: {list(revenue.columns)}")
    amount = revenue[amount_col].cast("float64").fill_null(0.0) if amount_col is not None else ibis.literal(0.0)
    day = wall_days(engine_clock(None, lazy.con)(revenue[date_col]))  # to_day: the UTC day, days since 1970-01-01
    t = revenue.select(_c=revenue[customer_col], _day=day, _amount=amount)
    check = t.aggregate(_bad=t._day.isnull().cast("int64").sum(), _last=t._day.max()).execute()
    bad, last = int(check["_bad"].fillna(0).iloc[0]), check["_last"].iloc[0]
    if bad:
        raise DataValidationError(f"transactions: column '{date_col}': {bad} missing or unparseable date(s)")
    if observation_end is not None:
        end = (utc_instant(observation_end, "observation_end") - _EPOCH).days
    else:  # the last purchase day (any day when there is no purchase: the summary is empty)
        end = int(last) if pd.notna(last) else 0
    t = t.filter(t._c.notnull(), t._day <= end)
    daily = t.group_by(["_c", "_day"]).aggregate(_amount=t._amount.sum())
    per = daily.group_by("_c").aggregate(  # repeat spend: all days' but the first's, as rfm_summary subtracts it
        _n=daily.count(), _first=daily._day.min(), _last=daily._day.max(),
        _repeat=daily._amount.sum() - daily._amount.argmin(daily._day))
    per = per.select("_c", "_n", "_repeat", _rec=per._last - per._first, _age=end - per._first).execute()
    per = per.sort_values("_c")
    freq = per["_n"].to_numpy(dtype=np.int64) - 1
    repeat = per["_repeat"].to_numpy(dtype=np.float64)
    return pd.DataFrame({
        "frequency": freq,
        "recency": per["_rec"].to_numpy(dtype=np.float64) / unit,
        "T": per["_age"].to_numpy(dtype=np.float64) / unit,
        "monetary_value": np.divide(repeat, freq, out=np.zeros(len(freq)), where=freq > 0),
    }, index=pd.Index(per["_c"], name=customer_col))


def engine_cohort_retention(lazy: Any, freq: str = "M", mode: Literal["contractual", "purchase"] = "contractual",
                            as_of: Any = None, tidy: bool = False, tz: str = "UTC") -> pd.DataFrame:
    """:func:`slm_lib.cohorts.cohort_retention` of a :class:`~slm_lib.engines.LazyDataset`.

    Same parameters and result; the engine collects the cohort sizes and, per cohort, the
    customers lost at each age (contractual) or active at each age (purchase). ``as_of``
    defaults to the latest timestamp of the engine's tables.

    Raises
    ------
    ConfigError
        Unknown ``mode`` or ``freq``.
    MissingTableError
        No customers table (or no revenue table for ``mode="purchase"``).
    InsufficientDataError
        No customer signed up before ``as_of``.

    Examples
    --------
    >>> from slm_lib.engines import open_dataset
    >>> m = engine_cohort_retention(open_dataset("data_samples"), freq="Q")   # doctest: +SKIP
    """
    if mode not in ("contractual", "purchase"):
        raise ConfigError(f"cohort_retention: mode={mode!r}; use 'contractual' or 'purchase'")
    pfreq = check_freq(freq)
    customers = lazy.require("customers", "cohort_retention")
    revenue = lazy.require("revenue", "cohort_retention (mode='purchase')") if mode == "purchase" else None
    as_of = engine_observation_end(lazy) if as_of is None else utc_instant(as_of)
    if as_of is None:
        raise InsufficientDataError("cohort_retention: as_of is unknown and no table holds a timestamp")
    as_of_ord = int(period_ordinals(pd.Series([as_of]), pfreq, tz)[0])
    set_time_zone(lazy.con, tz)
    now = instant(as_of, up=True)  # compared with <
    c = customers.filter(customers.signup_at < now)
    c = c.select(_cid=c.customer_id, _cohort=period_ordinal(c.signup_at, pfreq),
                 _churn=(c.churned_at < now).ifelse(c.churned_at, ibis.null("timestamp('UTC', 6)")))
    sizes = c.group_by("_cohort").aggregate(_n=c.count()).execute().sort_values("_cohort")
    if sizes.empty:
        raise InsufficientDataError(f"cohort_retention: no customer signed up before as_of={as_of}")
    cohorts = sizes["_cohort"].to_numpy(dtype=np.int64)
    size = sizes["_n"].to_numpy(dtype=np.int64)
    ages = observed_ages(int(cohorts[0]), as_of_ord)

    if mode == "contractual":  # lost at age k: life = period(churn) - cohort <= k
        lost = c.filter(c._churn.notnull()).mutate(_age=period_ordinal(c._churn, pfreq) - c._cohort)
    else:
        pay = revenue.filter(revenue.amount > 0, revenue.paid_at < now)
        lost = pay.join(c, pay.customer_id == c._cid).mutate(_age=period_ordinal(pay.paid_at, pfreq) - c._cohort)
        lost = lost.filter(lost._age >= 0, lost._age < len(ages))
    customers_in = lost.count() if mode == "contractual" else lost._cid.nunique()
    cells = lost.group_by(["_cohort", "_age"]).aggregate(_n=customers_in).execute()
    pos = np.searchsorted(cohorts, cells["_cohort"].to_numpy(dtype=np.int64))
    age, n = cells["_age"].to_numpy(dtype=np.int64), cells["_n"].to_numpy(dtype=np.float64)
    counts = np.zeros((len(cohorts), len(ages)))
    if mode == "contractual":
        np.add.at(counts, pos, n[:, None] * (age[:, None] <= ages[None, :]))
        counts = size[:, None] - counts
    else:
        counts[pos, age] = n
    return retention_frame(cohorts, size, counts, as_of_ord, pfreq, tidy)
