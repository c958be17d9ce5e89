"""From a prepared dataset to a district's evaluation.

- :mod:`.district`: every indicator's levels, change, reported inference and verdict
  (:func:`evaluate_district`);
- :mod:`.designs`: the design choices (what the comparison group is balanced on, which survey
  designs an indicator is estimated on);
- :mod:`.register_analyses`: what accompanies the register indicators' place estimates (the
  studentised placebo inference, the people estimate, the place event studies);
- :mod:`.ambitions`: each district's latest level against the politicians' target and trajectory;
- :mod:`.survey_plan`: what the next survey wave can detect with the evaluation's designs.
"""

from .ambitions import STATUS_LABELS, ambition_met, track_ambitions, track_district
from .designs import BALANCE_COVARIATES, balanced_designs, estimation_designs
from .district import BETTER, NO_CHANGE, WORSE, DistrictEvaluation, estimate_indicator, evaluate_district, verdict
from .survey_plan import survey_plan

__all__ = [
    "BALANCE_COVARIATES",
    "BETTER",
    "NO_CHANGE",
    "STATUS_LABELS",
    "WORSE",
    "DistrictEvaluation",
    "ambition_met",
    "balanced_designs",
    "estimate_indicator",
    "estimation_designs",
    "evaluate_district",
    "survey_plan",
    "track_ambitions",
    "track_district",
    "verdict",
]
