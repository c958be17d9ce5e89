"""Inference with few treated districts (placebo tests, wild cluster bootstrap) and
multiple-testing adjustment: checked against statsmodels, against the wildboottest package
(reference values below), on constructed cases with known answers, by simulation, and on the
synthetic municipality (size under a true null, power for a planted effect)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from statsmodels.stats.multitest import multipletests

from evaluering.did import two_wave_did
from evaluering.indicators.units import unit_frame
from evaluering.inference import (
    AdjustedPValues,
    InferenceError,
    PlaceboTest,
    UnknownNameError,
    WildBootstrapTest,
    areas_by_district,
    benjamini_hochberg,
    holm,
    placebo_test,
    placebo_test_joint,
    romano_wolf,
    wild_cluster_bootstrap,
    wild_cluster_bootstrap_arrays,
)
from evaluering.inference.randomization import _draw_labels

PRE, POST = [2019, 2020, 2021], [2022, 2023, 2024]  # register years pooled before / after the baseline wave
REGISTER_INDICATORS = ["uddannelse", "arbejdsmarked", "skolefravaer", "kriminalitet"]


def mc_bound(rate: float, n: int, z: float = 2.5) -> float:
    """Nominal rate plus z Monte Carlo standard errors."""
    return rate + z * np.sqrt(rate * (1 - rate) / n)


# --------------------------------------------------------------------------- synthetic data


@pytest.fixture(scope="module")
def district_areas(prepared):
    return areas_by_district(prepared.dataset.areas)


@pytest.fixture(scope="module")
def area_units(prepared, params):
    """Unit frames of four register indicators, 2019-2024, with each row's small area."""
    years = PRE + POST
    reg = prepared.register.loc[prepared.register["year"].isin(years), ["person_id", "year", "area_id"]]
    frames = {}
    for key in REGISTER_INDICATORS:
        units = unit_frame(prepared, params.indicator(key), years)
        frames[key] = units.merge(reg, left_on=["cluster", "period"], right_on=["person_id", "year"],
                                  how="left", validate="one_to_one")
        assert frames[key]["area_id"].notna().all()
    return frames


@pytest.fixture(scope="module")
def area_year(area_units):
    """The same, aggregated to area x year means with the number of persons as weight."""
    return {key: units.groupby(["area_id", "period"], as_index=False).agg(y=("y", "mean"), n=("weight", "sum"))
            for key, units in area_units.items()}


def test_placebo_estimate_is_the_did_of_the_package(area_units, area_year, district_areas):
    """The placebo test's statistic equals two_wave_did and the WLS interaction, from unit rows
    or from area x year means weighted by persons."""
    by_district, comparison = district_areas
    units = area_units["uddannelse"]
    areas = by_district["hoeje-gladsaxe"]
    did = two_wave_did(units, indicator="uddannelse", district="hoeje-gladsaxe", baseline=2021, followup=2024)
    res = placebo_test(units, "y", "area_id", "period", areas, 2021, 2024, weights="weight",
                       comparison_areas=comparison, n_draws=49, seed=1)
    agg = placebo_test(area_year["uddannelse"], "y", "area_id", "period", areas, 2021, 2024, weights="n",
                       comparison_areas=comparison, n_draws=49, seed=1)
    assert res.estimate == pytest.approx(did.estimate, abs=1e-12)
    assert agg.estimate == pytest.approx(did.estimate, abs=1e-12)
    np.testing.assert_allclose(agg.placebo, res.placebo, atol=1e-12)  # same seed, same pool -> same draws

    rows = units[units["area_id"].isin(areas + comparison)].assign(
        treat=lambda f: f["area_id"].isin(areas).astype(float), post=lambda f: f["period"].isin(POST).astype(float))
    pooled = placebo_test(units, "y", "area_id", "period", areas, PRE, POST, comparison_areas=comparison,
                          n_draws=49, seed=1)
    wcb = wild_cluster_bootstrap(rows, "y ~ treat * post", "treat:post", "area_id", weights="weight",
                                 n_boot=99, seed=1, invert_test=False)
    assert wcb.estimate == pytest.approx(pooled.estimate, abs=1e-12)
    assert wcb.n_clusters == len(areas) + len(comparison) and wcb.n_treated_clusters == len(areas)


