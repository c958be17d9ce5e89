"""The error and warning types of the weighting package."""

from __future__ import annotations

from ..errors import EvalueringError

__all__ = ["BalanceError", "BalanceWarning", "CovariateColumnError"]


class BalanceError(EvalueringError, ValueError):
    """The comparison group cannot be weighted to the target (infeasible or no convergence), or the
    covariates, treatment indicator or base weights given cannot be used.
    """


class CovariateColumnError(BalanceError, KeyError):
    """A covariate column asked for is not in the frame (also a ``KeyError``, as a lookup)."""


class BalanceWarning(EvalueringError, UserWarning):
    """The weights exist but deserve a look: few effective respondents, dominant weights,
    dropped covariates or extreme propensities.

    A warning, issued with ``warnings.warn``; it is in the package's error family so that, turned
    into an error (``-W error``), the command line reports it as a problem with the data.
    """
