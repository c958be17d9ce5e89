"""Planning the next survey wave: what each district's sample can detect, and what it would take.

For every district and survey indicator, the latest wave gives the pieces of the power
calculation: the level (weighted share), the persons invited, the share of them who answered
the question and the Kish design effect of their weights. The planned wave is assumed to have
the same response rate and design effect; the latest wave is its baseline.

As in the evaluation (``survey.waves``), no finite population correction is used, although the
districts are surveyed in full: non-response is treated as random sampling, the conservative choice.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from ..config import Params, SurveyOutsideView, SurveyShare
from ..groups import COMPARISON
from ..indicators.prepare import PreparedData
from ..indicators.units import survey_outcome
from ..power.formulas import PowerError, kish_deff, mde, mde_did, sample_size, sample_size_did
from .designs import balanced_designs, estimation_designs

__all__ = ["survey_plan"]


def _sample(y: np.ndarray, w: np.ndarray, invited: np.ndarray) -> dict:
    """Level, persons invited, answer rate and Kish deff of one group's sample for one question."""
    answered = invited & ~np.isnan(y)
    if not answered.any():
        return {"level": np.nan, "invited": int(invited.sum()), "response_rate": 0.0, "deff": np.nan}
    return {
        "level": float(np.sum(w[answered] * y[answered]) / np.sum(w[answered])),
        "invited": int(invited.sum()),
        "response_rate": float(answered.sum() / invited.sum()),
        "deff": kish_deff(w[answered]),
    }


def _attempt(column: str, function, *args, **kwargs) -> tuple[float, str]:
    """``function(...)``, or NaN and the reason (naming ``column``) when it cannot be computed."""
    try:
        return function(*args, **kwargs), ""
    except PowerError as err:
        return np.nan, f"{column}: {err}"


def _adults(data: PreparedData, wave: int) -> pd.Series:
    """Adults (18+) per group in the register in the wave year (or the latest year before it)."""
    years = data.register["year"]
    year = years[years <= wave].max()
    adults = data.register[(years == year) & (data.register["age"] >= 18)]
    return adults.groupby("group").size()


def _beyond_population(row: dict) -> str:
    """A note when the sample asked for is larger than the group's adult population."""
    too_many = [c for c in ("planned_invited", "n_needed", "n_needed_did") if row[c] > row["adults"]]
    if not too_many:
        return ""
    return (f"{', '.join(too_many)} above the {row['adults']} adults living there: only a higher response "
            f"rate or less variable weights can give that precision")


def _designs(data: PreparedData, wave: int, balanced: bool) -> dict:
    """Per district, the wave's design whose weights the evaluation's estimates use."""
    if not balanced:
        return {d.key: data.designs[wave] for d in data.params.districts}
    return {d.key: balanced_designs(data, d.key, [wave])[wave] for d in data.params.districts}


def _planned(planned_n: int | Mapping[str, int] | None, district: str, latest: int) -> int:
    if planned_n is None:
        return latest
    if isinstance(planned_n, Mapping):
        return int(planned_n.get(district, latest))
    return int(planned_n)


