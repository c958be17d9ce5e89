"""Tests of the synthetic municipality generator (evaluering.data.synthetic)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evaluering.config import load_params
from evaluering.data.contract import TABLE_NAMES, ColumnSpec, input_contract
from evaluering.data.synthetic import PLANTED_EFFECTS, generate, isolation_index

PARAMS_FILE = Path(__file__).resolve().parents[1] / "params" / "gladsaxe.yaml"
SEED = 2021
OTHER_SEED = 7
ELECTION_YEARS = {2013, 2017, 2019, 2021, 2022, 2024, 2025, 2027}


@pytest.fixture(scope="module")
def params():
    return load_params(PARAMS_FILE)


@pytest.fixture(scope="module")
def dataset(params, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synthetic") / "data"
    start = time.perf_counter()
    generate(params, out, seed=SEED)
    print(f"\ngenerated the default synthetic dataset in {time.perf_counter() - start:.1f} s")
    return out


@pytest.fixture(scope="module")
def tables(dataset) -> dict[str, pd.DataFrame]:
    return {name: pd.read_parquet(dataset / f"{name}.parquet") for name in TABLE_NAMES}


@pytest.fixture(scope="module")
def truth(dataset) -> dict:
    return json.loads((dataset / "truth.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def next_wave(params, tmp_path_factory) -> Path:
    """Another seed, with the next wave included."""
    out = tmp_path_factory.mktemp("synthetic-next")
    generate(params, out, seed=OTHER_SEED, include_next_wave=True)
    return out


@pytest.fixture(scope="module")
def register(tables) -> pd.DataFrame:
    """Register with each person's group: a district key or 'comparison'."""
    group = tables["areas"].set_index("area_id")["district"].fillna("comparison")
    return tables["register"].assign(group=tables["register"]["area_id"].map(group).astype(str))


# --- determinism and writing ---------------------------------------------------------------------


def test_same_seed_gives_identical_files(params, dataset, tables, tmp_path):
    again = generate(params, tmp_path / "again", seed=SEED)
    for name in TABLE_NAMES:
        pd.testing.assert_frame_equal(pd.read_parquet(again / f"{name}.parquet"), tables[name])
        assert (again / f"{name}.parquet").read_bytes() == (dataset / f"{name}.parquet").read_bytes(), name
    assert (again / "truth.json").read_text() == (dataset / "truth.json").read_text()


def test_other_seed_gives_other_data(tables, next_wave):
    other = pd.read_parquet(next_wave / "register.parquet")
    other = other[other["year"] <= tables["register"]["year"].max()].reset_index(drop=True)
    assert not other.equals(tables["register"])
    assert not pd.read_parquet(next_wave / "visitors.parquet")["count"].head(1000).equals(
        tables["visitors"]["count"].head(1000))


def test_writes_only_the_dataset(dataset):
    assert sorted(p.name for p in dataset.iterdir()) == sorted([f"{t}.parquet" for t in TABLE_NAMES] + ["truth.json"])
    assert [p.name for p in dataset.parent.iterdir()] == ["data"], "temporary folder left behind"


# --- sizes ---------------------------------------------------------------------------------------


def test_population_and_district_sizes(params, register, truth):
    latest = register["year"].max()
    assert latest == params.survey.waves[-1]
    assert register["year"].min() == params.register_data.first_year
    assert abs((register["year"] == latest).sum() - 69_000) <= 0.05 * 69_000
    baseline = register[(register["year"] == params.survey.baseline_wave) & (register["age"] >= 18)]
    adults = baseline["group"].value_counts()
    assert abs(adults.drop("comparison").sum() - 7_300) <= 0.10 * 7_300
    for key, expected in {"hoeje-gladsaxe": 3_000, "vaerebro-park": 2_400, "moerkhoej": 1_900}.items():
        assert abs(adults[key] - expected) <= 0.15 * expected, key
        assert truth["district_adults_baseline"][key] == adults[key]
    assert 60 <= register.loc[register["group"] == "comparison", "area_id"].nunique() <= 75


