"""Unit-level frames for each indicator: one row per person (or child, or counter-day) and period.

Every indicator, whatever its source, is turned into the same long frame:

=========  ==================================================================================
group      district key, or ``"comparison"`` (rest of the municipality)
period     the year (register, institutions, visitors) or survey wave the row belongs to
y          the unit's outcome (0/1 for shares, a number for means)
weight     analysis weight (non-response weight for the survey, 1 otherwise)
cluster    unit of dependence for standard errors (person, institution or counter-week)
persons    1 when the row is one person (used for disclosure control), 0 otherwise
area       the small area the row belongs to (residence, or the counter's area)
=========  ==================================================================================

The indicator's value for a group and period is then the weighted mean of ``y`` and the
difference-in-differences is a weighted regression on the same frame, so levels and estimates
can never disagree.

A register indicator's frame has a row per person-year: millions of rows for a city. The
evaluation works on its compact form (:func:`register_units`: the same rows and values with
``group`` and ``area`` as categoricals and ``cluster`` as integer person codes, about 40 bytes a
row instead of three text values), kept while an indicator is evaluated and then released
(:func:`release_units`).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from ..config import (
    Indicator,
    InmoverShare,
    InstitutionIsolation,
    RegisterMean,
    RegisterShare,
    SurveyOutsideView,
    SurveyShare,
    VisitorMean,
)
from ..errors import RequestError
from ..groups import COMPARISON
from ..numerics.counting import distinct_integers, smallest_code_type
from .prepare import PreparedData

__all__ = ["REGISTER_COMPUTATIONS", "cluster_codes", "is_one_of", "register_column_rows", "register_units",
           "release_units", "sorted_person_codes", "unit_frame", "units_to_sum", "survey_outcome"]


def _text(values):
    """Values for a text column (``str``, or object when empty, as pandas infers from Python objects).

    Pandas strings are cast as they are: a detour through Python objects would cost more than the
    rest of the frame on a million register rows.
    """
    if isinstance(getattr(values, "dtype", None), pd.StringDtype) and len(values):
        return pd.array(values).astype("str")
    return np.asarray(values, dtype=object)


def _frame(group, period, y, weight, cluster, persons, area) -> pd.DataFrame:
    """The unit frame (columns as in the module docstring) from its columns' values."""
    return pd.DataFrame(
        {
            "group": _text(group),
            "period": np.asarray(period, dtype=np.int64),
            "y": np.asarray(y, dtype=float),
            "weight": np.asarray(weight, dtype=float),
            "cluster": _text(cluster),
            "persons": np.asarray(persons, dtype=np.int64),
            "area": _text(area),
        }
    )


def is_one_of(column: pd.Series, values: list) -> np.ndarray:
    """1.0 where ``column`` takes one of ``values`` (compared as Python objects), else 0.0.

    Strings compared with strings need no conversion to objects, which is slow for pandas strings.
    """
    if isinstance(column.dtype, pd.StringDtype) and all(isinstance(v, str) for v in values):
        return column.isin(values).to_numpy(dtype=float)
    if (isinstance(column.dtype, pd.CategoricalDtype) and all(isinstance(v, str) for v in values)
            and isinstance(column.cat.categories.dtype, pd.StringDtype)):
        # text categories (a compact register column): compared once per category, missing (-1) is none
        found = np.append(np.asarray(column.cat.categories.isin(values), dtype=float), 0.0)
        return found[column.cat.codes.to_numpy()]
    if pd.api.types.is_bool_dtype(column.dtype) and all(isinstance(v, (bool, np.bool_)) for v in values):
        # True/False compared with True/False: as objects, without making every row a Python object
        missing = column.isna().to_numpy()
        found = np.isin(column.to_numpy(dtype=bool, na_value=False), np.array(values, dtype=bool))
        return (found & ~missing).astype(float)
    return column.astype(object).isin(values).to_numpy(dtype=float)


