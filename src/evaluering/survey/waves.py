"""The weighted design of one survey wave: non-response classes, then raking to register margins.

Each wave is its own stratified sample (strata: each district's residents, and the comparison
group). Respondents first carry the design weight of their weighting class (age band, sex,
origin within stratum, collapsed where respondents are few); the weights are then raked, within
each stratum, to the register's counts of adults by age band x sex and by origin. No finite
population correction is used: the district "census" still has random non-response, and the
with-replacement variance is the conservative choice.
"""

from __future__ import annotations

import pandas as pd

from .design import SurveyDesign
from .nonresponse import collapse_classes

__all__ = ["WEIGHTING_CLASSES", "RAKING_MARGINS", "wave_design", "raking_margins"]

WEIGHTING_CLASSES = (
    ("stratum", "age_band", "sex", "origin"),
    ("stratum", "age_band", "origin"),
    ("stratum", "age_band"),
    ("stratum",),
)
RAKING_MARGINS = (("age_band", "sex"), ("origin",))


def _label(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series:
    out = frame["stratum"].astype(str)
    for column in columns:
        out = out + "/" + frame[column].astype(str)
    return out


def raking_margins(population: pd.DataFrame, sample: pd.DataFrame) -> tuple[pd.DataFrame, dict]:
    """Margin columns added to the sample and their population counts (adults in the register).

    Categories the register cannot know (a sampled person without a register row: 'unknown')
    keep their own weight total, so they are carried along rather than calibrated.
    """
    margins = {}
    for columns in RAKING_MARGINS:
        name = "margin:" + "x".join(columns)
        sample = sample.assign(**{name: _label(sample, columns).to_numpy()})
        counts = _label(population, columns).value_counts().astype(float).to_dict()
        for category in set(sample[name]) - set(counts):
            counts[category] = float(sample.loc[sample[name] == category, "nonresponse_weight"].sum())
        margins[name] = counts
    return sample, margins


def wave_design(sample: pd.DataFrame, population: pd.DataFrame, *, min_respondents: int = 20) -> SurveyDesign:
    """The calibrated design of one wave.

    ``sample``: everyone sampled that wave with stratum, age_band, sex, origin, responded and
    design_weight. ``population``: the register's adults in the wave year with stratum, age_band,
    sex and origin (the raking targets).
    """
    sample = sample.reset_index(drop=True)
    sample = sample.assign(weighting_class=collapse_classes(
        sample, [list(c) for c in WEIGHTING_CLASSES], min_respondents=min_respondents).to_numpy())
    design = SurveyDesign(sample, weights="design_weight", strata="stratum")
    design = design.adjust_nonresponse("responded", classes=["weighting_class"])
    data, margins = raking_margins(population, design.data.assign(nonresponse_weight=design.weights.to_numpy()))
    design = design.with_columns(**{name: data[name] for name in margins})
    return design.rake(margins)
