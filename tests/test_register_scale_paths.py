"""The city-size paths of a district evaluation (issue 15) give what the plain computations give.

A register indicator's unit frame is kept compact (categorical groups and areas, integer person
codes) and freed after each indicator; sums over millions of rows are counted rather than sorted;
placebo draws share their comparison areas' sums. Each is checked here against the plain way on
the synthetic municipality or on planted data.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluering.config import InmoverShare, RegisterMean, RegisterShare
from evaluering.did.panel import _repeated, baseline_cohort
from evaluering.did.place_event_study import place_event_study
from evaluering.evaluation import evaluate_district
from evaluering.indicators.levels import weighted_levels
from evaluering.indicators.units import register_units, release_units, unit_frame
from evaluering.inference.studentised_placebo import (
    _cell_sums,
    _own_change_variance,
    _sum_by,
    area_statistics,
    did_variance,
)
from evaluering.numerics.counting import distinct_with_inverse

DISTRICT = "moerkhoej"
REGISTER = (RegisterShare, RegisterMean, InmoverShare)


def _register_indicators(params):
    return [ind for ind in params.indicators if isinstance(ind.computation, REGISTER)]


@pytest.mark.parametrize("periods", [None, (2021, 2024)])
def test_compact_register_units_hold_the_values_of_the_unit_frames(prepared, params, periods):
    for ind in _register_indicators(params):
        compact, text = register_units(prepared, ind, periods), unit_frame(prepared, ind, periods)
        assert len(compact) == len(text) > 0
        for column in ("group", "area"):
            assert isinstance(compact[column].dtype, pd.CategoricalDtype)
            np.testing.assert_array_equal(compact[column].astype(object).to_numpy(),
                                          text[column].astype(object).to_numpy())
        for column in ("period", "y", "weight", "persons"):
            np.testing.assert_array_equal(compact[column].to_numpy(), text[column].to_numpy())
        np.testing.assert_array_equal(pd.factorize(compact["cluster"])[0], pd.factorize(text["cluster"])[0])
        release_units(prepared, ind)


def test_levels_area_statistics_and_event_study_from_compact_frames_equal_those_from_text(prepared, params):
    areas = sorted(prepared.dataset.areas["area_id"].astype(str))
    checked = 0
    for ind in _register_indicators(params):
        compact, text = register_units(prepared, ind, [2021, 2024]), unit_frame(prepared, ind, [2021, 2024])
        pd.testing.assert_frame_equal(weighted_levels(compact), weighted_levels(text), check_exact=True)
        a = area_statistics(compact, areas, 2021, 2024, cluster_codes=compact["cluster"].to_numpy())
        b = area_statistics(text, areas, 2021, 2024)
        for field in ("W", "S", "pair_cells", "pair_sums", "cell_area", "cell_cluster", "cell_rows"):
            np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
        if not isinstance(ind.computation, InmoverShare):
            every, every_text = register_units(prepared, ind), unit_frame(prepared, ind)
            x = place_event_study(every, DISTRICT, 2022, cluster_codes=every["cluster"].to_numpy())
            y = place_event_study(every_text, DISTRICT, 2022)
            pd.testing.assert_frame_equal(x.coefficients, y.coefficients, check_exact=False, rtol=0, atol=1e-12)
            assert (x.n_obs, x.n_clusters) == (y.n_obs, y.n_clusters)
        release_units(prepared, ind)
        checked += 1
    assert checked >= 6


def test_an_evaluation_frees_the_compact_frames_it_built(prepared):
    evaluate_district(prepared, DISTRICT, 2021, 2024)
    assert not [key for key in prepared._unit_frames if key[0] == "compact"]
    assert [key for key in prepared._unit_frames if key[0] == "area_statistics"]  # these serve every district


@pytest.fixture(scope="module")
def statistics(prepared, params):
    units = unit_frame(prepared, params.indicator("arbejdsmarked"), [2021, 2024])
    return area_statistics(units, sorted(prepared.dataset.areas["area_id"].astype(str)), 2021, 2024)


def test_placebo_draws_sharing_their_areas_give_each_draws_own_variance(statistics):
    rng = np.random.default_rng(7)
    n_areas = len(statistics.areas)
    labels = np.zeros((40, n_areas), dtype=int)
    labels[:, :3] = -1  # the real district's areas, left out of every draw
    for row in labels:
        row[rng.choice(np.arange(3, n_areas), 4, replace=False)] = 1
    did, variance = did_variance(labels, statistics)  # one shared comparison sum
    one_by_one = [did_variance(row[None], statistics) for row in labels]  # each on its own
    np.testing.assert_allclose(did, [d[0] for d, _ in one_by_one], rtol=0, atol=1e-14)
    np.testing.assert_allclose(variance, [v[0] for _, v in one_by_one], rtol=1e-10, atol=0)
    assert variance.min() > 0


def test_each_areas_own_change_variance_is_that_of_the_area_as_its_own_district(statistics):
    areas = np.flatnonzero((statistics.W > 0).all(axis=1))
    labels = np.full((len(areas), len(statistics.areas)), -1)
    labels[np.arange(len(areas)), areas] = 1
    means, variance = _own_change_variance(statistics, areas)
    _, expected = did_variance(labels, statistics)
    np.testing.assert_array_equal(means, statistics.S[areas] / statistics.W[areas])
    np.testing.assert_allclose(variance, expected, rtol=1e-12, atol=0)


def test_counted_sums_equal_sorted_ones():
    rng = np.random.default_rng(3)
    values = rng.normal(size=(500, 3))
    for key in (rng.integers(0, 50, 500), rng.permutation(500)):
        keys, sums = _sum_by(key, values, size=int(key.max()) + 1)  # counted
        expected_keys, expected = _sum_by(key, values)  # sorted
        np.testing.assert_array_equal(keys, expected_keys)
        np.testing.assert_array_equal(sums, expected)
    cells, areas = rng.permutation(300), rng.integers(0, 7, 300)  # one row per cell: only reordered
    for cell in (cells, rng.integers(0, 100, 300)):  # and several rows in a cell: summed
        keys, sums = _cell_sums(cell, areas, 7, values[:300])
        expected_keys, expected = _sum_by(cell * 7 + areas, values[:300])
        np.testing.assert_array_equal(keys, expected_keys)
        np.testing.assert_allclose(sums, expected, rtol=1e-14, atol=1e-14)


def test_counted_periods_and_repeats_equal_numpys_and_pandas():
    years = np.array([2024, 2019, 2021, 2019, 2030])
    for got, expected in zip(distinct_with_inverse(years), np.unique(years, return_inverse=True), strict=True):
        np.testing.assert_array_equal(got, expected)
    unit = np.array([0, 1, 0, 2, 1])
    assert not _repeated(unit, pd.Series(years))
    assert _repeated(unit, pd.Series([2024, 2019, 2021, 2019, 2019]))
    assert _repeated(unit, pd.Series([1.0, 2.0, 1.0, 3.0, 4.0]))  # a float time: pandas' duplicated


def test_a_cohort_joined_on_integer_codes_equals_the_merged_one():
    rng = np.random.default_rng(11)
    persons, years = np.repeat(np.arange(60), 4), np.tile(np.arange(2019, 2023), 60)
    register = pd.DataFrame({"person_id": persons, "year": years, "group": rng.choice(["d", "comparison"], 240),
                             "age": rng.integers(20, 60, 240), "y": rng.normal(size=240)})
    register = register.sample(frac=0.8, random_state=1)  # persons missing in some years, rows unsorted
    coded = baseline_cohort(register, 2020, district="d")
    merged = baseline_cohort(register.astype({"person_id": "Int64"}), 2020, district="d")  # the merge path
    pd.testing.assert_frame_equal(coded, merged.astype({"person_id": "int64"}), check_exact=True)


def test_first_appearance_codes_are_those_of_pandas_factorize():
    from evaluering.numerics.counting import first_appearance_codes

    rng = np.random.default_rng(11)
    for values in (np.sort(rng.integers(0, 50, 300)), rng.integers(0, 50, 300), np.array([7], dtype=np.int32),
                   np.zeros(0, dtype=np.int64), pd.Series(np.sort(rng.integers(-5, 5, 40)), dtype="int32"),
                   np.array(["b", "a", "b"], dtype=object), pd.Series([3.0, 1.0, 3.0])):
        codes = first_appearance_codes(values)
        np.testing.assert_array_equal(codes, pd.factorize(values)[0])
        assert codes.dtype == pd.factorize(values)[0].dtype


def test_sorted_person_codes_number_the_rows_persons_in_the_order_of_their_ids(prepared):
    import dataclasses

    from evaluering.indicators.units import sorted_person_codes

    # as delivered, and with the rows reversed (ids no longer appear in sorted order: the ranks are needed)
    for data in (prepared, dataclasses.replace(prepared, register=prepared.register.iloc[::-1].reset_index(drop=True))):
        year = data.register["year"].to_numpy()
        for rows in (np.flatnonzero((year >= 2021) & (year <= 2024)), np.arange(0, len(year), 7)):
            expected = pd.factorize(data.register["person_id"].take(rows), sort=True)[0]
            np.testing.assert_array_equal(sorted_person_codes(data, rows), expected)


def test_sorting_order_is_the_stable_argsort():
    from evaluering.did.panel import _sorting_order

    rng = np.random.default_rng(5)
    for key in (rng.permutation(1000), rng.permutation(5000)[:800], rng.integers(0, 100, 1000),
                np.zeros(0, dtype=np.int64)):
        np.testing.assert_array_equal(_sorting_order(key), np.argsort(key, kind="stable"))


def test_movers_from_the_kept_group_codes_are_those_from_the_text(prepared, params):
    from evaluering.indicators.units import _moved_in

    bevaegelse = params.indicator("bevaegelse")
    register_units(prepared, bevaegelse)
    try:
        np.testing.assert_array_equal(prepared._unit_frames[("moved_in",)], _moved_in(prepared.register))
    finally:
        release_units(prepared, bevaegelse)
    # a missing group is a group of its own, and not the same as having no row the year before
    small = pd.DataFrame({"person_id": pd.array(["a", "a", "b", "b", "c"], dtype="str"),
                          "year": [2020, 2021, 2020, 2021, 2021],
                          "group": pd.array([None, None, "x", None, None], dtype="str")})
    np.testing.assert_array_equal(_moved_in(small), [True, False, True, True, True])


def test_text_shares_of_categorical_rows_are_those_of_the_text():
    from evaluering.indicators.units import is_one_of

    text = pd.Series(["basic", None, "higher", "vocational", "basic", None], dtype="str")
    categorical = text.astype("category")
    for values in (["vocational", "higher"], ["basic"], ["none of them"]):
        np.testing.assert_array_equal(is_one_of(categorical, values), is_one_of(text, values))
