"""Minimum detectable effects: textbook values, simulated power at the MDE, the inverse, errors, the plan."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evaluering.evaluation import survey_plan
from evaluering.power import PowerError, kish_deff, mde, mde_did, sample_size, sample_size_did

EXAMPLE = dict(n=1200, response_rate=0.4, baseline=0.55, deff=1.6, alpha=0.05, power=0.8)
COMPARISON = dict(comparison_n=5500, comparison_response_rate=0.51, comparison_baseline=0.6, comparison_deff=3.4)


# --- textbook values ------------------------------------------------------------------------------


def test_interface_example_matches_the_one_tailed_textbook_formula():
    """delta = (z_{1-a/2} + z_{power}) sqrt((p0 q0 + p1 q1) / m), solved by fixed-point iteration.

    The textbook formula drops the opposite tail's rejections, worth Phi(-4.8) ~ 1e-6 of power
    here, so the two agree to well under 1e-5.
    """
    value = mde(**EXAMPLE)
    assert isinstance(value, float)
    k = stats.norm.ppf(0.975) + stats.norm.ppf(0.8)
    m, p0 = 1200 * 0.4 / 1.6, 0.55
    delta = 0.1
    for _ in range(100):
        delta = k * math.sqrt((p0 * (1 - p0) + (p0 + delta) * (1 - p0 - delta)) / m)
    assert value == pytest.approx(delta, abs=1e-5)
    assert value == pytest.approx(0.1111, abs=1e-4)


@pytest.mark.parametrize("p0", [0.1, 0.3, 0.5, 0.8])
def test_large_sample_without_design_effect_matches_cohens_h(p0):
    """statsmodels' two-sample power on Cohen's h = 2 asin(sqrt p1) - 2 asin(sqrt p0), equal groups.

    The arcsine scale stabilises the variance, the Wald test uses it at p0 and p1: the two agree
    up to terms of relative order delta, so at 10,000 per wave (delta about 0.015) they must agree
    to 0.1 % (observed: at most 0.02 %; at 1,000 per wave the gap is about 0.15 %).
    """
    from statsmodels.stats.power import NormalIndPower
    from statsmodels.stats.proportion import proportion_effectsize

    m = 10_000
    ours = mde(n=m, response_rate=1.0, baseline=p0, deff=1.0)
    h = NormalIndPower().solve_power(effect_size=None, nobs1=m, alpha=0.05, power=0.8, ratio=1.0)
    textbook = math.sin(math.asin(math.sqrt(p0)) + h / 2) ** 2 - p0
    assert ours == pytest.approx(textbook, rel=1e-3)
    power = NormalIndPower().power(proportion_effectsize(p0 + ours, p0), nobs1=m, alpha=0.05)
    assert power == pytest.approx(0.8, abs=1e-3)


def test_design_effect_and_response_rate_act_through_the_effective_size():
    assert mde(**EXAMPLE) == pytest.approx(mde(n=300, response_rate=1.0, baseline=0.55, deff=1.0), rel=1e-9)


def test_mde_is_not_symmetric_around_one_half():
    up, down = mde(2000, 0.5, 0.3, direction="increase"), mde(2000, 0.5, 0.3, direction="decrease")
    assert up > down  # the share's variance grows towards 0.5
    assert up == pytest.approx(mde(2000, 0.5, 0.7, direction="decrease"), rel=1e-9)  # mirror image
    assert mde(2000, 0.5, 0.5) == pytest.approx(mde(2000, 0.5, 0.5, direction="decrease"), rel=1e-9)


def test_a_different_baseline_wave():
    same = mde(**EXAMPLE, baseline_n=1200, baseline_response_rate=0.4, baseline_deff=1.6)
    assert same == pytest.approx(mde(**EXAMPLE), rel=1e-12)
    assert mde(**EXAMPLE, baseline_n=5000) < mde(**EXAMPLE) < mde(**EXAMPLE, baseline_deff=3.0)


def test_did_adds_the_comparison_groups_variance():
    did = mde_did(**EXAMPLE, **COMPARISON)
    assert did > mde(**EXAMPLE)
    huge = {**COMPARISON, "comparison_n": 1e9}
    assert mde_did(**EXAMPLE, **huge) == pytest.approx(mde(**EXAMPLE), rel=1e-5)
    same = mde_did(**EXAMPLE, **COMPARISON, comparison_baseline_n=5500, comparison_baseline_deff=3.4)
    assert same == pytest.approx(did, rel=1e-12)


# --- simulation: power at the MDE ------------------------------------------------------------------

DRAWS = 1000


def _kish_rows(w: np.ndarray) -> np.ndarray:
    return w.shape[1] * (w**2).sum(axis=1) / w.sum(axis=1) ** 2


def _weights(rng, draws: int, m: int, deff: float) -> np.ndarray:
    """Lognormal weights, one row per draw, whose Kish deff is exactly ``deff`` (scale found by bisection)."""
    z = rng.standard_normal((draws, m))
    low, high = np.zeros((draws, 1)), np.full((draws, 1), 3.0)
    for _ in range(60):
        mid = (low + high) / 2
        below = _kish_rows(np.exp(mid * z))[:, None] < deff
        low, high = np.where(below, mid, low), np.where(below, high, mid)
    return np.exp((low + high) / 2 * z)


def _linearised(w: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted share and its with-replacement linearisation variance, per row (as SurveyDesign.mean)."""
    m = w.shape[1]
    total = w.sum(axis=1)
    share = (w * y).sum(axis=1) / total
    z = w * (y - share[:, None]) / total[:, None]
    return share, m / (m - 1) * (z**2).sum(axis=1)


