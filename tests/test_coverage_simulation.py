"""Coverage over many synthetic municipalities: 95 % intervals cover the planted effects 93-97 %.

Each dataset is a fresh synthetic municipality (its own seed). For every district and every
indicator with a *planted* truth (register, survey and visitor indicators; the institution and
composition truths are realised or expected values, not fixed parameters) the report's estimate
and its 95 % interval are computed as ``evaluate_district`` does. Slow (about 10-20 minutes on
two cores): run with ``pytest -m slow``; CI runs it.
"""

from __future__ import annotations

import json
import tempfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
N_DATASETS = 200
FIRST_SEED = 5000


def _one_dataset(seed: int) -> list[tuple[str, str, float, float, float]]:
    """(district, indicator, estimate, se, truth) for every planted truth of one dataset."""
    from evaluering.config import load_params
    from evaluering.data.synthetic import generate
    from evaluering.data.validate import load_dataset
    from evaluering.evaluation import balanced_designs, estimate_indicator
    from evaluering.indicators import prepare

    params = load_params(ROOT / "params" / "gladsaxe.yaml")
    with tempfile.TemporaryDirectory() as tmp:
        generate(params, tmp, seed=seed)
        truth = json.loads((Path(tmp) / "truth.json").read_text())
        data = prepare(load_dataset(tmp, params), params)
    rows = []
    for district in params.districts:
        balanced = balanced_designs(data, district.key, [2021, 2024])
        for ind in params.indicators:
            planted = truth["effects"][district.key][ind.key]
            if planted["truth_kind"] != "planted":
                continue
            est, _, _ = estimate_indicator(data, ind, district.key, 2021, 2024, balanced)
            rows.append((district.key, ind.key, est.estimate, est.se, planted["value"]))
    return rows


@pytest.mark.slow
def test_intervals_cover_planted_effects_over_many_datasets():
    with ProcessPoolExecutor(max_workers=2) as pool:
        results = [row for rows in pool.map(_one_dataset, range(FIRST_SEED, FIRST_SEED + N_DATASETS)) for row in rows]
    estimate, se, truth = (np.array([r[i] for r in results]) for i in (2, 3, 4))
    covered = np.abs(estimate - truth) <= 1.959964 * se
    coverage = covered.mean()
    by_indicator = {}
    for (district, key, *_), hit in zip(results, covered):
        by_indicator.setdefault(key, []).append(hit)
    detail = {k: round(float(np.mean(v)), 3) for k, v in by_indicator.items()}
    print(f"coverage {coverage:.4f} over {len(results)} intervals; by indicator {detail}")  # shown with -rP
    assert 0.93 <= coverage <= 0.97, f"coverage {coverage:.3f} over {len(results)} intervals; by indicator {detail}"
    # no single indicator may be far off (each has 600 intervals: binomial sd 0.9 %)
    assert min(detail.values()) >= 0.90, detail
