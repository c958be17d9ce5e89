"""Danish number formatting and labels for what reviewers read."""

from __future__ import annotations

import math

from ..labels import COVARIATE_NAMES, COVARIATE_VALUES, covariate_label

__all__ = ["COVARIATE_NAMES", "COVARIATE_VALUES", "DIRECTION_LABELS", "VERDICT_LABELS", "change", "covariate_label",
           "indicator_value", "number", "p_value", "share"]

VERDICT_LABELS = {
    "better": "Bedre",
    "no_change": "Ingen påviselig ændring",
    "worse": "Dårligere",
    "suppressed": "Ikke vist",
    "not_computed": "Ikke beregnet",
}
VERDICT_MARKS = {"better": "▲", "no_change": "●", "worse": "▼", "suppressed": "", "not_computed": ""}
VERDICT_CSS = {
    "better": "maerke-bedre",
    "no_change": "maerke-uaendret",
    "worse": "maerke-daarligere",
    "suppressed": "maerke-uaendret",
    "not_computed": "maerke-uaendret",
}
DIRECTION_LABELS = {"higher_is_better": "højere er bedre", "lower_is_better": "lavere er bedre"}
SUPPRESSED = "–"  # shown where a cell rests on too few persons


def _missing(x) -> bool:
    return x is None or (isinstance(x, float) and math.isnan(x))


def number(x: float | None, decimals: int = 1) -> str:
    """1234.5 -> '1.234,5' (Danish thousands dot, decimal comma)."""
    if _missing(x):
        return SUPPRESSED
    x = round(float(x), decimals) + 0.0  # no "-0,00" for tiny negatives
    text = f"{x:,.{decimals}f}"
    return text.replace(",", "\u00a0").replace(".", ",").replace("\u00a0", ".")


def share(x: float | None, decimals: int = 1) -> str:
    """0.423 -> '42,3 %'."""
    return SUPPRESSED if _missing(x) else f"{number(100 * x, decimals)} %"


def change(x: float | None, unit: str, scale: str = "difference", decimals: int = 1, with_unit: bool = True) -> str:
    """A signed change: percentage points for shares, per cent for log-scale estimates."""
    if _missing(x):
        return SUPPRESSED
    if scale == "log":
        value, suffix = 100 * math.expm1(x), " %"
    elif unit == "share":
        value, suffix = 100 * x, " pct.-point"
    else:
        value, suffix = x, ""
    value = round(value, decimals)  # the sign must agree with the digits shown ("±0,0", not "−0,0")
    sign = "+" if value > 0 else ("−" if value < 0 else "±")
    return f"{sign}{number(abs(value), decimals)}{suffix if with_unit else ''}"


def indicator_value(x: float | None, unit: str) -> str:
    """An indicator level in its unit."""
    return share(x) if unit == "share" else number(x, 0 if unit == "count" else 2)


def p_value(p: float | None) -> str:
    """A p-value in Danish notation (``< 0,001`` for the smallest)."""
    if _missing(p):
        return SUPPRESSED
    return "< 0,001" if p < 0.001 else number(p, 3)


