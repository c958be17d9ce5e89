"""The cheaper register unit frames and levels give what the general paths give, bit for bit.

Checked on planted registers and frames they were not designed for: years not sorted, missing
values, nullable and plain True/False columns, text categories in another order, values that
are not True/False, periods without rows, tiny and empty frames, persons other than 1 and
outcomes other than 0/1.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from evaluering.config import RegisterMean, RegisterShare
from evaluering.indicators import levels as levels_module
from evaluering.indicators.levels import weighted_levels
from evaluering.indicators.units import (
    _categorical_rows,
    _mapped,
    _outcome_rows,
    _period_map,
    _register_rows,
    _rows_of_periods,
    _year_blocks,
    is_one_of,
)
from evaluering.numerics.counting import distinct_integers

GROUPS = ["comparison", "d", "other"]


def _register(rng, n=4000, *, sorted_years=True, first_year=2012, last_year=2024) -> pd.DataFrame:
    """A small register: years (sorted or not), ages, True/False, nullable, float and text columns."""
    year = rng.integers(first_year, last_year + 1, n)
    if sorted_years:
        year = np.sort(year)
    voted = pd.array(rng.random(n) < 0.6, dtype="boolean")
    voted[(rng.random(n) < 0.4) | (year % 2 == 1)] = pd.NA  # odd years: no election, no value
    education = rng.choice(np.array(["vocational", "higher", "primary", "upper_secondary"]), n).astype(object)
    education[rng.random(n) < 0.05] = None
    absence = rng.random(n)
    absence[rng.random(n) < 0.3] = np.nan
    return pd.DataFrame({
        "year": year.astype(np.int64), "age": rng.integers(0, 90, n).astype(np.int64),
        "employed": rng.random(n) < 0.7, "voted": voted,
        "education": pd.Series(education, dtype="string"),
        "education_category": pd.Categorical(education, categories=["upper_secondary", "primary", "higher",
                                                                     "vocational"]),
        "absence": absence,
    })


def _data(register: pd.DataFrame, *, general: bool = False) -> SimpleNamespace:
    """What the unit frame builders use of prepared data; ``general``: as if the years were not sorted."""
    kept = {("year_blocks",): None} if general else {}
    return SimpleNamespace(register=register, _unit_frames=kept)


def _old_register_rows(reg: pd.DataFrame, comp, periods) -> tuple[np.ndarray, np.ndarray]:
    """The rows and periods as the committed code found them (every row's year taken)."""
    ages = reg["age"].to_numpy()
    usable = (ages >= comp.age[0]) & (ages <= comp.age[1]) & reg[comp.column].notna().to_numpy()
    rows = np.flatnonzero(usable)
    year = reg["year"].to_numpy()[rows]
    available = distinct_integers(year)
    mapping = _period_map(available, periods, getattr(comp, "latest_non_missing", False))
    if len(mapping) < len(available):
        kept = np.isin(year, np.array(list(mapping), dtype=np.int64))  # (the committed code failed when empty)
        rows, year = rows[kept], year[kept]
    return rows, _mapped(year, mapping)


COMPUTATIONS = [
    RegisterShare(kind="register_share", column="employed", values=[True], age=(30, 64)),
    RegisterShare(kind="register_share", column="employed", values=[False], age=(0, 200)),
    RegisterShare(kind="register_share", column="voted", values=[True], age=(18, 120), latest_non_missing=True),
    RegisterShare(kind="register_share", column="voted", values=[False, True], age=(18, 120)),
    RegisterShare(kind="register_share", column="education", values=["vocational", "higher"], age=(30, 64)),
    RegisterShare(kind="register_share", column="education_category", values=["higher"], age=(30, 64)),
    RegisterMean(kind="register_mean", column="absence", age=(6, 16)),
    RegisterMean(kind="register_mean", column="age", age=(95, 99)),  # no row in the band
]


@pytest.mark.parametrize("comp", COMPUTATIONS, ids=lambda c: f"{c.column}-{getattr(c, 'values', '')}")
@pytest.mark.parametrize("periods", [None, (2021, 2024), (2020, 2023), (2030,)])
def test_register_rows_of_a_year_sorted_register_are_those_of_the_general_path(comp, periods):
    reg = _register(np.random.default_rng(3))
    rows, period = _register_rows(_data(reg), comp, periods)
    assert _year_blocks(_data(reg)) is not None  # the sorted path was taken
    for expected_rows, expected_period in (_register_rows(_data(reg, general=True), comp, periods),
                                           _old_register_rows(reg, comp, periods)):
        np.testing.assert_array_equal(rows, expected_rows)
        np.testing.assert_array_equal(period, expected_period)
        assert period.dtype == expected_period.dtype == np.int64


def test_register_rows_of_an_unsorted_register_take_the_general_path():
    reg = _register(np.random.default_rng(4), sorted_years=False)
    assert _year_blocks(_data(reg)) is None
    comp = COMPUTATIONS[2]
    for periods in (None, (2021, 2024)):
        rows, period = _register_rows(_data(reg), comp, periods)
        expected_rows, expected_period = _old_register_rows(reg, comp, periods)
        np.testing.assert_array_equal(rows, expected_rows)
        np.testing.assert_array_equal(period, expected_period)


def test_register_rows_of_a_one_row_register():
    reg = _register(np.random.default_rng(5), n=1)
    reg["age"] = 40
    comp = COMPUTATIONS[0]
    rows, period = _register_rows(_data(reg), comp, None)
    np.testing.assert_array_equal(rows, [0])
    np.testing.assert_array_equal(period, reg["year"].to_numpy())


SHARE_VALUES = {"employed": [[True], [False], [True, False], [1], []],
                "voted": [[True], [False], [True, False], [1]],
                "education": [["vocational", "higher"], ["none"], ["primary"]],
                "education_category": [["vocational", "higher"], ["primary"]]}


@pytest.mark.parametrize("column,values", [(c, v) for c, vs in SHARE_VALUES.items() for v in vs])
def test_share_outcomes_looked_up_per_value_are_those_compared_per_row(column, values):
    reg = _register(np.random.default_rng(6))
    rows = np.random.default_rng(7).permutation(len(reg))[:1500]  # unsorted, with missing values among them
    comp = RegisterShare(kind="register_share", column=column, values=values, age=(0, 200))
    data = _data(reg)
    y = _outcome_rows(data, reg[column], rows, comp)
    if isinstance(reg[column].dtype, (pd.StringDtype, pd.CategoricalDtype)):
        expected = is_one_of(pd.Series(_categorical_rows(data, column, rows)), values)
    else:
        expected = is_one_of(reg[column].take(rows), values)
    assert y.dtype == expected.dtype == np.float64
    np.testing.assert_array_equal(y, expected)
    assert len(_outcome_rows(data, reg[column], rows[:0], comp)) == 0


def test_mean_outcomes_are_the_taken_values_as_floats():
    reg = _register(np.random.default_rng(8))
    rows = np.random.default_rng(9).permutation(len(reg))[:700]
    for column in ("absence", "age"):
        comp = RegisterMean(kind="register_mean", column=column, age=(0, 200))
        y = _outcome_rows(_data(reg), reg[column], rows, comp)
        expected = reg[column].take(rows).astype(float).to_numpy()
        assert y.dtype == np.float64
        np.testing.assert_array_equal(y, expected)


def _compact(rng, n, *, sorted_periods=True) -> pd.DataFrame:
    """A compact-like frame with one-value weight and persons columns, as the register's."""
    period = rng.integers(2018, 2025, n)
    if sorted_periods:
        period = np.sort(period)
    return pd.DataFrame({
        "group": pd.Categorical.from_codes(rng.integers(-1, len(GROUPS), n), categories=pd.Index(GROUPS, dtype="str")),
        "period": period.astype(np.int64), "y": rng.random(n),
        "weight": np.broadcast_to(np.float64(1.0), (n,)), "cluster": rng.integers(0, n + 1, n).astype(np.int32),
        "persons": np.broadcast_to(np.int64(1), (n,)),
        "area": pd.Categorical.from_codes(rng.integers(-1, 5, n), categories=pd.Index(list("abcde"), dtype="str")),
    }, copy=False)


@pytest.mark.parametrize("sorted_periods", [True, False])
@pytest.mark.parametrize("n", [0, 1, 7, 3000])
@pytest.mark.parametrize("periods", [(2021, 2024), (2018,), (2019, 2020, 2021), (2030,), ()])
def test_rows_of_periods_are_those_a_mask_selects(sorted_periods, n, periods):
    frame = _compact(np.random.default_rng(n), n, sorted_periods=sorted_periods)
    selected = _rows_of_periods(frame, periods)
    expected = frame[frame["period"].isin(list(periods))].reset_index(drop=True)
    pd.testing.assert_frame_equal(selected, expected, check_exact=True)
    if len(selected) > 1:  # one value seen every row stays so (no materialised column)
        assert selected["weight"].to_numpy().strides == (0,) and selected["persons"].to_numpy().strides == (0,)


def _text(frame: pd.DataFrame) -> pd.DataFrame:
    """The frame with text groups: weighted_levels' general path."""
    return frame.assign(group=frame["group"].astype(object))


@pytest.mark.parametrize("sorted_periods", [True, False])
@pytest.mark.parametrize("outcome", ["binary", "one_not_binary", "missing", "persons_not_one"])
def test_levels_of_one_person_rows_with_0_1_outcomes_equal_the_general_ones(sorted_periods, outcome, monkeypatch):
    rng = np.random.default_rng(12)
    n = 5000
    frame = _compact(rng, n, sorted_periods=sorted_periods)
    frame["cluster"] = rng.permutation(n).astype(np.int32)  # one row per cluster and cell
    frame["y"] = (rng.random(n) < 0.3).astype(float)
    if outcome == "one_not_binary":
        frame.loc[17, "y"] = 0.5
    elif outcome == "missing":
        frame.loc[23, "y"] = np.nan
    elif outcome == "persons_not_one":
        frame["persons"] = rng.integers(0, 3, n)
    expected = weighted_levels(_text(frame))
    counted_per_row = []
    original = levels_module.attribute_columns
    monkeypatch.setattr(levels_module, "attribute_columns", lambda u: counted_per_row.append(1) or original(u))
    got = weighted_levels(frame)
    pd.testing.assert_frame_equal(got, expected, check_exact=True)
    assert bool(counted_per_row) == (outcome != "binary")  # the counted path only where it must
    two = frame[frame["period"].isin([2021, 2024])]
    pd.testing.assert_frame_equal(weighted_levels(two), weighted_levels(_text(two)), check_exact=True)


def test_levels_of_a_one_row_frame_equal_the_general_ones():
    frame = _compact(np.random.default_rng(2), 1)
    frame["group"] = pd.Categorical(["d"], categories=pd.Index(GROUPS, dtype="str"))
    frame["y"] = 1.0
    pd.testing.assert_frame_equal(weighted_levels(frame), weighted_levels(_text(frame)), check_exact=True)