def test_placebo_p_value_interval_and_result(area_year, district_areas):
    by_district, comparison = district_areas
    res = placebo_test(area_year["arbejdsmarked"], "y", "area_id", "period", by_district["moerkhoej"], PRE, POST,
                       district="moerkhoej", comparison_areas=comparison, weights="n", n_draws=199, seed=5)
    assert isinstance(res, PlaceboTest) and res.placebo.shape == (199,)
    assert res.p_value == (1 + np.sum(np.abs(res.placebo) >= abs(res.estimate))) / 200
    q = np.quantile(res.placebo, [0.025, 0.975])
    assert (res.ci_low, res.ci_high) == pytest.approx((res.estimate - q[1], res.estimate - q[0]))
    assert res.se == pytest.approx(np.std(res.placebo, ddof=1))
    assert res.n_pool_areas == len(comparison) and res.pseudo_sizes == (3,)
    assert (res.baseline, res.followup) == ("2019-2021", "2022-2024")
    again = placebo_test(area_year["arbejdsmarked"], "y", "area_id", "period", by_district["moerkhoej"], PRE, POST,
                         comparison_areas=comparison, weights="n", n_draws=199, seed=5)
    np.testing.assert_array_equal(again.placebo, res.placebo)
    assert "moerkhoej" in res.summary() and "<table" in res._repr_html_()
    assert res.to_frame().shape[0] == 1
    bigger = placebo_test(area_year["arbejdsmarked"], "y", "area_id", "period", by_district["moerkhoej"], PRE, POST,
                          comparison_areas=comparison, weights="n", n_draws=199, seed=5, pseudo_size=10)
    assert bigger.estimate == res.estimate and bigger.se < res.se  # bigger pseudo-districts vary less


def test_placebo_rejects_a_true_null_at_most_5_percent(area_year, district_areas):
    """Comparison areas made into fake districts (no effect planted there): over many fake
    districts, single and joint tests reject at most 5 % + Monte Carlo error."""
    _, comparison = district_areas
    rng = np.random.default_rng(20240)
    single, joint = [], []
    for key in REGISTER_INDICATORS:
        frame = area_year[key]
        for r in range(120):
            fake = list(rng.choice(comparison, size=(5, 4, 3)[r % 3], replace=False))
            rest = [a for a in comparison if a not in fake]
            periods = (PRE, POST) if r % 2 else (2021, 2024)
            res = placebo_test(frame, "y", "area_id", "period", fake, *periods, comparison_areas=rest, weights="n",
                               n_draws=199, seed=rng, match_population=r % 4 == 1)
            single.append(res.p_value <= 0.05)
        for _ in range(60):
            order = list(rng.permutation(comparison))
            fake = {"a": order[:5], "b": order[5:9], "c": order[9:12]}
            res = placebo_test_joint(frame, "y", "area_id", "period", fake, PRE, POST, comparison_areas=order[12:],
                                     weights="n", n_draws=199, seed=rng)
            joint.append(res.p_value <= 0.05)
    assert np.mean(single) <= mc_bound(0.05, len(single)), np.mean(single)
    assert np.mean(joint) <= mc_bound(0.05, len(joint)), np.mean(joint)
    assert np.mean(single) >= 0.01  # not a test that never rejects


def test_placebo_detects_the_planted_education_effect(area_year, district_areas, truth):
    """Indicator 1 (18-29-year-olds in education): +5 points planted in Høje Gladsaxe."""
    by_district, comparison = district_areas
    planted = truth["effects"]["hoeje-gladsaxe"]["uddannelse"]["value"]
    assert planted >= 0.05
    frame = area_year["uddannelse"]
    res = placebo_test(frame, "y", "area_id", "period", by_district["hoeje-gladsaxe"], PRE, POST,
                       comparison_areas=comparison, weights="n", n_draws=999, seed=3)
    assert res.p_value <= 0.05
    assert res.ci_low > 0 and res.ci_low <= planted <= res.ci_high
    joint = placebo_test_joint(frame, "y", "area_id", "period", by_district, PRE, POST,
                               comparison_areas=comparison, weights="n", n_draws=999, seed=3)
    mean_planted = np.mean([truth["effects"][d]["uddannelse"]["value"] for d in by_district])
    assert joint.p_value <= 0.05 and joint.ci_low <= mean_planted <= joint.ci_high
    assert joint.estimate == pytest.approx(np.mean(joint.district_estimates))
    matched = placebo_test(frame, "y", "area_id", "period", by_district["hoeje-gladsaxe"], PRE, POST,
                           comparison_areas=comparison, weights="n", n_draws=999, seed=3, match_population=True)
    assert matched.p_value <= 0.05 and matched.match == "population"


