"""Typed, validated parameters for one municipality (``params/<municipality>.yaml``).

Every key is checked: a misspelt key, a wrong type or an inconsistent value raises
:class:`ConfigError` with one message that names the file and the key path.
"""

from __future__ import annotations

from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from .errors import EvalueringError

__all__ = [
    "ConfigError",
    "Params",
    "Indicator",
    "District",
    "Monitoring",
    "load_params",
]

SLUG_PATTERN = r"^[a-z0-9]+(-[a-z0-9]+)*$"


class ConfigError(EvalueringError, ValueError):
    """A parameter file is missing, unreadable or invalid, or a key asked for is not in it.

    The models' validators raise it too; pydantic collects those, and :func:`load_params` turns
    them into one ConfigError naming the file and every key path.
    """


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


# --- indicator computations --------------------------------------------------------------------


class RegisterShare(_Strict):
    """Share of register persons in an age band whose ``column`` takes one of ``values``."""

    kind: Literal["register_share"]
    column: str
    values: list[bool | str | int]
    age: tuple[int, int]
    latest_non_missing: bool = False  # e.g. voting: use the latest year <= wave with data


class RegisterMean(_Strict):
    """Mean of a numeric register column in an age band."""

    kind: Literal["register_mean"]
    column: str
    age: tuple[int, int]


class SurveyShare(_Strict):
    """Weighted share of respondents answering one of ``values`` (top-box share)."""

    kind: Literal["survey_share"]
    question: str
    values: list[int]


class SurveyOutsideView(_Strict):
    """Comparison-group respondents' view of each district (column ``<prefix><district_code>``)."""

    kind: Literal["survey_outside_view"]
    question_prefix: str
    values: list[int]


class InstitutionIsolation(_Strict):
    """Isolation index of children from disadvantaged homes across institutions of one type."""

    kind: Literal["institution_isolation"]
    institution_type: Literal["daycare", "school", "after_school"]


class VisitorMean(_Strict):
    """Mean daily visitor count at the counters placed in the area."""

    kind: Literal["visitor_mean"]


class InmoverShare(_Strict):
    """Share of the year's in-movers (age band) whose ``column`` takes one of ``values``."""

    kind: Literal["inmover_share"]
    column: str
    values: list[bool | str | int]
    age: tuple[int, int]


Computation = Annotated[
    RegisterShare | RegisterMean | SurveyShare | SurveyOutsideView | InstitutionIsolation | VisitorMean | InmoverShare,
    Field(discriminator="kind"),
]

SOURCE_OF_KIND = {
    "register_share": "register",
    "register_mean": "register",
    "survey_share": "survey",
    "survey_outside_view": "survey",
    "institution_isolation": "institutions",
    "visitor_mean": "visitors",
    "inmover_share": "register",
}


class Indicator(_Strict):
    """One indicator: what it measures, where its data come from, how it is computed and which way is better."""

    key: str = Field(pattern=SLUG_PATTERN)
    number: int = Field(ge=1)
    name: str
    description: str
    source: Literal["register", "survey", "institutions", "visitors"]
    computation: Computation
    direction: Literal["higher_is_better", "lower_is_better"]
    unit: Literal["share", "count", "rate"]

    @model_validator(mode="after")
    def _source_matches_kind(self) -> Indicator:
        expected = SOURCE_OF_KIND[self.computation.kind]
        if self.source != expected:
            raise ConfigError(
                f"source '{self.source}' does not fit computation kind "
                f"'{self.computation.kind}' (expected source '{expected}')"
            )
        return self

    @property
    def sign(self) -> int:
        """+1 when higher is better, -1 when lower is better."""
        return 1 if self.direction == "higher_is_better" else -1


class Theme(_Strict):
    key: str = Field(pattern=SLUG_PATTERN)
    name: str
    indicators: list[Indicator] = Field(default_factory=list)  # a theme may have none yet


class EffectGoal(_Strict):
    key: str = Field(pattern=SLUG_PATTERN)
    name: str
    themes: list[Theme] = Field(min_length=1)


class District(_Strict):
    """One district of the strategy: a key (used in the data and file names) and its name."""

    key: str = Field(pattern=SLUG_PATTERN)
    name: str

    @property
    def code(self) -> str:
        """Identifier usable as a column-name suffix (SPSS forbids hyphens)."""
        return self.key.replace("-", "_")


class Municipality(_Strict):
    key: str = Field(pattern=SLUG_PATTERN)
    name: str
    inhabitants: int = Field(gt=0)


class ComparisonGroup(_Strict):
    name: str


