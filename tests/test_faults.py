"""A corpus of bad inputs and faults, each through the command line as a user would meet it.

Every case asserts the exit code, a message naming the file, column or key, that no traceback
was printed, and that nothing the user had was lost (the delivery, an earlier report). The cases
start from one small valid delivery (the synthetic municipality with 16,000 inhabitants and a
register from 2019, ~1 MB, generated once per module) copied per case.

Exit codes (README, Commands): 0 done, 1 validate found errors / a report failed, 2 bad input or
an impossible request, 3 a bug, 130 interrupted.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from evaluering.cli import main
from evaluering.config import load_params
from notebook_files import write_notebook

ROOT = Path(__file__).resolve().parents[1]
GLADSAXE = ROOT / "params" / "gladsaxe.yaml"
NOTEBOOK_NAMES = ("district_evaluation.ipynb", "overview.ipynb", "monitoring.ipynb", "area_effects.ipynb")
INHABITANTS = 16000
PREVIOUS = "<html><body>tidligere rapport</body></html>"


# --- the valid starting point --------------------------------------------------------------------


def _small_params(raw: dict | None = None) -> dict:
    raw = raw or yaml.safe_load(GLADSAXE.read_text(encoding="utf-8"))
    raw["municipality"]["inhabitants"] = INHABITANTS
    raw["register"] = {"first_year": 2019}
    return raw


def _write_yaml(path: Path, raw: dict) -> Path:
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _notebook(folder: Path, name: str, *cells: str) -> Path:
    return write_notebook(folder / name, "wave = 0", *cells)


def _notebooks(folder: Path, *cells: str) -> Path:
    """Tiny stand-ins for the four report notebooks (a kernel start each, no analysis)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in NOTEBOOK_NAMES:
        _notebook(folder, name, *cells)
    return folder


@pytest.fixture(scope="module")
def base(tmp_path_factory) -> Path:
    from evaluering.data.synthetic import generate

    folder = tmp_path_factory.mktemp("faults")
    params_file = _write_yaml(folder / "small.yaml", _small_params())
    generate(load_params(params_file), folder / "data", seed=3)
    (folder / "data" / "truth.json").unlink()  # a municipality's delivery has none
    _notebooks(folder / "notebooks", "from IPython.display import HTML\nHTML('<p>Rapport</p>')")
    return folder


class Case:
    """One case's copy of the delivery, its parameter file, an earlier report, and the CLI."""

    def __init__(self, base: Path, tmp_path: Path, capsys) -> None:
        self.data = tmp_path / "data"
        shutil.copytree(base / "data", self.data)
        self.params = tmp_path / "params.yaml"
        shutil.copy(base / "small.yaml", self.params)
        self.notebooks = base / "notebooks"
        self.out = tmp_path / "reports"
        self.previous = self.out / "2024" / "moerkhoej.html"
        self.previous.parent.mkdir(parents=True)
        self.previous.write_text(PREVIOUS, encoding="utf-8")
        self.tmp = tmp_path
        self._capsys = capsys
        self.before: dict[str, str] = {}

    def snapshot(self) -> None:
        """Remember every file the user has, after the fault is planted."""
        self.before = _hashes(self.data, self.out, self.params)

    def cli(self, *args: str) -> tuple[int, str, str]:
        code = main([str(a) for a in args])
        captured = self._capsys.readouterr()
        return code, captured.out, captured.err

    def run(self, *extra: str) -> tuple[int, str, str]:
        return self.cli("run", "--params", self.params, "--data", self.data, "--out", self.out,
                        "--notebooks", self.notebooks, "--district", "moerkhoej", "--jobs", "1", *extra)

    def validate(self) -> tuple[int, str, str]:
        return self.cli("validate", self.data, "--params", self.params)

    def nothing_lost(self) -> None:
        assert self.previous.read_text(encoding="utf-8") == PREVIOUS
        assert _hashes(self.data, self.out, self.params) == self.before


def _hashes(*paths: Path) -> dict[str, str]:
    files = []
    for path in paths:
        files += [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file() or p.is_symlink()]
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() if p.exists() else "broken link" for p in files}


@pytest.fixture()
def case(base, tmp_path, capsys) -> Case:
    return Case(base, tmp_path, capsys)


def _no_traceback(*texts: str) -> None:
    for text in texts:
        assert "Traceback" not in text and 'File "' not in text, text


def _one_line_error(err: str) -> str:
    """The last line of stderr: the single ``evaluering: ...`` line of a refused command."""
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert lines and lines[-1].startswith("evaluering: "), err
    return lines[-1]


# --- helpers that plant data faults ------------------------------------------------------------


