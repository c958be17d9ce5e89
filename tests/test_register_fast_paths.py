"""The register's fast paths (issue 15) give what the text-based computations give.

Person codes stand in for the register's text ids where only equality matters (clusters of the
place event study, persons of the people estimate), and the key check works on integer codes: the
results must be those of the ids themselves, on the synthetic register.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluering.config import InmoverShare, RegisterMean, RegisterShare
from evaluering.data.contract import input_contract
from evaluering.data.lookup import isin_values
from evaluering.data.privacy import looks_like_cpr
from evaluering.data.validate import _check_key, _check_table
from evaluering.did.panel import baseline_cohort
from evaluering.did.place_event_study import place_event_study
from evaluering.evaluation.register_analyses import PEOPLE_KINDS, district_cohort, people_estimate
from evaluering.indicators.units import cluster_codes, unit_frame

DISTRICT = "moerkhoej"
REGISTER_KINDS = (RegisterShare, RegisterMean, InmoverShare)


def _close(a: float, b: float) -> bool:
    return (np.isnan(a) and np.isnan(b)) or abs(a - b) <= 1e-12


@pytest.mark.parametrize("periods", [None, (2021, 2024)])
def test_cluster_codes_group_the_rows_as_the_cluster_ids(prepared, params, periods):
    checked = 0
    for ind in params.indicators:
        codes = cluster_codes(prepared, ind, periods)
        if not isinstance(ind.computation, REGISTER_KINDS):
            assert codes is None
            continue
        units = unit_frame(prepared, ind, periods)
        assert len(codes) == len(units) > 0
        np.testing.assert_array_equal(pd.factorize(codes)[0], pd.factorize(units["cluster"])[0])
        checked += 1
    assert checked >= 5


def test_place_event_study_with_cluster_codes_equals_the_one_from_ids(prepared, params, truth):
    baseline = truth["baseline_wave"]
    ind = params.indicator("arbejdsmarked")
    units = unit_frame(prepared, ind)
    units, codes = units[units["period"] <= 2024], cluster_codes(prepared, ind)[(units["period"] <= 2024).to_numpy()]
    from_ids = place_event_study(units, DISTRICT, baseline + 1)
    from_codes = place_event_study(units, DISTRICT, baseline + 1, cluster_codes=codes)
    pd.testing.assert_frame_equal(from_ids.coefficients, from_codes.coefficients, check_exact=True)
    assert (from_ids.n_obs, from_ids.n_clusters) == (from_codes.n_obs, from_codes.n_clusters)
    assert from_ids.n_obs < len(units)  # the other districts' rows are left out


def test_people_estimates_from_the_coded_cohort_equal_those_from_person_ids(prepared, params, truth):
    baseline, followup = truth["baseline_wave"], max(params.survey.waves)
    coded = district_cohort(prepared, DISTRICT, baseline, followup)
    register = prepared.register
    with_ids = baseline_cohort(register[register["year"].between(baseline, followup)], baseline, district=DISTRICT)
    assert len(coded) == len(with_ids)
    estimates = 0
    for ind in params.indicators:
        if not isinstance(ind.computation, PEOPLE_KINDS):
            continue
        a, b = people_estimate(coded, ind, baseline), people_estimate(with_ids, ind, baseline)
        assert (a.n_units, a.n_obs, a.n_clusters, a.note) == (b.n_units, b.n_obs, b.n_clusters, b.note)
        assert all(_close(getattr(a, f), getattr(b, f)) for f in ("estimate", "se", "ci_low", "ci_high", "p_value"))
        estimates += not np.isnan(a.estimate)
    assert estimates >= 3


def test_key_check_on_codes_lists_exactly_the_repeated_complete_keys(params):
    spec = input_contract(params)["register"]
    frame = pd.DataFrame({
        "person_id": pd.array(["a", "a", None, None, "b", "c", "c", "b"], dtype="string"),
        "year": pd.array([2020, 2020, 2021, 2021, 2020, 2020, 2021, 2021], dtype="Int64"),
    })
    expected = frame.duplicated(keep=False) & frame.notna().all(axis=1)  # the text-based rule
    [problem] = _check_key(spec, frame, "register.parquet")
    assert problem.rows == tuple(np.flatnonzero(expected.to_numpy()) + 1) == (1, 2)
    assert _check_key(spec, frame.drop(index=[1]), "register.parquet") == []  # NA keys are never duplicates


def _register_units_from_text(prepared, ind, periods):
    """The register unit frame the plain way: the rows' text columns taken from the register."""
    from evaluering.indicators.units import _frame, _period_map, is_one_of

    comp, reg = ind.computation, prepared.register
    usable = (reg["age"].between(*comp.age) & reg[comp.column].notna()).to_numpy()
    year = reg["year"].to_numpy()
    mapping = _period_map(np.unique(year[usable]), periods, getattr(comp, "latest_non_missing", False))
    keep = usable & np.isin(year, list(mapping))
    rows = reg[["group", "person_id", "area_id", comp.column]][keep]
    y = (is_one_of(rows[comp.column], comp.values) if isinstance(comp, RegisterShare)
         else rows[comp.column].astype(float).to_numpy())
    keys = np.array(sorted(mapping))
    period = np.array([mapping[k] for k in keys])[np.searchsorted(keys, year[keep])]
    return _frame(rows["group"], period, y, 1.0, rows["person_id"], 1, rows["area_id"])


