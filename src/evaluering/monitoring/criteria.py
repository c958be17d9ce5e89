"""The statutory criteria for deprived housing areas (almenboligloven §§ 61 a and 61 b).

§ 61 a, stk. 1: an area is *deprived* (udsat boligområde) when at least 2 of these 4 hold:

1. over 40 % of the residents aged 18-64 are outside work and education (mean of the latest 2 years);
2. the share of residents convicted under the criminal code, the weapons act or the drugs act is
   at least 3 times the national average (mean of the latest 2 years);
3. over 60 % of the residents aged 30-59 have only primary school;
4. the mean gross income of the taxpayers aged 15-64, students excluded, is under 55 % of the
   mean for the same group in the region.

§ 61 b: a *prevention area* (forebyggelsesområde) uses 30 % / 2 times / 60 % / 65 % instead.
The law applies both to housing areas of at least 1,000 residents (§ 61 a, stk. 3); smaller
areas are computed all the same and marked.

How the register contract's columns are read:

- outside work or education: neither ``employed`` nor ``in_education``, ages 18-64;
- convicted: ``convicted``, among residents aged 15 and over (Danmarks Statistik's base);
- only primary school: ``education == "primary"`` among 30-59-year-olds whose education is
  recorded (an empty education is left out of the denominator rather than counted as primary);
- income: mean ``income`` of 15-64-year-olds not in education whose income is recorded (the
  register's stand-in for "taxpayers").

Averaging: the law computes criteria 1 and 2 "as the mean over the latest 2 years". Here they pool
the person-rows of the years ``year - average_years + 1`` to ``year`` that are in the data (so
with only ``year`` delivered, ``year`` alone is used); the pooled share is the mean of the
yearly shares weighted by each year's number of persons, which for areas of stable size is the
plain mean of the two years. The years used are reported in ``years_averaged``. The national
conviction rate given should be averaged the same way. Criteria 3 and 4 and the resident count
use ``year`` alone, as the law states.

Thresholds follow the law's wording: "over" and "under" are strict, "at least" includes the
limit. Comparisons allow for floating-point rounding (relative 1e-9), so that 2 of 5 persons is
exactly 40 % and not met, and a share of exactly 3 times the national rate is met.

§ 61 b also requires that over 30 % of the residents are non-Western immigrants or descendants
(``origin == "non_western"``, all ages, ``year``): ``prevention_area`` applies that condition
(``prevention_non_western``) when the register has ``origin``; without it, only the four criteria
are counted. A *parallel society* (§ 61 a, stk. 2: a deprived area where over 50 % are) is not
classified; ``non_western_share`` lets a reader apply it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from numbers import Real
from pathlib import Path

import numpy as np
import pandas as pd

from ..columns import require_columns
from ..heap import with_reused_memory
from .criteria_cells import CELL_COLUMNS, cells_from_frame, cells_from_parquet
from .errors import MonitoringError

__all__ = [
    "Thresholds",
    "DEPRIVED",
    "PREVENTION",
    "CRITERIA_LABELS",
    "criteria_from_cells",
    "deprived_area_criteria",
    "statutory_criteria",
    "statutory_criteria_from_parquet",
]

REQUIRED_COLUMNS = ("year", "area_id", "age", "education", "in_education", "employed", "income", "convicted")
FLAG_COLUMNS = ("in_education", "employed", "convicted")
RELATIVE_TOLERANCE = 1e-9
NON_WESTERN_PREVENTION = 0.30  # § 61 b: over 30 % non-Western immigrants and descendants


@dataclass(frozen=True)
class Thresholds:
    """The four limits of one paragraph, in the law's terms."""

    outside_work_education: float  # share of 18-64-year-olds; met when the share is over it
    convictions: float  # multiple of the national rate; met when the ratio is at least it
    primary_only: float  # share of 30-59-year-olds; met when the share is over it
    low_income: float  # share of the regional mean income; met when the ratio is under it


DEPRIVED = Thresholds(outside_work_education=0.40, convictions=3.0, primary_only=0.60, low_income=0.55)  # § 61 a
PREVENTION = Thresholds(outside_work_education=0.30, convictions=2.0, primary_only=0.60, low_income=0.65)  # § 61 b

