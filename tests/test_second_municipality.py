"""A second municipality's contract-valid delivery, tried as a new municipality would (issue 13).

``tests/worlds/other_municipality.py`` writes Kærbæk Kommune from the input contract alone. Its
``two_districts`` delivery has its own parameter file (two districts with æøå, 14 of the 19
indicators), areas and survey as Danish-Excel CSV, and what the contract allows but the first
deliveries broke: persons sampled without a register row in the wave year, 16-17-year-olds in the
survey, adults with an empty education, a weighting class without respondents, district residents
answering the outside-view questions, a district without a visitor counter or after-school
children, and a counter that starts after the baseline. The delivery must validate and every
report must render (``evaluering run`` end to end, once for the module). Small strata must
degrade the weighting with a Danish note instead of failing.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from evaluering.cli import main as cli_main
from evaluering.config import load_params
from evaluering.data.validate import load_dataset
from evaluering.evaluation import evaluate_district
from evaluering.indicators import prepare
from evaluering.survey.balance import balance_comparison_noted
from evaluering.survey.nonresponse import age_band
from evaluering.survey.waves import RAKING_LEVELS, wave_weighting
from worlds.other_municipality import BASELINE, FOLLOWUP, TWO_DISTRICT_INDICATORS, TWO_DISTRICTS, write_world

SEED = 20240501


@pytest.fixture(scope="module")
def delivery(tmp_path_factory):
    out = tmp_path_factory.mktemp("kaerbaek-to-bydele")
    params_path, _ = write_world(out, SEED, delivery="two_districts")
    return out, params_path


@pytest.fixture(scope="module")
def params(delivery):
    return load_params(delivery[1])


@pytest.fixture(scope="module")
def data(delivery, params):
    return prepare(load_dataset(delivery[0], params), params)


@pytest.fixture(scope="module")
def evaluations(data):
    return {d: evaluate_district(data, d, BASELINE, FOLLOWUP, details=False) for d in TWO_DISTRICTS}


@pytest.fixture(scope="module")
def reports(delivery, tmp_path_factory):
    """Every report of the wave, rendered once by ``evaluering run`` (about a minute)."""
    directory, params_path = delivery
    out = tmp_path_factory.mktemp("reports")
    code = cli_main(["run", "--params", str(params_path), "--data", str(directory), "--out", str(out),
                     "--jobs", "2"])
    return code, out / str(FOLLOWUP)


# --- the delivery is what it claims to be ---------------------------------------------------------


def test_delivery_has_the_features_that_broke_the_evaluation(delivery, params):
    directory, _ = delivery
    assert sorted(p.name for p in directory.iterdir() if p.suffix != ".yaml") == [
        "areas.csv", "institutions.parquet", "register.parquet", "survey.csv", "visitors.parquet"]
    assert (directory / "survey.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # Excel's UTF-8 with BOM
    assert [d.key for d in params.districts] == list(TWO_DISTRICTS)
    assert all(set(d.name) & set("æøåÆØÅ") for d in params.districts)
    assert [i.key for i in params.indicators] == list(TWO_DISTRICT_INDICATORS)
    ds = load_dataset(directory, params)
    rows = ds.survey.merge(ds.register, left_on=["person_id", "wave"], right_on=["person_id", "year"], how="left")
    assert rows["age"].isna().sum() >= 50  # sampled without a register row that wave
    assert rows["age"].between(16, 17).sum() >= 50  # a survey from age 16
    assert ds.register.loc[ds.register["age"] >= 25, "education"].isna().sum() >= 1000
    district = ds.areas.set_index("area_id")["district"]
    residents = ds.survey[(ds.survey["area_id"].map(district) == "oestre-aaparken") & ds.survey["responded"]]
    assert residents["q_view_soeholm_vaenge"].notna().mean() > 0.9  # district residents answer views too


def test_delivery_validates(delivery, capsys):
    directory, params_path = delivery
    assert cli_main(["validate", str(directory), "--params", str(params_path)]) == 0
    out = capsys.readouterr().out
    assert "0 errors" in out and "no row in register.parquet" in out  # a warning, named


# --- the evaluation handles it --------------------------------------------------------------------


def test_survey_from_age_16_is_weighted_to_the_residents_from_16(data):
    assert data.youngest == 16
    sample = data.survey
    assert set(sample.loc[sample["age"].between(16, 17), "age_band"]) == {"16-29"}
    for wave, design in data.designs.items():
        weights = design.weights.to_numpy()
        residents = data.register[(data.register["year"] == wave) & (data.register["age"] >= 16)]
        known = (design.data["age_band"] != "unknown").to_numpy()
        # raked to the register's residents aged 16 and over (persons without a register row on top)
        assert weights[known].sum() == pytest.approx(len(residents), rel=1e-6)


def test_persons_without_a_register_row_are_weighted_in_unknown_classes(data):
    unknown = data.survey[data.survey["age"].isna()]
    assert len(unknown) >= 50 and (unknown["age_band"] == "unknown").all()
    respondents = unknown[unknown["responded"]]
    assert (respondents["weight"] > 0).all()  # they count, in their own classes


def test_every_indicator_of_every_district_has_a_row(evaluations, params):
    for district, evaluation in evaluations.items():
        table = evaluation.table
        assert list(table["key"]) == list(TWO_DISTRICT_INDICATORS), district
        computed = table["verdict"] != "not_computed"
        assert table.loc[computed, ["estimate", "ci_low", "ci_high"]].notna().all().all(), district
        assert table.loc[~computed, "estimate"].isna().all()


def test_an_indicator_without_data_says_why(evaluations):
    """Søholm Vænge has no after-school children and no visitor counter; Østre Åparken's second
    counter starts after the baseline, so only its first counts."""
    table = evaluations["soeholm-vaenge"].table.set_index("key")
    assert table.loc["mix-sfo", "verdict"] == "not_computed"
    assert table.loc["mix-sfo", "not_computed"] == "ikke beregnet: ingen børn i SFO eller klub i bydelen"
    assert table.loc["brug-af-omraadet", "not_computed"] == "ikke beregnet: ingen tæller i bydelen"
    assert table["not_computed"].notna().sum() == 2
    oestre = evaluations["oestre-aaparken"].table.set_index("key")
    assert oestre["not_computed"].isna().all()
    assert "1 tæller mangler data i et af de to år" in oestre.loc["brug-af-omraadet", "inference_note"]


def test_outside_view_counts_only_the_comparison_group(data, evaluations):
    """District residents rate their own district 95 % top-box; the outside view must not see it."""
    levels = evaluations["soeholm-vaenge"].levels
    view = levels[(levels["indicator"] == "omverdenens-oplevelse") & (levels["period"] == FOLLOWUP)]
    design = data.designs[FOLLOWUP]
    rest = design.data[(design.data["stratum"] == "comparison") & design.data["q_view_soeholm_vaenge"].notna()]
    w = design.weights.to_numpy()[rest.index]
    expected = np.average(rest["q_view_soeholm_vaenge"].isin([4, 5]), weights=w)
    assert view["value"].iloc[0] == pytest.approx(expected, abs=1e-9)
    assert expected < 0.6  # the comparison group's level (~0.40), not the residents' (~0.95)


# --- weighting degrades gracefully in small strata ------------------------------------------------


def _small_wave(rng: np.random.Generator, n_small: int, respond: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A wave with a large comparison stratum and a tiny district ('lille'), and its population."""
    def people(n, stratum):
        return pd.DataFrame({
            "stratum": stratum, "age": rng.integers(18, 90, n),
            "sex": rng.choice(["female", "male"], n), "origin": rng.choice(["danish", "western", "non_western"], n,
                                                                            p=[0.8, 0.05, 0.15])})
    population = pd.concat([people(20_000, "comparison"), people(n_small, "lille")], ignore_index=True)
    population["age_band"] = age_band(population["age"])
    sample = pd.concat([population[population["stratum"] == "comparison"].sample(2000, random_state=1),
                        population[population["stratum"] == "lille"]], ignore_index=True)
    sample["design_weight"] = np.where(sample["stratum"] == "lille", 1.0, 10.0)
    sample["responded"] = rng.random(len(sample)) < np.where(sample["stratum"] == "lille", respond, 0.5)
    return sample, population


