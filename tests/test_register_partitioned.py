"""A register delivered as a directory of Parquet files partitioned by year (``register/year=2024/
part-0.parquet``, as a national register is) reads, validates and is fingerprinted exactly like
the same register in one file."""

from __future__ import annotations

import shutil

import pandas as pd
import pyarrow.parquet as pq
import pytest

from evaluering.data.io import InputFileError, find_table_file
from evaluering.data.validate import load_dataset, validate_directory
from evaluering.hashing import data_hash


@pytest.fixture(scope="module")
def partitioned_dir(synthetic_dir, tmp_path_factory):
    """The bundled delivery with its register split into one Parquet file per year."""
    root = tmp_path_factory.mktemp("partitioned")
    for path in synthetic_dir.iterdir():
        if path.name != "register.parquet" and path.is_file():
            shutil.copy(path, root / path.name)
    pq.write_to_dataset(pq.read_table(synthetic_dir / "register.parquet"), root / "register", partition_cols=["year"])
    return root


def _sorted(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.sort_values(["year", "person_id"]).reset_index(drop=True)


def test_a_partitioned_register_loads_as_the_single_file(params, synthetic_dir, partitioned_dir):
    single = load_dataset(synthetic_dir, params)
    split = load_dataset(partitioned_dir, params)
    pd.testing.assert_frame_equal(_sorted(split.register), _sorted(single.register))
    for name in ("areas", "survey", "institutions", "visitors"):
        pd.testing.assert_frame_equal(split.table(name), single.table(name))


def test_a_partitioned_register_validates_and_is_fingerprinted_part_by_part(params, partitioned_dir, tmp_path):
    assert validate_directory(partitioned_dir, params).ok
    copy = tmp_path / "copy"
    shutil.copytree(partitioned_dir, copy)
    assert data_hash(copy) == data_hash(partitioned_dir)
    part = sorted((copy / "register").rglob("*.parquet"))[-1]
    table = pq.read_table(part)
    pq.write_table(table.slice(0, table.num_rows - 1), part)  # one person-year fewer in the last year
    assert data_hash(copy) != data_hash(partitioned_dir)


def test_parts_that_keep_their_year_column_load_the_same(params, synthetic_dir, tmp_path):
    """Some tools write the partition column into the files too: the register is the same."""
    root = tmp_path / "kept"
    shutil.copytree(synthetic_dir, root, ignore=shutil.ignore_patterns("register.parquet"))
    register = pq.read_table(synthetic_dir / "register.parquet").to_pandas()
    for year, part in register.groupby("year"):
        (root / "register" / f"year={year}").mkdir(parents=True)
        part.to_parquet(root / "register" / f"year={year}" / "part-0.parquet", index=False)
    pd.testing.assert_frame_equal(_sorted(load_dataset(root, params).register),
                                  _sorted(load_dataset(synthetic_dir, params).register))


def test_register_in_two_forms_or_an_empty_register_folder_is_refused(partitioned_dir, synthetic_dir, tmp_path):
    both = tmp_path / "both"
    shutil.copytree(partitioned_dir, both)
    shutil.copy(synthetic_dir / "register.parquet", both / "register.parquet")
    with pytest.raises(InputFileError, match="two files for table 'register'"):
        find_table_file(both, "register")
    empty = tmp_path / "empty"
    (empty / "register").mkdir(parents=True)
    with pytest.raises(InputFileError, match="holds no Parquet files"):
        find_table_file(empty, "register")


def test_a_broken_part_is_named(partitioned_dir, tmp_path, params):
    broken = tmp_path / "broken"
    shutil.copytree(partitioned_dir, broken)
    sorted((broken / "register").rglob("*.parquet"))[0].write_bytes(b"not parquet")
    report = validate_directory(broken, params)
    assert not report.ok and "register/" in report.to_text() and "cannot be read as Parquet" in report.to_text()


def test_the_identifier_scan_reads_the_parts(params, synthetic_dir, partitioned_dir):
    """Reports are scanned for every input id: the parts' ids must be found as the file's are."""
    from evaluering.report.scan import data_identifiers

    assert data_identifiers(partitioned_dir, params) == data_identifiers(synthetic_dir, params)


def test_a_part_filed_under_the_wrong_year_is_named(params, synthetic_dir, tmp_path):
    root = tmp_path / "misfiled"
    shutil.copytree(synthetic_dir, root, ignore=shutil.ignore_patterns("register.parquet"))
    register = pq.read_table(synthetic_dir / "register.parquet").to_pandas()
    for year, part in register.groupby("year"):
        folder = root / "register" / f"year={year - 1 if year == 2024 else year}"  # 2024 filed as 2023 too
        folder.mkdir(parents=True, exist_ok=True)
        part.to_parquet(folder / f"part-{year}.parquet", index=False)
    report = validate_directory(root, params)
    assert not report.ok and "year=2023/part-2024.parquet" in report.to_text()
    assert "is filed under year=2023 but its year column holds 2024" in report.to_text()
