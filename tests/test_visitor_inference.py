"""Counter x year inference for visitor counts (indicator 18): reference values, test-interval
agreement and calibration in a small simulated world written here (not the project's generator)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats

from evaluering.indicators.prepare import COMPARISON, PreparedData
from evaluering.inference.visitors import counter_year_did, counter_year_means, visitor_inference

DISTRICT = "hoeje-gladsaxe"
YEARS = list(range(2019, 2025))
BASELINE, FOLLOWUP = 2021, 2024


def _simulate(rng, *, n_district=2, n_comparison=4, days=10, shock_district=0.08, shock_comparison=0.05,
              effect=0.0, daily_sd=0.15, reps=1) -> pd.DataFrame:
    """Daily Poisson counts: counter level + common year effect + counter-year shock + daily noise.

    The district's counters get ``effect`` (log scale) in the years after the baseline. With
    ``reps`` > 1 the counters of each replicate get their own ids (``100 * rep + counter``).
    """
    n = n_district + n_comparison
    is_district = np.arange(n) < n_district
    years = np.array(YEARS)
    shape = (reps, n, len(years))
    level = rng.uniform(3.5, 6.0, (reps, n, 1))
    common = rng.normal(0, 0.1, (reps, 1, len(years)))
    shock_sd = np.where(is_district, shock_district, shock_comparison)[None, :, None]
    shock = shock_sd * rng.standard_normal(shape)
    planted = effect * (is_district[None, :, None] & (years > BASELINE)[None, None, :])
    log_mean = (level + common + shock + planted)[..., None] + daily_sd * rng.standard_normal(shape + (days,))
    counts = rng.poisson(np.exp(log_mean))
    rep, counter, year, _ = np.indices(counts.shape).reshape(4, -1)
    return pd.DataFrame({
        "group": np.where(is_district[counter], DISTRICT, COMPARISON),
        "counter_id": 100 * rep + counter if reps > 1 else [f"T{c:02d}" for c in counter],
        "year": years[year],
        "count": counts.ravel(),
        "rep": rep,
    })


def _replicates(frame: pd.DataFrame, **kwargs) -> pd.DataFrame:
    """Run ``counter_year_did`` on each replicate; one row per replicate."""
    cells = counter_year_means(frame)
    cells["rep"] = cells["counter_id"].astype(int) // 100
    rows = [counter_year_did(part, DISTRICT, BASELINE, FOLLOWUP, **kwargs) for _, part in cells.groupby("rep")]
    return pd.DataFrame([vars(r) for r in rows])


def _one_per_cell(rng, n_district, n_comparison, drop=()) -> pd.DataFrame:
    """One 'day' per counter and year, so each counter-year's log mean is the log of one count."""
    frame = _simulate(rng, n_district=n_district, n_comparison=n_comparison, days=1).drop(columns="rep")
    return frame[~frame.set_index(["counter_id", "year"]).index.isin(drop)]


# --- (a) reference values ------------------------------------------------------------------------

def _textbook(cells: pd.DataFrame):
    """Balanced panel: difference of mean counter changes, Welch-Satterthwaite t with two-way residuals."""
    est, var, terms = 0.0, 0.0, []
    for group, sign in ((DISTRICT, 1), (COMPARISON, -1)):
        wide = cells[cells["group"] == group].pivot(index="counter_id", columns="year", values="y")
        n, t = wide.shape
        est += sign * (wide[FOLLOWUP] - wide[BASELINE]).mean()
        resid = wide.sub(wide.mean(axis=1), axis=0).sub(wide.mean(axis=0), axis=1) + wide.to_numpy().mean()
        s2 = (resid.to_numpy() ** 2).sum() / ((n - 1) * (t - 1))
        v = 2 * s2 / n
        var += v
        terms.append((v, (n - 1) * (t - 1)))
    df = var**2 / sum(v**2 / d for v, d in terms)
    return est, np.sqrt(var), df


