"""Weighting the comparison group to look like a district.

Typical use, with ``frame`` holding district and comparison respondents together::

    X = covariate_matrix(frame, ["age_band", "sex", "origin", "education", "employed"])
    district = frame["group"] == "district"
    target = X[district].mul(w[district], axis=0).sum() / w[district].sum()
    result = entropy_balance(X[~district], target, w[~district])   # or ipw_weights(X, district, w)
    table = balance_table(X, district, w, result.weights)
    love_plot(table)   # in evaluering.report.figures
"""

from .design_matrix import covariate_matrix
from .diagnostics import balance_table, effective_sample_size, max_weight_share
from .entropy import entropy_balance
from .errors import BalanceError, BalanceWarning, CovariateColumnError
from .ipw import ipw_weights
from .result import BalanceWeights

__all__ = [
    "BalanceError",
    "BalanceWarning",
    "BalanceWeights",
    "CovariateColumnError",
    "balance_table",
    "covariate_matrix",
    "effective_sample_size",
    "entropy_balance",
    "ipw_weights",
    "max_weight_share",
]
