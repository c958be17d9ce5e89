"""Two-period panel DiD estimators of the ATT with their influence functions (Sant'Anna & Zhao 2020).

These are the building blocks of the staggered estimator: each group-time effect ATT(g, t) is one
2x2 comparison of outcome changes ``dy`` between treated units (``d == 1``) and comparison units.
They follow R's ``DRDID`` package as R's ``did::att_gt`` calls it with panel data:

- ``"dr"``: ``drdid_panel``, the traditional doubly robust estimator (logit propensity score fitted
  by maximum likelihood, linear outcome regression on the comparison units, propensity scores of
  comparison units at or above 0.995 trimmed);
- ``"ipw"``: ``std_ipw_did_panel``, normalised (Hajek) inverse probability weighting;
- ``"reg"``: ``reg_did_panel``, outcome regression.

``x`` must hold an intercept column. ``did_2x2`` returns the ATT and its influence function
(``att - ATT ~ mean(inf)``), which the caller aggregates and bootstraps. Without covariates all
three reduce to the difference of weighted mean changes, computed directly (same numbers, faster).
"""

from __future__ import annotations

import warnings

import numpy as np

from ..numerics import ols_influence, weighted_logit, wls_coefficients
from .errors import CollinearCovariatesError

__all__ = ["did_2x2", "logit_fit", "rcond"]

EPS = np.finfo(float).eps
TRIM_LEVEL = 0.995


def rcond(a: np.ndarray) -> float:
    """Reciprocal 1-norm condition number (as R's ``rcond``); 0 for singular matrices."""
    try:
        return float(1.0 / np.linalg.cond(a, 1))
    except np.linalg.LinAlgError:
        return 0.0


def _check_invertible(a: np.ndarray, what: str) -> None:
    if not np.all(np.isfinite(a)) or rcond(a) < EPS:
        raise CollinearCovariatesError(
            f"the {what} design matrix is singular: covariates are collinear or constant in this comparison"
        )


def logit_fit(x: np.ndarray, d: np.ndarray, w: np.ndarray, *, max_iter: int = 100, warn: bool = True) -> np.ndarray:
    """Fitted probabilities of a weighted logistic regression of ``d`` on ``x`` (R's ``glm``).

    Under (quasi-)separation the fitted probabilities approach 0 or 1; they are returned as they
    are when the iterations stall, with a warning (as R's ``glm``). A singular design raises
    :class:`CollinearCovariatesError`.
    """
    if x.shape[1] == 1 and np.all(x[:, 0] == x[0, 0]):  # intercept only: closed form
        return np.full(len(d), np.sum(w * d) / np.sum(w))
    # the Hessian at the start (a constant probability) is proportional to X'WX
    if rcond(x.T @ (w[:, None] * x)) < EPS:
        raise CollinearCovariatesError("the propensity score design matrix is singular")
    fit = weighted_logit(x, d, w, max_iter=max_iter)
    if warn and not fit.converged:
        warnings.warn("propensity score estimation did not converge (perfect separation?)", stacklevel=3)
    return fit.fitted


