"""Small areas from an interactive factor model, with a planted effect in a few district areas.

Not built from the project's generator: the areas' yearly means are drawn directly from

    y_it = alpha_i + beta_t + gamma_i * f_t + tau * D_it + e_it,
    e_it = rho * e_i,t-1 + u_it,  u_it ~ N(0, sigma^2),

a level per area (``alpha_i``), a common year effect (``beta_t``), a trending factor ``f_t`` (a
random walk with drift) with a loading per area (``gamma_i ~ N(0, 1)``, plus ``loading_shift`` for
the district's areas: with a shift the district drifts away from the rest, plain DiD is biased and a
fair comparison must weight the areas that move like the district), serially correlated noise that
is the same across areas (the placebo standard error assumes the district's areas are as noisy as
the others), and the effect ``tau`` in the district's areas from ``start`` on. Without a shift the
district's areas are drawn like the others, as the placebo standard error assumes.

The means are written as a register with one person-year per area and year (a register-mean
indicator with weight 1, so an area's weighted mean is its drawn value), which is what the report's
robustness check reads through :func:`evaluering.indicators.unit_frame`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from evaluering.config import Indicator
from evaluering.indicators.prepare import COMPARISON, PreparedData

__all__ = ["DISTRICT", "INDICATOR", "AreaWorld", "area_world"]

DISTRICT = "faktorby"
INDICATOR = Indicator(key="faktor", number=1, name="Faktorindikator", description="Et områdegennemsnit",
                      source="register", direction="higher_is_better", unit="share",
                      computation={"kind": "register_mean", "column": "outcome", "age": (0, 120)})


@dataclass(frozen=True)
class AreaWorld:
    """One drawn world: the prepared data (register only), the planted effect and the design."""

    data: PreparedData
    tau: float
    start: int
    last_year: int
    means: pd.DataFrame  # area, year, y, in_district: the drawn area means


def area_world(seed: int, *, n_district: int = 3, n_other: int = 30, first_year: int = 2010, start: int = 2020,
               last_year: int = 2022, tau: float = 0.03, sigma: float = 0.01, rho: float = 0.5,
               loading_shift: float = 0.0) -> AreaWorld:
    """Draw a world (see the module docstring); areas ``D01``... are the district's, ``C01``... the others."""
    rng = np.random.default_rng(seed)
    years = np.arange(first_year, last_year + 1)
    n, t = n_district + n_other, len(years)
    in_district = np.arange(n) < n_district
    alpha = rng.uniform(0.3, 0.7, n)
    beta = 0.005 * rng.standard_normal(t).cumsum()
    factor = (0.004 + 0.006 * rng.standard_normal(t)).cumsum()
    gamma = rng.normal(0.0, 1.0, n) + loading_shift * in_district
    noise = np.empty((n, t))
    noise[:, 0] = sigma / np.sqrt(1 - rho**2) * rng.standard_normal(n)
    for j in range(1, t):
        noise[:, j] = rho * noise[:, j - 1] + sigma * rng.standard_normal(n)
    effect = tau * np.outer(in_district, years >= start)
    y = alpha[:, None] + beta[None, :] + gamma[:, None] * factor[None, :] + effect + noise
    names = [f"D{i + 1:02d}" for i in range(n_district)] + [f"C{i + 1:02d}" for i in range(n_other)]
    area = np.repeat(names, t)
    register = pd.DataFrame({
        "person_id": pd.array([f"{a}-{yr}" for a, yr in zip(area, np.tile(years, n), strict=True)], dtype="str"),
        "year": np.tile(years, n).astype(np.int64), "age": 40, "area_id": pd.array(area, dtype="str"),
        "group": pd.array(np.where(np.repeat(in_district, t), DISTRICT, COMPARISON), dtype="str"),
        "outcome": y.ravel()})
    data = PreparedData(params=None, register=register, survey=None, designs={}, institutions=None, visitors=None,
                        dataset=None)
    means = pd.DataFrame({"area": area, "year": np.tile(years, n), "y": y.ravel(),
                          "in_district": np.repeat(in_district, t)})
    return AreaWorld(data, tau, start, last_year, means)
