"""Danish alternative texts for the report figures: what each figure shows, in words.

A reader who cannot see a figure (a screen reader, a printout in black and white, a text-only
copy) gets the same message from its alt text: the indicators, the groups, the period and the
direction of the change. Danish public bodies' web accessibility rules (WCAG 2.1 AA) ask for it.
Each function takes exactly what its figure draws, after suppression, so a text never says more
than the figure shows.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from . import format as fmt

__all__ = ["decomposition_text", "estimates_text", "event_study_text", "love_plot_text", "monitoring_grid_text",
           "overview_text", "threshold_text", "trend_text"]

_VERDICT_GROUPS = (("better", "bedre"), ("no_change", "ingen påviselig ændring"), ("worse", "dårligere"))


def _joined(parts: Iterable[str]) -> str:
    """'a', 'a og b', 'a, b og c'."""
    parts = [p for p in parts if p]
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " og " + parts[-1]


def _count(n: int, singular: str, plural: str) -> str:
    """'1 andelsindikator', '3 andelsindikatorer': a screen reader reads the count as it is written."""
    return f"{n} {singular if n == 1 else plural}"


def _development(first: float, last: float, unit: str) -> str:
    """'steg', 'faldt' or 'var uændret', judged on the values as shown."""
    shown_first, shown_last = fmt.indicator_value(first, unit), fmt.indicator_value(last, unit)
    if shown_first == shown_last:
        return "var uændret"
    return "steg" if last > first else "faldt"


def _group_path(part: pd.DataFrame, name: str, unit: str) -> str:
    """'Mørkhøj steg fra 41,0 % i 2015 til 45,2 % i 2024' for one group's drawn values."""
    part = part.dropna(subset=["value"]).sort_values("period")
    if part.empty:
        return f"{name} vises ikke (for få personer)"
    first, last = part.iloc[0], part.iloc[-1]
    if len(part) == 1:
        return f"{name} {fmt.indicator_value(first['value'], unit)} i {int(first['period'])}"
    return (f"{name} {_development(first['value'], last['value'], unit)} fra "
            f"{fmt.indicator_value(first['value'], unit)} i {int(first['period'])} til "
            f"{fmt.indicator_value(last['value'], unit)} i {int(last['period'])}")


def trend_text(levels: pd.DataFrame, indicators, district: str, labels: Mapping[str, str]) -> str:
    """The trend figure: each indicator's first and last drawn level for the district and the comparison group."""
    drawn = levels[levels["value"].notna()]
    if "suppressed" in drawn:
        drawn = drawn[~drawn["suppressed"].astype(bool)]
    years = drawn["period"]
    period = f" fra {int(years.min())} til {int(years.max())}" if len(years) else ""
    parts = []
    for ind in indicators:
        rows = drawn[drawn["indicator"] == ind.key]
        paths = [_group_path(rows[rows["group"] == group], labels[group], ind.unit)
                 for group in (district, "comparison")]
        parts.append(f"{ind.number}. {ind.name}: {_joined(paths)}.")
    return (f"Linjefigur: udviklingen{period} for {labels[district]} og {labels['comparison']} med "
            f"95 %-konfidensbånd, én rude pr. indikator. " + " ".join(parts))


def _verdict_list(rows: pd.DataFrame) -> str:
    """'Bedre: 3. Tryghed (+4,1 pct.-point). Ingen påviselig ændring: ...' for the drawn rows."""
    parts = []
    for verdict, label in _VERDICT_GROUPS:
        chosen = rows[rows["verdict"] == verdict]
        if len(chosen):
            items = [f"{r.number}. {r.indicator} ({fmt.change(r.estimate, 'share')})" for r in chosen.itertuples()]
            parts.append(f"{label.capitalize()}: {_joined(items)}.")
    return " ".join(parts)


def estimates_text(table: pd.DataFrame) -> str:
    """The forest plot of a district's share indicators: each estimate, grouped by verdict."""
    rows = table[(table["unit"] == "share") & table["estimate"].notna()].sort_values("number")
    if rows.empty:
        return "Figuren viser ingen estimater: alle bygger på for få personer."
    return (f"Figuren viser for {_count(len(rows), 'andelsindikator', 'andelsindikatorer')} ændringen i bydelen minus "
            "ændringen i sammenligningsgruppen i procentpoint med 95 %-konfidensinterval. " + _verdict_list(rows))


def overview_text(district_names: list[str], tables: list[pd.DataFrame], keys: list[str]) -> str:
    """The overview figure: per district, how many share indicators fall under each verdict."""
    parts = []
    for name, table in zip(district_names, tables, strict=True):
        drawn = table.loc[keys]
        drawn = drawn[drawn["estimate"].notna()]
        counts = [f"{int((drawn['verdict'] == v).sum())} {label}" for v, label in _VERDICT_GROUPS]
        parts.append(f"{name}: {_joined(counts)}.")
    return (f"Figuren viser for hver bydel ændringen i bydelen minus ændringen i sammenligningsgruppen for "
            f"{_count(len(keys), 'andelsindikator', 'andelsindikatorer')}, i procentpoint med 95 %-konfidensinterval. "
            + " ".join(parts))


