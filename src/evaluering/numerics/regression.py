"""Weighted regressions the estimators share: least squares coefficients, the asymptotic linear
representation (influence) of a least squares fit, and a weighted logit.

The logit is statsmodels' GLM (binomial family, the weights as ``var_weights``: R's
``glm(d ~ X, family = binomial, weights = w)``); it reports whether it converged instead of
stopping silently, and each caller decides whether that is an error, a warning or a fallback.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

__all__ = ["LogitFit", "ols_influence", "weighted_logit", "wls_coefficients"]


def wls_coefficients(X: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Weighted least squares coefficients (R: ``lm(y ~ -1 + X, weights = w)``), by QR."""
    # here, not at import: a report drawn from stored results needs no statsmodels (nor all of statsmodels.api)
    from statsmodels.regression.linear_model import WLS

    return np.asarray(WLS(y, X, weights=w).fit(method="qr").params, dtype=float)


def ols_influence(X: np.ndarray, y: np.ndarray, w: np.ndarray, fitted: np.ndarray) -> np.ndarray:
    """Asymptotic linear representation of a weighted least squares fit, one row per unit
    (R DRDID's ``asy.lin.rep.ols``): ``w (y - fitted) x' (X'WX / n)^-1``.
    """
    n = len(y)
    xpx = (X * w[:, None]).T @ X / n
    return (w * (y - fitted))[:, None] * X @ np.linalg.inv(xpx)


@dataclass(frozen=True, eq=False)
class LogitFit:
    """Coefficients and fitted probabilities of a weighted logit, and whether it converged."""

    coef: np.ndarray
    fitted: np.ndarray
    converged: bool
    iterations: int = 0  # iteratively reweighted least squares steps taken

    @property
    def separated(self) -> bool:
        """Whether some probabilities are numerically 0 or 1: (quasi-)separation, even when the
        iterations stopped by their tolerance (the likelihood is then flat, not maximised).
        """
        return bool(np.any((self.fitted < 1e-12) | (self.fitted > 1 - 1e-12)))


def weighted_logit(X: np.ndarray, d: np.ndarray, w: np.ndarray, *, tol: float = 1e-12,
                   max_iter: int = 100) -> LogitFit:
    """Weighted logistic regression of the 0/1 ``d`` on ``X`` (include an intercept column).

    Under (quasi-)separation the iterations stall and the probabilities approach 0 or 1: the fit
    is returned as it is with ``converged=False``.
    """
    from statsmodels.genmod.families import Binomial  # the GLM module alone: statsmodels.api imports far more
    from statsmodels.genmod.generalized_linear_model import GLM

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # separation and non-integer weights: judged by the caller
        fit = GLM(d, X, family=Binomial(), var_weights=w).fit(tol=tol, maxiter=max_iter)
    coef = np.asarray(fit.params, dtype=float)
    converged = bool(fit.converged) and bool(np.all(np.isfinite(coef)))
    with np.errstate(over="ignore"):  # separated fits: exp overflows to inf and the probability is 0
        fitted = 1 / (1 + np.exp(-(X @ coef)))
    return LogitFit(coef=coef, fitted=fitted, converged=converged, iterations=int(fit.fit_history["iteration"]))
