"""Threshold (Galster) area effects: piecewise contextual model and the estimated hinge threshold."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm

from evaluering.area.context import employment_context
from evaluering.area.piecewise import PiecewiseResult, piecewise_contextual
from evaluering.area.threshold import (
    ThresholdInputError,
    ThresholdResult,
    adjusted_area_means,
    area_means,
    hansen_critical_value,
    poverty_share,
    threshold_regression,
)
from evaluering.report.area_figures import threshold_figure

GAMMA, SLOPE = 0.20, -0.6


def simulate(rng: np.random.Generator, n_areas: int = 60, per_area: int = 40, sd: float = 0.3,
             area_sd: float = 0.0) -> pd.DataFrame:
    """Individuals in areas with a uniform context on [0, 0.45] and a hinge at GAMMA (flat below)."""
    c = rng.uniform(0.0, 0.45, n_areas)
    u = area_sd * rng.standard_normal(n_areas)
    area = np.repeat(np.arange(n_areas), per_area)
    x = rng.standard_normal(n_areas * per_area)
    y = 0.5 + 0.1 * x + SLOPE * np.maximum(0.0, c[area] - GAMMA) + u[area] + sd * rng.standard_normal(len(x))
    return pd.DataFrame({"y": y, "c": c[area], "x": x, "area": area})


# --- exactness of the fast profile -----------------------------------------------------------


def test_profile_equals_full_regression_ssr():
    df = simulate(np.random.default_rng(0))
    df["w"] = np.random.default_rng(1).uniform(0.5, 2.0, len(df))
    for weights in (None, "w"):
        res = threshold_regression(df, "y", "c", ["x"], area="area", weights=weights, interval_methods="lr")
        w = np.ones(len(df)) if weights is None else df["w"].to_numpy()
        for g in res.profile["gamma"].to_numpy()[[0, 7, -1]]:
            X = sm.add_constant(np.column_stack([df["x"], df["c"], np.maximum(0, df["c"] - g)]))
            fit = sm.WLS(df["y"], X, weights=w).fit()
            assert res.profile.set_index("gamma").loc[g, "ssr"] == pytest.approx(fit.ssr, rel=1e-9)
        # slopes at gamma_hat are those of the full regression
        X = sm.add_constant(np.column_stack([df["x"], df["c"], np.maximum(0, df["c"] - res.gamma_hat)]))
        fit = sm.WLS(df["y"], X, weights=w).fit()
        assert res.slope_below == pytest.approx(fit.params.iloc[2], rel=1e-8)
        assert res.slope_above == pytest.approx(fit.params.iloc[2] + fit.params.iloc[3], rel=1e-8)


def test_grid_is_trimmed_distinct_area_values():
    df = simulate(np.random.default_rng(2))
    res = threshold_regression(df, "y", "c", ["x"], area="area", interval_methods="lr", trim=0.1)
    values = np.unique(df["c"])
    lo, hi = np.quantile(values, [0.1, 0.9])
    np.testing.assert_allclose(res.profile["gamma"], values[(values >= lo) & (values <= hi)])
    assert res.gamma_hat == res.profile.loc[res.profile["ssr"].idxmin(), "gamma"]
    assert res.profile["lr"].min() == 0.0
    assert hansen_critical_value(confidence=0.95) == pytest.approx(7.35, abs=0.01)


# --- (a) simulated coverage ------------------------------------------------------------------


@pytest.fixture(scope="module")
def coverage():
    """100 simulated municipalities (60 areas x 40 persons, homoskedastic errors): how often each
    interval covers the true threshold 0.20 and slope above -0.6. Runs in a few seconds because the
    profile is computed on (area, context) cells, not on persons."""
    hits = {"boot": 0, "lr_hansen": 0, "lr_chi2_fine": 0, "slope_boot": 0, "slope_cond": 0, "hat_in_boot": 0}
    estimates = []
    reps = 100
    for s in range(reps):
        df = simulate(np.random.default_rng(1000 + s))
        res = threshold_regression(df, "y", "c", ["x"], area="area", n_boot=99, seed=s)
        fine = threshold_regression(df, "y", "c", ["x"], area="area", interval_methods="lr", lr_reference="chi2",
                                    n_fine=200)
        estimates.append(res.gamma_hat)
        hits["boot"] += res.gamma_ci_bootstrap[0] <= GAMMA <= res.gamma_ci_bootstrap[1]
        hits["lr_hansen"] += res.gamma_ci_lr[0] <= GAMMA <= res.gamma_ci_lr[1]
        hits["lr_chi2_fine"] += fine.gamma_ci_lr[0] <= GAMMA <= fine.gamma_ci_lr[1]
        hits["slope_boot"] += res.slope_above_ci_bootstrap[0] <= SLOPE <= res.slope_above_ci_bootstrap[1]
        hits["slope_cond"] += res.slope_above_ci[0] <= SLOPE <= res.slope_above_ci[1]
        hits["hat_in_boot"] += res.gamma_ci_bootstrap[0] <= res.gamma_hat <= res.gamma_ci_bootstrap[1]
        assert res.gamma_ci_lr[0] <= res.gamma_hat <= res.gamma_ci_lr[1]  # LR(gamma_hat) = 0
    return {k: v / reps for k, v in hits.items()}, np.array(estimates)


def test_threshold_estimate_is_close_on_average(coverage):
    _, est = coverage
    assert abs(np.median(est) - GAMMA) < 0.02
    # SD of gamma_hat is ~0.06 with 60 areas (only ~30 above the threshold): median error ~0.03
    assert np.median(np.abs(est - GAMMA)) < 0.05


def test_cluster_bootstrap_interval_covers_about_95_percent(coverage):
    # 100 replications: the Monte Carlo SE of a 95 % coverage is ~2.2 points, so [0.88, 0.995] is
    # about 3 SE below and rejects an interval that covers always (degenerate, e.g. the whole grid).
    rates, _ = coverage
    assert 0.88 <= rates["boot"] <= 0.995
    assert 0.88 <= rates["slope_boot"] <= 0.995
    assert rates["hat_in_boot"] >= 0.95  # the percentile interval is (nearly always) around gamma_hat


def test_lr_intervals(coverage):
    rates, _ = coverage
    # Hansen's 7.35 is conservative for a kink (the kink LR is chi-square(1) asymptotically).
    assert rates["lr_hansen"] >= 0.93
    assert rates["lr_hansen"] >= rates["lr_chi2_fine"]
    # chi-square(1) on a fine grid: close to nominal (~0.92-0.95 in longer runs).
    assert 0.85 <= rates["lr_chi2_fine"] <= 0.995


def test_lr_interval_too_narrow_with_area_effects_but_bootstrap_is_not():
    """Unobserved area effects violate the LR interval's independence assumption (n counts persons),
    while the area-clustered bootstrap allows them: documents when each interval is valid."""
    boot = lr = 0
    reps = 40
    for s in range(reps):
        df = simulate(np.random.default_rng(5000 + s), sd=0.3, area_sd=0.05)
        res = threshold_regression(df, "y", "c", ["x"], area="area", n_boot=99, seed=s)
        boot += res.gamma_ci_bootstrap[0] <= GAMMA <= res.gamma_ci_bootstrap[1]
        lr += res.gamma_ci_lr[0] <= GAMMA <= res.gamma_ci_lr[1]
    assert boot / reps >= 0.85
    assert lr / reps < boot / reps


# --- (b), (c) the synthetic register ---------------------------------------------------------


@pytest.fixture(scope="module")
def employment_2024(prepared):
    """30-64-year-olds in 2024 with their area's poverty share (see ``employment_context``)."""
    return employment_context(prepared.register, 2024)


