"""Difference-in-differences of survey indicators from the calibrated wave designs.

Each survey wave is a new, independent sample. In each wave the district's weighted mean and the
comparison group's (balanced to the district) come from one ``SurveyDesign``, with their joint
covariance: variances use the calibration residuals of non-response adjustment, raking and
balancing. The DiD is (district - comparison) at follow-up minus the same at baseline; its
variance is the sum of the two waves' variances.

Two standard errors come out: the Taylor linearisation one (R ``survey``'s, ``DidEstimate.se``)
and the one the report shows, with the calibration residuals corrected for their leverage
(``SurveyDesign.with_leverage_correction``): in a district of a few hundred respondents the
linearisation falls short by about K/n for K calibration constraints (about 5 %). Both come from
one residualisation of the influence values per wave (the expensive step), not one each.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..inference.reported import ReportedInference
from ..numerics import interval
from ..survey.design import SurveyDesign
from ..survey.statistics import means
from ..survey.variance import design_variance
from .errors import DidError
from .two_wave import DidEstimate

__all__ = ["design_did", "DesignDidEstimate", "METHOD"]

METHOD = "design_leverage"  # the reported inference: design-based with leverage-corrected residuals


@dataclass(frozen=True, repr=False)
class DesignDidEstimate(DidEstimate):
    """A survey DiD: ``se`` (and interval, p-value) from Taylor linearisation as R's ``survey``;
    ``reported`` the same with leverage-corrected calibration residuals, which the report shows.
    ``n_units`` counts the respondents with an answer, ``n_clusters`` the primary sampling units
    they belong to, over both waves (each respondent is one when the designs have no clusters).
    """

    reported: ReportedInference | None = None

    def to_frame(self) -> pd.DataFrame:
        """One row with every field; the reported inference as ``reported_*`` columns."""
        frame = super().to_frame().drop(columns="reported")
        if self.reported is not None:
            for name in ("method", "se", "ci_low", "ci_high", "p_value"):
                frame[f"reported_{name}"] = getattr(self.reported, name)
        return frame


def _wave_contrast(design: SurveyDesign, y: np.ndarray, group: str | None, district: str, comparison: str):
    """(estimate, variance, leverage-corrected variance, level rows) of district - comparison (or
    the district mean alone), from one residualisation of the influence values: the variances are
    those of ``design.mean`` and ``design.with_leverage_correction().mean``. A level row is (group,
    mean, se, respondents with an answer, primary sampling units they belong to).
    """
    corrected = design.with_leverage_correction()  # refuses designs without linearised variances
    if group is None:
        names, domains = [district], [None]
    else:
        names = [district, comparison]
        domains = [(design.data[group] == g).to_numpy() for g in names]
        missing = [g for g, rows in zip(names, domains, strict=True) if not rows.any()]
        if missing:
            raise DidError(f"no respondents with an answer in {missing}")
    parts = [means([g], np.asarray(y, dtype=float)[:, None], rows) for g, rows in zip(names, domains, strict=True)]
    values = np.concatenate([part.value(design.weights.to_numpy()) for part in parts])
    z = np.column_stack([design.residualised_influence(part) for part in parts])
    cov = design_variance(z, design.stages)
    cov_corrected = design_variance(z * corrected.leverage_factors()[:, None], design.stages)
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    answered = ~np.isnan(np.asarray(y, dtype=float))
    psus = [len(np.unique(design.stages.psu[answered if rows is None else answered & rows])) for rows in domains]
    rows = [(g, values[j], se[j], int(parts[j].n[0]), psus[j]) for j, g in enumerate(names)]
    contrast = np.array([1.0, -1.0])[: len(names)]
    return (float(contrast @ values), float(contrast @ cov @ contrast), float(contrast @ cov_corrected @ contrast),
            rows)


# An SE below this is rounding, not sampling variation: a 0/1 answer that differs for one of n
# respondents gives an SE of about 1/n (over 1e-6 for any survey); constant answers leave < 1e-16.
ZERO_SE = 1e-12


def _se(variance: float) -> float:
    """The standard error of a variance that may be zero up to rounding (then exactly 0)."""
    se = float(np.sqrt(max(variance, 0.0)))
    return 0.0 if se < ZERO_SE else se


def _inference(estimate: float, variance: float, confidence: float) -> tuple[float, float, float, float]:
    """(se, ci_low, ci_high, p) of a normal interval; with SE 0 no p-value and the estimate as interval."""
    se = _se(variance)
    return se, *interval(estimate, se, confidence)


def design_did(
    designs: dict[int, SurveyDesign],
    outcomes: dict[int, np.ndarray],
    *,
    indicator: str,
    district: str,
    baseline: int,
    followup: int,
    group: str | None,
    comparison: str,
    confidence: float = 0.95,
) -> tuple[DidEstimate, pd.DataFrame]:
    """The DiD estimate and the level table (group, period, value, se, n) of one survey indicator.

    ``outcomes[wave]`` holds each sampled unit's outcome (NaN where not answered) aligned with
    ``designs[wave].data``. With ``group=None`` there is no comparison group and the estimate is
    the before-after change of the district's mean (``design="pre_post"``). When the answers are
    constant within both groups in both waves the SE is 0: the p-value is then NaN (no test, the
    verdict is "no detectable change") and the interval is the estimate.

    The result is a :class:`DesignDidEstimate`: its ``se`` is the linearisation SE, its
    ``reported`` the leverage-corrected inference (method ``"design_leverage"``). The level table
    keeps the linearisation SEs.
    """
    parts, levels = [], []
    for wave in (baseline, followup):
        estimate, variance, corrected, rows = _wave_contrast(designs[wave], outcomes[wave], group, district,
                                                             comparison)
        parts.append((estimate, variance, corrected))
        levels += [{"group": g, "period": wave, "value": v, "se": se, "n_units": n, "n_persons": n,
                    "n_clusters": psu} for g, v, se, n, psu in rows]
    estimate = parts[1][0] - parts[0][0]
    # constant answers (SE 0): no p-value and an interval of the estimate alone, as in two_wave_did
    se, ci_low, ci_high, p_value = _inference(estimate, parts[0][1] + parts[1][1], confidence)
    reported = ReportedInference(METHOD, estimate, *_inference(estimate, parts[0][2] + parts[1][2], confidence),
                                 confidence=confidence)
    n_units = int(sum(row["n_units"] for row in levels))
    result = DesignDidEstimate(
        indicator=indicator, district=district, baseline=baseline, followup=followup, estimate=estimate, se=se,
        ci_low=ci_low, ci_high=ci_high, p_value=p_value,
        design="did" if group is not None else "pre_post", scale="difference", n_units=n_units,
        n_clusters=int(sum(row["n_clusters"] for row in levels)), confidence=confidence, reported=reported,
    )
    return result, pd.DataFrame(levels)
