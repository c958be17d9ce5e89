"""Composition vs area: Oaxaca-Blinder and DFL reweighting of a district's gap to the rest."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluering.area.context import area_poverty
from evaluering.area.decomposition import DecompositionResult, dfl_reweighting, oaxaca_blinder
from evaluering.area.errors import AreaModelError
from evaluering.report.area_figures import decomposition_figure

TAU = -0.08  # planted area effect in the simulation


def _simulated(seed: int = 3, n_district: int = 1500, n_rest: int = 6000) -> pd.DataFrame:
    """Binary outcome, additive in a 3-level type and a binary trait, plus TAU in the district, whose
    residents are far more often of the disadvantaged kinds."""
    rng = np.random.default_rng(seed)
    d = np.r_[np.ones(n_district, bool), np.zeros(n_rest, bool)]
    kind = np.where(d, rng.choice(["a", "b", "c"], d.size, p=[0.5, 0.3, 0.2]),
                    rng.choice(["a", "b", "c"], d.size, p=[0.2, 0.3, 0.5]))
    trait = rng.random(d.size) < np.where(d, 0.4, 0.1)
    p = 0.45 + 0.15 * (kind == "b") + 0.30 * (kind == "c") - 0.20 * trait + TAU * d
    return pd.DataFrame({"group": np.where(d, "district", "rest"), "kind": kind, "trait": trait,
                         "y": rng.random(d.size) < p, "w": rng.uniform(0.5, 2.0, d.size)})


@pytest.fixture(scope="module")
def sim() -> pd.DataFrame:
    return _simulated()


@pytest.mark.parametrize("method", [oaxaca_blinder, dfl_reweighting])
def test_components_sum_exactly_to_the_raw_gap(sim, method):
    res = method(sim, "y", "group", "district", ["kind", "trait"], weights="w", n_boot=20)
    d, r = sim[sim["group"] == "district"], sim[sim["group"] == "rest"]
    raw = np.average(d["y"], weights=d["w"]) - np.average(r["y"], weights=r["w"])
    assert res.gap == pytest.approx(raw, abs=1e-12)
    assert res.composition + res.area == pytest.approx(res.gap, abs=1e-12)
    tab = res.to_frame()
    assert list(tab["component"]) == ["gap", "composition", "area"]
    assert tab["share_of_gap"].iloc[1:].sum() == pytest.approx(1.0)


def test_oaxaca_blinder_matches_a_hand_calculation():
    """District: x = 1,1,1,0 and y = 0.5 + 2x; rest: x = 1,0,0,0,0 and y = 1 + 2x. The pooled
    regression with a district dummy fits exactly: slope 2, so composition = 2 * (0.75 - 0.2) =
    1.1, area = (2.0 - 2 * 0.75) - (1.4 - 2 * 0.2) = 0.5 - 1.0 = -0.5, gap = 2.0 - 1.4 = 0.6."""
    x = [1, 1, 1, 0, 1, 0, 0, 0, 0]
    group = ["d"] * 4 + ["r"] * 5
    y = [0.5 + 2 * xi if g == "d" else 1 + 2 * xi for xi, g in zip(x, group, strict=True)]
    data = pd.DataFrame({"y": y, "x": np.array(x, float), "g": group})
    res = oaxaca_blinder(data, "y", "g", "d", ["x"], n_boot=10)
    assert (res.district_mean, res.rest_mean) == pytest.approx((2.0, 1.4))
    assert res.gap == pytest.approx(0.6)
    assert res.composition == pytest.approx(1.1)
    assert res.area == pytest.approx(-0.5)
    assert res.detail.set_index("covariate").loc["x", "composition"] == pytest.approx(1.1)


def test_oaxaca_blinder_uses_pooled_coefficients_with_a_group_dummy(sim):
    """Different slopes: composition = (xbar_d - xbar_r)' b* with b* from statsmodels' WLS on both
    groups with the district dummy."""
    import statsmodels.api as sm

    data = sim.assign(y=sim["y"].astype(float) + 0.3 * sim["trait"] * (sim["group"] == "district"))
    res = oaxaca_blinder(data, "y", "group", "district", ["kind", "trait"], weights="w", n_boot=10)
    X = pd.get_dummies(data["kind"], drop_first=True, dtype=float).assign(trait=data["trait"].astype(float))
    D = (data["group"] == "district").astype(float)
    fit = sm.WLS(data["y"], sm.add_constant(X.assign(D=D)), weights=data["w"]).fit()
    b = fit.params[X.columns]
    xd = np.average(X[D == 1], weights=data["w"][D == 1], axis=0)
    xr = np.average(X[D == 0], weights=data["w"][D == 0], axis=0)
    assert res.composition == pytest.approx(float((xd - xr) @ b), abs=1e-10)


@pytest.mark.parametrize("method", [oaxaca_blinder, dfl_reweighting])
def test_recovers_a_planted_area_effect(sim, method):
    res = method(sim, "y", "group", "district", ["kind", "trait"], n_boot=100, seed=1)
    assert isinstance(res, DecompositionResult)
    assert abs(res.area - TAU) < 3 * res.se_area, res.summary()
    assert 0.005 < res.se_area < 0.05
    # the district is disadvantaged mostly by composition: the raw gap is far below TAU
    assert res.gap < TAU - 0.05 and res.composition < -0.05
    assert "Sammensætning" in res._repr_html_() or "composition" in res._repr_html_()
    assert res.seed == 1


def test_bootstrap_is_reproducible(sim):
    a = oaxaca_blinder(sim, "y", "group", "district", ["kind", "trait"], n_boot=30, seed=5)
    b = oaxaca_blinder(sim, "y", "group", "district", ["kind", "trait"], n_boot=30, seed=5)
    assert a.se_area == b.se_area


def test_synthetic_district_area_part_matches_the_planted_effect(prepared, truth):
    """Employment of 30-64-year-olds in 2024, Høje Gladsaxe against the rest of the municipality.

    Expected area part. The generator's employment probability is additive:
    ``p_i = f(person_i) + cycle_t + s * max(0, P_a - 0.20)`` with ``s = slope_above = -0.6`` and
    ``P_a`` the area's poor share. If the covariates capture ``f`` (age band, sex, origin,
    education, low income ~ the latent poor trait), the composition part is
    ``E_district[f] - E_rest[f]`` and what remains is
    ``s * (mean over district residents of max(0, P_a - 0.2) - the same mean over the rest)``,
    the means over the persons in the sample (each person carries their area's context).

    Tolerance: 3 bootstrap SEs of the area part (about 0.011 each). Besides sampling noise the
    estimate is pulled towards zero a little because poverty varies *within* the district
    together with the share of poor residents, so the pooled coefficient of low income absorbs a
    bit of the area effect (with the fixed seed the area part is about -0.06 against an expected
    -0.087, ~2.2 SE). The area part must also be clearly negative (interval below zero).
    """
    slope, threshold = truth["area_effect"]["slope_above"], truth["area_effect"]["threshold"]
    reg = prepared.register
    reg = area_poverty(reg[reg["year"] == 2024], threshold=threshold)
    data = reg[(reg["age"] >= 30) & (reg["age"] <= 64)].copy()
    data["age_band"] = pd.cut(data["age"], [29, 39, 49, 59, 64]).astype(str)
    data["low_income"] = data["low_income"].astype(bool)
    district = "hoeje-gladsaxe"
    in_d = data["group"] == district
    expected = slope * (data.loc[in_d, "poverty_above"].mean() - data.loc[~in_d, "poverty_above"].mean())
    assert expected < -0.05
    covariates = ["age_band", "sex", "origin", "education", "low_income"]
    results = [method(data, "employed", "group", district, covariates, n_boot=40, seed=11)
               for method in (oaxaca_blinder, dfl_reweighting)]
    for res in results:
        tab = res.to_frame().set_index("component")
        assert tab.loc["area", "ci_high"] < 0, res.summary()
        assert abs(res.area - expected) < 3 * res.se_area, (res.summary(), expected)
        assert res.composition < 0  # the district's residents are less often employed anyway
    fig = decomposition_figure(results)
    labels = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert labels == ["Forskel i alt", "Sammensætning", "Områdeeffekt"]
    import matplotlib.pyplot as plt
    plt.close(fig)


def test_errors(sim):
    with pytest.raises(AreaModelError, match="no rows of the district"):
        oaxaca_blinder(sim, "y", "group", "nowhere", ["kind"], n_boot=5)
    with pytest.raises(AreaModelError, match="at least one covariate"):
        oaxaca_blinder(sim, "y", "group", "district", [], n_boot=5)
    with pytest.raises(AreaModelError, match="missing column.*'nope'"):
        dfl_reweighting(sim, "y", "group", "district", ["nope"], n_boot=5)
    with pytest.raises(AreaModelError, match="numeric or boolean"):
        oaxaca_blinder(sim.assign(y="x"), "y", "group", "district", ["kind"], n_boot=5)
    with pytest.raises(AreaModelError, match="do not vary"):
        oaxaca_blinder(sim.assign(kind="a"), "y", "group", "district", ["kind"], n_boot=5)
    only_district = sim.assign(kind=np.where(sim["group"] == "district", "z", sim["kind"]))
    with pytest.raises(AreaModelError, match="common support"):
        dfl_reweighting(only_district, "y", "group", "district", ["kind"], n_boot=5)
    with pytest.raises(AreaModelError, match="span the district and the rest"):
        oaxaca_blinder(sim.assign(cl=np.arange(len(sim)) % 7), "y", "group", "district", ["kind"], cluster="cl",
                       n_boot=5)
    with pytest.raises(AreaModelError, match="n_boot"):
        oaxaca_blinder(sim, "y", "group", "district", ["kind"], n_boot=1)
    with pytest.raises(AreaModelError, match="rest of the municipality"):
        oaxaca_blinder(sim[sim["group"] == "district"], "y", "group", "district", ["kind"], n_boot=5)


def test_cluster_bootstrap_runs(sim):
    data = sim.assign(cl=np.where(sim["group"] == "district", "d", "r") + (np.arange(len(sim)) % 50).astype(str))
    res = dfl_reweighting(data, "y", "group", "district", ["kind", "trait"], cluster="cl", n_boot=30)
    assert res.resampling.startswith("clusters") and res.se_area > 0
    assert res.diagnostics["effective_n_rest"] > 100
