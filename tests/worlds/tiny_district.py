"""A district of about 25 residents: Kærbæk Kommune with one small area made a tiny district (issue 13).

Built by editing a Kærbæk delivery (``other_municipality``), not by the project's generator: one
small area of the rest of the municipality becomes the district "Lille Lund", and its register is
thinned to about 25 residents a year (persons kept the whole time they live there, so the same
few people are followed). Every adult resident of Lille Lund in a survey wave is invited (design
weight 1) and about half answer, so each wave has about 10 respondents; their answers are copied
from randomly chosen respondents of the rest. Children keep their institutions, so the district
has a handful of children in daycare and school, and one or two with a disadvantaged home. The
parameter file asks for ``min_cell: 5``.

What this world is for: every report must render, and no number in any report may rest on fewer
than 5 persons with or without the attribute, directly or by subtraction.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from .other_municipality import BASELINE, FOLLOWUP, World, generate_world, write_tables

__all__ = ["KEY", "NAME", "MIN_CELL", "tiny_world", "write_tiny_world"]

KEY, NAME = "lille-lund", "Lille Lund"
MIN_CELL = 5
RESIDENTS = 25
RESPONSE = 0.5


def _tiny_area(areas: pd.DataFrame) -> str:
    """The first area of the rest of the municipality (no district)."""
    rest = areas[areas["district"].fillna("") == ""]
    return str(rest["area_id"].iloc[0])


def _thin_register(rng: np.random.Generator, register: pd.DataFrame, area: str) -> pd.DataFrame:
    """Keep about RESIDENTS residents a year in ``area``: the baseline's kept residents stay while they
    live there, and newcomers are admitted only to replace those who left."""
    in_area = register["area_id"] == area
    kept: set[str] = set()
    keep_rows = ~in_area
    for year in sorted(register.loc[in_area, "year"].unique()):
        rows = in_area & (register["year"] == year)
        residents = register.loc[rows, "person_id"]
        staying = residents[residents.isin(kept)]
        newcomers = residents[~residents.isin(kept)].to_numpy()
        extra = max(0, RESIDENTS - len(staying))
        admitted = rng.choice(newcomers, size=min(extra, len(newcomers)), replace=False)
        kept |= set(admitted)
        keep_rows |= rows & register["person_id"].isin(kept)
    return register[keep_rows].reset_index(drop=True)


def _tiny_survey(rng: np.random.Generator, survey: pd.DataFrame, register: pd.DataFrame, area: str,
                 view_column: str) -> pd.DataFrame:
    """Drop the area's old sample, invite every adult resident in each wave, copy donors' answers."""
    answer_columns = [c for c in survey.columns if c.startswith("q_")]
    survey = survey[survey["area_id"] != area].copy()
    donors = survey[survey["responded"].astype(bool) & (survey["sample_group"] == "comparison")]
    rows = []
    for wave in (BASELINE, FOLLOWUP):
        adults = register[(register["year"] == wave) & (register["area_id"] == area) & (register["age"] >= 18)]
        answered = rng.random(len(adults)) < RESPONSE
        donor = donors[donors["wave"] == wave].sample(len(adults), replace=True, random_state=rng)
        frame = pd.DataFrame({"person_id": adults["person_id"].to_numpy(), "wave": wave, "sample_group": "district",
                              "area_id": area, "design_weight": 1.0, "responded": answered})
        for column in answer_columns:
            frame[column] = np.where(answered, donor[column].to_numpy(), np.nan)
        rows.append(frame)
    out = pd.concat([survey, *rows], ignore_index=True)
    other_view = next(c for c in out.columns if c.startswith("q_view_"))
    out[view_column] = out[other_view].where(out["sample_group"] == "comparison")
    return out


def tiny_world(seed: int) -> World:
    """Kærbæk's delivery for ``seed`` with the tiny district Lille Lund added (see the module docstring)."""
    world = generate_world(seed, planted=False)
    rng = np.random.default_rng(seed + 1)
    tables = dict(world.tables)
    area = _tiny_area(tables["areas"])
    tables["areas"] = tables["areas"].assign(
        district=np.where(tables["areas"]["area_id"] == area, KEY, tables["areas"]["district"]))
    register = _thin_register(rng, tables["register"], area)
    tables["register"] = register
    person_years = register[["person_id", "year"]]
    tables["institutions"] = tables["institutions"].merge(person_years, on=["person_id", "year"])
    tables["visitors"] = tables["visitors"][tables["visitors"]["area_id"] != area].reset_index(drop=True)
    tables["survey"] = _tiny_survey(rng, tables["survey"], register, area, "q_view_" + KEY.replace("-", "_"))
    params = dict(world.params)
    params["districts"] = [*params["districts"], {"key": KEY, "name": NAME}]
    params["ambitions"] = {**params["ambitions"], KEY: dict(next(iter(params["ambitions"].values())))}
    params["disclosure"] = {**params.get("disclosure", {}), "min_cell": MIN_CELL}
    return replace(world, tables=tables, params=params)


def write_tiny_world(out_dir: str | Path, seed: int) -> Path:
    """Write the tiny-district delivery and its parameter file; return the parameter file's path."""
    return write_tables(tiny_world(seed), out_dir)
