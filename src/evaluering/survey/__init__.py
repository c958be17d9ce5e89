"""Survey weighting and design-based estimation (after R's ``survey`` package)."""

from .design import SurveyDesign
from .estimate import Estimate, EstimateTable
from .nonresponse import age_band, collapse_classes
from .replicate import ReplicateDesign
from .steps import ConvergenceError
from .variance import SurveyError

__all__ = ["SurveyDesign", "ReplicateDesign", "Estimate", "EstimateTable", "SurveyError", "ConvergenceError",
           "age_band", "collapse_classes"]
