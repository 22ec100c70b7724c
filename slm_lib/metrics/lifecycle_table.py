"""The rows :func:`slm_lib.metrics.table.metric_table` gains from ticket events (SPEC §9).

Computed from one :func:`slm_lib.metrics.lifecycle.lifecycle` of the data at the table's
``as_of`` (the data set's observation end), per period (by ``created_at``, as every ticket
metric) and group, in calendar or business hours like the other durations:

* ``requester_wait_median``, ``agent_wait_median``, ``on_hold_median``,
  ``full_resolution_median``: medians over the tickets solved (or closed) at ``as_of``,
  whose clocks have stopped (an open ticket's waits are still growing; Zendesk, too,
  reports them once a ticket is solved). ``on_hold_median`` counts every solved ticket, so
  it is 0 while fewer than half of them were ever on hold.
* ``next_reply_median``: median over tickets with at least one answered next reply of each
  ticket's median next reply time (one value per ticket, so the interval's independent
  draws are tickets, not the replies within one conversation).
* ``one_touch_rate``: solved tickets with at most one agent public reply, over solved tickets.
* ``handoff_rate``: solved tickets with at least one handoff (an assignment to a different
  agent after the first), over solved tickets; solved, so that a ticket's handoffs are all
  in (an open ticket can still be passed on).
* ``reopen_rate``: the SPEC §4 definition (resolved tickets with a reopen, over resolved
  tickets) read from the events up to ``as_of`` for the tickets that have events; a ticket
  without events keeps its own ``resolved_at`` and ``reopens``.
* ``sla_next_reply``, ``sla_requester_wait`` (and ``sla_agent_work`` when targeted):
  compliance of the clocks of :mod:`slm_lib.metrics.sla_events`, judged at ``as_of`` like
  every SLA metric; ``n`` = achieved + breached clocks.

Medians carry the distribution-free order-statistic intervals of the other medians
(:func:`slm_lib.stats.grouped_quantiles`), rates Wilson intervals
(:func:`slm_lib.stats.share_from_counts`). Without ticket events none of these rows exists
and ``reopen_rate`` comes from the tickets' fields.
"""
from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from slm_lib.metrics.lifecycle import Lifecycle
from slm_lib.metrics.sla import ACHIEVED, BREACHED
from slm_lib.metrics.sla_events import EVENT_TARGETS
from slm_lib.stats import grouped_quantiles, share_from_counts

#: Medians of the lifecycle (metric -> duration of ``Lifecycle.per_ticket``), then its rates.
LIFECYCLE_MEDIANS: dict[str, str] = {
    "requester_wait_median": "requester_wait", "agent_wait_median": "agent_wait", "on_hold_median": "on_hold",
    "full_resolution_median": "full_resolution", "next_reply_median": "next_reply_median"}
LIFECYCLE_RATES: tuple[str, ...] = ("one_touch_rate", "handoff_rate")
#: Every metric_table row from ticket events, in table order (``reopen_rate`` keeps its place).
EVENT_METRICS: tuple[str, ...] = (*(f"sla_{t}" for t in EVENT_TARGETS), *LIFECYCLE_MEDIANS, *LIFECYCLE_RATES)
Result = dict[str, tuple[np.ndarray, ...]]


def _counts(mask: np.ndarray, group: np.ndarray, size: int) -> np.ndarray:
    return np.bincount(group[mask & (group >= 0)], minlength=size)


def _rate(hit: np.ndarray, among: np.ndarray, group: np.ndarray, size: int) -> tuple[np.ndarray, ...]:
    n = _counts(among, group, size)
    return (n, *share_from_counts(_counts(hit & among, group, size), n))


def lifecycle_group_metrics(lc: Lifecycle, judged: Mapping[str, tuple], group: np.ndarray, size: int,
                            flags: Mapping[str, np.ndarray]) -> Result:
    """The event rows (module docstring) per group code: metric -> (n, value, ci_low, ci_high).

    Parameters
    ----------
    lc : Lifecycle
        Of the tickets the group codes belong to.
    judged : mapping
        Event SLA target -> (clocks, status codes), from :func:`slm_lib.metrics.sla.event_sla_codes`.
    group : int64 array
        Group code of each ticket row (-1: left out); ``size`` codes.
    flags : mapping
        :func:`slm_lib.metrics.tickets.ticket_flags` of the tickets (for tickets without events).

    Examples
    --------
    >>> from slm_lib.io.dataset import Dataset
    >>> from slm_lib.metrics.lifecycle import lifecycle
    >>> import pandas as pd
    >>> at = lambda *v: pd.to_datetime(list(v), utc=True)
    >>> t = pd.DataFrame({"ticket_id": ["t1", "t2"], "created_at": at("2024-01-01 09:00", "2024-01-01 09:00")})
    >>> e = pd.DataFrame({"event_id": ["a", "b"], "ticket_id": ["t1", "t2"], "kind": "status",
    ...     "status": ["solved", "pending"], "actor": "agent", "agent_id": None, "team": None,
    ...     "at": at("2024-01-01 11:00", "2024-01-01 10:00")})
    >>> lc = lifecycle(Dataset(tickets=t, ticket_events=e), as_of="2024-01-02")
    >>> flags = {"resolved": np.zeros(2, bool), "reopened": np.zeros(2, bool)}
    >>> out = lifecycle_group_metrics(lc, {}, np.zeros(2, np.int64), 1, flags)
    >>> out["requester_wait_median"][:2], out["one_touch_rate"][:2]    # only t1 is solved: 2 h new
    ((array([1]), array([2.])), (array([1]), array([100.])))
    """
    values = lc.per_ticket
    solved = lc.keep & values["resolved"]
    out: Result = {}
    for target, (clocks, code) in judged.items():
        g = group[clocks.ticket]
        out[f"sla_{target}"] = _rate(code == ACHIEVED, np.isin(code, (ACHIEVED, BREACHED)), g, size)
    for metric, name in LIFECYCLE_MEDIANS.items():
        among = (values["next_reply_count"] > 0) & lc.keep if name == "next_reply_median" else solved
        ok = among & (group >= 0)
        median = grouped_quantiles(values[name][ok], group[ok], size, (0.5,), scale=1.0 / lc.unit)[0.5]
        out[metric] = (np.bincount(group[ok], minlength=size), *median)
    out["one_touch_rate"] = _rate(values["one_touch"], solved, group, size)
    out["handoff_rate"] = _rate(values["handoffs"] > 0, solved, group, size)
    resolved = np.where(lc.keep, values["resolved"], flags["resolved"])
    reopened = np.where(lc.keep, values["reopens"] > 0, flags["reopened"])
    out["reopen_rate"] = _rate(reopened, resolved, group, size)
    return out
