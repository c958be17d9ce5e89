"""Every small area and district on the register indicators, year by year, and which depart.

Like Aalborg's geographic monitoring, this looks at *all* areas of the municipality, not only the
three districts, so that an area heading the wrong way is seen early. The indicator values come
from :func:`evaluering.indicators.unit_frame` (one row per person and year), grouped by small
area and by district instead of by district and comparison group, so the monitoring can never
disagree with the evaluation's own indicator definitions.

For each unit (area or district) and indicator over the window ``start`` to ``end`` (per
indicator: ``end`` is the latest year with data, ``start`` the latest year with data at least k
years earlier, since turnout exists only in election years):

- ``change``: the level at the end minus the level at the start, and ``slope``: the
  least-squares slope of the yearly levels in the window (per year; descriptive);
- ``difference``: the unit's change minus the change in the *rest* of the municipality (all
  persons not in the unit), so that the two sides share no person-year;
- ``se``: its standard error, clustered by person (the unit of dependence: the same person is
  counted in several years and may move between the unit and the rest). It is the sandwich
  variance of the difference of four weighted means, sum over persons of the squared summed
  influence of their rows, times G / (G - 1); for a 0/1 outcome with nobody counted twice it is
  the binomial sqrt(sum p (1 - p) / n) of the four means;
- ``between_area_sd``: for small areas, the standard deviation of the areas' differences beyond
  their person-level noise (shocks that hit a whole area, estimated across the areas of the
  indicator; :mod:`.overdispersion`), and ``se_total = sqrt(se^2 + between_area_sd^2)``. Person-
  clustered errors alone treat an area's persons as its only source of noise and would flag too
  many areas. Districts, three of them, give no such estimate: their ``se_total`` is ``se``;
- ``p_value``: two-sided, normal approximation on ``difference / se_total``; ``p_adjusted``:
  Benjamini-Hochberg across the areas (and separately across the districts) of each indicator;
  ``flagged`` when ``p_adjusted < alpha``; ``development``: "better" or "worse" than the rest,
  after the indicator's direction (``indicator.sign``).

Read the flags as a screening list, not as evidence of an effect.

Person counts are kept (``persons`` in the levels, ``persons_start``/``persons_end`` in the
trends) so that a report can suppress cells under ``params.disclosure.min_cell``; so is the count
the minimum-cell rule applies to (``disclosure``, ``disclosure_start``/``disclosure_end``: the
fewest of the persons, those with and those without the attribute of a 0/1 indicator).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..config import ConfigError, Indicator, RegisterMean, RegisterShare
from ..heap import with_reused_memory
from ..indicators import PreparedData, unit_frame, weighted_levels
from ..indicators.attributes import disclosure_persons
from ..inference import benjamini_hochberg
from ..numerics import p_value
from ..results import ResultDisplay
from .errors import MonitoringError

__all__ = ["AreaMonitoring", "TREND_LABELS", "monitor_areas", "register_indicators"]

AREA, DISTRICT, MUNICIPALITY = "area", "district", "municipality"

# Danish labels of the output columns and values, for reports.
TREND_LABELS = {
    "indicator": "Indikator",
    "level": "Niveau",
    "unit": "Område",
    "district": "Bydel",
    "year": "År",
    "value": "Værdi",
    "persons": "Personer",
    "start_year": "Fra år",
    "end_year": "Til år",
    "change": "Ændring",
    "slope": "Ændring pr. år",
    "rest_change": "Ændring i resten af kommunen",
    "difference": "Forskel til resten af kommunen",
    "se": "Standardfejl",
    "between_area_sd": "Variation mellem områder (standardafvigelse)",
    "se_total": "Standardfejl inkl. variation mellem områder",
    "p_value": "p-værdi",
    "p_adjusted": "Justeret p-værdi (Benjamini-Hochberg)",
    "flagged": "Afviger fra kommunen",
    AREA: "Småområde",
    DISTRICT: "Bydel",
    MUNICIPALITY: "Hele kommunen",
    "better": "Bedre end resten af kommunen",
    "worse": "Dårligere end resten af kommunen",
}


def register_indicators(params) -> list[Indicator]:
    """The indicators computed from the register for every resident (register shares and means)."""
    return [i for i in params.indicators if isinstance(i.computation, (RegisterShare, RegisterMean))]


@dataclass(frozen=True, repr=False)
class AreaMonitoring(ResultDisplay):
    """Levels per unit x indicator x year, and the change of each unit over the window.

    Shown as the ``trends`` table (one row per indicator and unit); ``levels`` holds the yearly values.
    """

    levels: pd.DataFrame  # indicator, level, unit, district, year, value, se, persons
    trends: pd.DataFrame  # indicator, level, unit, district, start_year, end_year, change, ..., flagged
    years: int  # the window: change over the last ``years`` years
    alpha: float  # false discovery rate of the flags: flagged when p_adjusted < alpha

    def flagged(self, level: str | None = None) -> pd.DataFrame:
        """The units whose change departs from the rest of the municipality (optionally one level)."""
        rows = self.trends[self.trends["flagged"]]
        return rows if level is None else rows[rows["level"] == level]

    def to_frame(self) -> pd.DataFrame:
        """The trends: each unit's change over the window against the rest of the municipality."""
        return self.trends

    def _headline(self) -> str:
        return (f"Area monitoring: change over the last {self.years} years, {len(self.flagged())} of "
                f"{len(self.trends)} unit x indicator rows flagged (false discovery rate {self.alpha:g})")

    def _notes(self) -> list[str]:
        return ["Read the flags as a screening list, not as evidence of an effect."]


