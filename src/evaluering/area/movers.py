"""Area effects identified from movers: does a person's outcome change when they move to a more
(or less) disadvantaged area?

A cross-section confounds the area with who lives there: people with a low employment propensity
live where poverty is high. With individual fixed effects the comparison is *within person*:

    y_it = a_i + l_t + b * c_a(i,t),t + x_it'g + e_it

where ``c`` is the area's contextual variable in the year (e.g. the poverty share, or the part
above a threshold, ``max(0, poverty - 0.20)``). ``a_i`` absorbs everything fixed about the
person (education, origin, the household's poverty), so selection of kinds of people into kinds of
areas does not bias ``b``; what identifies it is the change in ``c`` when people move (and, much
less, changes of ``c`` over time within an area). The assumption is that the *timing* of a move is
unrelated to outcome shocks (no Ashenfelter dip, no moving because of a new job); the event-time
profile around the move is the check: before the move movers to higher and to lower poverty
should run parallel to the stayers (flat leads), after it the outcome should shift by about
``b`` times the change in the context.

The estimator is the fast weighted within-transform of :func:`evaluering.numerics.twfe` (the same
coefficients as ``linearmodels.PanelOLS(entity_effects=True, time_effects=True)``; a million
person-years take a few seconds). Standard errors are cluster-robust (CR1), by person unless
``cluster`` names a column (e.g. the area; then the clusters are not nested in the persons, which
``twfe`` accounts for in the small-sample factor). A pooled OLS with year effects (no person
effects) is reported alongside for contrast: the difference is the selection bias.

:func:`area_poverty` builds the contextual variable of the synthetic register as the generator
plants it: the share of adults (18+) in the area and year with income below half the municipal
median of adults that year, and the part above the threshold. The event-time figure is
:func:`evaluering.report.area_figures.movers_figure`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..columns import as_float, require_columns
from ..numerics import interval, twfe
from ..results import ResultDisplay
from .context import area_poverty
from .errors import AreaModelError

__all__ = ["MoversResult", "area_poverty", "movers_model"]


# --- the result -------------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class MoversResult(ResultDisplay):
    """Person fixed effects estimate of the contextual effect and the event-time profile."""

    outcome: str
    context: str
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    pooled_estimate: float
    pooled_se: float
    n_obs: int
    n_persons: int
    n_movers: int
    n_moves: int
    n_movers_context_change: int
    n_clusters: int
    cluster: str
    covariates: tuple[str, ...] = ()
    confidence: float = 0.95
    profile: pd.DataFrame = field(default_factory=pd.DataFrame)

    def to_frame(self) -> pd.DataFrame:
        """The estimate in one row, with the pooled estimate and the counts behind it."""
        row = {k: getattr(self, k) for k in (
            "outcome", "context", "estimate", "se", "ci_low", "ci_high", "p_value", "pooled_estimate", "pooled_se",
            "n_obs", "n_persons", "n_movers", "n_moves", "n_movers_context_change", "n_clusters", "cluster",
            "confidence")}
        row["covariates"] = ", ".join(self.covariates)
        return pd.DataFrame([row])

    def _headline(self) -> str:
        return (f"{self.outcome} on {self.context} (person + year fixed effects, movers design): "
                f"{self.estimate:+.4f} (se {self.se:.4f}; {self.confidence:.0%} CI {self.ci_low:+.4f} to "
                f"{self.ci_high:+.4f}; p = {self.p_value:.3g})")

    def _notes(self) -> list[str]:
        return [f"Pooled OLS {self.pooled_estimate:+.4f} (se {self.pooled_se:.4f}). {self.n_movers:,} movers "
                f"({self.n_moves:,} moves, {self.n_movers_context_change:,} movers whose context changed) among "
                f"{self.n_persons:,} persons, {self.n_obs:,} person-years, {self.n_clusters:,} clusters "
                f"({self.cluster})"]

    def _extra_frames(self) -> dict[str, pd.DataFrame]:
        return {} if self.profile.empty else {"Event-time profile": self.profile.set_index(["direction",
                                                                                          "event_time"])}


# --- the estimator ----------------------------------------------------------------------------------


def movers_model(panel: pd.DataFrame, outcome: str, unit: str, time: str, area: str, context: str, *,
                 covariates: Sequence[str] | None = None, cluster: str | None = None, leads: int = 4, lags: int = 5,
                 direction_tol: float = 0.01, event_profile: bool = True, confidence: float = 0.95) -> MoversResult:
    """Person and year fixed effects regression of ``outcome`` on the area context.

    ``panel`` has one row per person (``unit``) and year (``time``, integer) with the current
    ``area`` and its contextual variable ``context`` (constant within area-year, e.g. from
    :func:`area_poverty`); ``covariates`` are time-varying controls (e.g. age-band dummies: age
    is not absorbed by the person and year effects when its effect is non-linear). Rows with a
    missing outcome, context or covariate are dropped.

    Event-time profile (``event_profile``): people who change area exactly once in the panel,
    split by whether the context rose (``higher``) or fell (``lower``) by more than
    ``direction_tol`` at the move; coefficients of event-time x direction dummies (event time 0
    = first year in the new area, reference -1, endpoints binned at ``-leads`` and ``lags``) in
    a regression with person and year effects and the covariates, on those movers and the
    never-movers (who pin down the year effects). Multiple movers and movers with a small
    context change are left out of the profile (not of the main estimate).
    ``profile.mean_change`` is the movers' mean change in the context, so ``estimate *
    mean_change`` is the shift the main estimate implies after the move.
    """
    covariates = list(covariates or [])
    require_columns(panel, [outcome, unit, time, area, context, *covariates, cluster], what="panel",
                    error=AreaModelError)
    if not pd.api.types.is_integer_dtype(panel[time]):
        raise AreaModelError(f"'{time}' must hold integer periods (years)")
    if panel[[unit, time, area]].isna().any().any():
        raise AreaModelError(f"missing values in '{unit}', '{time}' or '{area}'")
    if not 0 < confidence < 1:
        raise AreaModelError("confidence must be between 0 and 1")

    y = as_float(panel[outcome], outcome, error=AreaModelError)
    c = as_float(panel[context], context, error=AreaModelError)
    X = (np.column_stack([as_float(panel[v], v, error=AreaModelError) for v in covariates]) if covariates
         else np.empty((len(y), 0)))
    ok = ~np.isnan(y) & ~np.isnan(c) & ~np.isnan(X).any(axis=1)
    if not ok.any():
        raise AreaModelError("no rows with the outcome, context and covariates all present")
    unit_codes = pd.factorize(panel[unit])[0][ok]
    t = panel[time].to_numpy(dtype=np.int64)[ok]
    area_codes = pd.factorize(panel[area])[0][ok]
    clusters_raw = panel[cluster if cluster else unit].to_numpy()[ok]
    if pd.isna(clusters_raw).any():
        raise AreaModelError(f"missing values in the cluster column '{cluster}'")
    y, c, X = y[ok], c[ok], X[ok]

    order = np.lexsort((t, unit_codes))
    y, c, X, t, unit_codes, area_codes, clusters_raw = (
        y[order], c[order], X[order], t[order], unit_codes[order], area_codes[order], clusters_raw[order])
    same = np.r_[False, unit_codes[1:] == unit_codes[:-1]]
    if (same & np.r_[False, t[1:] == t[:-1]]).any():
        raise AreaModelError(f"several rows for the same {unit} and {time}")

    if np.nanmax(c) - np.nanmin(c) <= 1e-12:
        raise AreaModelError(f"the context '{context}' is constant: there is no contrast between areas to estimate")
    move = same & np.r_[False, area_codes[1:] != area_codes[:-1]]
    if not move.any():
        raise AreaModelError(f"no person changes area: the movers design needs people observed in two areas "
                         f"('{area}' is constant within every {unit})")
    dc = np.r_[0.0, np.diff(c)]
    n_units = int(unit_codes.max()) + 1
    moves_per_unit = np.bincount(unit_codes[move], minlength=n_units)
    changed_per_unit = np.bincount(unit_codes[move & (np.abs(dc) > 1e-12)], minlength=n_units)
    if not changed_per_unit.any():
        raise AreaModelError(f"the context '{context}' does not change when people move: the movers design has "
                         "nothing to identify the effect from")

    # units seen once say nothing about change (they only add to the count)
    seen = np.bincount(unit_codes, minlength=n_units)
    keep = seen[unit_codes] > 1
    data = {
        "y": y[keep], "X": X[keep], "w": np.ones(int(keep.sum())), "time": t[keep],
        "treated": (moves_per_unit > 0)[unit_codes][keep],
        "unit": pd.factorize(unit_codes[keep])[0], "cluster": pd.factorize(clusters_raw[keep])[0],
    }
    fit = twfe(data, c[keep][:, None], [context], covariates)
    estimate, se = float(fit.coef[0]), float(np.sqrt(fit.cov[0, 0]))
    low, high, p = interval(estimate, se, confidence, df=fit.df)

    pooled = twfe({**data, "unit": np.zeros(len(data["y"]), dtype=np.int64)}, c[keep][:, None], [context],
                  covariates)

    profile = pd.DataFrame()
    if event_profile:
        profile = _event_profile(y, c, X, t, unit_codes, clusters_raw, move, dc, moves_per_unit, covariates,
                                 leads=leads, lags=lags, tol=direction_tol, confidence=confidence)
    return MoversResult(
        outcome=outcome, context=context, estimate=estimate, se=se, ci_low=low, ci_high=high, p_value=p,
        pooled_estimate=float(pooled.coef[0]), pooled_se=float(np.sqrt(pooled.cov[0, 0])),
        n_obs=fit.n_obs, n_persons=fit.n_units, n_movers=int((moves_per_unit > 0).sum()),
        n_moves=int(move.sum()), n_movers_context_change=int((changed_per_unit > 0).sum()),
        n_clusters=fit.n_clusters, cluster=cluster or unit, covariates=tuple(covariates), confidence=confidence,
        profile=profile,
    )


def _event_profile(y, c, X, t, unit_codes, clusters_raw, move, dc, moves_per_unit, covariates, *, leads: int,
                   lags: int, tol: float, confidence: float) -> pd.DataFrame:
    """Event-time x direction coefficients for one-time movers against never-movers."""
    if leads < 2 or lags < 0:
        raise AreaModelError("leads must be >= 2 (event time -1 is the reference) and lags >= 0")
    n_units = len(moves_per_unit)
    move_year = np.zeros(n_units, dtype=np.int64)
    change = np.zeros(n_units)
    once = moves_per_unit == 1
    first = move & once[unit_codes]
    move_year[unit_codes[first]] = t[first]
    change[unit_codes[first]] = dc[first]
    direction = np.where(once & (change > tol), 1, np.where(once & (change < -tol), 2, 0))
    stayer = moves_per_unit == 0
    rows = (stayer | (direction > 0))[unit_codes]
    u = unit_codes[rows]
    dir_row = direction[u]
    event = np.where(dir_row > 0, np.clip(t[rows] - move_year[u], -leads, lags), lags + 1)  # stayers: no event
    times = [e for e in range(-leads, lags + 1) if e != -1]
    cols, names, meta = [], [], []
    for d, label in ((1, "higher"), (2, "lower")):
        if not (dir_row == d).any():
            continue
        for e in times:
            col = (dir_row == d) & (event == e)
            if col.any():
                cols.append(col.astype(float))
                names.append(f"{label}_{e}")
                n_persons = int(len(np.unique(u[col])))
                meta.append((label, e, int(col.sum()), n_persons, float(change[direction == d].mean())))
    if not cols:
        return pd.DataFrame(columns=["direction", "event_time", "estimate", "se", "ci_low", "ci_high", "n_obs",
                                     "n_persons", "mean_change"])
    seen = np.bincount(u, minlength=n_units)
    keep = seen[u] > 1
    data = {
        "y": y[rows][keep], "X": X[rows][keep], "w": np.ones(int(keep.sum())), "time": t[rows][keep],
        "treated": (dir_row > 0)[keep], "unit": pd.factorize(u[keep])[0],
        "cluster": pd.factorize(clusters_raw[rows][keep])[0],
    }
    fit = twfe(data, np.column_stack(cols)[keep], names, covariates)
    out = []
    for j, (label, e, n_obs, n_persons, mean_change) in enumerate(meta):
        est, se = float(fit.coef[j]), float(np.sqrt(fit.cov[j, j]))
        low, high, _ = interval(est, se, confidence, df=fit.df)
        out.append({"direction": label, "event_time": e, "estimate": est, "se": se, "ci_low": low, "ci_high": high,
                    "n_obs": n_obs, "n_persons": n_persons, "mean_change": mean_change})
    # the reference year, for plotting
    for label in dict.fromkeys(m[0] for m in meta):
        mc = next(m[4] for m in meta if m[0] == label)
        out.append({"direction": label, "event_time": -1, "estimate": 0.0, "se": 0.0, "ci_low": 0.0, "ci_high": 0.0,
                    "n_obs": 0, "n_persons": 0, "mean_change": mc})
    return pd.DataFrame(out).sort_values(["direction", "event_time"], ignore_index=True)
