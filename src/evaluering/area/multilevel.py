"""Random-intercept (multilevel) models of individual outcomes in small areas (Galster's area effects).

``multilevel(df, outcome, area, individual, contextual, family)`` fits

    y_ij = x_ij' beta + z_j' gamma + u_j + e_ij,     u_j ~ N(0, tau^2)          (gaussian)
    logit P(y_ij = 1) = x_ij' beta + z_j' gamma + u_j, u_j ~ N(0, tau^2)         (binomial)

for person ``i`` in area ``j``, with individual covariates ``x`` (composition) next to contextual,
area-level covariates ``z`` (the area effect proper). ``mundlak=True`` adds the area means of the
individual covariates (Mundlak 1978): the individual coefficients are then *within-area* effects and
the coefficients of the area means are the *contextual* (between minus within) effects, which keeps
the area-level terms from being confounded by correlation between the random intercept and the
composition of the area.

* gaussian: exact REML (default) or ML (``reml=False``) profiled to tau^2/sigma^2, the likelihood of
  statsmodels' ``MixedLM`` / lme4's ``lmer`` (see ``_fit_gaussian`` for why not MixedLM); the intraclass
  correlation / variance partition coefficient is ``tau^2 / (tau^2 + sigma^2)``.
* binomial: maximum likelihood with adaptive Gauss-Hermite quadrature over the random intercept
  (``nodes`` per area, 25 by default; the same likelihood as lme4's ``glmer(..., nAGQ = nodes)``),
  optimised with L-BFGS-B on the analytic gradient (vectorised over areas). The ICC is on the latent
  (logistic) scale, ``tau^2 / (tau^2 + pi^2/3)``, and the median odds ratio
  ``MOR = exp(sqrt(2 tau^2) * Phi^-1(0.75))`` (Merlo et al. 2006, J Epidemiol Community Health 60:290).

From persons or from cells: ``multilevel_from_cells(cells, ...)`` fits the same model from one row per
area and combination of individual covariate values, with the cell's number of persons, outcome sum
and (gaussian) sum of squares. Both likelihoods depend on the persons only through these sums (gaussian:
X'X, X'y, y'y and per-area n_j, sum x, sum y, see ``_Moments``; binomial: successes out of trials per
cell), so the cell fit is exact, and both entry points share one design, one set of checks and one
likelihood (``_design``, ``_fit_gaussian``, ``_LogitAGQ``): a person row is a cell of one. With
categorical covariates a national register year is a few hundred thousand cells
(:mod:`evaluering.area.multilevel_cells` computes them in DuckDB from Parquet).

Standard errors: gaussian sigma^2 (X' V^-1 X)^-1 at the estimate (as lmer's ``vcov``); binomial from
the inverse of the numerical Hessian (central differences of the analytic gradient) of the deviance
in (beta, tau), as lme4's ``vcov`` (``use.hessian = TRUE``). Intervals are Wald intervals
(:meth:`MultilevelResult.to_frame`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Literal

import numpy as np
import pandas as pd
from scipy import optimize, special, stats

from ..columns import require_columns
from ..numerics import interval
from ..results import ResultDisplay
from .errors import AreaModelError

__all__ = ["CELL_PERSONS", "CELL_SUM", "CELL_SUMSQ", "AreaModelError", "MultilevelResult", "icc_latent",
           "median_odds_ratio", "multilevel", "multilevel_from_cells"]

LOGISTIC_VARIANCE = math.pi**2 / 3  # variance of the standard logistic distribution
MIN_NODES = 7  # fewer adaptive Gauss-Hermite nodes are refused (see _LogitAGQ)


def icc_latent(tau2: float) -> float:
    """ICC of a random-intercept logistic model on the latent scale: tau^2 / (tau^2 + pi^2/3)."""
    return tau2 / (tau2 + LOGISTIC_VARIANCE)


def median_odds_ratio(tau2: float) -> float:
    """Median odds ratio exp(sqrt(2 tau^2) Phi^-1(0.75)) (Merlo et al. 2006): the median of the odds
    ratios between the higher- and lower-risk area of two areas drawn at random.
    """
    return math.exp(math.sqrt(2.0 * tau2) * stats.norm.ppf(0.75))


# ------------------------------------------------------------------------------------------------
# result


@dataclass(frozen=True, repr=False)
class MultilevelResult(ResultDisplay):
    """A fitted random-intercept model (see :func:`multilevel`)."""

    family: str
    method: str
    outcome: str
    area: str
    estimate: pd.Series  # fixed effects (intercept, individual, contextual, area means), by term
    se: pd.Series
    term_level: pd.Series  # per term: "intercept", "individual", "contextual", "area mean"
    area_variance: float  # tau^2
    residual_variance: float  # sigma^2 (gaussian) or pi^2/3 (binomial, latent scale)
    loglik: float
    n_obs: int
    n_areas: int
    converged: bool
    area_effects: pd.Series  # predicted random intercepts (BLUP / conditional mode)
    cov_params: pd.DataFrame
    area_sd_se: float = float("nan")  # SE of tau (binomial only)
    mundlak: bool = False

    _index: ClassVar[bool] = True  # the terms are the table's index

    @property
    def icc(self) -> float:
        """Intraclass correlation = variance partition coefficient tau^2 / (tau^2 + residual variance)
        (latent scale for the binomial model).
        """
        return self.area_variance / (self.area_variance + self.residual_variance)

    vpc = icc

    @property
    def median_odds_ratio(self) -> float | None:
        """Median odds ratio (binomial only; ``None`` for a gaussian model)."""
        return median_odds_ratio(self.area_variance) if self.family == "binomial" else None

    @property
    def variance_components(self) -> pd.DataFrame:
        """Variance, SD and share of the total of the area and individual levels."""
        var = np.array([self.area_variance, self.residual_variance])
        index = pd.Index(["area", "individual (latent)" if self.family == "binomial" else "individual"],
                         name="level")
        return pd.DataFrame({"variance": var, "sd": np.sqrt(var), "share": var / var.sum()}, index=index)

    def to_frame(self, confidence: float = 0.95) -> pd.DataFrame:
        """One row per fixed effect (index ``term``): its term level, estimate, se, Wald interval and p-value."""
        low, high, p = interval(self.estimate.to_numpy(), self.se.to_numpy(), confidence)
        frame = pd.DataFrame({"term_level": self.term_level, "estimate": self.estimate, "se": self.se,
                              "ci_low": low, "ci_high": high, "p_value": p}, index=self.estimate.index)
        frame.index.name = "term"
        return frame

    def _headline(self) -> str:
        return (f"Random-intercept {'logistic' if self.family == 'binomial' else 'linear'} model of "
                f"'{self.outcome}' in areas '{self.area}' ({self.method}): {self.n_obs} individuals in "
                f"{self.n_areas} areas; log-likelihood {self.loglik:.4f}"
                + ("" if self.converged else "  [NOT CONVERGED]"))

    def _extra_frames(self) -> dict[str, pd.DataFrame]:
        return {"Variance components": self.variance_components}

    def _notes(self) -> list[str]:
        lines = [f"ICC (variance partition coefficient{', latent scale' if self.family == 'binomial' else ''}): "
                 f"{self.icc:.4f}"]
        if self.family == "binomial":
            lines.append(f"Median odds ratio (Merlo et al. 2006): {self.median_odds_ratio:.4f}")
        if self.mundlak:
            lines.append("Mundlak: individual terms are within-area effects; 'area mean' terms are "
                         "contextual (between minus within) effects.")
        return lines


# ------------------------------------------------------------------------------------------------
# checks and design matrix


def _listing(values, limit: int = 10) -> str:
    values = list(values)
    shown = ", ".join(repr(v) for v in values[:limit])
    return shown + (f" ... ({len(values)} in all)" if len(values) > limit else "")


def _check_columns(df: pd.DataFrame, outcome: str, area: str, individual: list[str], contextual: list[str]):
    used = [outcome, area, *individual, *contextual]
    require_columns(df, used, what="data", error=AreaModelError)
    dup = sorted({c for c in used if used.count(c) > 1})
    if dup:
        raise AreaModelError(f"column(s) given more than once (outcome/area/individual/contextual): {_listing(dup)}")
    for column in used:
        na = df[column].isna().to_numpy()
        if na.any():
            raise AreaModelError(
                f"column '{column}' has {int(na.sum())} missing value(s) (rows {_listing(df.index[na], 5)}); "
                "drop or impute them before fitting")


def _outcome(values: pd.Series, name: str, family: str) -> np.ndarray:
    if values.dtype == bool or str(values.dtype) == "boolean":
        return values.astype(float).to_numpy()
    if not pd.api.types.is_numeric_dtype(values):
        raise AreaModelError(f"outcome '{name}' must be numeric or boolean, not {values.dtype}")
    y = values.to_numpy(dtype=float)
    if not np.isfinite(y).all():
        raise AreaModelError(f"outcome '{name}' has non-finite values")
    if family == "binomial":
        bad = ~np.isin(y, (0.0, 1.0))
        if bad.any():
            raise AreaModelError(
                f"outcome '{name}' must be 0/1 (or boolean) for family='binomial'; found "
                f"{_listing(np.unique(y[bad]), 5)}")
    if np.ptp(y) == 0:
        raise AreaModelError(f"outcome '{name}' is constant ({y[0]:g}); nothing to model")
    return y


def _individual_columns(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Numeric/boolean columns as they are; text/categorical columns as 0/1 dummies (first level dropped)."""
    parts = {}
    for column in columns:
        values = df[column]
        if values.dtype == bool or str(values.dtype) == "boolean" or pd.api.types.is_numeric_dtype(values):
            x = values.astype(float)
            if x.nunique() < 2:
                raise AreaModelError(f"individual covariate '{column}' is constant ({x.iloc[0]:g})")
            parts[column] = x
        else:
            cat = values.astype("category")
            levels = [lv for lv in cat.cat.categories if (cat == lv).any()]
            if len(levels) < 2:
                raise AreaModelError(f"individual covariate '{column}' has a single level ({levels[0]!r})")
            for lv in levels[1:]:  # first level is the reference
                parts[f"{column}[{lv}]"] = (cat == lv).astype(float)
    return pd.DataFrame(parts, index=df.index)


