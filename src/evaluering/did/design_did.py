"""Difference-in-differences of survey indicators from the calibrated wave designs.

Each survey wave is a new, independent sample. In each wave the district's weighted mean and the
comparison group's (balanced to the district) come from one ``SurveyDesign``, with their joint
covariance: variances use the calibration residuals of non-response adjustment, raking and
balancing. The DiD is (district - comparison) at follow-up minus the same at baseline; its
variance is the sum of the two waves' variances.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from ..survey.design import SurveyDesign
from .two_wave import DidEstimate

__all__ = ["design_did"]


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
    """
    parts, levels = [], []
    for wave in (baseline, followup):
        estimate, variance, rows = _wave_contrast(designs[wave], outcomes[wave], group, district, comparison)
        parts.append((estimate, variance))
        levels += [{"group": g, "period": wave, "value": v, "se": se, "n_units": n, "n_persons": n,
                    "n_clusters": n} for g, v, se, n in rows]
    estimate = parts[1][0] - parts[0][0]
    se = _se(parts[0][1] + parts[1][1])
    z = stats.norm.ppf(0.5 + confidence / 2)
    # constant answers (SE 0): no p-value and an interval of the estimate alone, as in two_wave_did
    p_value = float(2 * stats.norm.sf(abs(estimate / se))) if se > 0 else float("nan")
    n_units = int(sum(row["n_units"] for row in levels))
    result = DidEstimate(
        indicator=indicator, district=district, baseline=baseline, followup=followup, estimate=estimate, se=se,
        ci_low=estimate - z * se, ci_high=estimate + z * se, p_value=p_value,
        design="did" if group is not None else "pre_post", scale="difference", n_units=n_units,
        n_clusters=n_units, confidence=confidence,
    )
    return result, pd.DataFrame(levels)
