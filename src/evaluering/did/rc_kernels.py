"""Numerical kernels of the repeated cross-section DiD estimators (ports of R's DRDID).

Each kernel takes arrays that ``evaluering.did.rc`` has validated: outcome ``y``, 0/1 arrays
``d`` (treated group) and ``post`` (follow-up period), the design ``X`` with an intercept in its
first column, and sampling weights ``w`` normalised to mean 1. It returns the ATT, its
per-row influence function and the propensity score diagnostics. The code follows DRDID 1.3
(``drdid_imp_rc``, ``drdid_rc``, ``std_ipw_did_rc``, ``reg_did_rc``) step by step, so that the
numbers can be checked against R; the R names are kept in comments.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from scipy import optimize

from ..numerics import ols_influence, weighted_logit, wls_coefficients
from .errors import OverlapError, RcDidError

__all__ = ["KERNELS", "PS_CLIP", "KernelResult", "OverlapError", "RcDidError", "ipt_pscore"]

PS_CLIP = 1 - 1e-6  # DRDID caps fitted propensity scores here to avoid dividing by zero


@dataclass(frozen=True)
class KernelResult:
    """What a kernel returns: the ATT, its influence function and the propensity score diagnostics."""

    att: float
    influence: np.ndarray
    ps_flag: int | None = None  # DRDID's ps.flag: 0 trust, 1 IPT (nlm), 2 logit fallback
    n_trimmed: int = 0  # comparison units dropped by the trimming rule


def _mean_cols(a: np.ndarray, X: np.ndarray) -> np.ndarray:
    """R's colMeans(a * X)."""
    return X.T @ a / len(a)


