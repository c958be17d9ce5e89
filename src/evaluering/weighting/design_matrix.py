"""Covariate matrices for balancing, and the checks every balancing method shares.

``covariate_matrix`` is built once from the pooled frame (district and comparison rows
together), so both groups get the same dummy columns even when a category occurs in only one
of them, and entropy balancing, IPW and the balance table all see the same X.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..columns import require_columns
from .errors import BalanceError, CovariateColumnError

__all__ = ["MISSING_LEVEL", "covariate_matrix"]

MISSING_LEVEL = "(missing)"
RESIDUAL_VARIANCE_TOL = 1e-10  # share of a column's variance left after regressing on earlier columns


def covariate_matrix(
    frame: pd.DataFrame, columns: Sequence[str], *, reference: Mapping[str, object] | None = None
) -> pd.DataFrame:
    """Numeric covariates (float columns, same index as ``frame``) for weighting.

    Bool columns become 0/1; numeric columns are kept; every other column (strings,
    categoricals: age band, sex, origin, education) becomes one dummy ``"column=level"`` per
    level except the reference level (``reference[column]``, else the first category of a
    categorical or the first level in sorted order). Missing values in a categorical column
    are a level of their own, ``"(missing)"`` (e.g. unknown education), so no respondent is
    lost; missing values in bool or numeric columns are a ``BalanceError``, a column not in
    ``frame`` a ``CovariateColumnError`` (also a ``KeyError``).
    """
    reference = dict(reference or {})
    require_columns(frame, [*columns, *reference], what="covariates", error=CovariateColumnError)
    parts: list[pd.DataFrame] = []
    for col in columns:
        s = frame[col]
        if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
            if s.isna().any():
                raise BalanceError(f"covariate {col!r} has {int(s.isna().sum())} missing values")
            parts.append(s.astype(float).to_frame(col))
            continue
        levels = _levels(s)
        ref = reference.get(col, levels[0])
        if ref not in levels:
            raise BalanceError(f"reference level {ref!r} of {col!r} does not occur; levels: {levels}")
        values = s.astype(object).where(s.notna(), MISSING_LEVEL)
        dummies = {f"{col}={level}": (values == level).astype(float) for level in levels if level != ref}
        parts.append(pd.DataFrame(dummies, index=frame.index))
    return pd.concat(parts, axis=1) if parts else pd.DataFrame(index=frame.index)


def _levels(s: pd.Series) -> list:
    """Observed levels: category order for categoricals, else sorted; missing last."""
    observed = set(s.dropna().unique())
    if isinstance(s.dtype, pd.CategoricalDtype):
        levels = [c for c in s.cat.categories if c in observed]
    else:
        levels = sorted(observed, key=str)
    return levels + [MISSING_LEVEL] * bool(s.isna().any())


def as_frame(X: pd.DataFrame | np.ndarray) -> pd.DataFrame:
    """X as a float DataFrame (array columns are named x0, x1, ...), all values finite."""
    frame = X if isinstance(X, pd.DataFrame) else pd.DataFrame(np.asarray(X, dtype=float)).add_prefix("x")
    frame = frame.astype(float)
    bad = [str(c) for c in frame.columns if not np.isfinite(frame[c].to_numpy()).all()]
    if bad:
        raise BalanceError(f"covariates with missing or infinite values: {bad}")
    return frame


def as_vector(values, index: pd.Index, name: str) -> np.ndarray:
    """A per-row vector aligned to ``index``: a Series by its index, anything else by position."""
    if isinstance(values, pd.Series):
        missing = index.difference(values.index)
        if len(missing):
            raise BalanceError(f"{name} has no value for {len(missing)} rows, e.g. {list(missing[:3])}")
        values = values.reindex(index)
    array = np.asarray(values)
    if array.shape != (len(index),):
        raise BalanceError(f"{name} has shape {array.shape}, expected ({len(index)},)")
    return array


def as_base_weights(base_weights, index: pd.Index) -> np.ndarray:
    """Base (non-response) weights: ones when None; finite, non-negative, positive in total."""
    if base_weights is None:
        return np.ones(len(index))
    b = as_vector(base_weights, index, "base_weights").astype(float)
    if not np.isfinite(b).all() or (b < 0).any() or b.sum() <= 0:
        raise BalanceError("base_weights must be finite, non-negative and not all zero")
    return b


@dataclass(frozen=True)
class Standardized:
    """Covariates centred and scaled by their weighted mean and SD, with the redundant columns.

    ``redundant`` maps a column position to ``beta`` (length k, original units) such that
    ``x_j - mean_j = (x - mean) @ beta`` on every row: the column is constant (``beta = 0``) or
    an exact linear function of earlier, kept columns. ``z`` is zero in constant columns.
    """

    mean: np.ndarray
    sd: np.ndarray
    z: np.ndarray
    redundant: dict[int, np.ndarray]

    @property
    def kept(self) -> list[int]:
        """Positions of the columns that are neither constant nor redundant."""
        return [j for j in range(len(self.mean)) if j not in self.redundant]


def standardize(values: np.ndarray, weights: np.ndarray) -> Standardized:
    """Weighted standardisation and detection of constant and collinear columns.

    Columns are taken in order; a column is redundant when less than a ``1e-10`` share of its
    variance is left after regressing it on the kept columns before it, so the first of a set of
    collinear columns is kept (with a dropped reference level there are usually none).
    """
    p = weights / weights.sum()
    mean = p @ values
    used = values if (weights > 0).all() else values[weights > 0]
    constant = used.min(axis=0) == used.max(axis=0)
    z = values - mean
    sd = np.where(constant, 1.0, np.sqrt(p @ z**2))
    z /= sd
    z[:, constant] = 0.0
    corr = z.T @ (z * p[:, None])
    k = values.shape[1]
    kept: list[int] = []
    redundant: dict[int, np.ndarray] = {}
    for j in range(k):
        beta = np.zeros(k)
        if not constant[j]:
            coef = np.linalg.solve(corr[np.ix_(kept, kept)], corr[kept, j]) if kept else np.zeros(0)
            if 1.0 - corr[kept, j] @ coef >= RESIDUAL_VARIANCE_TOL:
                kept.append(j)
                continue
            beta[kept] = coef * sd[j] / sd[kept]
        redundant[j] = beta
    return Standardized(mean=mean, sd=sd, z=z, redundant=redundant)
