"""Synthetic difference-in-differences (Arkhangelsky, Athey, Hirshberg, Imbens & Wager 2021, AER).

:func:`synthetic_did` weights the comparison units so that their pre-period path runs parallel to
the treated units', and the pre periods so that they resemble the post period, then takes the
weighted double difference. ``method="sc"`` gives the synthetic control (unit weights without
intercept, no time weights) and ``method="did"`` plain DiD (uniform weights) on the same data, as
``sc_estimate`` and ``did_estimate`` of the R package ``synthdid``, which this follows and whose
published results on California's Proposition 99 it reproduces (``tests/test_synthetic_did.py``).

Standard errors (the paper's Algorithms 2-4, as ``vcov.synthdid_estimate``):

* ``placebo``: controls are permuted, the last N1 play the treated and the estimator is refitted
  on the controls only; the standard deviation of these placebo estimates. The only choice with one
  treated unit (the default then); needs more controls than treated units.
* ``bootstrap``: units resampled with replacement (draws without a treated or without a control
  unit are redrawn), weights refitted. Default with several treated units.
* ``jackknife``: leave one unit out with the weights held fixed. Needs two treated units or more.

The data must be a balanced panel with simultaneous adoption: every treated unit treated from the
same period on, the controls never (synthdid's block design).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtri  # the normal quantile, without importing scipy.stats

from ..columns import as_float, require_columns
from ..results import ResultDisplay
from .errors import DidError, MissingValuesError, UnbalancedPanelError
from .synthetic_solver import Weights, estimate_from_weights, fit_weights, method_options, sum_normalize

__all__ = ["METHODS", "SE_METHODS", "SyntheticDidError", "SyntheticDidResult", "synthetic_did"]

METHODS = ("sdid", "sc", "did")
SE_METHODS = ("placebo", "bootstrap", "jackknife", "none")
_METHOD_NAMES = {"sdid": "Synthetic DiD", "sc": "Synthetic control", "did": "Difference-in-differences"}


class SyntheticDidError(DidError):
    """The data or arguments cannot give a synthetic DiD estimate (the message says why)."""


@dataclass(frozen=True, eq=False, repr=False)
class SyntheticDidResult(ResultDisplay):
    """A synthetic DiD (or SC / DiD) estimate with its weights and trajectories.

    ``unit_weights`` (controls) and ``time_weights`` (pre periods) sum to one (the synthetic
    control's time weights are all zero). ``trajectories`` is indexed by period: ``treated`` (mean
    of the treated units), ``synthetic`` (unit-weighted controls), ``counterfactual`` (``synthetic``
    shifted by the time-weighted pre-period gap) and ``effect`` (``treated - counterfactual``);
    the estimate is the mean of ``effect`` over the post periods. ``effective_n0`` = 1/sum(w^2),
    ``effective_t0`` likewise (infinite without time weights). ``se`` is NaN when ``se_method`` is
    not defined for the data; ``se_note`` says why.
    """

    method: str
    outcome: str
    estimate: float
    se: float
    se_method: str
    replications: int
    unit_weights: pd.Series
    time_weights: pd.Series
    trajectories: pd.DataFrame
    treated_units: tuple
    n_treated: int
    n_control: int
    n_pre: int
    n_post: int
    effective_n0: float
    effective_t0: float
    se_note: str = ""
    confidence: float = 0.95

    @property
    def ci_low(self) -> float:
        """Lower end of the normal-approximation interval."""
        return self.estimate - _z(self.confidence) * self.se

    @property
    def ci_high(self) -> float:
        """Upper end of the normal-approximation interval."""
        return self.estimate + _z(self.confidence) * self.se

    def to_frame(self) -> pd.DataFrame:
        """One row: estimate, se, interval and the dimensions of the problem."""
        return pd.DataFrame([{
            "method": self.method, "estimate": self.estimate, "se": self.se, "ci_low": self.ci_low,
            "ci_high": self.ci_high, "se_method": self.se_method, "n_treated": self.n_treated,
            "n_control": self.n_control, "effective_n0": self.effective_n0, "n_post": self.n_post,
            "n_pre": self.n_pre, "effective_t0": self.effective_t0}])

    def _headline(self) -> str:
        return (f"{_METHOD_NAMES[self.method]} of '{self.outcome}': {self.n_treated} treated and "
                f"{self.n_control} control units, {self.n_pre} pre and {self.n_post} post periods "
                f"({self.confidence:.0%} CI)")

    def _extra_frames(self) -> dict[str, pd.DataFrame]:
        units = _leading(self.unit_weights)
        frames = {f"Largest unit weights ({units.sum():.0%} of the weight)": units.to_frame()}
        if self.time_weights.sum() > 0:
            periods = _leading(self.time_weights).sort_index()
            frames[f"Largest time weights ({periods.sum():.0%} of the weight)"] = periods.to_frame()
        return frames

    def _notes(self) -> list[str]:
        if self.se_method == "none":
            return ["No standard error requested."]
        reps = f", {self.replications} replications" if self.replications else ""
        return [f"Standard error: {self.se_method}{reps}." + (f" {self.se_note}" if self.se_note else "")]


def synthetic_did(
    df: pd.DataFrame,
    *,
    outcome: str,
    unit: str,
    time: str,
    treated: str = "treated",
    method: str = "sdid",
    se_method: str | None = None,
    replications: int = 200,
    seed: int | np.random.Generator | None = None,
    confidence: float = 0.95,
) -> SyntheticDidResult:
    """Estimate the average effect on the treated unit-periods by synthetic DiD (or SC, or DiD).

    ``df`` is a long balanced panel: one row per ``unit`` and ``time``, the ``outcome`` and a 0/1
    column ``treated`` that is 1 for the treated units in the post periods (synthdid's
    ``panel.matrices``). ``se_method`` defaults to placebo with one treated unit and bootstrap
    with more; ``replications`` is the number of placebo or bootstrap draws, ``seed`` their
    random generator.
    """
    if method not in METHODS:
        raise SyntheticDidError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    if se_method is not None and se_method not in SE_METHODS:
        raise SyntheticDidError(f"se_method must be one of {', '.join(SE_METHODS)}, not {se_method!r}")
    if replications < 2:
        raise SyntheticDidError(f"replications must be at least 2, not {replications}")
    y, controls, treated_units, periods, t0 = _panel_matrices(df, outcome, unit, time, treated)
    n0, n1 = len(controls), len(treated_units)
    if method != "did" and t0 < 2:
        raise SyntheticDidError(f"column '{time}': {t0} pre-treatment period; {method} needs at least 2 "
                                "(the regularisation uses the controls' pre-period changes)")
    opts, fixed = method_options(y, n0, t0, method)
    (weights,) = fit_weights([(y, n0, t0, fixed)], opts)
    estimate = estimate_from_weights(y, n0, t0, weights)

    rng = np.random.default_rng(seed)
    chosen = se_method or ("placebo" if n1 == 1 else "bootstrap")
    reason = _undefined_reason(chosen, n0, n1, weights)
    if reason and se_method is not None:
        raise SyntheticDidError(f"se_method='{chosen}' is not defined here: {reason}")
    if chosen == "none" or reason:
        se = float("nan")
    elif chosen == "placebo":
        se = _placebo_se(y, n0, t0, weights, opts, replications, rng)
    elif chosen == "bootstrap":
        se = _bootstrap_se(y, n0, t0, weights, opts, replications, rng)
    else:
        se = _jackknife_se(y, n0, t0, weights)

    omega = pd.Series(weights.omega, index=pd.Index(controls, name=unit), name="weight")
    lam = pd.Series(weights.lam, index=pd.Index(periods[:t0], name=time), name="weight")
    return SyntheticDidResult(
        method=method, outcome=outcome, estimate=estimate, se=se, se_method=chosen,
        replications=replications if chosen in ("placebo", "bootstrap") and not reason else 0,
        unit_weights=omega, time_weights=lam,
        trajectories=_trajectories(y, n0, t0, weights, pd.Index(periods, name=time)),
        treated_units=tuple(treated_units), n_treated=n1, n_control=n0, n_pre=t0, n_post=len(periods) - t0,
        effective_n0=_effective(weights.omega), effective_t0=_effective(weights.lam),
        se_note=f"Not defined: {reason}." if reason else "", confidence=confidence)


def _panel_matrices(df: pd.DataFrame, outcome: str, unit: str, time: str,
                    treated: str) -> tuple[np.ndarray, list, list, list, int]:
    """The outcome matrix (controls first, then treated units; periods in order) and T0.

    Checks what synthdid's ``panel.matrices`` checks: no missing values, 0/1 treatment that varies,
    a balanced panel, simultaneous adoption.
    """
    require_columns(df, [outcome, unit, time, treated], what="synthetic_did data", error=SyntheticDidError)
    frame = df[[unit, time, outcome, treated]]
    missing = frame.isna().sum()
    if missing.any():
        counts = ", ".join(f"'{c}' ({n} rows)" for c, n in missing.items() if n)
        raise MissingValuesError(f"synthetic_did data: missing values in column(s) {counts}")
    values = as_float(frame[outcome], outcome, error=SyntheticDidError)
    if not np.isfinite(values).all():
        raise SyntheticDidError(f"column '{outcome}': infinite values")
    status = as_float(frame[treated], treated, error=SyntheticDidError)
    if not np.isin(status, (0.0, 1.0)).all():
        raise SyntheticDidError(f"column '{treated}' must be 0 or 1 (1 = treated unit in a post period)")
    if status.min() == status.max():
        raise SyntheticDidError(f"column '{treated}': no variation in treatment status "
                                f"({'all' if status[0] else 'no'} unit-periods treated)")
    dupes = frame.duplicated([unit, time])
    if dupes.any():
        first = frame.loc[dupes, [unit, time]].iloc[0].tolist()
        raise UnbalancedPanelError(f"synthetic_did data: {int(dupes.sum())} duplicate ({unit}, {time}) rows, "
                                   f"e.g. {first}")
    y = pd.Series(values, index=pd.MultiIndex.from_frame(frame[[unit, time]])).unstack(time).sort_index(axis=1)
    if y.isna().any().any():
        absent = int(y.isna().sum().sum())
        unit_example = y.index[y.isna().any(axis=1)][0]
        raise UnbalancedPanelError(f"synthetic_did data: unbalanced panel, {absent} ({unit}, {time}) "
                                   f"combinations absent (e.g. {unit} {unit_example!r})")
    w = pd.Series(status, index=pd.MultiIndex.from_frame(frame[[unit, time]])).unstack(time)
    w = w.reindex(index=y.index, columns=y.columns)
    ever = w.any(axis=1)
    first_post = int(np.argmax(w.any(axis=0).to_numpy()))
    block = np.zeros(w.shape)
    block[np.ix_(ever.to_numpy(), np.arange(first_post, w.shape[1]))] = 1.0
    if not np.array_equal(w.to_numpy(), block):
        off = w.index[(w.to_numpy() != block).any(axis=1)].tolist()
        raise SyntheticDidError(
            f"column '{treated}': treatment adoption is not simultaneous (synthetic DiD needs every "
            f"treated unit treated from the same period on and in every later period); first treated "
            f"{time} is {y.columns[first_post]!r}, units that deviate: {off[:5]}")
    if first_post == 0:
        raise SyntheticDidError(f"column '{time}': treatment starts in the first period, no pre-treatment periods")
    controls = sorted(ever.index[~ever.to_numpy()].tolist())
    treated_units = sorted(ever.index[ever.to_numpy()].tolist())
    if not controls:
        raise SyntheticDidError("synthetic_did data: no control units (every unit is treated at some time)")
    matrix = y.loc[controls + treated_units].to_numpy(dtype=float)
    return matrix, controls, treated_units, list(y.columns), first_post


def _undefined_reason(se_method: str, n0: int, n1: int, weights: Weights) -> str:
    """Why ``se_method`` cannot be used on these data ('' if it can)."""
    if se_method == "placebo" and n0 <= n1:
        return f"the placebo needs more control units ({n0}) than treated units ({n1})"
    if se_method == "bootstrap" and n1 == 1:
        return "the bootstrap needs at least 2 treated units (use the placebo)"
    if se_method == "jackknife" and n1 == 1:
        return "the jackknife needs at least 2 treated units (use the placebo)"
    if se_method == "jackknife" and np.count_nonzero(weights.omega) == 1:
        return "the jackknife needs at least 2 control units with non-zero weight"
    return ""


def _placebo_se(y: np.ndarray, n0: int, t0: int, weights: Weights, opts, replications: int,
                rng: np.random.Generator) -> float:
    """Algorithm 4: permute the controls, the last N1 become placebo-treated, refit on controls only."""
    n1 = y.shape[0] - n0
    setups = []
    for _ in range(replications):
        order = rng.permutation(n0)
        init = Weights(omega=sum_normalize(weights.omega[order[:n0 - n1]]), lam=weights.lam)
        setups.append((y[order], n0 - n1, t0, init))
    return _spread(setups, opts)


def _bootstrap_se(y: np.ndarray, n0: int, t0: int, weights: Weights, opts, replications: int,
                  rng: np.random.Generator) -> float:
    """Algorithm 2: resample units (redraw samples without treated or without controls), refit."""
    n = y.shape[0]
    setups = []
    while len(setups) < replications:
        rows = np.sort(rng.integers(0, n, n))
        n0_draw = int(np.count_nonzero(rows < n0))
        if n0_draw in (0, n):
            continue
        init = Weights(omega=sum_normalize(weights.omega[rows[:n0_draw]]), lam=weights.lam)
        setups.append((y[rows], n0_draw, t0, init))
    return _spread(setups, opts)


def _spread(setups: list, opts) -> float:
    """sqrt((B-1)/B) times the standard deviation of the refitted estimates."""
    refitted = fit_weights(setups, opts)
    estimates = np.array([estimate_from_weights(yb, n0b, t0b, w)
                          for (yb, n0b, t0b, _), w in zip(setups, refitted, strict=True)])
    return float(np.std(estimates, ddof=0))


def _jackknife_se(y: np.ndarray, n0: int, t0: int, weights: Weights) -> float:
    """Algorithm 3: leave one unit out with the weights fixed (the controls' renormalised)."""
    n = y.shape[0]
    estimates = []
    for i in range(n):
        keep = np.delete(np.arange(n), i)
        if i < n0:
            w = Weights(omega=sum_normalize(np.delete(weights.omega, i)), lam=weights.lam)
            estimates.append(estimate_from_weights(y[keep], n0 - 1, t0, w))
        else:
            estimates.append(estimate_from_weights(y[keep], n0, t0, weights))
    return float(np.sqrt((n - 1) ** 2 / n * np.var(estimates, ddof=1)))


def _trajectories(y: np.ndarray, n0: int, t0: int, weights: Weights, periods: pd.Index) -> pd.DataFrame:
    treated_mean = y[n0:].mean(axis=0)
    synthetic = weights.omega @ y[:n0]
    gap = float(weights.lam @ (treated_mean[:t0] - synthetic[:t0]))
    counterfactual = synthetic + gap
    return pd.DataFrame({"treated": treated_mean, "synthetic": synthetic, "counterfactual": counterfactual,
                         "effect": treated_mean - counterfactual, "post": np.arange(len(periods)) >= t0},
                        index=periods)


def _effective(w: np.ndarray) -> float:
    total = float(np.sum(w**2))
    return 1.0 / total if total > 0 else float("inf")


def _leading(weights: pd.Series, mass: float = 0.9, most: int = 20) -> pd.Series:
    """The largest weights down to the one that brings their sum to ``mass``, at most ``most``.

    As synthdid's ``synthdid_controls`` (which has no ``most``).
    """
    ordered = weights.sort_values(ascending=False, kind="stable")
    count = int(np.searchsorted(ordered.cumsum().to_numpy(), mass - 1e-12)) + 1
    return ordered.iloc[:min(count, most, len(ordered))]


def _z(confidence: float) -> float:
    return float(ndtri(0.5 + confidence / 2))
