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

The raking population may be given person by person or as cells (distinct combinations of stratum,
age band, sex and origin with a ``persons`` count, see :func:`population_cells`): a register of
millions of adults has only a few hundred such cells, and the margins are labelled and counted
per cell. Both give the same margins, in the same order, so the same weights.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..columns import require_columns
from .design import SurveyDesign
from .nonresponse import collapse_classes
from .steps import ConvergenceError
from .variance import SurveyError

__all__ = ["WEIGHTING_CLASSES", "RAKING_MARGINS", "RAKING_LEVELS", "POPULATION_COLUMNS", "PERSONS", "WaveWeighting",
           "wave_design", "wave_weighting", "raking_margins", "population_cells"]

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
POPULATION_COLUMNS = ("stratum", "age_band", "sex", "origin")  # what the raking margins are made of
PERSONS = "persons"  # in a raking population: how many adults a row stands for (1 when the column is absent)


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


class _Labels:
    """Each row's label for given columns, made once per set of columns for the whole frame (a row's
    label does not depend on which other rows are labelled), so strata share one pass.
    """

    def __init__(self, frame: pd.DataFrame):
        self.frame, self._made = frame, {}

    def __call__(self, columns: tuple[str, ...]) -> np.ndarray:
        if columns not in self._made:
            self._made[columns] = _label(self.frame, columns).to_numpy()
        return self._made[columns]


def _margin_labels(frame: pd.DataFrame, levels: Mapping[str, int], margin: int) -> pd.Series:
    """Label of raking margin ``margin`` (0 or 1) per row, at its stratum's level."""
    out = pd.Series(index=frame.index, dtype=object)
    labels = _Labels(frame)
    for stratum, rows in frame.groupby("stratum", sort=False).indices.items():
        level = levels.get(stratum, 0)
        out.iloc[rows] = labels(RAKING_LEVELS[level][margin])[rows]
    return out


def population_cells(population: pd.DataFrame, columns: tuple[str, ...] = POPULATION_COLUMNS) -> pd.DataFrame:
    """The population's distinct combinations of ``columns``, with how many persons each stands for.

    One row per cell, in the order of the cell's first row in ``population`` (so counting labels
    per cell keeps the order in which they first appear among the persons), with the values and
    dtypes of that row and a float ``persons`` column: the sum of ``population[PERSONS]`` over the
    cell's rows, or its number of rows without that column. Missing values form cells of their
    own; cells of no persons are dropped.
    """
    n = len(population)
    key, size = np.zeros(n, dtype=np.int64), 1
    for column in columns:  # one integer per combination (re-numbered before it could overflow)
        codes, uniques = pd.factorize(population[column], use_na_sentinel=False)
        if size * max(len(uniques), 1) >= 2**62:
            key, distinct = pd.factorize(key)
            size = len(distinct)
        key, size = key * max(len(uniques), 1) + codes, size * max(len(uniques), 1)
    key, _ = pd.factorize(key)
    # factorize numbers cells by first appearance: a cell starts where the running maximum grows
    first = np.flatnonzero(np.diff(np.maximum.accumulate(key), prepend=-1) > 0) if n else np.zeros(0, np.int64)
    weights = None
    if PERSONS in population.columns:
        weights = pd.to_numeric(population[PERSONS], errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        if not np.isfinite(weights).all() or (weights < 0).any():
            raise SurveyError(f"raking population: column '{PERSONS}' (how many adults a row stands for) must be "
                              "a finite, non-negative number in every row")
    persons = np.bincount(key, weights=weights, minlength=len(first)).astype(float)
    cells = population.iloc[first][list(columns)].reset_index(drop=True).assign(**{PERSONS: persons})
    return cells[cells[PERSONS] > 0].reset_index(drop=True) if (persons <= 0).any() else cells


def _counts(cells: pd.DataFrame, labels: pd.Series) -> pd.Series:
    """Persons per label, ordered as ``Series.value_counts`` orders the labels of the persons themselves
    (most first; ties in order of first appearance). Missing labels are not counted.
    """
    per_label = pd.Series(cells[PERSONS].to_numpy()).groupby(labels.to_numpy(), sort=False).sum()
    return per_label.sort_values(ascending=False, kind="stable")


def raking_margins(population: pd.DataFrame, sample: pd.DataFrame,
                   levels: Mapping[str, int] | None = None) -> tuple[pd.DataFrame, dict]:
    """Margin columns added to the sample and their population counts (adults in the register).

    ``population``: persons, or cells with a ``persons`` count (see :func:`population_cells`).
    ``levels``: stratum -> index into ``RAKING_LEVELS`` (0, the full margins, where not given).
    Categories the register cannot know (a sampled person without a register row: 'unknown')
    keep their own weight total, so they are carried along rather than calibrated.
    """
    levels = dict(levels or {})
    cells = population_cells(population)
    margins = {}
    for margin, name in enumerate(MARGIN_NAMES):
        sample = sample.assign(**{name: _margin_labels(sample, levels, margin).to_numpy()})
        counts = _counts(cells, _margin_labels(cells, levels, margin)).astype(float).to_dict()
        for category in set(sample[name].unique()) - set(counts):
            counts[category] = float(sample.loc[sample[name] == category, "nonresponse_weight"].sum())
        margins[name] = counts
    return sample, margins


def _starting_levels(sample: pd.DataFrame, population: pd.DataFrame) -> dict[str, int]:
    """Per stratum, the finest raking level at which every population cell has a respondent.

    ``population``: cells (see :func:`population_cells`), so labels are made once per cell.
    """
    respondents = sample[sample["nonresponse_weight"] > 0]
    pop_labels, resp_labels = _Labels(population), _Labels(respondents)
    levels = {}
    for stratum in sample["stratum"].unique():
        pop, resp = (population["stratum"] == stratum).to_numpy(), (respondents["stratum"] == stratum).to_numpy()
        level = 0
        while level < len(RAKING_LEVELS) - 1 and any(
                set(pd.unique(pop_labels(columns)[pop])) - set(pd.unique(resp_labels(columns)[resp]))
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
    sex and origin (the raking targets), one row per person or per cell with a ``persons`` count
    (see :func:`population_cells`). ``names``: stratum -> name for the notes.
    """
    persons = list(POPULATION_COLUMNS)
    require_columns(sample, [*persons, "responded", "design_weight"], what="survey sample", error=SurveyError)
    require_columns(population, persons, what="register population (raking targets)", error=SurveyError)
    population = population_cells(population)  # a few hundred cells instead of millions of adults
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