def _edit(table: str, change: Callable[[pd.DataFrame], pd.DataFrame | None]) -> Callable[[Path], None]:
    """Change ``<table>.parquet`` in place (``change`` edits the frame or returns a new one)."""
    def plant(data: Path) -> None:
        frame = pd.read_parquet(data / f"{table}.parquet")
        changed = change(frame)
        (frame if changed is None else changed).to_parquet(data / f"{table}.parquet", index=False)
    return plant


def _set(table: str, column: str, value, rows=(0,)) -> Callable[[Path], None]:
    def change(frame: pd.DataFrame) -> None:
        if isinstance(value, float) and pd.api.types.is_integer_dtype(frame[column]):
            frame[column] = frame[column].astype("float64")
        frame.loc[list(rows), column] = value
    return _edit(table, change)


def _csv_field(line_number: int, index: int, change: Callable[[str], str], sep: str) -> Callable[[str], str]:
    """Change one field of one line of a CSV text."""
    def edit_line(line: str) -> str:
        fields = line.split(sep)
        fields[index] = change(fields[index])
        return sep.join(fields)
    return _line_change(line_number, edit_line)


def _to_csv(table: str, text_change: Callable[[str], str] = lambda t: t, *, sep: str = ",",
            decimal: str = ".", encoding: str = "utf-8") -> Callable[[Path], None]:
    """Replace ``<table>.parquet`` by a CSV (optionally edited as text)."""
    def plant(data: Path) -> None:
        frame = pd.read_parquet(data / f"{table}.parquet")
        text = frame.to_csv(index=False, sep=sep, decimal=decimal)
        (data / f"{table}.parquet").unlink()
        (data / f"{table}.csv").write_bytes(text_change(text).encode(encoding))
    return plant


def _line_change(line_number: int, change: Callable[[str], str]) -> Callable[[str], str]:
    def edit(text: str) -> str:
        lines = text.split("\n")
        lines[line_number - 1] = change(lines[line_number - 1])
        return "\n".join(lines)
    return edit


def _drop_rows(table: str, which: Callable[[pd.DataFrame], pd.Series]) -> Callable[[Path], None]:
    return _edit(table, lambda f: f.loc[~which(f)].reset_index(drop=True))


def _rename(table: str, old: str, new: str) -> Callable[[Path], None]:
    return _edit(table, lambda f: f.rename(columns={old: new}))


def _duplicate_first_row(table: str) -> Callable[[Path], None]:
    return _edit(table, lambda f: pd.concat([f, f.iloc[[0]]], ignore_index=True))


def _first_respondent_answer(value) -> Callable[[Path], None]:
    def change(frame: pd.DataFrame) -> None:
        if isinstance(value, float):
            frame["q_health"] = frame["q_health"].astype("float64")
        row = frame.index[frame["responded"].astype(bool)][0]
        frame.loc[row, "q_health"] = value
    return _edit("survey", change)


def _answer_for_non_respondent(frame: pd.DataFrame) -> None:
    row = frame.index[~frame["responded"].astype(bool)][0]
    frame.loc[row, "q_health"] = 3


def _write_bytes(name: str, content: bytes, remove: str | None = None) -> Callable[[Path], None]:
    def plant(data: Path) -> None:
        if remove:
            (data / remove).unlink()
        (data / name).write_bytes(content)
    return plant


def _folder_as_table(data: Path) -> None:
    (data / "register.parquet").unlink()
    (data / "register.parquet").mkdir()


def _broken_link_as_table(data: Path) -> None:
    (data / "survey.parquet").unlink()
    (data / "survey.csv").symlink_to(data / "no-such-file.csv")


