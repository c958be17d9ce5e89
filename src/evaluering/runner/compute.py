"""Compute a wave's reports once, before the notebooks run, into the wave's results store.

The data are loaded and prepared once; each district's report, the monitoring report and the
area-effects report are then computed ``jobs`` at a time in forked processes (which share the
prepared data with the parent without copying it), made ready to draw
(``precompute``) and stripped of microdata (``for_store``), and written to the store
(:mod:`evaluering.report.store`). The overview draws from the districts' results.

A report whose computation fails is left out of the store: its notebook then computes it itself
and fails with the error in its own cell, exactly as without a store, while the other reports
are drawn from the store.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import signal
import traceback
from dataclasses import dataclass
from pathlib import Path

from threadpoolctl import threadpool_limits
from tqdm import tqdm

from ..config import Params
from ..indicators.prepare import PreparedData
from ..report.area import AreaReport
from ..report.district import DistrictReport
from ..report.monitoring import MonitoringReport
from ..report.store import results_key, write_store

__all__ = ["WaveInputs", "compute_wave"]


@dataclass(frozen=True)
class WaveInputs:
    """What every report of a wave is computed from."""

    params: Params
    data: PreparedData
    params_file: Path
    data_dir: Path
    wave: int
    baseline: int


_INPUTS: WaveInputs | None = None  # set in the parent before forking: the workers read it
_THREADS = 1  # BLAS threads per worker: the cores shared out, so parallel workers do not oversubscribe them


def _report(name: str, inputs: WaveInputs):
    """The report ``name`` computed from ``inputs``, ready to draw and without microdata."""
    where = dict(params_file=inputs.params_file, data_dir=inputs.data_dir)
    if name == MonitoringReport.STORED_AS:
        report = MonitoringReport.compute(inputs.params, inputs.data, inputs.wave, **where)
    elif name == AreaReport.STORED_AS:
        report = AreaReport.compute(inputs.params, inputs.data, inputs.wave, **where)
    else:
        report = DistrictReport.compute(inputs.params, inputs.data, name, inputs.baseline, inputs.wave, **where)
    return report.precompute().for_store()


def _quiet_worker() -> None:
    """A worker leaves Ctrl-C and SIGTERM to its parent, which stops it (no traceback per worker)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _compute_one(name: str) -> tuple[str, bytes | None, str]:
    """(name, pickled report or None, error) in a worker: a failure is returned, not raised."""
    try:
        with threadpool_limits(limits=_THREADS):
            return name, pickle.dumps(_report(name, _INPUTS), protocol=pickle.HIGHEST_PROTOCOL), ""
    except Exception as exc:  # the notebook will meet the same error and report it in its cell
        return name, None, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=3)}"


def compute_wave(names: list[str], inputs: WaveInputs, store: Path, *, jobs: int = 1,
                 progress: bool = True) -> dict[str, str]:
    """Compute the reports ``names`` into ``store``; returns the failures (name -> error).

    A KeyboardInterrupt stops every worker at once and leaves the previous store as it was.
    """
    global _INPUTS, _THREADS
    _INPUTS = inputs
    _THREADS = max(1, (os.cpu_count() or 1) // max(1, min(jobs, len(names))))
    reports, failures = {}, {}
    bar = tqdm(total=len(names), desc="Beregninger", unit="rapport", disable=not progress)
    try:
        if jobs <= 1 or len(names) <= 1:
            outcomes = map(_compute_one, names)
            pool = None
        else:
            pool = multiprocessing.get_context("fork").Pool(min(jobs, len(names)), initializer=_quiet_worker)
            outcomes = pool.imap_unordered(_compute_one, names)
        try:
            for name, payload, error in outcomes:
                if payload is None:
                    failures[name] = error
                else:
                    reports[name] = pickle.loads(payload)
                bar.set_postfix_str(name)
                bar.update()
        except BaseException:
            if pool is not None:
                pool.terminate()  # stopped: the workers stop at once
            raise
        finally:
            if pool is not None:
                pool.close()
                pool.join()
    finally:
        bar.close()
        _INPUTS = None
    meta = {"wave": inputs.wave, "baseline": inputs.baseline, "params_file": str(inputs.params_file.resolve()),
            "data_dir": str(inputs.data_dir.resolve())}
    key = results_key(inputs.params_file, inputs.data_dir, inputs.wave, inputs.baseline)
    write_store(store, key, meta, reports)
    return failures
