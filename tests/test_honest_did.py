"""Rambachan & Roth (2023) sensitivity analysis against R HonestDiD's Medicaid-expansion example.

Data and published numbers: tests/data/honestdid_medicaid.md (HonestDiD README, and Stata
``honestdid`` in Mixtape-Sessions/Advanced-DID).

Tolerances. A printed number with unit ``u`` in its last digit stands for the interval ``+- u/2``.
* Relative magnitudes (C-LF): R reports grid points of a 1000-point grid over +-20 standard errors
  (step 40 * 0.0091519 / 999 = 0.000366). We evaluate the same grid and replay R's random draws for
  the least-favourable critical value, so we reproduce the grid point itself: tolerance ``u/2``.
  Against the later README render and against Stata (other random draws) one grid step is added.
* Smoothness (FLCI): no grid. R solves the convex programs with ECOS and bisects in h; the only
  bound near a rounding edge is the M = 0 lower bound (ours 0.025951 vs printed 0.0259), where the
  feasible set is a single point and R's solver tolerance (~1e-6) decides: ``u/2 + 2e-6``.
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy.optimize import linprog

from evaluering.did import honest_arp, honest_polytope
from evaluering.did.honest import HonestDidError, breakdown_value, honest_did, original_interval
from evaluering.did.honest_rm import _post_rows, rm_constraints
from evaluering.did.honest_rng import r_rnorm

DATA = Path(__file__).parent / "data"
GRID_STEP = 40 * 0.0091519 / 999

# HonestDiD README, renders 2023-04-01 .. 2023-10-26 (package 0.2.5): Mbar, lb, ub, printed unit of lb, ub
README_RM_2023 = [(0.5, 0.0240, 0.0672, 1e-4, 1e-4), (1.0, 0.0170, 0.0720, 1e-4, 1e-4),
                  (1.5, 0.00824, 0.0797, 1e-5, 1e-4), (2.0, -0.000916, 0.0881, 1e-6, 1e-4)]
# HonestDiD README, renders since 2024-03-28 (current)
README_RM_2024 = [(0.5, 0.0241, 0.0673, 1e-4, 1e-4), (1.0, 0.0171, 0.0720, 1e-4, 1e-4),
                  (1.5, 0.00859, 0.0796, 1e-5, 1e-4), (2.0, -0.00107, 0.0883, 1e-5, 1e-4)]
# HonestDiD README (both renders): M, lb, ub, units
README_SD = [(0.00, 0.0259, 0.0607, 1e-4, 1e-4), (0.01, 0.0132, 0.0787, 1e-4, 1e-4),
             (0.02, 0.00286, 0.0907, 1e-5, 1e-4), (0.03, -0.00714, 0.101, 1e-5, 1e-3),
             (0.04, -0.0171, 0.111, 1e-4, 1e-3), (0.05, -0.0271, 0.121, 1e-4, 1e-3)]
# Stata honestdid, average effect l_vec = (0.5, 0.5), 3 decimals
STATA_RM_AVERAGE = [(0.0, 0.041, 0.075), (0.5, 0.033, 0.080), (1.0, 0.020, 0.090), (1.5, 0.006, 0.103),
                    (2.0, -0.008, 0.117)]
# Stata reghdfe event study: coefficient and clustered standard error, 2008-2012, 2014, 2015
STATA_TWFE = [(-0.0052854, 0.0086536), (-0.0112973, 0.0085244), (-0.002676, 0.0071078), (-0.0014193, 0.0063271),
              (0.0003397, 0.007391), (0.0464469, 0.0091519), (0.0692062, 0.01035)]


def _event_study_inputs() -> tuple[np.ndarray, np.ndarray]:
    table = pd.read_csv(DATA / "honestdid_medicaid_eventstudy.csv")
    return table["betahat"].to_numpy(), table.filter(like="sigma_").to_numpy()


def _twfe_event_study(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The README's ``feols(dins ~ i(year, D, ref = 2013) | stfips + year, cluster = "stfips")``."""
    df = pd.read_csv(path)
    df = df[(df["year"] < 2016) & (df["yexp2"].isna() | (df["yexp2"] != 2015))]
    treated = (df["yexp2"] == 2014).to_numpy()
    years = [y for y in sorted(df["year"].unique()) if y != 2013]
    events = np.column_stack([(df["year"].to_numpy() == y) & treated for y in years]).astype(float)
    design = np.column_stack([events, pd.get_dummies(df["stfips"]).to_numpy(float),
                              pd.get_dummies(df["year"]).to_numpy(float)[:, 1:]])
    y = df["dins"].to_numpy()
    bread = np.linalg.pinv(design.T @ design)
    coef = bread @ design.T @ y
    resid = y - design @ coef
    meat = sum(np.outer(s, s) for s in (design[idx].T @ resid[idx] for idx in df.groupby("stfips").indices.values()))
    n, clusters, k = len(y), df["stfips"].nunique(), len(years) + df["year"].nunique()
    cov = bread @ meat @ bread * clusters / (clusters - 1) * (n - 1) / (n - k)
    return coef[:len(years)], cov[:len(years), :len(years)]


