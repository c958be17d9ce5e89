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

__all__ = ["attribute_columns", "shares_only", "attribute_counts", "with_attribute_counts", "disclosure_persons"]


def attribute_columns(units: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per unit row: persons with (``n_with``) and without (``n_without``) the attribute, and whether
    the outcome is not 0/1 (``not_binary``): summed per cell by :func:`attribute_counts` and, in the
    same grouping as the levels, by ``levels.weighted_levels``.
    """
    y = units["y"].to_numpy(dtype=float)
    persons = units["persons"].to_numpy()
    return {"n_with": np.where(y == 1.0, persons, 0), "n_without": np.where(y == 0.0, persons, 0),
            "not_binary": ~(np.isin(y, (0.0, 1.0)) | np.isnan(y))}


def shares_only(counts: pd.DataFrame) -> pd.DataFrame:
    """Cell sums of :func:`attribute_columns` -> ``n_with``/``n_without`` as floats, NaN for cells whose
    outcomes are not all 0 or 1 (not a share); ``not_binary`` dropped.
    """
    counts = counts.astype({"n_with": float, "n_without": float})
    counts.loc[counts["not_binary"].astype(bool), ["n_with", "n_without"]] = np.nan
    return counts.drop(columns="not_binary")


def attribute_counts(units: pd.DataFrame) -> pd.DataFrame:
    """Persons with (``n_with``) and without (``n_without``) the attribute per (group, period).

    ``units`` is a unit frame (``indicators.units``: one row per unit with ``y`` and ``persons``).
    Cells whose outcomes are not all 0 or 1 get NaN in both columns (not a share).
    """
    frame = pd.DataFrame({"group": units["group"], "period": units["period"], **attribute_columns(units)})
    counts = frame.groupby(["group", "period"], sort=True).agg(
        n_with=("n_with", "sum"), n_without=("n_without", "sum"), not_binary=("not_binary", "any"))
    return shares_only(counts).reset_index()


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
