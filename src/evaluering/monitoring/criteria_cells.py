"""The statutory criteria's sufficient statistics: per area and year, the persons and the sums
behind each share and mean.

Every value the criteria use is a share or a mean over persons of an area in one or two years, so
the register reduces to one row per area and year: how many persons are in each criterion's age
group and how many of them count (or their income summed). The law's arithmetic then runs on
these cells (:func:`evaluering.monitoring.criteria.criteria_from_cells`). The cells come from a
register in memory (:func:`cells_from_frame`) or, for a register too large for memory such as the
national one, straight from its Parquet files through DuckDB (:func:`cells_from_parquet`); both give
the same cells.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import MonitoringError

__all__ = ["CELL_COLUMNS", "aggregate_cells", "cells_from_frame", "cells_from_parquet", "register_query"]

WORKING_AGE = (18, 64)
CONVICTION_AGE = (15, 200)
PRIMARY_AGE = (30, 59)
INCOME_AGE = (15, 64)

# (count of persons, sum over them) per criterion value; a share is sum / count
CELL_COLUMNS = {
    "outside_work_education": ("persons_18_64", "outside_18_64"),
    "conviction": ("persons_15_plus", "convicted_15_plus"),
    "primary_only": ("persons_30_59", "primary_30_59"),
    "income": ("persons_income", "income_sum"),
    "non_western": ("residents", "non_western"),
}
KEYS = ["area", "year"]


def cells_from_frame(frame: pd.DataFrame) -> pd.DataFrame:
    """Cells from the criteria's person frame (columns area, year, age, outside, in_education,
    convicted, primary, education_known, income and, if known, non_western).
    """
    age = frame["age"]
    working, adult = age.between(*WORKING_AGE), age.between(*CONVICTION_AGE)
    known_30_59 = age.between(*PRIMARY_AGE) & frame["education_known"]
    earner = age.between(*INCOME_AGE) & ~frame["in_education"] & frame["income"].notna()
    parts = pd.DataFrame({
        "area": frame["area"], "year": frame["year"],
        "residents": 1,
        "persons_18_64": working.astype(np.int64), "outside_18_64": (working & frame["outside"]).astype(np.int64),
        "persons_15_plus": adult.astype(np.int64), "convicted_15_plus": (adult & frame["convicted"]).astype(np.int64),
        "persons_30_59": known_30_59.astype(np.int64),
        "primary_30_59": (known_30_59 & frame["primary"]).astype(np.int64),
        "persons_income": earner.astype(np.int64), "income_sum": frame["income"].where(earner, 0.0),
    })
    if "non_western" in frame.columns:
        parts["non_western"] = frame["non_western"].astype(np.int64)
    return parts.groupby(KEYS, sort=True).sum().reset_index()


def aggregate_cells(cells: pd.DataFrame, area: Mapping | pd.Series) -> pd.DataFrame:
    """Cells of larger units: each area's cells added into the unit ``area`` maps it to (e.g. the
    district of each small area); areas that map to nothing are left out.
    """
    mapped = cells.assign(area=cells["area"].map(area))
    mapped = mapped[mapped["area"].notna()]
    return mapped.assign(area=mapped["area"].astype(str)).groupby(KEYS, sort=True).sum().reset_index()


def _sql_sums() -> str:
    """The cell sums in SQL, from the same age groups as :func:`cells_from_frame`."""
    def within(ages: tuple[int, int]) -> str:
        return f"age BETWEEN {ages[0]} AND {ages[1]}"

    earner = f"{within(INCOME_AGE)} AND NOT in_education"
    return ", ".join([
        f"SUM(({within(WORKING_AGE)})::BIGINT) AS persons_18_64",
        f"SUM(({within(WORKING_AGE)} AND outside)::BIGINT) AS outside_18_64",
        f"SUM(({within(CONVICTION_AGE)})::BIGINT) AS persons_15_plus",
        f"SUM(({within(CONVICTION_AGE)} AND convicted)::BIGINT) AS convicted_15_plus",
        f"SUM(({within(PRIMARY_AGE)} AND known)::BIGINT) AS persons_30_59",
        f"SUM(({within(PRIMARY_AGE)} AND known AND primary_only)::BIGINT) AS primary_30_59",
        f"SUM(({earner} AND income IS NOT NULL)::BIGINT) AS persons_income",
        f"COALESCE(SUM(CASE WHEN {earner} THEN income END), 0) AS income_sum",
    ])


def _source(path: Path) -> str:
    """DuckDB's reader for one Parquet file or a directory of them (Hive-partitioned by year)."""
    if path.is_dir():
        return f"read_parquet('{(path / '**' / '*.parquet').as_posix()}', hive_partitioning = true)"
    return f"read_parquet('{path.as_posix()}')"


