"""The service features of the planted processes, computed at a month start.

The generator decides churn and revenue from exactly the features that
``slm.customer_features`` computes (``docs/synthetic.md``), so this module evaluates them
on the generator's own arrays (times in integer seconds since the epoch, customers as
integer positions) while the data are being generated.

Examples
--------
>>> import numpy as np
>>> group_median(np.array([0, 0, 1]), np.array([1, 3, 5]), 3).tolist()
[2.0, 5.0, nan]
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from slm_lib.config import NPS_DETRACTOR_MAX, NPS_PROMOTER_MIN
from slm_lib.schema import EVENT_STATUSES

#: Sentinel time meaning "never" (no first response, not resolved, not churned).
NEVER: int = np.iinfo(np.int64).max

#: Codes of ``last_nps_category``.
PROMOTER, PASSIVE, DETRACTOR, NPS_NONE = 0, 1, 2, 3
#: Status codes (:data:`slm_lib.schema.EVENT_STATUSES`) in which the requester waits.
_WAITING = np.array([EVENT_STATUSES.index(s) for s in ("new", "open", "on_hold")])


@dataclass
class WindowFeatures:
    """Per-customer features at one ``as_of`` (arrays indexed by customer position)."""

    tickets_in_window: np.ndarray
    median_frt_h: np.ndarray
    sla_breach_share: np.ndarray
    last_nps: np.ndarray
    mean_csat: np.ndarray
    median_requester_wait_h: np.ndarray
    theme_share: np.ndarray

    def take(self, idx: np.ndarray) -> WindowFeatures:
        """The features of the customers at positions ``idx``."""
        return WindowFeatures(self.tickets_in_window[idx], self.median_frt_h[idx],
                              self.sla_breach_share[idx], self.last_nps[idx], self.mean_csat[idx],
                              self.median_requester_wait_h[idx], self.theme_share[idx])


def group_median(keys: np.ndarray, values: np.ndarray, n_groups: int) -> np.ndarray:
    """Median of non-negative integer ``values`` per integer key (mean of the two middle values).

    Keys and values are packed into one int64 (key in the high 31 bits, value in the low
    32 bits) and sorted once, which is several times faster than a two-key lexsort.

    Parameters
    ----------
    keys : numpy.ndarray
        Integer group of each value, in ``0 .. n_groups - 1`` (``n_groups`` < 2**31).
    values : numpy.ndarray
        Non-negative integers below 2**32 (durations in seconds here).
    n_groups : int
        Number of groups; groups without values get NaN.

    Returns
    -------
    numpy.ndarray
        Float array of length ``n_groups``.

    Examples
    --------
    >>> group_median(np.array([1, 1, 1]), np.array([4, 1, 2]), 2).tolist()
    [nan, 2.0]
    """
    out = np.full(n_groups, np.nan)
    if keys.size == 0:
        return out
    packed = np.sort((keys.astype(np.int64) << 32) | values.astype(np.int64))
    sorted_values = (packed & 0xFFFFFFFF).astype(np.float64)
    counts = np.bincount(keys, minlength=n_groups)
    starts = np.cumsum(counts) - counts
    has = counts > 0
    lo = starts[has] + (counts[has] - 1) // 2
    hi = starts[has] + counts[has] // 2
    out[has] = (sorted_values[lo] + sorted_values[hi]) / 2.0
    return out


def nps_category(scores: np.ndarray) -> np.ndarray:
    """NPS category code of 0-10 scores: promoter 9-10, passive 7-8, detractor 0-6.

    Examples
    --------
    >>> nps_category(np.array([10, 8, 3])).tolist()
    [0, 1, 2]
    """
    return np.where(scores >= NPS_PROMOTER_MIN, PROMOTER,
                    np.where(scores > NPS_DETRACTOR_MAX, PASSIVE, DETRACTOR)).astype(np.int8)


def requester_wait_s(status_events: dict[str, np.ndarray], n_tickets: int, as_of: int) -> np.ndarray:
    """Seconds each ticket spent in new, open or on_hold before ``as_of`` (its clock runs to ``as_of``).

    ``status_events`` are the tickets' status events (``ticket`` position, ``at`` seconds,
    ``status`` code), by ticket and then time; only those strictly before ``as_of`` are
    known, as in ``slm.customer_features``. The generator's histories start with ``new`` at
    creation, so the time before the first status event is nil. A ticket without a known
    status event gets -1.

    Examples
    --------
    >>> new, opened, pending = (EVENT_STATUSES.index(s) for s in ("new", "open", "pending"))
    >>> ev = {"ticket": np.array([0, 0, 0, 1]), "at": np.array([0, 600, 4200, 50]),
    ...       "status": np.array([new, opened, pending, new])}
    >>> requester_wait_s(ev, 3, 3600).tolist()
    [3600, 3550, -1]
    """
    known = status_events["at"] < as_of
    ticket, at, status = (status_events[k][known] for k in ("ticket", "at", "status"))
    following = np.r_[at[1:], as_of]
    following[:-1][ticket[1:] != ticket[:-1]] = as_of
    spent = np.where(np.isin(status, _WAITING), following - at, 0)
    wait = np.bincount(ticket, weights=spent, minlength=n_tickets).astype(np.int64)
    return np.where(np.bincount(ticket, minlength=n_tickets) > 0, wait, -1)


def window_features(
    n_customers: int,
    as_of: int,
    tickets: dict[str, np.ndarray],
    csat: dict[str, np.ndarray],
    nps: dict[str, np.ndarray],
    status_events: dict[str, np.ndarray] | None = None,
    comments: dict[str, np.ndarray] | None = None,
    theme: int = 0,
) -> WindowFeatures:
    """Features of every customer at ``as_of`` from the records of its lookback window.

    Parameters
    ----------
    n_customers : int
        Number of customers (length of every output array).
    as_of : int
        The instant, seconds since the epoch.
    tickets : dict
        Tickets created in the window: ``customer``, ``created``, ``first_response``
        (``NEVER`` when none) and ``target_h`` (first-response SLA target, hours).
    csat, nps : dict
        Survey answers submitted in the window: ``customer``, ``submitted``, ``score``.
    status_events : dict, optional
        The status events of those tickets (:func:`requester_wait_s`); without them the
        median requester wait is NaN (data without ticket events).
    comments : dict, optional
        Survey answers with a comment submitted in the window: ``customer`` and ``theme`` (its
        planted theme's position in :data:`slm_lib.synth.comments.THEMES`).
    theme : int
        The theme whose share of each customer's comments is ``theme_share`` (NaN without a
        comment, as ``theme_<name>_share`` of ``slm.customer_features``).

    Returns
    -------
    WindowFeatures

    Examples
    --------
    >>> t = {"customer": np.array([0]), "created": np.array([0]),
    ...      "first_response": np.array([7200]), "target_h": np.array([1.0])}
    >>> e = {"customer": np.array([], int), "submitted": np.array([], int), "score": np.array([], int)}
    >>> f = window_features(2, 36000, t, e, e)
    >>> f.median_frt_h.tolist(), f.sla_breach_share.tolist(), f.median_requester_wait_h.tolist()
    ([2.0, nan], [1.0, nan], [nan, nan])
    >>> c = {"customer": np.array([1, 1, 1]), "theme": np.array([1, 0, 1])}
    >>> window_features(2, 36000, t, e, e, None, c, theme=1).theme_share.tolist()
    [nan, 0.6666666666666666]
    """
    cust = tickets["customer"]
    count = np.bincount(cust, minlength=n_customers)
    answered = tickets["first_response"] < as_of
    frt_s = tickets["first_response"][answered] - tickets["created"][answered]
    frt_h = frt_s / 3600.0
    median_frt = group_median(cust[answered], frt_s, n_customers) / 3600.0

    target_s = tickets["target_h"] * 3600.0
    breached = np.zeros(cust.size, dtype=bool)
    breached[answered] = frt_h > tickets["target_h"][answered]
    breached |= ~answered & ((as_of - tickets["created"]) > target_s)
    decided = breached | answered
    n_breached = np.bincount(cust, weights=breached, minlength=n_customers)
    n_decided = np.bincount(cust, weights=decided, minlength=n_customers)
    with np.errstate(invalid="ignore", divide="ignore"):
        breach_share = np.where(n_decided > 0, n_breached / n_decided, np.nan)

    csat_n = np.bincount(csat["customer"], minlength=n_customers)
    csat_sum = np.bincount(csat["customer"], weights=csat["score"], minlength=n_customers)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_csat = np.where(csat_n > 0, csat_sum / np.maximum(csat_n, 1), np.nan)

    last_nps = np.full(n_customers, NPS_NONE, dtype=np.int8)
    if nps["customer"].size:
        order = np.lexsort((nps["submitted"], nps["customer"]))
        keys = nps["customer"][order]
        is_last = np.r_[keys[1:] != keys[:-1], True]
        last_nps[keys[is_last]] = nps_category(nps["score"][order][is_last])
    median_wait = np.full(n_customers, np.nan)
    if status_events is not None:
        wait = requester_wait_s(status_events, cust.size, as_of)
        known = wait >= 0
        median_wait = group_median(cust[known], wait[known], n_customers) / 3600.0
    theme_share = np.full(n_customers, np.nan)
    if comments is not None:
        n_comments = np.bincount(comments["customer"], minlength=n_customers)
        about = np.bincount(comments["customer"], weights=comments["theme"] == theme, minlength=n_customers)
        with np.errstate(invalid="ignore", divide="ignore"):
            theme_share = np.where(n_comments > 0, about / np.maximum(n_comments, 1), np.nan)
    return WindowFeatures(count, median_frt, breach_share, last_nps, mean_csat, median_wait, theme_share)


def churn_logit(
    b0: np.ndarray, tenure_years: np.ndarray, features: WindowFeatures, coef: dict[str, float]
) -> np.ndarray:
    """Log-odds of churning this month for each customer (the planted hazard).

    Parameters
    ----------
    b0 : numpy.ndarray
        Segment intercept of each customer.
    tenure_years : numpy.ndarray
        Tenure at ``as_of`` in years.
    features : WindowFeatures
        Features at ``as_of`` (same customer order).
    coef : dict
        ``tenure``, ``tenure_cap``, ``frt``, ``frt_scale_h``, ``sla``, ``detractor``,
        ``passive``, ``nps_none``, ``no_ticket``, ``wait`` (per ``wait_scale_h`` hours of
        median requester wait; term 0 when NaN), ``theme`` (per share 0 -> 1 of comments
        about the planted churn theme; term 0 when NaN).

    Returns
    -------
    numpy.ndarray

    Examples
    --------
    >>> f = WindowFeatures(np.array([0]), np.array([np.nan]), np.array([np.nan]),
    ...                    np.array([NPS_NONE]), np.array([np.nan]), np.array([np.nan]), np.array([0.5]))
    >>> c = dict(tenure=-0.1, tenure_cap=5, frt=0.2, frt_scale_h=10, sla=1, detractor=0.9,
    ...          passive=0.3, nps_none=0.3, no_ticket=0.0, wait=0.1, wait_scale_h=10, theme=1.0)
    >>> float(churn_logit(np.array([-4.0]), np.array([10.0]), f, c)[0])
    -3.7
    """
    frt = np.nan_to_num(features.median_frt_h, nan=0.0) / coef["frt_scale_h"]
    wait = np.nan_to_num(features.median_requester_wait_h, nan=0.0) / coef["wait_scale_h"]
    sla = np.nan_to_num(features.sla_breach_share, nan=0.0)
    theme = np.nan_to_num(features.theme_share, nan=0.0)
    nps = features.last_nps
    return (b0 + coef["tenure"] * np.minimum(tenure_years, coef["tenure_cap"]) + coef["theme"] * theme
            + coef["frt"] * frt + coef["wait"] * wait + coef["no_ticket"] * (features.tickets_in_window == 0)
            + coef["sla"] * sla
            + coef["detractor"] * (nps == DETRACTOR) + coef["passive"] * (nps == PASSIVE)
            + coef["nps_none"] * (nps == NPS_NONE))
