"""Report sentences that depend on the parameter file or the data, never on one municipality.

Every sentence that names the strategy, a number of indicators, an indicator's number, an
example indicator or how the districts were surveyed is built here from :class:`Params` and the
prepared data, so that another municipality's parameter file (other districts, other or fewer
indicators, a sample instead of a whole-district survey) gets its own words (issue 13).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

import pandas as pd

from ..config import Indicator, Params
from . import format as fmt

__all__ = ["strategy_name", "join_words", "lower_first", "indicator_reference", "falling_is_better",
           "measurement_notes", "multiple_testing_item", "SurveyCoverage", "survey_coverage", "residents_phrase",
           "coverage_text", "planning_coverage_text", "outside_view_planning_text"]

DEFAULT_STRATEGY_PREFIX = "Socialt bydelsarbejde i"


def strategy_name(params: Params) -> str:
    """The strategy's name for titles: ``strategy.name`` in the parameter file, else
    "Socialt bydelsarbejde i <municipality>" (built from the municipality's name).
    """
    return params.strategy.name or f"{DEFAULT_STRATEGY_PREFIX} {params.municipality.name}"


def join_words(words: Sequence[str]) -> str:
    """'a', 'a og b', 'a, b og c' (Danish: no comma before "og")."""
    words = list(words)
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + " og " + words[-1]


def indicator_reference(indicators: Sequence[Indicator]) -> str:
    """'indikator 16' or 'indikatorerne 12, 13 og 14', with the numbers of the parameter file."""
    numbers = [str(i.number) for i in indicators]
    return ("indikator " if len(numbers) == 1 else "indikatorerne ") + join_words(numbers)


def lower_first(name: str) -> str:
    """'Resten af Kærbæk' -> 'resten af Kærbæk' (for use inside a sentence; proper nouns kept)."""
    return name[:1].lower() + name[1:]


def _of_kind(params: Params, *kinds: str) -> list[Indicator]:
    return [i for i in params.indicators if i.computation.kind in kinds]


def falling_is_better(params: Params) -> str | None:
    """'for fx kriminalitet og ensomhed er et fald en forbedring', from the first two indicators
    where lower is better; None when every indicator is better when higher.
    """
    lower = [lower_first(i.name) for i in params.indicators if i.direction == "lower_is_better"][:2]
    if not lower:
        return None
    return f"for {'fx ' if len(lower) > 1 else ''}{escape(join_words(lower))} er et fald en forbedring"


def measurement_notes(params: Params) -> str:
    """How the outside view and visitor counts are measured, for the indicators of those kinds that
    the parameter file has (empty when it has neither).
    """
    parts = []
    outside = _of_kind(params, "survey_outside_view")
    if outside:
        parts.append(f"Omverdenens oplevelse af bydelen ({indicator_reference(outside)}) spørges kun i resten af "
                     "kommunen og måles derfor som ændringen over tid, med resten af kommunens egne vægte (ikke "
                     "vægtet til at ligne bydelen).")
    visitors = _of_kind(params, "visitor_mean")
    if visitors:
        names = escape(join_words([visitors[0].name] + [lower_first(i.name) for i in visitors[1:]]))
        parts.append(f"{names} ({indicator_reference(visitors)}) måles med tællere og vises som procentvis "
                     "ændring.")
    return " ".join(parts)


def multiple_testing_item(n_indicators: int) -> str:
    """The list item on Holm's adjustment across the district's indicators (empty for one indicator)."""
    if n_indicators < 2:
        return ""
    return (f"<li><strong>Mange indikatorer.</strong> Med {n_indicators} indikatorer vil nogle se ud til at ændre "
            "sig alene ved tilfældighed. »Justeret p« er korrigeret efter Holms metode for alle bydelens "
            f"indikatorer; under 0,05 er en ændring, der holder, selv når der testes {n_indicators} ting på én "
            "gang.</li>")


# --- who was invited to the survey -------------------------------------------------------------------


@dataclass(frozen=True)
class SurveyCoverage:
    """How much of a district's population of the survey's ages one wave invited.

    ``invited``: persons sampled for the district in the wave (the sample table's "Udtrukne");
    ``residents``: the district's residents of the survey's ages in the register that year;
    ``full``: every one of those residents was invited (so a larger sample is not possible).
    """

    wave: int
    invited: int
    residents: int
    full: bool
    youngest: int = 18


def survey_coverage(data, district: str, wave: int) -> SurveyCoverage:
    """Compare the wave's sample of ``district`` with its residents in the register (``data`` is a
    :class:`~evaluering.indicators.prepare.PreparedData`).
    """
    youngest = int(getattr(data, "youngest", 18))
    reg = data.register
    residents = reg.loc[(reg["year"] == wave) & (reg["group"] == district) & (reg["age"] >= youngest), "person_id"]
    survey = data.survey
    sampled = survey.loc[(survey["wave"] == wave) & (survey["stratum"] == district), "person_id"]
    covered = bool(len(residents)) and bool(residents.isin(pd.Index(sampled.unique())).all())
    return SurveyCoverage(int(wave), int(len(sampled)), int(len(residents)), covered, youngest)


def residents_phrase(youngest: int) -> str:
    """'voksne beboere', or 'beboere på 16 år og derover' for a survey that starts below 18."""
    return "voksne beboere" if youngest >= 18 else f"beboere på {youngest} år og derover"


def _one_wave(c: SurveyCoverage, min_cell: int) -> str:
    """One wave's sentence; counts are left out when any of invited, residents or the difference
    (residents not invited) would rest on fewer than ``min_cell`` persons.
    """
    who = residents_phrase(c.youngest)
    if c.full:
        return f"Alle {who} i bydelen er inviteret"
    not_invited = c.residents - c.invited
    if min(c.invited, c.residents, not_invited) < min_cell:
        return f"En stikprøve af bydelens {who} er inviteret"
    return (f"En stikprøve på {fmt.number(c.invited, 0)} af bydelens {fmt.number(c.residents, 0)} {who} er "
            "inviteret")


def coverage_text(coverages: Sequence[SurveyCoverage], min_cell: int) -> str:
    """Who was invited, from the data: one sentence when every wave surveyed the whole district,
    else one per wave; then the comparison group.
    """
    comparison = "sammenligningsgruppen er en tilfældig stikprøve blandt voksne i resten af kommunen."
    if all(c.full for c in coverages):
        return f"{_one_wave(coverages[0], min_cell)}; {comparison}"
    waves = " ".join(f"Bølge {c.wave}: {_one_wave(c, min_cell)}." for c in coverages)
    return f"{waves} {comparison[:1].upper()}{comparison[1:]}"


def planning_coverage_text(coverage: dict[str, SurveyCoverage], names: dict[str, str]) -> str:
    """What can make the next wave more precise: only the response rate where a district was
    surveyed in full, also more invitations where it was sampled.
    """
    full = [k for k, c in coverage.items() if c.full]
    sampled = [k for k in coverage if k not in full]
    where = "bydelen" if len(coverage) == 1 else "bydelene"
    if not sampled:
        return (f"I {where} inviteres alle voksne, så kun en højere svarprocent kan gøre undersøgelsen mere "
                "præcis.")
    if not full:
        return (f"I {where} er en stikprøve af de voksne inviteret, så flere inviterede eller en højere svarprocent "
                "kan gøre undersøgelsen mere præcis.")
    full_names, sampled_names = (escape(join_words([names[k] for k in keys])) for keys in (full, sampled))
    return (f"I {full_names} er alle voksne inviteret, så kun en højere svarprocent kan gøre undersøgelsen mere "
            f"præcis dér; i {sampled_names} kan flere inviterede også hjælpe.")


def outside_view_planning_text(params: Params) -> str:
    """Where the outside view is asked (empty when the parameter file has no such indicator)."""
    outside = _of_kind(params, "survey_outside_view")
    if not outside:
        return ""
    return (f"Omverdenens oplevelse ({indicator_reference(outside)}) spørges i resten af kommunen og måles blandt "
            "de inviterede dér.")