# (id, fault, file named, further text expected in the message)
DATA_ERRORS = [
    ("weight-1e308", _set("survey", "design_weight", 1e308), "survey.parquet",
     ["column 'design_weight'", "outside the allowed range (1 to 16000)"]),
    ("weight-above-inhabitants", _set("survey", "design_weight", INHABITANTS + 1.0), "survey.parquet",
     ["column 'design_weight'", "outside the allowed range"]),
    ("weight-infinite", _set("survey", "design_weight", np.inf), "survey.parquet",
     ["column 'design_weight'", "not a number"]),
    ("weight-below-one", _set("survey", "design_weight", 0.5), "survey.parquet",
     ["column 'design_weight'", "outside the allowed range"]),
    ("weight-empty", _set("survey", "design_weight", np.nan), "survey.parquet",
     ["column 'design_weight'", "empty cells"]),
    ("weight-1e308-danish-csv", _to_csv("survey", _csv_field(2, 4, lambda _: "1e308", ";"), sep=";", decimal=","),
     "survey.csv", ["column 'design_weight', row 1", "outside the allowed range"]),
    ("csv-first-row-two-extra-fields", _to_csv("areas", _line_change(2, lambda l: l + ",x,y")), "areas.csv",
     ["line 2 (data row 1) has 5 fields but the header has 3"]),
    ("csv-later-row-two-extra-fields", _to_csv("areas", _line_change(6, lambda l: l + ",x,y")), "areas.csv",
     ["line 6 (data row 5) has 5 fields but the header has 3"]),
    ("csv-unquoted-comma-in-name", _to_csv("areas", _line_change(3, lambda l: l.replace("Område", "Område, nord"))),
     "areas.csv", ["line 3 (data row 2) has 4 fields", "double quotes"]),
    ("csv-latin-1", _to_csv("areas", lambda t: t.replace("Område", "Område"), encoding="latin-1"), "areas.csv",
     ["not UTF-8 text"]),
    ("csv-empty-file", _write_bytes("areas.csv", b"", remove="areas.parquet"), "areas.csv", ["the file is empty"]),
    ("parquet-garbage", _write_bytes("visitors.parquet", b"PAR1 not really"), "visitors.parquet",
     ["cannot be read as a Parquet file"]),
    ("sav-garbage", _write_bytes("survey.sav", b"garbage", remove="survey.parquet"), "survey.sav",
     ["cannot be read as an SPSS file"]),
    ("table-is-a-folder", _folder_as_table, "register.parquet", ["is a folder, not a file"]),
    ("table-is-a-broken-link", _broken_link_as_table, "survey.csv", ["link to a file that does not exist"]),
    ("table-missing", lambda d: (d / "visitors.parquet").unlink(), "visitors.*", ["table 'visitors' is missing"]),
    ("age-150", _set("register", "age", 150), "register.parquet", ["column 'age', row 1", "0 to 120"]),
    ("sex-code", _set("register", "sex", "f"), "register.parquet", ["column 'sex'", "value 'f' is not one of"]),
    ("origin-code", _set("register", "origin", "dansk"), "register.parquet", ["column 'origin'", "'dansk'"]),
    ("education-code", _set("register", "education", "phd", rows=(5,)), "register.parquet",
     ["column 'education', row 6", "'phd'"]),
    ("year-1900", _set("register", "year", 1900), "register.parquet", ["column 'year'", "1980 to 2100"]),
    ("income-negative", _set("register", "income", -5.0, rows=(3,)), "register.parquet",
     ["column 'income', row 4", "at least 0"]),
    ("absence-above-one", _edit("register", lambda f: f.assign(
        school_absence=f["school_absence"].where(f["school_absence"].isna(), 1.5))),
     "register.parquet", ["column 'school_absence'", "0 to 1"]),
    ("register-duplicate-key", _duplicate_first_row("register"), "register.parquet",
     ["the same (person_id, year) appears in more than one row"]),
    ("register-missing-column-misspelt", _rename("register", "income", "incme"), "register.parquet",
     ["column 'income'", "required column is missing", "'incme'"]),
    ("register-column-name-case", _rename("register", "person_id", "Person_ID"), "register.parquet",
     ["column 'person_id'", "required column is missing", "'Person_ID'"]),
    ("survey-wave-unknown", _set("survey", "wave", 2023), "survey.parquet", ["column 'wave'", "wave 2023 is neither"]),
    ("survey-baseline-missing", _drop_rows("survey", lambda f: f["wave"] == 2021), "survey.parquet",
     ["the baseline wave 2021 has no rows"]),
    ("survey-answer-7", _first_respondent_answer(7), "survey.parquet", ["column 'q_health'", "value 7 is not one of"]),
    ("survey-answer-2.5", _first_respondent_answer(2.5), "survey.parquet", ["column 'q_health'", "whole number"]),
    ("survey-answers-of-non-respondent", _edit("survey", _answer_for_non_respondent), "survey.parquet",
     ["column 'responded'", "responded is false but the row has answers"]),
    ("survey-sample-group-code", _set("survey", "sample_group", "bydel"), "survey.parquet",
     ["column 'sample_group'", "'bydel'"]),
    ("survey-area-unknown", _set("survey", "area_id", "Z999"), "survey.parquet",
     ["column 'area_id', row 1", "'Z999' is not found in column 'area_id' of areas.parquet"]),
    ("survey-person-unknown", _set("survey", "person_id", "X0000001"), "survey.parquet",
     ["column 'person_id'", "1 id (not shown) is not found"]),
    ("survey-responded-word", _to_csv("survey", _line_change(2, lambda l: l.replace(",True,", ",maybe,", 1)
                                                             .replace(",False,", ",maybe,", 1))),
     "survey.csv", ["column 'responded', row 1", "not one of true/false"]),
    ("survey-decimal-point-in-danish-csv", _to_csv("survey", _csv_field(2, 4, lambda _: "12.5", ";"), sep=";",
                                                   decimal=","),
     "survey.csv", ["column 'design_weight', row 1", "semicolon-separated"]),
    ("institution-type-code", _set("institutions", "institution_type", "kindergarten"), "institutions.parquet",
     ["column 'institution_type'", "'kindergarten'"]),
    ("institution-person-unknown", _set("institutions", "person_id", "X0000002"), "institutions.parquet",
     ["column 'person_id'", "not found in column 'person_id' of register.parquet"]),
    ("visitors-count-not-whole", _set("visitors", "count", 1.5), "visitors.parquet",
     ["column 'count', row 1", "whole number"]),
    ("visitors-date-format", _to_csv("visitors", _csv_field(2, 2, lambda d: d.replace("-", "/"), ",")), "visitors.csv",
     ["column 'date', row 1", "YYYY-MM-DD"]),
    ("visitors-area-unknown", _set("visitors", "area_id", "Q1"), "visitors.parquet",
     ["column 'area_id'", "'Q1' is not found"]),
    ("areas-empty-id", _set("areas", "area_id", None, rows=(1,)), "areas.parquet",
     ["column 'area_id', row 2", "empty cells"]),
    ("areas-district-without-areas", _edit("areas", lambda f: f.assign(district=f["district"].mask(
        f["district"] == "moerkhoej"))), "areas.parquet", ["column 'district'", "district 'moerkhoej' (Mørkhøj)",
                                                            "has no areas"]),
    ("csv-duplicate-header", _to_csv("areas", _line_change(1, lambda l: l + ",area_name")), "areas.csv",
     ["column 'area_name'", "appears more than once"]),
]


