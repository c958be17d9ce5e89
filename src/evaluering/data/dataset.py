"""The loaded, validated input tables of one municipality."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["Dataset", "RowCodes"]


@dataclass(frozen=True, eq=False)
class RowCodes:
    """A column of ``frame`` as integer codes (in order of first appearance) and its distinct values.

    Validation hashes a register's person ids once for the key check; the analysis reuses the codes
    instead of hashing millions of ids again. They belong to this very ``frame`` (``is``), so a
    Dataset given another register (``dataclasses.replace``) does not use them.
    """

    frame: pd.DataFrame
    column: str
    codes: np.ndarray
    uniques: pd.api.extensions.ExtensionArray

    def of(self, frame: pd.DataFrame, column: str) -> tuple[np.ndarray, pd.api.extensions.ExtensionArray] | None:
        """(codes, uniques) when they are those of ``frame[column]``, else None."""
        return (self.codes, self.uniques) if frame is self.frame and column == self.column else None


@dataclass(frozen=True)
class Dataset:
    """All input tables, typed as the contract says (see ``evaluering.data.contract``).

    dtypes: non-nullable bool -> ``bool``; nullable bool -> ``boolean``; int -> ``int64``
    (nullable: ``Int64``); float -> ``float64`` (missing = NaN); str -> pandas ``string`` with
    missing as NA, except the columns the contract marks ``categorical`` (the register's
    ``area_id``, ``sex``, ``origin``, ``education``): pandas ``category`` with sorted ``string``
    categories, missing as code -1; date -> ``datetime64[ns]``. A categorical keeps its categories
    when rows are filtered: ``value_counts`` then lists the other areas with 0 and a formula's design
    matrix gets all-zero columns; use ``remove_unused_categories()`` (or ``.astype("string")``) there.
    """

    areas: pd.DataFrame
    register: pd.DataFrame
    survey: pd.DataFrame
    institutions: pd.DataFrame
    visitors: pd.DataFrame
    source_dir: Path | None = None
    # the register's person ids as codes, from validation (None when the Dataset was built otherwise)
    person_codes: RowCodes | None = field(default=None, repr=False, compare=False)

    def table(self, name: str) -> pd.DataFrame:
        """The table called ``name`` (one of ``contract.TABLE_NAMES``)."""
        return getattr(self, name)

    @property
    def district_of_area(self) -> pd.Series:
        """area_id -> district key, with NA for areas in the rest of the municipality."""
        return self.areas.set_index("area_id")["district"]