def _contextual_columns(df: pd.DataFrame, columns: list[str], codes: np.ndarray, labels) -> pd.DataFrame:
    parts = {}
    for column in columns:
        values = df[column]
        if not (values.dtype == bool or str(values.dtype) == "boolean" or pd.api.types.is_numeric_dtype(values)):
            raise AreaModelError(f"contextual variable '{column}' must be numeric, not {values.dtype}")
        x = values.to_numpy(dtype=float)
        lo = np.full(len(labels), np.inf)
        hi = np.full(len(labels), -np.inf)
        np.minimum.at(lo, codes, x)
        np.maximum.at(hi, codes, x)
        tol = 1e-9 * max(1.0, float(np.max(np.abs(x))))
        varies = np.flatnonzero(hi - lo > tol)
        if len(varies):
            raise AreaModelError(
                f"contextual variable '{column}' varies within area(s) {_listing(labels[varies], 5)} of "
                "the area column; a contextual variable must have one value per area (put person-level "
                "variables in `individual`)")
        if np.ptp(lo) <= tol:
            raise AreaModelError(
                f"contextual variable '{column}' is constant across areas ({lo[0]:g}); its effect cannot "
                "be separated from the intercept")
        parts[column] = pd.Series(x, index=df.index)
    return pd.DataFrame(parts, index=df.index)


