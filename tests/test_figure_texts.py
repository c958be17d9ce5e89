"""The figures' alternative texts say the numbers the figures draw.

A reader with a screen reader gets a figure's message from its alt text only. Each test plants a
small input whose numbers are known and checks the sentence a reader hears: the values, periods,
counts and verdict groups, in the reports' Danish formats (decimal comma, "pct.-point", the minus
sign). Values hidden by disclosure control must not be read out.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd

from evaluering.report.figure_texts import (
    decomposition_text,
    estimates_text,
    event_study_text,
    love_plot_text,
    monitoring_grid_text,
    overview_text,
    threshold_text,
    trend_text,
)

EMPLOYMENT = SimpleNamespace(key="arbejdsmarked", number=2, name="Beskæftigelse", unit="share")
ABSENCE = SimpleNamespace(key="skolefravaer", number=11, name="Skolefravær", unit="mean")
LABELS = {"d": "Mørkhøj", "comparison": "Resten af kommunen"}


def _levels(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["indicator", "group", "period", "value", "suppressed"])


def test_the_trend_text_reads_each_groups_first_and_last_drawn_level():
    levels = _levels([
        ("arbejdsmarked", "d", 2015, 0.410, False), ("arbejdsmarked", "d", 2020, 0.430, False),
        ("arbejdsmarked", "d", 2024, 0.452, False),
        ("arbejdsmarked", "comparison", 2015, 0.700, False), ("arbejdsmarked", "comparison", 2024, 0.6996, False),
        ("skolefravaer", "d", 2015, 7.5, False), ("skolefravaer", "d", 2024, 6.25, False),
        # hidden cells are not drawn, so not read out: the comparison's 2024 absence is suppressed
        ("skolefravaer", "comparison", 2015, 5.0, False), ("skolefravaer", "comparison", 2024, 99.0, True),
    ])
    text = trend_text(levels, [EMPLOYMENT, ABSENCE], "d", LABELS)
    assert text.startswith("Linjefigur: udviklingen fra 2015 til 2024 for Mørkhøj og Resten af kommunen")
    assert ("2. Beskæftigelse: Mørkhøj steg fra 41,0 % i 2015 til 45,2 % i 2024 og "
            "Resten af kommunen var uændret fra 70,0 % i 2015 til 70,0 % i 2024.") in text  # equal as shown
    assert "11. Skolefravær: Mørkhøj faldt fra 7,50 i 2015 til 6,25 i 2024 og Resten af kommunen 5,00 i 2015." in text
    assert "99" not in text


def test_the_trend_text_says_when_a_group_is_not_shown():
    levels = _levels([("arbejdsmarked", "d", 2024, np.nan, True), ("arbejdsmarked", "comparison", 2024, 0.7, False)])
    text = trend_text(levels, [EMPLOYMENT], "d", LABELS)
    assert "Mørkhøj vises ikke (for få personer) og Resten af kommunen 70,0 % i 2024." in text


def _table() -> pd.DataFrame:
    return pd.DataFrame({
        "number": [3, 1, 2, 4, 5],
        "indicator": ["Tryghed", "Uddannelse", "Beskæftigelse", "Skolefravær", "Kriminalitet"],
        "unit": ["share", "share", "share", "mean", "share"],
        "estimate": [0.041, -0.012, 0.0, 0.5, np.nan],  # a mean and a suppressed share are not drawn
        "verdict": ["better", "worse", "no_change", "better", "no_change"],
    })


def test_the_estimates_text_lists_the_drawn_shares_by_verdict():
    text = estimates_text(_table())
    assert text == ("Figuren viser for 3 andelsindikatorer ændringen i bydelen minus ændringen i "
                    "sammenligningsgruppen i procentpoint med 95 %-konfidensinterval. "
                    "Bedre: 3. Tryghed (+4,1 pct.-point). "
                    "Ingen påviselig ændring: 2. Beskæftigelse (±0,0 pct.-point). "
                    "Dårligere: 1. Uddannelse (−1,2 pct.-point).")
    assert estimates_text(_table().assign(estimate=np.nan)).startswith("Figuren viser ingen estimater")
    one = _table().assign(estimate=[0.041, np.nan, np.nan, np.nan, np.nan])
    assert estimates_text(one).startswith("Figuren viser for 1 andelsindikator ændringen")  # singular


def test_the_overview_text_counts_each_districts_verdicts():
    a = _table().set_index("indicator", drop=False)
    b = a.assign(verdict=["worse", "worse", "better", "better", "better"])
    keys = ["Tryghed", "Uddannelse", "Beskæftigelse", "Kriminalitet"]  # Kriminalitet is suppressed (NaN)
    text = overview_text(["Høje Gladsaxe", "Mørkhøj"], [a, b], keys)
    assert "for 4 andelsindikatorer" in text
    assert "Høje Gladsaxe: 1 bedre, 1 ingen påviselig ændring og 1 dårligere." in text
    assert "Mørkhøj: 1 bedre, 0 ingen påviselig ændring og 2 dårligere." in text


def test_the_love_plot_text_counts_the_characteristics_outside_the_threshold():
    table = pd.DataFrame({"smd_before": [0.30, -0.25, 0.05, -0.12], "smd_after": [0.02, -0.01, 0.0, 0.11]},
                         index=["Alder 65+", "Ikke-vestlig", "Kvinde", "Grundskole"])
    text = love_plot_text(table, 0.1)
    assert "for 4 baggrundskendetegn" in text
    assert "Før vægtningen ligger 3 uden for ±0,1 (størst: Alder 65+, Ikke-vestlig og Grundskole)" in text
    assert "efter vægtningen ligger 1 uden for ±0,1 (størst: Grundskole)." in text
    assert "ingen uden for ±0,1" in love_plot_text(table.assign(smd_after=0.0), 0.1)


def test_the_event_study_text_reads_the_pretrend_test_and_the_latest_year():
    coefficients = pd.DataFrame({"year": [2018, 2019, 2020, 2021, 2022], "reference": [False, False, True, False,
                                                                                        False]})
    result = SimpleNamespace(lags=pd.DataFrame({"year": [2021, 2022], "estimate": [0.004, -0.021]}),
                             pretrend=SimpleNamespace(p_value=0.034), coefficients=coefficients, event_year=2021)
    text = event_study_text({"arbejdsmarked": result}, [EMPLOYMENT, ABSENCE])
    assert text == ("Figuren viser for 1 registerindikator forskellen mellem bydelen og resten af kommunen år for "
                    "år i procentpoint, målt i forhold til 2020, med 95 %-konfidensinterval; strategien starter i "
                    "2021. 2. Beskæftigelse: test for ens udvikling før start p = 0,034; 2022: −2,1 pct.-point.")
    assert event_study_text({}, [EMPLOYMENT]).startswith("Ingen år-for-år-figur")


def test_the_monitoring_text_counts_the_cells_two_standard_errors_out():
    z = pd.DataFrame([[2.5, -0.3, np.nan], [-2.0, 1.99, 4.0]], index=["A01", "A02"], columns=["x", "y", "w"])
    text = monitoring_grid_text(z, 2019, 2024)
    assert "Farvekort over 2 småområder (rækker) og 3 indikatorer (kolonner)" in text
    assert "fra 2019 til 2024" in text
    assert "5 felter er vist; 2 ligger mindst 2 standardfejl bedre og 1 mindst 2 standardfejl dårligere." in text
    single = monitoring_grid_text(pd.DataFrame([[0.5]], index=["A01"], columns=["x"]), 2019, 2024)
    assert "over 1 småområde (rækker) og 1 indikator (kolonner)" in single and "1 felt er vist" in single


def test_the_threshold_text_reads_the_threshold_its_interval_and_the_slope_above():
    result = SimpleNamespace(gamma_hat=0.253, gamma_ci=(0.201, 0.304), slope_above=-0.35)
    text = threshold_text(result, 83)
    assert "Punktdiagram over 83 småområder" in text
    assert "Tærsklen ligger ved 25,3 % (95 %-konfidensinterval 20,1 % til 30,4 %)" in text
    assert "10 procentpoint flere fattige sammen med −3,5 pct.-point i beskæftigelse." in text


def test_the_decomposition_text_reads_each_districts_parts():
    results = [SimpleNamespace(gap=-0.152, composition=-0.101, area=-0.051)]
    text = decomposition_text(results, ["Værebro Park"])
    assert text.endswith("Værebro Park: forskel −15,2 pct.-point, heraf sammensætning −10,1 pct.-point og "
                         "områdeeffekt −5,1 pct.-point.")
    assert decomposition_text([], []).startswith("Søjlediagrammet viser ingen bydele")