# Danish labels of the output columns, for reports.
CRITERIA_LABELS = {
    "area": "Område",
    "residents": "Beboere",
    "below_population_threshold": "Under befolkningsgrænsen (1.000 beboere)",
    "years_averaged": "År i gennemsnittet (kriterie 1 og 2)",
    "outside_work_education_share": "Andel 18-64-årige uden for arbejde og uddannelse",
    "conviction_share": "Andel dømte blandt beboere på 15 år og derover",
    "conviction_ratio": "Andel dømte i forhold til landsgennemsnittet",
    "primary_only_share": "Andel 30-59-årige med alene grundskole",
    "mean_income": "Gennemsnitlig bruttoindkomst, 15-64-årige ekskl. uddannelsessøgende (kr.)",
    "income_ratio": "Bruttoindkomst i forhold til regionen",
    "outside_work_education": "Kriterie 1 opfyldt: over 40 % uden for arbejde og uddannelse",
    "convictions": "Kriterie 2 opfyldt: mindst 3 gange landsgennemsnittet dømte",
    "primary_only": "Kriterie 3 opfyldt: over 60 % med alene grundskole",
    "low_income": "Kriterie 4 opfyldt: indkomst under 55 % af regionens",
    "n_criteria": "Antal opfyldte kriterier (§ 61 a)",
    "deprived": "Udsat boligområde (§ 61 a)",
    "prevention_outside_work_education": "Kriterie 1 (§ 61 b): over 30 % uden for arbejde og uddannelse",
    "prevention_convictions": "Kriterie 2 (§ 61 b): mindst 2 gange landsgennemsnittet dømte",
    "prevention_primary_only": "Kriterie 3 (§ 61 b): over 60 % med alene grundskole",
    "prevention_low_income": "Kriterie 4 (§ 61 b): indkomst under 65 % af regionens",
    "n_prevention_criteria": "Antal opfyldte kriterier (§ 61 b)",
    "prevention_area": "Forebyggelsesområde (§ 61 b, kriterierne)",
    "non_western_share": "Andel indvandrere og efterkommere fra ikke-vestlige lande",
}


# --- comparisons in the law's terms -------------------------------------------------------------


def _close(value: pd.Series, limit: float) -> pd.Series:
    return pd.Series(np.isclose(value, limit, rtol=RELATIVE_TOLERANCE, atol=0.0), index=value.index)


def _over(value: pd.Series, limit: float) -> pd.Series:
    return (value > limit) & ~_close(value, limit)


def _under(value: pd.Series, limit: float) -> pd.Series:
    return (value < limit) & ~_close(value, limit)


def _at_least(value: pd.Series, limit: float) -> pd.Series:
    return (value >= limit) | _close(value, limit)


# --- checking and shaping the input ----------------------------------------------------------------


def _reference(name: str, value) -> float:
    """A positive, finite reference value, or a MonitoringError naming the argument."""
    if value is None:
        raise MonitoringError(f"{name} is missing: give the published reference value")
    if isinstance(value, bool) or not isinstance(value, Real):
        raise MonitoringError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if math.isnan(value) or math.isinf(value) or value <= 0:
        raise MonitoringError(f"{name} must be a positive number, got {value!r}")
    return value


def _area_keys(register: pd.DataFrame, area) -> pd.Series:
    """The area each register row is counted in (NaN: not in any reported area)."""
    if area is None:
        return register["area_id"]
    if isinstance(area, str):
        require_columns(register, [area], what="register (the column given as area)", error=MonitoringError)
        return register[area]
    if isinstance(area, (pd.Series, Mapping)):
        return register["area_id"].map(area)
    raise MonitoringError(
        f"area must be None, a column name or a mapping of area_id to area, got {type(area).__name__}")


def _prepared(register: pd.DataFrame, area) -> pd.DataFrame:
    """The columns the criteria use, with the reporting area in ``area`` (rows outside any area dropped)."""
    if not isinstance(register, pd.DataFrame):
        raise MonitoringError(f"register must be a DataFrame, got {type(register).__name__}")
    require_columns(register, REQUIRED_COLUMNS, what="register", error=MonitoringError)
    for column in ("year", "area_id", "age", *FLAG_COLUMNS):
        empty = int(register[column].isna().sum())
        if empty:
            raise MonitoringError(f"register column '{column}' has {empty} empty value(s); it may not be empty")
    keys = _area_keys(register, area)
    frame = pd.DataFrame(
        {
            "area": keys.astype(object),
            "year": register["year"].astype(np.int64),
            "age": register["age"].astype(float),
            "outside": ~(register["employed"].astype(bool) | register["in_education"].astype(bool)),
            "in_education": register["in_education"].astype(bool),
            "convicted": register["convicted"].astype(bool),
            "primary": register["education"].isin(["primary"]),
            "education_known": register["education"].notna(),
            "income": register["income"].astype(float),
        },
        index=register.index,
    )
    if "origin" in register.columns:
        frame["non_western"] = register["origin"].isin(["non_western"])
    frame = frame[frame["area"].notna()]
    return frame.assign(area=frame["area"].astype(str))


def _years_used(cells: pd.DataFrame, year: int, average_years: int) -> list[int]:
    present = set(cells["year"].unique().tolist())
    if year not in present:
        shown = f"{min(present)}-{max(present)}" if present else "none"
        raise MonitoringError(f"year {year} is not in the register (years present: {shown})")
    return [y for y in range(year - average_years + 1, year + 1) if y in present]


