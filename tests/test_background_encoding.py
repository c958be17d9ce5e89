"""A long text column's encoding started in the background while the table is read: the same
encoding and codes as computed when asked for, taken once, forgotten with its column.
"""

from __future__ import annotations

import gc

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from evaluering.data import background_encoding
from evaluering.data.convert import code_text
from evaluering.data.io import read_raw


@pytest.fixture
def eager(monkeypatch):
    """Every text column in parts is encoded in the background, on any machine."""
    monkeypatch.setattr(background_encoding, "BACKGROUND_ROWS", 0)
    monkeypatch.setattr(background_encoding, "_cores", lambda: 2)
    yield background_encoding._started
    gc.collect()


def _ids(parts: list[list[str | None]]) -> pa.ChunkedArray:
    return pa.chunked_array([pa.array(p, pa.large_string()) for p in parts], type=pa.large_string())


def test_the_background_encoding_is_arrows_and_is_taken_once(eager):
    column = _ids([["b", None, "a"], [], ["a", "c", "b"]])
    background_encoding.start_encoding(column)
    assert id(column) in eager
    encoded = background_encoding.dictionary_encoded(column)
    assert encoded.equals(pc.dictionary_encode(column))
    assert id(column) not in eager  # taken: a second request computes it again
    assert background_encoding.dictionary_encoded(column).equals(encoded)


def test_short_single_part_or_other_columns_are_encoded_when_asked(eager, monkeypatch):
    monkeypatch.setattr(background_encoding, "BACKGROUND_ROWS", 5)
    for column in (_ids([["a", "b"], ["c"]]), _ids([["a"] * 9]), pa.chunked_array([[1, 2, 3], [4, 5, 6]])):
        background_encoding.start_encoding(column)
    monkeypatch.setattr(background_encoding, "BACKGROUND_ROWS", 0)
    monkeypatch.setattr(background_encoding, "_cores", lambda: 1)
    background_encoding.start_encoding(_ids([["a"], ["b"]]))
    assert not eager


def test_an_encoding_nobody_takes_is_forgotten_with_its_column(eager):
    column = _ids([["a", "b"], ["b", "c"]])
    background_encoding.start_encoding(column)
    assert len(eager) == 1
    del column
    gc.collect()
    assert not eager


def test_a_partitioned_register_is_coded_as_pandas_factorises(eager, tmp_path):
    rng = np.random.default_rng(4)
    for year in (2022, 2023, 2024):
        ids = [f"P{i:05d}" if i % 17 else None for i in rng.integers(0, 300, 500)]
        folder = tmp_path / "register" / f"year={year}"
        folder.mkdir(parents=True)
        pq.write_table(pa.table({"person_id": ids, "age": rng.integers(0, 90, 500)}), folder / "part-0.parquet")
    raw = read_raw(tmp_path / "register")
    assert len(eager) == 1  # the ids, not the ages
    coded = code_text(raw["person_id"])
    codes, uniques = pd.factorize(raw["person_id"])
    np.testing.assert_array_equal(coded.codes, codes)
    assert coded.uniques.tolist() == list(uniques)
    assert not eager
