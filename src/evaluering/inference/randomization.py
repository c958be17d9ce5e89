"""Randomisation (placebo) inference for a district's difference-in-differences.

Why: a municipality has three treated districts. With so few treated units the DiD estimate
does not become more precise as the comparison group grows, and cluster-robust standard errors
(which need many *treated* clusters) are far too small. Conley & Taber (2011) show that the
distribution of the estimate's error can instead be learnt from the comparison units: under
the null of no effect, and if areas are exchangeable (their outcome changes come from the same
distribution whether or not they are in a district), a district made of comparison areas
("pseudo-district") gives a DiD drawn from the same distribution as the real one. Comparing
the real DiD with many such placebo DiDs gives a p-value that is valid however few districts
there are: it is a randomisation test (MacKinnon & Webb 2020, "Randomization inference for
difference-in-differences with few treated clusters"; their RI-beta test).

Exchangeability is the assumption to watch: the DiD of a few large areas varies less than that
of a few small ones (MacKinnon & Webb 2020; Ferman & Pinto 2019). Pseudo-districts therefore
have as many areas as the district, or, with ``match_population=True``, about as many people.

The statistic is the DiD of area-level weighted means: the change (follow-up minus baseline)
in the district's pooled weighted mean of ``outcome`` minus the same change in the comparison
areas. In each placebo draw the pseudo-district is compared with the comparison areas it does
not use. ``area_weights="equal"`` gives every area the same weight instead of pooling units.
"""

from __future__ import annotations

import math
import sys
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..columns import require_columns
from ..results import ResultDisplay
from .checks import require_complete
from .errors import InferenceError, UnknownNameError

__all__ = ["PlaceboTest", "placebo_test", "placebo_test_joint", "areas_by_district"]


@dataclass(frozen=True, repr=False)
class PlaceboTest(ResultDisplay):
    """A DiD estimate with its placebo (randomisation) distribution, p-value and interval.

    ``estimate`` is the district's DiD, or for a joint test the mean of the districts' DiDs
    (``district_estimates``). ``placebo`` holds the same statistic for each placebo draw.
    ``se`` is the standard deviation of the placebo distribution; the interval is
    ``estimate`` minus the placebo quantiles (Conley & Taber 2011: it assumes the same effect
    in every treated area). ``p_value`` is two-sided: (1 + #{|placebo| >= |estimate|}) / (1 + n_draws).
    """

    outcome: str
    districts: tuple[str, ...]
    baseline: str  # the baseline period, or first-last of pooled periods
    followup: str
    estimate: float
    district_estimates: tuple[float, ...]
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    n_draws: int
    n_pool_areas: int
    pseudo_sizes: tuple[int, ...]
    match: str  # "areas" (same number of areas) or "population" (about as many people)
    area_weights: str  # "population" (pooled units) or "equal"
    placebo: np.ndarray = field(repr=False, compare=False)
    confidence: float = 0.95

    def to_frame(self) -> pd.DataFrame:
        """One row: the estimate, its placebo standard error, interval and p-value."""
        row = {k: getattr(self, k) for k in ("outcome", "districts", "baseline", "followup", "estimate", "se",
                                             "ci_low", "ci_high", "p_value", "n_draws", "n_pool_areas", "match")}
        return pd.DataFrame([{**row, "districts": ", ".join(self.districts)}])

    def _headline(self) -> str:
        kind = "joint placebo test" if len(self.districts) > 1 else "placebo test"
        return (f"{self.outcome} ({', '.join(self.districts)}, {self.baseline}->{self.followup}, {kind}): "
                f"{self.estimate:+.4f} (placebo se {self.se:.4f}; {self.confidence:.0%} CI {self.ci_low:+.4f} to "
                f"{self.ci_high:+.4f}; p = {self.p_value:.3f})")

    def _notes(self) -> list[str]:
        notes = [f"{self.n_draws} pseudo-districts from {self.n_pool_areas} comparison areas, matched on "
                 f"{'number of areas' if self.match == 'areas' else 'population'}"]
        if len(self.districts) > 1:
            notes.append("district DiDs: " + ", ".join(
                f"{d} {e:+.4f}" for d, e in zip(self.districts, self.district_estimates, strict=True)))
        return notes


