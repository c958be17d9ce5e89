"""The input contract: the tables a municipality supplies, their columns, types and allowed values.

A data directory holds one file per table, named ``<table>.parquet``, ``<table>.csv`` or
``<table>.sav`` (SPSS, as survey firms deliver). ``docs/input-contract.md`` is the human-readable
version of this module; :func:`contract_markdown` regenerates its tables.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from ..config import Params
from ..errors import ColumnError

__all__ = ["ColumnSpec", "TableSpec", "input_contract", "TABLE_NAMES", "contract_markdown"]

DType = Literal["str", "int", "float", "bool", "date"]

SEX = ("female", "male")
ORIGIN = ("danish", "western", "non_western")
EDUCATION = ("primary", "upper_secondary", "vocational", "higher")
SAMPLE_GROUP = ("district", "comparison")
INSTITUTION_TYPE = ("daycare", "school", "after_school")
LIKERT = (1, 2, 3, 4, 5)


@dataclass(frozen=True)
class ColumnSpec:
    """One column of a table: its type, meaning, whether it may be empty and the values allowed."""

    name: str
    dtype: DType
    description: str
    nullable: bool = False
    allowed: tuple | None = None
    minimum: float | None = None
    maximum: float | None = None
    identifier: bool = False  # pseudonymised person id: never shown in any output
    # held as a pandas categorical: a few distinct texts in millions of rows (a register's area and
    # background codes); read from Parquet as dictionaries, never as ten million strings
    categorical: bool = False


@dataclass(frozen=True)
class TableSpec:
    """One table: its columns, the columns that identify a row and the columns other tables must match."""

    name: str
    description: str
    columns: tuple[ColumnSpec, ...]
    key: tuple[str, ...]  # columns that identify a row uniquely
    references: dict[str, str] = field(default_factory=dict)  # column -> "table.column" it must match

    def column(self, name: str) -> ColumnSpec:
        """The column called ``name``; ColumnError if the contract has no such column."""
        for col in self.columns:
            if col.name == name:
                return col
        raise ColumnError(f"table '{self.name}': the input contract has no column '{name}'")

    @property
    def column_names(self) -> list[str]:
        """The columns' names, in contract order."""
        return [c.name for c in self.columns]


TABLE_NAMES = ("areas", "register", "survey", "institutions", "visitors")


def _year_column(name: str, description: str) -> ColumnSpec:
    """A calendar year (or survey wave) column."""
    return ColumnSpec(name, "int", description, minimum=1980, maximum=2100)