def _wls(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> np.ndarray:
    _check_invertible(x.T @ (w[:, None] * x), "outcome regression")
    return wls_coefficients(x, y, w)


def _ols_linear_rep(x, dy, d, w, fitted):
    """Asymptotic linear representation of the outcome-regression coefficients (comparison units)."""
    wols = w * (1 - d)
    _check_invertible((wols[:, None] * x).T @ x / len(d), "outcome regression")
    return ols_influence(x, dy, wols, fitted)


def _ps_linear_rep(x, d, w, ps):
    """Asymptotic linear representation of the logit coefficients."""
    n = len(d)
    xtwx = x.T @ ((ps * (1 - ps) * w)[:, None] * x)
    _check_invertible(xtwx, "propensity score")
    return ((w * (d - ps))[:, None] * x) @ (np.linalg.inv(xtwx) * n)


def _propensity(x, d, w):
    ps = np.minimum(logit_fit(x, d, w), 1 - 1e-6)
    trim = np.where(d == 1, True, ps < TRIM_LEVEL)
    return ps, trim


def _dr(dy, d, x, w):
    ps, trim = _propensity(x, d, w)
    fitted = x @ _wls(x[d == 0], dy[d == 0], w[d == 0])
    w_treat = trim * w * d
    w_cont = trim * w * ps * (1 - d) / (1 - ps)
    resid = dy - fitted
    eta_treat = np.mean(w_treat * resid) / np.mean(w_treat)
    eta_cont = np.mean(w_cont * resid) / np.mean(w_cont)
    lin_ols = _ols_linear_rep(x, dy, d, w, fitted)
    lin_ps = _ps_linear_rep(x, d, w, ps)
    inf_treat = w_treat * resid - w_treat * eta_treat - lin_ols @ np.mean(w_treat[:, None] * x, axis=0)
    inf_cont = (
        w_cont * resid
        - w_cont * eta_cont
        + lin_ps @ np.mean((w_cont * (resid - eta_cont))[:, None] * x, axis=0)
        - lin_ols @ np.mean(w_cont[:, None] * x, axis=0)
    )
    inf = inf_treat / np.mean(w_treat) - inf_cont / np.mean(w_cont)
    return eta_treat - eta_cont, inf


def _ipw(dy, d, x, w):
    ps, trim = _propensity(x, d, w)
    w_treat = trim * w * d
    w_cont = trim * w * ps * (1 - d) / (1 - ps)
    eta_treat = np.mean(w_treat * dy) / np.mean(w_treat)
    eta_cont = np.mean(w_cont * dy) / np.mean(w_cont)
    lin_ps = _ps_linear_rep(x, d, w, ps)
    inf_treat = (w_treat * dy - w_treat * eta_treat) / np.mean(w_treat)
    inf_cont = w_cont * dy - w_cont * eta_cont + lin_ps @ np.mean((w_cont * (dy - eta_cont))[:, None] * x, axis=0)
    return eta_treat - eta_cont, inf_treat - inf_cont / np.mean(w_cont)


def _reg(dy, d, x, w):
    fitted = x @ _wls(x[d == 0], dy[d == 0], w[d == 0])
    w_treat = w * d
    eta_treat = np.mean(w_treat * dy) / np.mean(w_treat)
    eta_cont = np.mean(w_treat * fitted) / np.mean(w_treat)
    lin_ols = _ols_linear_rep(x, dy, d, w, fitted)
    inf_treat = (w_treat * dy - w_treat * eta_treat) / np.mean(w_treat)
    inf_cont = w_treat * fitted - w_treat * eta_cont + lin_ols @ np.mean(w_treat[:, None] * x, axis=0)
    return eta_treat - eta_cont, inf_treat - inf_cont / np.mean(w_treat)


def _difference_of_means(dy, d, w):
    """Without covariates all three estimators reduce to the difference of weighted mean changes."""
    w_treat, w_cont = w * d, w * (1 - d)
    m_treat = np.sum(w_treat * dy) / np.sum(w_treat)
    m_cont = np.sum(w_cont * dy) / np.sum(w_cont)
    inf = w_treat * (dy - m_treat) / np.mean(w_treat) - w_cont * (dy - m_cont) / np.mean(w_cont)
    return m_treat - m_cont, inf


_METHODS = {"dr": _dr, "ipw": _ipw, "reg": _reg}


def did_2x2(dy: np.ndarray, d: np.ndarray, x: np.ndarray, w: np.ndarray, method: str) -> tuple[float, np.ndarray]:
    """ATT and influence function of one 2x2 panel comparison (weights are normalised to mean 1)."""
    d = d.astype(float)
    w = w / np.mean(w)
    intercept_only = x.shape[1] == 1 and np.all(x == x[0, 0])
    if intercept_only and np.sum(w * d) / np.sum(w) < TRIM_LEVEL:  # else let trimming act as in DRDID
        att, inf = _difference_of_means(dy, d, w)
    else:
        att, inf = _METHODS[method](dy, d, x, w)
    return float(att), np.asarray(inf, dtype=float)
