"""The area trend monitoring's sufficient statistics: the register reduced to area x year cells
and, for the window's two years, to pairs of cells a person was counted in.

:func:`evaluering.monitoring.monitor_areas` works on the person-years of each register indicator.
Everything it computes is a function of sums:

- a level (weighted mean, its person-clustered se, the persons with and without the attribute)
  needs, per area and year, the persons ``n``, ``sum w``, ``sum w y``, ``sum w^2``, ``sum w^2 y``,
  ``sum w^2 y^2`` and the counts of ``y == 1``, ``y == 0`` and other values; a district or the
  municipality adds its areas' cells;
- the se of a unit's change against the rest of the municipality is the sum over persons of the
  squared summed influence ``(a_s + a_e)^2 = a_s^2 + a_e^2 + 2 a_s a_e`` of their rows at the
  window's start and end, times G / (G - 1). The squares come from the cells; the cross terms
  from the persons counted in both years, summed per pair (area at the start, area at the end):
  ``sum w_s w_e``, ``sum w_s w_e y_s``, ``sum w_s w_e y_e``, ``sum w_s w_e y_s y_e``; G is the
  number of persons counted in either year.

The statistics come from a prepared dataset in memory (:func:`trend_statistics`) or, for a
register too large for memory such as the national one, straight from its Parquet files through
DuckDB (:func:`trend_statistics_from_parquet`), with ``y`` defined in SQL as
:func:`evaluering.indicators.unit_frame` defines it (age band at the year, missing values left out,
a share's value set). :func:`monitoring_from_statistics` turns either into the same
:class:`~evaluering.monitoring.trends.AreaMonitoring` as :func:`monitor_areas`, through the same
helpers for the window, slopes, between-area variation and flags.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..columns import require_columns
from ..config import Indicator, RegisterMean, RegisterShare
from ..indicators import PreparedData, unit_frame
from ..indicators.prepare import group_of_area
from .criteria_cells import register_query
from .errors import MonitoringError
from .trends import (
    AREA,
    DISTRICT,
    AreaMonitoring,
    _tested_trends,
    _unit_changes,
    _window,
    monitored,
    stacked_levels,
)

__all__ = [
    "CELL_SUMS",
    "PAIR_SUMS",
    "TrendStatistics",
    "monitor_areas_from_parquet",
    "monitoring_from_statistics",
    "trend_statistics",
    "trend_statistics_from_parquet",
]

# per area x year cell; n_with / n_without / n_other: persons with y == 1, y == 0, any other y
CELL_SUMS = ["n", "sum_w", "sum_wy", "sum_w2", "sum_w2y", "sum_w2y2", "n_with", "n_without", "n_other"]
# per (area at the start, area at the end) for persons counted in both years of the window
PAIR_SUMS = ["n", "sum_ww", "sum_wwys", "sum_wwye", "sum_wwyy"]


@dataclass(frozen=True)
class TrendStatistics:
    """One indicator's sufficient statistics for the monitoring over the window ``start``-``end``."""

    indicator: Indicator
    cells: pd.DataFrame  # area, year, CELL_SUMS (every year with data)
    start: int
    end: int
    pairs: pd.DataFrame  # area_start, area_end, PAIR_SUMS
    clusters: int  # persons counted at the start or the end (G)


# --- the statistics from a prepared dataset in memory ------------------------------------------------


def _cells_from_units(units: pd.DataFrame) -> pd.DataFrame:
    """The area x year cells of a unit frame (one row per person-year)."""
    y, w = units["y"].to_numpy(float), units["weight"].to_numpy(float)
    persons = units["persons"].to_numpy()
    parts = pd.DataFrame({
        "area": units["area"], "year": units["period"], "n": persons, "sum_w": w, "sum_wy": w * y,
        "sum_w2": w * w, "sum_w2y": w * w * y, "sum_w2y2": w * w * y * y,
        "n_with": np.where(y == 1.0, persons, 0), "n_without": np.where(y == 0.0, persons, 0),
        "n_other": (~np.isin(y, (0.0, 1.0))).astype(np.int64),
    })
    return parts.groupby(["area", "year"], sort=True).sum().reset_index()


