"""The small areas of the synthetic municipality: sizes, compositions and where movers go.

Each district gets 2-6 areas (as its profile says), the rest of the municipality ~70. Every area has a deprivation
level that fixes its composition (origin, education and the latent "poor" trait), and the
composition decides both who is drawn into the area and where a mover from it goes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ...config import Params
from .settings import (
    ADULT_SHARE,
    DISTRICT_PROFILES,
    EDU_AFFLUENT,
    EDU_DEPRIVED,
    GROWTH,
    N_CELLS,
    POOR_EDU_FACTOR,
    POOR_ORIGIN_FACTOR,
    REST_AREA_SIZE,
    WESTERN_SHARE,
    DistrictProfile,
)


@dataclass(frozen=True)
class World:
    """Small areas, their sizes and compositions, and where movers go."""

    area_ids: np.ndarray  # "A001", ...
    district: np.ndarray  # district index per area, -1 in the rest
    size: np.ndarray  # residents in the reference year
    ref_year: int
    p_edu: np.ndarray  # (area, origin, education)
    cell_cum: np.ndarray  # (area, cell): cumulative composition
    dest_cum: np.ndarray  # (cell, area): cumulative destination probabilities of a mover
    edu_cum: np.ndarray  # (area, origin, poor, education): cumulative p(education | origin, poor)
    profiles: tuple[DistrictProfile, ...]  # profile of each district (in the parameter file's order)

    def by_area(self, attribute: str) -> np.ndarray:
        """A district profile attribute per area (0 in the rest)."""
        return np.array([getattr(p, attribute) for p in self.profiles] + [0.0])[self.district]

    def target(self, year: int) -> np.ndarray:
        """Residents each area should hold in ``year`` (in-migration fills the gap)."""
        return np.round(self.size * GROWTH ** (year - self.ref_year)).astype(np.int64)


def cell_index(origin: np.ndarray, edu: np.ndarray, poor: np.ndarray) -> np.ndarray:
    """Composition cell index of origin x latent education x poor."""
    return origin.astype(np.int64) * 8 + edu.astype(np.int64) * 2 + poor.astype(np.int64)


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


def build_world(params: Params, rng: np.random.Generator,
                profiles: dict[str, DistrictProfile] = DISTRICT_PROFILES) -> tuple[World, pd.DataFrame]:
    """Draw the small areas: districts first (shaped by ``profiles``), then the rest of the municipality."""
    baseline, ref_year = params.survey.baseline_wave, params.survey.waves[-1]
    to_ref = GROWTH ** (ref_year - baseline)
    district, deprivation, size = [], [], []
    for d_index, d in enumerate(params.districts):
        profile = profiles[d.key]
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
    world = World(
        area_ids=area_ids,
        district=np.asarray(district),
        size=size_arr,
        ref_year=ref_year,
        p_edu=p_edu,
        cell_cum=np.cumsum(cells, axis=1),
        dest_cum=np.cumsum(dest / dest.sum(axis=1, keepdims=True), axis=1),
        edu_cum=np.cumsum(edu_given, axis=-1),
        profiles=tuple(profiles[d.key] for d in params.districts),
    )
    return world, areas
