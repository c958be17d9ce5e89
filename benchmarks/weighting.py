"""Time raking and entropy balancing at survey size (13,000 respondents) and at 1,000,000 rows.

    python benchmarks/weighting.py          # timings and ratios against benchmarks/baseline_weighting.json
    python benchmarks/weighting.py --save   # store these timings as the new baseline

Raking uses four margins (age band x sex, origin, education, district); entropy balancing uses
15 covariate columns. The best of ``--repeat`` runs is reported.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from timing import best_of, report

from evaluering.survey import SurveyDesign
from evaluering.weighting import covariate_matrix, entropy_balance

BASELINE = Path(__file__).with_name("baseline_weighting.json")
COLUMNS = {
    "age_sex": [f"{a}/{s}" for a in ("18-29", "30-49", "50-66", "67+") for s in ("female", "male")],
    "origin": ["danish", "western", "non_western"],
    "education": ["primary", "upper_secondary", "vocational", "higher"],
    "district": ["hoeje-gladsaxe", "vaerebro-park", "moerkhoej", "comparison"],
}


def sample(n: int, rng: np.random.Generator) -> pd.DataFrame:
    frame = pd.DataFrame({k: rng.choice(v, size=n) for k, v in COLUMNS.items()})
    frame["w"] = rng.uniform(1, 10, size=n)
    frame["employed"] = rng.random(n) < 0.7
    frame["income"] = rng.lognormal(12.5, 0.5, size=n)
    return frame


def margins(frame: pd.DataFrame, rng: np.random.Generator) -> dict:
    population = frame["w"].sum() * 1.1
    out = {}
    for column, levels in COLUMNS.items():
        shares = rng.dirichlet(np.full(len(levels), 20.0))
        out[column] = dict(zip(levels, population * shares, strict=False))
    return out




def measure(repeat: int) -> dict[str, float]:
    rng = np.random.default_rng(1)
    timings = {}
    for n in (13_000, 1_000_000):
        frame = sample(n, rng)
        design = SurveyDesign(frame, weights="w")
        targets = margins(frame, rng)
        timings[f"rake 4 margins, n={n:,}"] = best_of(lambda: design.rake(targets), repeat)
        X = covariate_matrix(frame, ["age_sex", "origin", "education", "employed", "income"])
        treated = (frame["district"] == "moerkhoej").to_numpy()
        target = X[treated].mul(frame["w"][treated], axis=0).sum() / frame["w"][treated].sum()
        timings[f"entropy balance {X.shape[1]} covariates, n={n:,}"] = best_of(
            lambda: entropy_balance(X[~treated], target, frame["w"][~treated]), repeat)
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--save", action="store_true")
    args = parser.parse_args()
    report(measure(args.repeat), BASELINE, save=args.save)

if __name__ == "__main__":
    main()