def _pairs_from_units(units: pd.DataFrame, start: int, end: int, key: str) -> tuple[pd.DataFrame, int]:
    """The pairs of cells of the persons counted at both ``start`` and ``end``, and G."""
    at = {}
    for year in (start, end):
        rows = units.loc[units["period"] == year, ["cluster", "area", "y", "weight"]]
        if rows["cluster"].duplicated().any():
            raise MonitoringError(f"indicator '{key}': a person is counted more than once in {year}")
        at[year] = rows
    both = at[start].merge(at[end], on="cluster", suffixes=("_s", "_e"))
    ww = both["weight_s"].to_numpy(float) * both["weight_e"].to_numpy(float)
    y_s, y_e = both["y_s"].to_numpy(float), both["y_e"].to_numpy(float)
    parts = pd.DataFrame({"area_start": both["area_s"], "area_end": both["area_e"], "n": 1, "sum_ww": ww,
                          "sum_wwys": ww * y_s, "sum_wwye": ww * y_e, "sum_wwyy": ww * y_s * y_e})
    pairs = parts.groupby(["area_start", "area_end"], sort=True).sum().reset_index()
    return pairs, len(at[start]) + len(at[end]) - len(both)


def trend_statistics(data: PreparedData, *, years: int | None = None, end_year: int | None = None,
                     indicators: Iterable[Indicator | str] | None = None) -> list[TrendStatistics]:
    """The statistics of each register indicator from a prepared dataset (its unit frames).

    ``years``, ``end_year`` and ``indicators`` as in :func:`monitor_areas`.
    """
    k, chosen = monitored(data.params, years, indicators)
    statistics = []
    for ind in chosen:
        units = unit_frame(data, ind)
        cells = _cells_from_units(units)
        start, end = _window(cells["year"].unique(), end_year, k, ind.key)
        pairs, clusters = _pairs_from_units(units, start, end, ind.key)
        statistics.append(TrendStatistics(ind, cells, start, end, pairs, clusters))
    return statistics


# --- the statistics straight from Parquet, in DuckDB ------------------------------------------------------


def _literal(value) -> str:
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float)):
        return repr(value)
    return "'" + str(value).replace("'", "''") + "'"


def _matching(values: list, column_type: str) -> list:
    """The values of a share that can equal a value of a column of ``column_type`` (compared as Python
    objects, as :func:`unit_frame` does: a string never equals a number, ``True == 1``).
    """
    if column_type in ("VARCHAR", "STRING", "TEXT") or column_type.startswith("ENUM"):
        return [v for v in values if isinstance(v, str)]
    if column_type == "BOOLEAN":
        return [bool(v) for v in values if not isinstance(v, str) and v in (0, 1)]
    return [v for v in values if not isinstance(v, str)]


def _sql_outcome(comp: RegisterShare | RegisterMean, types: dict[str, str]) -> tuple[str, str]:
    """(``y``, the condition for a person-year to count) in SQL, as :func:`unit_frame` defines them."""
    column, kind = f'"{comp.column}"', types[comp.column].upper()
    usable = f"age BETWEEN {comp.age[0]} AND {comp.age[1]} AND {column} IS NOT NULL"
    if kind in ("DOUBLE", "FLOAT", "REAL") or kind.startswith("DECIMAL"):
        usable += f" AND NOT isnan(CAST({column} AS DOUBLE))"  # NaN is missing, as for pandas
    if isinstance(comp, RegisterMean):
        return f"CAST({column} AS DOUBLE)", usable
    values = _matching(list(comp.values), kind)
    if not values:
        return "0.0", usable
    return f"CAST({column} IN ({', '.join(_literal(v) for v in values)}) AS DOUBLE)", usable


