"""Tickets created per group and period on an engine: the history of :func:`slm_lib.forecast_volume`.

The engine counts tickets per (group, period ordinal) over the periods asked for (one
``GROUP BY``, a few thousand rows at most); the count matrix and its group keys are those
of the pandas engine's ``_count_matrix``, and the model then runs on them unchanged.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from slm_lib.engines.dataset import fetch
from slm_lib.engines.groups import coded, group_codes, keyed_tickets
from slm_lib.engines.session import period_ordinal, set_time_zone


def engine_volume(lazy: Any, freq: str, by: list[str], tz: str, first: int, n: int) -> tuple[np.ndarray, pd.DataFrame]:
    """Tickets created per group (rows) and period (columns ``first .. first + n - 1``, ordinals of ``freq`` in ``tz``).

    Returns
    -------
    (counts, keys)
        An int64 matrix (groups x periods, zeros included) and the group keys in row order,
        as :func:`slm_lib.forecast.volume._count_matrix` gives them.

    Examples
    --------
    >>> from slm_lib.engines import open_dataset
    >>> counts, keys = engine_volume(open_dataset("data_samples"), "D", ["channel"], "UTC", 20089, 7)  # doctest: +SKIP
    """
    con = lazy.con
    t = keyed_tickets(lazy, by)
    keys, lookup = group_codes(con, t, by)
    set_time_zone(con, tz)
    t = t.mutate(_p=period_ordinal(t.created_at, freq) - first)
    t = t.filter((t._p >= 0) & (t._p < n))
    got = fetch(con, t.group_by([*by, "_p"]).aggregate(_n=t.count()))
    counts = np.zeros((len(keys), n), dtype=np.int64)
    counts[coded(got, lookup, by), got["_p"].to_numpy(dtype=np.int64)] = got["_n"].to_numpy(dtype=np.int64)
    return counts, keys
