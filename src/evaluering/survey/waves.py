"""The weighted design of one survey wave: non-response classes, then raking to register margins.

Each wave is its own stratified sample (strata: each district's residents, and the comparison
group). Respondents first carry the design weight of their weighting class (age band, sex,
origin within stratum, collapsed where respondents are few); the weights are then raked, within
each stratum, to the register's counts of adults by age band x sex and by origin. No finite
population correction is used: the district "census" still has random non-response, and the
with-replacement variance is the conservative choice.

Small strata degrade gracefully instead of failing the wave. A stratum whose raking margins have
a cell without respondents, or whose raking does not converge, is raked to coarser margins
(age band and origin, then age band alone, then only its number of adults); a stratum without
any respondent is left out of the wave. Each such step is recorded as a note in Danish
(:class:`WaveWeighting`), which the reports show.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd

from ..columns import require_columns
from .design import SurveyDesign
from .nonresponse import collapse_classes
from .steps import ConvergenceError
from .variance import SurveyError

__all__ = ["WEIGHTING_CLASSES", "RAKING_MARGINS", "RAKING_LEVELS", "WaveWeighting", "wave_design", "wave_weighting",
           "raking_margins"]

WEIGHTING_CLASSES = (
    ("stratum", "age_band", "sex", "origin"),
    ("stratum", "age_band", "origin"),
    ("stratum", "age_band"),
    ("stratum",),
)
RAKING_MARGINS = (("age_band", "sex"), ("origin",))
# raking margins per stratum, finest first; the last rakes a stratum to its number of adults only
RAKING_LEVELS = (RAKING_MARGINS, (("age_band",), ("origin",)), (("age_band",), ()), ((), ()))
LEVEL_TEXT = ("alder × køn og herkomst", "alder og herkomst", "alder", "antallet af voksne")
MARGIN_NAMES = ("margin:1", "margin:2")


@dataclass(frozen=True)
class WaveWeighting:
    """A wave's calibrated design and, in Danish, what the weighting had to give up (if anything)."""

    design: SurveyDesign
    notes: dict  # stratum -> one Danish sentence, for each degraded or left-out stratum
    levels: dict  # stratum -> index into RAKING_LEVELS used (0: the full margins)
    left_out: tuple[str, ...]  # strata without respondents, not weighted


def _label(frame: pd.DataFrame, columns: tuple[str, ...]) -> pd.Series:
    out = frame["stratum"].astype(str)
    for column in columns:
        out = out + "/" + frame[column].astype(str)
    return out


def _margin_labels(frame: pd.DataFrame, levels: Mapping[str, int], margin: int) -> pd.Series:
    """Label of raking margin ``margin`` (0 or 1) per row, at its stratum's level."""
    out = pd.Series(index=frame.index, dtype=object)
    for stratum, rows in frame.groupby("stratum", sort=False).groups.items():
        level = levels.get(stratum, 0)
        out.loc[rows] = _label(frame.loc[rows], RAKING_LEVELS[level][margin]).to_numpy()
    return out


def raking_margins(population: pd.DataFrame, sample: pd.DataFrame,
                   levels: Mapping[str, int] | None = None) -> tuple[pd.DataFrame, dict]:
    """Margin columns added to the sample and their population counts (adults in the register).

    ``levels``: stratum -> index into ``RAKING_LEVELS`` (0, the full margins, where not given).
    Categories the register cannot know (a sampled person without a register row: 'unknown')
    keep their own weight total, so they are carried along rather than calibrated.
    """
    levels = dict(levels or {})
    margins = {}
    for margin, name in enumerate(MARGIN_NAMES):
        sample = sample.assign(**{name: _margin_labels(sample, levels, margin).to_numpy()})
        counts = _margin_labels(population, levels, margin).value_counts().astype(float).to_dict()
        for category in set(sample[name]) - set(counts):
            counts[category] = float(sample.loc[sample[name] == category, "nonresponse_weight"].sum())
        margins[name] = counts
    return sample, margins


