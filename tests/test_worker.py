"""The worker process (evaluering.runner.worker): it starts the kernel itself and hands it to
papermill, so it must also stop it, however the run ends, and report every failure in error.json.
The parent must not import papermill or nbconvert (about 0.4 s before the first worker starts).

A notebook cell writes the kernel's pid and connection file next to the notebook, so that a test
can check that both are gone. That is checked right after ``run_job`` returns in the test's own
process: once a worker process exits, its kernel would notice and exit by itself within a second or
so, which would hide a kernel the worker failed to stop.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from notebook_files import write_notebook

PID_CELL = ("import os, sys\nopen('kernel.pid', 'w').write(str(os.getpid()))\n"
            "open('kernel.connection', 'w').write(sys.argv[sys.argv.index('-f') + 1])")
GOOD = "from IPython.display import HTML\nHTML(f'<h1>Rapport {label}</h1>')"


def _job(notebook: Path, cell_timeout: int = 120) -> dict:
    return {"notebook": str(notebook), "parameters": {"label": "A"}, "title": "Rapport A", "cell_timeout": cell_timeout}


def _run_worker(tmp_path: Path, notebook: Path, env: dict[str, str] | None = None,
                ) -> tuple[subprocess.CompletedProcess, Path]:
    """Run the worker as the parent does, in a folder of its own; the process and the folder."""
    folder = tmp_path / "run"
    (folder / "runtime").mkdir(parents=True)
    (folder / "job.json").write_text(json.dumps(_job(notebook)), encoding="utf-8")
    env = dict(os.environ, **(env or {}), JUPYTER_RUNTIME_DIR=str(folder / "runtime"), TMPDIR=str(folder))
    done = subprocess.run([sys.executable, "-m", "evaluering.runner.worker", str(folder / "job.json")],
                          capture_output=True, text=True, env=env, timeout=120)
    return done, folder


def _run_here(tmp_path: Path, notebook: Path, cell_timeout: int = 120) -> tuple[bool, Path]:
    """``run_job`` in this process (which outlives the run); whether it succeeded, and its folder."""
    from evaluering.runner.worker import run_job

    folder = tmp_path / "run"
    folder.mkdir()
    return run_job(_job(notebook, cell_timeout), folder), folder


def _gone(pid: int, seconds: float) -> bool:
    """True once process ``pid`` has exited (a zombie counts as exited)."""
    import psutil

    deadline = time.time() + seconds
    while True:
        try:
            if psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
                return True
        except psutil.NoSuchProcess:
            return True
        if time.time() > deadline:
            return False
        time.sleep(0.05)


def _assert_kernel_stopped(notebook_dir: Path) -> None:
    """The kernel has exited (a killed one may take a moment) and its connection file is gone."""
    assert _gone(int((notebook_dir / "kernel.pid").read_text()), seconds=0.5), "the worker left its kernel running"
    assert not Path((notebook_dir / "kernel.connection").read_text()).exists(), "connection file left behind"


def test_a_good_run_renders_the_report_and_stops_its_kernel(tmp_path):
    notebook = write_notebook(tmp_path / "good.ipynb", 'label = "prøve"', PID_CELL, GOOD)
    ok, folder = _run_here(tmp_path, notebook)
    assert ok, (folder / "error.json").read_text(encoding="utf-8")
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert "Rapport A" in html and '<html lang="da">' in html and "<script" not in html
    _assert_kernel_stopped(tmp_path)


def test_the_notebook_runs_in_the_report_kernel_without_a_debugger(tmp_path):
    probe = "import sys\nopen('kernel.modules', 'w').write(sys.argv[0] + ' ' + str(sys.modules.get('debugpy')))"
    notebook = write_notebook(tmp_path / "probe.ipynb", 'label = "prøve"', probe, GOOD)
    ok, folder = _run_here(tmp_path, notebook)
    assert ok, (folder / "error.json").read_text(encoding="utf-8")
    program, debugpy = (tmp_path / "kernel.modules").read_text().split()
    assert program.endswith("evaluering/runner/kernel.py") and debugpy == "None"


def test_the_worker_process_writes_the_report_and_leaves_only_its_files(tmp_path):
    notebook = write_notebook(tmp_path / "good.ipynb", 'label = "prøve"', PID_CELL, GOOD)
    done, folder = _run_worker(tmp_path, notebook)
    assert done.returncode == 0, done.stderr
    assert "Rapport A" in (folder / "report.html").read_text(encoding="utf-8")
    assert sorted(p.name for p in folder.iterdir()) == ["executed.ipynb", "job.json", "report.html", "runtime"]
    _assert_kernel_stopped(tmp_path)


@pytest.mark.parametrize(("cell", "error", "cell_number", "timeout"), [
    pytest.param("raise ValueError('plantet fejl')", "ValueError: plantet fejl", 3, 120, id="failing-cell"),
    pytest.param("import os\nos._exit(1)", "DeadKernelError: Kernel died", None, 120, id="kernel-dies"),
    pytest.param("import time\ntime.sleep(60)", "CellTimeoutError: A cell timed out", None, 3, id="cell-timeout"),
])
def test_a_failed_run_names_the_error_and_stops_its_kernel(tmp_path, cell, error, cell_number, timeout):
    notebook = write_notebook(tmp_path / "bad.ipynb", 'label = "prøve"', PID_CELL, cell)
    ok, folder = _run_here(tmp_path, notebook, cell_timeout=timeout)
    assert not ok
    reported = json.loads((folder / "error.json").read_text(encoding="utf-8"))
    assert reported["error"].startswith(error) and reported["cell"] == cell_number
    assert not (folder / "report.html").exists()
    _assert_kernel_stopped(tmp_path)


def test_a_failed_worker_process_writes_error_json(tmp_path):
    notebook = write_notebook(tmp_path / "bad.ipynb", 'label = "prøve"', PID_CELL, "1 / 0")
    done, folder = _run_worker(tmp_path, notebook)
    assert done.returncode == 1, done.stderr
    assert json.loads((folder / "error.json").read_text(encoding="utf-8")) == {
        "error": "ZeroDivisionError: division by zero", "cell": 3}
    _assert_kernel_stopped(tmp_path)


def test_a_kernel_that_dies_at_start_is_reported(tmp_path, monkeypatch):
    """The report kernel's command exits at once."""
    from evaluering.runner import kernel

    monkeypatch.setattr(kernel, "kernel_argv", lambda: [sys.executable, "-c", "import sys; sys.exit(3)",
                                                        "{connection_file}"])
    notebook = write_notebook(tmp_path / "good.ipynb", 'label = "prøve"', GOOD)
    ok, folder = _run_here(tmp_path, notebook)
    assert ok is False
    reported = json.loads((folder / "error.json").read_text(encoding="utf-8"))
    assert "Kernel died before replying to kernel_info" in reported["error"] and reported["cell"] is None
    assert sorted(p.name for p in folder.iterdir()) == ["error.json", "executed.ipynb"]


def test_a_kernel_that_cannot_be_started_is_reported(tmp_path, monkeypatch):
    from evaluering.runner import worker

    monkeypatch.setattr(worker, "KERNEL_NAME", "no-such-kernel-evaluering")
    notebook = write_notebook(tmp_path / "good.ipynb", 'label = "prøve"', GOOD)
    assert worker.run_job(_job(notebook), tmp_path) is False
    reported = json.loads((tmp_path / "error.json").read_text(encoding="utf-8"))
    assert reported["error"].startswith("NoSuchKernel") and reported["cell"] is None


def test_the_parent_imports_neither_papermill_nor_nbconvert():
    """Fresh interpreter: the command line and the run's parent side (execute) only."""
    code = ("import json, sys, evaluering.cli, evaluering.runner.execute\n"
            "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in ('papermill', 'nbconvert'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(done.stdout.splitlines()[-1]) == []


def test_the_parent_variable_is_one_name():
    from evaluering.runner import execute, scratch, worker

    assert worker.PARENT_VARIABLE == scratch.PARENT_VARIABLE == execute.PARENT_VARIABLE
