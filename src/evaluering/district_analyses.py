"""Analyses that accompany a district's place estimates: placebo inference, people, event studies.

* **Placebo (randomisation) inference** for indicators measured on everyone in the registers or
  institutions: with only three treated districts, person-clustered standard errors ignore
  shocks common to an area; comparing the district's change with pseudo-districts built from the
  comparison group's small areas does not (Conley & Taber 2011).
* **People**: the residents at baseline followed wherever they move (intention to treat by
  baseline address), a two-way fixed-effects DiD on the register panel.
* **Place event study**: the district's yearly difference to the comparison group around the
  start, with a joint test of parallel pre-trends.
"""

from __future__ import annotations

import pandas as pd

from .config import Indicator, InmoverShare, InstitutionIsolation, RegisterMean, RegisterShare
from .did.event_study import EventStudyResult
from .did.panel import PanelDidResult, baseline_cohort, panel_did
from .did.place_event_study import place_event_study
from .indicators.prepare import PreparedData
from .indicators.units import unit_frame
from .inference import PlaceboTest, placebo_test

__all__ = ["PLACEBO_KINDS", "PEOPLE_KINDS", "placebo_inference", "district_cohort", "people_estimate",
           "place_event_studies", "PLACEBO_SEED", "PLACEBO_DRAWS"]

PLACEBO_KINDS = (RegisterShare, RegisterMean, InmoverShare, InstitutionIsolation)
PEOPLE_KINDS = (RegisterShare, RegisterMean)
PLACEBO_SEED = 20160101  # one seed for every indicator: the same pseudo-districts throughout
PLACEBO_DRAWS = 999


def _areas(data: PreparedData, district: str) -> tuple[list, list]:
    areas = data.dataset.areas
    treated = areas.loc[areas["district"] == district, "area_id"].astype(str).tolist()
    rest = areas.loc[areas["district"].isna(), "area_id"].astype(str).tolist()
    return treated, rest


def placebo_inference(data: PreparedData, units: pd.DataFrame, district: str, baseline: int,
                      followup: int) -> PlaceboTest:
    """The district's DiD against pseudo-districts of as many comparison areas (placebo test).

    Areas without data in both periods (e.g. no 18-29-year-olds one year) are left out.
    """
    units = units.assign(area=units["area"].astype(str))
    observed = units.groupby("area")["period"].nunique()
    complete = set(observed.index[observed == 2])
    treated, rest = ([a for a in areas if a in complete] for areas in _areas(data, district))
    return placebo_test(units, "y", "area", "period", treated, baseline, followup, comparison_areas=rest,
                        weights="weight", n_draws=PLACEBO_DRAWS, seed=PLACEBO_SEED)


def district_cohort(data: PreparedData, district: str, baseline: int, followup: int) -> pd.DataFrame:
    """Baseline residents of the district and of the comparison group, followed to ``followup``."""
    register = data.register
    # only the years kept: the cohort is then built from a fraction of the register
    return baseline_cohort(register[register["year"].between(baseline, followup)], baseline, district=district)


def people_estimate(cohort: pd.DataFrame, indicator: Indicator, baseline: int) -> PanelDidResult:
    """Intention-to-treat DiD for the people in the indicator's age band at baseline."""
    comp = indicator.computation
    keep = cohort["baseline_age"].between(*comp.age) & cohort[comp.column].notna()
    rows = cohort.loc[keep, ["person_id", "year", "treated", comp.column]]  # what the estimate needs
    if isinstance(comp, RegisterShare):
        y = rows[comp.column].astype(object).isin(comp.values).to_numpy(dtype=float)
    else:
        y = rows[comp.column].astype(float).to_numpy()
    return panel_did(rows.assign(y=y), "y", "person_id", "year", "treated", baseline + 1)


def place_event_studies(data: PreparedData, district: str, baseline: int, followup: int
                        ) -> dict[str, EventStudyResult]:
    """Yearly place event study of every register indicator, start the year after baseline."""
    results = {}
    for ind in data.params.indicators:
        if isinstance(ind.computation, PEOPLE_KINDS):
            units = unit_frame(data, ind)
            units = units[units["period"] <= followup]
            results[ind.key] = place_event_study(units, district, baseline + 1, outcome=ind.key)
    return results
