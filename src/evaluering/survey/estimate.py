"""Result objects of design-based estimation: one estimate, or a table of them."""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ..numerics import interval
from ..results import ResultDisplay

__all__ = ["Estimate", "EstimateTable", "make_table"]

COLUMNS = ["estimate", "se", "ci_low", "ci_high", "deff", "n"]


@dataclass(frozen=True, repr=False)
class Estimate(ResultDisplay):
    """A design-based estimate with its standard error, interval, design effect and unweighted n."""

    _index = True  # the estimate's name
    _digits = 6  # survey shares and ratios can be small

    name: str
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    deff: float
    n: int
    confidence: float = 0.95

    def to_frame(self) -> pd.DataFrame:
        """One row, indexed by the estimate's name."""
        return pd.DataFrame([asdict(self)]).set_index("name")

    def _headline(self) -> str:
        return (f"{self.name}: {self.estimate:.6g} (se {self.se:.4g}; {self.confidence:.0%} CI "
                f"{self.ci_low:.6g} to {self.ci_high:.6g}; deff {self.deff:.3g}; n = {self.n})")


@dataclass(frozen=True, repr=False)
class EstimateTable(ResultDisplay):
    """Several estimates (categories, domains or coefficients) with their joint covariance."""

    _index = True  # the estimates' names
    _digits = 6

    table: pd.DataFrame  # index: names; columns: estimate, se, ci_low, ci_high, deff, n
    covariance: np.ndarray
    confidence: float = 0.95

    def __getitem__(self, name) -> Estimate:
        row = self.table.loc[name]
        return Estimate(str(name), *(float(row[c]) for c in COLUMNS[:-1]), int(row["n"]), self.confidence)

    def __len__(self) -> int:
        return len(self.table)

    @property
    def estimate(self) -> pd.Series:
        """The estimates, by name."""
        return self.table["estimate"]

    @property
    def se(self) -> pd.Series:
        """Their standard errors, by name."""
        return self.table["se"]

    def to_frame(self) -> pd.DataFrame:
        """One row per estimate (a copy of the table)."""
        return self.table.copy()

    def _headline(self) -> str:
        return f"{len(self)} design-based estimates, {self.confidence:.0%} intervals"


def make_table(names, estimates, covariance, srs_variance, n, confidence: float = 0.95) -> EstimateTable:
    """Assemble an EstimateTable with normal-theory intervals (as R's ``confint`` for svystat)."""
    estimates = np.asarray(estimates, dtype=float)
    covariance = np.atleast_2d(np.asarray(covariance, dtype=float))
    se = np.sqrt(np.clip(np.diag(covariance), 0, None))
    ci_low, ci_high, _ = interval(estimates, se, confidence)
    srs_variance = np.broadcast_to(np.asarray(srs_variance, dtype=float), estimates.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        deff = np.where(srs_variance > 0, se**2 / srs_variance, np.nan)
    table = pd.DataFrame(
        {"estimate": estimates, "se": se, "ci_low": ci_low, "ci_high": ci_high,
         "deff": deff, "n": np.broadcast_to(np.asarray(n), estimates.shape).astype(int)},
        index=pd.Index(list(names), name="name"),
    )
    return EstimateTable(table, covariance, confidence)
