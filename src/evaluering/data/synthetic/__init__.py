"""A deterministic synthetic Gladsaxe-like municipality with planted, known effects.

:func:`generate` writes the five input tables of the contract (:mod:`evaluering.data.contract`)
and ``truth.json``, so every estimator in the package can be tested by recovering effects that
we put in ourselves. One ``numpy.random.Generator`` drives everything: a seed fixes every byte,
so the modules below must draw from it in a fixed order.

How the world is built (one module each):

* :mod:`.settings` -- the planted effects, district profiles and every model constant.
* :mod:`.world` -- small areas with a deprivation level that fixes their composition.
* :mod:`.population` -- people, births, deaths, moves and in-migration, year by year.
* :mod:`.effects` -- the planted effects routed to the mechanisms the indicators call for.
* :mod:`.register`, :mod:`.institutions`, :mod:`.survey`, :mod:`.visitors` -- the outcomes.
* :mod:`.tables` -- the typed contract tables; :mod:`.truth` -- the contents of ``truth.json``.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from ...config import Params
from .effects import planted_effects
from .institutions import institution_catalogue, institutions_year, isolation_index
from .population import initial_population, simulate_year_change
from .register import register_year
from .settings import DISTRICT_PROFILES, PLANTED_EFFECTS, DistrictProfile
from .survey import survey_wave
from .tables import institutions_table, register_table, survey_table
from .truth import build_truth
from .visitors import visitor_counts
from .world import build_world

__all__ = ["PLANTED_EFFECTS", "DISTRICT_PROFILES", "DistrictProfile", "generate", "isolation_index"]


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
    effects = planted_effects(params)
    waves = [*params.survey.waves, *([params.survey.next_wave] if include_next_wave else [])]
    baseline = params.survey.baseline_wave
    years = range(params.register_data.first_year, waves[-1] + 1)
    rng = np.random.default_rng(seed)

    world, areas = build_world(params, rng)
    catalogue = institution_catalogue(params)
    people = initial_population(world, years[0], rng)
    no_raise = np.zeros(len(world.size))
    register_years, institution_years = {}, {}
    for year in years:
        register_years[year] = register_year(year, people, world, effects, params, rng)
        institution_years[year] = institutions_year(year, register_years[year], people, world, catalogue,
                                                    effects, params)
        if year < years[-1]:
            raise_by_area = effects.by_area(effects.inmover_raise, world) if year + 1 > baseline else no_raise
            simulate_year_change(people, world, year, raise_by_area, rng)
    survey_waves = {w: survey_wave(w, register_years[w], world, effects, params, rng) for w in waves}
    visitors = visitor_counts(params, world, effects, years[-1], rng)

    person_ids = np.array([f"P{i + 1:07d}" for i in range(len(people))], dtype=object)
    tables = {
        "areas": areas,
        "register": register_table(register_years, person_ids, world),
        "survey": survey_table(survey_waves, person_ids, world),
        "institutions": institutions_table(institution_years, person_ids),
        "visitors": visitors,
    }
    truth = build_truth(params, seed, waves, register_years, institution_years, survey_waves, people, world, effects)
    _write_atomically(out_dir, tables, truth)
    return out_dir
