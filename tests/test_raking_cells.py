"""The raking population counted per cell gives the margins and weights of the population counted per person.

``prepare`` hands the survey weighting the register's adults as cells (stratum, age, sex, origin
with a number of persons) instead of millions of person rows (issue 15). The margins must be the
very numbers, in the very order, that ``value_counts`` over the persons' labels gives, so the raked
weights are bit-identical; the register lookups of ``prepare`` must find the rows the plain
lookups find.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluering.indicators.prepare import _adults, _rows_of, _with_group, group_of_area
from evaluering.survey.nonresponse import age_band
from evaluering.survey.waves import (
    MARGIN_NAMES,
    PERSONS,
    RAKING_LEVELS,
    _margin_labels,
    population_cells,
    raking_margins,
    wave_weighting,
)

STRATA = ("comparison", "lille", "stor")


def _wave(seed: int, n_small: int = 40) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A population of persons (a tiny stratum 'lille', so levels degrade) and a sample drawn from it,
    with a few sampled persons of unknown origin (no register row)."""
    rng = np.random.default_rng(seed)

    def people(n, stratum):
        return pd.DataFrame({"stratum": stratum, "age": rng.integers(18, 95, n),
                             "sex": rng.choice(["female", "male"], n),
                             "origin": rng.choice(["danish", "western", "non_western"], n, p=[0.8, 0.05, 0.15])})

    population = pd.concat([people(6000, "comparison"), people(n_small, "lille"), people(3000, "stor")],
                           ignore_index=True).sample(frac=1.0, random_state=seed).reset_index(drop=True)
    population["age_band"] = age_band(population["age"])
    sample = population.groupby("stratum", group_keys=False).sample(frac=0.3, random_state=seed).reset_index(drop=True)
    sample.loc[sample.index[:3], ["age_band", "sex", "origin"]] = "unknown"
    sample["design_weight"] = np.where(sample["stratum"] == "comparison", 10 / 3, 1.0)
    sample["responded"] = rng.random(len(sample)) < 0.45
    return sample, population


def _value_counts_margins(population: pd.DataFrame, sample: pd.DataFrame, levels: dict) -> dict:
    """The margins as they were counted before cells: ``value_counts`` of every person's label."""
    margins = {}
    for margin, name in enumerate(MARGIN_NAMES):
        labels = _margin_labels(sample, levels, margin)
        counts = _margin_labels(population, levels, margin).value_counts().astype(float).to_dict()
        for category in set(labels) - set(counts):
            counts[category] = float(sample.loc[labels == category, "nonresponse_weight"].sum())
        margins[name] = counts
    return margins


def test_cells_count_the_persons_of_each_combination_in_order_of_first_appearance():
    population = pd.DataFrame({"stratum": ["b", "a", "b", "a", "b", None],
                               "age_band": ["x", "y", "x", "y", "z", "x"],
                               "sex": pd.array(["f", "m", "f", pd.NA, "f", "f"], dtype="str"),
                               "origin": ["d", "d", "d", "d", "d", "d"]})
    cells = population_cells(population)
    assert cells["stratum"].tolist()[:4] == ["b", "a", "a", "b"] and pd.isna(cells["stratum"].iloc[4])
    assert cells["age_band"].tolist() == ["x", "y", "y", "z", "x"]
    assert cells[PERSONS].tolist() == [2.0, 1.0, 1.0, 1.0, 1.0]
    assert cells["sex"].isna().tolist() == [False, False, True, False, False]  # a missing value is a cell of its own
    assert cells["sex"].dtype == population["sex"].dtype
    # cells of cells: the counts add up, the order stays; cells of no persons are dropped
    again = population_cells(pd.concat([cells, cells.assign(**{PERSONS: 0.0})], ignore_index=True))
    pd.testing.assert_frame_equal(again, cells)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_margins_of_cells_are_the_persons_value_counts_in_the_same_order(seed):
    sample, population = _wave(seed)
    sample = sample.assign(nonresponse_weight=np.where(sample["responded"], sample["design_weight"] * 2, 0.0))
    fine = population_cells(population, ("stratum", "age", "age_band", "sex", "origin"))
    assert fine[PERSONS].sum() == len(population) and len(fine) < len(population) / 10
    for levels in ({}, {"lille": 1}, {"lille": 2, "stor": 1}, {"lille": 3}):
        expected = _value_counts_margins(population, sample, levels)
        for given in (population, fine, population_cells(population)):
            _, margins = raking_margins(given, sample, levels)
            assert list(margins) == list(expected)
            for name in margins:  # same keys in the same order, the very same numbers
                assert list(margins[name].items()) == list(expected[name].items())
    # the degraded levels have coarser margins, with the unknown origin carried along
    _, margins = raking_margins(fine, sample, {"lille": 3})
    assert "lille" in margins["margin:1"] and "lille" in margins["margin:2"]
    assert any(k.endswith("/unknown") for k in margins["margin:2"])


