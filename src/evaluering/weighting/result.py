"""The result of a balancing method, and the error and warning types of the weighting package."""

from __future__ import annotations

import html
import warnings
from dataclasses import dataclass

import pandas as pd

from ..errors import EvalueringError
from .diagnostics import effective_sample_size, max_weight_share

__all__ = ["BalanceError", "BalanceWarning", "BalanceWeights"]

METHOD_NAMES = {"entropy": "Entropy balancing", "ipw": "Inverse probability (odds) weighting"}


class BalanceError(EvalueringError, ValueError):
    """The comparison group cannot be weighted to the target (infeasible or no convergence)."""


class BalanceWarning(UserWarning):
    """The weights exist but deserve a look: few effective respondents, dominant weights,
    dropped covariates or extreme propensities.
    """


@dataclass(frozen=True)
class BalanceWeights:
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

    def summary(self) -> str:
        """A few lines for the console or a log."""
        status = f"converged in {self.iterations} iterations" if self.converged else (
            f"NOT converged after {self.iterations} iterations")
        lines = [
            f"{METHOD_NAMES[self.method]}: {self.n:,} comparison rows, {status}",
            f"effective sample size {self.effective_sample_size:,.0f} ({self.effective_sample_size / self.n:.0%} "
            f"of the rows); largest weight {self.max_weight_share:.2%} of the total",
        ]
        if self.dropped:
            lines.append(f"dropped covariates (constant or collinear): {', '.join(self.dropped)}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        rows = [
            ("method", METHOD_NAMES[self.method]),
            ("comparison rows", f"{self.n:,}"),
            ("converged", f"{'yes' if self.converged else 'NO'} ({self.iterations} iterations)"),
            ("effective sample size", f"{self.effective_sample_size:,.0f} ({self.effective_sample_size / self.n:.0%})"),
            ("largest weight share", f"{self.max_weight_share:.2%}"),
        ]
        if self.dropped:
            rows.append(("dropped covariates", ", ".join(self.dropped)))
        body = "".join(f"<tr><th style='text-align:left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>"
                       for k, v in rows)
        return f"<table>{body}</table>"
