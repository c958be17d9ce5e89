"""Disclosure control: no published number may rest on fewer than ``min_cell`` persons.

Three layers, each small enough to test by hand:

* *Primary suppression*: a number built on fewer than ``params.disclosure.min_cell`` persons is
  replaced by the suppression mark "–" (:data:`format.SUPPRESSED`): :func:`suppress_levels`,
  :func:`suppress_estimates`.
* *Secondary suppression*: where the cells of a group add up to a published total, one hidden
  cell could be recovered by subtraction, so more cells go: :func:`suppress_group`.
* *Machine-checkable markup*: every table cell that shows a number says how many persons are
  behind it, so that :mod:`evaluering.report.scan` can check every rendered report.

The ``data-n`` convention
-------------------------
``<td data-n="123">``
    The cell shows a number (or the suppression mark) computed from persons; 123 is the smallest
    number of persons behind any number in the cell: for a count, the count; for the share of a
    category, the persons in that category; for a level, mean, rate or estimate, the persons in
    the smallest group it is computed from, or the fewest persons with or without the attribute
    of a share (``indicators.attributes``). The attribute is published with the page, so a count
    below ``min_cell`` is written as 0 (:func:`hide_small_count`). A cell with ``data-n`` below
    ``min_cell`` must show no digit, only "–".
``<td data-n="-">``
    The cell shows a number that is not built from persons: a year, a hash, a version, a date,
    a visitor-counter count or a model fitted to counter data, a politically set target.
no ``data-n``
    Header cells, text-label cells (``class="tekst"``) and cells that show no digit at all
    (for example "ikke relevant").

:func:`data_n` turns a count into the attribute; ``html_table`` in ``tables.py`` takes the counts
as a list of lists parallel to the rows.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import pandas as pd

from ..indicators.attributes import disclosure_persons

__all__ = ["NOT_PERSONS", "data_n", "suppress_group", "suppress_levels", "suppress_estimates", "unsafe_periods",
           "suppress_event_study", "hide_small_count"]

NOT_PERSONS = "-"  # data-n of a cell whose number is not built from persons


def data_n(persons: int | float | str | None) -> str:
    """The ``data-n`` attribute (with a leading space) for a cell, or "" for a cell without one.

    ``persons`` is a count of persons, :data:`NOT_PERSONS`, or None (text cell, no mark). A missing
    count (NaN) means the number is not person based, as for visitor counts in the evaluation table.
    """
    if persons is None:
        return ""
    if persons == NOT_PERSONS or (isinstance(persons, float) and math.isnan(persons)):
        return f' data-n="{NOT_PERSONS}"'
    return f' data-n="{int(persons)}"'


def hide_small_count(persons, min_cell: int | None):
    """``persons`` for a ``data-n`` attribute, with a count below ``min_cell`` replaced by 0.

    The attribute is part of the published page, so it may not carry a small count any more than
    the cell's text may; 0 still tells the scan that the cell must show no number.
    """
    if min_cell is None or persons is None or persons == NOT_PERSONS:
        return persons
    if isinstance(persons, float) and math.isnan(persons):
        return persons
    return persons if persons >= min_cell else 0


def suppress_group(counts: Sequence[float], min_cell: int, *, shown: Sequence[bool] | None = None) -> list[bool]:
    """Which cells of a group that adds up to a published total must be hidden (True).

    ``counts`` are the persons in each cell of the group; ``shown`` marks the cells the table
    publishes (default: all). A cell that is not published at all, such as the reference category
    of a covariate whose other categories are shown as shares, still belongs to the group: the
    reader can recover it as the total minus the published cells.

    Primary suppression hides cells with fewer than ``min_cell`` persons. If that leaves a single
    hidden cell, the reader recovers it by subtraction; if it leaves several hidden cells that
    together hold fewer than ``min_cell`` persons, the reader learns that small sum. So, as long
    as a small cell is hidden and the hidden cells hold fewer than ``min_cell`` persons together,
    the smallest published cell is hidden as well (secondary suppression). The smallest is chosen
    because it costs the reader the least information.

    >>> suppress_group([3, 40, 57], 5)          # 3 alone = 100 - 40 - 57
    [True, True, False]
    >>> suppress_group([3, 40, 57], 5, shown=[True, True, False])  # 3 + 57 known, not 3 alone
    [True, False, True]
    """
    shown = [True] * len(counts) if shown is None else list(shown)
    hidden = [not s or c < min_cell for c, s in zip(counts, shown, strict=False)]
    small = any(h and c < min_cell for c, h in zip(counts, hidden, strict=False))
    while small and sum(c for c, h in zip(counts, hidden, strict=False) if h) < min_cell:
        candidates = [i for i, h in enumerate(hidden) if not h]
        if not candidates:
            break
        hidden[min(candidates, key=lambda i: counts[i])] = True
    return hidden


def suppress_levels(levels: pd.DataFrame, min_cell: int, *, person_based: pd.Series | None = None) -> pd.DataFrame:
    """Blank ``value`` and ``se`` of cells built on fewer than ``min_cell`` persons, or with fewer than
    ``min_cell`` persons with or without the attribute (``n_with``/``n_without`` where present).

    ``person_based`` marks rows whose ``n_persons`` counts persons (visitor counts do not);
    by default every row is person based. Adds a boolean ``suppressed`` column.
    """
    person_based = pd.Series(True, index=levels.index) if person_based is None else person_based
    small = person_based & (disclosure_persons(levels) < min_cell)
    out = levels.copy()
    out.loc[small, ["value", "se"]] = float("nan")
    out["suppressed"] = small
    return out


TOO_FEW = "færre end {min_cell} personer bag et af tallene (med eller uden kendetegnet)"
TOO_UNCERTAIN = "for få svar til et brugbart skøn: intervallet går ud over ±100 procentpoint"


def suppress_estimates(table: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """Blank every number of an evaluation row that rests on too few persons or says nothing.

    A difference-in-differences built on a suppressed cell would let a reader recover that cell
    from the published ones, so the whole row goes (secondary suppression); so does whether the
    ambition is met, which would tell on which side of the target the hidden level lies. A change
    in a share whose estimate or interval lies beyond ±100 percentage points (a handful of answers
    weighted up) is not a result either and goes the same way. Adds ``suppressed`` and, in Danish,
    ``suppressed_reason``.
    """
    small = table["min_persons"].notna() & (table["min_persons"] < min_cell)
    share = (table["unit"] == "share") & (table["scale"] == "difference")
    bounds = table[["estimate", "ci_low", "ci_high"]].abs()
    beyond = share & ~small & ((bounds > 1) | ~pd.DataFrame(np.isfinite(bounds.fillna(0.0)))).any(axis=1)
    hide = small | beyond
    numbers = ["district_baseline", "district_followup", "comparison_baseline", "comparison_followup",
               "estimate", "se", "ci_low", "ci_high", "p_value", "p_model", "se_model", "p_holm", "p_bh",
               "people_estimate", "people_ci_low", "people_ci_high"]
    numbers = [c for c in numbers if c in table]
    out = table.copy()
    uncertain = ["estimate", "se", "ci_low", "ci_high", "p_value", "p_model", "se_model", "p_holm", "p_bh"]
    out.loc[small, numbers] = float("nan")
    out.loc[beyond, [c for c in uncertain if c in out]] = float("nan")
    if "ambition_met" in out:
        out["ambition_met"] = out["ambition_met"].astype(object)
        out.loc[small, "ambition_met"] = None
    out.loc[hide, "verdict"] = "suppressed"
    out["suppressed"] = hide
    out["suppressed_reason"] = np.where(small, TOO_FEW.format(min_cell=min_cell),
                                        np.where(beyond, TOO_UNCERTAIN, None))
    return out


def unsafe_periods(levels: pd.DataFrame, group: str, min_cell: int) -> set[int]:
    """Periods in which ``group``'s level rests on too few persons, with or without the attribute."""
    rows = levels[levels["group"] == group]
    return {int(p) for p in rows.loc[disclosure_persons(rows) < min_cell, "period"]}


def suppress_event_study(result, hidden_years: set[int]):
    """An event study without the points of ``hidden_years``, or None when nothing may be drawn.

    Every point is the district's difference to the comparison group *relative to the reference
    year*; with the comparison group's levels published, a point and the district's level in the
    other year give away the hidden one. So a hidden year's point goes, and if the reference year
    itself is hidden, the whole panel goes.
    """
    table = result.coefficients
    if int(table.loc[table["reference"], "year"].iloc[0]) in hidden_years:
        return None
    keep = ~table["year"].astype(int).isin(hidden_years)
    if keep.all():
        return result
    return replace(result, coefficients=table[keep])