def _wave(rng, n: int, response_rate: float, deff: float, p: float, draws: int = DRAWS):
    """``draws`` independent waves: n * response_rate respondents, weights with Kish deff, y ~ Bernoulli(p)."""
    m = round(n * response_rate)
    w = _weights(rng, draws, m, deff)
    y = (rng.random((draws, m)) < p).astype(float)
    return w, y, *_linearised(w, y)


def _detected(difference: np.ndarray, variance: np.ndarray) -> float:
    return float(np.mean(np.abs(difference) / np.sqrt(variance) > stats.norm.ppf(0.975)))


def test_simulation_weights_have_the_target_design_effect_and_variance_matches_survey_design():
    from evaluering.survey import SurveyDesign

    rng = np.random.default_rng(1)
    w, y, share, variance = _wave(rng, 1200, 0.4, 1.6, 0.55, draws=3)
    assert _kish_rows(w) == pytest.approx(1.6, rel=1e-9)
    assert [kish_deff(row) for row in w] == pytest.approx([1.6] * 3, rel=1e-9)
    estimate = SurveyDesign(pd.DataFrame({"y": y[0], "w": w[0]}), weights="w").mean("y")
    assert estimate.estimate == pytest.approx(share[0], rel=1e-12)
    assert estimate.se == pytest.approx(math.sqrt(variance[0]), rel=1e-9)


CHANGE_SETTINGS = {
    "interface example": dict(n=1200, response_rate=0.4, baseline=0.55, deff=1.6),
    "small n, low response": dict(n=300, response_rate=0.25, baseline=0.3, deff=1.3),
    "decrease from a low share": dict(n=2000, response_rate=0.5, baseline=0.15, deff=1.2, direction="decrease"),
    "baseline wave already held": dict(n=2000, response_rate=0.5, baseline=0.5, deff=1.2, baseline_n=3000,
                                       baseline_response_rate=0.39, baseline_deff=1.5),
}


@pytest.mark.parametrize("setting", list(CHANGE_SETTINGS))
def test_simulated_power_at_the_mde_is_80_percent(setting):
    """1,000 simulated pairs of waves with the true change equal to the MDE: about 80 % are detected.

    The Monte Carlo standard error is 1.3 points, so +-3 points is 2.4 standard errors.
    """
    args = CHANGE_SETTINGS[setting]
    delta = mde(**args)
    sign = -1 if args.get("direction") == "decrease" else 1
    rng = np.random.default_rng(2027)
    p0 = args["baseline"]
    before = (args.get("baseline_n", args["n"]), args.get("baseline_response_rate", args["response_rate"]),
              args.get("baseline_deff", args["deff"]))
    *_, share0, var0 = _wave(rng, *before, p0)
    *_, share1, var1 = _wave(rng, args["n"], args["response_rate"], args["deff"], p0 + sign * delta)
    assert _detected(share1 - share0, var0 + var1) == pytest.approx(0.8, abs=0.03)


DID_SETTINGS = {
    "Høje Gladsaxe-like, balanced comparison": (dict(n=3000, response_rate=0.39, baseline=0.5, deff=1.2),
                                                COMPARISON),
    "small district": (dict(n=800, response_rate=0.3, baseline=0.4, deff=1.5),
                       dict(comparison_n=1500, comparison_response_rate=0.5, comparison_baseline=0.7,
                            comparison_deff=2.0)),
}


