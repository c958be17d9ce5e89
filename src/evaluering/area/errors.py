"""The errors of the area models: one class for every model, one for the piecewise and threshold
models (kept apart so callers can tell a threshold that cannot be identified from other bad input).
"""

from __future__ import annotations

from ..errors import EvalueringError

__all__ = ["AreaModelError", "ThresholdInputError"]


class AreaModelError(EvalueringError, ValueError):
    """The data cannot be fitted as asked (names the column or area at fault)."""


class ThresholdInputError(AreaModelError):
    """The data cannot identify the piecewise or threshold model (bad input)."""
