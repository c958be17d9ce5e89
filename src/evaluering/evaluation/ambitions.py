"""Ambition tracking: is each district on its way to the level the politicians set for the target year?

The ambition (``params.ambitions``: district x indicator, in the indicator's unit) is to be
reached in ``params.strategy.target_year``. The *trajectory* is the straight line from the
district's level in the baseline year to the target in the target year. A district's latest
level is then

- ``met``: at or better than the target (better in the indicator's direction, ``indicator.sign``);
- ``on_track``: not met, but at or better than the level the trajectory requires in the latest year;
- ``off_track``: worse than the trajectory.

``decisive`` says whether the whole confidence interval of the latest level gives the same
status, i.e. lies on the same side of the target (and of the trajectory) as the level itself.

Levels that differ by less than ``TOLERANCE`` (relative to the target's size) count as equal, so
a level exactly at the target or on the trajectory is not undone by floating-point rounding.

A missing level (baseline or latest) does not stop the table: the row gets status NaN and a
``reason``, because a report should still show the other indicators.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..columns import require_columns
from ..config import Indicator, Params
from ..errors import EvalueringError
from ..numerics import critical_value

__all__ = ["MET", "OFF_TRACK", "ON_TRACK", "STATUS_LABELS", "AmbitionError", "ambition_met", "track_ambitions",
           "track_district"]

MET, ON_TRACK, OFF_TRACK = "met", "on_track", "off_track"
STATUS_LABELS = {MET: "nået", ON_TRACK: "på vej", OFF_TRACK: "ikke på vej"}  # for reports, in Danish
TOLERANCE = 1e-9
LEVEL_COLUMNS = ("group", "indicator", "period", "value", "se")


class AmbitionError(EvalueringError, ValueError):
    """The levels cannot be tracked against the ambitions: missing columns, unknown groups or
    indicators, or years in the wrong order.
    """


def trajectory_level(baseline_level: float, target: float, baseline_year: int, target_year: int,
                     year: int) -> float:
    """The level the straight line from (baseline year, baseline level) to (target year, target) has in ``year``.

    From the target year on, the trajectory is the target itself.
    """
    if year >= target_year:
        return target
    return baseline_level + (target - baseline_level) * (year - baseline_year) / (target_year - baseline_year)


def _at_least(level: float, bar: float, sign: int, scale: float) -> bool:
    """Whether ``level`` is at or better than ``bar`` in the direction ``sign`` (up to rounding)."""
    return (level - bar) * sign >= -TOLERANCE * max(1.0, abs(scale))


def ambition_met(level: float, target: float | None, sign: int) -> bool | None:
    """Whether ``level`` reaches ``target`` in the direction ``sign``: the one rule for "ambition met"
    (None without a target or a level).
    """
    if target is None or pd.isna(level):
        return None
    return _at_least(level, target, sign, target)


def status(level: float, target: float, required: float, sign: int) -> str:
    """Met / on_track / off_track of a level against the target and the trajectory's required level."""
    if ambition_met(level, target, sign):
        return MET
    if _at_least(level, required, sign, target):
        return ON_TRACK
    return OFF_TRACK


def _levels_index(levels: pd.DataFrame) -> pd.DataFrame:
    require_columns(levels, LEVEL_COLUMNS, what="levels", error=AmbitionError)
    key = ["group", "indicator", "period"]
    dupes = levels[levels.duplicated(key, keep=False)]
    if len(dupes):
        first = dupes.iloc[0]
        raise AmbitionError(f"levels: more than one row for group '{first['group']}', indicator "
                         f"'{first['indicator']}', period {first['period']}")
    return levels.assign(period=levels["period"].astype(int)).set_index(key)[["value", "se"]]


def _lookup(index: pd.DataFrame, group: str, indicator: str, period: int) -> tuple[float, float]:
    try:
        row = index.loc[(group, indicator, period)]
    except KeyError:
        return np.nan, np.nan
    return float(row["value"]), float(row["se"])


