"""Event study of the *place* estimand: a district's residents each year against the comparison group.

On repeated cross-sections (whoever lives in the district each year) the saturated event-study
regression ``y = group + year + sum_k beta_k * district * 1[year = k]`` has the closed form

    beta_k = (mean_district,k - mean_district,ref) - (mean_comparison,k - mean_comparison,ref),

so the coefficients are computed from weighted cell means, and their covariance from the
influence values summed within clusters (persons, who appear in several years), as
``two_wave_did`` does for one pair of years. Leads (years before the start) test parallel trends.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..columns import require_columns
from ..groups import COMPARISON
from ..numerics import counting, interval
from ..numerics.counting import class_period_cells, smallest_code_type
from .errors import DidError
from .event_study import EventStudyResult, wald_pretrend
from .two_wave import UNIT_COLUMNS, has_unit_weights

__all__ = ["place_event_study"]


def _cells(treated: np.ndarray, period: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Each row's (treated, period) cell, numbered ``treated * span + (period - first year)``, with the
    first year and the span of years (periods: integer years).
    """
    first = int(period.min())
    span = int(period.max()) - first + 1
    cell = period - first
    cell[treated] += span  # the district's few rows
    return cell, first, span


def _cell_influence(cell: np.ndarray, counts: np.ndarray, first: int, span: int, y: np.ndarray, w: np.ndarray
                    ) -> tuple[dict, np.ndarray]:
    """Weighted mean of each (treated, period) cell and each row's influence on its own cell mean.

    ``cell`` and the cells' row ``counts`` as :func:`_cells` and ``bincount`` give them; the cells are
    summed with ``bincount``: no grouping of millions of rows, and no more row-long arrays than needed
    (a city's register has millions of rows, and every fresh array costs its pages).
    """
    total = np.bincount(cell, weights=w, minlength=2 * span)
    present = counts > 0
    buffer = w * y
    mean = np.divide(np.bincount(cell, weights=buffer, minlength=2 * span), total, out=np.zeros(2 * span),
                     where=present)
    # w * (y - mean) / total, operation by operation as written
    influence = mean[cell]
    np.subtract(y, influence, out=influence)
    np.multiply(w, influence, out=influence)
    np.divide(influence, np.take(total, cell, out=buffer), out=influence)
    means = {(bool(c // span), int(c % span) + first): float(mean[c]) for c in np.flatnonzero(present)}
    return means, influence


def _cluster_sums(clusters: np.ndarray, cell: np.ndarray, first: int, span: int, signed: np.ndarray,
                  event_years: list[int], reference: int) -> np.ndarray:
    """Each cluster's summed influence on each coefficient (clusters x event years).

    A coefficient's influence values are the signed values of its year's rows and minus those of
    the reference year's rows: each cluster's sum over its year's rows minus its sum over the
    reference year's rows. Every cluster's sum in every year comes from one ``bincount`` on
    cluster x year (the same sums, added in the same order, as one count per year); every row's
    year (its ``cell``, see :func:`_cells`) is one of the event years or the reference.
    ``clusters`` (64-bit codes 0..G-1) is overwritten.
    """
    n_clusters = int(clusters.max()) + 1
    column = np.zeros(span, dtype=np.int64)  # year -> column; the reference last
    column[np.array(event_years, dtype=np.int64) - first] = np.arange(len(event_years))
    column[reference - first] = len(event_years)
    n_columns = len(event_years) + 1
    key = clusters
    key *= n_columns
    key += np.tile(column, 2)[cell]  # both groups' cells of a year: its column
    by_year = np.bincount(key, weights=signed, minlength=n_clusters * n_columns).reshape(n_clusters, n_columns)
    by_year[:, :-1] -= by_year[:, -1:]
    return by_year[:, :-1]  # a view: no second clusters x years array


def _coded_rows(units: pd.DataFrame, district: str, cluster_codes: np.ndarray | None
                ) -> tuple[np.ndarray, int, int, np.ndarray] | None:
    """Each row's cell ``class * span + (period - first)`` (class 0 comparison, 1 district, 2 any other
    group or none; the groups looked up once per category), the first year, the span of years and
    the rows' cluster codes, when the coded path applies: categorical groups, integer periods,
    non-negative integer cluster codes not much larger than the number of rows (person codes, not
    ids) and every weight 1. Else None.
    """
    group, period = units["group"], units["period"].to_numpy()
    codes = cluster_codes if cluster_codes is not None else units["cluster"].to_numpy()
    if not (isinstance(group.dtype, pd.CategoricalDtype) and period.dtype.kind in "iu" and len(period)
            and isinstance(codes, np.ndarray) and codes.dtype.kind in "iu" and len(codes) == len(period)
            and codes.min() >= 0 and int(codes.max()) < 4 * len(codes) + 2**20  # codes, not ids: counted
            and has_unit_weights(units["weight"])):
        return None
    categories = group.cat.categories
    table = np.full(len(categories) + 1, 2, dtype=np.int64)  # the last entry: a missing group (code -1)
    table[:-1][np.asarray(categories == COMPARISON, dtype=bool)] = 0
    table[:-1][np.asarray(categories == district, dtype=bool)] = 1
    return (*class_period_cells(group.cat.codes.to_numpy(), table, period), codes)


def _coded_cells(cell: np.ndarray, first: int, span: int, reference: int):
    """The cells' row counts (cells as :func:`_coded_rows` numbers them), the years with data in both
    groups and each cell's column among the cluster sums: the event years in order, then the
    reference, then (for other groups' cells and years without data in both groups) a last column
    that is left out.
    """
    counts = np.bincount(cell, minlength=3 * span)
    comparison_years = set((np.flatnonzero(counts[:span]) + first).tolist())
    district_years = set((np.flatnonzero(counts[span:2 * span]) + first).tolist())
    years = sorted(district_years & comparison_years)  # with data in both groups
    if reference not in years:
        raise DidError(f"no data for both groups in the reference year {reference}")
    event_years = [yr for yr in years if yr != reference]
    column = np.full(3 * span, len(event_years) + 1, dtype=np.int64)
    for g in (0, 1):
        column[g * span + np.array(event_years, dtype=np.int64) - first] = np.arange(len(event_years))
        column[g * span + reference - first] = len(event_years)
    return counts, years, column


def _coded_means(cell: np.ndarray, span: int, counts: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each cell's mean and the totals that sign the rows' influence ``(y - mean) / total``: the
    comparison's negated. With unit weights these are the general path's ``w (y - mean) / total``,
    negated outside the district, bit for bit (``x / -t`` is ``-(x / t)``; the totals of unit weights
    are the counts). The cells' sums are added row by row in row order (``np.add.at``), as
    ``bincount`` adds them, but faster.
    """
    total = counts.astype(float)
    sums = np.zeros(3 * span)
    np.add.at(sums, cell, y)
    mean = np.divide(sums, total, out=np.zeros(3 * span), where=counts > 0)
    return mean, np.where(np.arange(3 * span) < span, -total, total)


def _clusters_with_kept_rows(cell: np.ndarray, left_out: np.ndarray, clusters: np.ndarray) -> np.ndarray:
    """Whether each cluster code 0..max has a row in a kept cell (``left_out``: per cell), marked
    block by block, the left-out rows at a spare last entry: no row-long selection or cast.
    """
    n_codes = int(clusters.max()) + 1
    seen = np.zeros(n_codes + 1, dtype=bool)
    for rows in counting.row_blocks(len(cell)):
        index = clusters[rows].astype(np.intp)
        index[left_out.take(cell[rows])] = n_codes
        seen[index] = True
    return seen[:-1]


def _add_influence(by_year: np.ndarray, cell: np.ndarray, y: np.ndarray, mean: np.ndarray, signed_total: np.ndarray,
                   start: np.ndarray, clusters: np.ndarray, number: np.ndarray | None) -> None:
    """Add each row's signed influence ``(y - mean) / signed total`` (of its cell) to ``by_year`` (flat)
    at its key: its cell's ``start`` (column times width) plus its cluster's code (or ``number`` of
    it). Block by block in row order, so every sum adds the rows in the order one row-long
    ``bincount`` would, without row-long influence or key arrays. (Every index is in range: ``take``'s
    mode "wrap" only spares the checked, buffered copy.)
    """
    size = min(counting.BLOCK_ROWS, len(cell))
    influence, key = np.empty(size), np.empty(size, dtype=np.intp)
    for rows in counting.row_blocks(len(cell)):
        block = cell[rows]
        value = np.take(mean, block, out=influence[:len(block)], mode="wrap")
        np.subtract(y[rows], value, out=value)
        np.divide(value, signed_total.take(block, mode="wrap"), out=value)
        index = np.take(start, block, out=key[:len(block)], mode="wrap")
        index += clusters[rows] if number is None else number.take(clusters[rows], mode="wrap")
        np.add.at(by_year, index, value)


def _numbers(seen: np.ndarray, n_clusters: int) -> np.ndarray:
    """Each cluster code's number among the ``n_clusters`` codes ``seen``, 0..G-1 in code order (an
    unseen code: the number of the last seen one before it, or 0), in the smallest integer type.
    """
    number = np.cumsum(seen, dtype=smallest_code_type(n_clusters + 1))
    number -= 1
    return np.maximum(number, 0, out=number)


def _coded_cluster_sums(cell: np.ndarray, column: np.ndarray, clusters: np.ndarray, y: np.ndarray, mean: np.ndarray,
                        signed_total: np.ndarray) -> tuple[np.ndarray, int]:
    """Each cluster's summed influence on each coefficient (event years x clusters) and the number of
    clusters with kept rows. Summed on column-major keys (each year's sums in one block) over the
    cluster codes as they are or, when fewer than half of the codes have kept rows, over those
    clusters numbered 0..G-1 in the order of their codes (a cluster with only rows left out gets
    any number: its rows go to the left-out column); clusters without kept rows add zero columns.
    """
    n_columns = int(column.max())  # the left-out column is the last
    seen = _clusters_with_kept_rows(cell, column == n_columns, clusters)
    n_clusters = int(np.count_nonzero(seen))
    width = len(seen) if 2 * n_clusters >= len(seen) else n_clusters
    number = None if width == len(seen) else _numbers(seen, n_clusters)
    by_year = np.zeros((n_columns + 1) * width)
    _add_influence(by_year, cell, y, mean, signed_total, column * width, clusters, number)
    by_year = by_year.reshape(n_columns + 1, width)
    by_year[:-2] -= by_year[-2]  # minus the reference year's sums
    return by_year[:-2], n_clusters


def _coded_study(cell: np.ndarray, first: int, span: int, clusters: np.ndarray, y: np.ndarray, reference: int):
    """What :func:`_general_study` computes, from coded rows (:func:`_coded_rows`) without selecting
    any: every row has a cell, and the rows of other groups, or of years without data in both
    groups, fall in cells that are left out. The kept cells' sums and the clusters' sums are those
    of the general path, added in the same order; only the order in which the covariance adds up the
    clusters differs (their codes' instead of first appearance).
    """
    counts, years, column = _coded_cells(cell, first, span, reference)
    kept = column < column.max()
    mean, signed_total = _coded_means(cell, span, counts, y)
    means = {(bool(c // span), int(c % span) + first): float(mean[c]) for c in np.flatnonzero((counts > 0) & kept)}
    sums, n_clusters = _coded_cluster_sums(cell, column, clusters, y, mean, signed_total)
    G = np.int64(n_clusters)
    n_treated = int(counts[span:2 * span][kept[span:2 * span]].sum())
    return years, means, sums @ sums.T * G / (G - 1), G, n_treated, int(counts[kept].sum())


def _general_study(units: pd.DataFrame, district: str, reference: int, cluster_codes: np.ndarray | None):
    """The years with data in both groups, the cell means, the covariance of the coefficients, the
    number of clusters, of district rows and of rows, from any unit frame.
    """
    # plain arrays and one mask: taking a register frame's text columns row by row is what costs
    in_district = (units["group"] == district).to_numpy(dtype=bool, na_value=False)
    kept = ((in_district | (units["group"] == COMPARISON).to_numpy(dtype=bool, na_value=False))
            & (units["weight"] > 0).to_numpy())
    period_all = units["period"].to_numpy()
    rows = kept
    treated, period = in_district[rows], period_all[rows]
    if len(period) == 0:
        raise DidError(f"no data for both groups in the reference year {reference}")
    cell, first, span = _cells(treated, period)
    counts = np.bincount(cell, minlength=2 * span)
    comparison_years = set((np.flatnonzero(counts[:span]) + first).tolist())
    district_years = set((np.flatnonzero(counts[span:]) + first).tolist())
    years = sorted(district_years & comparison_years)  # with data in both groups
    if reference not in years:
        raise DidError(f"no data for both groups in the reference year {reference}")
    if district_years != comparison_years:  # only the years with data in both groups
        rows = kept & np.isin(period_all, years)
        treated, period = in_district[rows], period_all[rows]
        cell, first, span = _cells(treated, period)
        counts = np.bincount(cell, minlength=2 * span)
    del kept, in_district, period
    means, influence = _cell_influence(cell, counts, first, span, units["y"].to_numpy(dtype=float)[rows],
                                       units["weight"].to_numpy(dtype=float)[rows])
    event_years = [y for y in years if y != reference]
    signed = np.negative(influence, out=influence, where=~treated)  # +influence in the district, - elsewhere
    clusters = pd.factorize(units["cluster"][rows] if cluster_codes is None else cluster_codes[rows])[0]
    G = clusters.max() + 1
    sums = _cluster_sums(clusters.astype(np.int64, copy=False), cell, first, span, signed, event_years, reference)
    del clusters, signed, cell
    covariance = sums.T @ sums * G / (G - 1)
    return years, means, covariance, G, int(treated.sum()), int(rows.sum())


def place_event_study(units: pd.DataFrame, district: str, event_year: int, *, reference: int | None = None,
                      outcome: str = "y", confidence: float = 0.95,
                      cluster_codes: np.ndarray | None = None) -> EventStudyResult:
    """Event-time coefficients of ``district`` vs the comparison group from a unit-level frame.

    ``units`` has columns group, period, y, weight, cluster (an indicator's unit frame). The
    reference year is ``event_year - 1`` unless given; every other year with data in both groups
    gets a coefficient. ``cluster_codes`` (optional) are integer codes of ``units["cluster"]``, row for
    row (``indicators.units.cluster_codes``): the same clusters without hashing a register's text ids.
    """
    reference = event_year - 1 if reference is None else reference
    if reference >= event_year:
        raise DidError(f"the reference year {reference} must come before the start {event_year}")
    require_columns(units, UNIT_COLUMNS, what=f"{outcome}: unit frame", error=DidError)
    coded = _coded_rows(units, district, cluster_codes)
    if coded is not None:  # a compact register frame: no rows selected, no clusters factorised
        years, means, covariance, G, n_treated, n_obs = _coded_study(*coded, units["y"].to_numpy(dtype=float),
                                                                     reference)
    else:
        years, means, covariance, G, n_treated, n_obs = _general_study(units, district, reference, cluster_codes)
    event_years = [y for y in years if y != reference]
    estimates = np.array([(means[True, y] - means[True, reference]) - (means[False, y] - means[False, reference])
                          for y in event_years])
    se = np.sqrt(np.diag(covariance))
    ci_low, ci_high, p_value = interval(estimates, se, confidence)
    table = pd.DataFrame({"year": event_years, "estimate": estimates, "se": se, "ci_low": ci_low, "ci_high": ci_high,
                          "p_value": p_value, "reference": False},
                         index=pd.Index([y - event_year for y in event_years], name="event_time"))
    table.loc[reference - event_year] = [reference, 0.0, 0.0, 0.0, 0.0, np.nan, True]
    table = table.sort_index()
    pretrend = wald_pretrend(estimates, covariance, np.array(event_years) < reference, none_statistic=0.0)
    return EventStudyResult(
        outcome=outcome, event_year=event_year, reference=reference - event_year, coefficients=table,
        covariance=covariance, pretrend=pretrend, n_units=int(G), n_treated_units=n_treated,
        n_obs=n_obs, n_clusters=int(G), confidence=confidence,
    )
