"""Seconds and peak memory (RSS) of the register steps at 1x, 10x (Copenhagen) and 90x (national) size.

    python benchmarks/scale.py --data-root DIR                       # 1x and 10x, every step
    python benchmarks/scale.py --data-root DIR --save                # store them in benchmarks/baseline_scale.json
    python benchmarks/scale.py --data-root DIR --scales 90 --steps load --max-rss-gb 18
    python benchmarks/scale.py --data-root DIR --src OLD/src --label "commit 10f1f5d"  # an older export
    python benchmarks/scale.py --data-root DIR --save-as benchmarks/scale_after.json  # baseline left as it is

The scaled deliveries are written by ``scale_data.py`` into ``DIR/scale<k>-<layout>`` when they are
not there yet (``DIR`` must be outside the repository; a national register is about a gigabyte).
Each step runs in a fresh Python process that first does what the step needs (``prepare`` loads,
``evaluate`` loads and prepares) and times only the step itself; the peak RSS is that whole
process's, read from the kernel when it exits, so it is what one process doing that step needs.
A process whose RSS passes ``--max-rss-gb`` (or that leaves the machine with less than
``--min-free-gb`` available) is killed, and the step is recorded as "not run: needs more than N GB"
rather than swapping the machine. Ratios above 1 mean slower (or bigger) than the baseline. On a
shared machine the seconds vary by up to 2x between runs: compare two versions measured one after
the other (``--src`` for the older one), not against a baseline from another day.
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
from scale_data import LAYOUTS, ROOT, ensure_base, write_scaled

BASELINE = Path(__file__).with_name("baseline_scale.json")
PARAMS = ROOT / "params" / "gladsaxe.yaml"
STEPS = ("load", "prepare", "evaluate", "criteria", "monitoring", "criteria_parquet", "monitoring_parquet")
OUT_OF_CORE = ("criteria_parquet", "monitoring_parquet")  # straight from the register's Parquet (DuckDB)
STEP_NAMES = {
    "load": "load and validate (load_dataset)",
    "prepare": "prepare (groups, weights)",
    "evaluate": "evaluate moerkhoej 2021-2024",
    "criteria": "statutory criteria 2024",
    "monitoring": "area trend monitoring",
    "criteria_parquet": "statutory criteria 2024, out of core",
    "monitoring_parquet": "area trend monitoring, out of core",
}
GB = 2**30


# --- the child: one step in a fresh process ----------------------------------------------------


def peak_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GB  # ru_maxrss is in kB on Linux


def rss_gb() -> float:
    return psutil.Process().memory_info().rss / GB


def run_step(step: str, data_dir: Path) -> dict:
    """Do what ``step`` needs, then time ``step``; returns its seconds and the RSS around it.

    ``rss_at_step_start_gb`` is what the process holds when the step starts (the data it works on),
    ``rss_before_step_gb`` the peak until then (e.g. validation's), ``peak_rss_gb`` the peak at the end.
    """
    import evaluering
    from evaluering.config import load_params
    from evaluering.data.validate import load_dataset

    print(f"evaluering from {Path(evaluering.__file__).parent}", flush=True)
    params = load_params(PARAMS)
    if step in OUT_OF_CORE:
        return run_out_of_core(step, data_dir, params)
    before = rss_gb()
    start = time.perf_counter()
    dataset = load_dataset(data_dir, params)
    if step == "load":
        seconds = time.perf_counter() - start
        register_gb = dataset.register.memory_usage(deep=True).sum() / GB
        return {"seconds": seconds, "rss_at_step_start_gb": before, "rss_before_step_gb": before,
                "peak_rss_gb": peak_rss_gb(), "rss_after_step_gb": rss_gb(), "register_frame_gb": register_gb,
                "person_years": len(dataset.register)}
    from evaluering.indicators import prepare

    if step != "prepare":
        data = prepare(dataset, params)
    at_start, before = rss_gb(), peak_rss_gb()
    start = time.perf_counter()
    if step == "prepare":
        data = prepare(dataset, params)  # held, so rss_after_step_gb counts it
    elif step == "evaluate":
        from evaluering.evaluation import evaluate_district

        evaluate_district(data, "moerkhoej", 2021, 2024)
    elif step == "criteria":
        from evaluering.monitoring import statutory_criteria

        statutory_criteria(data, 2024)
    elif step == "monitoring":
        from evaluering.monitoring import monitor_areas

        monitor_areas(data)
    else:
        raise ValueError(f"unknown step {step!r}; choose from {', '.join(STEPS)}")
    return {"seconds": time.perf_counter() - start, "rss_at_step_start_gb": at_start, "rss_before_step_gb": before,
            "peak_rss_gb": peak_rss_gb(), "rss_after_step_gb": rss_gb()}


def run_out_of_core(step: str, data_dir: Path, params) -> dict:
    """Time a step that reads the register's Parquet files through DuckDB (nothing loaded before)."""
    import pandas as pd

    from evaluering.monitoring import monitor_areas_from_parquet, statutory_criteria_from_parquet

    register = data_dir / "register" if (data_dir / "register").is_dir() else data_dir / "register.parquet"
    at_start = rss_gb()
    start = time.perf_counter()
    if step == "criteria_parquet":
        statutory_criteria_from_parquet(register, params, 2024)
    else:
        monitor_areas_from_parquet(register, pd.read_parquet(data_dir / "areas.parquet"), params)
    return {"seconds": time.perf_counter() - start, "rss_at_step_start_gb": at_start, "rss_before_step_gb": at_start,
            "peak_rss_gb": peak_rss_gb(), "rss_after_step_gb": rss_gb()}


# --- the parent: run each step in a child under a memory guard ----------------------------------


def guarded_child(step: str, data_dir: Path, log_dir: Path, max_rss_gb: float, min_free_gb: float,
                  timeout: float, src: Path | None = None) -> dict:
    """Run one step in a child process, polling its RSS; kill it when it passes the guard.

    With ``src`` the child imports evaluering from there (e.g. a ``git archive`` of an older commit).
    """
    env = os.environ | ({"PYTHONPATH": str(src)} if src else {})
    result_file = log_dir / f"{data_dir.name}-{step}.json"
    result_file.unlink(missing_ok=True)
    with open(log_dir / f"{data_dir.name}-{step}.log", "w") as log:
        proc = subprocess.Popen(
            [sys.executable, __file__, "--child", step, "--data", str(data_dir), "--result", str(result_file)],
            stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, env=env)
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
            elif psutil.virtual_memory().available / GB < min_free_gb:
                killed_for = f"not run: the machine fell below {min_free_gb:g} GB available at {rss:.1f} GB RSS"
            elif time.monotonic() - start > timeout:
                killed_for = f"not run: took more than {timeout:g} s"
            if killed_for:
                proc.kill()
        time.sleep(0.05)
    peak = usage.ru_maxrss * 1024 / GB
    if killed_for:
        return {"not_run": killed_for, "peak_rss_gb": peak, "seconds_until_stopped": time.monotonic() - start}
    if os.waitstatus_to_exitcode(status) != 0 or not result_file.exists():
        return {"not_run": f"failed (exit {os.waitstatus_to_exitcode(status)}); see {log.name}", "peak_rss_gb": peak}
    return json.loads(result_file.read_text()) | {"peak_rss_gb": peak}


def code_measured(src: Path | None, label: str) -> str:
    """Which evaluering was measured: the label, else the commit and whether src/ had uncommitted changes."""
    if label or src:
        return label or str(src)
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True).stdout.strip()
    dirty = " + uncommitted changes in src/" if git("status", "--porcelain", "src") else ""
    return f"{git('rev-parse', '--short', 'HEAD')}{dirty}"


