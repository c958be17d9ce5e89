"""Aggregations of group-time effects, as R's ``did::aggte`` (Callaway & Sant'Anna 2021, section 3).

- "simple": all post-treatment ATT(g, t), weighted by cohort size;
- "group": each cohort's average post-treatment effect, and their cohort-size weighted average;
- "dynamic": event-time (t - g) effects, weighted by cohort size, and the average over e >= 0
  (``balance_e``, ``min_e`` and ``max_e`` restrict cohorts and event times as in R);
- "calendar": each period's effect over cohorts treated by then, and their average.

Influence functions include the term for the estimated cohort-size weights (R's ``wif``), so the
standard errors account for the weights being estimated. Detail rows get a uniform band when the
result was bootstrapped (same multiplier draws as ``att_gt``); the overall estimate a pointwise CI.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..numerics import critical_value, interval
from ..results import ResultDisplay
from .errors import StaggeredDidError
from .multiplier import TINY, multiplier_bootstrap, summarise_draws

__all__ = ["AggregateResult", "aggregate"]

KINDS = {"simple": None, "group": "group", "dynamic": "event_time", "calendar": "time"}


@dataclass(frozen=True, eq=False, repr=False)
class AggregateResult(ResultDisplay):
    """An aggregated effect (``estimate``) and, except for "simple", its parts in ``table``."""

    kind: str
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    se_boot: float
    table: pd.DataFrame | None
    crit_value: float
    confidence: float
    bootstrap: bool
    influence: np.ndarray
    n_units: int
    balance_e: float | None = None
    min_e: float | None = None
    max_e: float | None = None

    def to_frame(self) -> pd.DataFrame:
        """Overall row first, then the detail rows, labelled in ``term``."""
        fields = ["estimate", "se", "ci_low", "ci_high", "se_boot"]
        overall = pd.DataFrame([dict(term="overall", estimate=self.estimate, se=self.se, ci_low=self.ci_low,
                                     ci_high=self.ci_high, se_boot=self.se_boot)])
        if self.table is None:
            return overall
        key = KINDS[self.kind]
        detail = self.table.rename(columns={"att": "estimate"})
        detail = detail.assign(term=[f"{key}={v:g}" for v in detail[key]])[["term", *fields]]
        return pd.concat([overall, detail], ignore_index=True)

    def _headline(self) -> str:
        name = {"simple": "simple weighted average", "group": "average over cohorts",
                "dynamic": "average over event times e >= 0", "calendar": "average over periods"}[self.kind]
        return f"Aggregated ATT ({self.kind}: {name})"

    def _notes(self) -> list[str]:
        notes = [f"overall: {self.confidence:.0%} pointwise CI"]
        if self.table is not None:
            band = "uniform band" if self.bootstrap else "pointwise CI"
            notes.append(f"detail rows: {self.confidence:.0%} {band}")
        return notes


def _weights_if(keep: np.ndarray, pg: np.ndarray, w: np.ndarray, unit_g: np.ndarray, cell_g: np.ndarray):
    """Influence of estimating the cohort-size weights pg[keep] / sum(pg[keep]) (R's ``wif``)."""
    total = pg[keep].sum()
    centred = np.column_stack([w * (unit_g == cell_g[k]) - pg[k] for k in keep])
    return centred / total - np.outer(centred.sum(axis=1), pg[keep] / total**2)


def _combine(att, inf, keep, weights, wif=None):
    """Weighted sum of effects and its influence function (R's ``get_agg_inf_func``)."""
    est = float(np.sum(att[keep] * weights))
    out = inf[:, keep] @ weights
    if wif is not None:
        out = out + wif @ att[keep]
    return est, out


def _se(inf: np.ndarray) -> float:
    se = float(np.sqrt(np.mean(inf**2) / len(inf)))
    return se if se > TINY else np.nan


def _parts(res, kind, balance_e, min_e, max_e):
    """Keys, estimates and influence functions of the detail rows, and of the overall estimate."""
    tab = res.table
    att, inf = tab["att"].to_numpy(), res.influence
    group, t = tab["group"].to_numpy(dtype=float), tab["time"].to_numpy(dtype=float)
    unit_g, w = res.unit_cohort, res.unit_weight
    cohorts = np.asarray(res.cohorts, dtype=float)
    pgg = np.array([np.mean(w * (unit_g == g)) for g in cohorts])
    pg = pgg[np.searchsorted(cohorts, group)]
    post = np.flatnonzero(group <= t)
    if kind == "simple":
        weights = pg[post] / pg[post].sum()
        est, out = _combine(att, inf, post, weights, _weights_if(post, pg, w, unit_g, group))
        return None, None, None, est, out
    if kind == "group":
        keys, ests, infs = [], [], []
        for g in cohorts:
            keep = np.flatnonzero((group == g) & (g <= t))
            est, out = _combine(att, inf, keep, pg[keep] / pg[keep].sum())
            keys.append(g), ests.append(est), infs.append(out)
        ests, infs = np.array(ests), np.column_stack(infs)
        every = np.arange(len(cohorts))
        est, out = _combine(ests, infs, every, pgg / pgg.sum(), _weights_if(every, pgg, w, unit_g, cohorts))
        return np.array(keys), ests, infs, est, out
    if kind == "dynamic":
        event = t - group
        keys = np.unique(event)
        include = np.ones(len(att), dtype=bool)
        if balance_e is not None:
            keys = keys[(keys <= balance_e) & (keys >= balance_e - t.max() + t.min())]
            include = t.max() - group >= balance_e
        keys = keys[(keys >= min_e) & (keys <= max_e)]
        if keys.size == 0 or not (keys >= 0).any():
            raise StaggeredDidError("no post-treatment event times left after balance_e/min_e/max_e")
        ests, infs = [], []
        for e in keys:
            keep = np.flatnonzero((event == e) & include)
            est, out = _combine(att, inf, keep, pg[keep] / pg[keep].sum(), _weights_if(keep, pg, w, unit_g, group))
            ests.append(est), infs.append(out)
        ests, infs = np.array(ests), np.column_stack(infs)
        pos = np.flatnonzero(keys >= 0)
        est, out = _combine(ests, infs, pos, np.full(pos.size, 1 / pos.size))
        return keys, ests, infs, est, out
    times = np.unique(t[t >= group.min()])
    ests, infs = [], []
    for period in times:
        keep = np.flatnonzero((t == period) & (group <= t))
        est, out = _combine(att, inf, keep, pg[keep] / pg[keep].sum(), _weights_if(keep, pg, w, unit_g, group))
        ests.append(est), infs.append(out)
    ests, infs = np.array(ests), np.column_stack(infs)
    every = np.arange(len(times))
    est, out = _combine(ests, infs, every, np.full(len(times), 1 / len(times)))
    return times, ests, infs, est, out


def _band(draws, n, confidence):
    """Bootstrap standard errors of the detail rows and their uniform critical value (R's fallbacks)."""
    z = critical_value(confidence)
    summary = summarise_draws(draws, n, confidence)
    crit = summary.crit
    if not np.isfinite(crit):
        warnings.warn("uniform critical value unavailable (standard errors missing); pointwise band used",
                      stacklevel=4)
        crit = z
    elif crit < z:
        warnings.warn("uniform critical value below the pointwise one; pointwise band used", stacklevel=4)
        crit = z
    elif crit >= 7:
        warnings.warn(f"uniform critical value {crit:.2f} is too large to be reliable", stacklevel=4)
    return summary.se, crit


def aggregate(res, kind: str = "group", *, balance_e=None, min_e=None, max_e=None, confidence=None,
              bootstrap=None):
    """Aggregate an ``AttGtResult`` (R's ``aggte``); ``confidence`` and ``bootstrap`` default to the
    result's settings.
    """
    if kind not in KINDS:
        raise StaggeredDidError(f"kind must be one of {tuple(KINDS)}, not {kind!r}")
    if kind != "dynamic" and any(v is not None for v in (balance_e, min_e, max_e)):
        raise StaggeredDidError("balance_e, min_e and max_e apply to kind='dynamic' only")
    missing = res.table.loc[res.table["att"].isna(), ["group", "time"]]
    if len(missing):
        cells = ", ".join(f"({g:g},{t:g})" for g, t in missing.itertuples(index=False))
        raise StaggeredDidError(f"ATT(g,t) missing for {cells}; cannot aggregate")
    confidence = res.confidence if confidence is None else confidence
    bootstrap = res.bootstrap if bootstrap is None else bootstrap
    if bootstrap and res.boot_seed is None:
        raise StaggeredDidError("the result was estimated without bootstrap; pass bootstrap=False")
    keys, ests, infs, est, inf = _parts(res, kind, balance_e,
                                        -np.inf if min_e is None else min_e, np.inf if max_e is None else max_e)
    z = critical_value(confidence)
    se = _se(inf)
    se_boot, draws = np.nan, None
    if bootstrap:  # one set of draws (att_gt's multipliers) for the overall estimate and the detail rows
        columns = inf[:, None] if infs is None else np.column_stack([inf, infs])
        draws = multiplier_bootstrap(columns, res.n_boot, res.boot_seed)
        se_boot = float(summarise_draws(draws[:, :1], res.n_units, confidence).se[0])
    table, crit = None, z
    if keys is not None:
        ses = np.array([_se(infs[:, j]) for j in range(infs.shape[1])])
        boot_ses = np.full(len(keys), np.nan)
        if bootstrap:
            boot_ses, crit = _band(draws[:, 1:], res.n_units, confidence)
        spread = crit * (boot_ses if bootstrap else ses)
        if np.all(keys == np.round(keys)):
            keys = keys.astype(np.int64)
        table = pd.DataFrame({KINDS[kind]: keys, "att": ests, "se": ses, "ci_low": ests - spread,
                              "ci_high": ests + spread, "se_boot": boot_ses})
    ci_low, ci_high, _ = interval(est, se, confidence)
    return AggregateResult(kind=kind, estimate=est, se=se, ci_low=ci_low, ci_high=ci_high,
                           se_boot=se_boot, table=table, crit_value=float(crit), confidence=confidence,
                           bootstrap=bool(bootstrap), influence=inf, n_units=res.n_units, balance_e=balance_e,
                           min_e=min_e, max_e=max_e)

