"""Run planned notebooks in parallel and install their reports only when they are good.

Each run executes in its own worker process (:mod:`evaluering.runner.worker`) with a wall-clock
timeout. Its rendered report and executed notebook are then scanned for disclosure problems
(:mod:`evaluering.report.scan`); only a finished, clean report replaces the previous one, by a
rename in the report folder. A failed, timed-out or rejected run leaves the previous report as
it was. Runs whose inputs are unchanged since their report was built are skipped.

A run stopped by a signal (Ctrl-C, SIGTERM) stops its workers, which stop their kernels; every
temporary folder is removed and :class:`RunInterrupted` carries the results so far, so that the
caller can record that the previous reports were kept.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import nbformat
from tqdm import tqdm

from ..config import Params
from ..errors import EvalueringError
from ..hashing import data_hash
from ..report.scan import data_identifiers, scan_html, scan_notebook
from .files import write_atomic
from .fingerprint import read_fingerprint, run_fingerprint, stamp_fingerprint
from .plan import RunSpec
from .scratch import PARENT_VARIABLE, run_folder

__all__ = ["RunResult", "RunContext", "RunInterrupted", "execute_run", "needs_run", "run_all", "INTERRUPTED"]

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")
INTERRUPTED = "the run was stopped (interrupted) before this report was finished"
STOP_GRACE_SECONDS = 10  # a worker asked to stop gets this long to stop its kernel before it is killed


@dataclass(frozen=True)
class RunResult:
    """The outcome of one planned run: rendered, kept unchanged, or failed with its reason."""

    spec: RunSpec
    ok: bool
    error: str = ""
    failing_cell: int | None = None
    skipped: bool = False
    seconds: float = 0.0

    @property
    def status(self) -> str:
        """``ok``, ``unchanged`` or ``FAILED``."""
        return "unchanged" if self.skipped else ("ok" if self.ok else "FAILED")

    def describe(self) -> str:
        """One line for the terminal: the report and what happened to it."""
        if self.ok:
            what = "unchanged, kept" if self.skipped else f"ok in {self.seconds:.0f} s"
            return f"{self.spec.label}: {what} -> {self.spec.report}"
        cell = f" (cell {self.failing_cell})" if self.failing_cell is not None else ""
        return f"{self.spec.label}: FAILED{cell}: {self.error}"


@dataclass(frozen=True)
class RunContext:
    """What every run of one invocation shares: the disclosure rule, the identifiers to look for,
    the data fingerprint, limits and whether to rebuild unchanged reports.

    ``identifiers`` may be a future (:meth:`for_data` reads them while the first notebooks run);
    :meth:`identifier_set` waits for it.
    """

    min_cell: int
    identifiers: frozenset[str] | Future
    data_digest: str
    timeout: int = 1800
    force: bool = False
    threads_per_run: int = 1

    @classmethod
    def for_data(cls, params: Params, data_dir: Path, **options) -> RunContext:
        """The context for a data folder: its disclosure minimum, identifiers and fingerprint.

        The identifiers are first needed when the first report is scanned, so they are read in a
        thread of their own meanwhile (about a second at Gladsaxe's size, on the critical path
        of a run that only re-renders).
        """
        reader = ThreadPoolExecutor(max_workers=1)
        identifiers = reader.submit(lambda: frozenset(data_identifiers(Path(data_dir), params)))
        reader.shutdown(wait=False)  # the read goes on; no other task is accepted
        return cls(params.disclosure.min_cell, identifiers, data_hash(Path(data_dir)), **options)

    def identifier_set(self) -> frozenset[str]:
        """The identifiers to look for, once they have been read."""
        return self.identifiers.result() if isinstance(self.identifiers, Future) else self.identifiers


class RunInterrupted(EvalueringError):
    """A signal stopped :func:`run_all`; ``results`` has one entry per planned run (unfinished
    ones failed with :data:`INTERRUPTED`). Not an error of the input: the caller catches it before
    the family's bad-input handling, records the results and exits.
    """

    def __init__(self, results: list[RunResult]) -> None:
        super().__init__(INTERRUPTED)
        self.results = results


class _Workers:
    """The worker processes running now, so that a signal can stop them all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._live: set[subprocess.Popen] = set()
        self.stopping = threading.Event()

    def start(self, command: list[str], env: dict[str, str]) -> subprocess.Popen | None:
        with self._lock:
            if self.stopping.is_set():
                return None
            proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)
            self._live.add(proc)
            return proc

    def finished(self, proc: subprocess.Popen) -> None:
        with self._lock:
            self._live.discard(proc)

    def stop_all(self) -> None:
        """Ask every worker to stop (it stops its kernel first); no new worker starts."""
        with self._lock:
            self.stopping.set()
            for proc in self._live:
                _terminate(proc)


_WORKERS = _Workers()


def _terminate(proc: subprocess.Popen) -> None:
    with contextlib.suppress(OSError):
        proc.terminate()


