"""The error the synthetic generator raises when it cannot build what it is asked for."""

from __future__ import annotations

from ...errors import EvalueringError

__all__ = ["SyntheticDataError"]


class SyntheticDataError(EvalueringError, ValueError):
    """The generator cannot build this world: an unknown world or ``planted`` choice, or a parameter
    file with a district or indicator it has no profile, model or planted effect for.
    """
