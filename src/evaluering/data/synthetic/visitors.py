"""The synthetic visitor counters: daily counts of people using the districts' public spaces."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...config import Params
from .effects import Effects
from .settings import (
    REST_COUNTERS,
    VISITOR_DAILY_NOISE,
    VISITOR_SEASON,
    VISITOR_START,
    VISITOR_WEEKDAY,
    VISITOR_YEAR_TREND,
)
from .shocks import Shocks
from .world import World


def visitor_counts(params: Params, world: World, effects: Effects, last_year: int,
                   rng: np.random.Generator, shocks: Shocks | None = None) -> pd.DataFrame:
    """Daily Poisson counts at 2 counters per district and 4 in the rest.

    log(mean) = counter level + weekday + season + common year trend + planted log effect after
    the baseline (+ a counter x year shock in the heterogeneous world), with log-normal daily
    overdispersion.
    """
    areas, levels, effect = [], [], []
    for j in range(len(params.districts)):
        district_areas = np.flatnonzero(world.district == j)[:2]
        areas += list(district_areas)
        levels += [world.profiles[j].visitor_level + 0.2 * i for i in range(len(district_areas))]
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
    counter_year = None if shocks is None else shocks.counters(len(areas), np.unique(year))
    if counter_year is not None:
        log_mean += counter_year[:, year - year[0]]
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