def test_composition_differs_between_districts_and_the_rest(params, register):
    baseline = register[(register["year"] == params.survey.baseline_wave) & (register["age"] >= 18)]
    by_group = baseline.assign(
        non_western=baseline["origin"] == "non_western",
        poor=baseline["income"] < 0.5 * baseline["income"].median(),
    ).groupby(baseline["group"] != "comparison")[["non_western", "poor", "employed"]].mean()
    district, rest = by_group.loc[True], by_group.loc[False]
    assert 0.35 <= district["non_western"] <= 0.55 and 0.05 <= rest["non_western"] <= 0.15
    assert 0.25 <= district["poor"] <= 0.40 and 0.03 <= rest["poor"] <= 0.15
    assert district["employed"] < rest["employed"] - 0.1


def test_survey_samples_and_response(params, tables, register):
    survey = tables["survey"]
    for wave in params.survey.waves:
        sample = survey[survey["wave"] == wave]
        groups = sample["sample_group"].value_counts()
        assert abs(groups["district"] - 7_300) <= 0.12 * 7_300
        assert groups["comparison"] == 5_500
        rest_adults = ((register["year"] == wave) & (register["age"] >= 18) & (register["group"] == "comparison")).sum()
        weights = sample.loc[sample["sample_group"] == "comparison", "design_weight"]
        assert np.allclose(weights, rest_adults / 5_500)
        rates = sample.groupby("sample_group")["responded"].mean()
        assert 0.33 <= rates["district"] <= 0.47 and 0.45 <= rates["comparison"] <= 0.60
        ages = register.loc[register["year"] == wave, ["person_id", "age"]]
        with_age = sample.merge(ages, on="person_id")
        by_band = with_age.groupby(pd.cut(with_age["age"], [17, 29, 49, 66, 200]), observed=True)["responded"].mean()
        assert by_band.iloc[-1] - by_band.iloc[0] > 0.15, by_band
        answers = sample[params.survey_questions]
        assert answers[~sample["responded"]].isna().all().all()
        assert 0.9 < answers.loc[sample["responded"], "q_health"].notna().mean() < 1.0


# --- the input contract --------------------------------------------------------------------------


def _expected_dtype(col: ColumnSpec) -> str:
    """The pandas dtype the Dataset docstring documents for a contract column."""
    if col.nullable and col.dtype in ("bool", "int"):
        return {"bool": "boolean", "int": "Int64"}[col.dtype]
    return {"bool": "bool", "int": "int64", "float": "float64", "str": "string", "date": "datetime64[ns]"}[col.dtype]


@pytest.mark.parametrize("name", TABLE_NAMES)
def test_tables_conform_to_the_contract(params, tables, name):
    spec = input_contract(params)[name]
    frame = tables[name]
    assert list(frame.columns) == spec.column_names
    for col in spec.columns:
        values = frame[col.name]
        assert str(values.dtype) == _expected_dtype(col), col.name
        if not col.nullable:
            assert values.notna().all(), f"{col.name} has missing values"
        present = values.dropna()
        if col.allowed is not None:
            assert set(present.unique()) <= set(col.allowed), col.name
        if col.minimum is not None:
            assert (present >= col.minimum).all(), col.name
        if col.maximum is not None:
            assert (present <= col.maximum).all(), col.name
    assert not frame.duplicated(list(spec.key)).any()
    for column, target in spec.references.items():
        table, target_column = target.split(".")
        assert frame[column].isin(tables[table][target_column]).all(), f"{column} -> {target}"


def test_people_in_survey_and_institutions_are_registered_that_year(tables):
    residents = tables["register"][["person_id", "year", "area_id", "age"]]
    survey = tables["survey"].merge(residents, left_on=["person_id", "wave"], right_on=["person_id", "year"],
                                    how="left", suffixes=("", "_register"))
    assert survey["year"].notna().all()
    assert (survey["area_id"] == survey["area_id_register"]).all()
    assert (survey["age"] >= 18).all()
    institutions = tables["institutions"].merge(residents, on=["person_id", "year"], how="left")
    assert institutions["age"].notna().all() and institutions["age"].between(1, 16).all()


def test_register_values_follow_the_documented_rules(register):
    young = register["age"] < 15
    assert register.loc[young, "education"].isna().all() and register.loc[~young, "education"].notna().all()
    assert register.loc[young, "income"].isna().all() and register.loc[~young, "income"].notna().all()
    pupil = register["age"].between(6, 16)
    assert register.loc[pupil, "school_absence"].notna().all()
    assert register.loc[~pupil, "school_absence"].isna().all()
    election = register["year"].isin(ELECTION_YEARS) & (register["age"] >= 18)
    assert register.loc[election, "voted"].notna().all() and register.loc[~election, "voted"].isna().all()
    assert not register.loc[young, ["employed", "convicted"]].any().any()
    # education is persistent from age 25
    adults = register[register["age"] >= 25]
    assert (adults.groupby("person_id")["education"].nunique() == 1).all()