def areas_by_district(areas: pd.DataFrame, area: str = "area_id", district: str = "district"):
    """``({district: [areas]}, [comparison areas])`` from an areas table (missing district = comparison)."""
    require_columns(areas, [area, district], what="areas", error=UnknownNameError)
    require_complete(areas, [area])
    has = areas[district].notna()
    by_district = {str(d): list(part[area]) for d, part in areas[has].groupby(district, sort=False)}
    return by_district, list(areas.loc[~has, area])


def _warn_caller(message: str) -> None:
    """Warn at the line that called this module (placebo_test reaches the check through placebo_test_joint)."""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_globals.get("__name__") == __name__:
        frame, level = frame.f_back, level + 1
    warnings.warn(message, stacklevel=level)


def _periods(value) -> tuple[int, ...]:
    values = (value,) if np.isscalar(value) else tuple(value)
    if not values:
        raise InferenceError("no baseline or follow-up period given")
    return tuple(int(v) for v in values)


def _label(periods: tuple[int, ...]) -> str:
    return str(periods[0]) if len(periods) == 1 else f"{min(periods)}-{max(periods)}"


def _area_sums(frame, outcome, area, period, weights, baseline, followup) -> pd.DataFrame:
    """Per area: weighted outcome sums and weight sums at baseline (s0, w0) and follow-up (s1, w1)."""
    if set(baseline) & set(followup):
        raise InferenceError("baseline and follow-up periods must differ")
    columns = [outcome, area, period] + ([weights] if weights else [])
    require_columns(frame, columns, what="placebo test data", error=UnknownNameError)
    require_complete(frame, [period])
    rows = frame.loc[frame[period].isin(baseline + followup), columns]
    require_complete(rows, columns)
    w = rows[weights].to_numpy(dtype=float) if weights else np.ones(len(rows))
    if (w < 0).any() or not np.isfinite(w).all():
        raise InferenceError(f"weights {weights!r} must be finite and non-negative")
    y = rows[outcome].to_numpy(dtype=float)
    if not np.isfinite(y).all():
        raise InferenceError(f"outcome {outcome!r} has non-finite values")
    post = rows[period].isin(followup).to_numpy()
    parts = pd.DataFrame({"area": rows[area].to_numpy(), "s0": np.where(post, 0, w * y), "w0": np.where(post, 0, w),
                          "s1": np.where(post, w * y, 0), "w1": np.where(post, w, 0)})
    return parts.groupby("area", sort=True).sum()


def _changes(labels: np.ndarray, n_groups: int, sums: np.ndarray, area_weights: str) -> np.ndarray:
    """Change (follow-up - baseline) in each labelled group's mean; labels: (draws, areas), 0..n_groups."""
    s0, w0, s1, w1 = sums.T
    out = np.empty((labels.shape[0], n_groups + 1))
    for j in range(n_groups + 1):
        member = (labels == j).astype(float)
        if area_weights == "equal":
            out[:, j] = member @ (s1 / w1 - s0 / w0) / member.sum(axis=1)
        else:
            out[:, j] = (member @ s1) / (member @ w1) - (member @ s0) / (member @ w0)
    return out


def _draw_labels(rng, n_draws, pop, sizes, targets) -> np.ndarray:
    """Labels 1..J of disjoint random pseudo-districts (0 = rest) for each draw.

    By number of areas (``targets`` None) or by population: areas in random order are added
    until the pseudo-district's population is closest to the district's.
    """
    n_pool, n_groups = len(pop), len(sizes)
    labels = np.zeros((n_draws, n_pool), dtype=np.int64)
    for b in range(n_draws):
        order = rng.permutation(n_pool)
        start = 0
        for j in range(n_groups):
            if targets is None:
                k = sizes[j]
            else:
                room = n_pool - start - (n_groups - j - 1) - 1  # leave an area for each later group and the rest
                cumulative = np.cumsum(pop[order[start:start + room]])
                k = int(np.argmin(np.abs(cumulative - targets[j]))) + 1
            labels[b, order[start:start + k]] = j + 1
            start += k
    return labels


