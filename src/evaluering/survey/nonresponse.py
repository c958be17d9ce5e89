"""Non-response weighting by weighting classes built from register characteristics.

The sample (respondents *and* non-respondents) is known from the register, so within each
weighting class the respondents' design weights are scaled up to carry the design weight of the
whole class: ``w_i = d_i * sum_{class} d_j / sum_{class, responded} d_j``. This removes
non-response bias whenever response depends only on the class variables (missing at random given
the classes; Kalton & Flores-Cervantes 2003). Classes with too few respondents are collapsed
step by step to coarser classes, so no weight rests on a handful of answers. The adjustment
itself is the design step ``survey.steps.NonresponseClasses``.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from .variance import SurveyError

__all__ = ["AGE_BANDS", "age_band", "collapse_classes"]

AGE_BANDS = (18, 30, 50, 67)  # lower edges: 18-29, 30-49, 50-66, 67+
AGE_BAND_LABELS = ("18-29", "30-49", "50-66", "67+")


def age_band(age: pd.Series, youngest: int = AGE_BANDS[0]) -> pd.Series:
    """Age bands used for weighting and reporting.

    The first band starts at ``youngest``, the youngest age the survey covers: 18 (18-29) unless
    the sample includes younger persons, e.g. 16 (16-29) for a survey from age 16. Younger ages
    get no band (NaN), as do missing ages.
    """
    if not youngest < AGE_BANDS[1]:
        raise SurveyError(f"youngest must be below {AGE_BANDS[1]}, not {youngest}")
    bins = [youngest, *AGE_BANDS[1:], np.inf]
    labels = [f"{youngest}-29", *AGE_BAND_LABELS[1:]]
    return pd.cut(age, bins=bins, right=False, labels=labels).astype(object).where(lambda s: s.notna())


def collapse_classes(
    sample: pd.DataFrame,
    class_levels: Sequence[Sequence[str]],
    *,
    responded: str = "responded",
    min_respondents: int = 20,
) -> pd.Series:
    """The weighting class of every sampled person, collapsed where respondents are few.

    ``class_levels`` lists the class definitions from finest to coarsest, e.g.
    ``[["stratum", "age_band", "sex", "origin"], ["stratum", "age_band", "origin"],
    ["stratum", "age_band"], ["stratum"]]``. Each person gets the finest class in which at
    least ``min_respondents`` respondents fall (any respondent at the coarsest level); a
    coarsest class without respondents raises a SurveyError naming it.
    """
    if not class_levels:
        raise SurveyError("class_levels must list at least one class definition")
    resp = sample[responded].astype(bool).to_numpy()
    label = np.full(len(sample), None, dtype=object)
    for level, columns in enumerate(class_levels):
        keys = _labels(sample, columns).to_numpy()
        unclassed = label == None  # noqa: E711
        # respondents among the persons not yet in a finer class: those are the ones this class weights
        counts = pd.Series(resp & unclassed).groupby(keys).transform("sum").to_numpy()
        last = level == len(class_levels) - 1
        take = unclassed & (counts >= (1 if last else min_respondents))
        label[take] = f"{level}:" + keys[take]
        if last:
            _merge_stranded(label, keys, resp, f"{level}:", columns)
    return pd.Series(label, index=sample.index, name="weighting_class")


def _merge_stranded(label: np.ndarray, keys: np.ndarray, resp: np.ndarray, prefix: str, columns) -> None:
    """Persons left without respondents at the coarsest level join the smallest finer class of their cell.

    Their coarsest cell has respondents, all placed in finer classes; merging the one with the
    fewest respondents back keeps every class at ``min_respondents`` or more. A coarsest cell
    without any respondent cannot be weighted and raises a SurveyError naming it.
    """
    stranded = label == None  # noqa: E711
    empty = sorted({k for k in set(keys[stranded]) if not resp[keys == k].any()})
    if empty:
        raise SurveyError(
            f"weighting classes {empty} (by {list(columns)}) have no respondents: "
            "cannot weight non-response; merge these strata or check the 'responded' column"
        )
    for key in set(keys[stranded]):
        cell = keys == key
        placed = cell & ~stranded
        smallest = pd.Series(resp[placed]).groupby(label[placed]).sum().idxmin()
        label[cell & (stranded | (label == smallest))] = prefix + key


def _labels(sample: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """One text label per row for a combination of columns (vectorised, no row-wise Python)."""
    parts = [sample[c].astype(str) for c in columns]
    out = parts[0]
    for part in parts[1:]:
        out = out + "/" + part
    return out