def _assert_printed(value: float, printed: float, unit: float, slack: float = 0.0) -> None:
    assert abs(value - printed) <= unit / 2 + slack + 1e-12, (value, printed, unit, slack)


def test_event_study_inputs_reestimate_from_the_example_data_and_match_stata():
    betahat, sigma = _twfe_event_study(DATA / "ehec_data.csv")
    stored_beta, stored_sigma = _event_study_inputs()
    np.testing.assert_allclose(betahat, stored_beta, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(sigma, stored_sigma, rtol=1e-8, atol=1e-14)
    for (coef, se), b, v in zip(STATA_TWFE, betahat, np.diag(sigma), strict=True):
        # 7 decimals printed; the CSV outcome has 7 significant digits (Stata read the .dta): 1e-7 slack
        _assert_printed(b, coef, 1e-7, 1e-7)
        _assert_printed(math.sqrt(v), se, 1e-7, 1e-7)


def test_r_random_numbers_are_replayed():
    # R: set.seed(0); rnorm(5)
    np.testing.assert_allclose(r_rnorm(5, 0), [1.2629543, -0.3262334, 1.3297993, 1.2724293, 0.4146414], atol=5e-8)


def test_relative_magnitudes_reproduce_the_readme():
    betahat, sigma = _event_study_inputs()
    start = time.perf_counter()
    table = honest_did(betahat, sigma, num_pre_periods=5, num_post_periods=2, restriction="relative_magnitudes",
                       m=[0.5, 1.0, 1.5, 2.0])
    assert time.perf_counter() - start < 15
    assert list(table["m"]) == [0.5, 1.0, 1.5, 2.0]
    assert set(table["method"]) == {"C-LF"}
    for row, (mbar, lb, ub, u_lb, u_ub) in zip(table.itertuples(), README_RM_2023, strict=True):
        assert row.m == mbar
        _assert_printed(row.lb, lb, u_lb)
        _assert_printed(row.ub, ub, u_ub)
    for row, (_, lb, ub, u_lb, u_ub) in zip(table.itertuples(), README_RM_2024, strict=True):
        _assert_printed(row.lb, lb, u_lb, GRID_STEP)
        _assert_printed(row.ub, ub, u_ub, GRID_STEP)
    # the bounds are points of R's grid
    se = math.sqrt(sigma[5, 5])
    grid = np.linspace(-20 * se, 20 * se, 1000)
    for value in np.r_[table["lb"], table["ub"]]:
        assert np.min(np.abs(grid - value)) < 1e-12


def test_smoothness_reproduces_the_readme():
    betahat, sigma = _event_study_inputs()
    table = honest_did(betahat, sigma, num_pre_periods=5, num_post_periods=2, restriction="smoothness",
                       m=[0.0, 0.01, 0.02, 0.03, 0.04, 0.05])
    assert set(table["method"]) == {"FLCI"}
    for row, (m, lb, ub, u_lb, u_ub) in zip(table.itertuples(), README_SD, strict=True):
        assert row.m == m
        _assert_printed(row.lb, lb, u_lb, 2e-6)
        _assert_printed(row.ub, ub, u_ub, 2e-6)


def test_original_interval_matches_stata_and_its_formula():
    betahat, sigma = _event_study_inputs()
    row = original_interval(betahat, sigma, num_pre_periods=5, num_post_periods=2).iloc[0]
    assert row["method"] == "Original"
    _assert_printed(row["lb"], 0.029, 1e-3)
    _assert_printed(row["ub"], 0.064, 1e-3)
    # from Stata's printed coefficient and standard error: 0.0464469 -+ 1.959964 * 0.0091519
    assert row["lb"] == pytest.approx(0.0464469 - 1.959964 * 0.0091519, abs=2e-7)
    assert row["ub"] == pytest.approx(0.0464469 + 1.959964 * 0.0091519, abs=2e-7)
    average = original_interval(betahat, sigma, 5, 2, l_vec=[0.5, 0.5]).iloc[0]
    _assert_printed(average["lb"], 0.040, 1e-3)
    _assert_printed(average["ub"], 0.075, 1e-3)


def test_average_effect_agrees_with_stata_up_to_its_own_random_draws():
    betahat, sigma = _event_study_inputs()
    table = honest_did(betahat, sigma, 5, 2, m=[m for m, _, _ in STATA_RM_AVERAGE], l_vec=[0.5, 0.5])
    step = 40 * math.sqrt(np.array([0.5, 0.5]) @ sigma[5:, 5:] @ np.array([0.5, 0.5])) / 999
    for row, (_, lb, ub) in zip(table.itertuples(), STATA_RM_AVERAGE, strict=True):
        _assert_printed(row.lb, lb, 1e-3, step)
        _assert_printed(row.ub, ub, 1e-3, step)


def test_breakdown_values_bracket_the_published_tables():
    betahat, sigma = _event_study_inputs()
    # README: significant at Mbar = 1.5, not at 2; at M = 0.02, not at 0.03
    rm = breakdown_value(betahat, sigma, 5, 2, restriction="relative_magnitudes", tol=0.01)
    assert 1.5 <= rm < 2.0
    at, above = honest_did(betahat, sigma, 5, 2, m=[rm, rm + 0.01]).itertuples()
    assert at.lb > 0 and above.lb <= 0
    sd = breakdown_value(betahat, sigma, 5, 2, restriction="smoothness")
    assert 0.02 <= sd < 0.03
    se = math.sqrt(sigma[5, 5])
    at, above = honest_did(betahat, sigma, 5, 2, restriction="smoothness", m=[sd, sd + se / 1000]).itertuples()
    assert at.lb > 0 and above.lb <= 0


def test_intervals_widen_with_m_and_contain_the_smaller_ones():
    betahat, sigma = _event_study_inputs()
    table = honest_did(betahat, sigma, 5, 2, restriction="smoothness", m=[0.0, 0.005, 0.01, 0.02])
    assert np.all(np.diff(table["lb"]) < 0) and np.all(np.diff(table["ub"]) > 0)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sigma": np.eye(6)}, "sigma is 6x6 but betahat has 7"),
        ({"sigma": np.ones((7, 6))}, "square"),
        ({"num_pre_periods": 4}, "num_pre_periods \\+ num_post_periods = 6"),
        ({"restriction": "linear"}, "restriction must be one of"),
        ({"l_vec": [1.0, 0.0, 0.0]}, "l_vec must be 2 finite weights"),
        ({"m": [-0.5]}, "non-negative"),
        ({"alpha": 1.5}, "alpha"),
        ({"restriction": "smoothness", "m": None}, "give the values of M"),
        ({"betahat": np.ones((7, 1))}, "betahat must be a vector"),
    ],
)
def test_bad_inputs_are_named(kwargs, message):
    betahat, sigma = _event_study_inputs()
    args = {"betahat": betahat, "sigma": sigma, "num_pre_periods": 5, "num_post_periods": 2, "m": [1.0]}
    args.update(kwargs)
    with pytest.raises(HonestDidError, match=message):
        honest_did(**args)


