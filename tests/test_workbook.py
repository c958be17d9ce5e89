"""The wave's Excel workbook: every table of every report, as shown (same suppression), one sheet
per report and a provenance sheet, written atomically and linked from the index.

The unit tests build a small wave from ``html_table`` (the reports' own table builder); the wave
tests read the shared render of the 2024 wave (``rendered_reports``), whose run wrote the workbook,
and compare it with the reports' HTML through an extraction of their own (regular expressions,
not the workbook's parser).
"""

from __future__ import annotations

import html
import json
import os
import re
from pathlib import Path

import openpyxl
import pytest

from evaluering.report.format import SUPPRESSED
from evaluering.report.scan import ID_COLUMNS, data_identifiers
from evaluering.report.shown_tables import read_shown_tables, shown_number
from evaluering.report.tables import html_table
from evaluering.runner import write_index
from evaluering.runner.workbook import (
    ABOUT_SHEET,
    KEPT_NOTE,
    WorkbookError,
    sheet_names,
    workbook_path,
    write_wave_workbook,
)

MIN_CELL = 5

# --- a small wave built with the reports' own table builder --------------------------------------


def _report(title: str, *sections: str) -> str:
    style = "<style>td{color:red}</style>"  # style text must not reach the workbook
    return (f"<!DOCTYPE html><html lang='da'><head><title>x</title>{style}</head><body>"
            f"<h1>{title}</h1>{''.join(sections)}</body></html>")


def _survey_table(shown_small: str = SUPPRESSED, header: str = "Gruppe") -> str:
    rows = [["Resten af kommunen", "2024", "5.500", "51,1 %"],
            ["Mørkhøj", "2024", "1.913", shown_small],
            ["Mørkhøj (ændring)", "2024", "−1,5 pct.-point",
             "+5,4 pct.-point<br><span class='note'>(−3,3 til +14,2)</span>"]]
    persons = [[None, "-", 5500, 2810], [None, "-", 1913, 3], [None, "-", 831, 831]]
    return ("<h2 id='metode'>Metode og data<a class='anchor-link' href='#metode'>¶</a></h2><h3>Spørgeskemaet</h3>"
            + html_table([header, "Bølge", "Udtrukne", "Svarprocent"], rows, persons, min_cell=MIN_CELL)
            + "<p class='note'>* En fodnote under tabellen.</p><p>Almindelig tekst, ikke en fodnote.</p>")


def _verdict_table() -> str:
    rows = [["1. Uddannelse", "0,214<br><span class='note'>placebotest</span>", "&lt; 0,001", "-0,02"]]
    return "<h2>Flere skal klare sig bedre</h2>" + html_table(["Indikator", "p-værdi", "Justeret p", "Std."], rows,
                                                                  [[None, 158, 158, 158]], min_cell=MIN_CELL)


@pytest.fixture()
def wave(tmp_path: Path) -> Path:
    wave_dir = tmp_path / "reports" / "2024"
    wave_dir.mkdir(parents=True)
    (wave_dir / "moerkhoej.html").write_text(_report("Mørkhøj: Social balance 2024", _verdict_table(), _survey_table()),
                                             encoding="utf-8")
    (wave_dir / "oversigt.html").write_text(_report("Oversigt 2024", _verdict_table()), encoding="utf-8")
    return wave_dir


def _write(wave_dir: Path, params, params_file: Path) -> Path:
    return write_wave_workbook(wave_dir, params, params_file=params_file, data_dir=wave_dir,
                               data_digest="ab" * 32)


def _rows(sheet) -> list[list]:
    return [[c.value for c in row] for row in sheet.iter_rows()]


def test_shown_numbers_become_numbers_with_the_shown_decimals():
    cases = {
        "1.234": (1234, "#,##0"), "869": (869, "#,##0"), "2024": (2024, "0"), "0,214": (0.214, "0.000"),
        "1,000": (1.0, "0.000"), "51,1 %": (0.511, "0.0 %"), "99 %": (0.99, "0 %"), "-0,02": (-0.02, "0.00"),
        "1.234.567,89": (1234567.89, "#,##0.00"), "1,23 ×": (1.23, '0.00" ×"'),
        "+0,3": (0.3, '+0.0;-0.0;"±"0.0'),
        "−1,5 pct.-point": (-1.5, '+0.0" pct.-point";-0.0" pct.-point";"±"0.0" pct.-point"'),
    }
    for text, (value, code) in cases.items():
        got = shown_number(text)
        assert got is not None, text
        assert got[0] == pytest.approx(value, abs=1e-12) and got[1] == code, (text, got)
    for text in ("–", "< 0,001", "12345", "0123", "12,0 %*", "39,2 % → 44,9 %", "0,214\nplacebotest", "ikke relevant",
                 "bdab72ed02a3", "0.1.0", "06-12-2026 23:15", ""):
        assert shown_number(text) is None, text


