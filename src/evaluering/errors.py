"""The error family of the package.

Every error the package raises on purpose (bad input, an impossible request) derives from
:class:`EvalueringError`, so the command line can tell them from bugs: an ``EvalueringError``
becomes one line naming the file, column or key; anything else is a bug and gets a full
traceback. The concrete classes also derive from ``ValueError`` so that older ``except
ValueError`` callers keep working.
"""

from __future__ import annotations

__all__ = ["ColumnError", "EstimationError", "EvalueringError", "RequestError"]


class EvalueringError(Exception):
    """The base of every error the package raises on purpose for bad input or an impossible request."""


class RequestError(EvalueringError, ValueError):
    """A request that cannot be carried out as asked: a missing notebook folder, an output path
    that is a file or cannot be written, an existing delivery that would be overwritten.
    """


class ColumnError(EvalueringError, ValueError):
    """A table lacks a column a computation needs, or a column has values of the wrong kind."""


class EstimationError(EvalueringError, ValueError):
    """These data cannot identify the estimate asked for: collinear regressors, too few clusters or
    observations.
    """