def _cell_mean(cells: pd.DataFrame, value: str, keys: list[str], group: str, when: str) -> tuple[pd.Series, pd.Series]:
    """Mean of a criterion value per area over ``cells`` and the persons it rests on; error if an
    area has none.
    """
    count, total = CELL_COLUMNS[value]
    sums = cells.groupby("area")[[count, total]].sum().reindex(keys)
    persons = sums[count].fillna(0).astype(np.int64)
    empty = persons.index[persons == 0].tolist()
    if empty:
        raise MonitoringError(
            f"area '{empty[0]}' has no {group} in {when}, so its share cannot be computed"
            + (f" (also: {', '.join(empty[1:6])})" if len(empty) > 1 else "")
        )
    return (sums[total] / persons).astype(float), persons


def _met(values: dict[str, pd.Series], limits: Thresholds) -> dict[str, pd.Series]:
    return {
        "outside_work_education": _over(values["outside_work_education_share"], limits.outside_work_education),
        "convictions": _at_least(values["conviction_ratio"], limits.convictions),
        "primary_only": _over(values["primary_only_share"], limits.primary_only),
        "low_income": _under(values["income_ratio"], limits.low_income),
    }


# --- the criteria ---------------------------------------------------------------------------------


def deprived_area_criteria(register: pd.DataFrame, year: int, *, area: str | pd.Series | Mapping | None = None,
                           **options) -> pd.DataFrame:
    """The § 61 a and § 61 b criteria for every area of ``register`` in ``year``: one row per area.

    ``options`` are :func:`criteria_from_cells`'s: ``national_conviction_rate``, the national
    share (not per cent) of residents 15+ convicted, and ``regional_income``, the region's mean gross
    income in DKK of 15-64-year-olds excluding students (both required and positive); ``areas``,
    ``average_years`` (2), ``min_residents`` (1000), ``thresholds`` and ``prevention_thresholds``.

    Areas are ``area_id`` by default. ``area`` computes other units: the name of a register column,
    or a Series/mapping from ``area_id`` to a key (e.g. the district of each small area; rows whose
    area maps to nothing are left out). ``areas`` lists the areas to report, in that order (e.g.
    the ``areas`` table's ids); each must have residents in ``year``. Without it, every area with
    residents in ``year`` is reported.

    Columns: ``area``, ``residents`` (all ages, ``year``), ``below_population_threshold``
    (residents < ``min_residents``), ``years_averaged``, the values behind the criteria
    (``outside_work_education_share``, ``conviction_share``, ``conviction_ratio``,
    ``primary_only_share``, ``mean_income``, ``income_ratio``), one boolean per § 61 a criterion
    (``outside_work_education``, ``convictions``, ``primary_only``, ``low_income``),
    ``n_criteria``, ``deprived`` (at least 2), the same with ``prevention_`` for § 61 b,
    ``n_prevention_criteria``, ``prevention_non_western`` (over 30 % non-Western; False without
    ``origin``), ``prevention_area`` (at least 2, and over 30 % non-Western when ``origin`` is
    there), ``non_western_share`` (NaN without an ``origin`` column) and the persons each value
    rests on (``persons_18_64`` and ``persons_15_plus`` as person-years over the averaged years,
    ``persons_30_59``, ``persons_income``). See the module docstring for how the register is read.

    Raises :class:`MonitoringError` for a missing or non-positive reference value, a register
    without the needed columns, a ``year`` not in the register, a listed area without residents
    in ``year``, or an area with nobody in an age group, so that a share cannot be computed.
    """
    return criteria_from_cells(cells_from_frame(_prepared(register, area)), year, **options)


