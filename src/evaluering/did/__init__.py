"""Difference-in-differences estimators."""

from .two_wave import DidEstimate, two_wave_did

__all__ = ["DidEstimate", "two_wave_did"]
