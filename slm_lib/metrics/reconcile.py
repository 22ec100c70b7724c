"""The help desk's own lifecycle metrics against the ones slm computes from ticket_events (SPEC §10).

Zendesk's ticket metrics carry, per ticket, the requester wait, agent wait, on-hold time and
first and full resolution time in calendar minutes. An import of a Zendesk export with
ticket metrics keeps them as ``vendor_*_h`` ticket columns (hours,
:mod:`slm_lib.io.imports.reconcile`); when the same import brings the ticket history
(audits or incremental ticket events), :func:`~slm_lib.metrics.lifecycle.ticket_lifecycle`
computes the same figures from the events. Agreement says the events were read the way
Zendesk reads them; the tickets that disagree most show where they were not (a missing
status change, an actor read as the wrong side, a custom status mapped differently).

* Zendesk writes whole minutes, so "agrees" means within ``tolerance_min`` (default one
  minute) of the exact figure slm computes.
* Requester wait, agent wait and on-hold are compared on tickets solved or closed at
  ``as_of`` only: Zendesk fills them when a ticket is solved, while slm's clocks of an open
  ticket run to ``as_of``. First and full resolution are compared wherever both exist.
* Every share carries n and a 95% Wilson interval (:func:`slm_lib.stats.share_from_counts`).
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from slm_lib.metrics.lifecycle import ticket_lifecycle
from slm_lib.stats import share_from_counts

#: Compared metric -> (vendor column, ticket_lifecycle column, compared on resolved tickets only).
VENDOR_LIFECYCLE: dict[str, tuple[str, str, bool]] = {
    "requester_wait": ("vendor_requester_wait_h", "requester_wait_h", True),
    "agent_wait": ("vendor_agent_wait_h", "agent_wait_h", True),
    "on_hold": ("vendor_on_hold_h", "on_hold_h", True),
    "first_resolution": ("vendor_first_resolution_h", "first_resolution_h", False),
    "full_resolution": ("vendor_full_resolution_h", "full_resolution_h", False),
}
TOLERANCE_MIN: float = 1.0
DIFFERENCE_COLUMNS = ["metric", "ticket_id", "ours_min", "vendor_min", "diff_min"]
SUMMARY_COLUMNS = ["metric", "vendor_column", "n", "within", "share_within", "ci_low", "ci_high",
                   "median_abs_diff_min", "max_abs_diff_min"]


def _vendor_figures(ds: Any, vendor: pd.DataFrame | None) -> pd.DataFrame:
    """The vendor lifecycle columns by ticket_id: from ``vendor`` when given, else from the tickets."""
    source = ds.tickets if vendor is None else vendor
    columns = [c for c, _, _ in VENDOR_LIFECYCLE.values() if c in source.columns]
    return source[["ticket_id", *columns]].drop_duplicates("ticket_id", keep="last")


def lifecycle_differences(ds: Any, vendor: pd.DataFrame | None = None, as_of: Any = None,
                          beyond_min: float | None = None, top: int | None = None) -> pd.DataFrame:
    """Per metric and ticket, slm's lifecycle figure from the events against the vendor's.

    Parameters
    ----------
    ds : Dataset
        Validated tickets and ticket_events; the tickets may carry the vendor columns
        (``vendor_requester_wait_h`` ..., as :func:`slm_lib.io.imports.read_export` gives them).
    vendor : pandas.DataFrame, optional
        Vendor figures by ``ticket_id`` for data loaded from a directory, as
        :func:`slm_lib.io.imports.read_vendor_durations` returns them.
    as_of : timestamp, optional
        Passed to :func:`~slm_lib.metrics.lifecycle.ticket_lifecycle` (default the data's end).
    beyond_min : float, optional
        Keep only tickets whose absolute difference exceeds this many minutes.
    top : int, optional
        Keep the ``top`` largest absolute differences of each metric.

    Returns
    -------
    pandas.DataFrame
        ``metric``, ``ticket_id``, ``ours_min``, ``vendor_min``, ``diff_min`` (ours minus the
        vendor's, minutes); tickets with both figures (waits: resolved tickets only, module
        docstring), metrics in the order of :data:`VENDOR_LIFECYCLE`, largest absolute
        difference first.

    Raises
    ------
    InsufficientDataError
        The data set has no ticket_events.

    Examples
    --------
    >>> from slm_lib.io.dataset import Dataset
    >>> at = lambda *v: pd.to_datetime(list(v), utc=True)
    >>> t = pd.DataFrame({"ticket_id": ["t1"], "created_at": at("2024-01-01 09:00"),
    ...                   "vendor_full_resolution_h": [1.5]})
    >>> e = pd.DataFrame({"event_id": ["e1"], "ticket_id": "t1", "at": at("2024-01-01 10:30:20"),
    ...     "kind": ["status"], "actor": ["agent"], "status": ["solved"], "agent_id": None, "team": None})
    >>> d = lifecycle_differences(Dataset(tickets=t, ticket_events=e), as_of="2024-01-02")
    >>> d[["metric", "ours_min", "diff_min"]].round(2).values.tolist()
    [['full_resolution', 90.33, 0.33]]
    """
    figures = _vendor_figures(ds, vendor).set_index("ticket_id")
    if figures.columns.empty:
        return pd.DataFrame({c: pd.Series(dtype="float64" if c.endswith("_min") else "str")
                             for c in DIFFERENCE_COLUMNS})
    ours = ticket_lifecycle(ds, as_of=as_of).set_index("ticket_id")
    resolved = ours["status"].isin(["solved", "closed"])
    parts = []
    for metric, (column, mine, resolved_only) in VENDOR_LIFECYCLE.items():
        if column not in figures.columns:
            continue
        theirs = figures[column].reindex(ours.index)
        keep = ours[mine].notna() & theirs.notna() & (resolved if resolved_only else True)
        frame = pd.DataFrame({"metric": metric, "ticket_id": ours.index[keep],
                              "ours_min": ours.loc[keep, mine].to_numpy() * 60.0,
                              "vendor_min": theirs[keep].to_numpy() * 60.0})
        frame["diff_min"] = frame["ours_min"] - frame["vendor_min"]
        frame = frame.iloc[np.argsort(-frame["diff_min"].abs().to_numpy(), kind="stable")]
        if beyond_min is not None:
            frame = frame[frame["diff_min"].abs() > beyond_min]
        parts.append(frame.head(top) if top is not None else frame)
    out = pd.concat(parts, ignore_index=True)
    return out[DIFFERENCE_COLUMNS].astype({"metric": "str", "ticket_id": "str", "ours_min": "float64",
                                           "vendor_min": "float64", "diff_min": "float64"})


def reconcile_lifecycle(ds: Any, vendor: pd.DataFrame | None = None, as_of: Any = None,
                        tolerance_min: float = TOLERANCE_MIN) -> pd.DataFrame:
    """How often slm's lifecycle figures agree with the help desk's own, per metric.

    Parameters
    ----------
    ds, vendor, as_of
        As for :func:`lifecycle_differences`.
    tolerance_min : float
        A ticket agrees when the figures are at most this many minutes apart.

    Returns
    -------
    pandas.DataFrame
        One row per vendor metric present: ``metric``, ``vendor_column``, ``n`` (tickets
        compared), ``within`` (tickets that agree), ``share_within`` (%) with its 95% Wilson
        interval ``ci_low`` / ``ci_high``, ``median_abs_diff_min`` and ``max_abs_diff_min``.
        Empty when the data hold no vendor lifecycle figures. The tickets behind a low share:
        ``lifecycle_differences(ds, vendor, beyond_min=tolerance_min, top=5)``.

    Examples
    --------
    >>> from slm_lib.io.dataset import Dataset
    >>> at = lambda *v: pd.to_datetime(list(v), utc=True)
    >>> t = pd.DataFrame({"ticket_id": ["t1", "t2"], "created_at": at("2024-01-01 09:00", "2024-01-01 09:00"),
    ...                   "vendor_full_resolution_h": [1.5, 1.0]})
    >>> e = pd.DataFrame({"event_id": ["e1", "e2"], "ticket_id": ["t1", "t2"], "kind": "status", "actor": "agent",
    ...     "at": at("2024-01-01 10:30:20", "2024-01-01 11:00:00"), "status": "solved", "agent_id": None, "team": None})
    >>> row = reconcile_lifecycle(Dataset(tickets=t, ticket_events=e), as_of="2024-01-02").iloc[0]
    >>> row["metric"], int(row["n"]), int(row["within"]), float(row["share_within"]), float(row["max_abs_diff_min"])
    ('full_resolution', 2, 1, 50.0, 60.0)
    """
    differences = lifecycle_differences(ds, vendor, as_of=as_of)
    present = _vendor_figures(ds, vendor).columns
    rows = []
    for metric, (column, _, _) in VENDOR_LIFECYCLE.items():
        if column not in present:
            continue
        gap = differences.loc[differences["metric"].eq(metric), "diff_min"].abs().to_numpy()
        within = int((gap <= tolerance_min).sum())
        share, low, high = share_from_counts(within, len(gap))
        rows.append({"metric": metric, "vendor_column": column, "n": len(gap), "within": within,
                     "share_within": float(share), "ci_low": float(low), "ci_high": float(high),
                     "median_abs_diff_min": float(np.median(gap)) if len(gap) else np.nan,
                     "max_abs_diff_min": float(gap.max()) if len(gap) else np.nan})
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS).astype({"n": "int64", "within": "int64"})
