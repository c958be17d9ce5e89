"""The command line end to end: run renders reports, failures keep old reports, validate lists faults."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import nbformat
import pandas as pd

from evaluering.cli import main

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def _run(*args: str) -> int:
    return main(list(args))


def test_run_renders_a_self_contained_danish_report(rendered_reports):
    code, out = rendered_reports
    assert code == 0
    report = out / "2024" / "moerkhoej.html"
    html = report.read_text(encoding="utf-8")
    assert "<script" not in html  # opens offline, nothing executes
    assert "Mørkhøj: Social balance 2024" in html
    assert "Flere skal klare sig bedre" in html and "Metode og data" in html
    assert "DistrictReport" not in html and "import " not in html  # code is hidden
    assert "data:image/png;base64" in html  # figures are embedded
    index = (out / "index.html").read_text(encoding="utf-8")
    assert 'href="2024/moerkhoej.html"' in index


def test_reports_hold_no_identifiers(rendered_reports, synthetic_dir):
    _, out = rendered_reports
    html = (out / "2024" / "moerkhoej.html").read_text(encoding="utf-8")
    ids = set(pd.read_parquet(synthetic_dir / "survey.parquet", columns=["person_id"])["person_id"])
    found = set(re.findall(r"P\d{7}", html)) & ids
    assert not found, f"{len(found)} person ids in the report"


def _broken_notebooks(tmp_path: Path) -> Path:
    """A copy of the notebooks whose district notebook fails right after its parameters."""
    folder = tmp_path / "notebooks"
    folder.mkdir()
    nb = nbformat.read(NOTEBOOKS / "district_evaluation.ipynb", as_version=4)
    nb.cells.insert(1, nbformat.v4.new_code_cell("raise RuntimeError('planted failure')"))
    nbformat.write(nb, folder / "district_evaluation.ipynb")
    return folder


def test_failed_run_keeps_the_previous_report(tmp_path, synthetic_dir, params_file, capsys):
    out = tmp_path / "reports"
    previous = out / "2024" / "moerkhoej.html"
    previous.parent.mkdir(parents=True)
    previous.write_text("previous good report", encoding="utf-8")
    code = _run("run", "--params", str(params_file), "--data", str(synthetic_dir), "--out", str(out),
                "--notebooks", str(_broken_notebooks(tmp_path)), "--district", "moerkhoej")
    assert code == 1
    assert previous.read_text(encoding="utf-8") == "previous good report"
    assert not list(previous.parent.glob(".*tmp"))  # no half-written file left behind
    output = capsys.readouterr()
    assert "Mørkhøj 2024: FAILED" in output.out
    assert "RuntimeError: planted failure" in output.out


def _faulty_copy(tmp_path: Path, synthetic_dir: Path) -> Path:
    data = tmp_path / "data"
    shutil.copytree(synthetic_dir, data)
    areas = pd.read_parquet(data / "areas.parquet")
    areas.loc[2, "district"] = "hoje-gladsaxe"  # misspelt district key
    areas.to_parquet(data / "areas.parquet")
    visitors = pd.read_parquet(data / "visitors.parquet")
    visitors.loc[[4, 9], "count"] = -3  # negative counts
    visitors.to_parquet(data / "visitors.parquet")
    return data


def test_validate_lists_every_fault_and_exits_nonzero(tmp_path, synthetic_dir, params_file, capsys):
    data = _faulty_copy(tmp_path, synthetic_dir)
    assert _run("validate", str(data), "--params", str(params_file)) == 1
    text = capsys.readouterr().out
    # grouped by file, then column, rows (1 = first data row) and what is wrong
    assert re.search(r"areas\.parquet\n\s+ERROR\s+column 'district', row 3: value 'hoje-gladsaxe'", text)
    assert re.search(r"visitors\.parquet\n\s+ERROR\s+column 'count', rows 5, 10: value -3 is outside", text)


def test_run_refuses_invalid_data_and_writes_nothing(tmp_path, synthetic_dir, params_file, capsys):
    data = _faulty_copy(tmp_path, synthetic_dir)
    out = tmp_path / "reports"
    assert _run("run", "--params", str(params_file), "--data", str(data), "--out", str(out)) == 2
    assert not out.exists()
    assert "break the input contract" in capsys.readouterr().err


def test_unknown_district_and_baseline_wave_are_clear_errors(synthetic_dir, params_file, capsys):
    assert _run("run", "--params", str(params_file), "--data", str(synthetic_dir), "--district", "Nowhere") == 2
    assert "unknown district 'Nowhere'" in capsys.readouterr().err
    assert _run("run", "--params", str(params_file), "--data", str(synthetic_dir), "--wave", "2021") == 2
    assert "baseline wave" in capsys.readouterr().err
    assert _run("run", "--params", str(params_file), "--data", str(synthetic_dir), "--wave", "2027") == 2
    assert "no wave 2027" in capsys.readouterr().err


def test_synthetic_command_is_deterministic(tmp_path, params_file):
    for name in ("a", "b"):
        assert _run("data", "synthetic", "--seed", "5", "--out", str(tmp_path / name), "--params", str(params_file)) == 0
    truth = [json.loads((tmp_path / n / "truth.json").read_text()) for n in ("a", "b")]
    assert truth[0] == truth[1]
    for table in ("register", "survey"):
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "a" / f"{table}.parquet"),
                                      pd.read_parquet(tmp_path / "b" / f"{table}.parquet"))


def test_synthetic_command_writes_the_chosen_world(tmp_path, params_file):
    out = tmp_path / "het"
    assert _run("data", "synthetic", "--seed", "5", "--out", str(out), "--params", str(params_file),
                "--world", "heterogeneous", "--no-effects") == 0
    truth = json.loads((out / "truth.json").read_text())
    assert (truth["world"], truth["planted"]) == ("heterogeneous", "none")
    assert all(e["value"] == 0 for entries in truth["effects"].values() for e in entries.values())


def test_next_wave_is_accepted_once_delivered(tmp_path, params_file):
    data = tmp_path / "with-2027"
    assert _run("data", "synthetic", "--next-wave", "--out", str(data), "--params", str(params_file)) == 0
    assert _run("validate", str(data), "--params", str(params_file)) == 0  # exit 0: no errors


def test_full_run_plans_the_area_effects_report(params, params_file, synthetic_dir, tmp_path):
    from evaluering.runner import plan_area_run

    spec = plan_area_run(params, params_file=params_file, data_dir=synthetic_dir, notebooks_dir=NOTEBOOKS,
                         out_dir=tmp_path, wave=2024)
    assert spec.notebook.exists() and spec.report == tmp_path / "2024" / "omraadeeffekter.html"
    assert spec.parameters["year"] == 2024
