"""The statutory criteria from cells: the register reduced to area x year counts and sums, in
memory or straight from Parquet through DuckDB, gives the same criteria as the person rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from evaluering.monitoring import MonitoringError, statutory_criteria, statutory_criteria_from_parquet
from evaluering.monitoring.criteria import _prepared, criteria_from_cells
from evaluering.monitoring.criteria_cells import aggregate_cells, cells_from_frame, cells_from_parquet


@pytest.fixture(scope="module")
def register(prepared):
    return prepared.dataset.register


@pytest.fixture(scope="module")
def partitioned(register, tmp_path_factory):
    """The register as a Hive-partitioned directory, one part per year (as a national delivery)."""
    root = tmp_path_factory.mktemp("register")
    pq.write_to_dataset(pa.Table.from_pandas(register, preserve_index=False), root, partition_cols=["year"])
    return root


def _settings(prepared):
    s = prepared.params.monitoring
    return {"national_conviction_rate": s.national_conviction_rate, "regional_income": s.regional_income,
            "min_residents": s.min_residents}


def test_parquet_cells_equal_the_in_memory_cells(register, partitioned, tmp_path):
    expected = cells_from_frame(_prepared(register, None))
    register.to_parquet(tmp_path / "register.parquet")
    for source in (tmp_path / "register.parquet", partitioned):
        cells = cells_from_parquet(source)
        pd.testing.assert_frame_equal(cells[expected.columns], expected, check_dtype=False, rtol=1e-12)


def test_criteria_from_parquet_cells_equal_the_statutory_criteria(prepared, partitioned):
    cells = cells_from_parquet(partitioned)
    for year in (2021, 2024):
        expected = statutory_criteria(prepared, year).drop(columns="district")
        got = criteria_from_cells(cells, year, **_settings(prepared))
        pd.testing.assert_frame_equal(got, expected, rtol=1e-12)
    pd.testing.assert_frame_equal(statutory_criteria_from_parquet(partitioned, prepared.params, 2024),
                                  statutory_criteria(prepared, 2024).drop(columns="district"), rtol=1e-12)
    districts = aggregate_cells(cells, prepared.dataset.district_of_area.dropna())
    pd.testing.assert_frame_equal(criteria_from_cells(districts, 2024, **_settings(prepared)),
                                  statutory_criteria(prepared, 2024, by="district"), rtol=1e-12)


def test_parquet_cells_refuse_empty_flags_and_missing_columns(register, tmp_path):
    broken = register.head(500).copy()
    broken["employed"] = broken["employed"].astype(object)
    broken.loc[broken.index[3], "employed"] = None
    broken.to_parquet(tmp_path / "register.parquet")
    with pytest.raises(MonitoringError, match="'employed' has 1 empty value"):
        cells_from_parquet(tmp_path / "register.parquet")
    register.head(50).drop(columns="convicted").to_parquet(tmp_path / "short.parquet")
    with pytest.raises(MonitoringError, match="lacks column.*'convicted'"):
        cells_from_parquet(tmp_path / "short.parquet")


def test_a_hand_made_register_gives_its_hand_counted_cells(tmp_path):
    """Two areas, one year: the cells by hand (ages at the groups' edges, an unknown education, a
    student with income, a missing income)."""
    rows = pd.DataFrame({
        "person_id": [f"p{i}" for i in range(6)], "year": 2024, "area_id": ["A", "A", "A", "B", "B", "B"],
        "age": [18, 64, 30, 15, 65, 59], "education": ["primary", None, "higher", "primary", "primary", "primary"],
        "in_education": [False, True, False, True, False, False], "employed": [False, False, True, False, False, True],
        "income": [100.0, 50.0, 300.0, 20.0, np.nan, 200.0], "convicted": [True, False, False, False, True, False],
        "origin": ["non_western", "danish", "danish", "non_western", "non_western", "western"],
    })
    rows.to_parquet(tmp_path / "register.parquet")
    cells = cells_from_parquet(tmp_path / "register.parquet").set_index("area")
    assert cells.loc["A", ["residents", "persons_18_64", "outside_18_64", "persons_15_plus", "convicted_15_plus",
                          "persons_30_59", "primary_30_59", "persons_income", "non_western"]].tolist() == [
        3, 3, 1, 3, 1, 1, 0, 2, 1]
    assert cells.loc["A", "income_sum"] == 400.0  # the student's 50 is left out
    assert cells.loc["B", ["persons_18_64", "outside_18_64", "persons_15_plus", "persons_30_59", "persons_income",
                          "non_western"]].tolist() == [1, 0, 3, 1, 1, 2]
    assert cells.loc["B", "income_sum"] == 200.0  # 15-year-old student out, 65-year-old out of age
    pd.testing.assert_frame_equal(cells.reset_index()[cells_from_frame(_prepared(rows, None)).columns],
                                  cells_from_frame(_prepared(rows, None)), check_dtype=False)


def test_a_column_duckdb_cannot_read_as_the_contract_says_is_named(register, tmp_path):
    """Another municipality's Parquet with yes/no text in a flag column: a MonitoringError naming the
    register, not DuckDB's own exception."""
    odd = register.head(200).assign(employed=lambda f: np.where(f["employed"], "ja", "nej"))
    odd.to_parquet(tmp_path / "register.parquet")
    with pytest.raises(MonitoringError, match="register.parquet: cannot be read as a register"):
        cells_from_parquet(tmp_path / "register.parquet")