def survey_plan(data: PreparedData, params: Params, wave: int, planned_wave: int, *,
                planned_n: int | Mapping[str, int] | None = None, planned_comparison_n: int | None = None,
                target_mde: float = 0.05, alpha: float = 0.05, power: float = 0.8,
                balanced: bool = True) -> pd.DataFrame:
    """MDEs and needed sample sizes for ``planned_wave``, with ``wave`` (e.g. the latest) as baseline.

    One row per district x survey indicator. ``planned_n``: persons to invite per district in the
    planned wave (a number, or a mapping district key -> number; default, and for districts
    missing from the mapping: as many as in ``wave``); ``planned_comparison_n`` likewise for the
    comparison group. Columns:

    - ``sample``: whose answers measure the indicator: ``district`` (residents), or ``comparison``
      for the outside view (indicator 16, asked of the rest of the municipality);
    - ``direction``: the direction of improvement the MDE is computed for;
    - ``level``, ``invited``, ``response_rate`` (share of the invited who answered this question),
      ``deff`` (Kish, of the answering respondents' weights): the sample in ``wave``; ``adults``: the
      register's adults in the group (the districts are surveyed in full, so inviting more is not
      possible there); ``planned_invited``;
    - ``comparison_*``: the same for the comparison group (level and deff under the weights the DiD
      uses: with ``balanced`` the comparison group weighted to look like the district, as in
      ``evaluation.evaluate_district``; these weights vary much more than the survey weights; the
      outside view always uses the survey weights, as the evaluation does);
    - ``mde``: minimum detectable change from ``wave`` to ``planned_wave`` (difference of shares);
      ``mde_did``: the same for the difference-in-differences against the comparison group (NaN
      for the outside view, which has no comparison group);
    - ``n_needed``, ``n_needed_did``: persons to invite in the planned wave for an MDE of
      ``target_mde``, the ``wave`` sample being as it is (NaN when even an unlimited planned wave
      cannot reach it); ``note``: why a value is NaN, or that a sample exceeds the adults there.

    ``alpha`` is the significance level of the planned test (see :mod:`.formulas`). Raises
    :class:`PowerError` when ``wave`` has no survey or ``planned_wave`` does not come after it.
    """
    if wave not in data.designs:
        raise PowerError("wave", f"no survey design in {wave} (waves held: {sorted(data.designs)})")
    if planned_wave <= wave:
        raise PowerError("planned_wave", f"{planned_wave} must come after wave {wave}")
    test = {"alpha": alpha, "power": power}
    adults = _adults(data, wave)
    rows = []
    for district, design in _designs(data, wave, balanced).items():
        frame, w = design.data, design.weights.to_numpy()
        stratum = frame["stratum"].to_numpy()
        code = params.district(district).code
        for ind in params.indicators:
            if not isinstance(ind.computation, (SurveyShare, SurveyOutsideView)):
                continue
            outside = isinstance(ind.computation, SurveyOutsideView)
            source = estimation_designs(data, ind, {wave: design})[wave]  # as the evaluation estimates it
            y = survey_outcome(source.data, ind, code)
            comparison = _sample(y, source.weights.to_numpy(), source.data["stratum"].to_numpy() == COMPARISON)
            own = comparison if outside else _sample(y, w, stratum == district)
            n_comparison = comparison["invited"] if planned_comparison_n is None else planned_comparison_n
            n_planned = n_comparison if outside else _planned(planned_n, district, own["invited"])
            direction = "increase" if ind.sign > 0 else "decrease"
            common = dict(response_rate=own["response_rate"], baseline=own["level"], deff=own["deff"],
                          direction=direction, baseline_n=own["invited"],
                          baseline_response_rate=own["response_rate"], baseline_deff=own["deff"], **test)
            against = dict(comparison_n=n_comparison, comparison_response_rate=comparison["response_rate"],
                           comparison_baseline=comparison["level"], comparison_deff=comparison["deff"],
                           comparison_baseline_n=comparison["invited"])
            change, why = _attempt("mde", mde, n_planned, **common)
            needed, why_n = _attempt("n_needed", sample_size, target_mde, **common)
            if outside:
                did, why_did, needed_did, why_nd = np.nan, "", np.nan, ""
            else:
                did, why_did = _attempt("mde_did", mde_did, n_planned, **common, **against)
                needed_did, why_nd = _attempt("n_needed_did", sample_size_did, target_mde, **common, **against)
            row = {
                "district": district, "indicator": ind.key, "number": ind.number, "name": ind.name,
                "sample": COMPARISON if outside else "district", "direction": direction,
                "wave": wave, "planned_wave": planned_wave,
                **own, "adults": int(adults.get(COMPARISON if outside else district, 0)),
                "planned_invited": n_planned,
                **{f"comparison_{k}": v for k, v in comparison.items()},
                "planned_comparison_invited": n_comparison,
                "mde": change, "mde_did": did, "target_mde": target_mde,
                "n_needed": needed, "n_needed_did": needed_did,
            }
            notes = (why, why_did, why_n, why_nd, _beyond_population(row))
            rows.append({**row, "note": "; ".join(r for r in notes if r)})
    return pd.DataFrame(rows)