@pytest.mark.parametrize("setting", list(DID_SETTINGS))
def test_simulated_power_of_the_did_at_its_mde_is_80_percent(setting):
    district, comparison = DID_SETTINGS[setting]
    delta = mde_did(**district, **comparison)
    rng = np.random.default_rng(2024)
    n, rr, p0, deff = district["n"], district["response_rate"], district["baseline"], district["deff"]
    cn, crr, pc, cdeff = (comparison[k] for k in ("comparison_n", "comparison_response_rate",
                                                  "comparison_baseline", "comparison_deff"))
    *_, d0, v0 = _wave(rng, n, rr, deff, p0)
    *_, d1, v1 = _wave(rng, n, rr, deff, p0 + delta)
    *_, c0, u0 = _wave(rng, cn, crr, cdeff, pc)
    *_, c1, u1 = _wave(rng, cn, crr, cdeff, pc)
    assert _detected((d1 - d0) - (c1 - c0), v0 + v1 + u0 + u1) == pytest.approx(0.8, abs=0.03)


# --- sample sizes ------------------------------------------------------------------------------------


@pytest.mark.parametrize("target", [0.03, 0.05, 0.1, 0.2])
def test_sample_size_is_the_inverse_of_mde(target):
    args = dict(response_rate=0.4, baseline=0.55, deff=1.6)
    n = sample_size(target, **args)
    assert isinstance(n, int) and n > 1
    assert mde(n, **args) <= target < mde(n - 1, **args)


def test_sample_size_with_the_baseline_wave_held_and_for_the_did():
    args = dict(response_rate=0.4, baseline=0.3, deff=1.6, direction="decrease", baseline_n=3000)
    n = sample_size(0.06, **args)
    assert mde(n, **args) <= 0.06 < mde(n - 1, **args)
    n_did = sample_size_did(0.1, **args, **COMPARISON)
    assert mde_did(n_did, **args, **COMPARISON) <= 0.1 < mde_did(n_did - 1, **args, **COMPARISON)
    assert n_did > sample_size(0.1, **args)


def test_unreachable_target_is_an_error():
    with pytest.raises(PowerError, match=r"target_mde: 0.05 cannot be reached.*no MDE below 0.08") as err:
        sample_size(0.05, response_rate=0.4, baseline=0.55, deff=1.6, baseline_n=1200)
    assert err.value.argument == "target_mde"


# --- errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "change, argument",
    [
        ({"n": 0}, "n"),
        ({"n": -5}, "n"),
        ({"n": float("nan")}, "n"),
        ({"response_rate": 0.0}, "response_rate"),
        ({"response_rate": 1.2}, "response_rate"),
        ({"deff": 0.9}, "deff"),
        ({"alpha": 0.0}, "alpha"),
        ({"alpha": 1.5}, "alpha"),
        ({"power": 1.0}, "power"),
        ({"power": 0.04}, "power"),  # below alpha: met by no effect at all
        ({"baseline": 1.0}, "baseline"),
        ({"baseline": -0.1}, "baseline"),
        ({"direction": "up"}, "direction"),
        ({"baseline_n": 0}, "baseline_n"),
        ({"baseline_deff": 0.5}, "baseline_deff"),
    ],
)
def test_invalid_arguments_are_named(change, argument):
    with pytest.raises(PowerError, match=rf"^{argument}: ") as err:
        mde(**{**EXAMPLE, **change})
    assert err.value.argument == argument and isinstance(err.value, ValueError)


def test_invalid_comparison_arguments_are_named():
    with pytest.raises(PowerError, match=r"^comparison_response_rate: "):
        mde_did(**EXAMPLE, **{**COMPARISON, "comparison_response_rate": 0})
    with pytest.raises(PowerError, match=r"^comparison_baseline: "):
        mde_did(**EXAMPLE, **{**COMPARISON, "comparison_baseline": 1.5})
    with pytest.raises(PowerError, match=r"^target_mde: "):
        sample_size(0, 0.4, 0.5)


def test_no_detectable_change_within_zero_to_one_is_an_error():
    with pytest.raises(PowerError, match=r"baseline \+ delta would leave \[0, 1\].*no increase") as err:
        mde(n=100, response_rate=0.2, baseline=0.97, deff=2.0)
    assert err.value.argument == "baseline"
    with pytest.raises(PowerError, match="no decrease"):
        mde(n=100, response_rate=0.2, baseline=0.03, deff=2.0, direction="decrease")


def test_kish_deff():
    assert kish_deff([2.0, 2.0, 2.0]) == 1.0
    assert kish_deff([1.0, 3.0]) == pytest.approx(2 * 10 / 16)  # 1 + CV^2 = 1 + 0.25
    assert kish_deff([1.0, 3.0, 0.0]) == kish_deff([1.0, 3.0])  # non-respondents' zero weights
    with pytest.raises(PowerError, match="weights"):
        kish_deff([1.0, -1.0])
    with pytest.raises(PowerError, match="no positive weights"):
        kish_deff([0.0])


# --- the plan for the next wave --------------------------------------------------------------------