INDIVIDUAL = ["age_band", "sex", "origin", "education", "poor"]


@pytest.fixture(scope="module")
def synthetic_threshold(employment_2024):
    return threshold_regression(employment_2024, "y", "poverty_share", INDIVIDUAL, area="area_id",
                                n_boot=199, seed=2024)


def test_poverty_share_matches_truth_definition(prepared, truth):
    reg = prepared.register
    shares = poverty_share(reg)
    assert shares["poverty_share"].between(0, 1).all()
    # the comparison group's pooled share in the baseline year equals truth.json's composition
    base = truth["baseline_wave"]
    adults = reg[(reg["year"] == base) & (reg["age"] >= 18)]
    line = 0.5 * adults["income"].median()
    rest = adults[adults["group"] == "comparison"]
    expected = truth["composition"]["poverty_share_18plus"]["comparison"]
    assert (rest["income"] < line).mean() == pytest.approx(expected, abs=1e-4)
    s = shares[shares["year"] == base].set_index("area_id")
    pooled = np.average(s.loc[rest["area_id"].unique(), "poverty_share"],
                        weights=s.loc[rest["area_id"].unique(), "n_adults"])
    assert pooled == pytest.approx(expected, abs=1e-4)


def test_synthetic_threshold_recovered(synthetic_threshold, truth):
    """The planted threshold (0.20) and slope above (-0.6) lie in the intervals. Tolerances: the
    bootstrap SD of gamma_hat is ~0.05 with 83 areas (few above 0.2), the cluster SE of the slope
    above ~0.07; the estimates must be within ~2 SE (0.10 and 0.15)."""
    res, ae = synthetic_threshold, truth["area_effect"]
    assert ae["threshold"] == GAMMA and ae["slope_above"] == SLOPE
    lo, hi = res.gamma_ci_bootstrap
    assert lo <= ae["threshold"] <= hi and lo <= res.gamma_hat <= hi
    lo, hi = res.gamma_ci_lr
    assert lo <= ae["threshold"] <= hi
    assert abs(res.gamma_hat - ae["threshold"]) <= 2 * np.std(res.boot_gamma)
    for lo, hi in (res.slope_above_ci, res.slope_above_ci_bootstrap):
        assert lo <= ae["slope_above"] <= hi
    assert abs(res.slope_above - ae["slope_above"]) <= 2 * res.slope_above_se
    assert res.slope_below_ci[0] <= ae["slope_below"] <= res.slope_below_ci[1]
    assert res.slope_above_ci[1] < 0  # a real effect


