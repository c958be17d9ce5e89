"""Numerical building blocks shared by every estimator: intervals and p-values, weighted
regressions (least squares, logit) and two-way fixed effects. Nothing here knows about
districts, indicators or reports.
"""

from .fixed_effects import COLLINEARITY_TOL, TwfeFit, demean_within, twfe, within_unit_deviations, within_unit_share
from .intervals import critical_value, interval, p_value
from .regression import LogitFit, ols_influence, weighted_logit, wls_coefficients

__all__ = [
    "COLLINEARITY_TOL",
    "LogitFit",
    "TwfeFit",
    "critical_value",
    "demean_within",
    "interval",
    "ols_influence",
    "p_value",
    "twfe",
    "weighted_logit",
    "within_unit_deviations",
    "within_unit_share",
    "wls_coefficients",
]