# --- truth ---------------------------------------------------------------------------------------


def test_truth_covers_every_district_and_indicator(params, truth):
    assert truth["seed"] == SEED and truth["baseline_wave"] == params.survey.baseline_wave
    assert truth["waves"] == params.survey.waves
    for district in params.districts:
        entries = truth["effects"][district.key]
        assert set(entries) == {i.key for i in params.indicators}
        for key, entry in entries.items():
            assert np.isfinite(entry["value"]) and entry["scale"] in {"share", "log"}
            assert entry["truth_kind"] in {"planted", "expected"}
            if "extra_outside_share" in entry.get("lever", {}):  # social mix: the lever's effect
                assert entry["lever"]["extra_outside_share"] == PLANTED_EFFECTS[district.key][key]
                if not any(PLANTED_EFFECTS[other][key] for other in PLANTED_EFFECTS):  # no lever of the type
                    assert entry["value"] == 0.0 and set(entry["by_wave"].values()) == {0.0}
            elif entry["truth_kind"] == "planted":
                assert entry["value"] == PLANTED_EFFECTS[district.key][key]
    assert truth["area_effect"]["threshold"] == 0.20 and truth["area_effect"]["slope_above"] == -0.6
    assert set(truth["population"]) == {str(y) for y in range(params.register_data.first_year, 2025)}


def test_expected_selection_effects_follow_the_lever(truth):
    effects = truth["effects"]
    assert effects["moerkhoej"]["ressourcestaerke"]["value"] == pytest.approx(0.0, abs=0.002)
    for key in ("hoeje-gladsaxe", "vaerebro-park"):
        lever = PLANTED_EFFECTS[key]["bevaegelse"]
        assert 0.2 * lever < effects[key]["bevaegelse"]["value"] < lever
        assert 0 < effects[key]["ressourcestaerke"]["value"] < effects[key]["bevaegelse"]["value"]


def test_realised_isolation_matches_the_written_tables(params, tables, truth):
    """Recompute the isolation DiD from the institutions table with pandas."""
    group = tables["areas"].set_index("area_id")["district"].fillna("comparison")
    kids = tables["institutions"].merge(tables["register"][["person_id", "year", "area_id"]], on=["person_id", "year"])
    kids["group"] = kids["area_id"].map(group).astype(str)
    per_inst = kids.groupby(["year", "institution_type", "institution_id"])["disadvantaged_home"]
    kids["n"], kids["k"] = per_inst.transform("size"), per_inst.transform("sum")
    counted = kids[kids["disadvantaged_home"] & (kids["n"] > 1)]
    index = ((counted["k"] - 1) / (counted["n"] - 1)).groupby(
        [counted["year"], counted["institution_type"], counted["group"]]).mean()
    base, wave = params.survey.baseline_wave, params.survey.waves[-1]
    for ind in params.indicators:
        if ind.computation.kind != "institution_isolation":
            continue
        kind = ind.computation.institution_type
        for d in params.districts:
            did = ((index[wave, kind, d.key] - index[base, kind, d.key])
                   - (index[wave, kind, "comparison"] - index[base, kind, "comparison"]))
            assert truth["effects"][d.key][ind.key]["realised"] == pytest.approx(did, abs=1e-6)
    hg_daycare = truth["effects"]["hoeje-gladsaxe"]["mix-dagtilbud"]
    assert hg_daycare["realised"] < -0.03, "more Høje Gladsaxe children in rest daycares should lower their isolation"
    assert hg_daycare["value"] < -0.03, "the lever's own effect (same draws without it) should lower it too"


def test_isolation_index_on_a_small_example():
    # institution a: 3 children, 2 disadvantaged; b: 2 children, 1 disadvantaged
    index = isolation_index(np.array(["a", "a", "a", "b", "b"]), np.array([True, True, False, True, False]),
                            np.array([0, 0, 0, 1, 1]), 2)
    assert index == pytest.approx([0.5, 0.0])


# --- planted effects can be recovered --------------------------------------------------------------


