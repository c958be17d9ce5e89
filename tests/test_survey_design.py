"""SurveyDesign: exact properties of the weighting steps, bad input, and a coverage simulation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from evaluering.survey import ConvergenceError, SurveyDesign, SurveyError

DATA = Path(__file__).parent / "data"
POP_TYPES = {"E": 4421, "H": 755, "M": 1018}
POP_SCHWIDE = {"No": 1072, "Yes": 5122}


@pytest.fixture(scope="module")
def apiclus1() -> pd.DataFrame:
    return pd.read_csv(DATA / "apiclus1.csv")


@pytest.fixture(scope="module")
def dclus1(apiclus1) -> SurveyDesign:
    return SurveyDesign(apiclus1, weights="pw", cluster="dnum", fpc="fpc")


def _margin_totals(design: SurveyDesign, variable: str) -> pd.Series:
    return design.weights.groupby(design.data[variable].astype(str)).sum()


# --- exact properties ------------------------------------------------------------------------------


def test_raked_weights_reproduce_every_margin(dclus1):
    raked = dclus1.rake({"stype": POP_TYPES, "sch.wide": POP_SCHWIDE})
    for variable, totals in (("stype", POP_TYPES), ("sch.wide", POP_SCHWIDE)):
        got = _margin_totals(raked, variable)
        for category, total in totals.items():
            assert abs(got[category] / total - 1) < 1e-8


@pytest.mark.parametrize("method,bounds", [("linear", None), ("raking", None), ("logit", (0.5, 2.0))])
def test_calibrated_weights_hit_the_totals(dclus1, method, bounds):
    totals = {"stype": POP_TYPES, "api99": 3914069.0}
    cal = dclus1.calibrate(totals, method=method, bounds=bounds)
    got = _margin_totals(cal, "stype")
    assert all(abs(got[k] / v - 1) < 1e-8 for k, v in POP_TYPES.items())
    assert abs((cal.weights * cal.data["api99"]).sum() / 3914069.0 - 1) < 1e-8
    if bounds:
        g = cal.weights / dclus1.weights
        assert g.min() >= bounds[0] - 1e-9 and g.max() <= bounds[1] + 1e-9


@pytest.mark.parametrize("method", ["linear", "raking", "logit"])
def test_calibration_to_own_totals_leaves_weights_unchanged(dclus1, method):
    own = _margin_totals(dclus1, "stype").to_dict()
    own_api = float((dclus1.weights * dclus1.data["api99"]).sum())
    cal = dclus1.calibrate({"stype": own, "api99": own_api}, method=method, bounds=(0.5, 2.0))
    np.testing.assert_allclose(cal.weights, dclus1.weights, rtol=1e-10)


def test_raking_equals_raking_calibration(dclus1):
    """IPF and exponential calibration solve the same problem (Deville, Sarndal & Sautory 1993)."""
    raked = dclus1.rake({"stype": POP_TYPES, "sch.wide": POP_SCHWIDE})
    cal = dclus1.calibrate({"stype": POP_TYPES, "sch.wide": POP_SCHWIDE}, method="raking")
    np.testing.assert_allclose(raked.weights, cal.weights, rtol=1e-8)


def test_poststratification_hits_totals_and_is_one_margin_raking(dclus1):
    ps = dclus1.poststratify("stype", POP_TYPES)
    raked = dclus1.rake({"stype": POP_TYPES})
    np.testing.assert_allclose(ps.weights, raked.weights, rtol=1e-12)
    assert ps.mean("api00").se == pytest.approx(raked.mean("api00").se, rel=1e-10)


def test_trimming_caps_weights_and_keeps_the_total(dclus1):
    raked = dclus1.rake({"stype": POP_TYPES, "sch.wide": POP_SCHWIDE})
    cap = float(raked.weights.quantile(0.9))
    trimmed = raked.trim(upper=cap)
    assert trimmed.weights.max() <= cap * (1 + 1e-9)
    assert trimmed.weights.sum() == pytest.approx(raked.weights.sum(), rel=1e-10)


def test_domain_mean_is_the_mean_within_the_domain(dclus1):
    by = dclus1.mean("api00", by="stype")
    for stype in POP_TYPES:
        rows = dclus1.data["stype"] == stype
        expected = np.average(dclus1.data.loc[rows, "api00"], weights=dclus1.weights[rows])
        assert by[f"api00 | stype={stype}"].estimate == pytest.approx(expected)
    # domain totals add up to the overall total, and so do their influence-based variances' inputs
    totals = dclus1.total("enroll", by="stype")
    assert totals.estimate.sum() == pytest.approx(dclus1.total("enroll").estimate)


def test_proportions_sum_to_one(dclus1):
    shares = dclus1.proportion("stype")
    assert shares.estimate.sum() == pytest.approx(1.0)
    assert len(shares) == 3


def test_linear_regression_matches_cluster_robust_wls(apiclus1):
    """With clusters and no strata/fpc, the design-based sandwich is the cluster-robust WLS one."""
    design = SurveyDesign(apiclus1, weights="pw", cluster="dnum")
    fit = design.regression("api00", ["ell", "meals", "mobility"])
    X = sm.add_constant(apiclus1[["ell", "meals", "mobility"]])
    ref = sm.WLS(apiclus1["api00"], X, weights=apiclus1["pw"]).fit(
        cov_type="cluster", cov_kwds={"groups": apiclus1["dnum"], "use_correction": False})
    np.testing.assert_allclose(fit.estimate.to_numpy(), ref.params.to_numpy(), rtol=1e-8)
    G = apiclus1["dnum"].nunique()
    np.testing.assert_allclose(fit.se.to_numpy(), ref.bse.to_numpy() * np.sqrt(G / (G - 1)), rtol=1e-6)


def test_logistic_regression_estimates_match_weighted_glm(apiclus1):
    design = SurveyDesign(apiclus1, weights="pw", cluster="dnum")
    data = apiclus1.assign(high=(apiclus1["api00"] > 650).astype(float))
    fit = SurveyDesign(data, weights="pw", cluster="dnum").regression("high", ["meals"], family="binomial")
    ref = sm.GLM(data["high"], sm.add_constant(data[["meals"]]), family=sm.families.Binomial(),
                 var_weights=data["pw"]).fit()
    np.testing.assert_allclose(fit.estimate.to_numpy(), ref.params.to_numpy(), rtol=1e-6)
    assert (fit.se > 0).all() and design is not None


def test_replicates_re_apply_the_weighting_steps(dclus1):
    raked = dclus1.rake({"stype": POP_TYPES, "sch.wide": POP_SCHWIDE})
    rep = raked.replicate("jk1")
    # every replicate is raked too: each reproduces the population margins
    for r in range(rep.replicate_weights.shape[1]):
        got = pd.Series(rep.replicate_weights[:, r]).groupby(rep.data["stype"]).sum()
        assert all(abs(got[k] / v - 1) < 1e-8 for k, v in POP_TYPES.items())
    # so the jackknife SE of a calibrated total is far below that of the uncalibrated design
    assert rep.total("enroll").se < 0.6 * dclus1.replicate("jk1").total("enroll").se


def test_bootstrap_is_reproducible_and_close_to_linearisation(dclus1):
    a = dclus1.replicate("bootstrap", replicates=400, seed=3).mean("api00")
    b = dclus1.replicate("bootstrap", replicates=400, seed=3).mean("api00")
    assert a.se == b.se
    # 400 bootstrap replicates estimate the SE within roughly 1/sqrt(2*400) = 3.5 % (x 3 for safety)
    assert a.se == pytest.approx(dclus1.mean("api00").se / np.sqrt(1 - 15 / 757), rel=0.15)


# --- bad input -------------------------------------------------------------------------------------


@pytest.mark.parametrize("bad,word", [(-1.0, "negative"), (0.0, "zero"), (np.nan, "missing")])
def test_bad_weights_are_refused(apiclus1, bad, word):
    data = apiclus1.copy()
    data.loc[[3, 7], "pw"] = bad
    with pytest.raises(SurveyError, match=rf"'pw' has 2 {word}.*first rows \[3, 7\]"):
        SurveyDesign(data, weights="pw", cluster="dnum")


def test_missing_columns_are_named(apiclus1, dclus1):
    with pytest.raises(SurveyError, match=r"survey data \(design\): missing column\(s\) 'district'"):
        SurveyDesign(apiclus1, weights="pw", cluster="district")
    with pytest.raises(SurveyError, match=r"missing column\(s\) 'api01'"):
        dclus1.mean(["api00", "api01"])
    with pytest.raises(SurveyError, match=r"raking: missing column\(s\) 'region'"):
        dclus1.rake({"region": {"N": 6194}})


def test_margins_whose_totals_disagree(dclus1):
    with pytest.raises(SurveyError, match="margins disagree on the population total"):
        dclus1.rake({"stype": POP_TYPES, "sch.wide": {"No": 1072, "Yes": 5000}})


def test_category_in_sample_but_not_in_margins(dclus1):
    with pytest.raises(SurveyError, match=r"categories \['M'\] of 'stype' are in the sample but not"):
        dclus1.rake({"stype": {"E": 4421, "H": 755}})


def test_category_in_margins_but_not_in_sample(dclus1):
    with pytest.raises(SurveyError, match=r"categories \['X'\] of 'stype' have population totals but no"):
        dclus1.poststratify("stype", {**POP_TYPES, "X": 10})


def test_empty_weighting_class():
    data = pd.DataFrame({"w": [2.0] * 6, "cls": list("aabbcc"), "resp": [1, 0, 1, 1, 0, 0]})
    with pytest.raises(SurveyError, match=r"weighting classes without respondents: \[\{'cls': 'c'\}\]"):
        SurveyDesign(data, weights="w").adjust_nonresponse("resp", classes=["cls"])


def test_non_convergence_names_the_margin(dclus1):
    with pytest.raises(ConvergenceError, match="margin '(stype|sch.wide)'"):
        dclus1.rake({"stype": POP_TYPES, "sch.wide": POP_SCHWIDE}, max_iter=1)
    with pytest.raises(ConvergenceError, match="bounds too tight"):
        dclus1.calibrate({"stype": POP_TYPES, "sch.wide": POP_SCHWIDE}, method="logit", bounds=(0.99, 1.01))


def test_lonely_psu_options(apiclus1):
    data = apiclus1.assign(stratum=np.where(apiclus1["dnum"] == apiclus1["dnum"].iloc[0], "lone", "rest"))
    with pytest.raises(SurveyError, match=r"strata \['lone'\] have a single PSU"):
        SurveyDesign(data, weights="pw", strata="stratum", cluster="dnum").mean("api00")
    certain = SurveyDesign(data, weights="pw", strata="stratum", cluster="dnum", lonely_psu="certainty")
    adjusted = SurveyDesign(data, weights="pw", strata="stratum", cluster="dnum", lonely_psu="adjust")
    assert adjusted.mean("api00").se > certain.mean("api00").se > 0


# --- coverage on the synthetic population ----------------------------------------------------------


def test_intervals_cover_the_population_mean_at_the_nominal_rate(prepared):
    """Stratified samples (districts, rest) from the synthetic adults: 95 % intervals cover 93-97 %."""
    reg = prepared.register
    pop = reg[(reg["year"] == 2024) & reg["age"].between(30, 64)][["group", "employed"]].reset_index(drop=True)
    pop["employed"] = pop["employed"].astype(float)
    truth = pop["employed"].mean()
    sizes = pop["group"].value_counts()
    take = {g: 150 if g != "comparison" else 400 for g in sizes.index}
    rng = np.random.default_rng(20)
    codes = pop.groupby("group").indices
    reps, covered = 1000, 0
    for _ in range(reps):
        rows = np.concatenate([rng.choice(codes[g], take[g], replace=False) for g in sizes.index])
        sample = pop.iloc[rows].assign(
            w=lambda f: f["group"].map(sizes / pd.Series(take)), N=lambda f: f["group"].map(sizes))
        est = SurveyDesign(sample, weights="w", strata="group", fpc="N").mean("employed")
        covered += est.ci_low <= truth <= est.ci_high
    assert 0.93 <= covered / reps <= 0.97, f"coverage {covered / reps:.3f}"


def test_stratified_jackknife_equals_linearisation_for_a_total():
    """For a linear statistic JKn reproduces the stratified variance formula exactly (Wolter 2007, ch. 4)."""
    data = pd.read_csv(DATA / "apistrat.csv")
    for fpc in (None, "fpc"):
        design = SurveyDesign(data, weights="pw", strata="stype", fpc=fpc)
        assert design.replicate("jkn").total("enroll").se == pytest.approx(design.total("enroll").se, rel=1e-10)
    with pytest.raises(SurveyError, match="JK1 is for unstratified designs"):
        SurveyDesign(data, weights="pw", strata="stype").replicate("jk1")