def test_population_matched_pseudo_districts_are_close_in_size():
    pop = np.linspace(300, 1100, 60)
    labels = _draw_labels(np.random.default_rng(0), 200, pop, [5, 4, 3], [4000.0, 3000.0, 2500.0])
    for j, target in enumerate([4000.0, 3000.0, 2500.0], start=1):
        sizes = (labels == j) @ pop
        assert np.all(np.abs(sizes - target) <= pop.max() / 2 + 1e-9)
    assert np.all(labels.max(axis=1) == 3) and np.all((labels == 0).sum(axis=1) >= 1)


def _toy_frame(n_areas=8):
    rng = np.random.default_rng(1)
    areas = [f"A{i}" for i in range(n_areas)]
    frame = pd.DataFrame([(a, p, rng.normal()) for a in areas for p in (2021, 2024) for _ in range(5)],
                         columns=["area", "year", "y"])
    return frame, areas


def test_placebo_errors():
    frame, areas = _toy_frame()
    with pytest.raises(ValueError, match="need at least 6 comparison areas"):
        placebo_test(frame, "y", "area", "year", areas[:3], 2021, 2024, comparison_areas=areas[3:], pseudo_size=5)
    with pytest.raises(ValueError, match="need at least 7 comparison areas"):
        placebo_test_joint(frame, "y", "area", "year", {"a": areas[:3], "b": areas[3:6]}, 2021, 2024,
                           comparison_areas=areas[6:])
    with pytest.raises(ValueError, match="missing values in 'y'"):
        placebo_test(frame.assign(y=frame["y"].where(frame.index != 3)), "y", "area", "year", areas[:1], 2021, 2024)
    with pytest.raises(ValueError, match="missing values in 'area'"):
        placebo_test(frame.assign(area=frame["area"].where(frame.index != 3)), "y", "area", "year", areas[:1],
                     2021, 2024)
    with pytest.raises(ValueError, match="both treated and comparison"):
        placebo_test(frame, "y", "area", "year", areas[:2], 2021, 2024, comparison_areas=areas[1:])
    with pytest.raises(ValueError, match="without 'y' data"):
        placebo_test(frame[~((frame["area"] == "A5") & (frame["year"] == 2024))], "y", "area", "year", areas[:1],
                     2021, 2024)
    with pytest.warns(UserWarning, match="distinct sets"):
        placebo_test(frame, "y", "area", "year", areas[:1], 2021, 2024, n_draws=19, seed=1)
    with pytest.raises(InferenceError, match="pseudo_size"):
        placebo_test(frame, "y", "area", "year", areas[:1], 2021, 2024, pseudo_size=2, match_population=True)
    with pytest.raises(UnknownNameError, match="missing column.*'nope'") as caught:
        placebo_test(frame, "nope", "area", "year", areas[:1], 2021, 2024)
    assert isinstance(caught.value, KeyError)


def test_single_district_test_is_the_joint_test_of_one_district():
    frame, areas = _toy_frame(12)
    single = placebo_test(frame, "y", "area", "year", areas[:2], 2021, 2024, district="a", pseudo_size=3,
                          n_draws=99, seed=4)
    joint = placebo_test_joint(frame, "y", "area", "year", {"a": areas[:2]}, 2021, 2024, pseudo_sizes=[3],
                               n_draws=99, seed=4)
    np.testing.assert_array_equal(single.placebo, joint.placebo)
    assert (single.estimate, single.p_value, single.ci_low, single.ci_high) == (
        joint.estimate, joint.p_value, joint.ci_low, joint.ci_high)
    assert single.pseudo_sizes == (3,) and "pseudo-districts" in single.summary()


# --------------------------------------------------------------------------- wild cluster bootstrap