def criteria_from_cells(
    cells: pd.DataFrame,
    year: int,
    *,
    national_conviction_rate: float | None = None,
    regional_income: float | None = None,
    areas: Iterable[str] | None = None,
    average_years: int = 2,
    min_residents: int = 1000,
    thresholds: Thresholds = DEPRIVED,
    prevention_thresholds: Thresholds = PREVENTION,
) -> pd.DataFrame:
    """The criteria of :func:`deprived_area_criteria` from the register's cells (area x year
    counts and sums, :mod:`.criteria_cells`): the same table, from a register of any size. The
    keyword arguments are :func:`deprived_area_criteria`'s (all but ``area``).
    """
    national = _reference("national_conviction_rate", national_conviction_rate)
    regional = _reference("regional_income", regional_income)
    if int(average_years) < 1:
        raise MonitoringError(f"average_years must be at least 1, got {average_years!r}")
    year = int(year)
    years = _years_used(cells, year, int(average_years))
    now, pooled = cells[cells["year"] == year], cells[cells["year"].isin(years)]
    residents = now.groupby("area")["residents"].sum()
    residents = residents[residents > 0]
    if areas is None:
        keys = sorted(residents.index)
    else:
        keys = [str(a) for a in areas]
        absent = [a for a in keys if a not in residents.index]
        if absent:
            raise MonitoringError(
                f"area '{absent[0]}' has no residents in {year}"
                + (f" (also: {', '.join(absent[1:6])})" if len(absent) > 1 else "")
            )
    span = f"{years[0]}-{years[-1]}" if len(years) > 1 else str(year)

    outside, n_outside = _cell_mean(pooled, "outside_work_education", keys, "residents aged 18-64", span)
    convicted, n_convicted = _cell_mean(pooled, "conviction", keys, "residents aged 15 and over", span)
    primary, n_primary = _cell_mean(now, "primary_only", keys, "residents aged 30-59 with education recorded",
                                    str(year))
    income, n_income = _cell_mean(now, "income", keys, "residents aged 15-64 outside education with income recorded",
                                  str(year))

    values = {
        "outside_work_education_share": outside,
        "conviction_share": convicted,
        "conviction_ratio": convicted / national,
        "primary_only_share": primary,
        "mean_income": income,
        "income_ratio": income / regional,
    }
    deprived = _met(values, thresholds)
    prevention = _met(values, prevention_thresholds)
    n_criteria = sum(c.astype(int) for c in deprived.values())
    n_prevention = sum(c.astype(int) for c in prevention.values())
    if "non_western" in now.columns:
        non_western = _cell_mean(now, "non_western", keys, "residents", str(year))[0]
        prevention_origin = _over(non_western, NON_WESTERN_PREVENTION)
    else:
        non_western = pd.Series(np.nan, index=keys)
        prevention_origin = pd.Series(True, index=keys)  # not known: the four criteria decide

    table = pd.DataFrame(
        {
            "residents": residents.reindex(keys).astype(np.int64),
            "below_population_threshold": residents.reindex(keys) < min_residents,
            "years_averaged": ", ".join(str(y) for y in years),
            **values,
            **deprived,
            "n_criteria": n_criteria,
            "deprived": n_criteria >= 2,
            **{f"prevention_{name}": met for name, met in prevention.items()},
            "n_prevention_criteria": n_prevention,
            "prevention_non_western": prevention_origin & non_western.notna(),
            "prevention_area": (n_prevention >= 2) & prevention_origin,
            "non_western_share": non_western,
            "persons_18_64": n_outside,
            "persons_15_plus": n_convicted,
            "persons_30_59": n_primary,
            "persons_income": n_income,
        },
        index=pd.Index(keys, name="area"),
    )
    return table.reset_index()


def _parameter_file_options(params, year: int | None) -> tuple[int, dict]:
    """The year (default ``reference_year``) and the criteria's reference values and population
    threshold from the parameter file's ``monitoring`` block.
    """
    settings = params.monitoring
    if settings is None:
        raise MonitoringError("the parameter file has no 'monitoring' block with the reference values")
    options = {"national_conviction_rate": settings.national_conviction_rate,
               "regional_income": settings.regional_income, "min_residents": settings.min_residents}
    return (settings.reference_year if year is None else year), options


@with_reused_memory
def statutory_criteria(data, year: int | None = None, *, by: str = "area") -> pd.DataFrame:
    """The criteria for the small areas (``by="area"``) or the districts (``by="district"``) of a
    prepared dataset (:func:`evaluering.indicators.prepare`), with the reference values, the year
    (default ``reference_year``) and the population threshold of the parameter file's
    ``monitoring`` block. Area rows get the ``district`` they belong to (empty in the rest).
    """
    year, options = _parameter_file_options(data.params, year)
    district_of_area = data.dataset.district_of_area
    if by not in ("area", "district"):
        raise MonitoringError(f"by must be 'area' or 'district', got {by!r}")
    table = deprived_area_criteria(data.dataset.register, year,
                                   area=district_of_area.dropna() if by == "district" else None, **options)
    if by == "area":
        table.insert(1, "district", table["area"].map(district_of_area).astype(object))
    return table


def statutory_criteria_from_parquet(register: str | Path, params, year: int | None = None, *,
                                    memory_limit: str = "4GB") -> pd.DataFrame:
    """The criteria for every area of a register in Parquet (a file, or a directory partitioned by
    year), read out of core through DuckDB: for a register too large for memory, e.g. the national
    one each 1 December. The reference values, year and population threshold come from the
    parameter file's ``monitoring`` block, as in :func:`statutory_criteria`; the table is the same.
    """
    year, options = _parameter_file_options(params, year)
    return criteria_from_cells(cells_from_parquet(register, memory_limit=memory_limit), year, **options)
