"""Seconds and peak memory (RSS) of the area report's multilevel models from the register's Parquet
at 1x, 10x (Copenhagen) and 90x (national) size.

    python benchmarks/multilevel_scale.py --data-root DIR                    # 1x, 10x, 90x; every step
    python benchmarks/multilevel_scale.py --data-root DIR --scales 90 --steps gaussian
    python benchmarks/multilevel_scale.py --data-root DIR --out results.json

The deliveries are ``DIR/scale<k>-<layout>`` as written by ``scale_data.py`` (written here when
missing). The model is the area report's: employment of the 30-64-year-olds of 2024 on the
individual controls (age band, sex, origin, education, own low income) and the area's poverty
share, random intercept per small area. Steps, each in a fresh Python process whose peak RSS is
read from the kernel when it exits (as ``scale.py`` does):

* ``cells``: the (area x covariate pattern) cells computed by DuckDB from the Parquet;
* ``gaussian``: cells, then the report's two linear models (empty and full, REML);
* ``binomial``: cells, then the full model as a logit (adaptive Gauss-Hermite, 25 nodes);
* ``in_memory``: today's person-level path for comparison (pandas reads the register,
  ``employment_context``, ``multilevel``); at 1x it also checks that the Parquet path gives the
  same estimates (largest absolute difference reported).

A process whose RSS passes ``--max-rss-gb`` is killed and the step recorded as not run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import psutil
from scale_data import ROOT, ensure_base, write_scaled

STEPS = ("cells", "gaussian", "binomial", "in_memory")
YEAR = 2024
GB = 2**30


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GB


def register_of(data_dir: Path) -> Path:
    return data_dir / "register" if (data_dir / "register").is_dir() else data_dir / "register.parquet"


def run_step(step: str, data_dir: Path) -> dict:
    """One step in this (fresh) process: its seconds, what it fitted and the peak RSS."""
    from evaluering.area import multilevel
    from evaluering.area.context import INDIVIDUAL_CONTROLS, employment_context
    from evaluering.area.multilevel_cells import context_cells_from_parquet, multilevel_from_cells

    register = register_of(data_dir)
    at_start = psutil.Process().memory_info().rss / GB
    start = time.perf_counter()
    out: dict = {}
    if step == "in_memory":
        import pandas as pd

        frame = pd.read_parquet(register, columns=["year", "area_id", "age", "sex", "origin", "education", "income",
                                                   "employed"])
        frame["year"] = frame["year"].astype("int64")  # a partitioned register's year is read as a category
        persons = employment_context(frame, YEAR)
        del frame
        full = multilevel(persons, "y", "area_id", INDIVIDUAL_CONTROLS, ["poverty_share"])
        multilevel(persons, "y", "area_id", [], [])
        out["persons"] = len(persons)
        seconds = time.perf_counter() - start
        if len(persons) < 200_000:  # 1x: the same numbers from Parquet?
            cells = context_cells_from_parquet(register, YEAR)
            again = multilevel_from_cells(cells, "y", "area_id", INDIVIDUAL_CONTROLS, ["poverty_share"])
            out["max_abs_difference_to_parquet_path"] = float(max(
                (full.estimate - again.estimate).abs().max(), (full.se - again.se).abs().max(),
                abs(full.area_variance - again.area_variance), abs(full.loglik - again.loglik)))
        fitted = full
    else:
        cells = context_cells_from_parquet(register, YEAR)
        out |= {"cells": len(cells), "persons": int(cells["persons"].sum()),
                "cells_seconds": time.perf_counter() - start}
        fitted = None
        if step == "gaussian":
            multilevel_from_cells(cells.groupby("area_id", as_index=False)[["persons", "outcome_sum", "outcome_sumsq"]]
                                  .sum(), "y", "area_id")  # the report's empty model
            fitted = multilevel_from_cells(cells, "y", "area_id", INDIVIDUAL_CONTROLS, ["poverty_share"])
        elif step == "binomial":
            fitted = multilevel_from_cells(cells, "y", "area_id", INDIVIDUAL_CONTROLS, ["poverty_share"],
                                           family="binomial")
        seconds = time.perf_counter() - start
    if fitted is not None:
        out |= {"areas": fitted.n_areas, "converged": fitted.converged, "area_variance": fitted.area_variance,
                "poverty_share": float(fitted.estimate["poverty_share"]),
                "poverty_share_se": float(fitted.se["poverty_share"])}
    return {"seconds": seconds, "rss_at_step_start_gb": at_start, "peak_rss_gb": peak_rss_gb()} | out


def guarded_child(step: str, data_dir: Path, log_dir: Path, max_rss_gb: float, timeout: float) -> dict:
    """Run one step in a child process, polling its RSS; kill it when it passes the guard."""
    result_file = log_dir / f"multilevel-{data_dir.name}-{step}.json"
    result_file.unlink(missing_ok=True)
    with open(log_dir / f"multilevel-{data_dir.name}-{step}.log", "w") as log:
        proc = subprocess.Popen(
            [sys.executable, __file__, "--child", step, "--data", str(data_dir), "--result", str(result_file)],
            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
    watched = psutil.Process(proc.pid)
    start, killed_for = time.monotonic(), None
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        try:
            rss = watched.memory_info().rss / GB
        except psutil.NoSuchProcess:
            rss = 0.0
        if killed_for is None:
            if rss > max_rss_gb:
                killed_for = f"not run: needs more than {max_rss_gb:g} GB"
            elif time.monotonic() - start > timeout:
                killed_for = f"not run: took more than {timeout:g} s"
            if killed_for:
                proc.kill()
        time.sleep(0.05)
    peak = usage.ru_maxrss * 1024 / GB
    if killed_for:
        return {"not_run": killed_for, "peak_rss_gb": peak}
    if os.waitstatus_to_exitcode(status) != 0 or not result_file.exists():
        return {"not_run": f"failed (exit {os.waitstatus_to_exitcode(status)}); see {log.name}", "peak_rss_gb": peak}
    return json.loads(result_file.read_text()) | {"peak_rss_gb": peak}


def data_dir_for(root: Path, scale: int, layout: str) -> Path:
    directory = root / f"scale{scale}-{layout}"
    if not (directory / "scale.json").exists():
        print(f"writing the {scale}x delivery ({layout}) into {directory} ...", flush=True)
        write_scaled(ensure_base(root / "base"), directory, scale, layout, force=True)
    return directory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, help="where the scaled deliveries are (outside the repository)")
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10, 90])
    parser.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS))
    parser.add_argument("--layout", choices=("file", "partitioned"), default="partitioned")
    parser.add_argument("--in-memory-scales", type=int, nargs="+", default=[1, 10],
                        help="scales at which the person-level comparison runs (90x needs ~50 GB)")
    parser.add_argument("--max-rss-gb", type=float, default=12.0)
    parser.add_argument("--timeout", type=float, default=1800.0)
    parser.add_argument("--out", type=Path, help="also write the results as JSON here")
    parser.add_argument("--child", choices=STEPS, help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.child:
        args.result.write_text(json.dumps(run_step(args.child, args.data)))
        return
    if args.data_root is None:
        parser.error("--data-root is required: a directory outside the repository for the scaled deliveries")
    root = args.data_root.resolve()
    if root.is_relative_to(ROOT):
        parser.error(f"--data-root {root} is inside the repository; use a scratch directory")
    log_dir = root / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    results = {}
    load = os.getloadavg()[0]
    print(f"load average at start {load:.2f} on {os.cpu_count()} cores", flush=True)
    for scale in args.scales:
        directory = data_dir_for(root, scale, args.layout)
        person_years = json.loads((directory / "scale.json").read_text())["person_years"]
        for step in args.steps:
            if step == "in_memory" and scale not in args.in_memory_scales:
                continue
            res = guarded_child(step, directory, log_dir, args.max_rss_gb, args.timeout)
            res = {k: round(v, 3) if isinstance(v, float) and abs(v) > 1e-3 else v for k, v in res.items()}
            results[f"{step} @ {scale}x"] = res | {"person_years": person_years, "layout": args.layout}
            outcome = res.get("not_run") or f"{res['seconds']:.1f} s"
            extra = f", {res['cells']:,} cells" if "cells" in res else ""
            print(f"  {step:9s} @ {scale:>2d}x ({person_years:,} person-years): {outcome}, peak RSS "
                  f"{res['peak_rss_gb']:.2f} GB{extra}", flush=True)
    record = {"machine": f"{platform.machine()} {platform.python_version()}, {os.cpu_count()} cores, "
                         f"{psutil.virtual_memory().total / GB:.0f} GB",
              "load_average_at_start": round(load, 2), "year": YEAR, "results": results}
    if args.out:
        args.out.write_text(json.dumps(record, indent=2) + "\n")
        print(f"written to {args.out}")


if __name__ == "__main__":
    main()
