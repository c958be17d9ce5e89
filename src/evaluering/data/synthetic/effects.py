"""The planted effects of PLANTED_EFFECTS, routed to the mechanisms that carry them.

The parameter file decides which indicator is computed how; this module turns the per-district
table of planted effects into arrays for the register, survey, institution, visitor and
in-migration models, and refuses indicators the generator cannot plant an effect for.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...config import (
    InmoverShare,
    InstitutionIsolation,
    Params,
    RegisterMean,
    RegisterShare,
    SurveyOutsideView,
    SurveyShare,
    VisitorMean,
)
from .errors import SyntheticDataError
from .settings import DISTRICT_PROFILES, PLANTED_CHOICES, PLANTED_EFFECTS, SURVEY_MODELS
from .world import World


@dataclass(frozen=True)
class Effects:
    """Planted effects as arrays indexed by district (index -1 -> the rest: no effect)."""

    register: dict[str, np.ndarray]  # register column -> effect per district
    survey: dict[str, np.ndarray]  # question column -> effect per district
    outside_view: np.ndarray  # effect per district on the comparison group's view of it
    mixing: dict[str, np.ndarray]  # institution type -> extra share attending outside the district
    visitors: np.ndarray  # log effect per district
    inmover_raise: np.ndarray  # rise in P(resourceful education) of in-migrants into the district
    table: dict[str, dict[str, float]]  # district key -> indicator key -> planted value (or lever)

    @staticmethod
    def by_area(effect: np.ndarray, world: World) -> np.ndarray:
        """Effect per area (0 in the rest, whose district index -1 picks the appended 0)."""
        return np.append(effect, 0.0)[world.district]


REGISTER_EFFECT_COLUMNS = {"in_education", "employed", "convicted", "voted", "school_absence"}


def planted_table(params: Params, planted: str = "effects") -> dict[str, dict[str, float]]:
    """PLANTED_EFFECTS for the parameter file's districts, or all zeros with ``planted="none"``."""
    if planted not in PLANTED_CHOICES:
        raise SyntheticDataError(f"planted must be one of {PLANTED_CHOICES}, not {planted!r}")
    return {d.key: {k: (v if planted == "effects" else 0.0) for k, v in PLANTED_EFFECTS[d.key].items()}
            for d in params.districts}


def planted_effects(params: Params, planted: str = "effects") -> Effects:
    """Route PLANTED_EFFECTS (or zeros, ``planted="none"``) to the mechanisms the parameter file's
    indicators call for.
    """
    missing = [f"{d.key}.{i.key}" for d in params.districts for i in params.indicators
               if i.key not in PLANTED_EFFECTS.get(d.key, {})]
    unknown = [d.key for d in params.districts if d.key not in DISTRICT_PROFILES]
    if missing or unknown:
        raise SyntheticDataError(f"synthetic generator has no planted effect for {missing} / no profile for {unknown}")

    table = planted_table(params, planted)

    def per_district(key: str) -> np.ndarray:
        return np.array([table[d.key][key] for d in params.districts])

    register, survey, mixing = {}, {}, {}
    outside_view = visitors = None
    raises: list[np.ndarray] = []
    for ind in params.indicators:
        comp = ind.computation
        if isinstance(comp, (RegisterShare, RegisterMean)) and comp.column in REGISTER_EFFECT_COLUMNS:
            register[comp.column] = per_district(ind.key)
        elif isinstance(comp, (RegisterShare, InmoverShare)) and comp.column == "education":
            raises.append(per_district(ind.key))
        elif isinstance(comp, SurveyShare):
            if ind.key not in SURVEY_MODELS:
                raise SyntheticDataError(f"synthetic generator has no survey model for indicator '{ind.key}'")
            survey[comp.question] = per_district(ind.key)
        elif isinstance(comp, SurveyOutsideView):
            outside_view = per_district(ind.key)
        elif isinstance(comp, InstitutionIsolation):
            mixing[comp.institution_type] = per_district(ind.key)
        elif isinstance(comp, VisitorMean):
            visitors = per_district(ind.key)
        else:
            raise SyntheticDataError(f"synthetic generator cannot plant an effect for indicator '{ind.key}'")
    if any(not np.array_equal(r, raises[0]) for r in raises):
        raise SyntheticDataError("planted in-migration selection must be equal for all education indicators")
    zeros = np.zeros(len(params.districts))
    return Effects(
        register=register,
        survey=survey,
        outside_view=zeros if outside_view is None else outside_view,
        mixing=mixing,
        visitors=zeros if visitors is None else visitors,
        inmover_raise=raises[0] if raises else zeros,
        table=table,
    )
