"""Distinct values of integer columns (years, codes) counted with ``bincount`` instead of sorted.

A city's register has millions of rows but a few decades of years: counting them is much faster
than ``np.unique``'s sort, with the same result.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

BLOCK_ROWS = 1 << 16  # row-long work done in blocks this long keeps its temporaries in the cache

__all__ = ["all_ones", "class_period_cells", "distinct_integers", "distinct_with_inverse", "first_appearance_codes",
           "row_blocks", "smallest_code_type"]


def all_ones(values: np.ndarray) -> bool:
    """Whether there are values and every one is exactly 1 (unit weights, one person a row): two
    reductions, no row-long array; a missing value (NaN) is not 1.
    """
    return bool(len(values) and values.min() == 1 and values.max() == 1)


def row_blocks(n: int):
    """Slices of at most ``BLOCK_ROWS`` rows covering rows 0..n-1 in order: row-long work done block by
    block keeps its temporaries in the cache instead of costing fresh row-long arrays.
    """
    return (slice(start, start + BLOCK_ROWS) for start in range(0, n, BLOCK_ROWS))


def class_period_cells(codes: np.ndarray, class_of_code: np.ndarray, period: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Each row's cell ``class * span + (period - first)`` with the first period and the span of
    periods: the class of its category code (``class_of_code``, whose last entry is the class of
    code -1, a missing value) and its integer period (years: a span of decades). One row-long array,
    so that a city's register frame is counted per (class, year) with ``bincount``.
    """
    first = int(period.min())
    span = int(period.max()) - first + 1
    start = np.asarray(class_of_code, dtype=np.int64) * span - first
    cell = np.empty(len(period), dtype=np.int64)
    for rows in row_blocks(len(period)):  # in blocks: no row-long 64-bit copy of the codes
        block = np.take(start, codes[rows], out=cell[rows], mode="wrap")  # code -1 (missing): the last entry
        block += period[rows]
    return cell, first, span


def smallest_code_type(n: int) -> type:
    """The smallest signed integer type holding the codes 0..n-1 and -1 (a city's register keeps ten
    million of them: one or two bytes each instead of eight).
    """
    return next(t for t in (np.int8, np.int16, np.int32, np.int64) if n < np.iinfo(t).max)


def distinct_integers(values: np.ndarray) -> np.ndarray:
    """The sorted distinct values of an integer array (``np.unique`` without sorting), as int64."""
    if len(values) == 0:
        return np.zeros(0, dtype=np.int64)
    first = int(values.min())
    return np.flatnonzero(np.bincount(np.asarray(values, dtype=np.int64) - first)) + first


def distinct_with_inverse(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(values, return_inverse=True)``; integers spanning less than ten times their
    number (years) are counted instead of sorted.
    """
    if values.dtype.kind not in "iu" or len(values) == 0 or int(values.max()) - int(values.min()) > 10 * len(values):
        return np.unique(values, return_inverse=True)
    distinct = distinct_integers(values)
    position = np.zeros(int(distinct[-1] - distinct[0]) + 1, dtype=np.int64)
    position[distinct - distinct[0]] = np.arange(len(distinct))
    return distinct.astype(values.dtype), position[values.astype(np.int64) - distinct[0]]


def first_appearance_codes(values) -> np.ndarray:
    """``pd.factorize(values)[0]``: codes numbered in order of first appearance.

    Integers already sorted (a panel sorted by person codes) are numbered by counting where they
    change: no hashing of millions of rows, the same codes.
    """
    dtype = getattr(values, "dtype", None)
    if not (isinstance(dtype, np.dtype) and dtype.kind in "iu") or np.ndim(values) != 1 or len(values) == 0:
        return pd.factorize(values)[0]
    array = np.asarray(values)
    if (array[1:] >= array[:-1]).all():
        codes = np.empty(len(array), dtype=np.int64)
        codes[0] = 0
        np.cumsum(array[1:] != array[:-1], out=codes[1:])
        return codes
    return pd.factorize(array)[0]
