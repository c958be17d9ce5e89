"""Individual data with an area-level contextual variable, as the piecewise and threshold models
read it: checked columns, the design matrix of the individual covariates, and weighted least
squares with standard errors clustered by area.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..columns import as_float, require_columns
from .errors import ThresholdInputError

__all__ = ["ContextualData", "check_columns", "individual_design", "prepare", "wls_cluster"]


def check_columns(df: pd.DataFrame, columns: Sequence[str]) -> None:
    """Raise :class:`ThresholdInputError` for a missing column or missing values in one."""
    require_columns(df, columns, what="data", error=ThresholdInputError)
    bad = {c: int(df[c].isna().sum()) for c in columns if df[c].isna().any()}
    if bad:
        detail = ", ".join(f"{c} ({n} rows)" for c, n in bad.items())
        raise ThresholdInputError(f"missing values in {detail}; drop or impute them first")


def individual_design(df: pd.DataFrame, individual: Sequence[str], categorical: Sequence[str]) -> pd.DataFrame:
    """An intercept and the individual covariates as a numeric frame: numeric columns as they are,
    non-numeric ones (and those named in ``categorical``) as dummies with the first level left out.
    """
    parts = [pd.DataFrame({"Intercept": 1.0}, index=df.index)]
    for col in individual:
        s = df[col]
        if col in categorical or not (pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)):
            parts.append(pd.get_dummies(s.astype(str), prefix=col, prefix_sep="=", drop_first=True, dtype=float))
        else:
            parts.append(pd.DataFrame({col: s.to_numpy(dtype=float)}, index=df.index))
    return pd.concat(parts, axis=1)


@dataclass(frozen=True)
class ContextualData:
    """Outcome, context, weights and area codes as arrays, with the individual design matrix."""

    y: np.ndarray
    c: np.ndarray
    w: np.ndarray
    cluster: np.ndarray  # integer codes 0..G-1
    cluster_labels: np.ndarray
    X: pd.DataFrame  # intercept + individual covariates


def prepare(df: pd.DataFrame, outcome: str, context: str, individual: Sequence[str], area: str | None,
            weights: str | None, categorical: Sequence[str]) -> ContextualData:
    """Checked arrays of a contextual model; :class:`ThresholdInputError` names what is wrong."""
    individual = list(individual)
    if area is None:
        raise ThresholdInputError("area= is required: the contextual variable varies between areas, "
                                  "so standard errors must be clustered by area")
    check_columns(df, [outcome, context, area, *individual, *([weights] if weights is not None else [])])
    if len(df) == 0:
        raise ThresholdInputError("no rows")
    y = as_float(df[outcome], outcome, error=ThresholdInputError)
    c = as_float(df[context], context, error=ThresholdInputError)
    w = np.ones(len(df)) if weights is None else as_float(df[weights], weights, error=ThresholdInputError)
    if np.any(w < 0) or not np.any(w > 0):
        raise ThresholdInputError("weights must be non-negative and not all zero")
    codes, labels = pd.factorize(df[area], sort=True)
    # The context must be an area-level variable: constant within an area (or an area-year when
    # the area is observed in several years). It must vary between areas.
    if np.unique(c).size < 2:
        raise ThresholdInputError(f"the contextual variable {context!r} is constant across areas; "
                                  "an area effect cannot be estimated")
    if labels.size < 2:
        raise ThresholdInputError("need at least two areas (clusters)")
    X = individual_design(df, individual, categorical)
    return ContextualData(y=y, c=c, w=w, cluster=codes, cluster_labels=np.asarray(labels), X=X)


def wls_cluster(y, X: np.ndarray, w, cluster, n_clusters) -> tuple[np.ndarray, np.ndarray, int]:
    """Weighted least squares with CR1 cluster-robust covariance (Stata's small-sample factor).

    Returns (coefficients, covariance, rank). Collinear columns are handled by the pseudo-inverse
    (their coefficients are not identified; callers check the columns they report on).
    """
    sw = np.sqrt(w)
    Xw = X * sw[:, None]
    XtX = Xw.T @ Xw
    bread = np.linalg.pinv(XtX)
    beta = bread @ (Xw.T @ (y * sw))
    resid = y - X @ beta
    scores = X * (w * resid)[:, None]
    S = np.zeros((n_clusters, X.shape[1]))
    np.add.at(S, cluster, scores)
    meat = S.T @ S
    n, k = X.shape
    rank = int(np.linalg.matrix_rank(XtX))
    g = n_clusters
    factor = g / (g - 1) * (n - 1) / max(n - rank, 1)
    return beta, factor * bread @ meat @ bread, rank
