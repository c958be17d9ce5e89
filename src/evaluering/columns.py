"""Checks on the columns a computation needs: one message, one error family.

:func:`require_columns` is the one place a missing column is reported; a module passes its own
error class (every one derives from :class:`~evaluering.errors.EvalueringError`) so its callers
can keep catching what they caught before.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from .errors import ColumnError, EvalueringError

__all__ = ["as_float", "require_columns"]


def require_columns(frame: pd.DataFrame, columns: Iterable[str], *, what: str = "data",
                    error: type[EvalueringError] = ColumnError) -> None:
    """Raise ``error`` naming ``what`` and every one of ``columns`` that ``frame`` lacks."""
    needed = list(dict.fromkeys(c for c in columns if c is not None))
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise error(f"{what}: missing column(s) {', '.join(map(repr, missing))} "
                    f"(has {', '.join(map(repr, map(str, frame.columns)))})")


def as_float(column: pd.Series, name: str, *, error: type[EvalueringError] = ColumnError) -> np.ndarray:
    """A numeric or boolean column as floats (missing = NaN), or ``error`` naming it."""
    if isinstance(column.dtype, np.dtype) and column.dtype.kind in "biuf":  # plain numpy: one copy, same values
        return column.to_numpy(dtype=float, copy=True)
    try:
        return column.astype("Float64").to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as err:
        raise error(f"column '{name}' must be numeric or boolean") from err