# --- levels -------------------------------------------------------------------------------------


def _weighted_levels(units: pd.DataFrame, by: str) -> pd.DataFrame:
    """Weighted mean of ``y``, its person-clustered se and the person count per ``by`` x period
    (the indicators' own :func:`weighted_levels`, grouped by ``by`` instead of by district).
    """
    levels = weighted_levels(units.assign(group=units[by]))
    levels["disclosure"] = disclosure_persons(levels)
    return levels.rename(columns={"group": by, "n_persons": "persons"})[
        [by, "period", "value", "se", "persons", "disclosure"]]


def stacked_levels(levels_of, frame: pd.DataFrame, district_of_area: pd.Series, municipality: str,
                   districts: list[str]) -> pd.DataFrame:
    """Levels per small area (``area``), per district (``group``) and for the whole municipality,
    stacked with a ``level`` and a ``district`` column; ``levels_of(rows, by)`` gives one grouping's
    levels (from person rows, or from area x year cells).
    """
    frame = frame.assign(whole=municipality)
    parts = []
    for level, by, rows in ((AREA, "area", frame), (DISTRICT, "group", frame[frame["group"].isin(districts)]),
                            (MUNICIPALITY, "whole", frame)):
        part = levels_of(rows, by).rename(columns={by: "unit"})
        part.insert(0, "level", level)
        district = {AREA: part["unit"].map(district_of_area), DISTRICT: part["unit"], MUNICIPALITY: None}[level]
        part.insert(2, "district", district)
        parts.append(part)
    return pd.concat(parts, ignore_index=True)


def _indicator_levels(units: pd.DataFrame, indicator: Indicator, municipality: str,
                      districts: list[str]) -> pd.DataFrame:
    """One indicator's yearly levels per small area, per district and for the whole municipality."""
    district_of_area = units.groupby("area")["group"].first()
    frame = stacked_levels(_weighted_levels, units, district_of_area, municipality, districts)
    frame = frame.rename(columns={"period": "year"})
    frame.insert(0, "indicator", indicator.key)
    return frame


# --- departure from the rest of the municipality --------------------------------------------------


def _change_against_rest(inside: np.ndarray, at_end: np.ndarray, y: np.ndarray, w: np.ndarray,
                         cluster: np.ndarray, n_clusters: int) -> tuple[float, float, float]:
    """(change inside, change in the rest, cluster-robust se of their difference).

    The difference is a signed sum of four weighted means (inside/rest x end/start); a row's
    influence on it is sign * w * (y - mean) / sum(w) of its cell, and the variance is the sum over
    clusters of the squared summed influence, times G / (G - 1).
    """
    influence = np.zeros(len(y))
    changes = {True: 0.0, False: 0.0}
    for member in (True, False):
        for end in (True, False):
            rows = (inside == member) & (at_end == end)
            total = w[rows].sum()
            if total <= 0:
                return np.nan, np.nan, np.nan
            mean = float((w[rows] * y[rows]).sum() / total)
            sign = (1.0 if end else -1.0) * (1.0 if member else -1.0)
            changes[member] += (1.0 if end else -1.0) * mean
            influence[rows] = sign * w[rows] * (y[rows] - mean) / total
    by_cluster = np.bincount(cluster, weights=influence, minlength=n_clusters)
    variance = n_clusters / max(n_clusters - 1, 1) * float((by_cluster**2).sum())
    return changes[True], changes[False], float(np.sqrt(variance))


