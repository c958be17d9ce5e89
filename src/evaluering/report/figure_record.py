"""Figures carry the persons behind what they draw, so the disclosure scan can check them too.

A table cell says how many persons are behind its number (``data-n``, see ``disclosure``); a
figure is a picture, so the scan cannot read its numbers. Instead every figure a report makes
records the fewest persons behind anything it draws (:func:`record_persons`: a count, or
:data:`~.disclosure.NOT_PERSONS` for a figure not built from persons), and in a notebook the
figure's PNG output carries that record in its metadata (``{"evaluering": {"persons": n}}``), and
the Danish text that says what the figure shows (:func:`describe`) as its ``alt`` text, both
added by a wrapper around IPython's PNG formatter (:func:`install`). The scan
(:func:`evaluering.report.scan.scan_notebook`) refuses a figure output without a record or a
description, or with a count below ``min_cell``.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the scan reads METADATA_KEY without loading matplotlib
    from matplotlib.figure import Figure

__all__ = ["describe", "record_persons", "recorded_description", "recorded_persons", "install", "METADATA_KEY"]

METADATA_KEY = "evaluering"
ALT_KEY = "alt"  # the image's alternative text, read by the report template (``templates/rapport``)
_ATTRIBUTE = "_evaluering_persons"
_DESCRIPTION = "_evaluering_alt"


def record_persons(fig: Figure, persons) -> Figure:
    """Note on ``fig`` the fewest persons behind what it draws (NaN or None: nothing drawn, recorded as 0)."""
    if persons is None or (isinstance(persons, float) and math.isnan(persons)):
        persons = 0
    setattr(fig, _ATTRIBUTE, persons if isinstance(persons, str) else int(persons))
    return fig


def recorded_persons(fig: Figure):
    """The record of :func:`record_persons`, or None if the figure has none."""
    return getattr(fig, _ATTRIBUTE, None)


def describe(fig: Figure, text: str) -> Figure:
    """Note on ``fig`` the Danish text that says what it shows (the image's alt text in the report)."""
    setattr(fig, _DESCRIPTION, " ".join(str(text).split()))
    return fig


def recorded_description(fig: Figure) -> str | None:
    """The text of :func:`describe`, or None if the figure has none."""
    return getattr(fig, _DESCRIPTION, None)


def _laid_out_by_report(fig: Figure, make_png) -> bool:
    """True for a report's own figure, whose PNG is the whole canvas rather than the tight box.

    Every figure a report draws (one with a :func:`describe` text) was laid out by the function
    that drew it (tight or constrained layout), so nothing lies outside its canvas
    (tests/test_results_store.py checks each report figure). Cropping it to the tight box, the inline
    backend's default, would lay it out and draw it a second time: about a second per report.
    Other figures in the kernel keep the backend's settings.
    """
    return recorded_description(fig) is not None and isinstance(make_png, functools.partial)


def _drop_placeholder_layout(fig: Figure) -> None:
    """Forget that ``fig`` was laid out by ``tight_layout``: its layout is fixed now.

    ``Figure.tight_layout`` leaves a placeholder layout engine behind, and matplotlib draws a
    figure with any layout engine once more before printing it. A constrained layout, which is
    computed at drawing, is kept.
    """
    from matplotlib.layout_engine import PlaceHolderLayoutEngine

    if isinstance(fig.get_layout_engine(), PlaceHolderLayoutEngine):
        fig.set_layout_engine(None)  # no engine (or the rc's automatic layout, as for a new figure)


def install() -> None:
    """In an IPython kernel, make the PNG of every figure carry its record in the output metadata.

    Wraps the PNG formatter the inline backend registered (``%matplotlib inline`` runs first in
    the report notebooks), so the picture is the backend's; a report's own figure is printed as
    its whole canvas (:func:`_laid_out_by_report`). Does nothing outside IPython or when figures
    have no PNG formatter.
    """
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return
    from matplotlib.figure import Figure

    shell = get_ipython()
    if shell is None:
        return
    formatter = shell.display_formatter.formatters["image/png"]
    try:
        make_png = formatter.lookup_by_type(Figure)
    except KeyError:
        return
    if getattr(make_png, "_records_persons", False):
        return

    def png_with_record(fig: Figure):
        if _laid_out_by_report(fig, make_png):
            _drop_placeholder_layout(fig)
            data = make_png(fig, bbox_inches=None)
        else:
            data = make_png(fig)
        if isinstance(data, tuple):  # a formatter may already return (data, metadata)
            data = data[0]
        metadata = {METADATA_KEY: {"persons": recorded_persons(fig)}}
        description = recorded_description(fig)
        if description:
            metadata[ALT_KEY] = description
        return data, metadata

    png_with_record._records_persons = True
    formatter.for_type(Figure, png_with_record)
