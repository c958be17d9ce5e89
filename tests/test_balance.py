"""Balancing the comparison group inside the survey design agrees with stand-alone entropy balancing."""

from __future__ import annotations

import numpy as np
import pytest

from evaluering.evaluation import BALANCE_COVARIATES
from evaluering.indicators.prepare import COMPARISON
from evaluering.survey.balance import BALANCE_GROUP, balance_comparison
from evaluering.weighting import covariate_matrix, entropy_balance


@pytest.fixture(scope="module")
def wave(prepared):
    return prepared.designs[2024]


def test_design_balancing_equals_entropy_balancing(wave):
    district = "vaerebro-park"
    balanced = balance_comparison(wave, "stratum", district, COMPARISON, BALANCE_COVARIATES)
    data, w = wave.data, wave.weights.to_numpy()
    X = covariate_matrix(data, BALANCE_COVARIATES)
    in_district = (data["stratum"] == district).to_numpy() & (w > 0)
    in_comparison = (data["stratum"] == COMPARISON).to_numpy() & (w > 0)
    target = X[in_district].mul(w[in_district], axis=0).sum() / w[in_district].sum()
    reference = entropy_balance(X[in_comparison], target, w[in_comparison])
    np.testing.assert_allclose(balanced.weights[in_comparison], reference.weights, rtol=1e-6)
    # the district and the other districts keep their weights
    np.testing.assert_allclose(balanced.weights[~in_comparison], w[~in_comparison], rtol=1e-12)
    # balanced comparison means equal the district's to 1e-6
    after = X[in_comparison].mul(balanced.weights[in_comparison], axis=0).sum() / balanced.weights[in_comparison].sum()
    np.testing.assert_allclose(after, target, atol=1e-6)
    assert set(balanced.data[BALANCE_GROUP]) == {district, COMPARISON, "other"}
