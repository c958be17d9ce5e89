"""Disclosure control counts persons with and without the attribute, not only the group (issue 13).

"1 convicted of 21" or "20 of 20 employed" point at a person as surely as a cell of one; the
minimum-cell rule is applied to the fewest of: the persons behind a level, those with its
attribute and those without. Hand-made frames, so each count can be checked by eye.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluering.did.event_study import EventStudyResult, PretrendTest
from evaluering.indicators.attributes import attribute_counts, disclosure_persons
from evaluering.indicators.levels import weighted_levels
from evaluering.report.disclosure import (
    TOO_UNCERTAIN,
    suppress_estimates,
    suppress_event_study,
    suppress_levels,
    unsafe_periods,
)


def _units(group: str, period: int, ones: int, zeros: int) -> pd.DataFrame:
    n = ones + zeros
    return pd.DataFrame({"group": group, "period": period, "y": [1.0] * ones + [0.0] * zeros, "weight": 1.0,
                         "cluster": [f"{group}{period}-{i}" for i in range(n)], "persons": 1, "area": "a"})


def test_a_share_counts_persons_with_and_without_the_attribute():
    units = pd.concat([_units("district", 2021, 1, 20), _units("district", 2024, 20, 0),
                       _units("rest", 2021, 300, 700)], ignore_index=True)
    levels = weighted_levels(units).set_index(["group", "period"])
    assert levels.loc[("district", 2021), ["n_persons", "n_with", "n_without"]].tolist() == [21, 1, 20]
    assert levels.loc[("district", 2024), ["n_with", "n_without"]].tolist() == [20, 0]
    rule = disclosure_persons(levels)
    assert rule.loc[("district", 2021)] == 1  # 1 convicted of 21: the rule sees 1, not 21
    assert rule.loc[("district", 2024)] == 0  # all 20 employed: the one group without is empty
    assert rule.loc[("rest", 2021)] == 300
    hidden = suppress_levels(levels.reset_index(), 5).set_index(["group", "period"])["suppressed"]
    assert hidden.to_dict() == {("district", 2021): True, ("district", 2024): True, ("rest", 2021): False}


def test_a_mean_is_judged_on_the_persons_behind_it():
    units = _units("district", 2021, 3, 4).assign(y=[0.2, 0.5, 0.1, 0.0, 1.0, 0.3, 0.4])
    counts = attribute_counts(units)
    assert counts[["n_with", "n_without"]].isna().all(axis=None)
    assert disclosure_persons(weighted_levels(units)).tolist() == [7]


def _row(**values) -> dict:
    row = {"min_persons": 500, "unit": "share", "scale": "difference", "estimate": 0.02, "se": 0.01,
           "ci_low": 0.0, "ci_high": 0.04, "p_value": 0.04, "district_baseline": 0.4, "district_followup": 0.42,
           "comparison_baseline": 0.5, "comparison_followup": 0.5, "verdict": "better", "ambition_met": True}
    return {**row, **values}


def test_an_interval_beyond_100_percentage_points_is_not_a_result():
    table = pd.DataFrame([_row(), _row(ci_low=-5.6e20, ci_high=5.6e20, p_value=0.9, verdict="no_change"),
                          _row(ci_low=-np.inf, ci_high=np.inf), _row(unit="number", ci_low=-3.0, ci_high=3.0)])
    out = suppress_estimates(table, 5)
    assert out["suppressed"].tolist() == [False, True, True, False]
    assert out.loc[1, "suppressed_reason"] == TOO_UNCERTAIN
    assert out.loc[1, ["estimate", "ci_low", "ci_high", "p_value"]].isna().all()
    assert out.loc[1, "district_baseline"] == 0.4  # the levels rest on enough persons and stay


def _event_study(years: list[int], reference: int) -> EventStudyResult:
    coefficients = pd.DataFrame({"year": years, "estimate": 0.01, "se": 0.01, "ci_low": -0.01, "ci_high": 0.03,
                                 "p_value": 0.3, "reference": [y == reference for y in years]},
                                index=pd.Index([y - reference - 1 for y in years], name="event_time"))
    return EventStudyResult("y", reference + 1, reference - reference - 1, coefficients, np.eye(len(years) - 1),
                            PretrendTest(0.0, 0, float("nan")), 10, 5, 100, 10)


def test_an_event_study_loses_the_points_of_hidden_years_and_all_of_them_with_the_reference_year():
    levels = pd.concat([_units("district", 2019, 1, 30), _units("district", 2020, 10, 10),
                        _units("district", 2021, 10, 10)], ignore_index=True)
    hidden = unsafe_periods(weighted_levels(levels), "district", 5)
    assert hidden == {2019}
    result = _event_study([2019, 2020, 2021], reference=2021)
    shown = suppress_event_study(result, hidden)
    assert shown.coefficients["year"].tolist() == [2020, 2021]
    assert suppress_event_study(result, {2021}) is None
    assert suppress_event_study(result, set()) is result


@pytest.mark.parametrize("ones, zeros, shown", [(5, 5, True), (4, 30, False), (30, 4, False), (0, 40, False)])
def test_the_rule_at_its_edges(ones, zeros, shown):
    levels = weighted_levels(_units("district", 2024, ones, zeros))
    assert bool(~suppress_levels(levels, 5)["suppressed"].iloc[0]) == shown


def _criteria(rows: list[tuple]) -> pd.DataFrame:
    """A criteria table: (area, residents, persons 18-64 over two years, share outside work/education)."""
    frame = pd.DataFrame(rows, columns=["area", "residents", "persons_18_64", "outside_work_education_share"])
    return frame.assign(years_averaged="2023, 2024", persons_15_plus=frame["persons_18_64"], conviction_share=0.5,
                        persons_30_59=frame["residents"], primary_only_share=0.5, persons_income=frame["residents"])


def _monitoring_report(min_cell: int):
    from types import SimpleNamespace

    from evaluering.report.monitoring import MonitoringReport

    areas = pd.DataFrame({"area_id": ["a1", "a2", "a3", "b1", "b2"], "area_name": ["a1", "a2", "a3", "b1", "b2"],
                          "district": ["A", "A", "A", "B", "B"]})
    report = object.__new__(MonitoringReport)
    object.__setattr__(report, "params", SimpleNamespace(disclosure=SimpleNamespace(min_cell=min_cell)))
    object.__setattr__(report, "data", SimpleNamespace(dataset=SimpleNamespace(areas=areas)))
    object.__setattr__(report, "_computed", {})
    return report


def test_listed_areas_that_give_away_the_rest_of_their_district_are_hidden():
    report = _monitoring_report(5)
    # A: 40 residents; a1 (15) and a2 (22) listed leave a3 = 3 residents; B: both areas listed, nothing left
    districts = _criteria([("A", 40, 60, 0.5), ("B", 50, 80, 0.5)])
    listed = _criteria([("a1", 15, 24, 0.5), ("a2", 22, 30, 0.5), ("b1", 20, 30, 0.5), ("b2", 30, 50, 0.5)])
    assert report._recoverable_districts(districts, listed) == {"A"}
    # the rest of A is large enough, but among its 16 person-years only 2 are outside work: 1 person
    districts = _criteria([("A", 60, 70, 0.4)])
    listed = _criteria([("a1", 15, 24, 0.5), ("a2", 22, 30, 0.5)])
    assert report._recoverable_districts(districts, listed) == {"A"}
    listed = _criteria([("a1", 15, 24, 0.25), ("a2", 22, 30, 0.25)])  # rest: 14.5 of 16 -> too few without
    assert report._recoverable_districts(districts, listed) == {"A"}
    districts = _criteria([("A", 100, 120, 0.5)])
    assert report._recoverable_districts(districts, _criteria([("a1", 30, 40, 0.5)])) == set()


ALT = {"alt": "Linjefigur: udviklingen fra 2015 til 2024."}


@pytest.mark.parametrize("metadata, problem", [
    ({"image/png": ALT}, "figure without a record"),
    ({"image/png": {"evaluering": {"persons": 3}, **ALT}}, "fewer than 5 persons"),
    ({"image/png": {"evaluering": {"persons": "many"}, **ALT}}, "unreadable record"),
    ({"image/png": {"evaluering": {"persons": 5}, **ALT}}, None),
    ({"image/png": {"evaluering": {"persons": "-"}, **ALT}}, None),
    ({"image/png": {"evaluering": {"persons": 5}}}, "without a text that says what it shows"),
    ({"image/png": {"evaluering": {"persons": 5}, "alt": "  "}}, "without a text that says what it shows"),
])
def test_the_scan_checks_the_record_and_the_text_of_every_figure(metadata, problem):
    from evaluering.report.scan import figure_problems

    output = {"output_type": "display_data", "data": {"image/png": "iVBORw0KGgo="}, "metadata": metadata}
    found = figure_problems(output, 5)
    assert (found == []) if problem is None else (len(found) == 1 and problem in found[0])


def test_the_scan_reads_the_alt_text_as_published_text():
    import nbformat

    from evaluering.report.scan import scan_notebook

    output = {"output_type": "display_data", "data": {"image/png": "iVBORw0KGgo="},
              "metadata": {"image/png": {"evaluering": {"persons": 50}, "alt": "Mest fremgang: person P000123."}}}
    nb = nbformat.from_dict({"cells": [{"cell_type": "code", "source": "", "outputs": [output], "metadata": {}}]})
    assert scan_notebook(nb, min_cell=5, identifiers={"P000999"}) == []
    findings = scan_notebook(nb, min_cell=5, identifiers={"P000123"})
    assert len(findings) == 1 and "identifier" in findings[0].problem


def test_a_figure_shown_in_ipython_carries_its_record():
    import matplotlib.pyplot as plt
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.core.pylabtools import select_figure_formats

    from evaluering.report.figure_record import describe, install, record_persons

    shell = InteractiveShell.instance()
    try:
        select_figure_formats(shell, {"png"})  # what %matplotlib inline does
        install()
        fig, _ = plt.subplots()
        _, metadata = shell.display_formatter.format(describe(record_persons(fig, 12), "Tom  figur\n til test."))
        plt.close(fig)
    finally:
        InteractiveShell.clear_instance()  # no IPython shell for the tests that follow
    assert metadata["image/png"]["evaluering"]["persons"] == 12
    assert metadata["image/png"]["alt"] == "Tom figur til test."
