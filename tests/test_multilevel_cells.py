"""Random-intercept models from cells (evaluering.area.multilevel.multilevel_from_cells) and straight
from a register in Parquet (evaluering.area.multilevel_cells): the same fit as from person rows.

The reference is the person-level fit, itself checked against lme4 in test_area_multilevel.py: a
cell fit must equal it to rounding (1e-8), since both maximise the same likelihood written in sums.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaluering.area import AreaModelError, multilevel
from evaluering.area.context import INDIVIDUAL_CONTROLS, employment_context
from evaluering.area.multilevel import CELL_PERSONS, CELL_SUM, CELL_SUMSQ, multilevel_from_cells
from evaluering.area.multilevel_cells import cells_from_frame, context_cells_from_parquet, multilevel_from_parquet

DATA = Path(__file__).parent / "data"
TOL = 1e-8


def _persons(seed: int = 7, areas: int = 40) -> pd.DataFrame:
    """Persons in areas with categorical, binary and banded covariates, an area-level covariate and
    a planted area effect (so the area variance is well inside its range).
    """
    rng = np.random.default_rng(seed)
    sizes = rng.integers(12, 40, areas)
    area = np.repeat([f"O{j:02d}" for j in range(areas)], sizes)
    j = np.repeat(np.arange(areas), sizes)
    z = np.round(rng.uniform(0, 0.4, areas), 3)
    u = rng.normal(0, 0.6, areas)
    n = len(area)
    education = rng.choice(["primary", "vocational", "higher"], n, p=[0.3, 0.4, 0.3])
    female = rng.random(n) < 0.5
    band = rng.integers(0, 3, n)  # a banded age as a number (0, 1, 2)
    eta = -0.2 + 0.5 * (education == "higher") - 0.3 * female + 0.25 * band - 2.0 * z[j] + u[j]
    return pd.DataFrame({
        "area": area, "education": education, "female": female, "band": band.astype(float), "z": z[j],
        "yb": (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(int),
        "yc": np.round(eta + rng.normal(0, 1.0, n), 3),
    })


def _assert_same_fit(rows, cells):
    assert list(cells.estimate.index) == list(rows.estimate.index)
    assert list(cells.term_level) == list(rows.term_level)
    assert (cells.n_obs, cells.n_areas, cells.method) == (rows.n_obs, rows.n_areas, rows.method)
    assert cells.converged and rows.converged
    np.testing.assert_allclose(cells.estimate, rows.estimate, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(cells.se, rows.se, rtol=TOL, atol=TOL)
    np.testing.assert_allclose(cells.cov_params, rows.cov_params, rtol=TOL, atol=TOL)
    assert cells.area_variance == pytest.approx(rows.area_variance, rel=TOL, abs=TOL)
    assert cells.residual_variance == pytest.approx(rows.residual_variance, rel=TOL, abs=TOL)
    assert cells.loglik == pytest.approx(rows.loglik, rel=TOL, abs=TOL)
    pd.testing.assert_series_equal(cells.area_effects, rows.area_effects, rtol=TOL, atol=TOL)
    if rows.family == "binomial":
        assert cells.area_sd_se == pytest.approx(rows.area_sd_se, rel=TOL, abs=TOL)


# ------------------------------------------------------------------------------------------------
# cells equal persons


MODELS = {  # (outcome, family, reml)
    "gaussian REML": ("yc", "gaussian", True),
    "gaussian ML": ("yc", "gaussian", False),
    "binomial": ("yb", "binomial", True),
}


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("mundlak", [False, True])
@pytest.mark.parametrize("contextual", [[], ["z"]])
def test_cell_fit_equals_person_fit(model, mundlak, contextual):
    outcome, family, reml = MODELS[model]
    df = _persons()
    individual = ["education", "female", "band"]
    cells = cells_from_frame(df, outcome, "area", individual, contextual, family=family)
    assert len(cells) < 0.6 * len(df)  # persons really are pooled
    assert cells[CELL_PERSONS].sum() == len(df)
    rows = multilevel(df, outcome, "area", individual, contextual, family=family, mundlak=mundlak, reml=reml)
    pooled = multilevel_from_cells(cells, outcome, "area", individual, contextual, family=family, mundlak=mundlak,
                                   reml=reml)
    assert rows.area_variance > 0.05  # an interior optimum, not the boundary
    _assert_same_fit(rows, pooled)


def test_cells_of_an_lme4_reference_fit():
    """cbpp (lme4's binomial reference) has one covariate, so its 842 rows are 56 cells."""
    cbpp = pd.read_csv(DATA / "lme4_cbpp_binary.csv", dtype={"herd": str, "period": str})
    cells = cells_from_frame(cbpp, "y", "herd", ["period"], family="binomial")
    assert len(cells) == 56
    _assert_same_fit(multilevel(cbpp, "y", "herd", ["period"], family="binomial"),
                     multilevel_from_cells(cells, "y", "herd", ["period"], family="binomial"))


def test_balanced_reml_is_the_anova_estimator():
    """Balanced one-way layout: REML gives sigma^2 = MSW and tau^2 = (MSB - MSW) / n exactly
    (Dyestuff: 2451.25 and 1764.05), from persons and from one cell per batch.
    """
    dye = pd.read_csv(DATA / "lme4_dyestuff.csv")
    groups = dye.groupby("Batch")["Yield"]
    n, J = groups.size().iloc[0], groups.ngroups
    msw = float(((dye["Yield"] - groups.transform("mean")) ** 2).sum() / (len(dye) - J))
    msb = float(n * ((groups.mean() - dye["Yield"].mean()) ** 2).sum() / (J - 1))
    cells = cells_from_frame(dye, "Yield", "Batch")
    assert len(cells) == J
    for fit in (multilevel(dye, "Yield", "Batch"), multilevel_from_cells(cells, "Yield", "Batch")):
        assert fit.residual_variance == pytest.approx(msw, rel=1e-10)
        assert fit.area_variance == pytest.approx((msb - msw) / n, rel=1e-10)


def test_bad_cells_are_named():
    df = _persons()
    cells = cells_from_frame(df, "yb", "area", ["education"], family="binomial")
    with pytest.raises(AreaModelError, match="'persons' must be whole numbers of at least 1"):
        multilevel_from_cells(cells.assign(persons=0), "yb", "area", ["education"], family="binomial")
    with pytest.raises(AreaModelError, match="'outcome_sum' must count"):
        multilevel_from_cells(cells.assign(outcome_sum=cells["persons"] + 1), "yb", "area", ["education"],
                              family="binomial")
    with pytest.raises(AreaModelError, match="'outcome_sumsq' is below"):
        multilevel_from_cells(cells.assign(outcome_sumsq=0.0, outcome_sum=cells["persons"] * 3.0), "yc", "area",
                              ["education"])
    with pytest.raises(AreaModelError, match="lacks|missing|column"):
        multilevel_from_cells(cells.drop(columns=CELL_SUMSQ), "yc", "area", ["education"])
    with pytest.raises(AreaModelError, match="constant"):
        multilevel_from_cells(cells.assign(outcome_sum=0), "yb", "area", ["education"], family="binomial")
    with pytest.raises(AreaModelError, match="single person"):
        multilevel_from_cells(cells.assign(persons=1, outcome_sum=0.0, outcome_sumsq=0.0)
                              .drop_duplicates("area").assign(**{CELL_SUM: [0.0, 1.0] * 20}),
                              "yb", "area", [], family="binomial")


# ------------------------------------------------------------------------------------------------
# straight from Parquet


YEARS = (2023, 2024)


def _register(seed: int = 11, areas: int = 30) -> pd.DataFrame:
    """A small register with the columns the area report's model reads: two years, children and
    the old among the adults, empty incomes and educations.
    """
    rng = np.random.default_rng(seed)
    frames = []
    poverty = rng.uniform(0.05, 0.45, areas)
    u = rng.normal(0, 0.5, areas)
    for year in YEARS:
        sizes = rng.integers(40, 90, areas)
        j = np.repeat(np.arange(areas), sizes)
        n = len(j)
        age = rng.integers(0, 95, n)
        poor = rng.random(n) < poverty[j]
        income = np.where(poor, rng.uniform(20_000, 120_000, n), rng.uniform(150_000, 700_000, n)).round(-2)
        income = np.where(rng.random(n) < 0.08, np.nan, income)
        education = rng.choice(["primary", "vocational", "higher", None], n, p=[0.3, 0.35, 0.25, 0.1])
        eta = 1.0 - 1.2 * poor - 2.5 * poverty[j] + 0.4 * (education == "higher") + u[j]
        frames.append(pd.DataFrame({
            "person_id": [f"P{year}{i:05d}" for i in range(n)], "year": year,
            "area_id": [f"A{k:03d}" for k in j], "age": age,
            "sex": rng.choice(["female", "male"], n), "origin": rng.choice(["danish", "western", "non_western"], n),
            "education": pd.array(education, dtype="string"), "income": income,
            "employed": rng.random(n) < 1 / (1 + np.exp(-eta)),
        }))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def delivered(tmp_path_factory):
    """The register as one file and as a folder partitioned by year (the year in the folder name)."""
    root = tmp_path_factory.mktemp("register")
    register = _register()
    register.to_parquet(root / "register.parquet", index=False)
    for year in YEARS:
        part = root / "register" / f"year={year}"
        part.mkdir(parents=True)
        register[register["year"] == year].drop(columns="year").to_parquet(part / "part-0.parquet", index=False)
    return register, root


@pytest.mark.parametrize("layout", ["register.parquet", "register"])
def test_parquet_cells_equal_the_in_memory_cells(delivered, layout):
    register, root = delivered
    for year in YEARS:
        expected = cells_from_frame(employment_context(register, year), "y", "area_id", INDIVIDUAL_CONTROLS,
                                    ["poverty_share"])
        got = context_cells_from_parquet(root / layout, year)
        pd.testing.assert_frame_equal(got, expected, check_dtype=False)  # poverty shares bit for bit too


@pytest.mark.parametrize("layout", ["register.parquet", "register"])
@pytest.mark.parametrize("family", ["gaussian", "binomial"])
def test_parquet_fit_equals_the_person_fit(delivered, layout, family):
    """The area report's model from Parquet equals ``multilevel`` on ``employment_context``."""
    register, root = delivered
    persons = employment_context(register, 2024)
    rows = multilevel(persons, "y", "area_id", INDIVIDUAL_CONTROLS, ["poverty_share"], family=family)
    from_parquet = multilevel_from_parquet(root / layout, 2024, family=family)
    assert rows.area_variance > 0.005
    _assert_same_fit(rows, from_parquet)


def test_parquet_other_outcome_and_mundlak(delivered):
    """Any register or derived column may be the outcome or a covariate (here employment as a
    register boolean, own poverty and age band with their area means).
    """
    register, root = delivered
    persons = employment_context(register, 2023)
    rows = multilevel(persons, "employed", "area_id", ["poor", "age_band"], ["poverty_share"], mundlak=True,
                      reml=False)
    _assert_same_fit(rows, multilevel_from_parquet(root / "register", 2023, "employed", ["poor", "age_band"],
                                                   mundlak=True, reml=False))


def test_parquet_errors_name_the_register_and_column(delivered, tmp_path):
    register, root = delivered
    with pytest.raises(AreaModelError, match="no register there"):
        multilevel_from_parquet(tmp_path / "nothing.parquet", 2024)
    with pytest.raises(AreaModelError, match=r"register\.parquet: no column 'shoe_size'"):
        multilevel_from_parquet(root / "register.parquet", 2024, individual=["shoe_size"])
    with pytest.raises(AreaModelError, match="no persons aged 30-64 in year 1999"):
        multilevel_from_parquet(root / "register", 1999)
    with pytest.raises(AreaModelError, match="outcome 'sex' must be numeric or boolean"):
        multilevel_from_parquet(root / "register.parquet", 2024, "sex", individual=["poor"])
    gappy = register.assign(sex=register["sex"].where(register.index % 97 != 0))
    gappy.to_parquet(tmp_path / "register.parquet", index=False)
    with pytest.raises(AreaModelError, match=r"register\.parquet: column 'sex' has \d+ missing value"):
        multilevel_from_parquet(tmp_path / "register.parquet", 2024)
    register.drop(columns="income").to_parquet(tmp_path / "no_income.parquet", index=False)
    with pytest.raises(AreaModelError, match="lacks column.*'income'"):
        multilevel_from_parquet(tmp_path / "no_income.parquet", 2024)
