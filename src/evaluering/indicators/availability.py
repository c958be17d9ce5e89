"""Why an indicator cannot be computed for a district, in Danish, before anything is estimated.

A contract-valid delivery can leave an indicator without data for a district: no children of an
institution type live there, the district has no visitor counter (or none counting in both
waves), nobody in the district answered the survey in a wave. The evaluation then shows the
indicator as "ikke beregnet" with the reason instead of failing the report. Only such
data-availability gaps get a reason here; anything else that fails is a bug and is raised.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..config import Indicator, InstitutionIsolation, SurveyOutsideView, VisitorMean
from ..groups import COMPARISON
from ..numerics.counting import class_period_cells, distinct_integers
from .prepare import PreparedData
from .units import survey_outcome, units_to_sum

__all__ = ["NOT_COMPUTED", "not_computed_reason", "counters_in_both", "outside_view_outcome"]

NOT_COMPUTED = "ikke beregnet"
INSTITUTION_NAMES = {"daycare": "dagtilbud", "school": "skole", "after_school": "SFO eller klub"}


def _years(years: list[int]) -> str:
    return " og ".join(str(y) for y in years)


def _where(group: str) -> str:
    return "i bydelen" if group != COMPARISON else "i resten af kommunen"


def counters_in_both(units: pd.DataFrame, baseline: int, followup: int) -> pd.DataFrame:
    """Visitor unit rows of the counters that counted in both waves (the ones the change rests on).

    A counter's id is the part of the cluster label before ':' (``units._visitor_units``).
    """
    counter = units["cluster"].astype(str).str.split(":", n=1).str[0]
    years = units.groupby(counter)["period"].agg(lambda p: {baseline, followup} <= set(p.astype(int)))
    return units[counter.map(years).to_numpy(dtype=bool)]


def outside_view_outcome(sample: pd.DataFrame, indicator: Indicator, district_code: str) -> pd.Series:
    """The outside view's 0/1 outcome per sampled person, from the comparison group only.

    District residents may answer the questions about districts (their own or others); the
    outside view is the rest of the municipality's, so their answers do not count.
    """
    y = survey_outcome(sample, indicator, district_code)
    return pd.Series(y, index=sample.index).where((sample["stratum"] == COMPARISON).to_numpy())


def _survey_reason(data: PreparedData, ind: Indicator, district: str, waves: list[int]) -> str | None:
    code = data.params.district(district).code
    missing = {}
    for wave in waves:
        design = data.designs.get(wave)
        if design is None:
            missing.setdefault(district, []).append(wave)
            continue
        sample = design.data
        if isinstance(ind.computation, SurveyOutsideView):
            answered = outside_view_outcome(sample, ind, code).notna() & (design.weights > 0).to_numpy()
            if not answered.any():
                return (f"{NOT_COMPUTED}: ingen i resten af kommunen har svaret på spørgsmålet om bydelen "
                        f"i {wave}")
            continue
        y = survey_outcome(sample, ind)
        answered = pd.Series(~pd.isna(y), index=sample.index) & (design.weights > 0)
        for group in (district, COMPARISON):
            if not answered[sample["stratum"] == group].any():
                missing.setdefault(group, []).append(wave)
    for group, years in missing.items():
        return f"{NOT_COMPUTED}: ingen besvarelser {_where(group)} i {_years(years)}"
    return None


def _periods_by_group(units: pd.DataFrame, groups: tuple[str, ...]) -> dict[str, set[int]]:
    """The periods in which each of ``groups`` has rows. A compact register frame (categorical groups,
    integer years) is counted per group code and year in one pass over its millions of rows.
    """
    group, period = units["group"], units["period"].to_numpy()
    if isinstance(group.dtype, pd.CategoricalDtype) and period.dtype.kind in "iu" and len(period):
        categories = list(group.cat.categories)  # each its own class; no group (code -1): one more, not looked at
        key, first, span = class_period_cells(group.cat.codes.to_numpy(), np.arange(len(categories) + 1), period)
        counts = np.bincount(key, minlength=(len(categories) + 1) * span)
        return {g: set() if g not in categories else
                {first + int(k) for k in np.flatnonzero(counts[categories.index(g) * span:][:span])} for g in groups}
    present = {}
    for g in groups:
        in_group = period[(group == g).to_numpy(dtype=bool, na_value=False)]
        # years: counted, not sorted (a city's register has millions of rows)
        distinct = distinct_integers(in_group) if in_group.dtype.kind in "iu" else np.unique(in_group)
        present[g] = set(distinct.astype(int).tolist())
    return present


def _units_reason(data: PreparedData, ind: Indicator, district: str, waves: list[int]) -> str | None:
    comp = ind.computation
    units = units_to_sum(data, ind, waves)
    if isinstance(comp, VisitorMean):
        units = counters_in_both(units, waves[0], waves[-1])
    present_in = _periods_by_group(units, (district, COMPARISON))
    for group in (district, COMPARISON):
        years = [w for w in waves if w not in present_in[group]]
        if not years:
            continue
        where = _where(group)
        if isinstance(comp, VisitorMean):
            any_counter = (data.visitors["group"] == group).any()
            what = (f"ingen tæller {where}" if not any_counter
                    else f"ingen tæller {where} har tal for både {_years(waves)}")
            return f"{NOT_COMPUTED}: {what}"
        if isinstance(comp, InstitutionIsolation):
            kind = INSTITUTION_NAMES.get(comp.institution_type, comp.institution_type)
            inst = data.institutions
            rows = inst[(inst["institution_type"] == comp.institution_type) & (inst["group"] == group)]
            if rows.empty:
                return f"{NOT_COMPUTED}: ingen børn i {kind} {where}"
            return f"{NOT_COMPUTED}: ingen børn fra udsatte hjem i {kind} {where} i {_years(years)}"
        if ind.source == "register":  # register shares and means, in-mover shares
            return f"{NOT_COMPUTED}: ingen personer med oplysningen {where} i {_years(years)}"
        return f"{NOT_COMPUTED}: ingen data {where} i {_years(years)}"
    return None


def not_computed_reason(data: PreparedData, ind: Indicator, district: str, baseline: int,
                        followup: int) -> str | None:
    """The Danish reason ``ind`` cannot be computed for ``district`` (None when it can)."""
    waves = [baseline, followup]
    if ind.source == "survey":  # survey shares and the outside view
        return _survey_reason(data, ind, district, waves)
    return _units_reason(data, ind, district, waves)


def not_computed_row(data: PreparedData, ind: Indicator, district: str, reason: str) -> dict:
    """The evaluation-table row of an indicator that cannot be computed: who it is, no numbers,
    the verdict ``"not_computed"`` and the reason (columns not given are left empty).
    """
    goal, theme = data.params.theme_of(ind.key)
    return {"number": ind.number, "key": ind.key, "indicator": ind.name, "effect_goal": goal.name,
            "theme": theme.name, "direction": ind.direction, "unit": ind.unit, "verdict": "not_computed",
            "not_computed": reason, "ambition": data.params.ambition(district, ind.key), "ambition_met": None,
            "inference": "", "inference_note": None, "design": "did", "scale": "difference", "min_persons": None}


def weighting_note(data: PreparedData, ind: Indicator, district: str, waves: list[int],
                   balance_notes: dict[int, tuple[str, ...]]) -> str | None:
    """What the survey weighting had to give up for this indicator's estimate, in Danish (or None).

    The wave weighting of the district's and the comparison group's strata (only the comparison
    group's for the outside view) and, except for the outside view, the balancing of the
    comparison group to the district.
    """
    if ind.source != "survey":
        return None
    outside = isinstance(ind.computation, SurveyOutsideView)
    strata = [COMPARISON] if outside else [district, COMPARISON]
    parts = [data.weighting_notes.get(w, {}).get(s) for w in waves for s in strata]
    if not outside:
        parts += [f"{w}: {note}" for w in waves for note in balance_notes.get(w, ())]
    parts = [p for p in parts if p]
    return " ".join(parts) or None
