"""Weighting the comparison group to look like a district, as a calibration step of the design.

Entropy balancing (Hainmueller 2012) gives comparison units weights ``base * exp(lambda' x)``
whose weighted covariate means equal the district's: that is raking calibration of the
comparison units to the totals ``N_comparison * district_means``. Done as a step of the
``SurveyDesign``, the district's and other groups' weights stay as they are, and standard errors
use the calibration residuals. The district's means are treated as given targets.

Balancing degrades gracefully rather than failing the report. Categories the register cannot know
("unknown": a sampled person without a register row, or an empty education) are balanced like any
other, but columns that repeat others among the comparison respondents are dropped (a person
without a register row is "unknown" in age, sex, origin and employment at once); a district share
of exactly 0 or 1 (a small district) is no target; and when the calibration still does not
converge, the target with the thinnest support among the comparison respondents is given up, one
at a time. Every target given up is recorded in a Danish note
(:func:`balance_comparison_noted`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..columns import require_columns
from ..labels import covariate_label
from ..weighting.design_matrix import covariate_matrix
from .design import SurveyDesign
from .steps import ConvergenceError
from .variance import SurveyError

__all__ = ["BALANCE_GROUP", "balance_comparison", "balance_comparison_noted"]

BALANCE_GROUP = "balance_group"
COLLINEAR_TOL = 1e-9  # relative singular value below which a column repeats the others
BOUNDARY = 1e-9  # a district share this close to 0 or 1 is no target a comparison group can be weighted to


def balance_comparison(design: SurveyDesign, group: str, district: str, comparison: str,
                       covariates: Sequence[str]) -> SurveyDesign:
    """The design with comparison units reweighted to the district's weighted covariate means.

    Rows of other groups keep their weights. Adds the column ``balance_group`` (the district,
    the comparison group or "other") used by the calibration and by :func:`~did` estimates.
    """
    return balance_comparison_noted(design, group, district, comparison, covariates)[0]


def _independent(X: np.ndarray, order: list[int]) -> list[int]:
    """Columns (in ``order``) that are not linear combinations of an intercept and earlier ones."""
    kept: list[int] = []
    basis = np.ones((len(X), 1)) / np.sqrt(max(len(X), 1))
    for j in order:
        x = X[:, j] - basis @ (basis.T @ X[:, j])
        norm = np.linalg.norm(x)
        if norm > COLLINEAR_TOL * max(np.linalg.norm(X[:, j]), 1.0):
            kept.append(j)
            basis = np.column_stack([basis, x / norm])
    return kept


def balance_comparison_noted(design: SurveyDesign, group: str, district: str, comparison: str,
                             covariates: Sequence[str]) -> tuple[SurveyDesign, tuple[str, ...]]:
    """:func:`balance_comparison` and, in Danish, the targets it had to give up (module docstring)."""
    require_columns(design.data, [group], what="survey data (balancing)", error=SurveyError)
    X = covariate_matrix(design.data, covariates)
    in_district = (design.data[group] == district).to_numpy()
    in_comparison = (design.data[group] == comparison).to_numpy()
    w = design.weights.to_numpy()
    labels = np.where(in_district, district, np.where(in_comparison, comparison, "other"))
    with_groups = design.with_columns(**{BALANCE_GROUP: labels})
    if not (w * in_district).sum() > 0 or not (w * in_comparison).sum() > 0:
        return with_groups, ("Sammenligningsgruppen er ikke udlignet til bydelen: "
                             "der er ingen besvarelser at udligne til.",)
    group_totals = pd.Series(w).groupby(labels).sum()
    target_means = (X.to_numpy() * (w * in_district)[:, None]).sum(axis=0) / (w * in_district).sum()
    # only covariates that vary among comparison respondents can be balanced
    positive = in_comparison & (w > 0)
    Xc = X.loc[positive].to_numpy()
    varying = [j for j in range(X.shape[1]) if Xc[:, j].std() > 0]
    # a share of 0 or 1 in the district (a small one) would drive the comparison's weights of a whole
    # category to 0 and its variance to nonsense: such a target is given up, with a note
    dummies = [j for j in varying if set(np.unique(Xc[:, j])) <= {0.0, 1.0}]
    extreme = [j for j in dummies if not BOUNDARY < target_means[j] < 1 - BOUNDARY]
    notes = [f"Sammenligningsgruppen er ikke udlignet på «{covariate_label(X.columns[j])}»: "
             f"{'ingen af' if target_means[j] <= BOUNDARY else 'alle'} bydelens svarpersoner har den egenskab."
             for j in extreme]
    chosen = _independent(Xc, [j for j in varying if j not in extreme])
    support = (Xc != 0).sum(axis=0)  # comparison respondents with a non-zero value, per column
    while True:
        columns = {f"balance:{X.columns[j]}": X.iloc[:, j].to_numpy() * in_comparison for j in chosen}
        totals = {BALANCE_GROUP: group_totals.to_dict()}
        totals.update({f"balance:{X.columns[j]}": float(group_totals[comparison] * target_means[j]) for j in chosen})
        try:
            return with_groups.with_columns(**columns).calibrate(totals, method="raking"), tuple(notes)
        except ConvergenceError:
            if not chosen:
                raise
            thinnest = min(chosen, key=lambda j: (support[j], -abs(target_means[j] - Xc[:, j].mean())))
            chosen.remove(thinnest)
            notes.append(f"Sammenligningsgruppen kunne ikke udlignes til bydelens andel for "
                         f"«{covariate_label(X.columns[thinnest])}» (for få i sammenligningsgruppen); "
                         "den er udeladt af udligningen.")
