"""Validating a municipality's data directory against the input contract, and loading it.

:func:`validate_directory` checks everything and collects every problem (it never stops at the
first), so an analyst can fix a delivery in one round. The same pass converts each column to its
contract type (:mod:`.convert`), so :func:`load_dataset` returns those typed frames without reading
anything twice. Messages never repeat person ids or values that look like CPR numbers.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd
import pyarrow

from ..config import Params
from ..errors import EvalueringError
from ..heap import with_reused_memory
from ..results import ResultDisplay
from .contract import TABLE_NAMES, ColumnSpec, TableSpec, input_contract
from .convert import Coded, clean_text, code_text, convert, final_dtype
from .dataset import Dataset, RowCodes
from .io import InputFileError, find_table_file, read_raw, stray_entries
from .lookup import isin_values
from .privacy import looks_like_cpr

__all__ = ["Problem", "ValidationReport", "DataValidationError", "validate_directory", "load_dataset"]

Severity = Literal["error", "warning"]

MAX_LISTED_ROWS = 10
MAX_LISTED_VALUES = 3

ROW_NUMBER_NOTE = "Row numbers count data rows: row 1 is the first row below the header."


# --- problems and the report -------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """One finding: where it is (file, column, data rows) and what is wrong."""

    file: str
    column: str | None
    rows: tuple[int, ...]  # 1-based data rows (header not counted), at most MAX_LISTED_ROWS kept
    n_rows: int  # how many rows are affected in all
    message: str
    severity: Severity = "error"

    def rows_text(self) -> str:
        """'rows 3, 17, 250 (+12 more)', or '' when the problem is not about particular rows."""
        if not self.rows:
            return ""
        shown = self.rows[:MAX_LISTED_ROWS]
        text = ("row " if len(shown) == 1 else "rows ") + ", ".join(str(r) for r in shown)
        more = self.n_rows - len(shown)
        return f"{text} (+{more} more)" if more > 0 else text

    def where(self, with_file: bool = True) -> str:
        """"survey.csv, column 'responded', rows 3, 17 (+2 more)" (the parts that apply)."""
        parts = [self.file] if with_file else []
        if self.column is not None:
            parts.append(f"column '{self.column}'")
        parts.append(self.rows_text())
        return ", ".join(p for p in parts if p)

    def __str__(self) -> str:
        return f"{self.where()}: {self.message}"


@dataclass(repr=False)
class ValidationReport(ResultDisplay):
    """Every problem found in one data directory, plus the typed tables the check produced.

    ``tables`` holds each table that could be read, converted to the contract's types (unreadable
    values as missing); :func:`load_dataset` hands them on only when the report is ``ok``. Shown
    (``summary()``, in JupyterLab) as one row per problem; ``to_text()`` groups them by file.
    """

    directory: Path
    problems: list[Problem] = field(default_factory=list)
    tables: dict[str, pd.DataFrame] = field(default_factory=dict, compare=False)
    person_codes: RowCodes | None = field(default=None, compare=False, repr=False)  # the register's ids, coded

    @property
    def errors(self) -> list[Problem]:
        """The problems that stop the analysis."""
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        """The problems worth a look that do not stop the analysis."""
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        """True when there are no errors (warnings do not stop the analysis)."""
        return not self.errors

    def to_frame(self) -> pd.DataFrame:
        """One row per problem (files in table order, errors first within a file)."""
        rows = [(p.severity, p.file, p.column or "", p.rows_text(), p.message)
                for problems in self._by_file().values() for p in problems]
        return pd.DataFrame(rows, columns=["severity", "file", "column", "rows", "problem"])

    def _headline(self) -> str:
        if not self.problems:
            return f"{self.directory}: no problems found."
        return (f"{self.directory}: {_count(len(self.errors), 'error')}, "
                f"{_count(len(self.warnings), 'warning')}.")

    def _notes(self) -> list[str]:
        return [ROW_NUMBER_NOTE] if self.problems else []

    def to_text(self) -> str:
        """All problems, grouped by file, errors first within each file."""
        if not self.problems:
            return self._headline()
        lines = [self._headline(), ROW_NUMBER_NOTE]
        for file, problems in self._by_file().items():
            lines += ["", file]
            lines += [f"  {p.severity.upper():8} {_prefix(p.where(with_file=False))}{p.message}"
                      for p in problems]
        return "\n".join(lines)

    __str__ = to_text

    def _by_file(self) -> dict[str, list[Problem]]:
        """Problems per file (files in table order), errors before warnings."""
        groups: dict[str, list[Problem]] = {}
        for p in self.problems:
            groups.setdefault(p.file, []).append(p)
        return {file: sorted(ps, key=lambda p: p.severity != "error") for file, ps in groups.items()}


def _prefix(where: str) -> str:
    """'where: ' to put before a message, or nothing for whole-file problems."""
    return f"{where}: " if where else ""


class DataValidationError(EvalueringError, ValueError):
    """The data directory has errors; ``.report`` holds them all, and the message lists them."""

    def __init__(self, report: ValidationReport) -> None:
        super().__init__(report.to_text())
        self.report = report


# --- entry points ------------------------------------------------------------------------------


def validate_directory(directory: str | Path, params: Params) -> ValidationReport:
    """Check every table file in ``directory`` against the contract for ``params``."""
    directory = Path(directory)
    report = ValidationReport(directory)
    if not directory.is_dir():
        reason = "is not a directory" if directory.exists() else "the data directory does not exist"
        report.problems.append(Problem(str(directory), None, (), 0, reason))
        return report
    contract = input_contract(params)
    report.problems += [Problem(name, None, (), 0, f"{why}; it is not read", "warning")
                        for name, why in stray_entries(directory, TABLE_NAMES)]
    files: dict[str, str] = {}
    distinct = DistinctValues()
    for spec in contract.values():
        file, frame, problems = _check_table_file(directory, spec, distinct)
        report.problems += problems
        if frame is not None:
            files[spec.name] = file
            report.tables[spec.name] = frame
            if spec.name == "register":
                report.person_codes = distinct.row_codes(frame, "register", "person_id")
        distinct.forget_codes(spec.name)  # the distinct values stay for the reference checks
    distinct.tables = report.tables
    report.problems += _check_references(contract, report.tables, files, distinct)
    report.problems += _check_districts(params, report.tables, files)
    report.problems += _check_survey(params, report.tables, files, distinct)
    pyarrow.default_memory_pool().release_unused()  # the checks' Arrow temporaries (a quarter GB for a city)
    return report


@with_reused_memory
def load_dataset(directory: str | Path, params: Params) -> Dataset:
    """Validate ``directory`` and return its typed tables; raise DataValidationError on any error."""
    report = validate_directory(directory, params)
    if not report.ok:
        raise DataValidationError(report)
    return Dataset(**report.tables, source_dir=Path(directory), person_codes=report.person_codes)


# --- one table ---------------------------------------------------------------------------------


class DistinctValues:
    """The distinct non-missing values of a table's column, each found once.

    A large register's person ids are looked up by several checks (the key, the survey's and the
    institutions' references); finding their distinct values is the expensive part, so it is done
    once, by the key check when it can.
    """

    def __init__(self) -> None:
        self.tables: dict[str, pd.DataFrame] = {}
        self._found: dict[tuple, object] = {}

    def remember(self, table: str, column: str, uniques) -> None:
        self._found[(table, column)] = pd.Index(uniques)

    def factorize(self, table: str, column: str, values: pd.Series) -> tuple[np.ndarray, pd.Index]:
        """``pd.factorize(values)`` of ``table.column``, done once (the CPR and the key check share it)."""
        key = ("codes", table, column)
        if key not in self._found:
            codes, uniques = pd.factorize(values)
            self._found[key] = (codes, uniques)
            self.remember(table, column, uniques)
        return self._found[key]

    def adopt(self, table: str, column: str, codes: np.ndarray, uniques: pd.Index) -> None:
        """Take ``codes``/``uniques`` as the factorisation of ``table.column`` (found by another check)."""
        self._found[("codes", table, column)] = (codes, uniques)
        self.remember(table, column, uniques)

    def row_codes(self, frame: pd.DataFrame, table: str, column: str) -> RowCodes | None:
        """The codes of ``frame[column]`` found by the checks, when complete (no missing values)."""
        found = self._found.get(("codes", table, column))
        if found is None or (found[0] < 0).any():
            return None
        codes = found[0].astype(np.int32) if len(found[0]) < 2**31 and found[0].itemsize > 4 else found[0]
        return RowCodes(frame, column, codes, found[1].array)

    def forget_codes(self, table: str) -> None:
        """Free the row codes of ``table``'s factorised columns (a register's are large)."""
        for key in [k for k in self._found if k[0] == "codes" and k[1] == table]:
            del self._found[key]

    def index(self, table: str, column: str) -> pd.Index:
        """The distinct values of ``table.column`` as an Index (for ``get_indexer`` look-ups)."""
        key = (table, column)
        if key not in self._found:
            self._found[key] = pd.Index(self.tables[table][column].dropna().unique())
        return self._found[key]


def _check_table_file(directory: Path, spec: TableSpec,
                      distinct: DistinctValues | None = None) -> tuple[str, pd.DataFrame | None, list[Problem]]:
    """Find, read and check one table; returns (file name, typed frame or None, problems)."""
    expected = f"{spec.name}.parquet, {spec.name}.csv or {spec.name}.sav"
    try:
        path = find_table_file(directory, spec.name)
        if path is None:
            return f"{spec.name}.*", None, [
                Problem(f"{spec.name}.*", None, (), 0, f"table '{spec.name}' is missing: expected {expected}")
            ]
        raw = read_raw(path, dictionaries=[c.name for c in spec.columns if c.categorical])
    except InputFileError as exc:
        return exc.file, None, [Problem(exc.file, None, (), 0, exc.reason)]
    frame, problems = _check_table(spec, raw, path.name, distinct)
    return path.name, frame, problems


def _check_table(spec: TableSpec, raw: pd.DataFrame, file: str,
                 distinct: DistinctValues | None = None) -> tuple[pd.DataFrame, list[Problem]]:
    """Column-level checks of one raw table; returns the typed frame (contract columns only).

    Text columns are factorised once (:func:`code_text`): cleaning, parsing, the allowed values
    and the CPR check look at each distinct value once, and a text key (a register's person ids)
    reuses the codes for the key check.
    """
    decimal = raw.attrs.get("decimal", ".")
    problems = _check_column_names(spec, raw, file)
    raw = raw.loc[:, ~raw.columns.duplicated()]
    distinct = DistinctValues() if distinct is None else distinct
    coded = {name: c for name in raw.columns if (c := code_text(raw[name])) is not None}
    typed: dict[str, pd.Series] = {}
    column_problems = []
    for col in spec.columns:
        if col.name in raw.columns:
            typed[col.name], col_problems = _check_column(raw[col.name], col, file, decimal, coded.get(col.name))
            column_problems += col_problems
    problems += _check_cpr(raw, file, coded)
    problems += column_problems
    for name in typed.keys() & coded.keys():
        if spec.column(name).dtype == "str":  # the typed column's distinct values, for the reference checks
            cleaned = coded[name].cleaned.dropna()  # distinct unless cleaning made two values one
            distinct.remember(spec.name, name, cleaned if coded[name].unchanged else cleaned.unique())
    _adopt_codes(spec, typed, coded, distinct)
    del coded
    frame = pd.DataFrame(typed, index=raw.index, copy=False)  # not consolidated: no copy of a register
    problems += _check_key(spec, frame, file, distinct)
    return frame, problems


def _adopt_codes(spec: TableSpec, typed: dict[str, pd.Series], coded: dict[str, Coded],
                 distinct: DistinctValues) -> None:
    """Hand the codes of text keys and references (a register's person and area ids) to the key check
    and the analysis, so the ids are hashed once.

    Only when they are the typed values' codes: every delivered id kept as it is (nothing stripped
    or emptied), so the distinct values stay distinct and the codes are -1 exactly where one is missing.
    """
    for name in dict.fromkeys([*spec.key, *spec.references]):
        found = coded.get(name)
        if found is None or spec.column(name).dtype != "str" or name not in typed:
            continue
        if found.unchanged:
            distinct.adopt(spec.name, name, found.codes, pd.Index(found.uniques))


def _check_column_names(spec: TableSpec, raw: pd.DataFrame, file: str) -> list[Problem]:
    """Missing columns are errors (with a guess at a misspelling); extra columns are warnings."""
    present = list(raw.columns)
    extra = [c for c in dict.fromkeys(present) if c not in spec.column_names]
    problems = [
        Problem(file, c, (), 0, "the column name appears more than once")
        for c in dict.fromkeys(present) if present.count(c) > 1
    ]
    for name in spec.column_names:
        if name not in present:
            guess = _close_match(name, extra)
            hint = f" (is '{guess}' a misspelling of it?)" if guess else ""
            problems.append(Problem(file, name, (), 0, f"required column is missing{hint}"))
    problems += [Problem(file, c, (), 0, "unexpected column; it is ignored", "warning") for c in extra]
    return problems


def _close_match(name: str, candidates: list[str]) -> str | None:
    """The candidate most like ``name``, ignoring case, if any is close."""
    lowered = {c.lower(): c for c in candidates}
    match = difflib.get_close_matches(name.lower(), list(lowered), n=1, cutoff=0.75)
    return lowered[match[0]] if match else None


def _check_cpr(raw: pd.DataFrame, file: str, coded: dict[str, Coded] | None = None) -> list[Problem]:
    """Any column, contract or not, holding values that look like CPR numbers refuses the file.

    ``coded``: text columns already factorised (:func:`code_text`); their distinct values are
    checked and the rows found from the codes.
    """
    problems = []
    coded = coded or {}
    for name in raw.columns:
        if name in coded:  # the distinct values, stripped (as looks_like_cpr would strip them)
            mask = coded[name].rows(looks_like_cpr(coded[name].cleaned, distinct=coded[name].unchanged).to_numpy())
        else:
            mask = looks_like_cpr(raw[name]).to_numpy()
        if mask.any():
            problems.append(_problem(
                file, name, mask,
                f"looks like CPR numbers ({_count(int(mask.sum()), 'value')}); refusing the file: "
                "replace them with pseudonymised ids",
            ))
    return problems


def _check_column(raw: pd.Series, spec: ColumnSpec, file: str, decimal: str,
                  coded: Coded | None = None) -> tuple[pd.Series, list[Problem]]:
    """Convert one column to its contract type and check emptiness, allowed values and range.

    ``coded``: the column factorised as text (:func:`code_text`), so that conversion and the
    allowed values look at each distinct value once.
    """
    values, empty, bad = convert(raw, spec.dtype, decimal, coded, spec.categorical)
    problems = []
    if bad.any():
        shown = clean_text(raw[bad])
        problems.append(_problem(file, spec.name, bad, _values_phrase(shown, spec)
                                 + " " + _unreadable_message(spec.dtype, shown, decimal)))
    if not spec.nullable and empty.any():
        problems.append(_problem(file, spec.name, empty, "empty cells; this column needs a value in every row"))
    if spec.allowed is not None:
        outside = _outside(values, spec.allowed, coded if spec.dtype == "str" else None)
        if outside.any():
            allowed = ", ".join(str(v) for v in spec.allowed) + (" (or empty)" if spec.nullable else "")
            problems.append(_problem(file, spec.name, outside,
                                     f"{_values_phrase(values[outside], spec)} not one of {allowed}"))
    if spec.minimum is not None or spec.maximum is not None:
        low = -np.inf if spec.minimum is None else spec.minimum
        high = np.inf if spec.maximum is None else spec.maximum
        outside = _mask((values < low) | (values > high))
        if outside.any():
            problems.append(_problem(file, spec.name, outside,
                                     f"{_values_phrase(values[outside], spec)} outside the allowed range "
                                     f"({_range_text(spec)})"))
    return final_dtype(values, spec), problems


def _outside(values: pd.Series, allowed: tuple, coded: Coded | None) -> np.ndarray:
    """Rows whose (non-missing) value is not one of ``allowed``; from the distinct values when coded."""
    if coded is None:
        return _mask(values.notna() & ~values.isin(allowed))
    return coded.rows(_mask(coded.cleaned.notna() & ~coded.cleaned.isin(allowed)))


def _check_key(spec: TableSpec, frame: pd.DataFrame, file: str,
               distinct: DistinctValues | None = None) -> list[Problem]:
    """Rows sharing a key (e.g. the same person_id and year) are errors; all copies are listed.

    The key's columns are turned into integer codes first (a text column factorised once, its
    distinct values kept by ``distinct`` for the reference checks; a year as its offset from the
    first year), and the codes combined into one integer per row: marking each in a table of all
    possible keys finds whether any comes twice without hashing or sorting millions of rows.
    """
    if not all(k in frame.columns for k in spec.key):
        return []
    combined = np.zeros(len(frame), dtype=np.int64)
    complete = np.ones(len(frame), dtype=bool)
    radix = 1
    for column in spec.key:
        codes, n_values = _key_codes(spec.name, column, frame[column], distinct)
        radix *= n_values + 1
        if radix >= 2**62:  # the codes would overflow: compare the columns themselves
            keys = frame[list(spec.key)]
            return _duplicate_problem(spec, file, _mask(keys.duplicated(keep=False) & keys.notna().all(axis=1)))
        combined *= n_values + 1  # in place: a register has ten million rows
        combined += codes
        complete &= codes >= 0
        del codes
    keys = combined if complete.all() else combined[complete]
    if radix <= 8 * len(frame) + 1024:  # a table of every possible key: one byte each
        seen = np.zeros(radix, dtype=bool)
        seen[keys] = True
        unique = np.count_nonzero(seen) == len(keys)
        del seen
    else:
        ordered = np.sort(keys)  # no two equal neighbours: no key twice
        unique = not (ordered[1:] == ordered[:-1]).any()
    if unique:  # the usual case
        return []
    return _duplicate_problem(spec, file, pd.Series(combined).duplicated(keep=False).to_numpy() & complete)


def _key_codes(table: str, column: str, values: pd.Series,
               distinct: DistinctValues | None) -> tuple[np.ndarray, int]:
    """(codes with -1 for missing, number of codes) of one key column.

    Plain integers over a short range (years) are their offset from the smallest; anything else
    is factorised (once, through ``distinct``).
    """
    if isinstance(values.dtype, np.dtype) and values.dtype.kind in "iu" and len(values):
        numbers = values.to_numpy()
        low, high = int(numbers.min()), int(numbers.max())
        if high - low < max(len(numbers), 1024):
            return numbers - low, high - low + 1
    codes, uniques = (pd.factorize(values) if distinct is None else distinct.factorize(table, column, values))
    return codes, len(uniques)


def _duplicate_problem(spec: TableSpec, file: str, dup: np.ndarray) -> list[Problem]:
    """The error for the rows in ``dup`` (all copies of a repeated key), if there are any."""
    if not dup.any():
        return []
    key = ", ".join(spec.key)
    return [_problem(file, None, dup, f"the same ({key}) appears in more than one row; keep one row per ({key})")]


# --- messages ----------------------------------------------------------------------------------


def _problem(file: str, column: str | None, mask: np.ndarray, message: str,
             severity: Severity = "error") -> Problem:
    """A Problem for the rows where ``mask`` is true (positions become 1-based data rows)."""
    positions = np.flatnonzero(mask)
    rows = tuple(int(p) + 1 for p in positions[:MAX_LISTED_ROWS])
    return Problem(file, column, rows, len(positions), message, severity)


def _mask(values: pd.Series | np.ndarray) -> np.ndarray:
    """A plain bool array, with missing counted as false."""
    if isinstance(values, pd.Series):
        return values.fillna(False).to_numpy(dtype=bool)
    return np.asarray(values, dtype=bool)


def _isin(values: pd.Series, reference: pd.Series | pd.Index) -> np.ndarray:
    """``values.isin(reference)`` as a bool array; pandas' own isin is slow for large string sets.

    ``reference`` may already be the Index of the distinct values (see :class:`DistinctValues`).
    """
    return isin_values(values, reference)


def _values_phrase(values: pd.Series, spec: ColumnSpec) -> str:
    """"value 'x' is" / "values 'x', 'y' (+2 others) are"; person ids and CPR-like values are never shown."""
    distinct = pd.Series(values.dropna().unique())
    n = len(distinct)
    shown = [] if spec.identifier else list(distinct[~looks_like_cpr(distinct).to_numpy()][:MAX_LISTED_VALUES])
    if not shown:
        noun = "id" if spec.identifier else "value"
        return f"1 {noun} (not shown) is" if n == 1 else f"{n} different {noun}s (not shown) are"
    listed = ", ".join(_format_value(v) for v in shown)
    others = f" (+{n - len(shown)} others)" if n > len(shown) else ""
    return f"value {listed} is" if n == 1 else f"values {listed}{others} are"


def _format_value(value: object) -> str:
    if isinstance(value, str):
        return repr(value[:40] + "..." if len(value) > 40 else value)
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _unreadable_message(dtype: str, bad: pd.Series, decimal: str) -> str:
    """The end of the sentence for values that cannot become ``dtype``."""
    if dtype == "bool":
        return "not one of true/false (1/0 and ja/nej also work)"
    if dtype == "date":
        return "not a date written YYYY-MM-DD"
    what = "a whole number" if dtype == "int" else "a number"
    if decimal == "," and bad.str.contains(".", regex=False).any():
        return (f"not {what}: this file is semicolon-separated, so decimals are written with a comma "
                "(0,25) and thousands separators are not allowed")
    if decimal == "." and bad.str.contains(",", regex=False).any():
        return f"not {what}: this file is comma-separated, so decimals are written with a point (0.25)"
    return f"not {what}"


def _range_text(spec: ColumnSpec) -> str:
    if spec.maximum is None:
        return f"at least {_format_value(spec.minimum)}"
    if spec.minimum is None:
        return f"at most {_format_value(spec.maximum)}"
    return f"{_format_value(spec.minimum)} to {_format_value(spec.maximum)}"


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# --- checks across tables ----------------------------------------------------------------------


def _check_references(contract: dict[str, TableSpec], tables: dict[str, pd.DataFrame],
                      files: dict[str, str], distinct: DistinctValues | None = None) -> list[Problem]:
    """Values that must exist in another table (area ids in areas, person ids in the register)."""
    problems = []
    for spec in contract.values():
        frame = tables.get(spec.name)
        for column, target in spec.references.items():
            target_table, target_column = target.split(".")
            other = tables.get(target_table)
            if frame is None or other is None or column not in frame or target_column not in other:
                continue
            values = frame[column]
            if distinct is None:
                unknown = values.notna().to_numpy() & ~_isin(values, other[target_column])
            else:
                reference = distinct.index(target_table, target_column)
                if _isin(pd.Series(distinct.index(spec.name, column)), reference).all():
                    continue  # every distinct value is known (a register's millions of rows not looked up)
                unknown = values.notna().to_numpy() & ~_isin(values, reference)
            if unknown.any():
                phrase = _values_phrase(values[unknown], spec.column(column))
                problems.append(_problem(
                    files[spec.name], column, unknown,
                    f"{phrase} not found in column '{target_column}' of {files[target_table]}",
                ))
    return problems


def _check_districts(params: Params, tables: dict[str, pd.DataFrame], files: dict[str, str]) -> list[Problem]:
    """Every district in the parameter file needs at least one area, or it cannot be evaluated."""
    areas = tables.get("areas")
    if areas is None or "district" not in areas:
        return []
    used = set(areas["district"].dropna())
    return [
        Problem(files["areas"], "district", (), 0,
                f"district '{d.key}' ({d.name}) from the parameter file has no areas; "
                f"set district = {d.key} for its areas")
        for d in params.districts if d.key not in used
    ]


def _check_survey(params: Params, tables: dict[str, pd.DataFrame], files: dict[str, str],
                  distinct: DistinctValues | None = None) -> list[Problem]:
    """Waves against the parameter file, answers against 'responded', persons against the register."""
    survey = tables.get("survey")
    if survey is None:
        return []
    file = files["survey"]
    problems = _check_waves(params, survey, file) if "wave" in survey else []
    if "responded" in survey:
        problems += _check_answers(params, survey, file)
    register = tables.get("register")
    if register is not None and {"person_id", "wave"} <= set(survey) and {"person_id", "year"} <= set(register):
        persons = None if distinct is None else distinct.index("register", "person_id")
        problems += _check_survey_in_register(survey, register, file, files["register"], persons)
    return problems


def _check_waves(params: Params, survey: pd.DataFrame, file: str) -> list[Problem]:
    """The baseline wave must be there; later waves may still be to come; unknown waves are errors."""
    waves = params.survey.waves
    known = params.survey.known_waves  # the next wave is welcome once it has been collected
    present = set(int(w) for w in survey["wave"].dropna().unique())
    problems = []
    unknown = _mask(survey["wave"].notna() & ~survey["wave"].isin(known))
    if unknown.any():
        extra = sorted(present - set(known))
        phrase = f"wave {extra[0]} is" if len(extra) == 1 else f"waves {', '.join(map(str, extra))} are"
        problems.append(_problem(file, "wave", unknown,
                                 f"{phrase} neither a survey wave nor the next wave in the parameter file "
                                 f"({', '.join(map(str, known))})"))
    last = max(present & set(waves), default=None)
    for wave in waves:
        if wave in present:
            continue
        if wave == params.survey.baseline_wave:
            problems.append(Problem(file, "wave", (), 0,
                                    f"the baseline wave {wave} has no rows; without it no change can be measured"))
        elif last is None or wave > last:
            problems.append(Problem(file, "wave", (), 0,
                                    f"wave {wave} from the parameter file has no rows yet; "
                                    "its results will be missing", "warning"))
        else:
            problems.append(Problem(file, "wave", (), 0,
                                    f"wave {wave} from the parameter file has no rows, although later waves do"))
    return problems


def _check_answers(params: Params, survey: pd.DataFrame, file: str) -> list[Problem]:
    """Non-respondents may not have answers; respondents without any answer are suspicious."""
    questions = [q for q in params.survey_questions if q in survey]
    if not questions:
        return []
    answered = survey[questions].notna().any(axis=1)
    responded = survey["responded"]
    problems = []
    stray = _mask(responded.eq(False) & answered)
    if stray.any():
        problems.append(_problem(file, "responded", stray,
                                 "responded is false but the row has answers; set responded to true "
                                 "or empty the answers"))
    blank = _mask(responded.eq(True) & ~answered)
    if blank.any():
        problems.append(_problem(file, "responded", blank,
                                 "responded is true but every answer is empty; these respondents add "
                                 "nothing to any indicator", "warning"))
    return problems


def _check_survey_in_register(survey: pd.DataFrame, register: pd.DataFrame, file: str,
                              register_file: str, register_persons: pd.Index | None = None) -> list[Problem]:
    """Sampled persons need a register row for year = wave, which gives their age, sex and origin.

    A warning, not an error: someone who moved in after 1 January of the wave year can rightly be
    sampled without such a row; they are left out where register characteristics are needed.
    """
    waves = survey["wave"].dropna().unique()
    in_waves = register.loc[register["year"].isin(waves), ["person_id", "year"]]
    sampled = isin_values(in_waves["person_id"], survey["person_id"])
    known = in_waves[sampled].drop_duplicates().astype({"year": "Int64"}).assign(found=True)
    pairs = survey[["person_id", "wave"]].astype({"wave": "Int64"}).rename(columns={"wave": "year"})
    found = pairs.merge(known, on=["person_id", "year"], how="left")["found"].notna().to_numpy()
    reference = register["person_id"] if register_persons is None else register_persons
    in_register = _isin(survey["person_id"], reference)
    missing = in_register & ~found & survey["wave"].notna().to_numpy()
    if not missing.any():
        return []
    return [_problem(file, "wave", missing,
                     f"no row in {register_file} for this person_id with year = wave, so age, sex and "
                     "origin at the time of the survey are unknown", "warning")]
