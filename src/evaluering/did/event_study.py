"""Event study on a panel: leads and lags of a common start, with a joint pre-trend test.

``y_it = a_i + l_t + sum_{k != ref} b_k * treated_i * 1[t - event_year = k]``, fitted with the
two-way fixed effects estimator of :mod:`.panel` (clustered by unit unless told otherwise).
``event_year`` is the first period in which the treatment can act (event time 0); the reference
period (default -1, the last untreated year) is omitted, so every ``b_k`` is the treated-minus-
comparison gap in year k relative to that year. Leads (k < 0) estimate differential pre-trends:
:class:`PretrendTest` is the Wald test that all of them are zero, chi-square with the clustered
covariance.

For Gladsaxe the strategy was concretised in 2020 and the baseline measured in 2021. With
effects from the year after the baseline (as planted in the synthetic data) use
``event_year=2022`` (reference 2021 = the baseline); ``event_year=2020`` shows 2020-2021 as
early lags (anticipation of the concretised strategy) against 2019.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import FuncFormatter, MaxNLocator
from scipy import stats

from ..numerics import interval, twfe
from ..report import format as fmt
from .panel import load_panel

__all__ = ["EventStudyResult", "PretrendTest", "event_study", "event_study_figure"]


@dataclass(frozen=True)
class PretrendTest:
    """Wald test that all lead coefficients are zero (chi-square, clustered covariance)."""

    statistic: float
    df: int
    p_value: float

    def summary(self) -> str:
        if self.df == 0:
            return "pre-trend test: no leads besides the reference period"
        return f"pre-trend test: chi2({self.df}) = {self.statistic:.2f}, p = {self.p_value:.3f}"


@dataclass(frozen=True, eq=False)
class EventStudyResult:
    """Event-time coefficients (the reference period as a row with estimate 0) and the pre-trend test."""

    outcome: str
    event_year: int
    reference: int
    coefficients: pd.DataFrame  # index event_time; year, estimate, se, ci_low, ci_high, p_value, reference
    covariance: np.ndarray  # of the estimated (non-reference) coefficients, in table order
    pretrend: PretrendTest
    n_units: int
    n_treated_units: int
    n_obs: int
    n_clusters: int
    confidence: float = 0.95

    @property
    def leads(self) -> pd.DataFrame:
        return self.coefficients[(self.coefficients.index < 0) & ~self.coefficients["reference"]]

    @property
    def lags(self) -> pd.DataFrame:
        return self.coefficients[self.coefficients.index >= 0]

    def to_frame(self) -> pd.DataFrame:
        return self.coefficients.reset_index().assign(outcome=self.outcome)

    def summary(self) -> str:
        lags = ", ".join(f"{k:+d}: {r.estimate:+.4f} ({r.se:.4f})" for k, r in self.lags.iterrows())
        return (
            f"{self.outcome} event study (start {self.event_year}, reference {self.reference:+d}; "
            f"{self.n_units:,} units, {self.n_treated_units:,} treated, {self.n_obs:,} obs, "
            f"{self.n_clusters:,} clusters)\n  lags {lags}\n  {self.pretrend.summary()}"
        )

    def _repr_html_(self) -> str:
        table = self.coefficients.to_html(float_format=lambda v: f"{v:.4f}")
        return f"<p>{self.summary().splitlines()[0]}<br>{self.pretrend.summary()}</p>{table}"


def event_study(
    panel: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    treated: str,
    event_year: int,
    *,
    leads: int | None = None,
    lags: int | None = None,
    reference: int = -1,
    covariates: Sequence[str] | None = None,
    cluster: str | None = None,
    weights: str | None = None,
    confidence: float = 0.95,
) -> EventStudyResult:
    """Leads and lags of ``treated`` around ``event_year`` with unit and period fixed effects.

    The window runs from event time ``-leads`` to ``lags`` (default: every period in the data);
    periods outside it are dropped for all units (with one common start, event time and calendar
    year coincide). ``reference`` must lie before the start and inside the window.
    """
    if reference >= 0:
        raise ValueError(f"the reference period must lie before the start (negative), not {reference}")
    if leads is not None and (leads < -reference):
        raise ValueError(f"leads={leads} leaves the reference period {reference} outside the window")
    if lags is not None and lags < 0:
        raise ValueError("lags must be 0 or more")
    rel = panel[time] - event_year
    inside = (rel >= (-leads if leads is not None else -np.inf)) & (rel <= (lags if lags is not None else np.inf))
    data = load_panel(panel[inside], outcome, unit, time, treated, covariates=covariates, cluster=cluster,
                      weights=weights)
    k = data["time"] - event_year
    times = np.unique(k[data["treated"]])
    if reference not in times:
        raise ValueError(f"no observations of the treated units in the reference period ({event_year + reference})")
    if not (~data["treated"]).any():
        raise ValueError("no comparison units")
    times = times[times != reference]
    dummies = (data["treated"][:, None] & (k[:, None] == times[None, :])).astype(float)
    fit = twfe(data, dummies, [f"event_{t:+d}" for t in times], list(covariates or []))
    est, cov = fit.coef[: len(times)], fit.cov[: len(times), : len(times)]
    se = np.sqrt(np.diag(cov))
    rows = [(int(t), event_year + int(t), e, s, *interval(e, s, confidence, df=fit.df), False)
            for t, e, s in zip(times, est, se)]
    rows.append((reference, event_year + reference, 0.0, 0.0, 0.0, 0.0, np.nan, True))
    table = pd.DataFrame(rows, columns=["event_time", "year", "estimate", "se", "ci_low", "ci_high", "p_value",
                                        "reference"]).set_index("event_time").sort_index()
    return EventStudyResult(
        outcome=outcome, event_year=event_year, reference=reference, coefficients=table, covariance=cov,
        pretrend=_pretrend(est, cov, times < 0), n_units=fit.n_units, n_treated_units=fit.n_treated_units,
        n_obs=fit.n_obs, n_clusters=fit.n_clusters, confidence=confidence,
    )


def _pretrend(est: np.ndarray, cov: np.ndarray, lead: np.ndarray) -> PretrendTest:
    """Wald statistic b' V^-1 b over the leads; chi-square with as many degrees of freedom."""
    df = int(lead.sum())
    if df == 0:
        return PretrendTest(float("nan"), 0, float("nan"))
    b = est[lead]
    statistic = float(b @ np.linalg.solve(cov[np.ix_(lead, lead)], b))
    return PretrendTest(statistic, df, float(stats.chi2.sf(statistic, df)))


