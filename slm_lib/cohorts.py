"""Cohort retention matrices (SPEC §5).

A cohort is the set of customers who signed up in one calendar period (``freq``, monthly by
default, in time zone ``tz``, UTC by default: a report passes its own). Cell ``(cohort, k)`` of the matrix is the share of the cohort that is active at
age ``k`` periods:

* ``mode="contractual"``: the customer is still a customer **at the end of period
  cohort + k**, i.e. ``churned_at`` is null or falls on/after the start of period
  ``cohort + k + 1``. Age 0 is therefore "survived the signup period".
* ``mode="purchase"``: the customer has at least one payment with a positive amount
  (``revenue.paid_at``) in period ``cohort + k``.

A cell is observed only when period ``cohort + k`` has ended by ``as_of``; cells of periods
that end after ``as_of`` are right-censored and NaN (never 0). Only customers who signed up
before ``as_of`` are counted, and nothing dated at or after ``as_of`` is used.

Kaplan-Meier curves and the log-rank test live in :mod:`slm_lib.survival`.
"""
from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from slm_lib.errors import ConfigError, InsufficientDataError
from slm_lib.io.dataset import Dataset
from slm_lib.periods import check_freq, period_labels, period_ordinals, utc_instant

__all__ = ["cohort_retention"]


def cohort_retention(
    ds: Dataset,
    freq: str = "M",
    mode: Literal["contractual", "purchase"] = "contractual",
    as_of: pd.Timestamp | str | None = None,
    tidy: bool = False,
    tz: str = "UTC",
) -> pd.DataFrame:
    """Cohort x age retention matrix of shares, with cohort sizes.

    Parameters
    ----------
    ds : Dataset or LazyDataset
        Uses ``customers`` (``signup_at``, ``churned_at``) and, for ``mode="purchase"``,
        ``revenue``. A :class:`~slm_lib.engines.LazyDataset` is computed on its engine
        (:func:`slm_lib.engines.engine_cohort_retention`).
    freq : {"M", "Q", "Y", "W", "D"}
        Calendar period defining cohorts and ages (labels as in :mod:`slm_lib.periods`).
    mode : {"contractual", "purchase"}
        ``contractual``: alive at the end of period cohort + k (not churned before the start of
        the following period). ``purchase``: a positive payment in period cohort + k.
    as_of : timestamp, optional
        Observation end. Defaults to ``ds.observation_end()``. Cells whose period ends
        after ``as_of`` are NaN (right-censored).
    tidy : bool
        If True return the long form: ``cohort, age, size, active, share`` (censored cells
        dropped) instead of the wide matrix.
    tz : str
        Time zone of the calendar periods (the report's).

    Returns
    -------
    pandas.DataFrame
        Wide: index ``cohort`` (period labels such as ``'2024-01'``), column ``size`` then
        integer age columns ``0..K`` holding shares in [0, 1] or NaN.

    Examples
    --------
    >>> from slm_lib.schema import empty_frame
    >>> c = empty_frame("customers")
    >>> ts = lambda s: pd.Timestamp(s, tz="UTC")
    >>> c.loc[0] = ["a", ts("2024-01-03"), "smb", None, ts("2024-02-10")]
    >>> c.loc[1] = ["b", ts("2024-01-09"), "smb", None, pd.NaT]
    >>> m = cohort_retention(Dataset(customers=c), as_of=ts("2024-03-15"))
    >>> m.loc["2024-01", [0, 1]].tolist()
    [1.0, 0.5]
    """
    if mode not in ("contractual", "purchase"):
        raise ConfigError(f"cohort_retention: mode={mode!r}; use 'contractual' or 'purchase'")
    on_engine = getattr(ds, "engine_cohort_retention", None)  # a LazyDataset (slm_lib.engines) computes it itself
    if on_engine is not None:
        return on_engine(freq=freq, mode=mode, as_of=as_of, tidy=tidy, tz=tz)
    as_of = ds.observation_end() if as_of is None else utc_instant(as_of)
    customers = ds.customers.loc[ds.customers["signup_at"] < as_of]
    if customers.empty:
        raise InsufficientDataError(f"cohort_retention: no customer signed up before as_of={as_of}")

    pfreq = check_freq(freq)
    cohort = period_ordinals(customers["signup_at"], pfreq, tz)
    as_of_ord = int(period_ordinals(pd.Series([as_of]), pfreq, tz)[0])
    ages = observed_ages(int(cohort.min()), as_of_ord)

    if mode == "contractual":
        churn = customers["churned_at"].where(customers["churned_at"] < as_of)
        life = period_ordinals(churn, pfreq, tz) - cohort  # alive at end of age k iff k < life (NaT: never)
        active = ages[None, :] < life[:, None]
    else:
        pay = ds.revenue.loc[(ds.revenue["amount"] > 0) & (ds.revenue["paid_at"] < as_of), ["customer_id", "paid_at"]]
        cust_pos = pd.Index(customers["customer_id"]).get_indexer(pay["customer_id"])
        keep = cust_pos >= 0
        pay_age = period_ordinals(pay["paid_at"], pfreq, tz)[keep] - cohort[cust_pos[keep]]
        in_range = (pay_age >= 0) & (pay_age < len(ages))
        active = np.zeros((len(customers), len(ages)), dtype=bool)
        active[cust_pos[keep][in_range], pay_age[in_range]] = True

    cohorts, cohort_pos = np.unique(cohort, return_inverse=True)
    counts = np.zeros((len(cohorts), len(ages)))
    np.add.at(counts, cohort_pos, active.astype(float))
    return retention_frame(cohorts, np.bincount(cohort_pos, minlength=len(cohorts)), counts, as_of_ord, pfreq, tidy)


