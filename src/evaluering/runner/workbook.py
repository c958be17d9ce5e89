"""The wave's Excel workbook: every table of every report of the wave, one sheet per report.

``reports/<wave>/tabeller-<wave>.xlsx`` is built from the rendered reports themselves
(:mod:`evaluering.report.shown_tables`), so its numbers are the ones the reports show, suppressed
exactly as there. It holds every report in the wave folder, i.e. every report the index links: a
report whose latest run failed is there in its previous version, as on the index, and the sheet
"Om tallene" says so. Cells that show one plain number become numbers with a number format that
keeps the report's decimals (Excel shows them with the reader's separators: Danish comma);
intervals, verdicts and the suppression mark "–" stay text.

As a last guard, every cell is checked again under the ``data-n`` rule of the disclosure scan,
and a table with an identifier column is refused: the workbook is then not written and the
previous one is kept. It is written to a temporary file and renamed into place, so readers see
the old workbook or the complete new one.
"""

from __future__ import annotations

import os
import re
import tempfile
from datetime import datetime
from pathlib import Path

from .. import __version__
from ..config import Params
from ..errors import EvalueringError
from ..hashing import data_hash, file_hash, git_commit
from ..report.scan import ID_COLUMNS, cell_problem
from ..report.shown_tables import ShownReport, ShownTable, read_shown_tables, shown_number
from ..report.texts import strategy_name
from .plan import AREA_REPORT, MONITORING_REPORT, OVERVIEW_REPORT

__all__ = ["WorkbookError", "workbook_path", "write_wave_workbook", "sheet_names", "ABOUT_SHEET"]

ABOUT_SHEET = "Om tallene"
SHEET_NAME_LIMIT = 31  # Excel's limit
_NOT_IN_SHEET_NAMES = re.compile(r"[\[\]:*?/\\]")
MAX_COLUMN_WIDTH = 60
LINE_HEIGHT = 15  # points per line of text in the default font (Calibri 11)
KEPT_NOTE = "seneste kørsel fejlede; tabellerne er fra rapporten fra en tidligere kørsel"
RUNNING_NOTE = "en ny kørsel er i gang; tabellerne er fra rapporten fra en tidligere kørsel"


class WorkbookError(EvalueringError, ValueError):
    """A report's table may not go into the workbook (a cell breaking the disclosure rule, an
    identifier column) or the workbook cannot be written; the previous workbook is kept.
    """


def workbook_path(wave_dir: Path) -> Path:
    """Where the wave's workbook goes: ``<wave>/tabeller-<wave>.xlsx``."""
    return Path(wave_dir) / f"tabeller-{Path(wave_dir).name}.xlsx"


def _report_order(params: Params) -> dict[str, str]:
    """Report file stem -> sheet name, in the index's order (overview, districts, monitoring, area)."""
    return ({OVERVIEW_REPORT: "Oversigt"} | {d.key: d.name for d in params.districts}
            | {MONITORING_REPORT: "Overvågning", AREA_REPORT: "Områdeeffekter"})


def sheet_names(stems: list[str], params: Params) -> dict[str, str]:
    """A valid, distinct Excel sheet name (at most 31 characters) for each report stem."""
    known = _report_order(params)
    names: dict[str, str] = {}
    taken = {ABOUT_SHEET.lower()}
    for stem in stems:
        base = _NOT_IN_SHEET_NAMES.sub("-", known.get(stem, stem)).strip("'")[:SHEET_NAME_LIMIT] or "Rapport"
        name, number = base, 2
        while name.lower() in taken:
            suffix = f" ({number})"
            name, number = base[:SHEET_NAME_LIMIT - len(suffix)] + suffix, number + 1
        taken.add(name.lower())
        names[stem] = name
    return names


def _wave_reports(wave_dir: Path, params: Params) -> list[Path]:
    """The wave's rendered reports, in the index's order (unknown ones after, by name)."""
    found = {p.stem: p for p in wave_dir.glob("*.html")}
    order = [s for s in _report_order(params) if s in found] + sorted(set(found) - set(_report_order(params)))
    return [found[s] for s in order]


def _checked(report: ShownReport, source: Path, min_cell: int) -> ShownReport:
    """The report's tables, refused if a cell breaks the ``data-n`` rule or a column is an identifier."""
    for table in report.tables:
        for row in table.rows:
            for cell in row:
                if cell.header and cell.text.strip().lower() in ID_COLUMNS:
                    raise WorkbookError(f"{source}: table '{table.title}' has an identifier column "
                                        f"({cell.text.strip()}); no workbook was written")
                if not cell.header:
                    problem = cell_problem(cell.text, cell.data_n, cell.text_cell, min_cell)
                    if problem:
                        raise WorkbookError(f"{source}: table '{table.title}': {problem}; no workbook was written")
    return report