def test_asymmetric_sigma_is_rejected():
    betahat, sigma = _event_study_inputs()
    bad = sigma.copy()
    bad[0, 1] += 1e-5
    with pytest.raises(HonestDidError, match="symmetric"):
        original_interval(betahat, bad, 5, 2)


def test_interval_cut_by_the_grid_warns_like_r():
    betahat, sigma = _event_study_inputs()
    with pytest.warns(RuntimeWarning, match="reaches the end of the grid"):
        table = honest_did(betahat, sigma, 5, 2, m=[10.0])
    assert table["ub"].iloc[0] == pytest.approx(20 * math.sqrt(sigma[5, 5]))


# --- the vertex route for the ARP linear programs (two or more nuisance parameters) ---

def _solver_only(monkeypatch):
    """Force the LP solver (HiGHS), the reference the vertex enumeration must reproduce."""
    monkeypatch.setattr(honest_polytope, "MAX_SUBSETS", 0)
    monkeypatch.setattr(honest_polytope, "_CACHE", {})


@pytest.mark.parametrize("k", [2, 3])
def test_dual_vertices_give_the_solvers_optimum(k):
    rng = np.random.default_rng(k)
    checked = 0
    for _ in range(20):
        n = 8
        w = np.column_stack([rng.uniform(0.5, 2.0, n), rng.normal(size=(n, k))])
        vertices = honest_polytope.dual_vertices(w)
        rhs = np.eye(k + 1)[0]
        if len(vertices) == 0:  # an empty polytope: the solver must find it infeasible too
            assert linprog(np.zeros(n), A_eq=w.T, b_eq=rhs, bounds=[(0, None)] * n, method="highs").status == 2
            continue
        checked += 1
        np.testing.assert_allclose(vertices @ w, np.tile(np.eye(k + 1)[0], (len(vertices), 1)), atol=1e-10)
        assert np.all(vertices >= 0)
        for _ in range(5):
            f = rng.normal(size=n)
            value, lam = honest_polytope.maximise_over_vertices(f, vertices)
            lp = linprog(-f, A_eq=w.T, b_eq=rhs, bounds=[(0, None)] * n, method="highs")
            assert value == pytest.approx(-lp.fun, abs=1e-9)
            np.testing.assert_allclose(lam, lp.x, atol=1e-7)  # a unique optimum for random data
    assert checked >= 5


