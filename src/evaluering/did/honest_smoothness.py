"""Smoothness-restriction robust intervals (Rambachan & Roth 2023, Delta^SD(M)) by the optimal
fixed-length confidence interval (FLCI) of Armstrong & Kolesar, as R HonestDiD's ``findOptimalFLCI``.

``Delta^SD(M)``: the slope of the difference in trends changes by at most ``M`` between consecutive
periods. The FLCI is ``a + v' betahat +- chi``: an affine estimator of ``theta = l' tau_post`` whose
pre-period weights trade variance against worst-case bias over ``Delta^SD(M)``; the half-length
is ``h * q_{1-alpha}(bias / h)`` with ``h`` the estimator's standard deviation and ``q`` the
quantile of a folded normal ``|N(bias / h, 1)|``.

Parametrisation (as R's): the pre-period weights are ``v_pre = D w`` with ``D`` the first-difference
map; unbiasedness for linear trends is ``sum(w) = sum_s s * l_s`` and the worst-case bias per unit
of ``M`` is ``c_l + sum_{i<K} |cumsum(w)_i|`` (+ ``|sum(w)|`` inside ``c_l``'s definition).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.optimize import brentq, minimize, minimize_scalar
from scipy.stats import norm

from .honest_rng import r_rnorm

__all__ = ["FlciResult", "flci", "folded_normal_quantile", "folded_normal_quantile_exact"]

_FOLDED_SIMS = 10**6


@lru_cache(maxsize=1)
def _folded_draws() -> np.ndarray:
    return r_rnorm(_FOLDED_SIMS, seed=0)


def folded_normal_quantile(p: float, mu: float) -> float:
    """The ``p`` quantile of ``|N(mu, 1)|`` as R HonestDiD computes it: from 10^6 draws after ``set.seed(0)``."""
    values = np.abs(_folded_draws() + mu)
    return float(np.quantile(values, p))


def folded_normal_quantile_exact(p: float, mu: float) -> float:
    """The ``p`` quantile of ``|N(mu, 1)|``: the root of ``Phi(q - mu) - Phi(-q - mu) = p``."""
    mu = abs(mu)
    return float(brentq(lambda q: norm.cdf(q - mu) - norm.cdf(-q - mu) - p, 0.0, mu + 10.0, xtol=1e-14))


@dataclass(frozen=True)
class FlciResult:
    """The FLCI: bounds, the estimator's weights on ``betahat`` and its standard deviation ``h``."""

    lb: float
    ub: float
    weights: np.ndarray
    half_length: float
    h: float
    max_bias: float


def _difference_map(size: int) -> np.ndarray:
    d = np.eye(size)
    d[np.arange(1, size), np.arange(size - 1)] = -1.0
    return d


