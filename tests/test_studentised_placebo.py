"""Studentised placebo inference for register DiDs: exact sampling variance, consistency, calibration.

The calibration tests (slow: about a minute each) use a small world written here (not the
project's generator): persons in small areas with a person effect and area x period shocks on
the logit scale, a district whose base rate is more than twice the rest's, and nothing planted.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.special import expit, logit

from evaluering.did.two_wave import two_wave_did
from evaluering.inference import placebo_test
from evaluering.inference.studentised_placebo import (
    area_statistics,
    did_variance,
    district_history_variance,
    studentised_placebo,
)

N_AREAS, N_DISTRICT = 50, 3


def _world(rng, *, p_rest=0.015, p_district=0.035, persons=250, shock_sd=0.0, effect=0.0, move=0.1,
           district_persons=None) -> pd.DataFrame:
    """Unit frame of a two-period register panel; areas 0..N_DISTRICT-1 form the district.

    Every person has a persistent logit effect (so the two periods of a person correlate); a share
    ``move`` of persons lives in another random area in the follow-up period.
    """
    sizes = np.full(N_AREAS, persons)
    if district_persons is not None:
        sizes[:N_DISTRICT] = district_persons
    area0 = np.repeat(np.arange(N_AREAS), sizes)
    n = len(area0)
    area1 = np.where(rng.random(n) < move, rng.integers(N_AREAS, size=n), area0)
    base = np.where(np.arange(N_AREAS) < N_DISTRICT, logit(p_district), logit(p_rest))
    person = rng.normal(0, 0.8, n)
    shocks = rng.normal(0, shock_sd, (N_AREAS, 2))
    frames = []
    for t, area in enumerate((area0, area1)):
        lin = base[area] + person + shocks[area, t] + (effect if t == 1 else 0.0) * (area < N_DISTRICT)
        y = (rng.random(n) < expit(lin)).astype(float)
        frames.append(pd.DataFrame({"group": np.where(area < N_DISTRICT, "d", "comparison"),
                                    "period": 2021 + 3 * t, "y": y, "weight": 1.0,
                                    "cluster": np.arange(n).astype(str), "persons": 1,
                                    "area": area.astype(str)}))
    return pd.concat(frames, ignore_index=True)


DISTRICT = [str(a) for a in range(N_DISTRICT)]
REST = [str(a) for a in range(N_DISTRICT, N_AREAS)]


def test_sampling_variance_equals_cluster_robust_did():
    """With movers between areas and groups, the area sums give statsmodels' clustered SE exactly."""
    units = _world(np.random.default_rng(1), p_rest=0.3, p_district=0.5, move=0.3)
    est = two_wave_did(units, indicator="x", district="d", baseline=2021, followup=2024)
    st = area_statistics(units, DISTRICT + REST, 2021, 2024)
    labels = np.array([[1] * N_DISTRICT + [0] * len(REST)])
    did, variance = did_variance(labels, st)
    assert did[0] == pytest.approx(est.estimate, abs=1e-12)
    assert np.sqrt(variance[0]) == pytest.approx(est.se, rel=1e-10)


def test_p_value_and_interval_agree():
    """p < 0.05 exactly when 0 is outside the interval, over many datasets (one procedure)."""
    for seed in range(12):
        rng = np.random.default_rng(seed)
        units = _world(rng, p_rest=0.2, p_district=0.3, shock_sd=0.15, effect=0.25 * (seed % 3))
        res = studentised_placebo(units, DISTRICT, REST, 2021, 2024, n_draws=199, seed=seed)
        assert (res.p_value < 0.05) == (not res.ci_low <= 0 <= res.ci_high)
        assert res.ci_low < res.estimate < res.ci_high


def _rejections(make, runs: int, draws: int = 99) -> tuple[float, float]:
    """Share of runs where the studentised test and the raw placebo test reject at 5 %."""
    studentised, raw = [], []
    for seed in range(runs):
        units = make(np.random.default_rng(1000 + seed))
        res = studentised_placebo(units, DISTRICT, REST, 2021, 2024, n_draws=draws, seed=seed)
        studentised.append(res.p_value < 0.05)
        old = placebo_test(units, "y", "area", "period", DISTRICT, 2021, 2024, comparison_areas=REST,
                           weights="weight", n_draws=draws, seed=seed)
        raw.append(old.p_value < 0.05)
    return float(np.mean(studentised)), float(np.mean(raw))


RUNS = 400
BOUND = 0.05 + 2 * np.sqrt(0.05 * 0.95 / RUNS)  # 5 % plus two simulation standard errors


