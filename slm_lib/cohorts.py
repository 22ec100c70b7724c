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
    ds : Dataset
        Uses ``customers`` (``signup_at``, ``churned_at``) and, for ``mode="purchase"``,
        ``revenue``.
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
    as_of = ds.observation_end() if as_of is None else utc_instant(as_of)
    customers = ds.customers.loc[ds.customers["signup_at"] < as_of]
    if customers.empty:
        raise InsufficientDataError(f"cohort_retention: no customer signed up before as_of={as_of}")

    pfreq = check_freq(freq)
    cohort = period_ordinals(customers["signup_at"], pfreq, tz)
    as_of_ord = int(period_ordinals(pd.Series([as_of]), pfreq, tz)[0])
    # Age k is observed when period cohort + k has ended: cohort + k + 1 <= period(as_of).
    max_age = int(as_of_ord - cohort.min() - 1)
    ages = np.arange(max(max_age, 0) + 1)

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

    observed_to = as_of_ord - cohort - 1  # last observed age per customer
    labels = period_labels(np.unique(cohort), pfreq)
    cohort_pos = np.searchsorted(np.unique(cohort), cohort)
    n_cohorts = len(labels)
    size = np.bincount(cohort_pos, minlength=n_cohorts)
    counts = np.zeros((n_cohorts, len(ages)))
    np.add.at(counts, cohort_pos, active.astype(float))
    last_obs = np.full(n_cohorts, -1)
    np.maximum.at(last_obs, cohort_pos, observed_to)
    censored = ages[None, :] > last_obs[:, None]
    shares = np.where(censored, np.nan, counts / size[:, None])

    wide = pd.DataFrame(shares, index=pd.Index(labels, name="cohort"), columns=list(ages))
    wide.insert(0, "size", size.astype("int64"))
    if not tidy:
        return wide
    long = pd.DataFrame({
        "cohort": np.repeat(np.asarray(labels), len(ages)),
        "age": np.tile(ages, n_cohorts),
        "size": np.repeat(size, len(ages)),
        "active": counts.ravel().astype("int64"),
        "share": shares.ravel(),
    })
    return long.loc[~censored.ravel()].reset_index(drop=True)