CELL_PERSONS = "persons"  # cells: persons in the cell
CELL_SUM = "outcome_sum"  # cells: the outcome summed over them (binomial: the successes)
CELL_SUMSQ = "outcome_sumsq"  # cells: the squared outcome summed over them (gaussian only)


def _cell_counts(family: str) -> list[str]:
    return [CELL_PERSONS, CELL_SUM] + ([CELL_SUMSQ] if family == "gaussian" else [])


def _check_cell_columns(cells: pd.DataFrame, area: str, individual: list[str], contextual: list[str], family: str):
    """The cells' columns: as :func:`_check_columns` for the covariates, plus the counts and sums."""
    counts = _cell_counts(family)
    used = [area, *individual, *contextual, *counts]
    require_columns(cells, used, what="cells", error=AreaModelError)
    dup = sorted({c for c in used if used.count(c) > 1})
    if dup:
        raise AreaModelError(
            f"column(s) given more than once (area/individual/contextual/cell counts): {_listing(dup)}")
    for column in used:
        na = cells[column].isna().to_numpy()
        if na.any():
            raise AreaModelError(
                f"cells column '{column}' has {int(na.sum())} missing value(s) (rows {_listing(cells.index[na], 5)})")
    for column in counts:
        if not pd.api.types.is_numeric_dtype(cells[column]) or not np.isfinite(cells[column].to_numpy(float)).all():
            raise AreaModelError(f"cells column '{column}' must be finite numbers")


def _cell_outcome(cells: pd.DataFrame, name: str, family: str):
    """Persons, outcome sums and sums of squares per cell, checked as :func:`_outcome` checks persons."""
    n = cells[CELL_PERSONS].to_numpy(dtype=float)
    s = cells[CELL_SUM].to_numpy(dtype=float)
    bad = (n < 1) | (n != np.round(n))
    if bad.any():
        raise AreaModelError(f"cells column '{CELL_PERSONS}' must be whole numbers of at least 1; found "
                             f"{_listing(np.unique(n[bad]), 5)}")
    total_n, total_s = float(n.sum()), float(s.sum())
    if family == "binomial":
        bad = (s < 0) | (s > n) | (s != np.round(s))
        if bad.any():
            raise AreaModelError(
                f"cells column '{CELL_SUM}' must count the persons with outcome '{name}' = 1 (a whole number "
                f"from 0 to '{CELL_PERSONS}') for family='binomial'; rows {_listing(cells.index[bad], 5)} do not")
        if total_s in (0.0, total_n):
            raise AreaModelError(f"outcome '{name}' is constant ({total_s / total_n:g}); nothing to model")
        return n, s, None
    q = cells[CELL_SUMSQ].to_numpy(dtype=float)
    within = q - s**2 / n  # each cell's sum of squares about its mean: never below 0
    scale = np.maximum(1.0, np.abs(q))
    bad = within < -1e-9 * scale
    if bad.any():
        raise AreaModelError(
            f"cells column '{CELL_SUMSQ}' is below '{CELL_SUM}'^2 / '{CELL_PERSONS}' in rows "
            f"{_listing(cells.index[bad], 5)}: not the sum of squares of the outcome")
    mean = s / n
    if (within <= 1e-12 * scale).all() and np.ptp(mean) <= 1e-12 * max(1.0, float(np.max(np.abs(mean)))):
        raise AreaModelError(f"outcome '{name}' is constant ({mean[0]:g}); nothing to model")
    return n, s, q