def data_dir_for(root: Path, scale: int, layout: str) -> Path:
    """``root/scale<k>-<layout>``, written by scale_data.py if it is not there yet."""
    directory = root / f"scale{scale}-{layout}"
    if not (directory / "scale.json").exists():
        print(f"writing the {scale}x delivery ({layout}) into {directory} ...", flush=True)
        write_scaled(ensure_base(root / "base"), directory, scale, layout, force=True)
    return directory


def measure(root: Path, scales: list[int], steps: list[str], layout: str, repeat: int, max_rss_gb: float,
            min_free_gb: float, timeout: float, src: Path | None = None, label: str = "",
            log_dir: Path | None = None) -> tuple[dict[str, dict], dict[str, dict]]:
    """Results per ``"<step> @ <k>x"`` (the fastest of ``repeat`` runs) and the deliveries' sizes."""
    log_dir = log_dir or root / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    results, deliveries = {}, {}
    code = code_measured(src, label)
    print(f"measuring evaluering at {code}", flush=True)
    for scale in scales:
        directory = data_dir_for(root, scale, layout)
        written = json.loads((directory / "scale.json").read_text())
        deliveries[f"{scale}x"] = {k: v for k, v in written.items() if k != "base"}  # no local paths
        for step in steps:
            runs = [guarded_child(step, directory, log_dir, max_rss_gb, min_free_gb, timeout, src)
                    for _ in range(repeat)]
            done = [r for r in runs if "not_run" not in r]
            best = min(done, key=lambda r: r["seconds"]) if done else runs[0]
            results[f"{step} @ {scale}x"] = {k: round(v, 3) if isinstance(v, float) else v
                                              for k, v in best.items()} | {"layout": layout, "code": code}
            outcome = best.get("not_run") or f"{best['seconds']:.1f} s"
            print(f"  {step} @ {scale}x: {outcome}, peak RSS {best['peak_rss_gb']:.2f} GB", flush=True)
    return results, deliveries