def _in_age(frame: pd.DataFrame, age: tuple[int, int]) -> pd.Series | np.ndarray:
    """Whether each row's age lies in ``age`` (both ends included); plain integer or float ages
    (a register's millions of rows) are compared as arrays, which is what ``between`` does.
    """
    values = frame["age"]
    if isinstance(values.dtype, np.dtype) and values.dtype.kind in "iuf":
        ages = values.to_numpy()
        return (ages >= age[0]) & (ages <= age[1])
    return values.between(age[0], age[1])


def _period_map(available: Iterable[int], periods: Iterable[int] | None, latest: bool) -> dict[int, int]:
    """Map data year -> reported period. With ``latest``, a period uses the latest year <= it."""
    available = sorted(set(int(y) for y in available))
    if periods is None:
        return {y: y for y in available}
    mapping: dict[int, int] = {}
    for p in sorted(set(int(p) for p in periods)):
        if latest:
            candidates = [y for y in available if y <= p]
            if candidates and candidates[-1] not in mapping:
                mapping[candidates[-1]] = p
        elif p in available:
            mapping[p] = p
    return mapping


def _text_codes(data: PreparedData, column: str) -> tuple[np.ndarray, pd.api.extensions.ExtensionArray]:
    """A register text column as integer codes (in order of first appearance) and its distinct
    values (missing is one of them), found once.

    Rows are then taken as codes (and their text, where needed, built from the distinct values),
    which is much faster than taking text rows from a large register. 32-bit codes while the register has
    fewer than 2**31 rows (half the memory of 64-bit). The person ids' codes may come from validation
    (see ``prepare``).
    """
    key = ("text_codes", column)
    if key not in data._unit_frames:
        codes, uniques = pd.factorize(data.register[column].array, use_na_sentinel=False)
        data._unit_frames[key] = (codes.astype(np.int32) if len(codes) < 2**31 else codes, uniques)
    return data._unit_frames[key]


def _person_codes(data: PreparedData) -> np.ndarray:
    """Each register row's person as an integer code (in order of first appearance), found once."""
    return _text_codes(data, "person_id")[0]


def sorted_person_codes(data: PreparedData, rows: np.ndarray) -> np.ndarray:
    """``pd.factorize(person_id of the register rows at positions rows, sort=True)[0]``: the rows'
    persons numbered 0, 1, ... in the order of their ids, from the kept person codes (no text
    taken, hashed or sorted per call; the distinct ids are sorted once).
    """
    codes, uniques = _text_codes(data, "person_id")
    if pd.isna(uniques).any():  # not a valid register's ids: the plain way
        return pd.factorize(data.register["person_id"].take(rows), sort=True)[0]
    if ("person_rank",) not in data._unit_frames:  # each code's position among the sorted ids (None: in order)
        order = np.asarray(uniques.argsort())
        rank = None
        if not (order == np.arange(len(order))).all():
            rank = np.empty(len(order), dtype=np.int64)
            rank[order] = np.arange(len(order))
        data._unit_frames[("person_rank",)] = rank
    rank = data._unit_frames[("person_rank",)]
    chosen = codes[rows] if rank is None else rank[codes[rows]]
    dense = np.cumsum(np.bincount(chosen, minlength=len(uniques)) > 0) - 1  # numbered among the rows' persons
    return dense[chosen]


def register_column_rows(data: PreparedData, column: str, rows: np.ndarray):
    """The register column's values in the rows at positions ``rows``: a text column as a categorical
    (sorted categories; its codes found once and kept), any other as taken.
    """
    values = data.register[column]
    if isinstance(values.dtype, (pd.StringDtype, pd.CategoricalDtype)):
        return _categorical_rows(data, column, rows)
    return values.take(rows).reset_index(drop=True)


