"""Area effects (Galster): are residents of deprived districts hit twice?

* ``multilevel``: random-intercept linear (exact profiled REML/ML, lmer's likelihood) or logistic
  (ML, adaptive Gauss-Hermite quadrature) models with individual and contextual covariates,
  optional Mundlak area means; ICC / variance partition coefficient and median odds ratio.
  ``multilevel_from_cells`` fits the same models from (area x covariate pattern) cells, and
  ``multilevel_from_parquet`` builds those cells from the register's Parquet in DuckDB (any size).
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
from .multilevel import MultilevelResult, icc_latent, median_odds_ratio, multilevel, multilevel_from_cells
from .multilevel_cells import cells_from_frame, context_cells_from_parquet, multilevel_from_parquet
from .piecewise import PiecewiseResult, piecewise_contextual
from .threshold import ThresholdResult, threshold_regression

__all__ = [
    "AreaModelError", "DecompositionResult", "MoversResult", "MultilevelResult", "PiecewiseResult",
    "ThresholdInputError", "ThresholdResult", "area_poverty", "dfl_reweighting", "icc_latent", "median_odds_ratio",
    "movers_model", "multilevel", "multilevel_from_cells", "multilevel_from_parquet", "cells_from_frame",
    "context_cells_from_parquet", "oaxaca_blinder", "piecewise_contextual", "poverty_share", "threshold_regression",
]
