"""Errors of the difference-in-differences estimators: each names the problem in the data or the
argument, and all derive from :class:`DidError` (an ``EvalueringError`` and a ``ValueError``).
"""

from __future__ import annotations

from ..errors import EvalueringError

__all__ = [
    "CohortChangesError",
    "CollinearCovariatesError",
    "DidError",
    "MissingValuesError",
    "NoComparisonGroupError",
    "OverlapError",
    "RcDidError",
    "StaggeredDidError",
    "UnbalancedPanelError",
]


class DidError(EvalueringError, ValueError):
    """The data or arguments cannot give a difference-in-differences estimate (the message says why)."""


class RcDidError(DidError):
    """The data cannot give a repeated cross-section DiD estimate (the message says why)."""


class OverlapError(RcDidError):
    """Comparison units with a propensity score of (numerically) 1: no overlap."""


class StaggeredDidError(DidError):
    """The data or arguments cannot be used for a staggered-adoption DiD."""


class UnbalancedPanelError(StaggeredDidError):
    """Some units are not observed in every period (or twice in one period)."""


class CohortChangesError(StaggeredDidError):
    """A unit's cohort (first treated period) differs between its rows."""


class NoComparisonGroupError(StaggeredDidError):
    """A cohort has no never-treated or not-yet-treated units to be compared with."""


class CollinearCovariatesError(StaggeredDidError):
    """The covariate (design) matrix is singular: covariates are collinear or do not vary."""


class MissingValuesError(StaggeredDidError):
    """Used columns contain missing values."""
