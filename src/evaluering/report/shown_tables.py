"""The tables a rendered report shows, read back from its HTML, and the numbers in their cells.

The wave's Excel workbook (``runner.workbook``) is built from these, not from the results: what
the workbook holds is exactly what the reports show, with the same suppression, so there is no
second path by which a hidden number could reach a reader. Each table comes with the headings
above it (its title in the workbook) and the footnotes (``<p class="note">``) right after it.

:func:`shown_number` turns a cell that shows one plain Danish number ("1.234", "0,214",
"51,1 %", "−1,5", "+0,3") into its value and an Excel number format with the decimals shown;
anything else (intervals, "–", "< 0,001", a number with a unit or a footnote mark) stays text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser

__all__ = ["ShownCell", "ShownTable", "ShownReport", "read_shown_tables", "shown_number"]

HEADINGS = {"h2": 0, "h3": 1, "h4": 2, "h5": 3, "h6": 4}  # h1 is the report's title
ENDS_FOOTNOTES = {"p", "table", "img", "ul", "ol", "figure", "h1", *HEADINGS}  # after a table's notes


@dataclass(frozen=True)
class ShownCell:
    """One cell as the report shows it: its text (``<br>`` as a line break) and its marks."""

    text: str
    header: bool = False  # a <th>
    text_cell: bool = False  # class="tekst": a label, not a number
    data_n: str | None = None  # persons behind the cell (``disclosure``'s data-n convention)
    link: str | None = None  # a link in the cell to another file of the wave ("moerkhoej.html")


@dataclass
class ShownTable:
    """A table with the headings above it and the footnotes right after it."""

    title: str
    rows: list[list[ShownCell]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def header_rows(self) -> int:
        """The leading rows made only of header cells."""
        count = 0
        for row in self.rows:
            if not row or not all(cell.header for cell in row):
                break
            count += 1
        return count


@dataclass
class ShownReport:
    """A report's title (its ``<h1>``) and every table it shows, in order."""

    title: str
    tables: list[ShownTable]


def read_shown_tables(html: str) -> ShownReport:
    """Every table of a rendered report, with its title and footnotes (see the module docstring)."""
    parser = _TableReader()
    parser.feed(html)
    parser.close()
    return ShownReport(parser.title, parser.tables)


def _clean(parts: list[str]) -> str:
    """Text with each line's whitespace collapsed, empty lines dropped and nbconvert's "¶" removed."""
    lines = (" ".join(line.replace("¶", "").split()) for line in "".join(parts).split("\n"))
    return "\n".join(line for line in lines if line)


def _local_file(href: str) -> bool:
    """A link to a file beside the report (not an anchor, not another site)."""
    return bool(href) and not href.startswith(("#", "/")) and ":" not in href


