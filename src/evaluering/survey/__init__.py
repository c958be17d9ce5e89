"""Survey weighting and design-based estimation."""

from .nonresponse import age_band, weighting_class_weights

__all__ = ["age_band", "weighting_class_weights"]
