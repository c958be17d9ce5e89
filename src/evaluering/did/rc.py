"""Two-period difference-in-differences for repeated cross-sections (Sant'Anna & Zhao 2020).

Each survey wave is a new sample, so a DiD that adjusts for covariates must compare the treated
group (a district) with a comparison group that is reweighted or modelled to have the treated
group's covariates, in both periods. ``repeated_cross_section_did`` implements the estimators of
R's ``DRDID`` package for this case, with sampling weights, on a data frame with one row per
respondent (outcome, 0/1 treated and post columns, covariates, a weight column). It knows nothing
of the survey design: its standard error treats the rows as independent draws. The reports'
survey DiD is :func:`~evaluering.did.design_did.design_did`, which takes the calibrated
``SurveyDesign`` of each wave and gives design-based variances.

* ``"dr"``: the improved, locally efficient doubly robust estimator (eq. 3.4; DRDID
  ``drdid_imp_rc``): inverse-probability-tilting propensity score and weighted outcome
  regressions. Consistent if either the propensity score or the comparison group's outcome
  regressions are right; its standard error ignores the estimation of both, which by
  construction matters only at second order (Sant'Anna & Zhao 2020, section 3.2).
* ``"dr_traditional"``: the same estimator with a logit propensity score and OLS (``drdid_rc``).
* ``"ipw"``: standardised (Hajek) inverse probability weighting (``std_ipw_did_rc``).
* ``"reg"``: outcome regression (``reg_did_rc``).

Standard errors come from the influence function (plug-in variance over n, as DRDID 1.3);
intervals are normal-theory. Weights are normalised to mean 1, as DRDID does. Comparison units
with a propensity score >= ``trim_level`` (0.995) get no weight, as in DRDID.

Where this differs from DRDID (the numbers agree with DRDID's published outputs otherwise):

* input that DRDID accepts or handles silently raises ``RcDidError`` here: zero weights,
  collinear covariates (named), and propensity scores that are numerically 1 (>= 1 - 1e-6) for
  comparison units (DRDID caps and trims them) or for treated units (no comparable comparison
  units, e.g. under separation), both as ``OverlapError``. The tilted (IPT) scores of ``"dr"``
  stay below 1 unless tilting fails, so there extreme comparison units are only trimmed;
* an intercept is always added to the covariates;
* the IPT propensity score is solved to full precision (R's ``trust`` stops earlier; the
  coefficients differ by ~1e-9); in the rarely used IPT fallback the loss weights every term
  (R's value leaves one sum unweighted while its gradient weights it);
* intervals use the normal quantile of ``confidence`` (1.959964 at 95 %), not a fixed 1.96.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields

import numpy as np
import pandas as pd

from ..columns import require_columns
from ..numerics import interval
from ..results import ResultDisplay
from .errors import OverlapError, RcDidError
from .rc_kernels import KERNELS

__all__ = ["METHODS", "OverlapError", "RcDidError", "RcDidEstimate", "repeated_cross_section_did"]

METHODS = {
    "dr": "improved locally efficient DR (IPT propensity score, weighted OLS)",
    "dr_traditional": "locally efficient DR (logit propensity score, OLS)",
    "ipw": "standardised IPW (logit propensity score)",
    "reg": "outcome regression (OLS)",
}
_FALLBACK = {1: "IPT (Graham et al.)", 2: "logit"}
_COLLINEAR_TOL = 1e-7  # relative residual below which a column counts as collinear (as R's lm)


@dataclass(frozen=True, repr=False)
class RcDidEstimate(ResultDisplay):
    """One repeated cross-section DiD estimate of the ATT with its influence function.

    ``influence`` has one value per row of the input frame (in its order); ``se`` is
    ``sqrt(sum((influence - mean)^2)) / n``. ``ps_flag`` (``"dr"`` only) tells how the
    propensity score was fitted: 0 trust region, 1 IPT fallback, 2 logit fallback.
    ``n_trimmed`` counts comparison units dropped for a propensity score >= ``trim_level``.
    """

    method: str
    outcome: str
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    n_treated_pre: int
    n_treated_post: int
    n_comparison_pre: int
    n_comparison_post: int
    covariates: tuple[str, ...]
    n_trimmed: int = 0
    ps_flag: int | None = None
    confidence: float = 0.95
    influence: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False, compare=False)

    def to_frame(self) -> pd.DataFrame:
        """One row with every field but the influence function (covariates joined by ', ')."""
        row = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "influence"}
        row["covariates"] = ", ".join(self.covariates)
        return pd.DataFrame([row])

    def _headline(self) -> str:
        adjusted = f"adjusted for {', '.join(self.covariates)}" if self.covariates else "no covariates"
        return (f"{self.outcome}: ATT {self.estimate:+.4f} ({self.confidence:.0%} CI); {METHODS[self.method]}, "
                f"{adjusted}")

    def _notes(self) -> list[str]:
        counts = (f"n = {self.n} (treated {self.n_treated_pre}/{self.n_treated_post}, comparison "
                  f"{self.n_comparison_pre}/{self.n_comparison_post} before/after"
                  + (f"; {self.n_trimmed} comparison units trimmed" if self.n_trimmed else "") + ")")
        fallback = [f"propensity score by the {_FALLBACK[self.ps_flag]} fallback"] if self.ps_flag else []
        return [counts, *fallback]


def repeated_cross_section_did(
    df: pd.DataFrame,
    outcome: str,
    treated: str,
    post: str,
    covariates: Sequence[str] | None = None,
    weights: str | None = None,
    method: str = "dr",
    *,
    trim_level: float = 0.995,
    confidence: float = 0.95,
) -> RcDidEstimate:
    """ATT of ``treated`` (0/1) between the two periods of ``post`` (0/1) from repeated cross-sections.

    ``df`` has one row per respondent; the rows are treated as independent draws (for a survey
    with a calibrated design use :func:`~evaluering.did.design_did.design_did`).

    ``covariates=None`` fits intercept-only models (then every method is the 2x2 difference of
    weighted means). ``weights`` names a column of positive sampling weights. Raises
    ``RcDidError`` for data that cannot give an estimate: empty cells, non-0/1 indicators,
    missing values, non-positive weights, collinear covariates, no overlap.
    """
    if method not in METHODS:
        raise RcDidError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    if not 0.5 < trim_level <= 1:
        raise RcDidError(f"trim_level must be in (0.5, 1], not {trim_level}")
    if not 0 < confidence < 1:
        raise RcDidError(f"confidence must be between 0 and 1, not {confidence}")
    covs = _covariate_list(covariates, outcome, treated, post, weights)
    y, d, p, X, w = _arrays(df, outcome, treated, post, covs, weights)
    counts = _cell_counts(d, p, treated, post)
    _check_collinearity(X, ["intercept", *covs], d, p, method, treated, post)

    fit = KERNELS[method](y, d, p, X, w / w.mean(), trim_level)
    n = len(y)
    influence = np.asarray(fit.influence, dtype=float).ravel()
    influence.setflags(write=False)
    se = float(np.sqrt(np.sum((influence - influence.mean()) ** 2)) / n)
    ci_low, ci_high, p_value = interval(fit.att, se, confidence)
    return RcDidEstimate(
        outcome=outcome,
        method=method,
        estimate=fit.att,
        se=se,
        ci_low=ci_low,
        ci_high=ci_high,
        p_value=p_value,
        n=n,
        **counts,
        covariates=tuple(covs),
        n_trimmed=fit.n_trimmed,
        ps_flag=fit.ps_flag,
        confidence=confidence,
        influence=influence,
    )


# --- input checks ---------------------------------------------------------------------------


def _covariate_list(covariates, outcome, treated, post, weights) -> list[str]:
    if covariates is None:
        return []
    covs = [covariates] if isinstance(covariates, str) else list(covariates)
    dup = sorted({c for c in covs if covs.count(c) > 1})
    if dup:
        raise RcDidError(f"covariates listed twice: {', '.join(map(repr, dup))}")
    for role, name in (("outcome", outcome), ("treated", treated), ("post", post), ("weights", weights)):
        if name in covs:
            raise RcDidError(f"covariate {name!r} is the {role} column; it cannot also be a covariate")
    return covs


def _arrays(df, outcome, treated, post, covs, weights):
    """Checked numpy arrays: outcome, treated, post, design with intercept, weights."""
    if not isinstance(df, pd.DataFrame):
        raise RcDidError(f"df must be a pandas DataFrame, not {type(df).__name__}")
    if len(df) == 0:
        raise RcDidError("the data frame has no rows")
    used = [outcome, treated, post, *covs] + ([weights] if weights else [])
    require_columns(df, used, what="data", error=RcDidError)
    for col in used:
        miss = df[col].isna().to_numpy()
        if miss.any():
            rows = ", ".join(map(str, df.index[miss][:5])) + (", ..." if miss.sum() > 5 else "")
            raise RcDidError(f"missing values in column {col!r}: {int(miss.sum())} row(s) (index {rows})")
    d = _indicator(df[treated], treated, "treated")
    p = _indicator(df[post], post, "post")
    y = _numeric(df[outcome], outcome, "outcome")
    X = np.column_stack([np.ones(len(df))] + [_numeric(df[c], c, "covariate") for c in covs])
    if weights is None:
        w = np.ones(len(df))
    else:
        w = _numeric(df[weights], weights, "weights")
        bad = ~(w > 0)
        if bad.any():
            raise RcDidError(
                f"weights column {weights!r} must be positive: {int(bad.sum())} row(s) are zero or negative "
                f"(drop rows with zero weight before estimating)"
            )
    return y, d, p, X, w


def _numeric(s: pd.Series, name: str, role: str) -> np.ndarray:
    if not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
        raise RcDidError(f"{role} column {name!r} must be numeric (dtype {s.dtype}); encode categories as 0/1 dummies")
    a = s.to_numpy(dtype=float)
    if not np.isfinite(a).all():
        raise RcDidError(f"{role} column {name!r} has infinite values")
    return a


def _indicator(s: pd.Series, name: str, role: str) -> np.ndarray:
    a = _numeric(s, name, role)
    odd = sorted(set(np.unique(a)) - {0.0, 1.0})
    if odd:
        shown = ", ".join(f"{v:g}" for v in odd[:5]) + (", ..." if len(odd) > 5 else "")
        raise RcDidError(f"{role} column {name!r} must be 0/1; it also has the value(s) {shown}")
    return a


def _cell_name(t: int, q: int, treated: str, post: str) -> str:
    group = "treated group" if t else "comparison group"
    period = "follow-up" if q else "baseline"
    return f"{period} observations for the {group} ({treated}={t}, {post}={q})"


def _cell_counts(d, p, treated, post) -> dict[str, int]:
    counts = {}
    for t, key in ((1, "treated"), (0, "comparison")):
        for q, when in ((0, "pre"), (1, "post")):
            n = int(np.sum((d == t) & (p == q)))
            if n == 0:
                raise RcDidError(f"no {_cell_name(t, q, treated, post)}")
            counts[f"n_{key}_{when}"] = n
    return counts


def _collinear(X: np.ndarray, names: list[str]) -> tuple[str, list[str]] | None:
    """The first column that is (numerically) a linear combination of earlier ones, and those."""
    kept: list[int] = []
    for j in range(X.shape[1]):
        col = X[:, j]
        norm = np.linalg.norm(col)
        if kept:
            coef, *_ = np.linalg.lstsq(X[:, kept], col, rcond=None)
            resid = col - X[:, kept] @ coef
        else:
            coef, resid = np.empty(0), col
        if norm == 0 or np.linalg.norm(resid) <= _COLLINEAR_TOL * norm:
            scale = np.abs(coef) * np.linalg.norm(X[:, kept], axis=0) if kept else coef
            on = [names[k] for k, s in zip(kept, scale, strict=True) if s > 1e-8 * max(norm, 1e-300)]
            return names[j], on
        kept.append(j)
    return None


def _check_collinearity(X, names, d, p, method, treated, post) -> None:
    """Name covariates that make a model's design singular, overall or within a cell."""
    found = _collinear(X, names)
    if found:
        raise RcDidError(_collinear_message(found, "in the data"))
    cells = [] if method == "ipw" else [(0, 0), (0, 1)]
    if method in ("dr", "dr_traditional"):
        cells += [(1, 0), (1, 1)]
    for t, q in cells:
        rows = (d == t) & (p == q)
        where = "among the " + _cell_name(t, q, treated, post)
        if rows.sum() < X.shape[1]:
            raise RcDidError(
                f"too few rows {where}: {int(rows.sum())} for a regression on {X.shape[1]} terms "
                f"(intercept and {X.shape[1] - 1} covariates)"
            )
        found = _collinear(X[rows], names)
        if found:
            raise RcDidError(_collinear_message(found, where))


def _collinear_message(found: tuple[str, list[str]], where: str) -> str:
    name, on = found
    if name == "intercept" or not on:
        return f"collinear covariates {where}: {name!r} is zero throughout"
    if on == ["intercept"]:
        return f"collinear covariates {where}: {name!r} is constant"
    return f"collinear covariates {where}: {name!r} is a linear combination of {', '.join(map(repr, on))}"
