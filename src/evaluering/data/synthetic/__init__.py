"""A deterministic synthetic Gladsaxe-like municipality with planted, known effects.

:func:`generate` writes the five input tables of the contract (:mod:`evaluering.data.contract`)
and ``truth.json``, so every estimator in the package can be tested by recovering effects that
we put in ourselves. One ``numpy.random.Generator`` drives everything: a seed fixes every byte,
so the modules below must draw from it in a fixed order.

How the world is built (one module each):

* :mod:`.settings` -- the planted effects, district profiles, the named worlds and every model constant.
* :mod:`.world` -- small areas with a deprivation level that fixes their composition.
* :mod:`.population` -- people, births, deaths, moves and in-migration, year by year.
* :mod:`.effects` -- the planted effects routed to the mechanisms the indicators call for.
* :mod:`.register`, :mod:`.institutions`, :mod:`.survey`, :mod:`.visitors` -- the outcomes.
* :mod:`.shocks` -- area x year, institution x year and counter x year shocks (heterogeneous world).
* :mod:`.tables` -- the typed contract tables; :mod:`.truth` -- the contents of ``truth.json``.

Two worlds: ``"gladsaxe"`` (the default, unchanged byte for byte) and ``"heterogeneous"``, whose
districts differ in size and sit far from the rest in their base rates and whose areas,
institutions and visitor counters are hit by yearly shocks, as real deprived districts are.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from ...config import Params
from .effects import Effects, planted_effects
from .errors import SyntheticDataError
from .institutions import institution_catalogue, institutions_year, isolation_index, isolation_levels
from .population import People, initial_population, simulate_year_change
from .register import register_year
from .settings import DISTRICT_PROFILES, PLANTED_CHOICES, PLANTED_EFFECTS, WORLDS, DistrictProfile
from .shocks import Shocks, draw_shocks, shock_stream
from .survey import survey_wave
from .tables import institutions_table, register_table, survey_table
from .truth import build_truth
from .visitors import visitor_counts
from .world import World, build_world

__all__ = ["PLANTED_EFFECTS", "DISTRICT_PROFILES", "WORLDS", "PLANTED_CHOICES", "DistrictProfile",
           "SyntheticDataError", "generate", "isolation_index"]


def _write_atomically(out_dir: Path, tables: dict[str, pd.DataFrame], truth: dict) -> None:
    """Write everything into a temporary sibling folder, then move the files in, truth.json last
    (and an old truth.json is removed first), so a dataset with a truth.json is always complete.
    """
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


def _lever_free_isolation(waves: list[int], register_years: dict, people: People, world: World,
                          catalogue: dict, effects: Effects, params: Params, shocks: Shocks | None) -> dict:
    """Isolation index levels of each later wave with every district's mixing lever switched off.

    Keyed (wave, institution type), only for types with a non-zero lever. Institution choices use
    fixed per-child uniforms and the same shocks, so these are the same children in the same homes
    as in the written data: the difference is the levers' effect alone (common random numbers).
    All levers go off together because one district's lever also moves the comparison group's
    index, and with it every other district's DiD.
    """
    out = {}
    later = [w for w in waves if w > params.survey.baseline_wave]
    for kind, levers in effects.mixing.items():
        if not np.any(levers):
            continue
        without = replace(effects, mixing={**effects.mixing, kind: np.zeros_like(levers)})
        for w in later:
            year = institutions_year(w, register_years[w], people, world, catalogue, without, params, shocks)
            out[(w, kind)] = isolation_levels(year, len(params.districts))[kind]
    return out


def generate(params: Params, out_dir: str | Path, seed: int = 2021, include_next_wave: bool = False,
             world: str = "gladsaxe", planted: str = "effects") -> Path:
    """Generate a synthetic municipality for ``params`` into ``out_dir`` and return ``out_dir``.

    Writes areas, register, survey, institutions and visitors (``<table>.parquet``, typed as the
    input contract says) and ``truth.json`` with the planted effects. With
    ``include_next_wave`` the register runs to ``survey.next_wave`` and that wave is surveyed.
    ``world`` picks the districts' profiles and shocks (``WORLDS``: "gladsaxe", the default, or
    "heterogeneous"); ``planted="none"`` sets every planted effect and lever to zero, so every
    district x indicator is a null. The same arguments give identical files.
    """
    if world not in WORLDS:
        raise SyntheticDataError(f"unknown synthetic world {world!r}; choose one of {sorted(WORLDS)}")
    settings = WORLDS[world]
    out_dir = Path(out_dir)
    effects = planted_effects(params, planted)
    waves = [*params.survey.waves, *([params.survey.next_wave] if include_next_wave else [])]
    baseline = params.survey.baseline_wave
    years = range(params.register_data.first_year, waves[-1] + 1)
    rng = np.random.default_rng(seed)

    town, areas = build_world(params, rng, settings.profiles)
    catalogue = institution_catalogue(params, settings.profiles)
    shocks = None
    if settings.shocks.any:
        per_kind = {kind: len(rest) + sum(len(x) for x in own) for kind, (own, rest) in catalogue.items()}
        shocks = draw_shocks(settings.shocks, len(town.size), per_kind, years, shock_stream(seed))
    people = initial_population(town, years[0], rng)
    no_raise = np.zeros(len(town.size))
    register_years, institution_years = {}, {}
    for year in years:
        register_years[year] = register_year(year, people, town, effects, params, rng, shocks)
        institution_years[year] = institutions_year(year, register_years[year], people, town, catalogue,
                                                    effects, params, shocks)
        if year < years[-1]:
            raise_by_area = effects.by_area(effects.inmover_raise, town) if year + 1 > baseline else no_raise
            simulate_year_change(people, town, year, raise_by_area, rng)
    survey_waves = {w: survey_wave(w, register_years[w], town, effects, params, rng) for w in waves}
    visitors = visitor_counts(params, town, effects, years[-1], rng, shocks)
    lever_free = _lever_free_isolation(waves, register_years, people, town, catalogue, effects, params, shocks)

    person_ids = np.array([f"P{i + 1:07d}" for i in range(len(people))], dtype=object)
    tables = {
        "areas": areas,
        "register": register_table(register_years, person_ids, town),
        "survey": survey_table(survey_waves, person_ids, town),
        "institutions": institutions_table(institution_years, person_ids),
        "visitors": visitors,
    }
    truth = build_truth(params, seed, waves, register_years, institution_years, survey_waves, people, town,
                        effects, lever_free, world, planted, settings.shocks)
    _write_atomically(out_dir, tables, truth)
    return out_dir
