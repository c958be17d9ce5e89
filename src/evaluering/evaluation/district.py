"""The three-year evaluation of one district: every indicator's levels, change and verdict.

Brings together, per indicator: the levels (district and comparison group, baseline and
follow-up wave); the place difference-in-differences (design-based against the balanced
comparison group for the survey, unit regressions otherwise); the inference the report shows
(one procedure per indicator class, each a ``ReportedInference``: design-based for the survey,
the studentised placebo test for register indicators, the composition null for social mix,
counter x year for visitor counts), whose interval, p-value and verdict always agree; the people
estimate for register indicators; Holm and Benjamini-Hochberg adjusted p-values across the
district's indicators; a verdict in the indicator's direction; and the ambition level.
"""

from __future__ import annotations

import pandas as pd
from tqdm import tqdm

from ..config import Indicator, InstitutionIsolation, SurveyOutsideView, SurveyShare, VisitorMean
from ..did.design_did import DesignDidEstimate, design_did
from ..did.two_wave import DidEstimate, two_wave_did
from ..heap import with_reused_memory
from ..indicators.attributes import disclosure_persons, with_attribute_counts
from ..indicators.availability import (
    counters_in_both,
    not_computed_reason,
    not_computed_row,
    outside_view_outcome,
    weighting_note,
)
from ..indicators.levels import weighted_levels
from ..indicators.prepare import COMPARISON, PreparedData
from ..indicators.units import release_units, survey_outcome, unit_frame, units_to_sum
from ..inference import benjamini_hochberg, holm
from ..inference.reported import ReportedInference
from ..inference.social_mix import social_mix_inference
from ..inference.visitors import visitor_inference
from ..survey.balance import BALANCE_GROUP, balance_comparison_noted
from ..survey.design import SurveyDesign
from .ambitions import ambition_met
from .designs import BALANCE_COVARIATES, estimation_designs
from .register_analyses import (
    PEOPLE_KINDS,
    REGISTER_KINDS,
    district_cohort,
    indicator_event_study,
    people_estimate,
    register_inference,
)
from .result import BETTER, NO_CHANGE, WORSE, DistrictEvaluation  # re-exported: the result and verdicts

__all__ = ["BETTER", "NO_CHANGE", "WORSE", "DistrictEvaluation", "estimate_indicator", "evaluate_district", "verdict"]


def verdict(estimate: float, p_value: float, indicator: Indicator, alpha: float = 0.05) -> str:
    """'better' / 'worse' when the change is significant at ``alpha``, in the indicator's direction."""
    if not p_value < alpha:
        return NO_CHANGE
    return BETTER if estimate * indicator.sign > 0 else WORSE


def _level(levels: pd.DataFrame, group: str, period: int, column: str = "value") -> float:
    hit = levels[(levels["group"] == group) & (levels["period"] == period)]
    return float(hit[column].iloc[0]) if len(hit) else float("nan")


def estimate_indicator(data: PreparedData, ind: Indicator, district: str, baseline: int, followup: int,
                       balanced: dict[int, SurveyDesign]) -> tuple[DidEstimate, pd.DataFrame, pd.DataFrame | None]:
    """DiD, levels and (for non-survey indicators) the unit frame of one indicator (a register
    indicator's compact frame, ``units_to_sum``).
    """
    if isinstance(ind.computation, (SurveyShare, SurveyOutsideView)):
        outside = isinstance(ind.computation, SurveyOutsideView)
        designs = estimation_designs(data, ind, {w: balanced[w] for w in (baseline, followup)})
        code = data.params.district(district).code
        # the outside view is the comparison group's: district residents' answers about districts do not count
        outcomes = {w: (outside_view_outcome(designs[w].data, ind, code).to_numpy() if outside
                        else survey_outcome(designs[w].data, ind, code)) for w in (baseline, followup)}
        est, levels = design_did(designs, outcomes, indicator=ind.key, district=district, baseline=baseline,
                                 followup=followup, group=None if outside else BALANCE_GROUP, comparison=COMPARISON)
        return est, levels, None
    units = units_to_sum(data, ind, [baseline, followup])
    units = units[units["group"].isin([district, COMPARISON])]
    if isinstance(ind.computation, VisitorMean):  # the counters the change rests on (as visitor_inference)
        units = counters_in_both(units, baseline, followup)
    scale = "log" if isinstance(ind.computation, VisitorMean) else "difference"
    est = two_wave_did(units, indicator=ind.key, district=district, baseline=baseline, followup=followup,
                       scale=scale)
    return est, weighted_levels(units), units


def _reported_inference(data: PreparedData, ind: Indicator, est: DidEstimate, units, district: str, baseline: int,
                        followup: int) -> ReportedInference:
    """The inference the report shows and the verdict uses (see :mod:`.register_analyses`)."""
    if isinstance(ind.computation, REGISTER_KINDS):
        return register_inference(data, ind, district, baseline, followup)
    if isinstance(ind.computation, InstitutionIsolation):
        return social_mix_inference(data, ind, district, baseline, followup)
    if isinstance(ind.computation, VisitorMean):
        return visitor_inference(data, ind, district, baseline, followup)
    # survey: design-based with leverage-corrected calibration residuals (design_did); est.se stays R's
    if isinstance(est, DesignDidEstimate) and est.reported is not None:
        return est.reported
    return ReportedInference("design", est.estimate, est.se, est.ci_low, est.ci_high, est.p_value, est.confidence)


