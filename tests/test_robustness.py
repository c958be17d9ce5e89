"""The district report's robustness checks: synthetic DiD on the small areas and the breakdown value
of the pre-trends (evaluation/robustness.py, report/robustness_section.py).

The estimators themselves are tested against their references (test_synthetic_did.py against
synthdid, test_honest_did.py against HonestDiD); here: that the report feeds them the right panel
and event study, that the breakdown value is where the robust interval first contains zero, and
that the rendered report shows both for its register indicators.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from evaluering.did import honest_did
from evaluering.did.event_study import EventStudyResult, PretrendTest
from evaluering.evaluation.robustness import area_panel, trend_sensitivity
from evaluering.report.robustness_section import breakdown_sentence


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
    return EventStudyResult("y", event_year, event_year - 1, table, np.eye(k) * se**2, PretrendTest(0.0, len(leads), 1.0),
                            100, 10, 1000, 100)


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
    assert f"mere end {b:.1f}".replace(".", ",") in breakdown_sentence("1. Test", sensitivity)


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
    assert any(re.fullmatch(r"\d+,\d", b) for b in breakdowns) or "ikke statistisk sikker" in breakdowns
