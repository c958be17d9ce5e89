"""People estimand on the register panel: TWFE DiD, event study, pre-trend test, baseline cohort."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evaluering.did.errors import DidError
from evaluering.did.event_study import event_study
from evaluering.did.panel import baseline_cohort, cohort_retention, panel_did
from evaluering.report.event_study_figure import event_study_figure

START = 2020


def _simulate(rng, *, n=400, years=range(2014, 2024), effects=None, pre_slope=0.0, rho=0.0, drop=0.0):
    """Units with their own level, common year shocks, half of them treated; ``effects`` maps event
    time (year - START) to a planted effect, ``pre_slope`` adds a treated-only trend before START,
    ``rho`` makes each unit's errors AR(1) (what clustering by unit is for)."""
    years = np.asarray(list(years))
    unit = np.repeat(np.arange(n), len(years))
    year = np.tile(years, n)
    treated = unit < n // 2
    k = year - START
    shocks = rng.normal(0, 1, (n, len(years)))
    for t in range(1, len(years)):
        shocks[:, t] = rho * shocks[:, t - 1] + np.sqrt(1 - rho**2) * shocks[:, t]
    y = rng.normal(0, 1, n)[unit] + rng.normal(0, 0.5, len(years))[year - years[0]] + shocks.ravel()
    y += treated * pre_slope * np.minimum(k, 0)
    for event_time, effect in (effects or {}).items():
        y += effect * (treated & (k == event_time))
    frame = pd.DataFrame({"unit": unit, "year": year, "treated": treated, "y": y})
    return frame[rng.random(len(frame)) >= drop].reset_index(drop=True)


# --- two-way fixed effects DiD -------------------------------------------------------------------


def test_twfe_equals_two_by_two_difference_of_means_on_balanced_panel():
    panel = _simulate(np.random.default_rng(1), n=60, effects={0: 0.3, 1: 0.5, 2: 0.1})
    m = panel.groupby(["treated", panel["year"] >= START])["y"].mean()
    two_by_two = (m[True, True] - m[True, False]) - (m[False, True] - m[False, False])
    result = panel_did(panel, "y", "unit", "year", "treated", START)
    assert result.estimate == pytest.approx(two_by_two, abs=1e-12)
    assert (result.n_units, result.n_treated_units, result.n_obs, result.n_clusters) == (60, 30, 600, 60)
    assert result.ci_low < result.estimate < result.ci_high
    assert "TWFE DiD" in result.summary() and len(result.to_frame()) == 1 and "<table" in result._repr_html_()


def test_matches_linearmodels_panelols_with_weights_covariates_and_clusters():
    from linearmodels import PanelOLS

    rng = np.random.default_rng(2)
    panel = _simulate(rng, n=300, effects={0: 0.4, 1: 0.4, 2: 0.4, 3: 0.4}, drop=0.2)
    panel["x"] = rng.normal(size=len(panel))
    panel["y"] += 0.5 * panel["x"]
    panel["w"] = rng.uniform(0.5, 2.0, len(panel))
    panel["area"] = panel["unit"] // 10  # units nested in 30 clusters
    ours = panel_did(panel, "y", "unit", "year", "treated", START, covariates=["x"], weights="w", cluster="area")

    frame = panel.assign(d=(panel["treated"] & (panel["year"] >= START)).astype(float)).set_index(["unit", "year"])
    ref = PanelOLS(frame["y"], frame[["d", "x"]], entity_effects=True, time_effects=True, weights=frame["w"]).fit(
        cov_type="clustered", clusters=frame["area"], auto_df=False, count_effects=False, debiased=True,
        group_debias=True)
    assert ours.estimate == pytest.approx(ref.params["d"], abs=1e-10)
    # linearmodels' scale G/(G-1)(N-1)/(N-k) counts the 2 slopes; ours also counts the 9 year effects.
    n, k, t = ref.nobs, 2, 9
    assert ours.se == pytest.approx(ref.std_errors["d"] * np.sqrt((n - k) / (n - k - t)), rel=1e-8)


# --- event study ---------------------------------------------------------------------------------


