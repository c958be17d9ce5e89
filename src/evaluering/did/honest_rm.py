"""Relative-magnitudes robust intervals (Rambachan & Roth 2023, Delta^RM(Mbar)) with the C-LF hybrid test.

``Delta^RM(Mbar)``: every post-period violation of parallel trends (a first difference of ``delta``)
is at most ``Mbar`` times the largest pre-period first difference. The set is a union over which
pre-period difference is the largest (``s``) and its sign, so the interval is the union of the
ARP intervals of the ``2 * num_pre`` polyhedra, as in R HonestDiD's ``computeConditionalCS_DeltaRM``.

The interval is evaluated on R's grid (``grid_points`` points over ``+-20`` standard errors of
``l' betahat_post`` around 0) and reported as its smallest and largest accepted grid points, so
the result is the grid point R reports. To save time the grid is first searched every
``stride`` points and then bisected to the boundary (this assumes the accepted set does not
reappear on the far side of a rejected gap narrower than ``stride`` grid steps).

With one post period there is no nuisance parameter and R runs separate code
(``.APR_computeCI_NoNuis``); the same test is used here without the LF truncation, as R does,
but that case has not been compared with R's output.
"""

from __future__ import annotations

import warnings

import numpy as np

from .honest_arp import arp_moments, conditional_test, least_favorable_cv

__all__ = ["rm_constraints", "rm_interval", "rm_interval_contains"]


def rm_constraints(num_pre: int, num_post: int, mbar: float, s: int, max_positive: bool) -> np.ndarray:
    """``A`` of ``A delta <= 0`` for ``Delta^RM`` with the largest pre-period change at ``s`` (-num_pre < s <= 0)."""
    n = num_pre + num_post
    differences = np.zeros((n, n + 1))  # columns t = -num_pre, ..., num_post; row r is delta_{t+1} - delta_t
    for r in range(n):
        differences[r, r:r + 2] = (-1.0, 1.0)
    largest = np.zeros(n + 1)
    largest[num_pre + s - 1:num_pre + s + 1] = (-1.0, 1.0)  # delta_s - delta_{s-1}
    if not max_positive:
        largest = -largest
    bound = np.vstack([np.tile(largest, (num_pre, 1)), np.tile(mbar * largest, (num_post, 1))])
    a_matrix = np.vstack([differences - bound, -differences - bound])
    a_matrix = a_matrix[np.einsum("ij,ij->i", a_matrix, a_matrix) > 1e-10]
    return np.delete(a_matrix, num_pre, axis=1)  # delta_0 = 0 is the normalisation


def _post_rows(a_matrix: np.ndarray, num_pre: int) -> np.ndarray:
    """Rows that involve a post-period coefficient (R's ``postPeriodMomentsOnly = TRUE``)."""
    return np.flatnonzero(np.any(a_matrix[:, num_pre:] != 0, axis=1))


def rm_interval(betahat: np.ndarray, sigma: np.ndarray, num_pre: int, num_post: int, l_vec: np.ndarray,
                mbar: float, alpha: float = 0.05, hybrid: str = "LF", grid_points: int = 1000,
                grid_lb: float | None = None, grid_ub: float | None = None, stride: int = 16) -> tuple[float, float]:
    """``(lb, ub)`` of the relative-magnitudes interval for ``l' tau_post`` (``hybrid`` "LF" = C-LF, "ARP")."""
    grid = _grid(sigma, num_pre, l_vec, grid_points, grid_lb, grid_ub)
    accepts = _acceptance(betahat, sigma, num_pre, num_post, l_vec, mbar, alpha, hybrid)
    cache: dict[int, bool] = {}

    def accepted(index: int) -> bool:
        if index not in cache:
            cache[index] = accepts(grid[index])
        return cache[index]

    coarse = sorted(set(range(0, grid_points, stride)) | {grid_points - 1})
    hits = [i for i in coarse if accepted(i)]
    if not hits:
        return np.nan, np.nan
    first, last = hits[0], hits[-1]
    lower = _edge(accepted, max(first - stride, 0), first) if first > 0 else 0
    upper = _edge(accepted, min(last + stride, grid_points - 1), last) if last < grid_points - 1 else last
    if lower == 0 or upper == grid_points - 1:
        warnings.warn(f"relative magnitudes, Mbar = {mbar:g}: the interval reaches the end of the grid "
                      f"[{grid[0]:.4g}, {grid[-1]:.4g}], so a bound there is the grid's end (R warns the same)",
                      RuntimeWarning, stacklevel=2)
    return float(grid[lower]), float(grid[upper])


