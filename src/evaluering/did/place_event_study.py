"""Event study of the *place* estimand: a district's residents each year against the comparison group.

On repeated cross-sections (whoever lives in the district each year) the saturated event-study
regression ``y = group + year + sum_k beta_k * district * 1[year = k]`` has the closed form

    beta_k = (mean_district,k - mean_district,ref) - (mean_comparison,k - mean_comparison,ref),

so the coefficients are computed from weighted cell means, and their covariance from the
influence values summed within clusters (persons, who appear in several years), as
``two_wave_did`` does for one pair of years. Leads (years before the start) test parallel trends.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..columns import require_columns
from ..groups import COMPARISON
from ..numerics import interval
from .errors import DidError
from .event_study import EventStudyResult, wald_pretrend
from .two_wave import UNIT_COLUMNS

__all__ = ["place_event_study"]


def _cells(treated: np.ndarray, period: np.ndarray) -> tuple[np.ndarray, int, int]:
    """Each row's (treated, period) cell, numbered ``treated * span + (period - first year)``, with the
    first year and the span of years (periods: integer years).
    """
    first = int(period.min())
    span = int(period.max()) - first + 1
    cell = period - first
    cell[treated] += span  # the district's few rows
    return cell, first, span


def _cell_influence(cell: np.ndarray, counts: np.ndarray, first: int, span: int, y: np.ndarray, w: np.ndarray
                    ) -> tuple[dict, np.ndarray]:
    """Weighted mean of each (treated, period) cell and each row's influence on its own cell mean.

    ``cell`` and the cells' row ``counts`` as :func:`_cells` and ``bincount`` give them; the cells are
    summed with ``bincount``: no grouping of millions of rows, and no more row-long arrays than needed
    (a city's register has millions of rows, and every fresh array costs its pages).
    """
    total = np.bincount(cell, weights=w, minlength=2 * span)
    present = counts > 0
    buffer = w * y
    mean = np.divide(np.bincount(cell, weights=buffer, minlength=2 * span), total, out=np.zeros(2 * span),
                     where=present)
    # w * (y - mean) / total, operation by operation as written
    influence = mean[cell]
    np.subtract(y, influence, out=influence)
    np.multiply(w, influence, out=influence)
    np.divide(influence, np.take(total, cell, out=buffer), out=influence)
    means = {(bool(c // span), int(c % span) + first): float(mean[c]) for c in np.flatnonzero(present)}
    return means, influence


def _cluster_sums(clusters: np.ndarray, cell: np.ndarray, first: int, span: int, signed: np.ndarray,
                  event_years: list[int], reference: int) -> np.ndarray:
    """Each cluster's summed influence on each coefficient (clusters x event years).

    A coefficient's influence values are the signed values of its year's rows and minus those of
    the reference year's rows: each cluster's sum over its year's rows minus its sum over the
    reference year's rows. Every cluster's sum in every year comes from one ``bincount`` on
    cluster x year (the same sums, added in the same order, as one count per year); every row's
    year (its ``cell``, see :func:`_cells`) is one of the event years or the reference.
    ``clusters`` (64-bit codes 0..G-1) is overwritten.
    """
    n_clusters = int(clusters.max()) + 1
    column = np.zeros(span, dtype=np.int64)  # year -> column; the reference last
    column[np.array(event_years, dtype=np.int64) - first] = np.arange(len(event_years))
    column[reference - first] = len(event_years)
    n_columns = len(event_years) + 1
    key = clusters
    key *= n_columns
    key += np.tile(column, 2)[cell]  # both groups' cells of a year: its column
    by_year = np.bincount(key, weights=signed, minlength=n_clusters * n_columns).reshape(n_clusters, n_columns)
    by_year[:, :-1] -= by_year[:, -1:]
    return by_year[:, :-1]  # a view: no second clusters x years array


def place_event_study(units: pd.DataFrame, district: str, event_year: int, *, reference: int | None = None,
                      outcome: str = "y", confidence: float = 0.95,
                      cluster_codes: np.ndarray | None = None) -> EventStudyResult:
    """Event-time coefficients of ``district`` vs the comparison group from a unit-level frame.

    ``units`` has columns group, period, y, weight, cluster (an indicator's unit frame). The
    reference year is ``event_year - 1`` unless given; every other year with data in both groups
    gets a coefficient. ``cluster_codes`` (optional) are integer codes of ``units["cluster"]``, row for
    row (``indicators.units.cluster_codes``): the same clusters without hashing a register's text ids.
    """
    reference = event_year - 1 if reference is None else reference
    if reference >= event_year:
        raise DidError(f"the reference year {reference} must come before the start {event_year}")
    require_columns(units, UNIT_COLUMNS, what=f"{outcome}: unit frame", error=DidError)
    # plain arrays and one mask: taking a register frame's text columns row by row is what costs
    in_district = (units["group"] == district).to_numpy(dtype=bool, na_value=False)
    kept = ((in_district | (units["group"] == COMPARISON).to_numpy(dtype=bool, na_value=False))
            & (units["weight"] > 0).to_numpy())
    period_all = units["period"].to_numpy()
    rows = kept
    treated, period = in_district[rows], period_all[rows]
    if len(period) == 0:
        raise DidError(f"no data for both groups in the reference year {reference}")
    cell, first, span = _cells(treated, period)
    counts = np.bincount(cell, minlength=2 * span)
    comparison_years = set((np.flatnonzero(counts[:span]) + first).tolist())
    district_years = set((np.flatnonzero(counts[span:]) + first).tolist())
    years = sorted(district_years & comparison_years)  # with data in both groups
    if reference not in years:
        raise DidError(f"no data for both groups in the reference year {reference}")
    if district_years != comparison_years:  # only the years with data in both groups
        rows = kept & np.isin(period_all, years)
        treated, period = in_district[rows], period_all[rows]
        cell, first, span = _cells(treated, period)
        counts = np.bincount(cell, minlength=2 * span)
    del kept, in_district, period
    means, influence = _cell_influence(cell, counts, first, span, units["y"].to_numpy(dtype=float)[rows],
                                       units["weight"].to_numpy(dtype=float)[rows])
    event_years = [y for y in years if y != reference]
    signed = np.negative(influence, out=influence, where=~treated)  # +influence in the district, - elsewhere
    clusters = pd.factorize(units["cluster"][rows] if cluster_codes is None else cluster_codes[rows])[0]
    G = clusters.max() + 1
    sums = _cluster_sums(clusters.astype(np.int64, copy=False), cell, first, span, signed, event_years, reference)
    del clusters, signed, cell
    covariance = sums.T @ sums * G / (G - 1)
    estimates = np.array([(means[True, y] - means[True, reference]) - (means[False, y] - means[False, reference])
                          for y in event_years])
    se = np.sqrt(np.diag(covariance))
    ci_low, ci_high, p_value = interval(estimates, se, confidence)
    table = pd.DataFrame({"year": event_years, "estimate": estimates, "se": se, "ci_low": ci_low, "ci_high": ci_high,
                          "p_value": p_value, "reference": False},
                         index=pd.Index([y - event_year for y in event_years], name="event_time"))
    table.loc[reference - event_year] = [reference, 0.0, 0.0, 0.0, 0.0, np.nan, True]
    table = table.sort_index()
    pretrend = wald_pretrend(estimates, covariance, np.array(event_years) < reference, none_statistic=0.0)
    return EventStudyResult(
        outcome=outcome, event_year=event_year, reference=reference - event_year, coefficients=table,
        covariance=covariance, pretrend=pretrend, n_units=int(G), n_treated_units=int(treated.sum()),
        n_obs=int(rows.sum()), n_clusters=int(G), confidence=confidence,
    )
