"""What a district report shows for one indicator: an estimate, its interval, its p-value and why.

Every inference procedure the evaluation uses (design-based survey, studentised placebo for
register indicators, the composition null for social mix, counter-year clustering for visitor
counts) returns a :class:`ReportedInference`, so the interval printed and the p-value behind the
verdict always come from one procedure.

:class:`IntervalEstimate` holds the fields every such result shares (the procedure, the estimate,
its standard error, interval and p-value) and shows any dataclass built on it as a one-row table;
an estimator's own result class (e.g. a DiD with its cell counts) can extend it with its fields.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from ..results import ResultDisplay

__all__ = ["IntervalEstimate", "ReportedInference"]


@dataclass(frozen=True, repr=False)
class IntervalEstimate(ResultDisplay):
    """An estimate from the procedure ``method`` with its standard error, interval and two-sided p-value.

    A subclass adds its own fields after these; :meth:`to_frame` shows every field in one row
    (tuples joined by ", "; arrays, such as influence functions or placebo draws, left out).
    """

    method: str
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float

    def to_frame(self) -> pd.DataFrame:
        """One row: every field but arrays, in the order of the fields."""
        row = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, np.ndarray):
                continue
            row[f.name] = ", ".join(map(str, value)) if isinstance(value, tuple) else value
        return pd.DataFrame([row])

    def _interval_text(self, confidence: float) -> str:
        """E.g. ``+0.0123 (se 0.0045; 95% CI +0.0035 to +0.0211; p = 0.006)``."""
        return (f"{self.estimate:+.4f} (se {self.se:.4f}; {confidence:.0%} CI {self.ci_low:+.4f} to "
                f"{self.ci_high:+.4f}; p = {self.p_value:.3f})")


@dataclass(frozen=True, repr=False)
class ReportedInference(IntervalEstimate):
    """Estimate, standard error, interval and p-value of one procedure, plus a Danish caveat.

    ``method`` is a short key naming the procedure (e.g. ``"design"``, ``"studentised_placebo"``);
    ``note`` is a sentence in Danish for the report when the result needs a caveat (few counters,
    few comparison areas), else ``None``.
    """

    confidence: float = 0.95
    note: str | None = None

    @classmethod
    def undefined(cls, method: str, note: str, estimate: float = math.nan,
                  confidence: float = 0.95) -> ReportedInference:
        """A result without standard error, interval or p-value (the data cannot give them): ``note`` says why."""
        return cls(method, estimate, math.nan, math.nan, math.nan, math.nan, confidence, note)

    def _headline(self) -> str:
        return f"{self.method}: {self._interval_text(self.confidence)}"

    def _notes(self) -> list[str]:
        return [self.note] if self.note else []
