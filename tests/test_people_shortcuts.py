"""The people estimate's shortcuts give what the general code gives, bit for bit: the baseline cohort
with only some columns, unit weights in the two-way fixed effects, the outcome demeaned once, the
clusters of a panel clustered by unit, and plain numpy columns as floats.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluering.columns import as_float
from evaluering.did.panel import baseline_cohort, load_panel, panel_did
from evaluering.numerics import demean_within, twfe, within_unit_share


def _register(seed: int = 3, persons: int = 400, categorical: bool = True) -> pd.DataFrame:
    """Persons over six years, moving between two districts, the rest and no group (missing)."""
    rng = np.random.default_rng(seed)
    person = np.repeat(rng.permutation(persons) * 7 + 5, 6)  # unsorted, sparse codes
    year = np.tile(np.arange(2019, 2025), persons)
    group = rng.choice(np.array(["a", "b", "rest", None], dtype=object), len(person), p=[0.2, 0.2, 0.5, 0.1])
    frame = pd.DataFrame({"person_id": person, "year": year, "age": rng.integers(0, 90, len(person)),
                          "group": pd.Categorical(group, categories=["a", "b", "rest"]) if categorical else group,
                          "y": rng.normal(size=len(person)), "z": rng.integers(0, 2, len(person)).astype(bool)})
    return frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)


@pytest.mark.parametrize("categorical", [True, False])
@pytest.mark.parametrize("district", ["a", None])
def test_a_cohort_with_some_columns_is_the_whole_cohort_cut_down(categorical, district):
    register = _register(categorical=categorical)
    whole = baseline_cohort(register, 2021, district=district, comparison="rest")
    wanted = ["y", "baseline_age", "treated"]
    cut = baseline_cohort(register, 2021, district=district, comparison="rest", columns=wanted)
    assert list(cut.columns) == ["person_id", "year", "y", "baseline_age", "treated"]
    pd.testing.assert_frame_equal(cut, whole[list(cut.columns)], check_exact=True)
    if district is not None:
        assert cut["treated"].dtype == bool and cut["treated"].any() and not cut["treated"].all()


def test_demeaning_with_unit_weights_is_the_weighted_formula():
    rng = np.random.default_rng(1)
    unit = rng.integers(0, 50, 2000)
    M = rng.normal(size=(2000, 3))
    ones = np.ones(2000)
    expected = M.copy(order="F")
    wsum = np.bincount(unit, weights=ones)
    for j in range(3):  # the general formula, product and all
        expected[:, j] -= (np.bincount(unit, weights=ones * expected[:, j]) / wsum)[unit]
    np.testing.assert_array_equal(demean_within(M.copy(order="F"), unit, ones), expected)
    weights = rng.uniform(0.5, 2.0, 2000)
    general = M.copy()
    wsum = np.bincount(unit, weights=weights)
    for j in range(3):
        general[:, j] -= (np.bincount(unit, weights=weights * general[:, j]) / wsum)[unit]
    np.testing.assert_array_equal(demean_within(M.copy(), unit, weights), general)


@pytest.mark.parametrize("weighted", [False, True])
def test_twfe_with_the_outcome_demeaned_once_is_the_same_fit(weighted):
    panel = _register(seed=8).dropna(subset=["group"]).sort_values(["person_id", "year"])
    panel["treated"] = panel.groupby("person_id")["group"].transform("first").astype(str) == "a"
    panel["w"] = np.random.default_rng(2).uniform(0.5, 2.0, len(panel)) if weighted else 1.0
    panel["w"] = panel.groupby("person_id")["w"].transform("first")
    data = load_panel(panel, "y", "person_id", "year", "treated", weights="w")
    post = (data["treated"] & (data["time"] >= 2022)).astype(float)[:, None]
    plain = twfe(data, post, ["treated_post"])
    within = data["y"] - (np.bincount(data["unit"], weights=data["w"] * data["y"])
                          / np.bincount(data["unit"], weights=data["w"]))[data["unit"]]
    given = twfe(data, post, ["treated_post"], y_within=within)
    np.testing.assert_array_equal(given.coef, plain.coef)
    np.testing.assert_array_equal(given.cov, plain.cov)
    assert within_unit_share(data["y"], data["unit"], data["w"], within=within) == \
        within_unit_share(data["y"], data["unit"], data["w"])
    result = panel_did(panel, "y", "person_id", "year", "treated", 2022, weights="w")
    assert result.estimate == pytest.approx(float(plain.coef[0]), abs=1e-12)


def test_a_panel_clustered_by_unit_numbers_clusters_as_units():
    panel = _register(seed=5).dropna(subset=["group"])
    panel["treated"] = panel.groupby("person_id")["group"].transform("first").astype(str) == "a"
    panel.loc[panel.index[:40], "y"] = np.nan  # dropped rows, and persons left with one row
    data = load_panel(panel, "y", "person_id", "year", "treated")
    np.testing.assert_array_equal(data["cluster"], pd.factorize(panel["person_id"].to_numpy()[panel["y"].notna()
                                                                 .to_numpy() & _seen_twice(panel)])[0])
    np.testing.assert_array_equal(data["unit"], data["cluster"])
    by_column = load_panel(panel.assign(c=panel["person_id"]), "y", "person_id", "year", "treated", cluster="c")
    np.testing.assert_array_equal(by_column["cluster"], data["cluster"])


def _seen_twice(panel: pd.DataFrame) -> np.ndarray:
    usable = panel["y"].notna()
    return (usable.groupby(panel["person_id"]).transform("sum") > 1).to_numpy()


@pytest.mark.parametrize("values", [
    np.array([1.5, np.nan, -0.0, 3.0]), np.array([1, -2, 3], dtype=np.int64), np.array([True, False]),
    np.array([2**63, 1], dtype=np.uint64), np.array([1.25, np.nan], dtype=np.float32)])
def test_plain_numpy_columns_become_the_same_floats(values):
    column = pd.Series(values)
    expected = column.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    got = as_float(column, "x")
    np.testing.assert_array_equal(got, expected)
    assert got.dtype == np.float64 and not np.shares_memory(got, values)
