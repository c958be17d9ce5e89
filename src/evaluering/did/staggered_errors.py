"""Errors of the staggered DiD estimator: all are ``ValueError``s that name the problem in the data."""

from __future__ import annotations

from ..errors import EvalueringError

__all__ = [
    "CohortChangesError",
    "CollinearCovariatesError",
    "MissingValuesError",
    "NoComparisonGroupError",
    "StaggeredDidError",
    "UnbalancedPanelError",
]


class StaggeredDidError(EvalueringError, ValueError):
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
