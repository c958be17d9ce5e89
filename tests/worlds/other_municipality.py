"""Kærbæk Kommune: a second, independently generated municipality for the tests (issue 12).

Written from the input contract (``docs/input-contract.md``), the parameter schema
(``evaluering.config``) and the domain brief only, without looking at the project's own synthetic
generator or estimators, so that its blind spots differ from theirs.

How it differs from the Gladsaxe world:

* about 30,000 inhabitants in 50 small areas (ids with leading zeros, '0101'), register years
  2015-2024, survey waves 2021 and 2024;
* three districts of different size and unlike the rest: Østre Åparken (5 areas, conviction rate
  about 3.5 % against 1.5 %, employment of 30-64-year-olds about 20 points lower, twice the share of
  children from disadvantaged homes, a much lower response rate), Søholm Vænge (only 2 areas) and
  Blåbærhaven (3 areas, milder);
* area x year shocks on every register outcome, persistent person effects (Gaussian copula, so each
  person-year keeps its exact marginal probability), institution x year shocks in the choice of
  institution, counter x year shocks on visitor counts;
* mixed file formats: areas and institutions as Danish-Excel CSV (semicolon, UTF-8 with BOM,
  'ja'/'nej'), register as Parquet, survey as SPSS, visitors as plain CSV.

Every process is stationary: moves out of the municipality are replaced by in-movers drawn from
the same group-specific distributions, moves within the municipality stay inside a group (a
district or the rest), shocks have mean zero (multiplicative ones mean one), and common year
effects are additive where no probability is clipped. So the district-vs-rest difference in
differences of every indicator is 0 in expectation unless an effect is planted. Planted effects are
additive on the probability scale and apply to the district's current residents (place); because
no one moves between a district and the rest, baseline residents still in the register are current
residents too, so the people estimand has the same truth. Survey answers depend on group, age
and education, never on an outcome a planted effect moves, so unplanted indicators stay at 0.

The default delivery (``delivery="evaluation"``, used by the operating-characteristics harness)
leaves out contract-valid features that broke the evaluation before issue 13: survey persons
without a register row in the wave year, 16-17-year-olds in the survey sample, adults with an
empty education, and weighting classes left without respondents (districts are sampled at 80 %
so that every class has respondents). ``delivery="full"`` adds them, drawn from a separate random
stream so the default delivery stays byte-identical:

* about 2 % of persons (5 % of those of non-Western origin) have an empty education in every year;
* 16-17-year-olds are sampled at their group's rate (the survey then covers ages 16 and up);
* persons sampled for a wave without a register row that year (in-movers of the next year in
  2021, persons whose last register year is 2023 in 2024), about a fifth of the group's rate;
* every sampled western-origin resident of 67+ in Søholm Vænge is a non-respondent, so their
  finest weighting class has no respondents and must be collapsed.

``delivery="two_districts"`` is the same plus a different municipality's choices (issue 13): two
districts (Østre Åparken, Søholm Vænge; Blåbærhaven's areas join the rest of the municipality,
its residents the comparison sample), 14 of the 19 indicators renumbered 1-14 in its own
parameter file, ``areas`` and ``survey`` as Danish-Excel CSV and the rest as Parquet, district
residents who answer the outside-view question about the *other* district (the contract says only
the comparison group's answers count), no visitor counter in Søholm Vænge, one counter in Østre
Åparken that starts in March 2022 (after the baseline), and no after-school children in Søholm
Vænge. Its truth keeps the planted effects of the two districts.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import yaml
from scipy import stats

__all__ = ["write_world", "generate_world", "write_tables", "World", "DISTRICTS", "PLANTED", "BASELINE", "FOLLOWUP",
           "DELIVERIES", "TWO_DISTRICTS", "TWO_DISTRICT_INDICATORS"]

GLADSAXE_PARAMS = Path(__file__).resolve().parents[2] / "params" / "gladsaxe.yaml"

YEARS = list(range(2015, 2025))
BASELINE, FOLLOWUP = 2021, 2024
ELECTIONS = {2015: 0.08, 2017: -0.06, 2019: 0.08, 2021: -0.06, 2022: 0.07, 2024: -0.20}  # turnout shift
VISITOR_YEARS = range(2018, 2025)
REST = "rest"

ORIGINS = np.array(["danish", "western", "non_western"])
EDUCATIONS = np.array(["primary", "upper_secondary", "vocational", "higher"])


@dataclass(frozen=True)
class Profile:
    """How one group of areas (a district or the rest of the municipality) behaves."""

    n_areas: int
    area_size: tuple[int, int]  # residents per small area (uniform range)
    turnover: float  # yearly share of residents leaving the municipality (replaced by in-movers)
    origin: tuple[float, float, float]  # danish, western, non_western
    education: tuple[float, float, float, float]  # final education of Danish-origin adults
    employment: float  # intercept of the employment probability (16-66)
    in_education: float  # intercept of the enrolment probability (18-29)
    conviction: float  # yearly conviction rate among residents 15+
    absence: float  # mean share of school days absent (6-16)
    turnout: float  # intercept of the turnout probability
    disadvantaged: float  # share of children from disadvantaged homes
    response: float  # logit intercept of survey response
    survey_shift: float  # shift of every 'good' survey share (negative: worse off)
    shock_sd: float  # sd of area x year shocks on register probabilities


REST_PROFILE = Profile(
    n_areas=40, area_size=(450, 760), turnover=0.08, origin=(0.86, 0.06, 0.08),
    education=(0.16, 0.12, 0.36, 0.36), employment=0.79, in_education=0.54, conviction=0.015,
    absence=0.055, turnout=0.72, disadvantaged=0.12, response=0.10, survey_shift=0.0, shock_sd=0.015,
)

DISTRICTS: dict[str, tuple[str, Profile]] = {
    "oestre-aaparken": ("Østre Åparken", Profile(
        n_areas=5, area_size=(520, 780), turnover=0.12, origin=(0.45, 0.07, 0.48),
        education=(0.34, 0.14, 0.32, 0.20), employment=0.64, in_education=0.40, conviction=0.035,
        absence=0.085, turnout=0.60, disadvantaged=0.26, response=-0.55, survey_shift=-0.14,
        shock_sd=0.03,
    )),
    "soeholm-vaenge": ("Søholm Vænge", Profile(
        n_areas=2, area_size=(480, 620), turnover=0.10, origin=(0.62, 0.08, 0.30),
        education=(0.26, 0.14, 0.36, 0.24), employment=0.70, in_education=0.46, conviction=0.025,
        absence=0.072, turnout=0.65, disadvantaged=0.20, response=-0.30, survey_shift=-0.08,
        shock_sd=0.03,
    )),
    "blaabaerhaven": ("Blåbærhaven", Profile(
        n_areas=3, area_size=(480, 700), turnover=0.09, origin=(0.72, 0.07, 0.21),
        education=(0.22, 0.13, 0.37, 0.28), employment=0.74, in_education=0.48, conviction=0.02,
        absence=0.065, turnout=0.68, disadvantaged=0.17, response=-0.15, survey_shift=-0.05,
        shock_sd=0.025,
    )),
}

# Planted effects, additive on the probability scale: (district, indicator key) -> effect.
# Register effects start the year after the baseline, survey effects in the follow-up wave.
PLANTED: dict[tuple[str, str], float] = {
    ("oestre-aaparken", "arbejdsmarked"): 0.03,
    ("oestre-aaparken", "fysisk-tryghed"): 0.05,
    ("blaabaerhaven", "beboernes-oplevelse"): 0.05,
}

# Survey questions: rest-of-municipality top-box share and whether deprived districts score lower
# (+1) or higher (-1, e.g. loneliness), plus common wave effects (additive, same for everyone).
SURVEY_LEVELS = {
    "q_health": (0.70, 1), "q_safe_physical": (0.80, 1), "q_safe_economic": (0.56, 1),
    "q_safe_future": (0.63, 1), "q_participation": (0.32, 1), "q_lonely": (0.10, -1),
    "q_area_opinion": (0.82, 1),
}
WAVE_EFFECTS = {2024: {"q_health": -0.02, "q_safe_economic": -0.04, "q_lonely": 0.01}}
OUTSIDE_VIEW = {"oestre-aaparken": 0.28, "soeholm-vaenge": 0.40, "blaabaerhaven": 0.50}

AREA_NAMES = [
    "Ahornvej", "Bøgeskoven", "Egelund", "Fælledvej", "Grønnegården", "Hørmarken", "Kirkebakken",
    "Lyngbakken", "Mosegård", "Nørrevang", "Præstemarken", "Rønnebær", "Skovbrynet", "Tårnby Vest",
    "Ulvehøj", "Vibækken", "Ærtebjerg", "Ørnehøj", "Åløkke", "Havrevangen",
]


GROUPS = [REST, *DISTRICTS]  # group code 0 is the rest of the municipality, 1.. the districts
PROFILES = [REST_PROFILE, *(prof for _, prof in DISTRICTS.values())]


def _by_group(name: str) -> np.ndarray:
    """One profile attribute per group code, for indexing with an array of codes."""
    return np.array([getattr(prof, name) for prof in PROFILES])


# --- areas -------------------------------------------------------------------------------------


def _areas(rng: np.random.Generator) -> pd.DataFrame:
    """Small areas: id ('0101', leading zero), name with æøå, group code, number of residents."""
    rows = []
    for g, prof in enumerate(PROFILES):
        for i in range(prof.n_areas):
            if g == 0:
                name = f"{AREA_NAMES[i % len(AREA_NAMES)]} {'Nord' if i < len(AREA_NAMES) else 'Syd'}"
            else:
                name = f"{DISTRICTS[GROUPS[g]][0]} {['Nord', 'Syd', 'Øst', 'Vest', 'Midt'][i]}"
            rows.append((name, g, int(rng.integers(prof.area_size[0], prof.area_size[1] + 1))))
    order = rng.permutation(len(rows))  # district areas are not the first ids
    rows = [rows[i] for i in order]
    return pd.DataFrame({
        "area_id": [f"{101 + i:04d}" for i in range(len(rows))],
        "area_name": [r[0] for r in rows],
        "g": [r[1] for r in rows],
        "size": [r[2] for r in rows],
    })


# --- population: who lives where each year -------------------------------------------------------


def _in_mover_ages(rng: np.random.Generator, n: int) -> np.ndarray:
    """Ages of people moving into the municipality (age 0 are births)."""
    bands = np.array([(0, 0), (1, 17), (18, 29), (30, 49), (50, 66), (67, 90)])
    pick = rng.choice(len(bands), size=n, p=[0.10, 0.17, 0.36, 0.24, 0.09, 0.04])
    return rng.integers(bands[pick, 0], bands[pick, 1] + 1)


def _population(rng: np.random.Generator, areas: pd.DataFrame) -> pd.DataFrame:
    """Person-year rows (pid, year, area index, group code, age) from a slot model.

    Each area has fixed slots. Every year residents age; a group-specific share leaves the
    municipality (or dies past 99) and is replaced by an in-mover; 5 % swap places with another
    resident of the same group (moves within the municipality that never cross a district
    border). A 60-year burn-in makes the age structure stationary before the first register year.
    """
    size = areas["size"].to_numpy()
    slot_area = np.repeat(np.arange(len(areas)), size)
    slot_group = np.repeat(areas["g"].to_numpy(), size)
    turnover = _by_group("turnover")[slot_group]
    members = [np.flatnonzero(slot_group == g) for g in range(len(GROUPS))]
    n = len(slot_area)
    age = _in_mover_ages(rng, n)
    pid = np.arange(n)
    next_id = n
    rows = []
    for year in range(YEARS[0] - 60, YEARS[-1] + 1):
        if year >= YEARS[0]:
            rows.append(np.column_stack([pid, np.full(n, year), slot_area, slot_group, age]))
        age = age + 1
        leave = (rng.random(n) < turnover) | (age > 99)
        age[leave] = _in_mover_ages(rng, int(leave.sum()))
        if year >= YEARS[0]:  # ids matter only from the first register year on
            pid[leave] = np.arange(next_id, next_id + leave.sum())
            next_id += int(leave.sum())
        for idx in members:
            chosen = idx[rng.random(len(idx)) < 0.05]
            perm = rng.permutation(chosen)
            pid[chosen], age[chosen] = pid[perm], age[perm]
    return pd.DataFrame(np.vstack(rows), columns=["pid", "year", "area", "g", "age"])


@dataclass(frozen=True)
class Persons:
    """Fixed traits per person, indexed by pid (0..n-1), drawn from the group's distributions."""

    origin: np.ndarray  # index into ORIGINS
    education: np.ndarray  # final education, index into EDUCATIONS
    male: np.ndarray
    z: np.ndarray  # (n, 5) persistent latent parts: employment, enrolment, voting, crime, disadvantage
    conv_factor: np.ndarray  # mean-one person factor of the conviction rate
    abs_factor: np.ndarray  # mean-one person factor of school absence


