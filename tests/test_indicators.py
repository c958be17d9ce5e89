"""Indicator computations on small hand-built data, checked against hand calculation."""

from __future__ import annotations

import pandas as pd
import pytest

from evaluering.indicators.levels import weighted_levels
from evaluering.indicators.prepare import PreparedData
from evaluering.indicators.units import unit_frame


def _prepared(params, **tables) -> PreparedData:
    empty = pd.DataFrame()
    return PreparedData(
        params=params,
        register=tables.get("register", empty),
        survey=tables.get("survey", empty),
        designs={},
        institutions=tables.get("institutions", empty),
        visitors=tables.get("visitors", empty),
        dataset=None,
    )


def _value(units, group, period):
    lv = weighted_levels(units).set_index(["group", "period"])
    return lv.loc[(group, period), "value"]


def test_isolation_index_by_hand(params):
    # Institution I1: 4 children, 3 disadvantaged. Each disadvantaged child sees 2 of 3 others -> 2/3.
    # Institution I2: 3 children, 1 disadvantaged, who sees 0 of 2 others -> 0.
    # Institution I3: a lone disadvantaged child -> left out (no other children).
    # District children: the three in I1 and the one in I2 -> isolation = (3 * 2/3 + 0) / 4 = 0.5.
    inst = pd.DataFrame(
        {
            "person_id": list("abcdefgh"),
            "year": 2024,
            "institution_type": "daycare",
            "institution_id": ["I1"] * 4 + ["I2"] * 3 + ["I3"],
            "disadvantaged_home": [True, True, True, False, True, False, False, True],
            "group": ["hoeje-gladsaxe"] * 3 + ["comparison"] + ["hoeje-gladsaxe"] + ["comparison"] * 3,
            "area_id": ["A1"] * 8,
        }
    )
    units = unit_frame(_prepared(params, institutions=inst), params.indicator("mix-dagtilbud"))
    assert _value(units, "hoeje-gladsaxe", 2024) == pytest.approx(0.5)
    assert set(units["group"]) == {"hoeje-gladsaxe"}  # I3's lone child is not counted
    assert units["cluster"].nunique() == 2  # clustered by institution


def _register(rows):
    cols = ["person_id", "year", "group", "age", "education", "voted"]
    return pd.DataFrame(rows, columns=cols).assign(area_id="A1")


def test_inmovers_are_new_to_the_group(params):
    reg = _register(
        [
            ("p1", 2023, "comparison", 40, "higher", None),  # moves into the district in 2024
            ("p1", 2024, "moerkhoej", 41, "higher", None),
            ("p2", 2023, "moerkhoej", 35, "primary", None),  # stays: not an in-mover
            ("p2", 2024, "moerkhoej", 36, "primary", None),
            ("p3", 2024, "moerkhoej", 50, "primary", None),  # arrives from outside the municipality
            ("p4", 2024, "moerkhoej", 70, "higher", None),  # outside the 30-64 band
        ]
    )
    units = unit_frame(_prepared(params, register=reg), params.indicator("bevaegelse"), [2024])
    assert sorted(units["cluster"]) == ["p1", "p3"]
    assert _value(units, "moerkhoej", 2024) == pytest.approx(0.5)


def test_voting_uses_latest_election_up_to_the_wave(params):
    reg = _register(
        [
            ("p1", 2021, "moerkhoej", 40, "higher", True),
            ("p2", 2021, "moerkhoej", 40, "higher", False),
            ("p1", 2022, "moerkhoej", 41, "higher", True),
            ("p2", 2022, "moerkhoej", 41, "higher", True),
            ("p1", 2023, "moerkhoej", 42, "higher", None),  # no election in 2023
            ("p2", 2023, "moerkhoej", 42, "higher", None),
        ]
    )
    reg["voted"] = reg["voted"].astype("boolean")
    units = unit_frame(_prepared(params, register=reg), params.indicator("demokratisk-deltagelse"), [2021, 2023])
    assert _value(units, "moerkhoej", 2021) == pytest.approx(0.5)
    assert _value(units, "moerkhoej", 2023) == pytest.approx(1.0)  # from the 2022 election


def test_survey_share_uses_weights_and_top_box(params):
    survey = pd.DataFrame(
        {
            "person_id": ["a", "b", "c", "d"],
            "wave": 2024,
            "stratum": ["moerkhoej"] * 4,
            "responded": [True, True, True, False],
            "weight": [1.0, 3.0, 1.0, 0.0],
            "area_id": "A1",
            "q_health": pd.array([5, 2, 4, pd.NA], dtype="Int64"),
        }
    )
    units = unit_frame(_prepared(params, survey=survey), params.indicator("oplevet-sundhed"))
    assert _value(units, "moerkhoej", 2024) == pytest.approx(2 / 5)
