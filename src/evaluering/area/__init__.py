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

from ..lazy import lazy_exports

# Not lazy: the function shares its submodule's name, which importing the submodule (as unpickling a
# MultilevelResult does) would otherwise leave in its place.
from .multilevel import multilevel as multilevel

# Where each public name lives, imported on first use (PEP 562): an area report drawn from stored
# results unpickles its model results without the piecewise models' statsmodels.
_HOME = {
    "AreaModelError": "errors", "DecompositionResult": "decomposition", "MoversResult": "movers",
    "MultilevelResult": "multilevel", "PiecewiseResult": "piecewise", "ThresholdInputError": "errors",
    "ThresholdResult": "threshold", "area_poverty": "context", "cells_from_frame": "multilevel_cells",
    "context_cells_from_parquet": "multilevel_cells", "dfl_reweighting": "decomposition", "icc_latent": "multilevel",
    "median_odds_ratio": "multilevel", "movers_model": "movers",
    "multilevel_from_cells": "multilevel", "multilevel_from_parquet": "multilevel_cells",
    "oaxaca_blinder": "decomposition", "piecewise_contextual": "piecewise", "poverty_share": "context",
    "threshold_regression": "threshold",
}

__all__ = sorted([*_HOME, "multilevel"])


__getattr__, __dir__ = lazy_exports(__name__, _HOME)