def _lcg(n: int, seed: int) -> np.ndarray:
    """Deterministic uniforms (no RNG version dependence), shared with the wildboottest run."""
    x, out = seed, np.empty(n)
    for i in range(n):
        x = (1103515245 * x + 12345) % 2**31
        out[i] = x / 2**31
    return out


def validation_data(n_clusters: int = 10, treated: int = 3) -> pd.DataFrame:
    sizes = [8 + (7 * g) % 11 for g in range(n_clusters)]
    cluster = np.repeat(np.arange(n_clusters), sizes)
    n = len(cluster)
    u = _lcg(4 * n + n_clusters, 2019)
    x1 = u[:n] - 0.5
    post = (np.arange(n) % 2).astype(float)
    treat = (cluster < treated).astype(float)
    effect = u[4 * n:][cluster] - 0.5
    noise = u[n:2 * n] + u[2 * n:3 * n] - 1.0
    y = 1 + 0.5 * x1 + 0.3 * post + 0.4 * effect + 0.05 * treat * post + noise
    w = 0.5 + u[3 * n:4 * n]
    return pd.DataFrame({"y": y, "x1": x1, "post": post, "treat": treat, "treat_post": treat * post,
                         "cluster": cluster, "w": w})


# wildboottest 0.3.2 (PyPI), WildboottestCL with bootstrap_type "11", Rademacher weights,
# B = 99999 so 2^G < B: full enumeration. It ignores regression weights, so it was given the
# rows of validation_data(G, T) scaled by sqrt(w), and R selecting treat_post in
# [const, x1, post, treat, treat_post]. Values: (t statistic, its p-value (counts |t*| > |t|),
# number of draws, #{|t*| >= |t|} from its t_boot, quantiles 0.5/0.9/0.95/0.99 of its |t*|).
WILDBOOTTEST = {
    (10, 3, True): (1.2338483967940668, 0.388671875, 1024, 400,
                    (0.991057140954, 2.738670215442, 3.254028345548, 4.313480207639)),
    (10, 3, False): (1.2338483967940668, 0.365234375, 1024, 374,
                     (0.776103442636, 2.18698807121, 2.529254804515, 2.821570411735)),
    (12, 2, True): (2.838035903272455, 0.15185546875, 4096, 624,
                    (0.885356771575, 3.16188511307, 3.646009015281, 4.633067003881)),
    (12, 2, False): (2.838035903272455, 0.01708984375, 4096, 70,
                     (0.730047292796, 1.85007615625, 2.24335733759, 3.082509945763)),
    (8, 4, True): (0.24173135373007484, 0.8046875, 256, 208,
                   (0.767627928325, 1.992473887404, 2.469068537466, 3.257295217811)),
    (8, 4, False): (0.24173135373007484, 0.828125, 256, 212,
                    (0.811095909979, 2.005012494175, 2.688870749099, 3.419474020367)),
}
FORMULA = "y ~ x1 + post + treat + treat_post"


@pytest.mark.parametrize("key", list(WILDBOOTTEST), ids=lambda k: f"G{k[0]}-T{k[1]}-{'WCR' if k[2] else 'WCU'}")
def test_full_enumeration_matches_wildboottest(key):
    n_clusters, treated, impose_null = key
    t_ref, p_strict, n_boot, n_ge, quantiles = WILDBOOTTEST[key]
    df = validation_data(n_clusters, treated)
    res = wild_cluster_bootstrap(df, FORMULA, "treat_post", "cluster", weights="w", impose_null=impose_null,
                                 n_boot=99999, seed=None)
    fit = sm.WLS(df["y"], sm.add_constant(df[["x1", "post", "treat", "treat_post"]]), weights=df["w"]).fit(
        cov_type="cluster", cov_kwds={"groups": df["cluster"]})
    assert res.t_stat == pytest.approx(fit.tvalues["treat_post"], rel=1e-12)
    assert res.se == pytest.approx(fit.bse["treat_post"], rel=1e-12)
    assert res.estimate == pytest.approx(fit.params["treat_post"], rel=1e-12)
    assert res.t_stat == pytest.approx(t_ref, rel=1e-12)
    assert res.full_enumeration and res.n_boot == n_boot
    abs_t = np.abs(res.t_boot)
    np.testing.assert_allclose(np.quantile(abs_t, [0.5, 0.9, 0.95, 0.99]), quantiles, rtol=1e-10)
    assert res.p_value == n_ge / n_boot  # ties count against rejection
    assert np.mean(abs_t > abs(res.t_stat) * (1 + 1e-9)) == p_strict  # wildboottest's convention


