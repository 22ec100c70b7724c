"""The help desk's own per-ticket figures, and their business hours against our calendar (SPEC §10).

Help desks report their own figures per ticket: business-hours durations (Zendesk
``reply_time_in_minutes.business`` and ``full_resolution_time_in_minutes.business``,
Freshdesk "(in hrs)" columns) and Zendesk's lifecycle metrics (requester and agent wait,
on-hold, first and full resolution). The mappings keep them as extra ticket columns named
``vendor_*`` (hours); :func:`vendor_durations` collects them and an import writes them to
``vendor_durations.csv`` beside the canonical tables. Comparing the business-hours figures
with the same durations measured by a :class:`slm_lib.calendar.BusinessCalendar` shows
whether the calendar configuration (working days, opening hours, holidays, time zone)
matches the tool's schedule; :func:`slm_lib.metrics.reconcile.reconcile_lifecycle` compares
the lifecycle figures with the ones slm computes from ticket_events.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

#: Extra ticket column -> (measure, end-of-interval column).
VENDOR_DURATIONS: dict[str, tuple[str, str]] = {
    "vendor_frt_business_h": ("first_response", "first_response_at"),
    "vendor_resolution_business_h": ("resolution", "resolved_at"),
}
#: Side file of an imported data directory holding the vendor figures by ticket_id.
VENDOR_FILE = "vendor_durations.csv"
#: Prefix of the extra ticket columns that hold the vendor's own figures (hours).
VENDOR_PREFIX = "vendor_"
COLUMNS = ["measure", "vendor_column", "n", "median_abs_diff_min", "mean_diff_min", "share_within_5min"]
TOLERANCE_MIN = 5.0


def vendor_durations(tickets: pd.DataFrame) -> pd.DataFrame:
    """The vendor figures of ``tickets`` (columns ``vendor_*``) with ``ticket_id``, rows with a figure.

    Examples
    --------
    >>> t = pd.DataFrame({"ticket_id": ["1", "2"], "vendor_frt_business_h": [0.5, None]})
    >>> vendor_durations(t)["ticket_id"].tolist()
    ['1']
    """
    columns = [c for c in tickets.columns if str(c).startswith(VENDOR_PREFIX)]
    frame = tickets[["ticket_id", *columns]]
    return frame[frame[columns].notna().any(axis=1)].reset_index(drop=True) if columns else frame.iloc[:0]


def read_vendor_durations(directory: str | os.PathLike) -> pd.DataFrame:
    """The vendor figures an import kept in ``<directory>/vendor_durations.csv`` (empty if none).

    Examples
    --------
    >>> read_vendor_durations("no/such/dir").empty
    True
    """
    path = Path(directory) / VENDOR_FILE
    if not path.is_file():
        return pd.DataFrame({"ticket_id": pd.Series(dtype="str")})
    frame = pd.read_csv(path, dtype={"ticket_id": "str"}, keep_default_na=False, na_values=[""])
    return frame.astype({c: "float64" for c in frame.columns if c.startswith(VENDOR_PREFIX)})


def reconcile_business_hours(ds: Any, calendar: Any, tolerance_min: float = TOLERANCE_MIN,
                             vendor: pd.DataFrame | None = None) -> pd.DataFrame:
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
    vendor : pandas.DataFrame, optional
        Vendor figures by ``ticket_id`` for tickets loaded from a directory, as
        :func:`read_vendor_durations` returns them (``load_data`` keeps canonical columns only).

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
    >>> reconcile_business_hours(load_data("data/"), BusinessCalendar(),
    ...                          vendor=read_vendor_durations("data/"))    # doctest: +SKIP
    """
    tickets = ds.tickets
    if vendor is not None and len(vendor.columns) > 1:
        extra = [c for c in vendor.columns if c in VENDOR_DURATIONS]
        tickets = tickets.drop(columns=extra, errors="ignore").merge(vendor[["ticket_id", *extra]],
                                                                      on="ticket_id", how="left")
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
