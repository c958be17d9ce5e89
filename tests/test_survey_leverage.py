"""Leverage (HC2-type) correction of calibration residuals: exact on hand-computable cases, off by default.

* Post-stratification: a unit's leverage is its share of its class's weight, and the corrected
  variance is the textbook post-stratified variance with unbiased within-class variances.
* Linear calibration (GREG): leverage d_i x_i'(X'DX)^-1 x_i and corrected influence values
  g_i d_i e_i / sqrt(1 - h_i), from an independent least-squares fit.
* Raking: the leverage is exactly the variance a unit keeps under R's residual operator (all rows,
  non-respondents included), computed here from the operator itself.
* Without calibration steps, or with the correction off, every number is what it was.
* Unbiasedness, exactly (no simulation noise): for noise outcomes the expected linearised variance
  of a small district's mean is trace(A'BA); uncorrected it falls short by about K/n, corrected it
  is within 1 % of the true variance.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluering.survey import SurveyDesign, SurveyError
from evaluering.survey.statistics import means
from evaluering.survey.steps import CalibrationResidual
from evaluering.survey.variance import design_variance


def _classes_sample(seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 40
    return pd.DataFrame({
        "cls": rng.choice(["a", "b", "c"], size=n, p=[0.5, 0.3, 0.2]),
        "w": rng.uniform(1, 3, size=n),
        "y": rng.normal(size=n),
        "x": rng.normal(size=n),
    })


def test_poststratification_leverage_is_the_share_of_the_class_weight():
    df = _classes_sample()
    ps = SurveyDesign(df, weights="w").poststratify("cls", {"a": 100.0, "b": 60.0, "c": 40.0})
    step = ps._residualisers[0].leverage
    expected = df["w"] / df.groupby("cls")["w"].transform("sum")
    np.testing.assert_allclose(step, expected.to_numpy(), rtol=1e-14)
    # the leverages of a class add up to 1: one constraint per class
    assert pd.Series(step).groupby(df["cls"]).sum().to_numpy() == pytest.approx(np.ones(3), rel=1e-12)
    # with equal weights the design's leverage (equal-variance working model) is the same: 1 / n_c
    equal = SurveyDesign(df.assign(w=2.0), weights="w").poststratify("cls", {"a": 100.0, "b": 60.0, "c": 40.0})
    np.testing.assert_allclose(equal.leverage, 1 / df.groupby("cls")["w"].transform("size"), rtol=1e-12)


def test_corrected_poststratified_variance_is_the_textbook_one():
    """Equal weights within class: corrected variance = n/(n-1) sum_c (N_c/N)^2 s_c^2 / n_c (s_c^2 unbiased)."""
    df = _classes_sample().assign(w=1.0)
    totals = {"a": 100.0, "b": 60.0, "c": 40.0}
    ps = SurveyDesign(df, weights="w").poststratify("cls", totals)
    n, N = len(df), sum(totals.values())
    groups = df.groupby("cls")["y"]
    textbook = sum((totals[c] / N) ** 2 * g.var(ddof=1) / len(g) for c, g in groups) * n / (n - 1)
    uncorrected = sum((totals[c] / N) ** 2 * g.var(ddof=0) / len(g) for c, g in groups) * n / (n - 1)
    assert ps.with_leverage_correction().mean("y").se ** 2 == pytest.approx(textbook, rel=1e-12)
    assert ps.mean("y").se ** 2 == pytest.approx(uncorrected, rel=1e-12)


def test_linear_calibration_leverage_and_corrected_residuals_have_the_closed_form():
    df = _classes_sample(2)
    totals = {"cls": {"a": 100.0, "b": 60.0, "c": 40.0}, "x": 15.0}
    X = np.column_stack([(df["cls"] == c).to_numpy(float) for c in "abc"] + [df["x"].to_numpy()])

    def hat(d):
        return d * np.einsum("ij,jk,ik->i", X, np.linalg.inv(X.T @ (X * d[:, None])), X)

    # the step's leverage: the GREG hat diagonal d_i x_i'(X'DX)^-1 x_i, trace K
    uneven = SurveyDesign(df, weights="w").calibrate(totals)
    np.testing.assert_allclose(uneven._residualisers[0].leverage, hat(df["w"].to_numpy()), rtol=1e-10)
    assert hat(df["w"].to_numpy()).sum() == pytest.approx(X.shape[1], rel=1e-12)

    # with equal design weights the design's leverage is the same, and the corrected residuals are g d e / sqrt(1-h)
    df = df.assign(w=2.0)
    cal = SurveyDesign(df, weights="w").calibrate(totals)
    d = df["w"].to_numpy()
    h = hat(d)
    np.testing.assert_allclose(cal.leverage.to_numpy(), h, rtol=1e-8)

    # independent residuals: weighted least squares of y on X, influence g d e / N
    w = cal.weights.to_numpy()
    y = df["y"].to_numpy()
    coef = np.linalg.lstsq(X * np.sqrt(d)[:, None], y * np.sqrt(d), rcond=None)[0]
    z = w * (y - X @ coef) / w.sum() / np.sqrt(1 - h)
    expected = design_variance(z, cal.stages)[0, 0]
    assert cal.with_leverage_correction().mean("y").se ** 2 == pytest.approx(expected, rel=1e-9)


def _raking_sample() -> pd.DataFrame:
    rng = np.random.default_rng(3)
    n = 60
    return pd.DataFrame({"a": rng.choice(["a1", "a2", "a3"], size=n), "b": rng.choice(["b1", "b2"], size=n),
                         "w": 2.0, "responded": rng.random(n) < 0.6, "y": rng.normal(size=n)})


# R's 10 raking sweeps with 60 % response: what is left of a category mean after them is below
# 0.4^10 ~ 1e-4 of it, so the operator's variance share and the converged projection agree to about that
OPERATOR_TOLERANCE = 1e-3


def _operator_in_u(residualise: CalibrationResidual, scale: np.ndarray) -> np.ndarray:
    """The residual operator on u = x / scale, from its action on unit vectors."""
    x = np.diag(scale)
    return residualise(x) / np.where(scale > 0, scale, 1)[:, None]


def test_raking_leverage_is_the_variance_removed_by_its_residual_operator():
    df = _raking_sample()
    margins = {"a": {"a1": 40.0, "a2": 40.0, "a3": 40.0}, "b": {"b1": 60.0, "b2": 60.0}}
    # every unit responds: the leverage is the diagonal of the projection on both margins' dummies
    full = SurveyDesign(df, weights="w").rake(margins, tol=1e-13, max_iter=500)
    D = np.column_stack([(df[v] == c).to_numpy(float) for v, t in margins.items() for c in t])
    hat = np.diag(D @ np.linalg.pinv(D.T @ D) @ D.T)
    np.testing.assert_allclose(full.leverage.to_numpy(), hat, rtol=1e-10)
    assert hat.sum() == pytest.approx(4.0, rel=1e-12)  # 3 + 2 categories, one shared total

    # with non-respondents (weight zero after non-response classes): R's residual keeps their u at 0, and
    # its 10 sweeps converge to the same projection among the respondents
    design = SurveyDesign(df.assign(one="all"), weights="w").adjust_nonresponse("responded", classes=["one"])
    raked = design.rake(margins, tol=1e-13, max_iter=500)
    residualise = raked._residualisers[-1]
    positive = raked.weights.to_numpy() > 0
    Dp = D[positive]
    np.testing.assert_allclose(residualise.leverage[positive], np.diag(Dp @ np.linalg.pinv(Dp.T @ Dp) @ Dp.T),
                               rtol=1e-10)
    assert (residualise.leverage[~positive] == 0).all()
    # ... which is the variance the operator itself removes, var(r_i) / var(u) for equal var(u) of respondents
    M = _operator_in_u(residualise, raked.weights.to_numpy())
    kept = (M[:, positive] ** 2).sum(axis=1)
    np.testing.assert_allclose(residualise.leverage[positive], 1 - kept[positive], atol=OPERATOR_TOLERANCE)


def test_nested_steps_count_shared_constraints_once_and_orthogonal_ones_add_up():
    df = _raking_sample().assign(ab=lambda f: f["a"] + f["b"])
    fine = {k: 5.0 * v for k, v in df["ab"].value_counts().items()}
    coarse = {k: 5.0 * v for k, v in df["a"].value_counts().items()}
    once = SurveyDesign(df, weights="w").poststratify("ab", fine)
    # a coarser post-stratification after a finer one removes nothing more: leverage 1 / n_(a,b)
    twice = once.poststratify("a", coarse)
    np.testing.assert_allclose(twice.leverage, once.leverage, atol=1e-12)
    np.testing.assert_allclose(once.leverage, 1 / df.groupby("ab")["w"].transform("size"), rtol=1e-12)
    # one product step 1 - (1-h1)(1-h2) would count the coarse classes twice
    h1, h2 = (r.leverage for r in twice._residualisers)
    assert (1 - (1 - h1) * (1 - h2) > twice.leverage + 1 / 60).all()

    # a step on a constraint orthogonal to the first (x centred within classes): the leverages add up
    x = df["y"] - df.groupby("ab")["y"].transform("mean")
    chained = once.with_columns(x=x.to_numpy()).calibrate({"ab": fine, "x": 0.0})
    step_x = (x**2 / (x**2).sum()).to_numpy()
    np.testing.assert_allclose(chained.leverage, once.leverage + step_x, rtol=1e-6)


def test_correction_off_changes_nothing_and_without_calibration_does_nothing():
    df = _classes_sample()
    plain = SurveyDesign(df, weights="w")
    assert (plain.leverage == 0).all()
    assert plain.with_leverage_correction().mean("y").se == plain.mean("y").se
    ps = plain.poststratify("cls", {"a": 100.0, "b": 60.0, "c": 40.0})
    off = ps.with_leverage_correction().with_leverage_correction(False)
    assert not ps.leverage_correction
    assert off.mean(["y", "x"], by="cls").table.equals(ps.mean(["y", "x"], by="cls").table)
    assert ps.with_leverage_correction().mean("y").se > ps.mean("y").se


def test_replicate_designs_refuse_the_correction():
    df = _classes_sample()
    rep = SurveyDesign(df, weights="w").poststratify("cls", {"a": 100.0, "b": 60.0, "c": 40.0}).replicate("jk1")
    with pytest.raises(SurveyError, match="linearised"):
        rep.with_leverage_correction()


def _small_district_wave(seed: int = 5) -> SurveyDesign:
    """A district census of 600 with about 40 % response plus a comparison sample, weighted as the
    pipeline does: non-response classes, raking to two margins within stratum, then a calibration of the
    comparison group (balancing)."""
    rng = np.random.default_rng(seed)
    n_d, n_c = 600, 900
    df = pd.DataFrame({
        "stratum": ["district"] * n_d + ["comparison"] * n_c,
        "age": rng.choice(["18-29", "30-49", "50-66", "67+"], size=n_d + n_c),
        "sex": rng.choice(["f", "m"], size=n_d + n_c),
        "origin": rng.choice(["dk", "west", "nonwest"], size=n_d + n_c, p=[0.5, 0.2, 0.3]),
        "employed": rng.random(n_d + n_c) < 0.6,
        "w": np.r_[np.ones(n_d), np.full(n_c, 20.0)],
    })
    df["responded"] = rng.random(len(df)) < np.where(df["stratum"] == "district", 0.4, 0.5)
    df["cls"] = df["stratum"] + "/" + df["age"]
    df["m1"] = df["stratum"] + "/" + df["age"] + "/" + df["sex"]
    df["m2"] = df["stratum"] + "/" + df["origin"]
    design = SurveyDesign(df, weights="w", strata="stratum").adjust_nonresponse("responded", classes=["cls"])
    pop = df.assign(n=df["w"])
    margins = {m: pop.groupby(m)["n"].sum().to_dict() for m in ("m1", "m2")}
    design = design.rake(margins)
    comp = (df["stratum"] == "comparison").to_numpy()
    w = design.weights.to_numpy()
    totals = {"stratum": {"comparison": float(w[comp].sum()), "district": float(w[~comp].sum())}}
    design = design.with_columns(emp_c=(df["employed"].to_numpy() & comp).astype(float))
    totals["emp_c"] = float(w[comp].sum() * 0.55)
    return design.calibrate(totals, method="raking")


def _expected_variance_ratio(design: SurveyDesign, domain: np.ndarray) -> float:
    """E[estimated variance] / Var(mean) of the domain mean for y = independent noise, exactly."""
    w = design.weights.to_numpy()
    cols = np.flatnonzero(domain & (w > 0))
    Y = np.zeros((len(w), len(cols)))
    Y[cols, np.arange(len(cols))] = 1.0
    z = means(list(range(len(cols))), Y, domain).influence(w)
    for residualise in design._residualisers:
        z = residualise(z)
    if design.leverage_correction:
        z = z * design.leverage_factors()[:, None]
    c = w[cols] / w[cols].sum()
    return float(np.trace(design_variance(z, design.stages)) / (c**2).sum())


def test_correction_removes_the_small_district_shortfall_exactly_in_expectation():
    design = _small_district_wave()
    district = (design.data["stratum"] == "district").to_numpy()
    n = int((district & (design.weights.to_numpy() > 0)).sum())
    k = float(design.leverage[district].sum())
    before = _expected_variance_ratio(design, district)
    after = _expected_variance_ratio(design.with_leverage_correction(), district)
    # uncorrected: short by about K/n (K the leverages' sum, n the district's respondents)
    assert before == pytest.approx(1 - k / n, abs=0.01)
    assert before < 0.97
    assert after == pytest.approx(1.0, abs=0.01)


def test_monte_carlo_binary_answers_in_a_small_district():
    """4000 binary questions answered in the same small-district sample (answer shares differ by age and
    sex, so the variance differs between respondents): the mean estimated variance of the district's
    mean, against its exact variance given the weights, sum_i c_i^2 p_i (1 - p_i)."""
    design = _small_district_wave(seed=11)
    data = design.data
    district = (data["stratum"] == "district").to_numpy()
    w = design.weights.to_numpy()
    share = {"18-29": 0.25, "30-49": 0.4, "50-66": 0.55, "67+": 0.7}
    p = data["age"].map(share).to_numpy() + np.where(data["sex"] == "f", 0.1, -0.1)
    rng = np.random.default_rng(12)
    columns = 4000
    answers = (rng.random((len(data), columns)) < p[:, None]).astype(float)
    answers[~data["responded"].to_numpy()] = np.nan
    names = [f"q{k}" for k in range(columns)]
    c = np.where(district & (w > 0), w, 0.0) / w[district].sum()
    exact = float((c**2 * p * (1 - p)).sum())

    def mean_variance(d):
        z = means(names, answers, district).influence(w)
        for residualise in d._residualisers:
            z = residualise(z)
        if d.leverage_correction:
            z = z * d.leverage_factors()[:, None]
        chunks = [np.diag(design_variance(z[:, k:k + 500], d.stages)) for k in range(0, columns, 500)]
        return float(np.concatenate(chunks).mean())

    before, after = mean_variance(design) / exact, mean_variance(design.with_leverage_correction()) / exact
    n = int((district & (w > 0)).sum())
    k = float(design.leverage[district].sum())
    # simulation SE of the mean of 4000 variance estimates: each varies by about sqrt(2/n) ~ 9 %
    simulation_se = np.sqrt(2 / n / columns)
    assert before == pytest.approx(1 - k / n, abs=0.01 + 3 * simulation_se)
    assert after == pytest.approx(1.0, abs=0.01 + 3 * simulation_se)
    assert after - before > 0.03


def test_design_did_reports_the_corrected_inference_and_keeps_the_linearisation_se(params):
    from evaluering.did.design_did import METHOD, design_did
    from evaluering.evaluation.district import _reported_inference

    designs = {2021: _small_district_wave(5), 2024: _small_district_wave(6)}
    rng = np.random.default_rng(7)
    outcomes = {w: np.where(d.data["responded"], (rng.random(len(d.data)) < 0.4).astype(float), np.nan)
                for w, d in designs.items()}
    est, _ = design_did(designs, outcomes, indicator="x", district="district", baseline=2021, followup=2024,
                        group="stratum", comparison="comparison")

    def contrast_variance(design, y):
        table = design.with_columns(_y=y).mean("_y", by="stratum")
        idx = [table.table.index.get_loc(f"_y | stratum={g}") for g in ("district", "comparison")]
        cov = table.covariance[np.ix_(idx, idx)]
        return cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]

    plain = sum(contrast_variance(d, outcomes[w]) for w, d in designs.items())
    corrected = sum(contrast_variance(d.with_leverage_correction(), outcomes[w]) for w, d in designs.items())
    assert est.se == pytest.approx(np.sqrt(plain), rel=1e-12)
    shown = est.reported
    assert shown.method == METHOD and shown.estimate == est.estimate
    assert shown.se == pytest.approx(np.sqrt(corrected), rel=1e-12) and shown.se > est.se
    assert shown.ci_high - shown.ci_low == pytest.approx(2 * 1.959964 * shown.se, rel=1e-6)
    assert shown.p_value > est.p_value
    # the report shows it for survey indicators; rows keep the linearisation SE as se_model
    assert _reported_inference(None, params.indicator("oplevet-sundhed"), est, None, "district", 2021, 2024) is shown
