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

from ..lazy import lazy_exports
from .design_did import design_did as design_did  # named as their submodules: see lazy_exports
from .event_study import event_study as event_study

# Where each public name lives. The submodules are imported when a name is first used (PEP 562), so
# a report drawn from stored results imports only the result classes it unpickles, not every
# estimator with its statsmodels and scipy.stats.
_HOME = {
    "DidError": "errors", "DidEstimate": "two_wave", "SyntheticDidResult": "synthetic", "att_gt": "staggered",
    "baseline_cohort": "panel", "breakdown_value": "honest",
    "honest_did": "honest", "original_interval": "honest", "panel_did": "panel",
    "repeated_cross_section_did": "rc", "synthetic_did": "synthetic", "two_wave_did": "two_wave",
}

__all__ = sorted([*_HOME, "design_did", "event_study"])


__getattr__, __dir__ = lazy_exports(__name__, _HOME)
