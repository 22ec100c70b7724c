"""Per-group aggregates on an engine: counts and sums, central moments, exact order statistics (SPEC §9 engines).

The engine computes per group only sums and counts: sums of values and of their squared
and cubed deviations about the group mean (two passes: the means go back to the engine as
a small table), and the order statistics at the ranks
:func:`slm_lib.stats.quantile_order_ranks` asks for, selected by rank in the same second
pass (:func:`second_pass`: one query for every value and order statistic of a table). The
small aggregated tables then go through the same :mod:`slm_lib.stats` functions as the
pandas engine, so values and intervals have one formula; quantiles are exact (no
approximate percentile is ever used).
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
    """``agg`` aligned to the rows of ``groups`` (missing groups, and the sum over no row: zero counts and sums)."""
    if not keys:
        agg = agg if len(agg) else pd.DataFrame({c: [0] for c in agg.columns})
        return agg.reset_index(drop=True).fillna(0)
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


def second_pass(t: Any, keys: list[str], groups: pd.DataFrame, xs: Mapping[str, Any] | None = None,
                raws: Mapping[str, tuple[Any, np.ndarray]] | None = None) -> tuple[dict[str, pd.DataFrame],
                                                                                    dict[str, np.ndarray]]:
    """Central moments and order statistics per group row of ``groups``, all in one query over ``t``.

    ``groups`` holds the groups' ``keys`` and the :func:`value_sums` of ``xs`` (the first
    pass); the group means go back to the engine with the wanted ranks (a small table joined
    on the keys, NULL matching NULL). Returns per value of ``xs`` its :func:`moments` frame
    (n, sum, and sums of squared and cubed deviations about the mean) and per entry
    ``name: (raw, ranks)`` of ``raws`` the values of ``raw`` at the 0-based ``ranks`` (an
    array ``(k, n_groups)``) in its group's ascending order, NaN where the group has no such
    rank: ``row_number`` over the group with NULLs last (so the ranks of the non-null values
    do not depend on the NULLs), each group keeping the value at each wanted rank (``max``
    over the rows of that rank). The window sorts out of core: DuckDB spills it beyond its
    memory limit. (Collecting and sorting each group's values, ``list_sort``, took 40% less
    CPU at 10M tickets but holds every value in memory at once: at 100M tickets under a
    6 GB limit it ran out of memory.) Every value and rank costs one scan of ``t`` in total. A value of
    ``xs`` may also be a function of the ranked ``raw`` of the same name (e.g. µs to hours),
    then applied after the ranking: it is not carried through the sort.
    """
    xs, raws = dict(xs or {}), dict(raws or {})
    later = {name: f for name, f in xs.items() if not isinstance(f, ibis.Expr)}
    means = {f"_m_{name}": _mean(groups, name).to_numpy(dtype=np.float64) for name in xs}
    wanted = {f"_w_{name}_{j}": (name, j, row) for name, (_, ranks) in raws.items() for j, row in enumerate(ranks)}
    if len(groups) == 0:
        return ({name: _sums(groups, name, [], []) for name in xs},
                {name: np.empty((len(ranks), 0)) for name, (_, ranks) in raws.items()})
    base = t.select(*keys, **{f"_x_{name}": x for name, x in xs.items() if name not in later},
                    **{f"_v_{name}": raw for name, (raw, _) in raws.items()})
    base = base.mutate(**{f"_r_{name}": ibis.row_number().over(
        ibis_window(keys, ibis.asc(base[f"_v_{name}"], nulls_first=False))) for name in raws})
    small = pd.DataFrame({"_g": np.arange(len(groups)), **means, **{c: row for c, (_, _, row) in wanted.items()}})
    if keys:
        small = pd.concat([groups[keys].rename(columns={k: f"_k{i}" for i, k in enumerate(keys)})
                          .reset_index(drop=True), small], axis=1)
        schema = {f"_k{i}": base.schema()[k] for i, k in enumerate(keys)} | {
            c: small[c].dtype.name for c in small if not c.startswith("_k")}
        w = ibis.memtable(small, schema=ibis.schema(schema))
        base = base.join(w, [base[k].identical_to(w[f"_k{i}"]) for i, k in enumerate(keys)])
    else:
        base = base.mutate(**{c: ibis.literal(small[c].iloc[0].item()) for c in small})
    base = base.mutate(**{f"_x_{name}": f(base[f"_v_{name}"]) for name, f in later.items()})
    agg: dict[str, Any] = {}
    for name in xs:
        d = base[f"_x_{name}"] - base[f"_m_{name}"]
        agg[f"_{name}_ss"], agg[f"_{name}_s3"] = (d * d).sum(), (d * d * d).sum()
    for c, (name, j, _) in wanted.items():
        agg[f"_o_{name}_{j}"] = base[f"_v_{name}"].max(where=base[f"_r_{name}"] == base[c])
    per = base.group_by("_g").aggregate(**agg)
    got = pd.DataFrame({"_g": np.arange(len(groups))}).merge(per.execute(), on="_g", how="left")
    sums = {name: _sums(groups, name, got[f"_{name}_ss"].fillna(0.0).to_numpy(),
                        got[f"_{name}_s3"].fillna(0.0).to_numpy()) for name in xs}
    picked = {name: np.stack([got[f"_o_{name}_{j}"].to_numpy(dtype=np.float64) for j in range(len(ranks))])
              for name, (_, ranks) in raws.items()}
    return sums, picked


def _sums(first: pd.DataFrame, name: str, ss: Any, s3: Any) -> pd.DataFrame:
    """The :func:`moments` frame of value ``name``: n and sum from ``first``, the deviations' sums ``ss`` and ``s3``."""
    return pd.DataFrame({"n": first[f"_{name}_n"].to_numpy(), "s": first[f"_{name}_s"].fillna(0).to_numpy(),
                         "ss": np.asarray(ss, dtype=np.float64), "s3": np.asarray(s3, dtype=np.float64)})