def input_contract(params: Params) -> dict[str, TableSpec]:
    """The tables for one municipality (district keys and survey questions come from its params)."""
    district_keys = tuple(d.key for d in params.districts)
    person = ColumnSpec(
        "person_id",
        "str",
        "pseudonymised person id, never a CPR number; use a prefix such as 'P0012345' "
        "(9- or 10-digit numbers can look like CPR numbers and are refused)",
        identifier=True,
    )
    areas = TableSpec(
        "areas",
        "The municipality's small areas and the district each belongs to.",
        (
            ColumnSpec("area_id", "str", "small-area code"),
            ColumnSpec("area_name", "str", "name of the small area"),
            ColumnSpec(
                "district",
                "str",
                "district key from the parameter file; empty for areas in the rest of the municipality",
                nullable=True,
                allowed=district_keys,
            ),
        ),
        key=("area_id",),
    )
    register = TableSpec(
        "register",
        "Yearly person panel from the registers: one row per resident and year (status at 1 January "
        "for residence, during the year for outcomes).",
        (
            person,
            _year_column("year", "calendar year"),
            ColumnSpec("area_id", "str", "small area of residence", categorical=True),
            ColumnSpec("age", "int", "age in whole years", minimum=0, maximum=120),
            ColumnSpec("sex", "str", "sex", allowed=SEX, categorical=True),
            ColumnSpec("origin", "str", "origin (Danmarks Statistik's grouping)", allowed=ORIGIN, categorical=True),
            ColumnSpec(
                "education",
                "str",
                "highest completed education; empty for children under 15",
                nullable=True,
                allowed=EDUCATION,
                categorical=True,
            ),
            ColumnSpec("in_education", "bool", "enrolled in an education during the year"),
            ColumnSpec("employed", "bool", "in employment (main activity) during the year"),
            ColumnSpec(
                "income", "float", "gross personal income in DKK; empty under 15", nullable=True, minimum=0
            ),
            ColumnSpec("convicted", "bool", "convicted of a criminal-code offence during the year"),
            ColumnSpec(
                "school_absence",
                "float",
                "share of school days absent (6-16-year-olds in school); empty otherwise",
                nullable=True,
                minimum=0,
                maximum=1,
            ),
            ColumnSpec(
                "voted",
                "bool",
                "voted at the election held in the year; empty in years without an election or if not eligible",
                nullable=True,
            ),
        ),
        key=("person_id", "year"),
        references={"area_id": "areas.area_id"},
    )
    questions = tuple(
        ColumnSpec(
            q,
            "int",
            "answer on a 1-5 scale (5 = most); empty for non-respondents and skipped questions",
            nullable=True,
            allowed=LIKERT,
        )
        for q in params.survey_questions
    )
    survey = TableSpec(
        "survey",
        "The survey sample of each wave, non-respondents included, with the answers of respondents. "
        "Age, sex and origin come from the register (same person_id, year = wave).",
        (
            person,
            _year_column("wave", "survey wave (year)"),
            ColumnSpec("sample_group", "str", "'district' residents or the 'comparison' group", allowed=SAMPLE_GROUP),
            ColumnSpec("area_id", "str", "small area of residence when sampled"),
            ColumnSpec("design_weight", "float",
                       "inverse of the inclusion probability; at most the municipality's inhabitants "
                       "(parameter municipality.inhabitants): one sampled person cannot stand for more "
                       "persons than live there, so a larger weight is a data error",
                       minimum=1, maximum=params.municipality.inhabitants),
            ColumnSpec("responded", "bool", "answered the questionnaire"),
            *questions,
        ),
        key=("person_id", "wave"),
        references={"area_id": "areas.area_id", "person_id": "register.person_id"},
    )
    institutions = TableSpec(
        "institutions",
        "Children's daycare, school and after-school institution per year.",
        (
            person,
            _year_column("year", "calendar year"),
            ColumnSpec("institution_type", "str", "kind of institution", allowed=INSTITUTION_TYPE),
            ColumnSpec("institution_id", "str", "institution code"),
            ColumnSpec(
                "disadvantaged_home",
                "bool",
                "child from a disadvantaged home (no parent in work or education, as the municipality defines it)",
            ),
        ),
        key=("person_id", "year", "institution_type"),
        references={"person_id": "register.person_id"},
    )
    visitors = TableSpec(
        "visitors",
        "Daily counts from visitor counters (people passing).",
        (
            ColumnSpec("counter_id", "str", "counter code"),
            ColumnSpec("area_id", "str", "small area the counter stands in"),
            ColumnSpec("date", "date", "day of the count (YYYY-MM-DD)"),
            ColumnSpec("count", "int", "people counted that day", minimum=0),
        ),
        key=("counter_id", "date"),
        references={"area_id": "areas.area_id"},
    )
    return {t.name: t for t in (areas, register, survey, institutions, visitors)}


def contract_markdown(params: Params) -> str:
    """Markdown tables describing every input table (used to write docs/input-contract.md)."""
    out: list[str] = []
    for spec in input_contract(params).values():
        out.append(f"### `{spec.name}`\n\n{spec.description}\n\nUnique key: "
                   f"{', '.join(f'`{k}`' for k in spec.key)}.\n")
        out.append("| column | type | empty allowed | allowed values | description |")
        out.append("|---|---|---|---|---|")
        for c in spec.columns:
            allowed = ", ".join(str(v) for v in c.allowed) if c.allowed else ""
            if c.minimum is not None and c.maximum is not None:
                rng = f"{c.minimum} to {c.maximum}"
            elif c.minimum is not None:
                rng = f"at least {c.minimum}"
            elif c.maximum is not None:
                rng = f"at most {c.maximum}"
            else:
                rng = ""
            if rng:
                allowed = f"{allowed} ({rng})" if allowed else rng
            out.append(f"| `{c.name}` | {c.dtype} | {'yes' if c.nullable else 'no'} | {allowed} | {c.description} |")
        if spec.references:
            refs = "; ".join(f"`{k}` must exist in `{v}`" for k, v in spec.references.items())
            out.append(f"\nReferences: {refs}.\n")
        out.append("")
    return "\n".join(out)
