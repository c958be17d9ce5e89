"""The gap between a district and the rest of the municipality split into *composition* (who lives
there) and an *area* part (what remains once the composition is accounted for).

The gap is ``district mean - rest mean`` of an indicator (e.g. employment of 30-64-year-olds).
Two decompositions, both ``gap = composition + area``:

**Oaxaca-Blinder, twofold with pooled reference coefficients.** A (weighted) linear regression on
the district and the rest together, *with a district indicator* (Oaxaca & Ransom 1994 pooled
model; Jann 2008 / Fortin 2008 include the group dummy so the group difference does not leak into
the reference slopes, which biases Neumark's 1988 version without it towards explaining the gap):

    y = a + x'b* + d * D + e,
    composition = (xbar_district - xbar_rest)'b*,
    area        = (ybar_district - xbar_district'b*) - (ybar_rest - xbar_rest'b*).

With an intercept OLS reproduces each mean exactly, so ``composition + area`` equals the raw gap
identically (the area part is the two groups' unexplained parts, the district's advantage over the
pooled structure minus the rest's). The area part is the composition-adjusted difference, i.e. the
"area effect" if the covariates capture everything about the people that matters and the effect of
the covariates is the same in both places (a linear, additive outcome model).

**Reweighting (DiNardo, Fortin & Lemieux 1996).** A logit of "lives in the district" on the
covariates gives ``p(x)``; each rest person is reweighted by ``p(x) / (1 - p(x))`` (normalised),
which gives the rest the district's composition. With ``cf`` the reweighted rest mean (what the
rest would have with the district's people):

    composition = cf - rest mean,   area = district mean - cf.

(The composition part is the reweighted rest minus the rest because the gap is defined as district
minus rest.) No functional form for the outcome is needed, but the logit must reproduce the
district's composition (saturated dummies do) and every kind of district resident must also be
found in the rest (common support; a category present only in the district raises an error; the
effective sample size of the reweighted rest is reported).

**Standard errors** by bootstrap (``n_boot`` replicates, ``seed``), resampling within the district
and within the rest separately (the group sizes are fixed, as in a comparison of two populations):
persons (rows) by default, or whole clusters with ``cluster`` (e.g. the person when several years
are pooled). Resampling *areas* is possible (``cluster="area_id"``) but a district has only a
handful of areas, so its area bootstrap is unreliable; the person bootstrap treats the residents as
the sample and the areas as fixed, which is the question asked ("is this district's gap composition
or place?"). Intervals are normal: estimate +- z * bootstrap SE.

The figure is :func:`evaluering.report.area_figures.decomposition_figure`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import partial

import numpy as np
import pandas as pd

from ..columns import as_float, require_columns
from ..numerics import interval, weighted_logit
from ..results import ResultDisplay
from .errors import AreaModelError

__all__ = ["COMPONENT_LABELS", "METHOD_LABELS", "DecompositionResult", "dfl_reweighting", "oaxaca_blinder"]

METHOD_LABELS = {"oaxaca": "Oaxaca-Blinder", "dfl": "Omvægtning (DFL)"}
COMPONENT_LABELS = {"gap": "Forskel i alt", "composition": "Sammensætning", "area": "Områdeeffekt"}


@dataclass(frozen=True, repr=False)
class DecompositionResult(ResultDisplay):
    """gap = composition + area, with bootstrap standard errors."""

    method: str
    outcome: str
    district: str
    district_mean: float
    rest_mean: float
    counterfactual_mean: float  # the rest's mean with the district's composition (OB: the prediction)
    gap: float
    composition: float
    area: float
    se_gap: float
    se_composition: float
    se_area: float
    n_district: int
    n_rest: int
    n_boot: int
    resampling: str
    seed: int | None
    covariates: tuple[str, ...] = ()
    confidence: float = 0.95
    detail: pd.DataFrame = field(default_factory=pd.DataFrame)
    diagnostics: dict = field(default_factory=dict)

    def to_frame(self) -> pd.DataFrame:
        """One row per component (gap, composition, area): estimate, bootstrap SE, normal interval."""
        rows = []
        for comp in ("gap", "composition", "area"):
            est, se = getattr(self, comp), getattr(self, f"se_{comp}")
            low, high, p = interval(est, se, self.confidence)
            rows.append({"method": self.method, "outcome": self.outcome, "district": self.district,
                         "component": comp, "label": COMPONENT_LABELS[comp], "estimate": est, "se": se,
                         "ci_low": low, "ci_high": high, "p_value": p,
                         "share_of_gap": est / self.gap if self.gap != 0 else np.nan})
        return pd.DataFrame(rows)

    def _headline(self) -> str:
        return (f"{self.outcome}, {self.district} vs the rest ({METHOD_LABELS.get(self.method, self.method)}): "
                f"gap {self.gap:+.4f} = composition {self.composition:+.4f} + area {self.area:+.4f}")

    def _notes(self) -> list[str]:
        return [f"Means {self.district_mean:.4f} vs {self.rest_mean:.4f} (rest with the district's composition "
                f"{self.counterfactual_mean:.4f}); n = {self.n_district:,} / {self.n_rest:,}; {self.n_boot} "
                f"bootstrap replicates ({self.resampling})"]

    def _extra_frames(self) -> dict[str, pd.DataFrame]:
        if self.detail.empty:
            return {}
        return {"Composition part by covariate": self.detail.set_index("covariate")}


# --- input --------------------------------------------------------------------------------------------


def _groups(data: pd.DataFrame, group: str, district: str, rest: Sequence[str] | None) -> tuple[np.ndarray, ...]:
    """Rows of the district and rows of the rest (every other non-missing group, or those in ``rest``)."""
    g = data[group].astype(object)
    in_d = (g == district).to_numpy()
    in_r = (g.isin(list(rest)) if rest is not None else (g != district) & g.notna()).to_numpy()
    return in_d, in_r


def _check_common_support(data: pd.DataFrame, covariates: Sequence[str], district: str, in_d: np.ndarray,
                          in_r: np.ndarray) -> None:
    """A category found among the district's residents but not in the rest has no one to stand in for it."""
    for c in covariates:
        if pd.api.types.is_bool_dtype(data[c]) or not pd.api.types.is_numeric_dtype(data[c]):
            levels = data[c].astype(str).where(data[c].notna())
            only = set(levels[in_d].dropna()) - set(levels[in_r].dropna())
            if only:
                raise AreaModelError(f"no common support: {c} = {sorted(only)} occurs in '{district}' but not "
                                     "in the rest")


