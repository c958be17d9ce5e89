"""The composition null for the social-mix indicators (12-14): estimate, coherence and calibration.

The calibration checks use a small world written here, not the project's generator: a district
whose children come from disadvantaged homes half of the time, a rest of the municipality at a
quarter, a few institutions, chance allocation of children to them, children who stay between
the two waves with their institution and (mostly) their home's status, and institution-year shocks
to the intake. Nothing is planted unless a test plants it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluering.config import Indicator, InstitutionIsolation
from evaluering.did.two_wave import two_wave_did
from evaluering.indicators.prepare import COMPARISON, PreparedData
from evaluering.indicators.units import unit_frame
from evaluering.inference.social_mix import METHOD, monte_carlo_inference, social_mix_inference

DISTRICT = "bydel"
BASELINE, FOLLOWUP = 2021, 2024
INDICATOR = Indicator(
    key="mix-skole", number=13, name="Social mix i skoler", description="isolation index",
    source="institutions", computation=InstitutionIsolation(kind="institution_isolation", institution_type="school"),
    direction="lower_is_better", unit="share",
)


def world(rng: np.random.Generator, *, n_district: int = 240, n_rest: int = 1600, p_district: float = 0.5,
          p_rest: float = 0.25, outside: float = 0.10, planted_outside: float = 0.0, stay: float = 0.6,
          keep_status: float = 0.85, shock_sd: float = 0.05) -> pd.DataFrame:
    """Institution records of two waves. ``planted_outside`` sends more district children outside at follow-up.

    District children attend one of two district institutions, or with probability ``outside`` a
    random rest institution; rest children attend one of eight rest institutions (unequal sizes),
    2 % a district institution. A share ``stay`` of the children is in both waves, in the same
    institution (district children may be sent out by the planted lever) and keeping their home's
    status with probability ``keep_status``. New and changed statuses are drawn with the group's
    rate plus a shock of the institution and wave.
    """
    n_inst_d, n_inst_r = 2, 8
    rest_weights = rng.dirichlet(np.full(n_inst_r, 8.0))
    shock = rng.normal(0.0, shock_sd, size=(2, n_inst_d + n_inst_r))

    def allocate(is_district: np.ndarray, out_share: float) -> np.ndarray:
        n = is_district.size
        own = rng.integers(0, n_inst_d, n)
        rest = n_inst_d + rng.choice(n_inst_r, n, p=rest_weights)
        go_out = rng.random(n) < np.where(is_district, out_share, 0.98)
        return np.where(go_out, rest, own)

    def status(is_district: np.ndarray, inst: np.ndarray, wave: int) -> np.ndarray:
        p = np.where(is_district, p_district, p_rest) + shock[wave, inst]
        return rng.random(inst.size) < np.clip(p, 0.0, 1.0)

    n = n_district + n_rest
    is_d = np.arange(n) < n_district
    inst0 = allocate(is_d, outside)
    dis0 = status(is_d, inst0, 0)
    stayer = rng.random(n) < stay
    # stayers keep their institution (district children may be sent out) and mostly their status
    moved_out = is_d & (rng.random(n) < planted_outside / (1 - outside))
    inst_stay = np.where(moved_out & (inst0 < n_inst_d), n_inst_d + rng.choice(n_inst_r, n, p=rest_weights), inst0)
    dis_stay = np.where(rng.random(n) < keep_status, dis0, status(is_d, inst_stay, 1))
    n_new = n - stayer.sum()
    is_d_new = np.arange(n_new) < n_district - (stayer & is_d).sum()
    inst_new = allocate(is_d_new, outside + planted_outside)
    dis_new = status(is_d_new, inst_new, 1)

    def records(ids, year, is_district, inst, dis):
        return pd.DataFrame({
            "person_id": ids, "year": year, "institution_type": "school",
            "institution_id": [f"SKO{i:02d}" for i in inst], "disadvantaged_home": dis,
            "group": np.where(is_district, DISTRICT, COMPARISON), "area_id": np.where(is_district, "A1", "A2"),
        })

    ids = np.array([f"P{i:06d}" for i in range(n)])
    new_ids = np.array([f"N{i:06d}" for i in range(n_new)])
    return pd.concat([
        records(ids, BASELINE, is_d, inst0, dis0),
        records(ids[stayer], FOLLOWUP, is_d[stayer], inst_stay[stayer], dis_stay[stayer]),
        records(new_ids, FOLLOWUP, is_d_new, inst_new, dis_new),
    ], ignore_index=True)


def prepared(institutions: pd.DataFrame) -> PreparedData:
    """A PreparedData with only the institutions table (all the social-mix indicators read)."""
    return PreparedData(params=None, register=None, survey=None, designs={}, institutions=institutions,
                        visitors=None, dataset=None)


def infer(data: PreparedData, **kwargs):
    return social_mix_inference(data, INDICATOR, DISTRICT, BASELINE, FOLLOWUP, **kwargs)


def test_estimate_is_two_wave_did():
    data = prepared(world(np.random.default_rng(1)))
    units = unit_frame(data, INDICATOR, [BASELINE, FOLLOWUP])
    did = two_wave_did(units, indicator=INDICATOR.key, district=DISTRICT, baseline=BASELINE, followup=FOLLOWUP)
    result = infer(data, n_draws=199)
    assert result.method == METHOD
    assert result.estimate == did.estimate
    assert result.ci_low <= result.estimate <= result.ci_high
    assert result.se > 0


def test_same_seed_same_result():
    data = prepared(world(np.random.default_rng(2)))
    assert infer(data, n_draws=199, seed=5) == infer(data, n_draws=199, seed=5)


def test_p_below_005_exactly_when_zero_outside_interval():
    rng = np.random.default_rng(3)
    seen = {True: 0, False: 0}
    for _ in range(40):
        data = prepared(world(rng, planted_outside=rng.choice([0.0, 0.15, 0.3])))
        r = infer(data, n_draws=199)
        outside = not (r.ci_low <= 0 <= r.ci_high)
        assert (r.p_value < 0.05) == outside
        seen[outside] += 1
    assert min(seen.values()) > 0  # both cases occurred


def test_monte_carlo_inference_inverts_its_test_at_the_boundary():
    """Where the estimate is an order statistic on the edge, p and the interval still agree."""
    errors = np.linspace(-1.0, 1.0, 99)
    for estimate in [*errors, 0.0, 1.5, -1.5, 0.93, 0.959]:
        p, low, high = monte_carlo_inference(float(estimate), errors, 0.95)
        assert (p < 0.05) == (not low <= 0 <= high)


def test_calibrated_where_nothing_is_planted():
    """A district at 50 % against a rest at 25 %: 'better/worse' at most at the nominal rate."""
    rng = np.random.default_rng(2024)
    replicates = 300
    results = [infer(prepared(world(rng)), n_draws=299, seed=int(rng.integers(1 << 30)))
               for _ in range(replicates)]
    p = np.array([r.p_value for r in results])
    estimates = np.array([r.estimate for r in results])
    se = np.array([r.se for r in results])
    rate = float((p < 0.05).mean())
    assert rate <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / replicates)
    # the null's spread is not narrower than the estimate's real spread (the relative SE of a SD is
    # 1/sqrt(2R)), and not grossly wider: taking the larger of two excess-variance models is
    # conservative by design (measured: about 1.2 here)
    ratio = float(np.sqrt(np.mean(se ** 2)) / estimates.std(ddof=1))
    assert 1 - 3 / np.sqrt(2 * replicates) <= ratio <= 1.35, ratio


def test_detects_a_planted_shift():
    """Half of the district's children sent to rest institutions lowers isolation; it is found."""
    rng = np.random.default_rng(7)
    results = [infer(prepared(world(rng, n_district=400, planted_outside=0.5, shock_sd=0.03)), n_draws=299)
               for _ in range(20)]
    assert all(r.estimate < 0 for r in results)
    assert np.mean([r.p_value < 0.05 for r in results]) >= 0.8


def test_no_disadvantaged_children_gives_nan_with_note():
    frame = world(np.random.default_rng(4))
    frame.loc[frame["group"] == DISTRICT, "disadvantaged_home"] = False
    r = infer(prepared(frame), n_draws=99)
    assert np.isnan(r.estimate) and np.isnan(r.p_value) and r.note


def test_one_institution_for_everyone():
    """All children in one institution: the null still runs; with no comparison institutions it says so."""
    frame = world(np.random.default_rng(5)).assign(institution_id="SKO00")
    r = infer(prepared(frame), n_draws=199)
    assert np.isfinite(r.p_value) and r.note and "institutioner" in r.note


def test_few_disadvantaged_children_get_a_note():
    r = infer(prepared(world(np.random.default_rng(6), n_district=30)), n_draws=199)
    assert r.note and "udsatte hjem" in r.note


def test_not_a_social_mix_indicator():
    other = INDICATOR.model_copy(update={"key": "x"})
    object.__setattr__(other, "computation", None)
    with pytest.raises(ValueError):
        social_mix_inference(prepared(world(np.random.default_rng(8))), other, DISTRICT, BASELINE, FOLLOWUP)
