"""The staggered DiD's errors, importable from here as before; they live in :mod:`evaluering.did.errors`."""

from __future__ import annotations

from . import errors

__all__ = ["CohortChangesError", "CollinearCovariatesError", "MissingValuesError", "NoComparisonGroupError",
           "StaggeredDidError", "UnbalancedPanelError"]

CohortChangesError, CollinearCovariatesError = errors.CohortChangesError, errors.CollinearCovariatesError
MissingValuesError, NoComparisonGroupError = errors.MissingValuesError, errors.NoComparisonGroupError
StaggeredDidError, UnbalancedPanelError = errors.StaggeredDidError, errors.UnbalancedPanelError
