"""Customers with identical data, computed once: distinct rows, per-count tables, weighted sums.

The CLV likelihoods and predictions depend on a customer only through a few numbers
(frequency, recency, age, mean spend). Real bases repeat them a lot (times in days, one
observation end: 1M customers have a few thousand distinct histories), so the models work
on the distinct rows with their counts as weights (:func:`unique_rows`), evaluate the special
functions of a purchase count once per count (:func:`by_count`), and sum with weights
without BLAS (:func:`weighted_sum`).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pandas as pd

from slm_lib.errors import DataValidationError


def unique_rows(*columns: np.ndarray) -> tuple[tuple[np.ndarray, ...], np.ndarray, np.ndarray]:
    """Distinct rows of equal-length 1-d columns, their counts and where each row went.

    Hash-based (``pandas.factorize`` column by column), so linear in the number of rows;
    the distinct rows come in order of first appearance.

    Returns
    -------
    tuple
        ``(columns of the distinct rows, count of each, inverse)`` with
        ``distinct[k][inverse] == columns[k]``.

    Examples
    --------
    >>> (x, t), counts, inverse = unique_rows(np.array([1., 0., 1.]), np.array([2., 0., 2.]))
    >>> x.tolist(), t.tolist(), counts.tolist(), inverse.tolist()
    ([1.0, 0.0], [2.0, 0.0], [2, 1], [0, 1, 0])
    """
    key = np.zeros(len(columns[0]), dtype=np.int64)
    for col in columns:   # a few columns; each step keeps the key below n_rows**2
        codes, levels = pd.factorize(col, use_na_sentinel=False)
        key = pd.factorize(key * len(levels) + codes)[0]
    seen = np.maximum.accumulate(np.r_[-1, key[:-1]]) if len(key) else key
    first = np.flatnonzero(key > seen)        # codes number rows in order of first appearance
    return tuple(np.asarray(col)[first] for col in columns), np.bincount(key), key


def validate_weights(weights: Any, n: int) -> np.ndarray:
    """Customers each row stands for: ones when ``weights`` is None, else finite, >= 0, not all 0.

    Raises
    ------
    DataValidationError
        Wrong length, missing, negative or all-zero weights.

    Examples
    --------
    >>> validate_weights(None, 2).tolist(), validate_weights([3, 0], 2).tolist()
    ([1.0, 1.0], [3.0, 0.0])
    """
    if weights is None:
        return np.ones(n)
    try:
        w = np.asarray(weights, dtype=float).reshape(-1)
    except (TypeError, ValueError) as exc:
        raise DataValidationError(f"weights: values must be numeric ({exc})") from exc
    if len(w) != n:
        raise DataValidationError(f"weights: {len(w)} values for {n} customers")
    bad = ~np.isfinite(w) | (w < 0)
    if bad.any():
        raise DataValidationError(f"weights: must be finite and >= 0: {int(bad.sum())} value(s) "
                                  f"(e.g. positions {np.flatnonzero(bad)[:5].tolist()})")
    if n and not w.any():
        raise DataValidationError("weights: all zero, so no customer is left to fit")
    return w


def weighted_rows(*columns: np.ndarray, weights: np.ndarray) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
    """Distinct rows of the columns and the total weight of each (rows of weight 0 dropped).

    Customers given once with a weight and customers repeated row by row give the same
    rows and weights, hence the same fit.

    Examples
    --------
    >>> (x,), w = weighted_rows(np.array([1., 0., 1.]), weights=np.array([2., 5., 1.]))
    >>> x.tolist(), w.tolist()
    ([1.0, 0.0], [3.0, 5.0])
    """
    rows, counts, inverse = unique_rows(*columns)
    total = np.bincount(inverse, weights=weights, minlength=len(counts))
    keep = total > 0
    return tuple(col[keep] for col in rows), total[keep]


def weighted_sum(weights: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``sum_i weights[i] * values[i, ...]``, without BLAS.

    ``einsum`` loops in C on one thread: a BLAS dot product spins up OpenBLAS threads, which
    stall for milliseconds per call on a busy machine (8 ms for 23k rows on 2 shared cores).

    Examples
    --------
    >>> weighted_sum(np.array([1., 2.]), np.array([[1., 10.], [3., 30.]])).tolist()
    [7.0, 70.0]
    """
    return np.einsum("i,i...->...", weights, values)


def by_count(func: Callable[[np.ndarray], np.ndarray], counts: np.ndarray) -> np.ndarray:
    """``func`` at each row's whole-number count, evaluated once per value ``min..max`` of them.

    For the special functions of a purchase count (``gammaln(r + x)``, ``digamma(p x + q)``,
    ...): a table of ``max(x) - min(x) + 1`` values and a look-up, not one evaluation per row.
    Float counts that are not whole numbers >= 0 raise :class:`DataValidationError`.

    Examples
    --------
    >>> by_count(lambda j: j ** 2 + 1, np.array([3., 0., 3.])).tolist()
    [10.0, 1.0, 10.0]
    """
    arr = np.asarray(counts)
    k = arr.astype(np.intp, copy=False)
    if arr.dtype.kind != "i" and (np.any(k != arr) or np.any(k < 0)):
        bad = (k != arr) | (k < 0)
        raise DataValidationError(f"counts: must be whole numbers >= 0: {int(bad.sum())} value(s) "
                                  f"(e.g. positions {np.flatnonzero(bad)[:5].tolist()})")
    low = k.min() if k.size else 0
    return np.asarray(func(np.arange(low, k.max(initial=0) + 1, dtype=float)), dtype=float)[k - low]
