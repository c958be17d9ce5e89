"""The contents of truth.json: what was planted, and what a correct estimator should recover.

Most effects are planted directly; the isolation index's truth is the effect of the district's
mixing lever on the index DiD (the DiD with the lever minus the DiD without it, computed on the
same draws, so a district without a lever has exactly 0), next to the realised index DiD in the
written institutions table; the education indicators' truth is the effect expected from the
in-migrants who actually arrived.
"""

from __future__ import annotations

import numpy as np

from ... import __version__
from ...config import InstitutionIsolation, Params, RegisterShare, VisitorMean
from .effects import Effects
from .institutions import isolation_levels
from .population import People
from .settings import AREA_EFFECT, ShockSizes
from .world import World


def _group_means(values: np.ndarray, group: np.ndarray, keep: np.ndarray, n_districts: int) -> np.ndarray:
    """Mean of ``values`` over kept rows per group; index n_districts = the rest (group -1)."""
    g = np.where(group < 0, n_districts, group)[keep]
    return np.bincount(g, weights=values[keep].astype(float), minlength=n_districts + 1) / np.maximum(
        np.bincount(g, minlength=n_districts + 1), 1)


def _group_composition(reg: dict[str, np.ndarray], people: People, world: World, params: Params) -> dict:
    """Group profiles in one register year (districts and the comparison group)."""
    n_d = len(params.districts)
    group = world.district[reg["area"]]
    adult = reg["age"] >= 18
    middle = (reg["age"] >= 30) & (reg["age"] <= 64)
    half_median = 0.5 * np.median(reg["income"][adult])
    measures = {
        "non_western_share": (reg["origin"] == 2, np.ones(len(group), bool)),
        "latent_poor_share_18plus": (people.poor[reg["idx"]], adult),
        "poverty_share_18plus": (reg["income"] < half_median, adult),
        "primary_education_share_30_64": (reg["education"] == 0, middle),
        "resourceful_share_30_64": (reg["education"] >= 2, middle),
        "employment_rate_30_64": (reg["employed"], middle),
    }
    names = [d.key for d in params.districts] + ["comparison"]
    return {m: dict(zip(names, np.round(_group_means(v, group, keep, n_d), 4).tolist(), strict=True))
            for m, (v, keep) in measures.items()}


