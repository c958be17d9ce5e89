"""Entropy balancing (Hainmueller 2012): the comparison group's weights closest to its base
weights that reproduce the district's covariate means exactly.

Primal: minimise ``sum_i w_i log(w_i / b_i)`` subject to ``sum_i w_i = 1`` and
``sum_i w_i x_i = t``. Its solution is ``w_i = b_i exp(x_i'λ) / sum_j b_j exp(x_j'λ)``, where λ
minimises the convex dual ``log sum_i b_i exp((x_i - t)'λ)``; the dual's gradient is the
weighted mean of ``x - t`` (the remaining imbalance) and its Hessian the weighted covariance of
x, so it is solved by Newton's method with a backtracking line search on covariates
standardised by their base-weighted mean and SD (``tol`` is thus in standard deviations). The
line search measures the dual's decrease relative to the current point, which stays accurate
where the trust-region methods of ``scipy.optimize.minimize`` stall on the rounding of the
dual's value (they stop short of a 1e-8 imbalance with a million rows).

Before optimising, the obvious problems are settled:

* a target outside the range of a covariate in the comparison rows is infeasible:
  ``BalanceError`` naming the covariates;
* a target *at* the edge of the range (e.g. a district with no non-western respondents) can only
  be met by giving weight 0 to every comparison row off that edge, which is what the primal
  solution does: those rows get weight 0 and a ``BalanceWarning`` says how many;
* a constant covariate, or one that is an exact linear function of earlier covariates (e.g. all
  levels of a category as dummies), is dropped from the constraints with a ``BalanceWarning``
  when the targets obey the same relation (its target then holds automatically), and is a
  ``BalanceError`` naming the relation when they do not.

Targets inside every range can still lie outside the joint convex hull of the comparison rows
(e.g. two shares whose sum exceeds the share of rows having either); the dual then has no
minimum, the Newton steps run off, and a ``BalanceError`` names the covariates left unbalanced.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import scipy.linalg

from .design_matrix import Standardized, as_base_weights, as_frame, as_vector, standardize
from .errors import BalanceError, BalanceWarning
from .result import BalanceWeights

__all__ = ["entropy_balance"]

EDGE_TOL = 1e-9  # relative distance of a target from the edge of a covariate's range
RELATION_TOL = 1e-8  # relative violation of an exact linear relation that still counts as obeyed
ARMIJO = 1e-4  # sufficient decrease of the dual, as a share of the predicted decrease
MIN_STEP = 1e-12  # shortest step length tried before the line search gives up


def entropy_balance(
    X_control: pd.DataFrame | np.ndarray,
    target_means,
    base_weights=None,
    *,
    total: float | None = None,
    max_iter: int = 200,
    tol: float = 1e-8,
    min_ess_share: float = 0.2,
    max_share: float = 0.05,
) -> BalanceWeights:
    """Entropy-balancing weights for the comparison rows ``X_control``.

    ``target_means`` are the district's (weighted) covariate means, in column order or as a
    Series indexed by column name. ``base_weights`` (default: equal) are the comparison rows'
    non-response weights, which the result stays as close to as possible in the Kullback-Leibler
    sense; with targets equal to the base-weighted means the result *is* the base weights. The
    weights sum to ``total`` (default: the base weights' total). ``tol`` bounds the remaining
    imbalance in standard deviations of each covariate. Raises ``BalanceError`` when the targets
    cannot be met; warns (``BalanceWarning``) as described in the module docstring and when the
    effective sample size is below ``min_ess_share`` of the rows or one weight exceeds
    ``max_share`` of the total.
    """
    X = as_frame(X_control)
    if len(X) == 0 or X.shape[1] == 0:
        raise BalanceError("X_control needs at least one row and one covariate")
    names = [str(c) for c in X.columns]
    values = X.to_numpy()
    target = _target_vector(target_means, X.columns)
    b = as_base_weights(base_weights, X.index)

    active, at_edge = _usable_rows(values, target, b > 0, names)
    all_rows = active.all()  # skip copying a large X when every row is usable
    std = standardize(values if all_rows else values[active], b if all_rows else b[active])
    _check_relations(std, target, names, at_edge)
    kept = std.kept
    z_target = (target[kept] - std.mean[kept]) / std.sd[kept]
    lam, p, iterations = _solve_dual(std.z[:, kept] - z_target, np.log(b[active]), max_iter, tol,
                                     [names[j] for j in kept])

    weights = np.zeros(len(X))
    weights[active] = p * (b.sum() if total is None else total)
    return BalanceWeights.build(
        pd.Series(weights, index=X.index, name="weight"),
        method="entropy",
        converged=True,
        iterations=iterations,
        coefficients=pd.Series(lam / std.sd[kept], index=[names[j] for j in kept], name="lambda"),
        dropped=tuple(names[j] for j in sorted(std.redundant)),
        min_ess_share=min_ess_share,
        max_share=max_share,
    )


def _target_vector(target_means, columns: pd.Index) -> np.ndarray:
    if isinstance(target_means, pd.Series):
        missing = [str(c) for c in columns if c not in target_means.index]
        extra = [str(c) for c in target_means.index if c not in columns]
        if missing or extra:
            raise BalanceError(f"target_means do not match the covariates: missing {missing}, unknown {extra}")
        target_means = target_means.reindex(columns)
    target = as_vector(np.asarray(target_means, dtype=float), columns, "target_means")
    if not np.isfinite(target).all():
        raise BalanceError("target_means must be finite")
    return target


def _usable_rows(
    values: np.ndarray, target: np.ndarray, active: np.ndarray, names: list[str]
) -> tuple[np.ndarray, list[str]]:
    """Rows that may get positive weight, and the covariates whose targets sit at the edge of
    their range; raises when a target is outside a covariate's range.

    A target at the edge of a range restricts the rows to those on the edge, which can put
    another target at (or beyond) the edge of its now narrower range, so this repeats.
    """
    forced: list[str] = []
    while True:
        x = values if active.all() else values[active]
        lo, hi = x.min(axis=0), x.max(axis=0)
        eps = EDGE_TOL * np.maximum(1.0, np.maximum(np.abs(lo), np.abs(hi)))
        outside = np.flatnonzero((target < lo - eps) | (target > hi + eps))
        if outside.size:
            where = f" left after restricting to the edges of {forced}" if forced else ""
            detail = "; ".join(f"{names[j]!r}: target {target[j]:.6g}, range [{lo[j]:.6g}, {hi[j]:.6g}]"
                               for j in outside)
            raise BalanceError(
                f"target means outside the range of the comparison rows{where}, so no weighting can "
                f"reach them: {detail}")
        at_lo = (lo < hi) & (np.abs(target - lo) <= eps)
        at_hi = (lo < hi) & (np.abs(target - hi) <= eps)
        edge = np.flatnonzero(at_lo | at_hi)
        if not edge.size:
            return active, forced
        keep = active.copy()
        for j in edge:
            keep &= values[:, j] == (lo[j] if at_lo[j] else hi[j])
        edge_names = [names[j] for j in edge]
        if not keep.any():
            raise BalanceError(
                f"the target means of {edge_names} each sit at the edge of the comparison rows' range, "
                "and no comparison row is on all these edges at once")
        warnings.warn(
            "target means at the edge of the comparison rows' range: "
            + ", ".join(f"{names[j]!r} = {target[j]:.6g}" for j in edge)
            + f"; only rows with exactly these values can be used, so {int(active.sum() - keep.sum()):,} "
            "comparison rows get weight 0",
            BalanceWarning,
            stacklevel=3,
        )
        forced += edge_names
        active = keep


def _check_relations(std: Standardized, target: np.ndarray, names: list[str], at_edge: list[str]) -> None:
    """Warn about constant and collinear covariates whose targets obey the same relation (not
    again about those made constant by a target at their edge); raise when a target breaks a
    relation that holds in every usable comparison row.
    """
    offset = target - std.mean
    notes, broken = [], []
    for j, beta in std.redundant.items():
        relation = _relation_text(j, beta, std, names)
        gap = offset[j] - beta @ offset
        if abs(gap) > RELATION_TOL * max(1.0, abs(target[j]), abs(std.mean[j])):
            broken.append(f"{relation} (the targets are off by {gap:.3g})")
        elif names[j] not in at_edge:
            notes.append(relation)
    if broken:
        raise BalanceError(
            "target means contradict exact relations among the covariates in the comparison rows: "
            + "; ".join(broken))
    if notes:
        warnings.warn(
            "covariates dropped from the balancing constraints because they are constant or collinear "
            f"in the comparison rows (their target means hold automatically): {'; '.join(notes)}",
            BalanceWarning,
            stacklevel=3,
        )


def _relation_text(j: int, beta: np.ndarray, std: Standardized, names: list[str]) -> str:
    """E.g. "'x3' = 1 - 1*'x1' - 1*'x2' in every row" or "'x2' is constant 0" (terms contributing
    less than 1e-9 of the column's SD are rounding noise and left out).
    """
    if not beta.any():
        return f"{names[j]!r} is constant {std.mean[j]:.6g}"
    intercept = std.mean[j] - beta @ std.mean
    shown = np.abs(beta) * std.sd > 1e-9 * std.sd[j]
    terms = " ".join(f"{'-' if beta[i] < 0 else '+'} {abs(beta[i]):.6g}*{names[i]!r}" for i in np.flatnonzero(shown))
    return f"{names[j]!r} = {intercept:.6g} {terms} in every row"


def _solve_dual(
    z: np.ndarray, log_b: np.ndarray, max_iter: int, tol: float, names: list[str]
) -> tuple[np.ndarray, np.ndarray, int]:
    """Minimise ``log sum_i exp(log_b_i + z_i'λ)`` (z centred on the target) by damped Newton;
    returns λ, the normalised weights and the number of Newton steps. Raises BalanceError when
    the remaining imbalance is not below ``tol`` after ``max_iter`` steps or a step stalls.
    """
    lam = np.zeros(z.shape[1])
    u = log_b.copy()
    p = _softmax(u)
    for iteration in range(max_iter + 1):
        g = p @ z
        if not names or np.abs(g).max() <= tol:
            return lam, p, iteration
        if iteration == max_iter:
            break
        hessian = z.T @ (z * p[:, None]) - np.outer(g, g)
        step = scipy.linalg.lstsq(hessian, -g)[0]  # least squares: the Hessian degenerates as λ runs off
        shift = _line_search(z, p, step, g @ step)
        if shift is None:
            break
        t, a = shift
        lam += t * step
        u += a
        p = _softmax(u)
    order = np.argsort(-np.abs(g))
    left = ", ".join(f"{names[i]!r} {g[i]:+.3g}" for i in order if abs(g[i]) > tol)
    raise BalanceError(
        f"entropy balancing did not converge in {iteration} Newton steps; remaining imbalance in "
        f"standard deviations: {left}. The target is probably outside the convex hull of the "
        "comparison rows (no weighting reproduces these means together)")


def _line_search(z: np.ndarray, p: np.ndarray, step: np.ndarray, slope: float) -> tuple[float, np.ndarray] | None:
    """Backtracking (Armijo) along ``step``; returns the step length and the change in log weights.

    The change in the dual, ``log sum_i p_i exp(z_i'δ)``, is computed relative to the current
    point with log1p/expm1: exact to far below the rounding of the dual's value itself, which
    would stall a method comparing objective values (such as scipy's trust-region methods)
    once the imbalance is below about 1e-7.
    """
    t = 1.0
    with np.errstate(over="ignore", invalid="ignore"):
        while t >= MIN_STEP:
            a = z @ (t * step)
            if np.log1p(p @ np.expm1(a)) <= ARMIJO * t * slope:
                return t, a
            t /= 2
    return None


def _softmax(u: np.ndarray) -> np.ndarray:
    e = np.exp(u - u.max())
    return e / e.sum()
