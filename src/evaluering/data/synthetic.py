"""A deterministic synthetic Gladsaxe-like municipality with planted, known effects.

:func:`generate` writes the five input tables of the contract (:mod:`evaluering.data.contract`)
and ``truth.json``, so every estimator in the package can be tested by recovering effects that
we put in ourselves. One ``numpy.random.Generator`` drives everything: a seed fixes every byte.

How the world is built:

* **Areas.** Each district gets 3-5 small areas, the rest of the municipality ~70. Every area has
  a deprivation level that fixes its composition: origin, education and a latent, persistent
  "poor" trait (which drives low income, so an area's observed poverty share tracks it).
* **People.** A yearly register panel from ``register.first_year``: ageing, births, deaths, moves
  within the municipality and migration. A mover picks a destination with probability
  proportional to the area's size times its share of people like the mover (same origin,
  education, poor trait); in-migrants are drawn from the composition of the area they move to.
  So every area's composition is stationary in expectation and a difference-in-differences is
  unbiased apart from the planted effects.
* **Outcomes.** Additive probability models: person baseline (age, sex, origin, education, poor)
  + common year trend (+ a Galster threshold area effect for employment) + the planted district
  effect in years after the baseline wave, drawn independently each year. Outcome models use each
  person's *latent* education (drawn before any in-migration selection), so the planted selection
  on in-movers' education moves only indicators 17 and 19.
* **Survey, institutions and visitor counters** are built from the same people (see their
  functions for the models).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .. import __version__
from ..config import (
    InmoverShare,
    InstitutionIsolation,
    Params,
    RegisterMean,
    RegisterShare,
    SurveyOutsideView,
    SurveyShare,
    VisitorMean,
)
from .contract import EDUCATION, INSTITUTION_TYPE, ORIGIN, SEX

__all__ = ["PLANTED_EFFECTS", "DISTRICT_PROFILES", "DistrictProfile", "generate", "isolation_index"]

# --- planted effects ---------------------------------------------------------------------------
# District key -> indicator key -> effect from the year after the baseline wave on, in the
# indicator's own scale (the sign is about the indicator's value: a negative effect on
# 'kriminalitet' or 'ensomhed' is an improvement). Three kinds of entries are levers instead:
#   mix-*                              extra share of the district's children attending institutions
#                                      outside the district; truth.json gives the REALISED change of
#                                      the isolation index.
#   ressourcestaerke, bevaegelse       (must be equal) the rise in P(vocational or higher education)
#                                      of in-migrants into the district; truth.json gives the
#                                      EXPECTED effect given the realised movers.
#   brug-af-omraadet                   on the log scale of the daily visitor count.
PLANTED_EFFECTS: dict[str, dict[str, float]] = {
    "hoeje-gladsaxe": {
        "uddannelse": 0.05,
        "arbejdsmarked": 0.03,
        "oplevet-sundhed": 0.05,
        "fysisk-tryghed": 0.08,
        "oekonomisk-tryghed": 0.0,
        "fremtidsrettet-tryghed": 0.06,
        "kriminalitet": -0.005,
        "deltagelse": 0.07,
        "ensomhed": -0.05,
        "demokratisk-deltagelse": 0.0,
        "skolefravaer": -0.01,
        "mix-dagtilbud": 0.30,
        "mix-skole": 0.0,
        "mix-sfo": 0.0,
        "beboernes-oplevelse": 0.08,
        "omverdenens-oplevelse": 0.10,
        "ressourcestaerke": 0.25,
        "brug-af-omraadet": 0.35,
        "bevaegelse": 0.25,
    },
    "vaerebro-park": {
        "uddannelse": 0.03,
        "arbejdsmarked": 0.0,
        "oplevet-sundhed": 0.0,
        "fysisk-tryghed": 0.06,
        "oekonomisk-tryghed": -0.05,
        "fremtidsrettet-tryghed": 0.0,
        "kriminalitet": 0.0,
        "deltagelse": 0.04,
        "ensomhed": 0.0,
        "demokratisk-deltagelse": 0.04,
        "skolefravaer": 0.01,
        "mix-dagtilbud": 0.0,
        "mix-skole": 0.20,
        "mix-sfo": 0.0,
        "beboernes-oplevelse": 0.05,
        "omverdenens-oplevelse": 0.0,
        "ressourcestaerke": 0.15,
        "brug-af-omraadet": 0.10,
        "bevaegelse": 0.15,
    },
    "moerkhoej": {
        "uddannelse": 0.0,
        "arbejdsmarked": -0.03,
        "oplevet-sundhed": -0.04,
        "fysisk-tryghed": 0.0,
        "oekonomisk-tryghed": 0.04,
        "fremtidsrettet-tryghed": 0.05,
        "kriminalitet": 0.004,
        "deltagelse": 0.0,
        "ensomhed": 0.04,
        "demokratisk-deltagelse": -0.03,
        "skolefravaer": 0.0,
        "mix-dagtilbud": 0.0,
        "mix-skole": 0.0,
        "mix-sfo": 0.15,
        "beboernes-oplevelse": -0.04,
        "omverdenens-oplevelse": 0.06,
        "ressourcestaerke": 0.0,
        "brug-af-omraadet": -0.10,
        "bevaegelse": 0.0,
    },
}


@dataclass(frozen=True)
class DistrictProfile:
    """What makes one synthetic district look like itself."""

    adults: int  # residents 18+ in the baseline year
    n_areas: int
    deprivation: tuple[float, float]  # range of its areas' deprivation levels (0 affluent, 1 deprived)
    response_shift: float  # survey response propensity relative to the other districts
    outside_view: float  # share of comparison respondents with a positive view before the baseline
    visitor_level: float  # log mean daily count at the district's counters


DISTRICT_PROFILES: dict[str, DistrictProfile] = {
    "hoeje-gladsaxe": DistrictProfile(3000, 5, (0.80, 0.95), -0.02, 0.30, 5.3),
    "vaerebro-park": DistrictProfile(2400, 4, (0.72, 0.90), 0.00, 0.35, 5.1),
    "moerkhoej": DistrictProfile(1900, 3, (0.62, 0.85), 0.02, 0.42, 5.0),
}

# --- population --------------------------------------------------------------------------------
MAX_AGE = 105
ADULT_SHARE = 0.83  # share 18+ of the synthetic population (used to size areas)
GROWTH = 1.004  # yearly growth of every area's size
REST_AREA_SIZE = 850  # mean residents of a small area in the rest of the municipality
N_CELLS = 24  # origin (3) x latent education (4) x poor (2)
CHILD_MOTHER_AGE_GAP = (20, 40)  # a child is linked to a woman this many years older


def _by_age(edges: list[int], values: list[float]) -> np.ndarray:
    """Table indexed by age 0..MAX_AGE: values[k] applies from edges[k] to the next edge."""
    ages = np.arange(MAX_AGE + 1)
    return np.asarray(values, dtype=float)[np.searchsorted(edges, ages, side="right") - 1]


POPULATION_AGE_WEIGHTS = _by_age([0, 18, 30, 50, 65, 80, 90], [1.1, 1.4, 1.35, 1.2, 0.95, 0.5, 0.12])
OUT_MIGRATION = _by_age([0, 18, 20, 30, 40, 65], [0.04, 0.08, 0.13, 0.07, 0.03, 0.02])
INTERNAL_MOVE = _by_age([0, 18, 30, 40, 65], [0.05, 0.16, 0.10, 0.05, 0.03])
FERTILITY = _by_age([0, 20, 25, 30, 35, 40, 45], [0.0, 0.03, 0.09, 0.11, 0.06, 0.012, 0.0])
DEATH = np.minimum(1.0, 0.00002 * np.exp(0.1 * np.arange(MAX_AGE + 1)))
DEATH[MAX_AGE] = 1.0
IN_MIGRANT_AGE = POPULATION_AGE_WEIGHTS * OUT_MIGRATION / (POPULATION_AGE_WEIGHTS * OUT_MIGRATION).sum()

# p(education | origin) at the affluent (deprivation 0) and deprived (1) ends; rows: ORIGIN
EDU_AFFLUENT = np.array([[0.12, 0.12, 0.34, 0.42], [0.15, 0.15, 0.25, 0.45], [0.30, 0.15, 0.22, 0.33]])
EDU_DEPRIVED = np.array([[0.40, 0.12, 0.33, 0.15], [0.40, 0.15, 0.25, 0.20], [0.58, 0.12, 0.18, 0.12]])
POOR_ORIGIN_FACTOR = np.array([0.8, 1.0, 1.6])
POOR_EDU_FACTOR = np.array([1.7, 1.1, 0.8, 0.5])
WESTERN_SHARE = 0.07
EDU_REACHED_AT = np.array([15, 19, 21, 25])  # age at which each final level is completed
RESOURCEFUL = np.array([False, False, True, True])  # vocational or higher

# --- outcome models (probability scale unless noted) ---------------------------------------------
EMPLOYMENT_CYCLE = {
    2010: -0.03, 2011: -0.03, 2012: -0.03, 2013: -0.025, 2014: -0.02, 2015: -0.01, 2016: 0.0,
    2017: 0.01, 2018: 0.015, 2019: 0.02, 2020: 0.005, 2021: 0.015, 2022: 0.03, 2023: 0.03,
    2024: 0.025, 2025: 0.025, 2026: 0.025, 2027: 0.025,
}
TURNOUT_SHIFT = {2013: 0.0, 2017: 0.0, 2019: 0.06, 2021: -0.04, 2022: 0.05, 2024: -0.18, 2025: -0.04, 2027: 0.06}
AREA_EFFECT = {"threshold": 0.20, "slope_above": -0.6}
CLIP = (0.01, 0.99)
CONVICTION_CLIP = (0.0005, 0.99)  # conviction risks are ~1 %: a 1 % floor would swallow the effect
INCOME = {"poor": (100_000, 0.12), "employed": (420_000, 0.35), "not_employed": (250_000, 0.18),
          "teen": (25_000, 0.5)}  # (median DKK in the first register year, log sd)
INCOME_GROWTH = 1.02
ABSENCE_SHAPE = 2.0

# --- survey --------------------------------------------------------------------------------------
SURVEY_AGE_EDGES = (18, 30, 50, 67)  # bands 18-29, 30-49, 50-66, 67+
COMPARISON_SAMPLE = 5500
RESPONSE = {"level": 0.485, "age": (-0.16, -0.07, 0.03, 0.10), "female": 0.04,
            "origin": (0.03, -0.04, -0.15), "district": -0.02, "comparison": 0.03}
SKIP_QUESTION = 0.02
# Top-box probability per survey indicator: level in the rest, gap for district residents,
# effects of age band, being female and origin, and the common wave trend.
SURVEY_MODELS: dict[str, dict] = {
    "oplevet-sundhed": dict(level=0.70, gap=-0.10, age=(0.06, 0.02, -0.05, -0.12), female=-0.03,
                            origin=(0.0, -0.02, -0.06), trend={2024: -0.02}),
    "fysisk-tryghed": dict(level=0.80, gap=-0.20, age=(-0.02, 0.0, 0.0, -0.08), female=-0.10,
                           origin=(0.0, 0.0, 0.03), trend={2024: -0.01}),
    "oekonomisk-tryghed": dict(level=0.62, gap=-0.18, age=(-0.10, -0.03, 0.02, 0.06), female=-0.03,
                               origin=(0.0, -0.03, -0.10), trend={2024: -0.04, 2027: -0.02}),
    "fremtidsrettet-tryghed": dict(level=0.68, gap=-0.15, age=(0.04, 0.0, -0.03, -0.05), female=-0.02,
                                   origin=(0.0, -0.02, -0.04), trend={2024: -0.02}),
    "deltagelse": dict(level=0.38, gap=-0.12, age=(-0.08, 0.02, 0.03, 0.06), female=0.02,
                       origin=(0.0, -0.06, -0.10), trend={2024: 0.02, 2027: 0.03}),
    "ensomhed": dict(level=0.08, gap=0.07, age=(0.06, 0.0, 0.0, 0.04), female=0.02,
                     origin=(0.0, 0.02, 0.05), trend={2024: 0.01}),
    "beboernes-oplevelse": dict(level=0.85, gap=-0.20, age=(-0.05, 0.0, 0.02, 0.04), female=0.0,
                                origin=(0.0, 0.0, 0.03), trend={}),
}
SURVEY_BASE_CLIP = (0.05, 0.9)

# --- institutions --------------------------------------------------------------------------------
INSTITUTION_AGES = {"daycare": (1, 5), "school": (6, 16), "after_school": (6, 12)}
INSTITUTION_PREFIX = {"daycare": "DAG", "school": "SKO", "after_school": "SFO"}
DISTRICT_ADULTS_PER_DAYCARE = 1000  # districts have one school and one after-school club each
INSTITUTIONS_IN_REST = {"daycare": 28, "school": 9, "after_school": 9}
DISTRICT_OUTSIDE_SHARE = 0.10  # district children attending an institution outside the district
REST_HOME_SHARE = 0.75  # rest children attending their local institution
REST_IN_DISTRICT_SHARE = 0.02  # rest children attending a district institution

# --- visitor counters ----------------------------------------------------------------------------
VISITOR_START = "2019-01-01"
REST_COUNTERS = 4
VISITOR_YEAR_TREND = {2019: 0.0, 2020: -0.20, 2021: -0.05, 2022: 0.02, 2023: 0.04, 2024: 0.05, 2025: 0.06,
                      2026: 0.06, 2027: 0.07}
VISITOR_WEEKDAY = np.array([0.0, 0.0, 0.0, 0.0, 0.05, 0.15, 0.20])  # Monday..Sunday
VISITOR_SEASON = 0.25  # amplitude of the yearly cycle on the log scale, peak in mid-July
VISITOR_DAILY_NOISE = 0.10  # log-normal overdispersion of a day's count


# =================================================================================================
# Areas
# =================================================================================================


@dataclass(frozen=True)
class _World:
    """Small areas, their sizes and compositions, and where movers go."""

    area_ids: np.ndarray  # "A001", ...
    district: np.ndarray  # district index per area, -1 in the rest
    size: np.ndarray  # residents in the reference year
    ref_year: int
    p_edu: np.ndarray  # (area, origin, education)
    cell_cum: np.ndarray  # (area, cell): cumulative composition
    dest_cum: np.ndarray  # (cell, area): cumulative destination probabilities of a mover
    edu_cum: np.ndarray  # (area, origin, poor, education): cumulative p(education | origin, poor)

    def target(self, year: int) -> np.ndarray:
        """Residents each area should hold in ``year`` (in-migration fills the gap)."""
        return np.round(self.size * GROWTH ** (year - self.ref_year)).astype(np.int64)


def _cell(origin: np.ndarray, edu: np.ndarray, poor: np.ndarray) -> np.ndarray:
    """Composition cell index of origin x latent education x poor."""
    return origin.astype(np.int64) * 8 + edu.astype(np.int64) * 2 + poor.astype(np.int64)


def _draw_rows(cum: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One category per row of a matrix of cumulative probabilities."""
    u = rng.random(cum.shape[0])
    return np.minimum((cum < u[:, None]).sum(axis=1), cum.shape[1] - 1)


