"""Text read in parts (a partitioned register's ids) is factorised from Arrow's dictionaries
(convert._arrow_factorize): the codes and distinct values must be pd.factorize's, as code_text gives
them, on every shape of parts, empty ones included.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from evaluering.data import convert
from evaluering.data.convert import code_text
from evaluering.numerics.counting import smallest_code_type


def _text(parts: list[list[str | None]]) -> pd.Series:
    """A text column in Arrow parts, as a partitioned register's ``person_id`` is read (dtype ``str``)."""
    chunked = pa.chunked_array([pa.array(p, pa.large_string()) for p in parts], type=pa.large_string())
    text = chunked.to_pandas()
    assert text.dtype == "str" and text.array._pa_array.num_chunks == len(parts)
    return text


def _assert_as_pandas(text: pd.Series) -> None:
    """code_text and _arrow_factorize give pd.factorize's codes and distinct values."""
    codes, uniques = pd.factorize(text)
    factorized = convert._arrow_factorize(text)
    assert factorized is not None
    np.testing.assert_array_equal(factorized[0], codes)
    assert factorized[0].dtype == np.int32
    pd.testing.assert_series_equal(factorized[1], pd.Series(uniques))
    coded = code_text(text)
    expected = codes.astype(smallest_code_type(len(uniques)))
    np.testing.assert_array_equal(coded.codes, expected)
    assert coded.codes.dtype == expected.dtype
    pd.testing.assert_series_equal(coded.uniques, pd.Series(uniques))


CASES = {
    "repeats across halves": [["b", "a", "b"], ["c", "a"], ["a", "d", "b"], ["e", "c", "b"]],
    "nulls in both halves": [[None, "a", None], ["b", None], [None, "b", "c"], ["a", None, "d"]],
    "empty parts": [[], ["a", "b"], [], ["b", "c"], []],
    "empty first parts": [[], ["a", None, "a"]],
    "empty last parts": [["a", None, "b"], []],
    "all empty": [[], [], []],
    "all missing": [[None, None], [None]],
    "odd number of parts": [["a"], ["b", "a"], ["c"], ["a", "c", "d"], ["e"]],
    "values only in later parts": [[None, None, None], [None], ["x", "y"], ["y", "z", "x"]],
    "all distinct": [["a", "b"], ["c", "d"], ["e"], ["f", "g", "h"]],
    "later parts all known": [["a", "b", "c"], ["c", "a"], ["b", "b"]],
    "one long part, then short ones": [["a", "b", "c", "d", "e", "f"], ["g"], ["a"]],
    "short parts, then one long": [["a"], ["b"], ["f", "e", "d", "c", "b", "a"]],
}


@pytest.mark.parametrize("parts", CASES.values(), ids=CASES.keys())
def test_text_in_parts_is_coded_as_pandas_factorises(parts):
    _assert_as_pandas(_text(parts))


def test_one_part_is_left_to_pandas():
    assert convert._arrow_factorize(_text([["a", None, "b", "a"]])) is None
    coded = code_text(_text([["a", None, "b", "a"]]))
    assert coded.codes.tolist() == [0, -1, 1, 0] and coded.uniques.tolist() == ["a", "b"]