def test_event_study_recovers_a_planted_dynamic_effect():
    planted = {0: 0.10, 1: 0.20, 2: 0.30, 3: 0.40}
    panel = _simulate(np.random.default_rng(3), n=2000, effects=planted)
    result = event_study(panel, "y", "unit", "year", "treated", START)
    table = result.coefficients
    assert list(table.index) == list(range(-6, 4)) and table.loc[-1, "reference"] and table.loc[-1, "estimate"] == 0
    estimated = table[~table["reference"]]
    truth = np.array([planted.get(k, 0.0) for k in estimated.index])
    z = (estimated["estimate"].to_numpy() - truth) / estimated["se"].to_numpy()
    assert np.all(np.abs(z) < 3), z
    gap = estimated["estimate"].to_numpy() - truth
    joint = gap @ np.linalg.solve(result.covariance, gap)
    assert stats.chi2.sf(joint, len(gap)) > 0.01
    assert result.pretrend.df == 5 and result.pretrend.p_value > 0.01
    assert list(result.lags.index) == [0, 1, 2, 3] and list(result.leads.index) == [-6, -5, -4, -3, -2]


def test_event_study_and_pretrend_wald_match_linearmodels():
    from linearmodels import PanelOLS

    rng = np.random.default_rng(10)
    panel = _simulate(rng, n=300, effects={0: 0.3}, pre_slope=0.05, rho=0.5, drop=0.15)
    panel["w"] = rng.uniform(0.5, 2.0, len(panel))
    ours = event_study(panel, "y", "unit", "year", "treated", START, weights="w")

    k = panel["year"] - START
    names = {t: f"e{t + 10}" for t in sorted(set(k)) if t != -1}
    frame = panel.assign(**{v: (panel["treated"] & (k == t)).astype(float) for t, v in names.items()})
    frame = frame.set_index(["unit", "year"])
    ref = PanelOLS(frame["y"], frame[list(names.values())], entity_effects=True, time_effects=True,
                   weights=frame["w"]).fit(cov_type="clustered", cluster_entity=True, auto_df=False,
                                           count_effects=False, debiased=True, group_debias=True)
    estimated = ours.coefficients[~ours.coefficients["reference"]]
    assert np.allclose(estimated["estimate"], [ref.params[names[t]] for t in estimated.index], atol=1e-10)
    leads = [names[t] for t in estimated.index if t < 0]
    wald = ref.wald_test(formula=" = ".join(leads) + " = 0")
    n, n_coef, n_years = ref.nobs, len(names), 9  # our CR1 factor also counts the 9 year effects
    assert ours.pretrend.df == wald.df == len(leads)
    assert ours.pretrend.statistic == pytest.approx(wald.stat * (n - n_coef - n_years) / (n - n_coef), rel=1e-8)


def test_pretrend_test_rejects_a_differential_pretrend():
    panel = _simulate(np.random.default_rng(4), n=1000, pre_slope=0.1)
    result = event_study(panel, "y", "unit", "year", "treated", START)
    assert result.pretrend.p_value < 0.01


def test_pretrend_test_holds_its_size_under_parallel_trends():
    """Parallel trends, AR(1) errors within unit, 1,000 units: the 5 % test should reject about 5 %
    of the time (1,500 runs of this design gave 5.0 %; with 300 units it over-rejects a little, ~6 %)."""
    rng = np.random.default_rng(5)
    p = np.array([
        event_study(_simulate(rng, n=1000, effects={0: 0.2, 1: 0.2}, rho=0.6), "y", "unit", "year", "treated",
                    START, leads=5, lags=1).pretrend.p_value
        for _ in range(200)
    ])
    assert 0.02 <= np.mean(p < 0.05) <= 0.07


