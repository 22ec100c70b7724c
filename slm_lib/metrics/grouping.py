"""Group keys of the grouped metric tables: integer codes of ``by`` columns and their combinations.

A ``by`` column is a tickets column (channel, priority, team, agent_id, ...) or a customers
column (segment, region, ...; joined via customer_id). Surveys take the value of the ticket
they answer (via ticket_id), or of their customer for customer columns. A missing group
value is its own group with a NaN label. Used by :mod:`slm_lib.metrics.table` and
:mod:`slm_lib.metrics.backlog`.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from slm_lib.errors import ConfigError
from slm_lib.keys import lookup_positions


def _key_codes(values: pd.Series) -> tuple[np.ndarray, pd.Index]:
    """Factorised codes with missing values as their own last code, and the labels."""
    codes, uniques = pd.factorize(values, sort=True, use_na_sentinel=True)
    k = len(uniques)
    codes = np.where(codes < 0, k, codes).astype(np.int64)
    return codes, pd.Index(uniques).insert(k, np.nan)  # keeps the column's dtype


def by_codes(by: Sequence[str], tickets: pd.DataFrame, surveys: pd.DataFrame,
             customers: pd.DataFrame) -> tuple[list[np.ndarray], list[pd.Index], Callable[[], list[np.ndarray]]]:
    """Codes of each ``by`` column for tickets, their labels, and a function giving the surveys' codes.

    The survey side (a hash join of survey ticket ids against every ticket) is deferred so
    the caller can run it beside the ticket metrics.

    Examples
    --------
    >>> from slm_lib.schema import empty_frame
    >>> t = pd.DataFrame({"ticket_id": ["a", "b"], "customer_id": ["c", "c"], "channel": ["web", None]})
    >>> codes, labels, _ = by_codes(["channel"], t, empty_frame("surveys"), empty_frame("customers"))
    >>> codes[0].tolist(), labels[0].tolist()
    ([0, 1], ['web', nan])
    """
    t_codes, labels, pickers = [], [], []
    t_pos = None
    for col in by:
        if col in tickets.columns:
            codes, lab = _key_codes(tickets[col])
            t_codes.append(codes)
            pickers.append(("ticket", codes, lab))
        elif col in customers.columns:
            codes, lab = _key_codes(customers[col])
            if t_pos is None:
                t_pos = lookup_positions(customers["customer_id"], tickets["customer_id"])
            t_codes.append(_pick(codes, lab, t_pos))
            pickers.append(("customer", codes, lab))
        else:
            raise ConfigError(f"metric_table: by column {col!r} is neither a tickets nor a customers column")
        labels.append(lab)

    def survey_codes() -> list[np.ndarray]:
        positions: dict[str, np.ndarray] = {}
        out = []
        for source, codes, lab in pickers:
            if source not in positions:
                keys, key = (tickets, "ticket_id") if source == "ticket" else (customers, "customer_id")
                positions[source] = lookup_positions(keys[key], surveys[key])
            out.append(_pick(codes, lab, positions[source]))
        return out

    return t_codes, labels, survey_codes


def _pick(codes: np.ndarray, labels: pd.Index, positions: np.ndarray) -> np.ndarray:
    """The code of the referenced row for each position (-1 = no row: the missing-value label)."""
    picked = codes[np.maximum(positions, 0)] if len(codes) else 0
    return np.asarray(np.where(positions >= 0, picked, len(labels) - 1), dtype=np.int64)


def survey_groups(tickets: pd.DataFrame, surveys: pd.DataFrame, customers: pd.DataFrame, by: str) -> pd.Series:
    """The ``by`` value of each survey exactly as :func:`metric_table` assigns it.

    From the ticket it answers for a tickets column, from its customer for a customers
    column; NaN when there is none.

    Examples
    --------
    >>> from slm_lib.schema import empty_frame
    >>> t = pd.DataFrame({"ticket_id": ["t1"], "channel": ["chat"]})
    >>> s = pd.DataFrame({"ticket_id": ["t1", None], "customer_id": ["c", "c"]})
    >>> survey_groups(t, s, empty_frame("customers"), "channel").tolist()
    ['chat', nan]
    """
    _, labels, survey_codes = by_codes([by], tickets, surveys, customers)
    return pd.Series(np.asarray(labels[0], dtype=object)[survey_codes()[0]], index=surveys.index, name=by)


def combine_codes(codes: list[np.ndarray], labels: list[pd.Index],
                  names: list[str]) -> tuple[np.ndarray, pd.DataFrame]:
    """Mixed-radix group codes (dense over observed groups; -1 if any key is -1) and labels.

    Examples
    --------
    >>> group, labels = combine_codes([np.array([0, 1, 1]), np.array([1, 1, -1])],
    ...                               [pd.Index(["a", "b"]), pd.Index(["x", "y"])], ["k1", "k2"])
    >>> group.tolist(), labels.values.tolist()
    ([0, 1, -1], [['a', 'y'], ['b', 'y']])
    """
    sizes = [max(len(lab), 1) for lab in labels]
    if math.prod(sizes) >= 2**62:
        raise ConfigError(f"metric_table: too many group combinations for {names} ({math.prod(sizes):.3g})")
    n = len(codes[0]) if codes else 0
    combined = np.zeros(n, dtype=np.int64)
    bad = np.zeros(n, dtype=bool)
    for c, size in zip(codes, sizes):  # in place: these are full-length arrays
        combined *= size
        combined += c
        if len(c) and c.min() < 0:
            bad |= c < 0
    any_bad = bool(bad.any())
    if any_bad:
        combined[bad] = 0
    total = math.prod(sizes)
    if total <= max(4 * n, 1 << 20):  # dense remap in O(n)
        used = np.flatnonzero(np.bincount(combined[~bad] if any_bad else combined, minlength=total))
        remap = np.full(total, -1, dtype=np.int64)
        remap[used] = np.arange(len(used))
        out = remap[combined]
    else:
        used, group = np.unique(combined[~bad], return_inverse=True)
        out = np.full(n, -1, dtype=np.int64)
        out[~bad] = group
    if any_bad:
        out[bad] = -1
    parts = np.unravel_index(used, sizes) if codes else ()
    frame = pd.DataFrame({name: lab.take(p) for name, lab, p in zip(names, labels, parts)})
    return out, frame


def by_list(by: str | Sequence[str] | None) -> list[str]:
    """The ``by`` argument of a grouped table as a list of column names.

    Examples
    --------
    >>> by_list(None), by_list("channel"), by_list(("channel", "team"))
    ([], ['channel'], ['channel', 'team'])
    """
    return [] if by is None else [by] if isinstance(by, str) else list(by)
