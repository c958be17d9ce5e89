"""Indicator values per group and period: weighted means with linearised standard errors."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from ..config import Indicator
from ..did.two_wave import has_unit_weights
from ..numerics.counting import all_ones, class_period_cells
from .attributes import attribute_columns, shares_only
from .prepare import PreparedData
from .units import units_to_sum

__all__ = ["weighted_levels", "indicator_levels", "all_levels"]


def weighted_levels(units: pd.DataFrame) -> pd.DataFrame:
    """Weighted mean of ``y`` per (group, period) with a cluster-robust standard error.

    Also counts the persons with and without the attribute of a 0/1 outcome (``n_with``,
    ``n_without``; see ``attributes``), which disclosure control needs.

    The mean is a ratio estimator ``sum(w*y)/sum(w)``; its variance uses the linearised values
    ``z = w*(y - mean)/sum(w)`` summed within clusters, with the usual G/(G-1) factor
    (the with-replacement approximation used by R's ``survey`` for a one-stage design).
    ``units`` may be compact (``units.register_units``: categorical groups, integer clusters), and
    is then summed on integer cell codes (:func:`_coded_levels`).
    """
    coded = _coded_levels(units)
    if coded is not None:
        return coded
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
    return _text_groups(shares_only(totals[columns]).reset_index())


def _text_groups(levels: pd.DataFrame) -> pd.DataFrame:
    """The levels with categorical groups (a compact register frame's) as text again."""
    if isinstance(levels["group"].dtype, pd.CategoricalDtype):
        levels["group"] = levels["group"].astype(levels["group"].cat.categories.dtype)
    return levels


def _kahan_sums(values: np.ndarray, cell: np.ndarray, n_cells: int) -> np.ndarray:
    """``values`` summed per cell code as pandas' grouped sum adds them (compensated, in row order,
    missing values skipped): the sums of the general path to the last bit. The codes are passed as
    a categorical, which pandas groups on without hashing them.
    """
    groups = pd.Categorical.from_codes(cell, categories=pd.RangeIndex(n_cells), validate=False)
    return pd.Series(values, copy=False).groupby(groups, observed=False).sum().to_numpy()


def _coded_cells(units: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """Each row's (group, period) cell numbered in the levels' order (-1 without a group), and each
    cell's group code, period and number of rows, for a compact frame (categorical groups, integer
    periods, integer cluster codes not much larger than the number of rows, every weight 1); else None.
    """
    group, period, cluster = units["group"], units["period"].to_numpy(), units["cluster"].to_numpy()
    if not (isinstance(group.dtype, pd.CategoricalDtype) and period.dtype.kind in "iu" and len(period)
            and cluster.dtype.kind in "iu" and cluster.min() >= 0 and int(cluster.max()) < 4 * len(cluster) + 2**20
            and has_unit_weights(units["weight"])):
        return None
    n = len(group.cat.categories)  # each group its own class; without a group (code -1): class n, left out
    key, first, span = class_period_cells(group.cat.codes.to_numpy(), np.arange(n + 1), period)
    counts = np.bincount(key, minlength=(n + 1) * span)[:n * span]
    present = np.flatnonzero(counts)
    number = np.full((n + 1) * span, -1, dtype=np.int64)
    number[present] = np.arange(len(present))
    return np.take(number, key, out=key), present // span, present % span + first, counts[present]


def _one_row_per_cluster(cell: np.ndarray, cluster: np.ndarray, period: np.ndarray) -> bool:
    """Whether no cluster has two rows in a cell (a register's person-years): each cluster's sum in a
    cell is then its row's value. Checked on (period, cluster), which a cell's rows share.
    """
    first = int(period.min())
    size = int(cluster.max()) + 1
    if (cell >= 0).all():  # every row in a cell (no rows left out to select)
        key = (period - first) * size + cluster
    else:
        key = (period[cell >= 0] - first) * size + cluster[cell >= 0]
    mark = np.zeros((int(period.max()) - first + 1) * size, dtype=bool)
    mark[key] = True
    return int(np.count_nonzero(mark)) == len(key)


def _coded_levels(units: pd.DataFrame) -> pd.DataFrame | None:
    """:func:`weighted_levels` of a compact frame with one row per cluster and cell (a register
    indicator's), or None for any other frame. Counts are counted (exact), sums of ``y`` and of the
    squared linearised values added as pandas adds them, and with unit weights and one row per
    cluster in a cell the linearised values are each cluster's sum: the levels of the general path,
    bit for bit, without grouping on (group, period) or on (cell, cluster).
    """
    coded = _coded_cells(units)
    if coded is None:
        return None
    cell, group_code, period, n_units = coded
    cluster, y = units["cluster"].to_numpy(), units["y"].to_numpy(dtype=float)
    if not _one_row_per_cluster(cell, cluster, units["period"].to_numpy()):
        return None
    n = len(n_units)
    valid = cell >= 0
    everywhere = bool(valid.all())
    in_cell, y_in_cell = (cell, y) if everywhere else (cell[valid], y[valid])
    sum_w = n_units.astype(float)  # unit weights: the counts, exactly
    sum_wy = _kahan_sums(y_in_cell, in_cell, n)
    persons, with_, without, not_binary = _cell_attributes(units, in_cell, None if everywhere else valid,
                                                           n_units, sum_wy)
    mean = sum_wy / sum_w
    z = np.take(mean, in_cell)  # w (y - mean) / sum_w with w = 1, as the general path computes it
    np.subtract(y_in_cell, z, out=z)
    np.divide(z, np.take(sum_w, in_cell), out=z)
    np.square(z, out=z)
    z[np.isnan(z)] = 0.0  # a missing outcome: its cluster's sum is 0 in the general path (as pandas sums)
    sq = _kahan_sums(z, in_cell, n)
    g = n_units
    with np.errstate(invalid="ignore", divide="ignore"):
        se = np.sqrt(sq * g / np.where(g > 1, g - 1, np.nan))
    index = pd.MultiIndex.from_arrays(
        [pd.Categorical.from_codes(group_code, dtype=units["group"].dtype), period], names=["group", "period"])
    totals = pd.DataFrame({
        "value": mean, "se": se, "n_units": n_units,
        "n_persons": persons, "n_clusters": g, "n_with": with_, "n_without": without,
        "not_binary": not_binary}, index=index)
    return _text_groups(shares_only(totals).reset_index())


def _cell_attributes(units: pd.DataFrame, in_cell: np.ndarray, valid: np.ndarray | None, n_units: np.ndarray,
                     sum_y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per cell: persons, persons with and without the attribute, and whether an outcome is not 0/1
    (:func:`~.attributes.attribute_columns` summed per cell; ``valid``: the rows in a cell, None for
    all). When every row is one person with a 0/1 outcome (a register share's frame) they are the
    cell's rows, its sum of ``y`` (a count, exact) and the rest: no row-long columns made and summed.
    """
    y, persons = units["y"].to_numpy(dtype=float), units["persons"].to_numpy()
    if all_ones(persons) and np.count_nonzero(y == 1.0) + np.count_nonzero(y == 0.0) == len(y):
        with_ = sum_y.astype(np.int64)
        return n_units.astype(np.int64), with_, n_units - with_, np.zeros(len(n_units), dtype=bool)
    attributes = attribute_columns(units)

    def counted(values: np.ndarray) -> np.ndarray:
        return np.bincount(in_cell, weights=values if valid is None else values[valid], minlength=len(n_units))

    return (counted(persons).astype(np.int64), counted(attributes["n_with"]).astype(np.int64),
            counted(attributes["n_without"]).astype(np.int64), counted(attributes["not_binary"]) > 0)


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
    """Levels of one indicator for every group and period (all years present when periods is None).

    A register indicator's are summed from its compact frame, not kept afterwards: the levels of its
    text frame (:func:`unit_frame`), bit for bit, in a fraction of the time (seconds per indicator
    for a city's register).
    """
    levels = weighted_levels(units_to_sum(data, indicator, periods, keep=False))
    return levels.assign(indicator=indicator.key)


def all_levels(data: PreparedData, periods: Iterable[int] | None = None) -> pd.DataFrame:
    """Levels of every indicator in the parameters, stacked."""
    frames = [indicator_levels(data, ind, periods) for ind in data.params.indicators]
    return pd.concat(frames, ignore_index=True)
