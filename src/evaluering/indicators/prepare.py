"""Prepare the input tables once for indicator computation: who belongs to which group, weights.

Every person-row gets a ``group``: the key of the district whose small areas they live in, or
``"comparison"`` for the rest of the municipality. Each survey wave gets its calibrated design
(non-response classes, then raking to the register's residents of the survey's ages; see
``survey.waves``). The survey's ages start at 18, or at the youngest register age among the
sampled persons when that is lower (a survey from age 16 is weighted to the residents aged 16+).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..config import Params
from ..data.convert import categorical_of
from ..data.dataset import Dataset
from ..data.lookup import arrow_text, isin_values
from ..groups import COMPARISON  # re-exported: the comparison group's key
from ..heap import with_reused_memory
from ..survey.design import SurveyDesign
from ..survey.nonresponse import age_band
from ..survey.waves import population_cells, wave_weighting

__all__ = ["COMPARISON", "PreparedData", "group_of_area", "prepare"]

BACKGROUND = ("age", "sex", "origin", "education", "employed")  # register columns joined to the survey


@dataclass(frozen=True)
class PreparedData:
    """Input tables with group membership and weights attached (built by :func:`prepare`)."""

    params: Params
    register: pd.DataFrame  # + group
    survey: pd.DataFrame  # whole sample + group, stratum, background, weight (calibrated)
    designs: dict[int, SurveyDesign]  # the calibrated design of each wave (rows as in ``survey``)
    institutions: pd.DataFrame  # + group (child's residence)
    visitors: pd.DataFrame  # + group (counter's area), year
    dataset: Dataset
    # unit frames already built, by computation and periods (filled by ``units.unit_frame``), so
    # the tables above must not be changed in place
    _unit_frames: dict = field(default_factory=dict, init=False, repr=False, compare=False)
    # wave -> {stratum: what the weighting had to give up there, in Danish} (empty when nothing)
    weighting_notes: dict = field(default_factory=dict, compare=False)
    youngest: int = 18  # the survey's youngest age: its population is the residents this old and older

    @property
    def respondents(self) -> pd.DataFrame:
        """The survey rows of those who answered."""
        return self.survey[self.survey["responded"]]

    @property
    def groups(self) -> list[str]:
        """The districts' keys and the comparison group's, in the parameter file's order."""
        return [d.key for d in self.params.districts] + [COMPARISON]


def group_of_area(areas: pd.DataFrame) -> pd.Series:
    """area_id -> the key of its district, or ``"comparison"`` outside the districts."""
    district = areas.set_index(areas["area_id"].astype(str))["district"]
    return district.astype(object).where(district.notna(), COMPARISON).astype(str)


def _with_group(frame: pd.DataFrame, group_of_area: pd.Series) -> pd.DataFrame:
    """``frame`` with each row's group, looked up once per distinct area (a register has millions of rows)."""
    positions = _area_positions(frame["area_id"], group_of_area.index)
    if positions is None:
        positions, areas = pd.factorize(frame["area_id"].array, use_na_sentinel=False)
        groups = pd.Series(areas).map(group_of_area).astype(str).array
    else:
        groups = group_of_area.astype(str).array
    return frame.assign(group=pd.Series(groups.take(positions), index=frame.index))


def _register_with_group(register: pd.DataFrame, group_of_area: pd.Series) -> pd.DataFrame:
    """The register with each row's group. When the areas are a categorical (as validation gives
    them), the group is one too, spread from the few hundred areas' groups by the area codes: no ten
    million group texts (a city's register), and the unit frames take its codes as they are.
    """
    area = register["area_id"]
    if isinstance(area.dtype, pd.CategoricalDtype):
        group_per_area = pd.Series(area.cat.categories).map(group_of_area)
        if not group_per_area.isna().any():
            group = categorical_of(area.cat.codes.to_numpy(), group_per_area.astype(str))
            return register.assign(group=pd.Series(group, index=register.index))
    return _with_group(register, group_of_area)


def _area_positions(area_ids: pd.Series, known: pd.Index) -> np.ndarray | None:
    """Each row's position in ``known`` (the areas table's ids), by Arrow's hash lookup: about half
    the time of factorising millions of ids. None when the column is not Arrow text, ``known`` is not
    a set of ids, or a row's area is not in it; the caller then factorises the rows.
    """
    storage = arrow_text(area_ids)
    if storage is None or not known.is_unique or known.hasnans:
        return None
    found = pc.index_in(storage, value_set=pa.array(known.astype(object).tolist(), type=storage.type))
    return None if found.null_count else found.to_numpy()


def _adults(register: pd.DataFrame, year: int, youngest: int = 18) -> pd.DataFrame:
    """The register's residents of the survey's ages in a year (the raking population), as cells:
    each distinct stratum, age, sex and origin with its number of ``persons`` and its age band.

    Counted per cell, in the order the cells first appear in the register, so the raking margins
    are those of the persons (see ``survey.waves.population_cells``) without labelling millions of rows.
    """
    rows = np.flatnonzero((register["year"].to_numpy() == year) & (register["age"].to_numpy() >= youngest))
    adults = register[["group", "age", "sex", "origin"]].take(rows).rename(columns={"group": "stratum"})
    cells = population_cells(adults, ("stratum", "age", "sex", "origin"))
    return cells.assign(age_band=age_band(cells["age"], youngest))