def _prepare(data: pd.DataFrame, outcome: str, group: str, district: str, covariates: Sequence[str],
             weights: str | None, cluster: str | None, rest: Sequence[str] | None, common_support: bool) -> dict:
    covariates = list(covariates)
    if not covariates:
        raise AreaModelError("give at least one covariate describing the composition")
    needed = list(dict.fromkeys([outcome, group, *covariates, weights, cluster]))
    require_columns(data, needed, what="data", error=AreaModelError)
    needed = [c for c in needed if c is not None]
    if outcome in covariates or group in covariates:
        raise AreaModelError("the outcome and the group cannot be covariates")
    in_d, in_r = _groups(data, group, district, rest)
    if not in_d.any():
        raise AreaModelError(f"no rows of the district '{district}' in '{group}'")
    if not in_r.any():
        raise AreaModelError(f"no rows of the rest of the municipality in '{group}'")
    if common_support:
        _check_common_support(data, covariates, district, in_d, in_r)
    frame = data.loc[in_d | in_r, needed]
    y = as_float(frame[outcome], outcome, error=AreaModelError)
    ok = ~np.isnan(y) & frame[covariates].notna().all(axis=1).to_numpy()
    w = np.ones(len(frame)) if weights is None else frame[weights].to_numpy(dtype=float)
    if weights is not None:
        if np.isnan(w).any() or (w < 0).any():
            raise AreaModelError(f"weights '{weights}' must be non-negative without missing values")
        ok &= w > 0
    frame, y, w = frame[ok], y[ok], w[ok]
    D = (frame[group].astype(object) == district).to_numpy()
    if D.sum() < 2 or (~D).sum() < 2:
        raise AreaModelError("fewer than two usable rows (outcome and covariates present) in the district or "
                             "the rest")
    X, labels = _design(frame, covariates)
    if cluster is not None:
        cl = frame[cluster].to_numpy()
        if pd.isna(cl).any():
            raise AreaModelError(f"missing values in the cluster column '{cluster}'")
        codes = pd.factorize(cl)[0]
        in_both = np.intersect1d(np.unique(codes[D]), np.unique(codes[~D]))
        if len(in_both):
            raise AreaModelError(f"clusters of '{cluster}' span the district and the rest ({len(in_both)} of "
                                 "them): the bootstrap resamples clusters within each group")
    else:
        codes = np.arange(len(y))
    return {"y": y, "X": X, "D": D, "w": w, "labels": labels, "cluster": codes, "covariates": covariates,
            "frame": frame}


