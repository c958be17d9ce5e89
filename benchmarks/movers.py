"""Time the movers model (person + year fixed effects on the area context) on the full synthetic
register (~1,000,000 person-years, 2010-2024).

    python benchmarks/movers.py              # seconds per step
    python benchmarks/movers.py --repeat 3   # best of three

Steps: building the area-year poverty context (``area_poverty``), the fixed effects estimate
alone, and the estimate with the event-time profile (a second regression with 18 event-time x
direction dummies). The outcome is employment, every age, so the panel is the whole register;
the estimate is only a timing check (the planted effect applies to 18-64-year-olds, so on all ages
it is diluted; tests/test_area_movers.py checks the slope on 30-64-year-olds).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from evaluering.area.movers import area_poverty, movers_model
from evaluering.config import load_params
from evaluering.data.validate import load_dataset
from evaluering.indicators import prepare

ROOT = Path(__file__).resolve().parents[1]


def _best(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--data", type=Path, default=ROOT / "data" / "synthetic")
    args = parser.parse_args()
    if not (args.data / "truth.json").exists():
        raise SystemExit(f"no synthetic data in {args.data}: run `evaluering data synthetic` first")
    params = load_params(ROOT / "params" / "gladsaxe.yaml")
    register = prepare(load_dataset(args.data, params), params).register
    register = register[["person_id", "year", "area_id", "age", "income", "employed"]]
    print(f"register: {len(register):,} person-years, {register['person_id'].nunique():,} persons")

    seconds, panel = _best(lambda: area_poverty(register), args.repeat)
    print(f"area_poverty (area-year context)          {seconds:6.2f} s")
    panel = panel.assign(age60=(panel["age"] >= 60).astype(float))
    args_ = (panel, "employed", "person_id", "year", "area_id", "poverty_above")
    seconds, res = _best(lambda: movers_model(*args_, covariates=["age60"], event_profile=False), args.repeat)
    print(f"movers_model, estimate only               {seconds:6.2f} s")
    seconds, res = _best(lambda: movers_model(*args_, covariates=["age60"]), args.repeat)
    print(f"movers_model, with the event-time profile {seconds:6.2f} s")
    seconds, _ = _best(lambda: movers_model(*args_, covariates=["age60"], cluster="area_id", event_profile=False),
                       args.repeat)
    print(f"movers_model, clustered by area           {seconds:6.2f} s")
    print(res.summary())


if __name__ == "__main__":
    main()
