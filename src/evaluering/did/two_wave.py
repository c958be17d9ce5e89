"""Two-wave difference-in-differences of a district against the comparison group.

The estimate is the interaction in ``y = a + b*treated + c*post + d*treated*post`` fitted by
weighted least squares on the unit-level frame (``evaluering.indicators.units``), which equals
the change in the district's weighted mean minus the change in the comparison group's. Standard
errors are cluster-robust (clusters: persons, so people observed in both years are not counted
twice as independent; institutions; counter-weeks). For visitor counts the model is a Poisson
regression (PPML), so the estimate is a log ratio: the relative change.

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
import statsmodels.api as sm

from ..columns import require_columns
from ..groups import COMPARISON
from ..numerics import interval
from ..results import ResultDisplay
from .errors import DidError

__all__ = ["UNIT_COLUMNS", "DidEstimate", "two_wave_did"]

UNIT_COLUMNS = ("group", "period", "y", "weight", "cluster")  # of an indicator's unit frame


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


def _design_matrix(units: pd.DataFrame, district: str, followup: int, with_comparison: bool) -> pd.DataFrame:
    post = (units["period"] == followup).astype(float)
    columns = {"const": np.ones(len(units)), "post": post}
    if with_comparison:
        treated = (units["group"] == district).astype(float)
        columns.update(treated=treated, treated_post=treated * post)
    return pd.DataFrame(columns, index=units.index)


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
    ``scale="log"`` fits a Poisson regression (for counts) and returns a log ratio.
    """
    if scale not in ("difference", "log"):
        raise DidError(f"scale must be 'difference' or 'log', not {scale!r}")
    require_columns(units, UNIT_COLUMNS, what=f"{indicator}: unit frame", error=DidError)
    rows = units[units["period"].isin([baseline, followup]) & units["group"].isin([district, COMPARISON])
                 & (units["weight"] > 0)]  # one selection: taking a register frame's text columns costs
    with_comparison = bool((rows["group"] == COMPARISON).any())
    cells = rows.groupby(["group", "period"]).size()
    needed = [(district, baseline), (district, followup)]
    if with_comparison:
        needed += [(COMPARISON, baseline), (COMPARISON, followup)]
    empty = [cell for cell in needed if cells.get(cell, 0) == 0]
    if empty:
        raise DidError(f"{indicator}: no data for {', '.join(f'{g} {p}' for g, p in empty)}")

    X = _design_matrix(rows, district, followup, with_comparison)
    groups = pd.factorize(rows["cluster"])[0]
    term = "treated_post" if with_comparison else "post"
    if scale == "log":
        weights = None if (rows["weight"] == 1).all() else rows["weight"]  # counts are rarely weighted
        model = sm.GLM(rows["y"], X, family=sm.families.Poisson(), var_weights=weights)
    else:
        model = sm.WLS(rows["y"], X, weights=rows["weight"])
    fit = model.fit(cov_type="cluster", cov_kwds={"groups": groups})
    estimate = float(fit.params[term])
    se = float(fit.bse[term])
    ci_low, ci_high, p_value = interval(estimate, se, confidence)
    return DidEstimate(
        indicator=indicator, district=district, baseline=baseline, followup=followup, estimate=estimate, se=se,
        ci_low=ci_low, ci_high=ci_high, p_value=p_value, design="did" if with_comparison else "pre_post",
        scale=scale, n_units=int(len(rows)), n_clusters=int(groups.max() + 1), confidence=confidence,
    )