def _design(frame: pd.DataFrame, covariates: list[str]) -> tuple[np.ndarray, list[str]]:
    """Covariate columns (non-numeric and boolean ones as dummies, first level left out) that vary,
    and the covariate each column comes from.
    """
    parts, labels = [], []
    for c in covariates:
        col = frame[c]
        if pd.api.types.is_bool_dtype(col) or not pd.api.types.is_numeric_dtype(col):
            dummies = pd.get_dummies(col.astype(str), prefix=c, prefix_sep="=", drop_first=True, dtype=float)
            parts.append(dummies.to_numpy())
            labels += [c] * dummies.shape[1]
        else:
            parts.append(col.to_numpy(dtype=float)[:, None])
            labels.append(c)
    X = np.column_stack(parts) if parts else np.empty((len(frame), 0))
    var = X.var(axis=0) > 0
    X, labels = X[:, var], [lab for lab, v in zip(labels, var, strict=True) if v]
    if X.shape[1] == 0:
        raise AreaModelError("the covariates do not vary: there is no composition to account for")
    return X, labels


def _wmean(v: np.ndarray, w: np.ndarray) -> np.ndarray:
    return (w @ v) / w.sum()


# --- the estimators (on arrays; the bootstrap calls them with resampling weights) ----------------------


def _ob(y, X, D, w) -> tuple[float, float, float, float, np.ndarray]:
    """(district mean, rest mean, composition, counterfactual, per-column composition)."""
    Z = np.column_stack([np.ones(len(y)), X, D.astype(float)])
    sw = np.sqrt(w)
    beta = np.linalg.lstsq(Z * sw[:, None], y * sw, rcond=None)[0]
    b = beta[1:-1]
    xd, xr = _wmean(X[D], w[D]), _wmean(X[~D], w[~D])
    yd, yr = _wmean(y[D], w[D]), _wmean(y[~D], w[~D])
    contrib = (xd - xr) * b
    return yd, yr, float(contrib.sum()), yr + float(contrib.sum()), contrib


