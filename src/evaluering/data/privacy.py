"""Guarding against real person numbers (CPR) in the input.

The workbench only accepts pseudonymised ids. A column whose values look like CPR numbers is
refused; the values themselves are never repeated in any message.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.api.types import is_bool_dtype, is_datetime64_any_dtype, is_numeric_dtype

__all__ = ["looks_like_cpr"]

# Days per month; February gets 29 because the century (hence leap years) is not known.
_DAYS_IN_MONTH = np.array([31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])

# DDMMYYXXXX or DDMMYY-XXXX, or 9 digits: a CPR number whose leading zero Excel dropped.
_CPR_TEXT = r"\d{10}|\d{6}-\d{4}|\d{9}"


def looks_like_cpr(series: pd.Series, distinct: bool = False) -> pd.Series:
    """Boolean mask (same index) of values that look like a Danish CPR number.

    A value looks like CPR when it is 10 digits, optionally written ``DDMMYY-XXXX``, and its first
    six digits are a valid date (day 01-31 as the month allows, month 01-12). Numbers count too,
    and so do 9-digit values, since a CPR number stored as a number loses its leading zero.
    ``distinct``: the values are distinct already (a factorised column's), so they are not hashed again.
    """
    if is_bool_dtype(series.dtype) or is_datetime64_any_dtype(series.dtype):
        return pd.Series(False, index=series.index)
    if is_numeric_dtype(series.dtype):
        return _numbers_look_like_cpr(series)
    uniques = series.dropna().reset_index(drop=True) if distinct else pd.Series(series.dropna().unique())
    text = uniques.astype("string").str.strip()
    shaped = text.str.fullmatch(_CPR_TEXT).to_numpy(dtype=bool)
    flagged = np.zeros(len(uniques), dtype=bool)
    flagged[shaped] = _valid_birth_date(text[shaped].str.replace("-", "", regex=False).str.zfill(10))
    if not flagged.any():  # the usual case: no need to look every row up
        return pd.Series(False, index=series.index)
    return pd.Series(series.isin(uniques[flagged]).to_numpy(dtype=bool), index=series.index)


def _numbers_look_like_cpr(series: pd.Series) -> pd.Series:
    """The numeric branch: whole numbers of 9 or 10 digits with a valid date in front."""
    plain = isinstance(series.dtype, np.dtype) and series.dtype.kind in "iuf"  # no copy needed
    values = series.to_numpy() if plain else series.astype("float64").to_numpy()
    if len(values) == 0 or np.fmax.reduce(values) < 1e8 or np.fmin.reduce(values) >= 1e10:
        return pd.Series(False, index=series.index)  # the usual case (fmax/fmin skip NaN): no such number at all
    candidate = (values >= 1e8) & (values < 1e10)  # NaN compares false
    if values.dtype.kind == "f":
        candidate[candidate] &= values[candidate] == np.floor(values[candidate])
    mask = np.zeros(len(values), dtype=bool)
    if candidate.any():
        digits = pd.Series(values[candidate].astype("int64")).astype("string").str.zfill(10)
        mask[candidate] = _valid_birth_date(digits)
    return pd.Series(mask, index=series.index)


def _valid_birth_date(digits: pd.Series) -> np.ndarray:
    """For a series of 10-digit strings: do the first six digits (DDMMYY) form a valid date?"""
    day = digits.str.slice(0, 2).astype("int64").to_numpy()
    month = digits.str.slice(2, 4).astype("int64").to_numpy()
    valid_month = (month >= 1) & (month <= 12)
    max_day = _DAYS_IN_MONTH[np.clip(month, 1, 12) - 1]
    return valid_month & (day >= 1) & (day <= max_day)