def _row(index, ind: Indicator, district: str, target: float, baseline: int, latest: int, target_year: int,
         z: float) -> dict:
    base_level, _ = _lookup(index, district, ind.key, baseline)
    level, se = _lookup(index, district, ind.key, latest)
    low, high = level - z * se, level + z * se
    row = {
        "district": district, "indicator": ind.key, "number": ind.number, "name": ind.name,
        "direction": ind.direction, "unit": ind.unit,
        "baseline_year": baseline, "baseline_level": base_level,
        "latest_year": latest, "latest_level": level, "ci_low": low, "ci_high": high,
        "target": target, "target_year": target_year,
        "trajectory_slope": (target - base_level) / (target_year - baseline),  # per year, from the baseline
        "trajectory_level": np.nan, "yearly_change_needed": np.nan,
        "status": None, "status_label": None, "decisive": None, "reason": "",
    }
    missing = [str(year) for year, value in ((baseline, base_level), (latest, level)) if np.isnan(value)]
    if missing:
        row["reason"] = f"no level for {' and '.join(missing)}"
        return row
    required = trajectory_level(base_level, target, baseline, target_year, latest)
    row["trajectory_level"] = required
    if latest < target_year:
        row["yearly_change_needed"] = (target - level) / (target_year - latest)
    row["status"] = status(level, target, required, ind.sign)
    row["status_label"] = STATUS_LABELS[row["status"]]
    if not np.isnan(se):
        ends = {status(end, target, required, ind.sign) for end in (low, high)}
        row["decisive"] = ends == {row["status"]}
    else:
        row["reason"] = "no standard error: decisive unknown"
    return row


def track_ambitions(levels: pd.DataFrame, params: Params, *, latest: int | None = None, baseline: int | None = None,
                    target_year: int | None = None, confidence: float = 0.95) -> pd.DataFrame:
    """Status of every ambition of the districts found in ``levels``.

    ``levels``: one row per group x indicator x period with columns ``group`` (district key or
    ``comparison``, which is ignored), ``indicator`` (key), ``period``, ``value`` and ``se``, such
    as ``DistrictEvaluation.levels`` or ``indicators.all_levels``. ``latest`` defaults to the
    latest period in ``levels``, ``baseline`` to the survey's baseline wave and ``target_year`` to
    ``params.strategy.target_year``. The interval is ``value +- z * se`` at ``confidence``.

    One row per district x indicator with an ambition (indicators absent from ``levels`` are left
    out; a level missing for one year gives a row with status NaN and a ``reason``): levels,
    interval, target, the trajectory
    (``trajectory_slope`` per year from the baseline; ``trajectory_level``, what it requires in
    the latest year; ``yearly_change_needed`` from the latest level to reach the target, NaN from
    the target year on), ``status`` (see :data:`STATUS_LABELS` for Danish labels), ``decisive``
    and ``reason`` (why the status or ``decisive`` is missing).
    """
    index = _levels_index(levels)
    baseline = params.survey.baseline_wave if baseline is None else int(baseline)
    target_year = params.strategy.target_year if target_year is None else int(target_year)
    latest = int(levels["period"].max()) if latest is None else int(latest)
    if not baseline < target_year:
        raise AmbitionError(f"the target year {target_year} must come after the baseline year {baseline}")
    if latest < baseline:
        raise AmbitionError(f"the latest year {latest} comes before the baseline year {baseline}")
    district_keys = [d.key for d in params.districts]
    groups = set(levels["group"])
    unknown_groups = groups - set(district_keys) - {"comparison"}
    if unknown_groups:
        raise AmbitionError(f"levels: unknown groups {sorted(unknown_groups)} (districts: {district_keys})")
    known = {i.key for i in params.indicators}
    unknown_indicators = set(levels["indicator"]) - known
    if unknown_indicators:
        raise AmbitionError(f"levels: unknown indicators {sorted(unknown_indicators)}")
    present = set(levels["indicator"])
    z = critical_value(confidence)
    rows = [
        _row(index, ind, district, target, baseline, latest, target_year, z)
        for district in district_keys if district in groups
        for ind in params.indicators
        if ind.key in present and (target := params.ambition(district, ind.key)) is not None
    ]
    return pd.DataFrame(rows)


def track_district(evaluation, params: Params, **kwargs) -> pd.DataFrame:
    """:func:`track_ambitions` for a ``DistrictEvaluation``: its levels, baseline and follow-up wave."""
    levels = evaluation.levels[evaluation.levels["group"] == evaluation.district]
    kwargs = {"latest": evaluation.followup, "baseline": evaluation.baseline, **kwargs}
    return track_ambitions(levels, params, **kwargs)