def test_non_zero_null_is_the_zero_null_of_a_shifted_outcome():
    """H0: b = 0.3 on y is H0: b = 0 on y - 0.3 x: the closed form in the null value used for
    the interval must give the same bootstrap t-statistics as refitting."""
    df = validation_data(10, 3)
    for impose_null in (True, False):
        shifted = wild_cluster_bootstrap(df, FORMULA, "treat_post", "cluster", weights="w", null=0.3,
                                         impose_null=impose_null, invert_test=False)
        refit = wild_cluster_bootstrap(df.assign(y=df["y"] - 0.3 * df["treat_post"]), FORMULA, "treat_post",
                                       "cluster", weights="w", impose_null=impose_null, invert_test=False)
        assert shifted.t_stat == pytest.approx(refit.t_stat, rel=1e-10)
        np.testing.assert_allclose(shifted.t_boot, refit.t_boot, rtol=1e-8, atol=1e-10)
        assert shifted.p_value == refit.p_value


def test_interval_inverts_the_bootstrap_test():
    df = validation_data(10, 3)
    for impose_null in (True, False):
        res = wild_cluster_bootstrap(df, FORMULA, "treat_post", "cluster", weights="w", impose_null=impose_null,
                                     n_boot=99999)
        assert res.ci_low < res.estimate < res.ci_high
        eps = 1e-6 * res.se
        for bound, outward in ((res.ci_low, -eps), (res.ci_high, eps)):
            p_in = wild_cluster_bootstrap(df, FORMULA, "treat_post", "cluster", weights="w", null=bound - outward,
                                          impose_null=impose_null, n_boot=99999, invert_test=False).p_value
            p_out = wild_cluster_bootstrap(df, FORMULA, "treat_post", "cluster", weights="w", null=bound + outward,
                                           impose_null=impose_null, n_boot=99999, invert_test=False).p_value
            assert p_in > 0.05 >= p_out
        if not impose_null:  # symmetric percentile-t: estimate -/+ a bootstrap quantile of |t*| times se
            assert res.estimate - res.ci_low == pytest.approx(res.ci_high - res.estimate, rel=1e-8)


def test_arrays_formula_weights_and_seed():
    df = validation_data(12, 4)
    X = sm.add_constant(df[["x1", "post", "treat", "treat_post"]])
    a = wild_cluster_bootstrap_arrays(df["y"], X, "treat_post", df["cluster"], weights=df["w"], distribution="webb",
                                      n_boot=999, seed=7)
    b = wild_cluster_bootstrap(df, FORMULA, "treat_post", "cluster", weights="w", distribution="webb",
                               n_boot=999, seed=7)
    assert isinstance(a, WildBootstrapTest) and not a.full_enumeration and a.n_boot == 999
    np.testing.assert_allclose(a.t_boot, b.t_boot, rtol=1e-10)
    assert (a.p_value, a.ci_low, a.ci_high) == pytest.approx((b.p_value, b.ci_low, b.ci_high), rel=1e-8)
    unweighted = wild_cluster_bootstrap(df, FORMULA, "treat_post", "cluster", n_boot=999, seed=7, invert_test=False)
    ols = sm.OLS(df["y"], X).fit(cov_type="cluster", cov_kwds={"groups": df["cluster"]})
    assert unweighted.t_stat == pytest.approx(ols.tvalues["treat_post"], rel=1e-12)
    assert "WCR" in a.summary() and "<table" in a._repr_html_() and a.to_frame().shape[0] == 1


def _did_sample(rng, n_clusters=20, treated=3, n=30, effect=0.0):
    """Two-period DiD data: cluster effects, cluster x period shocks, unit noise."""
    area = np.repeat(np.arange(n_clusters), 2 * n)
    post = np.tile(np.r_[np.zeros(n), np.ones(n)], n_clusters)
    treat = (area < treated).astype(float)
    shock = 0.5 * rng.normal(size=(n_clusters, 2))
    y = (rng.normal(size=n_clusters)[area] + 0.2 * post + shock[area, post.astype(int)]
         + rng.normal(size=len(area)) + effect * treat * post)
    return y, np.c_[np.ones_like(post), treat, post, treat * post], area


