"""Indicator 17 (education level of 30-64-year-olds) cannot change within a person: its people
estimate is "ikke relevant" with a reason, from the synthetic register through the report table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluering.did.panel import NO_WITHIN_VARIATION
from evaluering.evaluation.district import DistrictEvaluation, _people
from evaluering.evaluation.register_analyses import district_cohort
from evaluering.indicators.prepare import COMPARISON
from evaluering.report.scan import scan_html
from evaluering.report.tables import goal_table

DISTRICT = "moerkhoej"


@pytest.fixture(scope="module")
def people_rows(prepared, params, truth) -> dict[str, dict]:
    """The evaluation's people columns for the education level (17) and employment (2)."""
    baseline, followup = truth["baseline_wave"], max(params.survey.waves)
    cohort = district_cohort(prepared, DISTRICT, baseline, followup)
    return {key: _people(cohort, params.indicator(key), baseline) for key in ("ressourcestaerke", "arbejdsmarked")}


def test_education_level_has_no_people_estimate_but_employment_has(people_rows, prepared, truth):
    education = people_rows["ressourcestaerke"]
    assert pd.isna(education["people_estimate"]) and pd.isna(education["people_ci_low"])
    assert education["people_note"] == NO_WITHIN_VARIATION and education["people_n"] > 1000
    employment = people_rows["arbejdsmarked"]
    assert employment["people_note"] is None
    assert employment["people_ci_low"] < employment["people_estimate"] < employment["people_ci_high"]
    # the premise, checked on the register itself: nobody aged 30-64 at baseline changes education
    # (younger people do, so the check is not empty)
    baseline = truth["baseline_wave"]
    register = prepared.register[prepared.register["year"].between(baseline, 2024)]
    at_baseline = register[register["year"] == baseline]
    changes = register.groupby("person_id")["education"].nunique() > 1
    adults = at_baseline.loc[at_baseline["age"].between(30, 64), "person_id"]
    assert not changes[adults].any() and changes.any()


def _evaluation(params, people: dict[str, dict]) -> DistrictEvaluation:
    """A hand-built evaluation of Mørkhøj whose people columns come from ``people`` (else none)."""
    rows, levels = [], []
    for ind in params.indicators:
        visitors = ind.source == "visitors"
        none = {"people_estimate": None, "people_ci_low": None, "people_ci_high": None, "people_note": None}
        rows.append({
            "number": ind.number, "key": ind.key, "indicator": ind.name, "direction": ind.direction,
            "unit": ind.unit, "design": "did", "scale": "difference", "district_baseline": 0.40,
            "district_followup": 0.45, "comparison_baseline": 0.50, "comparison_followup": 0.50,
            "min_persons": None if visitors else 400, "estimate": 0.05, "se": 0.02, "ci_low": 0.01,
            "ci_high": 0.09, "inference": "cluster" if visitors else "placebo", "p_value": 0.01, "p_model": 0.01,
            "placebo_ci_low": 0.01, "placebo_ci_high": 0.09, "p_holm": 0.2, "p_bh": 0.1, "verdict": "better",
            "ambition": 0.42, "ambition_met": True, **people.get(ind.key, none),
        })
        for group, count in ((DISTRICT, 400), (COMPARISON, 5000)):
            levels += [{"group": group, "period": p, "indicator": ind.key, "n_persons": 0 if visitors else count}
                       for p in (2021, 2024)]
    return DistrictEvaluation(DISTRICT, "Mørkhøj", 2021, 2024, pd.DataFrame(rows), pd.DataFrame(levels),
                              (), {}, {})


def _goal_of(params, key: str) -> str:
    return next(g.key for g in params.effect_goals for t in g.themes for i in t.indicators if i.key == key)


def test_goal_table_reads_ikke_relevant_with_the_reason(people_rows, params):
    evaluation = _evaluation(params, people_rows)
    html = goal_table(evaluation, params, _goal_of(params, "ressourcestaerke"))
    row = next(r for r in html.split("<tr>") if params.indicator("ressourcestaerke").name in r)
    assert "ikke relevant*" in row and "±0,0" not in row
    assert f"* Samme beboere fulgt: {NO_WITHIN_VARIATION}." in html  # the footnote under the table
    assert [f.problem for f in scan_html(html, min_cell=params.disclosure.min_cell)] == []
    # employment's people estimate is shown as a number with its interval, not "ikke relevant"
    employment = goal_table(evaluation, params, _goal_of(params, "arbejdsmarked"))
    row = next(r for r in employment.split("<tr>") if params.indicator("arbejdsmarked").name in r)
    assert row.count("ikke relevant") == 0 and " til " in row
    assert np.isfinite(people_rows["arbejdsmarked"]["people_estimate"])
