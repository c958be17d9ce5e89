"""Disclosure control: no published number may rest on fewer than ``min_cell`` persons."""

from __future__ import annotations

import pandas as pd

__all__ = ["suppress_levels", "suppress_estimates"]


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
    from the published ones, so the whole row goes (secondary suppression).
    """
    small = table["min_persons"].notna() & (table["min_persons"] < min_cell)
    numbers = ["district_baseline", "district_followup", "comparison_baseline", "comparison_followup",
               "estimate", "se", "ci_low", "ci_high", "p_value", "p_model", "p_holm", "p_bh", "placebo_ci_low",
               "placebo_ci_high", "people_estimate", "people_ci_low", "people_ci_high"]
    numbers = [c for c in numbers if c in table]
    out = table.copy()
    out.loc[small, numbers] = float("nan")
    out.loc[small, "verdict"] = "suppressed"
    out["suppressed"] = small
    return out