@pytest.mark.parametrize("n_small", [12, 40, 400])
def test_wave_weighting_from_cells_is_bit_identical_to_weighting_from_persons(n_small):
    sample, population = _wave(7, n_small)
    by_person = wave_weighting(sample, population, wave=2024, names={"lille": "Lille"})
    # cells of single ages, in the order in which they first appear among the persons
    fine = population_cells(population, ("stratum", "age", "age_band", "sex", "origin"))
    by_cell = wave_weighting(sample, fine, wave=2024, names={"lille": "Lille"})
    assert by_person.levels == by_cell.levels and by_person.notes == by_cell.notes
    np.testing.assert_array_equal(by_person.design.weights.to_numpy(), by_cell.design.weights.to_numpy())
    assert [s.margins for s in by_person.design.steps[1:]] == [s.margins for s in by_cell.design.steps[1:]]
    assert [list(m) for s in by_cell.design.steps[1:] for m in s.margins.values()] == \
        [list(m) for s in by_person.design.steps[1:] for m in s.margins.values()]
    np.testing.assert_array_equal(by_person.design.leverage.to_numpy(), by_cell.design.leverage.to_numpy())
    if n_small == 12:
        assert by_cell.levels["lille"] > 0  # the test covers degraded strata
    # raked to the register's adults: each stratum's weights of known persons add up to its persons
    w, data = by_cell.design.weights.to_numpy(), by_cell.design.data
    for stratum in by_cell.levels:
        rows = ((data["stratum"] == stratum) & (data["origin"] != "unknown")).to_numpy()
        assert w[rows].sum() == pytest.approx((population["stratum"] == stratum).sum(), rel=1e-9)
    assert len(RAKING_LEVELS) == 4


def test_adults_cells_are_the_cells_of_the_adult_rows(prepared):
    register, youngest = prepared.register, prepared.youngest
    for wave in prepared.designs:
        adults = register[(register["year"] == wave) & (register["age"] >= youngest)]
        persons = adults.assign(stratum=adults["group"], age_band=age_band(adults["age"], youngest))
        expected = population_cells(persons)
        got = population_cells(_adults(register, wave, youngest))
        pd.testing.assert_frame_equal(got, expected, check_exact=True)
        assert got[PERSONS].sum() == len(adults)


def test_register_lookups_find_the_rows_of_the_plain_lookups(prepared):
    dataset = prepared.dataset
    groups = group_of_area(dataset.areas)
    register = _with_group(dataset.register, groups)
    prepared_group = prepared.register["group"]
    assert isinstance(prepared_group.dtype, pd.CategoricalDtype)  # spread from the categorical areas
    pd.testing.assert_frame_equal(register, prepared.register.assign(group=prepared_group.astype(str)))
    # the area lookup by Arrow and by factorising object ids give the same group column
    as_objects = dataset.register[["area_id"]].astype({"area_id": object})
    pd.testing.assert_series_equal(_with_group(as_objects, groups)["group"], register["group"])
    codes = dataset.person_codes.of(dataset.register, "person_id") if dataset.person_codes else None
    for persons, years in ((dataset.survey["person_id"], dataset.survey["wave"]),
                           (dataset.institutions["person_id"], dataset.institutions["year"])):
        columns = ["person_id", "year", "group", "age"]
        plain = register.loc[register["year"].isin(years.unique()) & register["person_id"].isin(persons.unique()),
                             columns]
        assert len(plain) > 0
        pd.testing.assert_frame_equal(_rows_of(register, persons, years, columns), plain)
        if codes is not None:
            pd.testing.assert_frame_equal(_rows_of(register, persons, years, columns, codes), plain)


def test_year_mask_is_none_only_when_every_row_is_in_the_years():
    from evaluering.indicators.prepare import _in_years

    year = np.array([2020, 2022, 2021, 2022])
    assert _in_years(year, [2020, 2021, 2022, 2030]) is None
    np.testing.assert_array_equal(_in_years(year, [2022, 2022.5]), [False, True, False, True])
    np.testing.assert_array_equal(_in_years(year, [2020, 2022]), [True, True, False, True])
    np.testing.assert_array_equal(_in_years(year.astype(float), [2021]), [False, False, True, False])
