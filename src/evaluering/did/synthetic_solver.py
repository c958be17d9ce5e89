"""The numerical core of synthetic difference-in-differences, on the outcome matrix.

``Y`` is units x periods with the ``n0`` control units in the first rows and the ``t0``
pre-treatment periods in the first columns (the block design of Arkhangelsky et al. 2021). This
module follows the R package ``synthdid`` (synth-inference/synthdid, ``R/solver.R``,
``R/synthdid.R``, ``R/vcov.R``) step for step so that its published results are reproduced:

* the weights solve a ridge-penalised least-squares problem on the unit simplex, with an
  (unpenalised) intercept, by Frank-Wolfe with exact line search; the unit weights make the
  controls track the treated units' pre-period path, the time weights make the pre periods
  predict the controls' post-period mean;
* a first pass of ``max_iter_pre_sparsify`` iterations, then weights at or below a quarter of the
  largest are set to zero and the solver continues from there;
* a pass stops when an iteration lowers the objective by less than ``min_decrease**2``, or after
  ``max_iter`` iterations.

The solver runs many weight problems at once (the two of a fit, or all those of the placebo or
bootstrap replications): padded to a common size, one numpy operation per step serves all of
them, so 200 placebo or bootstrap refits cost a few fits, not 200. It works on ``H = A'A + eta I``
(formed once), which gives synthdid's iterates up to rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

_MAX_BATCH_CELLS = 8_000_000  # float64 cells of the padded H matrices per batch

__all__ = ["WeightOptions", "WeightProblem", "Weights", "collapsed_form", "estimate_from_weights",
           "fit_weights", "frank_wolfe", "method_options", "noise_level", "sparsify", "sum_normalize"]


@dataclass(frozen=True)
class WeightOptions:
    """How the weights of one estimator are chosen (fixed by the fit, reused by the standard errors).

    ``update_omega``/``update_lambda`` False: those weights stay at their initial values (plain
    DiD: uniform; synthetic control: time weights all zero).
    """

    zeta_omega: float
    zeta_lambda: float
    min_decrease: float
    omega_intercept: bool = True
    lambda_intercept: bool = True
    update_omega: bool = True
    update_lambda: bool = True
    max_iter: int = 10_000
    max_iter_pre_sparsify: int = 100


@dataclass(frozen=True)
class Weights:
    """Unit weights ``omega`` (controls) and time weights ``lam`` (pre-treatment periods)."""

    omega: np.ndarray
    lam: np.ndarray


@dataclass(frozen=True)
class WeightProblem:
    """min over the simplex of ``zeta^2 |x|^2 + |A x - b|^2 / n``; ``design`` is ``[A | b]``, n rows."""

    design: np.ndarray
    zeta: float
    intercept: bool
    x0: np.ndarray | None = None


def noise_level(y: np.ndarray, n0: int, t0: int) -> float:
    """Standard deviation of the controls' first differences in the pre-treatment periods."""
    diffs = np.diff(y[:n0, :t0], axis=1)
    return float(np.std(diffs, ddof=1)) if diffs.size > 1 else 0.0


def method_options(y: np.ndarray, n0: int, t0: int, method: str) -> tuple[WeightOptions, Weights | None]:
    """The defaults of synthdid's ``synthdid_estimate``, ``sc_estimate`` and ``did_estimate``.

    zeta_omega = (N1 T1)^(1/4) sigma (synthetic control: 1e-6 sigma, no intercept, no time weights),
    zeta_lambda = 1e-6 sigma, min_decrease = 1e-5 sigma, with sigma from :func:`noise_level`.
    Returns the options and, for the estimators with fixed weights, those weights.
    """
    n1, t1 = y.shape[0] - n0, y.shape[1] - t0
    sigma = noise_level(y, n0, t0)
    common = {"zeta_lambda": 1e-6 * sigma, "min_decrease": 1e-5 * sigma}
    if method == "sdid":
        return WeightOptions(zeta_omega=(n1 * t1) ** 0.25 * sigma, **common), None
    if method == "sc":
        fixed = Weights(omega=np.full(n0, 1.0 / n0), lam=np.zeros(t0))
        return WeightOptions(zeta_omega=1e-6 * sigma, omega_intercept=False, update_lambda=False,
                             **common), fixed
    if method == "did":
        fixed = Weights(omega=np.full(n0, 1.0 / n0), lam=np.full(t0, 1.0 / t0))
        return WeightOptions(zeta_omega=(n1 * t1) ** 0.25 * sigma, update_omega=False,
                             update_lambda=False, **common), fixed
    raise ValueError(f"method must be 'sdid', 'sc' or 'did', not {method!r}")


