"""Indicator values per group and period: weighted means with linearised standard errors."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from ..config import Indicator
from .attributes import attribute_columns, shares_only
from .prepare import PreparedData
from .units import unit_frame

__all__ = ["weighted_levels", "indicator_levels", "all_levels"]


def weighted_levels(units: pd.DataFrame) -> pd.DataFrame:
    """Weighted mean of ``y`` per (group, period) with a cluster-robust standard error.

    Also counts the persons with and without the attribute of a 0/1 outcome (``n_with``,
    ``n_without``; see ``attributes``), which disclosure control needs.

    The mean is a ratio estimator ``sum(w*y)/sum(w)``; its variance uses the linearised values
    ``z = w*(y - mean)/sum(w)`` summed within clusters, with the usual G/(G-1) factor
    (the with-replacement approximation used by R's ``survey`` for a one-stage design).
    ``units`` may be compact (``units.register_units``: categorical groups, integer clusters).
    """
    u = units.assign(wy=units["weight"] * units["y"], **attribute_columns(units))
    cells = u.groupby(["group", "period"], sort=True)  # grouped once, for agg, transform and ngroup below
    totals = cells.agg(
        sum_w=("weight", "sum"), sum_wy=("wy", "sum"), n_units=("y", "size"), n_persons=("persons", "sum"),
        n_with=("n_with", "sum"), n_without=("n_without", "sum"), not_binary=("not_binary", "any"),
    )
    totals["value"] = totals["sum_wy"] / totals["sum_w"]
    sum_w = cells["weight"].transform("sum")
    z = u["weight"] * (u["y"] - cells["wy"].transform("sum") / sum_w) / sum_w
    # cells by their position in ``totals`` (NaN for rows without a group, which are left out)
    per_cluster, cell_of = _cluster_sums(z, cells.ngroup(), u["cluster"])
    sq = (per_cluster**2).groupby(cell_of).agg(["sum", "size"]).reindex(range(len(totals)))
    sq.index = totals.index
    g = sq["size"]
    totals["se"] = np.sqrt(sq["sum"] * g / (g - 1).where(g > 1))
    totals["n_clusters"] = g
    # persons with and without the attribute (disclosure control), from the same grouping
    columns = ["value", "se", "n_units", "n_persons", "n_clusters", "n_with", "n_without", "not_binary"]
    levels = shares_only(totals[columns]).reset_index()
    if isinstance(levels["group"].dtype, pd.CategoricalDtype):  # a compact register frame: groups as text again
        levels["group"] = levels["group"].astype(levels["group"].cat.categories.dtype)
    return levels


def _cluster_sums(z: pd.Series, cell: pd.Series, cluster: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """``z`` summed per cell and cluster (in order of first appearance, rows without a cell left
    out) and each sum's cell. Integer clusters (a compact register frame's person codes) are
    grouped on one integer key, the same groups and sums as grouping on the pair, without pairing
    a million persons' codes with the cells.
    """
    codes = cluster.to_numpy() if isinstance(cluster.dtype, np.dtype) and cluster.dtype.kind in "iu" else None
    cells = cell.to_numpy()
    if codes is None or len(codes) == 0 or cells.dtype.kind not in "iu" or codes.min() < 0 or cells.min() < 0:
        per_cluster = z.groupby([cell, cluster], sort=False).sum()
        return per_cluster, per_cluster.index.get_level_values(0)
    span = int(codes.max()) + 1
    per_cluster = z.groupby(cells.astype(np.int64) * span + codes, sort=False).sum()
    return per_cluster, per_cluster.index.to_numpy() // span


def indicator_levels(
    data: PreparedData, indicator: Indicator, periods: Iterable[int] | None = None
) -> pd.DataFrame:
    """Levels of one indicator for every group and period (all years present when periods is None)."""
    levels = weighted_levels(unit_frame(data, indicator, periods))
    return levels.assign(indicator=indicator.key)


def all_levels(data: PreparedData, periods: Iterable[int] | None = None) -> pd.DataFrame:
    """Levels of every indicator in the parameters, stacked."""
    frames = [indicator_levels(data, ind, periods) for ind in data.params.indicators]
    return pd.concat(frames, ignore_index=True)
