"""Two-wave DiD and weighted levels: exact 2x2 arithmetic, reference SEs, and planted-effect recovery."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from evaluering.did.two_wave import two_wave_did
from evaluering.indicators.levels import weighted_levels


def _simulate(rng, effect, n=1500, scale="difference"):
    """Two groups, two periods, unequal weights; a common trend and a planted effect."""
    rows = []
    for group, base in (("d", 0.35), ("comparison", 0.55)):
        for period, trend in ((2021, 0.0), (2024, 0.05)):
            w = rng.uniform(0.5, 3.0, n)
            if scale == "log":
                planted = effect if (group == "d" and period == 2024) else 0
                lam = np.exp(5 + (0.3 if group == "d" else 0) + trend + planted)
                y = rng.poisson(lam, n)
                w = np.ones(n)
            else:
                p = base + trend + (effect if (group == "d" and period == 2024) else 0)
                y = rng.binomial(1, p, n)
            rows.append(pd.DataFrame({"group": group, "period": period, "y": y.astype(float), "weight": w,
                                      "cluster": [f"{group}{period}-{i}" for i in range(n)], "persons": 1}))
    return pd.concat(rows, ignore_index=True)


def _did(units, scale="difference"):
    return two_wave_did(units, indicator="x", district="d", baseline=2021, followup=2024, scale=scale)


def test_estimate_is_the_difference_of_weighted_mean_changes():
    units = _simulate(np.random.default_rng(1), effect=0.04)
    m = units.groupby(["group", "period"]).apply(lambda g: np.average(g["y"], weights=g["weight"]))
    expected = (m["d", 2024] - m["d", 2021]) - (m["comparison", 2024] - m["comparison", 2021])
    assert _did(units).estimate == pytest.approx(expected, abs=1e-12)


def test_standard_error_of_independent_groups_matches_textbook():
    # With independent units the DiD variance is the sum of the four cells' variances of the weighted
    # mean; each is sum(w^2 (y-m)^2)/sum(w)^2 * n/(n-1) (HC1-type linearisation).
    units = _simulate(np.random.default_rng(2), effect=0.0)
    lv = weighted_levels(units)
    n, k = len(units), 4
    textbook = np.sqrt((lv["se"] ** 2).sum() * (n - 1) / (n - k))  # statsmodels' (N-1)/(N-K) factor
    assert _did(units).se == pytest.approx(textbook, rel=1e-3)


def test_weighted_level_se_matches_statsmodels_cluster_robust_intercept():
    rng = np.random.default_rng(3)
    clusters = np.repeat(np.arange(300), 4)
    y = rng.normal(size=clusters.size) + rng.normal(size=300)[clusters]
    w = rng.uniform(1, 4, clusters.size)
    units = pd.DataFrame({"group": "g", "period": 1, "y": y, "weight": w, "cluster": clusters, "persons": 1})
    fit = sm.WLS(y, np.ones_like(y), weights=w).fit(cov_type="cluster", cov_kwds={"groups": clusters})
    lv = weighted_levels(units).iloc[0]
    assert lv["value"] == pytest.approx(fit.params[0])
    assert lv["se"] == pytest.approx(fit.bse[0], rel=1e-10)


@pytest.mark.parametrize("scale,effect", [("difference", 0.05), ("log", 0.2)])
def test_recovers_planted_effect_with_nominal_coverage(scale, effect):
    """Over repeated samples the estimator is unbiased and its 95 % interval covers ~95 % of the time."""
    rng = np.random.default_rng(11)
    reps = 300
    fits = [_did(_simulate(rng, effect, n=600, scale=scale), scale) for _ in range(reps)]
    est = np.array([f.estimate for f in fits])
    cover = np.mean([f.ci_low <= effect <= f.ci_high for f in fits])
    # bias test: mean of the estimates within 4 Monte Carlo standard errors of the truth
    assert abs(est.mean() - effect) < 4 * est.std(ddof=1) / np.sqrt(reps)
    # coverage within 3 binomial standard errors of 0.95 (sd = sqrt(.95*.05/300) = 0.0126)
    assert abs(cover - 0.95) < 3 * np.sqrt(0.95 * 0.05 / reps)
    # the reported SE agrees with the spread of the estimates
    assert np.mean([f.se for f in fits]) == pytest.approx(est.std(ddof=1), rel=0.15)


def test_pre_post_when_there_is_no_comparison_group():
    units = _simulate(np.random.default_rng(5), effect=0.1)
    units = units[units["group"] == "d"]
    fit = _did(units)
    assert fit.design == "pre_post"
    m = units.groupby("period").apply(lambda g: np.average(g["y"], weights=g["weight"]))
    assert fit.estimate == pytest.approx(m[2024] - m[2021])


def test_empty_cell_is_reported():
    units = _simulate(np.random.default_rng(6), effect=0.0)
    units = units[~((units["group"] == "comparison") & (units["period"] == 2024))]
    with pytest.raises(ValueError, match="no data for comparison 2024"):
        _did(units)


def test_missing_column_is_named():
    from evaluering.did.errors import DidError

    units = _simulate(np.random.default_rng(6), effect=0.0).drop(columns="cluster")
    with pytest.raises(DidError, match=r"unit frame: missing column\(s\) 'cluster'"):
        _did(units)


def _saturated_design(units):
    """The district's and comparison's rows and the 2x2 regression's design (before-after without comparison)."""
    rows = units[units["group"].isin(["d", "comparison"])]
    with_comparison = bool((rows["group"] == "comparison").any())
    post = (rows["period"] == 2024).astype(float)
    X = pd.DataFrame({"const": 1.0, "post": post}, index=rows.index)
    if with_comparison:
        X["treated"] = (rows["group"] == "d").astype(float)
        X["treated_post"] = X["treated"] * post
    return rows, X, with_comparison


