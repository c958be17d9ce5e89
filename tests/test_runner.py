"""The runner: parallel runs, timeouts, atomic installs, skipping unchanged reports.

These tests use tiny notebooks (a kernel start each, ~2 s) so that failure modes can be planted;
the real notebooks are run end to end in test_cli.py. Killed and interrupted runs are in the fault
corpus, test_faults.py.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from evaluering.runner import RunContext, RunSpec, execute_run, run_all, update_status, write_index
from evaluering.runner.fingerprint import read_fingerprint
from notebook_files import write_notebook


def _notebook(folder: Path, name: str, *cells: str) -> Path:
    """A notebook with a parameters cell (``label``) followed by ``cells``."""
    return write_notebook(folder / name, 'label = "prøve"', *cells)


GOOD = "from IPython.display import HTML\nHTML(f'<h1>Rapport {label}</h1><p>Alt i orden.</p>')"


def _spec(notebook: Path, report: Path, params_file: Path, label: str = "A") -> RunSpec:
    return RunSpec(label=f"Rapport {label}", notebook=notebook, report=report,
                   parameters={"label": label, "params_file": str(params_file)})


@pytest.fixture()
def context() -> RunContext:
    return RunContext(min_cell=5, identifiers=frozenset({"P0000042"}), data_digest="d" * 64, timeout=120)


def test_good_run_installs_a_stamped_report_and_skips_when_unchanged(tmp_path, params_file, context):
    notebook = _notebook(tmp_path, "good.ipynb", GOOD)
    report = tmp_path / "out" / "2024" / "a.html"
    spec = _spec(notebook, report, params_file)
    first = execute_run(spec, context)
    assert first.ok and not first.skipped, first.describe()
    html = report.read_text(encoding="utf-8")
    assert "Rapport A" in html and "<script" not in html and '<html lang="da">' in html
    stamp = read_fingerprint(report)
    assert stamp is not None
    assert execute_run(spec, context).skipped  # same inputs: nothing to do
    assert not execute_run(spec, RunContext(**{**context.__dict__, "force": True})).skipped
    changed = _spec(notebook, report, params_file, label="B")  # new parameters: rebuilt
    assert not execute_run(changed, context).skipped
    assert read_fingerprint(report) != stamp
    assert not execute_run(spec, RunContext(**{**context.__dict__, "data_digest": "e" * 64})).skipped


def test_failing_run_keeps_the_previous_report_and_names_the_cell(tmp_path, params_file, context):
    notebook = _notebook(tmp_path, "bad.ipynb", GOOD, "raise ValueError('plantet fejl')")
    report = tmp_path / "a.html"
    report.write_text("tidligere rapport", encoding="utf-8")
    result = execute_run(_spec(notebook, report, params_file), context)
    assert not result.ok
    assert "ValueError: plantet fejl" in result.error and result.failing_cell == 3
    assert report.read_text(encoding="utf-8") == "tidligere rapport"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.html", "bad.ipynb"]  # no temporary files


def test_a_run_over_its_time_is_stopped_and_changes_nothing(tmp_path, params_file, context):
    notebook = _notebook(tmp_path, "slow.ipynb", "import time\ntime.sleep(120)")
    report = tmp_path / "a.html"
    report.write_text("tidligere rapport", encoding="utf-8")
    start = time.perf_counter()
    result = execute_run(_spec(notebook, report, params_file), RunContext(**{**context.__dict__, "timeout": 8}))
    assert time.perf_counter() - start < 30
    assert not result.ok and "timed out after 8 s" in result.error
    assert report.read_text(encoding="utf-8") == "tidligere rapport"


def test_disclosure_scan_refuses_a_report_with_an_identifier(tmp_path, params_file, context):
    leak = "from IPython.display import HTML\nHTML('<p>Borger P0000042 svarede ja</p>')"
    report = tmp_path / "a.html"
    result = execute_run(_spec(_notebook(tmp_path, "leak.ipynb", leak), report, params_file), context)
    assert not result.ok and "disclosure" in result.error and "P0000042" not in result.error
    assert not report.exists()


def test_parallel_runs_return_results_in_plan_order(tmp_path, params_file, context):
    good = _notebook(tmp_path, "good.ipynb", GOOD)
    bad = _notebook(tmp_path, "bad.ipynb", "1 / 0")
    specs = [_spec(good, tmp_path / "2024" / "a.html", params_file, "A"),
             _spec(bad, tmp_path / "2024" / "b.html", params_file, "B"),
             _spec(good, tmp_path / "2024" / "c.html", params_file, "C")]
    results = run_all(specs, context, jobs=2, progress=False)
    assert [r.spec.label for r in results] == ["Rapport A", "Rapport B", "Rapport C"]
    assert [r.ok for r in results] == [True, False, True]
    assert "ZeroDivisionError" in results[1].error


def test_index_flags_a_report_kept_after_a_failed_run(tmp_path, params_file, params, context):
    good = _notebook(tmp_path, "good.ipynb", GOOD)
    report = tmp_path / "reports" / "2024" / "moerkhoej.html"
    update_status([execute_run(_spec(good, report, params_file), context)])
    bad = _notebook(tmp_path, "bad.ipynb", "1 / 0")
    update_status([execute_run(_spec(bad, report, params_file), context)])
    index = write_index(tmp_path / "reports", params).read_text(encoding="utf-8")
    assert 'href="2024/moerkhoej.html">Mørkhøj</a>' in index
    assert "fejlede; rapporten er fra en tidligere kørsel" in index


@pytest.mark.slow
def test_the_2027_wave_runs_once_it_is_in_the_data(tmp_path, params_file):
    """The whole wave (districts, overview, area report) for 2027 on data with the next wave."""
    from evaluering.cli import main

    data = tmp_path / "with-2027"
    assert main(["data", "synthetic", "--next-wave", "--out", str(data), "--params", str(params_file)]) == 0
    out = tmp_path / "reports"
    notebooks = Path(__file__).resolve().parents[1] / "notebooks"
    assert main(["run", "--wave", "2027", "--data", str(data), "--params", str(params_file), "--out", str(out),
                 "--notebooks", str(notebooks), "--jobs", "2"]) == 0
    names = sorted(p.name for p in (out / "2027").glob("*.html"))
    assert names == ["hoeje-gladsaxe.html", "moerkhoej.html", "omraadeeffekter.html", "oversigt.html",
                     "overvaagning.html", "vaerebro-park.html"]
    assert "Social balance 2027" in (out / "2027" / "moerkhoej.html").read_text(encoding="utf-8")
    assert 'href="2027/oversigt.html"' in (out / "index.html").read_text(encoding="utf-8")
