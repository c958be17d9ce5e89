"""Adjusting p-values for testing many indicators at once.

Why: the framework tests 19 indicators per district. At the 5 % level about one of them will
look "significant" by chance even if nothing worked. Two kinds of control:

- family-wise error rate (FWER, the chance of any false rejection): :func:`holm` (Holm 1979;
  valid under any dependence) and :func:`romano_wolf` (Romano & Wolf 2005, 2016), which uses
  the bootstrap joint distribution of the test statistics and so gains power when the
  indicators are correlated (as survey indicators from the same respondents are);
- false discovery rate (the expected share of false rejections among rejections):
  :func:`benjamini_hochberg` (1995), less strict, for screening.

Holm and Benjamini-Hochberg agree with ``statsmodels.stats.multitest.multipletests``
("holm", "fdr_bh"); Romano-Wolf follows Stata's ``rwolf`` and R's ``wildrwolf``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..results import ResultDisplay
from .errors import InferenceError

__all__ = ["AdjustedPValues", "holm", "benjamini_hochberg", "romano_wolf"]

METHODS = {"holm": "Holm", "fdr_bh": "Benjamini-Hochberg", "romano-wolf": "Romano-Wolf"}


@dataclass(frozen=True, repr=False)
class AdjustedPValues(ResultDisplay):
    """Unadjusted and adjusted p-values of a family of hypotheses, in input order.

    Reject hypothesis i when ``p_adjusted[i] <= alpha``. ``alpha`` is the error rate the
    adjustment controls (family-wise or false discovery rate), a significance level for the
    rejection decisions; it is not the level of an interval, so it is not called ``confidence``
    (``statsmodels.stats.multitest`` calls it ``alpha`` too). For Romano-Wolf the unadjusted
    p-values are the single-test bootstrap ones, (1 + #{|t*| >= |t|}) / (1 + B).
    """

    method: str  # "holm", "fdr_bh" or "romano-wolf"
    names: tuple[str, ...]
    p_values: tuple[float, ...]
    p_adjusted: tuple[float, ...]
    alpha: float = 0.05
    n_boot: int | None = None

    @property
    def adjusted(self) -> np.ndarray:
        """The adjusted p-values as an array."""
        return np.array(self.p_adjusted)

    def reject(self, alpha: float | None = None) -> np.ndarray:
        """Which hypotheses are rejected at the error rate ``alpha`` (default: the result's alpha)."""
        return self.adjusted <= (self.alpha if alpha is None else alpha)

    def to_frame(self) -> pd.DataFrame:
        """One row per hypothesis: its p-value, adjusted p-value and whether it is rejected."""
        return pd.DataFrame({"hypothesis": self.names, "p_value": self.p_values, "p_adjusted": self.p_adjusted,
                             "reject": self.reject()})

    def _headline(self) -> str:
        control = "false discovery rate" if self.method == "fdr_bh" else "family-wise error rate"
        return (f"{METHODS[self.method]} adjustment of {len(self.names)} p-values ({control}); "
                f"{int(self.reject().sum())} rejected at {self.alpha:g}")


def _as_named(values, names, what: str) -> tuple[np.ndarray, tuple[str, ...]]:
    """Values as a float array with names (from a Series' index or a mapping's keys if not given)."""
    if isinstance(values, Mapping):
        names = list(values) if names is None else names
        values = list(values.values())
    elif isinstance(values, pd.Series):
        names = [str(i) for i in values.index] if names is None else names
    array = np.asarray(values, dtype=float).ravel()
    if array.size == 0:
        raise InferenceError(f"no {what} given")
    if np.isnan(array).any():
        raise InferenceError(f"{int(np.isnan(array).sum())} missing {what}: adjust only tests that were carried out")
    names = tuple(str(n) for n in (names if names is not None else range(1, array.size + 1)))
    if len(names) != array.size:
        raise InferenceError(f"{len(names)} names for {array.size} {what}")
    return array, names


def _p_array(pvalues, names) -> tuple[np.ndarray, tuple[str, ...]]:
    p, names = _as_named(pvalues, names, "p-values")
    if (p < 0).any() or (p > 1).any():
        raise InferenceError("p-values must be between 0 and 1")
    return p, names


def holm(pvalues: Sequence[float] | pd.Series | Mapping[str, float], *, names: Sequence[str] | None = None,
         alpha: float = 0.05) -> AdjustedPValues:
    """Holm's step-down adjustment: the i-th smallest p-value times (m - i + 1), made monotone.

    ``alpha`` is the family-wise error rate :meth:`AdjustedPValues.reject` uses by default.
    """
    p, names = _p_array(pvalues, names)
    m = p.size
    order = np.argsort(p, kind="mergesort")
    stepped = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    adjusted = np.empty(m)
    adjusted[order] = stepped
    return AdjustedPValues("holm", names, tuple(p.tolist()), tuple(adjusted.tolist()), alpha)


def benjamini_hochberg(pvalues: Sequence[float] | pd.Series | Mapping[str, float], *,
                       names: Sequence[str] | None = None, alpha: float = 0.05) -> AdjustedPValues:
    """Benjamini-Hochberg step-up adjustment (false discovery rate): the i-th smallest p-value
    times m / i, made monotone from the largest down.
    """
    p, names = _p_array(pvalues, names)
    m = p.size
    order = np.argsort(p, kind="mergesort")
    scaled = p[order] * m / np.arange(1, m + 1)
    stepped = np.minimum(1.0, np.minimum.accumulate(scaled[::-1])[::-1])
    adjusted = np.empty(m)
    adjusted[order] = stepped
    return AdjustedPValues("fdr_bh", names, tuple(p.tolist()), tuple(adjusted.tolist()), alpha)


def romano_wolf(t_observed, t_bootstrap, *, names: Sequence[str] | None = None,
                alpha: float = 0.05) -> AdjustedPValues:
    """Romano-Wolf step-down adjusted p-values from bootstrap t-statistics.

    ``t_observed`` (S) are the hypotheses' t-statistics; ``t_bootstrap`` (B x S) their
    bootstrap draws *under the null* (WCR t*, or WCU t* centred on the estimate; placebo
    estimates divided by their se), drawn jointly: row b must come from the same bootstrap
    sample for every hypothesis, so the dependence between the tests is kept. Two-sided.

    Algorithm (Romano & Wolf 2016; as rwolf/wildrwolf): order hypotheses by |t| descending;
    the s-th gets (1 + #{b: max over hypotheses not yet stepped past of |t*_b| >= |t_s|}) / (1 + B),
    and p-values are made non-decreasing along that order.
    """
    t, names = _as_named(t_observed, names, "t-statistics")
    boot = np.asarray(t_bootstrap, dtype=float)
    if boot.ndim == 1 and t.size == 1:
        boot = boot[:, None]
    if boot.ndim != 2 or boot.shape[1] != t.size:
        raise InferenceError(f"t_bootstrap must be B x {t.size} (one column per hypothesis), not {boot.shape}")
    if not np.isfinite(boot).all():
        raise InferenceError("t_bootstrap has missing or non-finite values")
    if not np.isfinite(t).all():
        raise InferenceError("t_observed has non-finite values")
    n_boot = boot.shape[0]
    abs_t, abs_boot = np.abs(t), np.abs(boot)
    single = (1 + (abs_boot >= abs_t).sum(axis=0)) / (1 + n_boot)
    order = np.argsort(-abs_t, kind="mergesort")
    # max over the hypotheses from step s on: a running maximum from the last in the order
    tail_max = np.maximum.accumulate(abs_boot[:, order[::-1]], axis=1)[:, ::-1]  # B x S
    stepped = (1 + (tail_max >= abs_t[order]).sum(axis=0)) / (1 + n_boot)
    stepped = np.minimum(1.0, np.maximum.accumulate(stepped))
    adjusted = np.empty(t.size)
    adjusted[order] = stepped
    return AdjustedPValues("romano-wolf", names, tuple(single.tolist()), tuple(adjusted.tolist()), alpha, n_boot)
