"""The *people* estimand on the register panel: a baseline cohort followed wherever it moves,
and a two-way fixed effects difference-in-differences on it.

``baseline_cohort`` fixes who is treated by where they lived in the baseline year (intention to
treat by baseline address) and keeps every later and earlier register year of those people, in
the district or not. ``panel_did`` fits ``y_it = a_i + l_t + b * treated_i * post_t (+ x_it'c)``
and returns ``b``. Because treatment follows the baseline address and effects in the district
follow the *current* address, the people estimate is the place effect diluted by the cohort's
exposure: baseline residents who move out lose the effect, comparison residents who move in gain
it (:func:`cohort_retention` shows the exposure).

The estimator absorbs the unit effects by (weighted) within-unit demeaning and includes the
year effects as demeaned dummies (Frisch-Waugh-Lovell: the same coefficients as
``linearmodels.PanelOLS(entity_effects=True, time_effects=True)``, but a million person-years
take about a second instead of tens of seconds). Standard errors are cluster-robust (CR1:
G/(G-1) * (N-1)/(N-K), K counting the year effects and the unit effects unless they are nested in
the clusters), by unit unless a cluster column is given. Person-level clustering treats the
people as the sample; it does not reflect that only a few districts are treated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ..columns import as_float, require_columns
from ..groups import COMPARISON
from ..numerics import COLLINEARITY_TOL, interval, twfe, within_unit_deviations, within_unit_share
from ..numerics.counting import first_appearance_codes
from ..results import ResultDisplay
from .errors import DidError

__all__ = ["PanelDidResult", "baseline_cohort", "cohort_retention", "panel_did"]


# --- the baseline cohort ------------------------------------------------------------------------


def baseline_cohort(
    register: pd.DataFrame,
    baseline_year: int,
    *,
    age: tuple[int, int] | None = None,
    district: str | None = None,
    person: str = "person_id",
    time: str = "year",
    group: str = "group",
    comparison: str = COMPARISON,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Everyone living in the municipality in ``baseline_year`` (aged ``age`` then, both ends
    included), with all their register years, wherever they live in them.

    Rows gain ``baseline_group`` (the group of the baseline address), ``baseline_age``,
    ``baseline_area`` (when the register has ``area_id``) and ``treated`` (the baseline group is
    a district). With ``district`` only that district's and the comparison group's baseline
    residents are kept and ``treated`` means "lived in ``district``". ``columns`` (optional) are
    the only columns wanted besides ``person`` and ``time``: a city's cohort then takes no others.
    """
    require_columns(register, (person, time, group, "age"), what="register", error=DidError)
    keep = {person: person, group: "baseline_group", "age": "baseline_age"}
    if "area_id" in register.columns:
        keep["area_id"] = "baseline_area"
    base = register.loc[(register[time] == baseline_year).to_numpy(), list(keep)]  # only the columns kept
    if base.empty:
        raise DidError(f"no register rows in the baseline year {baseline_year}")
    if base[person].duplicated().any():
        raise DidError(f"persons with more than one register row in {baseline_year}")
    if age is not None:
        lo, hi = age
        base = base[(base["age"] >= lo) & (base["age"] <= hi)]
    base = base.rename(columns=keep)
    ages = "" if age is None else f" aged {age[0]}-{age[1]}"
    if district is not None:  # (compared as they are: text or text categories alike)
        for g in (district, comparison):
            if not (base["baseline_group"] == g).any():
                raise DidError(f"no baseline observations for group '{g}' in {baseline_year}{ages}")
        base = base[base["baseline_group"].isin([district, comparison])]
        base["treated"] = (base["baseline_group"] == district).to_numpy(dtype=bool)
    else:
        if base.empty:
            raise DidError(f"no baseline observations in {baseline_year}{ages}")
        base["treated"] = _as_text(base["baseline_group"]) != comparison
    if columns is not None:
        base = base[[person, *(c for c in base.columns if c in columns)]]
        register = register[[c for c in register.columns if c in (person, time) or c in columns]]
    if "baseline_group" in base.columns:
        base["baseline_group"] = _as_text(base["baseline_group"])
    return _join_sorted(register, base, person, time)