def _persons(rng: np.random.Generator, panel: pd.DataFrame) -> Persons:
    """Draw every person's traits once; a person's group never changes (moves stay in the group)."""
    n = int(panel["pid"].max()) + 1
    group = np.zeros(n, dtype=int)
    group[panel["pid"].to_numpy()] = panel["g"].to_numpy()
    origin = _draw_categorical(rng, _by_group("origin")[group])
    edu_p = _by_group("education")[group] + np.where(origin[:, None] == 2, [[0.14, 0.0, -0.06, -0.08]], 0.0)
    edu_p = np.clip(edu_p, 0.01, None)
    return Persons(
        origin=origin,
        education=_draw_categorical(rng, edu_p / edu_p.sum(axis=1, keepdims=True)),
        male=rng.random(n) < 0.5,
        z=rng.standard_normal((n, 5)),
        conv_factor=rng.gamma(0.7, 1 / 0.7, size=n),
        abs_factor=np.exp(rng.normal(-0.08, 0.4, size=n)),
    )


def _draw_categorical(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One category index per row of ``probs`` (rows sum to 1)."""
    return (rng.random(len(probs))[:, None] > probs.cumsum(axis=1)[:, :-1]).sum(axis=1)


def _person_ids(n: int) -> np.ndarray:
    """Pseudonymised ids 'K0000123' by pid (a prefix, so nothing looks like a CPR number)."""
    return np.array([f"K{i:07d}" for i in range(n)], dtype=object)


# --- register outcomes ---------------------------------------------------------------------------


def _copula_uniform(rng: np.random.Generator, z_person: np.ndarray, rho: float) -> np.ndarray:
    """Uniforms persistent within a person (Gaussian copula): P(U < p) = p for every row."""
    e = rng.standard_normal(len(z_person))
    return stats.norm.cdf(rho * z_person + np.sqrt(1 - rho**2) * e)


def _area_year_shock(rng: np.random.Generator, panel: pd.DataFrame, sd_by_area: np.ndarray) -> np.ndarray:
    """A mean-zero N(0, sd_area) shock per area x year, looked up for every row of ``panel``."""
    shocks = rng.standard_normal((len(sd_by_area), len(YEARS))) * sd_by_area[:, None]
    return shocks[panel["area"].to_numpy(), panel["year"].to_numpy() - YEARS[0]]


def _education_column(edu_final: np.ndarray, age: np.ndarray) -> np.ndarray:
    """Highest completed education: empty under 15, still growing until 25, final after."""
    level = np.where(age < 20, 0, np.where(age < 25, np.minimum(edu_final, 1), edu_final))
    return np.where(age < 15, None, EDUCATIONS[level]).astype(object)


def _register(rng: np.random.Generator, panel: pd.DataFrame, persons: Persons, areas: pd.DataFrame,
              employment_effect: np.ndarray) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The register table plus the employment probabilities with and without planted effects.

    ``employment_effect``: per group code, an additive effect on the employment probability of
    16-66-year-olds from the year after the baseline.
    """
    pid, g = panel["pid"].to_numpy(), panel["g"].to_numpy()
    age, year = panel["age"].to_numpy(), panel["year"].to_numpy()
    origin, edu, z = persons.origin[pid], persons.education[pid], persons.z[pid]
    shock_sd = _by_group("shock_sd")[areas["g"].to_numpy()]
    working_age = (age >= 16) & (age <= 66)

    # employment: additive, a common trend with a 2020 dip; probabilities stay inside (0, 1)
    trend = 0.003 * (year - 2019) - 0.015 * (year == 2020)
    p_emp0 = (_by_group("employment")[g] + np.array([-0.12, -0.04, 0.02, 0.06])[edu]
              + np.array([0.0, -0.03, -0.08])[origin] + trend + _area_year_shock(rng, panel, shock_sd)
              - 0.25 * (age < 25))
    p_emp0 = np.clip(np.where(working_age, p_emp0, 0.05 * (age > 66)), 0.0, 0.995)
    p_emp = np.clip(p_emp0 + employment_effect[g] * (working_age & (year > BASELINE)), 0.0, 0.995)
    employed = _copula_uniform(rng, z[:, 0], 0.85) < p_emp

    # enrolment: school age always, 18-29 by model, a little later in life
    p_edu = (_by_group("in_education")[g] + np.array([0.0, -0.02, -0.06])[origin]
             + _area_year_shock(rng, panel, 1.5 * shock_sd))
    p_edu = np.where(age <= 17, 0.97 * (age >= 6), np.where(age <= 29, p_edu, 0.04 * (age < 60)))
    in_education = _copula_uniform(rng, z[:, 1], 0.7) < p_edu

    convicted = _convictions(rng, panel, persons)

    # school absence (6-16): Beta around a person- and area-year-specific mean (mean-one shocks)
    log_shock = _area_year_shock(rng, panel, np.full(len(areas), 0.12))
    mean_abs = np.clip(_by_group("absence")[g] * persons.abs_factor[pid] * np.exp(log_shock - 0.12**2 / 2),
                       0.005, 0.6)
    absence = np.round(rng.beta(mean_abs * 12, (1 - mean_abs) * 12), 4)

    # voting in election years (18+): additive election effects
    election = np.array([ELECTIONS.get(y, np.nan) for y in YEARS])[year - YEARS[0]]
    p_vote = (_by_group("turnout")[g] + np.array([0.0, -0.08, -0.12])[origin] + 0.05 * (age >= 50)
              + np.nan_to_num(election) + _area_year_shock(rng, panel, shock_sd))
    votes = _copula_uniform(rng, z[:, 2], 0.8) < p_vote
    voted = pd.array(np.where(~np.isnan(election) & (age >= 18), votes, None), dtype="boolean")

    register = pd.DataFrame({
        "person_id": _person_ids(len(persons.origin))[pid], "year": year,
        "area_id": areas["area_id"].to_numpy()[panel["area"].to_numpy()], "age": age,
        "sex": np.where(persons.male[pid], "male", "female"), "origin": ORIGINS[origin],
        "education": _education_column(edu, age), "in_education": in_education, "employed": employed,
        "income": _income(rng, age, employed, in_education, edu), "convicted": convicted,
        "school_absence": np.where((age >= 6) & (age <= 16), absence, np.nan), "voted": voted,
    })
    probs = panel[["year", "g", "age"]].assign(p_emp=p_emp, p_emp0=p_emp0)
    return register, probs


def _convictions(rng: np.random.Generator, panel: pd.DataFrame, persons: Persons) -> np.ndarray:
    """Convictions of residents 15+: the group's rate times age, sex and person factors and a
    mean-one lognormal area x year shock (no trend), so the expected rate is stationary."""
    pid, g, age = panel["pid"].to_numpy(), panel["g"].to_numpy(), panel["age"].to_numpy()
    adult = age >= 15
    rate = (np.select([age < 25, age < 40, age < 60], [2.5, 1.3, 0.6], 0.2)
            * np.where(persons.male[pid], 1.6, 0.4) * persons.conv_factor[pid])
    mean_rate = np.bincount(g[adult], rate[adult]) / np.bincount(g[adult])  # calibrate each group's level
    n_areas = int(panel["area"].max()) + 1
    log_shock = _area_year_shock(rng, panel, np.full(n_areas, 0.25))
    p = np.clip(_by_group("conviction")[g] / mean_rate[g] * rate * np.exp(log_shock - 0.25**2 / 2), 0, 0.5)
    return adult & (_copula_uniform(rng, persons.z[pid, 3], 0.5) < p)


def _income(rng: np.random.Generator, age, employed, in_education, edu) -> np.ndarray:
    """Gross income in DKK: empty under 15, wages for the employed, transfers or SU otherwise."""
    n = len(age)
    wage = np.exp(rng.normal(np.log(330_000), 0.35, n)) * np.array([0.85, 0.95, 1.0, 1.3])[edu]
    transfer = np.exp(rng.normal(np.log(165_000), 0.25, n))
    student = np.exp(rng.normal(np.log(85_000), 0.3, n))
    income = np.where(employed, wage, np.where(in_education & (age < 30), student, transfer))
    income = np.where(age < 18, income * 0.1, income)
    return np.where(age < 15, np.nan, np.round(income, -2))


# --- survey --------------------------------------------------------------------------------------


def _survey(rng: np.random.Generator, register: pd.DataFrame, areas: pd.DataFrame, questions: list[str],
            planted: dict[str, dict[str, float]]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The sample of each wave (districts 80 %, rest 2,400 persons), responses and answers.

    Everyone sampled is 18+ and has a register row in the wave year. Returns the survey table and,
    for the truth, the top-box probabilities of every adult with and without planted effects.
    """
    group_of_area = pd.Series(areas["g"].to_numpy(), index=areas["area_id"])
    frames, probs = [], []
    for wave in (BASELINE, FOLLOWUP):
        pop = register[(register["year"] == wave) & (register["age"] >= 18)].reset_index(drop=True)
        g = group_of_area.loc[pop["area_id"]].to_numpy()
        p_top, p_top0 = _top_box_probabilities(pop, g, wave, questions, planted)
        probs.append(pd.DataFrame({"wave": wave, "g": g, **p_top, **{f"{q}__0": p for q, p in p_top0.items()}}))
        sampled, weight = _sample(rng, g)
        answers = {q: _likert(rng, p_top[q]) for q in questions}
        responded = rng.random(len(pop)) < _response_probability(pop, g)
        frame = pd.DataFrame({
            "person_id": pop["person_id"], "wave": wave,
            "sample_group": np.where(g == 0, "comparison", "district"),
            "area_id": pop["area_id"], "design_weight": weight, "responded": responded, **answers,
        })
        frames.append(frame[sampled])
    survey = _blank_answers(rng, pd.concat(frames, ignore_index=True), questions)
    return survey, pd.concat(probs, ignore_index=True)


def _sample(rng: np.random.Generator, g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bernoulli 80 % in the districts, a simple random sample of 2,400 in the rest."""
    rest = np.flatnonzero(g == 0)
    sampled = (g != 0) & (rng.random(len(g)) < 0.8)
    sampled[rng.choice(rest, size=2400, replace=False)] = True
    return sampled, np.where(g == 0, len(rest) / 2400, 1 / 0.8)


def _response_probability(pop: pd.DataFrame, g: np.ndarray) -> np.ndarray:
    """Logistic in the group, age, sex and origin (the register margins weighting can use)."""
    origin = pop["origin"].map({"danish": 0.0, "western": -0.2, "non_western": -0.6}).to_numpy()
    logit = (_by_group("response")[g] + 0.02 * (pop["age"].to_numpy() - 45)
             + 0.2 * (pop["sex"] == "female").to_numpy() + origin)
    return 1 / (1 + np.exp(-logit))


def _top_box_probabilities(pop: pd.DataFrame, g: np.ndarray, wave: int, questions: list[str],
                           planted: dict[str, dict[str, float]]) -> tuple[dict, dict]:
    """P(answer 4 or 5) per adult and question, additive in group, covariates and wave.

    ``planted``: district key -> {question: additive effect in the follow-up wave}.
    """
    # covariates that no planted effect can move, so unplanted questions keep a zero truth
    educated = pop["education"].isin(["vocational", "higher"]).to_numpy()
    old = (pop["age"] >= 67).to_numpy()
    shift = _by_group("survey_shift")[g]
    with_effect, without = {}, {}
    for q in questions:
        if q.startswith("q_view_"):
            p = np.full(len(pop), OUTSIDE_VIEW.get(_district_of_view_column(q), 0.4)) + 0.02 * old
        else:
            level, sign = SURVEY_LEVELS.get(q, (0.5, 1))
            p = level + (shift if sign > 0 else -0.6 * shift)
            if q in ("q_health", "q_safe_economic", "q_safe_future"):
                p = p + 0.06 * educated - 0.04 * old
            if q == "q_lonely":
                p = p + 0.04 * old - 0.03 * educated
        p = p + WAVE_EFFECTS.get(wave, {}).get(q, 0.0)
        effect = np.array([planted.get(key, {}).get(q, 0.0) for key in GROUPS])[g] * (wave == FOLLOWUP)
        without[q] = np.clip(p, 0, 1)
        with_effect[q] = np.clip(p + effect, 0, 1)
    return with_effect, without


def _district_of_view_column(column: str) -> str:
    code = column.removeprefix("q_view_")
    return next((k for k in DISTRICTS if k.replace("-", "_") == code), code)


def _likert(rng: np.random.Generator, p_top: np.ndarray) -> np.ndarray:
    """Answers 1-5 with P(4 or 5) = p_top; within the boxes 4:5 = 55:45 and 1:2:3 = 15:30:55."""
    top = rng.random(len(p_top)) < p_top
    v = rng.random(len(p_top))
    return np.where(top, np.where(v < 0.55, 4, 5), np.select([v < 0.15, v < 0.45], [1, 2], 3)).astype(float)


def _blank_answers(rng: np.random.Generator, survey: pd.DataFrame, questions: list[str]) -> pd.DataFrame:
    """Empty answers for non-respondents, 3 % item nonresponse, views only from the comparison group."""
    survey = survey.copy()
    own = [q for q in questions if not q.startswith("q_view_")]
    district = (survey["sample_group"] == "district").to_numpy()
    for q in questions:
        skip = (rng.random(len(survey)) < 0.03) | ~survey["responded"].to_numpy()
        if q not in own:
            skip |= district
        survey.loc[skip, q] = np.nan
    empty = survey["responded"].to_numpy() & survey[questions].isna().all(axis=1).to_numpy()
    survey.loc[empty, own[0]] = 3.0  # a respondent always answers something
    return survey


# --- institutions and visitors -------------------------------------------------------------------


def _school_catchments(areas: pd.DataFrame) -> np.ndarray:
    """School number per area index: each district's areas share schools with a few rest areas."""
    rest = list(np.flatnonzero(areas["g"].to_numpy() == 0))
    school = np.zeros(len(areas), dtype=int)
    number = 0
    for g in range(1, len(GROUPS)):
        ids = list(np.flatnonzero(areas["g"].to_numpy() == g))
        for chunk in (ids[:3], ids[3:]):
            if chunk:
                school[chunk + [rest.pop(0)]] = number
                number += 1
    for i, a in enumerate(rest):
        school[a] = number + i // 4
    return school


def _institutions(rng: np.random.Generator, register: pd.DataFrame, panel: pd.DataFrame,
                  persons: Persons, areas: pd.DataFrame) -> pd.DataFrame:
    """Daycare (1-5), school (6-16) and after-school (6-9, club 10-13) per child and year.

    Children keep last year's institution (90 %) unless they moved; otherwise they go to the
    catchment institution, or (more often for children from advantaged homes in a district) to
    another one chosen with institution x year popularity shocks.
    """
    school = _school_catchments(areas)
    names = {"daycare": ("DG", np.arange(len(areas))), "school": ("SK", school), "after_school": ("FR", school)}
    kids = panel[panel["age"].between(1, 16)].copy()
    kids["person_id"] = register["person_id"].to_numpy()[kids.index]  # register rows follow the panel's
    latent = 0.9 * persons.z[kids["pid"].to_numpy(), 4] + np.sqrt(0.19) * rng.standard_normal(len(kids))
    kids["disadvantaged_home"] = latent < stats.norm.ppf(_by_group("disadvantaged")[kids["g"].to_numpy()])
    age = kids["age"].to_numpy()
    attends = {
        "daycare": (age <= 5) & (rng.random(len(kids)) < 0.95),
        "school": age >= 6,
        "after_school": ((age >= 6) & (age <= 9) & (rng.random(len(kids)) < 0.85))
        | ((age >= 10) & (age <= 13) & (rng.random(len(kids)) < 0.5)),
    }
    frames = []
    for kind, mask in attends.items():
        prefix, catchment = names[kind]
        number = _choose_institutions(rng, kids[mask], catchment)
        frames.append(kids[mask].assign(institution_type=kind,
                                        institution_id=[f"{prefix}{i + 1:02d}" for i in number]))
    out = pd.concat(frames, ignore_index=True)
    return out[["person_id", "year", "institution_type", "institution_id", "disadvantaged_home"]]


def _choose_institutions(rng: np.random.Generator, kids: pd.DataFrame, catchment: np.ndarray) -> np.ndarray:
    """Institution number per child-year: persistence, catchment, or a choice shaped by
    institution x year popularity shocks (N(0, 0.8) on the log scale)."""
    n_inst = int(catchment.max()) + 1
    chosen = np.empty(len(kids), dtype=int)
    last = pd.DataFrame(columns=["pid", "last_area", "last_inst"], dtype=int)
    for year in YEARS:
        rows = np.flatnonzero(kids["year"].to_numpy() == year)
        k = kids.iloc[rows]
        pull = np.exp(rng.normal(0, 0.8, n_inst))
        elsewhere = rng.choice(n_inst, size=len(k), p=pull / pull.sum())
        p_away = np.where((k["g"].to_numpy() != 0) & ~k["disadvantaged_home"].to_numpy(), 0.35, 0.15)
        fresh = np.where(rng.random(len(k)) < p_away, elsewhere, catchment[k["area"].to_numpy()])
        prev = k[["pid", "area"]].merge(last, on="pid", how="left")
        stay = (prev["last_area"].to_numpy() == k["area"].to_numpy()) & (rng.random(len(k)) < 0.9)
        inst = np.where(stay, prev["last_inst"].fillna(-1).to_numpy().astype(int), fresh)
        chosen[rows] = inst
        last = pd.DataFrame({"pid": k["pid"].to_numpy(), "last_area": k["area"].to_numpy(), "last_inst": inst})
    return chosen


def _visitors(rng: np.random.Generator, areas: pd.DataFrame) -> pd.DataFrame:
    """Daily counts at 10 counters (2 + 1 + 1 in the districts) with counter x year shocks.

    Season and weekday factors average exactly 1 within each year and the shocks have mean one,
    so every counter's expected yearly mean is constant; 3 % of days are missing (outages).
    """
    placed = []
    for g, n in enumerate((6, 2, 1, 1)):
        placed += list(areas.loc[areas["g"] == g, "area_id"][:n])
    level = rng.uniform(140, 420, len(placed))
    dates = pd.date_range(f"{VISITOR_YEARS[0]}-01-01", f"{VISITOR_YEARS[-1]}-12-31", freq="D")
    years = dates.year.to_numpy()
    factor = ((1 + 0.35 * np.sin(2 * np.pi * (dates.day_of_year.to_numpy() - 110) / 365.25))
              * np.where(dates.day_of_week.to_numpy() >= 5, 1.3, 0.9))
    factor = factor / pd.Series(factor).groupby(years).transform("mean").to_numpy()
    text_dates = dates.strftime("%Y-%m-%d").to_numpy()
    frames = []
    for c, (area, mu) in enumerate(zip(placed, level, strict=False)):
        shock = np.exp(rng.normal(-0.15**2 / 2, 0.15, len(VISITOR_YEARS)))
        mean = mu * factor * shock[years - VISITOR_YEARS[0]]
        count = rng.negative_binomial(20, 20 / (20 + mean))
        keep = rng.random(len(dates)) >= 0.03
        frames.append(pd.DataFrame({"counter_id": f"T{c + 1:02d}", "area_id": area,
                                    "date": text_dates[keep], "count": count[keep]}))
    return pd.concat(frames, ignore_index=True)


# --- parameters and truth ------------------------------------------------------------------------


def _params() -> dict:
    """Gladsaxe's parameter file (same 19 indicators) with this municipality, its districts,
    years and placeholder ambition levels."""
    raw = yaml.safe_load(GLADSAXE_PARAMS.read_text(encoding="utf-8"))
    template = next(iter(raw["ambitions"].values()))
    raw.update(
        municipality={"key": "kaerbaek", "name": "Kærbæk Kommune", "inhabitants": 30000},
        districts=[{"key": k, "name": name} for k, (name, _) in DISTRICTS.items()],
        comparison_group={"name": "Resten af Kærbæk"},
        strategy={"vision_year": 2015, "strategy_year": 2017, "concretised_year": 2020, "target_year": 2030},
        survey={"waves": [BASELINE, FOLLOWUP], "baseline_wave": BASELINE, "next_wave": 2027},
        register={"first_year": YEARS[0]},
        disclosure={"min_cell": 3},
        ambitions={k: dict(template) for k in DISTRICTS},
    )
    raw["monitoring"] = {**raw["monitoring"], "regional_income": 395000}
    return raw


def _computations(params: dict) -> dict[str, dict]:
    """Indicator key -> its computation, in the parameter file's order."""
    return {i["key"]: i["computation"] for g in params["effect_goals"] for t in g["themes"]
            for i in t["indicators"]}


def _questions(params: dict) -> list[str]:
    """Survey answer columns the parameter file asks for (one per question and outside view)."""
    out = []
    for c in _computations(params).values():
        if c["kind"] == "survey_share":
            out.append(c["question"])
        elif c["kind"] == "survey_outside_view":
            out += [c["question_prefix"] + k.replace("-", "_") for k in DISTRICTS]
    return out


def _planted_columns(params: dict, planted: bool) -> dict[str, dict[str, float]]:
    """Per district: {register column or survey question: effect} for the planted effects."""
    out: dict[str, dict[str, float]] = {}
    for (district, key), effect in (PLANTED.items() if planted else ()):
        c = _computations(params)[key]
        if not (c["kind"] == "survey_share" or (c["kind"] == "register_share" and c["column"] == "employed")):
            raise NotImplementedError(f"no planting mechanism for {key}")
        out.setdefault(district, {})[c.get("question") or c["column"]] = effect
    return out


def _truth(params: dict, planted: bool, reg_probs: pd.DataFrame, survey_probs: pd.DataFrame) -> dict:
    """{district: {indicator: {value, truth_kind}}}: the expected district-vs-rest DiD, follow-up
    minus baseline. A planted value is the mean probability shift over the district's residents in
    the indicator's population in the follow-up year (the planted effect, unless clipped)."""
    comps = _computations(params)
    truth = {d: {k: {"value": 0.0, "truth_kind": "none"} for k in comps} for d in DISTRICTS}
    for (district, key), _ in (PLANTED.items() if planted else ()):
        c, g = comps[key], GROUPS.index(district)
        if c["kind"] == "register_share":
            lo, hi = c["age"]
            rows = reg_probs[(reg_probs["g"] == g) & (reg_probs["year"] == FOLLOWUP) & reg_probs["age"].between(lo, hi)]
            value = (rows["p_emp"] - rows["p_emp0"]).mean()
        else:
            rows = survey_probs[(survey_probs["g"] == g) & (survey_probs["wave"] == FOLLOWUP)]
            value = (rows[c["question"]] - rows[c["question"] + "__0"]).mean()
        truth[district][key] = {"value": float(value), "truth_kind": "planted"}
    return truth


# --- writing -------------------------------------------------------------------------------------


def _write_danish_csv(frame: pd.DataFrame, path: Path) -> None:
    """As Danish Excel's 'CSV UTF-8': semicolons, decimal comma, byte-order mark, ja/nej."""
    out = frame.copy()
    for col in out.columns:
        if out[col].dtype == bool:
            out[col] = np.where(out[col], "ja", "nej")
    out.to_csv(path, sep=";", decimal=",", index=False, encoding="utf-8-sig")


def _write_survey_sav(survey: pd.DataFrame, path: Path) -> None:
    """SPSS as survey firms deliver it: string ids, numeric codes, 1/0 for responded."""
    out = survey.assign(responded=survey["responded"].astype(float), wave=survey["wave"].astype(float))
    for col in ("person_id", "area_id", "sample_group"):
        out[col] = out[col].astype(object)
    pyreadstat.write_sav(out, str(path))


@dataclass(frozen=True)
class World:
    """One generated delivery: the five tables as written, the parameter file (as a dict), the truth."""

    tables: dict[str, pd.DataFrame]
    params: dict
    truth: dict
    delivery: str = "evaluation"


DELIVERIES = ("evaluation", "full", "two_districts")
TWO_DISTRICTS = ("oestre-aaparken", "soeholm-vaenge")
# indicators of the two-district parameter file (renumbered 1-14 in this order)
TWO_DISTRICT_INDICATORS = (
    "uddannelse", "arbejdsmarked", "oplevet-sundhed", "fysisk-tryghed", "oekonomisk-tryghed", "kriminalitet",
    "deltagelse", "mix-dagtilbud", "mix-skole", "mix-sfo", "beboernes-oplevelse", "omverdenens-oplevelse",
    "ressourcestaerke", "brug-af-omraadet",
)


def generate_world(seed: int, *, planted: bool = True, delivery: str = "evaluation") -> World:
    """Generate Kærbæk's delivery in memory (see :func:`write_world`)."""
    if delivery not in DELIVERIES:
        raise ValueError(f"delivery must be one of {DELIVERIES}, not {delivery!r}")
    rng = np.random.default_rng(seed)
    params = _params()
    effects = _planted_columns(params, planted)
    areas = _areas(rng)
    panel = _population(rng, areas)
    persons = _persons(rng, panel)
    employment_effect = np.array([effects.get(key, {}).get("employed", 0.0) for key in GROUPS])
    register, reg_probs = _register(rng, panel, persons, areas, employment_effect)
    survey, survey_probs = _survey(rng, register, areas, _questions(params), effects)
    district = np.array(["", *DISTRICTS], dtype=object)[areas["g"].to_numpy()]
    tables = {
        "areas": areas.assign(district=district)[["area_id", "area_name", "district"]],
        "register": register,
        "survey": survey,
        "institutions": _institutions(rng, register, panel, persons, areas),
        "visitors": _visitors(rng, areas),
    }
    world = World(tables, params, _truth(params, planted, reg_probs, survey_probs))
    if delivery == "evaluation":
        return world
    extra = np.random.default_rng([seed, 13])  # a stream of its own: the default delivery is unchanged
    world = _with_contract_extras(extra, world, areas, _questions(params), effects)
    return _two_districts(extra, world, areas) if delivery == "two_districts" else world


# --- contract-valid extras (delivery="full") -----------------------------------------------------


def _empty_education(rng: np.random.Generator, register: pd.DataFrame) -> pd.DataFrame:
    """Empty education in every row of ~2 % of persons (5 % of non-Western origin): unknown abroad."""
    first = register.drop_duplicates("person_id")
    rate = np.where(first["origin"].to_numpy() == "non_western", 0.05, 0.02)
    unknown = set(first["person_id"].to_numpy()[rng.random(len(first)) < rate])
    education = register["education"].to_numpy(dtype=object).copy()
    education[register["person_id"].isin(unknown).to_numpy()] = None
    return register.assign(education=education)


def _sampling_rates(register: pd.DataFrame, group_of_area: pd.Series, wave: int) -> np.ndarray:
    """Inclusion probability per group code: 80 % in the districts, 2,400 of the rest's adults."""
    adults = register[(register["year"] == wave) & (register["age"] >= 18)]
    n_rest = int((group_of_area.loc[adults["area_id"]].to_numpy() == 0).sum())
    return np.array([2400 / n_rest] + [0.8] * len(DISTRICTS))


def _extra_sample(rng: np.random.Generator, pop: pd.DataFrame, g: np.ndarray, rate: np.ndarray, wave: int,
                  questions: list[str], planted: dict) -> pd.DataFrame:
    """Survey rows for ``pop`` sampled at ``rate`` (per row), answered like everyone else."""
    take = rng.random(len(pop)) < rate
    pop, g, rate = pop[take].reset_index(drop=True), g[take], rate[take]
    p_top, _ = _top_box_probabilities(pop, g, wave, questions, planted)
    return pd.DataFrame({
        "person_id": pop["person_id"].to_numpy(), "wave": wave,
        "sample_group": np.where(g == 0, "comparison", "district"), "area_id": pop["area_id"].to_numpy(),
        "design_weight": 1 / rate, "responded": rng.random(len(pop)) < _response_probability(pop, g),
        **{q: _likert(rng, p_top[q]) for q in questions},
    })


def _without_register_row(register: pd.DataFrame, wave: int) -> pd.DataFrame:
    """Adults with no register row in ``wave`` but one the year after (moved in after 1 January),
    or for the last register year one the year before; age as it was (or will be) in the wave."""
    in_wave = set(register.loc[register["year"] == wave, "person_id"])
    other = wave + 1 if wave < YEARS[-1] else wave - 1
    rows = register[(register["year"] == other) & ~register["person_id"].isin(in_wave)]
    rows = rows.assign(age=rows["age"] - (other - wave), year=wave)
    return rows[rows["age"] >= 18].reset_index(drop=True)


def _with_contract_extras(rng: np.random.Generator, world: World, areas: pd.DataFrame, questions: list[str],
                          planted: dict) -> World:
    """The features the contract allows and the default delivery leaves out (module docstring)."""
    register = world.tables["register"]
    group_of_area = pd.Series(areas["g"].to_numpy(), index=areas["area_id"])
    frames = []
    for wave in (BASELINE, FOLLOWUP):
        rates = _sampling_rates(register, group_of_area, wave)
        young = register[(register["year"] == wave) & register["age"].between(16, 17)].reset_index(drop=True)
        movers = _without_register_row(register, wave)
        movers = movers[rng.random(len(movers)) < 0.2]  # a fifth of them are on the sampling frame
        for pop in (young, movers):
            g = group_of_area.loc[pop["area_id"]].to_numpy()
            frames.append(_extra_sample(rng, pop, g, rates[g], wave, questions, planted))
    extras = _blank_answers(rng, pd.concat(frames, ignore_index=True), questions)
    survey = _no_respondents_in_a_class(pd.concat([world.tables["survey"], extras], ignore_index=True), register,
                                        group_of_area, questions)
    tables = {**world.tables, "register": _empty_education(rng, register), "survey": survey}
    return World(tables, world.params, world.truth, "full")


def _no_respondents_in_a_class(survey: pd.DataFrame, register: pd.DataFrame, group_of_area: pd.Series,
                               questions: list[str]) -> pd.DataFrame:
    """Every sampled western-origin resident of 67+ in Søholm Vænge does not respond."""
    background = register[["person_id", "year", "age", "origin"]].rename(columns={"year": "wave"})
    rows = survey[["person_id", "wave"]].merge(background, on=["person_id", "wave"], how="left")
    g = group_of_area.loc[survey["area_id"]].to_numpy()
    silent = ((g == GROUPS.index("soeholm-vaenge")) & (rows["origin"] == "western").to_numpy()
              & (rows["age"] >= 67).to_numpy())
    survey = survey.copy()
    survey.loc[silent, "responded"] = False
    survey.loc[silent, questions] = np.nan
    return survey


# --- the two-district municipality (delivery="two_districts") -------------------------------------


def _two_district_params(params: dict) -> dict:
    """Its own parameter file: two districts and 14 indicators renumbered 1-14."""
    raw = {**params}
    keep = {key: number for number, key in enumerate(TWO_DISTRICT_INDICATORS, start=1)}
    goals = []
    for goal in params["effect_goals"]:
        themes = []
        for theme in goal["themes"]:
            indicators = [{**i, "number": keep[i["key"]]} for i in theme["indicators"] if i["key"] in keep]
            if indicators:
                themes.append({**theme, "indicators": indicators})
        if themes:
            goals.append({**goal, "themes": themes})
    names = dict(DISTRICTS)
    raw.update(
        municipality={"key": "kaerbaek", "name": "Kærbæk Kommune", "inhabitants": 30000},
        districts=[{"key": k, "name": names[k][0]} for k in TWO_DISTRICTS],
        comparison_group={"name": "Resten af Kærbæk"},
        disclosure={"min_cell": 5},
        effect_goals=goals,
        ambitions={d: {k: v for k, v in params["ambitions"][d].items() if k in keep} for d in TWO_DISTRICTS},
    )
    return raw


def _two_districts(rng: np.random.Generator, world: World, areas: pd.DataFrame) -> World:
    """Blåbærhaven joins the rest; the choices of a second municipality (module docstring)."""
    params = _two_district_params(world.params)
    group_of_area = pd.Series(areas["g"].to_numpy(), index=areas["area_id"])
    soeholm, oestre = GROUPS.index("soeholm-vaenge"), GROUPS.index("oestre-aaparken")
    t = world.tables
    area_table = t["areas"].assign(district=t["areas"]["district"].where(
        t["areas"]["district"].isin(TWO_DISTRICTS), ""))

    survey = t["survey"].copy()
    g = group_of_area.loc[survey["area_id"]].to_numpy()
    survey["sample_group"] = np.where(np.isin(g, [oestre, soeholm]), "district", "comparison")
    survey = _district_residents_view_the_other(rng, survey, g, {oestre: soeholm, soeholm: oestre})
    used = {c["question"] for c in _computations(params).values() if c["kind"] == "survey_share"}
    used |= {f"q_view_{k.replace('-', '_')}" for k in TWO_DISTRICTS}
    survey = survey.drop(columns=[c for c in survey.columns if c.startswith("q_") and c not in used])

    inst = t["institutions"]
    home = t["register"][["person_id", "year", "area_id"]]
    home_g = group_of_area.loc[inst.merge(home, on=["person_id", "year"], how="left")["area_id"]].to_numpy()
    institutions = inst[~((inst["institution_type"] == "after_school").to_numpy() & (home_g == soeholm))]

    vis = t["visitors"]
    counter_g = group_of_area.loc[vis["area_id"]].to_numpy()
    late = vis.loc[counter_g == oestre, "counter_id"].drop_duplicates().iloc[-1]
    early = (vis["counter_id"] == late).to_numpy() & (vis["date"].to_numpy() < "2022-03-01")
    visitors = vis[(counter_g != soeholm) & ~early].reset_index(drop=True)
    visitors = visitors.assign(date=pd.to_datetime(visitors["date"]).dt.date)

    tables = {**t, "areas": area_table, "survey": survey.reset_index(drop=True),
              "institutions": institutions.reset_index(drop=True), "visitors": visitors}
    truth = {d: {k: v for k, v in world.truth[d].items() if k in TWO_DISTRICT_INDICATORS} for d in TWO_DISTRICTS}
    return World(tables, params, truth, "two_districts")


def _district_residents_view_the_other(rng: np.random.Generator, survey: pd.DataFrame, g: np.ndarray,
                                       other: dict[int, int]) -> pd.DataFrame:
    """District respondents answer the outside-view question about the other district, and a
    glowing one about their own (which the evaluation must ignore: it is not the outside view)."""
    survey = survey.copy()
    for home, there in other.items():
        rows = (g == home) & survey["responded"].to_numpy()
        own, view = f"q_view_{GROUPS[home].replace('-', '_')}", f"q_view_{GROUPS[there].replace('-', '_')}"
        survey.loc[rows, view] = _likert(rng, np.full(int(rows.sum()), OUTSIDE_VIEW[GROUPS[there]]))
        survey.loc[rows, own] = _likert(rng, np.full(int(rows.sum()), 0.95))
    return survey


def write_world(out_dir: str | Path, seed: int, *, planted: bool = True,
                delivery: str = "evaluation") -> tuple[Path, dict]:
    """Write Kærbæk's delivery and parameter file into ``out_dir``; return (params path, truth).

    Truth: {district key: {indicator key: {"value": float, "truth_kind": "planted" | "none"}}},
    the district-vs-rest DiD (2024 minus 2021) the evaluation should recover in expectation.
    The same seed with ``planted`` True or False uses the same random numbers, so the two worlds
    differ only by the planted effects. ``delivery``: "evaluation" (default), "full" or
    "two_districts" (module docstring); the truth of the last two ignores the extra respondents.
    """
    world = generate_world(seed, planted=planted, delivery=delivery)
    return write_tables(world, out_dir), world.truth


def write_tables(world: World, out_dir: str | Path) -> Path:
    """Write a (possibly edited) world's five tables and parameter file; return the params path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _write_danish_csv(world.tables["areas"], out_dir / "areas.csv")
    world.tables["register"].to_parquet(out_dir / "register.parquet", index=False)
    if world.delivery == "two_districts":
        _write_danish_csv(_survey_for_csv(world.tables["survey"]), out_dir / "survey.csv")
        world.tables["institutions"].to_parquet(out_dir / "institutions.parquet", index=False)
        world.tables["visitors"].to_parquet(out_dir / "visitors.parquet", index=False)
        params_path = out_dir / "kaerbaek-to-bydele.yaml"
    else:
        _write_survey_sav(world.tables["survey"], out_dir / "survey.sav")
        _write_danish_csv(world.tables["institutions"], out_dir / "institutions.csv")
        world.tables["visitors"].to_csv(out_dir / "visitors.csv", index=False)
        params_path = out_dir / "kaerbaek.yaml"
    params_path.write_text(yaml.safe_dump(world.params, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return params_path


def _survey_for_csv(survey: pd.DataFrame) -> pd.DataFrame:
    """Answers as whole numbers (empty when missing), as Excel shows them."""
    answers = [c for c in survey.columns if c.startswith("q_")]
    return survey.astype({c: "Int64" for c in answers})