def _starting_levels(sample: pd.DataFrame, population: pd.DataFrame) -> dict[str, int]:
    """Per stratum, the finest raking level at which every population cell has a respondent."""
    respondents = sample[sample["nonresponse_weight"] > 0]
    levels = {}
    for stratum in sample["stratum"].unique():
        pop, resp = population[population["stratum"] == stratum], respondents[respondents["stratum"] == stratum]
        level = 0
        while level < len(RAKING_LEVELS) - 1 and any(  # distinct labels first: a register has millions of rows
                set(_label(pop, columns).unique()) - set(_label(resp, columns).unique())
                for columns in RAKING_LEVELS[level]):
            level += 1
        levels[stratum] = level
    return levels


def _rake(design: SurveyDesign, population: pd.DataFrame, levels: dict[str, int]) -> SurveyDesign:
    """Rake at the given levels, coarsening the smallest stratum still coarsenable while raking fails."""
    respondents = design.data.loc[design.weights.to_numpy() > 0, "stratum"].value_counts()
    while True:
        data, margins = raking_margins(population, design.data.assign(nonresponse_weight=design.weights.to_numpy()),
                                       levels)
        try:
            return design.with_columns(**{name: data[name] for name in margins}).rake(margins)
        except ConvergenceError:
            open_strata = [s for s, level in levels.items() if level < len(RAKING_LEVELS) - 1]
            if not open_strata:
                raise
            smallest = min(open_strata, key=lambda s: respondents.get(s, 0))
            levels[smallest] += 1


def wave_weighting(sample: pd.DataFrame, population: pd.DataFrame, *, min_respondents: int = 20,
                   wave: int | None = None, names: Mapping[str, str] | None = None) -> WaveWeighting:
    """The calibrated design of one wave, degraded where strata are small, with notes in Danish.

    ``sample``: everyone sampled that wave with stratum, age_band, sex, origin, responded and
    design_weight. ``population``: the register's adults in the wave year with stratum, age_band,
    sex and origin (the raking targets). ``names``: stratum -> name for the notes.
    """
    persons = ["stratum", "age_band", "sex", "origin"]
    require_columns(sample, [*persons, "responded", "design_weight"], what="survey sample", error=SurveyError)
    require_columns(population, persons, what="register population (raking targets)", error=SurveyError)
    names = dict(names or {})
    sample = sample.reset_index(drop=True)
    answered = sample.groupby("stratum")["responded"].apply(lambda r: bool(r.astype(bool).any()))
    left_out = tuple(str(s) for s in answered.index[~answered.to_numpy()])
    if left_out:
        sample = sample[~sample["stratum"].isin(left_out)].reset_index(drop=True)
        population = population[~population["stratum"].isin(left_out)]
    sample = sample.assign(weighting_class=collapse_classes(
        sample, [list(c) for c in WEIGHTING_CLASSES], min_respondents=min_respondents).to_numpy())
    design = SurveyDesign(sample, weights="design_weight", strata="stratum")
    design = design.adjust_nonresponse("responded", classes=["weighting_class"])
    levels = _starting_levels(design.data.assign(nonresponse_weight=design.weights.to_numpy()), population)
    design = _rake(design, population, levels)
    when = f" i {wave}" if wave is not None else ""
    notes = {s: f"Ingen i {names.get(s, s)} besvarede spørgeskemaet{when}; gruppen er udeladt af vægtningen, "
                "og dens spørgeskemaindikatorer kan ikke beregnes." for s in left_out}
    notes |= {s: f"Vægtningen{when}: for få besvarelser i {names.get(s, s)} til at vægte efter {LEVEL_TEXT[0]}; "
                 f"vægtet efter {LEVEL_TEXT[level]} i stedet." for s, level in levels.items() if level > 0}
    return WaveWeighting(design, notes, dict(levels), left_out)


def wave_design(sample: pd.DataFrame, population: pd.DataFrame, *, min_respondents: int = 20) -> SurveyDesign:
    """The calibrated design of one wave (see :func:`wave_weighting`, which also gives the notes)."""
    return wave_weighting(sample, population, min_respondents=min_respondents).design
