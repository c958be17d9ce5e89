"""Wild cluster bootstrap for one coefficient of a (weighted) linear regression.

Why: with few clusters, or few *treated* clusters, cluster-robust (CRV1) t-tests over-reject
badly. The wild cluster bootstrap (Cameron, Gelbach & Miller 2008) keeps each cluster's
residuals together and flips their sign (Rademacher) or scales them (Webb's six-point
weights), re-estimating the CRV1 t-statistic each time. Imposing the null on the bootstrap
data (WCR, the default) is what makes it reliable with few clusters; the unrestricted variant
(WCU) is offered for comparison and for multiple testing (MacKinnon & Webb 2017, 2018).
With very few treated clusters (1-2) even the WCR fails: it under-rejects; use
:func:`~evaluering.inference.placebo_test` then.

The computation follows Roodman, MacKinnon, Nielsen & Webb (2019, "Fast and wild"): every
bootstrap t-statistic comes from G-vectors and a G x G matrix, never from refitting, and the
restricted residuals are linear in the null value, so the confidence interval is found by
inverting the bootstrap test at almost no cost. Weighted least squares is ordinary least
squares on rows scaled by the square root of the weights; the CRV1 variance uses the small-
sample factor G/(G-1) * (N-1)/(N-K), as Stata, statsmodels and fwildclusterboot do.

With Rademacher weights and 2^G <= ``n_boot`` every sign pattern is used once (full
enumeration), so the p-value is exact for the bootstrap and free of simulation noise.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..columns import require_columns
from ..numerics import p_value as normal_or_t_p_value
from ..results import ResultDisplay
from .checks import require_complete
from .errors import InferenceError, UnknownNameError

__all__ = ["WildBootstrapTest", "wild_cluster_bootstrap", "wild_cluster_bootstrap_arrays"]

DISTRIBUTIONS = ("rademacher", "webb")
MAX_CLUSTERS = 4000  # the algorithm stores G x G and G x n_boot matrices
_WEBB = np.sqrt(np.array([3.0, 2.0, 1.0, 1.0, 2.0, 3.0]) / 2) * np.array([-1, -1, -1, 1, 1, 1])


@dataclass(frozen=True, repr=False)
class WildBootstrapTest(ResultDisplay):
    """Wild cluster bootstrap test of H0: coefficient = ``null`` and its confidence interval.

    ``t_stat`` is the CRV1 t-statistic (the same as statsmodels' cluster-robust one) and
    ``p_value_crv1`` its p-value from t(G - 1), for comparison. ``p_value`` is the symmetric
    bootstrap p-value, the share of bootstrap |t*| at least |t| (ties count against rejection;
    wildboottest and fwildclusterboot count only |t*| > |t|, which differs by ties only).
    ``t_boot`` holds the bootstrap t-statistics under H0 (for Romano-Wolf, run every
    hypothesis with the same clusters and seed so the draws are shared).
    """

    coefficient: str
    estimate: float
    se: float
    t_stat: float
    p_value: float
    p_value_crv1: float
    ci_low: float
    ci_high: float
    null: float
    bootstrap: str  # "WCR" (null imposed) or "WCU"
    distribution: str
    n_boot: int
    full_enumeration: bool
    n_obs: int
    n_clusters: int
    n_treated_clusters: int  # clusters where the coefficient's regressor is not all zero
    t_boot: np.ndarray = field(repr=False, compare=False)
    confidence: float = 0.95

    def to_frame(self) -> pd.DataFrame:
        """One row: estimate, CRV1 standard error and t, bootstrap p-value and interval."""
        row = {k: getattr(self, k) for k in (
            "coefficient", "estimate", "se", "t_stat", "p_value", "p_value_crv1", "ci_low", "ci_high", "null",
            "bootstrap", "distribution", "n_boot", "full_enumeration", "n_obs", "n_clusters", "n_treated_clusters")}
        return pd.DataFrame([row])

    def _headline(self) -> str:
        return (f"{self.coefficient}: {self.estimate:+.4f} (CRV1 se {self.se:.4f}, t = {self.t_stat:.3f}); "
                f"{self.bootstrap} wild cluster bootstrap p = {self.p_value:.4f} for H0: = {self.null:g} "
                f"(CRV1 t({self.n_clusters - 1}) p = {self.p_value_crv1:.4f}); {self.confidence:.0%} CI "
                f"{self.ci_low:+.4f} to {self.ci_high:+.4f}")

    def _notes(self) -> list[str]:
        draws = (f"all {self.n_boot} sign patterns" if self.full_enumeration
                 else f"{self.n_boot} {self.distribution} draws")
        return [f"{self.n_obs} observations in {self.n_clusters} clusters ({self.n_treated_clusters} with the "
                f"regressor non-zero); {draws}"]


def wild_cluster_bootstrap(
    frame: pd.DataFrame,
    formula: str,
    coefficient: str,
    cluster: str,
    *,
    weights: str | None = None,
    **options,
) -> WildBootstrapTest:
    """Wild cluster bootstrap test of one coefficient of ``formula`` (formulaic syntax, e.g.
    ``"y ~ treated * post"``), clustering on column ``cluster`` and weighting rows by column
    ``weights`` (WLS). Missing values are an error, not silently dropped. ``options`` are
    those of :func:`wild_cluster_bootstrap_arrays` (``null``, ``impose_null``,
    ``distribution``, ``n_boot``, ``seed``, ``full_enumeration``, ``confidence``, ``invert_test``).
    """
    from formulaic import model_matrix

    used = [cluster] + ([weights] if weights else [])
    require_columns(frame, used, what="wild cluster bootstrap data", error=UnknownNameError)
    require_complete(frame, used)
    try:
        matrices = model_matrix(formula, frame, na_action="raise")
    except ValueError as error:
        raise InferenceError(f"missing values in the variables of {formula!r}: {error}") from error
    X = matrices.rhs
    if coefficient not in X.columns:
        raise UnknownNameError(f"coefficient {coefficient!r} is not in the model; its terms are {list(X.columns)}")
    return wild_cluster_bootstrap_arrays(
        np.asarray(matrices.lhs, dtype=float).ravel(), np.asarray(X, dtype=float), list(X.columns).index(coefficient),
        frame[cluster].to_numpy(), names=list(X.columns),
        weights=None if weights is None else frame[weights].to_numpy(dtype=float), **options)


def wild_cluster_bootstrap_arrays(
    y,
    X,
    coefficient: int | str,
    clusters,
    *,
    names: Sequence[str] | None = None,
    weights=None,
    null: float = 0.0,
    impose_null: bool = True,
    distribution: str = "rademacher",
    n_boot: int = 9999,
    seed: int | np.random.Generator | None = None,
    full_enumeration: bool | None = None,
    confidence: float = 0.95,
    invert_test: bool = True,
) -> WildBootstrapTest:
    """Wild cluster bootstrap from arrays: ``y`` (N), ``X`` (N x K, a DataFrame gives names),
    ``clusters`` (N labels), optional ``weights`` (N, positive; WLS).

    ``coefficient`` is a column index or name, tested against H0: coefficient = ``null``.
    ``impose_null`` chooses WCR (True) or WCU. ``distribution`` is "rademacher" or "webb" (six
    points; better when G is below about 12, where Rademacher has few distinct sign patterns).
    ``full_enumeration`` (Rademacher only) defaults to 2^G <= ``n_boot``; otherwise ``n_boot``
    draws come from ``seed`` (an int or a numpy Generator). The interval (``invert_test=False``
    skips it) is the set of null values the bootstrap test does not reject at 1 - ``confidence``.
    """
    if distribution not in DISTRIBUTIONS:
        raise InferenceError(f"distribution must be one of {DISTRIBUTIONS}, not {distribution!r}")
    if not 0 < confidence < 1:
        raise InferenceError("confidence must be between 0 and 1")
    if isinstance(X, pd.DataFrame):
        names = list(X.columns) if names is None else list(names)
    y = np.asarray(y, dtype=float).ravel()
    X = np.asarray(X, dtype=float)
    X = X[:, None] if X.ndim == 1 else X
    n, k = X.shape
    names = [f"x{j}" for j in range(k)] if names is None else [str(c) for c in names]
    if isinstance(coefficient, str) and coefficient not in names:
        raise UnknownNameError(f"coefficient {coefficient!r} is not one of the columns {names}")
    index = names.index(coefficient) if isinstance(coefficient, str) else int(coefficient)
    if not 0 <= index < k:
        raise InferenceError(f"coefficient {coefficient!r} is not one of the {k} columns")
    clusters = pd.Series(np.asarray(clusters, dtype=object))
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float).ravel()
    _check_inputs(y, X, clusters, w)
    codes, labels = pd.factorize(clusters)
    g = len(labels)
    if g < 2:
        raise InferenceError("cannot bootstrap with a single cluster")
    if g > MAX_CLUSTERS:
        raise InferenceError(f"{g} clusters: with this many, cluster-robust standard errors are reliable "
                             f"(this algorithm is for few clusters, at most {MAX_CLUSTERS})")
    x_k = X[:, index]
    treated = np.bincount(codes, weights=(x_k != 0).astype(float), minlength=g) > 0
    n_treated = int(treated.sum())
    if n_treated == 0:
        raise InferenceError(f"the regressor of {names[index]!r} is zero everywhere")
    if g - n_treated == 1:
        raise InferenceError(f"cannot bootstrap with one comparison cluster: {names[index]!r} is zero in only one "
                             "of the clusters")
    if n_treated == 1 and g - n_treated > 0:
        warnings.warn(f"only one cluster has {names[index]!r} non-zero: the wild cluster bootstrap is unreliable "
                      "with one treated cluster (MacKinnon & Webb 2017); use placebo inference", stacklevel=2)

    sw = np.sqrt(w)
    Xw, yw = X * sw[:, None], y * sw
    if np.linalg.matrix_rank(Xw) < k:
        raise InferenceError("the regressors are collinear")
    A = np.linalg.inv(Xw.T @ Xw)
    beta = A @ (Xw.T @ yw)
    resid = yw - Xw @ beta
    ssc = (g / (g - 1)) * ((n - 1) / (n - k))
    scores = _cluster_sums(codes, Xw * resid[:, None], g)  # G x K
    se = float(np.sqrt(ssc * A[index] @ (scores.T @ scores) @ A[index]))
    estimate = float(beta[index])
    t_stat = (estimate - null) / se

    v, full = _draws(g, distribution, n_boot, seed, full_enumeration)
    boot = _BootstrapT(Xw, yw, codes, g, A, index, ssc, v, impose_null, resid)
    t_boot = boot.t(null)
    p_value = _p_value(t_boot, t_stat)
    ci_low, ci_high = _interval(boot, estimate, se, confidence) if invert_test else (np.nan, np.nan)
    return WildBootstrapTest(
        coefficient=names[index], estimate=estimate, se=se, null=float(null),
        t_stat=float(t_stat), p_value=p_value, p_value_crv1=normal_or_t_p_value(estimate - null, se, df=g - 1),
        ci_low=float(ci_low), ci_high=float(ci_high), confidence=confidence,
        bootstrap="WCR" if impose_null else "WCU", distribution=distribution, n_boot=int(v.shape[1]),
        full_enumeration=full, t_boot=t_boot, n_obs=n, n_clusters=g, n_treated_clusters=n_treated)


def _check_inputs(y, X, clusters, w) -> None:
    n = len(y)
    if X.shape[0] != n or len(clusters) != n or len(w) != n:
        raise InferenceError("y, X, clusters and weights must have the same number of rows")
    problems = []
    for name, bad in (("y", ~np.isfinite(y)), ("X", ~np.isfinite(X).all(axis=1)), ("clusters", clusters.isna()),
                      ("weights", ~np.isfinite(w))):
        if np.any(bad):
            problems.append(f"{name} ({int(np.sum(bad))} rows)")
    if problems:
        raise InferenceError("missing or non-finite values in " + ", ".join(problems))
    if (w <= 0).any():
        raise InferenceError("weights must be positive")


def _cluster_sums(codes: np.ndarray, values: np.ndarray, g: int) -> np.ndarray:
    """Sum the rows of ``values`` (N x K) within clusters: G x K."""
    return np.stack([np.bincount(codes, weights=values[:, j], minlength=g) for j in range(values.shape[1])], axis=1)


def _draws(g: int, distribution: str, n_boot: int, seed, full_enumeration) -> tuple[np.ndarray, bool]:
    """Bootstrap weights, G x B: every Rademacher sign pattern, or random draws."""
    if full_enumeration is None:
        full_enumeration = distribution == "rademacher" and 2.0**g <= n_boot
    if full_enumeration:
        if distribution != "rademacher":
            raise InferenceError("full enumeration is only possible with Rademacher weights")
        if g > 20:
            raise InferenceError(f"full enumeration of 2^{g} sign patterns is too many")
        # The order of itertools.product([-1, 1], repeat=G), as wildboottest and boottest use.
        return np.array(list(itertools.product([-1.0, 1.0], repeat=g))).T, True
    if n_boot < 1:
        raise InferenceError("n_boot must be positive")
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    if distribution == "rademacher":
        return rng.choice(np.array([-1.0, 1.0]), size=(g, n_boot)), False
    return rng.choice(_WEBB, size=(g, n_boot)), False


class _BootstrapT:
    """Bootstrap t-statistics as a function of the null value, after Roodman et al. (2019).

    For bootstrap data y* = fitted + v_g * u_g (u: restricted or unrestricted residuals) the
    numerator and the per-cluster CRV1 scores of the coefficient are linear in v:
    numerator = c'v and scores = diag(c) v - H v, with c_g = a'X_g'u_g, H_gh = a'X_g'X_g A X_h'u_h
    and a the coefficient's row of (X'X)^-1. Restricted residuals are linear in the null value
    b0 (u = u_y - b0 * u_x), so c, H and hence numerator and scores are too: t*(b0) needs only
    five B-vectors.
    """

    def __init__(self, Xw, yw, codes, g, A, index, ssc, v, impose_null, resid):
        self.ssc, self.impose_null = ssc, impose_null
        a = A[:, index]
        xx_a = _cluster_sums(codes, Xw * (Xw @ a)[:, None], g)  # row g: X_g'X_g a

        def parts(u):
            scores = _cluster_sums(codes, Xw * u[:, None], g)  # G x K: X_g'u_g
            c = scores @ a
            H = xx_a @ A @ scores.T
            numerator = c @ v
            z = c[:, None] * v - H @ v
            return numerator, z

        if impose_null:
            others = np.delete(Xw, index, axis=1)
            x_k = Xw[:, index]
            if others.shape[1]:
                coef, *_ = np.linalg.lstsq(others, np.c_[yw, x_k], rcond=None)
                u_y, u_x = yw - others @ coef[:, 0], x_k - others @ coef[:, 1]
            else:
                u_y, u_x = yw.copy(), x_k.copy()
            n_y, z_y = parts(u_y)
            n_x, z_x = parts(u_x)
            self.n_y, self.n_x = n_y, n_x
            self.s_yy, self.s_yx, self.s_xx = (z_y * z_y).sum(0), (z_y * z_x).sum(0), (z_x * z_x).sum(0)
        else:
            self.numerator, z = parts(resid)
            self.denominator = np.sqrt(ssc * (z * z).sum(0))

    def t(self, b0: float) -> np.ndarray:
        """Bootstrap t-statistics for H0: coefficient = b0 (centred on b0 under WCR, on the
        estimate under WCU).
        """
        if not self.impose_null:
            return self.numerator / self.denominator
        variance = self.ssc * (self.s_yy - 2 * b0 * self.s_yx + b0 * b0 * self.s_xx)
        with np.errstate(invalid="ignore", divide="ignore"):
            return (self.n_y - b0 * self.n_x) / np.sqrt(np.maximum(variance, 0.0))


def _p_value(t_boot: np.ndarray, t_stat: float) -> float:
    """Share of |t*| >= |t|; ties up to rounding count against rejection (the identity draw under
    WCR reproduces t exactly).
    """
    tol = 1e-9 * max(1.0, abs(t_stat))
    return float(np.mean(np.abs(t_boot) >= abs(t_stat) - tol))


def _interval(boot: _BootstrapT, estimate: float, se: float, confidence: float) -> tuple[float, float]:
    """Confidence interval by test inversion: the null values whose bootstrap p-value exceeds 1 - ``confidence``.

    Each bound is bracketed by stepping out from the estimate in doubling multiples of the
    CRV1 standard error, then found by bisection; a bound not reached within 2^12 standard
    errors is infinite (with very few clusters the bootstrap may not reject anything).
    """

    def p_at(b0: float) -> float:
        return _p_value(boot.t(b0), (estimate - b0) / se)

    significance = 1 - confidence  # a null value is rejected where the bootstrap p-value is at most this

    bounds = []
    for direction in (-1.0, 1.0):
        inside, outside = estimate, None
        step = se
        for _ in range(13):
            candidate = estimate + direction * step
            if p_at(candidate) <= significance:
                outside = candidate
                break
            inside = candidate
            step *= 2
        if outside is None:
            bounds.append(direction * np.inf)
            continue
        for _ in range(60):
            middle = (inside + outside) / 2
            if p_at(middle) <= significance:
                outside = middle
            else:
                inside = middle
            if abs(outside - inside) <= 1e-10 * max(se, abs(estimate)):
                break
        bounds.append((inside + outside) / 2)
    return bounds[0], bounds[1]
