"""Finding and reading table files: formats, Danish CSV, and clear errors for bad files."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyreadstat
import pytest

from evaluering.data.io import InputFileError, find_table_file, read_raw


def test_find_table_file(tmp_path: Path) -> None:
    assert find_table_file(tmp_path, "areas") is None
    (tmp_path / "areas.csv").write_text("area_id\n0101\n", encoding="utf-8")
    (tmp_path / "areas_old.csv").write_text("area_id\n", encoding="utf-8")
    assert find_table_file(tmp_path, "areas") == tmp_path / "areas.csv"
    (tmp_path / "register.CSV").write_text("person_id\n", encoding="utf-8")
    assert find_table_file(tmp_path, "register") == tmp_path / "register.CSV"


def test_two_formats_of_one_table_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "survey.csv").write_text("a\n", encoding="utf-8")
    (tmp_path / "survey.sav").write_bytes(b"")
    with pytest.raises(InputFileError, match=r"survey.csv and survey.sav: two files for table 'survey'"):
        find_table_file(tmp_path, "survey")


def test_csv_is_read_as_text_keeping_leading_zeros(tmp_path: Path) -> None:
    path = tmp_path / "areas.csv"
    path.write_text("area_id,count,name\n0101,7,Mørkhøj\n0020,,  \n", encoding="utf-8")
    frame = read_raw(path)
    assert frame["area_id"].tolist() == ["0101", "0020"]
    assert frame["count"].iloc[0] == "7" and pd.isna(frame["count"].iloc[1])
    assert frame["name"].iloc[0] == "Mørkhøj"
    assert frame.attrs["decimal"] == "."


def test_danish_excel_csv_is_recognised(tmp_path: Path) -> None:
    path = tmp_path / "survey.csv"
    path.write_bytes("\ufeffperson_id;design_weight;responded\nP1;10,5;ja\n".encode("utf-8"))
    frame = read_raw(path)
    assert list(frame.columns) == ["person_id", "design_weight", "responded"]  # BOM removed
    assert frame.iloc[0].tolist() == ["P1", "10,5", "ja"]
    assert frame.attrs["decimal"] == ","


def test_parquet_keeps_stored_types_and_index_columns(tmp_path: Path) -> None:
    path = tmp_path / "areas.parquet"
    pd.DataFrame({"area_id": ["0101"], "n": [3]}).set_index("area_id").to_parquet(path)
    frame = read_raw(path)
    assert list(frame.columns) == ["area_id", "n"]
    assert frame["n"].dtype == "int64"
    assert isinstance(frame.index, pd.RangeIndex)


def test_sav_gives_codes_not_labels(tmp_path: Path) -> None:
    path = tmp_path / "survey.sav"
    frame = pd.DataFrame({"person_id": ["P1", "P2"], "q_health": [5.0, 1.0]})
    pyreadstat.write_sav(frame, str(path), variable_value_labels={"q_health": {1.0: "Dårligt", 5.0: "Godt"}})
    read = read_raw(path)
    assert read["q_health"].tolist() == [5.0, 1.0]
    assert read["person_id"].tolist() == ["P1", "P2"]


@pytest.mark.parametrize(("name", "content", "expected"), [
    ("areas.csv", "area_id,area_name\n0101,M\xf8rkh\xf8j\n".encode("latin-1"), "not UTF-8 text"),
    ("areas.csv", b"", "the file is empty"),
    ("areas.csv", b"a,b\n1,2\n1,2,3\n", "line 3 (data row 2) has 3 fields but the header has 2"),
    ("areas.csv", b'a,b\n"1,2\n', "cannot be read as a CSV file"),
    ("areas.parquet", b"PAR1 garbage", "cannot be read as a Parquet file"),
    ("areas.sav", b"garbage", "cannot be read as an SPSS file"),
])
def test_read_failures_name_the_file(tmp_path: Path, name: str, content: bytes, expected: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(InputFileError) as caught:
        read_raw(path)
    assert str(caught.value).startswith(f"{name}: ")
    assert expected in caught.value.reason
    assert caught.value.file == name


def test_parquet_nullable_bools_are_read_as_pandas_booleans_and_plain_ones_as_bool(tmp_path: Path) -> None:
    path = tmp_path / "register.parquet"
    voted = pd.array([True, None, False], dtype="boolean")
    pd.DataFrame({"voted": voted, "employed": [True, False, True]}).to_parquet(path)
    frame = read_raw(path)
    assert frame["voted"].dtype == "boolean" and frame["voted"].isna().tolist() == [False, True, False]
    assert frame["employed"].dtype == bool


def test_parquet_is_read_column_by_column_with_the_whole_file_s_columns(tmp_path: Path) -> None:
    """Column by column (a city's register is never held twice), also when a name comes twice."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "register.parquet"
    pq.write_table(pa.table({"person_id": ["P1", "P2"], "age": [30, 40], "voted": [True, None]}), path)
    frame = read_raw(path)
    assert list(frame.columns) == ["person_id", "age", "voted"] and frame["age"].tolist() == [30, 40]
    pq.write_table(pa.Table.from_arrays([pa.array([1, 2]), pa.array([3, 4])], names=["age", "age"]), path)
    assert list(read_raw(path).columns) == ["age", "age"]  # validation then names the column twice
