"""Time the main steps of a wave run and compare with the stored baseline.

    python benchmarks/run.py            # print timings and ratios against benchmarks/baseline.json
    python benchmarks/run.py --save     # record the current timings as the new baseline
    python benchmarks/run.py --notebook # also time one rendered district report (papermill + nbconvert)

Each step runs ``--repeat`` times (default 3) and the best time is kept, which is the least noisy
summary on a shared machine. Ratios above 1 mean slower than the baseline.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from timing import best_of, report

from evaluering.config import load_params
from evaluering.data.synthetic import generate
from evaluering.data.validate import load_dataset
from evaluering.evaluation import evaluate_district
from evaluering.indicators import all_levels, prepare

ROOT = Path(__file__).resolve().parents[1]
BASELINE = Path(__file__).with_name("baseline.json")




def measure(repeat: int, with_notebook: bool) -> dict[str, float]:
    params = load_params(ROOT / "params" / "gladsaxe.yaml")
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        timings["generate synthetic municipality"] = best_of(lambda: generate(params, data_dir, seed=2021), repeat)
        timings["load and validate data (parquet)"] = best_of(lambda: load_dataset(data_dir, params), repeat)
        dataset = load_dataset(data_dir, params)
        timings["prepare (groups, non-response weights)"] = best_of(lambda: prepare(dataset, params), repeat)
        data = prepare(dataset, params)
        timings["evaluate one district (19 indicators)"] = best_of(
            lambda: evaluate_district(data, "hoeje-gladsaxe", 2021, 2024), repeat
        )
        timings["levels of all indicators, all years"] = best_of(lambda: all_levels(data), repeat)
        if with_notebook:
            from evaluering.runner import execute_run, plan_district_runs

            spec = plan_district_runs(params, params_file=ROOT / "params" / "gladsaxe.yaml", data_dir=data_dir,
                                      notebooks_dir=ROOT / "notebooks", out_dir=Path(tmp) / "reports",
                                      wave=2024, districts=["moerkhoej"])[0]
            timings["render one district report"] = best_of(lambda: execute_run(spec), 1)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--save", action="store_true", help="store these timings as the baseline")
    parser.add_argument("--notebook", action="store_true", help="also time one rendered report")
    args = parser.parse_args()

    report(measure(args.repeat, args.notebook), BASELINE, save=args.save)

if __name__ == "__main__":
    main()
