"""Replicate-weight designs: jackknife (JK1, JKn) and bootstrap, with every weighting step re-applied.

Each replicate starts from perturbed design weights (a PSU left out, or PSUs resampled) and then
goes through the same non-response adjustment, raking, calibration and trimming as the full
sample, so the variance reflects how the weights were made. Variances follow R's ``svrVar``:
``scale * sum_r rscale_r (theta_r - centre)^2`` with the centre the mean of the replicates
(``mse=False``) or the full-sample estimate (``mse=True``).
"""

from __future__ import annotations

import numpy as np

from .design import SurveyDesign
from .estimate import make_table
from .statistics import Statistic
from .variance import SurveyError

__all__ = ["ReplicateDesign", "replicate_weights"]

MAX_JACKKNIFE_CELLS = 50_000_000  # units x replicates (400 MB of weights)


def _jackknife(stages, one_stratum: bool) -> tuple[np.ndarray, float, np.ndarray]:
    """Factors (units x replicates), scale and rscales for JK1 (one stratum) or JKn (stratified)."""
    n_units = len(stages.psu)
    n_h = np.bincount(stages.psu_stratum)
    if one_stratum and len(n_h) > 1:
        raise SurveyError("JK1 is for unstratified designs; use 'jkn' for a stratified design")
    if (n_h < 2).any():
        raise SurveyError("jackknife needs at least two PSUs in every stratum")
    if n_units * stages.n_psu > MAX_JACKKNIFE_CELLS:
        raise SurveyError(f"a jackknife with {stages.n_psu} PSUs needs {stages.n_psu} replicates of {n_units} "
                          "weights; use method='bootstrap' or cluster the design")
    factors = np.ones((n_units, stages.n_psu))
    for r in range(stages.n_psu):
        h = stages.psu_stratum[r]
        in_stratum = stages.stratum == h
        factors[in_stratum, r] = n_h[h] / (n_h[h] - 1)
        factors[stages.psu == r, r] = 0.0
    fpc = 1 - stages.fraction[stages.psu_stratum]  # per replicate: the stratum its PSU was left out of
    if one_stratum:
        return factors, (n_h[0] - 1) / n_h[0], fpc
    return factors, 1.0, fpc * (n_h[stages.psu_stratum] - 1) / n_h[stages.psu_stratum]


def _bootstrap(stages, replicates: int, rng: np.random.Generator) -> tuple[np.ndarray, float, np.ndarray]:
    """Rao-Wu rescaling bootstrap: n_h - 1 PSUs drawn with replacement in each stratum.

    As R's ``bootweights`` without ``fpc``: the finite population correction is not applied.
    """
    n_h = np.bincount(stages.psu_stratum)
    if (n_h < 2).any():
        raise SurveyError("the bootstrap needs at least two PSUs in every stratum")
    psu_factors = np.zeros((stages.n_psu, replicates))
    for h, size in enumerate(n_h):
        members = np.flatnonzero(stages.psu_stratum == h)
        draws = rng.integers(0, size, size=(size - 1, replicates))
        counts = np.zeros((size, replicates))
        np.add.at(counts, (draws, np.arange(replicates)[None, :]), 1)
        psu_factors[members] = counts * size / (size - 1)
    return psu_factors[stages.psu], 1 / (replicates - 1), np.ones(replicates)


def replicate_weights(stages, method: str, replicates: int = 200, seed: int | None = None):
    """Replicate factors for the design's PSUs, plus the variance scale and per-replicate rscales."""
    if method == "jk1":
        return _jackknife(stages, one_stratum=True)
    if method == "jkn":
        return _jackknife(stages, one_stratum=False)
    if method == "bootstrap":
        return _bootstrap(stages, replicates, np.random.default_rng(seed))
    raise SurveyError(f"replicate method must be 'jk1', 'jkn' or 'bootstrap', not {method!r}")


class ReplicateDesign(SurveyDesign):
    """A SurveyDesign whose variances come from replicate weights instead of linearisation.

    Every weighting step of the original design has been re-applied to each replicate, and steps
    added later are applied to each replicate too.
    """

    method: str
    replicate_weights: np.ndarray  # units x replicates, after every weighting step
    scale: float
    rscales: np.ndarray
    mse: bool

    @classmethod
    def from_design(cls, design: SurveyDesign, method: str, *, replicates: int = 200, seed: int | None = None,
                    mse: bool = False) -> ReplicateDesign:
        """The replicate design of ``design``: ``method`` "jk1", "jkn" or "bootstrap" (``replicates``
        draws from ``seed``), every weighting step re-applied to every replicate.
        """
        factors, scale, rscales = replicate_weights(design.stages, method, replicates, seed)
        new = object.__new__(cls)
        new.__dict__.update(design.__dict__)
        base = design.design_weights[:, None] * factors
        new.replicate_weights = np.column_stack([design.apply_steps(base[:, r])[0] for r in range(base.shape[1])])
        new.method, new.scale, new.rscales, new.mse = method, scale, np.asarray(rscales, dtype=float), mse
        return new

    def _with_step(self, step) -> ReplicateDesign:
        new = super()._with_step(step)
        new.replicate_weights = np.column_stack(
            [step.apply(self.data, self.replicate_weights[:, r])[0] for r in range(self.replicate_weights.shape[1])]
        )
        return new

    def _masked(self, keep: np.ndarray) -> ReplicateDesign:
        new = super()._masked(keep)
        if new is not self:
            new.replicate_weights = self.replicate_weights * keep[:, None]
        return new

    def _estimate(self, statistic: Statistic):
        full = statistic.value(self._final)
        reps = np.column_stack([statistic.value(self.replicate_weights[:, r])
                                for r in range(self.replicate_weights.shape[1])])
        centre = full[:, None] if self.mse else reps.mean(axis=1, keepdims=True)
        dev = reps - centre
        covariance = self.scale * (dev * self.rscales[None, :]) @ dev.T
        return make_table(statistic.names, full, covariance, statistic.srs_variance(self._final), statistic.n,
                          self.confidence)

    def __repr__(self) -> str:
        return f"ReplicateDesign({self.method}, {self.replicate_weights.shape[1]} replicates; {super().__repr__()})"