@pytest.mark.slow
def test_calibrated_where_the_district_rate_differs_from_the_rest():
    """Convictions at 3.5 % in the district against 1.5 %: the raw placebo over-rejects, this does not."""
    studentised, raw = _rejections(lambda rng: _world(rng), RUNS)
    assert studentised <= BOUND, studentised
    assert raw > 0.10, raw  # the world shows the problem the method solves


@pytest.mark.slow
def test_calibrated_with_area_shocks_and_a_small_district():
    """Area x period shocks the person-level SE misses, and a district of few persons."""
    def make(rng):
        return _world(rng, p_rest=0.7, p_district=0.5, shock_sd=0.25, district_persons=120)
    studentised, _ = _rejections(make, RUNS)
    assert studentised <= BOUND, studentised
    # the person-clustered model alone rejects far too often in this world
    model = [two_wave_did(make(np.random.default_rng(1000 + s)), indicator="x", district="d", baseline=2021,
                          followup=2024).p_value < 0.05 for s in range(60)]
    assert np.mean(model) > 0.15


def test_detects_a_planted_effect():
    """A planted rise of 0.6 on the logit scale (about 13 points at 50 %) is found in most runs."""
    hits = [studentised_placebo(_world(np.random.default_rng(s), p_rest=0.5, p_district=0.5, effect=0.6),
                                DISTRICT, REST, 2021, 2024, n_draws=199, seed=s).p_value < 0.05 for s in range(20)]
    assert np.mean(hits) >= 0.8


def test_few_comparison_areas_fall_back_to_the_normal_reference():
    units = _world(np.random.default_rng(3))
    few = REST[:6]  # C(6, 3) = 20 distinct pseudo-districts
    res = studentised_placebo(units, DISTRICT, few, 2021, 2024)
    assert res.method == "normal" and "placebo-bydele" in res.note
    assert (res.p_value < 0.05) == (not res.ci_low <= 0 <= res.ci_high)


def _panel_world(rng, *, district_shock: float, rest_shock: float = 0.15, persons: int = 150,
                 years=range(2015, 2025)) -> pd.DataFrame:
    """A yearly register panel (no moves) with area x year shocks on the logit scale, larger in the district."""
    area = np.repeat(np.arange(N_AREAS), persons)
    n = len(area)
    person = rng.normal(0, 0.8, n)
    sd = np.where(np.arange(N_AREAS) < N_DISTRICT, district_shock, rest_shock)
    base = np.where(np.arange(N_AREAS) < N_DISTRICT, logit(0.55), logit(0.75))
    frames = []
    for year in years:
        shock = rng.normal(0, sd)
        y = (rng.random(n) < expit(base[area] + person + shock[area])).astype(float)
        frames.append(pd.DataFrame({"group": np.where(area < N_DISTRICT, "d", "comparison"), "period": year,
                                    "y": y, "weight": 1.0, "cluster": np.arange(n).astype(str), "persons": 1,
                                    "area": area.astype(str)}))
    return pd.concat(frames, ignore_index=True)


def test_district_history_recovers_a_more_volatile_district():
    """The district's own pre-baseline history gives its larger shock variance; the rest's does not."""
    ratios = []
    for seed in range(40):
        units = _panel_world(np.random.default_rng(seed), district_shock=0.45)
        ratios.append(district_history_variance(units, DISTRICT, REST, 2021, 2024))
    # planted on the logit scale: sd 0.45 at p = 0.55 is about 0.45 * 0.2475 = 0.111 on the probability
    # scale, scaled to the rest's level (p = 0.75): 0.111 * 0.1875 / 0.2475 = 0.084; a change between two
    # years carries two independent shocks: variance 2 * 0.084^2 = 0.0141 (the person effects make the
    # logit-to-probability slope a little flatter than p (1 - p), so somewhat less)
    assert np.mean(ratios) == pytest.approx(0.0141, rel=0.25)


@pytest.mark.slow
def test_calibrated_when_the_district_is_more_volatile_than_the_rest():
    """District area shocks three times the rest's: the comparison areas alone understate the SE."""
    with_history, without = [], []
    for seed in range(RUNS // 2):
        units = _panel_world(np.random.default_rng(2000 + seed), district_shock=0.45)
        history = district_history_variance(units, DISTRICT, REST, 2021, 2024)
        two = units[units["period"].isin([2021, 2024])]
        with_history.append(studentised_placebo(two, DISTRICT, REST, 2021, 2024, n_draws=99, seed=seed,
                                                district_tau2=history).p_value < 0.05)
        without.append(studentised_placebo(two, DISTRICT, REST, 2021, 2024, n_draws=99, seed=seed).p_value < 0.05)
    bound = 0.05 + 2 * np.sqrt(0.05 * 0.95 / len(with_history))
    assert np.mean(with_history) <= bound, np.mean(with_history)
    assert np.mean(without) > 0.10, np.mean(without)  # the world shows the problem