def love_plot_text(table: pd.DataFrame, threshold: float) -> str:
    """The Love plot: how many characteristics lie outside ±threshold before and after weighting."""
    if table.empty:
        return "Figuren viser ingen baggrundskendetegn: alle bygger på for få personer."

    def outside(column: str) -> str:
        far = table[column].abs() > threshold
        if not far.any():
            return f"ingen uden for ±{fmt.number(threshold, 1)}"
        largest = table.loc[far, column].abs().sort_values(ascending=False).index[:3]
        return f"{int(far.sum())} uden for ±{fmt.number(threshold, 1)} (størst: {_joined(map(str, largest))})"

    return (f"Figuren viser den standardiserede forskel mellem bydelen og sammenligningsgruppen for "
            f"{len(table)} baggrundskendetegn før og efter vægtningen. Før vægtningen ligger {outside('smd_before')}; "
            f"efter vægtningen ligger {outside('smd_after')}.")


def event_study_text(results: Mapping, indicators) -> str:
    """The event-study panels: per indicator the pre-trend test and the latest year's difference."""
    shown = [ind for ind in indicators if ind.key in results]
    if not shown:
        return "Ingen år-for-år-figur: for få personer i bydelen til at vise den."
    parts = []
    for ind in shown:
        result = results[ind.key]
        lags = result.lags
        latest = (f"; {int(lags['year'].iloc[-1])}: {fmt.change(lags['estimate'].iloc[-1], 'share')}"
                  if len(lags) else "")
        parts.append(f"{ind.number}. {ind.name}: test for ens udvikling før start p = "
                     f"{fmt.p_value(result.pretrend.p_value)}{latest}.")
    first = results[shown[0].key]
    reference = first.coefficients.loc[first.coefficients["reference"], "year"]
    against = f", målt i forhold til {int(reference.iloc[0])}" if len(reference) else ""
    return (f"Figuren viser for {_count(len(shown), 'registerindikator', 'registerindikatorer')} forskellen mellem "
            "bydelen og resten af kommunen "
            f"år for år i procentpoint{against}, med 95 %-konfidensinterval; strategien starter i "
            f"{first.event_year}. " + " ".join(parts))


def monitoring_grid_text(z: pd.DataFrame, start: int, end: int) -> str:
    """The heat map of every area x indicator: how many cells are clearly better or worse."""
    values = z.to_numpy(dtype=float)
    shown = np.isfinite(values)
    better, worse = int((values[shown] >= 2).sum()), int((values[shown] <= -2).sum())
    return (f"Farvekort over {_count(z.shape[0], 'småområde', 'småområder')} (rækker) og "
            f"{_count(z.shape[1], 'indikator', 'indikatorer')} (kolonner): "
            f"forskellen i udvikling fra {start} til {end} mod resten af kommunen, i standardfejl; grøn er bedre, "
            f"rød dårligere. {_count(int(shown.sum()), 'felt', 'felter')} er vist; {better} ligger mindst 2 "
            f"standardfejl bedre og {worse} mindst 2 standardfejl dårligere. Tomme felter bygger på for få personer.")


def threshold_text(result, n_areas: int) -> str:
    """The threshold figure: the areas, the fitted hinge and the threshold with its interval."""
    low, high = result.gamma_ci
    return (f"Punktdiagram over {_count(n_areas, 'småområde', 'småområder')}: beskæftigelsen (justeret for "
            "beboernes kendetegn) mod andelen fattige i området, med den tilpassede knæk-model. Tærsklen ligger ved "
            f"{fmt.share(result.gamma_hat, 1)} (95 %-konfidensinterval {fmt.share(low, 1)} til {fmt.share(high, 1)}); "
            "over tærsklen hænger 10 procentpoint flere fattige sammen med "
            f"{fmt.change(result.slope_above * 0.10, 'share')} i beskæftigelse.")


def decomposition_text(results, district_names: list[str]) -> str:
    """The decomposition bars: each shown district's gap, composition part and area part."""
    if not results:
        return "Søjlediagrammet viser ingen bydele: alle bygger på for få personer."
    parts = [f"{name}: forskel {fmt.change(r.gap, 'share')}, heraf sammensætning {fmt.change(r.composition, 'share')} "
             f"og områdeeffekt {fmt.change(r.area, 'share')}." for name, r in zip(district_names, results, strict=True)]
    return ("Søjlediagram: forskellen i beskæftigelse mellem bydelen og resten af kommunen, delt i sammensætning "
            "(hvem der bor der) og områdeeffekt, med 95 %-intervaller (Oaxaca-Blinder). " + " ".join(parts))
