"""Recency-frequency-monetary summaries of purchase histories (CDNOW conventions, SPEC §5).

Conventions (Fader, Hardie & Lee 2005, and the ``lifetimes`` package):

- purchases on the same calendar day count once (their amounts are summed);
- ``frequency`` = number of repeat purchase days (purchase days after the first);
- ``recency`` = time from the first to the last purchase day;
- ``T`` = time from the first purchase day to the observation end;
- ``monetary_value`` = mean value of the repeat purchase days (0 when frequency is 0);
- times are fractional time units: days / 7 for ``time_unit="W"``.

``observation_end`` is a day: purchases made during that day are included. On the CDNOW
sample, ``observation_end="1997-09-30"`` gives 2,357 customers and 2,457 repeat purchases,
the published calibration period (39 weeks).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from slm_lib.errors import DataValidationError

#: Length of each supported time unit in days.
TIME_UNITS: dict[str, float] = {"D": 1.0, "W": 7.0, "M": 365.25 / 12, "Y": 365.25}


def unit_days(time_unit: str) -> float:
    """Length of ``time_unit`` (``"D"``, ``"W"``, ``"M"``, ``"Y"``) in days.

    Examples
    --------
    >>> unit_days("W")
    7.0
    """
    if time_unit not in TIME_UNITS:
        raise DataValidationError(f"time_unit: {time_unit!r} is not one of {sorted(TIME_UNITS)}")
    return TIME_UNITS[time_unit]


def to_day(values: Any, like: pd.Series | None = None) -> Any:
    """Timestamps floored to the calendar day, time-zone aware values converted to UTC.

    ``like`` (a datetime Series) decides whether a scalar is made tz-aware (UTC) or naive,
    so a date string compares with canonical UTC columns and with naive CDNOW dates alike.

    Examples
    --------
    >>> to_day("1997-09-30 17:05")
    Timestamp('1997-09-30 00:00:00')
    """
    if isinstance(values, pd.Series):
        try:
            ts = pd.to_datetime(values, format="ISO8601")
        except (TypeError, ValueError) as exc:
            raise DataValidationError(f"column '{values.name}': dates are not ISO 8601 ({exc})") from exc
        if ts.dt.tz is not None:
            ts = ts.dt.tz_convert("UTC")
        return ts.dt.floor("D")
    ts = pd.Timestamp(values)
    aware = like is not None and getattr(like.dt, "tz", None) is not None
    if aware:
        ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    elif ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.floor("D")


def daily_purchases(transactions: pd.DataFrame, customer_col: str, date_col: str,
                    amount_col: str | None, observation_end: Any) -> pd.DataFrame:
    """One row per customer and purchase day up to ``observation_end`` (inclusive).

    Returns columns ``customer_id, day, amount`` (amount summed within the day, 0 when
    ``amount_col`` is None), sorted by customer and day.

    Examples
    --------
    >>> tx = pd.DataFrame({"c": ["a", "a", "a"], "d": ["2024-01-01", "2024-01-01", "2024-01-08"],
    ...                    "v": [1.0, 2.0, 4.0]})
    >>> daily_purchases(tx, "c", "d", "v", "2024-12-31")["amount"].tolist()
    [3.0, 4.0]
    """
    missing = [c for c in (customer_col, date_col, amount_col) if c is not None and c not in transactions]
    if missing:
        raise DataValidationError(f"transactions: column(s) {missing} not found; "
                                  f"available: {list(transactions.columns)}")
    day = to_day(transactions[date_col])
    bad = day.isna()
    if bad.any():
        rows = np.flatnonzero(bad.to_numpy())[:5] + 1
        raise DataValidationError(f"transactions: column '{date_col}': {int(bad.sum())} missing or "
                                  f"unparseable date(s) (e.g. rows {rows.tolist()})")
    end = to_day(observation_end, like=day)
    amount = (pd.to_numeric(transactions[amount_col], errors="raise").astype(float)
              if amount_col is not None else pd.Series(0.0, index=transactions.index))
    frame = pd.DataFrame({"customer_id": transactions[customer_col].to_numpy(),
                          "day": day.to_numpy(), "amount": amount.to_numpy()})
    frame = frame[frame["day"] <= end]
    return (frame.groupby(["customer_id", "day"], sort=True, as_index=False)["amount"].sum())


def rfm_summary(transactions: pd.DataFrame, customer_col: str = "customer_id",
                date_col: str = "paid_at", amount_col: str | None = "amount",
                observation_end: Any = None, time_unit: str = "W") -> pd.DataFrame:
    """Frequency, recency, T and monetary value per customer (CDNOW conventions).

    Parameters
    ----------
    transactions : pandas.DataFrame or LazyDataset
        One row per purchase (e.g. the canonical ``revenue`` table); a
        :class:`~slm_lib.engines.LazyDataset` is summarised on its engine from its revenue
        table (:func:`slm_lib.engines.engine_rfm_summary`).
    customer_col, date_col, amount_col : str
        Columns holding the customer id, the purchase timestamp and the amount
        (``amount_col=None``: monetary_value is 0).
    observation_end : date-like, optional
        Last day of the observation (calibration) period, inclusive. Default: the last
        purchase day in the data.
    time_unit : {"W", "D", "M", "Y"}, default "W"
        Unit of recency and T (``"M"`` = 365.25/12 days).

    Returns
    -------
    pandas.DataFrame
        Indexed by customer id (sorted): ``frequency`` (int), ``recency``, ``T``,
        ``monetary_value``. Customers whose first purchase is after ``observation_end``
        are absent.

    Examples
    --------
    >>> tx = pd.DataFrame({"customer_id": ["a", "a", "a", "b"],
    ...                    "paid_at": ["2024-01-01", "2024-01-01", "2024-01-15", "2024-01-08"],
    ...                    "amount": [10.0, 5.0, 20.0, 7.0]})
    >>> rfm_summary(tx, observation_end="2024-01-29").round(2).to_dict("index")["a"]
    {'frequency': 1, 'recency': 2.0, 'T': 4.0, 'monetary_value': 20.0}
    """
    on_engine = getattr(transactions, "engine_rfm_summary", None)  # a LazyDataset (slm_lib.engines): its revenue
    if on_engine is not None:
        return on_engine(customer_col=customer_col, date_col=date_col, amount_col=amount_col,
                         observation_end=observation_end, time_unit=time_unit)
    unit = unit_days(time_unit)
    if observation_end is None:
        observation_end = to_day(transactions[date_col]).max()
    daily = daily_purchases(transactions, customer_col, date_col, amount_col, observation_end)
    end = to_day(observation_end, like=daily["day"])
    grouped = daily.groupby("customer_id", sort=True)
    first = grouped["day"].min()
    last = grouped["day"].max()
    frequency = grouped.size() - 1
    total = grouped["amount"].sum()
    first_amount = grouped["amount"].first()
    repeat_spend = (total - first_amount).to_numpy()
    freq = frequency.to_numpy()
    monetary = np.divide(repeat_spend, freq, out=np.zeros(len(freq)), where=freq > 0)
    out = pd.DataFrame({
        "frequency": freq.astype("int64"),
        "recency": ((last - first).dt.days / unit).to_numpy(),
        "T": ((end - first).dt.days / unit).to_numpy(),
        "monetary_value": monetary,
    }, index=first.index.rename(customer_col))
    return out


def purchase_rfm(ds: Any, start: pd.Timestamp | None = None, end: pd.Timestamp | None = None, customers: Any = None,
                 observation_end: Any = None, time_unit: str = "W") -> pd.DataFrame:
    """:func:`rfm_summary` of a data set's purchases: its payments with amount > 0 paid in ``[start, end)``.

    Parameters
    ----------
    ds : Dataset or LazyDataset
        Its ``revenue`` table; a LazyDataset filters the payments on its engine and collects
        one row per customer (:func:`slm_lib.engines.customers.purchases`).
    start, end : Timestamp, optional
        The window of payment instants (UTC; open ends when None).
    customers : sequence of str, optional
        Only these customers' payments.
    observation_end, time_unit
        As :func:`rfm_summary` (``observation_end`` defaults to the last day of these purchases).

    Returns
    -------
    pandas.DataFrame
        As :func:`rfm_summary`; empty (same columns) without purchases.

    Examples
    --------
    >>> from slm_lib.io.dataset import Dataset
    >>> pay = pd.DataFrame({"customer_id": ["a", "a", "b"], "amount": [5.0, -5.0, 7.0],
    ...                     "paid_at": pd.to_datetime(["2024-01-01", "2024-01-08", "2024-01-09"], utc=True)})
    >>> purchase_rfm(Dataset(revenue=pay), end=pd.Timestamp("2024-01-09", tz="UTC"))["frequency"].to_dict()
    {'a': 0}
    """
    pay = ds.revenue
    if pay is None:   # a LazyDataset without a revenue table
        return _no_purchases()
    on_engine = getattr(ds, "engine_purchases", None)
    if on_engine is not None:
        return rfm_summary(on_engine(start=start, end=end, customers=customers), observation_end=observation_end,
                           time_unit=time_unit)
    keep = np.array(pay["amount"] > 0, dtype=bool)
    if start is not None:
        keep &= (pay["paid_at"] >= start).to_numpy()
    if end is not None:
        keep &= (pay["paid_at"] < end).to_numpy()
    if customers is not None:
        keep &= pay["customer_id"].isin(customers).to_numpy()
    if not keep.any():
        return _no_purchases()
    return rfm_summary(pay.loc[keep], observation_end=observation_end, time_unit=time_unit)


def _no_purchases() -> pd.DataFrame:
    """The :func:`rfm_summary` columns without rows."""
    return pd.DataFrame({"frequency": np.zeros(0, np.int64), **dict.fromkeys(("recency", "T", "monetary_value"),
                                                                              np.zeros(0))},
                        index=pd.Index([], dtype="str", name="customer_id"))


def _fail(name: str, mask: np.ndarray, rule: str) -> None:
    if mask.any():
        rows = np.flatnonzero(mask)[:5].tolist()
        raise DataValidationError(f"{name}: {rule}: {int(mask.sum())} value(s) "
                                  f"(e.g. positions {rows})")


def as_array(values: Any, name: str) -> np.ndarray:
    """A 1-d float array from a Series, list or array; non-numeric input names ``name``."""
    try:
        arr = np.asarray(values, dtype=float).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise DataValidationError(f"{name}: values must be numeric ({exc})") from exc
    _fail(name, ~np.isfinite(arr), "missing or infinite")
    return arr


def validate_rfm(frequency: Any, recency: Any, T: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Check and convert per-customer frequency, recency and T.

    Rules: same length, finite, ``frequency`` a non-negative integer, ``0 <= recency <= T``,
    ``T > 0``, and ``recency == 0`` when ``frequency == 0``.

    Raises
    ------
    DataValidationError
        Naming the argument, the rule, the count and example positions.

    Examples
    --------
    >>> x, tx, T = validate_rfm([0, 2], [0.0, 5.0], [10.0, 10.0])
    >>> x.tolist()
    [0.0, 2.0]
    """
    x, tx, big_t = as_array(frequency, "frequency"), as_array(recency, "recency"), as_array(T, "T")
    if not (len(x) == len(tx) == len(big_t)):
        raise DataValidationError(f"frequency, recency, T: lengths differ "
                                  f"({len(x)}, {len(tx)}, {len(big_t)})")
    _fail("frequency", (x < 0) | (x != np.round(x)), "must be a non-negative integer")
    _fail("recency", tx < 0, "must be >= 0")
    _fail("T", big_t <= 0, "must be > 0")
    _fail("recency", tx > big_t * (1 + 1e-9), "must not exceed T")
    _fail("recency", (x == 0) & (tx > 0), "must be 0 where frequency is 0")
    return x, tx, big_t


def like_input(values: np.ndarray, template: Any, name: str) -> Any:
    """``values`` as a Series with the template's index when the template is a Series."""
    if isinstance(template, pd.Series):
        return pd.Series(values, index=template.index, name=name)
    return values
