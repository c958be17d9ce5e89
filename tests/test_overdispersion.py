"""Between-area variance for screening many areas (additive over-dispersion, trimmed moment)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats
from statsmodels.stats.meta_analysis import combine_effects

from evaluering.inference import benjamini_hochberg
from evaluering.monitoring.overdispersion import between_area_variance


def _areas(rng, k: int = 80, tau: float = 0.0):
    """k areas' differences: person-level noise with se 0.5-2 points, plus area shocks of sd tau."""
    se = rng.uniform(0.005, 0.02, k)
    return rng.normal(0, se) + rng.normal(0, tau, k), se


def _truncated_chi2_mean(share: float) -> float:
    """E[X | X <= q] for X ~ chi-square(1) and q its ``share`` quantile, by numerical integration."""
    q = stats.chi2.ppf(share, 1)
    return integrate.quad(lambda x: x * stats.chi2.pdf(x, 1), 0, q)[0] / share


def test_with_equal_standard_errors_it_has_a_closed_form():
    """Equal s: the trimmed mean of d^2 / (s^2 + tau^2) is mean(72 smallest d^2) / (s^2 + tau^2)."""
    rng = np.random.default_rng(1)
    se = np.full(80, 0.01)
    d = rng.normal(0, np.sqrt(se**2 + 0.02**2))
    expected = np.sort(d**2)[:72].mean() / _truncated_chi2_mean(72 / 80) - 0.01**2
    assert between_area_variance(d, se) == pytest.approx(expected, rel=1e-9)


@pytest.mark.parametrize("k", [31, 85])
def test_it_solves_its_defining_equation(k):
    """Unequal s, a number of areas that 90 % does not divide: at the estimate, the mean of the
    floor(0.9 k) smallest d^2 / (s^2 + tau^2) is the truncated chi-square mean at that share."""
    rng = np.random.default_rng(k)
    d, se = _areas(rng, k, tau=0.01)
    tau2 = between_area_variance(d, se)
    kept = int(0.9 * k)
    u = np.sort(d**2 / (se**2 + tau2))
    assert u[:kept].mean() == pytest.approx(_truncated_chi2_mean(kept / k), rel=1e-9)


def test_no_excess_variation_gives_zero():
    se = np.full(10, 0.01)
    d = np.array([0.5, -0.5, 0.2, -0.2, 0.0, 0.1, -0.1, 0.3, -0.3, 0.0]) * se  # z^2 all below the target
    assert between_area_variance(d, se) == 0.0
    assert between_area_variance(5 * d, se) > 0  # the 9 smallest z^2 now average 1.47: excess


def test_a_few_true_departures_do_not_inflate_it():
    """Person noise only, and 4 of 80 areas far off: the estimate stays small (under half a
    standard error), where DerSimonian-Laird's moment estimator (statsmodels) is pulled far up."""
    rng = np.random.default_rng(2)
    d, se = _areas(rng)
    d[:4] = 12 * se[:4]
    dersimonian_laird = combine_effects(d, se**2, method_re="dl").tau2
    assert np.sqrt(dersimonian_laird) > 0.02
    assert np.sqrt(between_area_variance(d, se)) < 0.5 * np.median(se)


@pytest.mark.parametrize("k", [83, 200])
def test_the_estimate_recovers_a_planted_between_area_sd(k):
    """Over 400 municipalities of k areas (83 as in Gladsaxe), the mean of the tau^2 estimates is
    the planted (1 point)^2. One estimate's sd is about 0.4 of tau^2 at k = 83, so the mean of 400
    has an sd of 2 %: +-10 % leaves room for the small upward bias of truncating at 0 (about 4 %
    at 80 areas, 10 % at 30).
    """
    rng = np.random.default_rng(3)
    tau = 0.01
    estimates = [between_area_variance(*_areas(rng, k, tau=tau)) for _ in range(400)]
    assert np.mean(estimates) == pytest.approx(tau**2, rel=0.10)
    no_shock = [between_area_variance(*_areas(rng, k)) for _ in range(400)]
    assert np.sqrt(np.mean(no_shock)) < 0.5 * tau  # truncated at 0: a small upward bias


def test_screening_with_it_keeps_the_false_discovery_rate():
    """Area shocks, no departing area: person-level errors flag areas in nearly every municipality;
    with the between-area variance the share of municipalities with any flag stays near alpha
    (all hypotheses are null, so BH controls the chance of any flag at 5 %; Monte Carlo se 1.5
    points). Estimating tau^2 costs about 2 points over alpha with 80 areas (7 % in a review's
    2,000 runs); the bound allows that.)"""
    rng = np.random.default_rng(4)
    naive, adjusted = [], []
    for _ in range(200):
        d, se = _areas(rng, tau=0.015)
        naive.append(benjamini_hochberg(2 * _sf(np.abs(d / se))).adjusted.min() < 0.05)
        total = np.sqrt(se**2 + between_area_variance(d, se))
        adjusted.append(benjamini_hochberg(2 * _sf(np.abs(d / total))).adjusted.min() < 0.05)
    assert np.mean(naive) > 0.9
    assert np.mean(adjusted) < 0.05 + 3 * 0.015


def test_a_departing_area_is_still_found():
    rng = np.random.default_rng(5)
    found = 0
    for _ in range(100):
        d, se = _areas(rng, tau=0.015)
        d[0] = 0.1  # ten points: far beyond the shocks
        total = np.sqrt(se**2 + between_area_variance(d, se))
        found += benjamini_hochberg(2 * _sf(np.abs(d / total))).adjusted[0] < 0.05
    assert found >= 95


def test_too_few_areas_and_bad_arguments():
    assert between_area_variance([0.1, -0.1], [0.01, 0.01]) == 0.0
    assert between_area_variance([0.1, np.nan, -0.1, 0.2], [0.01, 0.01, 0.0, 0.01]) == 0.0  # 2 usable


def _sf(x):
    return stats.norm.sf(x)
