"""Time the people-estimand panel regressions on the full synthetic register (~1,000,000 person-years).

    python benchmarks/event_study.py                  # timings and ratios against baseline_event_study.json
    python benchmarks/event_study.py --save           # store these timings as the new baseline
    python benchmarks/event_study.py --linearmodels   # also time linearmodels.PanelOLS on the same model
    python benchmarks/event_study.py --pyfixest /tmp/pfx/bin/python   # and pyfixest, in that interpreter

The full register is the panel of every person-year 2010-2024, treated = the person's first
registered address is in a district, start 2022 (reference 2021): an event study with 14 leads
and lags, unit and year effects, clustered by person. The baseline cohort (everyone living in
the municipality in 2021, followed wherever they live) is timed too. pyfixest is never a
dependency of this project: it runs in a separate, throwaway virtual environment (e.g.
``python -m venv /tmp/pfx && /tmp/pfx/bin/pip install pyfixest``), through a subprocess that
reads the same panel from a temporary Parquet file; the coefficients are compared.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from timing import best_of, report

from evaluering.config import load_params
from evaluering.data.validate import load_dataset
from evaluering.did.event_study import event_study
from evaluering.did.panel import baseline_cohort, panel_did
from evaluering.indicators import prepare

ROOT = Path(__file__).resolve().parents[1]
BASELINE = Path(__file__).with_name("baseline_event_study.json")
START = 2022  # first year with planted effects (the baseline wave 2021 is the reference)

PYFIXEST_SCRIPT = """
import json, sys, time
import pandas as pd
import pyfixest as pf
panel = pd.read_parquet(sys.argv[1])
events = [c for c in panel.columns if c.startswith("e_")]
formula = "y ~ " + " + ".join(events) + " | person_id + year"
pf.feols(formula, data=panel, vcov={"CRV1": "person_id"})  # warm-up (compilation)
start = time.perf_counter()
fit = pf.feols(formula, data=panel, vcov={"CRV1": "person_id"})
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds, "coef": fit.coef().to_dict(), "se": fit.se().to_dict()}))
"""




def load_register() -> pd.DataFrame:
    """The prepared register of the default synthetic dataset (generated into a temporary
    directory when data/synthetic is not there)."""
    params = load_params(ROOT / "params" / "gladsaxe.yaml")
    data_dir = ROOT / "data" / "synthetic"
    if not (data_dir / "truth.json").exists():
        from evaluering.data.synthetic import generate

        data_dir = Path(tempfile.mkdtemp()) / "synthetic"
        generate(params, data_dir, seed=2021)
    return prepare(load_dataset(data_dir, params), params).register


def full_panel(register: pd.DataFrame) -> pd.DataFrame:
    """Every person-year, treated by the first registered address (a district or not)."""
    first = register.sort_values("year").groupby("person_id")["group"].first()
    return register.assign(treated=register["person_id"].map(first) != "comparison",
                           y=register["employed"].astype(float))


def measure(register: pd.DataFrame, repeat: int, with_linearmodels: bool) -> tuple[dict[str, float], object]:
    panel = full_panel(register)
    cohort = baseline_cohort(register, 2021)
    n, m = len(panel), len(cohort)
    timings = {
        f"baseline cohort 2021, register n={len(register):,}": best_of(lambda: baseline_cohort(register, 2021), repeat),
        f"panel DiD, baseline cohort n={m:,}": best_of(
            lambda: panel_did(cohort, "employed", "person_id", "year", "treated", START), repeat),
        f"event study, baseline cohort n={m:,}": best_of(
            lambda: event_study(cohort, "employed", "person_id", "year", "treated", START), repeat),
        f"panel DiD, full register n={n:,}": best_of(
            lambda: panel_did(panel, "y", "person_id", "year", "treated", START), repeat),
        f"event study, full register n={n:,}": best_of(
            lambda: event_study(panel, "y", "person_id", "year", "treated", START), repeat),
    }
    result = event_study(panel, "y", "person_id", "year", "treated", START)
    if with_linearmodels:
        timings[f"linearmodels PanelOLS event study, n={n:,}"] = best_of(lambda: _panelols(panel), 1)
    return timings, result


def _event_columns(panel: pd.DataFrame) -> pd.DataFrame:
    rel = panel["year"] - START
    out = pd.DataFrame({"person_id": panel["person_id"], "year": panel["year"], "y": panel["y"]})
    for k in sorted(set(rel) - {-1}):
        out[f"e_{'m' if k < 0 else 'p'}{abs(k)}"] = (panel["treated"] & (rel == k)).astype(float)
    return out


def _panelols(panel: pd.DataFrame):
    from linearmodels import PanelOLS

    frame = _event_columns(panel).set_index(["person_id", "year"])
    exog = frame.drop(columns="y")
    return PanelOLS(frame["y"], exog, entity_effects=True, time_effects=True).fit(
        cov_type="clustered", cluster_entity=True)


def run_pyfixest(python: str, panel: pd.DataFrame) -> dict | None:
    """Time pyfixest's feols on the same event study in another interpreter (None if it fails)."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "panel.parquet"
        _event_columns(panel).to_parquet(path)
        done = subprocess.run([python, "-c", PYFIXEST_SCRIPT, str(path)], capture_output=True, text=True)
    if done.returncode != 0:
        print(f"pyfixest failed ({python}):\n{done.stderr[-2000:]}")
        return None
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--save", action="store_true")
    parser.add_argument("--linearmodels", action="store_true", help="also time linearmodels.PanelOLS (slow)")
    parser.add_argument("--pyfixest", metavar="PYTHON", help="interpreter of a throwaway venv with pyfixest")
    args = parser.parse_args()
    register = load_register()
    timings, result = measure(register, args.repeat, args.linearmodels)
    report(timings, BASELINE)
    if args.pyfixest:
        fixest = run_pyfixest(args.pyfixest, full_panel(register))
        if fixest:
            ours = result.coefficients[~result.coefficients["reference"]]
            names = [f"e_{'m' if k < 0 else 'p'}{abs(k)}" for k in ours.index]
            diff = np.max(np.abs(ours["estimate"].to_numpy() - np.array([fixest["coef"][c] for c in names])))
            se_ratio = ours["se"].to_numpy() / np.array([fixest["se"][c] for c in names])
            print(f"{'pyfixest feols event study (other venv), same panel':58s} {fixest['seconds']:9.4f}")
            print(f"  max |coefficient difference| = {diff:.2e}; se ratio (ours / pyfixest) "
                  f"{se_ratio.min():.6f} to {se_ratio.max():.6f}")
    if args.save:
        report(timings, BASELINE, save=True)

if __name__ == "__main__":
    main()
