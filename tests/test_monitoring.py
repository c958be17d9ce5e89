"""Monitoring: the statutory deprived-area criteria (almenboligloven §§ 61 a-b) checked by hand,
and the area monitoring recovering the synthetic data's planted district changes."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import yaml
from scipy import stats

from evaluering.config import ConfigError, load_params
from evaluering.monitoring import (
    MonitoringError,
    deprived_area_criteria,
    monitor_areas,
    register_indicators,
    statutory_criteria,
)
from evaluering.monitoring.overdispersion import between_area_variance
from evaluering.monitoring.trends import _change_against_rest

# Reference values chosen so the limits are round: 3 x 0.1 = 0.3 and 2 x 0.1 = 0.2 convicted;
# 55 % of 100,000 = 55,000 and 65 % = 65,000 DKK.
NATIONAL, REGIONAL = 0.1, 100_000.0


def person(area, age, *, year=2024, employed=True, in_education=False, education="vocational",
           income=None, convicted=False, origin="danish"):
    """One register row; income defaults to 200,000 for 15+ and empty below."""
    if income is None and age >= 15:
        income = 200_000.0
    return dict(person_id=f"P{area}{age}{year}", year=year, area_id=area, age=age, sex="female", origin=origin,
                education=education if age >= 15 else None, in_education=in_education, employed=employed,
                income=np.nan if income is None else float(income), convicted=convicted)


def edge_area():
    """EDGE: exactly at every § 61 a limit (11 residents).

    18-64: persons 1-5, outside work and education: 3 and 4       -> 2/5 = 40 %   (not over 40 %)
    15+:   persons 1-10, convicted: 1, 2, 3                        -> 3/10 = 0.3 = 3.0 x 0.1 (at least 3: met)
    30-59: persons 1-5, only primary: 1, 2, 3                      -> 3/5 = 60 %   (not over 60 %)
    income 15-64 not in education: persons 1-5 at 55,000          -> 55 % of regional (not under 55 %)
    § 61 a: 1 criterion (convictions), not deprived.
    § 61 b: 40 % > 30 % met; 3.0 >= 2 met; 60 % not over 60 %; 55 % < 65 % met -> 3, prevention area.
    """
    rows = [
        person("EDGE", 35, education="primary", income=55_000, convicted=True),
        person("EDGE", 40, education="primary", income=55_000, convicted=True),
        person("EDGE", 45, employed=False, education="primary", income=55_000, convicted=True),
        person("EDGE", 50, employed=False, income=55_000),
        person("EDGE", 55, education="higher", income=55_000),
    ]
    rows += [person("EDGE", age, employed=False) for age in (70, 75, 80, 85, 90)]
    rows.append(person("EDGE", 5, employed=False))
    return rows


def prevention_edge_area():
    """PREV: exactly at the § 61 b limits (10 residents, all 15-64, none in education).

    18-64: 10 persons, outside work and education: ages 22, 60, 64 -> 3/10 = 30 % (not over 30 %)
    15+:   10 persons, convicted: ages 20, 25                      -> 0.2 = 2.0 x 0.1 (at least 2: met; under 3)
    30-59: ages 30, 35, 40, 50, 55; only primary: 30, 35, 40        -> 60 %  (not over 60 %)
    income: all 65,000                                             -> 65 % of regional (not under 65 %, not under 55 %)
    § 61 a: 0 criteria. § 61 b: 1 criterion (convictions), not a prevention area.
    """
    outside, convicted, primary = {22, 60, 64}, {20, 25}, {30, 35, 40}
    return [person("PREV", age, employed=age not in outside, convicted=age in convicted,
                   education="primary" if age in primary else "vocational", income=65_000)
            for age in (20, 22, 25, 30, 35, 40, 50, 55, 60, 64)]


def over_area():
    """OVER: clearly past every limit (10 residents).

    18-64 = 30-59 = income group: ages 31, 35, 40, 45, 50; outside: 31, 35, 40 -> 60 %;
    primary: 31, 35, 40, 45 -> 80 %; income 50,000 -> 50 %; 15+: all 10, convicted 4 -> 0.4 = 4 x.
    § 61 a and § 61 b: all 4 criteria.
    """
    rows = [person("OVER", age, employed=age > 40, education="primary" if age < 50 else "higher",
                   income=50_000, convicted=age < 45) for age in (31, 35, 40, 45, 50)]
    rows += [person("OVER", age, employed=False, convicted=age == 70) for age in (70, 75, 80, 85, 90)]
    return rows


@pytest.fixture
def register():
    return pd.DataFrame(edge_area() + prevention_edge_area() + over_area())


def criteria(register, **kwargs):
    kwargs = {"national_conviction_rate": NATIONAL, "regional_income": REGIONAL, **kwargs}
    return deprived_area_criteria(register, year=kwargs.pop("year", 2024), **kwargs).set_index("area")


# --- the criteria by hand ---------------------------------------------------------------------------


def test_values_match_hand_calculation(register):
    table = criteria(register)
    assert list(table.index) == ["EDGE", "OVER", "PREV"]
    assert table["residents"].to_dict() == {"EDGE": 11, "OVER": 10, "PREV": 10}
    assert table.loc["EDGE", "outside_work_education_share"] == pytest.approx(0.4)
    assert table.loc["EDGE", "conviction_ratio"] == pytest.approx(3.0)
    assert table.loc["EDGE", "primary_only_share"] == pytest.approx(0.6)
    assert table.loc["EDGE", "income_ratio"] == pytest.approx(0.55)
    assert table.loc["EDGE", "mean_income"] == pytest.approx(55_000)
    assert table.loc["PREV", ["outside_work_education_share", "conviction_ratio", "primary_only_share",
                              "income_ratio"]].tolist() == pytest.approx([0.3, 2.0, 0.6, 0.65])
    assert table.loc["OVER", ["outside_work_education_share", "conviction_share", "primary_only_share",
                              "income_ratio"]].tolist() == pytest.approx([0.6, 0.4, 0.8, 0.5])
    assert table.loc["EDGE", ["persons_18_64", "persons_15_plus", "persons_30_59", "persons_income"]].tolist() == [
        5, 10, 5, 5]


def test_exact_thresholds_61a(register):
    """Exactly 40 %: not met; exactly 3.0 times: met; exactly 60 %: not met; exactly 55 %: not met."""
    edge = criteria(register).loc["EDGE"]
    assert edge[["outside_work_education", "convictions", "primary_only", "low_income"]].tolist() == [
        False, True, False, False]
    assert edge["n_criteria"] == 1 and not edge["deprived"]


def test_exact_thresholds_61b(register):
    """Exactly 30 %: not met; exactly 2.0 times: met; exactly 60 %: not met; exactly 65 %: not met."""
    table = criteria(register)
    prev = table.loc["PREV"]
    assert prev[["prevention_outside_work_education", "prevention_convictions", "prevention_primary_only",
                 "prevention_low_income"]].tolist() == [False, True, False, False]
    assert prev["n_prevention_criteria"] == 1 and not prev["prevention_area"]
    assert prev["n_criteria"] == 0 and not prev["deprived"]  # 2.0 times is under 3; 65 % is not under 55 %
    edge = table.loc["EDGE"]  # 40 % > 30 %, 3.0 >= 2, 60 % not over 60 %, 55 % < 65 %
    assert edge[["prevention_outside_work_education", "prevention_convictions", "prevention_primary_only",
                 "prevention_low_income"]].tolist() == [True, True, False, True]
    assert edge["n_prevention_criteria"] == 3
    assert not edge["prevention_area"]  # § 61 b also needs over 30 % non-Western residents; EDGE has none


def test_all_criteria_met(register):
    over = criteria(register).loc["OVER"]
    assert over["n_criteria"] == 4 and over["deprived"]
    assert over["n_prevention_criteria"] == 4
    assert criteria(register)["deprived"].dtype == bool


def test_thresholds_are_parameters(register):
    from evaluering.monitoring import Thresholds

    lenient = Thresholds(outside_work_education=0.39, convictions=3.0, primary_only=0.59, low_income=0.56)
    edge = criteria(register, thresholds=lenient).loc["EDGE"]
    assert edge["n_criteria"] == 4 and edge["deprived"]


def test_population_threshold_marks_but_keeps_areas(register):
    assert criteria(register)["below_population_threshold"].all()  # the law's 1,000
    table = criteria(register, min_residents=11)
    assert table["below_population_threshold"].to_dict() == {"EDGE": False, "OVER": True, "PREV": True}
    assert table.loc["OVER", "deprived"]  # still computed


def test_two_year_average_pools_criteria_1_and_2_only():
    """AVG, 5 persons aged 30-59 in each year.

    2023: 4 outside work and education, 3 convicted, all primary, income 10,000.
    2024: 1 outside, 0 convicted, none primary, income 200,000.
    Pooled 2023-2024: outside (4 + 1) / 10 = 50 % (met); convicted 3 / 10 = 0.3 = 3 x (met) -> deprived.
    2024 alone: 20 % and 0 -> neither. Criteria 3 and 4 use 2024 only either way: 0 % primary, 200 %.
    """
    rows = [person("AVG", 30 + i, year=2023, employed=i >= 4, convicted=i < 3, education="primary",
                   income=10_000) for i in range(5)]
    rows += [person("AVG", 40 + i, year=2024, employed=i >= 1) for i in range(5)]
    register = pd.DataFrame(rows)
    pooled = criteria(register).loc["AVG"]
    assert pooled["years_averaged"] == "2023, 2024"
    assert pooled["outside_work_education_share"] == pytest.approx(0.5)
    assert pooled["conviction_ratio"] == pytest.approx(3.0)
    assert pooled["primary_only_share"] == 0.0 and pooled["income_ratio"] == pytest.approx(2.0)
    assert pooled["persons_18_64"] == 10 and pooled["residents"] == 5
    assert pooled["n_criteria"] == 2 and pooled["deprived"]
    single = criteria(register, average_years=1).loc["AVG"]
    assert single["years_averaged"] == "2024"
    assert single["outside_work_education_share"] == pytest.approx(0.2)
    assert single["conviction_share"] == 0.0 and single["n_criteria"] == 0
    # only the year itself delivered: it is used alone
    only_2024 = criteria(register[register["year"] == 2024]).loc["AVG"]
    assert only_2024["years_averaged"] == "2024" and only_2024["n_criteria"] == 0


def test_districts_by_mapping_or_column(register):
    """d1 = EDGE + PREV: 18-64 outside (2 + 3) / (5 + 10) = 1/3; 15+ convicted (3 + 2) / 20 = 0.25."""
    mapping = pd.Series({"EDGE": "d1", "PREV": "d1", "OVER": "d2"})
    by_map = criteria(register, area=mapping)
    assert by_map["residents"].to_dict() == {"d1": 21, "d2": 10}
    assert by_map.loc["d1", "outside_work_education_share"] == pytest.approx(1 / 3)
    assert by_map.loc["d1", "conviction_ratio"] == pytest.approx(2.5)
    by_column = criteria(register.assign(district=register["area_id"].map(mapping)), area="district")
    pd.testing.assert_frame_equal(by_map, by_column)
    partial = criteria(register, area={"EDGE": "d1"})  # areas mapped to nothing are left out
    assert list(partial.index) == ["d1"] and partial.loc["d1", "residents"] == 11


def test_explicit_area_list_sets_order(register):
    table = criteria(register, areas=["PREV", "EDGE"])
    assert list(table.index) == ["PREV", "EDGE"]


def test_prevention_area_needs_over_30_percent_non_western(register):
    """§ 61 b: 2 of 4 criteria *and* over 30 % non-Western; exactly 30 % is not over."""
    edge = register["area_id"] == "EDGE"  # 3 prevention criteria, 11 residents
    at_limit = register.copy()
    at_limit.loc[register.index[edge][:3], "origin"] = "non_western"  # 3 of 11 = 27 %
    assert not criteria(at_limit).loc["EDGE", "prevention_area"]
    over = register.copy()
    over.loc[register.index[edge][:4], "origin"] = "non_western"  # 4 of 11 = 36 %
    row = criteria(over).loc["EDGE"]
    assert row["prevention_non_western"] and row["prevention_area"]
    ten = pd.DataFrame([person("TEN", 40 + i, origin="non_western" if i < 3 else "danish") for i in range(10)])
    assert not criteria(ten).loc["TEN", "prevention_non_western"]  # exactly 3 of 10 = 30 %: not over
    without_origin = criteria(register.drop(columns="origin")).loc["EDGE"]
    assert without_origin["prevention_area"]  # origin unknown: the four criteria decide


def test_non_western_share_is_reported(register):
    register.loc[register["area_id"] == "PREV", "origin"] = "non_western"
    table = criteria(register)
    assert table.loc["PREV", "non_western_share"] == 1.0 and table.loc["EDGE", "non_western_share"] == 0.0
    assert criteria(register.drop(columns="origin"))["non_western_share"].isna().all()


# --- bad input ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["national_conviction_rate", "regional_income"])
@pytest.mark.parametrize("value", [None, math.nan, 0, -0.5, "0.02"])
def test_bad_reference_values(register, name, value):
    with pytest.raises(MonitoringError, match=name):
        criteria(register, **{name: value})


def test_missing_reference_value_says_missing(register):
    with pytest.raises(MonitoringError, match="national_conviction_rate is missing"):
        deprived_area_criteria(register, 2024, regional_income=REGIONAL)


def test_missing_columns_are_named(register):
    with pytest.raises(MonitoringError, match="register: missing column.*'convicted'"):
        criteria(register.drop(columns="convicted"))
    with pytest.raises(MonitoringError, match="'income', 'convicted'"):
        criteria(register.drop(columns=["income", "convicted"]))
    with pytest.raises(MonitoringError, match=r"register \(the column given as area\): missing column\(s\) 'bydel'"):
        criteria(register, area="bydel")


def test_empty_flag_column_is_refused(register):
    register["employed"] = register["employed"].astype(object)
    register.loc[0, "employed"] = None
    with pytest.raises(MonitoringError, match="column 'employed' has 1 empty value"):
        criteria(register)


def test_year_not_in_data(register):
    with pytest.raises(MonitoringError, match=r"year 2030 is not in the register \(years present: 2024-2024\)"):
        criteria(register, year=2030)


def test_listed_area_without_residents(register):
    with pytest.raises(MonitoringError, match="area 'GHOST' has no residents in 2024"):
        criteria(register, areas=["EDGE", "GHOST"])


def test_area_without_an_age_group(register):
    old = pd.DataFrame([person("OLD", age, employed=False) for age in (70, 80)])
    with pytest.raises(MonitoringError, match="area 'OLD' has no residents aged 18-64 in 2024"):
        criteria(pd.concat([register, old], ignore_index=True))
    # residents 18-64 but none aged 30-59
    young = pd.DataFrame([person("YOUNG", age) for age in (20, 25, 70)])
    with pytest.raises(MonitoringError, match="area 'YOUNG' has no residents aged 30-59"):
        criteria(pd.concat([register, young], ignore_index=True))


# --- the parameter file's monitoring block ------------------------------------------------------------


def test_params_monitoring_block(params):
    settings = params.monitoring
    assert settings is not None and 0.01 <= settings.national_conviction_rate <= 0.02
    assert 400_000 <= settings.regional_income <= 450_000 and settings.min_residents == 1000


@pytest.mark.parametrize(
    "change, message",
    [
        ({"national_convicton_rate": 0.015}, r"monitoring\.national_convicton_rate: unknown key"),
        ({"national_conviction_rate": 0}, r"monitoring\.national_conviction_rate: Input should be greater than 0"),
        ({"regional_income": -1}, r"monitoring\.regional_income"),
    ],
)
def test_bad_monitoring_block_gives_config_error(tmp_path, params_file, change, message):
    raw = yaml.safe_load(params_file.read_text(encoding="utf-8"))
    raw["monitoring"].update(change)
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        load_params(path)


# --- the criteria on the synthetic municipality ----------------------------------------------------------


def test_synthetic_districts_on_the_criteria(prepared):
    districts = statutory_criteria(prepared, by="district").set_index("area")
    areas = statutory_criteria(prepared).set_index("area")
    assert set(districts.index) == {d.key for d in prepared.params.districts}
    assert not districts["below_population_threshold"].any()
    # the districts' residents are those of their areas
    assert districts["residents"].to_dict() == areas.groupby("district")["residents"].sum().to_dict()
    # some district meets a criterion; the synthetic districts are deprived but not statutory deprived areas
    assert (districts["n_criteria"] + districts["n_prevention_criteria"]).max() >= 1
    in_district = areas["district"].notna()
    assert areas.loc[in_district, "outside_work_education_share"].mean() > areas.loc[
        ~in_district, "outside_work_education_share"].mean() + 0.1
    n_prevention = areas["n_prevention_criteria"]
    assert n_prevention[in_district].mean() > n_prevention[~in_district].mean()


# --- monitoring: statistics ------------------------------------------------------------------------------


def test_difference_se_is_binomial_without_repeated_persons():
    """Four cells of distinct persons: se^2 = sum p(1 - p) / n (times G / (G - 1))."""
    rng = np.random.default_rng(1)
    n = {(True, True): 80, (True, False): 60, (False, True): 300, (False, False): 250}
    p = {(True, True): 0.5, (True, False): 0.3, (False, True): 0.2, (False, False): 0.25}
    inside, at_end, y = [], [], []
    for (member, end), size in n.items():
        inside += [member] * size
        at_end += [end] * size
        y += list(rng.random(size) < p[(member, end)])
    inside, at_end, y = np.array(inside), np.array(at_end), np.array(y, dtype=float)
    g = len(y)
    change, rest, se = _change_against_rest(inside, at_end, y, np.ones(g), np.arange(g), g)
    means = {cell: y[(inside == cell[0]) & (at_end == cell[1])].mean() for cell in n}
    assert change == pytest.approx(means[(True, True)] - means[(True, False)])
    assert rest == pytest.approx(means[(False, True)] - means[(False, False)])
    binomial = sum(means[c] * (1 - means[c]) / n[c] for c in n) * g / (g - 1)
    assert se == pytest.approx(math.sqrt(binomial))


def test_difference_se_matches_clustered_regression():
    """Persons seen in both years and movers: the se is the person-clustered se of the interaction in
    y ~ inside * end (statsmodels' CR1 differs only by its (N - 1) / (N - K) factor)."""
    sm = pytest.importorskip("statsmodels.api")
    rng = np.random.default_rng(7)
    persons = 400
    base = rng.random(persons) < 0.4
    start_inside = rng.random(persons) < 0.3
    end_inside = np.where(rng.random(persons) < 0.1, ~start_inside, start_inside)  # 10 % move
    y = np.concatenate([base ^ (rng.random(persons) < 0.1), base ^ (rng.random(persons) < 0.15)]).astype(float)
    inside = np.concatenate([start_inside, end_inside])
    at_end = np.repeat([False, True], persons)
    cluster = np.tile(np.arange(persons), 2)
    w = rng.uniform(0.5, 2.0, 2 * persons)
    change, rest, se = _change_against_rest(inside, at_end, y, w, cluster, persons)
    x = np.column_stack([np.ones_like(y), inside, at_end, inside & at_end]).astype(float)
    fit = sm.WLS(y, x, weights=w).fit(cov_type="cluster", cov_kwds={"groups": cluster})
    n_obs, k = x.shape
    assert change - rest == pytest.approx(fit.params[3])
    assert se == pytest.approx(fit.bse[3] / math.sqrt((n_obs - 1) / (n_obs - k)), rel=1e-6)


# --- monitoring on the synthetic municipality ------------------------------------------------------------


@pytest.fixture(scope="module")
def monitoring(prepared):
    return monitor_areas(prepared)


def test_monitoring_tables(monitoring, prepared):
    params = prepared.params
    keys = [i.key for i in register_indicators(params)]
    assert set(monitoring.levels["indicator"]) == set(keys) == set(monitoring.trends["indicator"])
    assert set(monitoring.levels["level"]) == {"area", "district", "municipality"}
    areas = set(prepared.dataset.areas["area_id"])
    assert set(monitoring.trends.loc[monitoring.trends["level"] == "area", "unit"]) == areas
    # district levels agree with the indicators package's own levels
    from evaluering.indicators import indicator_levels

    own = indicator_levels(prepared, params.indicator("arbejdsmarked")).set_index(["group", "period"])
    mine = monitoring.levels.query("indicator == 'arbejdsmarked' and level == 'district'").set_index(["unit", "year"])
    for (district, year), row in mine.iterrows():
        assert row["value"] == pytest.approx(own.loc[(district, year), "value"])
        assert row["persons"] == own.loc[(district, year), "n_persons"]
    trends = monitoring.trends
    assert (trends["end_year"] - trends["start_year"] >= 3).all() and (trends["end_year"] == 2024).all()
    row = trends.query("indicator == 'arbejdsmarked' and unit == 'A001'").iloc[0]
    assert row["change"] == pytest.approx(row["value_end"] - row["value_start"])
    assert row["persons_start"] > 0 and row["persons_end"] > 0


def test_monitoring_shows_its_trends_and_flags(monitoring):
    text = monitoring.summary()
    flagged = int(monitoring.trends["flagged"].sum())
    assert text.splitlines()[0].startswith("Area monitoring: change over the last 3 years")
    assert f"{flagged} of {len(monitoring.trends)} unit x indicator rows flagged" in text
    assert len(monitoring.flagged()) == flagged and len(monitoring.flagged("district")) <= flagged
    assert monitoring.to_frame() is monitoring.trends and "<table" in monitoring._repr_html_()


def test_areas_are_judged_with_the_between_area_variance(monitoring):
    """Areas: se_total adds the indicator's between-area variance (estimated from the areas' own
    differences); districts, too few to estimate it from, keep their person-level se."""
    trends = monitoring.trends
    areas, districts = trends[trends["level"] == "area"], trends[trends["level"] == "district"]
    for indicator, part in areas.groupby("indicator"):
        tau2 = between_area_variance(part["difference"], part["se"])
        assert np.allclose(part["between_area_sd"], np.sqrt(tau2)), indicator
    assert np.allclose(areas["se_total"], np.sqrt(areas["se"] ** 2 + areas["between_area_sd"] ** 2))
    assert (areas["se_total"] >= areas["se"]).all()
    assert districts["between_area_sd"].isna().all() and np.allclose(districts["se_total"], districts["se"])
    z = areas["difference"] / areas["se_total"]
    assert np.allclose(areas["p_value"], 2 * stats.norm.sf(np.abs(z)))


def test_monitoring_recovers_planted_changes(monitoring, truth):
    """Turnout (indicator 10) was planted to rise 4 points in Værebro Park and fall 3 in Mørkhøj after
    2021: both districts are flagged in that direction, and their areas depart in the planted direction."""
    planted = truth["effects"]
    assert planted["vaerebro-park"]["demokratisk-deltagelse"]["value"] > 0
    assert planted["moerkhoej"]["demokratisk-deltagelse"]["value"] < 0
    trends = monitoring.trends.query("indicator == 'demokratisk-deltagelse'").set_index(["level", "unit"])
    assert trends.loc[("district", "vaerebro-park"), ["flagged", "development"]].tolist() == [True, "better"]
    assert trends.loc[("district", "moerkhoej"), ["flagged", "development"]].tolist() == [True, "worse"]
    assert not trends.loc[("district", "hoeje-gladsaxe"), "flagged"]  # planted 0
    areas = trends.loc["area"]
    assert (areas.loc[areas["district"] == "vaerebro-park", "difference"] > 0).all()
    assert (areas.loc[areas["district"] == "moerkhoej", "difference"] < 0).all()
    flagged = areas[areas["flagged"] & areas["district"].isin(["vaerebro-park", "moerkhoej"])]
    expected = flagged["district"].map({"vaerebro-park": "better", "moerkhoej": "worse"})
    assert (flagged["development"] == expected).all()
    # the planted selection of resourceful in-movers into Høje Gladsaxe (indicator 17)
    assert planted["hoeje-gladsaxe"]["ressourcestaerke"]["value"] > 0
    hg = monitoring.trends.query("indicator == 'ressourcestaerke' and unit == 'hoeje-gladsaxe'").iloc[0]
    assert hg["flagged"] and hg["development"] == "better"


def test_monitoring_placebo_comparison_areas(monitoring):
    """Nothing was planted in the rest of the municipality: few comparison areas are flagged (under
    the 5 % false discovery rate), and their z-scores look standard normal (the se is calibrated)."""
    areas = monitoring.trends.query("level == 'area' and district == 'comparison'")
    assert len(areas) > 300
    assert areas["flagged"].mean() < 0.05
    z = areas["difference"] / areas["se"]
    for indicator, part in z.groupby(areas["indicator"]):
        assert 0.75 < part.std() < 1.3, indicator
        assert abs(part.mean()) < 0.5, indicator


def test_monitoring_bad_input(prepared):
    with pytest.raises(MonitoringError, match="not a register share or mean"):
        monitor_areas(prepared, indicators=["oplevet-sundhed"])
    with pytest.raises(MonitoringError, match="unknown indicator 'nope'"):
        monitor_areas(prepared, indicators=["nope"])
    with pytest.raises(MonitoringError, match="no data 20 years before"):
        monitor_areas(prepared, indicators=["arbejdsmarked"], years=20)