def _stop(proc: subprocess.Popen) -> None:
    """Stop a worker: SIGTERM (it kills its kernel and exits), SIGKILL if it does not exit in time."""
    _terminate(proc)
    try:
        proc.communicate(timeout=STOP_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()


def _worker_env(threads: int, folder: Path) -> dict[str, str]:
    """Keep parallel runs from oversubscribing the cores with BLAS threads; tell the worker who
    its parent is, so that it stops when this run dies; keep the kernel's connection file and any
    other temporary file of the worker or kernel in the run's own folder, so that they go with it.
    """
    env = dict(os.environ, **{PARENT_VARIABLE: str(os.getpid()), "JUPYTER_RUNTIME_DIR": str(folder / "runtime"),
                              "TMPDIR": str(folder)})  # jupyter_client writes the connection file to TMPDIR
    for name in THREAD_VARIABLES:
        env.setdefault(name, str(threads))
    return env


def _run_worker(spec: RunSpec, folder: Path, context: RunContext) -> RunResult | None:
    """Execute ``spec`` in a worker process; a RunResult on failure, None on success."""
    job = {"notebook": str(spec.notebook), "parameters": spec.parameters, "title": spec.label,
           "cell_timeout": context.timeout}
    job_file = folder / "job.json"
    job_file.write_text(json.dumps(job), encoding="utf-8")
    command = [sys.executable, "-m", "evaluering.runner.worker", str(job_file)]
    proc = _WORKERS.start(command, _worker_env(context.threads_per_run, folder))
    if proc is None:
        return RunResult(spec, False, INTERRUPTED)
    try:
        _, stderr = proc.communicate(timeout=context.timeout)
    except subprocess.TimeoutExpired:
        _stop(proc)
        return RunResult(spec, False, f"timed out after {context.timeout} s")
    finally:
        _WORKERS.finished(proc)
    if _WORKERS.stopping.is_set():
        return RunResult(spec, False, INTERRUPTED)
    if proc.returncode == 0 and (folder / "report.html").exists():
        return None
    error_file = folder / "error.json"
    if error_file.exists():
        error = json.loads(error_file.read_text(encoding="utf-8"))
        return RunResult(spec, False, error["error"], error["cell"])
    tail = " | ".join(stderr.strip().splitlines()[-3:])
    return RunResult(spec, False, f"worker exited with status {proc.returncode}: {tail}")


def _disclosure_problems(folder: Path, context: RunContext, spec: RunSpec) -> list[str]:
    """Scan the rendered report and the executed notebook; every finding is a reason to refuse."""
    html = (folder / "report.html").read_text(encoding="utf-8")
    identifiers = context.identifier_set()
    findings = scan_html(html, min_cell=context.min_cell, identifiers=identifiers, source=spec.report.name)
    notebook = nbformat.read(folder / "executed.ipynb", as_version=4)
    findings += scan_notebook(notebook, min_cell=context.min_cell, identifiers=identifiers,
                              source=spec.notebook.name)
    return [f"{f.source}: {f.problem}" for f in findings]


def needs_run(spec: RunSpec, context: RunContext) -> bool:
    """True unless the report was built from exactly these inputs (and the run is not forced)."""
    return context.force or read_fingerprint(spec.report) != run_fingerprint(spec, context.data_digest)


def execute_run(spec: RunSpec, context: RunContext) -> RunResult:
    """Execute one run and install its report if it succeeds and passes the disclosure scan.

    Never raises for a failing notebook: the failure is returned and the previous report kept.
    """
    start = time.perf_counter()
    if not needs_run(spec, context):
        return RunResult(spec, True, skipped=True)
    fingerprint = run_fingerprint(spec, context.data_digest)
    with run_folder() as folder:
        failure = _run_worker(spec, folder, context)
        if failure is not None:
            return failure
        problems = _disclosure_problems(folder, context, spec)
        if problems:
            shown = "; ".join(problems[:5]) + (f"; ... ({len(problems)} in all)" if len(problems) > 5 else "")
            return RunResult(spec, False, f"disclosure check refused the report: {shown}")
        html = stamp_fingerprint((folder / "report.html").read_text(encoding="utf-8"), fingerprint)
    write_atomic(spec.report, html)
    return RunResult(spec, True, seconds=time.perf_counter() - start)


def run_all(specs: list[RunSpec], context: RunContext, *, jobs: int = 1, progress: bool = True) -> list[RunResult]:
    """Execute every run, ``jobs`` at a time, with a progress bar; results in the order planned.

    On KeyboardInterrupt (Ctrl-C, or SIGTERM turned into one by the command line) every worker is
    stopped and :class:`RunInterrupted` is raised with the results so far.
    """
    jobs = max(1, min(jobs, len(specs) or 1))
    results: dict[int, RunResult] = {}
    _WORKERS.stopping.clear()
    pool = ThreadPoolExecutor(max_workers=jobs)
    futures: dict = {}
    try:
        with tqdm(total=len(specs), desc="Rapporter", unit="rapport", disable=not progress) as bar:
            futures = {pool.submit(execute_run, spec, context): i for i, spec in enumerate(specs)}
            for future in as_completed(futures):
                result = future.result()
                results[futures[future]] = result
                bar.set_postfix_str(f"{result.spec.label}: {result.status}")
                bar.update()
    except KeyboardInterrupt:
        _WORKERS.stop_all()
        pool.shutdown(wait=True, cancel_futures=True)
        for future, i in futures.items():
            if future.done() and not future.cancelled() and future.exception() is None:
                results.setdefault(i, future.result())
        raise RunInterrupted([results.get(i) or RunResult(spec, False, INTERRUPTED)
                              for i, spec in enumerate(specs)]) from None
    finally:
        pool.shutdown(wait=True)
        _WORKERS.stopping.clear()  # every worker has ended; later runs in this process may start
    return [results[i] for i in range(len(specs))]
