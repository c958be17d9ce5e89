"""Weighting the comparison group: entropy balancing against an independent primal solution,
IPW against statsmodels and a known propensity, balance diagnostics by hand."""

from __future__ import annotations

import warnings

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from matplotlib.figure import Figure
from scipy.optimize import minimize

from evaluering.report.figures import love_plot
from evaluering.weighting import (
    BalanceError,
    BalanceWarning,
    BalanceWeights,
    balance_table,
    covariate_matrix,
    effective_sample_size,
    entropy_balance,
    ipw_weights,
    max_weight_share,
)


def _people(n: int, rng: np.random.Generator, shift: float) -> pd.DataFrame:
    """Register-like covariates; ``shift`` moves the profile towards a deprived district."""
    return pd.DataFrame(
        {
            "age_band": rng.choice(["18-29", "30-49", "50-66", "67+"], n,
                                   p=[0.25 + shift / 4, 0.3, 0.25, 0.2 - shift / 4]),
            "sex": rng.choice(["female", "male"], n),
            "origin": rng.choice(["danish", "western", "non_western"], n, p=[0.85 - shift, 0.05, 0.1 + shift]),
            "employed": rng.random(n) < 0.7 - shift / 2,
            "age": rng.normal(45 - 10 * shift, 15, n),
            "income": rng.lognormal(12.5 - shift, 0.6, n),
        }
    )


def _weighted_means(X: pd.DataFrame, w) -> pd.Series:
    w = np.asarray(w, dtype=float)
    return X.mul(w, axis=0).sum() / w.sum()


def _max_gap(X: pd.DataFrame, w, target) -> float:
    """Largest gap between weighted and target means, in units of max(1, SD): absolute for
    dummies, relative to the spread for income in DKK (the solver's tolerance is 1e-8 SD)."""
    return float((np.abs(_weighted_means(X, w) - target) / np.maximum(1.0, X.std())).max())


def _problem(seed: int):
    """A district (treated) and comparison sample with dummies and continuous covariates,
    non-uniform base weights, and the district's weighted means as the target."""
    rng = np.random.default_rng(seed)
    n_t, n_c = rng.integers(150, 600), rng.integers(800, 3000)
    frame = pd.concat([_people(n_t, rng, 0.2), _people(n_c, rng, 0.0)], ignore_index=True)
    X = covariate_matrix(frame, ["age_band", "sex", "origin", "employed", "age", "income"])
    treated = np.arange(len(frame)) < n_t
    base = rng.lognormal(0, 0.5, len(frame))
    return X, treated, base, _weighted_means(X[treated], base[treated])


# --- entropy balancing ----------------------------------------------------------------------


@pytest.mark.parametrize("seed", range(5))
def test_entropy_balancing_reproduces_target_means(seed):
    X, treated, base, target = _problem(seed)
    result = entropy_balance(X[~treated], target, base[~treated])
    assert result.converged and result.method == "entropy"
    assert _max_gap(X[~treated], result.weights, target) < 1e-6
    assert (result.weights > 0).all()
    assert result.weights.sum() == pytest.approx(base[~treated].sum())
    assert result.weights.index.equals(X.index[~treated])
    # The comparison group really was different before weighting.
    assert np.abs(_weighted_means(X[~treated], base[~treated]) - target).max() > 0.02


def test_target_equal_to_base_weighted_means_returns_base_weights():
    X, treated, base, _ = _problem(11)
    b = base[~treated]
    result = entropy_balance(X[~treated], _weighted_means(X[~treated], b), b)
    np.testing.assert_allclose(result.weights.to_numpy(), b, rtol=1e-8)
    assert result.iterations == 0


def test_entropy_balancing_matches_primal_solved_by_slsqp():
    """Independent check: minimise KL(w || b) under the mean constraints directly."""
    rng = np.random.default_rng(5)
    n = 25
    X = np.column_stack([rng.random(n) < 0.4, rng.normal(size=n), rng.gamma(2.0, size=n)]).astype(float)
    b = rng.uniform(0.5, 2.0, n)
    b /= b.sum()
    target = np.array([0.5, 0.3, 2.3])

    primal = minimize(
        lambda w: np.sum(w * np.log(w / b)),
        b,
        jac=lambda w: np.log(w / b) + 1.0,
        method="SLSQP",
        bounds=[(1e-12, 1.0)] * n,
        constraints=[{"type": "eq", "fun": lambda w: np.r_[w.sum() - 1.0, X.T @ w - target],
                      "jac": lambda w: np.vstack([np.ones(n), X.T])}],
        options={"ftol": 1e-15, "maxiter": 2000},
    )
    assert primal.success, primal.message
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BalanceWarning)  # 25 rows: single weights are large shares
        result = entropy_balance(X, target, b)
    w = result.weights.to_numpy() / result.weights.sum()
    np.testing.assert_allclose(w, primal.x, rtol=1e-5, atol=1e-9)
    # And the dual's closed form: w proportional to b * exp(x'λ) with the reported coefficients.
    closed = b * np.exp(X @ result.coefficients.to_numpy())
    np.testing.assert_allclose(w, closed / closed.sum(), rtol=1e-10)