@pytest.mark.parametrize("periods", [None, (2021, 2024)])
def test_register_unit_frames_from_codes_equal_those_taken_as_text(prepared, params, periods):
    checked = 0
    for ind in params.indicators:
        if isinstance(ind.computation, PEOPLE_KINDS):
            expected = _register_units_from_text(prepared, ind, periods)
            pd.testing.assert_frame_equal(unit_frame(prepared, ind, periods), expected, check_exact=True)
            checked += 1
    assert checked >= 5


@pytest.mark.parametrize("dtype", ["string", "str", object])
def test_isin_values_is_pandas_isin(dtype):
    values = pd.Series(["a", None, "b", "c", "a", ""], dtype=dtype)
    for reference in (pd.Index(["a", "c"]), pd.Series(["a", None, "a"]), pd.Index([], dtype=object),
                      pd.Index([1, 2]), pd.Series(["", "b"], dtype="string")):
        expected = values.isin(pd.Series(reference).dropna()).to_numpy(dtype=bool) & values.notna().to_numpy()
        np.testing.assert_array_equal(isin_values(values, reference), expected)


def test_cpr_check_of_the_factorised_person_ids_finds_the_rows_of_the_plain_check(params):
    spec = input_contract(params)["register"]
    ids = ["P1", " 0101901234", "P2", "0101901234 ", "P1", "P3", None]
    raw = pd.DataFrame({"person_id": pd.array(ids, dtype="string"),
                        "year": pd.array([2020, 2020, 2020, 2021, 2021, 2021, 2021], dtype="Int64")})
    _, problems = _check_table(spec, raw, "register.parquet")
    [cpr] = [p for p in problems if "CPR" in p.message]
    plain = looks_like_cpr(raw["person_id"]).to_numpy()
    assert cpr.rows == tuple(np.flatnonzero(plain) + 1) == (2, 4) and cpr.column == "person_id"


@pytest.mark.parametrize("year_dtype", ["int64", "Int64"])
def test_key_check_by_marking_keys_finds_the_rows_of_the_text_rule(params, year_dtype):
    """Plain int64 years take the offset codes and the marking table; the rows listed are the text rule's."""
    spec = input_contract(params)["register"]
    rng = np.random.default_rng(7)
    ids = pd.array([f"P{i}" for i in rng.integers(0, 400, 3000)], dtype="string")
    years = rng.integers(2010, 2025, 3000)
    frame = pd.DataFrame({"person_id": ids, "year": pd.array(years, dtype=year_dtype)})
    expected = frame.duplicated(keep=False).to_numpy()
    assert expected.sum() > 10
    [problem] = _check_key(spec, frame, "register.parquet")
    assert problem.n_rows == expected.sum() and problem.rows == tuple(np.flatnonzero(expected)[:10] + 1)
    unique = frame[~frame.duplicated()].reset_index(drop=True)
    assert _check_key(spec, unique, "register.parquet") == []