class Strategy(_Strict):
    # the strategy's name in report titles; without it "Socialt bydelsarbejde i <municipality>"
    name: str | None = Field(default=None, min_length=1)
    vision_year: int
    strategy_year: int
    concretised_year: int
    target_year: int


class Survey(_Strict):
    waves: list[int] = Field(min_length=1)
    baseline_wave: int
    next_wave: int

    @model_validator(mode="after")
    def _waves_consistent(self) -> Survey:
        if self.waves != sorted(set(self.waves)):
            raise ConfigError("waves must be increasing and without repeats")
        if self.baseline_wave not in self.waves:
            raise ConfigError(f"baseline_wave {self.baseline_wave} is not one of the waves {self.waves}")
        if self.next_wave <= self.waves[-1]:
            raise ConfigError(f"next_wave {self.next_wave} must come after the last wave {self.waves[-1]}")
        return self

    @property
    def known_waves(self) -> list[int]:
        """The waves held so far plus the next one (data for it may already be delivered)."""
        return [*self.waves, self.next_wave]


class Register(_Strict):
    """Only the synthetic generator reads this (the first year it writes); the analysis uses
    whatever years the register table holds, so the whole section is optional.
    """

    first_year: int = Field(default=2010, ge=1980)


class Disclosure(_Strict):
    min_cell: int = Field(ge=1, description="smallest number of persons a published cell may rest on")


class Monitoring(_Strict):
    """Geographic monitoring of all small areas and the statutory deprived-area criteria
    (almenboligloven §§ 61 a-b): the national and regional reference values the criteria compare
    with, for ``reference_year``.
    """

    national_conviction_rate: float = Field(
        gt=0, lt=1, description="national share of residents 15+ convicted (criminal code, weapons, drugs)")
    regional_income: float = Field(
        gt=0, description="regional mean gross income (DKK) of 15-64-year-olds excluding students")
    reference_year: int = Field(ge=1980, description="year the reference values refer to")
    min_residents: int = Field(default=1000, ge=0, description="the law's population threshold of an area")
    trend_years: int = Field(default=3, ge=1, description="monitoring window: change over the last k years")


class Params(_Strict):
    """All parameters of one municipality's evaluation."""

    municipality: Municipality
    districts: list[District] = Field(min_length=1)
    comparison_group: ComparisonGroup
    strategy: Strategy
    survey: Survey
    register_data: Register = Field(default_factory=Register, alias="register")
    disclosure: Disclosure
    monitoring: Monitoring | None = None  # optional: without it, pass reference values explicitly
    effect_goals: list[EffectGoal] = Field(min_length=1)
    ambitions: dict[str, dict[str, float]]
    source_file: str = ""

    @field_validator("districts")
    @classmethod
    def _unique_districts(cls, districts: list[District]) -> list[District]:
        keys = [d.key for d in districts]
        dupes = sorted({k for k in keys if keys.count(k) > 1})
        if dupes:
            raise ConfigError(f"district keys repeat: {dupes}")
        return districts

    @model_validator(mode="after")
    def _cross_checks(self) -> Params:
        if self.strategy.target_year <= self.survey.baseline_wave:  # the year the ambitions are to be met
            raise ConfigError(f"strategy.target_year {self.strategy.target_year} must come after "
                             f"survey.baseline_wave {self.survey.baseline_wave}")
        keys = [i.key for i in self.indicators]
        numbers = [i.number for i in self.indicators]
        for label, values in (("indicator keys", keys), ("indicator numbers", numbers)):
            dupes = sorted({v for v in values if values.count(v) > 1})
            if dupes:
                raise ConfigError(f"{label} repeat: {dupes}")
        district_keys = {d.key for d in self.districts}
        for district, targets in self.ambitions.items():
            if district not in district_keys:
                raise ConfigError(f"ambitions.{district}: unknown district (known: {sorted(district_keys)})")
            for indicator in targets:
                if indicator not in keys:
                    raise ConfigError(f"ambitions.{district}.{indicator}: unknown indicator")
        return self

    # --- convenient views ---------------------------------------------------------------------

    @cached_property
    def indicators(self) -> list[Indicator]:
        """All indicators in effect-goal/theme order."""
        return [i for g in self.effect_goals for t in g.themes for i in t.indicators]

    def indicator(self, key: str) -> Indicator:
        """The indicator with this key; ConfigError naming the file if there is none."""
        for ind in self.indicators:
            if ind.key == key:
                return ind
        raise ConfigError(f"unknown indicator '{key}'{self._in_file()}")

    def district(self, key_or_name: str) -> District:
        """Look a district up by key ('hoeje-gladsaxe') or by name ('Høje Gladsaxe')."""
        for d in self.districts:
            if key_or_name in (d.key, d.name) or key_or_name.casefold() == d.name.casefold():
                return d
        known = ", ".join(d.key for d in self.districts)
        raise ConfigError(f"unknown district '{key_or_name}'{self._in_file()} (known: {known})")

    def theme_of(self, indicator_key: str) -> tuple[EffectGoal, Theme]:
        """The effect goal and theme an indicator belongs to; ConfigError if it is in none."""
        for goal in self.effect_goals:
            for theme in goal.themes:
                if any(i.key == indicator_key for i in theme.indicators):
                    return goal, theme
        raise ConfigError(f"unknown indicator '{indicator_key}'{self._in_file()}")

    def ambition(self, district_key: str, indicator_key: str) -> float | None:
        """The district's ambition for the indicator (a change), or None when it has none."""
        return self.ambitions.get(district_key, {}).get(indicator_key)

    def _in_file(self) -> str:
        """' in params/x.yaml' for messages, or nothing when the parameters were not read from a file."""
        return f" in {self.source_file}" if self.source_file else ""

    @property
    def survey_questions(self) -> list[str]:
        """Answer columns the survey table must carry (one per survey indicator and district)."""
        columns: list[str] = []
        for ind in self.indicators:
            comp = ind.computation
            if isinstance(comp, SurveyShare):
                columns.append(comp.question)
            elif isinstance(comp, SurveyOutsideView):
                columns.extend(f"{comp.question_prefix}{d.code}" for d in self.districts)
        return columns


