"""Ambition tracking: status against target and trajectory, by hand, in both directions; config errors."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import yaml

from evaluering.config import ConfigError, load_params
from evaluering.evaluation.ambitions import (
    STATUS_LABELS,
    AmbitionError,
    track_ambitions,
    track_district,
    trajectory_level,
)

DISTRICT = "hoeje-gladsaxe"
UP, DOWN = "uddannelse", "ensomhed"  # higher is better / lower is better


def _levels(rows) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["group", "indicator", "period", "value", "se"])


def _params(params, targets: dict, **update):
    """The Gladsaxe parameters with only ``targets`` (indicator -> target) as Høje Gladsaxe's ambitions."""
    return params.model_copy(update={"ambitions": {DISTRICT: targets}, **update})


def _track(params, indicator, baseline_level, latest_level, target, se=0.01, **kwargs):
    """One district x indicator: baseline 2021, latest 2025, target year 2029 (halfway in 2025)."""
    levels = _levels([(DISTRICT, indicator, 2021, baseline_level, se), (DISTRICT, indicator, 2025, latest_level, se)])
    kwargs = {"target_year": 2029, **kwargs}
    table = track_ambitions(levels, _params(params, {indicator: target}), **kwargs)
    assert len(table) == 1
    return table.iloc[0]


# --- status, both directions -------------------------------------------------------------------------
# higher is better: 0.25 in 2021 -> target 0.75 in 2029, so the trajectory requires 0.5 in 2025.
# lower is better: the mirror image, 0.75 -> 0.25, again 0.5 in 2025.


@pytest.mark.parametrize(
    "indicator, baseline_level, target, latest_level, expected",
    [
        (UP, 0.25, 0.75, 0.80, "met"),
        (UP, 0.25, 0.75, 0.75, "met"),  # exactly at the target
        (UP, 0.25, 0.75, 0.60, "on_track"),
        (UP, 0.25, 0.75, 0.50, "on_track"),  # exactly on the trajectory
        (UP, 0.25, 0.75, 0.49, "off_track"),
        (UP, 0.25, 0.75, 0.20, "off_track"),  # worse than at baseline
        (DOWN, 0.75, 0.25, 0.20, "met"),
        (DOWN, 0.75, 0.25, 0.25, "met"),  # exactly at the target
        (DOWN, 0.75, 0.25, 0.40, "on_track"),
        (DOWN, 0.75, 0.25, 0.50, "on_track"),  # exactly on the trajectory
        (DOWN, 0.75, 0.25, 0.51, "off_track"),
        (DOWN, 0.75, 0.25, 0.80, "off_track"),
    ],
)
def test_status(params, indicator, baseline_level, target, latest_level, expected):
    row = _track(params, indicator, baseline_level, latest_level, target)
    assert row["status"] == expected
    assert row["status_label"] == STATUS_LABELS[expected]
    assert row["trajectory_level"] == 0.5 and row["reason"] == ""


def test_danish_labels():
    assert STATUS_LABELS == {"met": "nået", "on_track": "på vej", "off_track": "ikke på vej"}


def test_trajectory_arithmetic_by_hand(params):
    """0.40 in 2021 -> 0.60 in 2031: 0.02 a year, so 0.46 is required in 2024; from 0.43 in 2024,
    0.17 is left in 7 years: about 0.0243 a year."""
    row = track_ambitions(
        _levels([(DISTRICT, UP, 2021, 0.40, 0.01), (DISTRICT, UP, 2024, 0.43, 0.01)]),
        _params(params, {UP: 0.60}), target_year=2031)
    row = row.iloc[0]
    assert row["trajectory_slope"] == pytest.approx(0.02)
    assert row["trajectory_level"] == pytest.approx(0.46)
    assert row["yearly_change_needed"] == pytest.approx(0.17 / 7)
    assert row["status"] == "off_track"
    assert (row["baseline_year"], row["latest_year"], row["target_year"]) == (2021, 2024, 2031)
    assert trajectory_level(0.40, 0.60, 2021, 2031, 2026) == pytest.approx(0.50)


def test_exactly_on_a_trajectory_that_floats_cannot_represent(params):
    """0.30 on the 0.10 -> 0.60 line (2021-2031) in 2025 is on track, although in floating point
    the line gives 0.30000000000000004 there."""
    assert trajectory_level(0.10, 0.60, 2021, 2031, 2025) > 0.30
    table = track_ambitions(
        _levels([(DISTRICT, UP, 2021, 0.10, 0.01), (DISTRICT, UP, 2025, 0.30, 0.01)]),
        _params(params, {UP: 0.60}), target_year=2031)
    assert table.iloc[0]["status"] == "on_track"


