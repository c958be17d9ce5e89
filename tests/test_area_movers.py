"""The movers design for area effects: person fixed effects recover a contextual effect that a
pooled regression confounds with selection, on simulated data and on the synthetic register."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluering.area.errors import AreaModelError
from evaluering.area.movers import MoversResult, area_poverty, movers_model
from evaluering.report.area_figures import movers_figure

BETA = -0.5


def _simulated_panel(seed: int = 7, n_persons: int = 3000, n_years: int = 8, n_areas: int = 30) -> pd.DataFrame:
    """y = a_i + l_t + BETA * c_area + e, where people with a low a_i live (and move to) areas with a
    high context c: selection on the person effect, so the cross-section overstates the effect."""
    rng = np.random.default_rng(seed)
    context = np.sort(rng.uniform(0.0, 0.5, n_areas))  # area k: higher k = more disadvantaged
    alpha = rng.normal(0, 1, n_persons)
    # the area "type" a person gravitates to follows alpha (low alpha -> high context)
    pref = np.clip(np.round((1 - (alpha - alpha.min()) / np.ptp(alpha)) * (n_areas - 1)
                            + rng.normal(0, 4, n_persons)), 0, n_areas - 1).astype(int)
    rows = []
    area = pref.copy()
    for t in range(n_years):
        if t > 0:
            moves = rng.random(n_persons) < 0.2
            dest = np.clip(pref + rng.integers(-8, 9, n_persons), 0, n_areas - 1)
            area = np.where(moves, dest, area)
        y = alpha + 0.1 * t + BETA * context[area] + rng.normal(0, 0.5, n_persons)
        rows.append(pd.DataFrame({"pid": np.arange(n_persons), "year": 2015 + t, "area": area,
                                  "ctx": context[area], "y": y}))
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def sim() -> pd.DataFrame:
    return _simulated_panel()


def test_fixed_effects_recover_the_effect_pooled_ols_is_biased(sim):
    res = movers_model(sim, "y", "pid", "year", "area", "ctx")
    assert isinstance(res, MoversResult)
    assert res.n_movers > 1000 and res.n_obs == len(sim)
    assert abs(res.estimate - BETA) < 3 * res.se
    assert res.ci_low < BETA < res.ci_high or abs(res.estimate - BETA) < 3 * res.se
    # selection: low-alpha people live in high-context areas, so the pooled slope is far more negative
    assert res.pooled_estimate < BETA - 10 * res.pooled_se
    assert res.pooled_estimate < BETA - 0.5


def test_matches_linearmodels_panelols(sim):
    from linearmodels.panel import PanelOLS

    res = movers_model(sim, "y", "pid", "year", "area", "ctx", event_profile=False)
    lm = PanelOLS(sim.set_index(["pid", "year"])["y"], sim.set_index(["pid", "year"])[["ctx"]],
                  entity_effects=True, time_effects=True).fit(cov_type="clustered", cluster_entity=True)
    assert res.estimate == pytest.approx(float(lm.params["ctx"]), abs=1e-8)
    # linearmodels counts the person effects in the small-sample factor although they are nested in
    # the person clusters; twfe does not (as Stata and fixest), so the SEs differ by that factor only
    n, k = res.n_obs, 8  # context + 7 year effects
    counted = np.sqrt((n - k) / (n - k - res.n_persons))
    assert res.se * counted == pytest.approx(float(lm.std_errors["ctx"]), rel=1e-3)


def test_event_profile_flat_before_and_shifts_after(sim):
    res = movers_model(sim, "y", "pid", "year", "area", "ctx", leads=3, lags=3)
    prof = res.profile
    assert set(prof["direction"]) == {"higher", "lower"}
    for _, part in prof.groupby("direction"):
        part = part.set_index("event_time")
        assert part.loc[-1, "estimate"] == 0.0
        pre = part.loc[[-3, -2]]
        assert (pre["estimate"].abs() < 3.5 * pre["se"]).all()
        post = part.loc[[0, 1, 2, 3]]
        implied = BETA * part["mean_change"].iloc[0]
        assert np.sign(implied) == np.sign(post["estimate"].mean())
        assert abs(post["estimate"].mean() - implied) < 4 * post["se"].mean()
    fig = movers_figure(res)
    assert "flytning" in fig.axes[0].get_xlabel()
    import matplotlib.pyplot as plt
    plt.close(fig)
    assert "movers" in res.summary() and "<table" in res._repr_html_()
    assert len(res.to_frame()) == 1


def test_synthetic_register_recovers_the_planted_threshold_effect(prepared, truth):
    """Employment of 30-64-year-olds on max(0, poverty share - 0.20) of the area and year.

    The generator plants ``slope_above * max(0, latent poor share - 0.20)`` on the employment
    probability of 18-64-year-olds. The person effects absorb the (latent) poor trait, origin and
    education, the year effects the business cycle; the age baseline steps down at 60 within
    30-64, which the ``age60`` dummy takes. Tolerance: the planted slope must lie in the 95 %
    interval of the estimate (clustered by person). The observed poverty share (income below
    half the median) is a proxy of the latent share the generator uses, but at area level they
    differ by well under a percentage point, so the attenuation is far smaller than the SE
    (about 0.04); with the fixed seed the estimate is about -0.55.
    """
    area_effect = truth["area_effect"]
    reg = prepared.register
    panel = area_poverty(reg[["person_id", "year", "area_id", "age", "income", "employed"]],
                         threshold=area_effect["threshold"])
    panel = panel[(panel["age"] >= 30) & (panel["age"] <= 64)]
    panel = panel.assign(age60=(panel["age"] >= 60).astype(float))
    res = movers_model(panel, "employed", "person_id", "year", "area_id", "poverty_above", covariates=["age60"],
                       event_profile=False)
    slope = area_effect["slope_above"]
    assert res.ci_low < slope < res.ci_high, res.summary()
    assert res.se < 0.08
    # the cross-section confounds the area with its residents: far more negative than the truth
    assert res.pooled_estimate < slope - 5 * res.pooled_se
    assert res.n_movers > 5000


def test_area_poverty_builds_the_generator_context():
    reg = pd.DataFrame({"area_id": ["a", "a", "a", "b", "b", "b"], "year": 2020,
                        "age": [30, 40, 10, 30, 40, 50], "income": [10.0, 100.0, np.nan, 100.0, 100.0, 10.0]})
    out = area_poverty(reg, threshold=0.2)
    # median of adults = 100 -> half = 50; a: 1 of 2 adults low; b: 1 of 3
    assert out["poverty_share"].tolist() == pytest.approx([0.5, 0.5, 0.5, 1 / 3, 1 / 3, 1 / 3])
    assert out["poverty_above"].tolist() == pytest.approx([0.3, 0.3, 0.3, 1 / 3 - 0.2, 1 / 3 - 0.2, 1 / 3 - 0.2])
    assert pd.isna(out["low_income"].iloc[2])


def test_errors(sim):
    stay = sim.assign(area=sim["pid"] % 30)
    stay["ctx"] = stay["area"] / 30.0
    with pytest.raises(ValueError, match="no person changes area"):
        movers_model(stay, "y", "pid", "year", "area", "ctx")
    with pytest.raises(ValueError, match="constant"):
        movers_model(sim.assign(ctx=0.3), "y", "pid", "year", "area", "ctx")
    # the context differs only between areas nobody moves between
    same = sim.assign(ctx=np.where(sim["pid"] < 1500, 0.1, 0.4))
    with pytest.raises(ValueError, match="does not change when people move"):
        movers_model(same, "y", "pid", "year", "area", "ctx")
    with pytest.raises(AreaModelError, match="missing column.*'nope'"):
        movers_model(sim, "nope", "pid", "year", "area", "ctx")
    with pytest.raises(ValueError, match="several rows"):
        movers_model(pd.concat([sim, sim.head(5)]), "y", "pid", "year", "area", "ctx")
    with pytest.raises(ValueError, match="integer"):
        movers_model(sim.assign(year=sim["year"].astype(float)), "y", "pid", "year", "area", "ctx")
    with pytest.raises(ValueError, match="numeric"):
        movers_model(sim.assign(y="x"), "y", "pid", "year", "area", "ctx")
