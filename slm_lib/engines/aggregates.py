"""Per-group aggregates on an engine: counts and sums, central moments, exact order statistics (SPEC §9 engines).

The engine computes per group only sums and counts: sums of values and of their squared
and cubed deviations about the group mean (two passes: the means go back to the engine as
a small table), and the order statistics at the ranks
:func:`slm_lib.stats.quantile_order_ranks` asks for (``row_number`` over the group ordered
by the value, joined to the wanted ranks). The small aggregated tables then go through the
same :mod:`slm_lib.stats` functions as the pandas engine, so values and intervals have one
formula; quantiles are exact (no approximate percentile is ever used).
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import ibis
import numpy as np
import pandas as pd

from slm_lib.engines.timestamps import US_PER_HOUR
from slm_lib.stats import mean_from_moments, quantile_order_ranks, quantiles_from_order_statistics

#: The quantiles of metric_table's duration rows (median and p90).
QS = (0.5, 0.9)


def with_columns(t: Any, other: Any, key: str, columns: Sequence[str]) -> Any:
    """``t`` with ``columns`` of ``other`` looked up by ``key`` (left join; other unique by key)."""
    if not columns:
        return t
    right = other.select(_k=other[key], **{c: other[c] for c in columns})
    return t.left_join(right, t[key] == right["_k"]).drop("_k")


def grouped(table: Any, keys: list[str]) -> Any:
    """``table`` grouped by ``keys``, or the whole table as one group when there are none (freq=None, no by)."""
    return table.group_by(keys) if keys else table


def merged(groups: pd.DataFrame, agg: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """``agg`` aligned to the rows of ``groups`` (missing groups: zero counts and sums)."""
    if not keys:
        agg = agg if len(agg) else pd.DataFrame({c: [0] for c in agg.columns})
        return agg.reset_index(drop=True)
    out = groups[keys].merge(agg, on=keys, how="left")
    return out.drop(columns=keys).fillna(0)


def value_sums(xs: Mapping[str, Any]) -> dict[str, Any]:
    """Aggregates ``_<name>_n`` and ``_<name>_s`` (count and sum of non-null values) of each value."""
    out = {}
    for name, x in xs.items():
        out[f"_{name}_n"], out[f"_{name}_s"] = x.count(), x.sum()
    return out


def _mean(first: pd.DataFrame, name: str) -> pd.Series:
    """The mean of value ``name`` per row of ``first`` (its :func:`value_sums`; 0 for an empty group)."""
    return (first[f"_{name}_s"] / first[f"_{name}_n"].where(first[f"_{name}_n"] > 0)).fillna(0.0)


def _sums(first: pd.DataFrame, name: str, ss: Any, s3: Any) -> pd.DataFrame:
    """The :func:`moments` frame of value ``name``: n and sum from ``first``, the deviations' sums ``ss`` and ``s3``."""
    return pd.DataFrame({"n": first[f"_{name}_n"].to_numpy(), "s": first[f"_{name}_s"].fillna(0).to_numpy(),
                         "ss": np.asarray(ss), "s3": np.asarray(s3)})


