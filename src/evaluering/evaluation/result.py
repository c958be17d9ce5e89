"""What a district's evaluation gives: :class:`DistrictEvaluation` and the verdicts.

Kept apart from the estimation in :mod:`.district` so that a report drawn from stored results
unpickles its evaluation without importing every estimator (scipy.optimize, the survey weighting).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from ..results import ResultDisplay

if TYPE_CHECKING:
    from ..did.two_wave import DidEstimate

__all__ = ["BETTER", "NO_CHANGE", "WORSE", "DistrictEvaluation"]

BETTER, NO_CHANGE, WORSE = "better", "no_change", "worse"


@dataclass(frozen=True, repr=False)
class DistrictEvaluation(ResultDisplay):
    """All indicators of one district for one follow-up wave against the baseline."""

    district: str
    district_name: str
    baseline: int
    followup: int
    table: pd.DataFrame  # one row per indicator (see evaluate_district)
    levels: pd.DataFrame  # group x period levels for every indicator, baseline and follow-up
    estimates: tuple[DidEstimate, ...]
    balanced: dict  # wave -> SurveyDesign with the comparison group balanced to the district
    event_studies: dict  # indicator key -> EventStudyResult (place, register indicators)

    _digits = 3
    _shown_columns = ("number", "indicator", "district_baseline", "district_followup", "estimate", "ci_low",
                      "ci_high", "p_value", "verdict")

    def to_frame(self) -> pd.DataFrame:
        """One row per indicator: levels, change, interval, p-values, verdict and ambition."""
        return self.table.copy()

    def _headline(self) -> str:
        counts = self.table["verdict"].value_counts()
        return (
            f"{self.district_name} {self.baseline}->{self.followup}: "
            f"{counts.get(BETTER, 0)} better, {counts.get(NO_CHANGE, 0)} no detectable change, "
            f"{counts.get(WORSE, 0)} worse (of {len(self.table)} indicators)"
        )