def collapsed_form(y: np.ndarray, n0: int, t0: int) -> np.ndarray:
    """``Y`` reduced to (n0+1) x (t0+1): treated rows and post columns replaced by their means."""
    top = np.column_stack([y[:n0, :t0], y[:n0, t0:].mean(axis=1)])
    bottom = np.append(y[n0:, :t0].mean(axis=0), y[n0:, t0:].mean())
    return np.vstack([top, bottom])


def sparsify(v: np.ndarray) -> np.ndarray:
    """Weights at or below a quarter of the largest set to zero, the rest rescaled to sum to one."""
    v = np.where(v <= v.max() / 4, 0.0, v)
    return v / v.sum()


def sum_normalize(x: np.ndarray) -> np.ndarray:
    """``x / sum(x)``, or uniform weights if ``x`` sums to zero."""
    total = x.sum()
    return x / total if total != 0 else np.full(len(x), 1.0 / len(x))


def frank_wolfe(problems: list[WeightProblem], min_decrease: float, max_iter: int) -> list[np.ndarray]:
    """Frank-Wolfe with exact line search for each problem (synthdid's ``sc.weight.fw``), all at once.

    Each problem stops on its own: after ``max_iter`` iterations or when an iteration lowers its
    objective by less than ``min_decrease**2``. Starts at ``x0`` or at uniform weights. Once most
    problems of the batch have stopped, the rest go on alone (each row's arithmetic is its own, so
    the weights are the same as iterating the whole batch).
    """
    sizes = [p.design.shape[1] - 1 for p in problems]
    count, width = len(problems), max(sizes)
    hess = np.zeros((count, width, width))
    atb = np.zeros((count, width))
    btb = np.zeros(count)
    rows = np.zeros(count)
    x = np.zeros((count, width))
    for j, (p, k) in enumerate(zip(problems, sizes, strict=True)):
        design = p.design - p.design.mean(axis=0) if p.intercept else p.design
        a, b = design[:, :k], design[:, k]
        n = design.shape[0]
        hess[j, :k, :k] = a.T @ a + n * p.zeta**2 * np.eye(k)
        atb[j, :k], btb[j], rows[j] = a.T @ b, b @ b, n
        x[j, :k] = np.full(k, 1.0 / k) if p.x0 is None else p.x0
    blocked = np.where(np.arange(width)[None, :] >= np.asarray(sizes)[:, None], np.inf, 0.0)  # padding
    u = np.einsum("bij,bj->bi", hess, x)  # H x; the half gradient is H x - A'b
    index = np.arange(count)
    active = np.ones(count, dtype=bool)
    previous = np.full(count, np.inf)
    current = np.full(count, np.inf)
    tol = min_decrease * min_decrease
    solved = x.copy()  # each problem's weights, by its position in ``problems``
    position = np.arange(count)  # the position of each problem still iterated
    with np.errstate(divide="ignore", invalid="ignore"):
        for it in range(max_iter):
            if it >= 2:
                active &= previous - current > tol
                if not active.any():
                    break
                if 2 * active.sum() <= len(active):  # most have stopped: iterate on the others only
                    solved[position] = x
                    keep = np.flatnonzero(active)
                    hess, atb, btb, rows, x, u, blocked = (a[keep] for a in (hess, atb, btb, rows, x, u, blocked))
                    previous, current, position = previous[keep], current[keep], position[keep]
                    index, active = np.arange(len(keep)), np.ones(len(keep), dtype=bool)
            half_grad = u - atb + blocked
            i = half_grad.argmin(axis=1)
            xu = np.vecdot(x, u)
            slope = half_grad[index, i] - xu + np.vecdot(x, atb)  # half_grad . (e_i - x)
            curvature = hess[index, i, i] - 2.0 * u[index, i] + xu  # |A(e_i - x)|^2 + eta |e_i - x|^2
            step = np.minimum(1.0, np.maximum(0.0, -slope / curvature))
            step[~(curvature > 0)] = 0.0  # only at a vertex already (no direction to move in)
            step[~active] = 0.0
            x *= (1.0 - step)[:, None]
            x[index, i] += step
            u *= (1.0 - step)[:, None]
            u += step[:, None] * hess[index, :, i]
            value = (np.vecdot(x, u) - 2.0 * np.vecdot(x, atb) + btb) / rows
            previous = np.where(active, current, previous)
            current = np.where(active, value, current)
    solved[position] = x
    return [solved[j, :k].copy() for j, k in enumerate(sizes)]


