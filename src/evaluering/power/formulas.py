"""Minimum detectable effects (MDE) and sample sizes for a survey share measured in two waves.

The setting. Each survey wave is a new cross-section: ``n`` persons are invited, a share
``response_rate`` answers, and the respondents are weighted. Weighting costs precision: a wave
with ``n * response_rate`` respondents and design effect ``deff`` estimates a share as precisely
as a simple random sample of the *effective size* ``m = n * response_rate / deff``. The
estimate ``p_hat`` of a share ``p`` then has variance ``p (1 - p) / m``.

The test. The change between the baseline wave (share ``p0``) and the planned wave
(``p1 = p0 + delta``, or ``p0 - delta`` for a decrease) is judged by a two-sided Wald test: the
estimated difference divided by its estimated (unpooled, design-based) standard error, against
``z = Phi^-1(1 - alpha/2)``, the critical value of a ``1 - alpha`` confidence interval
(:func:`evaluering.numerics.critical_value`). Under the alternative the estimated difference is
approximately normal with mean ``delta`` and variance ``V(delta) = p0 q0 / m0 + p1 q1 / m1``
(q = 1 - p), and the Wald test's standard error estimates ``sqrt(V(delta))``; so its power is

    power(delta) = Phi(delta / sqrt(V) - z) + Phi(-delta / sqrt(V) - z).

The MDE is the ``delta`` at which this equals the required power. Because ``V`` depends on
``delta`` through ``p1`` (the variance under the alternative, not the baseline variance twice),
the equation is solved numerically with ``scipy.optimize.brentq``. ``delta / sqrt(V(delta))``
increases with ``delta`` on [0, 1 - p0] (and on [0, p0] for a decrease), so the root is unique.
Dropping the second (opposite-tail) term gives the textbook formula for two proportions with the
unpooled test, ``delta = (z_{1-alpha/2} + z_{power}) * sqrt(V(delta))`` (Chow, Shao & Wang 2008,
*Sample Size Calculations in Clinical Research*, sec. 4.2; Bloom 1995, *Evaluation Review* 19, on
MDEs). The unpooled variance fits the reports, whose tests divide by design-based standard errors
of each wave (``did.design_did``); Fleiss, Levin & Paik (2003, ch. 4) give the pooled-variance
version for the chi-square test. The design effect of weighting is Kish's (1965; 1992, *J. Official
Statistics* 8), ``1 + CV^2`` of the weights, which assumes weights unrelated to the outcome.

``alpha`` is the significance level of that planned test, as in ``evaluation.district.verdict``
(a change is "better" or "worse" when ``p_value < alpha``), not a confidence level: the power is
the chance that the report's verdict finds the change.

The difference-in-differences (district change minus comparison-group change) adds two more
independent samples, the comparison group's waves, whose share ``pc`` is assumed unchanged:
``V(delta) = p0 q0 / m0 + p1 q1 / m1 + pc qc / mc0 + pc qc / mc1``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import optimize, special  # special.ndtr is scipy.stats' norm.cdf, without its import

from ..errors import EvalueringError
from ..numerics import critical_value

__all__ = ["PowerError", "kish_deff", "mde", "mde_did", "sample_size", "sample_size_did"]

DIRECTIONS = ("increase", "decrease")
_MAX_N = 10**12  # a sample size search gives up beyond this many invited persons


class PowerError(EvalueringError, ValueError):
    """An argument of a power calculation is invalid, or no effect within [0, 1] is detectable.

    ``argument`` names the offending argument.
    """

    def __init__(self, argument: str, message: str):
        super().__init__(f"{argument}: {message}")
        self.argument = argument


def kish_deff(weights) -> float:
    """Kish's design effect of unequal weights: ``1 + CV^2 = n * sum(w^2) / sum(w)^2``.

    Zero weights are left out (in ``PreparedData.survey`` they are the non-respondents); negative,
    missing or infinite weights are an error.
    """
    w = np.asarray(weights, dtype=float).ravel()
    if not np.isfinite(w).all() or (w < 0).any():
        raise PowerError("weights", "must be finite and not negative")
    w = w[w > 0]
    if w.size == 0:
        raise PowerError("weights", "no positive weights")
    return float(w.size * np.sum(w**2) / np.sum(w) ** 2)


@dataclass(frozen=True)
class _Wave:
    """One wave of one group: persons invited, response rate and design effect."""

    n: float
    response_rate: float
    deff: float

    @property
    def effective_n(self) -> float:
        """Respondents over the design effect: the simple random sample as precise as this wave."""
        return self.n * self.response_rate / self.deff


# --- argument checks ---------------------------------------------------------------------------


def _number(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise PowerError(name, f"must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise PowerError(name, f"must be finite, got {value}")
    return value


def _check_wave(prefix: str, n, response_rate, deff) -> _Wave:
    n = _number(f"{prefix}n", n)
    rr = _number(f"{prefix}response_rate", response_rate)
    d = _number(f"{prefix}deff", deff)
    if n <= 0:
        raise PowerError(f"{prefix}n", f"persons invited must be positive, got {n:g}")
    if not 0 < rr <= 1:
        raise PowerError(f"{prefix}response_rate", f"must be in (0, 1], got {rr:g}")
    if d < 1:
        raise PowerError(f"{prefix}deff", f"a design effect of weights is at least 1, got {d:g}")
    return _Wave(n, rr, d)


def _check_share(name: str, value) -> float:
    p = _number(name, value)
    if not 0 < p < 1:
        raise PowerError(name, f"must be a share strictly between 0 and 1, got {p:g}")
    return p


def _check_test(alpha, power, direction) -> tuple[float, float, int]:
    a = _number("alpha", alpha)
    b = _number("power", power)
    if not 0 < a < 1:
        raise PowerError("alpha", f"must be in (0, 1), got {a:g}")
    if not a < b < 1:
        raise PowerError("power", f"must be above alpha ({a:g}) and below 1, got {b:g}")
    if direction not in DIRECTIONS:
        raise PowerError("direction", f"must be one of {DIRECTIONS}, got {direction!r}")
    return a, b, 1 if direction == "increase" else -1


# --- the core: solve power(delta) = power for delta ----------------------------------------------


def _power(delta: float, sd: float, z: float) -> float:
    """Two-sided Wald test's power when the estimate is N(delta, sd^2)."""
    return special.ndtr(delta / sd - z) + special.ndtr(-delta / sd - z)


