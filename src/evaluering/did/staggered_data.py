"""Checks and reshapes a long balanced panel for the staggered DiD (as R's ``did::pre_process_did``).

Unlike R, problems that R silently repairs (unbalanced panels, missing values) are errors here, so
an analysis never runs on data other than the data the analyst passed. What R does on purpose is
kept: cohorts later than the last period count as never treated, units treated in the first
period are dropped with a warning, and with not-yet-treated comparisons and no never-treated units
the periods from the last cohort's start on are dropped so that cohort serves as comparison.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..columns import require_columns
from .errors import (
    CohortChangesError,
    CollinearCovariatesError,
    MissingValuesError,
    NoComparisonGroupError,
    StaggeredDidError,
    UnbalancedPanelError,
)

__all__ = ["PanelData", "prepare_panel"]

CONTROL_GROUPS = {
    "never_treated": "never_treated",
    "nevertreated": "never_treated",
    "not_yet_treated": "not_yet_treated",
    "notyettreated": "not_yet_treated",
}


@dataclass(frozen=True)
class PanelData:
    """A balanced panel as arrays: units in rows, periods in columns."""

    units: np.ndarray  # (n,) unit ids
    periods: np.ndarray  # (T,) sorted periods
    y: np.ndarray  # (n, T) outcome
    cohort: np.ndarray  # (n,) first treated period, 0 = never treated (within the data window)
    weights: np.ndarray  # (n,) sampling weights
    x: np.ndarray | None  # (T, n, k) covariates with an intercept column, or None (intercept only)
    cohorts: np.ndarray  # cohorts for which ATT(g, t) is estimated


def _examples(values, k: int = 5) -> str:
    values = list(values)
    shown = ", ".join(map(str, values[:k]))
    return shown + (f" (and {len(values) - k} more)" if len(values) > k else "")


def _check_columns(df: pd.DataFrame, columns: dict[str, str]) -> None:
    require_columns(df, columns.values(), what="panel", error=StaggeredDidError)
    na = {name: int(df[name].isna().sum()) for name in columns.values()}
    na = {k: v for k, v in na.items() if v}
    if na:
        detail = ", ".join(f"{k!r} ({v} rows)" for k, v in na.items())
        raise MissingValuesError(f"missing values in {detail}; drop or impute them before estimating")
    for role, name in columns.items():
        if role != "unit" and not pd.api.types.is_numeric_dtype(df[name]):
            raise StaggeredDidError(f"{role} column {name!r} must be numeric, not {df[name].dtype}")


def _unit_constant(df: pd.DataFrame, unit: str, column: str) -> pd.Series:
    counts = df.groupby(unit, sort=False)[column].nunique()
    return counts[counts > 1]


def _check_panel(df: pd.DataFrame, unit: str, time: str, cohort: str, weights: str | None) -> None:
    dup = df.duplicated([unit, time])
    if dup.any():
        raise UnbalancedPanelError(
            f"{int(dup.sum())} duplicate unit-period rows (unit {_examples(df.loc[dup, unit].unique(), 3)}); "
            "each unit must appear once per period"
        )
    changing = _unit_constant(df, unit, cohort)
    if len(changing):
        raise CohortChangesError(
            f"cohort column {cohort!r} changes within {len(changing)} units ({_examples(changing.index)}); "
            "a unit's cohort (first treated period) must be the same in every row"
        )
    if weights is not None:
        if (df[weights] < 0).any() or not np.all(np.isfinite(df[weights])):
            raise StaggeredDidError(f"weights {weights!r} must be finite and non-negative")
        varying = _unit_constant(df, unit, weights)
        if len(varying):
            raise StaggeredDidError(
                f"weights {weights!r} change over time within {len(varying)} units ({_examples(varying.index)}); "
                "sampling weights must be time-invariant"
            )
    n_periods = df[time].nunique()
    counts = df.groupby(unit, sort=False)[time].size()
    short = counts[counts < n_periods]
    if len(short):
        raise UnbalancedPanelError(
            f"unbalanced panel: {len(short)} of {len(counts)} units are not observed in all {n_periods} periods "
            f"({_examples(short.index)}); balance the panel first (e.g. keep units seen in every period)"
        )


def _check_collinear(df: pd.DataFrame, covariates: list[str]) -> None:
    x = df[covariates].to_numpy(dtype=float)
    design = np.column_stack([np.ones(len(x)), x - x.mean(axis=0)])
    scale = np.linalg.norm(design, axis=0)
    constant = [c for c, s in zip(covariates, scale[1:], strict=True) if s == 0]
    if constant:
        raise CollinearCovariatesError(f"covariates do not vary: {', '.join(constant)}")
    rank = np.linalg.matrix_rank(design / scale)
    if rank < design.shape[1]:
        raise CollinearCovariatesError(
            f"covariates {', '.join(covariates)} are collinear (with each other or the intercept): "
            f"design rank {rank} < {design.shape[1]}; drop redundant covariates"
        )


def _select_cohorts(df, unit, time, cohort, control_group, anticipation):
    """Recode and select cohorts as R's ``pre_process_did``; returns data, periods and cohorts."""
    periods = np.sort(df[time].unique())
    late = df[cohort] > periods[-1]
    if late.any():  # treated after the data window: untreated throughout, as in R
        df = df.assign(**{cohort: df[cohort].where(~late, 0)})
    if (df[cohort] < 0).any():
        raise StaggeredDidError(f"cohort column {cohort!r} has negative values; use 0 for never treated")
    groups = np.sort(df[cohort].unique())
    if not (groups == 0).any():
        if control_group == "never_treated":
            raise NoComparisonGroupError(
                "no never-treated units (cohort 0): use control_group='not_yet_treated' or add a comparison group"
            )
        last = groups.max()
        if groups.size == 1:
            raise NoComparisonGroupError(
                f"all units are in cohort {last:g} and none is never treated: nothing to compare them with"
            )
        warnings.warn(
            f"no never-treated units: periods from {last - anticipation} on are dropped and cohort {last} "
            "serves only as the comparison group (as R's did)",
            stacklevel=4,
        )
        df = df[df[time] < last - anticipation]
        periods = np.sort(df[time].unique())
        groups = groups[groups < last]
    if len(periods) < 2:
        raise NoComparisonGroupError("fewer than two periods are left to compare")
    first = periods[0]
    early = (df[cohort] > 0) & (df[cohort] <= first)
    if early.any():
        n_early = df.loc[early, unit].nunique()
        warnings.warn(
            f"dropped {n_early} units already treated in the first period ({first}): "
            "they have no untreated period to compare with (as R's did)",
            stacklevel=4,
        )
        df = df[~early]
    cohorts = groups[(groups > 0) & (groups > first + anticipation)]
    if cohorts.size == 0:
        raise NoComparisonGroupError(
            f"no cohort is first treated after the first period ({first}) plus anticipation ({anticipation})"
        )
    return df, periods, cohorts