def placebo_test(
    frame: pd.DataFrame,
    outcome: str,
    area: str,
    period: str,
    treated_areas: Sequence,
    baseline: int | Sequence[int],
    followup: int | Sequence[int],
    *,
    district: str = "district",
    pseudo_size: int | None = None,
    **options,
) -> PlaceboTest:
    """Placebo test of one district's DiD (its ``treated_areas``) against the comparison areas.

    ``frame`` is a unit-level frame (one row per person or unit and period) with the outcome,
    each row's small area and its period. Pseudo-districts have ``pseudo_size`` areas (default:
    as many as the district). ``options`` are those of :func:`placebo_test_joint`
    (``comparison_areas``, ``weights``, ``n_draws``, ``seed``, ``match_population``,
    ``area_weights``, ``confidence``), which this is with one district called ``district``.
    See the module docstring for why the test is valid with few treated districts.
    """
    treated = list(dict.fromkeys(treated_areas))
    return placebo_test_joint(frame, outcome, area, period, {district: treated}, baseline, followup,
                              pseudo_sizes=None if pseudo_size is None else [pseudo_size], **options)


def placebo_test_joint(
    frame: pd.DataFrame,
    outcome: str,
    area: str,
    period: str,
    treated_areas: Mapping[str, Sequence],
    baseline: int | Sequence[int],
    followup: int | Sequence[int],
    *,
    comparison_areas: Sequence | None = None,
    pseudo_sizes: Sequence[int] | None = None,
    weights: str | None = None,
    n_draws: int = 999,
    seed: int | np.random.Generator | None = None,
    match_population: bool = False,
    area_weights: str = "population",
    confidence: float = 0.95,
) -> PlaceboTest:
    """Test all districts at once: the mean of their DiDs against placebo draws of as many
    disjoint pseudo-districts (of the districts' sizes) from the comparison areas.

    ``treated_areas`` maps each district to its areas. In a draw each pseudo-district is compared
    with the comparison areas that no pseudo-district uses. One test instead of three: it asks
    whether the strategy worked on average, with more power than each district alone.

    ``frame`` is a unit-level frame (one row per person or unit and period) with the outcome,
    each row's small area and its period; ``weights`` names an analysis-weight column (default:
    every row weighs 1). Area x period means weighted by their number of units give the same
    result, faster. ``baseline`` and ``followup`` are periods or lists of periods to pool
    (yearly registers: e.g. 2019-2021 against 2022-2024, which averages out yearly noise).
    ``comparison_areas`` (default: every other area in ``frame``) are both the districts'
    comparison group and the pool pseudo-districts are drawn from: give them explicitly when
    ``frame`` also holds other districts' areas. Pseudo-districts have ``pseudo_sizes`` areas
    (default: as many as each district), or about each district's baseline population (sum of
    weights) with ``match_population=True``. The same ``seed`` and pool give the same
    pseudo-districts for every outcome, so the placebo distributions of several indicators can
    be combined (e.g. :func:`~evaluering.inference.romano_wolf`).
    """
    treated = {str(d): list(dict.fromkeys(a)) for d, a in treated_areas.items()}
    sizes = [len(a) for a in treated.values()] if pseudo_sizes is None else [int(s) for s in pseudo_sizes]
    if pseudo_sizes is not None:
        if len(sizes) != len(treated) or min(sizes, default=1) < 1:
            raise InferenceError(f"pseudo_size(s) {sizes}: one size of at least 1 per district ({len(treated)})")
        if match_population:
            raise InferenceError("give pseudo_size(s) or match_population, not both")
    return _placebo(frame, outcome, area, period, treated, baseline, followup, comparison_areas,
                    sizes, weights, n_draws, seed, match_population, area_weights, confidence)