def _window(years: np.ndarray, end_year: int | None, k: int, key: str) -> tuple[int, int]:
    """The indicator's end year (latest with data at or before ``end_year``) and start (``k`` before)."""
    years = np.sort(years)
    end_candidates = years if end_year is None else years[years <= end_year]
    if end_candidates.size == 0:
        raise MonitoringError(f"indicator '{key}' has no data in or before {end_year}")
    end = int(end_candidates[-1])
    start_candidates = years[years <= end - k]
    if start_candidates.size == 0:
        raise MonitoringError(f"indicator '{key}' has no data {k} years before {end} (first year {int(years[0])})")
    return int(start_candidates[-1]), end


def _slope(levels: pd.DataFrame) -> pd.Series:
    """Least-squares slope of value on year per unit, sum (x - mean x)(y - mean y) / sum (x - mean x)^2
    in one grouped pass (NaN with fewer than two years): a national register has thousands of units.
    """
    keys = [levels["level"], levels["unit"]]
    x, y = levels["year"].astype(float), levels["value"].astype(float)
    dx = x - x.groupby(keys).transform("mean")
    dy = y - y.groupby(keys).transform("mean")
    parts = pd.DataFrame({"xy": dx * dy, "xx": dx * dx, "missing": (dx * dy).isna()}).groupby(keys)
    sums = parts[["xy", "xx"]].sum()
    defined = (sums["xx"] > 0) & ~parts["missing"].any()  # as polyfit: a missing value gives no slope
    return (sums["xy"] / sums["xx"]).where(defined).rename_axis(["level", "unit"])


def _unit_changes(levels: pd.DataFrame, start: int, end: int) -> pd.DataFrame:
    """Per (level, unit) present at both ``start`` and ``end``: the levels there, change and slope."""
    window_levels = levels[levels["year"].between(start, end)]
    at = {yr: levels[levels["year"] == yr].set_index(["level", "unit"]) for yr in (start, end)}
    units_now = at[end][["district"]].join(at[end][["value", "persons", "disclosure"]].add_suffix("_end"))
    trends = units_now.join(at[start][["value", "persons", "disclosure"]].add_suffix("_start"), how="inner")
    trends["change"] = trends["value_end"] - trends["value_start"]
    trends["slope"] = _slope(window_levels)
    return trends


def _indicator_trends(units: pd.DataFrame, levels: pd.DataFrame, indicator: Indicator, start: int, end: int,
                      alpha: float) -> pd.DataFrame:
    """Each unit's change from ``start`` to ``end`` against the rest of the municipality, tested and flagged."""
    trends = _unit_changes(levels, start, end)
    rows = units[units["period"].isin([start, end])]
    y, w = rows["y"].to_numpy(float), rows["weight"].to_numpy(float)
    at_end = (rows["period"] == end).to_numpy()
    cluster, names = pd.factorize(rows["cluster"])
    members = {AREA: rows["area"].to_numpy(), DISTRICT: rows["group"].to_numpy()}
    tests = []
    for level, unit in trends.index:
        if level in members:
            change, rest_change, se = _change_against_rest(members[level] == unit, at_end, y, w, cluster, len(names))
            tests.append((level, unit, rest_change, change - rest_change, se))
    tested = pd.DataFrame(tests, columns=["level", "unit", "rest_change", "difference", "se"])
    return _tested_trends(trends.join(tested.set_index(["level", "unit"])), indicator, start, end, alpha)


