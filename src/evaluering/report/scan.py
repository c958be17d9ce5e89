"""The disclosure scan: check every rendered report and executed notebook before it is published.

Disclosure control is applied where the tables are built (``disclosure``, ``tables``); this module
checks the result, independently of how it was built, so a report that slips past the rules fails
the run instead of reaching readers. What it flags:

* ``<script>`` and anything loaded from the internet (stylesheets, images, frames, CSS ``@import``
  and ``url(http...)``); a plain ``<a href="https://...">`` link in the text is fine;
* code: notebook input areas and prompts, highlighted code blocks, code cells with their input;
* identifiers from the input data (person, institution and counter ids) as whole tokens, and
  numbers that look like CPR numbers;
* table cells: a ``<td>`` that shows a digit without a ``data-n`` count (unless ``class="tekst"``),
  and a cell whose ``data-n`` is below ``min_cell`` but that shows a number rather than "–"
  (the ``data-n`` convention is described in ``disclosure``), or whose ``data-n`` itself
  publishes a count between 1 and ``min_cell`` - 1 (small counts are written as 0);
* pandas DataFrame tables (``class="dataframe"``), which bypass disclosure control, and, in
  notebook text outputs, printed DataFrame-like tables;
* figures (PNG outputs of a notebook) without a record of the fewest persons behind what they
  draw, or with a record below ``min_cell`` (``figure_record``): the scan checks the data behind
  a figure, which it cannot read from the picture.

Tables are read with the standard library's HTML parser. Embedded ``data:`` URIs (the base64
figures) are neither scanned for identifiers nor kept, so a 1-2 MB report takes a fraction of a
second. Messages never repeat an identifier or a CPR-like number.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ..data.contract import input_contract
from ..data.io import find_table_file, partition_files, read_raw
from ..data.privacy import looks_like_cpr
from .figure_record import ALT_KEY, METADATA_KEY

if TYPE_CHECKING:  # the reports import this module for ID_COLUMNS: no nbformat (and jsonschema) for them
    import nbformat

__all__ = ["Finding", "scan_html", "scan_notebook", "data_identifiers", "ID_COLUMNS"]

ID_COLUMNS = ("person_id", "institution_id", "counter_id")  # input columns whose values are identifiers

URL_ATTRIBUTES = {"src", "href", "srcset", "data", "poster", "background", "action", "formaction", "xlink:href"}
CODE_CLASSES = {"jp-InputPrompt", "jp-InputArea-editor", "jp-CodeMirrorEditor", "highlight", "input_area",
                "input_prompt"}
_EXTERNAL_CSS = re.compile(r"""(?:@import\s+(?:url\(\s*)?|url\(\s*)['"]?\s*(?:https?:)?//""", re.IGNORECASE)
_CPR_CANDIDATE = re.compile(r"(?<![\w.,-])\d{6}-?\d{4}(?![\w-])")
_TOKENS = re.compile(r"[\w-]+")
_WORDS = re.compile(r"\w+")
_PANDAS_FOOTER = re.compile(r"^\[\d+ rows x \d+ columns\]$|^(?:Name: .*, )?dtype: \w+$", re.MULTILINE)
_COLUMNS_LINE = re.compile(r"^\s*\S+(?: {2,}\S+){2,}\s*$")


@dataclass(frozen=True)
class Finding:
    """Something in a report or notebook that must not be published."""

    source: str  # file or "notebook cell 7"
    problem: str  # plain English, e.g. "table cell with 3 persons (minimum 5): '12,0 %'"


# --- rendered HTML ---------------------------------------------------------------------------------


def scan_html(html: str, *, min_cell: int, identifiers: Collection[str] = (), source: str = "") -> list[Finding]:
    """Every problem in one HTML document (a rendered report, or one notebook output)."""
    identifiers = _as_set(identifiers)
    parser = _ReportParser(min_cell)
    parser.feed(html)
    parser.close()
    problems = parser.problems + text_problems(" ".join(parser.text), identifiers)
    return [Finding(source, p) for p in problems]


def _as_set(identifiers: Collection[str]) -> Collection[str]:
    """A set, so that looking tokens up costs the number of tokens, not of identifiers."""
    return identifiers if isinstance(identifiers, (set, frozenset)) else frozenset(identifiers)


def _external(url: str) -> bool:
    """Does the URL load something from another host (http, https or protocol-relative)?"""
    url = url.strip().lower()
    return url.startswith(("http://", "https://", "//"))


def _snippet(text: str, width: int = 40) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


class _ReportParser(HTMLParser):
    """Collects table-cell, markup and text problems while it reads the document once."""

    def __init__(self, min_cell: int) -> None:
        super().__init__(convert_charrefs=True)
        self.min_cell = min_cell
        self.problems: list[str] = []
        self.text: list[str] = []  # text and attribute values, for identifiers and CPR numbers
        self.tables: list[bool] = []  # open tables: is it a pandas DataFrame?
        self.cell: dict | None = None  # the open <td>: its attributes and text
        self.in_style = False

    # markup --------------------------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        classes = set(attributes.get("class", "").split())
        if tag == "script":
            self.problems.append("script element")
        elif tag == "style":
            self.in_style = True
        elif tag == "br" and self.cell is not None:
            self.cell["text"].append(" ")
        self._check_attributes(tag, attributes)
        self._check_code(classes)
        if tag == "table":
            if "dataframe" in classes:
                self.problems.append("pandas DataFrame table (bypasses disclosure control)")
            self._close_cell()
            self.tables.append("dataframe" in classes)
        elif tag in ("td", "th"):
            self._close_cell()
            if tag == "td":
                self.cell = {"attributes": attributes, "classes": classes, "text": []}

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th", "tr", "table"):
            self._close_cell()
        if tag == "table" and self.tables:
            self.tables.pop()
        elif tag == "style":
            self.in_style = False

    def handle_data(self, data: str) -> None:
        if self.in_style:
            self._check_css(data)
            return
        self.text.append(data)
        if self.cell is not None:
            self.cell["text"].append(data)

    def handle_comment(self, data: str) -> None:
        self.text.append(data)

    def close(self) -> None:
        super().close()
        self._close_cell()  # a document that ends inside a cell

    def _check_attributes(self, tag: str, attributes: dict[str, str]) -> None:
        for name, value in attributes.items():
            if value.startswith("data:"):
                continue  # embedded figures: nothing to look up, and big
            self.text.append(value)
            if name in URL_ATTRIBUTES and _external(value) and not (tag == "a" and name == "href"):
                self.problems.append(f"external resource: <{tag} {name}=\"{_snippet(value, 80)}\">")
            elif name == "style":
                self._check_css(value)

    def _check_css(self, css: str) -> None:
        if _EXTERNAL_CSS.search(css):
            self.problems.append("stylesheet loads something from the internet (@import or url(...))")

    def _check_code(self, classes: set[str]) -> None:
        code = classes & CODE_CLASSES
        if code:
            self.problems.append(f"code shown (element of class {sorted(code)[0]})")
        elif "jp-CodeCell" in classes and "jp-mod-noInput" not in classes:
            self.problems.append("code cell rendered with its input")

    # table cells ---------------------------------------------------------------------------

    def _close_cell(self) -> None:
        if self.cell is None:
            return
        cell, self.cell = self.cell, None
        if self.tables and self.tables[-1]:
            return  # the DataFrame as a whole is already flagged
        problem = cell_problem("".join(cell["text"]), cell["attributes"].get("data-n"), "tekst" in cell["classes"],
                               self.min_cell)
        if problem:
            self.problems.append(problem)


def cell_problem(text: str, data_n: str | None, text_cell: bool, min_cell: int) -> str | None:
    """What is wrong with one table cell under the ``data-n`` convention, or None."""
    shows_number = any(ch.isdigit() for ch in text)
    if data_n is None:
        if shows_number and not text_cell:
            return f"table cell shows a number but has no data-n: '{_snippet(text)}'"
        return None
    if data_n.strip() == "-":
        return None
    try:
        persons = int(data_n)
    except ValueError:
        return f"table cell with an unreadable data-n ({_snippet(data_n, 20)!r}): '{_snippet(text)}'"
    if persons < min_cell and shows_number:
        return f"table cell with {persons} persons (minimum {min_cell}): '{_snippet(text)}'"
    if 0 < persons < min_cell:  # the attribute is published too: a small count may be written only as 0
        return f"table cell publishes a count of {persons} persons in its data-n (minimum {min_cell})"
    return None


# --- plain text ------------------------------------------------------------------------------------


def text_problems(text: str, identifiers: Collection[str] = ()) -> list[str]:
    """Identifiers from the input data and CPR-like numbers in a piece of text."""
    problems = []
    if identifiers:
        tokens = set(_TOKENS.findall(text)) | set(_WORDS.findall(text))
        found = tokens.intersection(identifiers)
        if found:
            problems.append(f"{len(found)} identifier(s) from the input data (not repeated here)")
    candidates = _CPR_CANDIDATE.findall(text)
    if candidates:
        cpr = int(looks_like_cpr(pd.Series(candidates, dtype="string")).sum())
        if cpr:
            problems.append(f"{cpr} number(s) that look like CPR numbers (not repeated here)")
    return problems


def printed_table(text: str) -> bool:
    """Does printed text look like a DataFrame or Series (pandas' footer, or 3+ aligned rows of numbers)?"""
    if _PANDAS_FOOTER.search(text):
        return True
    run = 0
    for line in text.splitlines():
        run = run + 1 if _COLUMNS_LINE.match(line) and any(ch.isdigit() for ch in line) else 0
        if run >= 3:
            return True
    return False


# --- notebooks -------------------------------------------------------------------------------------


def scan_notebook(nb: nbformat.NotebookNode, *, min_cell: int, identifiers: Collection[str] = (),
                  source: str = "") -> list[Finding]:
    """Every problem in an executed notebook: its outputs, and identifiers in any cell's source.

    HTML outputs get the rules of :func:`scan_html`; text outputs (plain text, streams, errors)
    are checked for identifiers, CPR-like numbers and printed tables. Cells are numbered from 1 in
    notebook order (markdown cells count), so "cell 7" is the seventh cell.
    """
    identifiers = _as_set(identifiers)
    findings = []
    for number, cell in enumerate(nb.cells, start=1):
        where = f"{source or 'notebook'} cell {number}"
        findings += [Finding(where, p) for p in text_problems(_joined(cell.get("source", "")), identifiers)]
        for output in cell.get("outputs", []) if cell.get("cell_type") == "code" else []:
            findings += _scan_output(output, where, min_cell, identifiers)
    return findings


def _joined(value: str | Iterable[str]) -> str:
    return value if isinstance(value, str) else "".join(value)


def _scan_output(output: dict, where: str, min_cell: int, identifiers: Collection[str]) -> list[Finding]:
    """Problems in one output of a code cell."""
    kind = output.get("output_type")
    if kind == "stream":
        return _scan_text(_joined(output.get("text", "")), where, identifiers)
    if kind == "error":
        text = "\n".join([output.get("ename", ""), output.get("evalue", ""), *output.get("traceback", [])])
        return _scan_text(text, where, identifiers)
    findings = [Finding(where, p) for p in figure_problems(output, min_cell)]
    alt = output.get("metadata", {}).get("image/png", {}).get(ALT_KEY)
    if alt:  # the alt text is published too
        findings += _scan_text(str(alt), where, identifiers)
    for mime, value in output.get("data", {}).items():
        if mime == "text/html":
            findings += scan_html(_joined(value), min_cell=min_cell, identifiers=identifiers, source=where)
        elif mime in ("application/javascript", "text/javascript"):
            findings.append(Finding(where, "script output"))
        elif mime.startswith("text/") or mime == "application/json":
            findings += _scan_text(_joined(value) if not isinstance(value, dict) else str(value), where, identifiers)
    return findings


def figure_problems(output: dict, min_cell: int) -> list[str]:
    """A figure output (PNG) must carry the fewest persons behind what it draws and a text that says
    what it shows (its alt text), both from ``figure_record``.
    """
    if "image/png" not in output.get("data", {}):
        return []
    metadata = output.get("metadata", {}).get("image/png", {})
    problems = [] if str(metadata.get(ALT_KEY) or "").strip() else ["figure without a text that says what it shows"]
    return problems + _persons_problems(metadata.get(METADATA_KEY), min_cell)


def _persons_problems(record, min_cell: int) -> list[str]:
    """A figure's record of the persons behind it: present, readable and at least ``min_cell``."""
    if not isinstance(record, dict) or "persons" not in record or record["persons"] is None:
        return ["figure without a record of the persons behind it"]
    persons = record["persons"]
    if persons == "-":
        return []
    try:
        persons = float(persons)
    except (TypeError, ValueError):
        return ["figure with an unreadable record of the persons behind it"]
    if persons < min_cell:
        return [f"figure draws a value on fewer than {min_cell} persons (with or without the attribute)"]
    return []


def _scan_text(text: str, where: str, identifiers: Collection[str]) -> list[Finding]:
    problems = text_problems(text, identifiers)
    if printed_table(text):
        problems.append("printed table (DataFrame-like text output bypasses disclosure control)")
    return [Finding(where, p) for p in problems]


# --- identifiers in the input ----------------------------------------------------------------------


def data_identifiers(data_dir: Path, params) -> set[str]:
    """Every person, institution and counter id in the input tables of ``data_dir``.

    Reads only the id columns (Parquet) so that it takes well under a second on a full delivery.
    """
    ids: set[str] = set()
    for spec in input_contract(params).values():
        columns = [c for c in spec.column_names if c in ID_COLUMNS]
        path = find_table_file(Path(data_dir), spec.name) if columns else None
        if path is not None:
            ids |= _column_values(path, columns)
    ids.discard("")
    return ids


def _column_values(path: Path, columns: list[str]) -> set[str]:
    """The distinct values (as stripped text) of some columns of one table file."""
    if path.is_dir() or path.suffix.lower() == ".parquet":
        import pyarrow.compute as pc
        import pyarrow.dataset as ds

        dataset = ds.dataset(partition_files(path) if path.is_dir() else path, format="parquet")
        present = [c for c in columns if c in dataset.schema.names]
        table = dataset.to_table(columns=present)
        return {str(v).strip() for c in present for v in pc.unique(table.column(c)).to_pylist() if v is not None}
    frame = read_raw(path)
    return {str(v).strip() for c in columns if c in frame for v in frame[c].dropna().unique()}
