"""Report texts come from the parameter file and the data, not from Gladsaxe (issue 13).

A municipality's parameter file is derived from ``params/gladsaxe.yaml`` with other districts (two
or four instead of three), some indicators removed (their numbers kept for the others) and no
strategy name. The texts of every report are built from small stand-ins for the evaluation and the
prepared data (no estimation: the texts only read names, years and counts), and must say nothing of
Gladsaxe, three districts, 19 indicators or a removed indicator's number. Who was invited to the
survey is checked against the data: the Gladsaxe synthetic data invite every adult in the districts,
a sample of them must be reported as a sample with the right counts.
"""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml

from evaluering.config import ConfigError, load_params
from evaluering.report.area import AreaReport
from evaluering.report.district import DistrictReport
from evaluering.report.inputs import load_prepared
from evaluering.report.monitoring import MonitoringReport
from evaluering.report.overview import OverviewReport
from evaluering.report.texts import (SurveyCoverage, coverage_text, indicator_reference, planning_coverage_text,
                                     strategy_name, survey_coverage)

ROOT = Path(__file__).resolve().parents[1]
GLADSAXE = ROOT / "params" / "gladsaxe.yaml"
BASELINE, FOLLOWUP = 2021, 2024
MIN_CELL = 5

# district key -> (name, adults in the register, invited in 2021, invited in 2024)
TWO_DISTRICTS = {
    "oestre-aaparken": ("Østre Åparken", 100, 100, 100),  # surveyed in full
    "soeholm-vaenge": ("Søholm Vænge", 100, 60, 70),  # a sample
}
FOUR_DISTRICTS = {
    "oestre-aaparken": ("Østre Åparken", 100, 100, 100),
    "soeholm-vaenge": ("Søholm Vænge", 100, 60, 70),
    "blaabaerhaven": ("Blåbærhaven", 100, 98, 100),  # 2 not invited in 2021: too few to print the counts
    "noerre-enge": ("Nørre Enge", 80, 80, 80),
}
# removed indicators: outside view (16), visitors (18), in-movers (19) and health (3): 15 remain
TWO_REMOVED = {"omverdenens-oplevelse": 16, "brug-af-omraadet": 18, "bevaegelse": 19, "oplevet-sundhed": 3}
# crime (7) and loneliness (9), the old examples of "lower is better", daycare mix (12), in-movers (19)
FOUR_REMOVED = {"kriminalitet": 7, "ensomhed": 9, "mix-dagtilbud": 12, "bevaegelse": 19}


def _municipality_params(tmp_path: Path, districts: dict, removed: dict) -> Path:
    """Gladsaxe's file with Kærbæk's name, other districts, ``removed`` indicators left out and no
    strategy name (its default is built from the municipality)."""
    raw = yaml.safe_load(GLADSAXE.read_text(encoding="utf-8"))
    raw["municipality"] = {"key": "kaerbaek", "name": "Kærbæk Kommune", "inhabitants": 30000}
    raw["districts"] = [{"key": key, "name": name} for key, (name, *_) in districts.items()]
    raw["comparison_group"] = {"name": "Resten af Kærbæk"}
    raw["strategy"].pop("name", None)
    raw["disclosure"] = {"min_cell": MIN_CELL}
    for goal in raw["effect_goals"]:
        for theme in goal["themes"]:
            theme["indicators"] = [i for i in theme["indicators"] if i["key"] not in removed]
    template = {k: v for k, v in next(iter(raw["ambitions"].values())).items() if k not in removed}
    raw["ambitions"] = {key: dict(template) for key in districts}
    path = tmp_path / "kaerbaek.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _data(params, districts: dict, youngest: int = 18) -> SimpleNamespace:
    """The register's adults and the survey sample of each district and wave, plus a comparison sample."""
    register, survey = [], []
    for key, (_, adults, *invited) in districts.items():
        for wave, n in zip((BASELINE, FOLLOWUP), invited):
            ids = [f"{key}-{wave}-{i}" for i in range(adults)]
            register.append(pd.DataFrame({"person_id": ids, "year": wave, "group": key, "age": 40}))
            survey.append(pd.DataFrame({"person_id": ids[:n], "wave": wave, "stratum": key,
                                        "responded": [i % 2 == 0 for i in range(n)]}))
    for wave in (BASELINE, FOLLOWUP):
        ids = [f"rest-{wave}-{i}" for i in range(300)]
        register.append(pd.DataFrame({"person_id": ids, "year": wave, "group": "comparison", "age": 50}))
        survey.append(pd.DataFrame({"person_id": ids, "wave": wave, "stratum": "comparison",
                                    "responded": [i % 2 == 0 for i in range(300)]}))
    return SimpleNamespace(params=params, register=pd.concat(register, ignore_index=True),
                           survey=pd.concat(survey, ignore_index=True), youngest=youngest)


