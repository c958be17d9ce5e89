"""Sensitivity of an event study's conclusion to violations of parallel trends (Rambachan & Roth 2023,
"A More Credible Approach to Parallel Trends", REStud), following the R package HonestDiD.

Given event-study coefficients ``betahat`` (pre-periods first, the reference period left out) and
their covariance ``sigma``, the robust intervals cover ``theta = l' tau_post`` whenever the
post-period violation of parallel trends ``delta_post`` is restricted by the pre-period one:

* ``restriction="relative_magnitudes"`` (``Delta^RM(Mbar)``): no post-period change in the
  violation exceeds ``Mbar`` times the largest pre-period change. Intervals by the conditional-
  least-favourable hybrid test (``"C-LF"``, R's default) or the conditional test (``"Conditional"``).
* ``restriction="smoothness"`` (``Delta^SD(M)``): the slope of the violation changes by at most
  ``M`` per period; ``M = 0`` allows exactly linear trends. Intervals by the optimal FLCI (R's default).

``honest_did`` gives one row per ``m``, ``original_interval`` the usual interval that assumes parallel
trends, and ``breakdown_value`` the largest ``m`` at which the robust interval still excludes 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy.stats import norm

from .errors import DidError
from .honest_rm import rm_interval, rm_interval_contains
from .honest_smoothness import flci

__all__ = ["HonestDidError", "breakdown_value", "honest_did", "original_interval"]

RESTRICTIONS = {"relative_magnitudes": "DeltaRM", "smoothness": "DeltaSD"}
_RM_METHODS = {"C-LF": "LF", "Conditional": "ARP"}
_COLUMNS = ["m", "lb", "ub", "method", "delta"]


class HonestDidError(DidError):
    """The event-study inputs or arguments of the sensitivity analysis are unusable (the message says why)."""


def _validated(betahat, sigma, num_pre_periods: int, num_post_periods: int, l_vec, alpha: float):
    """Check shapes and values; return ``betahat``, ``sigma`` and ``l_vec`` as float arrays."""
    beta = np.asarray(betahat, dtype=float)
    cov = np.asarray(sigma, dtype=float)
    if beta.ndim != 1:
        raise HonestDidError(f"honest_did: betahat must be a vector, got an array of shape {beta.shape}")
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1]:
        raise HonestDidError(f"honest_did: sigma must be a square matrix, got shape {cov.shape}")
    if cov.shape[0] != len(beta):
        raise HonestDidError(
            f"honest_did: sigma is {cov.shape[0]}x{cov.shape[1]} but betahat has {len(beta)} coefficients")
    for name, value in (("num_pre_periods", num_pre_periods), ("num_post_periods", num_post_periods)):
        if int(value) != value or value < 1:
            raise HonestDidError(f"honest_did: {name} must be a positive integer, got {value!r}")
    if num_pre_periods + num_post_periods != len(beta):
        raise HonestDidError(
            f"honest_did: num_pre_periods + num_post_periods = {num_pre_periods + num_post_periods} "
            f"but betahat has {len(beta)} coefficients")
    if not (np.all(np.isfinite(beta)) and np.all(np.isfinite(cov))):
        raise HonestDidError("honest_did: betahat and sigma must be finite (no NaN or infinity)")
    if not np.allclose(cov, cov.T, rtol=1e-8, atol=1e-12 * max(1.0, float(np.abs(cov).max()))):
        raise HonestDidError("honest_did: sigma must be symmetric")
    eigen = np.linalg.eigvalsh(cov)
    if eigen[0] < -1e-10 * max(eigen[-1], 0.0):
        raise HonestDidError(f"honest_did: sigma must be positive semi-definite (smallest eigenvalue {eigen[0]:.3g})")
    if l_vec is None:
        lv = np.zeros(num_post_periods)
        lv[0] = 1.0
    else:
        lv = np.asarray(l_vec, dtype=float).ravel()
        if len(lv) != num_post_periods or not np.all(np.isfinite(lv)) or not np.any(lv != 0):
            raise HonestDidError(
                f"honest_did: l_vec must be {num_post_periods} finite weights (one per post period), not all zero; "
                f"got {np.asarray(l_vec).tolist()}")
    if not 0 < alpha < 1:
        raise HonestDidError(f"honest_did: alpha must be between 0 and 1, got {alpha!r}")
    if np.sqrt(float(lv @ cov[num_pre_periods:, num_pre_periods:] @ lv)) <= 0:
        raise HonestDidError("honest_did: l' sigma_post l is 0, so the interval is not defined")
    return beta, cov, lv


def _method_for(restriction: str, method: str | None) -> str:
    if restriction not in RESTRICTIONS:
        raise HonestDidError(f"honest_did: restriction must be one of {sorted(RESTRICTIONS)}, got {restriction!r}")
    if restriction == "relative_magnitudes":
        method = method or "C-LF"
        if method not in _RM_METHODS:
            raise HonestDidError(f"honest_did: method for relative magnitudes must be 'C-LF' or 'Conditional', "
                                 f"got {method!r}")
    else:
        method = method or "FLCI"
        if method != "FLCI":
            raise HonestDidError(f"honest_did: method for smoothness must be 'FLCI', got {method!r}")
    return method


def _interval(beta, cov, num_pre, num_post, lv, restriction, method, m, alpha) -> tuple[float, float]:
    if restriction == "relative_magnitudes":
        return rm_interval(beta, cov, num_pre, num_post, lv, m, alpha=alpha, hybrid=_RM_METHODS[method])
    result = flci(beta, cov, num_pre, lv, m, alpha=alpha)
    return result.lb, result.ub


def honest_did(betahat, sigma, num_pre_periods: int, num_post_periods: int,
               restriction: str = "relative_magnitudes", m: Sequence[float] | float | None = None,
               l_vec=None, alpha: float = 0.05, method: str | None = None) -> pd.DataFrame:
    """Robust confidence intervals for ``l' tau_post``, one row per ``m`` (``Mbar`` or ``M``).

    Columns ``m, lb, ub, method, delta``. ``l_vec`` defaults to the first post period. ``m`` defaults to
    R's ``seq(0, 2, length.out = 10)`` for relative magnitudes and must be given for smoothness (its
    scale is the outcome's). Relative-magnitude bounds are points of R's 1000-point grid over
    ``+-20`` standard errors of ``l' betahat_post`` (the grid step is their precision); FLCI bounds are exact.
    ``lb``/``ub`` are NaN when no grid point is accepted (the restriction is rejected by the data).
    """
    beta, cov, lv = _validated(betahat, sigma, num_pre_periods, num_post_periods, l_vec, alpha)
    method = _method_for(restriction, method)
    if m is None:
        if restriction == "smoothness":
            raise HonestDidError("honest_did: give the values of M for the smoothness restriction (argument m)")
        m = np.linspace(0.0, 2.0, 10)
    values = np.atleast_1d(np.asarray(m, dtype=float))
    if values.ndim != 1 or not np.all(np.isfinite(values)) or np.any(values < 0):
        raise HonestDidError(f"honest_did: m must be finite non-negative numbers, got {np.asarray(m).tolist()}")
    rows = []
    for value in values:
        lb, ub = _interval(beta, cov, num_pre_periods, num_post_periods, lv, restriction, method, float(value), alpha)
        rows.append({"m": float(value), "lb": lb, "ub": ub, "method": method, "delta": RESTRICTIONS[restriction]})
    return pd.DataFrame(rows, columns=_COLUMNS)


def original_interval(betahat, sigma, num_pre_periods: int, num_post_periods: int, l_vec=None,
                      alpha: float = 0.05) -> pd.DataFrame:
    """The usual interval ``l' betahat_post +- z_{1-alpha/2} se`` (exact parallel trends), as R's
    ``constructOriginalCS``: one row with ``method = "Original"`` and ``m`` NaN, to stack on ``honest_did``.
    """
    beta, cov, lv = _validated(betahat, sigma, num_pre_periods, num_post_periods, l_vec, alpha)
    estimate = float(lv @ beta[num_pre_periods:])
    se = float(np.sqrt(lv @ cov[num_pre_periods:, num_pre_periods:] @ lv))
    z = norm.ppf(1 - alpha / 2)
    return pd.DataFrame([{"m": np.nan, "lb": estimate - z * se, "ub": estimate + z * se, "method": "Original",
                          "delta": None}], columns=_COLUMNS)


def breakdown_value(betahat, sigma, num_pre_periods: int, num_post_periods: int,
                    restriction: str = "relative_magnitudes", l_vec=None, alpha: float = 0.05,
                    method: str | None = None, tol: float | None = None, max_doublings: int = 20) -> float:
    """The largest ``m`` at which the robust interval still excludes 0, by bisection.

    The search doubles an upper bound (from 1 for ``Mbar``; from the standard error of ``l' betahat_post``
    for ``M``) until the interval contains 0, then bisects until the bracket is narrower than ``tol``
    (default 0.01 for ``Mbar``, a thousandth of that standard error for ``M``) and returns its lower end:
    an ``m`` verified to exclude 0, at most ``tol`` below the breakdown. It assumes the intervals grow
    with ``m``. Returns NaN if the interval contains 0 already at ``m = 0`` (no robust conclusion to break)
    or is empty there, and infinity if it still excludes 0 after ``max_doublings`` doublings.

    For ``Mbar`` each step asks whether the reported (grid) interval contains 0 from the two grid points
    next to 0 (``rm_interval_contains``: two tests per polyhedron instead of a grid search); this gives
    the same answer as the grid interval whenever its accepted grid points form an interval.
    """
    beta, cov, lv = _validated(betahat, sigma, num_pre_periods, num_post_periods, l_vec, alpha)
    method = _method_for(restriction, method)
    se = float(np.sqrt(lv @ cov[num_pre_periods:, num_pre_periods:] @ lv))
    start = 1.0 if restriction == "relative_magnitudes" else se
    if tol is None:
        tol = 0.01 if restriction == "relative_magnitudes" else se / 1000
    if tol <= 0:
        raise HonestDidError(f"breakdown_value: tol must be positive, got {tol!r}")

    def excludes_zero(value: float) -> bool:
        if restriction == "relative_magnitudes":
            return not rm_interval_contains(beta, cov, num_pre_periods, num_post_periods, lv, value, 0.0,
                                            alpha=alpha, hybrid=_RM_METHODS[method])
        lb, ub = _interval(beta, cov, num_pre_periods, num_post_periods, lv, restriction, method, value, alpha)
        return bool(np.isfinite(lb) and np.isfinite(ub) and (lb > 0 or ub < 0))

    if not excludes_zero(0.0):
        return math.nan
    if restriction == "relative_magnitudes":
        lb, _ = _interval(beta, cov, num_pre_periods, num_post_periods, lv, restriction, method, 0.0, alpha)
        if not np.isfinite(lb):
            return math.nan  # the data reject the restriction at Mbar = 0: no interval to break down
    low, high = 0.0, start
    doublings = 0
    while excludes_zero(high):
        low, high = high, 2 * high
        doublings += 1
        if doublings > max_doublings:
            return math.inf
    while high - low > tol:
        mid = (low + high) / 2
        if excludes_zero(mid):
            low = mid
        else:
            high = mid
    return low
