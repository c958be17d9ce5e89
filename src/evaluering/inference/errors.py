"""The errors of the inference procedures: bad input, or data that cannot support the test asked for."""

from __future__ import annotations

from ..errors import EvalueringError

__all__ = ["InferenceError", "UnknownNameError"]


class InferenceError(EvalueringError, ValueError):
    """Input an inference procedure cannot use: missing values, too few areas, clusters or draws,
    an argument out of range. The message names the column, area or argument concerned.
    """


class UnknownNameError(InferenceError, KeyError):
    """A column or coefficient named in the call is not there (also a ``KeyError``, as a lookup)."""
