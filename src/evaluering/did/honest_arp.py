"""The conditional and conditional-least-favourable (C-LF) hybrid tests of Andrews, Roth & Pakes (ARP)
with nuisance parameters, as used by Rambachan & Roth (2023) for the relative-magnitudes intervals.

The test of ``H0: theta = theta0`` asks whether the moments ``y_T = A betahat - d - a_1 theta0`` can be
made non-positive by a nuisance vector ``delta``: ``eta = min_delta max_i (y_i - X_i delta) / sd_i``.
It follows R HonestDiD's ``.lp_conditional_test_fn`` step by step (binding-moment or dual route to
the truncation bounds, truncated-normal critical value, LF first stage with size ``kappa``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import linprog
from scipy.stats import truncnorm

from .honest_polytope import dual_vertices, maximise_over_vertices
from .honest_rng import r_rmvnorm

__all__ = ["ArpMoments", "arp_moments", "conditional_test", "construct_gamma", "least_favorable_cv"]

_TOL_LAMBDA = 1e-6
_TOL_EQUALITY = 1e-6
_TOL_BISECTION = 1e-6
_SWITCH_ITERS = 10
_MAX_ITERS = 10000
_DOUBLE_EPS = np.finfo(float).eps


@dataclass(frozen=True)
class ArpMoments:
    """The moments of one restriction ``A delta <= d``: ``y_T(theta) = y - x_one * theta``, nuisance columns ``x``."""

    y: np.ndarray
    x_one: np.ndarray
    x: np.ndarray
    sigma: np.ndarray


def construct_gamma(l_vec: np.ndarray) -> np.ndarray:
    """An invertible matrix whose first row is ``l_vec``: the pivot columns of ``[l_vec, I]``, transposed."""
    size = len(l_vec)
    candidates = np.column_stack([l_vec, np.eye(size)])
    chosen: list[int] = []
    for column in range(candidates.shape[1]):
        trial = candidates[:, [*chosen, column]]
        if np.linalg.matrix_rank(trial) == len(chosen) + 1:
            chosen.append(column)
        if len(chosen) == size:
            break
    return candidates[:, chosen].T


def arp_moments(betahat: np.ndarray, sigma: np.ndarray, a_matrix: np.ndarray, d: np.ndarray,
                num_pre: int, l_vec: np.ndarray, rows: np.ndarray) -> ArpMoments:
    """Change variables so that ``theta = l' tau_post`` is the first post-period coordinate (R's ``.ARP_computeCI``)."""
    post = a_matrix[:, num_pre:] @ np.linalg.inv(construct_gamma(l_vec))
    y = a_matrix @ betahat - d
    sigma_y = a_matrix @ sigma @ a_matrix.T
    return ArpMoments(y=y[rows], x_one=post[rows, 0], x=post[np.ix_(rows, np.arange(1, post.shape[1]))],
                      sigma=sigma_y[np.ix_(rows, rows)])


def _eta_lp(y: np.ndarray, x: np.ndarray, sd: np.ndarray):
    """``min eta`` s.t. ``sd * eta + x delta >= y``; returns (eta, lambda) or None if the LP fails.

    ``lambda`` are the LP's dual weights (``lambda' sd = 1``, ``lambda' x = 0``). With at most one
    nuisance parameter the LP is solved in closed form (it is the lowest point of a maximum of lines),
    with more as the best vertex of the dual polytope (``honest_polytope``), with the solver only
    when there are too many candidate vertices.
    """
    k = x.shape[1]
    if k <= 1:
        return _eta_closed_form(y, x, sd)
    vertices = dual_vertices(np.column_stack([sd, x]))
    if vertices is not None:
        return maximise_over_vertices(y, vertices)
    objective = np.r_[1.0, np.zeros(k)]
    constraints = -np.column_stack([sd, x])
    result = linprog(objective, A_ub=constraints, b_ub=-y, bounds=[(None, None)] * (k + 1), method="highs")
    if result.status != 0:
        return None
    return result.fun, -result.ineqlin.marginals


def _eta_closed_form(y: np.ndarray, x: np.ndarray, sd: np.ndarray):
    """``_eta_lp`` for ``k <= 1``: the best line without slope or crossing of a rising and a falling line."""
    a = y / sd
    b = -x[:, 0] / sd if x.shape[1] else np.zeros(len(y))
    weights = np.zeros(len(y))
    flat = np.flatnonzero(b == 0)
    rising, falling = np.flatnonzero(b > 0), np.flatnonzero(b < 0)
    best = -np.inf
    if flat.size:
        i = flat[np.argmax(a[flat])]
        best = a[i]
        weights[i] = 1.0
    if rising.size and falling.size:
        bi, bj = b[rising][:, None], b[falling][None, :]
        crossing = (bi * a[falling][None, :] - a[rising][:, None] * bj) / (bi - bj)
        r, f = np.unravel_index(np.argmax(crossing), crossing.shape)
        if crossing[r, f] > best:
            best = crossing[r, f]
            weights[:] = 0.0
            i, j = rising[r], falling[f]
            weights[i], weights[j] = -b[j] / (b[i] - b[j]), b[i] / (b[i] - b[j])
    elif not flat.size:
        return None  # unbounded below
    return float(best), weights / sd


def _eta_draws(draws: np.ndarray, x: np.ndarray, sd: np.ndarray) -> np.ndarray:
    """``eta`` for many moment vectors (rows of ``draws``), vectorised (by the dual vertices for ``k > 1``)."""
    k = x.shape[1]
    if k == 0:
        return np.max(draws / sd, axis=1)
    vertices = dual_vertices(np.column_stack([sd, x])) if k > 1 else None
    if vertices is not None:
        if len(vertices) == 0:
            return np.full(draws.shape[0], np.nan)  # the LP is unbounded below: R drops every draw
        return np.max(draws @ vertices.T, axis=1)
    if k > 1:
        out = np.full(draws.shape[0], np.nan)
        for i, row in enumerate(draws):
            solved = _eta_lp(row, x, sd)
            if solved is not None:
                out[i] = solved[0]
        return out
    # One nuisance parameter: min over delta of a maximum of lines a_i + b_i delta. Its value is the
    # largest line without slope or the largest crossing of a rising with a falling line (LP duality).
    a = draws / sd
    b = -x[:, 0] / sd
    rising, falling, flat = b > 0, b < 0, b == 0
    values = np.max(a[:, flat], axis=1) if flat.any() else np.full(draws.shape[0], -np.inf)
    if rising.any() and falling.any():
        bi, bj = b[rising][:, None], b[falling][None, :]
        crossing = (bi * a[:, falling][:, None, :] - a[:, rising][:, :, None] * bj) / (bi - bj)
        values = np.maximum(values, crossing.reshape(draws.shape[0], -1).max(axis=1))
    elif not flat.any():
        values = np.full(draws.shape[0], np.nan)  # unbounded below: R's LP fails and drops the draw
    return values


def least_favorable_cv(moments: ArpMoments, kappa: float, sims: int = 1000, seed: int = 0) -> float:
    """The ``1 - kappa`` quantile of ``eta`` under the least favourable null (R's draws, type-7 quantile)."""
    draws = r_rmvnorm(sims, moments.sigma, seed)
    eta = _eta_draws(draws, moments.x, np.sqrt(np.diag(moments.sigma)))
    return float(np.quantile(eta[np.isfinite(eta)], 1.0 - kappa))


def _max_program(s_t, gamma, sigma, w_t, c):
    """``max_x f'x`` s.t. ``W_T' x = e_1, x >= 0`` with ``f = s_T + b c``; (value, x) or None."""
    b = sigma @ gamma / float(gamma @ sigma @ gamma)
    f = s_t + b * c
    if w_t.shape[1] <= 2:
        # the feasible set {x >= 0: sd'x = 1, X'x = 0} is the dual polytope of the eta LP: same vertices
        return _eta_closed_form(f, w_t[:, 1:], w_t[:, 0])
    vertices = dual_vertices(w_t)
    if vertices is not None:
        return maximise_over_vertices(f, vertices)
    rhs = np.zeros(w_t.shape[1])
    rhs[0] = 1.0
    result = linprog(-f, A_eq=w_t.T, b_eq=rhs, bounds=[(0, None)] * len(f), method="highs")
    if result.status != 0:
        return None
    return -result.fun, result.x


def _is_solution(c, s_t, gamma, sigma, w_t):
    solved = _max_program(s_t, gamma, sigma, w_t, c)
    return (solved is not None and abs(c - solved[0]) <= _TOL_EQUALITY), solved


def _roundeps(value: float) -> float:
    return 0.0 if abs(value) < _DOUBLE_EPS ** 0.75 else value


def _bound_by_dual(eta, start, s_t, gamma, sigma, w_t, upper: bool) -> float:
    """One truncation bound of the dual route: a few fixed-point steps, then bisection (R's ``.vlo_vup_dual_fn``)."""
    ok, solved = _is_solution(start, s_t, gamma, sigma, w_t)
    if ok:
        return np.inf if upper else -np.inf
    b = sigma @ gamma / float(gamma @ sigma @ gamma)
    dif, iters = 0.0, 1

    def step(sol):
        x = sol[1] if sol is not None else np.zeros_like(s_t)
        return _roundeps(float(x @ s_t)) / (1.0 - float(x @ b))

    mid = step(solved)
    while True:
        ok, solved = _is_solution(mid, s_t, gamma, sigma, w_t)
        if ok or iters >= _MAX_ITERS:
            break
        iters += 1
        if iters >= _SWITCH_ITERS:
            dif = _TOL_BISECTION + 1
            break
        mid = step(solved)
    low, high = (eta, mid) if upper else (mid, eta)
    while dif > _TOL_BISECTION and iters < _MAX_ITERS:
        iters += 1
        mid = (high + low) / 2
        inside, _ = _is_solution(mid, s_t, gamma, sigma, w_t)
        if inside == upper:
            low = mid
        else:
            high = mid
        dif = high - low
    return mid


def _dual_bounds(y, x, eta, gamma, sigma):
    """Truncation bounds ``(vlo, vup)`` from the dual LP when the binding moments are degenerate."""
    sd = np.sqrt(np.diag(sigma))
    w_t = np.column_stack([sd, x])
    s_t = y - sigma @ gamma * float(gamma @ y) / float(gamma @ sigma @ gamma)
    ok, _ = _is_solution(eta, s_t, gamma, sigma, w_t)
    if not ok:
        return eta, np.inf
    sigma_b = np.sqrt(float(gamma @ sigma @ gamma))
    vup = _bound_by_dual(eta, max(100.0, eta + 20 * sigma_b), s_t, gamma, sigma, w_t, upper=True)
    vlo = _bound_by_dual(eta, min(-100.0, eta - 20 * sigma_b), s_t, gamma, sigma, w_t, upper=False)
    return vlo, vup


def _binding_bounds(y, x, sigma, binding):
    """Truncation bounds ``(vlo, vup, sigma_B)`` from the ``k + 1`` binding moments (ARP's closed form)."""
    size = len(y)
    sd = np.sqrt(np.diag(sigma))
    basis = np.linalg.inv(np.column_stack([sd[binding], x[binding]]))
    select_b = np.eye(size)[binding]
    select_bc = np.eye(size)[~binding]
    gamma_b = np.column_stack([sd[~binding], x[~binding]]) @ basis @ select_b - select_bc
    v_b = basis[0] @ select_b
    sigma2_b = float(v_b @ sigma @ v_b)
    rho = gamma_b @ sigma @ v_b / sigma2_b
    with np.errstate(divide="ignore", invalid="ignore"):
        candidates = (-gamma_b @ y) / rho + float(v_b @ y)
    vlo = np.max(candidates[rho > 0]) if np.any(rho > 0) else -np.inf
    vup = np.min(candidates[rho < 0]) if np.any(rho < 0) else np.inf
    return vlo, vup, np.sqrt(sigma2_b)


def conditional_test(y_t: np.ndarray, x: np.ndarray, sigma: np.ndarray, alpha: float,
                     lf_cv: float | None, kappa: float) -> bool:
    """Whether the conditional (``lf_cv=None``) or C-LF hybrid test rejects at level ``alpha``."""
    sd = np.sqrt(np.diag(sigma))
    solved = _eta_lp(y_t, x, sd)
    if solved is None:
        return False  # R warns and does not reject when the LP fails
    eta, lam = solved
    if lf_cv is not None:
        if eta > lf_cv:
            return True
        size = (alpha - kappa) / (1 - kappa)
    else:
        size = alpha
    k = x.shape[1]
    binding = lam > _TOL_LAMBDA
    degenerate = int(binding.sum()) != k + 1
    x_binding = x[binding]
    full_rank = min(x_binding.shape) > 0 and np.linalg.matrix_rank(x_binding) == min(x_binding.shape)
    if k == 0:
        full_rank = True  # no nuisance parameter: the single binding moment is its own basis
    if degenerate or not full_rank:
        gamma = lam
        sigma2 = float(gamma @ sigma @ gamma)
        if abs(sigma2) < _DOUBLE_EPS:
            return eta > 0
        vlo, vup = _dual_bounds(y_t, x, eta, gamma, sigma)
        sigma_b = np.sqrt(sigma2)
    else:
        vlo, vup, sigma_b = _binding_bounds(y_t, x, sigma, binding)
    # The LF hybrid also truncates at the first-stage critical value; R's separate code for the case
    # without nuisance parameters (one post period) does not, and we follow R there too.
    upper = min(vup, lf_cv) if lf_cv is not None and k > 0 else vup
    zlo, zup, stat = vlo / sigma_b, upper / sigma_b, eta / sigma_b
    if not (zlo <= stat <= zup):
        return False
    critical = max(0.0, float(truncnorm.ppf(1 - size, zlo, zup)))
    return stat > critical
