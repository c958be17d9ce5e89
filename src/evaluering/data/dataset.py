"""The loaded, validated input tables of one municipality."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

__all__ = ["Dataset"]


@dataclass(frozen=True)
class Dataset:
    """All input tables, typed as the contract says (see ``evaluering.data.contract``).

    dtypes: non-nullable bool -> ``bool``; nullable bool -> ``boolean``; int -> ``int64``
    (nullable: ``Int64``); float -> ``float64`` (missing = NaN); str -> pandas ``string`` with
    missing as NA; date -> ``datetime64[ns]``.
    """

    areas: pd.DataFrame
    register: pd.DataFrame
    survey: pd.DataFrame
    institutions: pd.DataFrame
    visitors: pd.DataFrame
    source_dir: Path | None = None

    def table(self, name: str) -> pd.DataFrame:
        """The table called ``name`` (one of ``contract.TABLE_NAMES``)."""
        return getattr(self, name)

    @property
    def district_of_area(self) -> pd.Series:
        """area_id -> district key, with NA for areas in the rest of the municipality."""
        return self.areas.set_index("area_id")["district"]