class _FlciProblem:
    """Variance and worst-case bias of the affine estimator as functions of the weights ``w``."""

    def __init__(self, sigma: np.ndarray, num_pre: int, l_vec: np.ndarray):
        self.num_pre = num_pre
        self.l_vec = l_vec
        num_post = len(l_vec)
        diff = _difference_map(num_pre)
        self.quad = diff.T @ sigma[:num_pre, :num_pre] @ diff
        self.lin = 2 * diff.T @ sigma[:num_pre, num_pre:] @ l_vec
        self.const = float(l_vec @ sigma[num_pre:, num_pre:] @ l_vec)
        steps = np.arange(1, num_post + 1)
        self.weight_sum = float(steps @ l_vec)
        self.bias_const = sum(abs(float(np.arange(1, s + 1) @ l_vec[num_post - s:])) for s in steps) - self.weight_sum
        self.diff = diff

    def variance(self, w: np.ndarray) -> float:
        return float(w @ self.quad @ w + self.lin @ w + self.const)

    def bias(self, w: np.ndarray) -> float:
        return self.bias_const + float(np.abs(np.cumsum(w)).sum())

    def min_bias_weights(self) -> np.ndarray:
        w = np.zeros(self.num_pre)
        w[-1] = self.weight_sum
        return w

    def min_variance_weights(self) -> np.ndarray:
        k = self.num_pre
        kkt = np.zeros((k + 1, k + 1))
        kkt[:k, :k] = 2 * self.quad
        kkt[:k, k] = kkt[k, :k] = 1.0
        solution = np.linalg.solve(kkt, np.r_[-self.lin, self.weight_sum])
        return solution[:k]

    def min_bias_given_h(self, h: float) -> np.ndarray:
        """Weights of least worst-case bias among those with standard deviation at most ``h`` (a convex program)."""
        w_var, w_bias = self.min_variance_weights(), self.min_bias_weights()
        if self.variance(w_bias) <= h**2:
            return w_bias
        start = _point_on_segment(self, w_var, w_bias, h)
        k = self.num_pre
        # variables: w (k), u (k - 1) with u >= |cumsum(w)[:-1]|; the last cumsum is fixed by sum(w)
        lower = np.tril(np.ones((k - 1, k)))

        def objective(z):
            return z[k:].sum()

        def gradient(z):
            return np.r_[np.zeros(k), np.ones(k - 1)]

        constraints = [
            {"type": "eq", "fun": lambda z: z[:k].sum() - self.weight_sum,
             "jac": lambda z: np.r_[np.ones(k), np.zeros(k - 1)]},
            {"type": "ineq", "fun": lambda z: z[k:] - lower @ z[:k],
             "jac": lambda z: np.hstack([-lower, np.eye(k - 1)])},
            {"type": "ineq", "fun": lambda z: z[k:] + lower @ z[:k],
             "jac": lambda z: np.hstack([lower, np.eye(k - 1)])},
            {"type": "ineq", "fun": lambda z: (h**2 - self.variance(z[:k])) / h**2,
             "jac": lambda z: np.r_[-(2 * self.quad @ z[:k] + self.lin), np.zeros(k - 1)] / h**2},
        ]
        z0 = np.r_[start, np.abs(lower @ start) + 1e-12]
        result = minimize(objective, z0, jac=gradient, constraints=constraints, method="SLSQP",
                          options={"ftol": 1e-15, "maxiter": 500})
        w = result.x[:k]
        return w if self.variance(w) <= h**2 * (1 + 1e-8) and self.bias(w) <= self.bias(start) else start


def _point_on_segment(problem: _FlciProblem, w_var: np.ndarray, w_bias: np.ndarray, h: float) -> np.ndarray:
    """The point of the segment from the least-variance to the least-bias weights with variance ``h^2``."""
    direction = w_bias - w_var
    a = float(direction @ problem.quad @ direction)
    b = float(2 * w_var @ problem.quad @ direction + problem.lin @ direction)
    c = problem.variance(w_var) - h**2
    if a <= 0:
        return w_var
    tau = (-b + np.sqrt(max(b * b - 4 * a * c, 0.0))) / (2 * a)
    return w_var + np.clip(tau, 0.0, 1.0) * direction


def flci(betahat: np.ndarray, sigma: np.ndarray, num_pre: int, l_vec: np.ndarray, m: float,
         alpha: float = 0.05) -> FlciResult:
    """The optimal FLCI for ``l' tau_post`` under ``Delta^SD(m)``: minimise the half-length over ``h``."""
    problem = _FlciProblem(sigma, num_pre, l_vec)
    h_min = np.sqrt(problem.variance(problem.min_variance_weights()))
    h_max = np.sqrt(problem.variance(problem.min_bias_weights()))

    def half_length(h: float, quantile=folded_normal_quantile_exact) -> tuple[float, np.ndarray]:
        w = problem.min_bias_given_h(h)
        sd = np.sqrt(problem.variance(w))
        return sd * quantile(1 - alpha, m * problem.bias(w) / sd), w

    # The search over h uses the exact folded-normal quantile (smooth and fast); the reported
    # half-length uses R's simulated quantile, as findOptimalFLCI does at its optimum.
    if m == 0 or h_max - h_min <= 1e-12 * h_max:
        h_star = h_min
    else:
        found = minimize_scalar(lambda h: half_length(h)[0], bounds=(h_min, h_max), method="bounded",
                                options={"xatol": 1e-9 * h_max})
        h_star = min((h_min, h_max, found.x), key=lambda h: half_length(h)[0])
    chi, w = half_length(h_star, folded_normal_quantile)
    weights = np.r_[problem.diff @ w, l_vec]
    center = float(weights @ betahat)
    sd = np.sqrt(problem.variance(w))
    return FlciResult(lb=center - chi, ub=center + chi, weights=weights, half_length=chi, h=sd,
                      max_bias=m * problem.bias(w))