def test_key_check_counts_ids_equal_once_stripped_as_the_same_person(params):
    """' P1' and 'P1' are one person once the text is cleaned: the codes of the delivered text must not be used."""
    spec = input_contract(params)["register"]
    raw = pd.DataFrame({"person_id": pd.array(["P1", " P1", "P2", "P3"], dtype="str"),
                        "year": np.array([2020, 2020, 2020, 2020])})
    _, problems = _check_table(spec, raw, "register.parquet")
    [duplicate] = [p for p in problems if "more than one row" in p.message]
    assert duplicate.rows == (1, 2)


def test_text_columns_are_checked_on_their_distinct_values_with_the_rows_of_each(params):
    """Allowed values, empties and stripping read from the factorised column give the row-wise answers."""
    spec = input_contract(params)["register"]
    sex = ["male", " female", "X", None, "", "male", "X"]
    raw = pd.DataFrame({"person_id": pd.array([f"P{i}" for i in range(7)], dtype="str"),
                        "year": np.full(7, 2020), "sex": pd.array(sex, dtype="str")})
    frame, problems = _check_table(spec, raw, "register.parquet")
    assert isinstance(frame["sex"].dtype, pd.CategoricalDtype) and frame["sex"].cat.categories.dtype == "string"
    assert frame["sex"].tolist()[:3] == ["male", "female", "X"] and frame["sex"].isna().tolist()[3:5] == [True, True]
    [outside] = [p for p in problems if p.column == "sex" and "not one of" in p.message]
    [empty] = [p for p in problems if p.column == "sex" and "empty cells" in p.message]
    assert outside.rows == (3, 7) and empty.rows == (4, 5)


def test_few_values_in_a_large_arrow_set_are_looked_up_as_pandas_would(params):
    reference = pd.Index(pd.array([f"P{i:07d}" for i in range(50_000)] + [None], dtype="string"))
    values = pd.Series(["P0000001", "Q", None, "P0049999", "P0000001", ""], dtype="str")
    expected = values.isin(reference.dropna()).to_numpy(dtype=bool) & values.notna().to_numpy()
    np.testing.assert_array_equal(isin_values(values, reference), expected)
    assert expected.tolist() == [True, False, False, True, True, False]


def test_text_read_in_parts_is_coded_as_pandas_factorises_it():
    """A partitioned register's text comes in parts; its codes and distinct values are pd.factorize's."""
    import pyarrow as pa

    from evaluering.data.convert import code_text

    parts = [["b", None, "a"], ["a", "c", None, "b"], [], ["d", "b"]]
    text = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([pa.array(p, pa.large_string()) for p in parts])))
    coded = code_text(text)
    codes, uniques = pd.factorize(text)
    np.testing.assert_array_equal(coded.codes, codes)
    assert coded.uniques.tolist() == uniques.tolist() == ["b", "a", "c", "d"]


def test_groups_spread_from_categorical_areas_are_those_looked_up_per_row(params, synthetic_dir):
    """prepare spreads the groups of the distinct areas by the categorical area codes: the same group
    of every row as looking up each row's area text, as a categorical with sorted categories."""
    from evaluering.data.validate import load_dataset
    from evaluering.indicators.prepare import _register_with_group, _with_group, group_of_area

    dataset = load_dataset(synthetic_dir, params)
    assert isinstance(dataset.register["area_id"].dtype, pd.CategoricalDtype)
    groups = group_of_area(dataset.areas)
    group = _register_with_group(dataset.register, groups)["group"]
    as_text = dataset.register.assign(area_id=dataset.register["area_id"].astype("string"))
    expected = _with_group(as_text, groups)["group"]
    assert isinstance(group.dtype, pd.CategoricalDtype) and group.cat.categories.is_monotonic_increasing
    assert group.astype(str).tolist() == expected.astype(str).tolist()
    assert _register_with_group(as_text, groups)["group"].astype(str).tolist() == expected.astype(str).tolist()
