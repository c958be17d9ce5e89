"""``SurveyDesign``: a weighted sample with strata, first-stage clusters and fpc, as R's ``svydesign``.

The design keeps its original (design) weights and the weighting steps applied since
(non-response adjustment, post-stratification, raking, calibration, trimming). Each step returns
a new design; estimates use the final weights and Taylor-linearised standard errors in which
calibration steps contribute their residuals. ``replicate()`` turns the design into a replicate
design that re-applies every step to every replicate.

``with_leverage_correction()`` gives the same design with a small-sample (HC2-type) correction of
the calibration residuals: each is divided by sqrt(1 - h), h the unit's leverage in the chain of
calibration steps (see :meth:`SurveyDesign.leverage`). Off by default, so the numbers stay R's.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ..columns import require_columns
from .estimate import Estimate, EstimateTable, make_table
from .statistics import Statistic, means, ratio, regression, totals
from .steps import Calibrate, CalibrationResidual, NonresponseClasses, NonresponsePropensity, PostStratify, Rake, Trim
from .variance import LONELY_PSU_OPTIONS, Stages, SurveyError, design_variance

__all__ = ["SurveyDesign", "SurveyError"]


def _check_weights(data: pd.DataFrame, column: str) -> np.ndarray:
    require_columns(data, [column], what="survey data (weights)", error=SurveyError)
    w = pd.to_numeric(data[column], errors="coerce").to_numpy(dtype=float)
    for problem, mask in (("missing or not numeric", np.isnan(w)), ("negative", w < 0), ("zero", w == 0),
                          ("infinite", np.isinf(w))):
        if mask.any():
            rows = np.flatnonzero(mask)[:5].tolist()
            raise SurveyError(f"weights: column '{column}' has {int(mask.sum())} {problem} values "
                              f"(first rows {rows}); every sampled unit needs a positive weight")
    return w


def _stages(data: pd.DataFrame, strata: str | None, cluster: str | None, fpc: str | None,
            lonely_psu: str) -> Stages:
    n = len(data)
    require_columns(data, [strata, cluster, fpc], what="survey data (design)", error=SurveyError)
    if lonely_psu not in LONELY_PSU_OPTIONS:
        raise SurveyError(f"lonely_psu must be one of {LONELY_PSU_OPTIONS}, not {lonely_psu!r}")
    stratum_values = data[strata] if strata else pd.Series(np.zeros(n), index=data.index)
    if stratum_values.isna().any():
        raise SurveyError(f"design: column '{strata}' has missing strata")
    stratum, stratum_labels = pd.factorize(stratum_values, sort=True)
    if cluster:
        if data[cluster].isna().any():
            raise SurveyError(f"design: column '{cluster}' has missing clusters")
        psu = pd.MultiIndex.from_arrays([stratum, data[cluster].to_numpy()]).factorize()[0]
    else:
        psu = np.arange(n)
    psu_stratum = np.zeros(psu.max() + 1, dtype=np.int64)
    psu_stratum[psu] = stratum
    fraction = np.zeros(len(stratum_labels))
    if fpc:
        values = pd.to_numeric(data[fpc], errors="coerce").to_numpy(dtype=float)
        if np.isnan(values).any() or (values <= 0).any():
            raise SurveyError(f"design: fpc column '{fpc}' must be positive and complete")
        n_h = np.bincount(psu_stratum, minlength=len(stratum_labels))
        for h in range(len(stratum_labels)):
            v = np.unique(values[stratum == h])
            if len(v) > 1:
                raise SurveyError(f"design: fpc varies within stratum {stratum_labels[h]!r}")
            # as in R: a value above 1 is the population number of PSUs, otherwise a sampling fraction
            fraction[h] = n_h[h] / v[0] if v[0] > 1 else v[0]
            if fraction[h] > 1 + 1e-9:
                raise SurveyError(f"design: stratum {stratum_labels[h]!r} has {n_h[h]} sampled PSUs but fpc says "
                                  f"only {v[0]:g} exist")
    return Stages(stratum.astype(np.int64), psu.astype(np.int64), psu_stratum, fraction,
                  tuple(stratum_labels), lonely_psu)


def _columns(data: pd.DataFrame, columns: str | Sequence[str]) -> tuple[list[str], np.ndarray]:
    names = [columns] if isinstance(columns, str) else list(columns)
    require_columns(data, names, what="survey data", error=SurveyError)
    values = np.column_stack([pd.to_numeric(data[c], errors="coerce").to_numpy(dtype=float) for c in names])
    return names, values


class SurveyDesign:
    """A survey sample with its design; weighting steps and estimates return new objects.

    ``fpc`` is the population number of first-stage units in the stratum (or, if at most 1, the
    sampling fraction), as in R. ``lonely_psu`` handles strata with one PSU: "fail" (default),
    "adjust" (centre at the grand mean), "certainty" or "remove" (contribute nothing).
    """

    leverage_correction: bool = False  # see with_leverage_correction()

    def __init__(self, data: pd.DataFrame, weights: str, strata: str | None = None, cluster: str | None = None,
                 fpc: str | None = None, lonely_psu: str = "fail", *, confidence: float = 0.95):
        self.data = data.reset_index(drop=True)
        self.design_weights = _check_weights(self.data, weights)
        self.stages = _stages(self.data, strata, cluster, fpc, lonely_psu)
        self.spec = {"weights": weights, "strata": strata, "cluster": cluster, "fpc": fpc, "lonely_psu": lonely_psu}
        self.steps: tuple = ()
        self.confidence = confidence
        self._final, self._residualisers = self.design_weights, ()

    # --- weights and steps --------------------------------------------------------------------

    @property
    def weights(self) -> pd.Series:
        """Final weights after every weighting step."""
        return pd.Series(self._final, index=self.data.index, name="weight")

    def apply_steps(self, w: np.ndarray) -> tuple[np.ndarray, tuple]:
        """Run every weighting step on ``w`` (the design weights, or a replicate of them)."""
        residualisers = []
        for step in self.steps:
            w, residualise = step.apply(self.data, w)
            if residualise is not None:
                residualisers.append(residualise)
        return w, tuple(residualisers)

    def _with_step(self, step) -> SurveyDesign:
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.steps = (*self.steps, step)
        w, residualise = step.apply(self.data, self._final)
        new._final = w
        new._residualisers = (*self._residualisers, residualise) if residualise is not None else self._residualisers
        return new

    def with_columns(self, **columns) -> SurveyDesign:
        """The same design with extra data columns (e.g. an outcome or a calibration variable)."""
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.data = self.data.assign(**{k: np.asarray(v) for k, v in columns.items()})
        return new

    def poststratify(self, variable: str, totals: Mapping) -> SurveyDesign:
        """Post-stratification: the weights of each category of ``variable`` scaled to its population total."""
        return self._with_step(PostStratify(variable, dict(totals)))

    def rake(self, margins: Mapping[str, Mapping], *, tol: float = 1e-10, max_iter: int = 100) -> SurveyDesign:
        """Raking (iterative proportional fitting) to the population totals of several categorical margins."""
        return self._with_step(Rake({k: dict(v) for k, v in margins.items()}, tol, max_iter))

    def calibrate(self, totals: Mapping, method: str = "linear", bounds: tuple[float, float] | None = None,
                  *, tol: float = 1e-10, max_iter: int = 100) -> SurveyDesign:
        """Calibration to ``totals`` (categorical margins and numeric totals): ``linear`` (GREG),
        ``raking`` or bounded ``logit`` (``bounds`` on the weight ratios), as R's ``calibrate``.
        """
        return self._with_step(Calibrate(dict(totals), method, bounds, tol, max_iter))

    def trim(self, upper: float = np.inf, lower: float = 0.0) -> SurveyDesign:
        """Weights bounded to [``lower``, ``upper``], the trimmed weight spread over the others (total kept)."""
        return self._with_step(Trim(upper, lower))

    def adjust_nonresponse(self, responded: str, classes: Sequence[str] | None = None,
                           covariates: Sequence[str] | None = None) -> SurveyDesign:
        """Weighting classes (``classes``) or a response-propensity model (``covariates``)."""
        if (classes is None) == (covariates is None):
            raise SurveyError("non-response adjustment: give either classes or covariates")
        if classes is not None:
            return self._with_step(NonresponseClasses(responded, tuple(classes)))
        return self._with_step(NonresponsePropensity(responded, tuple(covariates)))

    # --- small-sample (leverage) correction ------------------------------------------------------

    @property
    def leverage(self) -> pd.Series:
        """Each unit's leverage in the whole chain of calibration steps (0 without calibration).

        The calibration residuals are r = M z with M = R_k ... R_1, each step R_j = I - A_j B_j' a
        projection (its ``factors``), so M = I - A C B' over all steps' columns, with C from
        C <- C + E_j - E_j (B'A) C. Under the working model that y has the same variance for every
        respondent (var z_i proportional to w_i^2), r_i keeps the share
        kept_i = (M V M')_ii / v_i of z_i's variance, and h_i = 1 - kept_i. For one step this is its
        own hat diagonal (post-stratification, classes, raking; calibration with equal weights); for
        nested steps (classes within raking margins) it counts the shared constraints once, where
        1 - prod(1 - h_step) would count them twice.
        """
        cache = self.__dict__.get("_leverage_cache")
        if cache is not None and cache[0] is self._residualisers and cache[1] is self._final:
            return cache[2]
        steps = [r for r in self._residualisers if isinstance(r, CalibrationResidual)]
        w = self._final
        h = np.zeros(len(self.data))
        if steps:
            factors = [r.factors for r in steps]
            A = np.hstack([a for a, _ in factors])
            B = np.hstack([b for _, b in factors])
            G = B.T @ A
            C = np.zeros_like(G)
            start = 0
            for a, _ in factors:
                block = slice(start, start + a.shape[1])
                select = np.zeros_like(G)
                select[block, block] = np.eye(a.shape[1])
                C = C + select - select @ G @ C
                start += a.shape[1]
            v = w**2
            own = ((A @ C) * B).sum(axis=1)
            through = ((A @ (C @ (B.T @ (B * v[:, None])) @ C.T)) * A).sum(axis=1)
            positive = v > 0
            kept = np.ones(len(w))
            kept[positive] = 1 - 2 * own[positive] + through[positive] / v[positive]
            h = np.where(positive, np.clip(1 - kept, 0.0, 1.0), 0.0)
        result = pd.Series(h, index=self.data.index, name="leverage")
        self._leverage_cache = (self._residualisers, self._final, result)
        return result

    def with_leverage_correction(self, on: bool = True) -> SurveyDesign:
        """The same design whose calibration residuals are divided by sqrt(1 - leverage) (HC2-type).

        Linearisation with calibration residuals underestimates the variance by about K/n (K
        constraints estimated from n respondents), which matters in small domains; the correction
        (Valliant 2002; Kott's leverage-adjusted GREG variance) removes that bias when the residual
        variance is about constant. Off by default: uncorrected numbers are R ``survey``'s.
        """
        if type(self)._estimate is not SurveyDesign._estimate:
            raise SurveyError(f"the leverage correction is for linearised variances; a {type(self).__name__} "
                              "gets its variance from re-weighted replicates instead")
        if on:
            _ = self.leverage  # computed once here, so designs derived from this one (new columns) share it
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new.leverage_correction = bool(on)
        return new

    def leverage_factors(self) -> np.ndarray:
        """1 / sqrt(1 - h) per unit; 1 where h reaches 1 (the unit's residual is then exactly 0)."""
        keep = 1 - self.leverage.to_numpy()
        return np.where(keep > 1e-9, 1 / np.sqrt(np.clip(keep, 1e-9, None)), 1.0)

    # --- estimation ------------------------------------------------------------------------------

    def residualised_influence(self, statistic: Statistic) -> np.ndarray:
        """The statistic's influence values after every calibration step (uncorrected for leverage):
        what the linearised variance is computed from, so that callers can share one pass.
        """
        z = statistic.influence(self._final)
        for residualise in self._residualisers:
            z = residualise(z)
        return np.asarray(z, dtype=float)

    def _estimate(self, statistic: Statistic) -> EstimateTable:
        w = self._final
        z = self.residualised_influence(statistic)
        if self.leverage_correction:
            z = z * (self.leverage_factors()[:, None] if z.ndim == 2 else self.leverage_factors())
        covariance = design_variance(z, self.stages)
        return make_table(statistic.names, statistic.value(w), covariance, statistic.srs_variance(w),
                          statistic.n, self.confidence)

    def _domains(self, by: str | None):
        if by is None:
            return [(None, None)]
        require_columns(self.data, [by], what="survey data (domains)", error=SurveyError)
        levels = self.data[by].dropna().unique()
        return [(level, (self.data[by] == level).to_numpy()) for level in sorted(levels, key=str)]

    def _by(self, make, columns, by):
        names, y = _columns(self.data, columns)
        stats = []
        for level, mask in self._domains(by):
            label = names if level is None else [f"{n} | {by}={level}" for n in names]
            stats.append(make(label, y, mask))
        return self._combine(stats)

    def _combine(self, stats: list[Statistic]) -> EstimateTable:
        if len(stats) == 1:
            return self._estimate(stats[0])
        joined = Statistic(
            [n for s in stats for n in s.names],
            lambda w: np.concatenate([s.value(w) for s in stats]),
            lambda w: np.column_stack([s.influence(w) for s in stats]),
            lambda w: np.concatenate([s.srs_variance(w) for s in stats]),
            np.concatenate([s.n for s in stats]),
        )
        return self._estimate(joined)

    @staticmethod
    def _single(table: EstimateTable) -> Estimate | EstimateTable:
        return table[table.table.index[0]] if len(table) == 1 else table

    def mean(self, columns: str | Sequence[str], by: str | None = None) -> Estimate | EstimateTable:
        """Weighted mean(s); with ``by``, one per domain with correct domain standard errors."""
        return self._single(self._by(means, columns, by))

    def total(self, columns: str | Sequence[str], by: str | None = None) -> Estimate | EstimateTable:
        """Estimated population total(s), optionally per domain."""
        return self._single(self._by(totals, columns, by))

    def proportion(self, column: str, by: str | None = None) -> EstimateTable:
        """Estimated share of every category of ``column`` (missing answers left out)."""
        require_columns(self.data, [column], what="survey data", error=SurveyError)
        values = self.data[column]
        categories = sorted(values.dropna().unique(), key=str)
        dummies = np.column_stack([(values == c).to_numpy(dtype=float) for c in categories])
        dummies[values.isna().to_numpy()] = np.nan
        stats = []
        for level, mask in self._domains(by):
            label = [f"{column}={c}" if level is None else f"{column}={c} | {by}={level}" for c in categories]
            stats.append(means(label, dummies, mask))
        return self._combine(stats)

    def _ratio_table(self, numerator: str, denominator: str) -> EstimateTable:
        _, y = _columns(self.data, numerator)
        _, x = _columns(self.data, denominator)
        return self._estimate(ratio(f"{numerator}/{denominator}", y[:, 0], x[:, 0]))

    def ratio(self, numerator: str, denominator: str) -> Estimate:
        """Ratio of two population totals."""
        return self._single(self._ratio_table(numerator, denominator))

    def regression(self, outcome: str, covariates: Sequence[str], family: str = "gaussian") -> EstimateTable:
        """Design-based linear (``gaussian``) or logistic (``binomial``) regression with an intercept.

        Categorical covariates become treatment-coded dummies; rows with missing values are left
        out of the fit but stay in the design (zero weight), as in a domain analysis.
        """
        X = pd.get_dummies(self.data[list(covariates)], drop_first=True, dtype=float)
        X.insert(0, "(Intercept)", 1.0)
        y = pd.to_numeric(self.data[outcome], errors="coerce")
        complete = (y.notna() & X.notna().all(axis=1)).to_numpy()
        stat = regression(list(X.columns), y.fillna(0).to_numpy(), X.fillna(0).to_numpy(), family)
        design = self._masked(complete)
        return design._estimate(stat)

    def _masked(self, keep: np.ndarray) -> SurveyDesign:
        """The same design with weight zero outside ``keep`` (for complete-case regressions)."""
        if keep.all():
            return self
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        new._final = np.where(keep, self._final, 0.0)
        return new

    def replicate(self, method: str = "jk1", *, replicates: int = 200, seed: int | None = None, mse: bool = False):
        """A replicate-weight design (``jk1``, ``jkn`` or ``bootstrap``) re-applying every weighting step.

        ``mse=True`` centres the replicates on the full-sample estimate instead of their mean.
        """
        from .replicate import ReplicateDesign  # replicate.py builds on this module

        return ReplicateDesign.from_design(self, method, replicates=replicates, seed=seed, mse=mse)

    def __repr__(self) -> str:
        parts = [f"{len(self.data)} units", f"{self.stages.n_psu} PSUs", f"{len(self.stages.stratum_labels)} strata"]
        if self.steps:
            parts.append("steps: " + ", ".join(type(s).__name__ for s in self.steps))
        return f"SurveyDesign({'; '.join(parts)})"