def _outcome_rows(data: PreparedData, column: pd.Series, rows: np.ndarray, comp) -> np.ndarray:
    """The outcome ``y`` of the register rows at positions ``rows``: 0/1 for a share, else the value.

    A share is :func:`is_one_of` found once per distinct value of the column (its categories, or
    False/True/missing) and looked up by the rows' codes: no text, objects or pandas rows are taken
    (comparing every row's value costs as much as finding the codes, which several indicators and
    the people estimates share).
    """
    if isinstance(comp, (RegisterShare, InmoverShare)):
        if isinstance(column.dtype, (pd.StringDtype, pd.CategoricalDtype)):
            flags = _category_flags(_categories(data, column.name)[1], comp.values)
            return np.take(flags, _category_codes(data, column.name)[rows])
        if pd.api.types.is_bool_dtype(column.dtype):
            return _bool_outcome(column, rows, comp.values)
        return is_one_of(column.take(rows), comp.values)
    if column.dtype == np.float64:  # a plain float column: taken once, not taken and then copied
        return np.take(column.to_numpy(), rows)
    return column.take(rows).astype(float).to_numpy()


def _category_flags(dtype: pd.CategoricalDtype, values: list) -> np.ndarray:
    """:func:`is_one_of` of each category of ``dtype`` and, last (code -1), of a missing value."""
    each = pd.Categorical.from_codes(np.append(np.arange(len(dtype.categories)), -1), dtype=dtype)
    return is_one_of(pd.Series(each), values)


def _bool_outcome(column: pd.Series, rows: np.ndarray, values: list) -> np.ndarray:
    """:func:`is_one_of` of a True/False column (plain or nullable) in the rows at positions ``rows``,
    found for False, True and missing once and looked up from the rows' taken booleans.
    """
    nullable = isinstance(column.dtype, pd.BooleanDtype)
    each = pd.Series([False, True, None] if nullable else [False, True], dtype=column.dtype)
    flag_false, flag_true, *flag_missing = is_one_of(each, values)
    if nullable:
        taken = np.take(column.array._data, rows)
        missing = np.take(column.array._mask, rows)
    else:
        taken, missing = np.take(column.to_numpy(), rows), None
    if flag_false == flag_true:
        y = np.full(len(rows), flag_true)
    else:
        y = (taken if flag_true else np.logical_not(taken, out=taken)).astype(float)
    if missing is not None and missing.any():
        y[missing] = flag_missing[0]
    return y


def _mapped(years: np.ndarray, mapping: dict[int, int]) -> np.ndarray:
    """``mapping[year]`` for each year (every year is one of the mapping's keys), from a table
    indexed by year (years span a few decades at most; a look-up beats a search on millions of rows).
    ``years`` is the caller's own array (rows taken from the register): when every year is its own
    period it is returned as it is, not copied.
    """
    keys = np.array(sorted(mapping), dtype=np.int64)
    if len(years) == 0:
        return np.zeros(0, dtype=np.int64)
    if all(mapping[k] == k for k in mapping):  # every year its own period (no look-up needed)
        return np.asarray(years, dtype=np.int64)
    table = np.zeros(keys[-1] - keys[0] + 1, dtype=np.int64)
    table[keys - keys[0]] = [mapping[k] for k in keys]
    return table[np.asarray(years, dtype=np.int64) - keys[0]]


def _register_rows(data: PreparedData, comp: RegisterShare | RegisterMean, periods) -> tuple[np.ndarray, np.ndarray]:
    """The register rows (positions) of a register share or mean and their reported periods."""
    reg = data.register
    usable = _usable(reg, comp)
    latest = getattr(comp, "latest_non_missing", False)
    blocks = _year_blocks(data)
    if blocks is not None:  # a register sorted by year: each year's rows counted in its block, not taken
        return _sorted_register_rows(usable, blocks, periods, latest)
    rows = np.flatnonzero(usable)
    year = reg["year"].to_numpy()[rows]
    available = distinct_integers(year)
    mapping = _period_map(available, periods, latest)
    if len(mapping) < len(available):  # else every usable row is in one of the periods
        keys = np.array(list(mapping), dtype=np.int64)  # int64 when empty too (no periods with data)
        kept = np.isin(year, keys, kind="table" if year.dtype.kind in "iu" else None)
        rows, year = rows[kept], year[kept]
    return rows, _mapped(year, mapping)


