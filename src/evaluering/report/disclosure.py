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
    the smallest group it is computed from. A cell with ``data-n`` below ``min_cell`` must show
    no digit, only "–".
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

import pandas as pd

__all__ = ["NOT_PERSONS", "data_n", "suppress_group", "suppress_levels", "suppress_estimates"]

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
    hidden = [not s or c < min_cell for c, s in zip(counts, shown)]
    small = any(h and c < min_cell for c, h in zip(counts, hidden))
    while small and sum(c for c, h in zip(counts, hidden) if h) < min_cell:
        candidates = [i for i, h in enumerate(hidden) if not h]
        if not candidates:
            break
        hidden[min(candidates, key=lambda i: counts[i])] = True
    return hidden


def suppress_levels(levels: pd.DataFrame, min_cell: int, *, person_based: pd.Series | None = None) -> pd.DataFrame:
    """Blank ``value`` and ``se`` of cells built on fewer than ``min_cell`` persons.

    ``person_based`` marks rows whose ``n_persons`` counts persons (visitor counts do not);
    by default every row is person based. Adds a boolean ``suppressed`` column.
    """
    person_based = pd.Series(True, index=levels.index) if person_based is None else person_based
    small = person_based & (levels["n_persons"] < min_cell)
    out = levels.copy()
    out.loc[small, ["value", "se"]] = float("nan")
    out["suppressed"] = small
    return out


def suppress_estimates(table: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """Blank every number of an evaluation row if any of its cells rests on too few persons.

    A difference-in-differences built on a suppressed cell would let a reader recover that cell
    from the published ones, so the whole row goes (secondary suppression); so does whether the
    ambition is met, which would tell on which side of the target the hidden level lies.
    """
    small = table["min_persons"].notna() & (table["min_persons"] < min_cell)
    numbers = ["district_baseline", "district_followup", "comparison_baseline", "comparison_followup",
               "estimate", "se", "ci_low", "ci_high", "p_value", "p_model", "se_model", "p_holm", "p_bh",
               "people_estimate", "people_ci_low", "people_ci_high"]
    numbers = [c for c in numbers if c in table]
    out = table.copy()
    out.loc[small, numbers] = float("nan")
    if "ambition_met" in out:
        out["ambition_met"] = out["ambition_met"].astype(object)
        out.loc[small, "ambition_met"] = None
    out.loc[small, "verdict"] = "suppressed"
    out["suppressed"] = small
    return out
