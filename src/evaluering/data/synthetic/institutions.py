"""Daycare, school and after-school institutions of the synthetic children, and the isolation index.

The planted mixing lever sends more district children to institutions outside their district
after the baseline wave; :func:`isolation_index` measures how concentrated disadvantaged children
are, both for the truth file and for tests of the estimator.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from ...config import Params
from ..contract import INSTITUTION_TYPE
from .effects import Effects
from .population import People
from .settings import (
    DISTRICT_ADULTS_PER_DAYCARE,
    DISTRICT_OUTSIDE_SHARE,
    DISTRICT_PROFILES,
    INSTITUTION_AGES,
    INSTITUTION_PREFIX,
    INSTITUTIONS_IN_REST,
    REST_HOME_SHARE,
    REST_IN_DISTRICT_SHARE,
    DistrictProfile,
)
from .shocks import Shocks
from .world import World


def institution_catalogue(params: Params, profiles: dict[str, DistrictProfile] = DISTRICT_PROFILES,
                          ) -> dict[str, tuple[list[np.ndarray], np.ndarray]]:
    """Institution ids per type: one array per district (those located there) and the rest's."""
    catalogue = {}
    for kind in INSTITUTION_TYPE:
        counts = [
            max(1, round(profiles[d.key].adults / DISTRICT_ADULTS_PER_DAYCARE)) if kind == "daycare" else 1
            for d in params.districts
        ]
        n_total = sum(counts) + INSTITUTIONS_IN_REST[kind]
        ids = np.array([f"{INSTITUTION_PREFIX[kind]}{i + 1:02d}" for i in range(n_total)], dtype=object)
        bounds = np.cumsum([0, *counts])
        catalogue[kind] = ([ids[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)], ids[bounds[-1]:])
    return catalogue


def institutions_year(year: int, reg: dict[str, np.ndarray], people: People, world: World,
                      catalogue: dict, effects: Effects, params: Params,
                      shocks: Shocks | None = None) -> dict[str, np.ndarray]:
    """Each child's daycare/school/after-school institution in ``year`` and home disadvantage.

    Choices rest on fixed per-child uniforms, so a child stays put unless it moves or the rules
    change. District children attend a district institution unless their uniform falls below the
    outside share (raised by the planted mixing lever after the baseline wave); rest children
    mostly attend their local institution, a few one in a district. A home is disadvantaged when
    the household is poor or the resident mother is neither employed nor in education. With
    institution x year shocks (heterogeneous world) the probability that a child attends its home
    institution (local or own-district) is shifted on the logit scale by that institution's shock
    of the year, up for disadvantaged and down for other children (or the reverse), so the share of
    disadvantaged children it takes in varies from year to year.
    """
    active = np.zeros(len(people), dtype=bool)
    active[reg["idx"]] = reg["employed"] | reg["in_education"]
    resident = np.zeros(len(people), dtype=bool)
    resident[reg["idx"]] = True
    post = year > params.survey.baseline_wave
    rest_areas = np.flatnonzero(world.district < 0)
    rest_rank = np.full(len(world.size), -1)
    rest_rank[rest_areas] = np.arange(len(rest_areas))

    parts: dict[str, list[np.ndarray]] = {"idx": [], "kind": [], "institution": [], "disadvantaged": [], "group": []}
    for k, kind in enumerate(INSTITUTION_TYPE):
        low, high = INSTITUTION_AGES[kind]
        sel = (reg["age"] >= low) & (reg["age"] <= high)
        idx, area = reg["idx"][sel], reg["area"][sel]
        district = world.district[area]
        u, v = people.inst_u[idx, k], people.inst_u[idx, 3]
        in_district, rest_ids = catalogue[kind]
        n_rest = len(rest_ids)
        district_ids = np.concatenate(in_district)
        ids = np.concatenate([rest_ids, district_ids])  # positions: rest first, then districts
        first_of = n_rest + np.cumsum([0, *(len(x) for x in in_district)])[:-1]
        size_of = np.array([len(x) for x in in_district])
        mother = people.mother[idx]
        mother_home = (mother >= 0) & resident[np.maximum(mother, 0)]
        disadvantaged = people.poor[idx] | (mother_home & ~active[np.maximum(mother, 0)])

        random_rest = np.floor(v * n_rest).astype(np.int64)
        local = rest_rank[area] * n_rest // len(rest_areas)
        random_district = n_rest + np.floor(v * len(district_ids)).astype(np.int64)
        d = np.maximum(district, 0)
        outside = DISTRICT_OUTSIDE_SHARE + post * effects.mixing.get(kind, np.zeros(len(size_of)))[d]
        own = first_of[d] + np.floor(v * size_of[d]).astype(np.int64)
        home_share = REST_HOME_SHARE
        intake = None if shocks is None else shocks.intake(kind, year)
        if intake is not None:
            shift = np.where(disadvantaged, 1.0, -1.0) * intake[np.where(district >= 0, own, local)]
            home_share = np.minimum(expit(logit(REST_HOME_SHARE) + shift), 1 - REST_IN_DISTRICT_SHARE)
            outside = 1 - expit(logit(1 - outside) + shift)
        rest_choice = np.where(u < home_share, local,
                               np.where(u < 1 - REST_IN_DISTRICT_SHARE, random_rest, random_district))
        district_choice = np.where(u < outside, random_rest, own)
        position = np.where(district >= 0, district_choice, rest_choice)

        parts["idx"].append(idx)
        parts["kind"].append(np.full(len(idx), k))
        parts["institution"].append(ids[position])
        parts["disadvantaged"].append(disadvantaged)
        parts["group"].append(district)
    return {name: np.concatenate(values) for name, values in parts.items()}


def isolation_index(institution: np.ndarray, disadvantaged: np.ndarray, group: np.ndarray,
                    n_groups: int) -> np.ndarray:
    """Isolation index per group (0..n_groups-1) of one institution type in one year.

    Among disadvantaged children of the group: the mean share of disadvantaged children among the
    OTHER children of their institution (institutions with a single child are left out).
    """
    codes, _ = pd.factorize(institution)
    n = np.bincount(codes)
    k = np.bincount(codes, weights=disadvantaged)
    counted = disadvantaged & (n[codes] > 1)
    share = (k[codes] - 1) / np.maximum(n[codes] - 1, 1)
    total = np.bincount(group[counted], weights=share[counted], minlength=n_groups)
    return total / np.maximum(np.bincount(group[counted], minlength=n_groups), 1)


def isolation_levels(institutions: dict, n_districts: int) -> dict[str, np.ndarray]:
    """Isolation index per institution type of one year; index n_districts = comparison."""
    out = {}
    for k, kind in enumerate(INSTITUTION_TYPE):
        sel = institutions["kind"] == k
        group = np.where(institutions["group"][sel] < 0, n_districts, institutions["group"][sel])
        out[kind] = isolation_index(institutions["institution"][sel], institutions["disadvantaged"][sel], group,
                                    n_districts + 1)
    return out
