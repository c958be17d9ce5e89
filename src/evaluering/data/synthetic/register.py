"""Yearly register outcomes of the synthetic residents: employment, education, crime, turnout,
school absence, income and registered education.

Additive probability models: person baseline (age, sex, origin, education, poor) + common year
trend (+ a Galster threshold area effect for employment) + the planted district effect in years
after the baseline wave, drawn independently each year. The heterogeneous world adds district
level shifts (conviction risk, employment) from the district profiles and area x year shocks:
additive on the probability scale, or a mean-one multiplier of the baseline risk (convictions,
school absence), applied before the planted effect so that the effect stays additive. The models
use each person's *latent* education (drawn before any in-migration selection), so the planted
selection on in-movers' education moves only the registered education (indicators 17 and 19).
"""

from __future__ import annotations

import numpy as np

from ...config import Params
from .effects import Effects
from .population import People
from .settings import (
    ABSENCE_SHAPE,
    AREA_EFFECT,
    CLIP,
    CONVICTION_CLIP,
    EDU_REACHED_AT,
    EMPLOYMENT_CYCLE,
    INCOME,
    INCOME_GROWTH,
    MAX_AGE,
    TURNOUT_SHIFT,
)
from .shocks import Shocks
from .world import World


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


def register_year(year: int, people: People, world: World, effects: Effects, params: Params,
                  rng: np.random.Generator, shocks: Shocks | None = None) -> dict[str, np.ndarray]:
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

    def shifted(column: str, base: np.ndarray) -> np.ndarray:
        """``base`` with the area x year shock of ``column`` (additive, or multiplying the base)."""
        if shocks is None:
            return base
        add, times = shocks.additive(column, year), shocks.relative(column, year)
        base = base if times is None else base * times[area]
        return base if add is None else base + add[area]

    adult = age >= 18
    poor_share = np.bincount(area[adult], weights=poor[adult], minlength=len(world.size)) / np.maximum(
        np.bincount(area[adult], minlength=len(world.size)), 1)
    area_term = AREA_EFFECT["slope_above"] * np.maximum(0.0, poor_share - AREA_EFFECT["threshold"])

    working_age = (age >= 18) & (age <= 64)
    p_emp = np.where(
        working_age,
        shifted("employed", _employment_base(*covariates) + EMPLOYMENT_CYCLE.get(year, 0.0) + area_term[area]
                + world.by_area("employment_shift")[area]) + effect("employed"),
        _age_table(age, [0, 15, 18, 65, 70], [0.0, 0.08, 0.0, 0.15, 0.02]),
    )
    employed = _bernoulli(p_emp, CLIP, rng) & (age >= 15)

    young = (age >= 18) & (age <= 29)
    p_edu = np.where(young, shifted("in_education", _education_base(*covariates) + 0.002 * (year - 2015))
                     + effect("in_education"),
                     _age_table(age, [0, 6, 17, 18, 30, 40, 65], [0.0, 1.0, 0.85, 0.0, 0.05, 0.02, 0.0]))
    in_education = rng.random(n) < np.where(young, np.clip(p_edu, *CLIP), p_edu)

    p_conv = shifted("convicted", _conviction_base(*covariates) - 0.0001 * (year - 2015)
                     + world.by_area("conviction_shift")[area]) + effect("convicted")
    convicted = _bernoulli(p_conv, CONVICTION_CLIP, rng) & (age >= 15)

    voted = np.full(n, -1, dtype=np.int8)  # -1 = NA
    if year in TURNOUT_SHIFT:
        p_vote = shifted("voted", _turnout_base(*covariates) + TURNOUT_SHIFT[year]) + effect("voted")
        voted = np.where(adult, _bernoulli(p_vote, CLIP, rng), -1).astype(np.int8)

    pupil = (age >= 6) & (age <= 16)
    covid = 0.01 if year in (2020, 2021) else 0.0
    mean_absence = shifted("school_absence", _absence_base(*covariates) + 0.001 * (year - 2015) + covid) + effect(
        "school_absence")
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
