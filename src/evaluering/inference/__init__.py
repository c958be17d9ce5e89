"""Inference with few treated districts, and adjustment for testing many indicators.

- :func:`placebo_test`, :func:`placebo_test_joint`: randomisation (placebo) inference, the
  district's DiD against pseudo-districts built from comparison areas (Conley & Taber 2011).
- :func:`wild_cluster_bootstrap`: wild cluster bootstrap p-values and intervals for one
  coefficient of a (weighted) linear regression (Cameron, Gelbach & Miller 2008; Roodman et
  al. 2019).
- :func:`holm`, :func:`benjamini_hochberg`, :func:`romano_wolf`: multiple-testing adjustment
  for the 19 indicators.
"""

from .errors import InferenceError, UnknownNameError
from .multiple import AdjustedPValues, benjamini_hochberg, holm, romano_wolf
from .randomization import PlaceboTest, areas_by_district, placebo_test, placebo_test_joint
from .wild_bootstrap import WildBootstrapTest, wild_cluster_bootstrap, wild_cluster_bootstrap_arrays

__all__ = [
    "AdjustedPValues",
    "InferenceError",
    "PlaceboTest",
    "WildBootstrapTest",
    "areas_by_district",
    "benjamini_hochberg",
    "holm",
    "placebo_test",
    "placebo_test_joint",
    "UnknownNameError",
    "romano_wolf",
    "wild_cluster_bootstrap",
    "wild_cluster_bootstrap_arrays",
]