@pytest.mark.parametrize(("fault", "file", "expected"), [pytest.param(f, file, e, id=i) for i, f, file, e in DATA_ERRORS])
def test_bad_data_is_named_and_nothing_is_rendered(case, fault, file, expected):
    fault(case.data)
    case.snapshot()
    code, out, err = case.validate()
    assert code == 1, out + err
    _no_traceback(out, err)
    assert file in out
    for text in expected:
        assert text in out, f"{text!r} not in:\n{out}"
    code, out, err = case.run()
    assert code == 2, out + err
    _no_traceback(out, err)
    assert "break the input contract; no report was changed" in _one_line_error(err)
    assert file in err
    case.nothing_lost()


# --- things in the data folder that are not tables ---------------------------------------------


def _stray_folder(data: Path) -> None:
    (data / "register_old.parquet").mkdir()
    shutil.copy(data / "register.parquet", data / "register_old.parquet" / "part-0.parquet")


def _stray_link(data: Path) -> None:
    (data / "survey_old.csv").symlink_to(data / "gone.csv")


def _stray_file(data: Path) -> None:
    shutil.copy(data / "areas.parquet", data / "areas (kopi).PARQUET")


@pytest.mark.parametrize(("plant", "name", "why"), [
    pytest.param(_stray_folder, "register_old.parquet", "is a folder, not a file", id="old-folder"),
    pytest.param(_stray_link, "survey_old.csv", "is a link to a file that does not exist", id="broken-link"),
    pytest.param(_stray_file, "areas (kopi).PARQUET", "is not one of the tables", id="copy-of-a-table"),
])
def test_entries_that_are_not_tables_are_named_by_validate_and_ignored_by_the_fingerprint(case, plant, name, why):
    from evaluering.hashing import data_hash

    clean = data_hash(case.data)
    plant(case.data)
    case.snapshot()
    code, out, err = case.validate()
    assert code == 0, out + err
    _no_traceback(out, err)
    assert f"{name}\n  WARNING  {why}; it is not read" in out
    assert data_hash(case.data) == clean  # run reads and fingerprints exactly what validate reads
    case.nothing_lost()


def test_a_stray_folder_does_not_break_run(case):
    _stray_folder(case.data)
    _stray_link(case.data)
    code, out, err = case.run()
    _no_traceback(out, err)
    assert code == 0, out + err
    assert "Mørkhøj 2024: ok" in out


def test_a_changed_upper_case_table_is_never_unchanged(case):
    """register.PARQUET was left out of the fingerprint: a stale report was kept as 'unchanged'."""
    from evaluering.hashing import data_hash

    (case.data / "register.parquet").rename(case.data / "register.PARQUET")
    code, out, err = case.run()
    assert code == 0 and "Mørkhøj 2024: ok" in out, out + err
    before = data_hash(case.data)
    frame = pd.read_parquet(case.data / "register.PARQUET")
    frame.loc[0, "income"] = 123.0
    frame.to_parquet(case.data / "register.PARQUET", index=False)
    assert data_hash(case.data) != before
    code, out, err = case.run()
    assert code == 0 and "Mørkhøj 2024: ok" in out and "unchanged" not in out, out + err


# --- parameter files ----------------------------------------------------------------------------


def _yaml_text(change: Callable[[str], str]) -> Callable[[Path], None]:
    def plant(path: Path) -> None:
        path.write_text(change(path.read_text(encoding="utf-8")), encoding="utf-8")
    return plant


