"""Two-wave difference-in-differences of a district against the comparison group.

The estimate is the interaction in ``y = a + b*treated + c*post + d*treated*post`` fitted by
weighted least squares on the unit-level frame (``evaluering.indicators.units``), which equals
the change in the district's weighted mean minus the change in the comparison group's. Standard
errors are cluster-robust (clusters: persons, so people observed in both years are not counted
twice as independent; institutions; counter-weeks). For visitor counts the model is a Poisson
regression (PPML), so the estimate is a log ratio: the relative change.

Both models are saturated (one parameter per group x period cell), so the fit is the cells'
weighted means (the Poisson fit's log means are their logs) and the cluster-robust variance
(statsmodels' ``cov_type="cluster"`` with its small-sample factor G/(G-1) (N-1)/(N-K)) follows from
per-cluster sums of each row's weighted residual over its cell's total weight (for the Poisson fit,
over its cell's total weight times its mean): :func:`_cell_did` computes it that way, without
building the regression (tested equal to statsmodels' WLS and Poisson GLM fits), which keeps
city-size frames cheap and a district's evaluation free of statsmodels' import (about half a second).

When an indicator has no comparison group (the rest of the municipality's view *of* a
district), the estimate is the district's before-after change and says so (``design="pre_post"``).

This is the first, honest estimator: it treats the comparison group as weighted for
non-response only, and its standard errors do not yet account for there being only three
treated districts (see the DiD and inference issues).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from ..columns import require_columns
from ..groups import COMPARISON
from ..numerics import interval
from ..numerics.counting import all_ones
from ..results import ResultDisplay
from .errors import DidError

__all__ = ["UNIT_COLUMNS", "DidEstimate", "has_unit_weights", "two_wave_did"]

UNIT_COLUMNS = ("group", "period", "y", "weight", "cluster")  # of an indicator's unit frame


def has_unit_weights(weight: pd.Series) -> bool:
    """Whether every weight of a unit frame is exactly 1 (a register frame's): ``w * x`` is then ``x``,
    bit for bit, and sums of weights are counts. Two reductions, no row-long array.
    """
    w = weight.to_numpy()
    return w.dtype.kind == "f" and all_ones(w)


@dataclass(frozen=True, repr=False)
class DidEstimate(ResultDisplay):
    """One difference-in-differences (or before-after) estimate with its uncertainty.

    ``n_clusters`` counts the clusters the standard error rests on: persons, institutions or
    counter-weeks here; for a survey DiD (:func:`~evaluering.did.design_did.design_did`) the
    primary sampling units of the two wave designs.
    """

    indicator: str
    district: str
    baseline: int
    followup: int
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    design: str  # "did" or "pre_post"
    scale: str  # "difference" (indicator's unit) or "log" (relative change)
    n_units: int
    n_clusters: int
    confidence: float = 0.95

    def to_frame(self) -> pd.DataFrame:
        """One row with every field."""
        return pd.DataFrame([{f.name: getattr(self, f.name) for f in fields(self)}])

    def _headline(self) -> str:
        kind = "DiD" if self.design == "did" else "before-after"
        return (f"{self.indicator} ({self.district}, {self.baseline}->{self.followup}, {kind}, {self.scale}; "
                f"{self.confidence:.0%} CI)")


def _cell_did(rows: pd.DataFrame, groups: np.ndarray, district: str, followup: int, with_comparison: bool,
              indicator: str, scale: str) -> tuple[float, float]:
    """The saturated fit's interaction and its cluster-robust SE from the cells' weighted means (see
    the module).

    On the difference scale (WLS) the coefficient is sum_cell sign * mean_cell and its influence on
    cluster g is the sum over g's rows of sign * w * (y - mean_cell) / W_cell. On the log scale
    (Poisson) the coefficient is sum_cell sign * log(mean_cell): the score of a cell's log mean is
    w * (y - mean_cell) and its information W_cell * mean_cell, so each row's influence is divided
    by mean_cell as well; a cell that counted nothing has no log mean, and the estimate and its SE
    are NaN (the Poisson fit would drift towards minus infinity and report a meaningless number).
    """
    post = (rows["period"] == followup).to_numpy()
    treated = (rows["group"] == district).to_numpy() if with_comparison else np.ones(len(rows), bool)
    cell = 2 * treated.astype(np.int64) + post  # 0: comparison before, 1: after; 2: district before, 3: after
    sign = np.array([1.0, -1.0, -1.0, 1.0]) if with_comparison else np.array([0.0, 0.0, -1.0, 1.0])
    w = rows["weight"].to_numpy(dtype=float)
    y = rows["y"].to_numpy(dtype=float)
    total = np.bincount(cell, w, minlength=4)
    mean = np.divide(np.bincount(cell, w * y, minlength=4), total, out=np.zeros(4), where=total > 0)
    if scale == "log":
        used = sign != 0
        if (mean[used] <= 0).any():  # nothing counted in a cell: its log mean is -infinity, no ratio exists
            return float("nan"), float("nan")
        estimate = float(sign[used] @ np.log(mean[used]))
        information = total * np.where(used, mean, 1.0)
    else:
        estimate = float(sign @ mean)
        information = total
    influence = np.bincount(groups, sign[cell] * w * (y - mean[cell]) / information[cell])
    n_groups, n_obs, n_params = len(influence), len(rows), 4 if with_comparison else 2
    if n_groups < 2 or n_obs <= n_params:
        raise DidError(f"{indicator}: {n_groups} cluster(s) and {n_obs} rows: too few for a standard error")
    factor = n_groups / (n_groups - 1) * (n_obs - 1) / (n_obs - n_params)
    return estimate, float(np.sqrt(factor * np.sum(influence**2)))


def _empty_cells(rows: pd.DataFrame, groups: list[str], periods: list[int]) -> list[tuple[str, int]]:
    """The (group, period) cells without rows, group by group: a mask per group and period instead of
    grouping a register frame's million rows.
    """
    group, period = rows["group"], rows["period"].to_numpy()
    in_period = [period == p for p in periods]
    empty = []
    for g in groups:
        in_group = (group == g).to_numpy(dtype=bool, na_value=False)
        empty += [(g, p) for p, rows_p in zip(periods, in_period, strict=True) if not (in_group & rows_p).any()]
    return empty


def two_wave_did(
    units: pd.DataFrame,
    *,
    indicator: str,
    district: str,
    baseline: int,
    followup: int,
    scale: str = "difference",
    confidence: float = 0.95,
) -> DidEstimate:
    """Estimate the DiD of ``district`` vs the comparison group between two periods.

    ``units`` is an indicator's unit frame; rows of other districts and periods are ignored.
    ``scale="log"`` fits a Poisson regression (for counts) and returns a log ratio: the log of the
    district's ratio of its weighted means after and before over the comparison group's.
    """
    if scale not in ("difference", "log"):
        raise DidError(f"scale must be 'difference' or 'log', not {scale!r}")
    require_columns(units, UNIT_COLUMNS, what=f"{indicator}: unit frame", error=DidError)
    wanted = (units["period"].isin([baseline, followup]) & units["group"].isin([district, COMPARISON])
              & (units["weight"] > 0)).to_numpy()
    # one selection, none when every row is wanted: taking a register frame's columns costs
    rows = units if wanted.all() else units[wanted]
    with_comparison = bool((rows["group"] == COMPARISON).any())
    empty = _empty_cells(rows, [district, COMPARISON] if with_comparison else [district], [baseline, followup])
    if empty:
        raise DidError(f"{indicator}: no data for {', '.join(f'{g} {p}' for g, p in empty)}")

    groups = pd.factorize(rows["cluster"])[0]
    estimate, se = _cell_did(rows, groups, district, followup, with_comparison, indicator, scale)
    ci_low, ci_high, p_value = interval(estimate, se, confidence)
    return DidEstimate(
        indicator=indicator, district=district, baseline=baseline, followup=followup, estimate=estimate, se=se,
        ci_low=ci_low, ci_high=ci_high, p_value=p_value, design="did" if with_comparison else "pre_post",
        scale=scale, n_units=int(len(rows)), n_clusters=int(groups.max() + 1), confidence=confidence,
    )
