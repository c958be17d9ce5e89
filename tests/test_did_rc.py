"""Tests of the repeated cross-section DiD estimators (evaluering.did.rc) against R's DRDID,
Card & Krueger (1994), the 2x2 arithmetic, a simulation, and bad input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaluering.did.rc import METHODS, OverlapError, RcDidError, repeated_cross_section_did
from evaluering.did.rc_kernels import ipt_pscore
from evaluering.numerics import weighted_logit

DATA = Path(__file__).parent / "data"
COVS = ["x1", "x2", "x3", "x4"]


@pytest.fixture(scope="module")
def sim_rc() -> pd.DataFrame:
    return pd.read_csv(DATA / "sim_rc.csv")


# --- 1. agreement with R DRDID -------------------------------------------------------------

# R DRDID on its data set sim_rc, intercept + x1..x4 (see tests/data/sim_rc.md). (ATT, se).
SIM_RC_REFERENCE = {
    # github.com/jsr-p/csa-py, tests/test_drdid.py::test_drrc_imp (R drdid_imp_rc values);
    # DRDID site reference/drdid_imp_rc.html example prints -0.2089 (0.2003).
    "dr": (-0.2088586, 0.2003375),
    # csa-py tests/test_drdid.py::test_drrc (R drdid_rc); DRDID site reference/drdid_rc.html: -0.1678 (0.2009).
    "dr_traditional": (-0.1677954, 0.2008992),
    # DRDID site reference/std_ipw_did_rc.html example (DRDID 1.0.2 site).
    "ipw": (-15.8033, 9.0879),
    # DRDID site reference/reg_did_rc.html example (site built with pkgdown 2.1.3).
    "reg": (-8.791, 7.7746),
}

# DRDID 1.3.0, tests/testthat/test_regression_lock.R (data: tests/data/drdid_lock_rc.csv),
# intercept + x1, x2; tolerance 1e-6 as in that file. (ATT, se).
LOCK_REFERENCE = {
    "dr_traditional": (0.8186719766, 0.1331289343),  # drdid_rc
    "ipw": (0.6780615210, 0.1925907969),  # std_ipw_did_rc
    "reg": (0.8694663521, 0.1682145937),  # reg_did_rc
}

# R's trust() solution for the IPT propensity score coefficients on sim_rc
# (csa-py tests/test_drdid.py::test_pscore_improved).
SIM_RC_IPT_GAMMA = [-0.164457116, -1.220115926, 0.545884685, -0.519212918, -0.003909338]


@pytest.mark.parametrize("method", list(SIM_RC_REFERENCE))
def test_sim_rc_matches_r_drdid(sim_rc, method):
    att, se = SIM_RC_REFERENCE[method]
    est = repeated_cross_section_did(sim_rc, outcome="y", treated="d", post="post", covariates=COVS, method=method)
    assert est.estimate == pytest.approx(att, abs=1e-4)
    assert est.se == pytest.approx(se, rel=0.01)
    assert est.n == 1000 and est.influence.shape == (1000,)
    assert est.n_trimmed == 0


@pytest.mark.parametrize("method", list(LOCK_REFERENCE))
def test_drdid_regression_lock_values(method):
    att, se = LOCK_REFERENCE[method]
    df = pd.read_csv(DATA / "drdid_lock_rc.csv")
    est = repeated_cross_section_did(df, outcome="y", treated="d", post="post", covariates=["x1", "x2"], method=method)
    assert est.estimate == pytest.approx(att, rel=1e-6)
    assert est.se == pytest.approx(se, rel=1e-6)


def test_ipt_propensity_score_matches_r_trust(sim_rc):
    d = sim_rc["d"].to_numpy(float)
    X = np.column_stack([np.ones(len(sim_rc)), sim_rc[COVS].to_numpy()])
    ps, flag = ipt_pscore(d, X, np.ones(len(d)))
    gamma = np.linalg.lstsq(X, np.log(ps / (1 - ps)), rcond=None)[0]
    assert flag == 0
    np.testing.assert_allclose(gamma, SIM_RC_IPT_GAMMA, atol=2e-9)
    # the tilted comparison group reproduces the treated group's covariate totals exactly
    np.testing.assert_allclose(X.T @ ((1 - d) * ps / (1 - ps)), X.T @ d, atol=1e-8)


def test_influence_function_properties(sim_rc):
    for method in METHODS:
        est = repeated_cross_section_did(sim_rc, "y", "d", "post", COVS, method=method)
        assert abs(est.influence.mean()) < 1e-8 * est.influence.std()
        n = est.n
        assert est.se == pytest.approx(est.influence.std(ddof=1) * np.sqrt(n - 1) / n, rel=1e-12)
        assert est.ci_low < est.estimate < est.ci_high
        assert not est.influence.flags.writeable


def test_weights_are_normalised(sim_rc):
    rng = np.random.default_rng(7)
    df = sim_rc.assign(w=rng.uniform(0.5, 2.0, len(sim_rc)))
    for method in METHODS:
        a = repeated_cross_section_did(df, "y", "d", "post", COVS, weights="w", method=method)
        b = repeated_cross_section_did(df.assign(w=df["w"] * 37.5), "y", "d", "post", COVS, weights="w", method=method)
        assert a.estimate == pytest.approx(b.estimate, rel=1e-9)
        assert a.se == pytest.approx(b.se, rel=1e-9)
        unweighted = repeated_cross_section_did(df, "y", "d", "post", COVS, method=method)
        assert a.estimate != pytest.approx(unweighted.estimate, rel=1e-6)


# --- 2. Card & Krueger (1994) ----------------------------------------------------------------


def test_card_krueger_two_by_two():
    """Unconditional DiD of FTE employment, NJ vs PA, all available observations (794 rows).

    Card & Krueger (1994, AER), Table 3: NJ 20.44 -> 21.03, PA 23.33 -> 21.17, DiD 2.76 (1.36).
    Data and sample: tests/data/card_krueger_fte.md. The data give 2.7536; the table's own rows
    give 2.75, so the DiD is checked to 0.01.
    """
    raw = pd.read_csv(DATA / "card_krueger_fte.csv")
    raw["store"] = np.r_[np.arange(331), np.arange(331), 331 + np.arange(79), 331 + np.arange(79)]
    df = raw.dropna(subset=["fte"])
    means = df.groupby(["nj", "d"])["fte"].mean()
    assert [round(means[1, 0], 2), round(means[1, 1], 2), round(means[0, 0], 2), round(means[0, 1], 2)] == [
        20.44,
        21.03,
        23.33,
        21.17,
    ]
    est = repeated_cross_section_did(df, outcome="fte", treated="nj", post="d", covariates=None, method="reg")
    assert est.estimate == pytest.approx(2.76, abs=0.01)
    assert est.estimate == pytest.approx(means[1, 1] - means[1, 0] - (means[0, 1] - means[0, 0]), abs=1e-10)
    # Four independent samples: sqrt(1.35^2 + 0.94^2 + 0.51^2 + 0.52^2) = 1.80 from the published
    # cell standard errors (n - 1 there, n in the influence function).
    assert est.se == pytest.approx(np.sqrt(1.35**2 + 0.94**2 + 0.51**2 + 0.52**2), rel=0.01)
    # The published 1.36 pairs each restaurant's two waves; so does summing the IF by restaurant.
    by_store = pd.Series(est.influence, index=df.index).groupby(df["store"]).sum()
    paired_se = np.sqrt(np.sum((by_store - by_store.mean()) ** 2)) / est.n
    assert paired_se == pytest.approx(1.36, rel=0.05)


# --- 3. no covariates: the 2x2 difference of weighted means --------------------------------


def test_no_covariates_all_methods_equal_weighted_two_by_two():
    rng = np.random.default_rng(2024)
    n = 600
    df = pd.DataFrame({"d": rng.integers(0, 2, n), "post": rng.integers(0, 2, n), "w": rng.uniform(0.2, 5.0, n)})
    df["y"] = rng.normal(size=n) + 2.0 * df["d"] + 1.5 * df["post"] + 0.7 * df["d"] * df["post"]

    def wmean(t, q):
        rows = (df["d"] == t) & (df["post"] == q)
        return np.average(df.loc[rows, "y"], weights=df.loc[rows, "w"])

    two_by_two = (wmean(1, 1) - wmean(1, 0)) - (wmean(0, 1) - wmean(0, 0))
    estimates = {m: repeated_cross_section_did(df, "y", "d", "post", None, weights="w", method=m) for m in METHODS}
    for est in estimates.values():
        assert est.estimate == pytest.approx(two_by_two, abs=1e-12)
        assert est.se == pytest.approx(estimates["reg"].se, rel=1e-10)
        np.testing.assert_allclose(est.influence, estimates["reg"].influence, atol=1e-10)


# --- 4. recovery by simulation ---------------------------------------------------------------


def _selection_dgp(rng: np.random.Generator, n: int, att: float) -> pd.DataFrame:
    """Sant'Anna & Zhao (2020) DGP 1 style: treatment and the outcome trend both depend on x,
    so the unadjusted 2x2 is biased; logit propensity and linear outcome models are correct."""
    x = rng.normal(size=(n, 4))
    pscore = 1 / (1 + np.exp(-0.75 * (-x[:, 0] + 0.5 * x[:, 1] - 0.25 * x[:, 2] - 0.1 * x[:, 3])))
    d = (rng.uniform(size=n) <= pscore).astype(float)
    index = 210 + 27.4 * x[:, 0] + 13.7 * (x[:, 1] + x[:, 2] + x[:, 3])
    post = (rng.uniform(size=n) <= 0.5).astype(float)
    v = rng.normal(d * index, 1.0)  # treated units differ in level, by x
    y = index + v + rng.normal(size=n) + post * index + att * d * post
    return pd.DataFrame({"y": y, "d": d, "post": post, "x1": x[:, 0], "x2": x[:, 1], "x3": x[:, 2], "x4": x[:, 3]})


def test_recovery_by_simulation():
    truth, reps, n = 1.0, 500, 1000
    rng = np.random.default_rng(20200601)
    results = {"dr": [], "dr_traditional": [], "plain": []}
    for _ in range(reps):
        df = _selection_dgp(rng, n, truth)
        for method in ("dr", "dr_traditional"):
            est = repeated_cross_section_did(df, "y", "d", "post", COVS, method=method)
            results[method].append((est.estimate, est.ci_low <= truth <= est.ci_high))
        results["plain"].append((repeated_cross_section_did(df, "y", "d", "post", None, method="reg").estimate, None))

    plain = np.array([e for e, _ in results["plain"]])
    assert abs(plain.mean() - truth) > 20 * plain.std(ddof=1) / np.sqrt(reps)  # the 2x2 is biased
    for method in ("dr", "dr_traditional"):
        est = np.array([e for e, _ in results[method]])
        covered = np.mean([c for _, c in results[method]])
        mc_se = est.std(ddof=1) / np.sqrt(reps)
        assert abs(est.mean() - truth) < 4 * mc_se, method
        assert 0.93 <= covered <= 0.97, (method, covered)


# --- 5. bad input ------------------------------------------------------------------------------


def test_empty_cell_is_named(sim_rc):
    df = sim_rc[~((sim_rc["d"] == 1) & (sim_rc["post"] == 0))]
    with pytest.raises(RcDidError, match="no baseline observations for the treated group"):
        repeated_cross_section_did(df, "y", "d", "post", COVS)
    df = sim_rc[~((sim_rc["d"] == 0) & (sim_rc["post"] == 1))]
    with pytest.raises(RcDidError, match=r"no follow-up observations for the comparison group \(d=0, post=1\)"):
        repeated_cross_section_did(df, "y", "d", "post", None, method="reg")


@pytest.mark.parametrize("column", ["d", "post"])
def test_indicators_must_be_zero_one(sim_rc, column):
    df = sim_rc.copy()
    df.loc[3, column] = 2
    with pytest.raises(RcDidError, match=rf"column '{column}' must be 0/1.*2"):
        repeated_cross_section_did(df, "y", "d", "post", COVS)


def test_collinear_covariates_are_named(sim_rc):
    df = sim_rc.assign(x5=sim_rc["x1"] + 2 * sim_rc["x2"], k=3.0)
    message = r"collinear covariates in the data: 'x5' is a linear combination of 'x1', 'x2'$"
    with pytest.raises(RcDidError, match=message):
        repeated_cross_section_did(df, "y", "d", "post", [*COVS, "x5"])
    with pytest.raises(RcDidError, match=r"'k' is constant"):
        repeated_cross_section_did(df, "y", "d", "post", ["x1", "k"], method="ipw")
    # constant within one cell only: singular there for the DR estimators, harmless for "reg"
    df = sim_rc.assign(z=np.where((sim_rc["d"] == 1) & (sim_rc["post"] == 0), 0.0, sim_rc["x1"] ** 2))
    with pytest.raises(RcDidError, match=r"among the baseline observations for the treated group.*'z' is zero"):
        repeated_cross_section_did(df, "y", "d", "post", ["x1", "z"], method="dr")
    repeated_cross_section_did(df, "y", "d", "post", ["x1", "z"], method="reg")


def test_missing_values_are_named(sim_rc):
    df = sim_rc.copy()
    df.loc[[5, 9], "x3"] = np.nan
    with pytest.raises(RcDidError, match=r"missing values in column 'x3': 2 row\(s\) \(index 5, 9\)"):
        repeated_cross_section_did(df, "y", "d", "post", COVS)
    df = sim_rc.copy()
    df.loc[0, "y"] = np.nan
    with pytest.raises(RcDidError, match="missing values in column 'y'"):
        repeated_cross_section_did(df, "y", "d", "post", None, method="reg")


@pytest.mark.parametrize("bad", [0.0, -1.0])
def test_non_positive_weights(sim_rc, bad):
    df = sim_rc.assign(w=1.0)
    df.loc[10, "w"] = bad
    with pytest.raises(RcDidError, match=r"weights column 'w' must be positive: 1 row"):
        repeated_cross_section_did(df, "y", "d", "post", COVS, weights="w")


def _steep_selection() -> pd.DataFrame:
    """Treatment almost determined by x, plus two comparison units deep in the treated range."""
    rng = np.random.default_rng(11)
    n = 2000
    x = rng.normal(size=n)
    df = pd.DataFrame({"x": x, "d": (rng.uniform(size=n) < 1 / (1 + np.exp(-10 * x))).astype(int)})
    df["post"] = rng.integers(0, 2, n)
    df = pd.concat([df, pd.DataFrame({"x": [2.0, 2.2], "d": 0, "post": [0, 1]})], ignore_index=True)
    df["y"] = df["x"] + rng.normal(size=len(df))
    return df


@pytest.mark.parametrize("method", ["dr_traditional", "ipw"])
def test_overlap_violation(method):
    df = _steep_selection()  # the logit gives the two comparison units 1 - 3e-8 and 1 - 5e-9
    with pytest.raises(OverlapError, match=r"overlap violation: 2 comparison unit\(s\) have a propensity score of 1"):
        repeated_cross_section_did(df, "y", "d", "post", ["x"], method=method)
    assert issubclass(OverlapError, RcDidError) and issubclass(RcDidError, ValueError)
    repeated_cross_section_did(df, "y", "d", "post", ["x"], method="reg")  # no propensity score, no overlap check


def test_separation_is_an_overlap_violation():
    rng = np.random.default_rng(3)
    d = rng.integers(0, 2, 400)
    x = np.where(d == 1, 2.0, 0.0) + rng.uniform(size=400)  # treated x in [2, 3], comparison in [0, 1]
    df = pd.DataFrame({"d": d, "post": rng.integers(0, 2, 400), "x": x})
    df["y"] = df["x"] + rng.normal(size=400)
    for method in ("dr_traditional", "ipw"):
        with pytest.raises(OverlapError, match=r"\d+ treated unit\(s\) have a propensity score of 1"):
            repeated_cross_section_did(df, "y", "d", "post", ["x"], method=method)
    # "dr": tilting cannot converge, DRDID's fallback to the logit warns, then the same error
    with (pytest.warns(RuntimeWarning, match="neither the trust nor the IPT algorithm converged"),
          pytest.raises(OverlapError, match="treated unit")):
        repeated_cross_section_did(df, "y", "d", "post", ["x"], method="dr")


def test_ipt_fallbacks(sim_rc, monkeypatch):
    """DRDID's fallbacks: IPT loss of Graham et al. if trust fails (same minimiser here), else logit."""
    from evaluering.did import rc_kernels

    d = sim_rc["d"].to_numpy(float)
    X = np.column_stack([np.ones(len(sim_rc)), sim_rc[COVS].to_numpy()])
    w = np.ones(len(d))

    def failing(g, d, X, w):
        return np.inf, np.full(len(g), np.nan), np.full((len(g), len(g)), np.nan)

    monkeypatch.setattr(rc_kernels, "_loss_cal", failing)
    with pytest.warns(RuntimeWarning, match="used the IPT algorithm"):
        ps, flag = ipt_pscore(d, X, w)
    assert flag == 1
    gamma = np.linalg.lstsq(X, np.log(ps / (1 - ps)), rcond=None)[0]
    np.testing.assert_allclose(gamma, SIM_RC_IPT_GAMMA, atol=2e-9)

    monkeypatch.setattr(rc_kernels, "_loss_ipt", failing)
    with pytest.warns(RuntimeWarning, match="used the logit propensity score"):
        ps, flag = ipt_pscore(d, X, w)
    assert flag == 2
    np.testing.assert_allclose(ps, weighted_logit(X, d, w).fitted)
    with pytest.warns(RuntimeWarning, match="used the logit propensity score"):
        est = repeated_cross_section_did(sim_rc, "y", "d", "post", COVS, method="dr")
    assert est.ps_flag == 2 and "logit fallback" in est.summary()


