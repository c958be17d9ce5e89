"""The one-row-per-cell path of ``area_statistics`` gives, bit for bit, what the general path gives.

A register frame has one row per person and year, every weight 1: its cells (cluster x period x
area) are single rows and its pairs are found without listing them. These tests build frames the
path was not designed around (non-binary outcomes, unsorted rows, movers, missing and unknown
areas, other category orders, tiny frames) and compare every field with the general path, forced
by switching the shortcut off; a brute-force sum over each cluster's cells checks both.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import evaluering.inference.studentised_placebo as sp

AREAS = [f"a{i}" for i in range(7)]
FIELDS = ("W", "S", "pair_cells", "pair_sums", "cell_area", "cell_cluster", "cell_rows", "binary")


def _panel(rng, n=400, *, binary=True, move=0.3, stay=0.7, shuffle=True, categorical=True,
           broadcast_weight=True) -> pd.DataFrame:
    """Persons in the two periods 2021 and 2024 (some only in one), some moving area, one row each."""
    area0 = rng.integers(len(AREAS), size=n)
    area1 = np.where(rng.random(n) < move, rng.integers(len(AREAS), size=n), area0)
    in0 = rng.random(n) < 0.85
    in1 = ~in0 | (rng.random(n) < stay)
    person = np.arange(n) * 7 + 3  # integer codes, not 0..n-1
    parts = [pd.DataFrame({"period": p, "cluster": person[keep], "area": np.array(AREAS)[area[keep]]})
             for p, area, keep in ((2021, area0, in0), (2024, area1, in1))]
    frame = pd.concat(parts, ignore_index=True)
    frame["y"] = (rng.random(len(frame)) < 0.3).astype(float) if binary else rng.gamma(2.0, 0.37, len(frame))
    if shuffle:
        frame = frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)
    if categorical:  # categories in another order than AREAS, one unused
        frame["area"] = pd.Categorical(frame["area"], categories=[*AREAS[::-1], "unused"])
    weight = np.broadcast_to(np.float64(1.0), len(frame)) if broadcast_weight else np.ones(len(frame))
    frame["weight"] = weight
    frame["cluster"] = frame["cluster"].astype(np.int32)
    return frame


def _general(monkeypatch, *args, **kwargs) -> sp.AreaStatistics:
    with monkeypatch.context() as m:
        m.setattr(sp, "_one_row_cells", lambda cell, w: None)
        return sp.area_statistics(*args, **kwargs)


def _fast(monkeypatch, *args, **kwargs) -> tuple[sp.AreaStatistics, int]:
    """The statistics and how often the one-row path ran."""
    calls = []
    original = sp._one_row_cell_statistics
    with monkeypatch.context() as m:
        m.setattr(sp, "_one_row_cell_statistics", lambda *a: calls.append(1) or original(*a))
        return sp.area_statistics(*args, **kwargs), len(calls)


def _assert_identical(a: sp.AreaStatistics, b: sp.AreaStatistics) -> None:
    for field in FIELDS:
        x, y = getattr(a, field), getattr(b, field)
        if isinstance(x, np.ndarray):
            assert x.dtype == y.dtype and x.shape == y.shape, field
            assert np.array_equal(x, y, equal_nan=True), field
        else:
            assert x == y, field


def _brute_pairs(frame: pd.DataFrame, areas: list[str], baseline: int, followup: int) -> dict:
    """Pair sums by listing every pair of cells of every cluster (weights 1, one row a cell)."""
    rows = frame[frame["period"].isin([baseline, followup]) & frame["area"].astype(object).isin(areas)]
    pairs: dict = {}
    for _, cells in rows.groupby("cluster", sort=False):
        cells = [(int(p == followup), areas.index(str(a)), yv) for p, a, yv in
                 zip(cells["period"], cells["area"], cells["y"], strict=True)]
        for t_j, a_j, y_j in cells:
            for t_l, a_l, y_l in cells:
                total = pairs.setdefault((t_j, a_j, t_l, a_l), np.zeros(4))
                total += (1.0, y_l, y_j, y_j * y_l)
    return pairs


@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("shuffle", [True, False])
@pytest.mark.parametrize("categorical", [True, False])
def test_one_row_cells_equal_the_general_path_bit_for_bit(monkeypatch, binary, shuffle, categorical):
    frame = _panel(np.random.default_rng(3), binary=binary, shuffle=shuffle, categorical=categorical)
    areas = AREAS[:5] + ["not-in-frame"]  # two frame areas left out, one area without rows
    codes = frame["cluster"].to_numpy()
    fast, ran = _fast(monkeypatch, frame, areas, 2021, 2024, cluster_codes=codes)
    assert ran == 1
    _assert_identical(fast, _general(monkeypatch, frame, areas, 2021, 2024, cluster_codes=codes))
    # the text ids and areas give the same
    text = frame.assign(cluster=frame["cluster"].astype(str), area=frame["area"].astype(str))
    _assert_identical(fast, _general(monkeypatch, text, areas, 2021, 2024))


def test_one_row_cells_equal_a_brute_force_pair_sum(monkeypatch):
    frame = _panel(np.random.default_rng(5), n=150, binary=False)
    st, ran = _fast(monkeypatch, frame, AREAS, 2021, 2024, cluster_codes=frame["cluster"].to_numpy())
    assert ran == 1
    brute = _brute_pairs(frame, AREAS, 2021, 2024)
    assert sorted(brute) == [tuple(int(v) for v in cell) for cell in st.pair_cells]
    np.testing.assert_allclose(st.pair_sums, np.array([brute[k] for k in sorted(brute)]), rtol=1e-13)


def test_missing_areas_other_periods_and_a_stored_weight_array(monkeypatch):
    frame = _panel(np.random.default_rng(8), binary=False, broadcast_weight=False)
    frame.loc[frame.index[::9], "area"] = np.nan  # missing area: in no area
    extra = frame.iloc[:40].assign(period=2022)  # another year's rows, left out
    frame = pd.concat([frame, extra], ignore_index=True)
    codes = frame["cluster"].to_numpy()
    fast, ran = _fast(monkeypatch, frame, AREAS, 2021, 2024, cluster_codes=codes)
    assert ran == 1
    _assert_identical(fast, _general(monkeypatch, frame, AREAS, 2021, 2024, cluster_codes=codes))


def test_weights_other_than_one_and_repeated_cells_take_the_general_path(monkeypatch):
    frame = _panel(np.random.default_rng(11), binary=False, broadcast_weight=False)
    weighted = frame.assign(weight=np.where(np.arange(len(frame)) % 5 == 0, 2.5, 1.0))
    zero = frame.assign(weight=np.where(np.arange(len(frame)) % 5 == 0, 0.0, 1.0))  # weight 0: rows left out
    repeated = pd.concat([frame, frame.iloc[:10]], ignore_index=True)  # a person twice in a period
    for units in (weighted, repeated):
        st, ran = _fast(monkeypatch, units, AREAS, 2021, 2024, cluster_codes=units["cluster"].to_numpy())
        assert ran == 0
        _assert_identical(st, _general(monkeypatch, units, AREAS, 2021, 2024,
                                       cluster_codes=units["cluster"].to_numpy()))
    st, ran = _fast(monkeypatch, zero, AREAS, 2021, 2024, cluster_codes=zero["cluster"].to_numpy())
    assert ran == 1  # the rows of weight 0 are dropped before: the rest are one row of weight 1 a cell
    _assert_identical(st, _general(monkeypatch, zero, AREAS, 2021, 2024, cluster_codes=zero["cluster"].to_numpy()))


@pytest.mark.parametrize("n_rows", [0, 1, 2, 3])
def test_tiny_frames(monkeypatch, n_rows):
    frame = pd.DataFrame({"period": [2021, 2024, 2024][:n_rows], "y": [0.5, 2.0, 1.0][:n_rows],
                          "weight": 1.0, "cluster": [4, 4, 9][:n_rows], "area": ["a1", "a2", "a1"][:n_rows]})
    codes = frame["cluster"].to_numpy()
    fast, ran = _fast(monkeypatch, frame, AREAS, 2021, 2024, cluster_codes=codes)
    assert ran == (n_rows > 0)
    _assert_identical(fast, _general(monkeypatch, frame, AREAS, 2021, 2024, cluster_codes=codes))


def test_placebo_and_history_results_unchanged_by_the_shortcut(monkeypatch):
    rng = np.random.default_rng(21)
    frames = [_panel(rng, n=3000, binary=False).assign(period=lambda f, s=s: f["period"] - 2021 + s)
              for s in (2015, 2017, 2019, 2021)]
    every = pd.concat(frames, ignore_index=True)  # periods 2015..2024, windows of three years
    areas, treated, rest = AREAS, AREAS[:2], AREAS[2:]
    codes = every["cluster"].to_numpy()

    def results():
        st = sp.area_statistics(every, areas, 2021, 2024, cluster_codes=codes)
        history = sp.district_history_variance(every, treated, rest, 2021, 2024, cluster_codes=codes)
        placebo = sp.studentised_placebo(st, treated, rest, 2021, 2024, n_draws=99, seed=1, district_tau2=history)
        observed = np.full((1, len(areas)), 0)
        observed[0, :2] = 1
        return history, placebo, sp.did_variance(observed, st)

    fast = results()
    with monkeypatch.context() as m:
        m.setattr(sp, "_one_row_cells", lambda cell, w: None)
        general = results()
    assert fast[0] == general[0]
    assert repr(fast[1]) == repr(general[1])
    for x, y in zip(fast[2], general[2], strict=True):
        assert np.array_equal(x, y)


def _reference_added_at(rows, columns, values, n_rows):
    out = np.zeros((n_rows, 16))
    np.add.at(out, (rows[:, None], columns), values)
    return out


def test_added_at_is_np_add_at_bit_for_bit():
    rng = np.random.default_rng(2)
    rows = rng.integers(5, size=300)
    columns = rng.integers(4, size=(300, 1)) * 4 + np.arange(4)
    values = rng.normal(size=(300, 4)) * 10.0 ** rng.integers(-8, 8, size=(300, 4))
    assert np.array_equal(sp._added_at(rows, columns, values, 6), _reference_added_at(rows, columns, values, 6))
    empty = np.zeros(0, dtype=np.int64)
    assert np.array_equal(sp._added_at(empty, np.zeros((0, 4), dtype=np.int64), np.zeros((0, 4)), 3), np.zeros((3, 16)))


def test_placebo_draws_unchanged_by_the_counted_aggregates(monkeypatch):
    """Many areas (so the placebo distribution is drawn), non-binary outcomes, movers."""
    rng = np.random.default_rng(17)
    n_areas, persons = 40, 60
    area0 = np.repeat(np.arange(n_areas), persons)
    area1 = np.where(rng.random(len(area0)) < 0.2, rng.integers(n_areas, size=len(area0)), area0)
    parts = [pd.DataFrame({"period": p, "cluster": np.arange(len(area0)), "area": [f"z{a:02d}" for a in area]})
             for p, area in ((2021, area0), (2024, area1))]
    units = pd.concat(parts, ignore_index=True).iloc[rng.permutation(2 * len(area0))]
    units = units.assign(y=rng.gamma(1.5, 0.4, len(units)), weight=1.0)
    areas = sorted(units["area"].unique())
    treated, rest = areas[:3], areas[3:]
    codes = units["cluster"].to_numpy()

    def result():
        st = sp.area_statistics(units, areas, 2021, 2024, cluster_codes=codes)
        return sp.studentised_placebo(st, treated, rest, 2021, 2024, n_draws=299, seed=4, district_tau2=1e-4)

    fast = result()
    assert fast.method == "studentised_placebo"
    with monkeypatch.context() as m:
        m.setattr(sp, "_added_at", _reference_added_at)
        m.setattr(sp, "distinct_with_inverse", lambda v: np.unique(v, return_inverse=True))
        m.setattr(sp, "_one_row_cells", lambda cell, w: None)
        reference = result()
    assert repr(fast) == repr(reference)


def test_one_blas_thread_gives_the_same_inference():
    rng = np.random.default_rng(29)
    n_areas, persons = 300, 12
    area = np.repeat(np.arange(n_areas), persons)
    units = pd.concat([pd.DataFrame({"period": p, "cluster": np.arange(len(area)), "area": [f"q{a:03d}" for a in area]})
                       for p in (2021, 2024)], ignore_index=True)
    units = units.assign(y=(rng.random(len(units)) < 0.2).astype(float), weight=1.0)
    areas = sorted(units["area"].unique())
    st = sp.area_statistics(units, areas, 2021, 2024, cluster_codes=units["cluster"].to_numpy())
    args = (st, areas[:4], areas[4:], 2021, 2024)
    on_one = sp.studentised_placebo(*args, n_draws=999, seed=3, district_tau2=2e-4)
    on_callers = sp._studentised_placebo(*args, n_draws=999, seed=3, confidence=0.95, district_tau2=2e-4)
    assert on_one.method == "studentised_placebo"
    assert repr(on_one) == repr(on_callers)