def _compositions(deprivation: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """p(origin), p(education | origin) and p(poor | origin, education) of each area."""
    dep = deprivation[:, None]
    non_western = 0.04 + 0.5 * deprivation**1.5
    western = np.full_like(deprivation, WESTERN_SHARE)
    p_origin = np.column_stack([1 - western - non_western, western, non_western])
    p_edu = (1 - dep[:, :, None]) * EDU_AFFLUENT + dep[:, :, None] * EDU_DEPRIVED
    poor_level = 0.01 + 0.27 * deprivation
    p_poor = np.clip(poor_level[:, None, None] * POOR_ORIGIN_FACTOR[None, :, None] * POOR_EDU_FACTOR, 0, 0.85)
    return p_origin, p_edu, p_poor


def _build_world(params: Params, rng: np.random.Generator) -> tuple[_World, pd.DataFrame]:
    """Draw the small areas: districts first, then the rest of the municipality."""
    baseline, ref_year = params.survey.baseline_wave, params.survey.waves[-1]
    to_ref = GROWTH ** (ref_year - baseline)
    district, deprivation, size = [], [], []
    for d_index, d in enumerate(params.districts):
        profile = DISTRICT_PROFILES[d.key]
        total = profile.adults / ADULT_SHARE * to_ref
        district += [d_index] * profile.n_areas
        deprivation.append(rng.uniform(*profile.deprivation, profile.n_areas))
        size.append(total * rng.dirichlet(np.full(profile.n_areas, 8.0)))
    rest_total = params.municipality.inhabitants - sum(s.sum() for s in size)
    n_rest = int(round(rest_total / REST_AREA_SIZE))
    district += [-1] * n_rest
    deprivation.append(np.minimum(rng.beta(1.3, 3.5, n_rest), 0.72))
    rest_size = rng.uniform(650, 1050, n_rest)
    size.append(rest_size * rest_total / rest_size.sum())

    deprivation_arr = np.concatenate(deprivation)
    size_arr = np.concatenate(size)
    p_origin, p_edu, p_poor = _compositions(deprivation_arr)
    joint = p_origin[:, :, None, None] * p_edu[:, :, :, None] * np.stack([1 - p_poor, p_poor], axis=-1)
    cells = joint.reshape(len(size_arr), N_CELLS)
    dest = (size_arr[:, None] * cells).T
    edu_given = p_edu[:, :, None, :] * np.stack([1 - p_poor, p_poor], axis=2)
    edu_given /= edu_given.sum(axis=-1, keepdims=True)

    n_areas = len(size_arr)
    area_ids = np.array([f"A{i + 1:03d}" for i in range(n_areas)], dtype=object)
    keys = [params.districts[i].key if i >= 0 else None for i in district]
    areas = pd.DataFrame(
        {
            "area_id": pd.array(area_ids, dtype="string"),
            "area_name": pd.array([f"Område {i + 1:03d}" for i in range(n_areas)], dtype="string"),
            "district": pd.array(keys, dtype="string"),
        }
    )
    world = _World(
        area_ids=area_ids,
        district=np.asarray(district),
        size=size_arr,
        ref_year=ref_year,
        p_edu=p_edu,
        cell_cum=np.cumsum(cells, axis=1),
        dest_cum=np.cumsum(dest / dest.sum(axis=1, keepdims=True), axis=1),
        edu_cum=np.cumsum(edu_given, axis=-1),
    )
    return world, areas


# =================================================================================================
# People
# =================================================================================================


class _People:
    """Traits of everyone who ever lived in the municipality (array index = person number)."""

    FIELDS = {
        "cohort": np.int64,  # register year in which the person is aged 0
        "female": bool,
        "origin": np.int8,
        "edu": np.int8,  # latent final education (drives outcomes)
        "edu_reported": np.int8,  # final education as registered (differs after planted selection)
        "poor": bool,
        "flagged": bool,  # education drawn with the planted raised probability
        "mother": np.int64,  # person number of the linked mother, -1 if none
        "area": np.int64,  # current area, -1 when not living in the municipality
        "entry_area": np.int64,  # area of residence when first registered
    }

    def __init__(self) -> None:
        for name, dtype in self.FIELDS.items():
            setattr(self, name, np.empty(0, dtype=dtype))
        self.inst_u = np.empty((0, 4))  # fixed uniforms for institution choice (3 types + pick)

    def __len__(self) -> int:
        return len(self.cohort)

    def add(self, new: dict[str, np.ndarray]) -> None:
        """Append new people (person numbers continue from len(self))."""
        for name, dtype in self.FIELDS.items():
            setattr(self, name, np.concatenate([getattr(self, name), np.asarray(new[name], dtype=dtype)]))
        self.inst_u = np.concatenate([self.inst_u, new["inst_u"]])


def _raise_education(edu: np.ndarray, p_edu: np.ndarray, delta: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Education drawn with P(vocational or higher) raised by ``delta``, coupled to the latent draw.

    A person with a non-resourceful latent level switches with probability delta / (1 - p_res)
    to vocational or higher (in proportion to their base probabilities); resourceful people keep
    their level. The result has exactly the raised distribution, and the latent level (which the
    poor trait and all outcomes depend on) is unchanged.
    """
    p_res = p_edu[:, 2] + p_edu[:, 3]
    switch = ~RESOURCEFUL[edu] & (rng.random(len(edu)) < delta / (1 - p_res))
    to_higher = rng.random(len(edu)) < p_edu[:, 3] / p_res
    return np.where(switch, np.where(to_higher, 3, 2), edu).astype(np.int8)


def _link_mothers(age: np.ndarray, female: np.ndarray, area: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each child (<18) of a batch, a random woman of the batch in the same area who is
    20-40 years older (position in the batch, -1 if none)."""
    women = np.flatnonzero(female & (age >= 18))
    key = area[women] * 1000 + age[women]
    order = np.argsort(key, kind="stable")
    women, key = women[order], key[order]
    children = np.flatnonzero(age < 18)
    lo = np.searchsorted(key, area[children] * 1000 + age[children] + CHILD_MOTHER_AGE_GAP[0], "left")
    hi = np.searchsorted(key, area[children] * 1000 + age[children] + CHILD_MOTHER_AGE_GAP[1], "right")
    pick = lo + np.floor(rng.random(len(children)) * (hi - lo)).astype(np.int64)
    mother = np.full(len(age), -1, dtype=np.int64)
    has = hi > lo
    mother[children[has]] = women[pick[has]]
    return mother


def _entrants(world: _World, counts: np.ndarray, year: int, age_pmf: np.ndarray, raise_by_area: np.ndarray,
              rng: np.random.Generator, offset: int) -> dict[str, np.ndarray]:
    """People entering the given areas in ``year`` (initial population or in-migrants), drawn from
    each area's composition; children are linked to a woman of the batch when one fits, and take
    her origin and poor trait (household traits)."""
    area = np.repeat(np.arange(len(counts)), counts)
    n = len(area)
    cell = _draw_rows(world.cell_cum[area], rng)
    origin, edu, poor = cell // 8, (cell // 2) % 4, (cell % 2).astype(bool)
    age = rng.choice(MAX_AGE + 1, size=n, p=age_pmf)
    female = rng.random(n) < 0.5
    mother = _link_mothers(age, female, area, rng)
    linked = np.flatnonzero(mother >= 0)
    origin[linked], poor[linked] = origin[mother[linked]], poor[mother[linked]]
    edu[linked] = _draw_rows(world.edu_cum[area[linked], origin[linked], poor[linked].astype(int)], rng)
    delta = raise_by_area[area]
    flagged = delta > 0
    edu_reported = edu.astype(np.int8)
    edu_reported[flagged] = _raise_education(edu[flagged], world.p_edu[area[flagged], origin[flagged]],
                                             delta[flagged], rng)
    return {
        "cohort": year - age, "female": female, "origin": origin, "edu": edu, "edu_reported": edu_reported,
        "poor": poor, "flagged": flagged, "mother": np.where(mother >= 0, mother + offset, -1), "area": area,
        "entry_area": area, "inst_u": rng.random((n, 4)),
    }


def _births(people: _People, world: _World, year: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Children born to resident women aged 20-44, registered in ``year`` in the mother's area
    with her origin and poor trait."""
    women = np.flatnonzero((people.area >= 0) & people.female)
    age = np.minimum(year - 1 - people.cohort[women], MAX_AGE)
    mothers = women[rng.random(len(women)) < FERTILITY[age]]
    n = len(mothers)
    area, origin, poor = people.area[mothers], people.origin[mothers], people.poor[mothers]
    edu = _draw_rows(world.edu_cum[area, origin, poor.astype(int)], rng)
    return {
        "cohort": np.full(n, year), "female": rng.random(n) < 0.5, "origin": origin, "edu": edu,
        "edu_reported": edu, "poor": poor, "flagged": np.zeros(n, bool), "mother": mothers, "area": area,
        "entry_area": area, "inst_u": rng.random((n, 4)),
    }


def _move(people: _People, world: _World, year: int, rng: np.random.Generator) -> None:
    """Deaths, out-migration and moves within the municipality from ``year`` to ``year + 1``.

    Adults and children without a resident mother decide for themselves; children follow their
    mother. A mover's destination is drawn with probability proportional to area size times the
    area's share of the mover's composition cell, which keeps each area's composition stationary.
    """
    now = np.flatnonzero(people.area >= 0)
    age = np.minimum(year - people.cohort[now], MAX_AGE)
    n = len(now)
    dies = rng.random(n) < DEATH[age]
    leaves = rng.random(n) < OUT_MIGRATION[age]
    moves = rng.random(n) < INTERNAL_MOVE[age]

    position = np.full(len(people), -1)
    position[now] = np.arange(n)
    mother_pos = np.where(people.mother[now] >= 0, position[np.maximum(people.mother[now], 0)], -1)
    follows = (age < 18) & (mother_pos >= 0)
    follows[follows] &= ~dies[mother_pos[follows]]

    new_area = people.area[now].copy()
    movers = np.flatnonzero(moves & ~leaves & ~follows)
    cell = _cell(people.origin[now[movers]], people.edu[now[movers]], people.poor[now[movers]])
    new_area[movers] = _draw_rows(world.dest_cum[cell], rng)
    new_area[leaves & ~follows] = -1
    new_area[follows] = new_area[mother_pos[follows]]
    new_area[dies] = -1
    people.area[now] = new_area


def _simulate_year_change(people: _People, world: _World, year: int, raise_by_area: np.ndarray,
                          rng: np.random.Generator) -> None:
    """Move the population from ``year`` to ``year + 1``: moves, births, then in-migrants fill
    each area up to its target size."""
    _move(people, world, year, rng)
    people.add(_births(people, world, year + 1, rng))
    resident = people.area[people.area >= 0]
    gap = np.maximum(world.target(year + 1) - np.bincount(resident, minlength=len(world.size)), 0)
    people.add(_entrants(world, gap, year + 1, IN_MIGRANT_AGE, raise_by_area, rng, offset=len(people)))


# =================================================================================================
# Register outcomes
# =================================================================================================


@dataclass(frozen=True)
class _Effects:
    """Planted effects as arrays indexed by district (index -1 -> the rest: no effect)."""

    register: dict[str, np.ndarray]  # register column -> effect per district
    survey: dict[str, np.ndarray]  # question column -> effect per district
    outside_view: np.ndarray  # effect per district on the comparison group's view of it
    mixing: dict[str, np.ndarray]  # institution type -> extra share attending outside the district
    visitors: np.ndarray  # log effect per district
    inmover_raise: np.ndarray  # rise in P(resourceful education) of in-migrants into the district

    @staticmethod
    def by_area(effect: np.ndarray, world: _World) -> np.ndarray:
        """Effect per area (0 in the rest, whose district index -1 picks the appended 0)."""
        return np.append(effect, 0.0)[world.district]


REGISTER_EFFECT_COLUMNS = {"in_education", "employed", "convicted", "voted", "school_absence"}


def _planted(params: Params) -> _Effects:
    """Route PLANTED_EFFECTS to the mechanisms the parameter file's indicators call for."""
    missing = [f"{d.key}.{i.key}" for d in params.districts for i in params.indicators
               if i.key not in PLANTED_EFFECTS.get(d.key, {})]
    unknown = [d.key for d in params.districts if d.key not in DISTRICT_PROFILES]
    if missing or unknown:
        raise ValueError(f"synthetic generator has no planted effect for {missing} / no profile for {unknown}")

    def per_district(key: str) -> np.ndarray:
        return np.array([PLANTED_EFFECTS[d.key][key] for d in params.districts])

    register, survey, mixing = {}, {}, {}
    outside_view = visitors = None
    raises: list[np.ndarray] = []
    for ind in params.indicators:
        comp = ind.computation
        if isinstance(comp, (RegisterShare, RegisterMean)) and comp.column in REGISTER_EFFECT_COLUMNS:
            register[comp.column] = per_district(ind.key)
        elif isinstance(comp, (RegisterShare, InmoverShare)) and comp.column == "education":
            raises.append(per_district(ind.key))
        elif isinstance(comp, SurveyShare):
            if ind.key not in SURVEY_MODELS:
                raise ValueError(f"synthetic generator has no survey model for indicator '{ind.key}'")
            survey[comp.question] = per_district(ind.key)
        elif isinstance(comp, SurveyOutsideView):
            outside_view = per_district(ind.key)
        elif isinstance(comp, InstitutionIsolation):
            mixing[comp.institution_type] = per_district(ind.key)
        elif isinstance(comp, VisitorMean):
            visitors = per_district(ind.key)
        else:
            raise ValueError(f"synthetic generator cannot plant an effect for indicator '{ind.key}'")
    if any(not np.array_equal(r, raises[0]) for r in raises):
        raise ValueError("planted in-migration selection must be equal for all education indicators")
    zeros = np.zeros(len(params.districts))
    return _Effects(
        register=register,
        survey=survey,
        outside_view=zeros if outside_view is None else outside_view,
        mixing=mixing,
        visitors=zeros if visitors is None else visitors,
        inmover_raise=raises[0] if raises else zeros,
    )


def _age_table(age: np.ndarray, edges: list[int], values: list[float]) -> np.ndarray:
    """values[k] for ages from edges[k] to the next edge."""
    return np.asarray(values)[np.searchsorted(edges, age, side="right") - 1]


# Baseline models: arrays of age, female, origin, latent education and poor -> the person's baseline.


def _employment_base(age, female, origin, edu, poor):
    """Baseline employment probability of 18-64-year-olds."""
    base = (0.82 + np.array([-0.14, -0.04, 0.04, 0.08])[edu] + np.array([0.0, -0.04, -0.10])[origin]
            - 0.20 * poor - 0.03 * female + _age_table(age, [0, 25, 30, 60], [-0.30, -0.08, 0.0, -0.15]))
    return np.clip(base, 0.2, 0.9)


def _education_base(age, female, origin, edu, poor):
    """Baseline probability that an 18-29-year-old is enrolled in education."""
    base = (_age_table(age, [0, 20, 25], [0.78, 0.50, 0.22]) + np.array([-0.12, 0.0, -0.02, 0.12])[edu]
            - np.array([0.0, 0.0, 0.03])[origin] - 0.08 * poor + 0.04 * female)
    return np.clip(base, 0.08, 0.88)


def _conviction_base(age, female, origin, edu, poor):
    """Baseline yearly conviction risk from age 15 (kept >= 0.7 % so effects are not clipped)."""
    return (0.007 + 0.012 * ~female + _age_table(age, [0, 18, 25, 35, 50], [0.010, 0.015, 0.006, 0.002, 0.0])
            + 0.008 * poor + np.array([0.0, 0.0, 0.004])[origin] + 0.003 * (edu == 0))


def _turnout_base(age, female, origin, edu, poor):
    """Baseline turnout of 18+ at an election."""
    base = (0.82 + np.array([0.0, -0.10, -0.22])[origin] - 0.12 * poor
            + np.array([-0.08, -0.02, 0.0, 0.05])[edu] + 0.02 * female
            + _age_table(age, [0, 30, 50, 70], [-0.12, -0.03, 0.03, 0.0]))
    return np.clip(base, 0.3, 0.88)


def _absence_base(age, female, origin, edu, poor):
    """Baseline mean share of school days absent for 6-16-year-olds."""
    return 0.055 + 0.02 * poor + 0.01 * (origin == 2) + 0.015 * (age >= 13) + 0.003 * ~female


def _bernoulli(p: np.ndarray, clip: tuple[float, float], rng: np.random.Generator) -> np.ndarray:
    """Independent draws with probabilities ``p`` clipped to ``clip``."""
    return rng.random(len(p)) < np.clip(p, *clip)


def _register_year(year: int, people: _People, world: _World, effects: _Effects, params: Params,
                   rng: np.random.Generator) -> dict[str, np.ndarray]:
    """All register columns (as codes/arrays) for the residents of ``year``."""
    idx = np.flatnonzero(people.area >= 0)
    n = len(idx)
    area = people.area[idx]
    age = np.minimum(year - people.cohort[idx], MAX_AGE)
    female, origin, edu, poor = people.female[idx], people.origin[idx], people.edu[idx], people.poor[idx]
    covariates = (age, female, origin, edu, poor)
    post = year > params.survey.baseline_wave

    def effect(column: str) -> np.ndarray:
        if not post or column not in effects.register:
            return np.zeros(n)
        return effects.by_area(effects.register[column], world)[area]

    adult = age >= 18
    poor_share = np.bincount(area[adult], weights=poor[adult], minlength=len(world.size)) / np.maximum(
        np.bincount(area[adult], minlength=len(world.size)), 1)
    area_term = AREA_EFFECT["slope_above"] * np.maximum(0.0, poor_share - AREA_EFFECT["threshold"])

    working_age = (age >= 18) & (age <= 64)
    p_emp = np.where(
        working_age,
        _employment_base(*covariates) + EMPLOYMENT_CYCLE.get(year, 0.0) + area_term[area] + effect("employed"),
        _age_table(age, [0, 15, 18, 65, 70], [0.0, 0.08, 0.0, 0.15, 0.02]),
    )
    employed = _bernoulli(p_emp, CLIP, rng) & (age >= 15)

    young = (age >= 18) & (age <= 29)
    p_edu = np.where(young, _education_base(*covariates) + 0.002 * (year - 2015) + effect("in_education"),
                     _age_table(age, [0, 6, 17, 18, 30, 40, 65], [0.0, 1.0, 0.85, 0.0, 0.05, 0.02, 0.0]))
    in_education = rng.random(n) < np.where(young, np.clip(p_edu, *CLIP), p_edu)

    p_conv = _conviction_base(*covariates) - 0.0001 * (year - 2015) + effect("convicted")
    convicted = _bernoulli(p_conv, CONVICTION_CLIP, rng) & (age >= 15)

    voted = np.full(n, -1, dtype=np.int8)  # -1 = NA
    if year in TURNOUT_SHIFT:
        p_vote = _turnout_base(*covariates) + TURNOUT_SHIFT[year] + effect("voted")
        voted = np.where(adult, _bernoulli(p_vote, CLIP, rng), -1).astype(np.int8)

    pupil = (age >= 6) & (age <= 16)
    covid = 0.01 if year in (2020, 2021) else 0.0
    mean_absence = _absence_base(*covariates) + 0.001 * (year - 2015) + covid + effect("school_absence")
    absence = np.clip(rng.gamma(ABSENCE_SHAPE, mean_absence / ABSENCE_SHAPE), 0.0, 1.0)

    income = _income(year, age, poor, employed, rng)
    reported = people.edu_reported[idx]
    education = np.where(age < 15, -1, np.where(age >= EDU_REACHED_AT[reported], reported,
                                                np.where((reported == 3) & (age >= 19), 1, 0)))
    return {
        "idx": idx, "area": area, "age": age, "female": female, "origin": origin, "education": education,
        "in_education": in_education, "employed": employed, "income": income, "convicted": convicted,
        "school_absence": np.where(pupil, absence, np.nan), "voted": voted,
    }


def _income(year: int, age: np.ndarray, poor: np.ndarray, employed: np.ndarray,
            rng: np.random.Generator) -> np.ndarray:
    """Gross income: poor adults far below half the median, others by employment; NaN under 15."""
    group = np.select([age < 15, age < 18, poor, employed], [0, 1, 2, 3], default=4)
    medians = np.array([np.nan, *(INCOME[k][0] for k in ("teen", "poor", "employed", "not_employed"))])
    sds = np.array([0.0, *(INCOME[k][1] for k in ("teen", "poor", "employed", "not_employed"))])
    growth = INCOME_GROWTH ** (year - 2010)
    return np.round(medians[group] * growth * np.exp(sds[group] * rng.standard_normal(len(age))), -2)


# =================================================================================================
# Institutions
# =================================================================================================


def _institution_catalogue(params: Params) -> dict[str, tuple[list[np.ndarray], np.ndarray]]:
    """Institution ids per type: one array per district (those located there) and the rest's."""
    catalogue = {}
    for kind in INSTITUTION_TYPE:
        counts = [
            max(1, round(DISTRICT_PROFILES[d.key].adults / DISTRICT_ADULTS_PER_DAYCARE)) if kind == "daycare" else 1
            for d in params.districts
        ]
        n_total = sum(counts) + INSTITUTIONS_IN_REST[kind]
        ids = np.array([f"{INSTITUTION_PREFIX[kind]}{i + 1:02d}" for i in range(n_total)], dtype=object)
        bounds = np.cumsum([0, *counts])
        catalogue[kind] = ([ids[a:b] for a, b in zip(bounds[:-1], bounds[1:])], ids[bounds[-1]:])
    return catalogue


def _institutions_year(year: int, reg: dict[str, np.ndarray], people: _People, world: _World,
                       catalogue: dict, effects: _Effects, params: Params) -> dict[str, np.ndarray]:
    """Each child's daycare/school/after-school institution in ``year`` and home disadvantage.

    Choices rest on fixed per-child uniforms, so a child stays put unless it moves or the rules
    change. District children attend a district institution unless their uniform falls below the
    outside share (raised by the planted mixing lever after the baseline wave); rest children
    mostly attend their local institution, a few one in a district. A home is disadvantaged when
    the household is poor or the resident mother is neither employed nor in education.
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

        random_rest = np.floor(v * n_rest).astype(np.int64)
        local = rest_rank[area] * n_rest // len(rest_areas)
        random_district = n_rest + np.floor(v * len(district_ids)).astype(np.int64)
        rest_choice = np.where(u < REST_HOME_SHARE, local,
                               np.where(u < 1 - REST_IN_DISTRICT_SHARE, random_rest, random_district))
        d = np.maximum(district, 0)
        outside = DISTRICT_OUTSIDE_SHARE + post * effects.mixing.get(kind, np.zeros(len(size_of)))[d]
        own = first_of[d] + np.floor(v * size_of[d]).astype(np.int64)
        district_choice = np.where(u < outside, random_rest, own)
        position = np.where(district >= 0, district_choice, rest_choice)

        mother = people.mother[idx]
        mother_home = (mother >= 0) & resident[np.maximum(mother, 0)]
        parts["idx"].append(idx)
        parts["kind"].append(np.full(len(idx), k))
        parts["institution"].append(ids[position])
        parts["disadvantaged"].append(people.poor[idx] | (mother_home & ~active[np.maximum(mother, 0)]))
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


# =================================================================================================
# Survey
# =================================================================================================


def _answers(p: np.ndarray, asked: np.ndarray, rng: np.random.Generator) -> pd.arrays.IntegerArray:
    """1-5 answers with a top-box (4 or 5) event of probability ``p``; NA unless asked and not skipped."""
    n = len(p)
    event = rng.random(n) < np.clip(p, *CLIP)
    top = 4 + (rng.random(n) < 0.5)
    low = rng.integers(1, 4, n)
    answered = asked & (rng.random(n) >= SKIP_QUESTION)
    return pd.arrays.IntegerArray(np.where(event, top, low).astype(np.int64), ~answered)


def _survey_wave(wave: int, reg: dict[str, np.ndarray], world: _World, effects: _Effects, params: Params,
                 rng: np.random.Generator) -> dict:
    """One wave: every adult in the districts plus a simple random sample from the rest.

    Response depends only on age band, sex, origin and sample group/district. Top-box events
    depend on age band, sex, origin and district-or-rest, a common wave trend and the planted
    effect after the baseline; the outside view is asked of comparison respondents only.
    """
    adult = reg["age"] >= 18
    district = world.district[reg["area"]]
    rest = np.flatnonzero(adult & (district < 0))
    sampled_rest = rng.choice(rest, size=min(COMPARISON_SAMPLE, len(rest)), replace=False)
    rows = np.sort(np.concatenate([np.flatnonzero(adult & (district >= 0)), sampled_rest]))
    n = len(rows)
    d = district[rows]
    comparison = d < 0
    band = np.searchsorted(SURVEY_AGE_EDGES, reg["age"][rows], side="right") - 1
    female, origin = reg["female"][rows], reg["origin"][rows]
    post = wave > params.survey.baseline_wave

    shift = np.array([DISTRICT_PROFILES[x.key].response_shift for x in params.districts])
    p_respond = (RESPONSE["level"] + np.array(RESPONSE["age"])[band] + RESPONSE["female"] * female
                 + np.array(RESPONSE["origin"])[origin]
                 + np.where(comparison, RESPONSE["comparison"], RESPONSE["district"] + np.append(shift, 0.0)[d]))
    responded = rng.random(n) < np.clip(p_respond, 0.05, 0.95)

    answers: dict[str, pd.arrays.IntegerArray] = {}
    for ind in params.indicators:
        comp = ind.computation
        if isinstance(comp, SurveyShare):
            m = SURVEY_MODELS[ind.key]
            base = np.clip(m["level"] + m["gap"] * ~comparison + np.array(m["age"])[band] + m["female"] * female
                           + np.array(m["origin"])[origin], *SURVEY_BASE_CLIP)
            effect = post * np.append(effects.survey[comp.question], 0.0)[d]
            answers[comp.question] = _answers(base + m["trend"].get(wave, 0.0) + effect, responded, rng)
        elif isinstance(comp, SurveyOutsideView):
            for j, dist in enumerate(params.districts):
                p = DISTRICT_PROFILES[dist.key].outside_view + post * effects.outside_view[j]
                answers[f"{comp.question_prefix}{dist.code}"] = _answers(np.full(n, p), responded & comparison, rng)
    return {
        "idx": reg["idx"][rows],
        "area": reg["area"][rows],
        "comparison": comparison,
        "design_weight": np.where(comparison, len(rest) / len(sampled_rest), 1.0),
        "responded": responded,
        "answers": answers,
    }


# =================================================================================================
# Visitor counters
# =================================================================================================


def _visitors(params: Params, world: _World, effects: _Effects, last_year: int,
              rng: np.random.Generator) -> pd.DataFrame:
    """Daily Poisson counts at 2 counters per district and 4 in the rest.

    log(mean) = counter level + weekday + season + common year trend + planted log effect after
    the baseline, with log-normal daily overdispersion.
    """
    areas, levels, effect = [], [], []
    for j, d in enumerate(params.districts):
        district_areas = np.flatnonzero(world.district == j)[:2]
        areas += list(district_areas)
        levels += [DISTRICT_PROFILES[d.key].visitor_level + 0.2 * i for i in range(len(district_areas))]
        effect += [effects.visitors[j]] * len(district_areas)
    rest = np.flatnonzero(world.district < 0)
    areas += list(rest[np.linspace(0, len(rest) - 1, REST_COUNTERS).round().astype(int)])
    levels += list(rng.uniform(5.5, 6.0, REST_COUNTERS))
    effect += [0.0] * REST_COUNTERS

    dates = pd.date_range(VISITOR_START, f"{last_year}-12-31", freq="D")
    year = dates.year.to_numpy()
    common = (VISITOR_WEEKDAY[dates.day_of_week.to_numpy()]
              + VISITOR_SEASON * np.cos(2 * np.pi * (dates.day_of_year.to_numpy() - 196) / 365.25)
              + np.array([VISITOR_YEAR_TREND.get(y, 0.0) for y in year]))
    post = year > params.survey.baseline_wave
    log_mean = (np.array(levels)[:, None] + common[None, :] + np.array(effect)[:, None] * post[None, :]
                + VISITOR_DAILY_NOISE * rng.standard_normal((len(areas), len(dates))))
    counts = rng.poisson(np.exp(log_mean))
    n_counters, n_days = counts.shape
    return pd.DataFrame(
        {
            "counter_id": pd.array(np.repeat([f"T{i + 1:02d}" for i in range(n_counters)], n_days), dtype="string"),
            "area_id": pd.array(np.repeat(world.area_ids[areas], n_days), dtype="string"),
            "date": np.tile(dates.to_numpy().astype("datetime64[ns]"), n_counters),
            "count": counts.ravel().astype(np.int64),
        }
    )


# =================================================================================================
# Tables, truth and writing
# =================================================================================================


def _labels(codes: np.ndarray, labels) -> pd.api.extensions.ExtensionArray:
    """String column from integer codes (-1 -> NA)."""
    return pd.Categorical.from_codes(codes, categories=list(labels)).astype("string")


def _register_frame(years: dict[int, dict], person_ids: np.ndarray, world: _World) -> pd.DataFrame:
    """The register table from the yearly column arrays."""

    def col(name: str) -> np.ndarray:
        return np.concatenate([r[name] for r in years.values()])

    voted = col("voted")
    return pd.DataFrame(
        {
            "person_id": _labels(col("idx"), person_ids),
            "year": np.concatenate([np.full(len(r["idx"]), y, dtype=np.int64) for y, r in years.items()]),
            "area_id": _labels(col("area"), world.area_ids),
            "age": col("age").astype(np.int64),
            "sex": _labels((~col("female")).astype(np.int64), SEX),
            "origin": _labels(col("origin").astype(np.int64), ORIGIN),
            "education": _labels(col("education").astype(np.int64), EDUCATION),
            "in_education": col("in_education").astype(bool),
            "employed": col("employed").astype(bool),
            "income": col("income").astype(np.float64),
            "convicted": col("convicted").astype(bool),
            "school_absence": col("school_absence").astype(np.float64),
            "voted": pd.arrays.BooleanArray(voted == 1, voted < 0),
        }
    )


def _institutions_frame(years: dict[int, dict], person_ids: np.ndarray) -> pd.DataFrame:
    """The institutions table from the yearly arrays."""

    def col(name: str) -> np.ndarray:
        return np.concatenate([r[name] for r in years.values()])

    return pd.DataFrame(
        {
            "person_id": _labels(col("idx"), person_ids),
            "year": np.concatenate([np.full(len(r["idx"]), y, dtype=np.int64) for y, r in years.items()]),
            "institution_type": _labels(col("kind"), INSTITUTION_TYPE),
            "institution_id": pd.array(col("institution"), dtype="string"),
            "disadvantaged_home": col("disadvantaged").astype(bool),
        }
    )


def _survey_frame(waves: dict[int, dict], person_ids: np.ndarray, world: _World) -> pd.DataFrame:
    """The survey table from the per-wave samples."""
    frames = []
    for wave, s in waves.items():
        frames.append(pd.DataFrame({
            "person_id": _labels(s["idx"], person_ids),
            "wave": np.full(len(s["idx"]), wave, dtype=np.int64),
            "sample_group": _labels(s["comparison"].astype(np.int64), ("district", "comparison")),
            "area_id": _labels(s["area"], world.area_ids),
            "design_weight": s["design_weight"].astype(np.float64),
            "responded": s["responded"].astype(bool),
            **s["answers"],
        }))
    return pd.concat(frames, ignore_index=True)


def _group_means(values: np.ndarray, group: np.ndarray, keep: np.ndarray, n_districts: int) -> np.ndarray:
    """Mean of ``values`` over kept rows per group; index n_districts = the rest (group -1)."""
    g = np.where(group < 0, n_districts, group)[keep]
    return np.bincount(g, weights=values[keep].astype(float), minlength=n_districts + 1) / np.maximum(
        np.bincount(g, minlength=n_districts + 1), 1)


def _composition(reg: dict[str, np.ndarray], people: _People, world: _World, params: Params) -> dict:
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
    return {m: dict(zip(names, np.round(_group_means(v, group, keep, n_d), 4).tolist()))
            for m, (v, keep) in measures.items()}


def _expected_selection(reg: dict, previous: dict, people: _People, world: _World, n_districts: int,
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



def _isolation_levels(institutions: dict, n_districts: int) -> dict[str, np.ndarray]:
    """Isolation index per institution type of one year; index n_districts = comparison."""
    out = {}
    for k, kind in enumerate(INSTITUTION_TYPE):
        sel = institutions["kind"] == k
        group = np.where(institutions["group"][sel] < 0, n_districts, institutions["group"][sel])
        out[kind] = isolation_index(institutions["institution"][sel], institutions["disadvantaged"][sel], group,
                                    n_districts + 1)
    return out


def _truth(params: Params, seed: int, waves: list[int], register_years: dict, institution_years: dict,
           survey_waves: dict, people: _People, world: _World, effects: _Effects) -> dict:
    """Everything a recovery test needs to know about what was planted."""
    baseline = params.survey.baseline_wave
    later = [w for w in waves if w > baseline]
    n_d = len(params.districts)
    groups = [d.key for d in params.districts] + ["comparison"]
    isolation = {w: _isolation_levels(institution_years[w], n_d) for w in [baseline, *later]}
    selection = {w: _expected_selection(register_years[w], register_years[w - 1], people, world, n_d,
                                        effects.inmover_raise) for w in later}

    def did(level: dict[int, np.ndarray], j: int) -> dict[str, float]:
        return {str(w): round(float((level[w][j] - level[baseline][j]) - (level[w][n_d] - level[baseline][n_d])), 6)
                for w in later}

    truth_effects: dict[str, dict] = {}
    for j, d in enumerate(params.districts):
        entries = {}
        for ind in params.indicators:
            comp, planted = ind.computation, PLANTED_EFFECTS[d.key][ind.key]
            if isinstance(comp, InstitutionIsolation):
                by_wave = did({w: isolation[w][comp.institution_type] for w in isolation}, j)
                entry = {"truth_kind": "realised",
                         "lever": {"extra_outside_share": planted, "from_year": baseline + 1}}
            elif getattr(comp, "column", None) == "education":
                which = 0 if isinstance(comp, RegisterShare) else 1
                by_wave = {str(w): round(float(selection[w][which][j]), 6) for w in later}
                entry = {"truth_kind": "expected", "lever": {"inmover_resourceful_raise": planted}}
            else:
                entries[ind.key] = {"value": planted, "scale": "log" if isinstance(comp, VisitorMean) else "share",
                                    "truth_kind": "planted"}
                continue
            entries[ind.key] = {"value": by_wave[str(waves[-1])] if later else 0.0, "scale": "share",
                                **entry, "by_wave": by_wave}
        truth_effects[d.key] = entries

    base_reg = register_years[baseline]
    base_district = world.district[base_reg["area"]]
    return {
        "seed": seed,
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
        "composition": _composition(base_reg, people, world, params),
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
            str(w): {kind: dict(zip(groups, np.round(v, 6).tolist())) for kind, v in levels.items()}
            for w, levels in isolation.items()
        },
        "definitions": {
            "realised": "isolation DiD (district wave - district baseline) - (comparison wave - comparison "
                        "baseline), computed from the written institutions table; children grouped by their "
                        "area of residence that year, comparison = children living in the rest",
            "expected": "delta x (share of flagged people among the district's 30-64-year-olds [17] or 30-64 "
                        "in-movers [19] in the wave) minus the same for the comparison group; flagged = "
                        "in-migrant into a district after the baseline whose education was drawn with "
                        "P(vocational or higher) raised by delta; in-movers of a year = residents of the group's "
                        "areas who did not live in the group's areas the year before",
            "planted": "effect added to the outcome probability (share scale) or log mean (log scale) for "
                       "residents of the district in every year after the baseline wave",
        },
    }


def _write_atomically(out_dir: Path, tables: dict[str, pd.DataFrame], truth: dict) -> None:
    """Write everything into a temporary sibling folder, then move the files in, truth.json last
    (and an old truth.json is removed first), so a dataset with a truth.json is always complete."""
    out_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        for name, frame in tables.items():
            frame.to_parquet(tmp / f"{name}.parquet", index=False)
        (tmp / "truth.json").write_text(json.dumps(truth, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        (out_dir / "truth.json").unlink(missing_ok=True)
        for name in tables:
            os.replace(tmp / f"{name}.parquet", out_dir / f"{name}.parquet")
        os.replace(tmp / "truth.json", out_dir / "truth.json")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def generate(params: Params, out_dir: str | Path, seed: int = 2021, include_next_wave: bool = False) -> Path:
    """Generate a synthetic municipality for ``params`` into ``out_dir`` and return ``out_dir``.

    Writes areas, register, survey, institutions and visitors (``<table>.parquet``, typed as the
    input contract says) and ``truth.json`` with the planted effects. With
    ``include_next_wave`` the register runs to ``survey.next_wave`` and that wave is surveyed.
    The same seed gives identical files.
    """
    out_dir = Path(out_dir)
    effects = _planted(params)
    waves = [*params.survey.waves, *([params.survey.next_wave] if include_next_wave else [])]
    baseline = params.survey.baseline_wave
    years = range(params.register_data.first_year, waves[-1] + 1)
    rng = np.random.default_rng(seed)

    world, areas = _build_world(params, rng)
    catalogue = _institution_catalogue(params)
    no_raise = np.zeros(len(world.size))
    people = _People()
    people.add(_entrants(world, world.target(years[0]), years[0], POPULATION_AGE_WEIGHTS / POPULATION_AGE_WEIGHTS.sum(),
                         no_raise, rng, offset=0))
    register_years, institution_years = {}, {}
    for year in years:
        register_years[year] = _register_year(year, people, world, effects, params, rng)
        institution_years[year] = _institutions_year(year, register_years[year], people, world, catalogue,
                                                     effects, params)
        if year < years[-1]:
            raise_by_area = effects.by_area(effects.inmover_raise, world) if year + 1 > baseline else no_raise
            _simulate_year_change(people, world, year, raise_by_area, rng)
    survey_waves = {w: _survey_wave(w, register_years[w], world, effects, params, rng) for w in waves}
    visitors = _visitors(params, world, effects, years[-1], rng)

    person_ids = np.array([f"P{i + 1:07d}" for i in range(len(people))], dtype=object)
    tables = {
        "areas": areas,
        "register": _register_frame(register_years, person_ids, world),
        "survey": _survey_frame(survey_waves, person_ids, world),
        "institutions": _institutions_frame(institution_years, person_ids),
        "visitors": visitors,
    }
    truth = _truth(params, seed, waves, register_years, institution_years, survey_waves, people, world, effects)
    _write_atomically(out_dir, tables, truth)
    return out_dir