def _format_location(loc: tuple[Any, ...], raw: dict[str, Any]) -> str:
    """Turn pydantic's location into a YAML key path with names instead of list indices."""
    parts: list[str] = []
    node: Any = raw
    for item in loc:
        if isinstance(item, int) and isinstance(node, list) and item < len(node):
            node = node[item]
            label = node.get("key") if isinstance(node, dict) else None
            parts.append(f"[{label}]" if label else f"[{item}]")
            continue
        if isinstance(node, dict) and item in node:
            node = node[item]
        elif not isinstance(item, int):
            node = None
        if item in SOURCE_OF_KIND:  # discriminated-union branch name, not a YAML key
            continue
        parts.append(f".{item}" if parts else str(item))
    return "".join(parts) or "(top level)"


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, except that a key given twice in one mapping is an error.

    Plain YAML keeps the last value silently, so ``min_cell: 5`` followed by ``min_cell: 1``
    would quietly lower the disclosure control.
    """

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict:
        first_line: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)):
                continue  # unhashable keys are refused by the base loader itself
            line = key_node.start_mark.line + 1
            if key in first_line:
                raise _DuplicateKey(f"line {line}: key '{key}' appears twice in the same mapping "
                                    f"(first on line {first_line[key]}); keep only one")
            first_line[key] = line
        return super().construct_mapping(node, deep=deep)


class _DuplicateKey(ConfigError):
    """Raised by the loader; turned into a ConfigError that names the file."""


def _read_yaml(path: Path) -> Any:
    """The parsed file; ConfigError naming the file for a missing file, bad encoding, bad YAML or a repeated key."""
    if not path.is_file():
        reason = "is a folder, not a parameter file" if path.is_dir() else "parameter file not found"
        raise ConfigError(f"{path}: {reason}")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}: not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}; "
                          "perhaps latin-1 or Windows-1252): save the file as UTF-8") from None
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)
    except _DuplicateKey as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML{_yaml_problem(exc)}") from None


def _yaml_problem(exc: yaml.YAMLError) -> str:
    """' on line 12, column 3: found character ...' (one line), from what PyYAML knows."""
    mark = getattr(exc, "problem_mark", None)
    where = f" on line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    problem = getattr(exc, "problem", None) or str(exc)
    return f"{where}: {' '.join(str(problem).split())}"


def load_params(path: str | Path) -> Params:
    """Read and validate a parameter file; raise ConfigError naming the file and the key."""
    path = Path(path)
    raw = _read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of keys at the top level")
    try:
        return Params.model_validate({**raw, "source_file": str(path)})
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            where = _format_location(tuple(err["loc"]), raw)
            message = err["msg"]
            if err["type"] == "extra_forbidden":
                message = "unknown key (misspelt?)"
            elif err["type"] == "missing":
                message = "required key is missing"
            lines.append(f"{path}: {where}: {message}")
        raise ConfigError("\n".join(lines)) from None
