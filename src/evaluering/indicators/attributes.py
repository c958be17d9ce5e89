"""How many persons have, and lack, the attribute behind each level: what disclosure control counts.

A share rests on two groups of persons: those with the attribute (employed, convicted, answering
"yes") and those without. Danmarks Statistik's rule is that neither may be fewer than the minimum
cell size: "1 of 21 convicted" identifies a person as surely as a cell of 1, and so does "20 of 20
employed" for the one who is not. For an indicator that is not a 0/1 share (a mean, an isolation
index) only the number of persons behind it counts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["attribute_counts", "with_attribute_counts", "disclosure_persons"]


def attribute_counts(units: pd.DataFrame) -> pd.DataFrame:
    """Persons with (``n_with``) and without (``n_without``) the attribute per (group, period).

    ``units`` is a unit frame (``indicators.units``: one row per unit with ``y`` and ``persons``).
    Cells whose outcomes are not all 0 or 1 get NaN in both columns (not a share).
    """
    binary = units["y"].isin([0.0, 1.0]) | units["y"].isna()
    frame = pd.DataFrame({
        "group": units["group"], "period": units["period"],
        "n_with": np.where(units["y"] == 1.0, units["persons"], 0),
        "n_without": np.where(units["y"] == 0.0, units["persons"], 0),
        "other": ~binary,
    })
    counts = frame.groupby(["group", "period"], sort=True).agg(
        n_with=("n_with", "sum"), n_without=("n_without", "sum"), other=("other", "any"))
    counts = counts.astype({"n_with": float, "n_without": float})
    counts.loc[counts["other"], ["n_with", "n_without"]] = np.nan
    return counts.drop(columns="other").reset_index()


def with_attribute_counts(levels: pd.DataFrame, units: pd.DataFrame) -> pd.DataFrame:
    """``levels`` (one row per group and period) with ``n_with`` and ``n_without`` from ``units``."""
    levels = levels.drop(columns=["n_with", "n_without"], errors="ignore")
    counts = attribute_counts(units)
    counts["period"] = counts["period"].astype(levels["period"].dtype)
    return levels.merge(counts, on=["group", "period"], how="left")


def disclosure_persons(levels: pd.DataFrame) -> pd.Series:
    """Per level: the fewest of the persons behind it, those with and those without the attribute.

    This is the count the minimum-cell rule is applied to. Missing counts are skipped (a level
    without ``n_with`` is judged on ``n_persons`` alone).
    """
    columns = [c for c in ("n_persons", "n_with", "n_without") if c in levels]
    return levels[columns].min(axis=1, skipna=True)
