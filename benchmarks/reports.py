"""Time a full wave of reports: every district report, the overview, the monitoring and the area-effects reports.

    python benchmarks/reports.py               # --jobs 2, as on the 2-core CI machine
    python benchmarks/reports.py --jobs 1      # one notebook at a time
    python benchmarks/reports.py --save        # record the current timings as the new baseline

Prints the seconds each report took (kernel start, notebook, rendering, disclosure scan), the
wall time of "three district reports and the overview" (the issue's target: under 60 s on two
cores) and of the whole wave, with ratios against benchmarks/baseline_reports.json. Every run is
forced (no skipping of unchanged reports) and written to a temporary folder.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from timing import report

from evaluering.config import load_params
from evaluering.runner import AREA_REPORT, MONITORING_REPORT, RunContext, plan_wave, run_all

ROOT = Path(__file__).resolve().parents[1]
BASELINE = Path(__file__).with_name("baseline_reports.json")


def _wall(specs, context, jobs: int) -> tuple[float, list]:
    start = time.perf_counter()
    results = run_all(specs, context, jobs=jobs, progress=False)
    failed = [r.describe() for r in results if not r.ok]
    if failed:
        raise SystemExit("a report failed:\n" + "\n".join(failed))
    return time.perf_counter() - start, results


def measure(jobs: int, wave: int) -> dict[str, float]:
    params_file = ROOT / "params" / "gladsaxe.yaml"
    params = load_params(params_file)
    data_dir = ROOT / "data" / "synthetic"
    with tempfile.TemporaryDirectory() as tmp:
        specs = plan_wave(params, params_file=params_file, data_dir=data_dir, notebooks_dir=ROOT / "notebooks",
                          out_dir=Path(tmp), wave=wave)
        context = RunContext.for_data(params, data_dir, force=True, threads_per_run=max(1, 2 // jobs))
        core = [s for s in specs if s.report.stem not in (AREA_REPORT, MONITORING_REPORT)]
        wall_core, results = _wall(core, context, jobs)
        wall_all, results_all = _wall(specs, context, jobs)
    timings = {f"report: {r.spec.label}": r.seconds for r in results}
    timings |= {f"report: {r.spec.label}": r.seconds for r in results_all[len(core):]}
    timings[f"wall: districts + overview (jobs={jobs})"] = wall_core
    timings[f"wall: whole wave (jobs={jobs})"] = wall_all
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--wave", type=int, default=2024)
    parser.add_argument("--save", action="store_true", help="store these timings as the baseline")
    args = parser.parse_args()
    report(measure(args.jobs, args.wave), BASELINE, save=args.save)


if __name__ == "__main__":
    main()
