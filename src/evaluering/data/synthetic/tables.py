"""The contract tables (register, survey, institutions) from the simulated arrays.

The simulation works on integer codes and person numbers; this module turns them into the typed
columns the input contract (:mod:`evaluering.data.contract`) asks for.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..contract import EDUCATION, INSTITUTION_TYPE, ORIGIN, SEX
from .world import World


def _labels(codes: np.ndarray, labels) -> pd.api.extensions.ExtensionArray:
    """String column from integer codes (-1 -> NA)."""
    return pd.Categorical.from_codes(codes, categories=list(labels)).astype("string")


def register_table(years: dict[int, dict], person_ids: np.ndarray, world: World) -> pd.DataFrame:
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


def institutions_table(years: dict[int, dict], person_ids: np.ndarray) -> pd.DataFrame:
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


def survey_table(waves: dict[int, dict], person_ids: np.ndarray, world: World) -> pd.DataFrame:
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