def _tested_trends(trends: pd.DataFrame, indicator: Indicator, start: int, end: int, alpha: float) -> pd.DataFrame:
    """The changes of :func:`_unit_changes` with ``rest_change``, ``difference`` and ``se`` joined:
    between-area variation, p-values, Benjamini-Hochberg, flags and development, in the output's columns.
    """
    from .overdispersion import between_area_variance  # scipy.optimize: not for unpickling AreaMonitoring

    is_area = trends.index.get_level_values(0) == AREA
    tau2 = between_area_variance(trends.loc[is_area, "difference"], trends.loc[is_area, "se"])
    trends["between_area_sd"] = np.where(is_area, np.sqrt(tau2), np.nan)
    trends["se_total"] = np.sqrt(trends["se"] ** 2 + np.where(is_area, tau2, 0.0))
    # a unit whose own standard error is 0 gets no test (the between-area variation alone is no test of it)
    trends["p_value"] = p_value(trends["difference"], trends["se_total"].where(trends["se"] > 0))
    trends["p_adjusted"] = np.nan
    for level in (AREA, DISTRICT):
        p = trends["p_value"].loc[trends.index.get_level_values(0) == level].dropna()
        if len(p):
            trends.loc[p.index, "p_adjusted"] = benjamini_hochberg(p.to_numpy(), alpha=alpha).adjusted
    trends["flagged"] = (trends["p_adjusted"] < alpha).fillna(False).astype(bool)
    better = indicator.sign * trends["difference"]
    trends["development"] = np.select([better > 0, better < 0], ["better", "worse"], default=None)
    trends = trends.reset_index()
    trends.insert(0, "indicator", indicator.key)
    trends.insert(4, "start_year", start)
    trends.insert(5, "end_year", end)
    return trends[
        ["indicator", "level", "unit", "district", "start_year", "end_year", "value_start", "value_end",
         "persons_start", "persons_end", "disclosure_start", "disclosure_end", "change", "slope", "rest_change",
         "difference", "se", "between_area_sd",
         "se_total", "p_value", "p_adjusted", "flagged", "development"]
    ]


def _indicator(params, indicator: Indicator | str) -> Indicator:
    if not isinstance(indicator, str):
        return indicator
    try:
        return params.indicator(indicator)
    except ConfigError:
        raise MonitoringError(f"indicators: unknown indicator '{indicator}'") from None


def monitored(params, years: int | None, indicators) -> tuple[int, list[Indicator]]:
    """The window k (default ``monitoring.trend_years`` of the parameter file, else 3) and the
    register indicators to monitor (default: all register shares and means), checked.
    """
    k = years if years is not None else (params.monitoring.trend_years if params.monitoring else 3)
    if int(k) < 1:
        raise MonitoringError(f"years must be at least 1, got {k!r}")
    chosen = register_indicators(params) if indicators is None else [_indicator(params, i) for i in indicators]
    for ind in chosen:
        if not isinstance(ind.computation, (RegisterShare, RegisterMean)):
            raise MonitoringError(
                f"indicator '{ind.key}' is not a register share or mean; only those are monitored by area")
    return int(k), chosen


@with_reused_memory
def monitor_areas(data: PreparedData, *, years: int | None = None, end_year: int | None = None,
                  indicators: Iterable[Indicator | str] | None = None, alpha: float = 0.05) -> AreaMonitoring:
    """Levels and trends of every small area, district and the whole municipality.

    ``years`` is the window k (default ``monitoring.trend_years`` of the parameter file, else 3);
    ``end_year`` the last year (default: the latest with data for each indicator); ``indicators``
    the register indicators to monitor (default: all register shares and means of the parameter
    file). Areas outside the districts have ``district`` "comparison".
    """
    params = data.params
    k, chosen = monitored(params, years, indicators)
    districts = [d.key for d in params.districts]
    all_levels, all_trends = [], []
    for ind in chosen:
        units = unit_frame(data, ind)
        levels = _indicator_levels(units, ind, params.municipality.key, districts)
        start, end = _window(units["period"].unique(), end_year, k, ind.key)
        all_levels.append(levels)
        all_trends.append(_indicator_trends(units, levels, ind, start, end, alpha))
    return AreaMonitoring(
        levels=pd.concat(all_levels, ignore_index=True),
        trends=pd.concat(all_trends, ignore_index=True),
        years=int(k),
        alpha=alpha,
    )