def survey_youngest(ages: pd.Series) -> int:
    """The survey's youngest age: 18, or the youngest sampled person's age when lower."""
    known = ages.dropna()
    return int(min(18, known.min())) if len(known) else 18


def _rows_of(register: pd.DataFrame, persons: pd.Series, years: pd.Series, columns: list[str],
             person_codes: tuple[np.ndarray, pd.api.extensions.ExtensionArray] | None = None) -> pd.DataFrame:
    """The register's ``columns`` in the rows of ``persons`` in ``years`` (all a merge on person and
    year with a small table can match): a small fraction of a large register, so the merge does not
    hash every person-year, and only the matching rows of ``columns`` are copied.

    ``person_codes``: (code of each row's person id, the distinct ids), validation's; with them the
    persons are looked up among the distinct ids rather than in every row.
    """
    in_years = _in_years(register["year"].to_numpy(), years.dropna().unique())
    if person_codes is not None:
        codes, ids = person_codes
        found = isin_values(ids, persons)[codes]
        rows = np.flatnonzero(found if in_years is None else in_years & found)
    elif in_years is None:
        rows = np.flatnonzero(isin_values(register["person_id"], persons))
    else:
        rows = np.flatnonzero(in_years)
        rows = rows[isin_values(register["person_id"].take(rows), persons)]
    return register[columns].take(rows)


def _in_years(year: np.ndarray, years) -> np.ndarray | None:
    """Per row, whether its year is one of ``years``; None when every row's is (then no mask is made).

    A comparison per wanted year: cheaper than a set lookup of millions of rows for the few years
    a survey or an institutions table spans.
    """
    if year.dtype.kind not in "iu" or len(year) == 0:
        return np.isin(year, np.asarray(years))
    low, high = int(year.min()), int(year.max())
    wanted = {int(y) for y in years if low <= y <= high and float(y).is_integer()}
    if len(wanted) == high - low + 1:
        return None
    in_years = np.zeros(len(year), dtype=bool)
    for y in wanted:
        in_years |= year == y
    return in_years


def _survey_designs(dataset: Dataset, register: pd.DataFrame, group_of_area: pd.Series, params: Params,
                    person_codes=None):
    """The survey sample with register background, the calibrated design of every wave, the
    weighting notes of every wave and the survey's youngest age.
    """
    survey = dataset.survey
    background = _rows_of(dataset.register, survey["person_id"], survey["wave"], ["person_id", "year", *BACKGROUND],
                          person_codes)
    background = background.rename(columns={"year": "wave"})
    sample = _with_group(dataset.survey, group_of_area).merge(
        background, on=["person_id", "wave"], how="left", validate="one_to_one"
    )
    # Sampled persons without a register row in the wave year (e.g. moved in after 1 January) have
    # unknown background: they get their own 'unknown' classes, which collapse when sparse.
    for column in ("sex", "origin", "education"):
        sample[column] = sample[column].astype(object).where(sample[column].notna(), "unknown")
    sample["employed"] = sample["employed"].astype(object).where(sample["employed"].notna(), "unknown").astype(str)
    sample["stratum"] = np.where(sample["sample_group"] == "comparison", COMPARISON, sample["group"])
    youngest = survey_youngest(sample["age"])
    sample["age_band"] = age_band(sample["age"], youngest).where(sample["age"].notna(), "unknown")
    names = {d.key: d.name for d in params.districts} | {COMPARISON: "sammenligningsgruppen"}
    designs, parts, notes = {}, [], {}
    for wave, part in sample.groupby("wave", sort=True):
        weighting = wave_weighting(part, _adults(register, int(wave), youngest), wave=int(wave), names=names)
        designs[int(wave)] = weighting.design
        notes[int(wave)] = weighting.notes
        parts.append(weighting.design.data.assign(weight=weighting.design.weights.to_numpy()))
    return pd.concat(parts, ignore_index=True), designs, notes, youngest


@with_reused_memory
def prepare(dataset: Dataset, params: Params) -> PreparedData:
    """Attach groups and weights to the tables of ``dataset`` (done once per analysis)."""
    # validation's codes of the register's person ids (its rows, in order; None when not known)
    person_codes = None if dataset.person_codes is None else dataset.person_codes.of(dataset.register, "person_id")
    groups = group_of_area(dataset.areas)
    register = _register_with_group(dataset.register, groups)
    children = dataset.institutions
    residence = _rows_of(register, children["person_id"], children["year"], ["person_id", "year", "group", "area_id"],
                         person_codes)
    institutions = children.merge(residence, on=["person_id", "year"], how="inner")
    visitors = _with_group(dataset.visitors, groups)
    visitors = visitors.assign(year=visitors["date"].dt.year)
    survey, designs, notes, youngest = _survey_designs(dataset, register, groups, params, person_codes)
    data = PreparedData(params, register, survey, designs, institutions, visitors, dataset,
                        weighting_notes=notes, youngest=youngest)
    if person_codes is not None:  # they serve the units too
        data._unit_frames[("text_codes", "person_id")] = person_codes
    return data
