"""Normal and t intervals and two-sided p-values: the one place they are computed.

Every estimator's interval is ``estimate ± q * se`` with ``q`` the normal (or t with ``df``
degrees of freedom) quantile at ``0.5 + confidence / 2``, and its p-value the two-sided tail
probability of ``estimate / se``. A standard error that is not positive (a constant outcome, a
degenerate design) gives no test: the p-value is NaN and the interval collapses to the estimate.
"""

from __future__ import annotations

import numpy as np
from scipy import special  # the normal and t functions scipy.stats calls, without its 1-2 s import

__all__ = ["critical_value", "interval", "p_value"]


def critical_value(confidence: float, df: float | None = None) -> float:
    """The two-sided quantile for ``confidence``: normal, or t with ``df`` degrees of freedom."""
    upper = 0.5 + confidence / 2
    return float(special.ndtri(upper) if df is None else special.stdtrit(df, upper))


def p_value(estimate, se, df: float | None = None):
    """Two-sided p-value of ``estimate / se`` (NaN where ``se`` is not positive); scalars or arrays."""
    estimate, se = np.asarray(estimate, dtype=float), np.asarray(se, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.abs(estimate / se)
    tail = special.ndtr(-z) if df is None else special.stdtr(df, -z)
    p = np.where(se > 0, 2 * tail, np.nan)
    return float(p) if p.ndim == 0 else p


def interval(estimate, se, confidence: float, df: float | None = None):
    """``(ci_low, ci_high, p_value)`` of a normal (or t, with ``df``) interval; scalars or arrays."""
    q = critical_value(confidence, df)
    centre, half_width = np.asarray(estimate, dtype=float), q * np.asarray(se, dtype=float)
    low, high = centre - half_width, centre + half_width
    if low.ndim == 0:
        return float(low), float(high), p_value(estimate, se, df)
    return low, high, p_value(estimate, se, df)