def _evaluation(params, key: str) -> SimpleNamespace:
    """What the texts read from a district's evaluation: names, waves and one row per indicator."""
    return SimpleNamespace(district=key, district_name=params.district(key).name, baseline=BASELINE,
                           followup=FOLLOWUP, table=[None] * len(params.indicators))


def _report_texts(params_file: Path, data_dir: Path, districts: dict) -> dict[str, str]:
    """Every parameter- or data-dependent text of the four reports, as HTML."""
    params = load_params(params_file)
    data = _data(params, districts)
    texts = {}
    for key in districts:
        district = DistrictReport(params=params, data=data, evaluation=_evaluation(params, key),
                                  params_file=params_file, data_dir=data_dir)
        texts[f"{key}: title"] = district.title().data
        texts[f"{key}: methods"] = district.methods().data
    overview = OverviewReport(params=params, evaluations=tuple(_evaluation(params, k) for k in districts),
                              params_file=params_file, data_dir=data_dir)
    texts["overview: title"] = overview.title().data
    texts["overview: reading guide"] = overview.reading_guide().data
    monitoring = MonitoringReport(params=params, data=data, year=FOLLOWUP, wave=FOLLOWUP, planned_wave=2027,
                                  params_file=params_file, data_dir=data_dir)
    texts["monitoring: title"] = monitoring.title().data
    texts["monitoring: planning"] = monitoring._planning_survey_text()
    area = AreaReport(params=params, data=data, year=FOLLOWUP, frame=pd.DataFrame(), params_file=params_file,
                      data_dir=data_dir)
    texts["area: title"] = area.title().data
    return texts


