"""Channel switching: when a customer comes back within N days, on which channel?

A **follow-up** is a pair of consecutive tickets of one customer (in ``created_at`` order;
tickets created at the same instant follow each other in table order) whose second ticket
was created at most ``days`` after the first. Only follow-ups count, so a contact near the
data's end whose window is not over simply has none observed yet: the share is conditional
on a follow-up and needs no censoring. Tickets created after ``as_of`` are ignored.

* ``summary``: per channel of the first contact (and ``"all"``), follow-ups ``n``, those on
  another channel (``switched``) and their share in % with a Wilson interval.
* ``transitions``: the tidy transition matrix, one row per (from_channel, to_channel) pair
  of the channels seen, counts ``n`` and the row share in % (share of the from-channel's
  follow-ups that went to ``to_channel``) with a Wilson interval; rows of a from-channel
  with fewer than ``min_n`` follow-ups are ``small_n``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from slm_lib.config import DEFAULT_MIN_N
from slm_lib.metrics.contacts import REPEAT_DAYS, ContactIndex, customer_codes, observation_end, until
from slm_lib.periods import epoch_ns
from slm_lib.stats import share_from_counts

_NS_PER_DAY = 86_400 * 10**9
#: Label of a ticket without a channel.
UNKNOWN_CHANNEL = "unknown"


@dataclass(frozen=True)
class ChannelSwitching:
    """Result of :func:`channel_switching` (module docstring).

    Attributes
    ----------
    days : float
        The follow-up window.
    summary : pandas.DataFrame
        ``from_channel, n, switched, value, ci_low, ci_high, small_n``; the first row is
        ``from_channel = "all"``.
    transitions : pandas.DataFrame
        ``from_channel, to_channel, n, share, ci_low, ci_high, small_n``.
    """

    days: float
    summary: pd.DataFrame
    transitions: pd.DataFrame

    def matrix(self) -> pd.DataFrame:
        """The transition counts as a from_channel x to_channel table."""
        return self.transitions.pivot(index="from_channel", columns="to_channel", values="n")


def follow_ups(tickets: pd.DataFrame, as_of: pd.Timestamp, days: float = REPEAT_DAYS) -> tuple[np.ndarray, np.ndarray]:
    """Rows of (first ticket, follow-up ticket) pairs: consecutive tickets of a customer at most ``days`` apart.

    Examples
    --------
    >>> at = lambda *v: pd.to_datetime(list(v), utc=True)
    >>> t = pd.DataFrame({"customer_id": ["x", "x", "x", "y"],
    ...                   "created_at": at("2024-01-01", "2024-01-03", "2024-01-30", "2024-01-02")})
    >>> [a.tolist() for a in follow_ups(t, pd.Timestamp("2024-02-01", tz="UTC"))]
    [[0], [1]]
    """
    created = epoch_ns(tickets["created_at"])
    index = ContactIndex.build(customer_codes(tickets), until(created, as_of.value))
    first, then = index.following()
    near = created[then] - created[first] <= int(round(days * _NS_PER_DAY))
    return first[near], then[near]


def channel_switching(ds: Any, days: float = REPEAT_DAYS, as_of: Any = None,
                      min_n: int = DEFAULT_MIN_N) -> ChannelSwitching:
    """Share of follow-up contacts on another channel, and the transition matrix between channels.

    Parameters
    ----------
    ds : Dataset
        Tickets with ``customer_id``, ``created_at``, ``channel``.
    days : float
        A ticket created at most this many days after the customer's previous one is a follow-up.
    as_of : timestamp, optional
        Tickets created later are ignored; default ``ds.observation_end()``.
    min_n : int
        Follow-ups of a from-channel below this flag its rows ``small_n``.

    Returns
    -------
    ChannelSwitching
        ``.summary`` and ``.transitions`` (module docstring), ``.matrix()``.

    Examples
    --------
    >>> from slm_lib.io.dataset import Dataset
    >>> at = lambda *v: pd.to_datetime(list(v), utc=True)
    >>> t = pd.DataFrame({"ticket_id": list("abcd"), "customer_id": ["x", "x", "x", "y"],
    ...     "channel": ["chat", "phone", "phone", "chat"],
    ...     "created_at": at("2024-01-01", "2024-01-03", "2024-01-05", "2024-01-02")})
    >>> sw = channel_switching(Dataset(tickets=t, as_of="2024-02-01"))
    >>> sw.summary[["from_channel", "n", "switched", "value"]].values.tolist()
    [['all', 2, 1, 50.0], ['chat', 1, 1, 100.0], ['phone', 1, 0, 0.0]]
    >>> sw.matrix().loc["chat"].tolist()
    [0, 1]
    """
    hook = getattr(ds, "engine_channel_switching", None)
    if hook is not None:
        return hook(days=days, as_of=as_of, min_n=min_n)
    t = ds.tickets
    first, then = follow_ups(t, observation_end(ds, as_of), days)
    codes, channels = pd.factorize(t["channel"], sort=True, use_na_sentinel=True)
    channels = [str(c) for c in channels]
    if (codes < 0).any():   # no channel: its own last label
        codes = np.where(codes < 0, len(channels), codes)
        channels.append(UNKNOWN_CHANNEL)
    k = len(channels)
    counts = np.bincount(codes[first] * k + codes[then], minlength=k * k).reshape(k, k)
    return switching_tables(counts, channels, days, min_n)


def switching_tables(counts: np.ndarray, channels: list[str], days: float,
                     min_n: int = DEFAULT_MIN_N) -> ChannelSwitching:
    """:class:`ChannelSwitching` from the follow-up counts (``counts[i, j]``: from ``channels[i]`` to ``channels[j]``).

    Every engine's formula: the engines count the follow-ups, this turns them into shares.

    Examples
    --------
    >>> switching_tables(np.array([[1, 3], [0, 0]]), ["chat", "phone"], 7).summary[["from_channel", "n"]].values.tolist()
    [['all', 4], ['chat', 4]]
    """
    k = len(channels)
    row_n = counts.sum(axis=1)
    switched = row_n - np.diag(counts)
    n_all, sw_all = np.concatenate([[row_n.sum()], row_n]), np.concatenate([[switched.sum()], switched])
    value, low, high = share_from_counts(sw_all, n_all)
    summary = pd.DataFrame({"from_channel": ["all", *channels], "n": n_all, "switched": sw_all,
                            "value": value, "ci_low": low, "ci_high": high, "small_n": n_all < min_n})
    seen = row_n > 0
    src_i, dst_i = np.nonzero(np.broadcast_to(seen[:, None], (k, k)))
    share, s_low, s_high = share_from_counts(counts[src_i, dst_i], row_n[src_i])
    labels = np.asarray(channels, dtype=object)
    transitions = pd.DataFrame({"from_channel": labels[src_i], "to_channel": labels[dst_i],
                                "n": counts[src_i, dst_i], "share": share, "ci_low": s_low, "ci_high": s_high,
                                "small_n": row_n[src_i] < min_n})
    summary = summary[np.concatenate([[True], seen])].reset_index(drop=True)
    return ChannelSwitching(days=float(days), summary=summary.astype({"n": "int64", "switched": "int64"}),
                            transitions=transitions.astype({"n": "int64", "from_channel": "str", "to_channel": "str"}))
