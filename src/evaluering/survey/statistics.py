"""Statistics a survey design can estimate, each as a value and its influence values.

A statistic is a function of the weights: ``value(w)`` gives the estimates (used as they are by
replicate designs, once per replicate) and ``influence(w)`` gives, per unit, the weighted
linearised contributions whose design variance is the statistic's variance (Taylor
linearisation, as R's ``survey`` does). ``srs_variance(w)`` is what simple random sampling of the
same size would give, for the design effect (R's ``deff=TRUE``, without replacement).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from .variance import SurveyError

__all__ = ["Statistic", "means", "totals", "ratio", "regression"]


@dataclass(frozen=True)
class Statistic:
    """Named estimates as functions of the weights: values, influence values, SRS variance, and counts."""

    names: list
    value: Callable[[np.ndarray], np.ndarray]
    influence: Callable[[np.ndarray], np.ndarray]
    srs_variance: Callable[[np.ndarray], np.ndarray]
    n: np.ndarray  # unweighted number of units behind each estimate


def _weighted_var(y: np.ndarray, w: np.ndarray, used: np.ndarray) -> np.ndarray:
    """R's svyvar: sum(w (y - mean)^2)/sum(w) * n/(n-1), over the units used."""
    wu = w * used
    n = used.sum(axis=0)
    mean = (wu * y).sum(axis=0) / wu.sum(axis=0)
    var = (wu * (y - mean) ** 2).sum(axis=0) / wu.sum(axis=0)
    return var * n / np.maximum(n - 1, 1)


def _prepare(y: np.ndarray, domain: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y, dtype=float)
    if y.ndim == 1:
        y = y[:, None]
    used = ~np.isnan(y)
    if domain is not None:
        used &= np.asarray(domain, dtype=bool)[:, None]
    return np.where(used, y, 0.0), used.astype(float)


def means(names: Sequence, y: np.ndarray, domain: np.ndarray | None = None) -> Statistic:
    """Weighted means of the columns of ``y`` (ratio estimators), optionally within a domain.

    Units outside the domain or with a missing value keep zero influence but stay in the design,
    which gives correct domain standard errors.
    """
    y, used = _prepare(y, domain)

    def value(w):
        wu = w[:, None] * used
        return (wu * y).sum(axis=0) / wu.sum(axis=0)

    def influence(w):
        wu = w[:, None] * used
        return wu * (y - value(w)) / wu.sum(axis=0)

    def srs_variance(w):
        wu = w[:, None] * used
        n_eff = (used * (w[:, None] > 0)).sum(axis=0)
        population = wu.sum(axis=0)
        return _weighted_var(y, w[:, None], used * (w[:, None] > 0)) / n_eff * (population - n_eff) / population

    n = (used > 0).sum(axis=0)
    return Statistic(list(names), value, influence, srs_variance, n)


def totals(names: Sequence, y: np.ndarray, domain: np.ndarray | None = None) -> Statistic:
    """Weighted totals of the columns of ``y`` (Horvitz-Thompson), optionally within a domain."""
    y, used = _prepare(y, domain)

    def value(w):
        return (w[:, None] * used * y).sum(axis=0)

    def influence(w):
        return w[:, None] * used * y

    def srs_variance(w):
        # R compares with SRS of the same size from a population of sum(w) units
        pos = (w > 0).astype(float)[:, None]
        n_obs = pos.sum()
        population = w.sum()
        return _weighted_var(y, w[:, None], pos * np.ones_like(y)) * population**2 / n_obs * (
            population - n_obs) / population

    n = (used > 0).sum(axis=0)
    return Statistic(list(names), value, influence, srs_variance, n)


def ratio(name: str, numerator: np.ndarray, denominator: np.ndarray) -> Statistic:
    """Ratio of two weighted totals, sum(w y) / sum(w x)."""
    y = np.asarray(numerator, dtype=float)
    x = np.asarray(denominator, dtype=float)
    used = (~np.isnan(y) & ~np.isnan(x)).astype(float)
    y, x = np.nan_to_num(y), np.nan_to_num(x)

    def value(w):
        return np.array([(w * used * y).sum() / (w * used * x).sum()])

    def influence(w):
        r = value(w)[0]
        return (w * used * (y - r * x) / (w * used * x).sum())[:, None]

    return Statistic([name], value, influence, lambda w: np.array([np.nan]), np.array([int(used.sum())]))


def regression(names: Sequence, y: np.ndarray, X: np.ndarray, family: str) -> Statistic:
    """Coefficients of a design-weighted linear or logistic regression with a sandwich variance.

    The influence of unit i is w_i * x_i * (y_i - mu_i) A^{-1} with A = sum_i w_i mu'_i x_i x_i',
    i.e. the estimating-function residuals that R's ``svyglm`` passes to ``svyrecvar``.
    """
    if family not in ("gaussian", "binomial"):
        raise SurveyError(f"family must be 'gaussian' or 'binomial', not {family!r}")
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    import statsmodels.api as sm  # here, not at import: a report drawn from stored results needs no statsmodels

    glm_family = sm.families.Gaussian() if family == "gaussian" else sm.families.Binomial()

    def fit(w):
        keep = w > 0
        result = sm.GLM(y[keep], X[keep], family=glm_family, var_weights=w[keep]).fit()
        return np.asarray(result.params)

    def value(w):
        return fit(w)

    def influence(w):
        beta = fit(w)
        mu = glm_family.link.inverse(X @ beta)
        slope = np.ones_like(mu) if family == "gaussian" else mu * (1 - mu)
        A = (X * (w * slope)[:, None]).T @ X
        return (X * (w * (y - mu))[:, None]) @ np.linalg.inv(A)

    return Statistic(list(names), value, influence, lambda w: np.full(X.shape[1], np.nan),
                     np.full(X.shape[1], int(len(y))))