def _usable(register: pd.DataFrame, comp: RegisterShare | RegisterMean) -> np.ndarray:
    """Whether each register row is in the indicator's age band and has a value (a plain integer or
    True/False column has no missing values: it is not scanned for them).
    """
    usable = np.array(_in_age(register, comp.age), dtype=bool, copy=None)
    if not usable.flags.writeable:
        usable = usable.copy()
    values = register[comp.column]
    if not (isinstance(values.dtype, np.dtype) and values.dtype.kind in "biu"):
        usable &= values.notna().to_numpy()
    return usable


def _year_blocks(data: PreparedData) -> tuple[np.ndarray, np.ndarray] | None:
    """The register's years and where each one's rows start and end (``bounds``, one more than the
    years) when its rows are sorted by an integer year (else None), found once.
    """
    if ("year_blocks",) not in data._unit_frames:
        year = data.register["year"].to_numpy()
        blocks = None
        if year.dtype.kind in "iu" and len(year) and bool((year[1:] >= year[:-1]).all()):
            starts = np.flatnonzero(np.diff(year)) + 1
            bounds = np.concatenate([[0], starts, [len(year)]]).astype(np.int64)
            blocks = (year[bounds[:-1]].astype(np.int64), bounds)
        data._unit_frames[("year_blocks",)] = blocks
    return data._unit_frames[("year_blocks",)]


