"""The district report's robustness section for the register indicators, in plain Danish.

Two questions a reviewer asks of a district-versus-rest comparison (see
:mod:`evaluering.evaluation.robustness`): is the comparison fair (synthetic DiD on the small areas,
next to the plain DiD on the same areas, and which areas carry the weight), and how far could the
trends before the start be off before the conclusion changes (the breakdown value of Rambachan &
Roth's relative magnitudes).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from html import escape

import pandas as pd

from ..evaluation.robustness import NARROW_BELOW, PLACEBO_BELOW, SyntheticCheck, TrendSensitivity
from . import format as fmt
from .tables import _with_interval, html_table

__all__ = ["robustness_html", "breakdown_sentence"]

HEADER = ["Indikator", "Forskel i udvikling, småområder (DiD)", "Syntetisk DiD", "Størst vægt i sammenligningen",
          "Konklusionen holder op til M̄"]


def _estimate(fit, unit: str) -> str:
    """An SDID or area-DiD estimate with its interval on one line ('+1,8 pct.-point (−2,6 til +6,3)')."""
    return _with_interval(fit.estimate, fit.ci_low, fit.ci_high, unit, "difference", inline=True)


def _shown_breakdown(value: float) -> str:
    """A finite breakdown value rounded down to one decimal (the conclusion was verified to hold there;
    rounding to nearest could show a value where it no longer holds), or 'under 0,1' below 0.1.
    """
    tenths = math.floor(10 * value + 1e-9)
    return "under 0,1" if tenths < 1 else fmt.number(tenths / 10, 1)


def _leading_areas(check: SyntheticCheck, names: Mapping[str, str], count: int = 3) -> str:
    weights = check.sdid.unit_weights.sort_values(ascending=False).head(count)
    return ", ".join(f"{escape(str(names.get(str(area), area)))} ({fmt.share(w, 0)})" for area, w in weights.items())


def _breakdown_cell(sensitivity: TrendSensitivity | None) -> str:
    if sensitivity is None:
        return "ikke beregnet"
    if math.isnan(sensitivity.breakdown):
        return "ikke statistisk sikker"
    if math.isinf(sensitivity.breakdown):
        return "over alle prøvede værdier"
    return _shown_breakdown(sensitivity.breakdown)


def breakdown_sentence(name: str, sensitivity: TrendSensitivity) -> str:
    """The breakdown value of one indicator in words; it is about the event study's change (the
    year-by-year figure), not the small-area columns next to it.
    """
    subject = f"{name}: år-for-år-figurens ændring til {sensitivity.year}"
    if math.isnan(sensitivity.breakdown):
        return (f"{subject} er ikke statistisk sikker, heller ikke hvis bydelen og resten af kommunen ville have "
                "udviklet sig helt ens uden strategien; der er ingen konklusion at teste.")
    if math.isinf(sensitivity.breakdown):
        return f"{subject} er statistisk sikker for alle prøvede afvigelser."
    shown = _shown_breakdown(sensitivity.breakdown)
    if shown.startswith("under"):
        return (f"{subject} er kun statistisk sikker, hvis afvigelsen fra ens udvikling efter start er {shown} "
                "gange den største afvigelse mellem to år før start: selv en lille afvigelse kan ændre konklusionen.")
    return (f"{subject} er statistisk sikker, medmindre afvigelsen fra ens udvikling efter start er mere end {shown} "
            "gange den største afvigelse mellem to år før start.")


def robustness_html(checks: Mapping[str, tuple[SyntheticCheck | None, TrendSensitivity | None]],
                    table: pd.DataFrame, area_names: Mapping[str, str], min_cell: int) -> str:
    """The table and the sentences of the robustness section (``table``: the report's indicator table
    after suppression; an indicator whose change is not shown gets no row).
    """
    rows, persons, sentences = [], [], []
    by_key = table.set_index("key")
    for key, (check, sensitivity) in checks.items():
        row = by_key.loc[key]
        name = f"{row['number']}. {row['indicator']}"
        n = row["min_persons"]
        if check is not None:
            did, sdid = check.did, check.sdid
            cells = [_estimate(did, row["unit"]), _estimate(sdid, row["unit"]), _leading_areas(check, area_names)]
        else:
            cells = ["ikke beregnet"] * 3
        rows.append([escape(name), *cells, _breakdown_cell(sensitivity)])
        persons.append([None, n, n, None, n])
        if sensitivity is not None:
            sentences.append(f"<li>{escape(breakdown_sentence(name, sensitivity))}</li>")
    if not rows:
        return ""
    first = next((c for c, _ in checks.values() if c is not None), None)
    areas = (f" Bydelen har {first.n_district_areas} småområder, sammenligningen {first.n_comparison_areas} "
             f"småområder uden for bydelene, år {first.first_year}-{first.last_year}." if first else "")
    return (
        "<h3>Holder resultatet?</h3>"
        "<p>To kontroller af registerindikatorerne. <em>Er sammenligningen fair?</em> Syntetisk "
        "difference-in-differences (Arkhangelsky m.fl. 2021) vægter småområderne uden for bydelene og årene før "
        "start, så sammenligningen ligner bydelen før strategien. Ligger den tæt på den almindelige forskel i "
        "udvikling på de samme småområder, afhænger resultatet ikke af, hvilke områder bydelen sammenlignes med."
        f"{areas} <em>Hvor meget kan udviklingen før start have afveget?</em> Ændringen fra år-for-år-figuren "
        "kan være påvirket af, at bydelen og resten af kommunen ikke ville have udviklet sig ens. Kolonnen til "
        "højre viser, hvor stor den afvigelse efter start må være, målt i forhold til den største afvigelse "
        "mellem to år før start (M̄), før ændringen ikke længere er statistisk sikker (Rambachan og Roth 2023). "
        "En test for ens udvikling før start, der ikke afviser, beviser ikke ens udvikling; M̄ siger, hvor "
        "meget der skal til.</p>"
        + html_table(HEADER, rows, persons, text_columns=(0, 3), min_cell=min_cell)
        + (f"<ul>{''.join(sentences)}</ul>" if sentences else "")
        + "<p class='note'>" + " ".join(filter(None, [
            "Intervallerne er 95 %-konfidensintervaller.", _se_note(checks),
            "Småområdernes gennemsnit vægtes ikke med antallet af beboere: i de to kolonner tæller hvert "
            "småområde lige meget, mens hver beboer tæller lige meget i indikatortabellen og år-for-år-figuren, "
            "så tallene kan afvige fra dem uden at nogen af dem er forkerte."])) + "</p>"
    )


def _se_note(checks: Mapping[str, tuple[SyntheticCheck | None, TrendSensitivity | None]]) -> str:
    """How the intervals of the two small-area columns are found, and why (see ``se_method_for``)."""
    done = [check for check, _ in checks.values() if check is not None]
    methods = {check.sdid.se_method for check in done}
    texts = []
    if "placebo" in methods:
        texts.append(
            "For de to kolonner med småområder er usikkerheden fundet med placebo-metoden (Arkhangelsky m.fl. 2021, "
            "afsnit 5): beregningen gentages mange gange med lige så mange tilfældigt valgte småområder uden for "
            "bydelene i bydelens sted, og spredningen af disse placebo-resultater er usikkerheden. Den bruges, når "
            f"bydelen har færre end {PLACEBO_BELOW} småområder: den anden metode (jackknife, ét småområde udeladt "
            "ad gangen) hviler så på for få områder til at være pålidelig. Placebo-metoden forudsætter, at "
            "bydelens småområder svinger lige så meget fra år til år som de andre.")
        if min(c.n_district_areas for c in done if c.sdid.se_method == "placebo") < NARROW_BELOW:
            texts.append(
                "I simulationer med en bydel på tre småområder og 30 andre småområder dækkede 95 %-intervallet "
                "for syntetisk DiD den indlagte effekt i ca. 90 % af tilfældene (for den almindelige DiD i 94 %): "
                f"når bydelen har færre end {NARROW_BELOW} småområder, kan intervallet for syntetisk DiD altså "
                "være lidt for smalt.")
    if "jackknife" in methods:
        many = min(c.n_district_areas for c in done if c.sdid.se_method == "jackknife") >= PLACEBO_BELOW
        texts.append(
            "For de to kolonner med småområder er usikkerheden fundet med jackknife-metoden (Arkhangelsky m.fl. "
            "2021, afsnit 5; ét småområde udeladt ad gangen)"
            + (f", da bydelen har mindst {PLACEBO_BELOW} småområder." if many else "."))
    return " ".join(texts)
