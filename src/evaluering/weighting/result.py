"""The result of a balancing method (the error and warning types are in :mod:`.errors`)."""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import pandas as pd

from ..results import ResultDisplay
from .diagnostics import effective_sample_size, max_weight_share
from .errors import BalanceError, BalanceWarning

__all__ = ["BalanceError", "BalanceWarning", "BalanceWeights"]

METHOD_NAMES = {"entropy": "Entropy balancing", "ipw": "Inverse probability (odds) weighting"}


@dataclass(frozen=True, repr=False)
class BalanceWeights(ResultDisplay):
    """Weights for the comparison group's rows that make it look like the district.

    ``coefficients`` are the fitted parameters on the covariates' original scale: the
    Lagrange multipliers (entropy balancing: ``w_i ∝ b_i exp(x_i'λ)``) or the logistic
    regression coefficients including ``const`` (IPW). ``dropped`` names covariates left out of
    the fit because they were constant or an exact linear function of other covariates.
    """

    weights: pd.Series
    method: str
    converged: bool
    iterations: int
    effective_sample_size: float
    max_weight_share: float
    coefficients: pd.Series
    dropped: tuple[str, ...] = ()

    @classmethod
    def build(
        cls,
        weights: pd.Series,
        *,
        method: str,
        converged: bool,
        iterations: int,
        coefficients: pd.Series,
        dropped: tuple[str, ...] = (),
        min_ess_share: float = 0.2,
        max_share: float = 0.05,
    ) -> BalanceWeights:
        """Summarise the weights, warning (``BalanceWarning``) when few respondents carry them:
        an effective sample size below ``min_ess_share`` of the rows, or one weight above
        ``max_share`` of the total.
        """
        result = cls(
            weights=weights,
            method=method,
            converged=converged,
            iterations=iterations,
            effective_sample_size=effective_sample_size(weights),
            max_weight_share=max_weight_share(weights),
            coefficients=coefficients,
            dropped=dropped,
        )
        if result.effective_sample_size < min_ess_share * result.n:
            warnings.warn(
                f"{METHOD_NAMES[method]}: the effective sample size is {result.effective_sample_size:,.0f}, "
                f"only {result.effective_sample_size / result.n:.0%} of the {result.n:,} comparison rows "
                f"(threshold {min_ess_share:.0%}): the weighted comparison group rests on few respondents",
                BalanceWarning,
                stacklevel=3,
            )
        if result.max_weight_share > max_share:
            row = weights.idxmax()
            warnings.warn(
                f"{METHOD_NAMES[method]}: comparison row {row!r} carries {result.max_weight_share:.1%} of the "
                f"total weight (threshold {max_share:.0%})",
                BalanceWarning,
                stacklevel=3,
            )
        return result

    @property
    def n(self) -> int:
        """Number of comparison rows."""
        return len(self.weights)

    def to_frame(self) -> pd.DataFrame:
        """One row: the method, the number of comparison rows, convergence and what the weights cost."""
        return pd.DataFrame([{
            "method": self.method, "n": self.n, "converged": self.converged, "iterations": self.iterations,
            "effective_sample_size": self.effective_sample_size, "ess_share": self.effective_sample_size / self.n,
            "max_weight_share": self.max_weight_share, "dropped": ", ".join(self.dropped)}])

    def _headline(self) -> str:
        status = f"converged in {self.iterations} iterations" if self.converged else (
            f"NOT converged after {self.iterations} iterations")
        return f"{METHOD_NAMES[self.method]}: {self.n:,} comparison rows, {status}"

    def _notes(self) -> list[str]:
        notes = [f"effective sample size {self.effective_sample_size:,.0f} ({self.effective_sample_size / self.n:.0%} "
                 f"of the rows); largest weight {self.max_weight_share:.2%} of the total"]
        if self.dropped:
            notes.append(f"dropped covariates (constant or collinear): {', '.join(self.dropped)}")
        return notes