def _check_register(con, source: str, path: Path, needed: list[str]) -> dict[str, str]:
    """The register's column types; refuses missing columns and empty ids, years or areas."""
    types = {row[0]: row[1] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
    missing = [c for c in needed if c not in types]
    if missing:
        raise MonitoringError(f"{path}: register lacks column(s) {', '.join(map(repr, missing))}")
    keys = ("person_id", "year", "area_id")
    empties = con.execute("SELECT " + ", ".join(f"COUNT(*) - COUNT({c})" for c in keys) + f" FROM {source}").fetchone()
    for column, empty in zip(keys, empties, strict=True):
        if empty:
            raise MonitoringError(f"{path}: register column '{column}' has {empty} empty value(s); it may not be empty")
    return types


def _parquet_cells(con, source: str, y: str, usable: str) -> pd.DataFrame:
    cells = con.execute(f"""
        SELECT CAST(area_id AS VARCHAR) AS area, CAST(year AS BIGINT) AS year, COUNT(*) AS n,
               SUM(y) AS sum_wy, SUM(y * y) AS sum_w2y2, SUM((y = 1)::BIGINT) AS n_with,
               SUM((y = 0)::BIGINT) AS n_without, SUM((y <> 0 AND y <> 1)::BIGINT) AS n_other
        FROM (SELECT area_id, year, {y} AS y FROM {source} WHERE {usable})
        GROUP BY ALL""").df()
    # every register person-year weighs 1 (as in unit_frame): the weighted sums are counts and plain sums
    cells = cells.assign(sum_w=cells["n"].astype(float), sum_w2=cells["n"].astype(float), sum_w2y=cells["sum_wy"])
    cells = cells.astype({"year": np.int64, "n": np.int64, "n_with": np.int64, "n_without": np.int64,
                          "n_other": np.int64})
    return cells[["area", "year", *CELL_SUMS]].sort_values(["area", "year"], ignore_index=True)


def _parquet_pairs(con, source: str, y: str, usable: str, start: int, end: int, key: str,
                   path: Path) -> tuple[pd.DataFrame, int]:
    rows = (f"SELECT person_id, CAST(area_id AS VARCHAR) AS area, CAST(year AS BIGINT) AS year, {y} AS y "
            f"FROM {source} WHERE year IN ({start}, {end}) AND {usable}")
    counted = dict(((yr, (n, distinct)) for yr, n, distinct in con.execute(
        f"SELECT year, COUNT(*), COUNT(DISTINCT person_id) FROM ({rows}) GROUP BY year").fetchall()))
    for year, (n, distinct) in counted.items():
        if n != distinct:
            raise MonitoringError(f"{path}: indicator '{key}': {n - distinct} person(s) counted more than once "
                                  f"in {year}; the register has one row per person and year")
    pairs = con.execute(f"""
        WITH r AS ({rows})
        SELECT s.area AS area_start, e.area AS area_end, COUNT(*) AS n, SUM(s.y) AS sum_wwys,
               SUM(e.y) AS sum_wwye, SUM(s.y * e.y) AS sum_wwyy
        FROM (SELECT * FROM r WHERE year = {start}) s JOIN (SELECT * FROM r WHERE year = {end}) e USING (person_id)
        GROUP BY ALL""").df()
    pairs = pairs.assign(sum_ww=pairs["n"].astype(float)).astype({"n": np.int64})
    pairs = pairs[["area_start", "area_end", *PAIR_SUMS]].sort_values(["area_start", "area_end"], ignore_index=True)
    persons = sum(n for n, _ in counted.values())
    return pairs, int(persons - pairs["n"].sum())


def trend_statistics_from_parquet(register: str | Path, params, *, years: int | None = None,
                                  end_year: int | None = None, indicators: Iterable[Indicator | str] | None = None,
                                  memory_limit: str = "4GB", threads: int | None = None) -> list[TrendStatistics]:
    """The statistics of each register indicator straight from a register in Parquet (a file, or a
    directory partitioned by year), in DuckDB: memory stays bounded by ``memory_limit``.

    ``years``, ``end_year`` and ``indicators`` as in :func:`monitor_areas`; ``y`` as in
    :func:`evaluering.indicators.unit_frame` (every person-year weighs 1, clustered by person).
    """
    path = Path(register)
    k, chosen = monitored(params, years, indicators)
    with register_query(path, memory_limit=memory_limit, threads=threads) as (con, source):
        needed = ["person_id", "year", "area_id", "age", *dict.fromkeys(i.computation.column for i in chosen)]
        types = _check_register(con, source, path, needed)
        statistics = []
        for ind in chosen:
            y, usable = _sql_outcome(ind.computation, types)
            cells = _parquet_cells(con, source, y, usable)
            if cells.empty:
                raise MonitoringError(f"indicator '{ind.key}' has no data in {path}")
            start, end = _window(cells["year"].unique(), end_year, k, ind.key)
            pairs, clusters = _parquet_pairs(con, source, y, usable, start, end, ind.key, path)
            statistics.append(TrendStatistics(ind, cells, start, end, pairs, clusters))
    return statistics


# --- levels and trends from the statistics -------------------------------------------------------------


def _levels_of(cells: pd.DataFrame, by: str) -> pd.DataFrame:
    """Weighted mean, person-clustered se, persons and the disclosure count per ``by`` x year, from
    cells summed to that unit (as ``weighted_levels`` and ``disclosure_persons`` give them).
    """
    sums = cells.groupby([by, "year"], sort=True)[CELL_SUMS].sum()
    value = sums["sum_wy"] / sums["sum_w"]
    squares = (sums["sum_w2y2"] - 2 * value * sums["sum_w2y"] + value**2 * sums["sum_w2"]).clip(lower=0)
    n = sums["n"]
    share = sums["n_other"] == 0
    levels = pd.DataFrame({
        "value": value,
        "se": np.sqrt(squares / sums["sum_w"] ** 2 * n / (n - 1).where(n > 1)),
        "persons": n,
        "disclosure": pd.concat([n.astype(float), sums["n_with"].where(share).astype(float),
                                 sums["n_without"].where(share).astype(float)], axis=1).min(axis=1, skipna=True),
    })
    return levels.reset_index()


def _indicator_levels(cells: pd.DataFrame, group_of_area: pd.Series, municipality: str,
                      districts: list[str]) -> pd.DataFrame:
    """One indicator's yearly levels per small area, per district and for the whole municipality."""
    cells = cells.assign(group=cells["area"].map(group_of_area))
    return stacked_levels(_levels_of, cells, group_of_area, municipality, districts)


def _by_unit(frame: pd.DataFrame, unit: pd.Series, units: pd.Index, columns: list[str]) -> pd.DataFrame:
    """Sums of ``columns`` per unit (0 for a unit without rows), over the rows whose unit is known."""
    known = unit.notna()
    return frame.loc[known, columns].groupby(unit[known]).sum().reindex(units, fill_value=0).astype(float)


def _against_rest(statistics: TrendStatistics, unit_of_area: pd.Series) -> pd.DataFrame:
    """Per unit (``unit_of_area`` maps each area to its unit; NaN: in no unit): the change inside,
    the change in the rest and the person-clustered se of their difference, as ``_change_against_rest``.
    """
    cells, pairs, s, e = statistics.cells, statistics.pairs, statistics.start, statistics.end
    unit = cells["area"].map(unit_of_area)
    units = pd.Index(sorted(set(unit[(cells["year"] == s)].dropna()) & set(unit[(cells["year"] == e)].dropna())))
    sums = ["sum_w", "sum_wy", "sum_w2", "sum_w2y", "sum_w2y2"]
    cell = {}  # (end, member) -> sums of that cell, per unit
    for end, year in ((False, s), (True, e)):
        at = cells["year"] == year
        inside = _by_unit(cells[at], unit[at], units, sums)
        total = cells.loc[at, sums].sum().astype(float)
        cell[end, True], cell[end, False] = inside, total - inside

    def mean(key):
        return cell[key]["sum_wy"] / cell[key]["sum_w"]

    variance = pd.Series(0.0, index=units)
    for key, part in cell.items():
        m = mean(key)
        squares = part["sum_w2y2"] - 2 * m * part["sum_w2y"] + m**2 * part["sum_w2"]
        variance += squares / part["sum_w"] ** 2
    unit_s, unit_e = pairs["area_start"].map(unit_of_area), pairs["area_end"].map(unit_of_area)
    diagonal = _by_unit(pairs, unit_s.where(unit_s == unit_e), units, PAIR_SUMS)
    from_unit = _by_unit(pairs, unit_s, units, PAIR_SUMS)
    to_unit = _by_unit(pairs, unit_e, units, PAIR_SUMS)
    everyone = pairs[PAIR_SUMS].sum().astype(float)
    classes = {(True, True): diagonal, (True, False): from_unit - diagonal, (False, True): to_unit - diagonal,
               (False, False): everyone - from_unit - to_unit + diagonal}
    for (member_s, member_e), part in classes.items():
        sign = (-1.0 if member_s else 1.0) * (1.0 if member_e else -1.0)
        m_s, m_e = mean((False, member_s)), mean((True, member_e))
        cross = part["sum_wwyy"] - m_e * part["sum_wwys"] - m_s * part["sum_wwye"] + m_s * m_e * part["sum_ww"]
        variance += 2 * sign * cross / (cell[False, member_s]["sum_w"] * cell[True, member_e]["sum_w"])
    g = statistics.clusters
    change, rest_change = mean((True, True)) - mean((False, True)), mean((True, False)) - mean((False, False))
    result = pd.DataFrame({"rest_change": rest_change, "difference": change - rest_change,
                           "se": np.sqrt((g / max(g - 1, 1) * variance).clip(lower=0))})
    empty = pd.concat([part["sum_w"] <= 0 for part in cell.values()], axis=1).any(axis=1)
    return result.mask(empty)


def monitoring_from_statistics(statistics: list[TrendStatistics], group_of_area: pd.Series, *, municipality: str,
                               districts: list[str], years: int, alpha: float = 0.05) -> AreaMonitoring:
    """Levels and trends of every small area, district and the whole municipality from the statistics,
    the same as :func:`monitor_areas` gives from the person-years.

    ``group_of_area`` maps each area to its district's key, or ``"comparison"`` outside the districts.
    """
    unknown = sorted(set().union(*(set(s.cells["area"]) for s in statistics)) - set(group_of_area.index))
    if unknown:
        raise MonitoringError(f"area(s) {', '.join(map(repr, unknown[:5]))} of the register are not in the areas table")
    district_of_area = group_of_area.where(group_of_area.isin(districts))
    all_levels, all_trends = [], []
    for stats in statistics:
        levels = _indicator_levels(stats.cells, group_of_area, municipality, districts)
        levels.insert(0, "indicator", stats.indicator.key)
        trends = _unit_changes(levels, stats.start, stats.end)
        tested = pd.concat({AREA: _against_rest(stats, pd.Series(group_of_area.index, index=group_of_area.index)),
                            DISTRICT: _against_rest(stats, district_of_area)}, names=["level", "unit"])
        trends = trends.join(tested)
        all_levels.append(levels)
        all_trends.append(_tested_trends(trends, stats.indicator, stats.start, stats.end, alpha))
    return AreaMonitoring(levels=pd.concat(all_levels, ignore_index=True),
                          trends=pd.concat(all_trends, ignore_index=True), years=years, alpha=alpha)


def monitor_areas_from_parquet(register: str | Path, areas: pd.DataFrame, params, *, years: int | None = None,
                               end_year: int | None = None, indicators: Iterable[Indicator | str] | None = None,
                               alpha: float = 0.05, memory_limit: str = "4GB",
                               threads: int | None = None) -> AreaMonitoring:
    """The area monitoring of :func:`monitor_areas` for a register in Parquet too large for memory
    (a file, or a directory partitioned by year), read out of core through DuckDB.

    Parameters
    ----------
    register
        The register: ``register.parquet`` or a directory ``register/year=YYYY/*.parquet``.
    areas
        The areas table: ``area_id`` and ``district`` (empty outside the districts).
    params
        The parameter file's parameters (indicators, districts, municipality, ``monitoring``).
    years, end_year, indicators, alpha
        As in :func:`monitor_areas`.
    memory_limit, threads
        DuckDB's memory limit and number of threads (default: all cores).

    Returns
    -------
    AreaMonitoring
        The same levels and trends as :func:`monitor_areas` on the prepared register.
    """
    require_columns(areas, ("area_id", "district"), what="areas table", error=MonitoringError)
    groups = group_of_area(areas)
    k, chosen = monitored(params, years, indicators)
    statistics = trend_statistics_from_parquet(register, params, years=k, end_year=end_year, indicators=chosen,
                                               memory_limit=memory_limit, threads=threads)
    return monitoring_from_statistics(statistics, groups, municipality=params.municipality.key,
                                      districts=[d.key for d in params.districts], years=k, alpha=alpha)
