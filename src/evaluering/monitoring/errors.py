"""The error raised for bad input to the monitoring functions."""

from __future__ import annotations

from ..errors import EvalueringError

__all__ = ["MonitoringError"]


class MonitoringError(EvalueringError, ValueError):
    """Input the monitoring cannot use: a missing reference value, column, year, area or age group.

    The message names the argument, column, area or age group concerned.
    """
