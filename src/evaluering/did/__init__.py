"""Difference-in-differences estimators.

* ``repeated_cross_section_did``: two-period repeated cross-sections from a data frame of
  respondents with sampling weights (Sant'Anna & Zhao 2020: reg, IPW, DR).
* ``design_did``: the district-vs-comparison DiD of a survey indicator from the calibrated wave
  designs (``SurveyDesign``), with design-based variances; used in the reports.
* ``two_wave_did``: the district-vs-comparison DiD of a unit-level frame (register, counters).
* ``att_gt``: staggered adoption, group-time ATTs and their aggregations (Callaway & Sant'Anna 2021).
* ``baseline_cohort``, ``panel_did``, ``event_study``: the *people* estimand on the register panel.
* ``synthetic_did``: synthetic difference-in-differences (Arkhangelsky et al. 2021), with the
  synthetic-control and plain-DiD special cases; a robustness check with few treated units.
* ``honest_did``: intervals that stay valid under bounded violations of parallel trends
  (Rambachan & Roth 2023), ``original_interval`` and the ``breakdown_value``.

The event-study figure is drawn in :mod:`evaluering.report.event_study_figure`.
"""

from .design_did import design_did
from .errors import DidError
from .event_study import event_study
from .honest import breakdown_value, honest_did, original_interval
from .panel import baseline_cohort, panel_did
from .rc import repeated_cross_section_did
from .staggered import att_gt
from .synthetic import SyntheticDidResult, synthetic_did
from .two_wave import DidEstimate, two_wave_did

__all__ = ["DidError", "DidEstimate", "SyntheticDidResult", "att_gt", "baseline_cohort", "breakdown_value",
           "design_did", "event_study", "honest_did", "original_interval", "panel_did", "repeated_cross_section_did",
           "synthetic_did", "two_wave_did"]