def _solve_mde(p0: float, sign: int, fixed_variance: float, m1: float, alpha: float, power: float) -> float:
    """The MDE, with ``V(delta) = fixed_variance + p1 q1 / m1``; ``inf`` when none lies within [0, 1].

    ``m1`` (effective size of the planned wave) may be ``inf``: the planned wave is then exact.
    """
    z = critical_value(1 - alpha)  # the two-sided test at alpha rejects outside the 1 - alpha interval

    def shortfall(delta: float) -> float:
        p1 = p0 + sign * delta
        sd = math.sqrt(fixed_variance + (p1 * (1 - p1) / m1 if math.isfinite(m1) else 0.0))
        return _power(delta, sd, z) - power

    room = 1 - p0 if sign > 0 else p0  # largest change that keeps p1 within [0, 1]
    if shortfall(room) < 0:
        return math.inf
    return optimize.brentq(shortfall, 0.0, room, xtol=1e-12, rtol=1e-12)


def _out_of_range(p0: float, sign: int, power: float) -> PowerError:
    word, bound = ("increase", 1) if sign > 0 else ("decrease", 0)
    return PowerError(
        "baseline",
        f"baseline + delta would leave [0, 1]: from a baseline of {p0:g} no {word} (up to a share of "
        f"{bound}) is detected with power {power:g} with these sample sizes",
    )


# --- change between two waves ------------------------------------------------------------------


def _check_waves(prefix: str, n, response_rate, deff, baseline_n, baseline_response_rate,
                 baseline_deff) -> tuple[_Wave, _Wave]:
    """(planned wave, baseline wave) of one group; the baseline's design is the planned one's unless given.

    Arguments are named ``<prefix>n`` ... and ``<prefix>baseline_n`` ... in errors.
    """
    planned = _check_wave(prefix, n, response_rate, deff)
    before = _check_wave(
        f"{prefix}baseline_",
        n if baseline_n is None else baseline_n,
        response_rate if baseline_response_rate is None else baseline_response_rate,
        deff if baseline_deff is None else baseline_deff,
    )
    return planned, before


def _change_setup(n, response_rate, baseline, deff, alpha, power, direction, baseline_n, baseline_response_rate,
                  baseline_deff):
    alpha, power, sign = _check_test(alpha, power, direction)
    p0 = _check_share("baseline", baseline)
    planned, before = _check_waves("", n, response_rate, deff, baseline_n, baseline_response_rate, baseline_deff)
    return alpha, power, sign, p0, planned, before


