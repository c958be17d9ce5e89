"""Disclosure control: secondary suppression, the data-n markup, and the scan of every report."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import nbformat
import pandas as pd
import pytest

from evaluering.evaluation import DistrictEvaluation
from evaluering.indicators.prepare import COMPARISON
from evaluering.report.area import published_area_means
from evaluering.report.disclosure import suppress_estimates, suppress_group
from evaluering.report.scan import Finding, data_identifiers, printed_table, scan_html, scan_notebook
from evaluering.report.tables import balance_hidden, goal_table, html_table, sample_table

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
MIN_CELL = 5


def _problems(html: str, identifiers=()) -> list[str]:
    return [f.problem for f in scan_html(html, min_cell=MIN_CELL, identifiers=identifiers)]


# --- secondary suppression -------------------------------------------------------------------------


@pytest.mark.parametrize(("counts", "shown", "expected"), [
    ([10, 20, 30], None, [False, False, False]),  # nothing small: nothing hidden
    ([3, 40, 57], None, [True, True, False]),  # 3 = total - 40 - 57, so 40 (next smallest) goes too
    ([2, 1, 30, 50], None, [True, True, True, False]),  # 2 + 1 = 3 would still be recoverable
    ([3, 40, 57], [True, True, False], [True, False, True]),  # unpublished 57 protects the 3
    ([40, 57, 3], [True, True, False], [True, False, True]),  # a small unpublished cell: hide 40
    ([1, 2], None, [True, True]),  # everything small: all hidden, nothing left to add
])
def test_suppress_group_hides_recoverable_cells(counts, shown, expected):
    """Unpublished cells count as hidden (True) in the result."""
    assert suppress_group(counts, MIN_CELL, shown=shown) == expected


def test_balance_hides_categories_whose_reference_is_small():
    counts = pd.DataFrame(
        {"district": [60, 37, 50, 2, 30], "comparison": [200, 200, 250, 100, 4]},
        index=["age_band=30-49", "age_band=50+", "sex=male", "origin=western", "origin=non_western"])
    hidden = balance_hidden(counts, {"district": 100, "comparison": 500}, MIN_CELL)
    # age: the left-out reference band holds 100 - 60 - 37 = 3 district respondents, recoverable
    # from the shares, so the smaller shown band goes; origin: 2 and 4 are small themselves, and
    # the large reference category keeps each of them from being recovered.
    assert hidden.tolist() == [False, True, False, True, True]


def test_sample_table_hides_answers_when_few_did_not_answer(params):
    rows = []
    for stratum, wave, sampled, answered in [("moerkhoej", 2021, 50, 30), ("moerkhoej", 2024, 20, 17),
                                             (COMPARISON, 2021, 100, 60), (COMPARISON, 2024, 100, 3)]:
        rows += [{"stratum": stratum, "wave": wave, "responded": i < answered} for i in range(sampled)]
    data = SimpleNamespace(survey=pd.DataFrame(rows), params=params)
    html = sample_table(data, "moerkhoej", [2021, 2024])
    assert '<td data-n="30">30</td>' in html  # 30 of 50: both parts large
    assert '<td data-n="17">–</td>' in html  # 3 non-respondents = 20 - 17
    assert '<td data-n="0">–</td>' in html  # 3 respondents: hidden, and so is the count
    assert _problems(html) == []


# --- goal tables -----------------------------------------------------------------------------------


def _evaluation(params, small_key: str, small_n: int = 3) -> DistrictEvaluation:
    """A hand-built evaluation of Mørkhøj where indicator ``small_key`` rests on ``small_n`` persons."""
    rows, levels = [], []
    for ind in params.indicators:
        visitors = ind.source == "visitors"
        n = small_n if ind.key == small_key else 400
        rows.append({
            "number": ind.number, "key": ind.key, "indicator": ind.name, "direction": ind.direction,
            "unit": ind.unit, "design": "did", "scale": "difference", "district_baseline": 0.40,
            "district_followup": 0.45, "comparison_baseline": 0.50, "comparison_followup": 0.50,
            "min_persons": None if visitors else n, "estimate": 0.05, "se": 0.02, "ci_low": 0.01, "ci_high": 0.09,
            "inference": "cluster" if visitors else "placebo", "p_value": 0.01, "p_model": 0.01,
            "placebo_ci_low": 0.01, "placebo_ci_high": 0.09, "people_estimate": 0.03, "people_ci_low": 0.0,
            "people_ci_high": 0.06, "p_holm": 0.2, "p_bh": 0.1, "verdict": "better", "ambition": 0.42,
            "ambition_met": True,
        })
        for group, count in (("moerkhoej", n), (COMPARISON, 5000)):
            levels += [{"group": group, "period": p, "indicator": ind.key, "n_persons": 0 if visitors else count}
                       for p in (2021, 2024)]
    return DistrictEvaluation("moerkhoej", "Mørkhøj", 2021, 2024, pd.DataFrame(rows), pd.DataFrame(levels),
                              (), {}, {})


def _row(html: str, label: str) -> str:
    return next(r for r in html.split("<tr>") if label in r)


def test_goal_table_suppresses_a_small_row_and_passes_the_scan(params):
    goal = params.effect_goals[0]
    small = goal.themes[0].indicators[0]
    html = goal_table(_evaluation(params, small.key), params, goal.key)
    row = _row(html, small.name)
    assert "Ikke vist" in row
    assert "Ikke vist: færre end 5 personer bag et af tallene (med eller uden kendetegnet)" in html  # the reason
    assert row.count('data-n="0">–<') >= 4  # estimate, people, p-value, Holm: all suppressed, count too
    assert "nået" not in row  # nor whether the hidden level meets the ambition
    assert _problems(html) == []
    other = _row(html, goal.themes[0].indicators[1].name if len(goal.themes[0].indicators) > 1
                 else goal.themes[1].indicators[0].name)
    assert 'data-n="400">40,0 % → 45,0 %' in other


def test_visitor_counts_are_marked_as_not_persons(params):
    visitors = next(i for i in params.indicators if i.source == "visitors")
    goal = next(g for g in params.effect_goals if any(i.key == visitors.key for t in g.themes for i in t.indicators))
    html = goal_table(_evaluation(params, "none"), params, goal.key)
    assert '<td data-n="-">0 → 0</td>' in _row(html, visitors.name)
    assert _problems(html) == []


def test_unsuppressed_small_cell_would_be_caught(params):
    """The scan is independent of the table code: a small cell that slipped through is flagged."""
    html = html_table(["Gruppe", "Andel"], [["Mørkhøj", "12,0 %"]], [[None, 3]])
    assert _problems(html) == ["table cell with 3 persons (minimum 5): '12,0 %'"]


def test_suppress_estimates_hides_whether_the_ambition_is_met(params):
    table = suppress_estimates(_evaluation(params, "uddannelse").table, MIN_CELL).set_index("key")
    assert pd.isna(table.loc["uddannelse", "ambition_met"]) and table.loc["arbejdsmarked", "ambition_met"]


# --- the area report -------------------------------------------------------------------------------


def test_threshold_figure_leaves_out_small_areas():
    # A: 5 employed of 10; B: 3 persons; C: 2 employed of 5 (too few with the attribute); D: 6 of 12
    frame = pd.DataFrame({"area_id": ["A"] * 10 + ["B"] * 3 + ["C"] * 5 + ["D"] * 12, "y": [1.0, 0.0] * 15,
                          "poverty_share": [0.1] * 10 + [0.5] * 3 + [0.3] * 5 + [0.2] * 12})
    means, dropped = published_area_means(frame, MIN_CELL)
    assert means["area_id"].tolist() == ["A", "D"] and dropped == 2
    # the x axis is a share too: D has 3 poor adults of 200, so it goes as well
    context = pd.DataFrame({"area_id": ["A", "B", "C", "D"], "poverty_share": [0.1, 0.5, 0.3, 0.015],
                            "n_adults": [100, 6, 10, 200]})
    means, dropped = published_area_means(frame, MIN_CELL, context=context)
    assert means["area_id"].tolist() == ["A"] and dropped == 3


# --- scan rules: each triggered by a minimal snippet, and not by its harmless counterpart ------------


@pytest.mark.parametrize(("html", "problem"), [
    ("<p>x</p><script>alert(1)</script>", "script element"),
    ('<link rel="stylesheet" href="https://cdn.example.org/x.css">', "external resource"),
    ('<img src="//cdn.example.org/x.png">', "external resource"),
    ('<iframe src="http://example.org/"></iframe>', "external resource"),
    ('<style>@import url("https://fonts.example.org/css");</style>', "stylesheet loads"),
    ('<div style="background: url(https://example.org/a.png)">x</div>', "stylesheet loads"),
    ('<div class="jp-InputArea"><div class="jp-InputPrompt jp-InputArea-prompt">In [1]:</div></div>', "code shown"),
    ('<div class="highlight hl-ipython3"><pre>import pandas</pre></div>', "code shown"),
    ('<div class="jp-Cell jp-CodeCell jp-Notebook-cell"></div>', "code cell rendered with its input"),
    ("<p>Person P0000123 svarede</p>", "identifier(s) from the input data"),
    ('<span title="DAG02">daginstitution</span>', "identifier(s) from the input data"),
    ("<p>CPR 010190-1234</p>", "look like CPR numbers"),
    ("<p>id 0101901234</p>", "look like CPR numbers"),
    ("<table><tr><td>12,0 %</td></tr></table>", "table cell shows a number but has no data-n: '12,0 %'"),
    ('<table><tr><td data-n="3">12,0 %</td></tr></table>', "table cell with 3 persons (minimum 5): '12,0 %'"),
    ('<table><tr><td data-n="2">–</td></tr></table>', "publishes a count of 2 persons in its data-n"),
    ('<table><tr><td data-n="many">1</td></tr></table>', "unreadable data-n"),
    ('<table class="dataframe"><tr><td>1</td></tr></table>', "pandas DataFrame table"),
])
def test_scan_flags(html, problem):
    found = _problems(html, identifiers={"P0000123", "DAG02"})
    assert len(found) == 1 and problem in found[0], found


@pytest.mark.parametrize("html", [
    '<p>Se <a href="https://www.gladsaxe.dk/">kommunens side</a>.</p>',  # a plain hyperlink
    '<a href="#metode">Metode</a><img src="data:image/png;base64,iVBORw0KGgoP0000123AAAA">',  # embedded figure
    "<style>.x { background: url(data:image/svg+xml;base64,PHN2Zz4=) } /* https://example.org */</style>",
    '<div class="jp-InputArea jp-Cell-inputArea"><div class="jp-RenderedMarkdown">Tekst</div></div>',  # markdown
    '<div class="jp-Cell jp-CodeCell jp-Notebook-cell jp-mod-noInput"></div>',
    "<p>Person P0000124 og P00001234</p>",  # other tokens
    "<p>320190-1234, 1.234.567.890 og kontrolsum 0101901234ab</p>",  # no valid date, thousands dots, hash
    '<table><tr><td data-n="0">–</td><td data-n="-">2021</td><td data-n="5">12,0 %</td></tr></table>',
    '<table><tr><th>2021</th></tr><tr><td class="tekst">Område 7</td><td>ikke relevant</td></tr></table>',
])
def test_scan_passes_harmless_counterparts(html):
    assert _problems(html, identifiers={"P0000123", "DAG02"}) == []


def test_findings_name_their_source():
    assert scan_html("<script></script>", min_cell=MIN_CELL, source="moerkhoej.html") == [
        Finding("moerkhoej.html", "script element")]


def test_printed_tables_are_recognised():
    frame = pd.DataFrame({"person": ["a", "b", "c"], "income": [1, 2, 3], "age": [30, 40, 50]})
    assert printed_table(str(frame)) and printed_table(str(frame["income"]))
    assert not printed_table("Færdig: 3 rapporter på 42 s\n")


def test_scan_notebook_reports_the_cell(params):
    nb = nbformat.v4.new_notebook()
    frame = pd.DataFrame({"a": [1, 2, 3], "b": [4, 5, 6], "c": [7, 8, 9]})
    nb.cells = [
        nbformat.v4.new_markdown_cell("# Rapport"),
        nbformat.v4.new_code_cell("print(frame)", outputs=[nbformat.v4.new_output("stream", text=str(frame))]),
        nbformat.v4.new_code_cell("x", outputs=[nbformat.v4.new_output(
            "display_data", data={"text/html": "<table><tr><td>7</td></tr></table>", "text/plain": "<HTML>"})]),
        nbformat.v4.new_code_cell("y", outputs=[nbformat.v4.new_output(
            "error", ename="KeyError", evalue="'P0000123'", traceback=["KeyError: 'P0000123'"])]),
        nbformat.v4.new_code_cell("print('ok')", outputs=[nbformat.v4.new_output("stream", text="ok\n")]),
    ]
    findings = scan_notebook(nb, min_cell=MIN_CELL, identifiers={"P0000123"}, source="test.ipynb")
    assert [f.source for f in findings] == ["test.ipynb cell 2", "test.ipynb cell 3", "test.ipynb cell 4"]
    assert "printed table" in findings[0].problem and "data-n" in findings[1].problem
    assert "identifier" in findings[2].problem


# --- the real data, notebooks and reports ----------------------------------------------------------


@pytest.fixture(scope="module")
def identifiers(params, synthetic_dir):
    return data_identifiers(synthetic_dir, params)


def test_data_identifiers_cover_persons_institutions_and_counters(identifiers, synthetic_dir):
    survey = pd.read_parquet(synthetic_dir / "survey.parquet", columns=["person_id"])
    institutions = pd.read_parquet(synthetic_dir / "institutions.parquet", columns=["institution_id"])
    visitors = pd.read_parquet(synthetic_dir / "visitors.parquet", columns=["counter_id"])
    for column in (survey["person_id"], institutions["institution_id"], visitors["counter_id"]):
        assert set(column) <= identifiers


@pytest.mark.parametrize("name", ["district_evaluation.ipynb", "overview.ipynb", "monitoring.ipynb", "area_effects.ipynb"])
def test_stored_notebooks_pass_the_scan(name, identifiers):
    nb = nbformat.read(NOTEBOOKS / name, as_version=4)
    assert scan_notebook(nb, min_cell=MIN_CELL, identifiers=identifiers, source=name) == []


REPORTS_2024 = ["hoeje-gladsaxe.html", "vaerebro-park.html", "moerkhoej.html", "oversigt.html",
                "overvaagning.html", "omraadeeffekter.html"]


@pytest.mark.parametrize("name", REPORTS_2024)
def test_every_rendered_report_passes_the_scan(rendered_reports, name, identifiers):
    """The full 2024 wave as `evaluering run` renders it. The runner has already scanned each
    executed notebook (it refuses to install a report otherwise, see test_runner), so exit code 0
    also says the executed notebooks were clean."""
    code, out = rendered_reports
    assert code == 0
    html = (out / "2024" / name).read_text(encoding="utf-8")
    assert 'data-n="' in html and "<td" in html
    assert scan_html(html, min_cell=MIN_CELL, identifiers=identifiers, source=name) == []