def observed_ages(first_cohort: int, as_of_ord: int) -> np.ndarray:
    """Ages ``0..K`` of the matrix: age k is observed when period cohort + k has ended by as_of.

    Examples
    --------
    >>> observed_ages(648, 651).tolist()
    [0, 1, 2]
    """
    return np.arange(max(as_of_ord - first_cohort - 1, 0) + 1)


def retention_frame(cohorts: np.ndarray, size: np.ndarray, counts: np.ndarray, as_of_ord: int, freq: str,
                    tidy: bool = False) -> pd.DataFrame:
    """The retention matrix (or its long form) from per-cohort sizes and active counts.

    ``cohorts`` are the sorted period ordinals (:func:`slm_lib.periods.period_ordinals`) of
    the cohorts, ``size`` their sizes and ``counts[i, k]`` the customers of cohort ``i``
    active at age ``k`` (ages of :func:`observed_ages`); cells of periods ending after the
    period of ``as_of`` (ordinal ``as_of_ord``) are NaN. Shared by :func:`cohort_retention`
    and its engine version (:func:`slm_lib.engines.engine_cohort_retention`).

    Examples
    --------
    >>> retention_frame(np.array([648]), np.array([4]), np.array([[3.0, 1.0]]), 650, "M").to_dict("list")
    {'size': [4], 0: [0.75], 1: [0.25]}
    """
    ages = np.arange(counts.shape[1])
    labels = period_labels(cohorts, freq)
    censored = ages[None, :] > (as_of_ord - cohorts - 1)[:, None]
    shares = np.where(censored, np.nan, counts / size[:, None])

    wide = pd.DataFrame(shares, index=pd.Index(labels, name="cohort"), columns=list(ages))
    wide.insert(0, "size", size.astype("int64"))
    if not tidy:
        return wide
    long = pd.DataFrame({
        "cohort": np.repeat(np.asarray(labels), len(ages)),
        "age": np.tile(ages, len(cohorts)),
        "size": np.repeat(size, len(ages)),
        "active": counts.ravel().astype("int64"),
        "share": shares.ravel(),
    })
    return long.loc[~censored.ravel()].reset_index(drop=True)