def _plain(html: str) -> str:
    """The text a reader sees: tags and attributes removed, whitespace collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


@pytest.fixture(params=[(TWO_DISTRICTS, TWO_REMOVED), (FOUR_DISTRICTS, FOUR_REMOVED)], ids=["two", "four"])
def municipality(request, tmp_path):
    districts, removed = request.param
    data_dir = tmp_path / "kaerbaek-levering"
    data_dir.mkdir()
    params_file = _municipality_params(tmp_path, districts, removed)
    return districts, removed, _report_texts(params_file, data_dir, districts)


def test_no_text_assumes_gladsaxe_three_districts_or_its_indicators(municipality):
    districts, removed, texts = municipality
    for where, html in texts.items():
        text = _plain(html)
        for phrase in ("Gladsaxe", "Social balance", "tre bydele", "kun tre"):
            assert phrase.lower() not in text.lower(), f"{where}: {phrase!r} in {text!r}"
        for number in ("19", *map(str, removed.values())):
            assert not re.search(rf"(?<![\d.,]){number}(?![\d,]|\.\d)", text), f"{where}: {number} in {text!r}"


def test_counts_and_numbers_come_from_the_parameter_file(municipality):
    districts, removed, texts = municipality
    n = 19 - len(removed)
    methods = _plain(texts[f"{next(iter(districts))}: methods"])
    assert f"Med {n} indikatorer" in methods and f"testes {n} ting" in methods
    if "omverdenens-oplevelse" in removed:
        assert "Omverdenens" not in methods and "Omverdenens" not in texts["monitoring: planning"]
    else:
        assert "Omverdenens oplevelse af bydelen (indikator 16)" in methods
        assert "Omverdenens oplevelse (indikator 16)" in texts["monitoring: planning"]
    if "brug-af-omraadet" in removed:
        assert "tællere" not in methods
    else:
        assert "Brug af området (indikator 18) måles med tællere" in methods
    if "kriminalitet" in removed:  # the example of "lower is better" is the file's own first two
        assert "for fx skolefravær og socialt mix i skolen er et fald en forbedring" in methods
        assert "(for fx skolefravær og socialt mix i skolen er et fald en forbedring)" in _plain(
            texts["overview: reading guide"])
    else:
        assert "for fx kriminalitet og ensomhed er et fald en forbedring" in methods


def test_titles_name_the_municipality_strategy_and_parameter_file(municipality):
    districts, _, texts = municipality
    key, (name, *_) = next(iter(districts.items()))
    assert f"<h1>{name}: Socialt bydelsarbejde i Kærbæk Kommune {FOLLOWUP}</h1>" in texts[f"{key}: title"]
    # a name inside a sentence keeps its capital letter
    assert "sammenlignet med resten af Kærbæk, Kærbæk Kommune." in texts[f"{key}: title"]
    assert "hver sammenlignet med resten af Kærbæk." in texts["overview: title"]
    assert f"<h1>Socialt bydelsarbejde i Kærbæk Kommune {FOLLOWUP}: bydelene side om side</h1>" in texts[
        "overview: title"]
    for report in ("overview", "monitoring", "area", key):
        assert ("Bygget med parameterfilen kaerbaek.yaml (Kærbæk Kommune) og data fra mappen kaerbaek-levering."
                in texts[f"{report}: title"])


def test_who_was_invited_matches_the_data(municipality):
    districts, _, texts = municipality
    full = _plain(texts["oestre-aaparken: methods"])
    assert ("Alle voksne beboere i bydelen er inviteret; sammenligningsgruppen er en tilfældig stikprøve blandt "
            "voksne i resten af kommunen.") in full
    sampled = _plain(texts["soeholm-vaenge: methods"])
    assert "Alle voksne" not in sampled
    assert ("Bølge 2021: En stikprøve på 60 af bydelens 100 voksne beboere er inviteret. "
            "Bølge 2024: En stikprøve på 70 af bydelens 100 voksne beboere er inviteret. "
            "Sammenligningsgruppen er en tilfældig stikprøve") in sampled
    if "blaabaerhaven" in districts:  # 98 of 100: the 2 not invited are too few to be told by subtraction
        nearly = _plain(texts["blaabaerhaven: methods"])
        assert ("Bølge 2021: En stikprøve af bydelens voksne beboere er inviteret. "
                "Bølge 2024: Alle voksne beboere i bydelen er inviteret.") in nearly
        assert "98 af" not in nearly and "bydelens 100" not in nearly  # (the table shows the 98 invited)
        assert ("I Østre Åparken, Blåbærhaven og Nørre Enge er alle voksne inviteret, så kun en højere "
                "svarprocent kan gøre undersøgelsen mere præcis dér; i Søholm Vænge kan flere inviterede også "
                "hjælpe.") == texts["monitoring: planning"].split(" Omverdenens")[0]


def test_planning_text_when_every_or_no_district_is_surveyed_in_full():
    names = {"a": "A-by", "b": "B-by"}
    full = {k: SurveyCoverage(FOLLOWUP, 50, 50, True) for k in names}
    sampled = {k: SurveyCoverage(FOLLOWUP, 50, 80, False) for k in names}
    assert planning_coverage_text(full, names).startswith("I bydelene inviteres alle voksne, så kun en højere")
    assert planning_coverage_text(sampled, names).startswith("I bydelene er en stikprøve af de voksne inviteret")
    assert planning_coverage_text({"a": full["a"]}, names).startswith("I bydelen inviteres alle voksne")


def test_small_counts_of_invited_or_residents_are_not_printed():
    for invited, residents in ((3, 40), (40, 4), (0, 10)):
        text = coverage_text([SurveyCoverage(FOLLOWUP, invited, residents, False)], MIN_CELL)
        assert "En stikprøve af bydelens voksne beboere er inviteret." in text
        assert not re.search(r"\d", text.replace(str(FOLLOWUP), "")), text


def test_a_survey_from_age_sixteen_says_so():
    text = coverage_text([SurveyCoverage(FOLLOWUP, 30, 50, False, youngest=16)], MIN_CELL)
    assert "En stikprøve på 30 af bydelens 50 beboere på 16 år og derover er inviteret." in text


def test_indicator_references_and_strategy_name(tmp_path):
    gladsaxe = load_params(GLADSAXE)
    assert strategy_name(gladsaxe) == "Social balance"  # Gladsaxe's titles are unchanged
    by_key = {i.key: i for i in gladsaxe.indicators}
    assert indicator_reference([by_key["omverdenens-oplevelse"]]) == "indikator 16"
    mix = [by_key[k] for k in ("mix-dagtilbud", "mix-skole", "mix-sfo")]
    assert indicator_reference(mix) == "indikatorerne 12, 13 og 14"
    raw = yaml.safe_load(GLADSAXE.read_text(encoding="utf-8"))
    raw["strategy"]["name"] = ""
    path = tmp_path / "tom.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"strategy\.name"):
        load_params(path)


# --- the synthetic Gladsaxe data -------------------------------------------------------------------


@pytest.fixture(scope="module")
def gladsaxe_data(synthetic_dir):
    return load_prepared(GLADSAXE, synthetic_dir)[3]


def _adults_in_register(data, district: str, wave: int) -> int:
    """Adults living in the district's areas in the wave year, counted from the input tables."""
    areas = data.dataset.areas
    district_areas = set(areas.loc[areas["district"] == district, "area_id"])
    reg = data.dataset.register
    return int(((reg["year"] == wave) & (reg["age"] >= 18) & reg["area_id"].isin(district_areas)).sum())


