"""Design-based variance of estimated totals: stratified, first-stage clusters, fpc, lonely PSUs.

For influence values ``z`` (one row per unit, one column per statistic, already multiplied by the
weights) the variance of their total is, as in R's ``survey::svyrecvar`` for one stage,

    V = sum_h (1 - f_h) * n_h / (n_h - 1) * sum_i (z_hi - mean_h z)(z_hi - mean_h z)'

where ``z_hi`` are PSU totals in stratum h, ``n_h`` the number of sampled PSUs and ``f_h`` the
first-stage sampling fraction (n_h / N_h, from the fpc).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import EvalueringError

__all__ = ["Stages", "LONELY_PSU_OPTIONS", "SurveyError", "design_variance"]

LONELY_PSU_OPTIONS = ("fail", "adjust", "certainty", "remove")


class SurveyError(EvalueringError, ValueError):
    """Invalid survey design input or a weighting step that cannot be done."""


@dataclass(frozen=True)
class Stages:
    """Integer codes describing the first sampling stage of every unit."""

    stratum: np.ndarray  # stratum code per unit (0..H-1)
    psu: np.ndarray  # PSU code per unit, unique across strata (0..P-1)
    psu_stratum: np.ndarray  # stratum code of each PSU
    fraction: np.ndarray  # first-stage sampling fraction per stratum (0 without fpc)
    stratum_labels: tuple
    lonely_psu: str = "fail"

    @property
    def n_psu(self) -> int:
        """Number of sampled first-stage units (PSUs)."""
        return len(self.psu_stratum)

    @property
    def degrees_of_freedom(self) -> int:
        """Number of PSUs minus number of strata (R's ``degf``)."""
        return self.n_psu - len(self.stratum_labels)


def design_variance(z: np.ndarray, stages: Stages) -> np.ndarray:
    """Variance-covariance matrix of the totals of the columns of ``z``."""
    z = np.asarray(z, dtype=float)
    if z.ndim == 1:
        z = z[:, None]
    k = z.shape[1]
    psu_totals = np.zeros((stages.n_psu, k))
    np.add.at(psu_totals, stages.psu, z)
    n_strata = len(stages.stratum_labels)
    n_h = np.bincount(stages.psu_stratum, minlength=n_strata)
    stratum_sums = np.zeros((n_strata, k))
    np.add.at(stratum_sums, stages.psu_stratum, psu_totals)
    means = stratum_sums / np.maximum(n_h, 1)[:, None]
    dev = psu_totals - means[stages.psu_stratum]

    lonely = n_h[stages.psu_stratum] == 1
    factor = np.zeros(stages.n_psu)
    ok = ~lonely
    factor[ok] = (1 - stages.fraction[stages.psu_stratum[ok]]) * n_h[stages.psu_stratum[ok]] / (
        n_h[stages.psu_stratum[ok]] - 1
    )
    if lonely.any():
        labels = [stages.stratum_labels[h] for h in np.unique(stages.psu_stratum[lonely])]
        # a stratum sampled completely (fpc = 1) has no sampling variance and is not a problem
        censused = stages.fraction[stages.psu_stratum[lonely]] >= 1
        if stages.lonely_psu == "fail" and not censused.all():
            raise SurveyError(
                f"strata {labels} have a single PSU, so their variance cannot be estimated; "
                "choose lonely_psu='adjust', 'certainty' or 'remove'"
            )
        if stages.lonely_psu == "adjust":
            # centre the lone PSU at the average PSU total of the whole sample (R's "adjust")
            dev[lonely] = psu_totals[lonely] - psu_totals.mean(axis=0)
            factor[lonely] = 1 - stages.fraction[stages.psu_stratum[lonely]]
        # "certainty" and "remove": the lone PSU contributes nothing
    weighted = dev * np.sqrt(np.maximum(factor, 0))[:, None]
    return weighted.T @ weighted
