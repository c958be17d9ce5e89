"""Place event study: agrees with the two-wave DiD year by year; the pre-trend test has its size."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluering.did import two_wave_did
from evaluering.did.place_event_study import place_event_study


def _cross_sections(rng, n=400, years=range(2015, 2025), trend_gap=0.0, effect=0.0, start=2022):
    rows = []
    for year in years:
        for group, base in (("d", 0.4), ("comparison", 0.6)):
            p = base + 0.01 * (year - 2015) + (trend_gap * (year - 2015) if group == "d" else 0)
            p += effect if (group == "d" and year >= start) else 0
            rows.append(pd.DataFrame({"group": group, "period": year, "y": rng.binomial(1, p, n).astype(float),
                                      "weight": rng.uniform(0.5, 2, n),
                                      "cluster": [f"{group}{year}{i}" for i in range(n)]}))
    return pd.concat(rows, ignore_index=True)


def test_each_coefficient_is_the_two_wave_did_against_the_reference_year():
    units = _cross_sections(np.random.default_rng(1), effect=0.05)
    es = place_event_study(units, "d", 2022)
    for year in (2016, 2019, 2023, 2024):
        two = two_wave_did(units, indicator="y", district="d", baseline=2021, followup=year)
        row = es.coefficients.loc[year - 2022]
        assert row["estimate"] == pytest.approx(two.estimate, abs=1e-12)
        # same influence values; only the small-sample factors differ: statsmodels uses (N-1)/(N-K)
        # and G/(G-1) over the two years' clusters, the event study G/(G-1) over all years' clusters
        pair = units[units["period"].isin([2021, year])]
        n, g_pair, g_all = len(pair), pair["cluster"].nunique(), units["cluster"].nunique()
        factor = np.sqrt((n - 1) / (n - 4) * g_pair / (g_pair - 1) / (g_all / (g_all - 1)))
        assert row["se"] == pytest.approx(two.se / factor, rel=1e-9)
    assert es.coefficients.loc[-1, "estimate"] == 0 and es.coefficients.loc[-1, "reference"]


def test_pretrend_test_size_and_power():
    rng = np.random.default_rng(2)
    rejections = [place_event_study(_cross_sections(rng, n=200), "d", 2022).pretrend.p_value < 0.05
                  for _ in range(200)]
    # size: 5 % nominal; 200 draws -> binomial sd 1.5 %, allow up to 9 %
    assert np.mean(rejections) <= 0.09
    trending = place_event_study(_cross_sections(rng, n=2000, trend_gap=0.015), "d", 2022)
    assert trending.pretrend.p_value < 0.01


def test_reference_year_must_have_data():
    units = _cross_sections(np.random.default_rng(3), years=range(2022, 2025))
    with pytest.raises(ValueError, match="reference year 2021"):
        place_event_study(units, "d", 2022)


def test_missing_column_is_named():
    from evaluering.did.errors import DidError

    units = _cross_sections(np.random.default_rng(3)).drop(columns="weight")
    with pytest.raises(DidError, match=r"unit frame: missing column\(s\) 'weight'"):
        place_event_study(units, "d", 2022)