def test_balanced_panel_matches_textbook_formula():
    cells = counter_year_means(_one_per_cell(np.random.default_rng(1), 3, 5))
    result = counter_year_did(cells, DISTRICT, BASELINE, FOLLOWUP)
    est, se, df = _textbook(cells)
    q = stats.t.ppf(0.975, df)
    assert result.estimate == pytest.approx(est, abs=1e-12)
    assert result.se == pytest.approx(se, rel=1e-10)
    assert (result.ci_low, result.ci_high) == pytest.approx((est - q * se, est + q * se), rel=1e-10)
    assert result.p_value == pytest.approx(2 * stats.t.sf(abs(est / se), df), rel=1e-8)
    assert result.method == "counter_year"


def test_unbalanced_panel_matches_statsmodels_two_way_fits():
    """A counter missing a non-wave year: each group's change and SE are those of its own OLS fit."""
    frame = _one_per_cell(np.random.default_rng(2), 3, 4, drop=[("T00", 2019), ("T05", 2022)])
    cells = counter_year_means(frame)
    result = counter_year_did(cells, DISTRICT, BASELINE, FOLLOWUP)
    fits = {g: smf.ols(f"y ~ C(counter_id) + C(year, Treatment({BASELINE}))", data=cells[cells["group"] == g]).fit()
            for g in (DISTRICT, COMPARISON)}
    term = f"C(year, Treatment({BASELINE}))[T.{FOLLOWUP}]"
    assert result.estimate == pytest.approx(fits[DISTRICT].params[term] - fits[COMPARISON].params[term], abs=1e-10)
    assert result.se**2 == pytest.approx(fits[DISTRICT].bse[term] ** 2 + fits[COMPARISON].bse[term] ** 2, rel=1e-8)


def test_single_district_counter_uses_comparison_variance_like_a_joint_fit():
    """One district counter: the saturated joint OLS (counter + group x year effects), classical SE and df."""
    cells = counter_year_means(_one_per_cell(np.random.default_rng(3), 1, 4))
    result = counter_year_did(cells, DISTRICT, BASELINE, FOLLOWUP)
    treated = (cells["group"] == DISTRICT).astype(int)
    later = [y for y in YEARS if y != BASELINE]
    cells = cells.assign(**{f"d{y}": treated * (cells["year"] == y) for y in later})
    district_years = " + ".join(f"d{y}" for y in later)
    fit = smf.ols(f"y ~ C(counter_id) + C(year, Treatment({BASELINE})) + {district_years}", data=cells).fit()
    term = f"d{FOLLOWUP}"
    assert result.estimate == pytest.approx(fit.params[term], abs=1e-10)
    assert result.se == pytest.approx(fit.bse[term], rel=1e-8)
    ci = fit.conf_int().loc[term]
    assert (result.ci_low, result.ci_high) == pytest.approx((ci[0], ci[1]), rel=1e-8)
    assert result.p_value == pytest.approx(fit.pvalues[term], rel=1e-6)
    assert "kun 1 tæller" in result.note and "én tæller" in result.note


# --- (b) and (c): the test and the interval agree, and both are calibrated ------------------------

REPS = 1500


def _rate_bounds(p: float, n: int) -> tuple[float, float]:
    """p +- 3 binomial standard errors: the tolerance of a simulated rate."""
    half = 3 * np.sqrt(p * (1 - p) / n)
    return p - half, p + half


@pytest.fixture(scope="module")
def null_runs():
    """Nothing planted; district counters twice as noisy from year to year as the rest's."""
    frame = _simulate(np.random.default_rng(20240), reps=REPS, shock_district=0.10, shock_comparison=0.05)
    return _replicates(frame)


@pytest.fixture(scope="module")
def planted_runs():
    """A planted effect of +0.25 (log) with equally noisy counters; 3 district counters."""
    frame = _simulate(np.random.default_rng(20241), reps=REPS, n_district=3, effect=0.25)
    return _replicates(frame)


def test_p_below_005_exactly_when_zero_is_outside_interval(null_runs, planted_runs):
    runs = pd.concat([null_runs, planted_runs])
    outside = (runs["ci_low"] > 0) | (runs["ci_high"] < 0)
    assert ((runs["p_value"] < 0.05) == outside).all()
    assert 0 < outside.mean() < 1  # both kinds occur, so the check is not empty


def test_rejection_rate_under_null_is_five_percent(null_runs):
    low, high = _rate_bounds(0.05, len(null_runs))
    rate = (null_runs["p_value"] < 0.05).mean()
    assert low <= rate <= high, rate