def test_tiny_district_is_weighted_more_coarsely_with_a_note():
    """25 residents, about 10 respondents: cells of the full margins are empty, so the district is
    raked to coarser margins, hits its number of adults exactly, and the note says so."""
    sample, population = _small_wave(np.random.default_rng(3), 25, 0.4)
    weighting = wave_weighting(sample, population, wave=2024, names={"lille": "Lille Vænge"})
    assert weighting.levels["comparison"] == 0 and weighting.levels["lille"] > 0
    w = weighting.design.weights.to_numpy()
    small = (weighting.design.data["stratum"] == "lille").to_numpy()
    assert w[small].sum() == pytest.approx(25, rel=1e-9)
    note = weighting.notes["lille"]
    assert note.startswith("Vægtningen i 2024: for få besvarelser i Lille Vænge")
    assert re.search(r"vægtet efter (alder og herkomst|alder|antallet af voksne) i stedet", note)
    assert "comparison" not in weighting.notes


def test_district_without_respondents_is_left_out_of_the_wave_with_a_note():
    sample, population = _small_wave(np.random.default_rng(4), 25, 0.0)
    weighting = wave_weighting(sample, population, wave=2021, names={"lille": "Lille Vænge"})
    assert weighting.left_out == ("lille",)
    assert not (weighting.design.data["stratum"] == "lille").any()
    assert "Ingen i Lille Vænge besvarede spørgeskemaet i 2021" in weighting.notes["lille"]


def test_full_margins_are_kept_where_every_cell_has_respondents():
    sample, population = _small_wave(np.random.default_rng(5), 3000, 0.5)
    weighting = wave_weighting(sample, population)
    assert weighting.levels == {"comparison": 0, "lille": 0} and weighting.notes == {}
    assert len(RAKING_LEVELS) == 4