def moments(t: Any, xs: Mapping[str, Any], keys: list[str], first: pd.DataFrame) -> dict[str, pd.DataFrame]:
    """Per value and group row of ``first``: n, sum, and sums of squared and cubed deviations about the mean.

    ``first`` holds the groups' ``keys`` and the :func:`value_sums` of ``xs``; the means go
    back to the engine for a second pass (:func:`second_pass`).
    """
    return second_pass(t, keys, first, xs)[0]


def mean_result(m: pd.DataFrame, bounds: tuple[float, float] = (0.0, np.inf)) -> tuple[np.ndarray, ...]:
    """(n, mean, ci_low, ci_high) per row of :func:`moments`, the interval clipped to ``bounds``."""
    n = m["n"].to_numpy(dtype=np.int64)
    value, low, high, _ = mean_from_moments(m["s"], m["ss"], n, m["s3"])
    return n, value, np.clip(low, *bounds), np.clip(high, *bounds)


def ibis_window(keys: list[str], order_by: Any = None) -> Any:
    """A window over the groups ``keys`` (all rows when there are none), optionally ordered."""
    return ibis.window(group_by=keys or None, order_by=order_by)


def ranked(t: Any, raw: Any, keys: list[str]) -> Any:
    """The rows of ``t`` with a value ``raw`` (as ``_v``) and its 0-based rank ``_r`` in its group (``row_number``)."""
    base = t.mutate(_v=raw).filter(lambda r: r._v.notnull())
    return base.mutate(_r=ibis.row_number().over(ibis_window(keys, base._v)))


def order_quantiles(con: Any, t: Any, raw: Any, keys: list[str], groups: pd.DataFrame, counts: np.ndarray,
                    qs: tuple[float, ...] = QS, scale: float = 1 / US_PER_HOUR) -> dict[float, tuple[np.ndarray, ...]]:
    """Exact quantiles and intervals of ``raw`` per group row of ``groups`` (``counts`` non-null values each).

    What :func:`slm_lib.stats.grouped_quantiles` returns, from the order statistics the
    engine selects by rank (:func:`second_pass`); ``scale`` converts the selected values
    (default µs -> hours).

    Examples
    --------
    >>> t = ibis.memtable({"g": ["a", "a", "a", "b"], "x": [3.0, 1.0, 2.0, 5.0]})
    >>> groups = pd.DataFrame({"g": ["a", "b"]})
    >>> median = order_quantiles(None, t, t.x, ["g"], groups, np.array([3, 1]), (0.5,), scale=1.0)[0.5][0]
    >>> median.tolist()
    [2.0, 5.0]
    """
    at = second_pass(t, keys, groups, raws={"v": (raw, quantile_order_ranks(counts, qs))})[1]["v"]
    return quantiles_from_order_statistics(at * scale, counts, qs)


def quantiles_and_moments(t: Any, keys: list[str], first: pd.DataFrame, xs: Mapping[str, Any],
                          raws: Mapping[str, Any], qs: tuple[float, ...] = QS, scale: float = 1 / US_PER_HOUR
                          ) -> tuple[dict[str, pd.DataFrame], dict[str, dict[float, tuple[np.ndarray, ...]]]]:
    """The :func:`moments` of ``xs`` and the :func:`order_quantiles` of ``raws`` in one query (:func:`second_pass`).

    ``first``: the groups' ``keys`` and the :func:`value_sums` of ``xs``; each name of
    ``raws`` is also a value of ``xs`` with the same non-null rows, whose count gives the
    ranks (e.g. a function of the raw value, :func:`second_pass`).

    Examples
    --------
    >>> t = ibis.memtable({"g": ["a", "a", "a", "b"], "x": [3.0, 1.0, 2.0, 5.0]})
    >>> first = t.group_by("g").aggregate(**value_sums({"x": t.x})).execute().sort_values("g")
    >>> m, qs = quantiles_and_moments(t, ["g"], first, {"x": lambda v: v}, {"x": t.x}, (0.5,), scale=1.0)
    >>> qs["x"][0.5][0].tolist(), m["x"]["ss"].tolist()
    ([2.0, 5.0], [2.0, 0.0])
    """
    counts = {name: first[f"_{name}_n"].to_numpy(dtype=np.int64) for name in raws}
    sums, at = second_pass(t, keys, first, xs, {name: (raw, quantile_order_ranks(counts[name], qs))
                                                for name, raw in raws.items()})
    return sums, {name: quantiles_from_order_statistics(at[name] * scale, counts[name], qs) for name in raws}