def test_gladsaxe_invites_every_adult_in_its_districts(gladsaxe_data):
    data = gladsaxe_data
    for district in data.params.districts:
        coverage = [survey_coverage(data, district.key, w) for w in (BASELINE, FOLLOWUP)]
        assert all(c.full for c in coverage)
        assert [c.residents for c in coverage] == [_adults_in_register(data, district.key, w)
                                                   for w in (BASELINE, FOLLOWUP)]
        assert coverage_text(coverage, MIN_CELL).startswith("Alle voksne beboere i bydelen er inviteret; ")


def test_a_sample_of_a_gladsaxe_district_is_reported_as_a_sample(gladsaxe_data):
    data = gladsaxe_data
    survey = data.survey
    in_district = (survey["stratum"] == "moerkhoej") & (survey["wave"] == FOLLOWUP)
    dropped = survey[in_district].sample(frac=0.4, random_state=1).index
    sampled = replace(data, survey=survey.drop(index=dropped))
    coverage = [survey_coverage(sampled, "moerkhoej", w) for w in (BASELINE, FOLLOWUP)]
    invited = int(in_district.sum()) - len(dropped)
    adults = _adults_in_register(data, "moerkhoej", FOLLOWUP)
    assert coverage[0].full and not coverage[1].full and adults - invited >= MIN_CELL
    text = coverage_text(coverage, MIN_CELL)
    assert text.startswith("Bølge 2021: Alle voksne beboere i bydelen er inviteret. ")
    assert (f"Bølge 2024: En stikprøve på {invited:,} af bydelens {adults:,} voksne beboere er inviteret."
            .replace(",", ".")) in text