def _fitted_on(rows: np.ndarray, y: np.ndarray, X: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Every row's prediction from a weighted least squares fit on the selected rows
    (R: predict(lm(y ~ -1 + X, weights = w, subset = rows), all rows)).
    """
    return X @ wls_coefficients(X[rows], y[rows], w[rows])


def _check_overlap(ps_raw: np.ndarray, d: np.ndarray) -> None:
    """Refuse propensity scores of (numerically) 1: comparison units with them would carry
    unbounded weight (DRDID caps and trims them silently); treated units with them have no
    comparable comparison units, so their ATT is not identified.
    """
    for group, rows, consequence in (
        (
            "comparison unit(s)",
            d == 0,
            "the covariates single them out as certain to be treated",
        ),
        ("treated unit(s)", d == 1, "no comparison unit resembles them"),
    ):
        bad = rows & (ps_raw >= PS_CLIP)
        if bad.any():
            raise OverlapError(
                f"overlap violation: {int(bad.sum())} {group} have a propensity score of 1 (>= {PS_CLIP}); "
                f"{consequence}. Drop or coarsen covariates, or restrict the sample to common support."
            )


# --- propensity scores --------------------------------------------------------------------


def _loss_cal(g, d, X, w):
    """Tan (2019) calibration loss of DRDID's loss.ps.cal: value, gradient, Hessian."""
    n = len(d)
    v = X @ g
    with np.errstate(over="ignore"):
        ev = np.exp(v)
    c = w * (1 - d) * ev
    value = (np.sum(c) - np.sum(w * d * v)) / n
    grad = X.T @ (c - w * d) / n
    hess = (X * c[:, None]).T @ X / n
    return value, grad, hess


def _loss_ipt(g, d, X, w):
    """Graham, Pinto & Egel (2012) IPT loss of DRDID's loss.ps.IPT (minimised by nlm in R)."""
    n = len(d)
    cn, vstar = -(n - 1), np.log(n - 1)
    bn = -n + (n - 1) * np.log(n - 1)
    an = -(n - 1) * (1 - np.log(n - 1) + 0.5 * np.log(n - 1) ** 2)
    v = X @ g
    low = v < vstar
    with np.errstate(over="ignore"):
        ev = np.exp(np.where(low, v, 0.0))
    phi = np.where(low, -v - ev, an + bn * v + 0.5 * cn * v**2)
    phi1 = np.where(low, -1 - ev, bn + cn * v)
    phi2 = np.where(low, -ev, cn)
    # R's value adds the unweighted sum(v) while its gradient weights it; both are weighted here.
    # Divided by n (R minimises the sum): same minimiser, same scale as the calibration loss.
    value = -np.sum(w * ((1 - d) * phi + v)) / n
    grad = -X.T @ (w * ((1 - d) * phi1 + 1)) / n
    hess = -(X * ((1 - d) * w * phi2)[:, None]).T @ X / n
    return value, grad, hess


def _boundary_step(evals, evecs, gq, radius):
    """Minimiser of the quadratic model on the trust-region boundary (More-Sorensen, via eigh)."""

    def excess(lam):
        return np.linalg.norm(gq / (evals + lam)) - radius

    lo = max(0.0, -evals.min()) + 1e-12 * max(1.0, abs(evals).max())
    hi = lo + np.linalg.norm(gq) / radius + abs(evals).max()
    try:
        lam = optimize.brentq(excess, lo, hi, xtol=1e-14, maxiter=500) if excess(lo) > 0 else lo
        step = -evecs @ (gq / (evals + lam))
    except (RuntimeError, ValueError, FloatingPointError):
        step = np.full_like(gq, np.nan)
    if not np.all(np.isfinite(step)):  # degenerate model: steepest descent to the boundary
        step = -evecs @ gq * (radius / np.linalg.norm(gq))
    return step


def _trust_region(loss, start, d, X, w, iterlim=1000, rinit=1.0, rmax=1000.0):
    """Trust-region Newton minimisation as R's trust::trust (rinit = 1, rmax = 1000, iterlim = 1000).

    R stops once the predicted decrease is below sqrt(machine epsilon); here Newton steps go on
    until the gradient vanishes to ~1e-11 (relative), so the solution is the exact minimiser.
    Returns (argument, converged).
    """
    theta = np.asarray(start, dtype=float).copy()
    scale = np.maximum(np.abs(X).T @ w / len(w), 1e-300)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        f, g, H = loss(theta, d, X, w)
        if not (np.isfinite(f) and np.all(np.isfinite(g))):
            return theta, False
        radius = rinit
        for _ in range(iterlim):
            if np.max(np.abs(g) / scale) < 1e-11:
                return theta, True
            evals, evecs = np.linalg.eigh(H)
            gq = evecs.T @ g
            newton = evals.min() > 0 and np.linalg.norm(gq / evals) <= radius
            step = -evecs @ (gq / evals) if newton else _boundary_step(evals, evecs, gq, radius)
            predicted = g @ step + 0.5 * step @ H @ step
            if newton and abs(predicted) < 1e-20 * max(1.0, abs(f)):  # Newton decrement vanished
                return theta + step, True
            f_try, g_try, H_try = loss(theta + step, d, X, w)
            ok = np.isfinite(f_try) and np.all(np.isfinite(g_try))
            rho = (f_try - f) / predicted if ok and predicted < 0 else -np.inf
            # Below the resolution of f the quadratic model is exact enough: take Newton steps.
            tiny = newton and ok and abs(predicted) < 1e-10 * max(1.0, abs(f))
            if tiny or rho >= 0.25:
                theta, f, g, H = theta + step, f_try, g_try, H_try
                if rho > 0.75 and not newton:
                    radius = min(2 * radius, rmax)
            else:
                radius /= 4
    return theta, False


def ipt_pscore(d: np.ndarray, X: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, int]:
    """Propensity score by inverse probability tilting (R: DRDID's pscore.cal): (fitted, flag).

    Start from the weighted logit; minimise the calibration loss by trust region (flag 0); if
    that fails, minimise the IPT loss of Graham et al. (flag 1); if that fails too, keep the
    logit (flag 2). At the solution the odds-weighted comparison group matches the treated
    group's weighted covariate means exactly.
    """
    init = weighted_logit(X, d, w).coef
    if not np.all(np.isfinite(init)):
        init = np.zeros(X.shape[1])
    gamma, ok = _trust_region(_loss_cal, init, d, X, w)
    flag = 0
    if not ok:
        flag = 1
        gamma, ok = _trust_region(_loss_ipt, init, d, X, w)
        if ok:
            warnings.warn(
                "trust algorithm did not converge when estimating the propensity score; "
                "used the IPT algorithm of Graham et al. (2012)",
                RuntimeWarning,
                stacklevel=3,
            )
        else:
            flag, gamma = 2, init
            warnings.warn(
                "used the logit propensity score: neither the trust nor the IPT algorithm converged "
                "(the comparison group may not cover the treated group's covariates)",
                RuntimeWarning,
                stacklevel=3,
            )
    return 1 / (1 + np.exp(-(X @ gamma))), flag


# --- estimators ---------------------------------------------------------------------------


def reg_did(y, d, post, X, w, trim_level) -> KernelResult:
    """Outcome regression DiD (R: reg_did_rc); ``trim_level`` is unused (no propensity score)."""
    pre_c, post_c = (d == 0) & (post == 0), (d == 0) & (post == 1)
    out_pre = _fitted_on(pre_c, y, X, w)
    out_post = _fitted_on(post_c, y, X, w)
    w_treat_pre, w_treat_post, w_cont = w * d * (1 - post), w * d * post, w * d
    eta_treat_pre = np.mean(w_treat_pre * y) / np.mean(w_treat_pre)
    eta_treat_post = np.mean(w_treat_post * y) / np.mean(w_treat_post)
    eta_cont = np.mean(w_cont * (out_post - out_pre)) / np.mean(w_cont)
    att = (eta_treat_post - eta_treat_pre) - eta_cont

    lin_pre = ols_influence(X, y, w * (1 - d) * (1 - post), out_pre)
    lin_post = ols_influence(X, y, w * (1 - d) * post, out_post)
    inf_treat = (w_treat_post * y - w_treat_post * eta_treat_post) / np.mean(w_treat_post) - (
        w_treat_pre * y - w_treat_pre * eta_treat_pre
    ) / np.mean(w_treat_pre)
    m1 = _mean_cols(w_cont, X)
    inf_cont = (w_cont * (out_post - out_pre) - w_cont * eta_cont + lin_post @ m1 - lin_pre @ m1) / np.mean(w_cont)
    return KernelResult(att=float(att), influence=inf_treat - inf_cont)


def _trimmed_logit_pscore(d, X, w, trim_level) -> tuple[np.ndarray, np.ndarray]:
    """Logit propensity score, overlap check, clipping, and DRDID's trimming of comparison units."""
    logit = weighted_logit(X, d, w)
    ps_raw = logit.fitted
    if not logit.converged:
        warnings.warn("propensity score estimation (logit) did not converge", RuntimeWarning, stacklevel=4)
    _check_overlap(ps_raw, d)
    ps = np.minimum(ps_raw, PS_CLIP)
    return ps, np.where(d == 0, ps < trim_level, True)


def std_ipw_did(y, d, post, X, w, trim_level) -> KernelResult:
    """Standardised (Hajek) inverse probability weighting DiD (R: std_ipw_did_rc)."""
    ps, trim = _trimmed_logit_pscore(d, X, w, trim_level)
    w_treat_pre = trim * w * d * (1 - post)
    w_treat_post = trim * w * d * post
    odds = w * ps * (1 - d) / (1 - ps)
    w_cont_pre, w_cont_post = trim * odds * (1 - post), trim * odds * post

    def part(wt):
        eta = wt * y / np.mean(wt)
        att_part = np.mean(eta)
        return att_part, eta - wt * att_part / np.mean(wt)

    att_tp, inf_tp = part(w_treat_pre)
    att_tq, inf_tq = part(w_treat_post)
    att_cp, inf_cp = part(w_cont_pre)
    att_cq, inf_cq = part(w_cont_post)
    att = (att_tq - att_tp) - (att_cq - att_cp)

    lin_ps = _logit_linear_rep(d, X, w, ps)
    m2_pre = _mean_cols(w_cont_pre * (y - att_cp), X) / np.mean(w_cont_pre)
    m2_post = _mean_cols(w_cont_post * (y - att_cq), X) / np.mean(w_cont_post)
    inf_cont = inf_cq - inf_cp + lin_ps @ (m2_post - m2_pre)
    influence = (inf_tq - inf_tp) - inf_cont
    return KernelResult(att=float(att), influence=influence, n_trimmed=int(np.sum(~trim)))


def _logit_linear_rep(d, X, w, ps):
    """Asymptotic linear representation of the logit coefficients (R: asy.lin.rep.ps)."""
    n = len(d)
    W = ps * (1 - ps) * w
    hessian = np.linalg.inv((X * W[:, None]).T @ X) * n
    return (w * (d - ps))[:, None] * X @ hessian


def _dr_parts(y, d, post, w, ps, trim, out_cont_pre, out_cont_post, out_treat_pre, out_treat_post):
    """Point estimate and leading influence-function terms shared by both DR estimators.

    ``trim`` drops comparison units only (treated units are never trimmed in DRDID).
    """
    out_cont = post * out_cont_post + (1 - post) * out_cont_pre
    w_treat_pre, w_treat_post = w * d * (1 - post), w * d * post
    odds = w * ps * (1 - d) / (1 - ps)
    w_cont_pre, w_cont_post = trim * odds * (1 - post), trim * odds * post
    w_d, w_dt1, w_dt0 = w * d, w * d * post, w * d * (1 - post)

    def part(wt, resid):
        eta = wt * resid / np.mean(wt)
        att_part = np.mean(eta)
        return att_part, eta - wt * att_part / np.mean(wt)

    p = {}
    p["treat_pre"] = part(w_treat_pre, y - out_cont)
    p["treat_post"] = part(w_treat_post, y - out_cont)
    p["cont_pre"] = part(w_cont_pre, y - out_cont)
    p["cont_post"] = part(w_cont_post, y - out_cont)
    p["d_post"] = part(w_d, out_treat_post - out_cont_post)
    p["dt1_post"] = part(w_dt1, out_treat_post - out_cont_post)
    p["d_pre"] = part(w_d, out_treat_pre - out_cont_pre)
    p["dt0_pre"] = part(w_dt0, out_treat_pre - out_cont_pre)
    a = {k: v[0] for k, v in p.items()}
    i = {k: v[1] for k, v in p.items()}
    att = (
        (a["treat_post"] - a["treat_pre"])
        - (a["cont_post"] - a["cont_pre"])
        + (a["d_post"] - a["dt1_post"])
        - (a["d_pre"] - a["dt0_pre"])
    )
    weights = dict(
        w_treat_pre=w_treat_pre, w_treat_post=w_treat_post, w_cont_pre=w_cont_pre, w_cont_post=w_cont_post,
        w_d=w_d, w_dt1=w_dt1, w_dt0=w_dt0, out_cont=out_cont,
    )  # fmt: skip
    return att, a, i, weights


def dr_improved(y, d, post, X, w, trim_level) -> KernelResult:
    """Improved, locally efficient DR DiD with IPT propensity score and weighted OLS (R: drdid_imp_rc)."""
    ps_raw, flag = ipt_pscore(d, X, w)
    _check_overlap(ps_raw, d)
    ps = np.minimum(ps_raw, PS_CLIP)
    trim = np.where(d == 0, ps < trim_level, True)
    odds_w = w * ps / (1 - ps)  # R: wols_rc weights (untrimmed)
    out_cont_pre = _fitted_on((d == 0) & (post == 0), y, X, odds_w)
    out_cont_post = _fitted_on((d == 0) & (post == 1), y, X, odds_w)
    out_treat_pre = _fitted_on((d == 1) & (post == 0), y, X, w)
    out_treat_post = _fitted_on((d == 1) & (post == 1), y, X, w)
    att, _, i, _ = _dr_parts(y, d, post, w, ps, trim, out_cont_pre, out_cont_post, out_treat_pre, out_treat_post)
    # The nuisance estimates enter only at second order, so the leading terms are the influence function.
    inf_treat = i["treat_post"] - i["treat_pre"]
    inf_cont = i["cont_post"] - i["cont_pre"]
    inf_eff = (i["d_post"] - i["dt1_post"]) - (i["d_pre"] - i["dt0_pre"])
    return KernelResult(
        att=float(att), influence=inf_treat - inf_cont + inf_eff, ps_flag=flag, n_trimmed=int(np.sum(~trim))
    )


def dr_traditional(y, d, post, X, w, trim_level) -> KernelResult:
    """Locally efficient DR DiD with logit propensity score and OLS (R: drdid_rc)."""
    ps, trim = _trimmed_logit_pscore(d, X, w, trim_level)
    cells = {(t, q): (d == t) & (post == q) for t in (0, 1) for q in (0, 1)}  # (treated, post) -> rows
    fitted = {key: _fitted_on(rows, y, X, w) for key, rows in cells.items()}
    att, a, i, wt = _dr_parts(y, d, post, w, ps, trim, fitted[0, 0], fitted[0, 1], fitted[1, 0], fitted[1, 1])
    lin = {key: ols_influence(X, y, w * rows, fitted[key]) for key, rows in cells.items()}
    lin_ps = _logit_linear_rep(d, X, w, ps)
    mw = {k: np.mean(v) for k, v in wt.items() if k.startswith("w_")}

    # estimation effect of the comparison-group regressions on the treated component
    m1_post = -_mean_cols(wt["w_treat_post"] * post, X) / mw["w_treat_post"]
    m1_pre = -_mean_cols(wt["w_treat_pre"] * (1 - post), X) / mw["w_treat_pre"]
    inf_treat_or = lin[0, 1] @ m1_post + lin[0, 0] @ m1_pre
    # estimation effect of the propensity score on the comparison component
    m2_pre = _mean_cols(wt["w_cont_pre"] * (y - wt["out_cont"] - a["cont_pre"]), X) / mw["w_cont_pre"]
    m2_post = _mean_cols(wt["w_cont_post"] * (y - wt["out_cont"] - a["cont_post"]), X) / mw["w_cont_post"]
    inf_cont_ps = lin_ps @ (m2_post - m2_pre)
    # estimation effect of the comparison-group regressions on the comparison component
    m3_post = -_mean_cols(wt["w_cont_post"] * post, X) / mw["w_cont_post"]
    m3_pre = -_mean_cols(wt["w_cont_pre"] * (1 - post), X) / mw["w_cont_pre"]
    inf_cont_or = lin[0, 1] @ m3_post + lin[0, 0] @ m3_pre
    # estimation effect of all four regressions on the efficiency adjustment
    mom_post = _mean_cols(wt["w_d"] / mw["w_d"] - wt["w_dt1"] / mw["w_dt1"], X)
    mom_pre = _mean_cols(wt["w_d"] / mw["w_d"] - wt["w_dt0"] / mw["w_dt0"], X)
    inf_or = (lin[1, 1] - lin[0, 1]) @ mom_post - (lin[1, 0] - lin[0, 0]) @ mom_pre

    inf_treat = i["treat_post"] - i["treat_pre"] + inf_treat_or
    inf_cont = i["cont_post"] - i["cont_pre"] + inf_cont_ps + inf_cont_or
    inf_eff = (i["d_post"] - i["dt1_post"]) - (i["d_pre"] - i["dt0_pre"])
    influence = inf_treat - inf_cont + inf_eff + inf_or
    return KernelResult(att=float(att), influence=influence, n_trimmed=int(np.sum(~trim)))


KERNELS = {"dr": dr_improved, "dr_traditional": dr_traditional, "ipw": std_ipw_did, "reg": reg_did}