def mde(n, response_rate, baseline, deff=1.0, alpha=0.05, power=0.8, *, direction="increase", baseline_n=None,
        baseline_response_rate=None, baseline_deff=None) -> float:
    """Minimum detectable change in a share from the baseline wave to a planned survey wave.

    ``n``: persons invited in the planned wave; ``response_rate``: the share expected to answer;
    ``deff``: the design effect of the weights (Kish, ``1 + CV^2``, see :func:`kish_deff`);
    ``baseline``: the indicator's level (a share) in the baseline wave. Each wave has
    ``n * response_rate`` respondents and effective size ``n * response_rate / deff``; the baseline
    wave has the same design unless ``baseline_n``, ``baseline_response_rate`` or ``baseline_deff``
    say otherwise (e.g. the survey already held).

    Returns the smallest true change ``delta > 0`` (a difference of shares: 0.08 = 8 percentage
    points) such that a two-sided Wald test at level ``alpha`` of "no change" detects a change from
    ``baseline`` to ``baseline + delta`` (``baseline - delta`` with ``direction="decrease"``) with
    probability ``power``. The planned wave's variance is taken at ``baseline +- delta`` (the
    variance under the alternative), so the MDE is not symmetric around 0.5. See the module text
    for the formula.

    Raises :class:`PowerError` (naming the argument) for invalid arguments, or when no change
    that keeps the share within [0, 1] reaches the power.
    """
    alpha, power, sign, p0, planned, before = _change_setup(
        n, response_rate, baseline, deff, alpha, power, direction, baseline_n, baseline_response_rate, baseline_deff)
    delta = _solve_mde(p0, sign, p0 * (1 - p0) / before.effective_n, planned.effective_n, alpha, power)
    if math.isinf(delta):
        raise _out_of_range(p0, sign, power)
    return delta


def _comparison_variance(comparison_n, comparison_response_rate, comparison_baseline, comparison_deff=1.0,
                         comparison_baseline_n=None, comparison_baseline_response_rate=None,
                         comparison_baseline_deff=None) -> float:
    """Variance the comparison group's two waves add to a DiD (``pc qc / mc0 + pc qc / mc1``)."""
    pc = _check_share("comparison_baseline", comparison_baseline)
    planned, before = _check_waves("comparison_", comparison_n, comparison_response_rate, comparison_deff,
                                   comparison_baseline_n, comparison_baseline_response_rate, comparison_baseline_deff)
    return pc * (1 - pc) * (1 / before.effective_n + 1 / planned.effective_n)


def mde_did(n, response_rate, baseline, deff=1.0, alpha=0.05, power=0.8, *, comparison_n,
            comparison_response_rate, comparison_baseline, comparison_deff=1.0, direction="increase",
            baseline_n=None, baseline_response_rate=None, baseline_deff=None, comparison_baseline_n=None,
            comparison_baseline_response_rate=None, comparison_baseline_deff=None) -> float:
    """Minimum detectable difference-in-differences: district change minus comparison-group change.

    The district's arguments are those of :func:`mde`. The comparison group has ``comparison_n``
    invited, ``comparison_response_rate`` and ``comparison_deff`` in the planned wave (and, unless
    the ``comparison_baseline_*`` arguments say otherwise, in the baseline wave) and the level
    ``comparison_baseline``, assumed unchanged. The four samples (district and comparison
    group, baseline and planned wave) are independent, so the DiD's variance is the sum of their
    four variances; for the comparison group's deff use the weights the DiD uses (the comparison
    group balanced to look like the district), which are more variable than its survey weights.
    """
    alpha, power, sign, p0, planned, before = _change_setup(
        n, response_rate, baseline, deff, alpha, power, direction, baseline_n, baseline_response_rate, baseline_deff)
    fixed = p0 * (1 - p0) / before.effective_n + _comparison_variance(
        comparison_n, comparison_response_rate, comparison_baseline, comparison_deff, comparison_baseline_n,
        comparison_baseline_response_rate, comparison_baseline_deff)
    delta = _solve_mde(p0, sign, fixed, planned.effective_n, alpha, power)
    if math.isinf(delta):
        raise _out_of_range(p0, sign, power)
    return delta


# --- sample sizes: the inverse ---------------------------------------------------------------