def test_synthetic_piecewise_at_true_knot(employment_2024, truth):
    res = piecewise_contextual(employment_2024, "y", "poverty_share", knots=(truth["area_effect"]["threshold"],),
                               individual=INDIVIDUAL, area="area_id")
    below, above = res.to_frame().itertuples(index=False)
    assert below.ci_low <= 0.0 <= below.ci_high and abs(below.estimate) < 2 * below.se + 1e-12
    assert above.ci_low <= SLOPE <= above.ci_high and above.ci_high < 0
    assert res.equal_slopes_p < 0.001
    assert res.n_clusters == employment_2024["area_id"].nunique()


def test_synthetic_piecewise_default_knots_and_logit(employment_2024):
    res = piecewise_contextual(employment_2024, "y", "poverty_share", individual=INDIVIDUAL, area="area_id")
    assert isinstance(res, PiecewiseResult) and len(res.slopes) == 4
    assert res.slopes[2] < 0 and res.ci_high[2] < 0  # the 0.20-0.40 segment carries the effect
    logit = piecewise_contextual(employment_2024, "y", "poverty_share", knots=(0.2,), individual=INDIVIDUAL,
                                 area="area_id", family="binomial")
    assert logit.slopes[1] < 0 and logit.ci_high[1] < 0
    assert logit.ci_low[0] <= 0 <= logit.ci_high[0]


def test_result_rendering_and_figure(synthetic_threshold, employment_2024):
    res = synthetic_threshold
    assert isinstance(res, ThresholdResult)
    with pytest.raises(AttributeError):
        res.gamma_hat = 0.3  # frozen
    frame = res.to_frame()
    assert {"threshold (gamma)", "slope above"} <= set(frame["parameter"])
    assert "Threshold" in res.summary() and "<table" in res._repr_html_()
    means = area_means(employment_2024, "y", "poverty_share", "area_id")
    assert len(means) == employment_2024["area_id"].nunique() and means["n"].sum() == len(employment_2024)
    fig = threshold_figure(res, means)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "Andel fattige i området" and ax.get_ylabel() == "Andel i beskæftigelse"
    assert len(ax.collections) >= 1 and len(ax.lines) >= 2
    pc = piecewise_contextual(employment_2024, "y", "poverty_share", knots=(0.2,), individual=INDIVIDUAL,
                              area="area_id")
    assert "Equal slopes" in pc.summary() and "<table" in pc._repr_html_()


# --- the figure's points: adjusted to the covariates the line is drawn at -----------------------


def _side_means(means: pd.DataFrame, res: ThresholdResult, column: str) -> list[tuple[float, float, int]]:
    """Per side of the threshold: mean vertical distance of the points to the line, its SE and how
    many areas; the areas are independent units, so SE = SD / sqrt(areas)."""
    gap = means[column].to_numpy() - res.fitted(means["poverty_share"].to_numpy())
    above = means["poverty_share"].to_numpy() > res.gamma_hat
    return [(gap[s].mean(), gap[s].std(ddof=1) / np.sqrt(s.sum()), int(s.sum())) for s in (~above, above)]


