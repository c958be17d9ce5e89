"""Two robustness checks of a district's register indicators, for the report's "before and after" section.

* **Is the comparison fair?** Synthetic difference-in-differences (:func:`~evaluering.did.synthetic_did`)
  on the small areas: the district's areas against the areas outside every district, with area and
  year weights that make the comparison look like the district before the strategy. Shown next to the
  plain DiD on the same area panel, so the difference between the two is the weighting alone. Their
  standard errors are chosen by the number of district areas (:func:`se_method_for`: the placebo for
  a few, as a district has).
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
from ..indicators.units import release_units, units_to_sum

if TYPE_CHECKING:  # the estimators are imported where they run: a stored report is read without them
    from ..did.event_study import EventStudyResult
    from ..did.synthetic import SyntheticDidResult

__all__ = ["NARROW_BELOW", "PLACEBO_BELOW", "RELATIVE_MAGNITUDES", "SDID_REPLICATIONS", "SyntheticCheck",
           "TrendSensitivity", "area_panel", "robustness_or_none", "se_method_for", "synthetic_check",
           "trend_sensitivity"]

RELATIVE_MAGNITUDES = (0.5, 1.0, 1.5, 2.0)  # Mbar: post-period violation / largest pre-period one
MIN_PRE_PERIODS = 3  # fewer pre-periods say too little about the trends before the start
SDID_SEED = 20240101  # the placebo standard error is random: a fixed seed
SDID_REPLICATIONS = 200  # placebo draws (synthdid's default): the standard error within about 5 % of its limit
PLACEBO_BELOW = 10  # district areas: with fewer, the placebo standard error (see se_method_for)
# district areas: with fewer, the SDID's placebo interval covered about 90 % in se_method_for's simulation
# (3 areas; 93-97 % with 5 or 10), and the report says so
NARROW_BELOW = 5


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

    A large municipality's register has millions of person-years, so they are summed by one integer
    key per (area, year, in the district) cell, the area's code numbering the areas in the order of
    their text: the cells, their order and their sums are those of a grouping by the text.
    """
    units = units_to_sum(data, indicator)
    release_units(data, indicator)  # a register indicator's compact frame is not kept afterwards
    period = units["period"].to_numpy()
    codes, areas = pd.factorize(units["area"].array, sort=True)  # -1: no area (left out, as by a grouping)
    rows = np.flatnonzero((period <= last_year) & units["group"].isin([district, COMPARISON]).to_numpy()
                          & (codes >= 0))
    if len(rows) == 0:
        return pd.DataFrame({"area": pd.Series(dtype=str), "year": pd.Series(dtype=np.int64),
                             "y": pd.Series(dtype=float), "treated": pd.Series(dtype=int)})
    year = period[rows]
    first, span = int(year.min()), int(year.max() - year.min()) + 1
    in_district = (units["group"] == district).to_numpy()[rows]
    w = units["weight"].to_numpy(float)[rows]
    cell = (codes[rows].astype(np.int64) * span + (year - first)) * 2 + in_district
    sums = pd.DataFrame({"cell": cell, "w": w, "wy": w * units["y"].to_numpy(float)[rows]})
    cells = sums.groupby("cell", sort=True)[["w", "wy"]].sum()
    cells = cells[cells["w"] > 0]
    key = cells.index.to_numpy()
    area_code, year_offset = np.divmod(key // 2, span)
    panel = pd.DataFrame({"area": np.asarray(areas.astype(str), dtype=object)[area_code],
                          "year": year_offset + first, "y": (cells["wy"] / cells["w"]).to_numpy()})
    complete = panel.groupby("area")["year"].transform("size").to_numpy() == panel["year"].nunique()
    treated = (key % 2 == 1) & (panel["year"].to_numpy() >= start)
    return panel.assign(treated=treated.astype(int))[complete].reset_index(drop=True)


def se_method_for(n_district_areas: int, n_comparison_areas: int) -> str | None:
    """The standard error of the SDID and the area DiD for a district of ``n_district_areas`` areas
    against ``n_comparison_areas`` (None: no reliable one), following Arkhangelsky et al. (2021, section 5).

    * Fewer than ``PLACEBO_BELOW`` district areas: the placebo (their Algorithm 4). The jackknife
      and the bootstrap take the spread of the estimate from leaving out or resampling the treated
      units and are justified as their number grows; with the 3-5 areas of a Gladsaxe district
      that spread rests on 3-5 values (synthdid: the placebo is the only choice with one treated
      unit). The placebo refits the estimator with placebo districts of as many areas drawn from
      the comparison areas. It assumes the district's areas are as noisy as the others (small
      areas of similar size) and needs more comparison areas than district areas (else None).
    * ``PLACEBO_BELOW`` or more: the jackknife (Algorithm 3), which needs no refits.

    The threshold is a judgement backed by a simulation (the area-level factor model of
    ``tests/worlds/area_factor.py``, 30 comparison areas): with 3 district areas drawn like the
    others (400 worlds) the plain DiD's placebo interval covered the planted effect in 94 % of the
    worlds, its jackknife interval in 85 %; the SDID's intervals covered in about 90 % with either
    method (placebo 90 %, jackknife 89 %; the placebo's standard error ~10 % below the SDID's
    spread). With 5 and 10 areas (100 worlds each) both methods covered in 93-97 %. Below 10 the
    placebo is used, leaving a margin. Where the district's areas drift far more than the
    comparison areas (loading a standard deviation above them), the SDID itself is biased and no
    interval reaches 95 % (placebo 82-90 %, jackknife 89-91 %).
    """
    if n_district_areas < PLACEBO_BELOW:
        return "placebo" if n_comparison_areas > n_district_areas else None
    return "jackknife"


def synthetic_check(data: PreparedData, indicator: Indicator, district: str, start: int, last_year: int,
                    replications: int = SDID_REPLICATIONS) -> SyntheticCheck | None:
    """SDID and plain DiD of ``indicator`` with the standard error of :func:`se_method_for` (None without
    a district area, a comparison area, two pre-periods or a reliable standard error).
    ``replications``: the placebo draws.
    """
    from ..did.synthetic import synthetic_did

    panel = area_panel(data, indicator, district, start, last_year)
    treated_areas = panel.loc[panel["treated"] == 1, "area"].unique()
    years = panel["year"].unique()
    n_treated, n_control = len(treated_areas), panel["area"].nunique() - len(treated_areas)
    se_method = se_method_for(n_treated, n_control)
    if n_treated == 0 or n_control == 0 or (years < start).sum() < 2 or se_method is None:
        return None
    fits = {method: synthetic_did(panel, outcome="y", unit="area", time="year", treated="treated", method=method,
                                  se_method=se_method, replications=replications, seed=SDID_SEED)
            for method in ("sdid", "did")}
    return SyntheticCheck(indicator.key, fits["sdid"], fits["did"], n_treated, n_control, int(years.min()),
                          int(years.max()))


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