def _check_rank(X: np.ndarray, names: list[str]) -> None:
    scale = np.sqrt((X**2).mean(axis=0))
    Xs = X / np.where(scale > 0, scale, 1.0)
    rank = np.linalg.matrix_rank(Xs)
    if rank == X.shape[1]:
        return
    # the first column that is a linear combination of those before it
    for k in range(1, X.shape[1] + 1):
        if np.linalg.matrix_rank(Xs[:, :k]) < k:
            raise AreaModelError(
                f"the covariates are collinear: '{names[k - 1]}' is a linear combination of "
                f"{_listing(names[:k - 1], 8)}; drop or merge it")


@dataclass(frozen=True)
class _Design:
    """The model's data: one row per person, or one row per cell of persons who share an area and
    covariate values (``n`` persons with outcome sum ``y`` and sum of squares ``yy``).
    """

    y: np.ndarray  # outcome (person rows) or its sum over the cell's persons (cells)
    X: np.ndarray
    names: list[str]
    levels: list[str]
    codes: np.ndarray
    labels: np.ndarray
    n: np.ndarray | None = None  # persons per cell; None: one row per person
    yy: np.ndarray | None = None  # sum of squared outcomes per cell (gaussian cells)

    @property
    def persons(self) -> np.ndarray:
        """Persons per row (ones for person rows)."""
        return np.ones(len(self.y)) if self.n is None else self.n

    @property
    def n_obs(self) -> int:
        return len(self.y) if self.n is None else int(round(float(self.n.sum())))


def _design(df, outcome, area, individual, contextual, family, mundlak, cells: bool = False) -> _Design:
    """The design from person rows or (``cells``) from cells; every check is the same for both."""
    if not isinstance(df, pd.DataFrame):
        raise AreaModelError(f"{'cells' if cells else 'data'} must be a pandas DataFrame")
    individual, contextual = list(individual), list(contextual)
    if cells:
        _check_cell_columns(df, area, individual, contextual, family)
    else:
        _check_columns(df, outcome, area, individual, contextual)
    if len(df) == 0:
        raise AreaModelError(f"the {'cells have' if cells else 'data have'} no rows")
    codes, labels = pd.factorize(df[area], sort=True)
    labels = np.asarray(labels)
    if cells:
        n, y, yy = _cell_outcome(df, outcome, family)
        counts = np.rint(np.bincount(codes, n, len(labels))).astype(np.int64)
    else:
        n = yy = None
        counts = np.bincount(codes, minlength=len(labels))
    if len(labels) < 2:
        raise AreaModelError(f"area column '{area}' has {len(labels)} area(s); a multilevel model needs several")
    single = np.flatnonzero(counts == 1)
    if len(single):
        raise AreaModelError(
            f"area(s) {_listing(labels[single])} in column '{area}' have a single person; the area "
            "variance cannot be told from the individual variance there. Merge each with a neighbouring "
            "area (or drop it) before fitting")
    if not cells:
        y = _outcome(df[outcome], outcome, family)
    ind = _individual_columns(df, individual)
    ctx = _contextual_columns(df, contextual, codes, labels)
    blocks = [pd.DataFrame({"Intercept": np.ones(len(df))}, index=df.index), ind, ctx]
    levels = ["intercept"] + ["individual"] * ind.shape[1] + ["contextual"] * ctx.shape[1]
    if mundlak:
        if ind.shape[1] == 0:
            raise AreaModelError("mundlak=True needs individual covariates")
        sums = np.zeros((len(labels), ind.shape[1]))
        np.add.at(sums, codes, ind.to_numpy() if n is None else ind.to_numpy() * n[:, None])
        means = pd.DataFrame((sums / counts[:, None])[codes], index=df.index,
                             columns=[f"mean({c})" for c in ind.columns])
        within = ind.to_numpy() - means.to_numpy()
        flat = [c for c, w in zip(ind.columns, np.abs(within).max(axis=0), strict=True) if w < 1e-12]
        if flat:
            raise AreaModelError(
                f"individual covariate(s) {_listing(flat)} do not vary within any area, so their area "
                "means duplicate them; enter them as contextual variables instead")
        blocks.append(means)
        levels += ["area mean"] * means.shape[1]
    design = pd.concat(blocks, axis=1)
    X = design.to_numpy(dtype=float)
    names = list(design.columns)
    _check_rank(X if n is None else X * np.sqrt(n)[:, None], names)  # rank of the person rows either way
    return _Design(y, X, names, levels, codes, labels, n, yy)


