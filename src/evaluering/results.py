"""How every result object shows itself: one protocol built on ``to_frame()``.

A result class defines ``to_frame()`` (its estimates as a table, with the package's column names:
``estimate``, ``se``, ``ci_low``, ``ci_high``, ``p_value``, ``n``) and, if it wants, a one-line
``_headline()``, a few ``_notes()`` and further named tables in ``_extra_frames()``. The mixin
builds ``summary()`` (plain text), ``__repr__`` (the same) and ``_repr_html_`` (JupyterLab) from
them, as ``linearmodels`` does with its ``_SummaryStr``. Dataclass results declare
``repr=False`` so the dataclass does not write its own ``__repr__`` over this one.
"""

from __future__ import annotations

import html
from typing import ClassVar

import pandas as pd

__all__ = ["ResultDisplay", "frame_html"]


def frame_html(frame: pd.DataFrame, digits: int = 4, *, index: bool = False) -> str:
    """A table as HTML with ``digits`` decimals and empty cells for missing values."""
    return frame.to_html(index=index, float_format=lambda v: f"{v:.{digits}f}", na_rep="")


class ResultDisplay:
    """Mixin: ``summary()``, ``__repr__`` and ``_repr_html_`` from ``to_frame()``."""

    _digits: ClassVar[int] = 4  # decimals shown in the tables
    _index: ClassVar[bool] = False  # whether ``to_frame()``'s index is part of the table
    _shown_columns: ClassVar[tuple[str, ...] | None] = None  # the columns displayed (default: all)

    def to_frame(self) -> pd.DataFrame:
        """The result as a table (one row per estimate)."""
        raise NotImplementedError

    def _headline(self) -> str:
        """One line above the table: what was estimated, on what."""
        return type(self).__name__

    def _notes(self) -> list[str]:
        """Lines below the table (caveats, tests); none by default."""
        return []

    def _extra_frames(self) -> dict[str, pd.DataFrame]:
        """Further tables shown after the main one, by heading; none by default."""
        return {}

    def _shown_frame(self) -> pd.DataFrame:
        frame = self.to_frame()
        return frame if self._shown_columns is None else frame[list(self._shown_columns)]

    def summary(self) -> str:
        """The result as plain text: headline, table, further tables and notes (empty tables left out)."""
        frame = self._shown_frame()
        parts = [self._headline(), *([_frame_text(frame, self._digits, self._index)] if len(frame) else [])]
        parts += [f"{title}\n{_frame_text(frame, self._digits, index=True)}"
                  for title, frame in self._extra_frames().items()]
        return "\n".join([*parts, *self._notes()])

    def __repr__(self) -> str:
        return self.summary()

    def _repr_html_(self) -> str:
        frame = self._shown_frame()
        parts = [f"<p><strong>{html.escape(self._headline())}</strong></p>",
                 *([frame_html(frame, self._digits, index=self._index)] if len(frame) else [])]
        parts += [f"<h4>{html.escape(title)}</h4>" + frame_html(frame, self._digits, index=True)
                  for title, frame in self._extra_frames().items()]
        parts += [f"<p>{html.escape(note)}</p>" for note in self._notes()]
        return "".join(parts)


def _frame_text(frame: pd.DataFrame, digits: int, index: bool) -> str:
    return frame.to_string(index=index, float_format=lambda v: f"{v:.{digits}f}", na_rep="")
