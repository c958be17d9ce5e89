"""Non-response weighting by weighting classes built from register characteristics.

The sample (respondents *and* non-respondents) is known from the register, so within each
weighting class the respondents' design weights are scaled up to carry the design weight of the
whole class: ``w_i = d_i * sum_{class} d_j / sum_{class, responded} d_j``. This removes
non-response bias whenever response depends only on the class variables (missing at random given
the classes; Kalton & Flores-Cervantes 2003). Classes with too few respondents are collapsed
step by step to coarser classes, so no weight rests on a handful of answers.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["AGE_BANDS", "age_band", "weighting_class_weights"]

AGE_BANDS = (18, 30, 50, 67)  # lower edges: 18-29, 30-49, 50-66, 67+
AGE_BAND_LABELS = ("18-29", "30-49", "50-66", "67+")


def age_band(age: pd.Series) -> pd.Series:
    """Age bands used for weighting and reporting."""
    bins = [*AGE_BANDS, np.inf]
    return pd.cut(age, bins=bins, right=False, labels=list(AGE_BAND_LABELS)).astype(str)


def weighting_class_weights(
    sample: pd.DataFrame,
    class_levels: Sequence[Sequence[str]],
    *,
    design_weight: str = "design_weight",
    responded: str = "responded",
    min_respondents: int = 20,
) -> pd.Series:
    """Non-response adjusted weights for every sampled person (0 for non-respondents).

    ``class_levels`` lists the class definitions from finest to coarsest, e.g.
    ``[["stratum", "age_band", "sex", "origin"], ["stratum", "age_band", "origin"],
    ["stratum", "age_band"], ["stratum"]]``. Each person gets the finest class in which at
    least ``min_respondents`` respondents fall. The coarsest level must have respondents in
    every class, else a ValueError names the empty class.
    """
    if not class_levels:
        raise ValueError("class_levels must list at least one class definition")
    resp = sample[responded].astype(bool).to_numpy()
    d = sample[design_weight].astype(float).to_numpy()
    factor = np.full(len(sample), np.nan)
    for level, columns in enumerate(class_levels):
        keys = sample.groupby(list(columns), sort=False, dropna=False).ngroup().to_numpy()
        frame = pd.DataFrame({"key": keys, "d": d, "d_resp": d * resp, "resp": resp})
        sums = frame.groupby("key", sort=False)[["d", "d_resp", "resp"]].transform("sum")
        enough = sums["resp"].to_numpy() >= (min_respondents if level < len(class_levels) - 1 else 1)
        empty = sums["resp"].to_numpy() == 0
        take = np.isnan(factor) & enough
        factor[take] = sums["d"].to_numpy()[take] / sums["d_resp"].to_numpy()[take]
        if level == len(class_levels) - 1 and np.isnan(factor).any():
            labels = sample[list(columns)].astype(str).agg("/".join, axis=1)
            bad = sorted(set(labels[np.isnan(factor) & empty]))
            raise ValueError(
                f"weighting classes {bad} (by {list(columns)}) have no respondents: "
                "cannot weight non-response; merge these strata or check the 'responded' column"
            )
    weights = np.where(resp, d * factor, 0.0)
    return pd.Series(weights, index=sample.index, name="weight")