def test_lower_is_better_trajectory_and_change_needed(params):
    row = _track(params, DOWN, 0.30, 0.26, 0.20)  # 0.30 -> 0.20: -0.0125 a year, 0.25 required in 2025
    assert row["trajectory_slope"] == pytest.approx(-0.0125)
    assert row["trajectory_level"] == pytest.approx(0.25)
    assert row["yearly_change_needed"] == pytest.approx(-0.015)  # 0.06 to go down in 4 years
    assert row["status"] == "off_track"


# --- the interval -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "latest_level, se, decisive",
    [
        (0.80, 0.01, True),  # 0.78-0.82: all above the target 0.75
        (0.76, 0.01, False),  # 0.74-0.78: straddles the target
        (0.60, 0.01, True),  # 0.58-0.62: between trajectory 0.5 and target
        (0.50, 0.01, False),  # on the trajectory
        (0.40, 0.01, True),  # 0.38-0.42: all below the trajectory
        (0.40, 0.10, False),
    ],
)
def test_decisive_when_the_whole_interval_gives_the_same_status(params, latest_level, se, decisive):
    row = _track(params, UP, 0.25, latest_level, 0.75, se=se)
    assert row["decisive"] == decisive
    assert row["ci_low"] == pytest.approx(latest_level - 1.959964 * se, abs=1e-6)
    assert row["ci_high"] == pytest.approx(latest_level + 1.959964 * se, abs=1e-6)


def test_confidence_level(params):
    row = _track(params, UP, 0.25, 0.60, 0.75, se=0.01, confidence=0.90)
    assert row["ci_high"] - row["latest_level"] == pytest.approx(1.644854 * 0.01, abs=1e-7)


def test_interval_decisiveness_lower_is_better(params):
    assert _track(params, DOWN, 0.75, 0.20, 0.25, se=0.01)["decisive"]  # 0.18-0.22: all below the target
    assert not _track(params, DOWN, 0.75, 0.24, 0.25, se=0.01)["decisive"]  # 0.22-0.26: straddles it


# --- years ------------------------------------------------------------------------------------------


def test_past_the_target_year_the_trajectory_is_the_target(params):
    row = _track(params, UP, 0.25, 0.70, 0.75, target_year=2024)
    assert row["trajectory_level"] == 0.75 and np.isnan(row["yearly_change_needed"])
    assert row["status"] == "off_track"


def test_defaults_come_from_the_parameters_and_the_levels(params):
    levels = _levels([(DISTRICT, UP, 2021, 0.30, 0.01), (DISTRICT, UP, 2024, 0.35, 0.01),
                      ("comparison", UP, 2024, 0.5, 0.01)])
    row = track_ambitions(levels, _params(params, {UP: 0.40})).iloc[0]
    assert (row["baseline_year"], row["latest_year"], row["target_year"]) == (2021, 2024, params.strategy.target_year)
    assert row["trajectory_level"] == pytest.approx(0.30 + 0.10 * 3 / 9)


def test_year_errors(params):
    levels = _levels([(DISTRICT, UP, 2021, 0.30, 0.01), (DISTRICT, UP, 2024, 0.35, 0.01)])
    with pytest.raises(ValueError, match="target year 2021 must come after the baseline year 2021"):
        track_ambitions(levels, params, target_year=2021)
    with pytest.raises(ValueError, match="latest year 2019 comes before the baseline year 2021"):
        track_ambitions(levels, params, latest=2019)


# --- missing and unknown --------------------------------------------------------------------------


def test_missing_level_gives_nan_status_and_a_reason(params):
    levels = _levels([(DISTRICT, UP, 2021, 0.30, 0.01), (DISTRICT, UP, 2024, 0.35, 0.01),
                      (DISTRICT, DOWN, 2021, 0.20, 0.01)])
    table = track_ambitions(levels, _params(params, {UP: 0.40, DOWN: 0.15})).set_index("indicator")
    assert table.loc[UP, "status"] == "on_track"
    assert pd.isna(table.loc[DOWN, "status"]) and pd.isna(table.loc[DOWN, "status_label"])
    assert table.loc[DOWN, "reason"] == "no level for 2024"
    assert np.isnan(table.loc[DOWN, "trajectory_level"])


