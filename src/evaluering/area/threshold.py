"""Galster-type threshold effects of an area's composition on individual outcomes.

Galster's research finds contextual effects of neighbourhood poverty that are close to nil below a
poverty share of about 15-20 % and rise steeply up to about 40 %. Two tools test for that pattern
on individual data with an area-level contextual variable ``c`` (e.g. the area's poverty share):
fixed knots (:func:`evaluering.area.piecewise.piecewise_contextual`), and, here,

- :func:`threshold_regression`: the threshold estimated from the data, in the hinge (regression
  kink) model ``y = X b + beta_below c + delta max(0, c - gamma) + e``; ``gamma`` by profiling least
  squares over a grid of candidate thresholds (the distinct area values of ``c`` between the trim
  quantiles, as in Hansen 2000). The slope above the threshold is ``beta_below + delta``.

Confidence intervals for ``gamma``:

``interval_methods="bootstrap"``
    Area-clustered (pairs) bootstrap of the profiled estimator: resample whole areas with
    replacement, re-profile over the same grid, take the percentile interval. Valid with
    heteroskedastic errors and errors correlated within areas (unobserved area effects, binary
    outcomes). It relies on the *continuity* of the hinge model: in a regression kink model the
    least-squares threshold estimator is root-n consistent and asymptotically normal (Hansen 2017,
    "Regression kink with an unknown threshold", JBES), so the bootstrap is first-order valid. It is
    NOT valid for a model with a jump at the threshold (the sample-splitting model of Hansen 2000),
    where the nonparametric bootstrap of the threshold is inconsistent. With few areas near the
    threshold the percentile interval is coarse (it can only take grid values).
``interval_methods="lr"``
    Hansen's likelihood-ratio inversion: ``LR_n(gamma) = n (SSR(gamma) - SSR(gamma_hat)) /
    SSR(gamma_hat)``, the interval is the set of grid values with ``LR_n <= c(alpha)``
    (``alpha = 1 - confidence``). This assumes **homoskedastic errors that are independent across
    individuals** (no unobserved area effects): ``n`` counts individuals, so any within-area
    correlation makes the interval far too narrow, and heteroskedasticity (a binary outcome has
    variance p(1-p)) makes it off by the unknown ratio Hansen calls eta^2. By default
    ``c(alpha) = -2 log(1 - sqrt(1 - alpha))`` (7.35 for 95 %), Hansen's (2000) critical value for
    the jump model; for the hinge (kink) model the LR statistic is asymptotically chi-square(1)
    under homoskedasticity (Hansen 2017), so that value is conservative; ``lr_reference="chi2"``
    uses the chi-square(1) quantile (3.84) instead.

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

The figure is :func:`evaluering.report.area_figures.threshold_figure`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from ..numerics import interval
from ..results import ResultDisplay
from .context import poverty_share  # re-exported: the area context used with thresholds
from .contextual_design import check_columns, individual_design, prepare, wls_cluster
from .errors import ThresholdInputError

__all__ = [
    "ThresholdInputError",
    "ThresholdResult",
    "adjusted_area_means",
    "area_means",
    "hansen_critical_value",
    "poverty_share",
    "threshold_regression",
]


# --------------------------------------------------------------------------------------------
# 2. Estimated threshold (hinge / regression kink model)
# --------------------------------------------------------------------------------------------


def hansen_critical_value(*, confidence: float = 0.95) -> float:
    """Hansen's (2000) critical value c(alpha) = -2 log(1 - sqrt(1 - alpha)), alpha = 1 - confidence,
    for the LR interval.
    """
    return float(-2.0 * np.log(1.0 - np.sqrt(confidence)))


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


@dataclass(frozen=True, repr=False)
class ThresholdResult(ResultDisplay):
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
    confidence: float
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
        """One row per interval: the threshold, the slopes below and above it and the change."""
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

    def _headline(self) -> str:
        return (f"Threshold (hinge) model: {self.outcome} on max(0, {self.context} - gamma); n = {self.n_obs}, "
                f"{self.n_clusters} areas, trim {self.trim:g}, {self.confidence:.0%} intervals"
                + (f", {self.n_boot} cluster-bootstrap draws" if self.n_boot else ""))

    def _notes(self) -> list[str]:
        if self.gamma_ci_lr is None:
            return []
        return [f"LR interval: critical value {self.lr_critical:.2f} ({self.lr_reference}); "
                "assumes homoskedastic errors independent across individuals"]


def _t_interval(estimate: float, se: float, confidence: float, n_clusters: int) -> tuple[float, float]:
    """Clustered interval with t(G - 1) quantiles."""
    low, high, _ = interval(estimate, se, confidence, df=n_clusters - 1)
    return low, high


def _percentile(x: np.ndarray, confidence: float) -> tuple[float, float]:
    a = (1 - confidence) / 2
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
    interval_methods: str | Sequence[str] = ("bootstrap", "lr"),
    *,
    slope_below: bool = True,
    categorical: Sequence[str] = (),
    confidence: float = 0.95,
    lr_reference: str = "hansen2000",
    min_grid: int = 5,
    n_fine: int = 0,
) -> ThresholdResult:
    """Estimate the threshold ``gamma`` of ``y = X b + beta_below c + delta max(0, c - gamma)``.

    ``grid``: candidate thresholds; default the distinct area values of ``context`` (each area, or
    area-year, counted once) between its ``trim`` and ``1 - trim`` quantiles. ``interval_methods``: "bootstrap",
    "lr" or both (the first named is ``gamma_ci``); see the module docstring for when each is
    valid. ``slope_below=False`` fixes the slope below the threshold at zero (the pure hinge).
    ``lr_reference``: "hansen2000" (c(alpha) = -2 log(1 - sqrt(1 - alpha)), conservative for a kink)
    or "chi2" (chi-square(1) quantile, Hansen 2017's kink asymptotics). ``n_fine``: extra equally
    spaced grid points between the trimmed extremes (default grid only).
    """
    methods = (interval_methods,) if isinstance(interval_methods, str) else tuple(interval_methods)
    if not methods or any(m not in ("bootstrap", "lr") for m in methods):
        raise ThresholdInputError("interval_methods must be 'bootstrap', 'lr' or both")
    if lr_reference not in ("hansen2000", "chi2"):
        raise ThresholdInputError("lr_reference must be 'hansen2000' or 'chi2'")
    if not 0 < confidence < 1:
        raise ThresholdInputError("confidence must be between 0 and 1")
    if not 0 <= trim < 0.5:
        raise ThresholdInputError("trim must be in [0, 0.5)")
    if "bootstrap" in methods and n_boot < 1:
        raise ThresholdInputError("n_boot must be positive for a bootstrap interval")
    p = prepare(df, outcome, context, individual, area, weights, categorical)
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
    beta, cov, _ = wls_cluster(p.y, Zh, p.w, p.cluster, G)
    change, change_se = float(beta[-1]), float(np.sqrt(cov[-1, -1]))
    if slope_below:
        below, below_se = float(beta[-2]), float(np.sqrt(cov[-2, -2]))
        above = below + change
        above_se = float(np.sqrt(cov[-2, -2] + cov[-1, -1] + 2 * cov[-2, -1]))
        below_ci = _t_interval(below, below_se, confidence, G)
    else:
        below, below_ci, above, above_se = 0.0, None, change, change_se
    linear = Zh[:, : p.X.shape[1]] @ beta[: p.X.shape[1]]
    mean_linear = float(np.average(linear, weights=p.w))

    gamma_ci_lr = crit = None
    if "lr" in methods:
        crit = (hansen_critical_value(confidence=confidence) if lr_reference == "hansen2000"
                else float(stats.chi2.ppf(confidence, 1)))
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
        gamma_ci_boot = _percentile(boot_gamma, confidence)
        slope_boot_ci = _percentile(boot_slope, confidence)
        n_boot_done = n_boot

    gamma_ci = gamma_ci_boot if methods[0] == "bootstrap" else gamma_ci_lr
    return ThresholdResult(
        outcome=outcome, context=context, gamma_hat=gamma_hat, gamma_ci=gamma_ci, ci_method=methods[0],
        gamma_ci_bootstrap=gamma_ci_boot, gamma_ci_lr=gamma_ci_lr, lr_critical=crit, lr_reference=lr_reference,
        slope_below=below, slope_below_ci=below_ci, slope_above=above, slope_above_se=above_se,
        slope_above_ci=_t_interval(above, above_se, confidence, G), slope_above_ci_bootstrap=slope_boot_ci,
        slope_change=change, slope_change_ci=_t_interval(change, change_se, confidence, G),
        n_obs=n, n_clusters=G, n_boot=n_boot_done, confidence=confidence, trim=trim, profile=profile,
        boot_gamma=boot_gamma, params=pd.Series(beta, index=names + [f"max(0, {context} - gamma)"]),
        mean_linear_part=mean_linear,
    )


# --------------------------------------------------------------------------------------------
# Area-level means (the points of the threshold figure)
# --------------------------------------------------------------------------------------------


def area_means(df: pd.DataFrame, outcome: str, context: str, area: str, weights: str | None = None) -> pd.DataFrame:
    """Area (or area-year when ``area`` is a list) means of the outcome, with the context and n,
    ready for :func:`~evaluering.report.area_figures.threshold_figure`.
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
    fitted line (:meth:`ThresholdResult.fitted`), ready for
    :func:`~evaluering.report.area_figures.threshold_figure`.

    Each person's outcome has their covariate part ``X_i b`` replaced by its sample mean, with
    ``b`` the model's coefficients: ``y_i - X_i b + mean(X b)``. An area's adjusted mean minus the
    line at its context value is then the area's mean residual, so points and line condition on
    the same covariates (raw means differ from the line by the area's composition as well).
    ``df``, ``individual``, ``weights`` and ``categorical`` must be those the result was fitted
    with. The raw mean is kept in the column ``raw``.
    """
    check_columns(df, [result.outcome, result.context, area, *individual])
    X = individual_design(df, individual, categorical)
    unknown = [c for c in X.columns if c not in result.params.index]
    if unknown:
        raise ThresholdInputError(f"covariates {unknown} are not in the fitted model: pass the individual "
                                  "covariates and categorical columns the threshold was estimated with")
    linear = X.to_numpy(dtype=float) @ result.params[list(X.columns)].to_numpy()
    adjusted = df[result.outcome].to_numpy(dtype=float) - linear + result.mean_linear_part
    means = area_means(df.assign(_adjusted=adjusted), "_adjusted", result.context, area, weights)
    raw = area_means(df, result.outcome, result.context, area, weights)[result.outcome].to_numpy()
    return means.rename(columns={"_adjusted": result.outcome}).assign(raw=raw)