def _yaml_raw(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def plant(path: Path) -> None:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
        change(raw)
        _write_yaml(path, raw)
    return plant


def _latin_1(path: Path) -> None:
    path.write_bytes(path.read_text(encoding="utf-8").encode("latin-1", errors="replace"))


def _pop(*keys: str) -> Callable[[dict], None]:
    def change(raw: dict) -> None:
        node = raw
        for key in keys[:-1]:
            node = node[key]
        del node[keys[-1]]
    return change


def _assign(value, *keys: str) -> Callable[[dict], None]:
    def change(raw: dict) -> None:
        node = raw
        for key in keys[:-1]:
            node = node[key]
        node[keys[-1]] = value
    return change


PARAM_ERRORS = [
    ("duplicate-min-cell", _yaml_text(lambda t: t.replace("  min_cell: 5\n", "  min_cell: 5\n  min_cell: 1\n")),
     ["key 'min_cell' appears twice", "line "]),
    ("duplicate-top-level-key", _yaml_text(lambda t: t + "disclosure:\n  min_cell: 1\n"),
     ["key 'disclosure' appears twice"]),
    ("duplicate-district-field", _yaml_text(lambda t: t.replace("  name: Mørkhøj\n", "  name: Mørkhøj\n  name: X\n")),
     ["key 'name' appears twice"]),
    ("latin-1", _latin_1, ["not UTF-8 text", "latin-1", "save the file as UTF-8"]),
    ("empty-file", _yaml_text(lambda t: ""), ["expected a mapping of keys at the top level"]),
    ("a-list", _yaml_text(lambda t: "- a\n- b\n"), ["expected a mapping of keys at the top level"]),
    ("tab-indent", _yaml_text(lambda t: t.replace("  min_cell: 5", "\tmin_cell: 5")), ["not valid YAML"]),
    ("min-cell-zero", _yaml_raw(_assign(0, "disclosure", "min_cell")), ["disclosure.min_cell"]),
    ("min-cell-text", _yaml_raw(_assign("fem", "disclosure", "min_cell")), ["disclosure.min_cell"]),
    ("inhabitants-negative", _yaml_raw(_assign(-5, "municipality", "inhabitants")), ["municipality.inhabitants"]),
    ("misspelt-key", _yaml_raw(_assign(5, "disclosure", "min_cel")), ["disclosure.min_cel: unknown key"]),
    ("missing-disclosure", _yaml_raw(_pop("disclosure")), ["disclosure: required key is missing"]),
    ("district-key-with-space", _yaml_raw(lambda r: r["districts"][0].update(key="høje gladsaxe")),
     ["districts[høje gladsaxe].key"]),
    ("next-wave-before-last", _yaml_raw(_assign(2020, "survey", "next_wave")), ["next_wave 2020 must come after"]),
]


@pytest.mark.parametrize(("plant", "expected"), [pytest.param(p, e, id=i) for i, p, e in PARAM_ERRORS])
@pytest.mark.parametrize("command", ["validate", "run"])
def test_bad_parameter_file_is_one_error_naming_file_and_key(case, plant, expected, command):
    plant(case.params)
    case.snapshot()
    code, out, err = case.validate() if command == "validate" else case.run()
    assert code == 2, out + err
    _no_traceback(out, err)
    assert err.startswith(f"evaluering: {case.params}: ") and len(err.strip().splitlines()) == 1, err
    for text in expected:
        assert text in err, f"{text!r} not in {err!r}"
    case.nothing_lost()


def test_parameter_file_in_use_is_named_and_the_default_is_flagged(case, monkeypatch):
    code, _, err = case.validate()
    assert code == 0 and f"Parameter file: {case.params} (Gladsaxe Kommune)" in err
    monkeypatch.chdir(case.tmp)  # no params/gladsaxe.yaml here: forgetting --params is not silent
    code, out, err = case.cli("validate", case.data)
    assert code == 2
    _no_traceback(out, err)
    assert _one_line_error(err) == ("evaluering: params/gladsaxe.yaml: parameter file not found "
                                    "(the default parameter file; give --params FILE)")
    monkeypatch.chdir(ROOT)
    code, _, err = case.cli("validate", case.data)
    assert "Parameter file: params/gladsaxe.yaml (Gladsaxe Kommune; the default, give --params FILE" in err


@pytest.mark.parametrize("plant", [
    pytest.param(_yaml_raw(_pop("register")), id="no-register-section"),
    pytest.param(_yaml_text(lambda t: "\ufeff" + t), id="byte-order-mark"),
])
def test_acceptable_parameter_files(case, plant):
    """register.first_year is only the generator's: a municipality's file may leave it out."""
    plant(case.params)
    code, out, err = case.validate()
    assert code == 0, out + err


def test_unknown_district_names_the_parameter_file(case):
    code, out, err = case.run("--district", "Søborg")
    assert code == 2
    assert _one_line_error(err) == (f"evaluering: unknown district 'Søborg' in {case.params} "
                                    "(known: hoeje-gladsaxe, vaerebro-park, moerkhoej)")


def test_dollar_in_a_district_name_draws(case):
    """A '$' in a name would start matplotlib's mathtext and break the figure."""
    import io

    import matplotlib

    matplotlib.use("Agg")
    from evaluering.report.figures import plain_text, trend_figure

    params = load_params(case.params)
    name = "Søborg $^$ Syd"
    levels = pd.DataFrame({"indicator": ["sundhed"] * 4, "group": ["x", "x", "comparison", "comparison"],
                           "period": [2021, 2024, 2021, 2024], "value": [0.5, 0.6, 0.5, 0.55], "se": [0.02] * 4})
    levels["indicator"] = "oplevet-sundhed"
    fig = trend_figure(levels, [params.indicator("oplevet-sundhed")], "x", {"x": name, "comparison": "Resten $"})
    fig.savefig(io.BytesIO(), format="png")
    assert fig.legends[0].get_texts()[0].get_text() == plain_text(name)
    assert plain_text("a $5 b") == r"a \$5 b"


# --- command-line requests that cannot be carried out ------------------------------------------


@pytest.mark.parametrize(("args", "expected"), [
    pytest.param(["--timeout", "0"], "--timeout: must be at least 1, not 0", id="timeout-0"),
    pytest.param(["--timeout", "-5"], "--timeout: must be at least 1, not -5", id="timeout-negative"),
    pytest.param(["--timeout", "ten"], "--timeout: 'ten' is not a whole number", id="timeout-text"),
    pytest.param(["--jobs", "0"], "--jobs: must be at least 1, not 0", id="jobs-0"),
    pytest.param(["--wave", "20x4"], "--wave: invalid int value", id="wave-text"),
])
def test_bad_run_options_are_refused_by_the_parser(case, args, expected):
    case.snapshot()
    code, out, err = case.run(*args)
    assert code == 2
    _no_traceback(out, err)
    assert expected in err
    case.nothing_lost()


@pytest.mark.parametrize(("args", "expected"), [
    pytest.param(["--seed", "-1"], "--seed: must be at least 0, not -1", id="seed-negative"),
    pytest.param(["--world", "nowhere"], "--world: invalid choice: 'nowhere'", id="world-unknown"),
])
def test_bad_synthetic_options_are_refused_by_the_parser(case, args, expected):
    code, out, err = case.cli("data", "synthetic", "--out", case.tmp / "new", "--params", case.params, *args)
    assert code == 2
    _no_traceback(out, err)
    assert expected in err
    assert not (case.tmp / "new").exists()


def _missing_notebook_folder(case: Case) -> list[str]:
    return ["--notebooks", str(case.tmp / "no-notebooks")]


def _notebook_folder_without_district_notebook(case: Case) -> list[str]:
    folder = case.tmp / "some-notebooks"
    folder.mkdir()
    _notebook(folder, "overview.ipynb", "1")
    return ["--notebooks", str(folder)]


def _out_is_a_file(case: Case) -> list[str]:
    target = case.tmp / "reports.html"
    target.write_text("mine", encoding="utf-8")
    return ["--out", str(target)]


def _out_under_a_file(case: Case) -> list[str]:
    target = case.tmp / "notes.txt"
    target.write_text("mine", encoding="utf-8")
    return ["--out", str(target / "reports")]


def _out_on_a_read_only_file_system(case: Case) -> list[str]:
    return ["--out", "/proc/evaluering-reports"]


def _data_is_a_file(case: Case) -> list[str]:
    return ["--data", str(case.data / "areas.parquet")]


def _data_missing(case: Case) -> list[str]:
    return ["--data", str(case.tmp / "no-data")]


def _notebooks_is_a_file(case: Case) -> list[str]:
    return ["--notebooks", str(case.params)]


@pytest.mark.parametrize(("make_args", "expected"), [
    pytest.param(_missing_notebook_folder, "no-notebooks: notebook folder not found (--notebooks)", id="no-notebooks"),
    pytest.param(_notebook_folder_without_district_notebook,
                 "district_evaluation.ipynb: notebook not found in the notebook folder", id="notebook-missing"),
    pytest.param(_out_is_a_file, "reports.html: --out is a file, not a folder", id="out-is-a-file"),
    pytest.param(_out_under_a_file, "notes.txt/reports: cannot write reports there", id="out-under-a-file"),
    pytest.param(_out_on_a_read_only_file_system, "/proc/evaluering-reports: cannot write reports there",
                 id="out-read-only-file-system"),
    pytest.param(_data_is_a_file, "areas.parquet: --data is a file, not a folder", id="data-is-a-file"),
    pytest.param(_data_missing, "no-data: no input data found", id="data-missing"),
    pytest.param(_notebooks_is_a_file, "params.yaml: notebook folder not found (--notebooks)", id="notebooks-a-file"),
])
def test_impossible_run_requests_are_one_line(case, make_args, expected):
    args = make_args(case)
    case.snapshot()
    code, out, err = case.run(*args)
    assert code == 2, out + err
    _no_traceback(out, err)
    assert expected in _one_line_error(err)
    case.nothing_lost()


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write into a read-only folder")
def test_read_only_out_folder_is_one_line(case):
    out = case.tmp / "locked"
    out.mkdir()
    out.chmod(0o555)
    try:
        code, out_text, err = case.run("--out", str(out))
    finally:
        out.chmod(0o755)
    assert code == 2
    assert "locked: cannot write reports there" in _one_line_error(err)


def test_synthetic_refuses_to_overwrite_a_delivery(case):
    case.snapshot()
    code, out, err = case.cli("data", "synthetic", "--out", case.data, "--params", case.params, "--seed", "9")
    assert code == 2
    _no_traceback(out, err)
    assert _one_line_error(err).startswith(f"evaluering: {case.data}: already holds a delivery (areas.parquet, ")
    assert "give --force to overwrite it" in err
    case.nothing_lost()


def test_synthetic_refuses_a_file_as_out(case):
    target = case.tmp / "delivery.zip"
    target.write_bytes(b"mine")
    code, out, err = case.cli("data", "synthetic", "--out", target, "--params", case.params)
    assert code == 2 and "delivery.zip: --out is a file, not a folder" in _one_line_error(err)
    assert target.read_bytes() == b"mine"


def test_synthetic_overwrites_with_force(case):
    code, out, err = case.cli("data", "synthetic", "--out", case.data, "--params", case.params, "--seed", "9",
                              "--force")
    assert code == 0, err
    assert (case.data / "truth.json").exists()


# --- one error family: bad input is one line, a bug is a traceback ------------------------------


def _error_classes() -> list[type]:
    from evaluering.area.multilevel import AreaModelError
    from evaluering.area.threshold import ThresholdInputError
    from evaluering.config import ConfigError
    from evaluering.data.io import InputFileError
    from evaluering.data.validate import DataValidationError
    from evaluering.did.rc_kernels import OverlapError, RcDidError
    from evaluering.did.staggered_errors import StaggeredDidError, UnbalancedPanelError
    from evaluering.errors import RequestError
    from evaluering.monitoring.errors import MonitoringError
    from evaluering.power.formulas import PowerError
    from evaluering.survey.steps import ConvergenceError
    from evaluering.survey.variance import SurveyError
    from evaluering.weighting.result import BalanceError

    return [AreaModelError, ThresholdInputError, ConfigError, InputFileError, DataValidationError, RcDidError,
            OverlapError, StaggeredDidError, UnbalancedPanelError, RequestError, MonitoringError, PowerError,
            ConvergenceError, SurveyError, BalanceError]


def test_every_package_error_is_in_the_family():
    from evaluering.errors import EvalueringError

    for cls in _error_classes():
        assert issubclass(cls, EvalueringError) and issubclass(cls, ValueError), cls


def test_every_error_class_of_the_package_is_in_the_family():
    """A new ``class ...Error`` anywhere in the package must derive from EvalueringError."""
    import importlib
    import re

    from evaluering.errors import EvalueringError

    package = ROOT / "src" / "evaluering"
    outside = []
    for path in package.rglob("*.py"):
        names = re.findall(r"^class (\w+Error)\(", path.read_text(encoding="utf-8"), flags=re.M)
        if names:
            module = importlib.import_module(".".join(("evaluering", *path.relative_to(package).with_suffix("").parts)))
            outside += [f"{module.__name__}.{n}" for n in names if not issubclass(getattr(module, n), EvalueringError)]
    assert not outside


def test_a_bug_is_a_traceback_with_a_note_not_a_data_message(case, monkeypatch):
    import evaluering.data.validate as validate

    def broken(*_args, **_kwargs):
        raise ValueError("an internal slip")  # a plain ValueError is a bug, not bad input

    monkeypatch.setattr(validate, "validate_directory", broken)
    code, out, err = case.validate()
    assert code == 3
    assert "Traceback" in err and "ValueError: an internal slip" in err
    assert err.strip().splitlines()[-1].startswith("evaluering: internal error: this is a bug in evaluering")


# --- killed and stopped runs --------------------------------------------------------------------


def _children(pid: int) -> set[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return {int(p) for p in out.stdout.split()}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    stat = Path(f"/proc/{pid}/stat")
    return not (stat.exists() and stat.read_text().split(")")[-1].split()[0] == "Z")


def _start_slow_run(case: Case) -> tuple[subprocess.Popen, set[int], set[int], Path, Path]:
    """A full wave of notebooks that sleep, two at a time, in its own TMPDIR and Jupyter runtime dir;
    returns once both workers and their kernels run."""
    notebooks = _notebooks(case.tmp / "slow", "import time\ntime.sleep(300)")
    (case.out / "2024" / "oversigt.html").write_text(PREVIOUS, encoding="utf-8")
    tmpdir, runtime = case.tmp / "tmp", case.tmp / "runtime"
    tmpdir.mkdir()
    runtime.mkdir()
    env = dict(os.environ, TMPDIR=str(tmpdir), JUPYTER_RUNTIME_DIR=str(runtime))
    run = subprocess.Popen([sys.executable, "-m", "evaluering.cli", "run", "--params", str(case.params),
                            "--data", str(case.data), "--out", str(case.out), "--notebooks", str(notebooks),
                            "--jobs", "2"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.time() + 90
    workers: set[int] = set()
    kernels: set[int] = set()
    while (len(workers) < 2 or len(kernels) < 2) and time.time() < deadline:
        time.sleep(0.5)
        workers = _children(run.pid)
        kernels = set().union(*(_children(w) for w in workers)) if workers else set()
    assert len(workers) == 2 and len(kernels) >= 2, "the workers and their kernels did not start"
    time.sleep(2)
    return run, workers, kernels, tmpdir, runtime


def _wait_gone(pids: set[int], seconds: float = 30) -> None:
    deadline = time.time() + seconds
    while any(_alive(p) for p in pids) and time.time() < deadline:
        time.sleep(0.5)
    assert not [p for p in pids if _alive(p)], "processes of the run are still alive"


def _assert_kept_and_clean(case: Case, tmpdir: Path, runtime: Path) -> None:
    for report in ("moerkhoej.html", "oversigt.html"):
        assert (case.out / "2024" / report).read_text(encoding="utf-8") == PREVIOUS
    assert not [p for p in (case.out / "2024").iterdir() if p.name.startswith(".")]  # nothing half-written
    assert not list(tmpdir.iterdir()), sorted(p.name for p in tmpdir.iterdir())  # no evaluering-* folders
    assert not list(runtime.iterdir()), "kernel connection files left behind"
    index = (case.out / "index.html").read_text(encoding="utf-8")
    assert index.count("rapporten er fra en tidligere kørsel") == 2, index


@pytest.mark.skipif(sys.platform != "linux", reason="uses pgrep, /proc and POSIX signals")
def test_a_terminated_run_stops_its_kernels_cleans_up_and_keeps_the_reports(case):
    from evaluering.runner.execute import INTERRUPTED
    from evaluering.runner.index import read_status

    case.snapshot()
    run, workers, kernels, tmpdir, runtime = _start_slow_run(case)
    run.send_signal(signal.SIGTERM)
    code = run.wait(timeout=60)
    err = run.stderr.read()
    assert code == 130, err
    _no_traceback(err)
    assert "interrupted; the reports not rebuilt were kept" in err
    _wait_gone(workers | kernels)
    _assert_kept_and_clean(case, tmpdir, runtime)
    status = read_status(case.out / "2024")
    assert status["moerkhoej"]["last_ok"] is False and status["moerkhoej"]["error"] == INTERRUPTED
    assert "running" not in status["moerkhoej"]


@pytest.mark.skipif(sys.platform != "linux", reason="uses pgrep, /proc and POSIX signals")
def test_a_killed_run_leaves_no_files_and_the_index_marks_the_reports_as_kept(case):
    """SIGKILL: the workers notice, stop their kernels and remove their folders; the index was
    written before the runs started, so it already says the reports are from an earlier run."""
    from evaluering.runner.execute import INTERRUPTED
    from evaluering.runner.index import read_status

    run, workers, kernels, tmpdir, runtime = _start_slow_run(case)
    run.send_signal(signal.SIGKILL)
    run.wait()
    _wait_gone(workers | kernels)
    _assert_kept_and_clean(case, tmpdir, runtime)
    assert "og er ikke afsluttet" in (case.out / "index.html").read_text(encoding="utf-8")
    status = read_status(case.out / "2024")  # the killed process is gone: an interrupted attempt
    assert status["moerkhoej"]["last_ok"] is False and status["moerkhoej"]["error"] == INTERRUPTED


def test_folders_of_dead_runs_are_swept_and_others_left_alone(tmp_path, monkeypatch):
    import tempfile

    from evaluering.runner.scratch import OWNER_FILE, run_folder, sweep_stale_folders

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    dead = tmp_path / "evaluering-dead"
    dead.mkdir()
    (dead / OWNER_FILE).write_text(json.dumps({"pid": 2**22 + 7, "started": 0}), encoding="utf-8")
    (dead / "executed.ipynb").write_text("{}", encoding="utf-8")
    foreign = tmp_path / "evaluering-foreign"  # no owner record: not ours to remove
    foreign.mkdir()
    with run_folder() as live:
        assert sweep_stale_folders() == [dead]
        assert live.exists() and foreign.exists() and not dead.exists()
    assert not live.exists()
