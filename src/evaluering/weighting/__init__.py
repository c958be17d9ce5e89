"""Weighting the comparison group to look like a district.

Typical use, with ``frame`` holding district and comparison respondents together::

    X = covariate_matrix(frame, ["age_band", "sex", "origin", "education", "employed"])
    district = frame["group"] == "district"
    target = X[district].mul(w[district], axis=0).sum() / w[district].sum()
    result = entropy_balance(X[~district], target, w[~district])   # or ipw_weights(X, district, w)
    table = balance_table(X, district, w, result.weights)
    love_plot(table)   # in evaluering.report.figures
"""

from ..lazy import lazy_exports

# Where each public name lives, imported on first use (PEP 562): a report drawn from stored results
# uses only the diagnostics' threshold, not entropy balancing with its scipy.linalg.
_HOME = {
    "BalanceError": "errors", "BalanceWarning": "errors", "BalanceWeights": "result",
    "CovariateColumnError": "errors", "balance_table": "diagnostics", "covariate_matrix": "design_matrix",
    "effective_sample_size": "diagnostics", "entropy_balance": "entropy", "ipw_weights": "ipw",
    "max_weight_share": "diagnostics",
}

__all__ = sorted(_HOME)


__getattr__, __dir__ = lazy_exports(__name__, _HOME)