@pytest.fixture(scope="module")
def plan(prepared, params):
    return survey_plan(prepared, params, wave=2024, planned_wave=2027, balanced=False)


def test_plan_has_a_row_per_district_and_survey_indicator(plan, params):
    survey_keys = [i.key for i in params.indicators if i.source == "survey"]
    assert len(plan) == len(params.districts) * len(survey_keys)
    assert set(plan["indicator"]) == set(survey_keys)
    assert (plan["deff"] >= 1).all() and plan["response_rate"].between(0, 1).all()
    assert plan["mde"].notna().all()


def test_plan_rows_agree_with_the_survey_and_the_formulas(plan, prepared, params):
    from evaluering.indicators.units import survey_outcome

    row = plan[(plan["district"] == "moerkhoej") & (plan["indicator"] == "oplevet-sundhed")].iloc[0]
    sample = prepared.survey[(prepared.survey["wave"] == 2024) & (prepared.survey["stratum"] == "moerkhoej")]
    y = survey_outcome(sample, params.indicator("oplevet-sundhed"))
    answered = ~np.isnan(y)
    w = sample["weight"].to_numpy()[answered]
    assert row["invited"] == len(sample)
    assert row["response_rate"] == pytest.approx(answered.mean())
    assert row["level"] == pytest.approx(np.sum(w * y[answered]) / w.sum())
    assert row["deff"] == pytest.approx(kish_deff(w))
    same = dict(response_rate=row["response_rate"], baseline=row["level"], deff=row["deff"])
    assert row["mde"] == pytest.approx(mde(row["planned_invited"], **same))  # planned wave as the latest
    lonely = plan[(plan["district"] == "moerkhoej") & (plan["indicator"] == "ensomhed")].iloc[0]
    assert lonely["direction"] == "decrease"


def test_kish_deff_reproduces_the_design_based_standard_errors(plan, prepared, params):
    """sqrt(p q deff / respondents) is close to the calibrated design's linearised SE, and if anything above it.

    Observed on the synthetic 2024 wave: -1 % to +11 %. Kish's formula ignores what raking to the
    register margins gains for outcomes those margins predict (most for economic safety), so MDEs
    from it are slightly conservative.
    """
    from evaluering.indicators.units import survey_outcome

    design = prepared.designs[2024]
    for row in plan[plan["sample"] == "district"].itertuples():
        y = survey_outcome(design.data, params.indicator(row.indicator))
        se = design.with_columns(_y=y).mean("_y", by="stratum")[f"_y | stratum={row.district}"].se
        kish_se = math.sqrt(row.level * (1 - row.level) * row.deff / (row.invited * row.response_rate))
        assert 0.97 < kish_se / se < 1.15, (row.district, row.indicator)


def test_plan_outside_view_uses_the_comparison_sample(plan):
    rows = plan[plan["indicator"] == "omverdenens-oplevelse"]
    assert (rows["sample"] == "comparison").all() and rows["mde_did"].isna().all()
    assert (rows["invited"] == rows["comparison_invited"]).all()


def test_plan_with_a_larger_planned_sample(prepared, params, plan):
    bigger = survey_plan(prepared, params, 2024, 2027, planned_n={"hoeje-gladsaxe": 6000, "vaerebro-park": 5000,
                                                                   "moerkhoej": 4000}, balanced=False)
    district_rows = bigger["sample"] == "district"
    assert (bigger.loc[district_rows, "mde"] < plan.loc[district_rows, "mde"]).all()
    assert bigger.loc[district_rows, "note"].str.contains("above the .* adults living there").all()


def test_plan_uses_the_balanced_comparison_group_by_default(prepared, params, plan):
    """The DiD compares with the comparison group weighted to look like the district: more variable weights."""
    balanced = survey_plan(prepared, params, 2024, 2027)
    did_rows = balanced["sample"] == "district"
    assert (balanced.loc[did_rows, "comparison_deff"] > plan.loc[did_rows, "comparison_deff"]).all()
    assert (balanced.loc[did_rows, "mde_did"] > plan.loc[did_rows, "mde_did"]).all()
    assert np.allclose(balanced.loc[did_rows, "mde"], plan.loc[did_rows, "mde"])  # the district's own weights
    outside = ~did_rows  # the outside view: the rest of the municipality under its own weights either way
    assert outside.any()
    for column in ("level", "deff", "mde"):
        assert np.allclose(balanced.loc[outside, column], plan.loc[outside, column])


def test_plan_checks_the_waves(prepared, params):
    with pytest.raises(PowerError, match="^planned_wave: 2024 must come after wave 2024"):
        survey_plan(prepared, params, 2024, 2024)
    with pytest.raises(PowerError, match="^wave: no survey design in 2019"):
        survey_plan(prepared, params, 2019, 2027)
