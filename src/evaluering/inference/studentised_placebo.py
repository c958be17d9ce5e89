"""Studentised placebo inference for a district's DiD on register data (few treated, heteroskedastic).

Why: a district is one treated unit of a few small areas, and it is unlike the rest of the
municipality (that is why it is a district): its base rates differ, so the person-level noise of
its change differs from that of pseudo-districts assembled from comparison areas, and its size
differs too. A placebo test on the raw DiD (Conley & Taber 2011) then compares the district with
the wrong spread: too narrow where the district's rate is further from 0 or 1 than the rest's
(convictions at 3.5 % against 1.5 %), too wide where it is closer. Ferman & Pinto (2019,
"Inference in differences-in-differences with few treated groups and heteroskedasticity",
*REStat* 101: 452-467) model the variance of a group's change as a common group-level part plus
a part that shrinks with its size (``A + B / N``), and rescale before permuting. Here both parts
are measured rather than modelled:

* the **sampling part** is the person-clustered variance of the DiD itself, computed from the
  microdata of exactly the areas involved (for the real district it equals the cluster-robust
  variance of :func:`evaluering.did.two_wave.two_wave_did`, with the same small-sample factor);
* the **area part**: every area's change also carries a shock common to its residents (a closed
  workplace, a new block). Its variance ``tau^2`` is estimated from the comparison areas as the
  between-area variance beyond their sampling variance (the trimmed moment estimator of
  :func:`evaluering.monitoring.overdispersion.between_area_variance`). For a 0/1 outcome the
  shock's standard deviation is taken to scale with ``p (1 - p)`` of the area (a shock of fixed
  size on the logit scale; for rare outcomes, proportional to the rate), so a district with three
  times the rest's conviction rate gets about three times the rest's shock; for a mean (school
  absence) it scales with the mean. Deprived areas can also be more volatile than the rest at the
  same level, so the district's own areas' history before the baseline (every pre-baseline window
  as long as the evaluation's) gives a second estimate, and the district gets the larger of the two.

Each DiD is divided by its own standard error, and the district's t-statistic is compared with
those of pseudo-districts (as many comparison areas as the district, each against the remaining
comparison areas): a studentised randomisation test (MacKinnon & Webb 2020's RI-t; Canay,
Romano & Shaikh 2017 on why studentising restores validity under heterogeneous variances). The
p-value is ``(1 + #{|t_b| >= |t|}) / (1 + B)``, and the interval is the set of effects the test
does not reject, ``estimate +/- c * se`` with ``c`` the matching placebo quantile of ``|t_b|``, so
``p < 1 - confidence`` exactly when 0 lies outside it. With too few distinct pseudo-districts for a
permutation p-value, the normal reference is used instead and the result says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import sparse
from threadpoolctl import threadpool_limits

from ..columns import require_columns
from ..data.lookup import isin_values
from ..did.two_wave import has_unit_weights
from ..monitoring.overdispersion import between_area_variance
from ..numerics import interval
from ..numerics.counting import all_ones, class_period_cells, distinct_with_inverse, smallest_code_type
from .errors import InferenceError
from .reported import ReportedInference

__all__ = ["AreaStatistics", "area_statistics", "did_variance", "district_history_variance", "studentised_placebo",
           "MIN_DISTINCT"]

UNIT_COLUMNS = ("period", "y", "weight", "cluster", "area")  # a unit frame (evaluering.indicators.units)
MIN_DISTINCT = 200  # fewer distinct pseudo-districts: normal reference instead of the placebo distribution
N_PARAMETERS = 4  # the saturated DiD regression: constant, treated, post, treated x post


@dataclass(frozen=True)
class AreaStatistics:
    """Sufficient statistics of a unit frame for group means and their clustered variance.

    ``W[a, t]``, ``S[a, t]``: sum of weights and of weighted outcomes in area ``a``, period ``t``
    (0 baseline, 1 follow-up). ``pairs`` holds, for every pair of (area, period) cells that share a
    cluster, the sums over clusters of ``u_j u_l``, ``u_j v_l``, ``v_j u_l`` and ``v_j v_l`` where
    ``u`` and ``v`` are a cluster's sums of weights and weighted outcomes in a cell.
    """

    areas: tuple[str, ...]
    W: np.ndarray
    S: np.ndarray
    pair_cells: np.ndarray  # (P, 4): t_j, a_j, t_l, a_l
    pair_sums: np.ndarray  # (P, 4): uu, uv, vu, vv
    cell_area: np.ndarray  # per cluster x period x area cell: its area, cluster and number of rows
    cell_cluster: np.ndarray
    cell_rows: np.ndarray
    binary: bool

    def small_sample_factor(self, used: np.ndarray) -> float:
        """Statsmodels' cluster-robust factor ``G/(G-1) (N-1)/(N-4)`` over the rows of the ``used`` areas."""
        keep = used[self.cell_area]
        G = np.count_nonzero(np.bincount(self.cell_cluster[keep]))  # distinct clusters (codes 0..G-1)
        N = int(self.cell_rows[keep].sum())
        return G / (G - 1) * (N - 1) / (N - N_PARAMETERS) if G > 1 and N > N_PARAMETERS else float("nan")


