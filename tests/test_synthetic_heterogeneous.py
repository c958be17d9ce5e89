"""The heterogeneous synthetic world: districts unlike the rest, of different size, with yearly shocks.

Everything is measured from the written tables (as an analyst would see them), next to the default
world (the session's ``data/synthetic``, seed 2021) where the same measure finds nothing.

Area x year shocks are measured with a split-half covariance: each area's residents are split in
two fixed halves (by person number); person-level (binomial) noise is independent between the
halves, so the covariance of the two halves' yearly changes (after removing each year's common
change) estimates the variance of the shared area shock's change, 2 * sd^2, with no need to model
the binomial noise (which heterogeneous person risks make smaller than p(1 - p) / n). Its SE is a
jackknife over areas.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats

from evaluering.config import load_params
from evaluering.data.synthetic import PLANTED_EFFECTS, WORLDS, SyntheticDataError, generate
from evaluering.data.synthetic.settings import HETEROGENEOUS_PROFILES, HETEROGENEOUS_SHOCKS

PARAMS_FILE = Path(__file__).resolve().parents[1] / "params" / "gladsaxe.yaml"
SEED = 31
BASELINE = 2021
TABLES = ("areas", "register", "institutions", "visitors")


@pytest.fixture(scope="module")
def params():
    return load_params(PARAMS_FILE)


@pytest.fixture(scope="module")
def het_dir(params, tmp_path_factory) -> Path:
    return generate(params, tmp_path_factory.mktemp("heterogeneous") / "data", seed=SEED, world="heterogeneous")


def _read(directory: Path) -> dict:
    """Areas, register (with each person's group), institutions, visitors and truth of one dataset."""
    tables = {name: pd.read_parquet(directory / f"{name}.parquet") for name in TABLES}
    group = tables["areas"].set_index("area_id")["district"].fillna("comparison")
    tables["register"]["group"] = tables["register"]["area_id"].map(group).astype(str)
    tables["visitors"]["group"] = tables["visitors"]["area_id"].map(group).astype(str)
    tables["truth"] = json.loads((directory / "truth.json").read_text(encoding="utf-8"))
    return tables


@pytest.fixture(scope="module")
def het(het_dir) -> dict:
    return _read(het_dir)


@pytest.fixture(scope="module")
def default(synthetic_dir) -> dict:
    return _read(synthetic_dir)


# --- districts of different size, far from the rest ------------------------------------------------


def test_districts_have_different_sizes(params, het):
    reg, areas = het["register"], het["areas"]
    adults = reg[(reg["year"] == BASELINE) & (reg["age"] >= 18)]["group"].value_counts()
    n_areas = areas["district"].value_counts()
    for d in params.districts:
        profile = HETEROGENEOUS_PROFILES[d.key]
        assert abs(adults[d.key] - profile.adults) <= 0.15 * profile.adults, (d.key, adults[d.key])
        assert n_areas[d.key] == profile.n_areas
        assert het["truth"]["district_adults_baseline"][d.key] == adults[d.key]
    sizes = adults.drop("comparison")
    assert sizes.max() > 5 * sizes.min(), sizes  # ~4,000 vs ~600 adults
    assert (n_areas.max(), n_areas.min()) == (6, 2)


def _base_rates(data: dict) -> pd.DataFrame:
    """Per group: conviction rate (15+) and employment rate (30-64) over the three years up to the
    baseline, and the share of children (1-16) in institutions with a disadvantaged home at the baseline."""
    reg = data["register"]
    pre = reg[reg["year"].between(BASELINE - 2, BASELINE)]
    convicted = pre[pre["age"] >= 15].groupby("group")["convicted"].mean()
    employed = pre[pre["age"].between(30, 64)].groupby("group")["employed"].mean()
    kids = data["institutions"].merge(reg[["person_id", "year", "group"]], on=["person_id", "year"])
    disadvantaged = kids[kids["year"] == BASELINE].groupby("group")["disadvantaged_home"].mean()
    return pd.DataFrame({"convicted": convicted, "employed": employed, "disadvantaged": disadvantaged})


def test_base_rates_are_far_from_the_rest(params, het, default):
    """Convictions 2-3 times the rest's, employment ~20 points lower, ~2 times the disadvantaged children;
    the default world's districts differ from the rest in employment but hardly in convictions."""
    rates = _base_rates(het)
    rest = rates.loc["comparison"]
    for d in params.districts:
        r = rates.loc[d.key]
        assert 2.0 <= r["convicted"] / rest["convicted"] <= 3.5, (d.key, r["convicted"], rest["convicted"])
        assert -0.27 <= r["employed"] - rest["employed"] <= -0.13, (d.key, r["employed"], rest["employed"])
        assert 1.5 <= r["disadvantaged"] / rest["disadvantaged"] <= 3.0, (d.key, r["disadvantaged"])
    tame = _base_rates(default)
    assert (tame["convicted"].drop("comparison") / tame.loc["comparison", "convicted"]).max() < 1.4


# --- shocks --------------------------------------------------------------------------------------------


def split_half_shock_variance(register: pd.DataFrame, column: str, ages: tuple[int, int],
                              relative: bool) -> tuple[float, float]:
    """Variance of the area x year shock from the split-half covariance of yearly changes, and its SE.

    For an additive shock this estimates sd^2; for a multiplicative one (relative=True) the variance
    of the multiplier, var(m) = exp(sd^2) - 1, as the ratio of the summed covariances to the summed
    squared area levels. Jackknife SE over areas.
    """
    reg = register[register["age"].between(*ages) & register[column].notna()]
    half = reg["person_id"].str[1:].astype(int) % 2
    means = reg[column].astype(float).groupby([reg["area_id"], half, reg["year"]]).mean().unstack()
    change = means.diff(axis=1).iloc[:, 1:].dropna(axis=1, how="all")  # election years only for 'voted'
    change = change - change.groupby(level=1).transform("mean")  # each half's common change of the year
    cov = (change.xs(0, level=1) * change.xs(1, level=1)).mean(axis=1) / 2
    scale = (reg.groupby("area_id")[column].mean().astype(float) ** 2 if relative
             else pd.Series(1.0, index=cov.index)).reindex(cov.index)
    estimate = cov.sum() / scale.sum()
    leave_out = (cov.sum() - cov) / (scale.sum() - scale)
    n = len(cov)
    return float(estimate), float(np.sqrt((n - 1) / n * ((leave_out - leave_out.mean()) ** 2).sum()))


SHOCKED = [("employed", (18, 64)), ("in_education", (18, 29)), ("convicted", (15, 120)),
           ("voted", (18, 120)), ("school_absence", (6, 16))]


@pytest.mark.parametrize("column, ages", SHOCKED)
def test_area_shocks_have_the_planted_size(het, default, column, ages):
    relative = column in HETEROGENEOUS_SHOCKS.area_relative
    sd = (HETEROGENEOUS_SHOCKS.area_relative if relative else HETEROGENEOUS_SHOCKS.area_additive)[column]
    planted = np.expm1(sd**2) if relative else sd**2
    assert het["truth"]["shocks"]["area_year_relative_sd" if relative else "area_year_additive_sd"][column] == sd
    estimate, se = split_half_shock_variance(het["register"], column, ages, relative)
    assert abs(estimate - planted) < 3 * se, (estimate, planted, se)
    none, none_se = split_half_shock_variance(default["register"], column, ages, relative)
    assert abs(none) < 3 * none_se, (none, none_se)
    if column != "in_education":  # ~150 young people per area: its shock is under 2 SE, the others' 3-8 SE
        assert estimate > 2 * se, (estimate, se)


def _did_with_shock_se(register: pd.DataFrame, column: str, ages: tuple[int, int], district: str,
                       years: tuple[int, int]) -> tuple[float, float]:
    """Raw DiD (district vs comparison) and an SE that adds the planted area x year shock variance.

    Person noise: the four group-year samples taken as independent (conservative for a panel).
    Shocks: a group-year mean holds sum_a w_a * shock_a (w_a = the area's share of the group's
    people), so it adds sum_a w_a^2 * var in each of the two years (var * level_a^2 for a shock
    that multiplies the area's level).
    """
    relative = column in HETEROGENEOUS_SHOCKS.area_relative
    sd = (HETEROGENEOUS_SHOCKS.area_relative if relative else HETEROGENEOUS_SHOCKS.area_additive)[column]
    var = np.expm1(sd**2) if relative else sd**2
    sub = register[register["age"].between(*ages) & register["year"].isin(years) & register[column].notna()
                   & register["group"].isin([district, "comparison"])]
    y = sub[column].astype(float)
    cells = y.groupby([sub["group"], sub["year"]]).agg(["mean", "var", "size"])
    means = cells["mean"]
    did = (means[district, years[1]] - means[district, years[0]]) - (
        means["comparison", years[1]] - means["comparison", years[0]])
    by_area = y.groupby([sub["group"], sub["year"], sub["area_id"]]).agg(["size", "mean"])
    weight = by_area["size"] / by_area.groupby(level=[0, 1])["size"].transform("sum")
    level2 = by_area["mean"].groupby(level="area_id").transform("mean") ** 2 if relative else 1.0
    shock_var = float((weight**2 * level2).sum() * var)
    return did, float(np.sqrt((cells["var"] / cells["size"]).sum() + shock_var))


def test_raw_dids_match_the_planted_truth_given_the_shocks(params, het):
    """Chi-square of (DiD - truth) / SE over the shocked register indicators and districts: the planted
    truth is what a DiD recovers in expectation once the area shocks are in its variance."""
    z = []
    for ind in params.indicators:
        comp = ind.computation
        if comp.kind not in ("register_share", "register_mean") or comp.column == "education":
            continue
        for d in params.districts:
            did, se = _did_with_shock_se(het["register"], comp.column, comp.age, d.key, (BASELINE, 2024))
            z.append((did - het["truth"]["effects"][d.key][ind.key]["value"]) / se)
    assert len(z) == 15
    assert np.sum(np.square(z)) < stats.chi2.ppf(0.999, len(z)), np.round(z, 2)


def _counter_residual_variance(visitors: pd.DataFrame) -> tuple[float, float]:
    """Residual variance (and df) of counters' yearly mean log counts after counter and year effects
    and a district x post-baseline effect: the counter x year shock variance (daily noise adds ~4e-5)."""
    annual = visitors.assign(year=visitors["date"].dt.year, y=np.log(visitors["count"] + 0.5)).groupby(
        ["counter_id", "group", "year"], as_index=False)["y"].mean()
    annual["district_post"] = np.where((annual["year"] > BASELINE) & (annual["group"] != "comparison"),
                                       annual["group"], "none")
    fit = smf.ols("y ~ C(counter_id) + C(year) + C(district_post, Treatment('none'))", annual).fit()
    return float(fit.mse_resid), float(fit.df_resid)


def test_counter_shocks_have_the_planted_size(het, default):
    s2, df = _counter_residual_variance(het["visitors"])
    low, high = df * s2 / stats.chi2.ppf([0.9995, 0.0005], df)  # 99.9 % interval for the variance
    assert low <= HETEROGENEOUS_SHOCKS.counter**2 <= high, (np.sqrt([s2, low, high]), HETEROGENEOUS_SHOCKS.counter)
    tame, _ = _counter_residual_variance(default["visitors"])
    assert np.sqrt(tame) < 0.02, np.sqrt(tame)  # no counter shocks: only daily noise averaged over a year


def test_institution_shocks_move_the_intake_of_disadvantaged_children(params, het, het_dir, tmp_path, monkeypatch):
    """Same seed without the institution shocks (every other draw equal): the register is identical and
    each institution's yearly share of disadvantaged children moves by a few points, every year."""
    calm = replace(WORLDS["heterogeneous"], shocks=replace(HETEROGENEOUS_SHOCKS, institution=0.0))
    monkeypatch.setitem(WORLDS, "calm-institutions", calm)
    out = generate(params, tmp_path / "calm", seed=SEED, world="calm-institutions")
    assert (out / "register.parquet").read_bytes() == (het_dir / "register.parquet").read_bytes()

    def shares(institutions: pd.DataFrame) -> pd.Series:
        return institutions.groupby(["year", "institution_id"])["disadvantaged_home"].mean()

    shift = (shares(het["institutions"]) - shares(pd.read_parquet(out / "institutions.parquet"))).dropna()
    by_year = shift.groupby(level="year").std()
    assert (by_year > 0.005).all(), by_year  # shocked in every year, before and after the baseline
    print(f"institution x year shift of the disadvantaged share: sd {shift.std():.4f}")
    assert 0.01 <= shift.std() <= 0.05, shift.std()  # 1-5 points: visible, not absurd


# --- truth, planted="none", determinism ------------------------------------------------------------------


def test_mix_truth_is_the_lever_effect(params, het):
    truth = het["truth"]
    assert (truth["world"], truth["planted"]) == ("heterogeneous", "effects")
    for d in params.districts:
        for ind in params.indicators:
            if ind.computation.kind != "institution_isolation":
                continue
            entry = truth["effects"][d.key][ind.key]
            assert entry["truth_kind"] == "planted" and np.isfinite(entry["realised"])
            levers = [truth["effects"][other.key][ind.key]["lever"]["extra_outside_share"]
                      for other in params.districts]
            if not any(levers):  # no district has a lever of this type: nothing moves the index
                assert entry["value"] == 0.0
    assert truth["effects"]["hoeje-gladsaxe"]["mix-dagtilbud"]["value"] < 0, "more children outside: less isolation"


def test_mix_truth_equals_the_change_from_switching_the_lever_off(params, het, tmp_path, monkeypatch):
    """Regenerate the same seed with Høje Gladsaxe's daycare lever at 0: the realised index DiD drops by
    exactly the truth's lever effect (the lever moves no other draw), and the truth there is 0."""
    monkeypatch.setitem(PLANTED_EFFECTS["hoeje-gladsaxe"], "mix-dagtilbud", 0.0)
    out = generate(params, tmp_path / "no-lever", seed=SEED, world="heterogeneous")
    without = json.loads((out / "truth.json").read_text(encoding="utf-8"))["effects"]["hoeje-gladsaxe"]["mix-dagtilbud"]
    with_lever = het["truth"]["effects"]["hoeje-gladsaxe"]["mix-dagtilbud"]
    assert without["value"] == 0.0
    assert with_lever["realised"] - without["realised"] == pytest.approx(with_lever["value"], abs=2e-6)  # 6 decimals


def test_no_planted_effects_gives_null_truths(params, tmp_path):
    truth = json.loads((generate(params, tmp_path / "none", seed=SEED, world="heterogeneous", planted="none")
                        / "truth.json").read_text(encoding="utf-8"))
    assert truth["planted"] == "none"
    entries = [e for per_district in truth["effects"].values() for e in per_district.values()]
    assert len(entries) == len(params.districts) * len(params.indicators)
    for entry in entries:
        assert entry["value"] == 0.0, entry
        assert all(v == 0.0 for v in entry.get("by_wave", {}).values())
        assert all(v == 0.0 for k, v in entry.get("lever", {}).items() if k != "from_year")


def test_same_seed_gives_identical_files_and_another_seed_other_data(params, het_dir, tmp_path):
    again = generate(params, tmp_path / "again", seed=SEED, world="heterogeneous")
    for name in [*TABLES, "survey", "truth"]:
        suffix = ".json" if name == "truth" else ".parquet"
        assert (again / f"{name}{suffix}").read_bytes() == (het_dir / f"{name}{suffix}").read_bytes(), name
    other = generate(params, tmp_path / "other", seed=SEED + 1, world="heterogeneous")
    assert (other / "register.parquet").read_bytes() != (het_dir / "register.parquet").read_bytes()


def test_unknown_world_or_planted_option_is_an_error(params, tmp_path):
    with pytest.raises(SyntheticDataError, match="unknown synthetic world") as caught:
        generate(params, tmp_path / "x", world="nowhere")
    assert isinstance(caught.value, ValueError)  # callers catching ValueError keep working
    with pytest.raises(SyntheticDataError, match="planted must be one of"):
        generate(params, tmp_path / "y", planted="some")
