"""Balance diagnostics: how alike the district and the weighted comparison group are, and how
much the weights cost in effective sample size.

Conventions follow R's cobalt for the ATT (the district is the "treated" group):

* standardised mean difference (SMD) = (mean treated - mean control) / SD of the treated group,
  the treated SD computed with the treated group's own (base) weights. The denominator is the
  same before and after weighting, so the SMD moves only with the means. Binary covariates are
  standardised too (cobalt's ``binary = "std"``; its default reports raw differences for
  them), so one ±0.1 rule applies to every row. Where the treated SD is 0 (a category absent
  from the district), the pooled SD ``sqrt((var_t + var_c) / 2)`` with the control variance
  before weighting is used instead.
* weighted variances: ``sum w (x - m)^2 / (1 - sum w^2)`` with weights normalised to sum to 1
  (the unbiased "reliability weights" estimator) for continuous covariates, ``p (1 - p)`` for
  binary (0/1) covariates.
* variance ratio = control variance / treated variance, reported for continuous covariates
  only: for a binary covariate it is a function of the two means and adds nothing (NaN).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .design_matrix import as_base_weights, as_frame, as_vector
from .errors import BalanceError

__all__ = ["balance_table", "effective_sample_size", "max_weight_share"]

SMD_THRESHOLD = 0.1


def effective_sample_size(w) -> float:
    """Kish's effective sample size ``(sum w)^2 / sum w^2``: the number of equally weighted
    respondents that would give a mean the same precision.
    """
    w = np.asarray(w, dtype=float)
    return float(w.sum() ** 2 / (w**2).sum())


def max_weight_share(w) -> float:
    """The largest weight's share of the total weight."""
    w = np.asarray(w, dtype=float)
    return float(w.max() / w.sum())


def balance_table(X, treated, weights_before=None, weights_after=None) -> pd.DataFrame:
    """Covariate balance between the district (``treated``) and the comparison group.

    ``X`` holds the covariates of all rows (e.g. from ``covariate_matrix``); ``weights_before``
    are every row's base weights (default: equal); ``weights_after`` are the comparison rows'
    balancing weights (a Series indexed by the comparison rows, e.g. ``BalanceWeights.weights``,
    or an array in their order; default: the base weights). The district keeps its base weights
    throughout. One row per covariate with the weighted means, SMDs and variance ratios before
    and after weighting (conventions in the module docstring), and whether it is binary.
    """
    X = as_frame(X)
    is_treated = as_vector(treated, X.index, "treated").astype(bool)
    if is_treated.all() or not is_treated.any():
        raise BalanceError("balance_table needs both treated and comparison rows")
    before = as_base_weights(weights_before, X.index)
    control_index = X.index[~is_treated]
    after = before[~is_treated] if weights_after is None else as_vector(
        weights_after, control_index, "weights_after").astype(float)

    values = X.to_numpy()
    binary = np.isin(values, (0.0, 1.0)).all(axis=0)
    xt, xc = values[is_treated], values[~is_treated]
    mean_t, var_t = _weighted_mean_var(xt, before[is_treated], binary)
    mean_b, var_b = _weighted_mean_var(xc, before[~is_treated], binary)
    mean_a, var_a = _weighted_mean_var(xc, after, binary)
    sd = np.sqrt(np.where(var_t > 0, var_t, (var_t + var_b) / 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        smd_b, smd_a = (np.where(sd > 0, (mean_t - m) / sd, np.nan) for m in (mean_b, mean_a))
        ratio_b, ratio_a = (np.where(binary | (var_t == 0), np.nan, v / var_t) for v in (var_b, var_a))
    return pd.DataFrame(
        {
            "mean_treated": mean_t,
            "mean_control_before": mean_b,
            "mean_control_after": mean_a,
            "smd_before": smd_b,
            "smd_after": smd_a,
            "var_ratio_before": ratio_b,
            "var_ratio_after": ratio_a,
            "binary": binary,
        },
        index=pd.Index([str(c) for c in X.columns], name="covariate"),
    )


def _weighted_mean_var(x: np.ndarray, w: np.ndarray, binary: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = w / w.sum()
    mean = p @ x
    with np.errstate(divide="ignore", invalid="ignore"):
        var = (p @ (x - mean) ** 2) / (1.0 - (p**2).sum())
    return mean, np.where(binary, mean * (1 - mean), var)
