"""The workbench on a municipality nobody on the team generated (issue 12).

``tests/worlds/other_municipality.py`` writes Kærbæk Kommune from the input contract alone. These
tests check, first, that the world is what it claims to be (deterministic, unlike Gladsaxe, its
planted effects present in the data with the stated size, its "no effect" truths zero), and then
that the workbench takes it: ``evaluering validate`` passes, the data load and prepare, and every
district is evaluated with one row per indicator.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evaluering.cli import main as cli_main
from evaluering.config import load_params
from evaluering.data.io import find_table_file, read_raw
from evaluering.data.validate import load_dataset
from worlds.other_municipality import BASELINE, DISTRICTS, FOLLOWUP, PLANTED, generate_world, write_world

SEED = 20240501
REST = "rest"


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("kaerbaek")
    params_path, truth = write_world(out, SEED)
    return out, params_path, truth


@pytest.fixture(scope="module")
def params(world_dir):
    return load_params(world_dir[1])


@pytest.fixture(scope="module")
def dataset(world_dir, params):
    return load_dataset(world_dir[0], params)


@pytest.fixture(scope="module")
def register(dataset):
    """Register rows with the group ('rest' or a district key) of the area of residence."""
    district = dataset.areas.set_index("area_id")["district"]
    return dataset.register.assign(group=district.loc[dataset.register["area_id"]].fillna(REST).to_numpy())


# --- the world itself ----------------------------------------------------------------------------


def _read_all(directory) -> dict[str, pd.DataFrame]:
    names = ("areas", "register", "survey", "institutions", "visitors")
    return {name: read_raw(find_table_file(directory, name)) for name in names}


def test_same_seed_same_world_other_seed_other_world(tmp_path):
    _, truth_a = write_world(tmp_path / "a", 3)
    _, truth_b = write_world(tmp_path / "b", 3)
    a, b = _read_all(tmp_path / "a"), _read_all(tmp_path / "b")
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], obj=name)
    assert truth_a == truth_b
    other = generate_world(4).tables["register"]
    assert not other["employed"].equals(a["register"]["employed"])


def test_truth_names_every_district_and_indicator(params):
    planted, unplanted = generate_world(SEED).truth, generate_world(SEED, planted=False).truth
    keys = [i.key for i in params.indicators]
    assert len(keys) == 19
    for truth in (planted, unplanted):
        assert list(truth) == [d.key for d in params.districts]
        assert all(list(per) == keys for per in truth.values())
    assert all(v == {"value": 0.0, "truth_kind": "none"} for per in unplanted.values() for v in per.values())
    kinds = {(d, k): v["truth_kind"] for d, per in planted.items() for k, v in per.items()}
    assert {dk for dk, kind in kinds.items() if kind == "planted"} == set(PLANTED)
    for (district, key), effect in PLANTED.items():  # no probability was clipped
        assert planted[district][key]["value"] == pytest.approx(effect, abs=1e-9)


def test_world_is_unlike_gladsaxe(params, dataset):
    gladsaxe = load_params(Path(__file__).resolve().parents[1] / "params" / "gladsaxe.yaml")
    assert not {d.key for d in params.districts} & {d.key for d in gladsaxe.districts}
    assert all(set(d.name) & set("æøåÆØÅ") for d in params.districts)
    assert [i.key for i in params.indicators] == [i.key for i in gladsaxe.indicators]
    sizes = dataset.areas["district"].value_counts(dropna=False)
    assert len(dataset.areas) == 50
    assert sorted(sizes[list(DISTRICTS)]) == [2, 3, 5]
    assert dataset.areas["area_id"].str.startswith("0").all()  # leading zeros survived the CSV
    years = sorted(dataset.register["year"].unique())
    assert years[0] == 2015 and years[-1] == 2024 and params.register_data.first_year == 2015
    assert 28_000 <= (dataset.register["year"] == 2024).sum() <= 32_000


def test_the_deprived_district_differs_from_the_rest(register, dataset):
    """Østre Åparken: convictions 2-3 times, employment ~20 points lower, twice the share of
    disadvantaged children, a lower response rate (the heterogeneity issue 12 is about)."""
    big = "oestre-aaparken"
    adults = register[register["age"] >= 15]
    conviction = adults.groupby("group")["convicted"].mean()
    assert 2.0 <= conviction[big] / conviction[REST] <= 3.0 and 0.012 <= conviction[REST] <= 0.018
    working = register[register["age"].between(30, 64)]
    employment = working.groupby("group")["employed"].mean()
    assert 0.17 <= employment[REST] - employment[big] <= 0.25
    kids = dataset.institutions.merge(register[["person_id", "year", "group"]], on=["person_id", "year"])
    disadvantaged = kids.groupby("group")["disadvantaged_home"].mean()
    assert 1.8 <= disadvantaged[big] / disadvantaged[REST] <= 2.6
    district = dataset.areas.set_index("area_id")["district"]
    survey = dataset.survey.assign(group=district.loc[dataset.survey["area_id"]].fillna(REST).to_numpy())
    response = survey.groupby("group")["responded"].mean()
    assert response[REST] - response[big] >= 0.12


def test_nothing_the_evaluation_is_known_to_trip_on(dataset):
    """The default delivery (the operating-characteristics harness's): every sampled person is 18+
    with a register row in the wave year; every adult has an education."""
    rows = dataset.survey.merge(dataset.register, left_on=["person_id", "wave"],
                                right_on=["person_id", "year"], how="left", validate="one_to_one")
    assert rows["age"].notna().all() and (rows["age"] >= 18).all()
    adults = dataset.register[dataset.register["age"] >= 15]
    assert adults["education"].notna().all()


def test_full_delivery_adds_the_contract_extras_and_leaves_the_rest_alone():
    """``delivery="full"`` draws its extras from a stream of its own: the default tables are inside
    it unchanged, except the education that is emptied and the one class made silent."""
    default, full = generate_world(SEED), generate_world(SEED, delivery="full")
    reg0, reg1 = default.tables["register"], full.tables["register"]
    pd.testing.assert_frame_equal(reg0.drop(columns="education"), reg1.drop(columns="education"))
    emptied = reg0["education"].notna() & reg1["education"].isna()
    assert ((reg0["education"] == reg1["education"]) | emptied | reg0["education"].isna()).all()
    assert 0.015 < emptied[reg0["age"] >= 25].mean() < 0.05
    s0, s1 = default.tables["survey"], full.tables["survey"]
    head = s1.iloc[: len(s0)]
    same = head["responded"].to_numpy() == s0["responded"].to_numpy()
    pd.testing.assert_frame_equal(head[same].reset_index(drop=True), s0[same].reset_index(drop=True))
    assert 0 < (~same).sum() < 40 and not head.loc[~same, "responded"].any()  # the silent class
    extra = s1.iloc[len(s0):].merge(reg0, left_on=["person_id", "wave"], right_on=["person_id", "year"], how="left")
    assert extra["age"].isna().sum() >= 50 and extra["age"].between(16, 17).sum() >= 100
    assert extra["age"].dropna().between(16, 17).all()
    for name in ("areas", "institutions", "visitors"):
        pd.testing.assert_frame_equal(default.tables[name], full.tables[name])
    assert full.truth == default.truth


def _share_difference(planted: pd.Series, unplanted: pd.Series) -> tuple[float, float]:
    """Mean of planted - unplanted and its binomial SE (with common random numbers the rows that
    differ are a Bernoulli(effect) draw per person)."""
    diff = planted.astype(float).to_numpy() - unplanted.astype(float).to_numpy()
    p = diff.mean()
    return p, np.sqrt(max(p * (1 - p), 1e-12) / len(diff))


def test_planted_effects_are_in_the_data_with_the_stated_size():
    """Same seed with and without planting: only the planted outcomes differ, by the truth."""
    with_effect, without = generate_world(SEED), generate_world(SEED, planted=False)
    z_crit = stats.norm.ppf(1 - 0.001 / 2)
    reg1, reg0 = with_effect.tables["register"], without.tables["register"]
    pd.testing.assert_frame_equal(reg1.drop(columns=["employed", "income"]), reg0.drop(columns=["employed", "income"]))
    areas = with_effect.tables["areas"].set_index("area_id")["district"]
    in_big = (areas.loc[reg1["area_id"]] == "oestre-aaparken").to_numpy()
    assert reg1.loc[~in_big | (reg1["year"] <= BASELINE), "employed"].equals(
        reg0.loc[~in_big | (reg0["year"] <= BASELINE), "employed"])
    target = in_big & (reg1["year"] == FOLLOWUP).to_numpy() & reg1["age"].between(30, 64).to_numpy()
    effect, se = _share_difference(reg1.loc[target, "employed"], reg0.loc[target, "employed"])
    assert abs(effect - with_effect.truth["oestre-aaparken"]["arbejdsmarked"]["value"]) < z_crit * se

    s1, s0 = with_effect.tables["survey"], without.tables["survey"]
    for (district, key), question in ((("oestre-aaparken", "fysisk-tryghed"), "q_safe_physical"),
                                      (("blaabaerhaven", "beboernes-oplevelse"), "q_area_opinion")):
        rows = ((areas.loc[s1["area_id"]] == district).to_numpy() & (s1["wave"] == FOLLOWUP).to_numpy()
                & s1[question].notna().to_numpy())
        effect, se = _share_difference(s1.loc[rows, question].isin([4, 5]), s0.loc[rows, question].isin([4, 5]))
        assert abs(effect - with_effect.truth[district][key]["value"]) < z_crit * se
    others = [q for q in s1.columns if q.startswith("q_") and q not in ("q_safe_physical", "q_area_opinion")]
    pd.testing.assert_frame_equal(s1[others], s0[others])


@pytest.mark.slow
def test_unplanted_register_indicators_have_zero_expected_did():
    """Over 30 unplanted worlds the raw district-vs-rest DiD of each register share has mean 0
    (|mean| / its SE below the Bonferroni-corrected normal quantile): the "none" truths are right."""
    columns = {"employed": (30, 64), "in_education": (18, 29), "convicted": (15, 120)}
    rows = []
    for seed in range(30):
        world = generate_world(1000 + seed, planted=False)
        reg = world.tables["register"]
        district = world.tables["areas"].set_index("area_id")["district"].replace("", REST)
        group = district.loc[reg["area_id"]].to_numpy()
        for column, (lo, hi) in columns.items():
            sel = reg["age"].between(lo, hi).to_numpy() & reg["year"].isin([BASELINE, FOLLOWUP]).to_numpy()
            levels = reg[sel].groupby([group[sel], reg.loc[sel, "year"]])[column].mean().unstack()
            change = levels[FOLLOWUP] - levels[BASELINE]
            rows += [{"column": column, "district": d, "did": change[d] - change[REST]} for d in DISTRICTS]
    did = pd.DataFrame(rows).groupby(["column", "district"])["did"]
    z = did.mean() / (did.std() / np.sqrt(did.count()))
    assert (z.abs() < stats.norm.ppf(1 - 0.01 / (2 * len(z)))).all(), z.round(2).to_dict()


# --- the workbench on it ---------------------------------------------------------------------------


def test_evaluering_validate_passes(world_dir, capsys):
    directory, params_path, _ = world_dir
    assert cli_main(["validate", str(directory), "--params", str(params_path)]) == 0
    assert "no problems found" in capsys.readouterr().out  # no errors and no warnings


def test_data_load_and_prepare(dataset, params):
    from evaluering.indicators import prepare

    data = prepare(dataset, params)
    assert data.params is params
    assert len(data.register) == len(dataset.register)



def test_register_levels_are_summed_from_the_compact_frames_bit_for_bit(dataset, params):
    """A report's levels of a register indicator come from its compact frame (integer codes), not
    kept afterwards: exactly what its text frame gives, on a world the estimators were not written for.
    """
    from evaluering.indicators import prepare
    from evaluering.indicators.levels import indicator_levels, weighted_levels
    from evaluering.indicators.units import REGISTER_COMPUTATIONS, unit_frame

    data = prepare(dataset, params)
    register = [ind for ind in params.indicators if isinstance(ind.computation, REGISTER_COMPUTATIONS)]
    assert len(register) >= 5
    for ind in register:
        levels = indicator_levels(data, ind)
        assert not [key for key in data._unit_frames if key[0] == "compact"], ind.key  # a city's would fill the memory
        expected = weighted_levels(unit_frame(data, ind)).assign(indicator=ind.key)
        pd.testing.assert_frame_equal(levels, expected, check_exact=True)

@pytest.mark.slow
def test_every_district_is_evaluated(dataset, params, world_dir):
    from evaluering.evaluation import BETTER, NO_CHANGE, WORSE, evaluate_district
    from evaluering.indicators import prepare

    data = prepare(dataset, params)
    keys = [i.key for i in params.indicators]
    for district in params.districts:
        table = evaluate_district(data, district.key, BASELINE, FOLLOWUP).table
        assert list(table["key"]) == keys
        assert table[["estimate", "ci_low", "ci_high", "p_value"]].notna().all().all(), district.key
        assert (table["ci_low"] <= table["estimate"]).all() and (table["estimate"] <= table["ci_high"]).all()
        assert table["verdict"].isin([BETTER, NO_CHANGE, WORSE]).all()