def _as_text(values: pd.Series) -> pd.Series:
    """``values.astype(str)``; text categories are taken row by row (the same values, missing ones
    included, in a fraction of the time for a city's baseline residents).
    """
    if not (isinstance(values.dtype, pd.CategoricalDtype) and isinstance(values.cat.categories.dtype, pd.StringDtype)):
        return values.astype(str)  # (other categories: astype makes a missing value the text "nan")
    text = pd.array(values.cat.categories.astype(str)).take(values.cat.codes.to_numpy(), allow_fill=True)
    return pd.Series(text, index=values.index, name=values.name)


def _join_sorted(register: pd.DataFrame, base: pd.DataFrame, person: str, time: str) -> pd.DataFrame:
    """The register rows of the persons in ``base`` (one row each) with their ``base`` columns,
    sorted by person and time. Persons as non-negative integer codes (``district_cohort``) are
    looked up in a table and sorted on one integer key: a city's register in a fraction of the
    time of a merge and a two-column sort; the rows and values are the same.
    """
    codes, times = register[person], register[time]
    if not (pd.api.types.is_integer_dtype(codes.dtype) and pd.api.types.is_integer_dtype(times.dtype)
            and isinstance(codes.dtype, np.dtype) and isinstance(times.dtype, np.dtype)
            and len(base) and codes.min() >= 0 and base[person].min() >= 0
            and not set(register.columns) & set(base.columns) - {person}):  # else the merge's suffixes
        cohort = register.merge(base, on=person, how="inner", validate="many_to_one")
        return cohort.sort_values([person, time], ignore_index=True)
    codes, times = codes.to_numpy(), times.to_numpy()
    size = int(max(codes.max(), base[person].max())) + 1
    position = np.full(size, -1, dtype=np.int64)  # person code -> its row in base (-1: not in base)
    position[base[person].to_numpy()] = np.arange(len(base))
    found = position[codes]
    rows = np.flatnonzero(found >= 0)
    first = int(times.min())
    key = codes[rows].astype(np.int64, copy=False)  # person x year, in place: no more row-long temporaries
    key *= int(times.max()) - first + 1
    key += times[rows]
    key -= first
    rows = rows[_sorting_order(key)]
    extra = base.drop(columns=person).iloc[found[rows]].reset_index(drop=True)
    cohort = register.iloc[rows].reset_index(drop=True)
    return pd.concat([cohort, extra], axis=1)


def _sorting_order(key: np.ndarray) -> np.ndarray:
    """``np.argsort(key, kind="stable")`` for non-negative integer keys; distinct keys (a register's
    person x year) over a range not much larger than their number are put in order by a table
    instead of sorted.
    """
    if len(key) and int(key.max()) < 4 * len(key) + 2**20:
        slot = np.full(int(key.max()) + 1, -1, dtype=np.int64)
        slot[key] = np.arange(len(key))
        order = slot[slot >= 0]
        if len(order) == len(key):  # every key distinct: each key's row, in key order
            return order
    return np.argsort(key, kind="stable")


def cohort_retention(cohort: pd.DataFrame, *, time: str = "year", group: str = "group") -> pd.DataFrame:
    """Per year and baseline group: persons still in the register and the share of them living in
    their baseline group (the exposure that dilutes a place effect in the people estimand).
    """
    at_home = cohort[group].astype(str) == cohort["baseline_group"]
    table = at_home.groupby([cohort["baseline_group"], cohort[time]]).agg(["size", "mean"])
    return table.rename(columns={"size": "persons", "mean": "share_at_baseline_group"}).reset_index()


# --- the estimator --------------------------------------------------------------------------------


