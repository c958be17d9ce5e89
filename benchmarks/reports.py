"""Time a wave of reports through `evaluering run`, computed and re-rendered from the results store.

    python benchmarks/reports.py               # --jobs 2, as on the 2-core CI machine
    python benchmarks/reports.py --jobs 1      # one notebook at a time
    python benchmarks/reports.py --save        # record the current timings as the new baseline

Each step is one `evaluering run` in a fresh process into a temporary folder, timed by the wall clock:

- the whole wave computed (``--recompute``: load, prepare, every report's results once, then the six
  notebooks drawn from the store);
- the whole wave re-rendered (``--force``: the store holds the results of these inputs, every notebook
  is executed and rendered again);
- the three district reports alone, re-rendered and computed.

The issue's targets (2 cores): a forced re-render of the whole wave in <= 25 s, the three district
reports alone in <= 15 s. Ratios are against benchmarks/baseline_reports.json; the steps new with the
results store are compared with the closest step of the baseline before it ("whole wave", "districts
+ overview", where every notebook loaded, prepared and evaluated on its own).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from timing import report

from evaluering.config import load_params

ROOT = Path(__file__).resolve().parents[1]
BASELINE = Path(__file__).with_name("baseline_reports.json")


def _run(out: Path, jobs: int, wave: int, *options: str) -> float:
    command = [sys.executable, "-m", "evaluering.cli", "run", "--params", str(ROOT / "params" / "gladsaxe.yaml"),
               "--data", str(ROOT / "data" / "synthetic"), "--notebooks", str(ROOT / "notebooks"), "--out", str(out),
               "--wave", str(wave), "--jobs", str(jobs), *options]
    start = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"evaluering run {' '.join(options)} failed:\n{done.stderr[-3000:]}")
    return seconds


def measure(jobs: int, wave: int) -> dict[str, float]:
    districts = [d.key for d in load_params(ROOT / "params" / "gladsaxe.yaml").districts]
    timings = {}
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        timings[f"wall: whole wave, computed (jobs={jobs})"] = _run(out, jobs, wave, "--recompute")
        timings[f"wall: whole wave, re-rendered from the store (jobs={jobs})"] = _run(out, jobs, wave, "--force")
        timings[f"wall: three district reports, re-rendered from the store (jobs={jobs})"] = _run(
            out, jobs, wave, "--force", "--district", *districts)
        timings[f"wall: three district reports, computed (jobs={jobs})"] = _run(
            out, jobs, wave, "--recompute", "--district", *districts)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--wave", type=int, default=2024)
    parser.add_argument("--save", action="store_true", help="store these timings as the baseline")
    args = parser.parse_args()
    report(measure(args.jobs, args.wave), BASELINE, save=args.save, compare_with=lambda name: (
        f"wall: whole wave (jobs={args.jobs})" if "whole wave" in name
        else f"wall: districts + overview (jobs={args.jobs})"))


if __name__ == "__main__":
    main()
