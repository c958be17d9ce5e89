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

_MAX_BATCH_CELLS = 600_000  # float64 cells of the padded matrices per batch (~5 MB: kept in the cache)

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

    A step needs one column of ``H = A'A + eta I``. A problem with fewer rows than weights (the unit
    weights of a city's hundreds of comparison areas over a dozen years) keeps ``A`` and forms that
    column when needed (``_Design``); the others keep ``H`` (``_Gram``), whose size is the weights
    squared.
    """
    sizes = [p.design.shape[1] - 1 for p in problems]
    count, width = len(problems), max(sizes)
    rows_of = [p.design.shape[0] for p in problems]
    wide = max(rows_of) < width
    quadratic = _Design(count, max(rows_of), width) if wide else _Gram(count, width)
    atb = np.zeros((count, width))
    btb = np.zeros(count)
    rows = np.zeros(count)
    x = np.zeros((count, width))
    for j, (p, k) in enumerate(zip(problems, sizes, strict=True)):
        design = p.design - p.design.mean(axis=0) if p.intercept else p.design
        a, b = design[:, :k], design[:, k]
        n = design.shape[0]
        quadratic.set(j, a, n * p.zeta**2)
        atb[j, :k], btb[j], rows[j] = a.T @ b, b @ b, n
        x[j, :k] = np.full(k, 1.0 / k) if p.x0 is None else p.x0
    padded = min(sizes) < width
    blocked = np.where(np.arange(width)[None, :] >= np.asarray(sizes)[:, None], np.inf, 0.0)  # padding
    u = quadratic.times(x)  # H x; the half gradient is H x - A'b
    xu, xa = np.vecdot(x, u), np.vecdot(x, atb)  # x'Hx and x'A'b, kept for the next step
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
                    quadratic = quadratic.take(keep)
                    atb, btb, rows, x, u, blocked, xu, xa = (
                        a[keep] for a in (atb, btb, rows, x, u, blocked, xu, xa))
                    previous, current, position = previous[keep], current[keep], position[keep]
                    index, active = np.arange(len(keep)), np.ones(len(keep), dtype=bool)
            half_grad = u - atb
            if padded:
                half_grad += blocked
            i = half_grad.argmin(axis=1)
            slope = half_grad[index, i] - xu + xa  # half_grad . (e_i - x)
            curvature = quadratic.diagonal(index, i) - 2.0 * u[index, i] + xu  # |A(e_i - x)|^2 + eta |e_i - x|^2
            step = np.minimum(1.0, np.maximum(0.0, -slope / curvature))
            step[~(curvature > 0)] = 0.0  # only at a vertex already (no direction to move in)
            step[~active] = 0.0
            x *= (1.0 - step)[:, None]
            x[index, i] += step
            u *= (1.0 - step)[:, None]
            u += step[:, None] * quadratic.column(index, i)
            xu, xa = np.vecdot(x, u), np.vecdot(x, atb)
            value = (xu - 2.0 * xa + btb) / rows
            previous = np.where(active, current, previous)
            current = np.where(active, value, current)
    solved[position] = x
    return [solved[j, :k].copy() for j, k in enumerate(sizes)]


class _Gram:
    """The problems' ``H = A'A + eta I``, padded to a common width (for problems with few weights)."""

    def __init__(self, count: int, width: int, hess: np.ndarray | None = None) -> None:
        self.hess = np.zeros((count, width, width)) if hess is None else hess

    def set(self, j: int, a: np.ndarray, ridge: float) -> None:
        k = a.shape[1]
        self.hess[j, :k, :k] = a.T @ a + ridge * np.eye(k)

    def times(self, x: np.ndarray) -> np.ndarray:
        return np.einsum("bij,bj->bi", self.hess, x)

    def column(self, index: np.ndarray, i: np.ndarray) -> np.ndarray:
        return self.hess[index, :, i]

    def diagonal(self, index: np.ndarray, i: np.ndarray) -> np.ndarray:
        return self.hess[index, i, i]

    def take(self, keep: np.ndarray) -> _Gram:
        return _Gram(0, 0, self.hess[keep])


class _Design:
    """The problems' centred ``A'`` (rows of ``A`` padded with zeros, which add nothing to ``A'A``)
    and ridge ``eta``: ``H``'s columns formed when a step needs them, one batched matrix-vector
    product (for problems with more weights than rows).
    """

    def __init__(self, count: int, n_rows: int, width: int, parts: tuple | None = None) -> None:
        if parts is None:
            parts = (np.zeros((count, width, n_rows)), np.zeros(count), np.zeros((count, width)))
        self.at, self.ridge, self.diag = parts  # at[j] is A_j' (weights x rows)

    def set(self, j: int, a: np.ndarray, ridge: float) -> None:
        n, k = a.shape
        self.at[j, :k, :n] = a.T
        self.ridge[j] = ridge
        self.diag[j, :k] = np.einsum("ij,ij->j", a, a) + ridge

    def times(self, x: np.ndarray) -> np.ndarray:
        ax = np.matmul(x[:, None, :], self.at)  # (A x)' per problem
        return np.matmul(self.at, ax.transpose(0, 2, 1))[:, :, 0] + self.ridge[:, None] * x

    def column(self, index: np.ndarray, i: np.ndarray) -> np.ndarray:
        column = np.matmul(self.at, self.at[index, i, :, None])[:, :, 0]  # A'A e_i
        column[index, i] += self.ridge
        return column

    def diagonal(self, index: np.ndarray, i: np.ndarray) -> np.ndarray:
        return self.diag[index, i]

    def take(self, keep: np.ndarray) -> _Design:
        return _Design(0, 0, 0, (self.at[keep], self.ridge[keep], self.diag[keep]))


def _omega_problem(yc: np.ndarray, t0: int, opts: WeightOptions, x0: np.ndarray | None) -> WeightProblem:
    return WeightProblem(yc[:, :t0].T, opts.zeta_omega, opts.omega_intercept, x0)


def _lambda_problem(yc: np.ndarray, n0: int, opts: WeightOptions, x0: np.ndarray | None) -> WeightProblem:
    return WeightProblem(yc[:n0, :], opts.zeta_lambda, opts.lambda_intercept, x0)


def _in_chunks(problems: list[WeightProblem], min_decrease: float, max_iter: int) -> list[np.ndarray]:
    """:func:`frank_wolfe` on batches small enough that the padded matrices stay below ~64 MB.

    Problems with more weights than rows (``_Design``) and the others (``_Gram``) go in separate
    batches, each problem's weights returned in its place.
    """
    solved: list[np.ndarray | None] = [None] * len(problems)
    for wide in (False, True):
        chosen = [j for j, p in enumerate(problems) if (p.design.shape[0] < p.design.shape[1] - 1) == wide]
        if not chosen:
            continue
        width = max(problems[j].design.shape[1] for j in chosen)
        height = max(problems[j].design.shape[0] for j in chosen) if wide else width
        size = max(1, _MAX_BATCH_CELLS // (width * height))
        for start in range(0, len(chosen), size):
            batch = chosen[start:start + size]
            for j, x in zip(batch, frank_wolfe([problems[j] for j in batch], min_decrease, max_iter), strict=True):
                solved[j] = x
    return solved


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