def _sorted_register_rows(usable: np.ndarray, blocks: tuple[np.ndarray, np.ndarray], periods,
                          latest: bool) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_register_rows` of a register sorted by year: the usable rows counted per year block,
    the blocks of years outside the periods cleared, and the periods repeated per block (the rows
    come in order of year, so this is each row's period as a look-up gives it).
    """
    years, bounds = blocks
    counts = np.array([np.count_nonzero(usable[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)],
                      dtype=np.int64)
    mapping = _period_map(years[counts > 0], periods, latest)
    for i, year in enumerate(years.tolist()):
        if year not in mapping and counts[i]:
            usable[bounds[i]:bounds[i + 1]] = False
            counts[i] = 0
    period = np.array([mapping.get(year, 0) for year in years.tolist()], dtype=np.int64)
    return np.flatnonzero(usable), np.repeat(period, counts)


def _inmover_rows(data: PreparedData, comp: InmoverShare, periods) -> tuple[np.ndarray, np.ndarray]:
    """The register rows of persons who live in a group's areas this year but did not last year
    (or were not here), and their periods (the year).
    """
    reg = data.register
    if ("moved_in",) not in data._unit_frames:  # the same for every in-mover indicator and period
        group = _category_codes(data, "group")  # + 1: missing is a group of its own (0), -1 is "no row"
        data._unit_frames[("moved_in",)] = _moved_in(reg, _person_codes(data), group + 1)
    moved_in = data._unit_frames[("moved_in",)]
    year = reg["year"].to_numpy()
    keep = np.asarray((year > year.min()) & _in_age(reg, comp.age) & reg[comp.column].notna().to_numpy())
    keep = keep & moved_in
    if periods is not None:
        keep = keep & reg["year"].isin(list(periods)).to_numpy()
    rows = np.flatnonzero(keep)
    return rows, reg["year"].to_numpy()[rows]


def _categories(data: PreparedData, column: str) -> tuple[np.ndarray, pd.CategoricalDtype, np.ndarray,
                                                            pd.api.extensions.ExtensionArray]:
    """A register text column's distinct values as a categorical dtype (sorted, missing left out),
    found once: ``remap`` turns the codes of :func:`_text_codes` into category codes (-1 for
    missing), ``back`` turns category codes (and -1) into them again, ``uniques`` are the distinct values.

    Every register row's category code (1 or 2 bytes a row) is kept too; the 4-byte codes of the
    text are not (except the person ids', kept anyway), which saves memory on a city's register.
    A column that is a categorical with sorted categories already (the Dataset's area and
    background codes, prepare's group) gives its own codes.
    """
    key = ("categories", column)
    if key not in data._unit_frames:
        values = data.register[column]
        if isinstance(values.dtype, pd.CategoricalDtype) and values.cat.categories.is_monotonic_increasing:
            data._unit_frames[key] = _sorted_categories(values.dtype)
            data._unit_frames[("category_codes", column)] = values.cat.codes.to_numpy()
            return data._unit_frames[key]
        if ("text_codes", column) in data._unit_frames:
            codes, uniques = _text_codes(data, column)
        else:
            codes, uniques = pd.factorize(values.array, use_na_sentinel=False)
        missing = np.asarray(pd.isna(uniques), dtype=bool)
        present = np.flatnonzero(~missing)
        order = present[np.argsort(np.asarray(uniques.take(present), dtype=object), kind="stable")]
        remap = np.full(len(uniques), -1, dtype=smallest_code_type(len(uniques)))
        remap[order] = np.arange(len(order))
        back = np.append(order, np.flatnonzero(missing)[:1]).astype(np.int64)  # -1 -> the missing value's code
        data._unit_frames[key] = (remap, pd.CategoricalDtype(pd.Index(uniques.take(order))), back, uniques)
        data._unit_frames[("category_codes", column)] = remap[codes]
    return data._unit_frames[key]


def _sorted_categories(dtype: pd.CategoricalDtype) -> tuple[np.ndarray, pd.CategoricalDtype, np.ndarray,
                                                             pd.api.extensions.ExtensionArray]:
    """:func:`_categories`' (remap, dtype, back, uniques) of a column whose codes are category codes
    already: the distinct values are the categories and missing (code -1, the last), each its own code.
    """
    n = len(dtype.categories)
    uniques = pd.array([*dtype.categories, None], dtype=dtype.categories.dtype)
    remap = np.append(np.arange(n), -1).astype(smallest_code_type(n + 1))
    back = np.append(np.arange(n), n).astype(np.int64)
    return remap, pd.CategoricalDtype(dtype.categories), back, uniques


def _category_codes(data: PreparedData, column: str) -> np.ndarray:
    """Every register row's category code of a text column (see :func:`_categories`; -1 for missing)."""
    _categories(data, column)
    return data._unit_frames[("category_codes", column)]


def _categorical_rows(data: PreparedData, column: str, rows: np.ndarray) -> pd.Categorical:
    """A register text column's values in the rows at positions ``rows``, as a categorical (integer codes)."""
    return pd.Categorical.from_codes(_category_codes(data, column)[rows], dtype=_categories(data, column)[1],
                                     validate=False)


def _compact_frame(data: PreparedData, rows: np.ndarray, period: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    """The compact register unit frame of the register rows ``rows`` (see :func:`register_units`).

    Every register row weighs 1 and is 1 person: those columns are one value seen ``n`` times (a
    read-only view), not ``n`` values, which spares a city's frame 16 bytes a row.
    """
    n = len(rows)
    return pd.DataFrame(
        {
            "group": _categorical_rows(data, "group", rows),
            "period": np.asarray(period, dtype=np.int64),
            "y": np.asarray(y, dtype=float),
            "weight": np.broadcast_to(np.float64(1.0), (n,)),
            "cluster": _person_codes(data)[rows],
            "persons": np.broadcast_to(np.int64(1), (n,)),
            "area": _categorical_rows(data, "area_id", rows),
        },
        copy=False,
    )


def _text_of(data: PreparedData, column: str, values: pd.Series):
    """The text values of a categorical column of a compact frame, as taken from the register's text."""
    _, _, back, uniques = _categories(data, column)
    return uniques.take(back[values.cat.codes.to_numpy()])


def _text_frame(data: PreparedData, compact: pd.DataFrame) -> pd.DataFrame:
    """The unit frame (text group, cluster and area) of a compact register unit frame."""
    persons = _text_codes(data, "person_id")[1].take(compact["cluster"].to_numpy())
    return _frame(_text_of(data, "group", compact["group"]), compact["period"].to_numpy(),
                  compact["y"].to_numpy(), 1.0, persons, 1, _text_of(data, "area_id", compact["area"]))


def _register_units(data: PreparedData, comp: RegisterShare | RegisterMean | InmoverShare, periods) -> pd.DataFrame:
    """The compact unit frame of a register share or mean, or an in-mover share."""
    rows, period = (_inmover_rows if isinstance(comp, InmoverShare) else _register_rows)(data, comp, periods)
    return _compact_frame(data, rows, period, _outcome_rows(data, data.register[comp.column], rows, comp))


def _respondents(data: PreparedData, columns: list[str]) -> pd.DataFrame:
    """``data.respondents[columns]``: only the columns used are selected row by row (the survey has
    a column per question).
    """
    survey = data.survey
    return survey[columns][survey["responded"]]


def _survey_units(data: PreparedData, comp: SurveyShare, periods) -> pd.DataFrame:
    resp = _respondents(data, ["stratum", "wave", comp.question, "weight", "person_id", "area_id"])
    rows = resp[resp[comp.question].notna()]
    if periods is not None:
        rows = rows[rows["wave"].isin(list(periods))]
    y = rows[comp.question].astype(int).isin(comp.values).to_numpy(dtype=float)
    return _frame(rows["stratum"], rows["wave"], y, rows["weight"], rows["person_id"], 1, rows["area_id"])


def _outside_view_units(data: PreparedData, comp: SurveyOutsideView, periods) -> pd.DataFrame:
    """Comparison respondents' view of each district: the group is the district viewed."""
    questions = [f"{comp.question_prefix}{district.code}" for district in data.params.districts]
    resp = _respondents(data, ["stratum", "wave", "weight", "person_id", "area_id", *questions])
    resp = resp[resp["stratum"] == COMPARISON]
    if periods is not None:
        resp = resp[resp["wave"].isin(list(periods))]
    parts = []
    for district in data.params.districts:
        column = f"{comp.question_prefix}{district.code}"
        rows = resp[resp[column].notna()]
        y = rows[column].astype(int).isin(comp.values).to_numpy(dtype=float)
        parts.append(_frame(district.key, rows["wave"], y, rows["weight"], rows["person_id"], 1, rows["area_id"]))
    return pd.concat(parts, ignore_index=True)


def _isolation_units(data: PreparedData, comp: InstitutionIsolation, periods) -> pd.DataFrame:
    """Per disadvantaged child: share of disadvantaged among the *other* children in the institution.

    The mean over a group's disadvantaged children is the isolation index (Massey & Denton 1988,
    excluding the child itself so a lone child does not count as isolated).
    """
    columns = ["institution_type", "year", "institution_id", "disadvantaged_home", "person_id", "group", "area_id"]
    inst = data.institutions[columns][data.institutions["institution_type"] == comp.institution_type]
    if periods is not None:
        inst = inst[inst["year"].isin(list(periods))]
    dis = inst["disadvantaged_home"].astype(bool)
    by = [inst["year"], inst["institution_id"]]
    size = inst.groupby(by)["person_id"].transform("size")
    n_dis = dis.groupby(by).transform("sum")
    rows = dis & (size > 1)
    others_share = (n_dis[rows] - 1) / (size[rows] - 1)
    sel = inst[rows]
    cluster = sel["year"].astype(str) + ":" + sel["institution_id"].astype(str)
    return _frame(sel["group"], sel["year"], others_share, 1.0, cluster, 1, sel["area_id"])


def _visitor_units(data: PreparedData, comp: VisitorMean, periods) -> pd.DataFrame:
    vis = data.visitors
    if periods is not None:
        vis = vis[vis["year"].isin(list(periods))]
    week = vis["date"].dt.isocalendar()
    cluster = vis["counter_id"].astype(str) + ":" + week["year"].astype(str) + "-" + week["week"].astype(str)
    return _frame(vis["group"], vis["year"], vis["count"], 1.0, cluster, 0, vis["area_id"])


def _moved_in(register: pd.DataFrame, person: np.ndarray | None = None,
              group: np.ndarray | None = None) -> np.ndarray:
    """Whether each register row's person lived in another group the year before, or had no row then.

    Looked up in a person x year table of group codes, which is much faster than merging the
    register with itself on (person_id, year), the register's key. ``person``: the rows' person
    codes, ``group`` the rows' group codes (non-negative, one per group, missing included), when already found.
    """
    person = pd.factorize(register["person_id"])[0] if person is None else person
    group = pd.factorize(register["group"], use_na_sentinel=False)[0] if group is None else group
    year = (register["year"] - register["year"].min()).to_numpy()
    # group_before[p, t]: person p's group code in year t - 1 (-1: no register row then), in the
    # smallest integer type that holds the codes (a city's persons x years: 1 byte each, not 8)
    span = int(year.max()) + 2
    group_before = np.full((int(person.max()) + 1) * span, -1, dtype=smallest_code_type(int(group.max()) + 1))
    cell = person.astype(np.int64) * span + year + 1  # (p, t + 1) as one flat position: faster than 2-d indexing
    group_before[cell] = group
    cell -= 1
    return group_before[cell] != group


REGISTER_COMPUTATIONS = (RegisterShare, RegisterMean, InmoverShare)  # unit frames built from the register

_BUILDERS = {
    SurveyShare: _survey_units,
    SurveyOutsideView: _outside_view_units,
    InstitutionIsolation: _isolation_units,
    VisitorMean: _visitor_units,
}


def unit_frame(data: PreparedData, indicator: Indicator, periods: Iterable[int] | None = None) -> pd.DataFrame:
    """The unit-level frame of ``indicator`` for all groups (optionally only some periods).

    A district evaluation and its report ask for the same frames several times, so each is built
    once per computation and periods and kept on ``data``. The caller gets a shallow copy: with
    copy-on-write, changing it never changes the kept frame. A register indicator's frame is
    built for each call from its compact frame (:func:`register_units`), which is kept only when
    it was kept before (a city's register frames would otherwise fill the memory).
    """
    if isinstance(indicator.computation, REGISTER_COMPUTATIONS):
        kept = set(data._unit_frames)
        frame = _text_frame(data, register_units(data, indicator, periods))
        _forget_new_compact_frames(data, kept)
        return frame
    key = _frame_key(indicator, periods)
    if key not in data._unit_frames:
        data._unit_frames[key] = _BUILDERS[type(indicator.computation)](data, indicator.computation, key[1])
    return data._unit_frames[key].copy(deep=False)


def register_units(data: PreparedData, indicator: Indicator, periods: Iterable[int] | None = None) -> pd.DataFrame:
    """The unit frame of a register indicator, compact: the rows and values of :func:`unit_frame`,
    with ``group`` and ``area`` as categoricals (sorted categories) and ``cluster`` as integer person
    codes (equal codes for equal person ids, numbered in order of first appearance in the register).

    A few bytes a row instead of three text values: grouping and selecting are fast and a
    city-size register's frames fit in memory. Built once per computation and periods and kept on
    ``data`` until :func:`release_units`; the caller gets a shallow copy.
    """
    if not isinstance(indicator.computation, REGISTER_COMPUTATIONS):
        raise RequestError(f"indicator '{indicator.key}' is not computed from the register")
    key = ("compact", *_frame_key(indicator, periods))
    if key not in data._unit_frames:
        comp = indicator.computation
        if key[2] is not None and not getattr(comp, "latest_non_missing", False):
            # each year is its own period: the rows of these periods are those of every period, in order
            data._unit_frames[key] = _rows_of_periods(register_units(data, indicator), key[2])
        else:
            data._unit_frames[key] = _register_units(data, comp, key[2])
    return data._unit_frames[key].copy(deep=False)


def _rows_of_periods(frame: pd.DataFrame, periods: tuple[int, ...]) -> pd.DataFrame:
    """The rows of a compact frame in ``periods`` (sorted), in order and newly numbered: rows sorted
    by period (a register sorted by year gives them) are copied as a block per period, others picked
    by a mask.
    """
    period = frame["period"].to_numpy()
    if len(period) and bool((period[1:] >= period[:-1]).all()):
        blocks = [(np.searchsorted(period, p, "left"), np.searchsorted(period, p, "right")) for p in periods]

        def in_blocks(values: np.ndarray) -> np.ndarray:
            return np.concatenate([values[:0]] + [values[a:b] for a, b in blocks])

        return _selected_rows(frame, in_blocks, sum(int(b - a) for a, b in blocks))
    keep = np.zeros(len(period), dtype=bool)
    for p in periods:
        keep |= period == p
    return _selected_rows(frame, lambda values: values[keep], int(np.count_nonzero(keep)))


def _selected_rows(frame: pd.DataFrame, pick, n: int) -> pd.DataFrame:
    """The compact frame of the ``n`` rows ``pick`` takes from each column's values (categoricals: from
    their codes). Columns of one value seen every row (weight, persons) stay one value seen every
    picked row: only the other columns are copied.
    """
    columns = {}
    for name, values in frame.items():
        if isinstance(values.dtype, pd.CategoricalDtype):
            columns[name] = pd.Categorical.from_codes(pick(values.cat.codes.to_numpy()), dtype=values.dtype,
                                                      validate=False)
        elif values.to_numpy().strides == (0,) and len(values):
            columns[name] = np.broadcast_to(values.to_numpy()[0], (n,))
        else:
            columns[name] = pick(values.to_numpy())
    return pd.DataFrame(columns, copy=False)


def units_to_sum(data: PreparedData, indicator: Indicator, periods: Iterable[int] | None = None, *,
                 keep: bool = True) -> pd.DataFrame:
    """The unit frame to group and sum: a register indicator's compact frame (:func:`register_units`,
    kept until :func:`release_units`; with ``keep=False`` a frame built here is not kept, as a city's
    frames would fill the memory), any other indicator's :func:`unit_frame`.
    """
    if not isinstance(indicator.computation, REGISTER_COMPUTATIONS):
        return unit_frame(data, indicator, periods)
    if keep:
        return register_units(data, indicator, periods)
    kept = set(data._unit_frames)
    units = register_units(data, indicator, periods)
    _forget_new_compact_frames(data, kept)
    return units


def _forget_new_compact_frames(data: PreparedData, kept: set) -> None:
    """Drop the compact frames kept on ``data`` that are not among the keys ``kept``."""
    for key in [k for k in data._unit_frames if k not in kept and k[0] == "compact"]:
        del data._unit_frames[key]


def release_units(data: PreparedData, indicator: Indicator) -> None:
    """Forget the kept compact frames of ``indicator`` (every period selection), to free memory."""
    computation = repr(indicator.computation)
    for key in [k for k in data._unit_frames if k[:2] == ("compact", computation)]:
        del data._unit_frames[key]


def _frame_key(indicator: Indicator, periods: Iterable[int] | None) -> tuple:
    periods = None if periods is None else sorted({int(p) for p in periods})
    return (repr(indicator.computation), None if periods is None else tuple(periods))


def cluster_codes(data: PreparedData, indicator: Indicator, periods: Iterable[int] | None = None) -> np.ndarray | None:
    """Integer codes of the ``cluster`` column of ``unit_frame(data, indicator, periods)``, row for row
    (one code per person, so equal codes mean equal clusters), or None when the frame is not built
    from the register. Grouping by them gives what grouping by the text ids gives, without hashing text.
    """
    if not isinstance(indicator.computation, REGISTER_COMPUTATIONS):
        return None
    kept = set(data._unit_frames)
    codes = register_units(data, indicator, periods)["cluster"].to_numpy()
    _forget_new_compact_frames(data, kept)
    return codes


def survey_outcome(sample: pd.DataFrame, indicator: Indicator, district_code: str | None = None) -> np.ndarray:
    """Each sampled person's 0/1 outcome for a survey indicator (NaN where there is no answer).

    For the outside view the column is the one about ``district_code``.
    """
    comp = indicator.computation
    if isinstance(comp, SurveyShare):
        column, values = comp.question, comp.values
    elif isinstance(comp, SurveyOutsideView):
        column, values = f"{comp.question_prefix}{district_code}", comp.values
    else:
        raise RequestError(f"indicator '{indicator.key}' is not a survey indicator: it has no survey outcome")
    answers = sample[column]
    answered = answers.notna().to_numpy() & sample["responded"].astype(bool).to_numpy()
    top = answers.astype("Float64").isin(values).to_numpy(dtype=bool, na_value=False)
    return np.where(answered, top.astype(float), np.nan)
