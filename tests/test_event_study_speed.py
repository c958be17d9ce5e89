"""The place event study's coded path, worked block by block, gives what row-long arrays give.

The coded path computes the cells, the clusters with kept rows and the clusters' summed influence
block by block (``counting.BLOCK_ROWS`` rows at a time). Here the blocks are made tiny, so that every frame has
many blocks and a ragged last one, and the results are compared bit for bit with a plain
reference (one row-long ``bincount`` per sum, as the path was first written) and with the
general path, on frames it was not written for: unsorted rows, missing and unused groups, other
category orders, several rows per cluster and year, sparse cluster codes, missing outcomes in
other groups, tiny frames.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import evaluering.did.place_event_study as pes
from evaluering.numerics import counting
from evaluering.numerics.counting import class_period_cells


def _frame(rng, n=3000, *, years=(2012, 2025), categories=("comparison", "d", "other", "x"), sparse=False,
           repeats=False, nan_elsewhere=False, binary=True) -> pd.DataFrame:
    """A register-like unit frame in random row order: categorical groups (some missing), integer
    clusters, unit weights."""
    year = rng.integers(*years, n)
    code = rng.integers(-1, len(categories), n)
    cluster = rng.integers(0, max(n // 4, 1), n) if repeats else rng.permutation(n)
    if sparse:
        cluster = cluster * 5 + 7_000
    y = rng.binomial(1, 0.3, n).astype(float) if binary else rng.gamma(2.0, 1.5, n)
    group = pd.Categorical.from_codes(code, categories=pd.Index(list(categories), dtype="str"))
    if nan_elsewhere:  # missing outcomes only in rows that are left out
        y[~np.isin(np.asarray(group, dtype=object), ["comparison", "d"])] = np.nan
    return pd.DataFrame({"group": group, "period": year, "y": y, "weight": np.ones(n),
                         "cluster": cluster.astype(np.int32)})


def _reference_study(cell, first, span, clusters, y, reference):
    """``_coded_study`` with row-long arrays and one ``bincount`` per sum (the path before blocks)."""
    counts, years, column = pes._coded_cells(cell, first, span, reference)
    kept = column < column.max()
    total = counts.astype(float)
    mean = np.divide(np.bincount(cell, weights=y, minlength=3 * span), total, out=np.zeros(3 * span),
                     where=counts > 0)
    signed = (y - mean[cell]) / np.where(np.arange(3 * span) < span, -total, total)[cell]
    means = {(bool(c // span), int(c % span) + first): float(mean[c]) for c in np.flatnonzero((counts > 0) & kept)}
    n_columns = int(column.max())
    seen = np.bincount(clusters[column[cell] < n_columns], minlength=int(clusters.max()) + 1) > 0
    n_clusters = int(seen.sum())
    width = len(seen) if 2 * n_clusters >= len(seen) else n_clusters
    number = clusters if width == len(seen) else np.maximum(np.cumsum(seen) - 1, 0)[clusters]
    by_year = np.bincount(column[cell] * width + number, weights=signed,
                          minlength=(n_columns + 1) * width).reshape(n_columns + 1, width)
    sums = by_year[:-2] - by_year[-2]
    G = np.int64(n_clusters)
    n_treated = int(counts[span:2 * span][kept[span:2 * span]].sum())
    return years, means, sums @ sums.T * G / (G - 1), G, n_treated, int(counts[kept].sum()), width


FRAMES = {
    "plain": {},
    "other category order": {"categories": ("x", "d", "other", "comparison")},
    "unused and missing groups": {"categories": ("unused", "comparison", "x", "d")},
    "several rows per cluster and year": {"repeats": True},
    "sparse cluster codes": {"sparse": True},
    "sparse, repeats, means": {"sparse": True, "repeats": True, "binary": False},
    "missing outcomes elsewhere": {"nan_elsewhere": True},
    "tiny": {"n": 40, "years": (2019, 2022)},
}


@pytest.mark.parametrize("block", [1, 7, 64, 1 << 16])
@pytest.mark.parametrize("name", list(FRAMES))
def test_blocked_coded_study_equals_the_row_long_reference_bit_for_bit(monkeypatch, name, block):
    monkeypatch.setattr(counting, "BLOCK_ROWS", block)
    units = _frame(np.random.default_rng(len(name)), **FRAMES[name])
    coded = pes._coded_rows(units, "d", units["cluster"].to_numpy())
    assert coded is not None
    cell, first, span, clusters = coded
    classes = [{"comparison": 0, "d": 1}.get(c, 2) for c in units["group"].cat.categories] + [2]  # + missing
    expected_cell, expected_first, expected_span = class_period_cells(
        units["group"].cat.codes.to_numpy(), np.array(classes), units["period"].to_numpy())
    np.testing.assert_array_equal(cell, expected_cell)
    assert (first, span) == (expected_first, expected_span)
    y = units["y"].to_numpy()
    *expected, width = _reference_study(cell.copy(), first, span, clusters, y, 2020)
    got = pes._coded_study(cell.copy(), first, span, clusters, y, 2020)
    assert got[0] == expected[0] and got[1] == expected[1]  # years, cell means: exactly
    np.testing.assert_array_equal(got[2], expected[2])  # covariance: bit for bit
    assert got[3:] == tuple(expected[3:])
    if FRAMES[name].get("sparse"):
        assert width < int(clusters.max()) + 1  # the clusters were numbered 0..G-1


@pytest.mark.parametrize("name", ["plain", "other category order", "several rows per cluster and year",
                                  "sparse, repeats, means"])
def test_blocked_coded_path_equals_the_general_path(monkeypatch, name):
    monkeypatch.setattr(counting, "BLOCK_ROWS", 5)
    units = _frame(np.random.default_rng(3), **FRAMES[name])
    codes = units["cluster"].to_numpy()
    coded = pes.place_event_study(units, "d", 2021, cluster_codes=codes)
    text = units.assign(group=units["group"].astype(object))
    general = pes.place_event_study(text, "d", 2021, cluster_codes=codes)
    pd.testing.assert_frame_equal(coded.coefficients, general.coefficients, check_exact=False, rtol=1e-12,
                                  atol=1e-15)
    np.testing.assert_allclose(coded.covariance, general.covariance, rtol=1e-12, atol=0)
    for field in ("n_units", "n_treated_units", "n_obs", "n_clusters"):
        assert getattr(coded, field) == getattr(general, field)


def test_weights_other_than_one_take_the_general_path(monkeypatch):
    monkeypatch.setattr(counting, "BLOCK_ROWS", 5)
    units = _frame(np.random.default_rng(8))
    weighted = units.assign(weight=np.where(units["period"] == 2019, 2.0, 1.0))
    assert pes._coded_rows(weighted, "d", weighted["cluster"].to_numpy()) is None
    result = pes.place_event_study(weighted, "d", 2021, cluster_codes=weighted["cluster"].to_numpy())
    text = weighted.assign(group=weighted["group"].astype(object))
    np.testing.assert_array_equal(result.covariance,
                                  pes.place_event_study(text, "d", 2021,
                                                        cluster_codes=text["cluster"].to_numpy()).covariance)


@pytest.mark.parametrize("block", [1, 3, 1 << 16])
def test_blocked_class_period_cells_equal_one_row_long_take(monkeypatch, block):
    monkeypatch.setattr(counting, "BLOCK_ROWS", block)
    rng = np.random.default_rng(4)
    codes = rng.integers(-1, 5, 50).astype(np.int8)  # -1: a missing category, the table's last entry
    table = np.array([2, 0, 1, 2, 2, 2])
    period = rng.integers(1999, 2031, 50).astype(np.int32)
    cell, first, span = class_period_cells(codes, table, period)
    assert (first, span) == (int(period.min()), int(period.max()) - int(period.min()) + 1)
    expected = np.take(table.astype(np.int64) * span - first, codes) + period  # the whole rows at once
    np.testing.assert_array_equal(cell, expected)
    assert cell.dtype == np.int64


def test_cluster_numbers_are_in_code_order():
    seen = np.array([False, True, False, False, True, True, False])
    np.testing.assert_array_equal(pes._numbers(seen, 3), [0, 0, 0, 0, 1, 2, 2])
