"""The open backlog at each period end, by age (SPEC §9 ``backlog``), as dbt_zendesk's daily backlog.

A ticket is in the backlog at instant ``e`` (a period end) when it was created before
``e`` and its status in force just before ``e`` is neither solved nor closed (what happened
strictly before ``e``, as :meth:`slm_lib.io.dataset.Dataset.until` keeps). With ticket
events the status comes from them (:mod:`slm_lib.events`: ``new`` until the first status
event; a reopened ticket is back in the backlog); a ticket without events is open from
``created_at`` until its ``resolved_at``. Its age at ``e`` is ``e - created_at`` in days,
put in the buckets ``[0, a1), [a1, a2), ..., [ak, inf)`` of ``age_buckets = (a1, ..., ak)``.

Period ends are the local midnights (in ``tz``) that end each day, ISO week, month, quarter
or year (:func:`slm_lib.periods.period_starts`), from the period of the first ticket to the
last period that ended by ``as_of`` (default the data's observation end): a period still
running has no end to count at yet.

Vectorised: every open interval (one per unresolved status stretch) becomes, per age
bucket, a range of period ends found by ``np.searchsorted``; a difference array and one
cumulative sum give the counts. No loop over tickets or periods.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from slm_lib.errors import ConfigError, InsufficientDataError
from slm_lib.events import RESOLVED, event_history, first_per_ticket, status_changes
from slm_lib.metrics.lifecycle import lifecycle_as_of
from slm_lib.metrics.grouping import by_codes, by_list, combine_codes
from slm_lib.periods import NAT_NS, epoch_ns, period_labels, period_ordinals, period_starts
from slm_lib.schema import empty_frame

_DAY_NS = 86_400 * 10**9
_FOREVER = np.iinfo(np.int64).max


def age_bucket_labels(age_buckets: Sequence[float]) -> list[str]:
    """Labels of the age buckets in days: ``0-1d``, ``1-3d``, ..., ``30d+``.

    Raises
    ------
    ConfigError
        Unless the bounds are positive, finite and increasing.

    Examples
    --------
    >>> age_bucket_labels((1, 3, 7, 30))
    ['0-1d', '1-3d', '3-7d', '7-30d', '30d+']
    """
    bounds = np.asarray(age_buckets, dtype=np.float64)
    if bounds.ndim != 1 or not len(bounds) or not np.isfinite(bounds).all() or (bounds <= 0).any() \
            or (np.diff(bounds) <= 0).any():
        raise ConfigError(f"backlog: age_buckets must be positive, increasing day counts, got {age_buckets!r}")
    edges = [0.0, *bounds]
    return [f"{lo:g}-{hi:g}d" for lo, hi in zip(edges, edges[1:])] + [f"{edges[-1]:g}d+"]


def _open_intervals(ds: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(ticket row, start, stop) in ns of every stretch a ticket spent open: open at ``e`` iff start < e <= stop."""
    tickets, events = ds.tickets, ds.ticket_events
    n = len(tickets)
    created = epoch_ns(tickets["created_at"])
    resolved = epoch_ns(tickets["resolved_at"])
    if not len(events):
        ok = created != NAT_NS
        return np.flatnonzero(ok), created[ok], np.where(resolved == NAT_NS, _FOREVER, resolved)[ok]
    h = event_history(tickets, events)
    changes = status_changes(h)
    st, at = h.ticket[changes.index], h.at[changes.index]
    stop = np.full(len(st), _FOREVER)
    follows = np.zeros(len(st), dtype=bool)
    follows[:-1] = st[1:] == st[:-1]
    stop[follows] = at[1:][follows[:-1]]
    unresolved = ~np.isin(changes.status, RESOLVED)
    with_events = np.bincount(h.ticket, minlength=n) > 0
    first_status = first_per_ticket(st, at, n, _FOREVER)   # new from creation to the first status event
    plain = ~with_events & (created != NAT_NS)
    fresh = with_events & (created != NAT_NS)
    rows = np.concatenate([st[unresolved], np.flatnonzero(fresh), np.flatnonzero(plain)])
    start = np.concatenate([at[unresolved], created[fresh], created[plain]])
    end = np.concatenate([stop[unresolved], first_status[fresh],
                          np.where(resolved == NAT_NS, _FOREVER, resolved)[plain]])
    return rows, start, end


