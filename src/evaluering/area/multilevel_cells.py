"""The multilevel area-effect models at national size: fitted from cells computed in DuckDB.

A random-intercept model needs the persons only through sums over cells of persons who share an
area and the values of every individual covariate (:func:`~evaluering.area.multilevel.multilevel_from_cells`):
the gaussian (RE)ML likelihood through each cell's persons, outcome sum and sum of squares, the
binomial one through each cell's persons and successes. With the area report's individual
controls (age band, sex, origin, education, own low income: all categorical) a national year of
about six million persons reduces to a few hundred thousand cells, so memory does not grow with
person-years.

* :func:`cells_from_frame`: the cells of a person frame (what :func:`multilevel` would fit).
* :func:`context_cells_from_parquet`: the cells of the area report's persons,
  :func:`~evaluering.area.context.employment_context` of one year, straight from a register in
  Parquet (one ``register.parquet`` or a directory ``register/year=YYYY/*.parquet``) through DuckDB,
  with the poverty share, the poverty line and the derived controls computed in the engine exactly
  as the in-memory code does.
* :func:`multilevel_from_parquet`: those cells fitted; equals
  ``multilevel(employment_context(register, year), ...)`` to rounding.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from ..monitoring.criteria_cells import register_query
from ..monitoring.errors import MonitoringError
from .context import INDIVIDUAL_CONTROLS
from .errors import AreaModelError
from .multilevel import (
    CELL_PERSONS,
    CELL_SUM,
    CELL_SUMSQ,
    MultilevelResult,
    _check_columns,
    _outcome,
    multilevel_from_cells,
)

__all__ = ["cells_from_frame", "context_cells_from_parquet", "multilevel_from_parquet"]

AREA = "area_id"
ADULT_AGE = 18  # the poverty line and share are over adults (evaluering.area.context)
POVERTY_LINE = 0.5  # share of the median adult income


def _names(columns: Sequence[str] | str) -> list[str]:
    return [columns] if isinstance(columns, str) else list(columns)


def cells_from_frame(df: pd.DataFrame, outcome: str, area: str, individual: Sequence[str] = (),
                     contextual: Sequence[str] = (), family: Literal["gaussian", "binomial"] = "gaussian",
                     ) -> pd.DataFrame:
    """One row per area and combination of individual covariate values present in ``df``: the
    ``area``, ``individual`` and ``contextual`` columns, ``persons``, ``outcome_sum`` and
    ``outcome_sumsq``. The outcome is checked as :func:`multilevel` checks it for ``family``.
    """
    individual, contextual = _names(individual), _names(contextual)
    if not isinstance(df, pd.DataFrame):
        raise AreaModelError("data must be a pandas DataFrame")
    _check_columns(df, outcome, area, individual, contextual)
    if len(df) == 0:
        raise AreaModelError("the data have no rows")
    y = _outcome(df[outcome], outcome, family)
    keys = [area, *individual, *contextual]
    frame = df[keys].assign(**{CELL_PERSONS: 1, CELL_SUM: y, CELL_SUMSQ: y * y})
    return (frame.groupby(keys, sort=True, observed=True)[[CELL_PERSONS, CELL_SUM, CELL_SUMSQ]].sum()
            .reset_index())


# ------------------------------------------------------------------------------------------------
# straight from Parquet


def _median(con, source: str, year: int) -> float:
    """The median adult income of ``year`` as pandas computes it: the middle value, or the mean of
    the two middle values (DuckDB's ``median`` interpolates and may differ in the last bit).
    """
    where = f"year = {year} AND age >= {ADULT_AGE} AND income IS NOT NULL"
    (count,) = con.execute(f"SELECT COUNT(*) FROM {source} WHERE {where}").fetchone()
    if count == 0:
        return float("nan")
    middle = [row[0] for row in con.execute(
        f"SELECT CAST(income AS DOUBLE) FROM {source} WHERE {where} ORDER BY income "
        f"LIMIT {2 - count % 2} OFFSET {(count - 1) // 2}").fetchall()]
    return float(np.mean(middle))


def _persons_sql(source: str, year: int, ages: tuple[int, int], half: float, columns: set[str]) -> str:
    """The persons of :func:`~evaluering.area.context.employment_context` in SQL: the register's
    columns of ``year`` and ``ages`` plus ``y``, ``poor``, ``age_band``, ``education`` (empty:
    "unknown"), ``poverty_share`` and ``n_adults``.
    """
    line = "NULL" if np.isnan(half) else repr(float(half))
    replace = " REPLACE (COALESCE(education, 'unknown') AS education)" if "education" in columns else ""
    employed = "CAST(employed AS DOUBLE) AS y, " if "employed" in columns else ""
    return f"""
        WITH register_year AS (SELECT * FROM {source} WHERE year = {year}),
        context AS (
            SELECT area_id, CAST(SUM(CAST(income < {line} AS BIGINT)) AS DOUBLE) / CAST(COUNT(*) AS DOUBLE)
                   AS poverty_share, COUNT(*) AS n_adults
            FROM register_year WHERE age >= {ADULT_AGE} GROUP BY area_id)
        SELECT r.*{replace}, {employed}
               CAST(COALESCE(income < {line}, false) AS DOUBLE) AS poor,
               CASE WHEN age >= 60 THEN '60-64' ELSE '30-59' END AS age_band,
               c.poverty_share, c.n_adults
        FROM register_year r JOIN context c USING (area_id)
        WHERE age BETWEEN {ages[0]} AND {ages[1]}"""


def context_cells_from_parquet(
    register: str | Path,
    year: int,
    outcome: str = "y",
    individual: Sequence[str] = INDIVIDUAL_CONTROLS,
    contextual: Sequence[str] = ("poverty_share",),
    *,
    ages: tuple[int, int] = (30, 64),
    threads: int | None = None,
    memory_limit: str = "4GB",
) -> pd.DataFrame:
    """The cells (:func:`cells_from_frame`) of ``employment_context(register, year, ages=ages)``,
    computed by DuckDB from the register's Parquet: one pass over ``year``, memory bounded by
    ``memory_limit`` whatever the register's size.

    ``outcome``, ``individual`` and ``contextual`` may name any register column or the derived
    ``y`` (employed), ``poor``, ``age_band``, ``poverty_share`` and ``n_adults``. Refuses, as the
    in-memory path does, missing values in a column used and an outcome that is not numeric or boolean.
    """
    individual, contextual = _names(individual), _names(contextual)
    path, year = Path(register), int(year)
    used = [outcome, AREA, *individual, *contextual]
    dup = sorted({c for c in used if used.count(c) > 1})
    if dup:
        raise AreaModelError(f"column(s) given more than once (outcome/area/individual/contextual): {dup}")
    try:
        with register_query(path, memory_limit=memory_limit, threads=threads) as (con, source):
            columns = {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
            needed = ["year", AREA, "age", "income"]
            missing = [c for c in needed if c not in columns]
            if missing:
                raise AreaModelError(f"{path}: register lacks column(s) {', '.join(map(repr, missing))}")
            persons = _persons_sql(source, year, ages, POVERTY_LINE * _median(con, source, year), columns)
            types = dict(con.execute(f"SELECT column_name, column_type FROM (DESCRIBE {persons})").fetchall())
            unknown = [c for c in used if c not in types]
            if unknown:
                raise AreaModelError(
                    f"{path}: no column {', '.join(map(repr, unknown))} in the register or derived from it "
                    f"(available: {', '.join(sorted(types))})")
            if not (types[outcome] == "BOOLEAN" or types[outcome] in _NUMERIC):
                raise AreaModelError(f"{path}: outcome '{outcome}' must be numeric or boolean, not {types[outcome]}")
            keys = [AREA, *individual, *contextual]
            counts = con.execute(
                "SELECT COUNT(*), " + ", ".join(f'COUNT(*) - COUNT("{c}")' for c in used)
                + f" FROM ({persons})").fetchone()
            if counts[0] == 0:
                raise AreaModelError(f"{path}: no persons aged {ages[0]}-{ages[1]} in year {year}")
            for column, empty in zip(used, counts[1:], strict=True):
                if empty:
                    raise AreaModelError(
                        f"{path}: column '{column}' has {empty} missing value(s) among the persons aged "
                        f"{ages[0]}-{ages[1]} in {year}; drop or impute them before fitting")
            key_sql = ", ".join(f'"{c}"' for c in keys)
            y = f'CAST("{outcome}" AS DOUBLE)'
            cells = con.execute(
                f"SELECT {key_sql}, COUNT(*) AS {CELL_PERSONS}, SUM({y}) AS {CELL_SUM}, "
                f"SUM({y} * {y}) AS {CELL_SUMSQ} FROM ({persons}) GROUP BY {key_sql} ORDER BY {key_sql}").df()
    except MonitoringError as exc:
        raise AreaModelError(str(exc)) from None
    return cells.astype({CELL_PERSONS: np.int64, CELL_SUM: float, CELL_SUMSQ: float})


_NUMERIC = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
            "FLOAT", "DOUBLE", "REAL"}


def multilevel_from_parquet(
    register: str | Path,
    year: int,
    outcome: str = "y",
    individual: Sequence[str] = INDIVIDUAL_CONTROLS,
    contextual: Sequence[str] = ("poverty_share",),
    family: Literal["gaussian", "binomial"] = "gaussian",
    *,
    ages: tuple[int, int] = (30, 64),
    mundlak: bool = False,
    reml: bool = True,
    nodes: int = 25,
    maxiter: int = 50,
    threads: int | None = None,
    memory_limit: str = "4GB",
) -> MultilevelResult:
    """The area report's random-intercept model (by default employment of 30-64-year-olds on the
    individual controls and the area's poverty share) for one register year, from the register's
    Parquet: :func:`context_cells_from_parquet` fitted by
    :func:`~evaluering.area.multilevel.multilevel_from_cells`. The result equals
    ``multilevel(employment_context(register, year, ages=ages), outcome, "area_id", individual,
    contextual, family, ...)`` to rounding; the areas are the register's ``area_id``.

    A covariate with many distinct values (a raw income, an exact age) makes as many cells as
    persons; band it first (as ``age_band``) for a national register.
    """
    cells = context_cells_from_parquet(register, year, outcome, individual, contextual, ages=ages, threads=threads,
                                       memory_limit=memory_limit)
    return multilevel_from_cells(cells, outcome, AREA, individual, contextual, family, mundlak=mundlak, reml=reml,
                                 nodes=nodes, maxiter=maxiter)