def test_wcr_size_with_three_treated_clusters_and_power():
    """3 of 20 clusters treated, true null: CRV1 t-tests over-reject, the WCR does not; a
    planted effect is detected."""
    rng = np.random.default_rng(1)
    reps = 400
    wcr, crv1 = [], []
    for _ in range(reps):
        y, X, area = _did_sample(rng)
        res = wild_cluster_bootstrap_arrays(y, X, 3, area, n_boot=399, seed=rng, distribution="webb", invert_test=False)
        wcr.append(res.p_value <= 0.05)
        crv1.append(res.p_value_crv1 <= 0.05)
    assert np.mean(wcr) <= 0.08, np.mean(wcr)
    assert np.mean(crv1) >= 0.10  # the problem the bootstrap solves
    power = []
    for _ in range(100):
        y, X, area = _did_sample(rng, effect=1.5)
        res = wild_cluster_bootstrap_arrays(y, X, 3, area, n_boot=399, seed=rng, distribution="webb", invert_test=False)
        power.append(res.p_value <= 0.05)
    assert np.mean(power) >= 0.5, np.mean(power)


def test_wild_bootstrap_errors():
    df = validation_data(10, 3)
    with pytest.raises(ValueError, match="one comparison cluster"):
        wild_cluster_bootstrap(df.assign(treat_post=(df["cluster"] > 0) * df["post"]), FORMULA, "treat_post",
                               "cluster")
    with pytest.raises(ValueError, match="single cluster"):
        wild_cluster_bootstrap(df.assign(cluster=1), "y ~ x1", "x1", "cluster")
    with pytest.raises(ValueError, match="missing values"):
        wild_cluster_bootstrap(df.assign(y=df["y"].where(df.index != 4)), FORMULA, "treat_post", "cluster")
    with pytest.raises(ValueError, match="missing values"):
        wild_cluster_bootstrap(df.assign(cluster=df["cluster"].where(df.index != 4)), FORMULA, "treat_post",
                               "cluster")
    with pytest.raises(ValueError, match="missing or non-finite"):
        wild_cluster_bootstrap_arrays(np.r_[np.nan, df["y"].to_numpy()[1:]], df[["x1"]], 0, df["cluster"])
    with pytest.raises(ValueError, match="only possible with Rademacher"):
        wild_cluster_bootstrap(df, FORMULA, "treat_post", "cluster", distribution="webb", full_enumeration=True)
    with pytest.raises(KeyError, match="not in the model"):
        wild_cluster_bootstrap(df, FORMULA, "nope", "cluster")
    with pytest.warns(UserWarning, match="one treated cluster"):
        wild_cluster_bootstrap(validation_data(10, 1), FORMULA, "treat_post", "cluster", invert_test=False)


# --------------------------------------------------------------------------- multiple testing


def test_holm_and_bh_equal_statsmodels():
    rng = np.random.default_rng(3)
    for _ in range(12):  # (statsmodels' holm calls gc.collect(): slow with the data loaded)
        p = rng.uniform(size=rng.integers(1, 25)) ** 2
        if p.size > 3:
            p[1] = p[2]  # a tie
        for ours, method in ((holm, "holm"), (benjamini_hochberg, "fdr_bh")):
            res = ours(p)
            reject, adjusted, *_ = multipletests(p, alpha=0.05, method=method)
            np.testing.assert_allclose(res.adjusted, adjusted, rtol=0, atol=1e-15)
            np.testing.assert_array_equal(res.reject(), reject)
    named = holm(pd.Series({"uddannelse": 0.01, "arbejdsmarked": 0.04, "kriminalitet": 0.03}))
    assert isinstance(named, AdjustedPValues) and named.names == ("uddannelse", "arbejdsmarked", "kriminalitet")
    assert named.p_adjusted == pytest.approx((0.03, 0.06, 0.06))
    assert "Holm" in named.summary() and "<table" in named._repr_html_()