def test_planted_effect_is_covered_95_percent(planted_runs):
    low, high = _rate_bounds(0.95, len(planted_runs))
    covered = ((planted_runs["ci_low"] <= 0.25) & (planted_runs["ci_high"] >= 0.25)).mean()
    assert low <= covered <= high, covered
    # and the estimate is unbiased within its simulation error
    assert abs(planted_runs["estimate"].mean() - 0.25) < 3 * planted_runs["estimate"].std() / np.sqrt(REPS)


# --- edge cases: notes and clear errors, never a bare traceback ------------------------------------

def _prepared(params, visitors: pd.DataFrame) -> PreparedData:
    empty = pd.DataFrame()
    return PreparedData(params=params, register=empty, survey=empty, designs={}, institutions=empty,
                        visitors=visitors, dataset=None)


def _days(rng, **kwargs) -> pd.DataFrame:
    return _simulate(rng, days=5, **kwargs).drop(columns="rep")


def test_prepared_data_entry_point_gives_note_on_few_counters(params):
    data = _prepared(params, _days(np.random.default_rng(4)))
    result = visitor_inference(data, params.indicator("brug-af-omraadet"), DISTRICT, BASELINE, FOLLOWUP)
    assert np.isfinite([result.estimate, result.se, result.ci_low, result.ci_high, result.p_value]).all()
    assert result.note.startswith("Usikkerheden bygger på kun 2 tællere i området og 4 i resten af kommunen")


def test_district_without_counters_gives_nan_and_note(params):
    data = _prepared(params, _days(np.random.default_rng(5)))
    result = visitor_inference(data, params.indicator("brug-af-omraadet"), "moerkhoej", BASELINE, FOLLOWUP)
    assert np.isnan([result.estimate, result.se, result.p_value]).all()
    assert "Ingen tællere" in result.note


def test_counter_missing_a_wave_is_left_out_with_note():
    frame = _days(np.random.default_rng(6), n_district=3)
    frame = frame[~((frame["counter_id"] == "T00") & (frame["year"] == BASELINE))]
    cells = counter_year_means(frame)
    result = counter_year_did(cells, DISTRICT, BASELINE, FOLLOWUP)
    kept = counter_year_did(cells[cells["counter_id"] != "T00"], DISTRICT, BASELINE, FOLLOWUP)
    assert result.estimate == kept.estimate and result.se == kept.se
    assert "1 tæller mangler data" in result.note and "T00" not in result.note


def test_wave_counted_on_fewer_days_is_named_in_note():
    frame = _days(np.random.default_rng(9)).reset_index(drop=True)
    short = frame.index[(frame["counter_id"] == "T03") & (frame["year"] == FOLLOWUP)][:3]
    result = counter_year_did(counter_year_means(frame.drop(index=short)), DISTRICT, BASELINE, FOLLOWUP)
    assert "1 tæller har i 2024 tal for færre dage" in result.note and "T03" not in result.note


def test_one_counter_on_each_side_gives_estimate_without_interval():
    cells = counter_year_means(_days(np.random.default_rng(7), n_district=1, n_comparison=1))
    result = counter_year_did(cells, DISTRICT, BASELINE, FOLLOWUP)
    assert np.isfinite(result.estimate) and np.isnan(result.p_value) and np.isnan(result.ci_low)
    assert "kan ikke beregnes" in result.note


def test_no_visitor_data_gives_nan_and_note(params):
    result = visitor_inference(_prepared(params, pd.DataFrame()), params.indicator("brug-af-omraadet"), DISTRICT,
                               BASELINE, FOLLOWUP)
    assert np.isnan(result.estimate) and "ingen tællerdata" in result.note


def test_wrong_inputs_raise_clear_errors(params):
    data = _prepared(params, _days(np.random.default_rng(8)))
    with pytest.raises(ValueError, match="unknown district"):
        visitor_inference(data, params.indicator("brug-af-omraadet"), "nowhere", BASELINE, FOLLOWUP)
    with pytest.raises(ValueError, match="not a visitor-count indicator"):
        visitor_inference(data, params.indicator("uddannelse"), DISTRICT, BASELINE, FOLLOWUP)
