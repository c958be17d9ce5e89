"""Weighting steps: each turns weights into new weights and says how variance must account for it.

A step's ``apply(data, w)`` returns the new weights and, for steps that calibrate to known totals,
a *residualiser*: a function applied to the influence values before the design variance is
computed, so standard errors use calibration residuals (as R's ``survey`` does) instead of
treating the weights as fixed. Replicate designs call ``apply`` once per replicate.

Each residualiser also knows every unit's *leverage* in its calibration projection (computed only
when asked for): the share of a unit's own value that the projection removes. Calibration
residuals shrink by about ``1 - h`` in variance, so a linearisation variance from them falls short
by about K/n for K constraints on n respondents; dividing the residuals by ``sqrt(1 - h)`` is the
leverage (HC2-type) correction of Valliant (2002) and Kott for the GREG variance. The correction
itself is an option of ``SurveyDesign`` (off by default, which keeps R's numbers).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.special import expit

from ..columns import require_columns
from ..numerics import weighted_logit
from .variance import SurveyError

__all__ = ["PostStratify", "Rake", "Calibrate", "Trim", "NonresponseClasses", "NonresponsePropensity",
           "ConvergenceError", "CalibrationResidual"]


class CalibrationResidual:
    """A calibration step's residualiser (called on influence values) and its units' leverages.

    Computed on first use (replicate designs apply steps hundreds of times and never need them):
    ``leverage``, per unit the share of its own value that the step's projection removes (0 for
    units with zero weight, which carry no influence), and ``factors``, (A, B) with the residual
    r = x - A (B' x), the projection written as a low-rank matrix (exact for post-stratification,
    classes and calibration; for raking, the projection its sweeps converge to), so that designs can
    follow a chain of steps exactly.
    """

    def __init__(self, residualise: Callable[[np.ndarray], np.ndarray], leverage: Callable[[], np.ndarray],
                 factors: Callable[[], tuple[np.ndarray, np.ndarray]]):
        self._residualise = residualise
        self._leverage_of, self._factors_of = leverage, factors
        self._leverage: np.ndarray | None = None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """The calibration residuals of the influence values ``x``."""
        return self._residualise(x)

    @property
    def leverage(self) -> np.ndarray:
        """Per unit, the share of its own value the projection removes (computed once)."""
        if self._leverage is None:
            self._leverage = np.asarray(self._leverage_of(), dtype=float)
        return self._leverage

    @property
    def factors(self) -> tuple[np.ndarray, np.ndarray]:
        """(A, B) with the residual ``x - A (B' x)``."""
        return self._factors_of()


Residualiser = CalibrationResidual


class ConvergenceError(SurveyError):
    """An iterative weighting step did not reach its tolerance."""


def _codes(data: pd.DataFrame, variable: str, totals: Mapping, step: str) -> np.ndarray:
    """Category codes of ``variable`` in the order of ``totals``; every category must match."""
    require_columns(data, [variable], what=step, error=SurveyError)
    values = data[variable].astype(object)
    if values.isna().any():
        raise SurveyError(f"{step}: column '{variable}' has {int(values.isna().sum())} missing values")
    labels = [str(k) for k in totals]
    as_text = values.astype(str)
    unknown = sorted(set(as_text.unique()) - set(labels))  # distinct values first: no Python loop over rows
    if unknown:
        raise SurveyError(f"{step}: categories {unknown} of '{variable}' are in the sample but not in the "
                          f"population totals ({labels})")
    return pd.Categorical(as_text, categories=labels).codes.astype(np.int64)


def _check_present(codes: np.ndarray, w: np.ndarray, variable: str, totals: Mapping, step: str) -> None:
    present = np.bincount(codes, weights=(w > 0).astype(float), minlength=len(totals))
    missing = [str(k) for k, c in zip(totals, present, strict=True) if c == 0]
    if missing:
        raise SurveyError(f"{step}: categories {missing} of '{variable}' have population totals but no "
                          "respondents with a positive weight (an empty weighting class)")


def _totals_array(totals: Mapping, variable: str, step: str) -> np.ndarray:
    values = np.array([float(v) for v in totals.values()])
    if not np.all(np.isfinite(values)) or (values < 0).any():
        raise SurveyError(f"{step}: population totals for '{variable}' must be finite and non-negative")
    return values


def _centre_within(codes: np.ndarray, k: int, x: np.ndarray, psw: np.ndarray, oldw: np.ndarray) -> np.ndarray:
    """X - psw * (old-weighted mean of x/psw within the category), R's post-stratification step."""
    unit = x / np.where(psw > 0, psw, 1)[:, None]
    sums = np.zeros((k, x.shape[1]))
    np.add.at(sums, codes, unit * oldw[:, None])
    denom = np.bincount(codes, weights=oldw, minlength=k)
    means = sums / np.where(denom > 0, denom, 1)[:, None]
    return x - means[codes] * psw[:, None]


def _class_share(codes: np.ndarray, k: int, oldw: np.ndarray) -> np.ndarray:
    """Leverage of the centring in ``_centre_within``: each unit's share of its category's ``oldw``.

    The centring is the projection on the category dummies in the metric ``oldw``, whose hat
    matrix has diagonal oldw_i / sum_category oldw.
    """
    denom = np.bincount(codes, weights=oldw, minlength=k)
    return np.where(oldw > 0, oldw / np.where(denom > 0, denom, 1)[codes], 0.0)


def _class_factors(codes: np.ndarray, k: int, psw: np.ndarray, oldw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(A, B) with ``_centre_within(codes, k, x, psw, oldw) = x - A (B' x)``."""
    dummies = np.zeros((len(codes), k))
    dummies[np.arange(len(codes)), codes] = 1.0
    denom = np.bincount(codes, weights=oldw, minlength=k)
    b = oldw / np.where(psw > 0, psw, 1) / np.where(denom > 0, denom, 1)[codes]
    return dummies * psw[:, None], dummies * b[:, None]


def _projection_factors(q: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(A, B) of x -> scale * q q' (x / scale), rows with scale 0 left out."""
    inverse = np.where(scale != 0, 1 / np.where(scale != 0, scale, 1), 0.0)
    return q * scale[:, None], q * inverse[:, None]


def _dummy_basis(columns: list[np.ndarray]) -> np.ndarray:
    """Orthonormal basis of the span of some dummy columns (rank-deficient sets allowed).

    From the eigen-decomposition of the small Gram matrix (dummies are well conditioned): much
    cheaper than an SVD of the tall matrix.
    """
    A = np.column_stack(columns)
    values, vectors = np.linalg.eigh(A.T @ A)
    keep = values > max(values.max(initial=0.0), 1.0) * 1e-10
    return A @ (vectors[:, keep] / np.sqrt(values[keep]))


def _raking_basis(codes: Mapping[str, np.ndarray], sizes: Mapping[str, int], positive: np.ndarray) -> np.ndarray:
    """Orthonormal basis (rows: all units, zero for zero weight) of the margins' dummies among the
    units with positive weight.

    R's raking residual alternately centres u = x/w within each margin's categories (unweighted means
    over every row). Zero-weight rows (non-respondents) keep u = 0, so each sweep centres the
    respondents' means only by the response share, but the 10 sweeps converge to the additive-model
    projection among the positive-weight units; its hat diagonal is raking's leverage.
    """
    q = _dummy_basis([(c[positive] == j).astype(float) for v, c in codes.items() for j in range(sizes[v])])
    full = np.zeros((len(positive), q.shape[1]))
    full[positive] = q
    return full


@dataclass(frozen=True)
class PostStratify:
    """Scale weights so that each category of ``variable`` sums to its known population total."""

    variable: str
    totals: Mapping

    def apply(self, data: pd.DataFrame, w: np.ndarray) -> tuple[np.ndarray, Residualiser]:
        """Post-stratified weights and the residualiser centring influence values within categories."""
        step = f"post-stratification on '{self.variable}'"
        codes = _codes(data, self.variable, self.totals, step)
        _check_present(codes, w, self.variable, self.totals, step)
        target = _totals_array(self.totals, self.variable, step)
        current = np.bincount(codes, weights=w, minlength=len(target))
        new = w * (target / current)[codes]
        return new, CalibrationResidual(lambda x: _centre_within(codes, len(target), x, new, w),
                                        lambda: _class_share(codes, len(target), w),
                                        lambda: _class_factors(codes, len(target), new, w))


@dataclass(frozen=True)
class Rake:
    """Iterative proportional fitting to several categorical margins (raking).

    Stops when every margin is within ``tol`` (relative) of its total; otherwise raises
    ConvergenceError naming the margin furthest from its total after ``max_iter`` sweeps.
    """

    margins: Mapping[str, Mapping]
    tol: float = 1e-10
    max_iter: int = 100

    def apply(self, data: pd.DataFrame, w: np.ndarray) -> tuple[np.ndarray, Residualiser]:
        """Raked weights and the residualiser of R's ``survey`` (alternating centring within margins)."""
        step = "raking"
        if not self.margins:
            raise SurveyError("raking: no margins given")
        codes, targets = {}, {}
        for variable, totals in self.margins.items():
            codes[variable] = _codes(data, variable, totals, step)
            _check_present(codes[variable], w, variable, totals, step)
            targets[variable] = _totals_array(totals, variable, step)
        sums = {v: t.sum() for v, t in targets.items()}
        first = next(iter(sums))
        for variable, total in sums.items():
            if abs(total - sums[first]) > 1e-6 * sums[first]:
                raise SurveyError(f"raking: margins disagree on the population total: '{first}' sums to "
                                  f"{sums[first]:g} but '{variable}' to {total:g}")
        new = w.astype(float).copy()
        for _ in range(self.max_iter):
            for variable, target in targets.items():
                current = np.bincount(codes[variable], weights=new, minlength=len(target))
                new *= np.where(current > 0, target / np.where(current > 0, current, 1), 0)[codes[variable]]
            gaps = {v: np.max(np.abs(np.bincount(codes[v], weights=new, minlength=len(t)) - t) / np.maximum(t, 1e-12))
                    for v, t in targets.items()}
            if max(gaps.values()) < self.tol:
                break
        else:
            worst = max(gaps, key=gaps.get)
            raise ConvergenceError(f"raking did not converge in {self.max_iter} sweeps: margin '{worst}' is still "
                                   f"{gaps[worst]:.2e} (relative) from its totals")

        def residualise(x: np.ndarray) -> np.ndarray:
            # R's survey: alternate unweighted centring of x/w within each margin, 10 sweeps
            for _ in range(10):
                for variable, target in targets.items():
                    x = _centre_within(codes[variable], len(target), x, new, np.ones_like(new))
            return x

        sizes = {v: len(t) for v, t in targets.items()}
        return new, CalibrationResidual(residualise, lambda: (_raking_basis(codes, sizes, new > 0)**2).sum(axis=1),
                                        lambda: _projection_factors(_raking_basis(codes, sizes, new > 0), new))


def _calibration_matrix(data: pd.DataFrame, totals: Mapping) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Model matrix and totals: categorical margins as dummies (first margin complete), numbers as is."""
    columns, targets, names = [], [], []
    population = None
    for variable, total in totals.items():
        if variable == "(Intercept)":
            columns.append(np.ones(len(data)))
            targets.append(float(total))
            names.append(variable)
            population = float(total) if population is None else population
            continue
        if isinstance(total, Mapping):
            codes = _codes(data, variable, total, "calibration")
            target = _totals_array(total, variable, "calibration")
            if population is not None and abs(target.sum() - population) > 1e-6 * population:
                raise SurveyError(f"calibration: the totals of '{variable}' sum to {target.sum():g}, not to the "
                                  f"population size {population:g} of the other margins")
            start = 0 if population is None else 1  # later margins drop one category (collinear otherwise)
            for j in range(start, len(target)):
                columns.append((codes == j).astype(float))
                targets.append(target[j])
                names.append(f"{variable}={list(total)[j]}")
            population = target.sum() if population is None else population
        else:
            require_columns(data, [variable], what="calibration", error=SurveyError)
            values = data[variable].astype(float).to_numpy()
            if np.isnan(values).any():
                raise SurveyError(f"calibration: column '{variable}' has missing values")
            columns.append(values)
            targets.append(float(total))
            names.append(variable)
    if population is None:
        raise SurveyError("calibration needs a population size: give a categorical margin or '(Intercept)'")
    return np.column_stack(columns), np.array(targets), names


def _logit_g(u: np.ndarray, low: float, up: float) -> tuple[np.ndarray, np.ndarray]:
    """Deville-Sarndal bounded logit calibration function and its derivative, with g(0) = 1.

    g(u) = L + (U - L) * expit(a u + c) with a = (U - L) / ((1 - L)(U - 1)) and
    c = log((1 - L) / (U - 1)), the stable form of Deville & Sarndal's (1992) expression.
    """
    a = (up - low) / ((1 - low) * (up - 1))
    t = expit(a * u + np.log((1 - low) / (up - 1)))
    return low + (up - low) * t, (up - low) * a * t * (1 - t)


@dataclass(frozen=True)
class Calibrate:
    """Calibration to totals: linear (GREG), raking (exponential) or bounded logit (Deville & Sarndal 1992)."""

    totals: Mapping
    method: str = "linear"
    bounds: tuple[float, float] | None = None
    tol: float = 1e-10
    max_iter: int = 100
    _methods: tuple = field(default=("linear", "raking", "logit"), repr=False)

    def _g(self, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if self.method == "raking":
            g = np.exp(np.clip(u, -700, 700))
            return g, g
        return _logit_g(u, *self.bounds)

    def _newton(self, X, d, target, names) -> tuple[np.ndarray, np.ndarray]:
        """Damped Newton iterations on the calibration equations X'(d g(X lam)) = target."""
        lam = np.zeros(X.shape[1])
        scale = np.maximum(np.abs(target), 1e-12)

        def gap_of(lam):
            g, dg = self._g(X @ lam)
            return X.T @ (d * g) - target, g, dg

        gap, g, dg = gap_of(lam)
        for _ in range(self.max_iter):
            if np.max(np.abs(gap) / scale) < self.tol:
                return lam, g
            try:
                step = np.linalg.solve((X * (d * dg)[:, None]).T @ X, gap)
            except np.linalg.LinAlgError:
                break
            for _ in range(30):  # halve the step until the equations get closer to holding
                trial = gap_of(lam - step)
                if np.linalg.norm(trial[0] / scale) < np.linalg.norm(gap / scale):
                    break
                step = step / 2
            else:
                break
            lam = lam - step
            gap, g, dg = trial
        worst = names[int(np.argmax(np.abs(gap) / scale))]
        raise ConvergenceError(f"{self.method} calibration did not converge in {self.max_iter} iterations "
                               f"(furthest from its total: '{worst}'); are the bounds too tight?")

    def apply(self, data: pd.DataFrame, w: np.ndarray) -> tuple[np.ndarray, Residualiser]:
        """Calibrated weights and the residualiser (residuals of the weighted regression on the calibration
        variables, as R's ``survey``).
        """
        if self.method not in self._methods:
            raise SurveyError(f"calibration method must be one of {self._methods}, not {self.method!r}")
        if self.method == "logit" and (self.bounds is None or not (self.bounds[0] < 1 < self.bounds[1])):
            raise SurveyError("logit calibration needs bounds=(low, high) with low < 1 < high")
        X, target, names = _calibration_matrix(data, self.totals)
        d = w.astype(float)
        if self.method == "linear":
            lam = np.linalg.solve((X * d[:, None]).T @ X, target - X.T @ d)
            g = 1 + X @ lam
        else:
            lam, g = self._newton(X, d, target, names)
        new = d * g
        sqrt_d = np.sqrt(d)
        q, _ = np.linalg.qr(X * sqrt_d[:, None])
        scale = g * sqrt_d

        def residualise(x: np.ndarray) -> np.ndarray:
            u = x / np.where(scale != 0, scale, 1)[:, None]
            return (u - q @ (q.T @ u)) * scale[:, None]

        # the residual projects on the columns of X sqrt(d): the GREG hat matrix, diagonal = row norms of q
        return new, CalibrationResidual(residualise, lambda: np.where(d > 0, (q**2).sum(axis=1), 0.0),
                                        lambda: _projection_factors(q, scale))


@dataclass(frozen=True)
class Trim:
    """Cap weights at ``upper`` (and raise to ``lower``), spreading the difference over the others.

    The total weight is kept; repeated until no weight is outside the bounds. Later variance
    treats the trimmed weights as given (as R's ``trimWeights``).
    """

    upper: float = np.inf
    lower: float = 0.0
    max_iter: int = 100

    def apply(self, data: pd.DataFrame, w: np.ndarray) -> tuple[np.ndarray, None]:
        """Trimmed weights (treated as given in the variance: no residualiser)."""
        if self.lower >= self.upper:
            raise SurveyError(f"trimming: lower bound {self.lower} must be below upper bound {self.upper}")
        new = w.astype(float).copy()
        positive = new > 0
        total = new.sum()
        if self.upper * positive.sum() < total or self.lower * positive.sum() > total:
            raise SurveyError("trimming: the bounds cannot hold the total weight")
        for _ in range(self.max_iter):
            clipped = np.where(positive, np.clip(new, self.lower, self.upper), 0.0)
            free = positive & (clipped > self.lower) & (clipped < self.upper)
            excess = total - clipped.sum()
            if abs(excess) < 1e-9 * total:
                return clipped, None
            if not free.any():
                break
            clipped[free] += excess * clipped[free] / clipped[free].sum()
            new = clipped
        raise ConvergenceError("trimming did not converge: the bounds leave no room to redistribute")


@dataclass(frozen=True)
class NonresponseClasses:
    """Weighting-class non-response adjustment: respondents carry their class's sampled weight.

    The class totals of the full sample (respondents and non-respondents) are treated as known
    in the variance, like a post-stratification of the respondents.
    """

    responded: str
    classes: tuple[str, ...]

    def apply(self, data: pd.DataFrame, w: np.ndarray) -> tuple[np.ndarray, Residualiser]:
        """Respondents carry their class's sampled weight; the residualiser centres within classes."""
        require_columns(data, [self.responded, *self.classes], what="non-response adjustment", error=SurveyError)
        resp = data[self.responded].astype(bool).to_numpy()
        codes = data.groupby(list(self.classes), sort=True, dropna=False).ngroup().to_numpy()
        k = codes.max() + 1
        sampled = np.bincount(codes, weights=w, minlength=k)
        answered = np.bincount(codes, weights=w * resp, minlength=k)
        empty = (answered == 0) & (sampled > 0)
        if empty.any():
            labels = data.loc[np.isin(codes, np.flatnonzero(empty)), list(self.classes)].drop_duplicates()
            raise SurveyError(f"non-response adjustment: weighting classes without respondents: "
                              f"{labels.to_dict('records')}")
        factor = sampled / np.where(answered > 0, answered, 1)
        new = np.where(resp, w * factor[codes], 0.0)
        old = w * resp
        return new, CalibrationResidual(lambda x: _centre_within(codes, k, x, new, old),
                                        lambda: _class_share(codes, k, old), lambda: _class_factors(codes, k, new, old))


@dataclass(frozen=True)
class NonresponsePropensity:
    """Response-propensity adjustment: respondents' weights divided by a logistic response model.

    The model (weighted by the current weights) uses the given covariates; the adjusted weights
    are then treated as given in the variance.
    """

    responded: str
    covariates: tuple[str, ...]

    def apply(self, data: pd.DataFrame, w: np.ndarray) -> tuple[np.ndarray, None]:
        """Respondents' weights divided by their fitted response propensity; non-respondents get 0."""
        require_columns(data, [self.responded, *self.covariates], what="non-response adjustment", error=SurveyError)
        X = pd.get_dummies(data[list(self.covariates)], drop_first=True, dtype=float)
        X.insert(0, "const", 1.0)
        resp = data[self.responded].astype(bool).to_numpy()
        # statsmodels' default tolerance (1e-8), as this step has always used
        fit = weighted_logit(X.to_numpy(), resp.astype(float), w, tol=1e-8)
        if not fit.converged or fit.separated:
            warnings.warn(f"the response propensity model on {list(self.covariates)} did not converge (a covariate "
                          "separates respondents from non-respondents?); the adjusted weights are unreliable",
                          RuntimeWarning, stacklevel=3)
        adjusted = np.zeros(len(w))
        np.divide(w, fit.fitted, out=adjusted, where=resp)  # non-respondents keep 0
        return adjusted, None