# ------------------------------------------------------------------------------------------------
# gaussian: exact profiled REML / ML


@dataclass(frozen=True)
class _Moments:
    """The sufficient statistics of the random-intercept linear model: the cross-products
    X'X, X'y, y'y over all persons, and per area its persons, sum of x and sum of y.

    V_j^-1 = (I - c_j 11') / sigma^2 with c_j = lambda / (1 + n_j lambda), so X'V^-1X, X'V^-1y and
    y'V^-1y are the global cross-products minus per-area terms in (n_j, sum x, sum y) alone, and
    log|V_j| = n_j log sigma^2 + log(1 + n_j lambda) (matrix determinant lemma).
    """

    n_obs: int
    counts: np.ndarray  # persons per area
    XtX: np.ndarray
    Xty: np.ndarray
    yty: float
    Sx: np.ndarray  # areas x terms
    Sy: np.ndarray  # areas


def _gaussian_moments(d: _Design) -> _Moments:
    J, p = len(d.labels), d.X.shape[1]
    Sx = np.zeros((J, p))
    if d.n is None:  # one row per person
        counts = np.bincount(d.codes, minlength=J).astype(float)
        XtX, yty = d.X.T @ d.X, float(d.y @ d.y)
        np.add.at(Sx, d.codes, d.X)
    else:  # cells: a cell of n persons counts n times
        counts = np.bincount(d.codes, d.n, J)
        XtX, yty = d.X.T @ (d.n[:, None] * d.X), float(d.yy.sum())
        np.add.at(Sx, d.codes, d.n[:, None] * d.X)
    return _Moments(d.n_obs, counts, XtX, d.X.T @ d.y, yty, Sx, np.bincount(d.codes, d.y, J))


def _polish(slope, g: float) -> float:
    """The root of the criterion's analytic slope next to the scalar search's minimum ``g``.

    The bounded search stops when the criterion, flat at its minimum, no longer changes in its last
    digits (about 1e-7 in log lambda); the slope's root is exact to rounding, so fits from person
    rows and from cells, whose sums round differently, agree to about 1e-10 instead. ``g`` as it
    is when no sign change is found within a step of 1e-2.
    """
    step = 1e-6
    while step <= 1e-2:
        lo, hi = g - step, g + step
        s_lo, s_hi = slope(lo), slope(hi)
        if s_lo < 0 < s_hi:
            return optimize.brentq(slope, lo, hi, xtol=1e-14, rtol=4 * np.finfo(float).eps)
        step *= 10
    return g