def test_missing_standard_error_leaves_decisive_unknown(params):
    row = _track(params, UP, 0.25, 0.60, 0.75, se=np.nan)
    assert row["status"] == "on_track" and pd.isna(row["decisive"]) and "no standard error" in row["reason"]


def test_only_indicators_with_an_ambition_and_a_level(params):
    levels = _levels([(DISTRICT, UP, 2021, 0.30, 0.01), (DISTRICT, UP, 2024, 0.35, 0.01)])
    assert track_ambitions(levels, _params(params, {DOWN: 0.1})).empty
    table = track_ambitions(levels, params)  # the file's ambitions: all 19, but levels for one
    assert list(table["indicator"]) == [UP] and table.iloc[0]["target"] == params.ambition(DISTRICT, UP)


@pytest.mark.parametrize(
    "rows, message",
    [
        ([("nowhere", UP, 2021, 0.3, 0.01)], r"unknown groups \['nowhere'\]"),
        ([(DISTRICT, "typo", 2021, 0.3, 0.01)], r"unknown indicators \['typo'\]"),
        ([(DISTRICT, UP, 2021, 0.3, 0.01), (DISTRICT, UP, 2021, 0.4, 0.01)], "more than one row"),
    ],
)
def test_bad_levels_are_errors(params, rows, message):
    with pytest.raises(ValueError, match=message):
        track_ambitions(_levels(rows), params)


def test_levels_need_their_columns(params):
    with pytest.raises(AmbitionError, match=r"levels: missing column\(s\) 'se'"):
        track_ambitions(pd.DataFrame({"group": [DISTRICT], "indicator": [UP], "period": [2021], "value": [0.3]}),
                        params)


# --- the evaluation -------------------------------------------------------------------------------


def test_track_district_uses_the_evaluations_levels_and_waves(params):
    levels = _levels([(DISTRICT, UP, 2021, 0.30, 0.01), (DISTRICT, UP, 2024, 0.45, 0.01),
                      ("comparison", UP, 2021, 0.5, 0.01), ("comparison", UP, 2024, 0.5, 0.01),
                      (DISTRICT, UP, 2027, 0.10, 0.01)])
    evaluation = SimpleNamespace(district=DISTRICT, baseline=2021, followup=2024, levels=levels)
    row = track_district(evaluation, _params(params, {UP: 0.40})).iloc[0]
    assert row["latest_year"] == 2024 and row["status"] == "met"


def test_status_met_agrees_with_the_evaluations_ambition_met(prepared, params):
    from evaluering.evaluation import evaluate_district

    evaluation = evaluate_district(prepared, "moerkhoej", 2021, 2024)
    table = track_district(evaluation, params).set_index("indicator")
    met = evaluation.table.set_index("key")["ambition_met"]
    assert len(table) == len(params.indicators)
    assert ((table["status"] == "met") == met.reindex(table.index).astype(bool)).all()


# --- the parameter file ------------------------------------------------------------------------------


@pytest.fixture
def raw(params_file):
    return yaml.safe_load(params_file.read_text(encoding="utf-8"))


def _write(tmp_path: Path, raw: dict) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return path


def test_target_year_is_the_strategy_target_year(params):
    assert params.strategy.target_year == 2030


@pytest.mark.parametrize("year", [2021, 2015])
def test_target_year_must_come_after_the_baseline_wave(tmp_path, raw, year):
    raw["strategy"]["target_year"] = year
    path = _write(tmp_path, raw)
    with pytest.raises(ConfigError) as err:
        load_params(path)
    assert str(path) in str(err.value)
    assert f"strategy.target_year {year} must come after survey.baseline_wave 2021" in str(err.value)


def test_ambition_for_unknown_district_names_file_and_key(tmp_path, raw):
    raw["ambitions"]["hoeje-gladsaxee"] = raw["ambitions"].pop("hoeje-gladsaxe")
    path = _write(tmp_path, raw)
    with pytest.raises(ConfigError) as err:
        load_params(path)
    assert str(path) in str(err.value)
    assert "ambitions.hoeje-gladsaxee: unknown district" in str(err.value)


def test_ambition_for_unknown_indicator_names_file_and_key(tmp_path, raw):
    raw["ambitions"]["vaerebro-park"]["tryghed"] = 0.6
    path = _write(tmp_path, raw)
    with pytest.raises(ConfigError) as err:
        load_params(path)
    assert str(path) in str(err.value)
    assert "ambitions.vaerebro-park.tryghed: unknown indicator" in str(err.value)
