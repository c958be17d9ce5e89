"""What a district report shows for one indicator: an estimate, its interval, its p-value and why.

Every inference procedure the evaluation uses (design-based survey, studentised placebo for
register indicators, the composition null for social mix, counter-year clustering for visitor
counts) returns a :class:`ReportedInference`, so the interval printed and the p-value behind the
verdict always come from one procedure.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pandas as pd

__all__ = ["ReportedInference"]


@dataclass(frozen=True)
class ReportedInference:
    """Estimate, standard error, interval and p-value of one procedure, plus a Danish caveat.

    ``method`` is a short key naming the procedure (e.g. ``"design"``, ``"studentised_placebo"``);
    ``note`` is a sentence in Danish for the report when the result needs a caveat (few counters,
    few comparison areas), else ``None``.
    """

    method: str
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    confidence: float = 0.95
    note: str | None = None

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame([asdict(self)])

    def summary(self) -> str:
        return (f"{self.method}: {self.estimate:+.4f} (se {self.se:.4f}; {self.confidence:.0%} CI "
                f"{self.ci_low:+.4f} to {self.ci_high:+.4f}; p = {self.p_value:.3f})")

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        return self.to_frame().to_html(index=False, float_format=lambda v: f"{v:.4f}")