def _register_did(register: pd.DataFrame, column: str, ages: tuple[int, int], district: str,
                  years: tuple[int, int], values: list | None = None) -> tuple[float, float]:
    """Raw population DiD of a share or mean (district vs comparison) and its standard error.

    The SE treats the four group-years as independent samples, which is conservative for a panel
    (persistent person traits cancel in the change of stayers).
    """
    sub = register[register["age"].between(*ages) & register["year"].isin(years)
                   & register["group"].isin([district, "comparison"]) & register[column].notna()]
    y = sub[column].isin(values) if values is not None else sub[column]
    cells = y.astype(float).groupby([sub["group"], sub["year"]]).agg(["mean", "var", "size"])
    means = cells["mean"]
    did = (means[district, years[1]] - means[district, years[0]]) - (
        means["comparison", years[1]] - means["comparison", years[0]])
    return did, float(np.sqrt((cells["var"] / cells["size"]).sum()))


@pytest.mark.parametrize("column, ages, district, indicator", [
    ("employed", (30, 64), "hoeje-gladsaxe", "arbejdsmarked"),
    ("voted", (18, 120), "vaerebro-park", "demokratisk-deltagelse"),
])
def test_register_did_recovers_the_planted_effect(params, register, truth, column, ages, district, indicator):
    planted = truth["effects"][district][indicator]["value"]
    assert abs(planted) >= 0.03
    years = (params.survey.baseline_wave, params.survey.waves[-1])
    did, se = _register_did(register, column, ages, district, years)
    assert abs(did - planted) < 4 * se, (did, planted, se)


def test_register_dids_jointly_match_the_truth(params, register, truth):
    """Chi-square of (DiD - truth) / SE over every register indicator and district."""
    years = (params.survey.baseline_wave, params.survey.waves[-1])
    z = []
    for ind in params.indicators:
        comp = ind.computation
        if comp.kind not in ("register_share", "register_mean"):
            continue
        values = comp.values if comp.kind == "register_share" and comp.column == "education" else None
        for d in params.districts:
            did, se = _register_did(register, comp.column, comp.age, d.key, years, values)
            z.append((did - truth["effects"][d.key][ind.key]["value"]) / se)
    assert len(z) == 18
    assert np.sum(np.square(z)) < stats.chi2.ppf(0.999, len(z)), np.round(z, 2)


def test_visitor_did_recovers_the_planted_log_effect(params, tables, truth):
    visitors = tables["visitors"].assign(year=lambda v: v["date"].dt.year, log_count=lambda v: np.log(v["count"] + 0.5))
    group = tables["areas"].set_index("area_id")["district"].fillna("comparison")
    visitors["group"] = visitors["area_id"].map(group).astype(str)
    base, wave = params.survey.baseline_wave, params.survey.waves[-1]
    per_counter = visitors[visitors["year"].isin([base, wave])].groupby(["group", "counter_id", "year"])["log_count"]
    stats = per_counter.agg(["mean", "var", "size"]).reset_index()
    stats["var_of_mean"] = stats["var"] / stats["size"]
    change = stats.pivot_table(index=["group", "counter_id"], columns="year", values=["mean", "var_of_mean"])
    diff = change["mean"][wave] - change["mean"][base]
    var = change["var_of_mean"][wave] + change["var_of_mean"][base]
    district = "hoeje-gladsaxe"
    did = diff[district].mean() - diff["comparison"].mean()
    se = np.sqrt(var[district].sum() / len(var[district]) ** 2 + var["comparison"].sum() / len(var["comparison"]) ** 2)
    planted = truth["effects"][district]["brug-af-omraadet"]["value"]
    assert truth["effects"][district]["brug-af-omraadet"]["scale"] == "log"
    assert abs(did - planted) < 4 * se, (did, planted, se)


# --- the next wave -------------------------------------------------------------------------------


def test_next_wave(params, next_wave):
    register = pd.read_parquet(next_wave / "register.parquet")
    survey = pd.read_parquet(next_wave / "survey.parquet")
    truth = json.loads((next_wave / "truth.json").read_text(encoding="utf-8"))
    assert register["year"].max() == params.survey.next_wave == 2027
    assert sorted(survey["wave"].unique()) == [*params.survey.waves, params.survey.next_wave]
    assert truth["waves"] == [*params.survey.waves, params.survey.next_wave]
    assert set(truth["effects"]["hoeje-gladsaxe"]["mix-dagtilbud"]["by_wave"]) == {"2024", "2027"}
    visitors = pd.read_parquet(next_wave / "visitors.parquet")
    assert visitors["date"].max() == pd.Timestamp("2027-12-31")
