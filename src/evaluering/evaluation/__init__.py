"""From a prepared dataset to a district's evaluation.

- :mod:`.district`: every indicator's levels, change, reported inference and verdict
  (:func:`evaluate_district`), giving a :class:`DistrictEvaluation` (:mod:`.result`);
- :mod:`.designs`: the design choices (what the comparison group is balanced on, which survey
  designs an indicator is estimated on);
- :mod:`.register_analyses`: what accompanies the register indicators' place estimates (the
  studentised placebo inference, the people estimate, the place event studies);
- :mod:`.ambitions`: each district's latest level against the politicians' target and trajectory;
- :mod:`.planning`: what the next survey wave can detect with the evaluation's designs.
"""

from ..lazy import lazy_exports

# Where each public name lives. The submodules are imported when a name is first used (PEP 562), so
# a report drawn from stored results unpickles its DistrictEvaluation without importing the
# estimators (the social-mix and monitoring inference with scipy.optimize, the survey weighting).
_HOME = {
    "BALANCE_COVARIATES": "designs", "BETTER": "result", "NO_CHANGE": "result", "STATUS_LABELS": "ambitions",
    "WORSE": "result", "DistrictEvaluation": "result", "ambition_met": "ambitions",
    "balanced_designs": "designs", "estimate_indicator": "district", "estimation_designs": "designs",
    "evaluate_district": "district", "survey_plan": "planning", "track_ambitions": "ambitions",
    "track_district": "ambitions", "verdict": "district",
}

__all__ = sorted(_HOME)


__getattr__, __dir__ = lazy_exports(__name__, _HOME)