def _smallest_n(mde_of_n, target: float, limit: float) -> int:
    """Smallest integer n >= 1 with ``mde_of_n(n) <= target`` (``mde_of_n`` falls with n)."""
    if not limit < target:
        floor = "no change within [0, 1] is detectable" if math.isinf(limit) else f"no MDE below {limit:g}"
        raise PowerError("target_mde", f"{target:g} cannot be reached however many are invited in the "
                                       f"planned wave: with the other samples as they are, {floor}")
    low, high = 0, 1  # mde(low) > target always (n = 0 counts as infinite); double high until mde(high) <= target
    while mde_of_n(high) > target:
        low, high = high, high * 2
        if high > _MAX_N:
            raise PowerError("target_mde", f"{target:g} needs more than {_MAX_N:g} persons invited")
    while high - low > 1:
        mid = (low + high) // 2
        if mde_of_n(mid) <= target:
            high = mid
        else:
            low = mid
    return high


def _check_target(target_mde) -> float:
    target = _number("target_mde", target_mde)
    if not 0 < target < 1:
        raise PowerError("target_mde", f"must be a change of share in (0, 1), got {target:g}")
    return target


def sample_size(target_mde, response_rate, baseline, deff=1.0, alpha=0.05, power=0.8, *, direction="increase",
                baseline_n=None, baseline_response_rate=None, baseline_deff=None) -> int:
    """Persons to invite in the planned wave so that :func:`mde` is at most ``target_mde``.

    The inverse of :func:`mde` with the same arguments: the smallest integer ``n`` with
    ``mde(n, ...) <= target_mde``. Without ``baseline_n`` the baseline wave is assumed to have the
    same design, so ``n`` is the size of each of the two waves; with ``baseline_n`` (a survey
    already held) only the planned wave grows, and a target the baseline wave alone cannot reach
    raises :class:`PowerError`.
    """
    target = _check_target(target_mde)
    alpha, power, sign, p0, _, before = _change_setup(
        1, response_rate, baseline, deff, alpha, power, direction, baseline_n, baseline_response_rate, baseline_deff)
    limit = 0.0 if baseline_n is None else _solve_mde(
        p0, sign, p0 * (1 - p0) / before.effective_n, math.inf, alpha, power)
    kwargs = dict(direction=direction, baseline_n=baseline_n, baseline_response_rate=baseline_response_rate,
                  baseline_deff=baseline_deff)
    return _smallest_n(lambda k: _mde_or_inf(mde, k, response_rate, baseline, deff, alpha, power, **kwargs),
                       target, limit)


def sample_size_did(target_mde, response_rate, baseline, deff=1.0, alpha=0.05, power=0.8, *, comparison_n,
                    comparison_response_rate, comparison_baseline, comparison_deff=1.0, direction="increase",
                    baseline_n=None, baseline_response_rate=None, baseline_deff=None, comparison_baseline_n=None,
                    comparison_baseline_response_rate=None, comparison_baseline_deff=None) -> int:
    """Persons to invite in the district's planned wave so that :func:`mde_did` is at most ``target_mde``.

    The comparison group's design is held fixed; as in :func:`sample_size`, the district's
    baseline wave grows with ``n`` unless ``baseline_n`` is given.
    """
    target = _check_target(target_mde)
    alpha, power, sign, p0, _, before = _change_setup(
        1, response_rate, baseline, deff, alpha, power, direction, baseline_n, baseline_response_rate, baseline_deff)
    comparison = dict(comparison_n=comparison_n, comparison_response_rate=comparison_response_rate,
                      comparison_baseline=comparison_baseline, comparison_deff=comparison_deff,
                      comparison_baseline_n=comparison_baseline_n,
                      comparison_baseline_response_rate=comparison_baseline_response_rate,
                      comparison_baseline_deff=comparison_baseline_deff)
    fixed = _comparison_variance(**comparison)
    if baseline_n is not None:
        fixed += p0 * (1 - p0) / before.effective_n
    limit = _solve_mde(p0, sign, fixed, math.inf, alpha, power)
    kwargs = dict(direction=direction, baseline_n=baseline_n, baseline_response_rate=baseline_response_rate,
                  baseline_deff=baseline_deff, **comparison)
    return _smallest_n(lambda k: _mde_or_inf(mde_did, k, response_rate, baseline, deff, alpha, power, **kwargs),
                       target, limit)


def _mde_or_inf(function, n, *args, **kwargs) -> float:
    """``function(n, ...)``, or ``inf`` when no change within [0, 1] is detectable at that size."""
    try:
        return function(n, *args, **kwargs)
    except PowerError as err:
        if err.argument != "baseline":
            raise
        return math.inf