def _people(cohort: pd.DataFrame, ind: Indicator, baseline: int) -> dict:
    """The people estimate's columns; ``people_note`` says (in Danish) why there is none, if so."""
    if not isinstance(ind.computation, PEOPLE_KINDS):
        return {"people_estimate": None, "people_ci_low": None, "people_ci_high": None, "people_n": None,
                "people_note": None}
    res = people_estimate(cohort, ind, baseline)
    return {"people_estimate": res.estimate, "people_ci_low": res.ci_low, "people_ci_high": res.ci_high,
            "people_n": res.n_units, "people_note": res.note}


@with_reused_memory
def evaluate_district(
    data: PreparedData, district: str, baseline: int, followup: int, *, progress: bool = False,
    details: bool = True,
) -> DistrictEvaluation:
    """Evaluate every indicator of ``district`` (a key) between two waves.

    ``details=False`` leaves out the people estimates and the event studies (what a simulation of
    the verdicts does not need); the place estimates, intervals and verdicts are the same.
    """
    params = data.params
    district_obj = params.district(district)
    balanced, balance_notes = {}, {}
    for wave in (baseline, followup):  # the comparison group balanced to the district, and what it gave up
        balanced[wave], balance_notes[wave] = balance_comparison_noted(
            data.designs[wave], "stratum", district_obj.key, COMPARISON, BALANCE_COVARIATES)
    cohort = district_cohort(data, district_obj.key, baseline, followup) if details else None
    rows, level_frames, estimates, event_studies = [], [], [], {}
    for ind in tqdm(params.indicators, desc=district_obj.name, disable=not progress, leave=False):
        try:
            row, levels, est = _indicator_row(data, ind, district_obj, baseline, followup, balanced, balance_notes,
                                              cohort, details, event_studies)
        finally:  # a register indicator's frames are large: free them before the next indicator's
            release_units(data, ind)
        rows.append(row)
        if levels is not None:
            level_frames.append(levels)
            estimates.append(est)
    table = pd.DataFrame(rows)
    # adjust for testing every indicator of the district at once
    # (an indicator without a test, e.g. a question everyone answered alike, is left out)
    tested = table["p_value"].notna().to_numpy()
    for column, adjust in (("p_holm", holm), ("p_bh", benjamini_hochberg)):
        table[column] = float("nan")
        table.loc[tested, column] = adjust(table.loc[tested, "p_value"].to_numpy()).adjusted
    return DistrictEvaluation(
        district=district_obj.key,
        district_name=district_obj.name,
        baseline=baseline,
        followup=followup,
        table=table,
        levels=pd.concat(level_frames, ignore_index=True),
        estimates=tuple(estimates),
        balanced=balanced,
        event_studies=event_studies,
    )


def _indicator_row(data: PreparedData, ind: Indicator, district_obj, baseline: int, followup: int,
                   balanced: dict, balance_notes: dict, cohort: pd.DataFrame | None, details: bool,
                   event_studies: dict) -> tuple[dict, pd.DataFrame | None, DidEstimate | None]:
    """One indicator's row of the evaluation table, its levels and estimate (None when it cannot be
    computed); with ``details`` its place event study is added to ``event_studies`` (register
    shares and means, computed or not).
    """
    params = data.params
    if details and isinstance(ind.computation, PEOPLE_KINDS):
        event_studies[ind.key] = indicator_event_study(data, ind, district_obj.key, baseline, followup)
    reason = not_computed_reason(data, ind, district_obj.key, baseline, followup)
    if reason is not None:  # no data for it in the district (e.g. no children in daycare): say why
        return not_computed_row(data, ind, district_obj.key, reason), None, None
    est, levels, units = estimate_indicator(data, ind, district_obj.key, baseline, followup, balanced)
    shown = _reported_inference(data, ind, est, units, district_obj.key, baseline, followup)
    if units is None and ind.source == "survey":  # survey levels: add persons with/without the answer
        levels = with_attribute_counts(levels, unit_frame(data, ind, [baseline, followup]))
    levels = levels.assign(indicator=ind.key)
    goal, theme = params.theme_of(ind.key)
    target = params.ambition(district_obj.key, ind.key)
    followup_level = _level(levels, district_obj.key, followup)
    row = {
        "number": ind.number,
        "key": ind.key,
        "indicator": ind.name,
        "effect_goal": goal.name,
        "theme": theme.name,
        "direction": ind.direction,
        "unit": ind.unit,
        "district_baseline": _level(levels, district_obj.key, baseline),
        "district_followup": followup_level,
        "comparison_baseline": _level(levels, COMPARISON, baseline),
        "comparison_followup": _level(levels, COMPARISON, followup),
        # the fewest persons behind a level, or with or without its attribute (disclosure control)
        "min_persons": disclosure_persons(levels).min() if ind.source != "visitors" else None,
        # what the report shows: estimate, interval and p-value of one procedure
        "estimate": shown.estimate,
        "se": shown.se,
        "ci_low": shown.ci_low,
        "ci_high": shown.ci_high,
        "p_value": shown.p_value,
        "inference": shown.method,
        "inference_note": shown.note,
        # the model's own (person- or design-based) standard error, for comparison
        "se_model": est.se,
        "p_model": est.p_value,
        "design": est.design,
        "scale": est.scale,
        "verdict": verdict(shown.estimate, shown.p_value, ind),
        **(_people(cohort, ind, baseline) if details else {}),
        "ambition": target,
        "ambition_met": ambition_met(followup_level, target, ind.sign),
        "not_computed": None,
        "weighting_note": weighting_note(data, ind, district_obj.key, [baseline, followup], balance_notes),
    }
    return row, levels, est