def prepare_panel(
    df: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    cohort: str,
    covariates: list[str],
    weights: str | None,
    control_group: str,
    anticipation: int,
) -> PanelData:
    """Validate the long panel and return it as arrays (units sorted by id)."""
    columns = {"outcome": outcome, "unit": unit, "time": time, "cohort": cohort}
    columns.update({f"covariate {c}": c for c in covariates})
    if weights is not None:
        columns["weights"] = weights
    _check_columns(df, columns)
    data = df[list(dict.fromkeys(columns.values()))]
    _check_panel(data, unit, time, cohort, weights)
    if covariates:
        _check_collinear(data, covariates)
    data, periods, cohorts = _select_cohorts(data, unit, time, cohort, control_group, anticipation)
    data = data.sort_values([unit, time], kind="stable")
    n, n_t = data[unit].nunique(), len(periods)
    first = data.iloc[::n_t]

    def wide(column):
        return data[column].to_numpy(dtype=float).reshape(n, n_t)

    x = None
    if covariates:
        values = data[covariates].to_numpy(dtype=float).reshape(n, n_t, len(covariates)).transpose(1, 0, 2)
        x = np.concatenate([np.ones((n_t, n, 1)), values], axis=2)
    w = first[weights].to_numpy(dtype=float) if weights is not None else np.ones(n)
    if not w.sum() > 0:
        raise StaggeredDidError(f"weights {weights!r} sum to zero")
    panel = PanelData(
        units=first[unit].to_numpy(),
        periods=periods,
        y=wide(outcome),
        cohort=first[cohort].to_numpy(dtype=float),
        weights=w,
        x=x,
        cohorts=cohorts.astype(float),
    )
    _warn_small_groups(panel, len(covariates), control_group)
    return panel


def _warn_small_groups(panel: PanelData, k: int, control_group: str) -> None:
    sizes = pd.Series(panel.cohort).value_counts()
    small = sizes[sizes < k + 5]
    if len(small):
        warnings.warn(f"small cohorts (fewer than {k + 5} units): {_examples(small.index)}", stacklevel=4)
        if 0 in small.index and control_group == "never_treated":
            raise NoComparisonGroupError(
                f"the never-treated group has only {int(small[0])} units; use control_group='not_yet_treated'"
            )