@pytest.mark.filterwarnings("ignore:overflow encountered")  # the failed attempt overflows before it is given up
def test_balancing_gives_up_a_target_it_cannot_meet_with_a_note():
    """One comparison respondent is 'western' while half the district is: raking to that share
    does not converge, so the target is dropped and named; the others are still met."""
    rng = np.random.default_rng(6)
    n_d, n_c = 60, 400
    frame = pd.DataFrame({
        "stratum": ["lille"] * n_d + ["comparison"] * n_c,
        "sex": rng.choice(["female", "male"], n_d + n_c),
        "origin": ["western"] * (n_d // 2) + ["danish"] * (n_d // 2) + ["western"] + ["danish"] * (n_c - 1),
        "w": 1.0,
    })
    from evaluering.survey.design import SurveyDesign

    design = SurveyDesign(frame, weights="w", strata="stratum")
    balanced, notes = balance_comparison_noted(design, "stratum", "lille", "comparison", ["sex", "origin"])
    assert len(notes) == 1 and "Herkomst: vestlig" in notes[0]
    data, w = balanced.data, balanced.weights.to_numpy()
    comparison = (data["stratum"] == "comparison").to_numpy()
    district_male = (frame["sex"][:n_d] == "male").mean()
    assert np.average(data.loc[comparison, "sex"] == "male", weights=w[comparison]) == pytest.approx(district_male)


@pytest.fixture(scope="module")
def small_survey(delivery, params):
    """The delivery with Søholm Vænge's survey cut to a ~25-person sample per wave (about 10 and 6
    respondents), its design weights scaled up to match: the weighting must degrade, not fail."""
    dataset = load_dataset(delivery[0], params)
    district = dataset.areas.set_index("area_id")["district"]
    survey = dataset.survey
    small = (survey["area_id"].map(district) == "soeholm-vaenge").fillna(False).to_numpy(dtype=bool)
    rate = 25 / (small.sum() / 2)
    keep = ~small | (np.random.default_rng(1).random(len(survey)) < rate)
    survey = survey[keep].reset_index(drop=True)
    survey.loc[small[keep], "design_weight"] = survey.loc[small[keep], "design_weight"] / rate
    data = prepare(dataclasses.replace(dataset, survey=survey), params)
    return data, evaluate_district(data, "soeholm-vaenge", BASELINE, FOLLOWUP, details=False)


def test_small_district_survey_is_weighted_coarsely_and_says_so(small_survey, params):
    data, evaluation = small_survey
    for wave in (BASELINE, FOLLOWUP):
        note = data.weighting_notes[wave]["soeholm-vaenge"]
        assert note.startswith(f"Vægtningen i {wave}: for få besvarelser i Søholm Vænge til at vægte efter alder × køn")
        assert "oestre-aaparken" not in data.weighting_notes[wave]
    table = evaluation.table.set_index("key")
    survey_rows = [i.key for i in params.indicators if i.source == "survey" and i.key != "omverdenens-oplevelse"]
    for key in survey_rows:
        assert "for få besvarelser i Søholm Vænge" in table.loc[key, "weighting_note"], key
        # a share's change stays a share's change: no exploded variance from an impossible balancing target
        assert -1 <= table.loc[key, "ci_low"] <= table.loc[key, "estimate"] <= table.loc[key, "ci_high"] <= 1, key
    assert "Sammenligningsgruppen er ikke udlignet på" in table.loc[survey_rows[0], "weighting_note"]
    assert pd.isna(table.loc["omverdenens-oplevelse", "weighting_note"])  # the comparison group's own view
    assert pd.isna(table.loc["arbejdsmarked", "weighting_note"])


def test_report_table_shows_the_weighting_note(small_survey, params):
    from evaluering.report.tables import goal_table

    _, evaluation = small_survey
    html = "".join(goal_table(evaluation, params, g.key) for g in params.effect_goals)
    assert "for få besvarelser i Søholm Vænge til at vægte efter alder × køn og herkomst" in html


# --- every report renders --------------------------------------------------------------------------


def _text(path: Path) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", path.read_text(encoding="utf-8")))


def test_every_report_renders(reports, params):
    code, wave_dir = reports
    assert code == 0
    names = {f"{d.key}.html" for d in params.districts} | {"oversigt.html", "overvaagning.html",
                                                           "omraadeeffekter.html"}
    assert names <= {p.name for p in wave_dir.glob("*.html")}


def test_district_report_shows_why_an_indicator_is_not_computed(reports):
    _, wave_dir = reports
    text = _text(wave_dir / "soeholm-vaenge.html")
    assert "Ikke beregnet" in text
    assert "Ikke beregnet: ingen børn i SFO eller klub i bydelen" in text
    assert "Ikke beregnet: ingen tæller i bydelen" in text
    oestre = _text(wave_dir / "oestre-aaparken.html")
    assert "Ikke beregnet" not in oestre
    # persons sampled without a register row: their own category in the balance table, balanced
    row = re.search(r"Alder: ukendt ([\d,]+) % ([\d,]+) % ([\d,]+) %", oestre)
    assert row and row.group(1) == row.group(3) and row.group(1) != "0,0"
