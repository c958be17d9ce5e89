"""Inverse probability (odds) weighting for the ATT: the comparison group weighted by the odds
of living in the district.

A logistic regression of district membership on the covariates, weighted by the base
(non-response) weights, gives propensities ``p_i``; a comparison respondent then gets
``b_i p_i / (1 - p_i)``, so that the weighted comparison group has the district's covariate
distribution *in expectation* (entropy balancing makes the means agree exactly). The weights
are scaled to sum to the district's base-weight total.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

from ..numerics import weighted_logit
from .design_matrix import as_base_weights, as_frame, as_vector, standardize
from .errors import BalanceError, BalanceWarning
from .result import BalanceWeights

__all__ = ["ipw_weights"]

EXTREME_PROPENSITY = 0.99


def ipw_weights(
    X: pd.DataFrame,
    treated,
    base_weights=None,
    *,
    min_ess_share: float = 0.2,
    max_share: float = 0.05,
) -> BalanceWeights:
    """ATT odds weights for the comparison rows (``treated`` False) of ``X``.

    ``X`` holds the covariates of all rows, ``treated`` marks the district rows (a Series is
    aligned by index), ``base_weights`` are every row's base weights (default: equal). The
    logit is :func:`evaluering.numerics.weighted_logit` (statsmodels' GLM with the base weights as
    ``var_weights``): the coefficients are those of the weighted likelihood (weights as sampling
    weights, not counts; only the point estimates are used). Constant and collinear covariates are dropped with a
    ``BalanceWarning``. A ``BalanceWarning`` also flags propensities above 0.99, where the odds
    weights explode and the district has respondents unlike anyone in the comparison group, and
    a logit that did not converge.
    """
    X = as_frame(X)
    is_treated = as_vector(treated, X.index, "treated").astype(bool)
    if is_treated.all() or not is_treated.any():
        raise BalanceError("ipw_weights needs both district (treated) and comparison rows")
    b = as_base_weights(base_weights, X.index)

    redundant = sorted(standardize(X.to_numpy(), b).redundant)
    dropped = tuple(str(X.columns[j]) for j in redundant)
    if dropped:
        warnings.warn(
            f"covariates dropped from the propensity model because they are constant or collinear: {list(dropped)}",
            BalanceWarning,
            stacklevel=2,
        )
    design = X.drop(columns=X.columns[redundant])
    design.insert(0, "const", 1.0)
    fit = weighted_logit(design.to_numpy(), is_treated.astype(float), b, tol=1e-8)  # statsmodels' default, as before
    if not fit.converged:
        warnings.warn("the propensity model (logit) did not converge; the weights are unreliable",
                      BalanceWarning, stacklevel=2)
    eta = design.to_numpy() @ fit.coef
    p = fit.fitted

    extreme = p > EXTREME_PROPENSITY
    if extreme.any():
        warnings.warn(
            f"{int(extreme.sum()):,} rows ({int((extreme & ~is_treated).sum()):,} of them in the comparison group) "
            f"have an estimated propensity above {EXTREME_PROPENSITY}: the district has respondents with almost no "
            "counterpart in the comparison group, and their odds weights dominate; consider coarser covariates "
            "or entropy balancing",
            BalanceWarning,
            stacklevel=2,
        )
    control = ~is_treated
    odds = b[control] * np.exp(eta[control])  # p / (1 - p) without cancellation near p = 1
    weights = odds * b[is_treated].sum() / odds.sum()
    return BalanceWeights.build(
        pd.Series(weights, index=X.index[control], name="weight"),
        method="ipw",
        converged=fit.converged,
        iterations=fit.iterations,
        coefficients=pd.Series(fit.coef, index=design.columns, name="coefficient"),
        dropped=dropped,
        min_ess_share=min_ess_share,
        max_share=max_share,
    )