def _expected_selection(reg: dict, previous: dict, people: People, world: World, n_districts: int,
                        delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Expected DiD vs the baseline of indicators 17 (stock) and 19 (in-movers) per district.

    Only people whose education was drawn under the raised probability (``flagged``) differ in
    expectation, by delta of the district they entered; no one is flagged at the baseline.
    """
    group = world.district[reg["area"]]
    was_in = np.full(len(people), -2)
    was_in[previous["idx"]] = world.district[previous["area"]]
    middle = (reg["age"] >= 30) & (reg["age"] <= 64)
    inmover = middle & (was_in[reg["idx"]] != group)
    flagged = people.flagged[reg["idx"]]
    entered = world.district[people.entry_area[reg["idx"]]]
    gain = np.where(flagged, np.append(delta, 0.0)[entered], 0.0)
    stock = _group_means(gain, group, middle, n_districts)
    movers = _group_means(gain, group, inmover, n_districts)
    return stock[:-1] - stock[-1], movers[:-1] - movers[-1]


def _shock_description(sizes: ShockSizes) -> dict:
    """The world's shock sizes (all zero in the default world), so simulations can read them."""
    return {
        "area_year_additive_sd": dict(sizes.area_additive),
        "area_year_relative_sd": dict(sizes.area_relative),
        "institution_year_logit_sd": sizes.institution,
        "counter_year_log_sd": sizes.counter,
        "note": "independent zero-mean draws per area x year (additive on the probability/mean scale, or a "
                "mean-one log-normal multiplier of the baseline risk), per institution x year (logit shift of "
                "the probability that a disadvantaged child attends its home institution) and per counter x "
                "year (log scale); applied to district and comparison units alike",
    }


def _mix_entry(kind: str, j: int, n_d: int, isolation: dict, lever_free: dict, baseline: int,
               later: list[int]) -> dict[str, dict[str, float]]:
    """Levers' effect and realised isolation DiD per later wave for district ``j`` and one institution type.

    ``lever_free[(w, kind)]`` holds the wave's index levels with every mixing lever of the type
    switched off (same draws otherwise); it is absent when all are 0, whose effect is then exactly 0.
    """
    effect, realised = {}, {}
    for w in later:
        level, base = isolation[w][kind], isolation[baseline][kind]
        realised[str(w)] = round(float((level[j] - base[j]) - (level[n_d] - base[n_d])), 6)
        without = lever_free.get((w, kind))
        lever = 0.0 if without is None else (level[j] - level[n_d]) - (without[j] - without[n_d])
        effect[str(w)] = round(float(lever), 6)
    return {"effect": effect, "realised": realised}


def build_truth(params: Params, seed: int, waves: list[int], register_years: dict, institution_years: dict,
                survey_waves: dict, people: People, world: World, effects: Effects, lever_free: dict,
                world_name: str, planted: str, shock_sizes: ShockSizes) -> dict:
    """Everything a recovery test needs to know about what was planted.

    ``lever_free`` maps (wave, institution type) to the isolation index levels of that wave with
    every mixing lever of the type switched off (see :func:`_mix_entry`).
    """
    baseline = params.survey.baseline_wave
    later = [w for w in waves if w > baseline]
    n_d = len(params.districts)
    groups = [d.key for d in params.districts] + ["comparison"]
    isolation = {w: isolation_levels(institution_years[w], n_d) for w in [baseline, *later]}
    selection = {w: _expected_selection(register_years[w], register_years[w - 1], people, world, n_d,
                                        effects.inmover_raise) for w in later}

    truth_effects: dict[str, dict] = {}
    for j, d in enumerate(params.districts):
        entries = {}
        for ind in params.indicators:
            comp, value = ind.computation, effects.table[d.key][ind.key]
            if isinstance(comp, InstitutionIsolation):
                mix = _mix_entry(comp.institution_type, j, n_d, isolation, lever_free, baseline, later)
                by_wave = mix["effect"]
                entry = {"truth_kind": "planted",
                         "lever": {"extra_outside_share": value, "from_year": baseline + 1},
                         "realised": mix["realised"][str(waves[-1])] if later else 0.0,
                         "realised_by_wave": mix["realised"]}
            elif getattr(comp, "column", None) == "education":
                which = 0 if isinstance(comp, RegisterShare) else 1
                by_wave = {str(w): round(float(selection[w][which][j]), 6) for w in later}
                entry = {"truth_kind": "expected", "lever": {"inmover_resourceful_raise": value}}
            else:
                entries[ind.key] = {"value": value, "scale": "log" if isinstance(comp, VisitorMean) else "share",
                                    "truth_kind": "planted"}
                continue
            entries[ind.key] = {"value": by_wave[str(waves[-1])] if later else 0.0, "scale": "share",
                                **entry, "by_wave": by_wave}
        truth_effects[d.key] = entries

    base_reg = register_years[baseline]
    base_district = world.district[base_reg["area"]]
    return {
        "seed": seed,
        "world": world_name,
        "planted": planted,
        "baseline_wave": baseline,
        "waves": waves,
        "generated_with": f"evaluering {__version__}",
        "effects": truth_effects,
        "area_effect": {
            "outcome": "employed",
            "context": "share of adults 18+ with income below 50% of the municipal median",
            "threshold": AREA_EFFECT["threshold"],
            "slope_below": 0.0,
            "slope_above": AREA_EFFECT["slope_above"],
            "scale": "probability",
            "note": "planted on the area's share of adults with the latent poor trait (same year), which the "
                    "observed poverty share tracks; applies to ages 18-64",
        },
        "shocks": _shock_description(shock_sizes),
        "composition": _group_composition(base_reg, people, world, params),
        "population": {str(y): int(len(r["idx"])) for y, r in register_years.items()},
        "district_adults_baseline": {
            d.key: int(((base_district == j) & (base_reg["age"] >= 18)).sum()) for j, d in enumerate(params.districts)
        },
        "survey_response_rates": {
            str(w): {"district": round(float(s["responded"][~s["comparison"]].mean()), 4),
                     "comparison": round(float(s["responded"][s["comparison"]].mean()), 4)}
            for w, s in survey_waves.items()
        },
        "isolation_index": {
            str(w): {kind: dict(zip(groups, np.round(v, 6).tolist(), strict=True)) for kind, v in levels.items()}
            for w, levels in isolation.items()
        },
        "definitions": {
            "realised": "isolation DiD (district wave - district baseline) - (comparison wave - comparison "
                        "baseline), computed from the written institutions table; children grouped by their "
                        "area of residence that year, comparison = children living in the rest",
            "planted_mix": "mix-* value: the realised isolation DiD minus the same DiD with every mixing "
                           "lever of the institution type switched off and every draw (children, homes, shocks) "
                           "the same; it includes the levers' effect on the comparison group's index, so a "
                           "district without a lever of its own can have a non-zero value when another "
                           "district's lever moves the comparison group. The realised DiD is under 'realised'",
            "expected": "delta x (share of flagged people among the district's 30-64-year-olds [17] or 30-64 "
                        "in-movers [19] in the wave) minus the same for the comparison group; flagged = "
                        "in-migrant into a district after the baseline whose education was drawn with "
                        "P(vocational or higher) raised by delta; in-movers of a year = residents of the group's "
                        "areas who did not live in the group's areas the year before",
            "planted": "effect added to the outcome probability (share scale) or log mean (log scale) for "
                       "residents of the district in every year after the baseline wave",
        },
    }
