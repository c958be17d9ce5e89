"""Staggered-adoption DiD: group-time average treatment effects of Callaway & Sant'Anna (2021).

When districts start an intervention in different years, a single before-after comparison mixes
cohorts and, in two-way fixed effects regressions, uses already-treated units as controls. This
estimator instead computes one clean 2x2 DiD per cohort ``g`` (first treated period) and period
``t``, ATT(g, t), against never-treated or not-yet-treated units, and aggregates them afterwards
(``AttGtResult.aggregate``: overall, by cohort, by event time, by calendar period).

It reproduces R's ``did::att_gt`` for balanced panels (``panel=TRUE``): the same 2x2 estimators
(``DRDID``'s ``drdid_panel``, ``std_ipw_did_panel``, ``reg_did_panel``), varying or universal base
periods, anticipation, sampling weights, analytic standard errors from influence functions, and
a multiplier bootstrap (Rademacher weights) for uniform confidence bands. Differences from R: bad
data raise errors instead of being silently dropped, ``se`` is always the analytic standard error
(the bootstrap one is ``se_boot``), and covariates are numeric columns, not a formula.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..numerics import critical_value
from ..results import ResultDisplay
from . import errors
from .drdid_panel import EPS, did_2x2, logit_fit, rcond
from .errors import NoComparisonGroupError, StaggeredDidError
from .multiplier import TINY, multiplier_bootstrap, summarise_draws
from .staggered_data import CONTROL_GROUPS, PanelData, prepare_panel

__all__ = ["AttGtResult", "CohortChangesError", "CollinearCovariatesError", "MissingValuesError",
           "NoComparisonGroupError", "StaggeredDidError", "UnbalancedPanelError", "att_gt"]

# the errors the checks of the panel raise, importable from here
CohortChangesError, CollinearCovariatesError = errors.CohortChangesError, errors.CollinearCovariatesError
MissingValuesError, UnbalancedPanelError = errors.MissingValuesError, errors.UnbalancedPanelError

METHODS = ("dr", "ipw", "reg")


@dataclass(frozen=True, eq=False, repr=False)
class AttGtResult(ResultDisplay):
    """Group-time average treatment effects, one row of ``table`` per (group, time).

    ``table`` columns: group, time, event_time, post, base (the base period), att, se (analytic),
    ci_low/ci_high (uniform band over all cells when bootstrapped, else pointwise), se_boot, n
    (units in the comparison), n_treated, n_control. ``influence`` holds the units' influence
    functions (units x cells) that the aggregations and the bootstrap use.
    """

    _shown_columns = ("group", "time", "att", "se", "ci_low", "ci_high", "n")

    table: pd.DataFrame
    influence: np.ndarray
    unit_cohort: np.ndarray
    unit_weight: np.ndarray
    n_units: int
    periods: tuple
    cohorts: tuple
    outcome: str
    control_group: str
    method: str
    covariates: tuple[str, ...]
    weights: str | None
    anticipation: int
    base_period: str
    confidence: float
    bootstrap: bool
    n_boot: int
    boot_seed: int | None
    crit_value: float
    wald_stat: float | None
    wald_df: int
    wald_pvalue: float | None

    def aggregate(self, kind: str = "group", *, balance_e=None, min_e=None, max_e=None, confidence=None,
                  bootstrap=None):
        """Aggregate to "simple", "group", "dynamic" (event time) or "calendar" (R's ``aggte``).

        ``balance_e``, ``min_e`` and ``max_e`` restrict the event study ("dynamic") as in R;
        ``confidence`` and ``bootstrap`` default to this result's settings.
        """
        from .aggregate import aggregate

        return aggregate(self, kind, balance_e=balance_e, min_e=min_e, max_e=max_e, confidence=confidence,
                         bootstrap=bootstrap)

    def to_frame(self) -> pd.DataFrame:
        """The group-time table (a copy)."""
        return self.table.copy()

    def _headline(self) -> str:
        return "Group-time average treatment effects ATT(g,t) (Callaway & Sant'Anna 2021)"

    def _notes(self) -> list[str]:
        band = "uniform band" if self.bootstrap else "pointwise CI"
        lines = [
            f"outcome {self.outcome}; {self.n_units} units; periods {self.periods[0]}-{self.periods[-1]}; "
            f"comparison: {self.control_group.replace('_', ' ')}; method {self.method}; "
            f"covariates: {', '.join(self.covariates) or 'none'}; anticipation {self.anticipation}; "
            f"base period {self.base_period}",
            f"ci_low, ci_high: {self.confidence:.0%} {band}",
        ]
        if self.wald_pvalue is not None:
            lines.append(f"Pre-test of parallel trends (Wald, {self.wald_df} df): "
                         f"W = {self.wald_stat:.3f}, p = {self.wald_pvalue:.4f}")
        if self.bootstrap:
            lines.append(f"Multiplier bootstrap: {self.n_boot} draws, seed {self.boot_seed}, "
                         f"critical value {self.crit_value:.3f}")
        return lines


def _integral(values):
    """Whole-number floats as int64 (cohorts and periods print as 2004, not 2004.0)."""
    values = np.asarray(values)
    if values.dtype.kind == "f" and np.all(np.isfinite(values)) and np.all(values == np.round(values)):
        return values.astype(np.int64)
    return values


def _boot_seed(seed) -> int:
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(2**63 - 1))
    if seed is None:
        return int(np.random.SeedSequence().entropy % (2**63 - 1))
    return int(seed)


def _skip_reason(dy, d, x, method) -> str | None:
    """R's checks before each 2x2 (``compute.att_gt``): overlap and a usable comparison regression."""
    if x.shape[1] == 1:
        return None
    if rcond(x.T @ x) < EPS:
        return "covariates are collinear or constant among these units"
    if method in ("dr", "ipw") and np.max(logit_fit(x, d.astype(float), np.ones(len(d)), warn=False)) >= 0.999:
        return "overlap condition violated (propensity score >= 0.999)"
    if method in ("dr", "reg") and rcond(x[d == 0].T @ x[d == 0]) < EPS:
        return "not enough comparison units to run the outcome regression"
    return None


def _cells(panel: PanelData, control_group: str, method: str, anticipation: int, base_period: str):
    """All ATT(g, t) with influence functions, in R's order (by group, then period)."""
    periods, cohort, n = panel.periods, panel.cohort, len(panel.units)
    tfac = 0 if base_period == "universal" else 1
    rows, infs = [], []
    for g in panel.cohorts:
        treated = cohort == g
        pre = np.flatnonzero(periods + anticipation < g)
        for ti in range(len(periods) - tfac):
            cur = ti + tfac
            base = pre[-1] if base_period == "universal" else ti
            if control_group == "never_treated":
                control = cohort == 0
            else:
                horizon = periods[max(ti, base) + tfac] + anticipation
                control = (cohort == 0) | ((cohort > horizon) & ~treated)
            if g <= periods[cur]:
                base = pre[-1]
            use = treated | control
            row = dict(group=g, time=periods[cur], event_time=periods[cur] - g, post=bool(g <= periods[cur]),
                       base=periods[base], n=int(use.sum()), n_treated=int(treated.sum()),
                       n_control=int(control.sum()))
            inf = np.zeros(n)
            if base == cur:  # universal base period: the reference cell is 0 by construction
                rows.append(row | dict(att=0.0))
                infs.append(inf)
                continue
            if not control.any():
                raise NoComparisonGroupError(
                    f"cohort {g:g} has no {control_group.replace('_', '-')} comparison units in period "
                    f"{periods[cur]:g}"
                )
            d = treated[use]
            dy = panel.y[use, cur] - panel.y[use, base]
            x = panel.x[min(base, cur)][use] if panel.x is not None else np.ones((int(use.sum()), 1))
            reason = _skip_reason(dy, d, x, method)
            if reason:
                warnings.warn(f"ATT({g:g},{periods[cur]:g}) not estimated: {reason}", stacklevel=3)
                rows.append(row | dict(att=np.nan))
                infs.append(np.full(n, np.nan))
                continue
            att, inf_2x2 = did_2x2(dy, d, x, panel.weights[use], method)
            inf[use] = inf_2x2 * n / use.sum()
            rows.append(row | dict(att=att))
            infs.append(inf)
    return pd.DataFrame(rows), np.column_stack(infs)


def _wald_pretest(table: pd.DataFrame, inf: np.ndarray, n: int):
    pre = np.flatnonzero((table["group"] > table["time"]).to_numpy() & np.isfinite(table["se"].to_numpy()))
    if pre.size == 0:
        return None, 0, None
    v = inf[:, pre].T @ inf[:, pre] / n
    if rcond(v) <= EPS:
        warnings.warn("no Wald pre-test: singular covariance matrix of pre-treatment effects", stacklevel=3)
        return None, int(pre.size), None
    a = table["att"].to_numpy()[pre]
    stat = float(n * a @ np.linalg.solve(v, a))
    return stat, int(pre.size), float(stats.chi2.sf(stat, pre.size))


def _check_arguments(control_group, method, anticipation, confidence, n_boot, base_period):
    if control_group not in CONTROL_GROUPS:
        raise StaggeredDidError(f"control_group must be 'never_treated' or 'not_yet_treated', not {control_group!r}")
    if method not in METHODS:
        raise StaggeredDidError(f"method must be one of {METHODS}, not {method!r}")
    if int(anticipation) != anticipation or anticipation < 0:
        raise StaggeredDidError(f"anticipation must be a non-negative integer, not {anticipation!r}")
    if not 0 < confidence < 1:
        raise StaggeredDidError(f"confidence must be between 0 and 1, not {confidence!r}")
    if n_boot < 2:
        raise StaggeredDidError(f"n_boot must be at least 2, not {n_boot!r}")
    if base_period not in ("varying", "universal"):
        raise StaggeredDidError(f"base_period must be 'varying' or 'universal', not {base_period!r}")


def att_gt(
    df: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    control_group: str = "never_treated",
    method: str = "dr",
    covariates: str | Sequence[str] | None = None,
    weights: str | None = None,
    anticipation: int = 0,
    confidence: float = 0.95,
    bootstrap: bool = True,
    n_boot: int = 999,
    seed: int | np.random.Generator | None = None,
    *,
    base_period: str = "varying",
) -> AttGtResult:
    """Estimate every ATT(g, t) from a long balanced panel (as R's ``did::att_gt``, ``panel=TRUE``).

    ``cohort`` is the first treated period of each unit, 0 for never treated. ``method`` is "dr"
    (doubly robust, default), "ipw" or "reg"; ``covariates`` are numeric columns (taken in the
    earlier period of each 2x2, as R does); ``weights`` are time-invariant sampling weights.
    ``anticipation`` shifts the base period to g - 1 - anticipation. With ``bootstrap`` the
    intervals are a uniform band over all cells (multiplier bootstrap, ``n_boot`` draws, ``seed``) at
    ``confidence``.
    """
    _check_arguments(control_group, method, anticipation, confidence, n_boot, base_period)
    control_group = CONTROL_GROUPS[control_group]
    covariates = [covariates] if isinstance(covariates, str) else list(covariates or [])
    panel = prepare_panel(df, outcome=outcome, unit=unit, time=time, cohort=cohort, covariates=covariates,
                          weights=weights, control_group=control_group, anticipation=int(anticipation))
    n = len(panel.units)
    table, inf = _cells(panel, control_group, method, int(anticipation), base_period)
    se = np.sqrt(np.sum(inf**2, axis=0)) / n
    se[~(se > TINY)] = np.nan
    table["se"] = se
    for column in ("group", "time", "event_time", "base"):
        table[column] = _integral(table[column].to_numpy())
    z = critical_value(confidence)
    boot_seed, crit, se_boot = None, z, np.full(len(table), np.nan)
    if bootstrap:
        boot_seed = _boot_seed(seed)
        summary = summarise_draws(multiplier_bootstrap(inf, n_boot, boot_seed), n, confidence)
        crit, se_boot = summary.crit, summary.se
        if crit >= 7:
            warnings.warn(f"uniform critical value {crit:.2f} is too large to be reliable (small cohorts?)",
                          stacklevel=2)
    spread = crit * (se_boot if bootstrap else se)
    table["ci_low"] = table["att"] - spread
    table["ci_high"] = table["att"] + spread
    table["se_boot"] = se_boot
    wald = _wald_pretest(table, inf, n)
    columns = ["group", "time", "event_time", "post", "base", "att", "se", "ci_low", "ci_high", "se_boot",
               "n", "n_treated", "n_control"]
    return AttGtResult(
        table=table[columns], influence=inf, unit_cohort=panel.cohort, unit_weight=panel.weights, n_units=n,
        periods=tuple(panel.periods.tolist()), cohorts=tuple(_integral(panel.cohorts).tolist()), outcome=outcome,
        control_group=control_group, method=method, covariates=tuple(covariates), weights=weights,
        anticipation=int(anticipation), base_period=base_period, confidence=confidence, bootstrap=bool(bootstrap),
        n_boot=int(n_boot), boot_seed=boot_seed, crit_value=float(crit), wald_stat=wald[0], wald_df=wald[1],
        wald_pvalue=wald[2],
    )