class _TableReader(HTMLParser):
    """Reads the document once: headings, tables (rows of cells) and the notes after each table."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.title = ""
        self.tables: list[ShownTable] = []
        self.headings: list[str] = []  # the open h2, h3, ... above the current point
        self.text: list[str] | None = None  # text being collected (a heading, cell, caption or note)
        self.collecting: str | None = None  # the tag whose text is being collected
        self.cell: dict | None = None
        self.row: list[ShownCell] | None = None
        self.table: ShownTable | None = None
        self.depth = 0  # open tables (a nested table's text goes into the outer cell)
        self.after_table: ShownTable | None = None  # the table whose footnotes may follow
        self.skip = 0  # inside <style>, <script> or <head>

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        classes = set(attributes.get("class", "").split())
        if tag in ("style", "script", "head"):
            self.skip += 1
        elif tag == "br":
            self._data("\n")
        elif tag == "table":
            self.depth += 1
            if self.depth == 1:
                self.after_table = None
                self.table = ShownTable(" – ".join(h for h in self.headings if h))
        elif self.depth == 1 and tag == "caption":
            self._collect(tag)
        elif self.depth == 1 and tag == "tr":
            self._end_row()
            self.row = []
        elif self.depth == 1 and tag == "a" and self.cell is not None and _local_file(attributes.get("href", "")):
            self.cell["link"] = attributes["href"]
        elif self.depth == 1 and tag in ("td", "th"):
            self._end_cell()
            if self.row is None:
                self.row = []
            self.cell = {"header": tag == "th", "text_cell": "tekst" in classes,
                         "data_n": attributes.get("data-n")}
            self._collect(tag)
        elif self.depth == 0 and (tag == "h1" or tag in HEADINGS):
            self.after_table = None
            self._collect(tag)
        elif self.depth == 0 and tag == "p" and "note" in classes and self.after_table is not None:
            self._collect("note")
        elif self.depth == 0 and tag in ENDS_FOOTNOTES:
            self.after_table = None

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script", "head"):
            self.skip = max(0, self.skip - 1)
        elif tag == "table":
            if self.depth == 1:
                self._end_row()
                self.tables.append(self.table)
                self.after_table, self.table = self.table, None
            self.depth = max(0, self.depth - 1)
        elif self.depth == 1 and tag == "caption" and self.collecting == "caption":
            caption = self._finish()
            self.table.title = caption or self.table.title
        elif self.depth == 1 and tag in ("td", "th"):
            self._end_cell()
        elif self.depth == 1 and tag == "tr":
            self._end_row()
        elif self.depth == 0 and tag == "p" and self.collecting == "note":
            note = self._finish()
            if note and self.after_table is not None:
                self.after_table.notes.append(note)
        elif self.depth == 0 and tag == self.collecting and (tag == "h1" or tag in HEADINGS):
            text = self._finish()
            if tag == "h1":
                self.title = self.title or text
                self.headings = []
            else:
                level = HEADINGS[tag]
                self.headings = [*self.headings[:level], *[""] * (level - len(self.headings)), text]

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self._data(data)

    def close(self) -> None:
        super().close()
        if self.table is not None:  # a document that ends inside a table
            self._end_row()
            self.tables.append(self.table)
            self.table = None

    def _data(self, data: str) -> None:
        if self.text is not None:
            self.text.append(data)

    def _collect(self, tag: str) -> None:
        self.collecting, self.text = tag, []

    def _finish(self) -> str:
        text = _clean(self.text or [])
        self.collecting, self.text = None, None
        return text

    def _end_cell(self) -> None:
        if self.cell is None:
            return
        cell, self.cell = self.cell, None
        self.row.append(ShownCell(self._finish(), **cell))

    def _end_row(self) -> None:
        self._end_cell()
        if self.row:
            self.table.rows.append(self.row)
        self.row = None


# --- numbers ---------------------------------------------------------------------------------------

_NUMBER = re.compile(r"^(?P<sign>[+\-−±]?)(?P<whole>\d{1,3}(?:\.\d{3})+|0|[1-9]\d{0,3})(?:,(?P<decimals>\d+))?"
                     r"(?P<unit> ?%| pct\.-point| ×)?$")
UNITS = {" pct.-point": '" pct.-point"', " ×": '" ×"'}  # units kept in the number format (no scaling)


def shown_number(text: str) -> tuple[float | int, str] | None:
    """The value of a cell showing one plain Danish number, with an Excel number format that shows
    it as the report does (same decimals, thousands grouping, sign, unit); None for anything else.

    "1.234" -> (1234, "#,##0"); "0,214" -> (0.214, "0.000"); "51,1 %" -> (0.511, "0.0 %");
    "−1,5 pct.-point" (a signed change) -> (-1.5, '+0.0" pct.-point";-0.0" pct.-point";"±"0.0" pct.-point"').
    Grouping as shown (a whole number below 1.000 gets it too, as the counts it sits among; a
    year has none). Excel shows the formats with the reader's own separators: a Danish Excel
    shows "1.234" and "51,1 %".
    """
    match = _NUMBER.match(text.strip())
    if match is None:
        return None
    whole, decimals, unit = match["whole"], match["decimals"] or "", match["unit"] or ""
    value = float(whole.replace(".", "") + ("." + decimals if decimals else ""))
    if match["sign"] in ("-", "−"):
        value = -value
    counts = not decimals and not unit and len(whole) < 4  # a count below 1.000: formatted as the larger ones
    code = ("#,##0" if "." in whole or counts else "0") + ("." + "0" * len(decimals) if decimals else "")
    places = len(decimals)
    if unit.strip() == "%":
        value, code, places = value / 100, code + " %", places + 2
    else:
        code += UNITS.get(unit, "")
    value = round(value, places) + 0.0 if places else int(value)  # the shown digits, no -0.0
    if match["sign"] in ("+", "−", "±"):  # a signed change, as the report writes it
        code = f'+{code};-{code};"±"{code}'
    return value, code