def rm_interval_contains(betahat: np.ndarray, sigma: np.ndarray, num_pre: int, num_post: int, l_vec: np.ndarray,
                         mbar: float, theta: float = 0.0, alpha: float = 0.05, hybrid: str = "LF",
                         grid_points: int = 1000) -> bool:
    """Whether ``rm_interval``'s reported interval contains ``theta``, from the two grid points around it.

    The reported interval is the hull of the accepted grid points. If those form an interval (what
    ``rm_interval``'s stride search assumes too), the hull contains ``theta`` exactly when the nearest grid
    points at or below and at or above ``theta`` are both accepted: two tests per polyhedron instead of a
    grid search. (Testing ``theta`` itself is the exact membership question, but it answers differently
    when a bound lies within a grid step of ``theta``, so breakdown values would move by the bisection
    tolerance at such knife edges.) An empty set does not contain ``theta``.
    """
    grid = _grid(sigma, num_pre, l_vec, grid_points, None, None)
    below, above = grid[grid <= theta], grid[grid >= theta]
    if not (below.size and above.size):
        lb, ub = rm_interval(betahat, sigma, num_pre, num_post, l_vec, mbar, alpha=alpha, hybrid=hybrid,
                             grid_points=grid_points)
        return bool(lb <= theta <= ub)
    accepts = _acceptance(betahat, sigma, num_pre, num_post, l_vec, mbar, alpha, hybrid)
    return accepts(below[-1]) and accepts(above[0])


def _grid(sigma, num_pre, l_vec, grid_points, grid_lb, grid_ub) -> np.ndarray:
    """R's grid: ``grid_points`` points over ``+-20`` standard errors of ``l' betahat_post`` unless given."""
    sd_theta = float(np.sqrt(l_vec @ sigma[num_pre:, num_pre:] @ l_vec))
    return np.linspace(-20 * sd_theta if grid_lb is None else grid_lb,
                       20 * sd_theta if grid_ub is None else grid_ub, grid_points)


def _acceptance(betahat, sigma, num_pre, num_post, l_vec, mbar, alpha, hybrid):
    """``theta -> accepted?``: the test of every polyhedron (``s`` and sign of the largest pre-period change)."""
    kappa = alpha / 10
    tests = []
    for s in range(-(num_pre - 1), 1):
        for max_positive in (True, False):
            a_matrix = rm_constraints(num_pre, num_post, mbar, s, max_positive)
            moments = arp_moments(betahat, sigma, a_matrix, np.zeros(len(a_matrix)), num_pre, l_vec,
                                  _post_rows(a_matrix, num_pre))
            lf_cv = least_favorable_cv(moments, kappa) if hybrid == "LF" else None
            tests.append((moments, lf_cv))

    def accepts(theta: float) -> bool:
        return any(not conditional_test(m.y - m.x_one * theta, m.x, m.sigma, alpha, lf_cv, kappa)
                   for m, lf_cv in tests)

    return accepts


def _edge(accepted, rejected_index: int, accepted_index: int) -> int:
    """The accepted grid index next to the boundary between a rejected and an accepted index (bisection)."""
    if accepted(rejected_index):
        return rejected_index
    while abs(accepted_index - rejected_index) > 1:
        mid = (accepted_index + rejected_index) // 2
        if accepted(mid):
            accepted_index = mid
        else:
            rejected_index = mid
    return accepted_index