def test_the_workbook_holds_every_table_with_numbers_suppression_and_provenance(wave, params, params_file):
    path = _write(wave, params, params_file)
    assert path == wave / "tabeller-2024.xlsx"
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == [ABOUT_SHEET, "Oversigt", "Mørkhøj"]  # the index's order: overview, then districts
    sheet = book["Mørkhøj"]
    rows = _rows(sheet)
    assert rows[0][0] == "Mørkhøj: Social balance 2024"
    titles = [r[0] for r in rows if r[0] in ("Flere skal klare sig bedre", "Metode og data – Spørgeskemaet")]
    assert titles == ["Flere skal klare sig bedre", "Metode og data – Spørgeskemaet"]  # no "¶", in order
    header = next(i for i, r in enumerate(rows) if r[0] == "Gruppe")
    assert rows[header - 1][0] == "Metode og data – Spørgeskemaet"
    rest, small, change = (sheet.cell(header + 1 + k, 1).row for k in (1, 2, 3))
    assert [sheet.cell(rest, c).value for c in (2, 3, 4)] == [2024, 5500, pytest.approx(0.511)]
    assert [sheet.cell(rest, c).number_format for c in (2, 3, 4)] == ["0", "#,##0", "0.0 %"]
    assert sheet.cell(small, 4).value == SUPPRESSED and sheet.cell(small, 4).data_type == "s"  # hidden as in the report
    assert sheet.cell(change, 3).value == -1.5 and "pct.-point" in sheet.cell(change, 3).number_format
    assert sheet.cell(change, 4).value == "+5,4 pct.-point\n(−3,3 til +14,2)"  # an interval stays text
    assert rows[change][0] == "* En fodnote under tabellen."  # the note right after the table ...
    assert not any("Almindelig tekst" in str(v) for r in rows for v in r)  # ... and no other text
    assert not any("color:red" in str(v) for r in rows for v in r)
    verdict = next(i for i, r in enumerate(rows) if r[0] == "1. Uddannelse") + 1
    assert sheet.cell(verdict, 2).value == "0,214\nplacebotest" and sheet.cell(verdict, 3).value == "< 0,001"
    assert sheet.cell(verdict, 4).value == -0.02 and sheet.cell(verdict, 4).number_format == "0.00"
    about = {r[0]: r[1] for r in _rows(book[ABOUT_SHEET]) if r[0]}
    assert about["Kommune"] == params.municipality.name
    assert about["Bølge"].startswith("2024") and "abababababab" in about["Data"]
    assert about["Mindste antal personer bag et tal"] == str(params.disclosure.min_cell)
    assert "gladsaxe.yaml" in about["Parameterfil"] and about["evaluering"].startswith("version ")
    listed = [r for r in _rows(book[ABOUT_SHEET]) if r[2] in ("moerkhoej.html", "oversigt.html")]
    assert [(r[0], r[4], r[5]) for r in listed] == [("Oversigt", 1, None), ("Mørkhøj", 2, None)]


def test_a_report_kept_after_a_failed_run_is_marked(wave, params, params_file):
    status = {"moerkhoej": {"label": "Mørkhøj", "built": "2026-12-01T10:00:00", "last_attempt": "2026-12-02T10:00:00",
                            "last_ok": False, "error": "ZeroDivisionError", "cell": 3}}
    (wave / "status.json").write_text(json.dumps(status), encoding="utf-8")
    book = openpyxl.load_workbook(_write(wave, params, params_file))
    listed = {r[2]: r for r in _rows(book[ABOUT_SHEET]) if r[2] in ("moerkhoej.html", "oversigt.html")}
    assert listed["moerkhoej.html"][3] == "01-12-2026 10:00" and listed["moerkhoej.html"][5] == KEPT_NOTE
    assert listed["oversigt.html"][5] is None


def test_a_cell_breaking_the_disclosure_rule_is_refused_and_the_previous_workbook_kept(wave, params, params_file):
    def leak() -> None:  # a report that slipped past the scan: 3 persons behind a shown number
        (wave / "moerkhoej.html").write_text(_report("Mørkhøj", _survey_table(shown_small="66,7 %")), encoding="utf-8")

    path = _write(wave, params, params_file)
    before = path.read_bytes()
    leak()
    with pytest.raises(WorkbookError, match=r"0 persons \(minimum 5\)"):
        _write(wave, params, params_file)
    assert path.read_bytes() == before