def backlog(ds: Any, freq: str = "D", by: str | Sequence[str] | None = None,
            age_buckets: Sequence[float] = (1, 3, 7, 30), tz: str = "UTC", as_of: Any = None) -> pd.DataFrame:
    """Open (not solved or closed) tickets at the end of each period, by age bucket.

    Parameters
    ----------
    ds : Dataset or LazyDataset
        Tickets, and ticket_events when there are any. On an engine the open stretches
        are counted there (:mod:`slm_lib.engines.backlog`): only the counts come back.
    freq : {"D", "W", "M", "Q", "Y"}
        Period length; labels as in :mod:`slm_lib.periods`.
    by : str or list of str, optional
        Group columns of tickets or customers (as in ``metric_table``).
    age_buckets : sequence of float
        Bucket bounds in days (module docstring).
    tz : str
        Time zone whose midnights end the periods.
    as_of : timestamp, optional
        Only periods that ended by then; default ``ds.observation_end()``.

    Returns
    -------
    pandas.DataFrame
        ``period, <by...>, age_bucket, open_tickets``, one row per period, group and
        bucket (zeros included), in period, group and bucket order.

    Examples
    --------
    >>> from slm_lib.io.dataset import Dataset
    >>> t = empty_frame("tickets").reindex(range(2)).assign(ticket_id=["a", "b"],
    ...     created_at=pd.to_datetime(["2024-01-01 10:00", "2024-01-01 12:00"], utc=True),
    ...     resolved_at=pd.to_datetime(["2024-01-03 09:00", None], utc=True))
    >>> b = backlog(Dataset(tickets=t), age_buckets=(1,), as_of="2024-01-04")
    >>> b.pivot(index="period", columns="age_bucket", values="open_tickets").values.tolist()
    [[2, 0], [0, 2], [0, 1]]
    """
    labels = age_bucket_labels(age_buckets)
    by = by_list(by)
    end = lifecycle_as_of(ds, as_of)
    on_engine = getattr(ds, "engine_backlog_steps", None)  # a LazyDataset (slm_lib.engines) counts on its engine
    born = ds.tickets["created_at"].min() if on_engine is None else ds.engine_first_created()
    if pd.isna(born):
        raise InsufficientDataError("backlog: no ticket has a created_at")
    first = int(period_ordinals(pd.Series([born]), freq, tz)[0])
    last = int(period_ordinals(pd.Series([end]), freq, tz)[0]) - 1   # the period holding as_of has not ended
    if last < first:
        raise InsufficientDataError(f"backlog: no {freq} period ended between the first ticket and {end}")
    bounds = [round(days * _DAY_NS) for days in (0, *age_buckets)]
    if on_engine is None:
        keys, steps = _steps(ds, by, period_starts(np.arange(first + 1, last + 2), freq, tz).asi8, bounds)
    else:
        keys, steps = on_engine(by=by, freq=freq, tz=tz, first=first, n_ends=last - first + 1, bounds=bounds)
    n_groups, n_ends = len(keys), last - first + 1
    counts = np.cumsum(steps.reshape(-1, n_ends + 1), axis=1)[:, :n_ends]   # (group * bucket, period)

    period = np.repeat(period_labels(np.arange(first, last + 1), freq), n_groups * len(labels))
    out = pd.DataFrame({"period": pd.array(period, dtype="str")})
    for name in by:
        out[name] = np.tile(np.repeat(keys[name].to_numpy(dtype=object), len(labels)), n_ends)
        out[name] = out[name].astype(keys[name].dtype)
    out["age_bucket"] = pd.array(np.tile(labels, n_groups * n_ends), dtype="str")
    out["open_tickets"] = counts.T.reshape(-1)
    return out


def _steps(ds: Any, by: list[str], ends: np.ndarray, bounds: list[int]) -> tuple[pd.DataFrame, np.ndarray]:
    """The group keys, and the changes of open counts per (group, age bucket, period end) as a flat array.

    Element ``(g * buckets + b) * (len(ends) + 1) + k`` is the number of open stretches of
    group ``g`` that enter age bucket ``b`` at end ``k`` minus those that leave it there;
    bucket ``b`` holds ages in ``[bounds[b], bounds[b + 1])`` ns (the last one unbounded).
    """
    codes, names, _ = by_codes(by, ds.tickets, empty_frame("surveys"), ds.customers)
    group, keys = combine_codes(codes, names, by) if by else (np.zeros(len(ds.tickets), np.int64), pd.DataFrame(index=[0]))
    n_ends, n_buckets = len(ends), len(bounds)
    rows, start, stop = _open_intervals(ds)
    born = epoch_ns(ds.tickets["created_at"])[rows]
    low_end = np.searchsorted(ends, start, side="right")        # first end after the stretch began
    high_end = np.searchsorted(ends, stop, side="right")        # first end after it stopped
    size = len(keys) * n_buckets * (n_ends + 1)
    steps = np.zeros(size, dtype=np.int64)       # +1 where a stretch enters a (group, bucket) row, -1 where it leaves
    cell = group[rows] * n_buckets
    for b, lo in enumerate(bounds):               # a handful of buckets, each vectorised over all stretches
        young = np.searchsorted(ends, born + lo, side="left")
        old = np.searchsorted(ends, born + bounds[b + 1], side="left") if b + 1 < n_buckets else n_ends
        a, z = np.maximum(low_end, young), np.minimum(high_end, old)
        ok = z > a
        base = (cell[ok] + b) * (n_ends + 1)
        steps += np.bincount(base + a[ok], minlength=size) - np.bincount(base + z[ok], minlength=size)
    return keys, steps
