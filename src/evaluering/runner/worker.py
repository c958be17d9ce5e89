"""Execute one notebook and render it, in a process of its own.

The parent (:mod:`evaluering.runner.execute`) starts ``python -m evaluering.runner.worker JOB``
with a job file and a wall-clock timeout, so a run that hangs or crashes can be killed without
touching the others. The worker writes only into the job's own folder:

- ``executed.ipynb``: the executed notebook (scanned for disclosure by the parent, then deleted),
- ``report.html``: the rendered report,
- ``error.json``: on failure, the error and the failing cell;
- the kernel's connection file and any other temporary file (``TMPDIR`` and
  ``JUPYTER_RUNTIME_DIR`` point into the folder).

The worker's way to a report is kept short: the report kernel (:mod:`.kernel`, without a debugger)
is started first, as nbclient would start it, and papermill is imported while it starts (about half
a second each); papermill then runs the cells in that kernel, while a thread imports nbconvert; that
thread renders the report while the kernel is stopped. As nbclient leaves a kernel it did not start
running, the worker stops it, however the run ends.

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
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

import psutil
from jupyter_client import AsyncKernelManager
from jupyter_core.utils import run_sync

from .kernel import KERNEL_NAME, ReportKernelSpecs
from .scratch import PARENT_VARIABLE

if TYPE_CHECKING:
    import nbformat

__all__ = ["render_html", "run_job", "TEMPLATE_DIR", "PARENT_VARIABLE", "KERNEL_NAME"]

TEMPLATE_DIR = Path(__file__).resolve().parents[1] / "report" / "templates"


def render_html(notebook: nbformat.NotebookNode, title: str | None = None) -> str:
    """Render an executed notebook as self-contained Danish HTML without code."""
    from nbconvert import HTMLExporter

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
    """Execute ``job['notebook']`` with ``job['parameters']`` into ``folder``; False on failure.

    A thread of its own imports nbconvert while the cells run and renders the report while the
    kernel shuts down: neither is then on the way to the report.
    """
    executed = folder / "executed.ipynb"
    renderer = ThreadPoolExecutor(max_workers=1)
    try:
        with _kernel(str(Path(job["notebook"]).parent)) as km:
            _execute(job, executed, km, on_notebook_start=lambda **_: _submit(renderer, _import_nbconvert))
            rendered = renderer.submit(lambda: render_html(_read(executed), job.get("title")))
        html = rendered.result()
    except Exception as exc:  # failing cell, kernel died or did not start, cell timeout, missing notebook
        _write_error(folder, *_describe(exc, executed))
        return False
    finally:
        renderer.shutdown(wait=False, cancel_futures=True)
    (folder / "report.html").write_text(html, encoding="utf-8")
    return True


def _execute(job: dict, executed: Path, km: AsyncKernelManager, **hooks) -> None:
    """Run the notebook's cells with papermill in the kernel ``km`` (started, perhaps not yet ready);
    ``hooks``: nbclient's (``on_notebook_start=...``).
    """
    import papermill  # while the kernel starts

    papermill.execute_notebook(
        job["notebook"], str(executed), parameters=job["parameters"], cwd=str(Path(job["notebook"]).parent),
        progress_bar=False, execution_timeout=job["cell_timeout"], kernel_name=KERNEL_NAME, km=km, **hooks,
    )


def _submit(pool: ThreadPoolExecutor, task) -> None:
    """Start ``task`` in ``pool`` (as an nbclient hook: returns nothing to await)."""
    pool.submit(task)


def _import_nbconvert() -> None:
    """Import nbconvert for :func:`render_html` (which raises the error, should the import fail)."""
    with contextlib.suppress(Exception):
        import nbconvert  # noqa: F401


class _KernelManager(AsyncKernelManager):
    """The kernel manager nbclient uses, remembering the client nbclient makes so that its
    channels can be stopped, as nbclient stops them for a kernel of its own.
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.clients: list = []

    def client(self, **kwargs):
        kc = super().client(**kwargs)
        self.clients.append(kc)
        return kc


@contextlib.contextmanager
def _kernel(cwd: str) -> Iterator[AsyncKernelManager]:
    """The report kernel (:mod:`.kernel`) started in ``cwd`` as nbclient starts one (nbclient waits
    for it to be ready), stopped afterwards however the run ended.
    """
    km = _KernelManager(kernel_name=KERNEL_NAME, kernel_spec_manager=ReportKernelSpecs())
    try:
        run_sync(km.start_kernel)(cwd=cwd)
        yield km
    finally:
        try:
            run_sync(_shut_down)(km)
        except Exception:
            _kill_children()
            raise


async def _shut_down(km: _KernelManager) -> None:
    """As nbclient's ``_async_cleanup_kernel`` with ``shutdown_kernel="immediate"``: kill the kernel,
    remove its connection file and close the sockets. Every output is in the executed notebook by
    then, and nothing in a report's kernel needs a graceful stop, which takes about a second.
    """
    try:
        if await km.is_alive():
            await km.shutdown_kernel(now=True)  # removes the connection file too
        else:
            await km.cleanup_resources()
    except RuntimeError as exc:
        if "No kernel is running!" not in str(exc):
            raise
    finally:
        for kc in km.clients:
            kc.stop_channels()


def _read(executed: Path) -> nbformat.NotebookNode:
    import nbformat  # loaded with papermill

    return nbformat.read(executed, as_version=4)


def _describe(exc: Exception, executed: Path) -> tuple[str, int | None]:
    """The error message and failing cell to report for ``exc`` (papermill itself may have failed to import)."""
    execution_error = getattr(sys.modules.get("papermill"), "PapermillExecutionError", None)
    if execution_error is not None and isinstance(exc, execution_error):
        return f"{exc.ename}: {exc.evalue}", _failing_cell(executed)
    return f"{type(exc).__name__}: {exc}", None


def _failing_cell(executed: Path) -> int | None:
    """Number (1-based, as in the notebook on disk) of the cell papermill marked as failed."""
    try:
        cells = _read(executed).cells
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