def test_the_run_reports_a_refused_workbook_as_a_failure(wave, params, params_file):
    from evaluering.cli import _write_workbook

    path, error = _write_workbook(wave, params, params_file, wave, "ab" * 32)
    assert path == workbook_path(wave) and error is None
    (wave / "moerkhoej.html").write_text(_report("Mørkhøj", _survey_table(shown_small="66,7 %")), encoding="utf-8")
    path, error = _write_workbook(wave, params, params_file, wave, "ab" * 32)
    assert path is None and "moerkhoej.html" in error and "the previous one was kept" not in error
    assert "no workbook was written" in error


def test_an_identifier_column_is_refused(wave, params, params_file):
    (wave / "moerkhoej.html").write_text(_report("Mørkhøj", _survey_table(header="person_id")), encoding="utf-8")
    with pytest.raises(WorkbookError, match="identifier column"):
        _write(wave, params, params_file)
    assert not workbook_path(wave).exists()


@pytest.mark.parametrize("error", [OSError, KeyboardInterrupt])
def test_a_failed_write_leaves_the_previous_workbook_intact(wave, params, params_file, monkeypatch, error):
    path = _write(wave, params, params_file)
    before = path.read_bytes()

    def broken_save(self, filename):
        Path(filename).write_bytes(b"PK half a workbook")
        raise error("disk full")

    monkeypatch.setattr(openpyxl.Workbook, "save", broken_save)
    with pytest.raises(WorkbookError if error is OSError else error):
        _write(wave, params, params_file)
    assert path.read_bytes() == before
    assert [p.name for p in wave.iterdir() if p.suffix == ".tmp"] == []
    assert len(openpyxl.load_workbook(path).sheetnames) == 3


def test_a_wave_folder_that_cannot_be_written_is_a_workbook_error(wave, params, params_file, monkeypatch):
    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)  # as a read-only folder does (root ignores chmod)
    with pytest.raises(WorkbookError, match="could not be written .Permission denied"):
        _write(wave, params, params_file)
    assert not workbook_path(wave).exists()


def test_no_reports_no_workbook(tmp_path, params, params_file):
    (tmp_path / "2024").mkdir()
    assert _write(tmp_path / "2024", params, params_file) is None
    assert list((tmp_path / "2024").iterdir()) == []


def test_the_index_links_the_workbook_once_it_exists(wave, params, params_file):
    out = wave.parent
    assert "tabeller-2024.xlsx" not in write_index(out, params).read_text(encoding="utf-8")
    _write(wave, params, params_file)
    index = write_index(out, params).read_text(encoding="utf-8")
    assert '<a href="2024/tabeller-2024.xlsx">Alle tabeller i Excel (.xlsx)</a>' in index


def test_sheet_names_are_valid_and_distinct(params):
    names = sheet_names(["oversigt", "moerkhoej", "a/b:c?[d]*" + "x" * 40, "Om tallene", "om-tallene", "Oversigt"],
                        params)
    assert names["oversigt"] == "Oversigt" and names["moerkhoej"] == "Mørkhøj"
    assert all(len(n) <= 31 and not re.search(r"[\[\]:*?/\\]", n) for n in names.values())
    assert len({n.lower() for n in names.values()} | {ABOUT_SHEET.lower()}) == len(names) + 1


def test_the_parser_reads_captions_and_nested_headings():
    page = ("<h1>T</h1><h2>A</h2><h3>B</h3><h4>C</h4><table><caption>Egen titel</caption><tr><th>x</th></tr>"
            "<tr><td data-n='9'>1</td></tr></table><h3>D</h3><table><tr><td class='tekst'><a href='a.html'>y</a></td>"
            "<td class='tekst'><a href='https://x.dk/b.html'>z</a></td></tr></table>")
    report = read_shown_tables(page)
    assert report.title == "T"
    assert [t.title for t in report.tables] == ["Egen titel", "A – D"]
    assert report.tables[0].header_rows == 1 and report.tables[0].rows[1][0].data_n == "9"
    assert [c.link for c in report.tables[1].rows[0]] == ["a.html", None]  # only files beside the report


# --- the rendered 2024 wave -------------------------------------------------------------------------

_DATA_URI = re.compile(r"data:[^\"')]+")
_TABLE = re.compile(r"<table\b.*?</table>", re.S)
_ROW = re.compile(r"<tr\b.*?</tr>", re.S)
_CELL = re.compile(r"<(td|th)\b([^>]*)>(.*?)</\1>", re.S)
_PLAIN = re.compile(r"^(?:[+−±-]?\d{1,3}(?:\.\d{3})*(?:,\d+)?(?: %| pct\.-point| ×)?|\d{4})$")


