"""The district report's robustness checks: synthetic DiD on the small areas and the breakdown value
of the pre-trends (evaluation/robustness.py, report/robustness_section.py).

The estimators themselves are tested against their references (test_synthetic_did.py against
synthdid, test_honest_did.py against HonestDiD); here: that the report feeds them the right panel
(the numbers of a grouping by area text) and event study, that the breakdown value is where the
robust interval first contains zero and is printed rounded down ("under 0,1" below a tenth), that
the printed SDID intervals of a district of three areas (placebo standard errors) cover a planted
effect about as often as they should in drawn worlds, and that the rendered report shows both
checks for its register indicators.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pandas as pd
import pytest

from evaluering.did import honest_did
from evaluering.did.event_study import EventStudyResult, PretrendTest
from evaluering.evaluation.robustness import (
    NARROW_BELOW,
    PLACEBO_BELOW,
    TrendSensitivity,
    area_panel,
    se_method_for,
    synthetic_check,
    trend_sensitivity,
)
from evaluering.indicators import unit_frame
from evaluering.indicators.prepare import COMPARISON
from evaluering.report.robustness_section import breakdown_sentence, robustness_html
from worlds.area_factor import DISTRICT, INDICATOR, area_world


def _event_study(leads: list[float], lags: list[float], se: float, event_year: int = 2022) -> EventStudyResult:
    """An event study with independent coefficients: leads before the reference year, lags from the start."""
    times = [*range(-len(leads) - 1, -1), -1, *range(len(lags))]
    estimates = [*leads, 0.0, *lags]
    table = pd.DataFrame({"year": [event_year + t for t in times], "estimate": estimates,
                          "se": [se] * len(times), "reference": [t == -1 for t in times]},
                         index=pd.Index(times, name="event_time"))
    table.loc[table["reference"], "se"] = 0.0
    table["ci_low"], table["ci_high"] = table["estimate"] - 1.96 * table["se"], table["estimate"] + 1.96 * table["se"]
    table["p_value"] = np.nan
    k = len(leads) + len(lags)
    return EventStudyResult("y", event_year, event_year - 1, table, np.eye(k) * se**2,
                            PretrendTest(0.0, len(leads), 1.0), 100, 10, 1000, 100)


def test_the_breakdown_value_is_where_the_robust_interval_first_contains_zero():
    result = _event_study(leads=[0.004, -0.006, 0.005, -0.003], lags=[0.02, 0.03, 0.05], se=0.004)
    sensitivity = trend_sensitivity(result, 2024)
    assert sensitivity is not None and sensitivity.year == 2024 and sensitivity.n_pre == 4
    low, high = sensitivity.original
    assert low == pytest.approx(0.05 - 1.959964 * 0.004, abs=1e-6) and high == pytest.approx(0.05 + 1.959964 * 0.004,
                                                                                             abs=1e-6)
    b = sensitivity.breakdown
    assert 0 < b < np.inf
    table = result.coefficients[~result.coefficients["reference"]].sort_index()
    intervals = honest_did(table["estimate"].to_numpy(), result.covariance, 4, 3, m=[b, b + 0.05],
                           l_vec=[0, 0, 1])
    excludes = (intervals["lb"] > 0) | (intervals["ub"] < 0)
    assert excludes.tolist() == [True, False]
    shown = f"{math.floor(10 * b) / 10:.1f}".replace(".", ",")  # rounded down: verified to hold there
    assert f"mere end {shown} gange" in breakdown_sentence("1. Test", sensitivity)


def _sensitivity(breakdown: float) -> TrendSensitivity:
    return TrendSensitivity("y", 2024, pd.DataFrame({"m": [0.5], "lb": [0.01], "ub": [0.03]}), (0.01, 0.03),
                            breakdown, 4)


@pytest.mark.parametrize(("breakdown", "cell"), [(0.0, "under 0,1"), (0.03, "under 0,1"), (0.0999, "under 0,1"),
                                                 (0.1, "0,1"), (1.46, "1,4"), (2.0, "2,0")])
def test_a_breakdown_value_is_printed_rounded_down_and_below_a_tenth_as_under_0_1(breakdown, cell):
    sensitivity = _sensitivity(breakdown)
    table = pd.DataFrame({"key": ["y"], "number": [1], "indicator": ["Test"], "min_persons": [100], "unit": ["share"]})
    html = robustness_html({"y": (None, sensitivity)}, table, {}, 5)
    cells = re.findall(r"<td[^>]*>(.*?)</td>", html, re.S)
    assert cells[-1] == cell
    sentence = breakdown_sentence("1. Test", sensitivity)
    assert "0,0" not in sentence and f"{cell} gange" in sentence
    if cell.startswith("under"):
        assert "kun statistisk sikker, hvis afvigelsen" in sentence
    else:
        assert f"medmindre afvigelsen fra ens udvikling efter start er mere end {cell} gange" in sentence


def test_no_breakdown_without_a_significant_change_and_no_sensitivity_without_pre_periods():
    flat = trend_sensitivity(_event_study(leads=[0.01, -0.01, 0.0], lags=[0.0, 0.001], se=0.01), 2023)
    assert flat is not None and np.isnan(flat.breakdown)
    assert "ingen konklusion at teste" in breakdown_sentence("1. Test", flat)
    assert trend_sensitivity(_event_study(leads=[0.01], lags=[0.05], se=0.01), 2022) is None  # one pre-period
    assert trend_sensitivity(_event_study(leads=[0.0, 0.0, 0.0], lags=[0.05], se=0.01), 2024) is None  # no 2024


def test_the_area_panel_is_balanced_and_marks_only_the_district_after_the_start(prepared):
    data = prepared
    indicator = next(i for i in data.params.indicators if i.key == "arbejdsmarked")
    panel = area_panel(data, indicator, "moerkhoej", 2022, 2024)
    areas = data.dataset.areas.set_index("area_id")["district"]
    district_of = panel["area"].map(areas)
    assert set(district_of.dropna()) == {"moerkhoej"}  # no other district's areas in the comparison
    assert panel.groupby("area")["year"].nunique().nunique() == 1  # balanced
    assert panel["year"].max() == 2024
    in_district = district_of.eq("moerkhoej").fillna(False).to_numpy(bool)
    expected = in_district & (panel["year"] >= 2022).to_numpy(bool)
    assert (panel["treated"].to_numpy() == expected).all()
    assert in_district.any() and (~in_district).sum() > 20
    assert panel["y"].between(0, 1).all()


def test_a_district_report_shows_the_robustness_of_its_register_indicators(rendered_reports):
    code, out = rendered_reports
    assert code == 0
    html = (out / "2024" / "moerkhoej.html").read_text(encoding="utf-8")
    assert "Holder resultatet?" in html and "Syntetisk DiD" in html and "Konklusionen holder op til M̄" in html
    section = html[html.index("Holder resultatet?"):]
    table = section[:section.index("</table>")]
    rows = re.findall(r"<tr>(.*?)</tr>", table, re.S)[1:]
    assert len(rows) >= 4  # the register indicators (every one of them in Gladsaxe's synthetic data)
    cells = [re.findall(r"<td[^>]*>(.*?)</td>", row, re.S) for row in rows]
    assert all("pct.-point" in c[1] and "pct.-point" in c[2] and "Område" in c[3] for c in cells)
    breakdowns = [c[4] for c in cells]
    assert all(re.fullmatch(r"\d+,\d|under 0,1|ikke statistisk sikker|ikke beregnet|over alle prøvede værdier", b)
               for b in breakdowns)  # one decimal, Danish comma; never "0,0"
    assert any(b != "ikke beregnet" for b in breakdowns)
    # Gladsaxe's districts have 3-5 small areas: placebo intervals, and the note says why
    assert "placebo-metoden" in section and f"færre end {PLACEBO_BELOW} småområder" in section
    # the columns weigh areas equally, the table and the figure residents: the note says why they may differ
    assert "tæller hvert småområde lige meget" in section and "hver beboer tæller lige meget" in section


def test_the_area_panel_has_the_numbers_of_a_grouping_by_the_area_text(prepared):
    """The integer-code grouping against the plain one: same cells, order and sums, bit for bit."""
    for key in ("arbejdsmarked", "skolefravaer"):  # a share and a mean
        indicator = prepared.params.indicator(key)
        units = unit_frame(prepared, indicator)
        units = units[(units["period"] <= 2024) & units["group"].isin(["moerkhoej", COMPARISON])]
        sums = pd.DataFrame({"area": units["area"].astype(str).to_numpy(), "year": units["period"].to_numpy(),
                             "in_district": (units["group"] == "moerkhoej").to_numpy(), "w": units["weight"],
                             "wy": units["weight"] * units["y"]})
        cells = sums.groupby(["area", "year", "in_district"], sort=True)[["w", "wy"]].sum()
        expected = (cells["wy"] / cells["w"]).rename("y").reset_index()
        expected = expected[expected.groupby("area")["year"].transform("size") == expected["year"].nunique()]
        expected = expected.assign(treated=(expected["in_district"] & (expected["year"] >= 2022)).astype(int))
        panel = area_panel(prepared, indicator, "moerkhoej", 2022, 2024)
        pd.testing.assert_frame_equal(panel, expected.drop(columns="in_district").reset_index(drop=True),
                                      check_exact=True)


def test_the_area_panel_of_a_drawn_world_is_its_area_means():
    world = area_world(7, n_district=3, n_other=5)
    panel = area_panel(world.data, INDICATOR, DISTRICT, world.start, world.last_year)
    means = world.means.sort_values(["area", "year"], ignore_index=True)
    assert panel["area"].tolist() == means["area"].tolist() and panel["year"].tolist() == means["year"].tolist()
    np.testing.assert_allclose(panel["y"], means["y"], rtol=0, atol=1e-15)
    assert (panel["treated"] == (means["in_district"] & (means["year"] >= world.start))).all()


def test_the_standard_error_is_the_placebo_for_few_district_areas_and_the_jackknife_for_many():
    assert se_method_for(1, 30) == se_method_for(3, 70) == se_method_for(PLACEBO_BELOW - 1, PLACEBO_BELOW) == "placebo"
    assert se_method_for(3, 3) is None  # the placebo needs more comparison areas than district areas
    assert se_method_for(PLACEBO_BELOW, 5) == se_method_for(40, 300) == "jackknife"


# --- the printed intervals in drawn worlds ---------------------------------------------------------------
# Worlds of tests/worlds/area_factor.py, not of the project's generator: 3 district areas and 30 others,
# 10 years before the start and 3 after, every area loading on a trending factor with its own loading.
# The district's areas are drawn like the others (what the placebo standard error assumes: placebo
# districts from the comparison areas vary as the district would without the strategy), so both printed
# intervals should cover the planted effect in about 95 % of the worlds (the SDID's do in ~90 %, see
# below). The SDID's standard deviation there is ~0.0085, so the planted effect (0.05) is ~6 of them: its
# printed interval must lie above 0 in every world (a miss has chance < 0.01 % a world; the plain DiD,
# ~0.018, has too little power for that).
# Cost: a world takes under a second (the SDID's weights; the placebo refits are solved together, so their
# number matters little), hence 8 worlds; SIM_REPLICATIONS placebo draws give the standard error
# within ~15 % (1/sqrt(2 B)), which the chi-square bounds below allow for. In 400 such worlds with 50 draws
# the placebo intervals covered in 90 % (SDID; mean z^2 1.4) and 94 % (DiD; 1.1), the jackknife's in 89 %
# and 85 % (see evaluation/robustness.py, se_method_for).
SIM_WORLDS = 8
SIM_REPLICATIONS = 25
PLANTED = 0.05
PRINTED = re.compile(r"([+−±])([\d.]+,\d) pct\.-point \(([+−±])([\d.]+,\d) til ([+−±])([\d.]+,\d)\)")


def _printed(cell: str) -> tuple[float, float, float]:
    """'+3,1 pct.-point (+1,2 til +5,0)' -> (3.1, 1.2, 5.0)."""
    match = PRINTED.fullmatch(cell)
    assert match, cell
    signs, numbers = match.groups()[0::2], match.groups()[1::2]
    return tuple((-1.0 if s == "−" else 1.0) * float(x.replace(".", "").replace(",", "."))
                 for s, x in zip(signs, numbers, strict=True))


@pytest.fixture(scope="module")
def drawn_checks() -> list[tuple[float, object, list[str], str]]:
    """Per drawn world: the planted effect, synthetic_check's result (the report's path from the register
    on), the printed cells of its row and the rendered section."""
    table = pd.DataFrame({"key": [INDICATOR.key], "number": [1], "indicator": [INDICATOR.name],
                          "min_persons": [100], "unit": [INDICATOR.unit]})
    drawn = []
    for seed in range(SIM_WORLDS):
        world = area_world(seed, tau=PLANTED)
        check = synthetic_check(world.data, INDICATOR, DISTRICT, world.start, world.last_year,
                                replications=SIM_REPLICATIONS)
        html = robustness_html({INDICATOR.key: (check, None)}, table, {}, 5)
        cells = re.findall(r"<td[^>]*>(.*?)</td>", html, re.S)
        drawn.append((world.tau, check, cells, html))
    return drawn


def test_a_district_of_three_areas_gets_placebo_intervals_and_the_report_says_why(drawn_checks):
    for _, check, _, html in drawn_checks:
        assert (check.n_district_areas, check.n_comparison_areas) == (3, 30)
        assert check.sdid.se_method == check.did.se_method == "placebo"
        assert "placebo-metoden" in html and f"færre end {PLACEBO_BELOW} småområder" in html
        assert "jackknife-metoden" not in html
        # the SDID's placebo interval covered ~90 % with 3 areas (se_method_for): the report says it is narrow
        assert "ca. 90 % af tilfældene" in html and "lidt for smalt" in html


def test_a_district_of_six_areas_gets_placebo_intervals_without_the_narrowness_note():
    world = area_world(3, n_district=6, n_other=30)
    check = synthetic_check(world.data, INDICATOR, DISTRICT, world.start, world.last_year, replications=10)
    assert check.sdid.se_method == "placebo" and check.n_district_areas == 6 >= NARROW_BELOW
    table = pd.DataFrame({"key": [INDICATOR.key], "number": [1], "indicator": [INDICATOR.name],
                          "min_persons": [100], "unit": [INDICATOR.unit]})
    html = robustness_html({INDICATOR.key: (check, None)}, table, {}, 5)
    assert "placebo-metoden" in html and "lidt for smalt" not in html


@pytest.mark.parametrize(("column", "method"), [(1, "did"), (2, "sdid")])
def test_the_printed_intervals_cover_the_planted_effect_about_as_often_as_they_should(drawn_checks, column, method):
    from scipy.stats import chi2

    z, covered = [], 0
    for tau, check, cells, _ in drawn_checks:
        estimate, low, high = _printed(cells[column])
        fit = getattr(check, method)
        assert (estimate, low, high) == pytest.approx((100 * fit.estimate, 100 * fit.ci_low, 100 * fit.ci_high),
                                                      abs=0.05 + 1e-9)  # the cell shows what was computed
        if method == "sdid":
            assert low > 0  # the verdict: a rise, as planted
        covered += low - 0.05 <= 100 * tau <= high + 0.05
        z.append((fit.estimate - tau) / fit.se)
    # nominal 95 % coverage: three or more misses in 8 worlds has chance 0.6 % (4 % at the SDID's 90 % here)
    assert covered >= SIM_WORLDS - 2
    # calibrated standard errors: sum z^2 ~ chi2(8), 0.1 % on either side (the se's noise from 25 draws
    # makes z a little heavier-tailed than normal); a standard error half the true one gives ~4 times as much
    assert chi2.ppf(0.001, SIM_WORLDS) <= float(np.sum(np.square(z))) <= chi2.ppf(0.999, SIM_WORLDS)


def test_the_sdid_is_closer_to_the_planted_effect_than_the_plain_did_when_areas_follow_different_trends(
        drawn_checks):
    sdid_errors = [abs(check.sdid.estimate - tau) for tau, check, _, _ in drawn_checks]
    did_errors = [abs(check.did.estimate - tau) for tau, check, _, _ in drawn_checks]
    assert np.mean(sdid_errors) < 0.6 * np.mean(did_errors)
