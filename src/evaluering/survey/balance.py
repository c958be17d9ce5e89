"""Weighting the comparison group to look like a district, as a calibration step of the design.

Entropy balancing (Hainmueller 2012) gives comparison units weights ``base * exp(lambda' x)``
whose weighted covariate means equal the district's: that is raking calibration of the
comparison units to the totals ``N_comparison * district_means``. Done as a step of the
``SurveyDesign``, the district's and other groups' weights stay as they are, and standard errors
use the calibration residuals. The district's means are treated as given targets.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..weighting.design_matrix import covariate_matrix
from .design import SurveyDesign

__all__ = ["BALANCE_GROUP", "balance_comparison"]

BALANCE_GROUP = "balance_group"


def balance_comparison(design: SurveyDesign, group: str, district: str, comparison: str,
                       covariates: Sequence[str]) -> SurveyDesign:
    """The design with comparison units reweighted to the district's weighted covariate means.

    Rows of other groups keep their weights. Adds the column ``balance_group`` (the district,
    the comparison group or "other") used by the calibration and by :func:`~did` estimates.
    """
    X = covariate_matrix(design.data, covariates)
    in_district = (design.data[group] == district).to_numpy()
    in_comparison = (design.data[group] == comparison).to_numpy()
    w = design.weights.to_numpy()
    labels = np.where(in_district, district, np.where(in_comparison, comparison, "other"))
    group_totals = pd.Series(w).groupby(labels).sum()
    target_means = (X.to_numpy() * (w * in_district)[:, None]).sum(axis=0) / (w * in_district).sum()
    # only covariates that vary among comparison respondents can be balanced
    positive = in_comparison & (w > 0)
    varying = X.loc[positive].std().to_numpy() > 0
    columns = {f"balance:{name}": X[name].to_numpy() * in_comparison for name in X.columns[varying]}
    totals = {BALANCE_GROUP: group_totals.to_dict()}
    totals.update({name: float(group_totals[comparison] * target_means[j])
                   for j, name in zip(np.flatnonzero(varying), columns)})
    return design.with_columns(**{BALANCE_GROUP: labels}, **columns).calibrate(totals, method="raking")
