"""The register's fast paths (issue 15) give what the text-based computations give.

Person codes stand in for the register's text ids where only equality matters (clusters of the
place event study, persons of the people estimate), and the key check works on integer codes: the
results must be those of the ids themselves, on the synthetic register.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluering.config import InmoverShare, RegisterMean, RegisterShare
from evaluering.data.contract import input_contract
from evaluering.data.validate import _check_key
from evaluering.did.panel import baseline_cohort
from evaluering.did.place_event_study import place_event_study
from evaluering.evaluation.register_analyses import PEOPLE_KINDS, district_cohort, people_estimate
from evaluering.indicators.units import cluster_codes, unit_frame

DISTRICT = "moerkhoej"
REGISTER_KINDS = (RegisterShare, RegisterMean, InmoverShare)


def _close(a: float, b: float) -> bool:
    return (np.isnan(a) and np.isnan(b)) or abs(a - b) <= 1e-12


@pytest.mark.parametrize("periods", [None, (2021, 2024)])
def test_cluster_codes_group_the_rows_as_the_cluster_ids(prepared, params, periods):
    checked = 0
    for ind in params.indicators:
        codes = cluster_codes(prepared, ind, periods)
        if not isinstance(ind.computation, REGISTER_KINDS):
            assert codes is None
            continue
        units = unit_frame(prepared, ind, periods)
        assert len(codes) == len(units) > 0
        np.testing.assert_array_equal(pd.factorize(codes)[0], pd.factorize(units["cluster"])[0])
        checked += 1
    assert checked >= 5


def test_place_event_study_with_cluster_codes_equals_the_one_from_ids(prepared, params, truth):
    baseline = truth["baseline_wave"]
    ind = params.indicator("arbejdsmarked")
    units = unit_frame(prepared, ind)
    units, codes = units[units["period"] <= 2024], cluster_codes(prepared, ind)[(units["period"] <= 2024).to_numpy()]
    from_ids = place_event_study(units, DISTRICT, baseline + 1)
    from_codes = place_event_study(units, DISTRICT, baseline + 1, cluster_codes=codes)
    pd.testing.assert_frame_equal(from_ids.coefficients, from_codes.coefficients, check_exact=True)
    assert (from_ids.n_obs, from_ids.n_clusters) == (from_codes.n_obs, from_codes.n_clusters)
    assert from_ids.n_obs < len(units)  # the other districts' rows are left out


def test_people_estimates_from_the_coded_cohort_equal_those_from_person_ids(prepared, params, truth):
    baseline, followup = truth["baseline_wave"], max(params.survey.waves)
    coded = district_cohort(prepared, DISTRICT, baseline, followup)
    register = prepared.register
    with_ids = baseline_cohort(register[register["year"].between(baseline, followup)], baseline, district=DISTRICT)
    assert len(coded) == len(with_ids)
    estimates = 0
    for ind in params.indicators:
        if not isinstance(ind.computation, PEOPLE_KINDS):
            continue
        a, b = people_estimate(coded, ind, baseline), people_estimate(with_ids, ind, baseline)
        assert (a.n_units, a.n_obs, a.n_clusters, a.note) == (b.n_units, b.n_obs, b.n_clusters, b.note)
        assert all(_close(getattr(a, f), getattr(b, f)) for f in ("estimate", "se", "ci_low", "ci_high", "p_value"))
        estimates += not np.isnan(a.estimate)
    assert estimates >= 3


def test_key_check_on_codes_lists_exactly_the_repeated_complete_keys(params):
    spec = input_contract(params)["register"]
    frame = pd.DataFrame({
        "person_id": pd.array(["a", "a", None, None, "b", "c", "c", "b"], dtype="string"),
        "year": pd.array([2020, 2020, 2021, 2021, 2020, 2020, 2021, 2021], dtype="Int64"),
    })
    expected = frame.duplicated(keep=False) & frame.notna().all(axis=1)  # the text-based rule
    [problem] = _check_key(spec, frame, "register.parquet")
    assert problem.rows == tuple(np.flatnonzero(expected.to_numpy()) + 1) == (1, 2)
    assert _check_key(spec, frame.drop(index=[1]), "register.parquet") == []  # NA keys are never duplicates