def _placebo(frame, outcome, area, period, treated, baseline, followup, comparison_areas, sizes, weights,
             n_draws, seed, match_population, area_weights, confidence) -> PlaceboTest:
    if area_weights not in ("population", "equal"):
        raise InferenceError(f"area_weights must be 'population' or 'equal', not {area_weights!r}")
    if not treated:
        raise InferenceError("no treated district given")
    if n_draws < 2:
        raise InferenceError("n_draws must be at least 2")
    if not 0 < confidence < 1:
        raise InferenceError("confidence must be between 0 and 1")
    baseline, followup = _periods(baseline), _periods(followup)
    sums = _area_sums(frame, outcome, area, period, weights, baseline, followup)
    all_treated = [a for areas in treated.values() for a in areas]
    if any(not areas for areas in treated.values()):
        raise InferenceError("every treated district needs at least one area")
    if len(set(all_treated)) < len(all_treated):
        raise InferenceError("an area belongs to more than one treated district")
    if comparison_areas is None:
        comparison = [a for a in sums.index if a not in set(all_treated)]
    else:
        comparison = list(dict.fromkeys(comparison_areas))
        overlap = set(comparison) & set(all_treated)
        if overlap:
            raise InferenceError(f"areas both treated and comparison: {sorted(overlap)[:5]}")
    empty = [a for a in all_treated + comparison
             if a not in sums.index or sums.at[a, "w0"] <= 0 or sums.at[a, "w1"] <= 0]
    if empty:
        raise InferenceError(f"{len(empty)} area(s) without {outcome!r} data in {_label(baseline)} or "
                             f"{_label(followup)}: {empty[:5]} (leave them out of the treated and comparison areas)")
    if len(comparison) < sum(sizes) + 1:
        raise InferenceError(
            f"pseudo-districts of {' + '.join(map(str, sizes))} areas need at least {sum(sizes) + 1} comparison "
            f"areas (one must be left as comparison), but there are {len(comparison)}")
    n_distinct = math.comb(len(comparison), sum(sizes))
    if not match_population and n_distinct < 100:
        _warn_caller(f"only {n_distinct} distinct sets of pseudo-district areas: the p-value cannot go "
                     f"much below {1 / n_distinct:.3f}")

    # Observed: each real district against all comparison areas.
    observed = []
    for areas in treated.values():
        labels = np.r_[np.ones(len(areas), dtype=np.int64), np.zeros(len(comparison), dtype=np.int64)]
        change = _changes(labels[None, :], 1, sums.loc[areas + comparison].to_numpy(), area_weights)[0]
        observed.append(float(change[1] - change[0]))
    estimate = float(np.mean(observed))

    pool = sums.loc[comparison].to_numpy()
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    targets = [float(sums.loc[a, "w0"].sum()) for a in treated.values()] if match_population else None
    labels = _draw_labels(rng, n_draws, pool[:, 1], sizes, targets)
    change = _changes(labels, len(sizes), pool, area_weights)
    placebo = (change[:, 1:] - change[:, [0]]).mean(axis=1)

    tol = 1e-12 * max(1.0, abs(estimate))  # ties (up to rounding) count against rejection
    p_value = (1 + int(np.sum(np.abs(placebo) >= abs(estimate) - tol))) / (1 + n_draws)
    tail = (1 - confidence) / 2  # the share of the placebo distribution outside the interval on each side
    q_low, q_high = np.quantile(placebo, [tail, 1 - tail])
    return PlaceboTest(
        outcome=outcome,
        districts=tuple(treated),
        baseline=_label(baseline),
        followup=_label(followup),
        estimate=estimate,
        district_estimates=tuple(observed),
        se=float(np.std(placebo, ddof=1)),
        ci_low=float(estimate - q_high),
        ci_high=float(estimate - q_low),
        p_value=float(p_value),
        n_draws=int(n_draws),
        n_pool_areas=len(comparison),
        pseudo_sizes=tuple(int(s) for s in sizes),
        match="population" if match_population else "areas",
        area_weights=area_weights,
        placebo=placebo,
        confidence=confidence,
    )