def _fit_gaussian(d: _Design, reml: bool):
    """Exact (RE)ML of the random-intercept linear model, profiled to one parameter.

    With V_j = sigma^2 (I + lambda 11'), lambda = tau^2 / sigma^2, V_j^-1 and log|V_j| are closed form,
    so beta(lambda) and sigma^2(lambda) come from area sums (:class:`_Moments`) and the (RE)ML
    criterion is minimised over lambda alone (bounded scalar search on log lambda, polished to the
    root of the analytic slope, then a check of the boundary lambda = 0).
    This is the likelihood statsmodels' MixedLM and lme4's lmer maximise (same log-likelihood,
    constants included); MixedLM itself was dropped as the engine because its optimisers failed on
    municipality-sized data (BFGS: no convergence after 9 s; L-BFGS: infinite log-likelihood at
    tau^2 = 0; statsmodels 0.15).
    """
    m = _gaussian_moments(d)
    n, p = m.n_obs, m.XtX.shape[0]
    counts, XtX, Xty, yty, Sx, Sy = m.counts, m.XtX, m.Xty, m.yty, m.Sx, m.Sy
    dof = n - p if reml else n

    def parts(lam):
        c = lam / (1.0 + counts * lam)
        A = XtX - (Sx * c[:, None]).T @ Sx
        b = Xty - Sx.T @ (c * Sy)
        beta = np.linalg.solve(A, b)
        rss = yty - float(np.sum(c * Sy**2)) - float(b @ beta)
        return A, beta, rss

    def deviance(lam):
        A, _, rss = parts(lam)
        sigma2 = rss / dof
        dev = dof * math.log(2 * math.pi * sigma2) + float(np.sum(np.log1p(counts * lam))) + dof
        if reml:
            dev += np.linalg.slogdet(A)[1]
        return dev

    def slope(lam):
        """The slope d deviance / d log lambda, analytic: the envelope theorem gives rss' = -sum c_j' r_j^2
        (r_j the area's residual sum), and d log|A| = -sum c_j' Sx_j' A^-1 Sx_j, c_j' = 1 / (1 + n_j lambda)^2.
        """
        A, beta, rss = parts(lam)
        dc = 1.0 / (1.0 + counts * lam) ** 2
        d = -dof * float(np.sum(dc * (Sy - Sx @ beta) ** 2)) / rss + float(np.sum(counts / (1.0 + counts * lam)))
        if reml:
            d -= float(np.sum(dc * np.einsum("jk,jk->j", Sx, np.linalg.solve(A, Sx.T).T)))
        return lam * d

    # moment start: between-area variance of the OLS residual means
    grid = np.log(np.logspace(-8, 4, 49))
    devs = [deviance(math.exp(g)) for g in grid]
    k = int(np.argmin(devs))
    lo, hi = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
    res = optimize.minimize_scalar(lambda g: deviance(math.exp(g)), bounds=(lo, hi), method="bounded",
                                   options={"xatol": 1e-10})
    lam = math.exp(_polish(lambda g: slope(math.exp(g)), res.x))
    if deviance(0.0) <= deviance(lam):
        lam = 0.0
    A, params, rss = parts(lam)
    sigma2 = rss / dof
    tau2 = lam * sigma2
    cov = sigma2 * np.linalg.inv(A)
    llf = -0.5 * deviance(lam)
    mean_resid = (Sy - Sx @ params) / counts
    effects = tau2 * counts / (tau2 * counts + sigma2) * mean_resid  # BLUPs
    converged = bool(res.success) or lam == 0.0
    return params, cov, tau2, sigma2, llf, converged, effects, float("nan")


# ------------------------------------------------------------------------------------------------
# binomial: ML with adaptive Gauss-Hermite quadrature


class _LogitAGQ:
    """Marginal log-likelihood of a random-intercept logit, by Gauss-Hermite quadrature at nodes
    adapted (mode and curvature of each area's integrand) to a given parameter value.

    With the nodes held fixed the approximation is a smooth function of (beta, tau) whose analytic
    gradient is exact; fitting alternates adapting the nodes and optimising until both settle. With
    enough nodes the approximation does not depend on where the nodes were adapted, so the fixed point
    is the maximum of the AGQ likelihood (the one lme4 maximises with nAGQ = nodes).

    A row is a person (``y`` 0/1, one trial) or a cell of persons sharing area and covariates
    (``y`` successes out of ``trials``): the binomial log-likelihood of a cell is the sum of its
    persons' (up to the binomial coefficient, which lme4 leaves out of 0/1 rows too).
    """

    def __init__(self, y, X, codes, n_areas, nodes, trials):
        order = np.argsort(codes, kind="stable")
        self.y, self.X, self.codes = y[order], X[order], codes[order]
        self.trials = trials[order]  # persons per row: ones for person rows, the cell size for cells
        self.n_areas = n_areas
        self.counts = np.bincount(self.codes, minlength=n_areas)
        self.starts = np.concatenate([[0], np.cumsum(self.counts)[:-1]])
        x, w = np.polynomial.hermite.hermgauss(nodes)
        self.gh_x = x
        self.gh_logw = np.log(w) + x**2  # the e^{x^2} undoes hermgauss's weight function
        self.mu = np.zeros(n_areas)
        self.sigma = np.ones(n_areas)

    def adapt(self, beta, tau):
        """Mode and curvature of each area's log integrand h_j(z) = l_j(X beta + tau z) - z^2/2."""
        xb = self.X @ beta
        z = self.mu.copy()
        for _ in range(100):
            p = special.expit(xb + tau * z[self.codes])
            grad = tau * np.bincount(self.codes, self.y - self.trials * p, self.n_areas) - z
            hess = tau**2 * np.bincount(self.codes, self.trials * p * (1 - p), self.n_areas) + 1.0
            step = np.clip(grad / hess, -2.0, 2.0)
            z += step
            if np.max(np.abs(step)) < 1e-10:
                break
        p = special.expit(xb + tau * z[self.codes])
        hess = tau**2 * np.bincount(self.codes, self.trials * p * (1 - p), self.n_areas) + 1.0
        self.mu, self.sigma = z, 1.0 / np.sqrt(hess)

    def _nodes(self):
        return self.mu[:, None] + math.sqrt(2.0) * self.sigma[:, None] * self.gh_x[None, :]  # areas x K

    def value_grad(self, theta):
        """Negative log-likelihood and its gradient in theta = (beta, tau) at the current nodes."""
        beta, tau = theta[:-1], theta[-1]
        z = self._nodes()
        eta = (self.X @ beta)[:, None] + tau * z[self.codes]  # n x K
        ll_i = self.y[:, None] * eta - self.trials[:, None] * np.logaddexp(0.0, eta)
        ll_jk = np.add.reduceat(ll_i, self.starts, axis=0)  # areas x K
        log_terms = self.gh_logw[None, :] + ll_jk - 0.5 * z**2 - 0.5 * math.log(2 * math.pi)
        log_l = special.logsumexp(log_terms, axis=1) + np.log(math.sqrt(2.0) * self.sigma)
        post = np.exp(log_terms - special.logsumexp(log_terms, axis=1, keepdims=True))  # areas x K
        resid = self.y[:, None] - self.trials[:, None] * special.expit(eta)  # n x K
        weighted = post[self.codes] * resid
        g_beta = self.X.T @ weighted.sum(axis=1)
        g_tau = np.sum(weighted * z[self.codes])
        return -float(log_l.sum()), -np.concatenate([g_beta, [g_tau]])

    def hessian(self, theta):
        """Numerical Hessian of the negative log-likelihood (central differences of the gradient)."""
        k = len(theta)
        H = np.empty((k, k))
        for i in range(k):
            h = 1e-5 * max(1.0, abs(theta[i]))
            up, down = theta.copy(), theta.copy()
            up[i] += h
            down[i] -= h
            if down[-1] < 0:  # stay inside tau >= 0 (one-sided at the boundary)
                down = theta.copy()
                H[:, i] = (self.value_grad(up)[1] - self.value_grad(down)[1]) / h
            else:
                H[:, i] = (self.value_grad(up)[1] - self.value_grad(down)[1]) / (2 * h)
        return (H + H.T) / 2


