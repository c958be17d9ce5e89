"""Parameter loading: the Gladsaxe file is complete, and bad files give one clear message."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from evaluering.config import ConfigError, load_params


def test_gladsaxe_framework_is_complete(params):
    assert [d.name for d in params.districts] == ["Høje Gladsaxe", "Værebro Park", "Mørkhøj"]
    assert len(params.effect_goals) == 3
    assert sum(len(g.themes) for g in params.effect_goals) == 9
    assert [i.number for i in params.indicators] == list(range(1, 20))
    assert params.survey.waves == [2021, 2024] and params.survey.next_wave == 2027
    empty = [t.name for g in params.effect_goals for t in g.themes if not t.indicators]
    assert empty == ["Socialt mix i fritiden"]
    for district in params.districts:
        assert set(params.ambitions[district.key]) == {i.key for i in params.indicators}


def _write(tmp_path: Path, raw: dict) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


@pytest.fixture
def raw(params_file):
    return yaml.safe_load(params_file.read_text(encoding="utf-8"))


def test_misspelt_key_names_file_and_key(tmp_path, raw):
    raw["survey"]["wavez"] = raw["survey"].pop("waves")
    path = _write(tmp_path, raw)
    with pytest.raises(ConfigError) as err:
        load_params(path)
    message = str(err.value)
    assert str(path) in message
    assert "survey.wavez: unknown key" in message
    assert "survey.waves: required key is missing" in message


def test_bad_value_in_nested_indicator_is_located_by_key(tmp_path, raw):
    raw["effect_goals"][0]["themes"][2]["indicators"][3]["direction"] = "down"
    with pytest.raises(ConfigError, match=r"themes\[tryghed\]\.indicators\[kriminalitet\]\.direction"):
        load_params(_write(tmp_path, raw))


def test_ambition_for_unknown_indicator(tmp_path, raw):
    raw["ambitions"]["moerkhoej"]["sundhed-typo"] = 0.5
    with pytest.raises(ConfigError, match=r"ambitions\.moerkhoej\.sundhed-typo: unknown indicator"):
        load_params(_write(tmp_path, raw))


def test_baseline_must_be_a_wave(tmp_path, raw):
    raw["survey"]["baseline_wave"] = 2020
    with pytest.raises(ConfigError, match="baseline_wave 2020 is not one of the waves"):
        load_params(_write(tmp_path, raw))


def test_source_must_fit_computation(tmp_path, raw):
    raw["effect_goals"][0]["themes"][0]["indicators"][0]["source"] = "survey"
    with pytest.raises(ConfigError, match="does not fit computation kind 'register_share'"):
        load_params(_write(tmp_path, raw))


def test_missing_file_and_broken_yaml(tmp_path):
    with pytest.raises(ConfigError, match="not found"):
        load_params(tmp_path / "nope.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("municipality: [unclosed", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_params(broken)


def test_repeated_key_and_unknown_lookups_are_config_errors(tmp_path, params):
    text = (Path(__file__).parents[1] / "params" / "gladsaxe.yaml").read_text(encoding="utf-8")
    repeated = tmp_path / "repeated.yaml"
    repeated.write_text(text.replace("  min_cell: 5\n", "  min_cell: 5\n  min_cell: 1\n"), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"key 'min_cell' appears twice"):
        load_params(repeated)
    with pytest.raises(ConfigError, match=r"unknown indicator 'nope' in .*gladsaxe.yaml"):
        params.indicator("nope")
    with pytest.raises(ConfigError, match="unknown indicator 'nope'"):
        params.theme_of("nope")