def _cells(X: np.ndarray, D: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The distinct rows of (intercept, covariates, residence) and each person's row among them."""
    cells, inverse = np.unique(np.column_stack([np.ones(len(D)), X, D]), axis=0, return_inverse=True)
    return cells, inverse.reshape(-1)


def _district_probability(cells: np.ndarray, inverse: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Each person's fitted probability of district residence from the weighted logit on the covariates;
    warns if it did not converge (separation: a kind of resident found only in the rest gets a
    probability near 0, i.e. no weight).

    The logit is fitted on the distinct rows of (covariates, residence) with their summed weights:
    the same likelihood, so the same coefficients, but a few hundred rows instead of every person
    (each bootstrap replicate refits it).
    """
    fit = weighted_logit(cells[:, :-1], cells[:, -1], np.bincount(inverse, weights=w, minlength=len(cells)))
    if not fit.converged:
        warnings.warn("the logit of district residence did not converge (separation: some kinds of residents "
                      "occur in one group only); their reweighting factors are near 0", RuntimeWarning,
                      stacklevel=3)
    return fit.fitted[inverse]


def _dfl(y, X, D, w, *, cells: tuple[np.ndarray, np.ndarray]) -> tuple[float, float, float, float, np.ndarray]:
    """(district mean, rest mean, composition, counterfactual, the rest's reweighting factors)."""
    p = _district_probability(*cells, w)
    r = ~D
    psi = w[r] * p[r] / (1 - p[r])
    yd, yr = _wmean(y[D], w[D]), _wmean(y[r], w[r])
    cf = float(psi @ y[r] / psi.sum())
    return yd, yr, cf - yr, cf, psi


# --- the public functions ---------------------------------------------------------------------------


def _bootstrap(est, prep: dict, n_boot: int, seed: int | None) -> np.ndarray:
    """Replicates of (gap, composition, area), resampling clusters within the district and the rest."""
    rng = np.random.default_rng(seed)
    y, X, D, w, cl = prep["y"], prep["X"], prep["D"], prep["w"], prep["cluster"]
    cl = pd.factorize(cl)[0]
    n_cl = cl.max() + 1
    cl_district = np.zeros(n_cl, bool)
    cl_district[cl[D]] = True
    ids = [np.flatnonzero(cl_district), np.flatnonzero(~cl_district)]
    out = np.empty((n_boot, 3))
    for b in range(n_boot):
        counts = np.zeros(n_cl)
        for members in ids:
            counts += np.bincount(rng.choice(members, len(members)), minlength=n_cl)
        wb = w * counts[cl]
        yd, yr, comp, _, _ = est(y, X, D, wb)
        out[b] = (yd - yr, comp, yd - yr - comp)
    return out


def _decompose(method: str, data, outcome, group, district, covariates, *, rest, weights, cluster, n_boot,
               seed, confidence) -> DecompositionResult:
    if n_boot < 2:
        raise AreaModelError("n_boot must be at least 2")
    if not 0 < confidence < 1:
        raise AreaModelError("confidence must be between 0 and 1")
    prep = _prepare(data, outcome, group, district, covariates, weights, cluster, rest,
                    common_support=method == "dfl")
    y, X, D, w = prep["y"], prep["X"], prep["D"], prep["w"]
    est = partial(_dfl, cells=_cells(X, D)) if method == "dfl" else _ob
    yd, yr, comp, cf, extra = est(y, X, D, w)
    gap = yd - yr
    area = (yd - cf) if method == "dfl" else gap - comp
    detail = pd.DataFrame()
    diagnostics: dict = {}
    if method == "oaxaca":
        detail = (pd.DataFrame({"covariate": prep["labels"], "composition": extra})
                  .groupby("covariate", sort=False, as_index=False)["composition"].sum())
        area = (yd - (yr + comp))  # district's unexplained minus the rest's: identical to gap - composition
    else:
        diagnostics = {"effective_n_rest": float(extra.sum() ** 2 / (extra**2).sum()),
                       "max_weight_share": float(extra.max() / extra.sum())}
    reps = _bootstrap(est, prep, n_boot, seed)
    se = reps.std(axis=0, ddof=1)
    return DecompositionResult(
        method=method, outcome=outcome, district=district, district_mean=yd, rest_mean=yr, counterfactual_mean=cf,
        gap=gap, composition=comp, area=area, se_gap=float(se[0]), se_composition=float(se[1]),
        se_area=float(se[2]), n_district=int(D.sum()), n_rest=int((~D).sum()), n_boot=n_boot,
        resampling=f"clusters of '{cluster}' within group" if cluster else "persons within group", seed=seed,
        covariates=tuple(prep["covariates"]), confidence=confidence, detail=detail, diagnostics=diagnostics,
    )


def oaxaca_blinder(data: pd.DataFrame, outcome: str, group: str, district: str, covariates: Sequence[str], *,
                   rest: Sequence[str] | None = None, weights: str | None = None, cluster: str | None = None,
                   n_boot: int = 199, seed: int | None = 2021, confidence: float = 0.95) -> DecompositionResult:
    """Twofold Oaxaca-Blinder decomposition of ``mean(district) - mean(rest)`` with pooled reference
    coefficients (regression on both groups with a district indicator).

    ``group`` holds the district key per row; the rest is every other row (or the values in
    ``rest``). Non-numeric and boolean covariates enter as dummies (first level left out), numeric
    ones linearly. ``detail`` has each covariate's contribution to the composition part.
    """
    return _decompose("oaxaca", data, outcome, group, district, covariates, rest=rest, weights=weights,
                      cluster=cluster, n_boot=n_boot, seed=seed, confidence=confidence)


def dfl_reweighting(data: pd.DataFrame, outcome: str, group: str, district: str, covariates: Sequence[str], *,
                    rest: Sequence[str] | None = None, weights: str | None = None, cluster: str | None = None,
                    n_boot: int = 199, seed: int | None = 2021, confidence: float = 0.95) -> DecompositionResult:
    """DiNardo-Fortin-Lemieux reweighting: the rest reweighted to the district's composition by a
    logit of district residence on the covariates (main effects; add interaction columns to
    saturate). Categorical covariates with a level found in the district but not in the rest
    raise :class:`AreaModelError` (no rest persons to stand in for them); a logit that does not
    converge gives a ``RuntimeWarning``.
    """
    return _decompose("dfl", data, outcome, group, district, covariates, rest=rest, weights=weights,
                      cluster=cluster, n_boot=n_boot, seed=seed, confidence=confidence)