def event_study_figure(
    result: EventStudyResult,
    *,
    title: str | None = None,
    scale: float = 100.0,
    ylabel: str = "Effekt (procentpoint)",
    ax: plt.Axes | None = None,
) -> plt.Figure:
    """Estimates with their confidence bands by event time (x ``scale``: shares in percentage
    points), a dashed zero line and a vertical line at the start (between the last untreated
    period and event time 0). The reference period is drawn as an open marker at 0.
    """
    table = result.coefficients
    if ax is None:
        fig, ax = plt.subplots(figsize=(7, 3.8))
    else:
        fig = ax.figure
    est = table[~table["reference"]]
    colour = "#b34700"
    ax.errorbar(est.index, scale * est["estimate"],
                yerr=scale * np.vstack([est["estimate"] - est["ci_low"], est["ci_high"] - est["estimate"]]),
                fmt="o", color=colour, ecolor=colour, elinewidth=1.5, capsize=3, ms=5,
                label=f"Estimat med {fmt.number(100 * result.confidence, 0)} %-konfidensinterval")
    ref = table[table["reference"]]
    ax.plot(ref.index, [0.0] * len(ref), "o", mfc="white", color=colour, ms=5, label="Referenceår")
    ax.axhline(0.0, color="#555555", lw=1, ls="--")
    ax.axvline(-0.5, color="#999999", lw=1)
    ax.annotate(f"Start {result.event_year}", xy=(-0.5, 1.0), xycoords=("data", "axes fraction"),
                xytext=(4, -12), textcoords="offset points", fontsize=8, color="#555555")
    ax.set_xlabel("År i forhold til start")
    ax.set_ylabel(ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt.number(v, 1)))
    if title:
        ax.set_title(title, loc="left", fontsize=11)
    ax.legend(frameon=False, fontsize=8, loc="best")
    fig.tight_layout()
    return fig