def report(results: dict[str, dict], deliveries: dict[str, dict], baseline_file: Path, *, save: bool,
           note: str, save_to: Path | None = None) -> None:
    """Print seconds and peak RSS per step and scale with their ratios to the baseline; ``save`` stores
    them in the baseline file, or in ``save_to`` when given (the baseline's entries stay as they are).
    """
    stored = json.loads(baseline_file.read_text()) if baseline_file.exists() else {}
    baseline = stored.get("results", {})
    if save_to is not None:
        target = json.loads(save_to.read_text()) if save_to.exists() else {}
        stored, previous = target, target.get("results", {})
    else:
        save_to, previous = baseline_file, baseline
    width = max(len(STEP_NAMES[k.split(" @ ")[0]]) for k in results) + 2
    print(f"\n{'step':{width}s} {'scale':>5s} {'seconds':>9s} {'peak GB':>8s} {'base s':>8s} {'ratio':>6s} "
          f"{'base GB':>8s} {'ratio':>6s}")
    for key, res in results.items():
        step, scale = key.split(" @ ")
        base = baseline.get(key, {})
        if "not_run" in res:
            print(f"{STEP_NAMES[step]:{width}s} {scale:>5s} {res['not_run']}")
            continue
        cells = [f"{res['seconds']:9.2f}", f"{res['peak_rss_gb']:8.2f}"]
        for field, fmt in (("seconds", "8.2f"), ("peak_rss_gb", "8.2f")):
            if base.get(field):
                cells += [f"{base[field]:{fmt}}", f"{res[field] / base[field]:6.2f}"]
            else:
                cells += [f"{'–':>8s}", f"{'–':>6s}"]
        print(f"{STEP_NAMES[step]:{width}s} {scale:>5s} " + " ".join(cells))
    for scale, info in deliveries.items():
        print(f"{scale}: {info['person_years']:,} person-years, {info['areas']:,} areas, register "
              f"{info['register_bytes'] / 2**20:,.0f} MB on disk ({info['layout']})")
    if save:
        record = {
            "machine": f"{platform.machine()} {platform.python_version()}, {os.cpu_count()} cores, "
                       f"{psutil.virtual_memory().total / GB:.0f} GB",
            "note": note or stored.get("note", ""),
            "results": previous | results,
            "deliveries": stored.get("deliveries", {}) | deliveries,
        }
        save_to.write_text(json.dumps(record, indent=2) + "\n")
        print(f"results saved to {save_to}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-root", type=Path, help="where the scaled deliveries are (outside the repository)")
    parser.add_argument("--scales", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS))
    parser.add_argument("--layout", choices=LAYOUTS, default="file",
                        help="register.parquet (what today's loader reads) or the Hive-partitioned register/")
    parser.add_argument("--repeat", type=int, default=1, help="runs per step; the fastest is kept")
    parser.add_argument("--max-rss-gb", type=float, default=18.0, help="kill a step whose RSS passes this")
    parser.add_argument("--min-free-gb", type=float, default=1.5,
                        help="kill a step when the machine has less than this available")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds before a step is stopped")
    parser.add_argument("--src", type=Path, help="import evaluering from this src/ folder instead (an older export)")
    parser.add_argument("--label", default="", help="what --src is, e.g. 'commit 10f1f5d' (stored with the results)")
    parser.add_argument("--save", action="store_true", help="merge these results into the baseline")
    parser.add_argument("--save-as", type=Path,
                        help="merge these results into this file instead (e.g. benchmarks/scale_after.json); "
                             "ratios are still to the baseline")
    parser.add_argument("--log-dir", type=Path, help="where each step's log goes (default DATA_ROOT/logs)")
    parser.add_argument("--note", default="", help="stored with --save (e.g. what else ran on the machine)")
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
    src = args.src.resolve() if args.src else None
    if src and not (src / "evaluering" / "__init__.py").exists():
        parser.error(f"--src {src}: no evaluering package there (expected {src}/evaluering/__init__.py)")
    results, deliveries = measure(root, args.scales, args.steps, args.layout, args.repeat, args.max_rss_gb,
                                  args.min_free_gb, args.timeout, src, args.label, args.log_dir)
    report(results, deliveries, BASELINE, save=args.save or bool(args.save_as), note=args.note,
           save_to=args.save_as)


if __name__ == "__main__":
    main()
