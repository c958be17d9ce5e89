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

import numpy as np
import pandas as pd
from scipy import special  # chi2.sf without importing scipy.stats (1-2 s) for a stored report

from ..numerics import interval, twfe
from ..results import ResultDisplay
from .errors import DidError
from .panel import load_panel

__all__ = ["EventStudyResult", "PretrendTest", "event_study", "wald_pretrend"]


@dataclass(frozen=True, repr=False)
class PretrendTest(ResultDisplay):
    """Wald test that all lead coefficients are zero (chi-square, clustered covariance)."""

    statistic: float
    df: int
    p_value: float

    def to_frame(self) -> pd.DataFrame:
        """One row: the statistic, its degrees of freedom and the p-value."""
        return pd.DataFrame([{"statistic": self.statistic, "df": self.df, "p_value": self.p_value}])

    def describe(self) -> str:
        """The test in one line (or that there are no leads to test)."""
        if self.df == 0:
            return "pre-trend test: no leads besides the reference period"
        return f"pre-trend test: chi2({self.df}) = {self.statistic:.2f}, p = {self.p_value:.3f}"

    def _headline(self) -> str:
        return self.describe()


def wald_pretrend(est: np.ndarray, cov: np.ndarray, lead: np.ndarray, *, none_statistic: float = float("nan")
                  ) -> PretrendTest:
    """Wald statistic b' V^-1 b over the leads (a boolean mask); chi-square with as many degrees of
    freedom. Without leads the test has 0 degrees of freedom, statistic ``none_statistic`` and p NaN.
    """
    df = int(lead.sum())
    if df == 0:
        return PretrendTest(none_statistic, 0, float("nan"))
    b = est[lead]
    statistic = float(b @ np.linalg.solve(cov[np.ix_(lead, lead)], b))
    return PretrendTest(statistic, df, float(special.chdtrc(df, statistic)))


@dataclass(frozen=True, eq=False, repr=False)
class EventStudyResult(ResultDisplay):
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
        """The coefficients before the start (without the reference period)."""
        return self.coefficients[(self.coefficients.index < 0) & ~self.coefficients["reference"]]

    @property
    def lags(self) -> pd.DataFrame:
        """The coefficients from the start on (event time 0 and later)."""
        return self.coefficients[self.coefficients.index >= 0]

    def to_frame(self) -> pd.DataFrame:
        """The coefficients by event time, with the outcome's name."""
        return self.coefficients.reset_index().assign(outcome=self.outcome)

    def _headline(self) -> str:
        return (
            f"{self.outcome} event study (start {self.event_year}, reference {self.reference:+d}; "
            f"{self.n_units:,} units, {self.n_treated_units:,} treated, {self.n_obs:,} obs, "
            f"{self.n_clusters:,} clusters)"
        )

    def _notes(self) -> list[str]:
        lags = ", ".join(f"{k:+d}: {r.estimate:+.4f} ({r.se:.4f})" for k, r in self.lags.iterrows())
        return [f"lags {lags}", self.pretrend.describe()]


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
        raise DidError(f"the reference period must lie before the start (negative), not {reference}")
    if leads is not None and (leads < -reference):
        raise DidError(f"leads={leads} leaves the reference period {reference} outside the window")
    if lags is not None and lags < 0:
        raise DidError("lags must be 0 or more")
    rel = panel[time] - event_year
    inside = (rel >= (-leads if leads is not None else -np.inf)) & (rel <= (lags if lags is not None else np.inf))
    data = load_panel(panel[inside], outcome, unit, time, treated, covariates=covariates, cluster=cluster,
                      weights=weights)
    k = data["time"] - event_year
    times = np.unique(k[data["treated"]])
    if reference not in times:
        raise DidError(f"no observations of the treated units in the reference period ({event_year + reference})")
    if not (~data["treated"]).any():
        raise DidError("no comparison units")
    times = times[times != reference]
    dummies = (data["treated"][:, None] & (k[:, None] == times[None, :])).astype(float)
    fit = twfe(data, dummies, [f"event_{t:+d}" for t in times], list(covariates or []))
    est, cov = fit.coef[: len(times)], fit.cov[: len(times), : len(times)]
    se = np.sqrt(np.diag(cov))
    rows = [(int(t), event_year + int(t), e, s, *interval(e, s, confidence, df=fit.df), False)
            for t, e, s in zip(times, est, se, strict=True)]
    rows.append((reference, event_year + reference, 0.0, 0.0, 0.0, 0.0, np.nan, True))
    table = pd.DataFrame(rows, columns=["event_time", "year", "estimate", "se", "ci_low", "ci_high", "p_value",
                                        "reference"]).set_index("event_time").sort_index()
    return EventStudyResult(
        outcome=outcome, event_year=event_year, reference=reference, coefficients=table, covariance=cov,
        pretrend=wald_pretrend(est, cov, times < 0), n_units=fit.n_units, n_treated_units=fit.n_treated_units,
        n_obs=fit.n_obs, n_clusters=fit.n_clusters, confidence=confidence,
    )
