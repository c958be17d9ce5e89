"""Area x year, institution x year and counter x year shocks of the heterogeneous world.

Real small areas move together from year to year beyond what person-level (binomial) noise
explains: a local employer closes, a group of young people is convicted together, a school gets a
new catchment. These shocks are what makes pseudo-districts built from comparison areas carry a
district's real year-to-year noise. They are zero-mean, so every planted effect remains the value
a difference-in-differences estimator recovers in expectation.

All shocks come from their own random stream (a child of the seed's ``SeedSequence``), so the main
stream -- and with it every byte of the default world, which draws no shocks -- is unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .settings import ShockSizes


def shock_stream(seed: int) -> np.random.Generator:
    """The shocks' own generator: independent of ``default_rng(seed)``, fixed by the seed."""
    return np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])


@dataclass(frozen=True)
class Shocks:
    """Drawn shocks, looked up by year (``None`` where the world has no such shock)."""

    first_year: int
    area_additive: dict[str, np.ndarray]  # column -> (n_areas, n_years) additive shift
    area_relative: dict[str, np.ndarray]  # column -> (n_areas, n_years) mean-one multiplier
    institution: dict[str, np.ndarray]  # institution type -> (n_institutions, n_years) logit shift
    counter_sd: float
    rng: np.random.Generator  # for the counter shocks, drawn once the counters are known

    def additive(self, column: str, year: int) -> np.ndarray | None:
        """Additive shift per area in ``year`` for a register column, or None."""
        values = self.area_additive.get(column)
        return None if values is None else values[:, year - self.first_year]

    def relative(self, column: str, year: int) -> np.ndarray | None:
        """Multiplier per area in ``year`` for a register column, or None."""
        values = self.area_relative.get(column)
        return None if values is None else values[:, year - self.first_year]

    def intake(self, kind: str, year: int) -> np.ndarray | None:
        """Logit shift per institution (positions: rest first, then districts) in ``year``, or None."""
        values = self.institution.get(kind)
        return None if values is None else values[:, year - self.first_year]

    def counters(self, n_counters: int, years: np.ndarray) -> np.ndarray | None:
        """Log shift per counter and year (``years`` = the distinct years, sorted), or None."""
        if not self.counter_sd:
            return None
        return self.counter_sd * self.rng.standard_normal((n_counters, len(years)))


def draw_shocks(sizes: ShockSizes, n_areas: int, institutions_per_kind: dict[str, int], years: range,
                rng: np.random.Generator) -> Shocks:
    """Draw every area x year and institution x year shock of a world up front (in a fixed order)."""
    n_years = len(years)
    additive = {c: sd * rng.standard_normal((n_areas, n_years)) for c, sd in sizes.area_additive.items()}
    relative = {c: np.exp(sd * rng.standard_normal((n_areas, n_years)) - sd**2 / 2)
                for c, sd in sizes.area_relative.items()}
    institution = ({k: sizes.institution * rng.standard_normal((n, n_years)) for k, n in institutions_per_kind.items()}
                   if sizes.institution else {})
    return Shocks(years[0], additive, relative, institution, sizes.counter, rng)