def test_romano_wolf_independent_statistics_is_holm_sidak():
    rng = np.random.default_rng(4)
    t = np.array([2.5, -2.0, 1.5, 0.5])
    res = romano_wolf(t, rng.standard_normal((200_000, 4)))
    expected = multipletests(np.array(res.p_values), method="holm-sidak")[1]
    np.testing.assert_allclose(res.adjusted, expected, atol=0.004)


def test_romano_wolf_identical_statistics_is_the_single_test():
    one = np.random.default_rng(5).standard_normal(9999)
    t = np.array([2.5, -2.0, 1.5, 0.5])
    res = romano_wolf(t, np.repeat(one[:, None], 4, axis=1))
    single = [(1 + np.sum(np.abs(one) >= abs(v))) / 10000 for v in t]
    assert res.p_adjusted == tuple(single) == res.p_values


def test_romano_wolf_step_down_by_hand():
    """Two hypotheses, the first with a wide bootstrap distribution: its step-one p-value uses
    the max of both columns, the second's step-two p-value only its own column and is then
    raised to the first's (adjusted p-values never fall along the step-down order)."""
    rng = np.random.default_rng(8)
    boot = np.column_stack([3 * rng.standard_normal(999), rng.standard_normal(999)])
    t = np.array([3.0, 2.9])
    res = romano_wolf(t, boot, names=["wide", "narrow"])
    first = (1 + np.sum(np.abs(boot).max(axis=1) >= 3.0)) / 1000
    second = (1 + np.sum(np.abs(boot[:, 1]) >= 2.9)) / 1000
    assert second < first
    assert res.p_adjusted == (first, first)
    assert res.p_values == ((1 + np.sum(np.abs(boot[:, 0]) >= 3.0)) / 1000, second)
    res = romano_wolf([2.9, 3.0], boot[:, ::-1])  # order of the input does not matter
    assert res.p_adjusted == (first, first)


def test_romano_wolf_family_wise_error_rate():
    """All nulls true, five correlated statistics: FWER <= 5 % (+ Monte Carlo error), and
    with strong correlation Romano-Wolf rejects more often than Holm (less conservative)."""
    rng = np.random.default_rng(6)
    reps, n_stats, n_boot = 2000, 5, 499
    for rho in (0.0, 0.5, 0.9):
        chol = np.linalg.cholesky(np.full((n_stats, n_stats), rho) + (1 - rho) * np.eye(n_stats))
        rw = hm = 0
        for _ in range(reps):
            z = rng.standard_normal((n_boot + 1, n_stats)) @ chol.T
            res = romano_wolf(z[0], z[1:])
            rw += res.reject().any()
            hm += holm(res.p_values).reject().any()
        assert rw / reps <= mc_bound(0.05, reps), (rho, rw / reps)
        if rho == 0.9:
            assert rw > 1.5 * hm


def test_romano_wolf_with_shared_wild_bootstrap_draws():
    """Several outcomes, same clusters and seed: the bootstrap draws are shared, so the
    t* columns form a joint distribution; adjusted p-values are at least the single ones."""
    df = validation_data(12, 4)
    outcomes = {"y": df["y"], "y2": df["y"] + df["x1"], "y3": df["x1"] * 0.3 + df["post"]}
    results = [wild_cluster_bootstrap(df.assign(y=v), FORMULA, "treat_post", "cluster", distribution="webb",
                                      n_boot=999, seed=11, invert_test=False) for v in outcomes.values()]
    adjusted = romano_wolf([r.t_stat for r in results], np.column_stack([r.t_boot for r in results]),
                           names=list(outcomes))
    assert np.all(adjusted.adjusted >= np.array(adjusted.p_values) - 1e-12)
    assert adjusted.names == ("y", "y2", "y3") and adjusted.n_boot == 999


def test_multiple_testing_errors():
    with pytest.raises(ValueError, match="missing p-values"):
        holm([0.01, np.nan])
    with pytest.raises(ValueError, match="between 0 and 1"):
        benjamini_hochberg([0.01, 1.2])
    with pytest.raises(ValueError, match="B x 3"):
        romano_wolf([1.0, 2.0, 3.0], np.zeros((10, 2)))
    with pytest.raises(ValueError, match="non-finite"):
        romano_wolf([1.0, 2.0], np.full((10, 2), np.nan))
