"""Run planned notebooks in parallel and install their reports only when they are good.

Each run executes in its own worker process (:mod:`evaluering.runner.worker`) with a wall-clock
timeout. Its rendered report and executed notebook are then scanned for disclosure problems
(:mod:`evaluering.report.scan`); only a finished, clean report replaces the previous one, by a
rename in the report folder. A failed, timed-out or rejected run leaves the previous report as
it was. Runs whose inputs are unchanged since their report was built are skipped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import nbformat
from tqdm import tqdm

from ..config import Params
from ..report.scan import data_identifiers, scan_html, scan_notebook
from .files import write_atomic
from ..hashing import data_hash
from .fingerprint import read_fingerprint, run_fingerprint, stamp_fingerprint
from .plan import RunSpec
from .worker import PARENT_VARIABLE

__all__ = ["RunResult", "RunContext", "execute_run", "run_all"]

THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")


@dataclass(frozen=True)
class RunResult:
    spec: RunSpec
    ok: bool
    error: str = ""
    failing_cell: int | None = None
    skipped: bool = False
    seconds: float = 0.0

    @property
    def status(self) -> str:
        return "unchanged" if self.skipped else ("ok" if self.ok else "FAILED")

    def describe(self) -> str:
        if self.ok:
            what = "unchanged, kept" if self.skipped else f"ok in {self.seconds:.0f} s"
            return f"{self.spec.label}: {what} -> {self.spec.report}"
        cell = f" (cell {self.failing_cell})" if self.failing_cell is not None else ""
        return f"{self.spec.label}: FAILED{cell}: {self.error}"


@dataclass(frozen=True)
class RunContext:
    """What every run of one invocation shares: the disclosure rule, the identifiers to look for,
    the data fingerprint, limits and whether to rebuild unchanged reports."""

    min_cell: int
    identifiers: frozenset[str]
    data_digest: str
    timeout: int = 1800
    force: bool = False
    threads_per_run: int = 1

    @classmethod
    def for_data(cls, params: Params, data_dir: Path, **options) -> "RunContext":
        return cls(params.disclosure.min_cell, frozenset(data_identifiers(Path(data_dir), params)),
                   data_hash(Path(data_dir)), **options)


def _worker_env(threads: int) -> dict[str, str]:
    """Keep parallel runs from oversubscribing the cores with BLAS threads; tell the worker who
    its parent is, so that it stops when this run dies."""
    env = dict(os.environ, **{PARENT_VARIABLE: str(os.getpid())})
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
    try:
        proc = subprocess.run(command, capture_output=True, text=True, timeout=context.timeout,
                              env=_worker_env(context.threads_per_run))
    except subprocess.TimeoutExpired:
        return RunResult(spec, False, f"timed out after {context.timeout} s")
    if proc.returncode == 0 and (folder / "report.html").exists():
        return None
    error_file = folder / "error.json"
    if error_file.exists():
        error = json.loads(error_file.read_text(encoding="utf-8"))
        return RunResult(spec, False, error["error"], error["cell"])
    tail = " | ".join(proc.stderr.strip().splitlines()[-3:])
    return RunResult(spec, False, f"worker exited with status {proc.returncode}: {tail}")


def _disclosure_problems(folder: Path, context: RunContext, spec: RunSpec) -> list[str]:
    """Scan the rendered report and the executed notebook; every finding is a reason to refuse."""
    html = (folder / "report.html").read_text(encoding="utf-8")
    findings = scan_html(html, min_cell=context.min_cell, identifiers=context.identifiers, source=spec.report.name)
    notebook = nbformat.read(folder / "executed.ipynb", as_version=4)
    findings += scan_notebook(notebook, min_cell=context.min_cell, identifiers=context.identifiers,
                              source=spec.notebook.name)
    return [f"{f.source}: {f.problem}" for f in findings]


def execute_run(spec: RunSpec, context: RunContext) -> RunResult:
    """Execute one run and install its report if it succeeds and passes the disclosure scan.

    Never raises for a failing notebook: the failure is returned and the previous report kept.
    """
    start = time.perf_counter()
    fingerprint = run_fingerprint(spec, context.data_digest)
    if not context.force and read_fingerprint(spec.report) == fingerprint:
        return RunResult(spec, True, skipped=True)
    with tempfile.TemporaryDirectory(prefix="evaluering-") as tmp:
        folder = Path(tmp)
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
    """Execute every run, ``jobs`` at a time, with a progress bar; results in the order planned."""
    jobs = max(1, min(jobs, len(specs) or 1))
    results: dict[int, RunResult] = {}
    with tqdm(total=len(specs), desc="Rapporter", unit="rapport", disable=not progress) as bar, \
            ThreadPoolExecutor(max_workers=jobs) as pool:
        futures = {pool.submit(execute_run, spec, context): i for i, spec in enumerate(specs)}
        for future in as_completed(futures):
            result = future.result()
            results[futures[future]] = result
            bar.set_postfix_str(f"{result.spec.label}: {result.status}")
            bar.update()
    return [results[i] for i in range(len(specs))]
