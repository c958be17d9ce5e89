"""Analyses that accompany a district's place estimates: register inference, people, event studies.

* **Register inference** for indicators measured on everyone in the registers: with only three
  treated districts that differ from the rest, person-clustered standard errors miss shocks common
  to an area, and raw placebo districts have the rest's noise, not the district's; the studentised
  placebo test (``inference.studentised_placebo``) handles both.
* **People**: the residents at baseline followed wherever they move (intention to treat by
  baseline address), a two-way fixed-effects DiD on the register panel.
* **Place event study**: the district's yearly difference to the comparison group around the
  start, with a joint test of parallel pre-trends.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import Indicator, InmoverShare, RegisterMean, RegisterShare
from ..did.event_study import EventStudyResult
from ..did.panel import PanelDidResult, baseline_cohort, panel_did
from ..did.place_event_study import place_event_study
from ..indicators.prepare import PreparedData
from ..indicators.units import is_one_of, register_column_rows, register_units, sorted_person_codes
from ..inference.reported import ReportedInference
from ..inference.studentised_placebo import area_statistics, district_history_variance, studentised_placebo

__all__ = ["REGISTER_KINDS", "register_inference", "PEOPLE_KINDS", "district_cohort", "people_estimate",
           "indicator_event_study", "place_event_studies", "PLACEBO_SEED", "PLACEBO_DRAWS"]

REGISTER_KINDS = (RegisterShare, RegisterMean, InmoverShare)
PEOPLE_KINDS = (RegisterShare, RegisterMean)
PLACEBO_SEED = 20160101  # one seed for every indicator: the same pseudo-districts throughout
PLACEBO_DRAWS = 999


def _areas(data: PreparedData, district: str) -> tuple[list, list]:
    areas = data.dataset.areas
    treated = areas.loc[areas["district"] == district, "area_id"].astype(str).tolist()
    rest = areas.loc[areas["district"].isna(), "area_id"].astype(str).tolist()
    return treated, rest


def register_inference(data: PreparedData, indicator: Indicator, district: str, baseline: int,
                       followup: int) -> ReportedInference:
    """The district's register DiD with sampling and area-shock variance, studentised placebo test.

    The area statistics are computed once per indicator and periods and serve every district.
    Computed from the indicator's compact unit frames (``register_units``).
    """
    key = ("area_statistics", repr(indicator.computation), baseline, followup)
    if key not in data._unit_frames:
        units = register_units(data, indicator, [baseline, followup])
        data._unit_frames[key] = area_statistics(units, sorted(data.dataset.areas["area_id"].astype(str)),
                                                 baseline, followup, cluster_codes=units["cluster"].to_numpy())
    treated, rest = _areas(data, district)
    units = register_units(data, indicator)
    history = district_history_variance(units, treated, rest, baseline, followup,
                                        cluster_codes=units["cluster"].to_numpy())
    return studentised_placebo(data._unit_frames[key], treated, rest, baseline, followup, n_draws=PLACEBO_DRAWS,
                               seed=PLACEBO_SEED, district_tau2=history)


def district_cohort(data: PreparedData, district: str, baseline: int, followup: int) -> pd.DataFrame:
    """Baseline residents of the district and of the comparison group, followed to ``followup``
    (the columns the people estimates use: person_id as integer codes, year, treated,
    baseline_age and the outcomes, text outcomes as categoricals).
    """
    register = data.register
    # only the years and columns the people estimates use: the cohort is then built from a fraction of
    # the register; persons as integer codes in the ids' sorted order (so rows, units and clusters come
    # in the same order as with the ids), which joins, sorts and groups much faster than text; text
    # columns (group, outcomes) as categoricals from their kept codes, not taken as text
    outcomes = [ind.computation.column for ind in data.params.indicators if isinstance(ind.computation, PEOPLE_KINDS)]
    year = register["year"].to_numpy()
    rows = np.flatnonzero((year >= baseline) & (year <= followup))
    columns = {"person_id": sorted_person_codes(data, rows), "year": register["year"].take(rows).to_numpy()}
    for column in dict.fromkeys(["group", "age", *outcomes]):
        columns[column] = register_column_rows(data, column, rows)
    # only what the people estimates use: not the group, age or baseline group
    return baseline_cohort(pd.DataFrame(columns, copy=False), baseline, district=district,
                           columns=[*outcomes, "baseline_age", "treated"])


def people_estimate(cohort: pd.DataFrame, indicator: Indicator, baseline: int) -> PanelDidResult:
    """Intention-to-treat DiD for the people in the indicator's age band at baseline.

    NaN with a Danish ``note`` when the outcome cannot change within a person over the window
    (see :func:`~.did.panel.panel_did`).
    """
    comp = indicator.computation
    keep = cohort["baseline_age"].between(*comp.age) & cohort[comp.column].notna()
    rows = cohort.loc[keep, ["person_id", "year", "treated", comp.column]]  # what the estimate needs
    if isinstance(comp, RegisterShare):
        y = is_one_of(rows[comp.column], comp.values)
    else:
        y = rows[comp.column].astype(float).to_numpy()
    return panel_did(rows.assign(y=y), "y", "person_id", "year", "treated", baseline + 1)


def indicator_event_study(data: PreparedData, indicator: Indicator, district: str, baseline: int,
                          followup: int) -> EventStudyResult:
    """Yearly place event study of one register share or mean (start the year after baseline),
    from its compact unit frame; years after the follow-up are left out.
    """
    units = register_units(data, indicator)
    later = (units["period"] > followup).to_numpy()
    if later.any():
        units = units[~later]
    return place_event_study(units, district, baseline + 1, outcome=indicator.key,
                             cluster_codes=units["cluster"].to_numpy())


def place_event_studies(data: PreparedData, district: str, baseline: int, followup: int
                        ) -> dict[str, EventStudyResult]:
    """Yearly place event study of every register indicator, start the year after baseline."""
    return {ind.key: indicator_event_study(data, ind, district, baseline, followup)
            for ind in data.params.indicators if isinstance(ind.computation, PEOPLE_KINDS)}
