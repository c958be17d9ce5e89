"""What the report shows holds its promises: coverage 93-97 % and few false verdicts, per indicator class.

Scores the interval and the verdict that :func:`evaluate_district` puts in the report (not a model
quantity) over many simulated municipalities (``operating_characteristics.py``):

* the project's synthetic municipality with its planted effects,
* its heterogeneous variant with nothing planted (districts far from the rest, area, institution
  and counter shocks, districts of different size): every row is a null,
* a municipality written by an independent generator from the input contract (tests/worlds).

Bounds, each widened by two simulation standard errors (clustered by municipality): coverage of
the interval 93-97 % per class (survey, register, institutions, visitors; UPPER_COVERAGE and
FALSE_BOUND name the known exceptions); "better/worse" where nothing was planted at most
5 % per class and at most 8 % for any single indicator. Slow (about 25 minutes on two cores): run
with ``pytest -m slow``; CI runs it and shows the tables (``-rP``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from operating_characteristics import simulate, summarise

GLADSAXE, HETEROGENEOUS, OTHER = 100, 100, 60  # municipalities per world
FIRST_SEED = 7000


# Measured (issue 12): on the independent world the social-mix interval is slightly conservative
# (seeds 7000-7059: coverage 97.4 % +- 0.7 %, "better/worse" 2.4 % where nothing was planted), within
# simulation error of the 97 % bound. Not the institution-shock models (the shocks fitted there are
# about zero; without them coverage is 97.0 %): the child bootstrap is 0-25 % too wide there (likely
# catchment institutions of nearly fixed size, which the bootstrap lets vary) but up to 20 % too narrow
# in the project's world before the shocks, so narrowing it is no fix. No exception is needed.
UPPER_COVERAGE: dict[tuple[str, str], float] = {}
# Closed (issue 12): survey verdicts in the heterogeneous world said "better/worse" in 6.2 % of nulls for
# seeds 7000-7099 with the plain linearisation variance, which falls short by about K/n in the 600-adult
# district (K calibration constraints, n respondents). The report now uses leverage-corrected calibration
# residuals (design_did, "design_leverage"): for seeds 7000-7059, 6.1 % -> 5.5 % (+- 0.7 %), coverage
# 93.9 % -> 94.5 %. No exception is needed; the dict stays for future known exceptions.
FALSE_BOUND: dict[tuple[str, str], float] = {}


def _check(scores: pd.DataFrame, label: str) -> None:
    by_class = summarise(scores)
    by_indicator = summarise(scores, "indicator")
    with pd.option_context("display.width", 200, "display.max_rows", 100):
        print(f"\n{label}: {scores['seed'].nunique()} municipalities\n{by_class.round(4)}\n{by_indicator.round(4)}")
    for name, row in by_class.iterrows():
        slack = 2 * row["coverage_se"]
        upper = UPPER_COVERAGE.get((label, name), 0.97)
        assert 0.93 - slack <= row["coverage"] <= upper + slack, (label, name, row.to_dict())
        if row["nulls"]:
            bound = FALSE_BOUND.get((label, name), 0.05)
            assert row["false_verdicts"] <= bound + 2 * row["false_se"], (label, name, row.to_dict())
    nulls = by_indicator[by_indicator["nulls"] >= 100]
    worst = nulls["false_verdicts"].max()
    assert worst <= 0.08 + 2 * np.sqrt(0.08 * 0.92 / nulls["nulls"].min()), (label, nulls["false_verdicts"].to_dict())


@pytest.mark.slow
def test_report_intervals_and_verdicts_on_the_synthetic_municipalities():
    jobs = [("gladsaxe", FIRST_SEED + i, "gladsaxe", "effects") for i in range(GLADSAXE)]
    jobs += [("gladsaxe", FIRST_SEED + i, "heterogeneous", "none") for i in range(HETEROGENEOUS)]
    scores = simulate(jobs)
    _check(scores, "synthetic municipalities (planted effects, and heterogeneous districts with none)")
    _check(scores[scores["world"] != "gladsaxe"], "heterogeneous districts alone")


@pytest.mark.slow
def test_report_intervals_and_verdicts_on_a_municipality_nobody_here_generated():
    scores = simulate([("other", FIRST_SEED + i) for i in range(OTHER)])
    _check(scores, "independently generated municipality")