def _repeated(unit_codes: np.ndarray, time: pd.Series) -> bool:
    """Whether a (unit, time) pair occurs twice: counted on integer keys for integer times (a city's
    register panel in a fraction of the time of hashing the pairs), else pandas' ``duplicated``.
    """
    if len(unit_codes) and isinstance(time.dtype, np.dtype) and time.dtype.kind in "iu":
        t = time.to_numpy().astype(np.int64)
        span = int(t.max()) - int(t.min()) + 1
        if span * (int(unit_codes.max()) + 1) <= 4 * len(t) + 2**20:
            return bool(np.bincount(unit_codes * span + (t - t.min())).max() > 1)
    return bool(pd.DataFrame({"unit": unit_codes, "time": time.to_numpy()}).duplicated().any())


def load_panel(panel: pd.DataFrame, outcome: str, unit: str, time: str, treated: str, *,
               covariates: Sequence[str] | None = None, cluster: str | None = None,
               weights: str | None = None) -> dict[str, np.ndarray]:
    """Validated arrays of a panel: rows with a missing outcome, covariate or weight and units
    observed once are dropped; bad input raises ``DidError``.
    """
    covariates = list(covariates or [])
    needed = [outcome, unit, time, treated, *covariates, *([cluster] if cluster else []),
              *([weights] if weights else [])]
    require_columns(panel, needed, what="panel", error=DidError)
    if not pd.api.types.is_integer_dtype(panel[time]):
        raise DidError(f"'{time}' must hold integer periods (years)")
    if panel[[unit, time]].isna().any().any():
        raise DidError(f"missing values in '{unit}' or '{time}'")
    unit_codes = first_appearance_codes(panel[unit])
    if _repeated(unit_codes, panel[time]):
        raise DidError(f"several rows for the same {unit} and {time}")
    tr = panel[treated]
    if tr.dtype != bool and (tr.isna().any() or not tr.isin([0, 1]).all()):  # numpy booleans are 0/1 and never missing
        raise DidError(f"'{treated}' must be 0/1 or boolean without missing values")
    tr = tr.to_numpy(dtype=float)
    n_per_unit = np.bincount(unit_codes)
    treated_per_unit = np.bincount(unit_codes, weights=tr)
    varies = (treated_per_unit > 0) & (treated_per_unit < n_per_unit)
    if varies.any():
        examples = pd.unique(panel[unit].to_numpy()[varies[unit_codes]])[:3]
        raise DidError(f"treated must be constant within unit: '{treated}' changes within {varies.sum()} "
                         f"{unit}(s), e.g. {list(examples)}")

    y = as_float(panel[outcome], outcome, error=DidError)
    X = np.empty((len(y), 0))
    if covariates:
        X = np.column_stack([as_float(panel[c], c, error=DidError) for c in covariates])
    w = np.ones(len(y)) if weights is None else as_float(panel[weights], weights, error=DidError)
    if (w < 0).any():
        raise DidError(f"negative weights in '{weights}'")
    ok = ~np.isnan(y) & ~np.isnan(X).any(axis=1) & ~np.isnan(w) & (w > 0)
    counts = np.bincount(unit_codes[ok], minlength=len(n_per_unit))
    ok &= counts[unit_codes] > 1  # a unit seen once says nothing about change
    if not ok.any():
        raise DidError("no unit has two or more usable observations")
    everyone = bool(ok.all())
    kept_units = unit_codes if everyone else first_appearance_codes(unit_codes[ok])  # codes of codes: the same order
    if cluster:
        clusters = panel[cluster].to_numpy()[ok]
        if pd.isna(clusters).any():
            raise DidError(f"missing values in the cluster column '{cluster}'")
        cluster_codes = first_appearance_codes(clusters)
    else:  # clustered by unit: the units' codes are the clusters' (both numbered by first appearance)
        cluster_codes = kept_units
    return {
        "y": y if everyone else y[ok], "X": X[ok], "w": w if everyone else w[ok], "treated": tr[ok].astype(bool),
        "time": panel[time].to_numpy(dtype=np.int64)[ok], "unit": kept_units, "cluster": cluster_codes,
    }


