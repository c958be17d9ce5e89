"""The 19 indicators: preparation of the inputs, unit-level frames and levels per group and period."""

from .levels import all_levels, indicator_levels, weighted_levels
from .prepare import COMPARISON, PreparedData, prepare
from .units import unit_frame

__all__ = ["COMPARISON", "PreparedData", "prepare", "unit_frame", "weighted_levels", "indicator_levels", "all_levels"]