def _html_tables(page: str) -> list[list[list[tuple[str, str, dict]]]]:
    """Every table as rows of (tag, text, attributes), by regular expressions."""
    tables = []
    for table in _TABLE.findall(_DATA_URI.sub("", page)):
        rows = []
        for row in _ROW.findall(table):
            cells = []
            for tag, attrs, inner in _CELL.findall(row):
                text = html.unescape(re.sub(r"<[^>]+>", "", re.sub(r"<br\s*/?>", " ", inner)))
                cells.append((tag, " ".join(text.split()), dict(re.findall(r'([\w-]+)="([^"]*)"', attrs))))
            rows.append(cells)
        tables.append(rows)
    return tables


def _danish(text: str) -> float:
    """An independent reading of a plain Danish number (per cent as a fraction)."""
    t = text.replace("−", "-").replace("+", "").replace("±", "")
    scale = 0.01 if t.endswith("%") else 1.0
    t = re.sub(r"( %| pct\.-point| ×)$", "", t)
    return float(t.replace(".", "").replace(",", ".")) * scale


def _flat(value) -> str:
    return " ".join(str(value).split()) if value is not None else ""


@pytest.fixture(scope="module")
def wave_book(rendered_reports):
    code, out = rendered_reports
    assert code == 0, "evaluering run failed"
    path = out / "2024" / "tabeller-2024.xlsx"
    assert path.is_file(), "evaluering run wrote no workbook"
    return out, openpyxl.load_workbook(path)


def test_the_wave_workbook_opens_with_every_table_of_every_report(wave_book, params):
    out, book = wave_book
    reports = sorted((out / "2024").glob("*.html"))
    names = sheet_names([p.stem for p in reports], params)
    assert sorted(book.sheetnames) == sorted([ABOUT_SHEET, *names.values()])
    assert len(reports) == 6
    numeric = suppressed = 0
    for report in reports:
        tables = _html_tables(report.read_text(encoding="utf-8"))
        assert tables, report.name
        sheet = book[names[report.stem]]
        rows = list(sheet.iter_rows())
        at = 0
        for table in tables:
            header = [text for _, text, _ in table[0]]
            while at < len(rows) and [_flat(c.value) for c in rows[at][:len(header)]] != header:
                at += 1
            assert at < len(rows), f"{report.name}: table with header {header[:3]} missing from the sheet"
            assert rows[at - 1][0].value and rows[at - 1][0].font.b, "every table has a title row"
            for html_row, sheet_row in zip(table, rows[at:at + len(table)], strict=True):
                for (tag, text, attrs), cell in zip(html_row, sheet_row, strict=False):
                    if isinstance(cell.value, (int, float)):
                        assert tag == "td" and _PLAIN.match(text), (report.name, text)
                        assert cell.value == pytest.approx(_danish(text), abs=1e-9), (report.name, text)
                        assert cell.number_format != "General", (report.name, text)
                        numeric += 1
                    else:
                        assert _flat(cell.value) == text, (report.name, text, cell.value)
                        assert not (tag == "td" and "tekst" not in attrs.get("class", "") and _PLAIN.match(text)), \
                            (report.name, "a plain number left as text", text)
                    if attrs.get("data-n", "-") != "-" and int(attrs["data-n"]) < MIN_CELL:
                        assert cell.value == SUPPRESSED, (report.name, text)  # hidden in the report, hidden here
                        suppressed += 1
            at += len(table)
    assert numeric > 300 and suppressed > 0  # the wave has both (the monitoring report suppresses cells)


def test_the_wave_workbook_holds_no_identifier(wave_book, synthetic_dir, params):
    _, book = wave_book
    identifiers = data_identifiers(synthetic_dir, params)
    assert identifiers
    texts = [str(c.value) for sheet in book for row in sheet.iter_rows() for c in row if isinstance(c.value, str)]
    assert not {t.strip().lower() for t in texts} & set(ID_COLUMNS)
    tokens = {tok for t in texts for tok in re.findall(r"[\w-]+", t)}
    assert not tokens & identifiers


def test_the_index_links_the_wave_workbook(wave_book):
    out, book = wave_book
    index = (out / "index.html").read_text(encoding="utf-8")
    assert '<a href="2024/tabeller-2024.xlsx">Alle tabeller i Excel (.xlsx)</a>' in index
    about = [r[0].value for r in book[ABOUT_SHEET].iter_rows()]
    assert "Mindste antal personer bag et tal" in about
    links = {c.hyperlink.target for row in book["Oversigt"].iter_rows() for c in row if c.hyperlink}
    assert links == {"hoeje-gladsaxe.html", "vaerebro-park.html", "moerkhoej.html"}  # "Åbn rapporten"
    assert os.stat(out / "2024" / "tabeller-2024.xlsx").st_mode & 0o044  # readable by others, as the reports