def test_window_reference_and_figure():
    panel = _simulate(np.random.default_rng(6), n=200, effects={0: 0.5})
    result = event_study(panel, "y", "unit", "year", "treated", START, leads=3, lags=2, reference=-2)
    assert list(result.coefficients.index) == [-3, -2, -1, 0, 1, 2] and result.coefficients.loc[-2, "reference"]
    assert result.pretrend.df == 2  # -3 and -1: every lead but the reference
    assert result.n_obs == 200 * 6
    fig = event_study_figure(result, title="Beskæftigelse")
    ax = fig.axes[0]
    assert ax.get_xlabel() == "År i forhold til start" and ax.get_ylabel() == "Effekt (procentpoint)"
    assert any(line.get_linestyle() == "--" and list(line.get_ydata()) == [0, 0] for line in ax.lines)
    assert any(list(line.get_xdata()) == [-0.5, -0.5] for line in ax.lines)
    assert "pre-trend test: chi2(2)" in result.summary() and "<table" in result._repr_html_()
    matplotlib.pyplot.close(fig)


# --- the baseline cohort and the people estimand on the synthetic register ----------------------------


def test_baseline_cohort_follows_people_by_baseline_address():
    register = pd.DataFrame({
        "person_id": ["a", "a", "a", "b", "b", "c", "d", "d"],
        "year": [2020, 2021, 2022, 2021, 2022, 2022, 2021, 2022],
        "area_id": ["A1", "A1", "A9", "A9", "A1", "A1", "A9", "A9"],
        "age": [40, 41, 42, 70, 71, 30, 35, 36],
        "group": ["d1", "d1", "comparison", "comparison", "d1", "d1", "comparison", "comparison"],
    })
    cohort = baseline_cohort(register, 2021, age=(30, 64))
    assert set(cohort["person_id"]) == {"a", "d"}  # b too old at baseline, c not there at baseline
    a = cohort[cohort["person_id"] == "a"]
    assert list(a["year"]) == [2020, 2021, 2022] and a["treated"].all() and (a["baseline_group"] == "d1").all()
    assert list(a["group"]) == ["d1", "d1", "comparison"]  # the move out is kept, treatment is not
    assert not cohort.loc[cohort["person_id"] == "d", "treated"].any()
    retention = cohort_retention(cohort).set_index(["baseline_group", "year"])
    assert retention.loc[("d1", 2022), "share_at_baseline_group"] == 0.0


def test_people_estimate_for_employment_on_synthetic_register(prepared, params, truth):
    """The people estimand recovers the planted place effect diluted by exposure.

    The generator adds the planted effect tau to P(employed) of every 18-64-year-old *living* in
    the district in a year after the baseline (2022-2024). The cohort is fixed by the 2021
    address, so with E_it = 1[person i lives in the district in year t >= 2022 and is 18-64] the
    outcome is y_it = (everything else)_it + tau * E_it + noise, and because the TWFE DiD is linear
    in the outcome the planted part of the people estimate is exactly tau * b_E, where b_E is the
    same TWFE DiD with E as the outcome: the baseline residents' share still in the district (and
    of working age) in 2022-2024, minus the comparison cohort's share that moved in. Everything
    else (mobility between areas with different Galster area effects, ageing, noise) is not
    planted to differ, so the estimate should lie within 2.5 standard errors of tau * b_E.
    """
    indicator = params.indicator("arbejdsmarked")
    column, (lo, hi) = indicator.computation.column, indicator.computation.age
    district = next(d.key for d in params.districts if truth["effects"][d.key]["arbejdsmarked"]["value"] > 0)
    tau = truth["effects"][district]["arbejdsmarked"]["value"]
    baseline = truth["baseline_wave"]

    cohort = baseline_cohort(prepared.register, baseline, age=(lo, hi), district=district)
    result = panel_did(cohort, column, "person_id", "year", "treated", baseline + 1)
    exposed = (cohort["group"] == district) & (cohort["year"] > baseline) & cohort["age"].between(18, 64)
    exposure = panel_did(cohort.assign(exposed=exposed), "exposed", "person_id", "year", "treated", baseline + 1)
    retention = cohort_retention(cohort).set_index(["baseline_group", "year"])["share_at_baseline_group"]

    assert 0.6 < exposure.estimate < 1.0  # most baseline residents still live there (and are under 65)
    assert exposure.estimate < retention[district].loc[baseline + 1:].mean() + 0.02
    assert result.estimate > 0
    assert abs(result.estimate - tau * exposure.estimate) < 2.5 * result.se, (result.summary(), exposure.estimate)
    assert result.se < tau / 2  # the register is large enough to see an effect of this size


