"""The vertices of the polytope ``{lam >= 0 : W' lam = e_1}`` behind the ARP linear programs.

Every LP of the relative-magnitudes test has this feasible set: the dual of the ``eta`` LP
``min eta s.t. sd * eta + X delta >= y`` (``W = [sd, X]``, objective ``y``) and the dual-route
program ``max f' lam`` (the same ``W``). The set does not depend on the objective and is bounded
(``sd > 0`` and ``sd' lam = 1``), so each LP is the largest of ``V @ f`` over its vertices ``V``.
The vertices are the non-negative solutions of the square systems ``W_S' lam_S = e_1`` over all
``(k + 1)``-subsets ``S`` of rows; they are enumerated once per ``W`` and cached, which replaces
thousands of small solver calls per interval by matrix products. Too many subsets (or a
rank-deficient ``W``) return None and the caller falls back to the LP solver.
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np

__all__ = ["dual_vertices", "maximise_over_vertices"]

MAX_SUBSETS = 200_000
_SINGULAR = 1e-12  # |det| relative to the product of the rows' norms (Hadamard's bound)
_NEGATIVE = 1e-9  # a weight above -1e-9 * the largest weight of its vertex counts as 0
_CACHE: dict[tuple, np.ndarray | None] = {}
_CACHE_SIZE = 512


def dual_vertices(w: np.ndarray) -> np.ndarray | None:
    """The vertices (rows) of ``{lam >= 0 : W' lam = e_1}``; an empty array if the set is empty,
    None if there are more than ``MAX_SUBSETS`` candidate bases or ``W`` lacks full column rank.
    """
    w = np.ascontiguousarray(w, dtype=float)
    key = (w.shape, w.tobytes())
    if key not in _CACHE:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        _CACHE[key] = _enumerate(w)
    return _CACHE[key]


def _enumerate(w: np.ndarray) -> np.ndarray | None:
    n, p = w.shape
    if n < p or math.comb(n, p) > MAX_SUBSETS or np.linalg.matrix_rank(w) < p:
        return None
    subsets = np.array(list(combinations(range(n), p)), dtype=int).reshape(-1, p)
    blocks = w[subsets]  # rows S of W, shape (subsets, p, p)
    scale = np.prod(np.linalg.norm(blocks, axis=2), axis=1)
    regular = np.abs(np.linalg.det(blocks)) > _SINGULAR * scale
    subsets, blocks = subsets[regular], blocks[regular]
    rhs = np.zeros((len(blocks), p, 1))
    rhs[:, 0, 0] = 1.0
    weights = np.linalg.solve(np.swapaxes(blocks, 1, 2), rhs)[:, :, 0] if len(blocks) else np.zeros((0, p))
    largest = np.max(np.abs(weights), axis=1, keepdims=True) if len(weights) else np.zeros((0, 1))
    feasible = np.all(weights >= -_NEGATIVE * largest, axis=1)
    vertices = np.zeros((int(feasible.sum()), n))
    np.put_along_axis(vertices, subsets[feasible], np.clip(weights[feasible], 0.0, None), axis=1)
    return vertices


def maximise_over_vertices(objective: np.ndarray, vertices: np.ndarray):
    """``(max f' lam, lam)`` over the vertices, or None if there are none (the LP is infeasible)."""
    if len(vertices) == 0:
        return None
    values = vertices @ objective
    best = int(np.argmax(values))
    return float(values[best]), vertices[best].copy()