def moments(t: Any, xs: Mapping[str, Any], keys: list[str], first: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per value and group row of ``first``: n, sum, and sums of squared and cubed deviations about the mean.

    ``first`` holds the groups' ``keys`` and the :func:`value_sums` of ``xs``; the means go
    back to the engine (a small table joined on the keys, NULL matching NULL) for a second pass.
    """
    means = {f"_m_{name}": _mean(first, name) for name in xs}
    base = t.mutate(**{f"_x_{name}": x for name, x in xs.items()})
    if keys:
        small = first[keys].rename(columns={k: f"_k{i}" for i, k in enumerate(keys)}).assign(**means)
        schema = {f"_k{i}": base.schema()[k] for i, k in enumerate(keys)} | {m: "float64" for m in means}
        w = ibis.memtable(small, schema=ibis.schema(schema))
        base = base.join(w, [base[k].identical_to(w[f"_k{i}"]) for i, k in enumerate(keys)])
    else:
        base = base.mutate(**{m: ibis.literal(float(v.iloc[0]) if len(v) else 0.0) for m, v in means.items()})
    devs = {name: base[f"_x_{name}"] - base[f"_m_{name}"] for name in xs}
    agg = grouped(base, keys).aggregate(**{f"_{name}_{k}": v for name, d in devs.items()
                                         for k, v in (("ss", (d * d).sum()), ("s3", (d * d * d).sum()))})
    second = merged(first, agg.execute(), keys) if keys else agg.execute().fillna(0)
    return {name: _sums(first, name, second[f"_{name}_ss"].to_numpy(), second[f"_{name}_s3"].to_numpy())
            for name in xs}


def mean_result(m: pd.DataFrame, bounds: tuple[float, float] = (0.0, np.inf)) -> tuple[np.ndarray, ...]:
    """(n, mean, ci_low, ci_high) per row of :func:`moments`, the interval clipped to ``bounds``."""
    n = m["n"].to_numpy(dtype=np.int64)
    value, low, high, _ = mean_from_moments(m["s"], m["ss"], n, m["s3"])
    return n, value, np.clip(low, *bounds), np.clip(high, *bounds)


def ibis_window(keys: list[str], order_by: Any = None) -> Any:
    """A window over the groups ``keys`` (all rows when there are none), optionally ordered."""
    return ibis.window(group_by=keys or None, order_by=order_by)


def ranked(t: Any, raw: Any, keys: list[str], **extra: Any) -> Any:
    """The rows of ``t`` with a value ``raw`` (as ``_v``) and its 0-based rank ``_r`` in its group (``row_number``).

    The order statistics of every engine quantile are these rows selected by rank;
    ``extra``: further columns to keep (expressions of ``t``).
    """
    base = t.mutate(_v=raw, **extra).filter(lambda r: r._v.notnull())
    return base.mutate(_r=ibis.row_number().over(ibis_window(keys, base._v)))


def _selected(t: Any, raw: Any, keys: list[str], groups: pd.DataFrame, counts: np.ndarray,
              qs: tuple[float, ...], x: Any = None, mean: pd.Series | None = None
              ) -> tuple[np.ndarray, pd.DataFrame | None]:
    """Values of ``raw`` at the ranks of :func:`quantile_order_ranks` per group row of ``groups``, in one query.

    Each ranked row meets its group's wanted ranks (a small table joined on the keys, NULL
    matching NULL) and each group keeps the values at them (``max`` over the rows of that
    rank). With ``x`` (an expression of ``t``, NULL where ``raw`` is) and its group means
    ``mean``, the same query sums ``x``'s squared and cubed deviations (``_ss``, ``_s3``,
    one row per group row, 0 for an empty group): the order statistics and the second pass
    of :func:`moments` share one scan. Without ``x`` the second item is None.
    """
    ranks = quantile_order_ranks(counts, qs)
    if not (counts > 0).any():
        none = pd.DataFrame({"_ss": np.zeros(len(groups)), "_s3": np.zeros(len(groups))}) if x is not None else None
        return np.full(ranks.shape, np.nan), none
    base = ranked(t, raw, keys, **({} if x is None else {"_x": x}))
    small = pd.DataFrame({f"_w{j}": ranks[j] for j in range(len(ranks))}).assign(
        _g=np.arange(len(groups)), _m=0.0 if mean is None else np.asarray(mean, dtype=np.float64))
    if keys:
        small = pd.concat([groups[keys].rename(columns={k: f"_k{i}" for i, k in enumerate(keys)})
                          .reset_index(drop=True), small], axis=1)
        schema = {f"_k{i}": base.schema()[k] for i, k in enumerate(keys)} | {c: small[c].dtype.name for c in small
                                                                              if not c.startswith("_k")}
        w = ibis.memtable(small, schema=ibis.schema(schema))
        base = base.join(w, [base[k].identical_to(w[f"_k{i}"]) for i, k in enumerate(keys)])
    else:
        base = base.mutate(**{c: ibis.literal(small[c].iloc[0]) for c in small})
    sums = {}
    if x is not None:
        d = base._x - base._m
        sums = {"_ss": (d * d).sum(), "_s3": (d * d * d).sum()}
    got = base.group_by("_g").aggregate(**{f"_o{j}": base._v.max(where=base._r == base[f"_w{j}"])
                                           for j in range(len(ranks))}, **sums).execute()
    got = pd.DataFrame({"_g": np.arange(len(groups))}).merge(got, on="_g", how="left")
    at = np.stack([got[f"_o{j}"].to_numpy(dtype=np.float64) for j in range(len(ranks))])
    return at, got[["_ss", "_s3"]].fillna(0.0) if x is not None else None


def order_quantiles(con: Any, t: Any, raw: Any, keys: list[str], groups: pd.DataFrame, counts: np.ndarray,
                    qs: tuple[float, ...] = QS, scale: float = 1 / US_PER_HOUR) -> dict[float, tuple[np.ndarray, ...]]:
    """Exact quantiles and intervals of ``raw`` per group row of ``groups`` (``counts`` non-null values each).

    What :func:`slm_lib.stats.grouped_quantiles` returns, from the order statistics the
    engine selects by rank; ``scale`` converts the selected values (default µs -> hours).

    Examples
    --------
    >>> t = ibis.memtable({"g": ["a", "a", "a", "b"], "x": [3.0, 1.0, 2.0, 5.0]})
    >>> groups = pd.DataFrame({"g": ["a", "b"]})
    >>> median = order_quantiles(None, t, t.x, ["g"], groups, np.array([3, 1]), (0.5,), scale=1.0)[0.5][0]
    >>> median.tolist()
    [2.0, 5.0]
    """
    at = _selected(t, raw, keys, groups, counts, qs)[0] * scale
    return quantiles_from_order_statistics(at, counts, qs)


def quantiles_and_moments(t: Any, raw: Any, x: Any, name: str, keys: list[str], first: pd.DataFrame,
                          qs: tuple[float, ...] = QS, scale: float = 1 / US_PER_HOUR
                          ) -> tuple[dict[float, tuple[np.ndarray, ...]], pd.DataFrame]:
    """:func:`order_quantiles` of ``raw`` and the :func:`moments` of ``x`` (its value ``name``) in one query.

    ``first``: the groups' ``keys`` and the :func:`value_sums` of ``x`` as ``name``; ``x``
    must be NULL exactly where ``raw`` is (e.g. ``raw`` scaled).

    Examples
    --------
    >>> t = ibis.memtable({"g": ["a", "a", "a", "b"], "x": [3.0, 1.0, 2.0, 5.0]})
    >>> first = t.group_by("g").aggregate(**value_sums({"x": t.x})).execute().sort_values("g")
    >>> qs, m = quantiles_and_moments(t, t.x, t.x, "x", ["g"], first, (0.5,), scale=1.0)
    >>> qs[0.5][0].tolist(), m["ss"].tolist()
    ([2.0, 5.0], [2.0, 0.0])
    """
    counts = first[f"_{name}_n"].to_numpy(dtype=np.int64)
    at, second = _selected(t, raw, keys, first, counts, qs, x, _mean(first, name))
    return (quantiles_from_order_statistics(at * scale, counts, qs),
            _sums(first, name, second["_ss"].to_numpy(), second["_s3"].to_numpy()))