def _omega_problem(yc: np.ndarray, t0: int, opts: WeightOptions, x0: np.ndarray | None) -> WeightProblem:
    return WeightProblem(yc[:, :t0].T, opts.zeta_omega, opts.omega_intercept, x0)


def _lambda_problem(yc: np.ndarray, n0: int, opts: WeightOptions, x0: np.ndarray | None) -> WeightProblem:
    return WeightProblem(yc[:n0, :], opts.zeta_lambda, opts.lambda_intercept, x0)


def _in_chunks(problems: list[WeightProblem], min_decrease: float, max_iter: int) -> list[np.ndarray]:
    """:func:`frank_wolfe` on batches small enough that the padded matrices stay below ~64 MB."""
    if not problems:
        return []
    width = max(p.design.shape[1] for p in problems)
    size = max(1, _MAX_BATCH_CELLS // (width * width))
    return [x for start in range(0, len(problems), size)
            for x in frank_wolfe(problems[start:start + size], min_decrease, max_iter)]


def fit_weights(setups: list[tuple[np.ndarray, int, int, Weights | None]], opts: WeightOptions) -> list[Weights]:
    """Unit and time weights for each ``(Y, n0, t0, initial weights)``, solved together.

    Weights that ``opts`` does not update are taken from the initial weights. As in
    ``synthdid_estimate``: a first pass of ``opts.max_iter_pre_sparsify`` iterations, sparsify,
    then up to ``opts.max_iter`` more.
    """
    problems: list[WeightProblem] = []
    slots: list[tuple[int, str]] = []
    for j, (y, n0, t0, init) in enumerate(setups):
        yc = collapsed_form(y, n0, t0)
        if opts.update_lambda:
            problems.append(_lambda_problem(yc, n0, opts, None if init is None else init.lam))
            slots.append((j, "lam"))
        if opts.update_omega:
            problems.append(_omega_problem(yc, t0, opts, None if init is None else init.omega))
            slots.append((j, "omega"))
    first = _in_chunks(problems, opts.min_decrease, opts.max_iter_pre_sparsify)
    restarted = [WeightProblem(p.design, p.zeta, p.intercept, sparsify(x))
                 for p, x in zip(problems, first, strict=True)]
    solved = _in_chunks(restarted, opts.min_decrease, opts.max_iter)
    found: list[dict[str, np.ndarray]] = [{} for _ in setups]
    for (j, kind), x in zip(slots, solved, strict=True):
        found[j][kind] = x
    results = []
    for (_, _, _, init), got in zip(setups, found, strict=True):
        omega = got.get("omega", None if init is None else init.omega)
        lam = got.get("lam", None if init is None else init.lam)
        results.append(Weights(omega=np.asarray(omega, dtype=float), lam=np.asarray(lam, dtype=float)))
    return results


def estimate_from_weights(y: np.ndarray, n0: int, t0: int, w: Weights) -> float:
    """The weighted double difference: treated mean minus omega'controls, post mean minus lambda'pre."""
    n1, t1 = y.shape[0] - n0, y.shape[1] - t0
    unit = np.concatenate([-w.omega, np.full(n1, 1.0 / n1)])
    time = np.concatenate([-w.lam, np.full(t1, 1.0 / t1)])
    return float(unit @ y @ time)
