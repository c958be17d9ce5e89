"""Difference-in-differences of survey indicators from the calibrated wave designs.

Each survey wave is a new, independent sample. In each wave the district's weighted mean and the
comparison group's (balanced to the district) come from one ``SurveyDesign``, with their joint
covariance: variances use the calibration residuals of non-response adjustment, raking and
balancing. The DiD is (district - comparison) at follow-up minus the same at baseline; its
variance is the sum of the two waves' variances.

Two standard errors come out: the Taylor linearisation one (R ``survey``'s, ``DidEstimate.se``)
and the one the report shows, with the calibration residuals corrected for their leverage
(``SurveyDesign.with_leverage_correction``): in a district of a few hundred respondents the
linearisation falls short by about K/n for K calibration constraints (about 5 %).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..inference.reported import ReportedInference
from ..survey.design import SurveyDesign
from .two_wave import DidEstimate

__all__ = ["design_did", "DesignDidEstimate", "METHOD"]

METHOD = "design_leverage"  # the reported inference: design-based with leverage-corrected residuals


@dataclass(frozen=True)
class DesignDidEstimate(DidEstimate):
    """A survey DiD: ``se`` (and interval, p-value) from Taylor linearisation as R's ``survey``;
    ``reported`` the same with leverage-corrected calibration residuals, which the report shows.
    """

    reported: ReportedInference | None = None


def _wave_contrast(design: SurveyDesign, y: np.ndarray, group: str | None, district: str, comparison: str):
    """(estimate, variance, level rows) of district - comparison (or the district mean alone)."""
    design = design.with_columns(_y=y)
    if group is None:
        est = design.mean("_y")
        rows = [(district, est.estimate, est.se, est.n)]
        return est.estimate, est.se**2, rows
    table = design.mean("_y", by=group)
    names = {g: f"_y | {group}={g}" for g in (district, comparison)}
    missing = [g for g, name in names.items() if name not in table.table.index]
    if missing:
        raise ValueError(f"no respondents with an answer in {missing}")
    idx = [table.table.index.get_loc(names[g]) for g in (district, comparison)]
    contrast = np.array([1.0, -1.0])
    cov = table.covariance[np.ix_(idx, idx)]
    estimate = float(contrast @ table.estimate.to_numpy()[idx])
    rows = [(g, table[names[g]].estimate, table[names[g]].se, table[names[g]].n) for g in (district, comparison)]
    return estimate, float(contrast @ cov @ contrast), rows


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
    z = stats.norm.ppf(0.5 + confidence / 2)
    p_value = float(2 * stats.norm.sf(abs(estimate / se))) if se > 0 else float("nan")
    return se, estimate - z * se, estimate + z * se, p_value


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
        estimate, variance, rows = _wave_contrast(designs[wave], outcomes[wave], group, district, comparison)
        corrected = _wave_contrast(designs[wave].with_leverage_correction(), outcomes[wave], group, district,
                                   comparison)[1]
        parts.append((estimate, variance, corrected))
        levels += [{"group": g, "period": wave, "value": v, "se": se, "n_units": n, "n_persons": n,
                    "n_clusters": n} for g, v, se, n in rows]
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
        n_clusters=n_units, confidence=confidence, reported=reported,
    )
    return result, pd.DataFrame(levels)
