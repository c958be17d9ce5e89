"""Operating characteristics of what the district report shows: coverage and false verdicts.

For each simulated municipality every district x indicator row of :func:`evaluate_district`
(the estimate, the interval the report prints and the verdict) is scored against the truth the
generator planted: whether the interval covers it, and, where nothing was planted, whether the
verdict still says "better" or "worse". Used by the slow test (tests/test_operating_characteristics.py)
and runnable as a script for a quick look:

    python tests/operating_characteristics.py --world heterogeneous --datasets 20
"""

from __future__ import annotations

import argparse
import json
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CLASSES = {"SurveyShare": "survey", "SurveyOutsideView": "survey", "RegisterShare": "register",
           "RegisterMean": "register", "InmoverShare": "register", "InstitutionIsolation": "institutions",
           "VisitorMean": "visitors"}
SCORED_KINDS = ("planted", "expected", "none")


def _is_null(truth: dict) -> bool:
    """Nothing planted: the value is zero (for an expected value: every lever behind it is zero)."""
    if truth.get("truth_kind") == "none":
        return True
    if truth.get("truth_kind") == "expected":
        return all(float(v) == 0 for k, v in truth.get("lever", {}).items() if k != "from_year")
    return float(truth["value"]) == 0.0


def score_evaluation(data, truth: dict, world: str, seed: int, baseline: int = 2021, followup: int = 2024
                     ) -> list[dict]:
    """One row per district x indicator with a scorable truth: interval, verdict and truth."""
    from evaluering.evaluation import evaluate_district

    rows = []
    kinds = {ind.key: CLASSES[type(ind.computation).__name__] for ind in data.params.indicators}
    for district in data.params.districts:
        table = evaluate_district(data, district.key, baseline, followup, details=False).table
        for row in table.itertuples():
            planted = truth[district.key][row.key]
            if planted.get("truth_kind") not in SCORED_KINDS:
                continue
            value = float(planted["value"])
            rows.append({
                "world": world, "seed": seed, "district": district.key, "indicator": row.key,
                "class": kinds[row.key], "inference": row.inference, "estimate": row.estimate,
                "ci_low": row.ci_low, "ci_high": row.ci_high, "verdict": row.verdict, "truth": value,
                "null": _is_null(planted),
                "covered": bool(row.ci_low <= value <= row.ci_high) if np.isfinite(row.ci_low) else False,
                "false_verdict": bool(_is_null(planted) and row.verdict in ("better", "worse")),
            })
    return rows


def gladsaxe_dataset(seed: int, world: str = "gladsaxe", planted: str = "effects") -> list[dict]:
    """Score one municipality from the project's generator (``world`` and ``planted`` as its options)."""
    from evaluering.config import load_params
    from evaluering.data.synthetic import generate
    from evaluering.data.validate import load_dataset
    from evaluering.indicators import prepare

    params = load_params(ROOT / "params" / "gladsaxe.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        options = {} if world == "gladsaxe" and planted == "effects" else {"world": world, "planted": planted}
        generate(params, tmp, seed=seed, **options)
        truth = json.loads((Path(tmp) / "truth.json").read_text())["effects"]
        data = prepare(load_dataset(tmp, params), params)
    label = world if planted == "effects" else f"{world}/{planted}"
    return score_evaluation(data, truth, label, seed)


def other_dataset(seed: int) -> list[dict]:
    """Score one municipality written by the independent generator in tests/worlds."""
    import sys

    sys.path.insert(0, str(ROOT / "tests"))
    from evaluering.config import load_params
    from evaluering.data.validate import load_dataset
    from evaluering.indicators import prepare
    from worlds.other_municipality import write_world

    with tempfile.TemporaryDirectory() as tmp:
        params_file, truth = write_world(Path(tmp), seed)
        params = load_params(params_file)
        data = prepare(load_dataset(tmp, params), params)
    baseline, followup = params.survey.baseline_wave, max(params.survey.waves)
    return score_evaluation(data, truth, "other", seed, baseline, followup)


def _run(job: tuple) -> list[dict]:
    kind, seed, *options = job
    return other_dataset(seed) if kind == "other" else gladsaxe_dataset(seed, *options)


def simulate(jobs: list[tuple], workers: int = 2) -> pd.DataFrame:
    """Score every job (``("gladsaxe", seed, world, planted)`` or ``("other", seed)``) in parallel."""
    with ProcessPoolExecutor(max_workers=workers) as pool:
        return pd.DataFrame([row for rows in pool.map(_run, jobs, chunksize=1) for row in rows])


def _clustered_se(hits: pd.Series, seeds: pd.Series) -> float:
    """Simulation SE of a share whose rows cluster by municipality (its districts share one comparison group)."""
    per_seed = pd.DataFrame({"hits": hits.astype(float), "n": 1.0}).groupby(seeds.to_numpy()).sum()
    share, k = per_seed["hits"].sum() / per_seed["n"].sum(), len(per_seed)
    if k < 2:
        return float("nan")
    residual = per_seed["hits"] - share * per_seed["n"]
    return float(np.sqrt((residual ** 2).sum() * k / (k - 1)) / per_seed["n"].sum())


def summarise(scores: pd.DataFrame, by: str | list[str] = "class") -> pd.DataFrame:
    """Coverage, false verdict rate where nothing was planted, and their simulation SEs (clustered by
    municipality, at least the binomial SE)."""
    def one(part: pd.DataFrame) -> pd.Series:
        null = part[part["null"]]
        cov, fv = part["covered"].mean(), null["false_verdict"].mean() if len(null) else np.nan
        binomial = np.sqrt(cov * (1 - cov) / len(part))
        null_se = np.sqrt(0.05 * 0.95 / len(null)) if len(null) else np.nan
        return pd.Series({"intervals": len(part), "coverage": cov,
                          "coverage_se": max(binomial, _clustered_se(part["covered"], part["seed"])),
                          "nulls": len(null), "false_verdicts": fv,
                          "false_se": max(null_se, _clustered_se(null["false_verdict"], null["seed"]))
                          if len(null) else np.nan})
    return scores.groupby(by).apply(one)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--world", default="gladsaxe", help="gladsaxe, heterogeneous or other")
    parser.add_argument("--planted", default="effects", help="effects or none (project generator)")
    parser.add_argument("--datasets", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--save", help="write the scores to this Parquet file")
    args = parser.parse_args()
    seeds = range(args.first_seed, args.first_seed + args.datasets)
    jobs = [("other", s) if args.world == "other" else ("gladsaxe", s, args.world, args.planted) for s in seeds]
    scores = simulate(jobs, args.workers)
    with pd.option_context("display.width", 200, "display.max_rows", 200):
        print(summarise(scores).round(4))
        print(summarise(scores, ["class", "indicator"]).round(4))
        print(summarise(scores, ["indicator", "district"]).round(4).to_string())
    if args.save:
        scores.to_parquet(args.save)


if __name__ == "__main__":
    main()