def test_dual_vertices_report_an_empty_polytope_and_too_many_bases():
    # X' lam = 0 with lam >= 0 and X > 0 has only lam = 0, which violates sd' lam = 1: no vertex
    w = np.column_stack([np.ones(5), np.arange(1.0, 6.0), np.arange(1.0, 6.0) ** 2])
    assert honest_polytope.dual_vertices(w).shape == (0, 5)
    assert honest_arp._eta_lp(np.zeros(5), w[:, 1:], w[:, 0]) is None
    wide = np.column_stack([np.ones(40), np.random.default_rng(0).normal(size=(40, 4))])
    assert honest_polytope.dual_vertices(wide) is None  # C(40, 5) = 658,008 bases: the solver is used


def _three_post_polyhedra(betahat, sigma, mbar):
    """The Medicaid coefficients read as 4 pre- and 3 post-periods: two nuisance parameters."""
    l_vec = np.array([0.0, 0.0, 1.0])
    for s, positive in [(0, True), (-2, False)]:
        a_matrix = rm_constraints(4, 3, mbar, s, positive)
        yield honest_arp.arp_moments(betahat, sigma, a_matrix, np.zeros(len(a_matrix)), 4, l_vec,
                                     _post_rows(a_matrix, 4))


def test_vertex_route_reproduces_the_solver_route_with_two_nuisance_parameters(monkeypatch):
    betahat, sigma = _event_study_inputs()
    thetas = np.linspace(-20, 20, 1000)[::23] * math.sqrt(sigma[6, 6])
    fast = []
    for moments in _three_post_polyhedra(betahat, sigma, 1.0):
        assert moments.x.shape[1] == 2
        cv = honest_arp.least_favorable_cv(moments, 0.005)
        fast.append((cv, [honest_arp.conditional_test(moments.y - moments.x_one * t, moments.x, moments.sigma, 0.05,
                                                      lf, 0.005) for t in thetas for lf in (cv, None)]))
    _solver_only(monkeypatch)
    for moments, (cv, decisions) in zip(_three_post_polyhedra(betahat, sigma, 1.0), fast, strict=True):
        assert honest_arp.least_favorable_cv(moments, 0.005) == pytest.approx(cv, abs=1e-10)
        assert decisions == [honest_arp.conditional_test(moments.y - moments.x_one * t, moments.x, moments.sigma,
                                                         0.05, lf, 0.005) for t in thetas for lf in (cv, None)]
    assert sum(decisions) not in (0, len(decisions))  # both decisions occur: the comparison has teeth


# The solver route's intervals (before the vertex route existed) for the Medicaid coefficients read as
# 4 pre- and 3 post-periods, Mbar = 0.5, 1, 2.
SOLVER_RM_THREE_POST = {
    (0.0, 0.0, 1.0): [(0.029216363702140508, 0.10298250184371519), (0.0014504577724466783, 0.129505158254169),
                      (-0.05739668613824772, 0.18710905264562336)],
    (1.0, 0.0, 0.0): [(-0.019679698827214348, 0.017312216261534424), (-0.027669952486384083, 0.022343116713604255),
                      (-0.04631387769111346, 0.03950736531478369)],
}


@pytest.mark.parametrize("l_vec", list(SOLVER_RM_THREE_POST))
def test_three_post_periods_reproduce_the_solver_route_quickly(l_vec):
    betahat, sigma = _event_study_inputs()
    start = time.perf_counter()
    table = honest_did(betahat, sigma, 4, 3, m=[0.5, 1.0, 2.0], l_vec=list(l_vec))
    assert time.perf_counter() - start < 10  # the solver route took 20-60 s per Mbar here
    np.testing.assert_allclose(table[["lb", "ub"]].to_numpy(), SOLVER_RM_THREE_POST[l_vec], rtol=0, atol=1e-12)


def test_breakdown_value_agrees_with_the_grid_intervals_sign_change():
    betahat, sigma = _event_study_inputs()
    for l_vec, num_pre, num_post in [([1.0, 0.0], 5, 2), ([0.5, 0.5], 5, 2), ([0.0, 0.0, 1.0], 4, 3)]:
        value = breakdown_value(betahat, sigma, num_pre, num_post, l_vec=l_vec, tol=0.01)
        assert 0 < value < math.inf
        at, above = honest_did(betahat, sigma, num_pre, num_post, m=[value, value + 0.01], l_vec=l_vec).itertuples()
        assert at.lb > 0 or at.ub < 0
        assert above.lb <= 0 <= above.ub
