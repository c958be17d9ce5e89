"""Area effects (Galster): are residents of deprived districts hit twice?

* ``multilevel``: random-intercept linear (exact profiled REML/ML, lmer's likelihood) or logistic
  (ML, adaptive Gauss-Hermite quadrature) models with individual and contextual covariates,
  optional Mundlak area means; ICC / variance partition coefficient and median odds ratio.
* ``piecewise_contextual``, ``threshold_regression``: non-linear contextual effects with given
  knots, or a data-driven threshold with bootstrap and likelihood-ratio intervals.
* ``movers_model``: individual fixed effects for people who move between areas.
* ``oaxaca_blinder``, ``dfl_reweighting``: a district's gap split into composition and area effect.
* ``area_poverty``, ``poverty_share``: the area context (share of adults on a low income).

The models draw nothing: their figures are in :mod:`evaluering.report.area_figures`.
"""

from .context import area_poverty, poverty_share
from .decomposition import DecompositionResult, dfl_reweighting, oaxaca_blinder
from .errors import AreaModelError, ThresholdInputError
from .movers import MoversResult, movers_model
from .multilevel import MultilevelResult, icc_latent, median_odds_ratio, multilevel
from .piecewise import PiecewiseResult, piecewise_contextual
from .threshold import ThresholdResult, threshold_regression

__all__ = [
    "AreaModelError", "DecompositionResult", "MoversResult", "MultilevelResult", "PiecewiseResult",
    "ThresholdInputError", "ThresholdResult", "area_poverty", "dfl_reweighting", "icc_latent", "median_odds_ratio",
    "movers_model", "multilevel", "oaxaca_blinder", "piecewise_contextual", "poverty_share", "threshold_regression",
]