def _danish_time(moment: datetime) -> str:
    return moment.strftime("%d-%m-%Y %H:%M")


def _built(report: Path, status: dict) -> str:
    """When the report was built (the status file, else the file's time), in Danish notation."""
    built = status.get(report.stem, {}).get("built")
    return _danish_time(datetime.fromisoformat(built) if built else datetime.fromtimestamp(report.stat().st_mtime))


# --- sheets ----------------------------------------------------------------------------------------


class _Styles:
    """The few styles the workbook uses (openpyxl is imported only when a workbook is written)."""

    def __init__(self) -> None:
        from openpyxl.styles import Alignment, Border, Font, PatternFill, Side

        self.title = Font(bold=True, size=14)
        self.table_title = Font(bold=True, size=12)
        self.header = Font(bold=True)
        self.header_fill = PatternFill("solid", fgColor="E7ECF2")
        self.header_border = Border(bottom=Side(style="thin", color="8C959F"))
        self.note = Font(italic=True, color="57606A")
        self.wrap = Alignment(wrap_text=True, vertical="top")
        self.top = Alignment(vertical="top")


def _fill_report_sheet(sheet, report: ShownReport, source: str, styles: _Styles) -> None:
    """The report's title, then each table under its title, with its footnotes below it."""
    sheet.append([report.title or source])
    sheet.cell(sheet.max_row, 1).font = styles.title
    sheet.append([source])
    sheet.cell(sheet.max_row, 1).font = styles.note
    widths: dict[int, int] = {}
    for table in report.tables:
        sheet.append([])
        _append_table(sheet, table, styles, widths)
    _set_widths(sheet, widths)


def _append_table(sheet, table: ShownTable, styles: _Styles, widths: dict[int, int]) -> None:
    sheet.append([table.title or "Tabel"])
    sheet.cell(sheet.max_row, 1).font = styles.table_title
    for number, row in enumerate(table.rows):
        sheet.append([None] * len(row))
        line = sheet.max_row
        lines = max((cell.text.count("\n") + 1 for cell in row), default=1)
        if lines > 1:  # LibreOffice does not fit the height of a row with line breaks on opening
            sheet.row_dimensions[line].height = LINE_HEIGHT * lines
        for column, cell in enumerate(row, start=1):
            target = sheet.cell(line, column)
            shown = None if cell.header or cell.text_cell else shown_number(cell.text)
            if shown:
                target.value, target.number_format = shown
            else:
                _set_text(target, cell.text)
            if cell.link:  # "Åbn rapporten" in the overview: the report beside the workbook
                target.hyperlink = cell.link
            target.alignment = styles.wrap if "\n" in cell.text or number < table.header_rows else styles.top
            if number < table.header_rows or cell.header:
                target.font = styles.header
            if number < table.header_rows:
                target.fill, target.border = styles.header_fill, styles.header_border
            longest = max((len(part) for part in cell.text.split("\n")), default=0)
            widths[column] = max(widths.get(column, 0), min(longest + 2, MAX_COLUMN_WIDTH))
    for note in table.notes:
        sheet.append([note])
        sheet.cell(sheet.max_row, 1).font = styles.note


def _set_text(target, text: str) -> None:
    """Put ``text`` in a cell as text: never a formula (a leading "="), without control characters."""
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    text = ILLEGAL_CHARACTERS_RE.sub("", text)
    if text:
        target.value = text
        target.data_type = "s"


def _set_widths(sheet, widths: dict[int, int]) -> None:
    from openpyxl.utils import get_column_letter

    for column, width in widths.items():
        sheet.column_dimensions[get_column_letter(column)].width = max(width, 8)