def _start_logit(y, X, trials):
    beta = np.zeros(X.shape[1])
    for _ in range(50):  # IRLS for the ordinary logit
        p = special.expit(X @ beta)
        W = np.clip(trials * p * (1 - p), 1e-10, None)
        step = np.linalg.solve(X.T @ (W[:, None] * X), X.T @ (y - trials * p))
        beta += step
        if np.max(np.abs(step)) < 1e-10:
            break
    if not np.isfinite(beta).all():
        beta = np.zeros(X.shape[1])
    return beta


def _fit_binomial(d: _Design, nodes: int, maxiter: int):
    trials = d.persons
    lik = _LogitAGQ(d.y, d.X, d.codes, len(d.labels), nodes, trials)
    theta = np.concatenate([_start_logit(d.y, d.X, trials), [0.5]])
    n = d.n_obs
    bounds = [(None, None)] * (len(theta) - 1) + [(0.0, None)]
    converged = False
    for _ in range(maxiter):
        lik.adapt(theta[:-1], theta[-1])
        res = optimize.minimize(lambda t: tuple(v / n for v in lik.value_grad(t)), theta, jac=True,
                                method="L-BFGS-B", bounds=bounds,
                                options={"maxiter": 2000, "ftol": 1e-15, "gtol": 1e-10})
        change = np.max(np.abs(res.x - theta) / np.maximum(1.0, np.abs(theta)))
        theta = res.x
        if change < 1e-8:
            converged = bool(res.success) or change < 1e-10
            break
    lik.adapt(theta[:-1], theta[-1])
    value, _ = lik.value_grad(theta)
    p = d.X.shape[1]
    H = lik.hessian(theta)
    tau = float(theta[-1])
    if tau > 1e-6:
        cov_full = np.linalg.inv(H)
        cov = cov_full[:p, :p]
        tau_se = math.sqrt(cov_full[-1, -1]) if cov_full[-1, -1] > 0 else float("nan")
    else:  # on the boundary tau = 0: the beta block alone
        cov = np.linalg.inv(H[:p, :p])
        tau_se = float("nan")
    effects = tau * lik.mu  # conditional modes of u_j (lme4's ranef)
    return theta[:-1], cov, tau**2, LOGISTIC_VARIANCE, -value, converged, effects, tau_se


# ------------------------------------------------------------------------------------------------


