"""Checks on the data an inference procedure is given: the one message for missing values."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from .errors import InferenceError

__all__ = ["require_complete"]


def require_complete(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    """Refuse missing values in ``columns`` (naming each column and how many rows lack a value).

    A test on the rows that happen to be complete would answer another question than the one
    asked, so missing values are an error, not silently dropped.
    """
    counts = {c: int(frame[c].isna().sum()) for c in columns}
    bad = {c: n for c, n in counts.items() if n}
    if bad:
        raise InferenceError("missing values in " + ", ".join(f"{c!r} ({n} rows)" for c, n in bad.items())
                             + ": drop or impute them before testing")