def test_target_outside_the_range_is_named():
    X, treated, base, target = _problem(1)
    control = X[~treated & (X["origin=western"] == 0)]  # nobody of western origin left
    wrong = target.copy()
    wrong["origin=western"] = 1.0
    with pytest.raises(BalanceError, match=r"'origin=western': target 1, range \[0, 0\]"):
        entropy_balance(control, wrong)
    wrong = target.copy()
    wrong["age"] = 500.0
    with pytest.raises(BalanceError, match=r"'age': target 500"):
        entropy_balance(X[~treated], wrong)


def test_target_outside_the_joint_hull_is_named():
    """Each target is inside its range, but the two shares are exclusive and cannot add to 1.2."""
    rng = np.random.default_rng(2)
    cat = rng.choice(3, 2000)
    X = pd.DataFrame({"a": (cat == 0) * 1.0, "b": (cat == 1) * 1.0, "age": rng.normal(40, 10, 2000)})
    with pytest.raises(BalanceError, match=r"did not converge.*'a'.*'b'|did not converge.*'b'.*'a'"):
        entropy_balance(X, [0.6, 0.6, 40.0])


def test_collinear_covariates_are_dropped_or_named():
    rng = np.random.default_rng(4)
    cat = rng.choice(3, 1500)
    X = pd.DataFrame({"a": (cat == 0) * 1.0, "b": (cat == 1) * 1.0, "c": (cat == 2) * 1.0,
                      "one": 1.0, "age": rng.normal(40, 10, 1500)})
    with pytest.warns(BalanceWarning, match=r"'c' = 1 - 1\*'a' - 1\*'b'.*'one' is constant 1"):
        result = entropy_balance(X, [0.3, 0.4, 0.3, 1.0, 43.0])
    assert result.dropped == ("c", "one")
    assert _max_gap(X, result.weights, [0.3, 0.4, 0.3, 1.0, 43.0]) < 1e-6
    with pytest.raises(BalanceError, match=r"'c' = 1 - 1\*'a' - 1\*'b'.*off by"):
        entropy_balance(X, [0.3, 0.4, 0.4, 1.0, 43.0])


def test_target_at_the_edge_gives_zero_weight_off_the_edge():
    """A district without non-western respondents: the only KL-closest weights that reach a 0 %
    share give weight 0 to every non-western comparison respondent."""
    X, treated, base, target = _problem(3)
    target["origin=non_western"] = 0.0
    with pytest.warns(BalanceWarning, match=r"'origin=non_western' = 0.*get weight 0"):
        result = entropy_balance(X[~treated], target, base[~treated])
    off_edge = X.loc[~treated, "origin=non_western"] == 1
    assert (result.weights[off_edge] == 0).all() and (result.weights[~off_edge] > 0).all()
    assert _max_gap(X[~treated], result.weights, target) < 1e-6


def test_thin_weights_warn():
    X, treated, base, target = _problem(6)
    target["age"] += 18  # demands a much older comparison group: few respondents carry it
    with pytest.warns(BalanceWarning, match="effective sample size"):
        result = entropy_balance(X[~treated], target, base[~treated])
    assert result.effective_sample_size < 0.2 * result.n
    with pytest.warns(BalanceWarning, match=r"carries .* of the total weight"):
        entropy_balance(np.array([[0.0], [1.0], [2.0], [3.0]]), [2.5])


def test_result_reports_itself():
    X, treated, base, target = _problem(0)
    result = entropy_balance(X[~treated], target, base[~treated])
    assert isinstance(result, BalanceWeights)
    assert "Entropy balancing" in result.summary() and "effective sample size" in result.summary()
    assert "<table" in result._repr_html_() and result.to_frame()["n"].iloc[0] == result.n
    assert result.effective_sample_size == pytest.approx(effective_sample_size(result.weights))


