"""Prepare the input tables once for indicator computation: who belongs to which group, weights.

Every person-row gets a ``group``: the key of the district whose small areas they live in, or
``"comparison"`` for the rest of the municipality. Survey respondents get non-response weights.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import Params
from ..data.dataset import Dataset
from ..survey.nonresponse import age_band, weighting_class_weights

__all__ = ["COMPARISON", "PreparedData", "prepare"]

COMPARISON = "comparison"

# Weighting classes from finest to coarsest (stratum = district key or "comparison").
WEIGHTING_CLASSES = (
    ("stratum", "age_band", "sex", "origin"),
    ("stratum", "age_band", "origin"),
    ("stratum", "age_band"),
    ("stratum",),
)


@dataclass(frozen=True)
class PreparedData:
    """Input tables with group membership and weights attached (built by :func:`prepare`)."""

    params: Params
    register: pd.DataFrame  # + group
    survey: pd.DataFrame  # whole sample + group, stratum, age_band, sex, origin, weight
    institutions: pd.DataFrame  # + group (child's residence)
    visitors: pd.DataFrame  # + group (counter's area), year
    dataset: Dataset

    @property
    def respondents(self) -> pd.DataFrame:
        return self.survey[self.survey["responded"]]

    @property
    def groups(self) -> list[str]:
        return [d.key for d in self.params.districts] + [COMPARISON]


def _group_of_area(dataset: Dataset) -> pd.Series:
    district = dataset.areas.set_index("area_id")["district"]
    return district.astype(object).where(district.notna(), COMPARISON).astype(str)


def _with_group(frame: pd.DataFrame, group_of_area: pd.Series) -> pd.DataFrame:
    return frame.assign(group=frame["area_id"].map(group_of_area).astype(str))


def _survey_with_weights(dataset: Dataset, group_of_area: pd.Series) -> pd.DataFrame:
    """The survey sample joined to register background, with non-response weights per wave."""
    background = dataset.register[["person_id", "year", "age", "sex", "origin"]].rename(
        columns={"year": "wave"}
    )
    sample = _with_group(dataset.survey, group_of_area).merge(
        background, on=["person_id", "wave"], how="left", validate="one_to_one"
    )
    # Sampled persons without a register row in the wave year (e.g. moved in after 1 January) have
    # unknown background: they get their own 'unknown' classes, which collapse when sparse.
    for column in ("sex", "origin"):
        sample[column] = sample[column].astype(object).where(sample[column].notna(), "unknown")
    sample["stratum"] = np.where(sample["sample_group"] == "comparison", COMPARISON, sample["group"])
    sample["age_band"] = age_band(sample["age"]).where(sample["age"].notna(), "unknown")
    weights = [
        weighting_class_weights(part, [list(c) for c in WEIGHTING_CLASSES])
        for _, part in sample.groupby("wave", sort=True)
    ]
    sample["weight"] = pd.concat(weights).reindex(sample.index)
    return sample


def prepare(dataset: Dataset, params: Params) -> PreparedData:
    """Attach groups and weights to the tables of ``dataset`` (done once per analysis)."""
    group_of_area = _group_of_area(dataset)
    register = _with_group(dataset.register, group_of_area)
    residence = register[["person_id", "year", "group"]]
    institutions = dataset.institutions.merge(residence, on=["person_id", "year"], how="inner")
    visitors = _with_group(dataset.visitors, group_of_area)
    visitors = visitors.assign(year=visitors["date"].dt.year)
    return PreparedData(
        params=params,
        register=register,
        survey=_survey_with_weights(dataset, group_of_area),
        institutions=institutions,
        visitors=visitors,
        dataset=dataset,
    )
