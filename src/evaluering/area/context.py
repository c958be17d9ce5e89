"""The area context of the Galster models: each area-year's share of adults on a low income.

Low income: an adult (18+) whose income is below half the median income of all the
municipality's adults that year, the relative poverty line the synthetic data are planted on.
One definition serves every area model (thresholds, multilevel, movers, decomposition).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..columns import require_columns
from .errors import AreaModelError

__all__ = ["INDIVIDUAL_CONTROLS", "area_poverty", "employment_context", "poverty_share"]

INDIVIDUAL_CONTROLS = ["age_band", "sex", "origin", "education", "poor"]


def area_poverty(
    register: pd.DataFrame,
    *,
    area: str = "area_id",
    time: str = "year",
    income: str = "income",
    age: str = "age",
    adult_age: int = 18,
    share_of_median: float = 0.5,
    threshold: float = 0.20,
) -> pd.DataFrame:
    """The register with the area-year poverty context added.

    Columns added: ``low_income`` (adult with income below ``share_of_median`` of the median
    income of all adults that year; missing under ``adult_age``), ``poverty_share`` (the share of
    adults with low income in the person's area that year) and ``poverty_above``
    (``max(0, poverty_share - threshold)``, the Galster threshold form the generator plants).
    """
    require_columns(register, (area, time, income, age), what="register", error=AreaModelError)
    adult = (register[age] >= adult_age).to_numpy()
    inc = register[income].to_numpy(dtype=float)
    years = register[time].to_numpy()
    half = pd.Series(inc[adult]).groupby(years[adult]).median() * share_of_median
    low = inc < pd.Series(years).map(half).to_numpy(dtype=float)
    out = register.copy()
    out["low_income"] = pd.array(np.where(adult, low, False), dtype="boolean")
    out.loc[~adult, "low_income"] = pd.NA
    keys = pd.MultiIndex.from_arrays([register[area].to_numpy(), years])
    codes, uniques = pd.factorize(keys)
    n = np.bincount(codes[adult], minlength=len(uniques))
    share = np.bincount(codes[adult], weights=low[adult].astype(float), minlength=len(uniques)) / np.maximum(n, 1)
    share = np.where(n > 0, share, np.nan)
    out["poverty_share"] = share[codes]
    out["poverty_above"] = np.maximum(0.0, out["poverty_share"] - threshold)
    return out


def poverty_share(register: pd.DataFrame, *, area: str = "area_id", year: str = "year", income: str = "income",
                  age: str = "age", min_age: int = 18, line: float = 0.5) -> pd.DataFrame:
    """One row per area and year: ``poverty_share`` and the number of adults ``n_adults``."""
    rows = area_poverty(register[[area, year, income, age]], area=area, time=year, income=income, age=age,
                        adult_age=min_age, share_of_median=line)
    adults = rows[rows[age] >= min_age]
    return (adults.groupby([area, year], observed=True)
            .agg(poverty_share=("poverty_share", "first"), n_adults=("poverty_share", "size")).reset_index())


def employment_context(register: pd.DataFrame, year: int, *, ages: tuple[int, int] = (30, 64)) -> pd.DataFrame:
    """Persons of working age in ``year`` with their employment (``y``) and their area's poverty share.

    Adds the individual controls the area models use: ``poor`` (the person's own income below the
    same poverty line), ``age_band`` (30-59 / 60-64). Controlling for a person's own poverty keeps
    composition (poor people work less) out of the area effect. An empty education (allowed for
    adults, e.g. education from abroad) is the category "unknown", so nobody is dropped.
    """
    shares = poverty_share(register)
    rows = register[(register["year"] == year) & register["age"].between(*ages)].merge(shares, on=["area_id", "year"])
    median = register.loc[(register["year"] == year) & (register["age"] >= 18), "income"].median()
    return rows.assign(
        y=rows["employed"].astype(float),
        poor=(rows["income"] < 0.5 * median).astype(float),
        age_band=np.where(rows["age"] >= 60, "60-64", "30-59"),
        education=rows["education"].astype(object).where(rows["education"].notna(), "unknown"),
    )
