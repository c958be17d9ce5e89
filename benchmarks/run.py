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

import matplotlib
import matplotlib.pyplot as plt
from timing import best_of, report

from evaluering.config import load_params
from evaluering.data.synthetic import generate
from evaluering.data.validate import load_dataset
from evaluering.evaluation import evaluate_district
from evaluering.indicators import all_levels, prepare
from evaluering.report.district import DistrictReport

ROOT = Path(__file__).resolve().parents[1]
BASELINE = Path(__file__).with_name("baseline.json")


def best_on_fresh_data(step, dataset, params, repeat: int) -> float:
    """The fastest of ``repeat`` runs of ``step(data)``, each on newly prepared data.

    Prepared data keeps the unit frames it has built, so repeats on the same data would time the
    first run once and then only the cached frames.
    """
    times = []
    for _ in range(repeat):
        data = prepare(dataset, params)
        times.append(best_of(lambda: step(data), 1))
    return min(times)


def evaluate_with_trends(data, data_dir: Path, district: str = "hoeje-gladsaxe") -> None:
    """Evaluate a district, then draw its report's theme trends (the levels of every year)."""
    evaluation = evaluate_district(data, district, 2021, 2024)
    report = DistrictReport(data.params, data, evaluation, ROOT / "params" / "gladsaxe.yaml", data_dir)
    report.theme_trends()
    plt.close("all")


def measure(repeat: int, with_notebook: bool) -> dict[str, float]:
    matplotlib.use("Agg")  # figures are drawn, never shown
    params = load_params(ROOT / "params" / "gladsaxe.yaml")
    timings: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        timings["generate synthetic municipality"] = best_of(lambda: generate(params, data_dir, seed=2021), repeat)
        timings["load and validate data (parquet)"] = best_of(lambda: load_dataset(data_dir, params), repeat)
        dataset = load_dataset(data_dir, params)
        timings["prepare (groups, non-response weights)"] = best_of(lambda: prepare(dataset, params), repeat)
        timings["evaluate one district (19 indicators)"] = best_on_fresh_data(
            lambda data: evaluate_district(data, "hoeje-gladsaxe", 2021, 2024), dataset, params, repeat
        )
        timings["levels of all indicators, all years"] = best_on_fresh_data(all_levels, dataset, params, repeat)
        timings["evaluate one district + report theme trends"] = best_on_fresh_data(
            lambda data: evaluate_with_trends(data, data_dir), dataset, params, repeat
        )
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
