"""Reconciling vendor business-hours durations with our BusinessCalendar (SPEC §10 item 4).

Help desks report their own business-hours figures (Zendesk ``reply_time_in_minutes.business``
and ``full_resolution_time_in_minutes.business``, Freshdesk "(in hrs)" columns). The
mappings keep them as extra ticket columns ``vendor_frt_business_h`` and
``vendor_resolution_business_h``. Comparing them with the same durations measured by a
:class:`slm_lib.calendar.BusinessCalendar` shows whether the calendar configuration (working
days, opening hours, holidays, time zone) matches the tool's schedule.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

#: Extra ticket column -> (measure, end-of-interval column).
VENDOR_DURATIONS: dict[str, tuple[str, str]] = {
    "vendor_frt_business_h": ("first_response", "first_response_at"),
    "vendor_resolution_business_h": ("resolution", "resolved_at"),
}
COLUMNS = ["measure", "vendor_column", "n", "median_abs_diff_min", "mean_diff_min", "share_within_5min"]
TOLERANCE_MIN = 5.0


def reconcile_business_hours(ds: Any, calendar: Any, tolerance_min: float = TOLERANCE_MIN) -> pd.DataFrame:
    """Compare the vendor's business-hours durations with ``calendar.hours_between``.

    Parameters
    ----------
    ds : Dataset
        Imported data whose ``tickets`` carry ``vendor_frt_business_h`` and/or
        ``vendor_resolution_business_h`` (as :func:`read_export` gives them).
    calendar : BusinessCalendar
        Any object with ``hours_between(start, end)`` returning business hours.
    tolerance_min : float
        Agreement tolerance in minutes for ``share_within_5min``.

    Returns
    -------
    pandas.DataFrame
        One row per vendor measure present: ``measure``, ``vendor_column``, ``n`` (tickets
        with both figures), ``median_abs_diff_min``, ``mean_diff_min`` (ours minus vendor,
        minutes) and ``share_within_5min`` (share with an absolute difference of at most
        ``tolerance_min`` minutes). Empty when the data hold no vendor figures.

    Examples
    --------
    >>> from slm_lib.calendar import BusinessCalendar                      # doctest: +SKIP
    >>> reconcile_business_hours(read_export("zendesk", paths), BusinessCalendar())  # doctest: +SKIP
    """
    tickets = ds.tickets
    rows = []
    for column, (measure, end) in VENDOR_DURATIONS.items():
        if column not in tickets.columns:
            continue
        both = tickets[tickets[column].notna() & tickets[end].notna()]
        ours = np.asarray(calendar.hours_between(both["created_at"], both[end]), dtype="float64")
        diff_min = (ours - both[column].to_numpy(dtype="float64")) * 60.0
        n = int(np.isfinite(diff_min).sum())
        diff_min = diff_min[np.isfinite(diff_min)]
        rows.append({"measure": measure, "vendor_column": column, "n": n,
                     "median_abs_diff_min": float(np.median(np.abs(diff_min))) if n else np.nan,
                     "mean_diff_min": float(diff_min.mean()) if n else np.nan,
                     "share_within_5min": float((np.abs(diff_min) <= tolerance_min).mean()) if n else np.nan})
    return pd.DataFrame(rows, columns=COLUMNS).astype({"n": "int64"})