def test_ipt_scores_stay_below_one_and_are_trimmed():
    """Tilting bounds a comparison unit's odds by the treated group's total weight, so the IPT
    scores of the same two units are 0.9942 and 0.9963: DRDID trims the second (>= 0.995)."""
    est = repeated_cross_section_did(_steep_selection(), "y", "d", "post", ["x"], method="dr")
    assert est.n_trimmed == 1 and np.isfinite(est.estimate) and est.ps_flag == 0


def test_other_bad_input(sim_rc):
    with pytest.raises(ValueError, match="method must be one of"):
        repeated_cross_section_did(sim_rc, "y", "d", "post", COVS, method="twfe")
    with pytest.raises(RcDidError, match=r"data: missing column\(s\) 'x9'"):
        repeated_cross_section_did(sim_rc, "y", "d", "post", ["x1", "x9"])
    with pytest.raises(RcDidError, match="'d' is the treated column"):
        repeated_cross_section_did(sim_rc, "y", "d", "post", ["x1", "d"])
    with pytest.raises(RcDidError, match="must be numeric"):
        repeated_cross_section_did(sim_rc.assign(g="a"), "y", "d", "post", ["x1", "g"])
    with pytest.raises(RcDidError, match=r"too few rows among the baseline observations for the comparison group"):
        repeated_cross_section_did(sim_rc.iloc[:12], "y", "d", "post", COVS, method="dr")


# --- the result object ---------------------------------------------------------------------------


def test_result_presentation(sim_rc):
    est = repeated_cross_section_did(sim_rc, "y", "d", "post", COVS, method="dr")
    assert "ATT -0.2089" in est.summary() and "IPT" in est.summary()
    frame = est.to_frame()
    assert frame.shape[0] == 1 and "influence" not in frame.columns
    assert frame.loc[0, "covariates"] == "x1, x2, x3, x4" and frame.loc[0, "ps_flag"] == 0
    assert "<table" in est._repr_html_()
    assert est.n_treated_pre + est.n_treated_post + est.n_comparison_pre + est.n_comparison_post == 1000