# --- IPW ------------------------------------------------------------------------------------


def _logistic_sample(n: int, seed: int):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"x": rng.normal(size=n), "d": (rng.random(n) < 0.4) * 1.0, "g": rng.gamma(2.0, size=n)})
    eta = -1.5 + 0.8 * X["x"] + 0.7 * X["d"] - 0.3 * X["g"]
    treated = rng.random(n) < 1 / (1 + np.exp(-eta))
    return X, treated


def test_ipw_balances_in_large_samples_and_matches_logit():
    X, treated = _logistic_sample(60_000, 8)
    result = ipw_weights(X, treated)
    logit = sm.Logit(treated.astype(float), sm.add_constant(X)).fit(disp=0)
    np.testing.assert_allclose(result.coefficients.to_numpy(), logit.params.to_numpy(), rtol=1e-6)
    assert result.converged and result.method == "ipw"
    assert result.weights.sum() == pytest.approx(treated.sum())

    w = result.weights.to_numpy()
    xt, xc = X[treated], X[~treated]
    gap = _weighted_means(xc, w) - xt.mean()
    ess = effective_sample_size(w)
    se = np.sqrt(xt.var() / len(xt) + (xc - _weighted_means(xc, w)).pow(2).mul(w, axis=0).sum() / w.sum() / ess)
    assert (gap.abs() < 4 * se).all(), pd.DataFrame({"gap": gap, "se": se})
    assert (xt.mean() - xc.mean()).abs().max() > 20 * se.max()  # and unweighted they differ


def test_ipw_base_weights_act_as_replications():
    """Integer base weights give the same propensity model as repeating the rows."""
    X, treated = _logistic_sample(3_000, 9)
    reps = np.random.default_rng(1).integers(1, 4, len(X))
    result = ipw_weights(X, treated, reps)
    expanded_X = sm.add_constant(X.loc[X.index.repeat(reps)])
    expanded = sm.Logit(np.repeat(treated, reps).astype(float), expanded_X).fit(disp=0)
    np.testing.assert_allclose(result.coefficients.to_numpy(), expanded.params.to_numpy(), rtol=1e-6)
    assert result.weights.sum() == pytest.approx(reps[treated].sum())


def test_ipw_warns_on_extreme_propensities():
    rng = np.random.default_rng(3)
    x = rng.normal(size=2_000)
    treated = rng.random(2_000) < 1 / (1 + np.exp(-8 * x))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=BalanceWarning)  # thin weights may warn too
        warnings.filterwarnings("error", message=".*propensity above 0.99", category=BalanceWarning)
        with pytest.raises(BalanceWarning, match=r"propensity above 0.99"):
            ipw_weights(pd.DataFrame({"x": x}), treated)


def test_ipw_drops_constant_and_collinear_covariates():
    X, treated = _logistic_sample(5_000, 10)
    X = X.assign(one=1.0, x_twice=2 * X["x"])
    with pytest.warns(BalanceWarning, match=r"\['x_twice', 'one'\]|\['one', 'x_twice'\]"):
        result = ipw_weights(X, treated)
    assert set(result.dropped) == {"one", "x_twice"}
    assert list(result.coefficients.index) == ["const", "x", "d", "g"]


# --- diagnostics ----------------------------------------------------------------------------


def test_effective_sample_size_and_max_share():
    assert effective_sample_size(np.full(7, 3.0)) == pytest.approx(7)
    assert effective_sample_size([1.0, 0.0, 0.0]) == pytest.approx(1)
    assert max_weight_share([1.0, 3.0]) == pytest.approx(0.75)


def _hand_example():
    # treated rows 0-2 (base weights 1, 1, 2), comparison rows 3-4 (base 1, 3; balanced 3, 1)
    X = pd.DataFrame({"x": [1.0, 2.0, 3.0, 0.0, 4.0], "d": [1.0, 0.0, 1.0, 0.0, 1.0],
                      "e": [0.0, 0.0, 0.0, 1.0, 0.0]}, index=list("abcde"))
    treated = pd.Series([True, True, True, False, False], index=X.index)
    return X, treated, np.array([1.0, 1.0, 2.0, 1.0, 3.0]), pd.Series([3.0, 1.0], index=["d", "e"])