# --- bad input ---------------------------------------------------------------------------------------


def test_treatment_must_be_constant_within_unit():
    panel = _simulate(np.random.default_rng(7), n=20)
    panel["switching"] = panel["treated"] & (panel["year"] >= START)
    with pytest.raises(ValueError, match="treated must be constant within unit"):
        panel_did(panel, "y", "unit", "year", "switching", START)
    with pytest.raises(ValueError, match="treated must be constant within unit"):
        event_study(panel, "y", "unit", "year", "switching", START)


def test_no_baseline_observations_for_a_group(prepared):
    with pytest.raises(ValueError, match="no baseline observations for group 'nowhere'"):
        baseline_cohort(prepared.register, 2021, district="nowhere")
    with pytest.raises(ValueError, match="no baseline observations for group 'moerkhoej'"):
        baseline_cohort(prepared.register, 2021, age=(110, 120), district="moerkhoej")
    with pytest.raises(ValueError, match="no register rows in the baseline year 1999"):
        baseline_cohort(prepared.register, 1999)


def test_collinear_covariates_are_refused():
    rng = np.random.default_rng(8)
    panel = _simulate(rng, n=50)
    panel["x1"] = rng.normal(size=len(panel))
    panel["x2"] = 2 * panel["x1"] - 1
    panel["level"] = panel["unit"] % 7  # constant within unit: absorbed by the unit effects
    with pytest.raises(ValueError, match=r"collinear covariates: \['x2'\]"):
        panel_did(panel, "y", "unit", "year", "treated", START, covariates=["x1", "x2"])
    with pytest.raises(ValueError, match=r"collinear covariates: \['level'\]"):
        event_study(panel, "y", "unit", "year", "treated", START, covariates=["level"])


def test_other_bad_input():
    panel = _simulate(np.random.default_rng(9), n=20)
    with pytest.raises(ValueError, match="no observations of the treated units from 2030"):
        panel_did(panel, "y", "unit", "year", "treated", 2030)
    with pytest.raises(ValueError, match="several rows"):
        panel_did(pd.concat([panel, panel.head(1)]), "y", "unit", "year", "treated", START)
    with pytest.raises(DidError, match="panel: missing column.*'nope'"):
        panel_did(panel, "nope", "unit", "year", "treated", START)
    with pytest.raises(ValueError, match="reference period must lie before the start"):
        event_study(panel, "y", "unit", "year", "treated", START, reference=0)


# --- outcomes that cannot change within a unit ------------------------------------------------------


def test_outcome_constant_within_units_gives_no_estimate_and_says_why():
    """A level fixed per unit (adults' education) is absorbed by the unit effects: the TWFE
    coefficient is 0 with SE 0 by construction, so the result is NaN with a reason, not '0 (0 to 0)'.
    The same panel with the outcome varying within units gives an ordinary estimate."""
    from evaluering.did.panel import NO_WITHIN_VARIATION

    rng = np.random.default_rng(10)
    panel = _simulate(rng, n=200, drop=0.1)
    level = rng.integers(0, 2, panel["unit"].max() + 1)
    panel["fixed"] = level[panel["unit"]] + 0.3 * panel["treated"]  # differs between units and groups only
    result = panel_did(panel, "fixed", "unit", "year", "treated", START)
    assert np.isnan([result.estimate, result.se, result.ci_low, result.ci_high, result.p_value]).all()
    assert result.note == NO_WITHIN_VARIATION and "no estimate" in result.summary()
    assert (result.n_units, result.n_obs) == (200, len(panel))

    panel["varies"] = panel["fixed"] + (panel["unit"] == 0) * (panel["year"] >= START)  # one unit changes
    ordinary = panel_did(panel, "varies", "unit", "year", "treated", START)
    assert ordinary.note is None and np.isfinite(ordinary.estimate) and ordinary.se > 0
    assert ordinary.ci_low < ordinary.estimate < ordinary.ci_high
