"""The area trend monitoring from sufficient statistics: area x year cells and pairs of cells of the
persons counted at both ends of the window, in memory or straight from Parquet through DuckDB, give
the same levels and trends as the person-years."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from evaluering.monitoring import MonitoringError, monitor_areas, register_indicators
from evaluering.monitoring.trend_cells import (
    monitor_areas_from_parquet,
    monitoring_from_statistics,
    trend_statistics,
    trend_statistics_from_parquet,
)


@pytest.fixture(scope="module")
def expected(prepared):
    return monitor_areas(prepared)


@pytest.fixture(scope="module")
def register_file(prepared, tmp_path_factory):
    path = tmp_path_factory.mktemp("register") / "register.parquet"
    prepared.dataset.register.to_parquet(path)
    return path


@pytest.fixture(scope="module")
def partitioned(prepared, tmp_path_factory):
    """The register as a Hive-partitioned directory, one part per year (as a national delivery)."""
    root = tmp_path_factory.mktemp("partitioned")
    table = pa.Table.from_pandas(prepared.dataset.register, preserve_index=False)
    pq.write_to_dataset(table, root, partition_cols=["year"])
    return root


def _assert_same(got, expected):
    pd.testing.assert_frame_equal(got.levels, expected.levels, rtol=1e-9, check_dtype=False)
    pd.testing.assert_frame_equal(got.trends, expected.trends, rtol=1e-9, check_dtype=False)
    assert got.trends["flagged"].tolist() == expected.trends["flagged"].tolist()
    assert (got.years, got.alpha) == (expected.years, expected.alpha)


def test_cells_of_the_unit_frames_give_monitor_areas(prepared, params, expected):
    statistics = trend_statistics(prepared)
    assert [s.indicator.key for s in statistics] == [i.key for i in register_indicators(params)]
    group_of_area = prepared.register.groupby("area_id")["group"].first()
    got = monitoring_from_statistics(statistics, group_of_area, municipality=params.municipality.key,
                                     districts=[d.key for d in params.districts], years=expected.years)
    _assert_same(got, expected)
    assert got.trends["se"].notna().sum() > 100 and got.flagged().shape[0] == expected.flagged().shape[0]


def test_parquet_file_and_partitioned_directory_give_monitor_areas(prepared, params, expected, register_file,
                                                                   partitioned):
    for source in (register_file, partitioned):
        got = monitor_areas_from_parquet(source, prepared.dataset.areas, params, memory_limit="1GB", threads=1)
        _assert_same(got, expected)


def test_parquet_statistics_equal_the_in_memory_statistics(prepared, params, partitioned):
    for in_memory, on_disk in zip(trend_statistics(prepared, indicators=["arbejdsmarked", "skolefravaer"]),
                                  trend_statistics_from_parquet(partitioned, params,
                                                                indicators=["arbejdsmarked", "skolefravaer"]),
                                  strict=True):
        assert (on_disk.start, on_disk.end, on_disk.clusters) == (in_memory.start, in_memory.end, in_memory.clusters)
        pd.testing.assert_frame_equal(on_disk.cells, in_memory.cells.astype({"area": object}), check_dtype=False,
                                      rtol=1e-12)
        pd.testing.assert_frame_equal(on_disk.pairs, in_memory.pairs.astype({"area_start": object, "area_end": object}),
                                      check_dtype=False, rtol=1e-12)


def test_other_windows_and_a_subset_of_indicators(prepared, params, partitioned):
    options = {"years": 2, "end_year": 2022, "indicators": ["kriminalitet", "demokratisk-deltagelse"], "alpha": 0.1}
    got = monitor_areas_from_parquet(partitioned, prepared.dataset.areas, params, **options)
    _assert_same(got, monitor_areas(prepared, **options))


# --- a hand-made register -------------------------------------------------------------------------------

# (person, year, area, employed): area A is the district hoeje-gladsaxe, B the rest; p2 and p10 move
# A -> B, p3 B -> A; p5 is there only at the end, p6 only at the start; p9 is too old to count.
HAND_ROWS = [
    ("p1", 2021, "A", False), ("p1", 2024, "A", True),
    ("p2", 2021, "A", True), ("p2", 2024, "B", True),
    ("p3", 2021, "B", False), ("p3", 2024, "A", False),
    ("p4", 2021, "B", True), ("p4", 2024, "B", False),
    ("p5", 2024, "A", True),
    ("p6", 2021, "B", False),
    ("p7", 2021, "A", True), ("p7", 2024, "A", True),
    ("p8", 2021, "B", True), ("p8", 2024, "B", True),
    ("p9", 2024, "A", True),
    ("p10", 2021, "A", False), ("p10", 2024, "B", False),
]
HAND_AREAS = pd.DataFrame({"area_id": ["A", "B"], "district": ["hoeje-gladsaxe", None]})


def _hand_register() -> pd.DataFrame:
    rows = pd.DataFrame(HAND_ROWS, columns=["person_id", "year", "area_id", "employed"])
    return rows.assign(age=np.where(rows["person_id"] == "p9", 70, 40))


def _se_by_definition(rows: pd.DataFrame, inside: str) -> float:
    """Sum over persons of their rows' summed influence, squared, times G / (G - 1); a row's influence
    is sign * (y - mean) / n of its cell (inside/rest x 2024/2021)."""
    rows = rows[rows["age"] <= 64]
    influence: dict[str, float] = {}
    for (member, year), cell in rows.groupby([rows["area_id"] == inside, "year"]):
        sign = (1.0 if year == 2024 else -1.0) * (1.0 if member else -1.0)
        y = cell["employed"].astype(float)
        for person, value in zip(cell["person_id"], sign * (y - y.mean()) / len(y), strict=True):
            influence[person] = influence.get(person, 0.0) + value
    g = len(influence)
    return math.sqrt(g / (g - 1) * sum(v**2 for v in influence.values()))


def test_a_hand_made_register_gives_its_hand_computed_se(params, tmp_path):
    rows = _hand_register()
    rows.to_parquet(tmp_path / "register.parquet")
    (stats,) = trend_statistics_from_parquet(tmp_path / "register.parquet", params, years=3,
                                             indicators=["arbejdsmarked"])
    assert (stats.start, stats.end, stats.clusters) == (2021, 2024, 9)
    pairs = stats.pairs.set_index(["area_start", "area_end"])["n"].to_dict()
    assert pairs == {("A", "A"): 2, ("A", "B"): 2, ("B", "A"): 1, ("B", "B"): 2}

    got = monitor_areas_from_parquet(tmp_path / "register.parquet", HAND_AREAS, params, years=3,
                                     indicators=["arbejdsmarked"])
    trends = got.trends.set_index(["level", "unit"])
    area = trends.loc[("area", "A")]
    # A: 2 of 4 employed in 2021, 3 of 4 in 2024; the rest (B): 2 of 4 in both years
    assert (area["change"], area["rest_change"], area["difference"]) == (0.25, 0.0, 0.25)
    # worked out by hand: influences per person 3/16, -1/4, -5/16, 1/4, 1/16, -1/8, -1/16, 0, 1/4
    assert area["se"] == pytest.approx(math.sqrt(99) / 16, rel=1e-12)
    assert area["se"] == pytest.approx(_se_by_definition(rows, "A"), rel=1e-12)
    assert trends.loc[("area", "B"), "se"] == pytest.approx(_se_by_definition(rows, "B"), rel=1e-12)
    assert trends.loc[("district", "hoeje-gladsaxe"), "se"] == pytest.approx(area["se"], rel=1e-12)
    assert area["between_area_sd"] == 0.0 and area["se_total"] == area["se"]  # two areas: no tau^2
    assert math.isnan(trends.loc[("municipality", "gladsaxe"), "se"])
    levels = got.levels.set_index(["level", "unit", "year"])
    # 3 of 4: se sqrt(p (1 - p) / (n - 1)); the fewest of 4 persons, 3 with and 1 without
    assert levels.loc[("area", "A", 2024), ["value", "se", "persons", "disclosure"]].tolist() == pytest.approx(
        [0.75, 0.25, 4, 1])
    assert levels.loc[("municipality", "gladsaxe", 2024), "persons"] == 8


def test_a_mean_skips_nan_and_null_and_persons_out_of_the_age_band(params, tmp_path):
    absence = pa.array([0.1, np.nan, None, 0.3, 0.5, 0.2], type=pa.float64(), from_pandas=False)
    table = pa.table({"person_id": ["a", "b", "c", "d", "a", "d"], "year": [2021, 2021, 2021, 2021, 2024, 2024],
                      "area_id": ["A", "A", "A", "B", "A", "B"], "age": [10, 10, 10, 17, 13, 12],
                      "school_absence": absence})
    assert _nan_is_kept(table)
    pq.write_table(table, tmp_path / "register.parquet")
    got = monitor_areas_from_parquet(tmp_path / "register.parquet", HAND_AREAS, params, years=3,
                                     indicators=["skolefravaer"])
    levels = got.levels.set_index(["level", "unit", "year"])
    assert levels.loc[("area", "A", 2021), ["value", "persons"]].tolist() == [0.1, 1]
    assert ("area", "B", 2021) not in levels.index  # d is 17 in 2021: outside 6-16
    assert levels.loc[("municipality", "gladsaxe", 2024), ["value", "persons"]].tolist() == pytest.approx([0.35, 2])


def _nan_is_kept(table: pa.Table) -> bool:
    """The Parquet file really holds a NaN next to a null (not two nulls)."""
    column = table.column("school_absence")
    return column.null_count == 1 and any(isinstance(v, float) and math.isnan(v) for v in column.to_pylist())


def test_bad_registers_are_refused_with_the_file_and_column(params, tmp_path):
    rows = _hand_register()
    pd.concat([rows, rows.head(1)]).to_parquet(tmp_path / "twice.parquet")
    with pytest.raises(MonitoringError, match=r"twice.parquet.*1 person\(s\) counted more than once in 2021"):
        trend_statistics_from_parquet(tmp_path / "twice.parquet", params, indicators=["arbejdsmarked"])
    rows.drop(columns="employed").to_parquet(tmp_path / "short.parquet")
    with pytest.raises(MonitoringError, match="short.parquet: register lacks column.*'employed'"):
        trend_statistics_from_parquet(tmp_path / "short.parquet", params, indicators=["arbejdsmarked"])
    rows.assign(area_id=rows["area_id"].where(rows.index != 3)).to_parquet(tmp_path / "empty.parquet")
    with pytest.raises(MonitoringError, match="'area_id' has 1 empty value"):
        trend_statistics_from_parquet(tmp_path / "empty.parquet", params, indicators=["arbejdsmarked"])
    rows.to_parquet(tmp_path / "register.parquet")
    with pytest.raises(MonitoringError, match="'B' of the register are not in the areas table"):
        monitor_areas_from_parquet(tmp_path / "register.parquet", HAND_AREAS.head(1), params,
                                   indicators=["arbejdsmarked"])
    with pytest.raises(MonitoringError, match="not a register share or mean"):
        monitor_areas_from_parquet(tmp_path / "register.parquet", HAND_AREAS, params, indicators=["fysisk-tryghed"])
    with pytest.raises(MonitoringError, match="no register there"):
        trend_statistics_from_parquet(tmp_path / "missing", params)