@pytest.mark.parametrize("seed", range(6))
def test_the_cell_computation_equals_the_clustered_wls_fit(seed):
    """Saturated WLS with statsmodels' cluster-robust SE (its G/(G-1) (N-1)/(N-K) factor), for
    weighted and unweighted frames, persons in both periods, and the before-after design."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(40, 600))
    units = pd.DataFrame({"group": rng.choice(["d", "comparison", "other"], n), "period": rng.choice([2021, 2024], n),
                          "y": rng.normal(size=n) * rng.uniform(0.1, 5) + rng.integers(0, 2, n),
                          "weight": rng.uniform(0.2, 3, n) if seed % 2 else 1.0,
                          "cluster": rng.integers(0, max(3, n // 3), n).astype(str)})
    if seed == 5:  # no comparison group: the district's before-after change
        units = units[units["group"] != "comparison"]
    rows, X, with_comparison = _saturated_design(units)
    fit = sm.WLS(rows["y"], X, weights=rows["weight"]).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(rows["cluster"])[0]})
    term = "treated_post" if with_comparison else "post"
    res = _did(units)
    assert res.design == ("did" if with_comparison else "pre_post")
    assert res.estimate == pytest.approx(fit.params[term], rel=1e-12, abs=1e-12)
    assert res.se == pytest.approx(fit.bse[term], rel=1e-12)


@pytest.mark.parametrize("seed", range(6))
def test_the_log_scale_equals_the_clustered_poisson_glm(seed):
    """The relative change is statsmodels' Poisson GLM (PPML, weights as ``var_weights``) with its
    cluster-robust SE, for weighted and unweighted counts, clusters spanning cells and periods,
    and the before-after design."""
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(60, 800))
    group = rng.choice(["d", "comparison", "other"], n)
    period = rng.choice([2021, 2024], n)
    lam = np.exp(rng.uniform(0, 4) + 0.4 * (group == "d") + 0.2 * (period == 2024) + rng.normal(0, 0.5, n))
    units = pd.DataFrame({"group": group, "period": period, "y": rng.poisson(lam).astype(float),
                          "weight": rng.uniform(0.2, 3, n) if seed % 2 else 1.0,
                          "cluster": rng.integers(0, max(3, n // 4), n).astype(str)})
    if seed == 5:
        units = units[units["group"] != "comparison"]
    rows, X, with_comparison = _saturated_design(units)
    fit = sm.GLM(rows["y"], X, family=sm.families.Poisson(), var_weights=rows["weight"]).fit(
        cov_type="cluster", cov_kwds={"groups": pd.factorize(rows["cluster"])[0]}, tol=1e-13)
    term = "treated_post" if with_comparison else "post"
    res = _did(units, scale="log")
    assert res.design == ("did" if with_comparison else "pre_post")
    assert res.estimate == pytest.approx(fit.params[term], rel=1e-9, abs=1e-11)
    assert res.se == pytest.approx(fit.bse[term], rel=1e-8)


def test_a_cell_without_counts_has_no_relative_change():
    """Not an error (a district report goes on; its shown interval is the counter-year one), and not
    the meaningless number a Poisson fit drifts to (about -29 with an SE of 636 here)."""
    units = _simulate(np.random.default_rng(7), effect=0.0, n=50, scale="log")
    units.loc[(units["group"] == "comparison") & (units["period"] == 2021), "y"] = 0.0
    fit = _did(units, scale="log")
    assert np.isnan([fit.estimate, fit.se, fit.ci_low, fit.ci_high, fit.p_value]).all()
