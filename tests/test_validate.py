"""Validating and loading a data directory: a tiny valid dataset in every format, then planted faults."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyreadstat
import pytest
from pandas.api.types import is_bool_dtype

from evaluering.config import load_params
from evaluering.data.convert import convert
from evaluering.data.dataset import Dataset
from evaluering.data.privacy import looks_like_cpr
from evaluering.data.validate import (
    DataValidationError,
    Problem,
    ValidationReport,
    load_dataset,
    validate_directory,
)

PARAMS = load_params(Path(__file__).parents[1] / "params" / "gladsaxe.yaml")
CPR = "0101901234"


# --- a tiny valid dataset ----------------------------------------------------------------------


def valid_tables() -> dict[str, pd.DataFrame]:
    """Five tables for six persons over 2020-2024, typed exactly as load_dataset returns them."""
    areas = pd.DataFrame({
        "area_id": ["0101", "0102", "0201", "0301", "0901"],
        "area_name": ["Høje Gladsaxe Nord", "Høje Gladsaxe Syd", "Værebro Park", "Mørkhøj", "Bagsværd"],
        "district": ["hoeje-gladsaxe", "hoeje-gladsaxe", "vaerebro-park", "moerkhoej", None],
    }).astype("string")
    persons = pd.DataFrame({
        "person_id": ["P01", "P02", "P03", "P04", "P05", "P06"],
        "area_id": ["0101", "0102", "0201", "0301", "0901", "0901"],
        "age0": [8, 25, 40, 70, 16, 35],
        "sex": ["female", "male", "female", "male", "female", "male"],
        "origin": ["danish", "western", "non_western", "danish", "danish", "non_western"],
    })
    reg = persons.merge(pd.DataFrame({"year": range(2020, 2025)}), how="cross")
    reg["age"] = reg["age0"] + reg["year"] - 2020
    adult = reg["age"] >= 15
    reg["education"] = np.where(adult, "vocational", None)
    reg["in_education"] = reg["age"].between(16, 29)
    reg["employed"] = reg["age"].between(30, 64)
    reg["income"] = np.where(adult, 250000.5, np.nan)
    reg["convicted"] = (reg["person_id"] == "P06") & (reg["year"] == 2022)
    reg["school_absence"] = np.where(reg["age"].between(6, 16), 0.05, np.nan)
    election = reg["year"].isin([2021, 2022]) & (reg["age"] >= 18)
    reg["voted"] = pd.array(np.where(election, reg["person_id"] != "P02", None), dtype="boolean")
    register = reg[[
        "person_id", "year", "area_id", "age", "sex", "origin", "education", "in_education",
        "employed", "income", "convicted", "school_absence", "voted",
    ]].astype({c: "string" for c in ["person_id", "area_id", "sex", "origin", "education"]})
    survey = pd.DataFrame({
        "person_id": ["P02", "P03", "P04", "P06", "P02", "P03", "P05", "P06"],
        "wave": [2021, 2021, 2021, 2021, 2024, 2024, 2024, 2024],
        "sample_group": ["district", "district", "district", "comparison"] * 2,
        "area_id": ["0102", "0201", "0301", "0901", "0102", "0201", "0901", "0901"],
        "design_weight": [10.5, 12.0, 8.25, 40.0, 10.5, 12.0, 40.0, 40.0],
        "responded": [True, True, False, True, True, True, True, False],
    }).astype({"person_id": "string", "sample_group": "string", "area_id": "string"})
    for i, question in enumerate(PARAMS.survey_questions):
        answers = pd.array([(i + k) % 5 + 1 for k in range(len(survey))], dtype="Int64")
        answers[~survey["responded"].to_numpy()] = pd.NA
        survey[question] = answers
    survey.loc[0, PARAMS.survey_questions[0]] = pd.NA  # a skipped question
    institutions = pd.DataFrame({
        "person_id": ["P01", "P01", "P01", "P05", "P05"],
        "year": [2020, 2021, 2020, 2020, 2021],
        "institution_type": ["school", "school", "after_school", "school", "school"],
        "institution_id": ["S07", "S07", "F07", "S01", "S01"],
        "disadvantaged_home": [False, False, False, True, True],
    }).astype({"person_id": "string", "institution_type": "string", "institution_id": "string"})
    visitors = pd.DataFrame({
        "counter_id": ["C1", "C1", "C2"],
        "area_id": ["0101", "0101", "0201"],
        "date": pd.to_datetime(["2024-05-01", "2024-05-02", "2024-05-01"]).astype("datetime64[ns]"),
        "count": [310, 295, 120],
    }).astype({"counter_id": "string", "area_id": "string"})
    return {"areas": areas, "register": register, "survey": survey,
            "institutions": institutions, "visitors": visitors}


def write_tables(directory: Path, tables: dict[str, pd.DataFrame], fmt: str) -> Path:
    """Write every table in one format: parquet, csv, csv-danish (semicolon, decimal comma, ja/nej) or sav."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, frame in tables.items():
        frame = frame.copy()
        if fmt == "parquet":
            frame.to_parquet(directory / f"{name}.parquet")
        elif fmt == "csv":
            frame.to_csv(directory / f"{name}.csv", index=False)
        elif fmt == "csv-danish":
            for col in frame.columns:
                if is_bool_dtype(frame[col].dtype):
                    frame[col] = frame[col].map({True: "ja", False: "nej"})
            frame.to_csv(directory / f"{name}.csv", index=False, sep=";", decimal=",")
        elif fmt == "sav":  # SPSS has only numbers and text: bools as 1/0
            for col in frame.columns:
                if is_bool_dtype(frame[col].dtype) or str(frame[col].dtype) == "Int64":
                    frame[col] = frame[col].astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
            pyreadstat.write_sav(frame, str(directory / f"{name}.sav"))
        else:
            raise ValueError(fmt)
    return directory


