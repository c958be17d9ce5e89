"""Two robustness checks of a district's register indicators, for the report's "before and after" section.

* **Is the comparison fair?** Synthetic difference-in-differences (:func:`~evaluering.did.synthetic_did`)
  on the small areas: the district's areas against the areas outside every district, with area and
  year weights that make the comparison look like the district before the strategy. Shown next to the
  plain DiD on the same area panel, so the difference between the two is the weighting alone.
* **How far could the pre-trends be off?** Rambachan & Roth's relative-magnitudes intervals
  (:func:`~evaluering.did.honest_did`) for the follow-up year of the district's event study, and the
  breakdown value: the largest post-period violation, in multiples of the largest pre-period one,
  at which the change is still significant.

Both work on results that the report already shows (the district's change, the event study), so
they are computed only where those are shown.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..config import Indicator
from ..did.errors import DidError
from ..indicators.prepare import COMPARISON, PreparedData
from ..indicators.units import unit_frame

if TYPE_CHECKING:  # the estimators are imported where they run: a stored report is read without them
    from ..did.event_study import EventStudyResult
    from ..did.synthetic import SyntheticDidResult

__all__ = ["RELATIVE_MAGNITUDES", "SyntheticCheck", "TrendSensitivity", "area_panel", "robustness_or_none",
           "synthetic_check", "trend_sensitivity"]

RELATIVE_MAGNITUDES = (0.5, 1.0, 1.5, 2.0)  # Mbar: post-period violation / largest pre-period one
MIN_PRE_PERIODS = 3  # fewer pre-periods say too little about the trends before the start
SDID_SEED = 20240101  # the placebo standard error (one district area) is random: a fixed seed


@dataclass(frozen=True)
class SyntheticCheck:
    """SDID and plain DiD of one register indicator on the district's and the other areas' yearly means."""

    indicator: str
    sdid: SyntheticDidResult
    did: SyntheticDidResult
    n_district_areas: int
    n_comparison_areas: int
    first_year: int
    last_year: int


@dataclass(frozen=True)
class TrendSensitivity:
    """Relative-magnitudes intervals for the change to ``year`` and the breakdown value."""

    indicator: str
    year: int
    intervals: pd.DataFrame  # m, lb, ub (one row per Mbar)
    original: tuple[float, float]
    breakdown: float  # NaN: not significant even under exact parallel trends
    n_pre: int


def area_panel(data: PreparedData, indicator: Indicator, district: str, start: int, last_year: int) -> pd.DataFrame:
    """area, year, y (the weighted mean), treated: the district's areas and the areas outside every
    district, each with a value in every year up to ``last_year`` (a balanced panel, as SDID needs).
    """
    units = unit_frame(data, indicator)
    units = units[(units["period"] <= last_year) & units["group"].isin([district, COMPARISON])]
    w = units["weight"].to_numpy(float)
    sums = pd.DataFrame({"area": units["area"].astype(str).to_numpy(), "year": units["period"].to_numpy(),
                         "in_district": (units["group"] == district).to_numpy(), "w": w,
                         "wy": w * units["y"].to_numpy(float)})
    cells = sums.groupby(["area", "year", "in_district"], sort=True)[["w", "wy"]].sum()
    cells = cells[cells["w"] > 0]
    panel = (cells["wy"] / cells["w"]).rename("y").reset_index()
    complete = panel.groupby("area")["year"].transform("size") == panel["year"].nunique()
    panel = panel[complete]
    treated = panel["in_district"] & (panel["year"] >= start)
    return panel.assign(treated=treated.astype(int)).drop(columns="in_district")


def synthetic_check(data: PreparedData, indicator: Indicator, district: str, start: int,
                    last_year: int) -> SyntheticCheck | None:
    """SDID and plain DiD of ``indicator`` (None without a district area, a comparison area or a pre-period)."""
    from ..did.synthetic import synthetic_did

    panel = area_panel(data, indicator, district, start, last_year)
    treated_areas = panel.loc[panel["treated"] == 1, "area"].unique()
    years = panel["year"].unique()
    if len(treated_areas) == 0 or panel["area"].nunique() == len(treated_areas) or (years < start).sum() < 2:
        return None
    se_method = "jackknife" if len(treated_areas) > 1 else "placebo"
    fits = {method: synthetic_did(panel, outcome="y", unit="area", time="year", treated="treated", method=method,
                                  se_method=se_method, seed=SDID_SEED)
            for method in ("sdid", "did")}
    return SyntheticCheck(indicator.key, fits["sdid"], fits["did"], len(treated_areas),
                          panel["area"].nunique() - len(treated_areas), int(years.min()), int(years.max()))


def trend_sensitivity(result: EventStudyResult, year: int, alpha: float = 0.05) -> TrendSensitivity | None:
    """Relative-magnitudes intervals and the breakdown value for the event-study estimate of ``year``
    (None when the event study has fewer than ``MIN_PRE_PERIODS`` pre-periods or no estimate for ``year``).
    """
    from ..did.honest import breakdown_value, honest_did, original_interval

    table = result.coefficients[~result.coefficients["reference"]].sort_index()
    pre, post = table[table.index < 0], table[table.index >= 0]
    if len(pre) < MIN_PRE_PERIODS or year not in set(post["year"]):
        return None
    betahat, sigma = table["estimate"].to_numpy(float), np.asarray(result.covariance, dtype=float)
    l_vec = (post["year"] == year).to_numpy(float)
    args = (betahat, sigma, len(pre), len(post))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # an interval at the end of HonestDiD's grid: shown as it is
        intervals = honest_did(*args, restriction="relative_magnitudes", m=list(RELATIVE_MAGNITUDES),
                               l_vec=l_vec, alpha=alpha)
        original = original_interval(*args, l_vec=l_vec, alpha=alpha).iloc[0]
        breakdown = breakdown_value(*args, restriction="relative_magnitudes", l_vec=l_vec, alpha=alpha)
    return TrendSensitivity(result.outcome, int(year), intervals[["m", "lb", "ub"]].reset_index(drop=True),
                            (float(original["lb"]), float(original["ub"])), float(breakdown), len(pre))


def robustness_or_none(compute, *args):
    """``compute(*args)``, or None when the estimator cannot run on these data.

    The checks are extra evidence next to the report's own estimates: on data where one cannot run
    (too few areas or years, a degenerate panel) the report says "ikke beregnet" instead of failing.
    """
    try:
        return compute(*args)
    except (DidError, ValueError, ArithmeticError, np.linalg.LinAlgError):
        return None
