"""Galster-type threshold effects of an area's composition on individual outcomes.

Galster's research finds contextual effects of neighbourhood poverty that are close to nil below a
poverty share of about 15-20 % and rise steeply up to about 40 %. Two tools test for that pattern
on individual data with an area-level contextual variable ``c`` (e.g. the area's poverty share):

- :func:`piecewise_contextual`: fixed knots (default 15 %, 20 %, 40 %), a linear spline in ``c``
  whose coefficients are the *slopes per segment*, individual covariates, and standard errors
  clustered by area (the contextual variable varies only between areas, so the area is the unit of
  independent information). A Wald test asks whether all segment slopes are equal (no threshold).
- :func:`threshold_regression`: the threshold estimated from the data, in the hinge (regression
  kink) model ``y = X b + beta_below c + delta max(0, c - gamma) + e``; ``gamma`` by profiling least
  squares over a grid of candidate thresholds (the distinct area values of ``c`` between the trim
  quantiles, as in Hansen 2000). The slope above the threshold is ``beta_below + delta``.

Confidence intervals for ``gamma``:

``ci="bootstrap"``
    Area-clustered (pairs) bootstrap of the profiled estimator: resample whole areas with
    replacement, re-profile over the same grid, take the percentile interval. Valid with
    heteroskedastic errors and errors correlated within areas (unobserved area effects, binary
    outcomes). It relies on the *continuity* of the hinge model: in a regression kink model the
    least-squares threshold estimator is root-n consistent and asymptotically normal (Hansen 2017,
    "Regression kink with an unknown threshold", JBES), so the bootstrap is first-order valid. It is
    NOT valid for a model with a jump at the threshold (the sample-splitting model of Hansen 2000),
    where the nonparametric bootstrap of the threshold is inconsistent. With few areas near the
    threshold the percentile interval is coarse (it can only take grid values).
``ci="lr"``
    Hansen's likelihood-ratio inversion: ``LR_n(gamma) = n (SSR(gamma) - SSR(gamma_hat)) /
    SSR(gamma_hat)``, the interval is the set of grid values with ``LR_n <= c(alpha)``. This
    assumes **homoskedastic errors that are independent across individuals** (no unobserved area
    effects): ``n`` counts individuals, so any within-area correlation makes the interval far too
    narrow, and heteroskedasticity (a binary outcome has variance p(1-p)) makes it off by the
    unknown ratio Hansen calls eta^2. By default ``c(alpha) = -2 log(1 - sqrt(1 - alpha))`` (7.35 for
    95 %), Hansen's (2000) critical value for the jump model; for the hinge (kink) model the LR
    statistic is asymptotically chi-square(1) under homoskedasticity (Hansen 2017), so that value is
    conservative; ``lr_reference="chi2"`` uses the chi-square(1) quantile (3.84) instead.

Use the bootstrap interval for register data with area clustering; the LR interval is a cheap
check, and exact only in the idealised homoskedastic case.

Slopes: the clustered (CR1) confidence interval of the slope above is *conditional* on
``gamma_hat``. Unlike the jump model of Hansen (2000), where the threshold is super-consistent and
can be treated as known, in the kink model ``gamma_hat`` and the slopes are jointly root-n normal
and correlated, so the conditional interval is too narrow (about 80 % coverage for a nominal 95 %
in the simulations of the tests). With the bootstrap the unconditional percentile interval, which
re-estimates ``gamma`` in every draw, is reported as well (about 95 %): prefer it.

Grid: the default grid is the distinct area values (Hansen's choice for the jump model, where the
SSR only changes at observed values). In the kink model SSR(gamma) is continuous between area
values, so ``n_fine`` extra equally spaced points between the trim quantiles are legitimate; they
make the LR interval less coarse (with only the area values, the hull of the grid points inside
the LR region can miss a true value lying between two areas).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import EvalueringError
from .context import poverty_share  # re-exported: the area context used with thresholds

__all__ = [
    "ThresholdInputError",
    "PiecewiseResult",
    "ThresholdResult",
    "piecewise_contextual",
    "threshold_regression",
    "threshold_figure",
    "area_means",
    "adjusted_area_means",
    "poverty_share",
    "hansen_critical_value",
]


class ThresholdInputError(EvalueringError, ValueError):
    """The data cannot identify the piecewise or threshold model (bad input)."""


# --------------------------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------------------------


def _check_columns(df: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ThresholdInputError(f"columns not in the data: {missing}")
    bad = {c: int(df[c].isna().sum()) for c in columns if df[c].isna().any()}
    if bad:
        detail = ", ".join(f"{c} ({n} rows)" for c, n in bad.items())
        raise ThresholdInputError(f"missing values in {detail}; drop or impute them first")


def _numeric(series: pd.Series, name: str) -> np.ndarray:
    try:
        return series.to_numpy(dtype=float)
    except (TypeError, ValueError) as err:
        raise ThresholdInputError(f"column {name!r} must be numeric") from err


def _covariates(df: pd.DataFrame, individual: Sequence[str], categorical: Sequence[str]) -> pd.DataFrame:
    """Individual covariates as a numeric frame: numeric columns as they are, non-numeric (and
    those named in ``categorical``) as dummies with the first level left out.
    """
    parts = []
    for col in individual:
        s = df[col]
        if col in categorical or not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
            dummies = pd.get_dummies(s.astype(str), prefix=col, prefix_sep="=", drop_first=True, dtype=float)
            parts.append(dummies)
        else:
            parts.append(pd.DataFrame({col: s.to_numpy(dtype=float)}, index=df.index))
    if not parts:
        return pd.DataFrame(index=df.index)
    return pd.concat(parts, axis=1)


@dataclass(frozen=True)
class _Prepared:
    y: np.ndarray
    c: np.ndarray
    w: np.ndarray
    cluster: np.ndarray  # integer codes 0..G-1
    cluster_labels: np.ndarray
    X: pd.DataFrame  # intercept + individual covariates


def _prepare(df, outcome, context, individual, area, weights, categorical) -> _Prepared:
    individual = list(individual)
    if area is None:
        raise ThresholdInputError("area= is required: the contextual variable varies between areas, "
                                  "so standard errors must be clustered by area")
    columns = [outcome, context, area, *individual] + ([weights] if weights is not None else [])
    _check_columns(df, columns)
    if len(df) == 0:
        raise ThresholdInputError("no rows")
    y = _numeric(df[outcome], outcome)
    c = _numeric(df[context], context)
    w = np.ones(len(df)) if weights is None else _numeric(df[weights], weights)
    if np.any(w < 0) or not np.any(w > 0):
        raise ThresholdInputError("weights must be non-negative and not all zero")
    codes, labels = pd.factorize(df[area], sort=True)
    # The context must be an area-level variable: constant within an area (or an area-year when
    # the area is observed in several years). It must vary between areas.
    if np.unique(c).size < 2:
        raise ThresholdInputError(f"the contextual variable {context!r} is constant across areas; "
                                  "an area effect cannot be estimated")
    if labels.size < 2:
        raise ThresholdInputError("need at least two areas (clusters)")
    X = _covariates(df, individual, categorical)
    X.insert(0, "Intercept", 1.0)
    return _Prepared(y=y, c=c, w=w, cluster=codes, cluster_labels=np.asarray(labels), X=X)


def _wls_cluster(y, X: np.ndarray, w, cluster, n_clusters) -> tuple[np.ndarray, np.ndarray, int]:
    """Weighted least squares with CR1 cluster-robust covariance (Stata's small-sample factor).

    Returns (coefficients, covariance, rank). Collinear columns are handled by the pseudo-inverse
    (their coefficients are not identified; callers check the columns they report on).
    """
    sw = np.sqrt(w)
    Xw = X * sw[:, None]
    XtX = Xw.T @ Xw
    bread = np.linalg.pinv(XtX)
    beta = bread @ (Xw.T @ (y * sw))
    resid = y - X @ beta
    scores = X * (w * resid)[:, None]
    S = np.zeros((n_clusters, X.shape[1]))
    np.add.at(S, cluster, scores)
    meat = S.T @ S
    n, k = X.shape
    rank = int(np.linalg.matrix_rank(XtX))
    g = n_clusters
    factor = g / (g - 1) * (n - 1) / max(n - rank, 1)
    return beta, factor * bread @ meat @ bread, rank


# --------------------------------------------------------------------------------------------
# 1. Piecewise-linear contextual effect with fixed knots
# --------------------------------------------------------------------------------------------


def _segment_basis(c: np.ndarray, knots: Sequence[float]) -> np.ndarray:
    """Linear spline basis whose coefficients are the slopes of the segments."""
    k = list(knots)
    cols = [np.minimum(c, k[0])]
    for lo, hi in zip(k[:-1], k[1:]):
        cols.append(np.clip(c - lo, 0.0, hi - lo))
    cols.append(np.maximum(0.0, c - k[-1]))
    return np.column_stack(cols)


def _segment_labels(knots: Sequence[float]) -> list[str]:
    edges = ["min", *(f"{k:g}" for k in knots), "max"]
    return [f"{a}-{b}" for a, b in zip(edges[:-1], edges[1:])]


@dataclass(frozen=True)
class PiecewiseResult:
    """Slopes of the contextual variable per segment between knots (clustered by area)."""

    outcome: str
    context: str
    knots: tuple[float, ...]
    family: str
    segments: tuple[str, ...]
    slopes: np.ndarray
    se: np.ndarray
    ci_low: np.ndarray
    ci_high: np.ndarray
    n_areas_in_segment: np.ndarray
    equal_slopes_wald: float  # Wald chi-square of H0: all segment slopes equal
    equal_slopes_df: int
    equal_slopes_p: float  # F(df, G-1) reference (small-sample cluster correction)
    n_obs: int
    n_clusters: int
    level: float
    params: pd.Series = field(repr=False)
    cov: pd.DataFrame = field(repr=False)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame({
            "segment": list(self.segments), "slope": self.slopes, "se": self.se,
            "ci_low": self.ci_low, "ci_high": self.ci_high, "n_areas": self.n_areas_in_segment,
        })

    def summary(self) -> str:
        scale = "logit scale" if self.family == "binomial" else "outcome scale"
        lines = [f"Piecewise contextual effect of {self.context} on {self.outcome} ({scale}), "
                 f"knots {', '.join(f'{k:g}' for k in self.knots)}; n = {self.n_obs}, "
                 f"{self.n_clusters} areas (SE clustered by area), {self.level:.0%} CIs"]
        lines.append(self.to_frame().to_string(index=False, float_format=lambda v: f"{v:.4f}"))
        lines.append(f"Equal slopes: Wald = {self.equal_slopes_wald:.2f} on {self.equal_slopes_df} df, "
                     f"p = {self.equal_slopes_p:.4f} (F reference, {self.n_clusters - 1} denominator df)")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        head = (f"<p><b>Piecewise contextual effect</b> of <code>{self.context}</code> on "
                f"<code>{self.outcome}</code>; n = {self.n_obs}, {self.n_clusters} areas</p>")
        foot = (f"<p>Equal slopes: Wald = {self.equal_slopes_wald:.2f} ({self.equal_slopes_df} df), "
                f"p = {self.equal_slopes_p:.4f}</p>")
        return head + self.to_frame().to_html(index=False, float_format=lambda v: f"{v:.4f}") + foot


def piecewise_contextual(
    df: pd.DataFrame,
    outcome: str,
    context: str,
    knots: Sequence[float] = (0.15, 0.20, 0.40),
    individual: Sequence[str] = (),
    area: str | None = None,
    weights: str | None = None,
    family: str = "gaussian",
    *,
    categorical: Sequence[str] = (),
    level: float = 0.95,
) -> PiecewiseResult:
    """Regress an individual outcome on individual covariates and a linear spline in the area's
    contextual variable with the given knots; the spline coefficients are the slopes per segment.

    ``family="gaussian"``: (weighted) least squares, a linear probability model for a 0/1 outcome,
    slopes on the outcome scale. ``family="binomial"``: logit (weights as variance weights, i.e.
    a weighted pseudo-likelihood), slopes on the logit scale. Standard errors are cluster-robust by
    ``area`` (CR1); CIs use t(G-1). Non-numeric covariates and those in ``categorical`` enter as
    dummies.
    """
    knots = tuple(float(k) for k in knots)
    if len(knots) == 0 or any(b <= a for a, b in zip(knots[:-1], knots[1:])):
        raise ThresholdInputError("knots must be a non-empty, strictly increasing sequence")
    if family not in ("gaussian", "binomial"):
        raise ThresholdInputError("family must be 'gaussian' or 'binomial'")
    p = _prepare(df, outcome, context, individual, area, weights, categorical)
    B = _segment_basis(p.c, knots)
    segments = tuple(_segment_labels(knots))
    area_values = pd.Series(p.c).groupby(p.cluster).first().to_numpy()
    edges = [-np.inf, *knots, np.inf]
    n_in = np.array([int(((area_values > lo) & (area_values <= hi)).sum())
                     for lo, hi in zip(edges[:-1], edges[1:])])
    for j, name in enumerate(segments):
        if np.ptp(B[:, j]) == 0:
            raise ThresholdInputError(f"no variation of {context!r} in segment {name}: move the knots "
                                      "inside the range of the area values")
    names = list(p.X.columns) + [f"{context}[{s}]" for s in segments]
    Z = np.column_stack([p.X.to_numpy(dtype=float), B])
    G = p.cluster_labels.size
    if family == "gaussian":
        beta, cov, _ = _wls_cluster(p.y, Z, p.w, p.cluster, G)
    else:
        import statsmodels.api as sm

        if np.any((p.y != 0) & (p.y != 1)):
            raise ThresholdInputError("family='binomial' needs a 0/1 outcome")
        # Unweighted: plain logit. Weighted: variance weights (pseudo-likelihood); statsmodels warns
        # that its cluster sandwich is not fully supported with var_weights - check with care.
        extra = {} if weights is None else {"var_weights": p.w}
        model = sm.GLM(p.y, Z, family=sm.families.Binomial(), **extra)
        fit = model.fit(cov_type="cluster", cov_kwds={"groups": p.cluster})
        beta, cov = np.asarray(fit.params), np.asarray(fit.cov_params())
    k = B.shape[1]
    idx = slice(Z.shape[1] - k, Z.shape[1])
    slopes, V = beta[idx], cov[idx, idx]
    se = np.sqrt(np.diag(V))
    t = stats.t.ppf(0.5 + level / 2, G - 1)
    # H0: all segment slopes equal <=> consecutive differences are zero.
    D = np.diff(np.eye(k), axis=0)
    d = D @ slopes
    wald = float(d @ np.linalg.pinv(D @ V @ D.T) @ d)
    q = k - 1
    p_value = float(stats.f.sf(wald / q, q, G - 1))
    return PiecewiseResult(
        outcome=outcome, context=context, knots=knots, family=family, segments=segments,
        slopes=slopes, se=se, ci_low=slopes - t * se, ci_high=slopes + t * se, n_areas_in_segment=n_in,
        equal_slopes_wald=wald, equal_slopes_df=q, equal_slopes_p=p_value, n_obs=len(p.y), n_clusters=G,
        level=level, params=pd.Series(beta, index=names), cov=pd.DataFrame(cov, index=names, columns=names),
    )


# --------------------------------------------------------------------------------------------
# 2. Estimated threshold (hinge / regression kink model)
# --------------------------------------------------------------------------------------------


def hansen_critical_value(alpha: float = 0.05) -> float:
    """Hansen's (2000) critical value c(alpha) = -2 log(1 - sqrt(1 - alpha)) for the LR interval."""
    return float(-2.0 * np.log(1.0 - np.sqrt(1.0 - alpha)))


@dataclass(frozen=True)
class _Suff:
    """Sufficient statistics of the profile, additive over areas (used by the cluster bootstrap)."""

    ZWZ: np.ndarray  # (G, p, p) per cluster
    ZWy: np.ndarray  # (G, p)
    yWy: np.ndarray  # (G,)
    cell_cluster: np.ndarray  # (C,) cluster of each (cluster, context value) cell
    cell_c: np.ndarray  # (C,)
    cell_w: np.ndarray  # (C,) sum of weights
    cell_wy: np.ndarray  # (C,)
    cell_wz: np.ndarray  # (C, p)


def _sufficient(y, Z, w, cluster, c, G) -> _Suff:
    p = Z.shape[1]
    Zw = Z * w[:, None]
    ZWZ = np.zeros((G, p, p))
    order = np.argsort(cluster, kind="stable")
    bounds = np.searchsorted(cluster[order], np.arange(G + 1))
    for g in range(G):
        rows = order[bounds[g]:bounds[g + 1]]
        ZWZ[g] = Zw[rows].T @ Z[rows]
    ZWy = np.zeros((G, p))
    np.add.at(ZWy, cluster, Zw * y[:, None])
    yWy = np.bincount(cluster, weights=w * y * y, minlength=G)
    cells = pd.DataFrame({"g": cluster, "c": c})
    cell_id, cell_keys = pd.factorize(pd.MultiIndex.from_frame(cells))
    C = len(cell_keys)
    cell_cluster = np.asarray(cell_keys.get_level_values(0), dtype=np.int64)
    cell_c = np.asarray(cell_keys.get_level_values(1), dtype=float)
    cell_w = np.bincount(cell_id, weights=w, minlength=C)
    cell_wy = np.bincount(cell_id, weights=w * y, minlength=C)
    cell_wz = np.zeros((C, p))
    np.add.at(cell_wz, cell_id, Zw)
    return _Suff(ZWZ, ZWy, yWy, cell_cluster, cell_c, cell_w, cell_wy, cell_wz)


def _profile(suff: _Suff, grid: np.ndarray, k: np.ndarray | None = None):
    """SSR(gamma) over the grid for cluster multiplicities ``k`` (None = the sample itself).

    Frisch-Waugh on the area level: with Z the covariates (and c), h = max(0, c - gamma),
    SSR(gamma) = SSR_Z - (h'W M_Z y)^2 / (h'W M_Z h), and every term is a sum over cells of
    (area, context value), so each grid point costs O(cells x p), not O(n x p).
    """
    if k is None:
        ZWZ, ZWy, yWy = suff.ZWZ.sum(0), suff.ZWy.sum(0), suff.yWy.sum()
        m = np.ones(len(suff.cell_c))
    else:
        ZWZ = np.tensordot(k, suff.ZWZ, axes=1)
        ZWy, yWy = k @ suff.ZWy, k @ suff.yWy
        m = k[suff.cell_cluster].astype(float)
    inv = np.linalg.pinv(ZWZ)
    b = inv @ ZWy
    ssr_z = yWy - ZWy @ b
    H = np.maximum(0.0, suff.cell_c[:, None] - grid[None, :])  # (C, G)
    SH = (suff.cell_wz * m[:, None]).T @ H  # (p, grid)
    hy = H.T @ (suff.cell_wy * m) - SH.T @ b
    hh = (suff.cell_w * m) @ (H * H) - np.einsum("ig,ig->g", SH, inv @ SH)
    ok = hh > 1e-10 * max(float((suff.cell_w * m) @ (H * H).max(axis=1, initial=0.0)), 1e-300)
    reduction = np.where(ok, hy ** 2 / np.where(ok, hh, 1.0), 0.0)
    ssr = ssr_z - reduction
    return ssr, (ZWZ, ZWy, SH, H, m, hy, hh)


def _coefficients_at(suff: _Suff, parts, j: int) -> np.ndarray:
    """All coefficients (Z then h) of the hinge model at grid index j, from the normal equations."""
    ZWZ, ZWy, SH, H, m, _, _ = parts
    h = H[:, j]
    hWh = float((suff.cell_w * m) @ (h * h))
    top = np.column_stack([ZWZ, SH[:, j]])
    bottom = np.append(SH[:, j], hWh)
    A = np.vstack([top, bottom])
    rhs = np.append(ZWy, float(h @ (suff.cell_wy * m)))
    return np.linalg.pinv(A) @ rhs


@dataclass(frozen=True)
class ThresholdResult:
    """Estimated threshold of a hinge (regression kink) model and its confidence intervals."""

    outcome: str
    context: str
    gamma_hat: float
    gamma_ci: tuple[float, float]  # the interval of ``ci_method``
    ci_method: str
    gamma_ci_bootstrap: tuple[float, float] | None
    gamma_ci_lr: tuple[float, float] | None
    lr_critical: float | None
    lr_reference: str
    slope_below: float  # 0.0 (fixed) when slope_below=False
    slope_below_ci: tuple[float, float] | None
    slope_above: float  # slope of c above gamma_hat = slope_below + change
    slope_above_se: float
    slope_above_ci: tuple[float, float]  # clustered CR1, conditional on gamma_hat, t(G-1)
    slope_above_ci_bootstrap: tuple[float, float] | None  # percentile, re-estimating gamma per draw
    slope_change: float
    slope_change_ci: tuple[float, float]
    n_obs: int
    n_clusters: int
    n_boot: int
    level: float
    trim: float
    profile: pd.DataFrame = field(repr=False)  # gamma, ssr, lr
    boot_gamma: np.ndarray | None = field(repr=False, default=None)
    params: pd.Series = field(repr=False, default=None)
    mean_linear_part: float = field(repr=False, default=float("nan"))  # mean of X b (no context terms)

    def fitted(self, c) -> np.ndarray:
        """The fitted hinge line at the sample means of the individual covariates."""
        c = np.asarray(c, dtype=float)
        return (self.mean_linear_part + self.slope_below * c
                + self.slope_change * np.maximum(0.0, c - self.gamma_hat))

    def to_frame(self) -> pd.DataFrame:
        rows = [("threshold (gamma)", self.gamma_hat, *self.gamma_ci, self.ci_method)]
        if self.gamma_ci_bootstrap is not None and self.ci_method != "bootstrap":
            rows.append(("threshold (gamma)", self.gamma_hat, *self.gamma_ci_bootstrap, "bootstrap"))
        if self.gamma_ci_lr is not None and self.ci_method != "lr":
            rows.append(("threshold (gamma)", self.gamma_hat, *self.gamma_ci_lr, "lr"))
        if self.slope_below_ci is not None:
            rows.append(("slope below", self.slope_below, *self.slope_below_ci, "cluster"))
        rows.append(("slope above", self.slope_above, *self.slope_above_ci, "cluster | gamma_hat"))
        if self.slope_above_ci_bootstrap is not None:
            rows.append(("slope above", self.slope_above, *self.slope_above_ci_bootstrap, "bootstrap"))
        rows.append(("change in slope", self.slope_change, *self.slope_change_ci, "cluster | gamma_hat"))
        return pd.DataFrame(rows, columns=["parameter", "estimate", "ci_low", "ci_high", "method"])

    def summary(self) -> str:
        head = (f"Threshold (hinge) model: {self.outcome} on max(0, {self.context} - gamma); n = {self.n_obs}, "
                f"{self.n_clusters} areas, trim {self.trim:g}, {self.level:.0%} intervals"
                + (f", {self.n_boot} cluster-bootstrap draws" if self.n_boot else ""))
        body = self.to_frame().to_string(index=False, float_format=lambda v: f"{v:.4f}")
        notes = []
        if self.gamma_ci_lr is not None:
            notes.append(f"LR interval: critical value {self.lr_critical:.2f} ({self.lr_reference}); "
                         "assumes homoskedastic errors independent across individuals")
        return "\n".join([head, body, *notes])

    def __str__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        head = (f"<p><b>Threshold (hinge) model</b>: <code>{self.outcome}</code> on "
                f"<code>{self.context}</code>; n = {self.n_obs}, {self.n_clusters} areas</p>")
        return head + self.to_frame().to_html(index=False, float_format=lambda v: f"{v:.4f}")


def _percentile(x: np.ndarray, level: float) -> tuple[float, float]:
    a = (1 - level) / 2
    lo, hi = np.quantile(x, [a, 1 - a])
    return float(lo), float(hi)


def threshold_regression(
    df: pd.DataFrame,
    outcome: str,
    context: str,
    individual: Sequence[str] = (),
    area: str | None = None,
    grid: Sequence[float] | None = None,
    trim: float = 0.1,
    weights: str | None = None,
    n_boot: int = 199,
    seed: int | np.random.Generator | None = None,
    ci: str | Sequence[str] = ("bootstrap", "lr"),
    *,
    slope_below: bool = True,
    categorical: Sequence[str] = (),
    level: float = 0.95,
    lr_reference: str = "hansen2000",
    min_grid: int = 5,
    n_fine: int = 0,
) -> ThresholdResult:
    """Estimate the threshold ``gamma`` of ``y = X b + beta_below c + delta max(0, c - gamma)``.

    ``grid``: candidate thresholds; default the distinct area values of ``context`` (each area, or
    area-year, counted once) between its ``trim`` and ``1 - trim`` quantiles. ``ci``: "bootstrap",
    "lr" or both (the first named is ``gamma_ci``); see the module docstring for when each is
    valid. ``slope_below=False`` fixes the slope below the threshold at zero (the pure hinge).
    ``lr_reference``: "hansen2000" (c(alpha) = -2 log(1 - sqrt(1 - alpha)), conservative for a kink)
    or "chi2" (chi-square(1) quantile, Hansen 2017's kink asymptotics). ``n_fine``: extra equally
    spaced grid points between the trimmed extremes (default grid only).
    """
    methods = (ci,) if isinstance(ci, str) else tuple(ci)
    if not methods or any(m not in ("bootstrap", "lr") for m in methods):
        raise ThresholdInputError("ci must be 'bootstrap', 'lr' or both")
    if lr_reference not in ("hansen2000", "chi2"):
        raise ThresholdInputError("lr_reference must be 'hansen2000' or 'chi2'")
    if not 0 <= trim < 0.5:
        raise ThresholdInputError("trim must be in [0, 0.5)")
    if "bootstrap" in methods and n_boot < 1:
        raise ThresholdInputError("n_boot must be positive for a bootstrap interval")
    p = _prepare(df, outcome, context, individual, area, weights, categorical)
    G = p.cluster_labels.size
    cols = [p.X.to_numpy(dtype=float)] + ([p.c[:, None]] if slope_below else [])
    Z = np.column_stack(cols)
    names = list(p.X.columns) + ([context] if slope_below else [])

    cell_values = pd.DataFrame({"g": p.cluster, "c": p.c}).drop_duplicates()["c"].to_numpy()
    if grid is None:
        lo, hi = np.quantile(cell_values, [trim, 1 - trim])
        grid_arr = np.unique(cell_values[(cell_values >= lo) & (cell_values <= hi)])
        if grid_arr.size < min_grid:
            raise ThresholdInputError(
                f"only {grid_arr.size} distinct area values of {context!r} between the {trim:g} and "
                f"{1 - trim:g} quantiles (need {min_grid}); more areas, a smaller trim or an explicit grid")
        if n_fine > 0:
            grid_arr = np.unique(np.concatenate([grid_arr, np.linspace(grid_arr[0], grid_arr[-1], n_fine)]))
    else:
        grid_arr = np.unique(np.asarray(grid, dtype=float))
        if grid_arr.size < 1:
            raise ThresholdInputError("empty grid")
        if grid_arr.max() >= cell_values.max():
            raise ThresholdInputError("grid values must lie below the largest area value of the context")

    suff = _sufficient(p.y, Z, p.w, p.cluster, p.c, G)
    ssr, parts = _profile(suff, grid_arr)
    j_hat = int(np.argmin(ssr))
    gamma_hat = float(grid_arr[j_hat])
    ssr_hat = float(ssr[j_hat])
    n = len(p.y)
    lr = n * (ssr - ssr_hat) / ssr_hat
    profile = pd.DataFrame({"gamma": grid_arr, "ssr": ssr, "lr": lr})

    # Slopes at gamma_hat: full regression with CR1 cluster covariance.
    h = np.maximum(0.0, p.c - gamma_hat)
    Zh = np.column_stack([Z, h])
    beta, cov, _ = _wls_cluster(p.y, Zh, p.w, p.cluster, G)
    t = stats.t.ppf(0.5 + level / 2, G - 1)
    change, change_se = float(beta[-1]), float(np.sqrt(cov[-1, -1]))
    if slope_below:
        below, below_se = float(beta[-2]), float(np.sqrt(cov[-2, -2]))
        above = below + change
        above_se = float(np.sqrt(cov[-2, -2] + cov[-1, -1] + 2 * cov[-2, -1]))
        below_ci = (below - t * below_se, below + t * below_se)
    else:
        below, below_ci, above, above_se = 0.0, None, change, change_se
    linear = Zh[:, : p.X.shape[1]] @ beta[: p.X.shape[1]]
    mean_linear = float(np.average(linear, weights=p.w))

    gamma_ci_lr = crit = None
    if "lr" in methods:
        a = 1 - level
        crit = hansen_critical_value(a) if lr_reference == "hansen2000" else float(stats.chi2.ppf(level, 1))
        inside = grid_arr[lr <= crit]
        gamma_ci_lr = (float(inside.min()), float(inside.max()))

    gamma_ci_boot = slope_boot_ci = boot_gamma = None
    n_boot_done = 0
    if "bootstrap" in methods:
        rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
        boot_gamma = np.empty(n_boot)
        boot_slope = np.empty(n_boot)
        for r in range(n_boot):
            k = np.bincount(rng.integers(0, G, G), minlength=G).astype(float)
            ssr_b, parts_b = _profile(suff, grid_arr, k)
            jb = int(np.argmin(ssr_b))
            boot_gamma[r] = grid_arr[jb]
            coef = _coefficients_at(suff, parts_b, jb)
            boot_slope[r] = coef[-1] + (coef[-2] if slope_below else 0.0)
        gamma_ci_boot = _percentile(boot_gamma, level)
        slope_boot_ci = _percentile(boot_slope, level)
        n_boot_done = n_boot

    gamma_ci = gamma_ci_boot if methods[0] == "bootstrap" else gamma_ci_lr
    return ThresholdResult(
        outcome=outcome, context=context, gamma_hat=gamma_hat, gamma_ci=gamma_ci, ci_method=methods[0],
        gamma_ci_bootstrap=gamma_ci_boot, gamma_ci_lr=gamma_ci_lr, lr_critical=crit, lr_reference=lr_reference,
        slope_below=below, slope_below_ci=below_ci, slope_above=above, slope_above_se=above_se,
        slope_above_ci=(above - t * above_se, above + t * above_se), slope_above_ci_bootstrap=slope_boot_ci,
        slope_change=change, slope_change_ci=(change - t * change_se, change + t * change_se),
        n_obs=n, n_clusters=G, n_boot=n_boot_done, level=level, trim=trim, profile=profile,
        boot_gamma=boot_gamma, params=pd.Series(beta, index=names + [f"max(0, {context} - gamma)"]),
        mean_linear_part=mean_linear,
    )


# --------------------------------------------------------------------------------------------
# Area-level helpers and the figure
# --------------------------------------------------------------------------------------------


def area_means(df: pd.DataFrame, outcome: str, context: str, area: str, weights: str | None = None) -> pd.DataFrame:
    """Area (or area-year when ``area`` is a list) means of the outcome, with the context and n,
    ready for :func:`threshold_figure`.
    """
    keys = [area] if isinstance(area, str) else list(area)
    w = np.ones(len(df)) if weights is None else df[weights].to_numpy(dtype=float)
    tmp = df[keys + [context]].assign(_wy=w * df[outcome].to_numpy(dtype=float), _w=w)
    g = tmp.groupby(keys, observed=True)
    out = g.agg(_wy=("_wy", "sum"), _w=("_w", "sum"), **{context: (context, "first")})
    out["n"] = g.size()
    out[outcome] = out["_wy"] / out["_w"]
    return out.drop(columns=["_wy", "_w"]).reset_index()


def adjusted_area_means(result: ThresholdResult, df: pd.DataFrame, area: str, individual: Sequence[str] = (),
                        *, weights: str | None = None, categorical: Sequence[str] = ()) -> pd.DataFrame:
    """Area means of the outcome adjusted to the mean individual covariates, the basis of the
    fitted line (:meth:`ThresholdResult.fitted`), ready for :func:`threshold_figure`.

    Each person's outcome has their covariate part ``X_i b`` replaced by its sample mean, with
    ``b`` the model's coefficients: ``y_i - X_i b + mean(X b)``. An area's adjusted mean minus the
    line at its context value is then the area's mean residual, so points and line condition on
    the same covariates (raw means differ from the line by the area's composition as well).
    ``df``, ``individual``, ``weights`` and ``categorical`` must be those the result was fitted
    with. The raw mean is kept in the column ``raw``.
    """
    _check_columns(df, [result.outcome, result.context, area, *individual])
    X = _covariates(df, individual, categorical)
    X.insert(0, "Intercept", 1.0)
    unknown = [c for c in X.columns if c not in result.params.index]
    if unknown:
        raise ThresholdInputError(f"covariates {unknown} are not in the fitted model: pass the individual "
                                  "covariates and categorical columns the threshold was estimated with")
    linear = X.to_numpy(dtype=float) @ result.params[list(X.columns)].to_numpy()
    adjusted = df[result.outcome].to_numpy(dtype=float) - linear + result.mean_linear_part
    means = area_means(df.assign(_adjusted=adjusted), "_adjusted", result.context, area, weights)
    raw = area_means(df, result.outcome, result.context, area, weights)[result.outcome].to_numpy()
    return means.rename(columns={"_adjusted": result.outcome}).assign(raw=raw)


def threshold_figure(result: ThresholdResult, df_area_means: pd.DataFrame, *,
                     xlabel: str = "Andel fattige i området", ylabel: str = "Andel i beskæftigelse",
                     n_column: str = "n", points_label: str = "Områder", ax=None):
    """Area means of the outcome against the contextual variable (points sized by n), the fitted
    hinge line (at the mean of the individual covariates) and the threshold with its confidence
    band. Pass :func:`adjusted_area_means` so the points are on the line's basis; raw means
    (:func:`area_means`) are shifted from the line by each area's composition.
    """
    import matplotlib

    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(7.0, 4.5), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    from ..report import format as fmt

    x = df_area_means[result.context].to_numpy(dtype=float)
    y = df_area_means[result.outcome].to_numpy(dtype=float)
    n = df_area_means[n_column].to_numpy(dtype=float) if n_column in df_area_means else np.ones(len(x))
    sizes = 10 + 90 * n / max(n.max(), 1)
    ax.scatter(x, y, s=sizes, color="#4d6b8a", alpha=0.6, edgecolor="white", linewidth=0.5, label=points_label)
    xs = np.linspace(min(x.min(), result.gamma_ci[0]), max(x.max(), result.gamma_ci[1]), 300)
    ax.plot(xs, result.fitted(xs), color="#b34700", linewidth=2, label="Tilpasset knæk-model")
    lo, hi = result.gamma_ci
    ax.axvspan(lo, hi, color="#b34700", alpha=0.12,
               label=f"{result.level:.0%}-konfidensinterval for tærsklen".replace(".", ","))
    ax.axvline(result.gamma_hat, color="#b34700", linestyle="--", linewidth=1,
               label=f"Tærskel: {fmt.share(result.gamma_hat, 1)}")
    share_fmt = matplotlib.ticker.FuncFormatter(lambda v, _: fmt.share(v, 0))
    ax.xaxis.set_major_formatter(share_fmt)
    ax.yaxis.set_major_formatter(share_fmt)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, fontsize="small")
    return fig
