"""Every fixed number of the synthetic municipality: planted effects, district profiles and model constants.

Kept apart from the code so the world can be read (and tuned) in one place; the other modules of
the generator only import from here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# --- planted effects ---------------------------------------------------------------------------
# District key -> indicator key -> effect from the year after the baseline wave on, in the
# indicator's own scale (the sign is about the indicator's value: a negative effect on
# 'kriminalitet' or 'ensomhed' is an improvement). Three kinds of entries are levers instead:
#   mix-*                              extra share of the district's children attending institutions
#                                      outside the district; truth.json gives the lever's EFFECT on the
#                                      isolation-index DiD (with minus without the district's lever,
#                                      same draws) and the realised index DiD under 'realised'.
#   ressourcestaerke, bevaegelse       (must be equal) the rise in P(vocational or higher education)
#                                      of in-migrants into the district; truth.json gives the
#                                      EXPECTED effect given the realised movers.
#   brug-af-omraadet                   on the log scale of the daily visitor count.
PLANTED_EFFECTS: dict[str, dict[str, float]] = {
    "hoeje-gladsaxe": {
        "uddannelse": 0.05,
        "arbejdsmarked": 0.03,
        "oplevet-sundhed": 0.05,
        "fysisk-tryghed": 0.08,
        "oekonomisk-tryghed": 0.0,
        "fremtidsrettet-tryghed": 0.06,
        "kriminalitet": -0.005,
        "deltagelse": 0.07,
        "ensomhed": -0.05,
        "demokratisk-deltagelse": 0.0,
        "skolefravaer": -0.01,
        "mix-dagtilbud": 0.30,
        "mix-skole": 0.0,
        "mix-sfo": 0.0,
        "beboernes-oplevelse": 0.08,
        "omverdenens-oplevelse": 0.10,
        "ressourcestaerke": 0.25,
        "brug-af-omraadet": 0.35,
        "bevaegelse": 0.25,
    },
    "vaerebro-park": {
        "uddannelse": 0.03,
        "arbejdsmarked": 0.0,
        "oplevet-sundhed": 0.0,
        "fysisk-tryghed": 0.06,
        "oekonomisk-tryghed": -0.05,
        "fremtidsrettet-tryghed": 0.0,
        "kriminalitet": 0.0,
        "deltagelse": 0.04,
        "ensomhed": 0.0,
        "demokratisk-deltagelse": 0.04,
        "skolefravaer": 0.01,
        "mix-dagtilbud": 0.0,
        "mix-skole": 0.20,
        "mix-sfo": 0.0,
        "beboernes-oplevelse": 0.05,
        "omverdenens-oplevelse": 0.0,
        "ressourcestaerke": 0.15,
        "brug-af-omraadet": 0.10,
        "bevaegelse": 0.15,
    },
    "moerkhoej": {
        "uddannelse": 0.0,
        "arbejdsmarked": -0.03,
        "oplevet-sundhed": -0.04,
        "fysisk-tryghed": 0.0,
        "oekonomisk-tryghed": 0.04,
        "fremtidsrettet-tryghed": 0.05,
        "kriminalitet": 0.004,
        "deltagelse": 0.0,
        "ensomhed": 0.04,
        "demokratisk-deltagelse": -0.03,
        "skolefravaer": 0.0,
        "mix-dagtilbud": 0.0,
        "mix-skole": 0.0,
        "mix-sfo": 0.15,
        "beboernes-oplevelse": -0.04,
        "omverdenens-oplevelse": 0.06,
        "ressourcestaerke": 0.0,
        "brug-af-omraadet": -0.10,
        "bevaegelse": 0.0,
    },
}


@dataclass(frozen=True)
class DistrictProfile:
    """What makes one synthetic district look like itself."""

    adults: int  # residents 18+ in the baseline year
    n_areas: int
    deprivation: tuple[float, float]  # range of its areas' deprivation levels (0 affluent, 1 deprived)
    response_shift: float  # survey response propensity relative to the other districts
    outside_view: float  # share of comparison respondents with a positive view before the baseline
    visitor_level: float  # log mean daily count at the district's counters
    conviction_shift: float = 0.0  # added to the yearly conviction risk of residents (area context)
    employment_shift: float = 0.0  # added to the employment probability of 18-64-year-old residents


DISTRICT_PROFILES: dict[str, DistrictProfile] = {
    "hoeje-gladsaxe": DistrictProfile(3000, 5, (0.80, 0.95), -0.02, 0.30, 5.3),
    "vaerebro-park": DistrictProfile(2400, 4, (0.72, 0.90), 0.00, 0.35, 5.1),
    "moerkhoej": DistrictProfile(1900, 3, (0.62, 0.85), 0.02, 0.42, 5.0),
}

# The heterogeneous world (``generate(..., world="heterogeneous")``): districts of different size
# whose base rates are far from the rest's, as in real deprived districts (convictions 2-3 times
# the rest's rate, employment ~20 points lower, about twice the share of disadvantaged children).
# The composition (deprivation) already gives most of the employment gap; the conviction shift is
# an area-context term, since composition alone gives only ~1.1 times the rest's rate.
HETEROGENEOUS_PROFILES: dict[str, DistrictProfile] = {
    "hoeje-gladsaxe": DistrictProfile(4000, 6, (0.78, 0.95), -0.02, 0.30, 5.3, conviction_shift=0.024),
    "vaerebro-park": DistrictProfile(2000, 4, (0.74, 0.90), 0.00, 0.35, 5.1, conviction_shift=0.023,
                                     employment_shift=-0.02),
    "moerkhoej": DistrictProfile(600, 2, (0.76, 0.86), 0.02, 0.42, 5.0, conviction_shift=0.022,
                                 employment_shift=-0.02),
}


@dataclass(frozen=True)
class ShockSizes:
    """Standard deviations of the area x year, institution x year and counter x year shocks.

    ``area_additive``: register column -> sd of an additive shock on the probability (or mean)
    scale; ``area_relative``: column -> sd of a mean-one log-normal multiplier of the baseline
    risk (for outcomes whose spread scales with their level). Each area-year draws independently,
    so an area's yearly change has sd sqrt(2) * sd beyond binomial noise. ``institution``: sd of a
    logit-scale shift of the probability that a child attends its local (rest) or own-district
    institution that year, with a plus sign for disadvantaged and a minus sign for other children;
    ``counter``: sd of a log-scale shift of a counter's year.
    """

    area_additive: dict[str, float]
    area_relative: dict[str, float]
    institution: float
    counter: float

    @property
    def any(self) -> bool:
        """Whether any shock is drawn at all (the default world draws none)."""
        return bool(self.area_additive or self.area_relative or self.institution or self.counter)


NO_SHOCKS = ShockSizes({}, {}, 0.0, 0.0)
HETEROGENEOUS_SHOCKS = ShockSizes(
    area_additive={"employed": 0.012, "in_education": 0.015, "voted": 0.015},
    area_relative={"convicted": 0.15, "school_absence": 0.08},
    institution=0.3,
    counter=0.08,
)


@dataclass(frozen=True)
class WorldSettings:
    """What a named synthetic world changes: the district profiles and the shocks."""

    profiles: dict[str, DistrictProfile]
    shocks: ShockSizes


WORLDS: dict[str, WorldSettings] = {
    "gladsaxe": WorldSettings(DISTRICT_PROFILES, NO_SHOCKS),
    "heterogeneous": WorldSettings(HETEROGENEOUS_PROFILES, HETEROGENEOUS_SHOCKS),
}
PLANTED_CHOICES = ("effects", "none")  # planted="none": every planted effect and lever is zero

# --- population --------------------------------------------------------------------------------
MAX_AGE = 105
ADULT_SHARE = 0.83  # share 18+ of the synthetic population (used to size areas)
GROWTH = 1.004  # yearly growth of every area's size
REST_AREA_SIZE = 850  # mean residents of a small area in the rest of the municipality
N_CELLS = 24  # origin (3) x latent education (4) x poor (2)
CHILD_MOTHER_AGE_GAP = (20, 40)  # a child is linked to a woman this many years older


def _by_age(edges: list[int], values: list[float]) -> np.ndarray:
    """Table indexed by age 0..MAX_AGE: values[k] applies from edges[k] to the next edge."""
    ages = np.arange(MAX_AGE + 1)
    return np.asarray(values, dtype=float)[np.searchsorted(edges, ages, side="right") - 1]


POPULATION_AGE_WEIGHTS = _by_age([0, 18, 30, 50, 65, 80, 90], [1.1, 1.4, 1.35, 1.2, 0.95, 0.5, 0.12])
OUT_MIGRATION = _by_age([0, 18, 20, 30, 40, 65], [0.04, 0.08, 0.13, 0.07, 0.03, 0.02])
INTERNAL_MOVE = _by_age([0, 18, 30, 40, 65], [0.05, 0.16, 0.10, 0.05, 0.03])
FERTILITY = _by_age([0, 20, 25, 30, 35, 40, 45], [0.0, 0.03, 0.09, 0.11, 0.06, 0.012, 0.0])
DEATH = np.minimum(1.0, 0.00002 * np.exp(0.1 * np.arange(MAX_AGE + 1)))
DEATH[MAX_AGE] = 1.0
IN_MIGRANT_AGE = POPULATION_AGE_WEIGHTS * OUT_MIGRATION / (POPULATION_AGE_WEIGHTS * OUT_MIGRATION).sum()

# p(education | origin) at the affluent (deprivation 0) and deprived (1) ends; rows: ORIGIN
EDU_AFFLUENT = np.array([[0.12, 0.12, 0.34, 0.42], [0.15, 0.15, 0.25, 0.45], [0.30, 0.15, 0.22, 0.33]])
EDU_DEPRIVED = np.array([[0.40, 0.12, 0.33, 0.15], [0.40, 0.15, 0.25, 0.20], [0.58, 0.12, 0.18, 0.12]])
POOR_ORIGIN_FACTOR = np.array([0.8, 1.0, 1.6])
POOR_EDU_FACTOR = np.array([1.7, 1.1, 0.8, 0.5])
WESTERN_SHARE = 0.07
EDU_REACHED_AT = np.array([15, 19, 21, 25])  # age at which each final level is completed
RESOURCEFUL = np.array([False, False, True, True])  # vocational or higher

# --- outcome models (probability scale unless noted) ---------------------------------------------
EMPLOYMENT_CYCLE = {
    2010: -0.03, 2011: -0.03, 2012: -0.03, 2013: -0.025, 2014: -0.02, 2015: -0.01, 2016: 0.0,
    2017: 0.01, 2018: 0.015, 2019: 0.02, 2020: 0.005, 2021: 0.015, 2022: 0.03, 2023: 0.03,
    2024: 0.025, 2025: 0.025, 2026: 0.025, 2027: 0.025,
}
TURNOUT_SHIFT = {2013: 0.0, 2017: 0.0, 2019: 0.06, 2021: -0.04, 2022: 0.05, 2024: -0.18, 2025: -0.04, 2027: 0.06}
AREA_EFFECT = {"threshold": 0.20, "slope_above": -0.6}
CLIP = (0.01, 0.99)
CONVICTION_CLIP = (0.0005, 0.99)  # conviction risks are ~1 %: a 1 % floor would swallow the effect
INCOME = {"poor": (100_000, 0.12), "employed": (420_000, 0.35), "not_employed": (250_000, 0.18),
          "teen": (25_000, 0.5)}  # (median DKK in the first register year, log sd)
INCOME_GROWTH = 1.02
ABSENCE_SHAPE = 2.0

# --- survey --------------------------------------------------------------------------------------
SURVEY_AGE_EDGES = (18, 30, 50, 67)  # bands 18-29, 30-49, 50-66, 67+
COMPARISON_SAMPLE = 5500
RESPONSE = {"level": 0.485, "age": (-0.16, -0.07, 0.03, 0.10), "female": 0.04,
            "origin": (0.03, -0.04, -0.15), "district": -0.02, "comparison": 0.03}
SKIP_QUESTION = 0.02
# Top-box probability per survey indicator: level in the rest, gap for district residents,
# effects of age band, being female and origin, and the common wave trend.
SURVEY_MODELS: dict[str, dict] = {
    "oplevet-sundhed": dict(level=0.70, gap=-0.10, age=(0.06, 0.02, -0.05, -0.12), female=-0.03,
                            origin=(0.0, -0.02, -0.06), trend={2024: -0.02}),
    "fysisk-tryghed": dict(level=0.80, gap=-0.20, age=(-0.02, 0.0, 0.0, -0.08), female=-0.10,
                           origin=(0.0, 0.0, 0.03), trend={2024: -0.01}),
    "oekonomisk-tryghed": dict(level=0.62, gap=-0.18, age=(-0.10, -0.03, 0.02, 0.06), female=-0.03,
                               origin=(0.0, -0.03, -0.10), trend={2024: -0.04, 2027: -0.02}),
    "fremtidsrettet-tryghed": dict(level=0.68, gap=-0.15, age=(0.04, 0.0, -0.03, -0.05), female=-0.02,
                                   origin=(0.0, -0.02, -0.04), trend={2024: -0.02}),
    "deltagelse": dict(level=0.38, gap=-0.12, age=(-0.08, 0.02, 0.03, 0.06), female=0.02,
                       origin=(0.0, -0.06, -0.10), trend={2024: 0.02, 2027: 0.03}),
    "ensomhed": dict(level=0.08, gap=0.07, age=(0.06, 0.0, 0.0, 0.04), female=0.02,
                     origin=(0.0, 0.02, 0.05), trend={2024: 0.01}),
    "beboernes-oplevelse": dict(level=0.85, gap=-0.20, age=(-0.05, 0.0, 0.02, 0.04), female=0.0,
                                origin=(0.0, 0.0, 0.03), trend={}),
}
SURVEY_BASE_CLIP = (0.05, 0.9)

# --- institutions --------------------------------------------------------------------------------
INSTITUTION_AGES = {"daycare": (1, 5), "school": (6, 16), "after_school": (6, 12)}
INSTITUTION_PREFIX = {"daycare": "DAG", "school": "SKO", "after_school": "SFO"}
DISTRICT_ADULTS_PER_DAYCARE = 1000  # districts have one school and one after-school club each
INSTITUTIONS_IN_REST = {"daycare": 28, "school": 9, "after_school": 9}
DISTRICT_OUTSIDE_SHARE = 0.10  # district children attending an institution outside the district
REST_HOME_SHARE = 0.75  # rest children attending their local institution
REST_IN_DISTRICT_SHARE = 0.02  # rest children attending a district institution

# --- visitor counters ----------------------------------------------------------------------------
VISITOR_START = "2019-01-01"
REST_COUNTERS = 4
VISITOR_YEAR_TREND = {2019: 0.0, 2020: -0.20, 2021: -0.05, 2022: 0.02, 2023: 0.04, 2024: 0.05, 2025: 0.06,
                      2026: 0.06, 2027: 0.07}
VISITOR_WEEKDAY = np.array([0.0, 0.0, 0.0, 0.0, 0.05, 0.15, 0.20])  # Monday..Sunday
VISITOR_SEASON = 0.25  # amplitude of the yearly cycle on the log scale, peak in mid-July
VISITOR_DAILY_NOISE = 0.10  # log-normal overdispersion of a day's count