# --- the two-period-block DiD ---------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class PanelDidResult(ResultDisplay):
    """Two-way fixed effects DiD on a panel: the coefficient of treated x post."""

    outcome: str
    post_start: int
    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float
    n_units: int
    n_treated_units: int
    n_obs: int
    n_clusters: int
    confidence: float = 0.95
    covariates: tuple[str, ...] = ()
    note: str | None = None  # Danish reason for the report when there is no estimate (estimate NaN)

    def to_frame(self) -> pd.DataFrame:
        """One row with every field (covariates joined by ', ')."""
        row = asdict(self)
        row["covariates"] = ", ".join(self.covariates)
        return pd.DataFrame([row])

    def _headline(self) -> str:
        what = f"{self.outcome} (TWFE DiD, post from {self.post_start})"
        if self.note is not None:
            return f"{what}: no estimate ({self.note})"
        return (f"{what}: {self.n_units:,} units ({self.n_treated_units:,} treated), {self.n_obs:,} obs, "
                f"{self.n_clusters:,} clusters; {self.confidence:.0%} CI")


NO_WITHIN_VARIATION = ("indikatoren ændrer sig ikke for de samme personer i perioden (fx ligger "
                       "uddannelsesniveauet fast for voksne); den måles derfor kun for stedet")
NO_RESIDUAL_VARIATION = ("udviklingen er den samme for alle de fulgte personer, så usikkerheden kan ikke "
                         "beregnes; der vises derfor intet estimat for de samme personer")


def panel_did(
    panel: pd.DataFrame,
    outcome: str,
    unit: str,
    time: str,
    treated: str,
    post_start: int,
    *,
    covariates: Sequence[str] | None = None,
    cluster: str | None = None,
    weights: str | None = None,
    confidence: float = 0.95,
) -> PanelDidResult:
    """DiD of ``outcome`` with unit and period fixed effects: the coefficient of
    ``treated x (time >= post_start)``.

    ``treated`` must be constant within unit (e.g. the baseline group); ``covariates`` are
    time-varying controls; standard errors are clustered by ``cluster`` (default: the unit) and
    the interval uses t with G - 1 degrees of freedom. With a balanced panel and no covariates the
    estimate equals the DiD of the four means (treated/comparison x before/after).

    When the outcome never changes within a unit (e.g. adults' education level) the coefficient is
    0 with SE 0 by construction, which is no estimate: the result then has NaN estimate, interval
    and p-value and a Danish ``note`` saying why (likewise when the SE is 0 or not finite).
    """
    data = load_panel(panel, outcome, unit, time, treated, covariates=covariates, cluster=cluster, weights=weights)
    post = data["time"] >= post_start
    for label, rows in (("treated", data["treated"]), ("comparison", ~data["treated"])):
        for when, part in ((f"before {post_start}", ~post), (f"from {post_start}", post)):
            if not (rows & part).any():
                raise DidError(f"no observations of the {label} units {when}")
    within = within_unit_deviations(data["y"], data["unit"], data["w"])  # for the fit and the check: once
    fit = twfe(data, (data["treated"] & post).astype(float)[:, None], ["treated_post"], list(covariates or []),
               y_within=within)
    estimate, se = float(fit.coef[0]), float(np.sqrt(fit.cov[0, 0]))
    note = None
    if within_unit_share(data["y"], data["unit"], data["w"], within=within) <= COLLINEARITY_TOL:
        note = NO_WITHIN_VARIATION  # the coefficient is 0 by construction, not an estimate
    elif not (np.isfinite(se) and se > 0):
        note = NO_RESIDUAL_VARIATION
    if note is None:
        low, high, p = interval(estimate, se, confidence, df=fit.df)
    else:
        estimate = se = low = high = p = float("nan")
    return PanelDidResult(
        outcome=outcome, post_start=post_start, estimate=estimate, se=se, ci_low=float(low), ci_high=float(high),
        p_value=p, n_units=fit.n_units, n_treated_units=fit.n_treated_units, n_obs=fit.n_obs,
        n_clusters=fit.n_clusters, covariates=tuple(covariates or ()), confidence=confidence, note=note,
    )
