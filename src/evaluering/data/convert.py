"""Converting delivered columns to the input contract's types.

A column arrives as text (CSV, with a decimal point or, in semicolon-separated files from Danish
Excel, a decimal comma) or with the type its file stored (Parquet, SPSS: numbers, booleans,
dates). :func:`convert` turns it into the contract's type and says which cells were empty and
which could not be read; what counts as a problem, and how it is worded, is ``validate``'s job.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.types import (
    infer_dtype,
    is_bool_dtype,
    is_datetime64_any_dtype,
    is_integer_dtype,
    is_numeric_dtype,
)

from ..columns import as_float
from ..numerics.counting import smallest_code_type
from .contract import ColumnSpec
from .lookup import arrow_text

__all__ = ["BOOL_WORDS", "Coded", "categorical_of", "clean_text", "code_text", "convert", "final_dtype"]

# Spellings accepted for true/false in CSV and SPSS files; Danish Excel writes SAND/FALSK.
BOOL_WORDS = {
    "true": True, "false": False, "1": True, "0": False,
    "ja": True, "nej": False, "sand": True, "falsk": False,
}


@dataclass(frozen=True)
class Coded:
    """A text column as codes into its distinct values (``pd.factorize``: -1 for missing).

    Checks on a city's register look at each distinct value once (a few hundred area codes, not
    ten million rows) and spread the answer to the rows with :meth:`rows`.
    """

    codes: np.ndarray
    uniques: pd.Series  # the distinct values as delivered (not yet stripped)

    @cached_property
    def cleaned(self) -> pd.Series:
        """The typed text of each distinct value: stripped, with empty strings missing."""
        return clean_text(self.uniques)

    @cached_property
    def unchanged(self) -> bool:
        """True when cleaning changes no value (then the typed column is the delivered one)."""
        return self.cleaned.equals(self.uniques.astype("string"))

    def rows(self, flags: np.ndarray) -> np.ndarray:
        """Per row: the flag of its value (missing rows: false)."""
        if not flags.any():
            return np.zeros(len(self.codes), dtype=bool)
        return np.append(flags, False)[self.codes]  # code -1 takes the appended False


def code_text(raw: pd.Series) -> Coded | None:
    """The column as :class:`Coded` when it is stored as text, else None."""
    kind, stored = _storage(raw)
    if kind != "text":
        return None
    if isinstance(stored.dtype, pd.CategoricalDtype):  # read from Parquet as a dictionary: coded already
        used = stored.cat.remove_unused_categories() if _unused_categories(stored) else stored
        return Coded(used.cat.codes.to_numpy(), pd.Series(used.cat.categories.astype("string")))
    factorized = _arrow_factorize(stored)
    codes, uniques = pd.factorize(stored) if factorized is None else factorized
    return Coded(codes.astype(smallest_code_type(len(uniques)), copy=False), pd.Series(uniques))


def _arrow_factorize(text: pd.Series) -> tuple[np.ndarray, pd.Series] | None:
    """``pd.factorize`` of Arrow text read in parts (a partitioned register), without merging the parts'
    dictionaries: Arrow encodes the parts with one table of distinct values, so every part's
    dictionary is that table as it stood (the last part's is complete) and the codes are the parts'
    indices put together. None when the column is not Arrow text in parts.
    """
    storage = arrow_text(text)
    if not isinstance(storage, pa.ChunkedArray) or storage.num_chunks < 2:
        return None
    encoded = pc.dictionary_encode(storage)
    if encoded.num_chunks == 0:  # Arrow leaves out empty parts: here every part was empty
        return np.empty(0, dtype=np.int32), pd.Series(pd.array([], dtype=text.dtype))
    dictionary = encoded.chunk(encoded.num_chunks - 1).dictionary
    first = encoded.chunk(0).dictionary
    if not first.equals(dictionary.slice(0, len(first))):  # not one table of distinct values grown in order
        return None
    codes = np.concatenate([pc.fill_null(part.indices, -1).to_numpy() for part in encoded.chunks])
    return codes, pd.Series(pd.array(dictionary, dtype=text.dtype))


def _unused_categories(values: pd.Series) -> bool:
    """Whether some category of ``values`` occurs in no row (a pandas categorical can keep them)."""
    seen = np.zeros(len(values.cat.categories) + 1, dtype=bool)  # the last: a missing value's code -1
    seen[values.cat.codes.to_numpy()] = True  # marked in place: no row-long temporary
    return not seen[:-1].all()


def categorical_of(codes: np.ndarray, values: pd.Series) -> pd.Categorical:
    """Each row's ``values[code]`` (code -1: missing) as a categorical of the distinct non-missing
    values, sorted, so that it sorts and groups as the text would; the categories keep the text's dtype.
    """
    value_codes, categories = pd.factorize(values, sort=True)
    code_type = smallest_code_type(len(categories))
    row_codes = np.append(value_codes, -1).astype(code_type)[codes]
    return pd.Categorical.from_codes(row_codes, categories=categories)


def convert(raw: pd.Series, dtype: str, decimal: str, coded: Coded | None = None,
            categorical: bool = False) -> tuple[pd.Series, np.ndarray, np.ndarray]:
    """(typed values with NA where empty or unreadable, empty mask, unreadable mask).

    ``dtype`` is the contract's type (``str``, ``int``, ``float``, ``bool``, ``date``); ``decimal``
    the file's decimal separator for numbers written as text. ``coded``: the text column already
    as :func:`code_text` gives it; its distinct values are cleaned and parsed once each.
    ``categorical``: text comes back as a pandas categorical (see ``ColumnSpec.categorical``).
    """
    kind, stored = _storage(raw)
    if kind != "text":
        values = _STORED_CONVERTERS[dtype](stored, kind)
        empty = stored.isna().to_numpy()
        return values, empty, values.isna().to_numpy(dtype=bool) & ~empty
    coded = code_text(stored) if coded is None else coded
    cleaned = coded.cleaned
    empty = coded.rows(cleaned.isna().to_numpy()) | (coded.codes < 0)
    if dtype != "str":
        parsed = _TEXT_PARSERS[dtype](cleaned.astype("string"), decimal)
        values = pd.Series(parsed.array.take(coded.codes, allow_fill=True), index=raw.index)
    elif categorical:
        values = pd.Series(categorical_of(coded.codes, cleaned), index=raw.index)
    elif coded.unchanged:
        values = stored.astype("string")  # nothing to strip (a register's ids and codes): no copy
    else:
        values = pd.Series(cleaned.array.take(coded.codes, allow_fill=True), index=raw.index)
    return values, empty, values.isna().to_numpy(dtype=bool) & ~empty


def clean_text(raw: pd.Series) -> pd.Series:
    """Text with surrounding spaces removed; empty strings become missing."""
    text = raw.astype("string")
    stripped = text.str.strip()
    empty = (stripped == "").to_numpy(dtype=bool, na_value=False)
    if empty.any():
        return stripped.mask(empty)
    # nothing to strip (a register's ids and codes): keep the column as read rather than a copy
    unchanged = (stripped == text).to_numpy(dtype=bool, na_value=True).all()
    return text if unchanged else stripped


def final_dtype(values: pd.Series, spec: ColumnSpec) -> pd.Series:
    """The Dataset dtypes: int64/bool when the column may not be empty (and is not), else nullable."""
    if spec.dtype == "int":
        return values.astype("int64" if not spec.nullable and values.notna().all() else "Int64")
    if spec.dtype == "bool":
        return values.astype("bool" if not spec.nullable and values.notna().all() else "boolean")
    if spec.dtype == "float":
        return values.astype("float64")
    if spec.dtype == "date":
        return values.astype("datetime64[ns]")
    if spec.categorical:
        if isinstance(values.dtype, pd.CategoricalDtype):
            return values
        codes, uniques = pd.factorize(values)
        return pd.Series(categorical_of(codes, pd.Series(uniques)), index=values.index)
    return values.astype("string")


def _storage(raw: pd.Series) -> tuple[str, pd.Series]:
    """How a column is stored: 'text', 'number', 'bool' or 'datetime' (object columns inspected)."""
    if isinstance(raw.dtype, pd.CategoricalDtype):
        if infer_dtype(raw.cat.categories, skipna=True) in ("string", "empty"):
            return "text", raw  # its codes are used as they are (code_text)
        raw = raw.astype(object)
    if is_bool_dtype(raw.dtype):
        return "bool", raw
    if is_numeric_dtype(raw.dtype):
        return "number", raw
    if is_datetime64_any_dtype(raw.dtype):
        return "datetime", raw
    if isinstance(raw.dtype, pd.StringDtype):
        return "text", raw
    inferred = infer_dtype(raw, skipna=True)
    if inferred == "boolean":
        return "bool", raw.astype("boolean")
    if inferred in ("date", "datetime", "datetime64"):
        return "datetime", pd.to_datetime(raw)
    if inferred in ("integer", "floating", "mixed-integer-float", "decimal"):
        return "number", pd.to_numeric(raw)
    return "text", raw


# --- values written as text ----------------------------------------------------------------------


def _text_to_number(text: pd.Series, decimal: str) -> np.ndarray:
    """Text to float; a decimal-comma file must not contain points (they may be thousands separators)."""
    wrong_separator = "." if decimal == "," else ","
    text = text.mask(text.str.contains(wrong_separator, regex=False)).str.replace(",", ".", regex=False)
    numbers = pd.to_numeric(text.to_numpy(dtype=object, na_value=None), errors="coerce").astype("float64")
    return _finite(numbers)


def _finite(numbers: np.ndarray) -> np.ndarray:
    """NaN in place of infinities, so that 'inf' counts as unreadable rather than as a huge value."""
    infinite = np.isinf(numbers)
    return np.where(infinite, np.nan, numbers) if infinite.any() else numbers


def _whole_numbers(numbers: np.ndarray) -> pd.Series:
    """Floats to Int64, with NA for anything that is not a whole number."""
    whole = np.isfinite(numbers) & (numbers == np.floor(numbers)) & (np.abs(numbers) < 2**53)
    result = pd.array(np.where(whole, numbers, 0).astype("int64"), dtype="Int64")
    result[~whole] = pd.NA
    return pd.Series(result)


def _text_to_int(text: pd.Series, decimal: str) -> pd.Series:
    return _whole_numbers(_text_to_number(text, decimal))


def _text_to_float(text: pd.Series, decimal: str) -> pd.Series:
    return pd.Series(_text_to_number(text, decimal))


def _text_to_bool(text: pd.Series, decimal: str) -> pd.Series:
    return text.str.lower().map(BOOL_WORDS).astype("boolean")


def _text_to_date(text: pd.Series, decimal: str) -> pd.Series:
    return pd.to_datetime(text, format="%Y-%m-%d", errors="coerce").astype("datetime64[ns]")


_TEXT_PARSERS = {"int": _text_to_int, "float": _text_to_float, "bool": _text_to_bool, "date": _text_to_date}


# --- values stored with a type (Parquet, SPSS) -----------------------------------------------------


def _numbers(stored: pd.Series) -> np.ndarray:
    """Stored numbers or bools as floats with NaN for missing (they always convert)."""
    return as_float(stored, str(stored.name))


def _stored_to_str(stored: pd.Series, kind: str) -> pd.Series:
    """Numbers stored in a text column (SPSS, Parquet) become text; 17.0 becomes '17'."""
    if kind != "number" or is_integer_dtype(stored.dtype):
        return clean_text(stored)
    numbers = _numbers(stored)
    text = _whole_numbers(numbers).astype("string").fillna(pd.Series(numbers).astype("string"))
    return text.set_axis(stored.index)


def _stored_to_int(stored: pd.Series, kind: str) -> pd.Series:
    """Whole numbers; stored integers stay plain int64 (no copy; they cannot be missing)."""
    if kind == "datetime":
        return pd.Series(pd.NA, index=stored.index, dtype="Int64")
    if isinstance(stored.dtype, np.dtype) and stored.dtype.kind == "i":  # stored as integers: no detour via floats
        values = stored.to_numpy()
        if ((values > -(2**53)) & (values < 2**53)).all():  # what floats hold exactly (_whole_numbers)
            return stored.astype("int64")
    return _whole_numbers(_numbers(stored)).set_axis(stored.index)


def _stored_to_float(stored: pd.Series, kind: str) -> pd.Series:
    if kind == "datetime":
        return pd.Series(np.nan, index=stored.index)
    if isinstance(stored.dtype, np.dtype) and stored.dtype.kind == "f":  # plain floats: no masked detour
        return pd.Series(_finite(stored.to_numpy(dtype="float64")), index=stored.index, copy=False)
    return pd.Series(_finite(_numbers(stored)), index=stored.index)


def _stored_to_bool(stored: pd.Series, kind: str) -> pd.Series:
    """Bools as they are (plain ``bool`` ones without a copy); numbers only when 1 or 0 (SPSS has no bool type)."""
    if kind == "bool":
        return stored if stored.dtype == np.bool_ else stored.astype("boolean")
    if kind == "datetime":
        return pd.Series(pd.NA, index=stored.index, dtype="boolean")
    numbers = pd.Series(_numbers(stored), index=stored.index)
    return numbers.where(numbers.isin([0, 1])).astype("boolean")


def _stored_to_date(stored: pd.Series, kind: str) -> pd.Series:
    if kind == "datetime":
        if getattr(stored.dt, "tz", None) is not None:
            stored = stored.dt.tz_localize(None)
        return stored.astype("datetime64[ns]")
    return pd.Series(pd.NaT, index=stored.index, dtype="datetime64[ns]")


_STORED_CONVERTERS = {
    "str": _stored_to_str, "int": _stored_to_int, "float": _stored_to_float,
    "bool": _stored_to_bool, "date": _stored_to_date,
}
