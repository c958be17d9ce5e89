"""The shared numerical building blocks (``evaluering.numerics``) against textbook values."""

from __future__ import annotations

import numpy as np
import pytest
import statsmodels.api as sm

from evaluering.numerics import critical_value, interval, ols_influence, p_value, weighted_logit, wls_coefficients


def test_normal_interval_matches_the_textbook_quantile():
    low, high, p = interval(1.0, 0.5, 0.95)
    assert (low, high) == pytest.approx((1.0 - 1.959963984540054 * 0.5, 1.0 + 1.959963984540054 * 0.5), abs=1e-12)
    assert p == pytest.approx(0.04550026389635842, abs=1e-12)  # 2 * (1 - Phi(2))


def test_t_interval_uses_the_degrees_of_freedom():
    assert critical_value(0.95, df=10) == pytest.approx(2.228138852, abs=1e-9)  # t_{0.975, 10}, R qt(0.975, 10)
    low, high, p = interval(2.0, 1.0, 0.95, df=10)
    assert high - low == pytest.approx(2 * 2.228138852, abs=1e-8)
    assert p == pytest.approx(0.07338803, abs=1e-8)  # R: 2 * pt(-2, 10)


def test_zero_or_missing_se_gives_no_test_and_a_collapsed_interval():
    assert interval(1.5, 0.0, 0.9) == (1.5, 1.5, pytest.approx(float("nan"), nan_ok=True))
    assert np.isnan(p_value(1.0, float("nan")))
    low, high, p = interval(np.array([1.0, 2.0]), np.array([0.5, 0.0]), 0.95)
    assert np.isnan(p[1]) and low[1] == high[1] == 2.0 and p[0] == pytest.approx(0.04550026389635842)


def test_weighted_logit_with_integer_weights_is_the_logit_of_the_expanded_data():
    rng = np.random.default_rng(3)
    n = 400
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.integers(0, 2, n)])
    d = (rng.random(n) < 1 / (1 + np.exp(-(X @ [-0.3, 0.8, 0.5])))).astype(float)
    w = rng.integers(1, 4, n).astype(float)
    fit = weighted_logit(X, d, w)
    rows = np.repeat(np.arange(n), w.astype(int))
    expanded = sm.Logit(d[rows], X[rows]).fit(disp=0)
    assert fit.converged
    np.testing.assert_allclose(fit.coef, expanded.params, atol=1e-8)
    np.testing.assert_allclose(fit.fitted, 1 / (1 + np.exp(-(X @ expanded.params))), atol=1e-8)


def test_weighted_logit_reports_separation_as_not_converged():
    x = np.linspace(-1, 1, 40)
    X = np.column_stack([np.ones(40), x])
    fit = weighted_logit(X, (x > 0).astype(float), np.ones(40), max_iter=25)
    assert not fit.converged


def test_least_squares_and_its_influence_agree_with_the_sandwich():
    rng = np.random.default_rng(5)
    n = 300
    X = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = X @ [1.0, 2.0] + rng.normal(size=n)
    w = rng.uniform(0.5, 2.0, n)
    beta = wls_coefficients(X, y, w)
    np.testing.assert_allclose(beta, np.linalg.solve(X.T @ (w[:, None] * X), X.T @ (w * y)), rtol=1e-10)
    psi = ols_influence(X, y, w, X @ beta)
    assert np.allclose(psi.mean(axis=0), 0, atol=1e-10)  # the normal equations
    hc0 = psi.T @ psi / n**2  # the HC0 sandwich of the weighted regression
    ref = sm.WLS(y, X, weights=w).fit(cov_type="HC0").cov_params()
    np.testing.assert_allclose(hc0, ref, rtol=1e-8)