def multilevel(
    df: pd.DataFrame,
    outcome: str,
    area: str,
    individual: Sequence[str] = (),
    contextual: Sequence[str] = (),
    family: Literal["gaussian", "binomial"] = "gaussian",
    mundlak: bool = False,
    reml: bool = True,
    nodes: int = 25,
    maxiter: int = 50,
) -> MultilevelResult:
    """Fit a random-intercept model of ``outcome`` for individuals nested in ``area``.

    Parameters
    ----------
    df : one row per person.
    outcome : numeric outcome (gaussian) or 0/1 / boolean (binomial).
    area : the area (cluster) identifier column.
    individual : person-level covariates; numeric/boolean columns enter as they are, text or
        categorical columns as dummies for all but their first (sorted) level, named ``col[level]``.
    contextual : area-level covariates (one value per area), e.g. the poverty share.
    family : ``"gaussian"`` (linear mixed model, exact profiled REML/ML) or ``"binomial"`` (logit link,
        ML by adaptive Gauss-Hermite quadrature).
    mundlak : add the area means of the individual covariates (within/between split).
    reml : gaussian only: REML (default, as lme4's default) or ML.
    nodes : binomial only: adaptive Gauss-Hermite nodes per area (at least 7; 25 as glmer's maximum).
    maxiter : binomial only: maximum rounds of node adaptation + optimisation.

    Raises
    ------
    AreaModelError for missing columns or values, areas with a single person, contextual variables
    that vary within areas or are constant across them, a non-0/1 binomial outcome, or collinear
    covariates.
    """
    return _fit(df, outcome, area, individual, contextual, family, mundlak, reml, nodes, maxiter, cells=False)


def multilevel_from_cells(
    cells: pd.DataFrame,
    outcome: str,
    area: str,
    individual: Sequence[str] = (),
    contextual: Sequence[str] = (),
    family: Literal["gaussian", "binomial"] = "gaussian",
    mundlak: bool = False,
    reml: bool = True,
    nodes: int = 25,
    maxiter: int = 50,
) -> MultilevelResult:
    """:func:`multilevel` from cells instead of persons: the same model, likelihood and result.

    A cell is the persons of one area who share the values of every individual covariate: one row
    with ``area``, the ``individual`` and ``contextual`` columns as in :func:`multilevel`, and

    * ``persons``: how many persons the cell holds (a whole number, at least 1);
    * ``outcome_sum``: their outcome summed (binomial: how many have outcome 1);
    * ``outcome_sumsq``: their squared outcome summed (gaussian only; for a 0/1 outcome it equals
      ``outcome_sum``).

    ``outcome`` only names the outcome in the result. The fit is exact, not an approximation: the
    gaussian (RE)ML likelihood depends on the persons only through these sums (see ``_Moments``),
    and the binomial likelihood of a cell is the sum of its persons'. Both paths share the design,
    the checks and the likelihood code, so a cell fit equals the person fit to rounding (see
    tests/test_multilevel_cells.py). Build cells with
    :func:`evaluering.area.multilevel_cells.cells_from_frame`, or straight from a register in
    Parquet with :func:`evaluering.area.multilevel_cells.multilevel_from_parquet`.
    """
    return _fit(cells, outcome, area, individual, contextual, family, mundlak, reml, nodes, maxiter, cells=True)


def _fit(df, outcome, area, individual, contextual, family, mundlak, reml, nodes, maxiter, *, cells: bool):
    if family not in ("gaussian", "binomial"):
        raise AreaModelError(f"family must be 'gaussian' or 'binomial', not {family!r}")
    if isinstance(individual, str):
        individual = [individual]
    if isinstance(contextual, str):
        contextual = [contextual]
    if family == "binomial" and nodes < MIN_NODES:
        raise AreaModelError(
            f"nodes must be at least {MIN_NODES}: the fit holds the adapted nodes fixed while optimising, "
            "which is the maximum likelihood only when the quadrature is accurate (no Laplace mode)")
    d = _design(df, outcome, area, individual, contextual, family, mundlak, cells=cells)
    if family == "gaussian":
        fitted = _fit_gaussian(d, reml)
        method = "REML" if reml else "ML"
    else:
        fitted = _fit_binomial(d, nodes, maxiter)
        method = f"ML, adaptive Gauss-Hermite quadrature with {nodes} nodes"
    beta, cov, tau2, resid_var, llf, converged, effects, tau_se = fitted
    index = pd.Index(d.names, name="term")
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    return MultilevelResult(
        family=family, method=method, outcome=outcome, area=area,
        estimate=pd.Series(beta, index=index, name="estimate"),
        se=pd.Series(se, index=index, name="se"),
        term_level=pd.Series(d.levels, index=index, name="level"),
        area_variance=float(tau2), residual_variance=float(resid_var), loglik=float(llf),
        n_obs=d.n_obs, n_areas=len(d.labels), converged=converged,
        area_effects=pd.Series(effects, index=pd.Index(d.labels, name=area), name="area_effect"),
        cov_params=pd.DataFrame(cov, index=index, columns=index),
        area_sd_se=tau_se, mundlak=mundlak,
    )