def _columns(values) -> list[np.ndarray]:
    """The columns of ``values``: a (rows, k) array or a list of k row-long arrays (not stacked first)."""
    return list(values) if isinstance(values, (list, tuple)) else [values[:, j] for j in range(values.shape[1])]


def _sum_by(key: np.ndarray, values, size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The distinct keys (sorted) and the column sums (keys, k) of ``values`` per key; ``values`` is
    a (rows, k) array or a list of k columns.

    Keys known to lie in ``0..size-1``, with ``size`` not much larger than the number of rows, are
    counted directly (``bincount``) instead of sorted: the same sums, in the same order (over the
    keys renumbered 0..K-1 when few of the ``size`` occur).
    """
    columns = _columns(values)
    if size is not None and size <= max(4 * len(key), 2**22):
        counts = np.bincount(key, minlength=size)
        present = np.flatnonzero(counts)
        if 8 * len(present) < size:  # few distinct keys: summed into a small array that stays in the cache
            number = np.zeros(size, dtype=np.intp)
            number[present] = np.arange(len(present))
            key, size = np.take(number, key), len(present)
        sums = np.stack([np.bincount(key, weights=column, minlength=size) for column in columns], axis=1)
        return present, sums[present] if size > len(present) else sums.reshape(len(present), len(columns))
    keys, inverse = np.unique(key, return_inverse=True)
    sums = np.stack([np.bincount(inverse, weights=column, minlength=len(keys)) for column in columns], axis=1)
    return keys, sums


def _cell_sums(cell: np.ndarray, area: np.ndarray, n_areas: int, values) -> tuple[np.ndarray, np.ndarray]:
    """``_sum_by(cell * n_areas + area, values)`` for ``cell`` = cluster x period codes.

    A register has one row per person and year, so each cell is usually one row: the rows are
    then only put in the keys' order (a counting sort over the cell codes), not sorted and summed.
    """
    counts = np.bincount(cell)
    if counts.max(initial=0) > 1:
        return _sum_by(cell * n_areas + area, values)
    slot = np.full(len(counts), -1, dtype=np.int64)
    slot[cell] = np.arange(len(cell))
    order = slot[slot >= 0]
    return cell[order] * n_areas + area[order], np.stack([column[order] for column in _columns(values)], axis=1)


def _area_positions(area: pd.Series, areas: Sequence[str]) -> np.ndarray:
    """Each row's position in ``areas`` (-1 when its area is not one of them). A categorical column
    (a compact register frame, ``indicators.units.register_units``) is looked up once per category.
    """
    if isinstance(area.dtype, pd.CategoricalDtype):
        lookup = np.append(pd.Index(areas).get_indexer(area.cat.categories.astype(str)), -1)
        return lookup[area.cat.codes.to_numpy()]  # a missing area (code -1) is in none
    return pd.Index(areas).get_indexer(area.astype(str))


def _in_areas(area: pd.Series, areas: Sequence[str]) -> np.ndarray:
    """Whether each row's area is one of ``areas`` (missing never is)."""
    if isinstance(area.dtype, pd.CategoricalDtype):  # looked up per category: one byte a row, no positions
        lookup = np.append(pd.Index(areas).get_indexer(area.cat.categories.astype(str)) >= 0, False)
        return lookup[area.cat.codes.to_numpy()]
    return isin_values(area.astype(str), areas)


def _in_periods(period: pd.Series, baseline, followup) -> np.ndarray:
    """Whether each row's period is ``baseline`` or ``followup``; integer periods (years) are compared
    directly, without hashing a register's rows.
    """
    values = period.to_numpy()
    if values.dtype.kind in "iu":
        return (values == baseline) | (values == followup)
    return period.isin([baseline, followup]).to_numpy()


def _as_int32(values: np.ndarray) -> np.ndarray:
    """Non-negative whole numbers (codes, counts) as 32-bit integers when they fit, else 64-bit."""
    return values.astype(np.int32 if len(values) == 0 or values.max() < 2**31 else np.int64)


def _cluster_pairs(c: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Every ordered pair (j, k) of cells within a cluster (a cell with itself included), cell j's
    pairs together and in order of k, for cells sorted by their cluster ``c``: two row-long
    repeats, no per-pair arithmetic on cluster sizes.
    """
    starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
    sizes = np.diff(np.r_[starts, len(c)])
    size_of_cell = np.repeat(sizes, sizes)  # each cell's number of partners: its cluster's cells
    first_pair = np.cumsum(size_of_cell) - size_of_cell  # where a cell's pairs begin
    j = np.repeat(np.arange(len(c)), size_of_cell)
    k = np.arange(len(j)) - np.repeat(first_pair - np.repeat(starts, sizes), size_of_cell)
    return j, k


def _one_row_cells(cell: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The cells (cluster x period codes, ascending) and the row of each, when every cell is a single
    row of weight 1 (a register frame: one row per person and year); else None.
    """
    if not all_ones(w):
        return None
    slot = np.full(int(cell.max()) + 1, -1, dtype=np.int64)
    slot[cell] = np.arange(len(cell))
    cells = np.flatnonzero(slot >= 0)
    if len(cells) < len(cell):  # some cell has several rows
        return None
    return cells, slot[cells]


def _general_cell_statistics(cell_key: np.ndarray, cell_sums: np.ndarray, A: int):
    """Each cell's cluster, area and number of rows (cells sorted by cluster), ``W``, ``S`` and the
    pair keys and sums (see :class:`AreaStatistics`) from :func:`_cell_sums`, for any weights and
    rows per cell.
    """
    c, t, a = cell_key // (2 * A), (cell_key // A) % 2, cell_key % A  # cells come sorted by cluster
    u, v, n_rows = cell_sums.T
    W = np.bincount(a * 2 + t, weights=u, minlength=2 * A).reshape(A, 2)
    S = np.bincount(a * 2 + t, weights=v, minlength=2 * A).reshape(A, 2)
    j, k = _cluster_pairs(c)
    code = t * A + a  # a cell's (period, area)
    u_j, v_j, u_k, v_k = u[j], v[j], u[k], v[k]
    pair_key, pair_sums = _sum_by(code[j] * (2 * A) + code[k], [u_j * u_k, u_j * v_k, v_j * u_k, v_j * v_k],
                                  size=4 * A * A)
    return c, a, n_rows, W, S, pair_key, pair_sums


def _one_row_cell_statistics(cells: np.ndarray, rows: np.ndarray, area_code: np.ndarray, y: np.ndarray, A: int):
    """:func:`_general_cell_statistics` when every cell is one row of weight 1 (``cells`` ascending,
    ``rows`` theirs, from :func:`_one_row_cells`): a cell's sums are then 1 and ``y``, and a cluster's
    pairs are each cell with itself and, for a cluster in both periods, its two cells with each
    other. The same numbers added in the same (cluster) order as over every pair, without the pairs.
    """
    t, a, v = cells & 1, area_code[rows], y[rows]
    c = cells >> 1
    cell_of = a * 2 + t  # a cell's (area, period)
    n = np.bincount(cell_of, minlength=2 * A)
    W = n.astype(float).reshape(A, 2)
    S = np.bincount(cell_of, weights=v, minlength=2 * A).reshape(A, 2)
    vv = np.bincount(cell_of, weights=v * v, minlength=2 * A).reshape(A, 2)
    own = np.flatnonzero(n)  # the pairs of a cell with itself: uu, uv, vu, vv = 1, y, y, y * y
    code = (own % 2) * A + own // 2  # (period, area)
    own_sums = np.stack([W.ravel()[own], S.ravel()[own], S.ravel()[own], vv.ravel()[own]], axis=1)
    first = np.flatnonzero(c[1:] == c[:-1])  # a cluster's baseline cell; its follow-up cell is next
    y0, y1 = v[first], v[first + 1]
    across, sums = _sum_by(a[first] * A + a[first + 1], [np.ones(len(first)), y1, y0, y0 * y1], size=A * A)
    a0, a1 = across // A, across % A  # baseline x follow-up pairs (0, a0, 1, a1), and the reverse
    keys = np.concatenate([code * (2 * A) + code, a0 * (2 * A) + A + a1, (A + a1) * (2 * A) + a0])
    order = np.argsort(keys)
    pair_sums = np.concatenate([own_sums, sums, sums[:, [0, 2, 1, 3]]])[order]
    return c, a, np.ones(len(cells), dtype=np.int32), W, S, keys[order], pair_sums


def area_statistics(units: pd.DataFrame, areas: Sequence[str], baseline: int, followup: int,
                    cluster_codes: np.ndarray | None = None) -> AreaStatistics:
    """Cell and within-cluster pair sums of a unit frame (columns period, y, weight, cluster, area).

    A cell is a cluster's rows in one area and period; pairs join every two cells of a cluster
    (a cell with itself included). Plain integer keys and ``bincount`` keep this fast on a
    municipality's register. ``cluster_codes``: integer codes of the ``cluster`` column, row for
    row (equal codes for equal clusters), which spare hashing a register's text ids.
    """
    require_columns(units, UNIT_COLUMNS, what="unit frame", error=InferenceError)
    areas = tuple(str(a) for a in areas)
    A = len(areas)
    # plain arrays of the rows used (in the areas, the two periods, a positive weight), no frame taken
    area_code = _area_positions(units["area"], areas)
    w = units["weight"].to_numpy(dtype=float)
    used = _in_periods(units["period"], baseline, followup) & (w > 0) & (area_code >= 0)
    rows = slice(None) if used.all() else np.flatnonzero(used)  # every row (a register's two periods): no copies
    area_code = area_code[rows].astype(np.int64, copy=False)
    w = w[rows]
    y = units["y"].to_numpy(dtype=float)[rows]
    # codes in order of first appearance, as factorising the ids themselves gives
    clusters = units["cluster"].iloc[rows] if cluster_codes is None else np.asarray(cluster_codes)[rows]
    cluster = pd.factorize(clusters)[0].astype(np.int64)
    period = (units["period"].to_numpy()[rows] == followup).astype(np.int64)
    cell = cluster * 2 + period
    del cluster, period
    one_row = _one_row_cells(cell, w)
    if one_row is None:
        cell_key, cell_sums = _cell_sums(cell, area_code, A, [w, w * y, np.ones(len(w))])
        del rows, area_code, cell, w
        c, a, n_rows, W, S, pair_key, pair_sums = _general_cell_statistics(cell_key, cell_sums, A)
    else:
        del rows, cell, w
        c, a, n_rows, W, S, pair_key, pair_sums = _one_row_cell_statistics(*one_row, area_code, y, A)
    pair_cells = np.stack([pair_key // (2 * A * A), (pair_key // (2 * A)) % A, (pair_key // A) % 2,
                           pair_key % A], axis=1)
    # the cells are kept (for the small-sample factor of any set of areas) in the smallest exact types
    return AreaStatistics(
        areas=areas, W=W, S=S, pair_cells=pair_cells, pair_sums=pair_sums,
        cell_area=a.astype(smallest_code_type(A)), cell_cluster=_as_int32(c), cell_rows=_as_int32(n_rows),
        binary=bool(np.isin(y, (0.0, 1.0)).all()),
    )


def _group_means(labels: np.ndarray, st: AreaStatistics) -> tuple[np.ndarray, np.ndarray]:
    """Weights and means per draw, group (0 comparison, 1 district) and period: shape (B, 2, 2)."""
    member = np.stack([labels == 0, labels == 1], axis=1).astype(float)  # (B, 2, A)
    W = member @ st.W
    S = member @ st.S
    with np.errstate(invalid="ignore", divide="ignore"):
        return W, S / W


def _pair_matrix(st: AreaStatistics) -> sparse.csr_matrix:
    """The pair sums as a sparse (A, 2*2*4*A) matrix: row a_j, column ((t_j, t_l, statistic), a_l)."""
    A = len(st.areas)
    t_j, a_j, t_l, a_l = st.pair_cells.T
    rows = np.repeat(a_j, 4)
    columns = (((np.repeat(t_j * 2 + t_l, 4)) * 4 + np.tile(np.arange(4), len(a_j))) * A + np.repeat(a_l, 4))
    return sparse.csr_matrix((st.pair_sums.ravel(), (rows, columns)), shape=(A, 16 * A))


def did_variance(labels: np.ndarray, st: AreaStatistics) -> tuple[np.ndarray, np.ndarray]:
    """DiD and its person-clustered sampling variance for each labelling of the areas.

    ``labels`` (B, A): 1 district, 0 comparison, -1 left out. The variance is the sum over
    clusters of the squared influence of each cluster on the DiD, times the small-sample factor
    ``G / (G - 1) * (N - 1) / (N - 4)`` of statsmodels' cluster-robust covariance. The pair sums
    of every group-period combination are gathered with one sparse product per group (one for
    both when every labelling uses the same areas, as placebo draws do).
    """
    labels = np.atleast_2d(labels)
    B, A = labels.shape
    W, m = _group_means(labels, st)
    did = (m[:, 1, 1] - m[:, 1, 0]) - (m[:, 0, 1] - m[:, 0, 0])
    sign = np.array([[1.0, -1.0], [-1.0, 1.0]])  # [group, period]: the DiD's coefficient on each cell mean
    with np.errstate(invalid="ignore", divide="ignore"):
        k = np.where(W > 0, sign[None] / W, 0.0)
    m = np.where(W > 0, m, 0.0)
    districts = _equal_size_districts(labels)
    if districts is not None:  # placebo draws: a few district areas each, the same areas used throughout
        aggregates = _placebo_pair_aggregates(st, labels[0] >= 0, districts)
        variance = np.zeros(B)
        for g_j in (0, 1):
            for g_l in (0, 1):
                variance += _variance_terms(aggregates[g_j][g_l], k, m, g_j, g_l)
        return did, variance * st.small_sample_factor((labels >= 0).any(axis=0))
    member = [(labels == g).astype(float) for g in (0, 1)]
    pairs = _pair_matrix(st).T.tocsr()  # (16 A, A): sparse @ dense is the fast direction
    used = labels >= 0
    # placebo draws all use the same areas: a comparison group's sums are then the used areas' sums
    # (found once) minus the pseudo-district's, which halves the work
    shared = used[0].astype(float) if B > 1 and (used == used[0]).all() else None
    # sums[g][k, a_l, b]: pair sums over the areas a_j of group g in labelling b, k = (t_j, t_l, statistic)
    sums = [None, (pairs @ member[1].T).reshape(16, A, B)]
    sums[0] = ((pairs @ shared)[:, None] - sums[1].reshape(16 * A, B)).reshape(16, A, B) if shared is not None \
        else (pairs @ member[0].T).reshape(16, A, B)
    variance = np.zeros(B)
    for g_j in (0, 1):
        in_district = np.einsum("kab,ba->bk", sums[g_j], member[1])  # summed over a_l in the district
        in_comparison = ((shared @ sums[g_j]).T - in_district if shared is not None
                         else np.einsum("kab,ba->bk", sums[g_j], member[0]))
        for g_l, agg in ((0, in_comparison), (1, in_district)):
            variance += _variance_terms(agg, k, m, g_j, g_l)
    return did, variance * st.small_sample_factor((labels >= 0).any(axis=0))


def _variance_terms(agg: np.ndarray, k: np.ndarray, m: np.ndarray, g_j: int, g_l: int) -> np.ndarray:
    """Each labelling's variance contribution of the cluster pairs from group ``g_j`` to group ``g_l``.

    ``agg`` (B, 16): their pair sums, columns (t_j, t_l, statistic); ``k`` and ``m`` (B, group, period):
    the DiD's coefficients on the cell means and the means.
    """
    agg = agg.reshape(len(agg), 2, 2, 4)
    uu, uv, vu, vv = (agg[..., s] for s in range(4))
    kj, kl = k[:, g_j, :, None], k[:, g_l, None, :]
    mj, ml = m[:, g_j, :, None], m[:, g_l, None, :]
    return (kj * kl * (vv - ml * vu - mj * uv + mj * ml * uu)).sum(axis=(1, 2))


def _equal_size_districts(labels: np.ndarray) -> np.ndarray | None:
    """The district areas of each labelling (B, n), when there are several labellings, every one has
    ``n`` district areas and all use the same areas (placebo draws); else None.
    """
    B = labels.shape[0]
    used = labels >= 0
    if B < 2 or not (used == used[0]).all():
        return None
    rows, areas = np.nonzero(labels == 1)
    if len(areas) == 0 or len(areas) % B or not (np.bincount(rows, minlength=B) == len(areas) // B).all():
        return None
    return areas.reshape(B, -1)


def _added_at(rows: np.ndarray, columns: np.ndarray, values: np.ndarray, n_rows: int) -> np.ndarray:
    """``np.add.at`` of ``values`` (k, 4) into a zero (n_rows, 16) array at ``rows[:, None], columns``
    (k, 4): the same additions in the same order, by one ``bincount`` over the flat positions (faster).
    """
    flat = (rows[:, None] * 16 + columns).ravel()
    return np.bincount(flat, weights=values.ravel(), minlength=n_rows * 16).reshape(n_rows, 16)


def _placebo_pair_aggregates(st: AreaStatistics, used: np.ndarray, districts: np.ndarray) -> list[list[np.ndarray]]:
    """The pair sums (B, 16) of every group pair [g_j][g_l] (0 comparison, 1 district) per labelling.

    With ``d`` a labelling's district, ``u`` the used areas and ``P`` the pair sums between areas,
    the comparison is ``u - d``, so ``d'Pd``, ``d'Pu``, ``u'Pd`` and ``u'Pu`` give all four: the
    first is read from the pairs among the district's few areas, the next two from row and column
    sums found once. No product over every area for every draw.
    """
    A = len(st.areas)
    t_j, a_j, t_l, a_l = st.pair_cells.T
    column = ((t_j * 2 + t_l) * 4)[:, None] + np.arange(4)  # (t_j, t_l, statistic)
    area_pair = a_j * A + a_l
    keys, inverse = distinct_with_inverse(area_pair)
    between = np.zeros((len(keys) + 1, 16))  # per pair of areas with shared clusters; a last row of zeros
    between[inverse[:, None], column] = st.pair_sums
    uu = used.astype(bool)
    to_used = _added_at(a_j[uu[a_l]], column[uu[a_l]], st.pair_sums[uu[a_l]], A)  # row sums over used a_l, per a_j
    from_used = _added_at(a_l[uu[a_j]], column[uu[a_j]], st.pair_sums[uu[a_j]], A)  # column sums over used a_j
    within_used = to_used[uu].sum(axis=0)
    # d'Pd: every ordered pair of a labelling's district areas, looked up among the area pairs
    wanted = (districts[:, :, None] * A + districts[:, None, :]).reshape(len(districts), -1)
    position = np.searchsorted(keys, wanted)
    found = keys[np.minimum(position, len(keys) - 1)] == wanted
    dd = between[np.where(found, position, len(keys))].sum(axis=1)
    du = to_used[districts].sum(axis=1)
    ud = from_used[districts].sum(axis=1)
    return [[within_used - ud - du + dd, ud - dd], [du - dd, dd]]


def _shock_scale(st: AreaStatistics, reference: float) -> np.ndarray:
    """Relative variance of each area's shock against an area at the ``reference`` level.

    A 0/1 outcome: ``(p (1 - p))^2``, a shock of fixed size on the logit scale (for a rare outcome,
    a shock proportional to the rate: 2.5 times the rest's conviction rate, 2.5 times the shock).
    A non-negative mean (school absence): ``mean^2``, a shock of fixed relative size.
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        level = st.S.sum(axis=1) / st.W.sum(axis=1)
    if st.binary and 0 < reference < 1:
        return (level * (1 - level) / (reference * (1 - reference))) ** 2
    if not st.binary and reference > 0 and np.nanmin(level) >= 0:
        return (level / reference) ** 2
    return np.ones(len(st.areas))


def _own_change_variance(st: AreaStatistics, areas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each area's means (rows ``areas``, columns baseline and follow-up) and the sampling variance of
    its change, as :func:`did_variance` gives them for the area alone as its own "district" (no
    comparison group): only the pairs of the area's own cells enter, so they are read directly
    instead of through one labelling per area. The small-sample factor is that of all ``areas``.
    """
    areas = np.asarray(areas, dtype=np.int64)
    t_j, a_j, t_l, a_l = st.pair_cells.T
    own = np.full((len(st.areas), 2, 2, 4), 0.0)  # per area: its pair sums (t_j, t_l, statistic)
    same = a_j == a_l
    own[a_j[same], t_j[same], t_l[same]] = st.pair_sums[same]
    W, S = st.W[areas], st.S[areas]
    with np.errstate(invalid="ignore", divide="ignore"):
        m = S / W
        k = np.where(W > 0, np.array([-1.0, 1.0]) / W, 0.0)  # the change's coefficient on each period's mean
    m_used = np.where(W > 0, m, 0.0)
    uu, uv, vu, vv = (own[areas][..., s] for s in range(4))
    kj, kl = k[:, :, None], k[:, None, :]
    mj, ml = m_used[:, :, None], m_used[:, None, :]
    variance = (kj * kl * (vv - ml * vu - mj * uv + mj * ml * uu)).sum(axis=(1, 2))
    used = np.zeros(len(st.areas), dtype=bool)
    used[areas] = True
    return m, variance * st.small_sample_factor(used)


def _area_deviations(st: AreaStatistics, areas: np.ndarray, reference_change: float, scale: np.ndarray
                     ) -> tuple[np.ndarray, np.ndarray]:
    """Each area's change minus the reference change, and its sampling SE, both divided by its shock scale."""
    m, var = _own_change_variance(st, areas)  # each area alone, as its own "district"
    root = np.sqrt(scale[areas])
    usable = root > 0  # an area without a single case (p = 0) carries no information on tau
    deviation = (m[:, 1] - m[:, 0] - reference_change)[usable] / root[usable]
    return deviation, np.sqrt(np.maximum(var[usable], 0)) / root[usable]


def _area_shock_variance(st: AreaStatistics, comparison: np.ndarray, scale: np.ndarray) -> float:
    """tau^2 from the comparison areas: the variance of their changes beyond sampling noise."""
    overall = st.S[comparison].sum(axis=0) / st.W[comparison].sum(axis=0)
    return between_area_variance(*_area_deviations(st, comparison, overall[1] - overall[0], scale))


def _history_windows(years: list[int], baseline: int, lag: int) -> list[tuple[int, int]]:
    """Pre-baseline windows as long as the evaluation's (else consecutive years with data)."""
    pre = [y for y in years if y <= baseline]
    windows = [(y, y + lag) for y in pre if y + lag in pre]
    return windows if len(windows) >= 2 else list(zip(pre[:-1], pre[1:], strict=True))


def _period_levels(units: pd.DataFrame, rows: np.ndarray) -> pd.Series:
    """The weighted mean of ``y`` per period over the ``rows`` of a unit frame (indexed by period).

    Integer periods (years) are summed with ``bincount``: no grouping of a register's millions of rows.
    """
    period = units["period"].to_numpy()[rows]
    w = units["weight"].to_numpy(dtype=float)[rows]
    wy = units["y"].to_numpy(dtype=float)[rows] * w
    if period.dtype.kind not in "iu" or len(period) == 0:
        return pd.Series(wy).groupby(period).sum() / pd.Series(w).groupby(period).sum()
    first = int(period.min())
    offset = period - first
    present = np.flatnonzero(np.bincount(offset))
    return pd.Series(np.bincount(offset, weights=wy)[present] / np.bincount(offset, weights=w)[present],
                     index=present + first)


def _coded_history_rows(units: pd.DataFrame, treated: list[str], comparison: list[str]
                        ) -> tuple[pd.Series, np.ndarray] | None:
    """:func:`_period_levels` of the comparison areas' rows and the positions of the district areas'
    rows, for a compact frame (categorical areas, integer periods, every weight 1; else None): each
    row's area class (comparison, district, neither) and year in one integer, counted once. The
    same sums, added in the same order, as over the selected rows (``w * y`` is ``y`` for weight 1).
    """
    area, period = units["area"], units["period"].to_numpy()
    if not (isinstance(area.dtype, pd.CategoricalDtype) and period.dtype.kind in "iu" and len(period)
            and has_unit_weights(units["weight"]) and not set(treated) & set(comparison)):
        return None
    names = area.cat.categories.astype(str)
    table = np.full(len(names) + 1, 2, dtype=np.int64)  # 0 comparison, 1 district, 2 neither (last: missing)
    table[:-1][np.asarray(names.isin(comparison), dtype=bool)] = 0
    table[:-1][np.asarray(names.isin(treated), dtype=bool)] = 1
    cell, first, span = class_period_cells(area.cat.codes.to_numpy(), table, period)
    counts = np.bincount(cell, minlength=3 * span)
    sums = np.bincount(cell, weights=units["y"].to_numpy(dtype=float), minlength=3 * span)
    present = np.flatnonzero(counts[:span])
    level = pd.Series(sums[present] / counts[present].astype(float), index=present + first)
    in_district = np.flatnonzero((cell >= span) & (cell < 2 * span))
    return level, in_district


def district_history_variance(units: pd.DataFrame, treated_areas: Sequence[str], comparison_areas: Sequence[str],
                              baseline: int, followup: int, cluster_codes: np.ndarray | None = None) -> float:
    """The district's own area-shock variance, from its areas' history before the baseline.

    Deprived areas may be more volatile than the rest (more turnover, more events): the comparison
    areas' shock variance can understate the district's. Every pre-baseline window as long as the
    evaluation's gives each district area a change relative to the comparison group's; their
    variance beyond sampling noise (scaled like the comparison's, see :func:`_shock_scale`) is the
    district's own ``tau^2``. ``units`` holds every period (``unit_frame(data, indicator)``);
    ``cluster_codes`` as in :func:`area_statistics`.
    """
    require_columns(units, UNIT_COLUMNS, what="unit frame", error=InferenceError)
    treated = [str(a) for a in treated_areas]
    comparison = [str(a) for a in comparison_areas]
    coded = _coded_history_rows(units, treated, comparison)
    if coded is None:
        in_district = _in_areas(units["area"], treated)
        level = _period_levels(units, _in_areas(units["area"], comparison) & (units["weight"] > 0).to_numpy())
        in_district = np.flatnonzero(in_district)
    else:
        level, in_district = coded
    district = units.iloc[in_district][["period", "y", "weight", "area", "cluster"]]
    district_codes = None if cluster_codes is None else np.asarray(cluster_codes)[in_district]
    deviations, ses = [], []
    for start, end in _history_windows(sorted(level.index), baseline, followup - baseline):
        st = area_statistics(district, treated, start, end, cluster_codes=district_codes)
        present = np.flatnonzero((st.W > 0).all(axis=1))
        reference = float((level[start] + level[end]) / 2)
        d, se = _area_deviations(st, present, float(level[end] - level[start]), _shock_scale(st, reference))
        deviations.append(d)
        ses.append(se)
    if not deviations:
        return 0.0
    return between_area_variance(np.concatenate(deviations), np.concatenate(ses))


def _shock_part(labels: np.ndarray, st: AreaStatistics, scale: np.ndarray, tau2: np.ndarray) -> np.ndarray:
    """Sum over areas of tau^2 (per area) * (area's share of its group)^2 * its shock scale, both groups."""
    share_of = (st.W[:, 0] + st.W[:, 1]) / 2
    total = np.zeros(labels.shape[0])
    for g in (0, 1):
        member = (labels == g).astype(float)
        group_size = member @ share_of
        with np.errstate(invalid="ignore", divide="ignore"):
            total += (member @ (share_of ** 2 * scale * tau2)) / group_size ** 2
    return total


def _draw_labels(rng: np.random.Generator, n_draws: int, n_treated: int, comparison: np.ndarray,
                 n_areas: int) -> np.ndarray:
    """Pseudo-districts of ``n_treated`` comparison areas; the real district's areas left out."""
    labels = np.full((n_draws, n_areas), -1)
    labels[:, comparison] = 0
    order = rng.permuted(np.tile(comparison, (n_draws, 1)), axis=1)[:, :n_treated]
    labels[np.arange(n_draws)[:, None], order] = 1
    return labels


def _placebo_critical_value(t_placebo: np.ndarray, confidence: float) -> float:
    """The c with ``p < 1 - confidence`` exactly when ``|t| > c`` for p = (1 + #{|t_b| >= |t|}) / (1 + B)."""
    B = len(t_placebo)
    largest_allowed = math.ceil((1 - confidence) * (B + 1) - 1e-9) - 2  # reject when at most this many |t_b| >= |t|
    if largest_allowed < 0:
        return float("inf")
    return float(np.sort(np.abs(t_placebo))[::-1][largest_allowed])


def studentised_placebo(statistics: AreaStatistics | pd.DataFrame, treated_areas: Sequence[str],
                        comparison_areas: Sequence[str], baseline: int, followup: int, *, n_draws: int = 999,
                        seed: int | None = None, confidence: float = 0.95,
                        district_tau2: float | None = None) -> ReportedInference:
    """The district's DiD, its standard error (sampling + area shocks) and the studentised placebo test.

    ``statistics`` is a unit frame (``evaluering.indicators.units``: period, y, weight, cluster,
    area) or its :func:`area_statistics` (computed once, it serves every district of a
    municipality). Only ``treated_areas`` (the district) and ``comparison_areas`` count; areas
    without data in both periods are left out. ``district_tau2``, the district's own area-shock
    variance from its history (:func:`district_history_variance`), replaces the comparison
    areas' for the district where it is larger. See the module docstring for the method.

    The products over the areas (a thousand draws by a few hundred areas) run on one BLAS thread:
    that small, a second thread mostly waits (up to ten times slower on a busy machine). OpenBLAS
    splits a product's outputs between threads, not the sums within one, so the numbers are the same.
    """
    with threadpool_limits(limits=1, user_api="blas"):
        return _studentised_placebo(statistics, treated_areas, comparison_areas, baseline, followup,
                                    n_draws=n_draws, seed=seed, confidence=confidence, district_tau2=district_tau2)


def _studentised_placebo(statistics: AreaStatistics | pd.DataFrame, treated_areas: Sequence[str],
                         comparison_areas: Sequence[str], baseline: int, followup: int, *, n_draws: int,
                         seed: int | None, confidence: float, district_tau2: float | None) -> ReportedInference:
    """:func:`studentised_placebo` (on the caller's BLAS threads)."""
    treated = [str(a) for a in dict.fromkeys(treated_areas)]
    comparison = [str(a) for a in dict.fromkeys(comparison_areas) if str(a) not in set(treated)]
    st = statistics if isinstance(statistics, AreaStatistics) else area_statistics(
        statistics, treated + comparison, baseline, followup)
    index = {a: i for i, a in enumerate(st.areas)}
    present = (st.W > 0).all(axis=1)
    treated_idx = np.array([index[a] for a in treated if a in index and present[index[a]]], dtype=np.int64)
    comparison_idx = np.array([index[a] for a in comparison if a in index and present[index[a]]], dtype=np.int64)
    if len(treated_idx) == 0:
        raise InferenceError("no district area has data in both periods")
    if len(comparison_idx) < 2:
        raise InferenceError("fewer than two comparison areas have data in both periods")
    observed = np.full((1, len(st.areas)), -1)
    observed[0, treated_idx], observed[0, comparison_idx] = 1, 0
    overall = st.S[comparison_idx].sum() / st.W[comparison_idx].sum()
    scale = _shock_scale(st, overall)
    comparison_tau2 = _area_shock_variance(st, comparison_idx, scale)
    tau2 = np.full(len(st.areas), comparison_tau2)
    observed_tau2 = tau2.copy()  # the district's areas: as volatile as its own history says, if more
    observed_tau2[treated_idx] = max(comparison_tau2, district_tau2 or 0.0)
    did, sampling = did_variance(observed, st)
    se = float(np.sqrt(sampling[0] + _shock_part(observed, st, scale, observed_tau2)[0]))
    estimate = float(did[0])

    n_distinct = math.comb(len(comparison_idx), len(treated_idx)) if len(comparison_idx) > len(treated_idx) else 0
    if n_distinct < MIN_DISTINCT or not se > 0:
        return _normal_reference(estimate, se, confidence, n_distinct)

    labels = _draw_labels(np.random.default_rng(seed), n_draws, len(treated_idx), comparison_idx, len(st.areas))
    did_b, sampling_b = did_variance(labels, st)
    se_b = np.sqrt(sampling_b + _shock_part(labels, st, scale, tau2))
    with np.errstate(invalid="ignore", divide="ignore"):
        t_b = np.where(se_b > 0, did_b / se_b, np.where(did_b == 0, 0.0, np.inf))
    t_obs = estimate / se
    tol = 1e-12 * max(1.0, abs(t_obs))
    p_value = (1 + int(np.sum(np.abs(t_b) >= abs(t_obs) - tol))) / (1 + n_draws)
    c = _placebo_critical_value(t_b, confidence)
    return ReportedInference(method="studentised_placebo", estimate=estimate, se=se, ci_low=estimate - c * se,
                             ci_high=estimate + c * se, p_value=float(p_value), confidence=confidence)


def _normal_reference(estimate: float, se: float, confidence: float, n_distinct: int) -> ReportedInference:
    """Normal interval and p-value on the same standard error, when placebo draws are too few."""
    note = (f"Der er kun {n_distinct} mulige placebo-bydele; usikkerheden bygger derfor på normalfordelingen "
            "med områdestød, ikke på en placebotest.")
    # without a positive standard error (also a NaN one) the interval collapses to the estimate and p is NaN
    low, high, p = interval(estimate, se if se > 0 else 0.0, confidence)
    return ReportedInference("normal", estimate, se, low, high, p, confidence, note)
