"""Piecewise-linear contextual effect with fixed knots (Galster's thresholds, given in advance).

Individual outcomes regressed on individual covariates and a linear spline in the area's
contextual variable ``c`` (e.g. the poverty share) with knots at, by default, 15 %, 20 % and 40 %:
the spline's coefficients are the *slopes per segment*. Standard errors are clustered by area (the
contextual variable varies only between areas, so the area is the unit of independent
information) and a Wald test asks whether all segment slopes are equal (no threshold). The
threshold estimated from the data is :func:`evaluering.area.threshold.threshold_regression`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import statsmodels.api as sm
from scipy import stats

from ..numerics import interval
from ..results import ResultDisplay
from .contextual_design import prepare, wls_cluster
from .errors import ThresholdInputError

__all__ = ["PiecewiseResult", "piecewise_contextual"]


def _segment_basis(c: np.ndarray, knots: Sequence[float]) -> np.ndarray:
    """Linear spline basis whose coefficients are the slopes of the segments."""
    k = list(knots)
    cols = [np.minimum(c, k[0])]
    for lo, hi in zip(k[:-1], k[1:], strict=True):
        cols.append(np.clip(c - lo, 0.0, hi - lo))
    cols.append(np.maximum(0.0, c - k[-1]))
    return np.column_stack(cols)


def _segment_labels(knots: Sequence[float]) -> list[str]:
    edges = ["min", *(f"{k:g}" for k in knots), "max"]
    return [f"{a}-{b}" for a, b in zip(edges[:-1], edges[1:], strict=True)]


@dataclass(frozen=True, repr=False)
class PiecewiseResult(ResultDisplay):
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
    p_value: np.ndarray  # each slope against zero, t(G-1)
    n_areas_in_segment: np.ndarray
    equal_slopes_wald: float  # Wald chi-square of H0: all segment slopes equal
    equal_slopes_df: int
    equal_slopes_p: float  # F(df, G-1) reference (small-sample cluster correction)
    n_obs: int
    n_clusters: int
    confidence: float
    params: pd.Series = field(repr=False)
    cov: pd.DataFrame = field(repr=False)

    def to_frame(self) -> pd.DataFrame:
        """One row per segment: its slope (``estimate``), SE, interval, p-value and areas in it."""
        return pd.DataFrame({
            "segment": list(self.segments), "estimate": self.slopes, "se": self.se,
            "ci_low": self.ci_low, "ci_high": self.ci_high, "p_value": self.p_value,
            "n_areas": self.n_areas_in_segment,
        })

    def _headline(self) -> str:
        scale = "logit scale" if self.family == "binomial" else "outcome scale"
        return (f"Piecewise contextual effect of {self.context} on {self.outcome} ({scale}), "
                f"knots {', '.join(f'{k:g}' for k in self.knots)}; n = {self.n_obs}, "
                f"{self.n_clusters} areas (SE clustered by area), {self.confidence:.0%} CIs")

    def _notes(self) -> list[str]:
        return [f"Equal slopes: Wald = {self.equal_slopes_wald:.2f} on {self.equal_slopes_df} df, "
                f"p = {self.equal_slopes_p:.4f} (F reference, {self.n_clusters - 1} denominator df)"]


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
    confidence: float = 0.95,
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
    if len(knots) == 0 or any(b <= a for a, b in zip(knots[:-1], knots[1:], strict=True)):
        raise ThresholdInputError("knots must be a non-empty, strictly increasing sequence")
    if family not in ("gaussian", "binomial"):
        raise ThresholdInputError("family must be 'gaussian' or 'binomial'")
    if not 0 < confidence < 1:
        raise ThresholdInputError("confidence must be between 0 and 1")
    p = prepare(df, outcome, context, individual, area, weights, categorical)
    B = _segment_basis(p.c, knots)
    segments = tuple(_segment_labels(knots))
    area_values = pd.Series(p.c).groupby(p.cluster).first().to_numpy()
    edges = [-np.inf, *knots, np.inf]
    n_in = np.array([int(((area_values > lo) & (area_values <= hi)).sum())
                     for lo, hi in zip(edges[:-1], edges[1:], strict=True)])
    for j, name in enumerate(segments):
        if np.ptp(B[:, j]) == 0:
            raise ThresholdInputError(f"no variation of {context!r} in segment {name}: move the knots "
                                      "inside the range of the area values")
    names = list(p.X.columns) + [f"{context}[{s}]" for s in segments]
    Z = np.column_stack([p.X.to_numpy(dtype=float), B])
    G = p.cluster_labels.size
    if family == "gaussian":
        beta, cov, _ = wls_cluster(p.y, Z, p.w, p.cluster, G)
    else:
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
    ci_low, ci_high, p_values = interval(slopes, se, confidence, df=G - 1)
    # H0: all segment slopes equal <=> consecutive differences are zero.
    D = np.diff(np.eye(k), axis=0)
    d = D @ slopes
    wald = float(d @ np.linalg.pinv(D @ V @ D.T) @ d)
    q = k - 1
    equal_p = float(stats.f.sf(wald / q, q, G - 1))
    return PiecewiseResult(
        outcome=outcome, context=context, knots=knots, family=family, segments=segments,
        slopes=slopes, se=se, ci_low=ci_low, ci_high=ci_high, p_value=p_values, n_areas_in_segment=n_in,
        equal_slopes_wald=wald, equal_slopes_df=q, equal_slopes_p=equal_p, n_obs=len(p.y), n_clusters=G,
        confidence=confidence, params=pd.Series(beta, index=names), cov=pd.DataFrame(cov, index=names, columns=names),
    )
