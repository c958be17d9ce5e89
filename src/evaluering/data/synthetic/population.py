"""The people of the synthetic municipality and how the population changes from year to year.

A yearly panel from the first register year: ageing, births, deaths, moves within the
municipality and migration. A mover picks a destination with probability proportional to the
area's size times its share of people like the mover (same origin, education, poor trait), and
in-migrants are drawn from the composition of the area they move to, so every area's composition
is stationary in expectation. In-migrants into a district after the baseline may get the planted
raise in registered education (``raise_by_area``).
"""

from __future__ import annotations

import numpy as np

from .settings import (
    CHILD_MOTHER_AGE_GAP,
    DEATH,
    FERTILITY,
    IN_MIGRANT_AGE,
    INTERNAL_MOVE,
    MAX_AGE,
    OUT_MIGRATION,
    POPULATION_AGE_WEIGHTS,
    RESOURCEFUL,
)
from .world import World, cell_index


def _draw_rows(cum: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One category per row of a matrix of cumulative probabilities."""
    u = rng.random(cum.shape[0])
    return np.minimum((cum < u[:, None]).sum(axis=1), cum.shape[1] - 1)


class People:
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
    20-40 years older (position in the batch, -1 if none).
    """
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


def _entrants(world: World, counts: np.ndarray, year: int, age_pmf: np.ndarray, raise_by_area: np.ndarray,
              rng: np.random.Generator, offset: int) -> dict[str, np.ndarray]:
    """People entering the given areas in ``year`` (initial population or in-migrants), drawn from
    each area's composition; children are linked to a woman of the batch when one fits, and take
    her origin and poor trait (household traits).
    """
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


def _births(people: People, world: World, year: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Children born to resident women aged 20-44, registered in ``year`` in the mother's area
    with her origin and poor trait.
    """
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


def _move(people: People, world: World, year: int, rng: np.random.Generator) -> None:
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
    cell = cell_index(people.origin[now[movers]], people.edu[now[movers]], people.poor[now[movers]])
    new_area[movers] = _draw_rows(world.dest_cum[cell], rng)
    new_area[leaves & ~follows] = -1
    new_area[follows] = new_area[mother_pos[follows]]
    new_area[dies] = -1
    people.area[now] = new_area


def initial_population(world: World, year: int, rng: np.random.Generator) -> People:
    """Everyone living in the municipality in ``year`` (the first register year), drawn from each
    area's composition without any planted selection.
    """
    people = People()
    people.add(_entrants(world, world.target(year), year, POPULATION_AGE_WEIGHTS / POPULATION_AGE_WEIGHTS.sum(),
                         np.zeros(len(world.size)), rng, offset=0))
    return people


def simulate_year_change(people: People, world: World, year: int, raise_by_area: np.ndarray,
                         rng: np.random.Generator) -> None:
    """Move the population from ``year`` to ``year + 1``: moves, births, then in-migrants fill
    each area up to its target size.
    """
    _move(people, world, year, rng)
    people.add(_births(people, world, year + 1, rng))
    resident = people.area[people.area >= 0]
    gap = np.maximum(world.target(year + 1) - np.bincount(resident, minlength=len(world.size)), 0)
    people.add(_entrants(world, gap, year + 1, IN_MIGRANT_AGE, raise_by_area, rng, offset=len(people)))
