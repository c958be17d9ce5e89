"""Execute one notebook and render it, in a process of its own.

The parent (:mod:`evaluering.runner.execute`) starts ``python -m evaluering.runner.worker JOB``
with a job file and a wall-clock timeout, so a run that hangs or crashes can be killed without
touching the others. The worker writes only into the job's own folder:

- ``executed.ipynb``: the executed notebook (scanned for disclosure by the parent, then deleted),
- ``report.html``: the rendered report,
- ``error.json``: on failure, the error and the failing cell;
- the kernel's connection file and any other temporary file (``TMPDIR`` and
  ``JUPYTER_RUNTIME_DIR`` point into the folder).

Asked to stop (SIGTERM, from a parent that times out or is interrupted) the worker kills its
kernel and exits; the parent removes the folder. If the parent itself dies, the worker kills its
kernel and removes the folder, since nobody else will.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import sys
import threading
import time
from pathlib import Path

import nbformat
import papermill
import psutil
from nbconvert import HTMLExporter

__all__ = ["render_html", "run_job", "TEMPLATE_DIR", "PARENT_VARIABLE"]

PARENT_VARIABLE = "EVALUERING_RUN_PARENT_PID"  # set by the parent run to its own pid

TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "report" / "templates"


def render_html(notebook: nbformat.NotebookNode, title: str | None = None) -> str:
    """Render an executed notebook as self-contained Danish HTML without code."""
    if title:
        notebook.metadata["title"] = title
    exporter = HTMLExporter(
        language_code="da",
        template_name="rapport",
        extra_template_basedirs=[str(TEMPLATE_DIR)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    body, _ = exporter.from_notebook_node(notebook)
    return body


def run_job(job: dict, folder: Path) -> bool:
    """Execute ``job['notebook']`` with ``job['parameters']`` into ``folder``; False on failure."""
    executed = folder / "executed.ipynb"
    try:
        papermill.execute_notebook(
            job["notebook"], str(executed), parameters=job["parameters"], cwd=str(Path(job["notebook"]).parent),
            progress_bar=False, execution_timeout=job["cell_timeout"], kernel_name="python3",
        )
        html = render_html(nbformat.read(executed, as_version=4), job.get("title"))
    except papermill.PapermillExecutionError as exc:
        _write_error(folder, f"{exc.ename}: {exc.evalue}", _failing_cell(executed))
        return False
    except Exception as exc:  # kernel died, cell timeout, missing notebook: report, do not crash
        _write_error(folder, f"{type(exc).__name__}: {exc}", None)
        return False
    (folder / "report.html").write_text(html, encoding="utf-8")
    return True


def _failing_cell(executed: Path) -> int | None:
    """Number (1-based, as in the notebook on disk) of the cell papermill marked as failed."""
    try:
        cells = nbformat.read(executed, as_version=4).cells
    except (OSError, ValueError):
        return None
    added = {"injected-parameters", "papermill-error-cell-tag"}  # cells papermill inserts
    own = [c for c in cells if not added & set(c.metadata.get("tags", []))]
    return next((i for i, c in enumerate(own, 1) if c.metadata.get("papermill", {}).get("status") == "failed"), None)


def _write_error(folder: Path, message: str, cell: int | None) -> None:
    (folder / "error.json").write_text(json.dumps({"error": message, "cell": cell}), encoding="utf-8")


def _kill_children() -> None:
    """Kill every process this worker started (the kernel runs in a session of its own)."""
    for child in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()


def _stop_on_terminate() -> None:
    """On SIGTERM kill the kernel and exit at once (the parent removes the run's folder)."""

    def stop(signum: int, _frame) -> None:
        _kill_children()
        os._exit(128 + signum)

    signal.signal(signal.SIGTERM, stop)


def _exit_with_parent(folder: Path) -> None:
    """Stop, stop our kernel and remove the run's folder when the parent run dies: nobody would
    install our report or clean up after us.

    The parent passes its pid in ``PARENT_VARIABLE``: if it died while this process was still
    importing, ``os.getppid()`` would already name the process that adopted us.
    """
    parent = int(os.environ.get(PARENT_VARIABLE) or os.getppid())

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        _kill_children()
        for _ in range(50):  # the main thread may still write a file or two while the kernel dies
            shutil.rmtree(folder, ignore_errors=True)
            if not folder.exists():
                break
            time.sleep(0.1)
        os._exit(3)

    threading.Thread(target=watch, daemon=True).start()


def main(argv: list[str]) -> int:
    job_file = Path(argv[0])
    _stop_on_terminate()
    _exit_with_parent(job_file.parent)
    ok = run_job(json.loads(job_file.read_text(encoding="utf-8")), job_file.parent)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