def as_text(tables: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """The tables as the text an analyst edits in a spreadsheet (for planting faults)."""
    text = {}
    for name, frame in tables.items():
        frame = frame.astype(object).where(frame.notna(), None)
        text[name] = frame.map(lambda v: v if v is None else str(v.date() if isinstance(v, pd.Timestamp) else v))
    return text


def find(report: ValidationReport, file: str, column: str | None, text: str) -> Problem:
    """The one problem in ``file``/``column`` whose message contains ``text``."""
    hits = [p for p in report.problems if p.file == file and p.column == column and text in p.message]
    assert len(hits) == 1, f"expected one problem {file}/{column}/{text!r} in:\n{report}"
    return hits[0]


# --- valid data in every format ----------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["parquet", "csv", "csv-danish", "sav"])
def test_valid_dataset_loads_with_contract_dtypes(tmp_path: Path, fmt: str) -> None:
    expected = valid_tables()
    directory = write_tables(tmp_path / fmt, expected, fmt)
    report = validate_directory(directory, PARAMS)
    assert report.problems == [], report.to_text()
    dataset = load_dataset(directory, PARAMS)
    assert isinstance(dataset, Dataset)
    assert dataset.source_dir == directory
    for name, frame in expected.items():
        pd.testing.assert_frame_equal(dataset.table(name), as_dataset_dtypes(name, frame), check_dtype=True)


def as_dataset_dtypes(table: str, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the register's coded text columns as the Dataset holds them: categoricals of the
    sorted distinct values (string categories)."""
    if table != "register":
        return frame
    coded = {}
    for column in ("area_id", "sex", "origin", "education"):
        categories = pd.Index(sorted(frame[column].dropna().unique()), dtype="string")
        coded[column] = frame[column].astype(pd.CategoricalDtype(categories))
    return frame.assign(**coded)


@pytest.mark.parametrize("fmt", ["parquet", "csv", "sav"])
def test_register_codes_are_sorted_categoricals_in_every_format(tmp_path: Path, fmt: str) -> None:
    """The register's area and background codes are categoricals whatever the file, with sorted string
    categories and missing as a missing value (not a category)."""
    tables = valid_tables()
    tables["register"]["area_id"] = tables["register"]["area_id"].iloc[::-1].to_numpy()  # not in sorted order
    dataset = load_dataset(write_tables(tmp_path / fmt, tables, fmt), PARAMS)
    for column in ("area_id", "sex", "origin", "education"):
        values = dataset.register[column]
        assert isinstance(values.dtype, pd.CategoricalDtype), column
        assert values.cat.categories.dtype == "string" and values.cat.categories.is_monotonic_increasing
        assert values.astype(object).where(values.notna(), None).tolist() == \
            tables["register"][column].astype(object).where(tables["register"][column].notna(), None).tolist()
    assert dataset.register["education"].isna().any()


def test_a_delivered_categorical_is_checked_on_the_values_its_rows_hold(tmp_path: Path) -> None:
    """A Parquet file written from pandas categoricals may keep categories no row has: those are not
    delivered values (no 'not one of' or unknown-area problem), while a row's stray value still is,
    and padded codes are stripped as text would be."""
    tables = valid_tables()
    register = tables["register"]
    sex = register["sex"].astype(object)
    sex.iloc[1] = " " + sex.iloc[1] + " "
    register["sex"] = pd.Categorical(sex, categories=[*sorted(set(sex)), "unused"])
    register["area_id"] = pd.Categorical(register["area_id"], categories=[*sorted(set(register["area_id"])), "9999"])
    dataset = load_dataset(write_tables(tmp_path / "ok", tables, "parquet"), PARAMS)
    assert dataset.register["sex"].cat.categories.tolist() == sorted(set(valid_tables()["register"]["sex"]))
    assert dataset.register["sex"].tolist() == valid_tables()["register"]["sex"].tolist()
    assert "9999" not in dataset.register["area_id"].cat.categories
    register["sex"] = register["sex"].cat.add_categories("X")
    register.loc[2, "sex"] = "X"
    report = validate_directory(write_tables(tmp_path / "stray", tables, "parquet"), PARAMS)
    assert find(report, "register.parquet", "sex", "not one of").rows == (3,)


def test_loaded_dtypes_follow_the_dataset_docstring(tmp_path: Path) -> None:
    dataset = load_dataset(write_tables(tmp_path, valid_tables(), "csv"), PARAMS)
    reg = dataset.register
    assert reg["person_id"].dtype == "string"
    assert reg["year"].dtype == "int64" and reg["age"].dtype == "int64"
    assert reg["employed"].dtype == bool and reg["voted"].dtype == "boolean"
    assert reg["income"].dtype == "float64"
    assert isinstance(reg["sex"].dtype, pd.CategoricalDtype) and reg["sex"].cat.categories.dtype == "string"
    assert dataset.survey["q_health"].dtype == "Int64"
    assert dataset.visitors["date"].dtype == "datetime64[ns]"
    assert dataset.areas["area_id"].tolist()[:2] == ["0101", "0102"]  # leading zeros kept
    assert dataset.district_of_area.isna().sum() == 1


def test_extra_column_is_a_warning_and_dropped(tmp_path: Path) -> None:
    tables = valid_tables()
    tables["areas"]["note"] = "x"
    directory = write_tables(tmp_path, tables, "csv")
    report = validate_directory(directory, PARAMS)
    assert report.ok
    assert find(report, "areas.csv", "note", "unexpected column").severity == "warning"
    assert "note" not in load_dataset(directory, PARAMS).areas.columns


# --- many faults at once -----------------------------------------------------------------------


def planted_faults(tmp_path: Path) -> Path:
    """A CSV delivery with nine faults; row numbers below count data rows (header excluded)."""
    t = as_text(valid_tables())
    t["areas"] = t["areas"].rename(columns={"area_name": "area_nme"})  # misspelt column
    t["areas"].loc[2, "district"] = "vaerebro"  # row 3: not a district key (so vaerebro-park has no area)
    t["survey"].loc[[1, 4], "responded"] = "maybe"  # rows 2 and 5: not a bool
    t["survey"].loc[2, "q_health"] = "4"  # row 3: non-respondent with an answer
    t["register"].loc[4, "age"] = "150"  # row 5: age out of range
    t["register"].loc[7, "year"] = t["register"].loc[6, "year"]  # rows 7 and 8: same (person_id, year)
    t["register"].loc[11, "area_id"] = "0999"  # row 12: unknown area
    t["institutions"].loc[3, "person_id"] = CPR  # row 4: CPR number
    del t["visitors"]  # missing table
    return write_tables(tmp_path, t, "csv")


def test_every_planted_fault_is_reported(tmp_path: Path) -> None:
    report = validate_directory(planted_faults(tmp_path), PARAMS)
    assert not report.ok

    missing = find(report, "areas.csv", "area_name", "required column is missing")
    assert "'area_nme'" in missing.message
    assert find(report, "areas.csv", "area_nme", "unexpected column").severity == "warning"

    district = find(report, "areas.csv", "district", "not one of")
    assert district.rows == (3,) and "'vaerebro'" in district.message
    assert find(report, "areas.csv", "district", "'vaerebro-park'").rows == ()

    bad_bool = find(report, "survey.csv", "responded", "true/false")
    assert (bad_bool.rows, bad_bool.n_rows) == ((2, 5), 2)
    assert str(bad_bool).startswith("survey.csv, column 'responded', rows 2, 5: value 'maybe' is not one of true/false")
    assert find(report, "survey.csv", "responded", "responded is false").rows == (3,)

    assert find(report, "register.csv", "age", "outside the allowed range (0 to 120)").rows == (5,)
    duplicate = find(report, "register.csv", None, "(person_id, year)")
    assert duplicate.rows == (7, 8)
    unknown_area = find(report, "register.csv", "area_id", "not found in column 'area_id' of areas.csv")
    assert unknown_area.rows == (12,) and "'0999'" in unknown_area.message

    cpr = find(report, "institutions.csv", "person_id", "looks like CPR numbers (1 value)")
    assert cpr.rows == (4,) and "pseudonymised" in cpr.message
    assert find(report, "institutions.csv", "person_id", "not found").rows == (4,)

    assert find(report, "visitors.*", None, "is missing").severity == "error"

    assert all(p.severity == "error" for p in report.errors)
    assert len(report.errors) == 11 and len(report.warnings) == 1, report.to_text()


def test_cpr_values_are_never_shown(tmp_path: Path) -> None:
    directory = planted_faults(tmp_path)
    report = validate_directory(directory, PARAMS)
    with pytest.raises(DataValidationError) as caught:
        load_dataset(directory, PARAMS)
    for text in (report.to_text(), report._repr_html_(), str(caught.value), repr(report.problems)):
        assert CPR not in text


def test_load_dataset_raises_with_every_problem(tmp_path: Path) -> None:
    directory = planted_faults(tmp_path)
    with pytest.raises(DataValidationError) as caught:
        load_dataset(directory, PARAMS)
    error = caught.value
    assert isinstance(error, ValueError)
    assert not error.report.ok
    for problem in error.report.problems:
        assert problem.message in str(error)


def test_cpr_in_a_non_contract_column_refuses_the_file(tmp_path: Path) -> None:
    tables = valid_tables()
    tables["areas"]["contact"] = ["", "", "010190-1234", "", ""]
    report = validate_directory(write_tables(tmp_path, tables, "csv"), PARAMS)
    problem = find(report, "areas.csv", "contact", "looks like CPR")
    assert problem.severity == "error" and problem.rows == (3,)
    assert "010190-1234" not in report.to_text()


# --- single checks -----------------------------------------------------------------------------


def test_missing_directory(tmp_path: Path) -> None:
    report = validate_directory(tmp_path / "nowhere", PARAMS)
    assert not report.ok
    assert "does not exist" in report.errors[0].message


def test_two_formats_of_one_table(tmp_path: Path) -> None:
    tables = valid_tables()
    directory = write_tables(tmp_path, tables, "csv")
    tables["areas"].to_parquet(directory / "areas.parquet")
    report = validate_directory(directory, PARAMS)
    problem = find(report, "areas.csv and areas.parquet", None, "two files")
    assert problem.severity == "error"


def test_unreadable_file_is_named(tmp_path: Path) -> None:
    directory = write_tables(tmp_path, valid_tables(), "parquet")
    (directory / "survey.parquet").write_bytes(b"not parquet at all")
    report = validate_directory(directory, PARAMS)
    assert "cannot be read as a Parquet file" in find(report, "survey.parquet", None, "").message
    assert not any(p.file == "register.parquet" for p in report.problems)  # the rest is still checked


def test_conversion_and_empty_cells(tmp_path: Path) -> None:
    t = as_text(valid_tables())
    t["register"].loc[0, "year"] = "2020.5"
    t["register"].loc[1, "income"] = "lots"
    t["register"].loc[2, "sex"] = None
    t["register"].loc[3, "income"] = "inf"
    t["visitors"].loc[1, "date"] = "02-05-2024"
    report = validate_directory(write_tables(tmp_path, t, "csv"), PARAMS)
    assert find(report, "register.csv", "year", "not a whole number").rows == (1,)
    assert find(report, "register.csv", "income", "values 'lots', 'inf' are not a number").rows == (2, 4)
    assert find(report, "register.csv", "sex", "empty cells").rows == (3,)
    assert find(report, "visitors.csv", "date", "YYYY-MM-DD").rows == (2,)


def test_decimal_point_in_a_danish_csv_is_explained(tmp_path: Path) -> None:
    directory = write_tables(tmp_path, valid_tables(), "csv-danish")
    path = directory / "survey.csv"
    path.write_text(path.read_text(encoding="utf-8").replace("10,5", "10.5"), encoding="utf-8")
    report = validate_directory(directory, PARAMS)
    problem = find(report, "survey.csv", "design_weight", "semicolon-separated")
    assert problem.rows == (1, 5)


def test_survey_waves(tmp_path: Path) -> None:
    tables = valid_tables()
    tables["survey"] = tables["survey"][tables["survey"]["wave"] == 2021].reset_index(drop=True)
    report = validate_directory(write_tables(tmp_path / "a", tables, "parquet"), PARAMS)
    assert report.ok
    assert find(report, "survey.parquet", "wave", "wave 2024").severity == "warning"

    tables = valid_tables()
    tables["survey"] = tables["survey"][tables["survey"]["wave"] == 2024].reset_index(drop=True)
    report = validate_directory(write_tables(tmp_path / "b", tables, "parquet"), PARAMS)
    assert find(report, "survey.parquet", "wave", "baseline wave 2021").severity == "error"

    tables = valid_tables()
    tables["survey"].loc[7, "wave"] = 2019
    report = validate_directory(write_tables(tmp_path / "c", tables, "parquet"), PARAMS)
    assert find(report, "survey.parquet", "wave", "wave 2019 is neither a survey wave").rows == (8,)


def test_respondent_without_answers_and_person_missing_in_wave_year(tmp_path: Path) -> None:
    tables = valid_tables()
    tables["survey"].loc[1, PARAMS.survey_questions] = pd.NA
    register = tables["register"]
    tables["register"] = register[~((register["person_id"] == "P06") & (register["year"] == 2024))]
    report = validate_directory(write_tables(tmp_path, tables, "parquet"), PARAMS)
    assert report.ok, report.to_text()
    assert find(report, "survey.parquet", "responded", "every answer is empty").rows == (2,)
    assert find(report, "survey.parquet", "wave", "year = wave").rows == (8,)
    assert "P06" not in report.to_text()


def test_unknown_person_id_is_not_echoed(tmp_path: Path) -> None:
    tables = valid_tables()
    tables["survey"].loc[0, "person_id"] = "P99"
    report = validate_directory(write_tables(tmp_path, tables, "parquet"), PARAMS)
    problem = find(report, "survey.parquet", "person_id", "not found in column 'person_id' of register.parquet")
    assert problem.rows == (1,) and "P99" not in problem.message


# --- problem and report formatting --------------------------------------------------------------


def test_problem_text() -> None:
    problem = Problem("survey.csv", "responded", (3, 17, 250), 15, "value 'maybe' is not one of true/false")
    assert str(problem) == (
        "survey.csv, column 'responded', rows 3, 17, 250 (+12 more): value 'maybe' is not one of true/false"
    )
    assert str(Problem("areas.csv", "district", (4,), 1, "bad")) == "areas.csv, column 'district', row 4: bad"
    assert str(Problem("visitors.*", None, (), 0, "missing")) == "visitors.*: missing"


def test_at_most_ten_rows_are_listed(tmp_path: Path) -> None:
    t = as_text(valid_tables())
    t["register"]["sex"] = "F"
    report = validate_directory(write_tables(tmp_path, t, "csv"), PARAMS)
    problem = find(report, "register.csv", "sex", "not one of female, male")
    assert problem.rows == tuple(range(1, 11)) and problem.n_rows == 30
    assert "rows 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 (+20 more)" in str(problem)


def test_report_text_and_html() -> None:
    report = ValidationReport(Path("data"), [
        Problem("register.csv", "agee", (), 0, "unexpected column; it is ignored", "warning"),
        Problem("register.csv", "age", (), 0, "required column is missing"),
        Problem("survey.csv", "responded", (2,), 1, "value 'x' is not one of true/false"),
    ])
    assert not report.ok and len(report.errors) == 2 and len(report.warnings) == 1
    text = report.to_text()
    assert text.splitlines()[0] == "data: 2 errors, 1 warning."
    assert text.index("register.csv") < text.index("ERROR    column 'age'") < text.index("WARNING  column 'agee'")
    assert "survey.csv\n  ERROR    column 'responded', row 2: value 'x'" in text
    html = report._repr_html_()
    assert html.count("<tr") == 4 and "value 'x' is not one of true/false" in html
    odd = ValidationReport(Path("data"), [Problem("<b>.csv", None, (), 0, "a & b")])._repr_html_()
    assert "&lt;b&gt;.csv" in odd and "a &amp; b" in odd and "<b>.csv" not in odd
    assert str(ValidationReport(Path("data"))) == "data: no problems found."


def test_convert_reads_danish_text_and_stored_types() -> None:
    values, empty, bad = convert(pd.Series(["1,5", " 2 ", "1.000", "", "inf", None], dtype=object), "float", ",")
    assert values.tolist()[:2] == [1.5, 2.0]
    assert empty.tolist() == [False, False, False, True, False, True]
    assert bad.tolist() == [False, False, True, False, True, False]  # a point in a decimal-comma file; inf
    words = convert(pd.Series(["Ja", "nej", "SAND", "falsk", "1", "maybe"]), "bool", ".")[0]
    assert words.tolist()[:5] == [True, False, True, False, True] and pd.isna(words.iloc[5])
    whole, empty, bad = convert(pd.Series([17.0, 2.5, np.nan]), "int", ".")
    assert whole.iloc[0] == 17 and empty.tolist() == [False, False, True] and bad.tolist() == [False, True, False]
    assert convert(pd.Series([17.0, 2.5]), "str", ".")[0].tolist() == ["17", "2.5"]  # SPSS stores ids as numbers


# --- CPR detection -----------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    ("0101901234", True),
    ("010190-1234", True),
    ("2902001234", True),  # 29 February: the century is unknown, so always allowed
    ("3004991234", True),
    ("3102851234", False),  # 31 February
    ("3104991234", False),  # 31 April
    ("0113901234", False),  # month 13
    ("0001901234", False),  # day 00
    ("101901234", True),  # leading zero lost
    ("01019012345", False),
    ("P000000123", False),
    ("0101-901234", False),
])
def test_looks_like_cpr_text(value: str, expected: bool) -> None:
    assert looks_like_cpr(pd.Series([value, None], dtype="string")).tolist() == [expected, False]


def test_looks_like_cpr_numbers() -> None:
    ints = pd.Series([101901234, 3102851234, 1501901234, 123, 10101901234])
    assert looks_like_cpr(ints).tolist() == [True, False, True, False, False]
    floats = pd.Series([101901234.0, 1501901234.5, np.nan])
    assert looks_like_cpr(floats).tolist() == [True, False, False]
    assert not looks_like_cpr(pd.Series([True, False])).any()
