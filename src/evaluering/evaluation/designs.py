"""The design choices of a district's evaluation: which register characteristics the comparison
group is balanced on, and which survey designs each indicator is estimated on.
"""

from __future__ import annotations

from ..config import Indicator, SurveyOutsideView
from ..indicators.prepare import COMPARISON, PreparedData
from ..survey.balance import balance_comparison
from ..survey.design import SurveyDesign

__all__ = ["BALANCE_COVARIATES", "balanced_designs", "estimation_designs"]

# register characteristics the comparison group is balanced on, per wave
BALANCE_COVARIATES = ("age_band", "sex", "origin", "education", "employed")


def balanced_designs(data: PreparedData, district: str, waves: list[int]) -> dict[int, SurveyDesign]:
    """Each wave's design with the comparison group weighted to look like ``district``."""
    return {w: balance_comparison(data.designs[w], "stratum", district, COMPARISON, BALANCE_COVARIATES)
            for w in waves}


def estimation_designs(data: PreparedData, ind: Indicator,
                       balanced: dict[int, SurveyDesign]) -> dict[int, SurveyDesign]:
    """The designs a survey indicator is estimated on, per wave: the comparison group balanced to
    the district, except for the outside view, which describes the rest of the municipality as it
    is (its own survey weights).
    """
    if isinstance(ind.computation, SurveyOutsideView):
        return {w: data.designs[w] for w in balanced}
    return balanced