def _fill_about_sheet(sheet, params: Params, rows: list[tuple[str, str]], reports: list[list[str]],
                      styles: _Styles) -> None:
    """Where the tables come from, the suppression rule and one line per report."""
    min_cell = params.disclosure.min_cell
    sheet.append([f"{strategy_name(params)}: alle tabeller fra rapporterne"])
    sheet.cell(1, 1).font = styles.title
    sheet.append([])
    for label, value in rows:
        sheet.append([label, value])
        sheet.cell(sheet.max_row, 1).font = styles.header
    sheet.append([])
    for text in (
        "Tabellerne er de samme som i rapporterne, med de samme tal og den samme diskretionering.",
        f"Et tal, der bygger på færre end {min_cell} personer (for en andel: færre end {min_cell} med eller uden "
        "kendetegnet), eller som kunne regnes ud fra de viste tal, er ikke vist: cellen viser \"–\".",
        "Celler med ét tal er gemt som tal med de decimaler, rapporten viser (tallene er afrundede); intervaller, "
        "vurderinger og tal med tekst er gemt som tekst.",
        "Hver rapport har sit eget ark; rapportens egen dokumentation af kørslen står nederst på arket.",
    ):
        sheet.append([text])
    sheet.append([])
    sheet.append(["Rapporterne i projektmappen"])
    sheet.cell(sheet.max_row, 1).font = styles.table_title
    sheet.append(["Ark", "Rapport", "Fil", "Lavet", "Tabeller", "Bemærkning"])
    for column in range(1, 7):
        cell = sheet.cell(sheet.max_row, column)
        cell.font, cell.fill, cell.border = styles.header, styles.header_fill, styles.header_border
    for line in reports:
        sheet.append(line)
    _set_widths(sheet, {1: 28, 2: 50, 3: 24, 4: 18, 5: 10, 6: 60})


def _about_rows(params: Params, wave: str, params_file: Path, data_dir: Path, data_digest: str | None,
                written: datetime) -> list[tuple[str, str]]:
    repo = Path(__file__).resolve().parents[3]
    return [
        ("Kommune", params.municipality.name),
        ("Bølge", wave if wave == str(params.survey.baseline_wave)
         else f"{wave} (sammenlignet med {params.survey.baseline_wave})"),
        ("Parameterfil", f"{params_file.name} (kontrolsum {file_hash(params_file)[:12]})"),
        ("Data", f"{Path(data_dir).resolve().name} (kontrolsum {(data_digest or data_hash(Path(data_dir)))[:12]})"),
        ("evaluering", f"version {__version__}, commit {git_commit(repo)}"),
        ("Projektmappen lavet", _danish_time(written)),
        ("Mindste antal personer bag et tal", str(params.disclosure.min_cell)),
    ]


# --- writing ---------------------------------------------------------------------------------------


def write_wave_workbook(wave_dir: Path, params: Params, *, params_file: Path, data_dir: Path,
                        data_digest: str | None = None) -> Path | None:
    """Write ``<wave>/tabeller-<wave>.xlsx`` from the wave's rendered reports; returns its path,
    or None when the wave folder holds no report (then nothing is written or removed).

    Raises :class:`WorkbookError` (the previous workbook is kept) when a table may not be
    published or the file cannot be written. ``data_digest`` is the data's fingerprint when the
    caller has it already (``RunContext.data_digest``), else it is computed.
    """
    from openpyxl import Workbook

    from .index import read_status  # here: the index imports this module for the workbook's name

    wave_dir = Path(wave_dir)
    sources = _wave_reports(wave_dir, params)
    if not sources:
        return None
    status = read_status(wave_dir)
    names = sheet_names([s.stem for s in sources], params)
    min_cell = params.disclosure.min_cell
    styles = _Styles()
    book = Workbook()
    about = book.active
    about.title = ABOUT_SHEET
    listed = []
    for source in sources:
        report = _checked(read_shown_tables(source.read_text(encoding="utf-8")), source, min_cell)
        sheet = book.create_sheet(names[source.stem])
        _fill_report_sheet(sheet, report, source.name, styles)
        entry = status.get(source.stem, {})
        note = RUNNING_NOTE if entry.get("running") else KEPT_NOTE if entry.get("last_ok") is False else None
        listed.append([names[source.stem], report.title, source.name, _built(source, status), len(report.tables),
                       note])
    _fill_about_sheet(about, params, _about_rows(params, wave_dir.name, Path(params_file), Path(data_dir), data_digest,
                                                 datetime.now()), listed, styles)
    path = workbook_path(wave_dir)
    _save_atomic(book, path)
    return path


def _save_atomic(book, path: Path) -> None:
    """Save via a temporary file in the same folder and a rename (readers never see half a file)."""
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.close(fd)
        book.save(tmp)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; the workbook is meant to be read by others
        os.replace(tmp, path)
    except OSError as exc:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        raise WorkbookError(f"{path}: the workbook could not be written ({exc.strerror or exc}); "
                            "the previous one was kept") from None
    except BaseException:
        if tmp:
            Path(tmp).unlink(missing_ok=True)
        raise
