"""Recovery of the effects planted in the synthetic municipality (truth.json).

For every district and indicator with a planted or expected truth, the standardised error
z = (estimate - truth) / se should behave like a standard normal draw (for the social mix
indicators the truth is the effect of the mixing lever; the index change itself is known exactly
and kept as 'realised', which the estimate must reproduce). Two checks follow:

* the number of 95 % intervals that miss the truth is no more than a Binomial(k, 0.05) count
  would be with probability 0.999;
* sum(z^2) lies inside the central 99.8 % of a chi-square with k degrees of freedom, which fails
  both for a biased estimator (z shifted) and for wrong standard errors (z too spread or too tight).

The same checks applied to a deliberately biased estimator (the district's before-after change,
ignoring the comparison group) must fail: that is what shows these tests can fail.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evaluering.did.two_wave import two_wave_did
from evaluering.evaluation import evaluate_district
from evaluering.indicators.levels import indicator_levels
from evaluering.indicators.units import unit_frame

BASELINE, FOLLOWUP = 2021, 2024


@pytest.fixture(scope="module")
def evaluations(prepared, params):
    return {d.key: evaluate_district(prepared, d.key, BASELINE, FOLLOWUP) for d in params.districts}


def _truth_table(truth: dict) -> pd.DataFrame:
    rows = [
        {"district": d, "key": k, "truth": v["value"], "kind": v["truth_kind"], "scale": v["scale"],
         "realised": v.get("realised", np.nan)}
        for d, per_indicator in truth["effects"].items()
        for k, v in per_indicator.items()
    ]
    return pd.DataFrame(rows)


def _standardised(estimates: pd.DataFrame, truth: dict) -> pd.DataFrame:
    merged = estimates.merge(_truth_table(truth), on=["district", "key"], validate="one_to_one")
    merged = merged[merged["kind"] != "realised"]
    return merged.assign(z=(merged["estimate"] - merged["truth"]) / merged["se"])


def _passes(z: np.ndarray) -> tuple[bool, str]:
    k = len(z)
    misses = int((np.abs(z) > stats.norm.ppf(0.975)).sum())
    max_misses = int(stats.binom.ppf(0.999, k, 0.05))
    chi2 = float((z**2).sum())
    low, high = stats.chi2.ppf([0.001, 0.999], k)
    ok = misses <= max_misses and low <= chi2 <= high
    return ok, f"{misses}/{k} intervals miss (max {max_misses}); sum z^2 = {chi2:.1f} (accept {low:.1f}-{high:.1f})"


def _all_estimates(evaluations) -> pd.DataFrame:
    return pd.concat([ev.table.assign(district=ev.district) for ev in evaluations.values()], ignore_index=True)


def test_every_indicator_has_a_truth(truth, params):
    table = _truth_table(truth)
    for district in params.districts:
        assert set(table.loc[table["district"] == district.key, "key"]) == {i.key for i in params.indicators}


def test_estimates_recover_planted_effects(evaluations, truth):
    z = _standardised(_all_estimates(evaluations), truth)
    assert len(z) >= 40
    ok, detail = _passes(z["z"].to_numpy())
    worst = z.reindex(z["z"].abs().sort_values(ascending=False).index).head(5)
    assert ok, f"{detail}\nlargest deviations:\n{worst[['district', 'key', 'estimate', 'truth', 'se', 'z']]}"


def test_realised_truths_are_reproduced_exactly(evaluations, truth, params):
    """The social mix estimates are the isolation index's realised DiD (known exactly from the register)."""
    merged = _all_estimates(evaluations).merge(_truth_table(truth), on=["district", "key"])
    realised = merged[merged["realised"].notna()]
    n_mix = sum(i.computation.kind == "institution_isolation" for i in params.indicators)
    assert len(realised) == n_mix * len(params.districts) > 0
    np.testing.assert_allclose(realised["estimate"], realised["realised"], atol=1e-6)  # truth.json keeps 6 decimals


def test_recovery_check_rejects_a_biased_estimator(prepared, params, truth):
    """Before-after change in the district only (no comparison group): biased by the common trends."""
    rows = []
    for district in params.districts:
        for ind in params.indicators:
            units = unit_frame(prepared, ind, [BASELINE, FOLLOWUP])
            units = units[units["group"] == district.key]
            scale = "log" if ind.source == "visitors" else "difference"
            est = two_wave_did(units, indicator=ind.key, district=district.key, baseline=BASELINE,
                               followup=FOLLOWUP, scale=scale)
            rows.append({"district": district.key, "key": ind.key, "estimate": est.estimate, "se": est.se})
    z = _standardised(pd.DataFrame(rows), truth)
    ok, detail = _passes(z["z"].to_numpy())
    assert not ok, f"the check failed to reject a biased estimator: {detail}"


def test_outside_view_describes_the_rest_of_the_municipality_as_it_is(evaluations, prepared, params):
    """Indicator 16 (asked of the comparison group) uses the comparison group's own survey weights,
    not the weights that make it look like the district: its levels are those of the level tables."""
    outside = next(i for i in params.indicators if i.computation.kind == "survey_outside_view")
    own = indicator_levels(prepared, outside, [BASELINE, FOLLOWUP]).set_index(["group", "period"])["value"]
    for district, ev in evaluations.items():
        levels = ev.levels[ev.levels["indicator"] == outside.key].set_index(["group", "period"])["value"]
        assert len(levels) == 2
        for key, value in levels.items():
            assert value == pytest.approx(own[key], abs=1e-12)
