"""A survey question answered the same by everyone: design_did gives SE 0, no p-value and an
interval of the estimate alone (as two_wave_did does), and the verdict is "no detectable change"."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from evaluering.did.design_did import ZERO_SE, _se, design_did
from evaluering.evaluation import NO_CHANGE, balanced_designs, evaluate_district, verdict
from evaluering.indicators.prepare import COMPARISON
from evaluering.indicators.units import survey_outcome
from evaluering.survey.balance import BALANCE_GROUP

DISTRICT, KEY = "moerkhoej", "oplevet-sundhed"
WAVES = (2021, 2024)


@pytest.fixture(scope="module")
def balanced(prepared):
    return balanced_designs(prepared, DISTRICT, list(WAVES))


def _answer(designs, question: str, answer) -> dict:
    """The designs with every respondent's answer to ``question`` set to ``answer(wave, data)``."""
    return {w: d.with_columns(**{question: np.where(d.data[question].notna(), answer(w, d.data), np.nan)})
            for w, d in designs.items()}


def _did(prepared, params, designs):
    ind = params.indicator(KEY)
    code = params.district(DISTRICT).code
    outcomes = {w: survey_outcome(designs[w].data, ind, code) for w in WAVES}
    return design_did(designs, outcomes, indicator=KEY, district=DISTRICT, baseline=WAVES[0], followup=WAVES[1],
                      group=BALANCE_GROUP, comparison=COMPARISON)


def test_everyone_answers_the_same(prepared, params, balanced):
    question = params.indicator(KEY).computation.question
    est, levels = _did(prepared, params, _answer(balanced, question, lambda w, data: 5.0))
    assert (est.estimate, est.se, est.ci_low, est.ci_high) == (0.0, 0.0, 0.0, 0.0)
    assert np.isnan(est.p_value) and verdict(est.estimate, est.p_value, params.indicator(KEY)) == NO_CHANGE
    assert (levels["value"] == 1.0).all() and (levels["se"] == 0).all()


def test_constant_within_groups_but_changing_keeps_the_estimate(prepared, params, balanced):
    """District: everyone top-box at baseline, nobody at follow-up; comparison: everyone top-box in
    both waves. The DiD is -1 exactly, with no sampling variation to test it against."""
    question = params.indicator(KEY).computation.question

    def answer(wave, data):
        in_district = (data[BALANCE_GROUP] == DISTRICT).to_numpy()
        return np.where(in_district & (wave == WAVES[1]), 1.0, 5.0)

    est, _ = _did(prepared, params, _answer(balanced, question, answer))
    assert est.estimate == pytest.approx(-1.0, abs=1e-12)
    assert est.se == 0.0 and est.ci_low == est.ci_high == est.estimate and np.isnan(est.p_value)
    assert verdict(est.estimate, est.p_value, params.indicator(KEY)) == NO_CHANGE


def test_real_answers_still_give_an_ordinary_test(prepared, params, balanced):
    est, _ = _did(prepared, params, balanced)
    assert est.se > 1e-3 and 0 <= est.p_value <= 1
    assert est.ci_low < est.estimate < est.ci_high


def test_rounding_is_zero_but_one_different_answer_is_not(prepared, params, balanced):
    assert _se(-1e-30) == 0.0 and _se(1e-34) == 0.0  # what constant answers leave after rounding
    question = params.indicator(KEY).computation.question

    def answer(wave, data):  # one district respondent at follow-up answers differently
        one = np.flatnonzero((data[BALANCE_GROUP] == DISTRICT).to_numpy() & data[question].notna().to_numpy())[0]
        values = np.full(len(data), 5.0)
        values[one] = 1.0 if wave == WAVES[1] else 5.0
        return values

    est, levels = _did(prepared, params, _answer(balanced, question, answer))
    n = levels.loc[(levels["group"] == DISTRICT) & (levels["period"] == WAVES[1]), "n_units"].iloc[0]
    assert est.estimate < 0 and est.se > 1e3 * ZERO_SE and 0 <= est.p_value <= 1
    assert est.se == pytest.approx(1 / n, rel=1)  # about 1/n, the order ZERO_SE is set against


def test_report_of_a_constant_question_reads_no_change(prepared, params):
    from evaluering.report.tables import goal_table

    question = params.indicator(KEY).computation.question
    data = dataclasses.replace(prepared, designs=_answer(prepared.designs, question, lambda w, d: 5.0))
    evaluation = evaluate_district(data, DISTRICT, *WAVES)
    row = evaluation.table.set_index("key").loc[KEY]
    assert row["verdict"] == NO_CHANGE and pd.isna(row["p_value"]) and pd.isna(row["p_holm"])
    others = evaluation.table[evaluation.table["key"] != KEY]
    assert others["p_holm"].notna().all()
    goal = next(g.key for g in params.effect_goals for t in g.themes for i in t.indicators if i.key == KEY)
    html = goal_table(evaluation, params, goal)
    cells = next(r for r in html.split("<tr>") if params.indicator(KEY).name in r).split("<td")
    assert "Ingen påviselig ændring" in cells[8] and ">–<" in cells[6] and ">–<" in cells[7]


def test_clusters_are_the_primary_sampling_units_of_the_answering_respondents(prepared, params, balanced):
    est, levels = _did(prepared, params, balanced)
    assert est.n_clusters == levels["n_clusters"].sum()
    # the wave designs have no clusters: every respondent is a primary sampling unit of its own
    assert est.n_units == levels["n_units"].sum() == est.n_clusters
    assert all(balanced[w].stages.n_psu > levels.loc[levels["period"] == w, "n_clusters"].sum() for w in WAVES)


def test_clusters_count_the_sampling_units_with_an_answering_respondent():
    """With clustered designs (households of two), ``n_clusters`` counts the households that hold a
    respondent with an answer in the district or the comparison group, not every household drawn."""
    from evaluering.survey import SurveyDesign

    rng = np.random.default_rng(4)
    designs, outcomes = {}, {}
    for wave in WAVES:
        n = 200
        frame = pd.DataFrame({"household": np.repeat(np.arange(n // 2), 2), "w": 1.0,
                              "grp": np.where(np.arange(n) < 80, DISTRICT, COMPARISON)})
        frame.loc[frame["household"] >= 95, "grp"] = "other"  # households outside both groups
        y = rng.integers(0, 2, n).astype(float)
        y[::4] = np.nan  # the first member of every other household did not answer
        designs[wave], outcomes[wave] = SurveyDesign(frame, weights="w", cluster="household"), y
    est, levels = design_did(designs, outcomes, indicator="q", district=DISTRICT, baseline=WAVES[0],
                             followup=WAVES[1], group="grp", comparison=COMPARISON)
    # per wave: 40 district and 55 comparison households, each with an answering member
    assert levels["n_clusters"].tolist() == [40, 55, 40, 55]
    assert est.n_clusters == 190  # households: each was counted once per wave, although two answered in most
    assert est.n_units == levels["n_units"].sum() == 2 * (190 - 48)  # 48 of the 190 members did not answer