def test_balance_table_by_hand():
    X, treated, before, after = _hand_example()
    table = balance_table(X, treated, before, after)
    # x: treated mean 9/4; variance sum p(x-m)^2 / (1 - sum p^2) = 0.6875 / 0.625 = 1.1.
    # Comparison mean 3 before, 1 after; variance 3 / 0.375 = 8 both times.
    x = table.loc["x"]
    assert x["mean_treated"] == pytest.approx(2.25)
    assert (x["mean_control_before"], x["mean_control_after"]) == pytest.approx((3.0, 1.0))
    assert x["smd_before"] == pytest.approx(-0.75 / np.sqrt(1.1))
    assert x["smd_after"] == pytest.approx(1.25 / np.sqrt(1.1))
    assert x["var_ratio_before"] == pytest.approx(8 / 1.1) and x["var_ratio_after"] == pytest.approx(8 / 1.1)
    # d (binary): treated share 0.75, variance 0.75 * 0.25; comparison 0.75 before, 0.25 after.
    d = table.loc["d"]
    assert d["binary"] and np.isnan(d["var_ratio_before"])
    assert d["smd_before"] == pytest.approx(0.0)
    assert d["smd_after"] == pytest.approx(0.5 / np.sqrt(0.1875))
    # e: absent from the district (treated SD 0): pooled SD sqrt((0 + 0.25 * 0.75) / 2).
    e = table.loc["e"]
    assert e["smd_before"] == pytest.approx(-0.25 / np.sqrt(0.09375))
    assert e["smd_after"] == pytest.approx(-0.75 / np.sqrt(0.09375))


def test_identical_groups_have_zero_smd():
    X, treated, base, _ = _problem(4)
    both = pd.concat([X[~treated], X[~treated]], ignore_index=True)
    flag = np.arange(len(both)) < len(both) // 2
    table = balance_table(both, flag)
    assert np.abs(table[["smd_before", "smd_after"]].to_numpy()).max() < 1e-12
    assert np.allclose(table.loc[~table["binary"], "var_ratio_before"], 1.0)


def test_entropy_weights_give_zero_smd_after():
    X, treated, base, target = _problem(2)
    result = entropy_balance(X[~treated], target, base[~treated])
    table = balance_table(X, treated, base, result.weights)
    assert np.abs(table["smd_after"]).max() < 1e-6
    assert np.abs(table["smd_before"]).max() > 0.1


def test_love_plot_has_two_series():
    X, treated, base, target = _problem(2)
    table = balance_table(X, treated, base, entropy_balance(X[~treated], target, base[~treated]).weights)
    fig = love_plot(table)
    try:
        assert isinstance(fig, Figure)
        ax = fig.axes[0]
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Før vægtning", "Efter vægtning"]
        assert ax.get_xlabel() == "Standardiseret forskel i gennemsnit"
        series = [line for line in ax.get_lines() if line.get_label() in ("Før vægtning", "Efter vægtning")]
        assert [len(line.get_xdata()) for line in series] == [len(table), len(table)]
        dashed = sorted(line.get_xdata()[0] for line in ax.get_lines() if line.get_linestyle() == "--")
        assert dashed == pytest.approx([-0.1, 0.1])
    finally:
        plt.close(fig)


# --- design matrix --------------------------------------------------------------------------


def test_covariate_matrix_dummies_reference_and_missing():
    frame = pd.DataFrame(
        {
            "group": ["district", "district", "comparison", "comparison"],
            "origin": ["danish", "non_western", "danish", "western"],  # 'western' only in the comparison
            "education": ["higher", None, "primary", "higher"],
            "employed": [True, False, True, True],
            "age": [30, 40, 50, 60],
        }
    )
    X = covariate_matrix(frame, ["origin", "education", "employed", "age"], reference={"education": "primary"})
    assert list(X.columns) == ["origin=non_western", "origin=western", "education=higher",
                               "education=(missing)", "employed", "age"]
    assert X["origin=western"].tolist() == [0, 0, 0, 1]
    assert X["education=(missing)"].tolist() == [0, 1, 0, 0]
    assert X["employed"].tolist() == [1, 0, 1, 1] and X.dtypes.eq(float).all()
    with pytest.raises(ValueError, match="reference level 'none'"):
        covariate_matrix(frame, ["origin"], reference={"origin": "none"})
    with pytest.raises(KeyError, match="sex"):
        covariate_matrix(frame, ["sex"])