def test_adjusted_point_minus_line_is_the_area_mean_residual(synthetic_threshold, employment_2024):
    """Checked against statsmodels: the hinge model refitted at gamma_hat, its residuals averaged
    per area; and (least squares with an intercept) the n-weighted mean of them is 0."""
    res, df = synthetic_threshold, employment_2024
    means = adjusted_area_means(res, df, "area_id", INDIVIDUAL)
    X = pd.get_dummies(df[INDIVIDUAL].astype(str).assign(poor=df["poor"]), drop_first=True, dtype=float)
    X = sm.add_constant(X.assign(c=df["poverty_share"], h=np.maximum(0, df["poverty_share"] - res.gamma_hat)))
    resid = sm.OLS(df["y"], X).fit().resid.groupby(df["area_id"]).mean()
    gap = means[res.outcome] - res.fitted(means["poverty_share"])
    np.testing.assert_allclose(gap.to_numpy(), resid.loc[means["area_id"]].to_numpy(), atol=1e-10)
    assert np.average(gap, weights=means["n"]) == pytest.approx(0.0, abs=1e-10)
    np.testing.assert_allclose(means["raw"], area_means(df, "y", "poverty_share", "area_id")["y"])
    with pytest.raises(ThresholdInputError, match="not in the fitted model"):
        adjusted_area_means(res, df.assign(extra=1.5), "area_id", [*INDIVIDUAL, "extra"])


@pytest.fixture(scope="module", params=["default", "seed7"])
def threshold_and_means(request, employment_2024, synthetic_threshold, params, tmp_path_factory):
    """The threshold model and its area means on the default synthetic data and on another seed."""
    if request.param == "default":
        df, res = employment_2024, synthetic_threshold
    else:
        from evaluering.data.synthetic import generate
        from evaluering.data.validate import load_dataset
        from evaluering.indicators import prepare

        folder = generate(params, tmp_path_factory.mktemp("seed7"), seed=7)
        df = employment_context(prepare(load_dataset(folder, params), params).register, 2024)
        res = threshold_regression(df, "y", "poverty_share", INDIVIDUAL, area="area_id", interval_methods="lr")
    return res, adjusted_area_means(res, df, "area_id", INDIVIDUAL)


def test_adjusted_points_scatter_around_the_line_raw_means_do_not(threshold_and_means):
    """Issue 12, item 5: with raw means most areas below the threshold lie above the line and those
    above it below (the line is at the mean covariates, the districts' residents are not average).
    The adjusted points lie around the line on both sides: mean distance within 3 SE of 0; the raw
    means miss by more than 3 SE on at least one side."""
    res, means = threshold_and_means
    for mean, se, n in _side_means(means, res, res.outcome):
        assert n >= 5 and abs(mean) < 3 * se, (mean, se, n)
    assert any(abs(mean) > 3 * se for mean, se, _ in _side_means(means, res, "raw"))


def test_report_figure_plots_the_adjusted_means(employment_2024, synthetic_threshold):
    from evaluering.report.area import published_area_means

    res = synthetic_threshold
    means, dropped = published_area_means(employment_2024, 5, res)
    raw, _ = published_area_means(employment_2024, 5)
    assert (means["n"] >= 5).all() and len(means) + dropped == employment_2024["area_id"].nunique()
    np.testing.assert_allclose(means["raw"], raw["y"])
    fig = threshold_figure(res, means, points_label="Områder (justeret for beboernes kendetegn)")
    points = fig.axes[0].collections[0]
    np.testing.assert_allclose(points.get_offsets()[:, 1], means["y"])
    assert points.get_label() == "Områder (justeret for beboernes kendetegn)"


# --- (d) bad input ---------------------------------------------------------------------------


def test_bad_input_errors():
    df = simulate(np.random.default_rng(3), n_areas=30, per_area=10)
    with pytest.raises(ThresholdInputError, match="constant"):
        threshold_regression(df.assign(c=0.1), "y", "c", ["x"], area="area")
    with pytest.raises(ThresholdInputError, match="constant"):
        piecewise_contextual(df.assign(c=0.1), "y", "c", individual=["x"], area="area")
    few = df[df["area"] < 5]
    with pytest.raises(ThresholdInputError, match="distinct area values"):
        threshold_regression(few, "y", "c", ["x"], area="area")
    with pytest.raises(ThresholdInputError, match="missing values in x"):
        threshold_regression(df.assign(x=df["x"].where(df.index != 3)), "y", "c", ["x"], area="area")
    with pytest.raises(ThresholdInputError, match="missing values in y"):
        piecewise_contextual(df.assign(y=np.nan), "y", "c", individual=["x"], area="area")
    with pytest.raises(ThresholdInputError, match="area"):
        threshold_regression(df, "y", "c", ["x"])
    with pytest.raises(ThresholdInputError, match="segment"):
        piecewise_contextual(df, "y", "c", knots=(0.2, 0.9), individual=["x"], area="area")
    with pytest.raises(ThresholdInputError, match="increasing"):
        piecewise_contextual(df, "y", "c", knots=(0.3, 0.2), individual=["x"], area="area")
    with pytest.raises(ThresholdInputError, match="interval_methods must"):
        threshold_regression(df, "y", "c", ["x"], area="area", interval_methods="wald")
    assert issubclass(ThresholdInputError, ValueError)