@contextmanager
def register_query(register: str | Path, *, memory_limit: str, threads: int | None) -> Iterator[tuple]:
    """A DuckDB connection and the SQL source of a register in Parquet (a file, or a directory
    partitioned by year). DuckDB's own errors (a column of the wrong type, a broken file) become a
    :class:`MonitoringError` naming the register, as the in-memory path's checks do.
    """
    import duckdb

    path = Path(register)
    if not path.exists():
        raise MonitoringError(f"{path}: no register there")
    con = duckdb.connect(config={"memory_limit": memory_limit, **({"threads": threads} if threads else {})})
    try:
        yield con, _source(path)
    except duckdb.Error as exc:
        raise MonitoringError(f"{path}: cannot be read as a register: {str(exc).splitlines()[0]}") from None
    finally:
        con.close()


def cells_from_parquet(path: str | Path, *, threads: int | None = None, memory_limit: str = "4GB") -> pd.DataFrame:
    """Cells straight from a register in Parquet (a file, or a directory partitioned by year), in
    DuckDB: memory stays bounded by ``memory_limit`` whatever the register's size.

    Refuses, like the in-memory path, a register whose ``year``, ``area_id``, ``age``,
    ``employed``, ``in_education`` or ``convicted`` is empty anywhere.
    """
    path = Path(path)
    with register_query(path, memory_limit=memory_limit, threads=threads) as (con, source):
        columns = {row[0] for row in con.execute(f"DESCRIBE SELECT * FROM {source}").fetchall()}
        needed = ["year", "area_id", "age", "education", "in_education", "employed", "income", "convicted"]
        missing = [c for c in needed if c not in columns]
        if missing:
            raise MonitoringError(f"{path}: register lacks column(s) {', '.join(map(repr, missing))}")
        non_western = (", COALESCE(SUM((origin = 'non_western')::BIGINT), 0) AS non_western"
                       if "origin" in columns else "")
        never_empty = ("year", "area_id", "age", "in_education", "employed", "convicted")
        empties = con.execute(
            "SELECT " + ", ".join(f"COUNT(*) - COUNT({c})" for c in never_empty) + f" FROM {source}").fetchone()
        for column, empty in zip(never_empty, empties, strict=True):
            if empty:
                raise MonitoringError(f"register column '{column}' has {empty} empty value(s); it may not be empty")
        cells = con.execute(f"""
            WITH persons AS (
                SELECT CAST(area_id AS VARCHAR) AS area, CAST(year AS BIGINT) AS year, CAST(age AS DOUBLE) AS age,
                       NOT (employed OR in_education) AS outside, in_education, convicted,
                       COALESCE(education = 'primary', false) AS primary_only, education IS NOT NULL AS known,
                       CAST(income AS DOUBLE) AS income{", origin" if non_western else ""}
                FROM {source})
            SELECT area, year, COUNT(*) AS residents, {_sql_sums()}{non_western}
            FROM persons GROUP BY area, year ORDER BY area, year""").df()
    return cells.astype({c: np.int64 for c in cells.columns if c not in ("area", "year", "income_sum")}
                        | {"year": np.int64, "income_sum": float})
