"""Difference-in-differences estimators.

* ``survey_did``: two-period repeated cross-sections (Sant'Anna & Zhao 2020: reg, IPW, DR).
* ``att_gt``: staggered adoption, group-time ATTs and their aggregations (Callaway & Sant'Anna 2021).
* ``baseline_cohort``, ``panel_did``, ``event_study``: the *people* estimand on the register panel.
* ``two_wave_did`` and ``design_did``: the district-vs-comparison estimates used in the reports.
"""

from .design_did import design_did
from .event_study import event_study, event_study_figure
from .panel import baseline_cohort, panel_did
from .rc import survey_did
from .staggered import att_gt
from .two_wave import DidEstimate, two_wave_did

__all__ = ["DidEstimate", "att_gt", "baseline_cohort", "design_did", "event_study", "event_study_figure",
           "panel_did", "survey_did", "two_wave_did"]
