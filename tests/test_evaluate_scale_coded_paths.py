"""The coded paths of a city-size district evaluation give what the general paths give.

A register indicator's compact unit frame (categorical groups and areas, integer person codes,
every weight 1) is summed on integer codes instead of selected, grouped or factorised: the place
event study, the levels, the district's area history and the area statistics. Each is checked
here against the general path (the same frame with text groups or areas, or with weights that
are not all 1) on planted frames that are not a register's: other groups, missing groups and
areas, clusters with several rows in a year, years without district rows, sparse cluster codes,
means and missing outcomes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from evaluering.did.place_event_study import place_event_study
from evaluering.indicators.levels import weighted_levels
from evaluering.inference.studentised_placebo import _cluster_pairs, area_statistics, district_history_variance
from evaluering.monitoring.overdispersion import truncated_chi2_mean

GROUPS = ["comparison", "d", "other", "x"]
AREAS = [f"A{i:02d}" for i in range(30)]


def _frame(rng, n=6000, *, years=range(2014, 2025), binary=True, sparse_clusters=False, repeats=False,
           missing=True) -> pd.DataFrame:
    """A compact-like unit frame: categorical groups and areas (some missing), integer clusters."""
    year = rng.choice(np.array(list(years)), n)
    area = rng.integers(0, len(AREAS), n)
    group = np.where(area < 4, 1, np.where(area < 6, 2, np.where(area < 7, 3, 0)))
    if missing:
        group[rng.random(n) < 0.02] = -1
        area[rng.random(n) < 0.02] = -1
    cluster = rng.integers(0, n // 3, n) if repeats else rng.permutation(n)
    if sparse_clusters:
        cluster = cluster * 7 + 100_000
    y = rng.binomial(1, 0.3 + 0.1 * (group == 1), n).astype(float) if binary else rng.gamma(2.0, 1.5, n)
    return pd.DataFrame({
        "group": pd.Categorical.from_codes(group, categories=pd.Index(GROUPS, dtype="str")),
        "period": year.astype(np.int64), "y": y, "weight": np.ones(n), "cluster": cluster.astype(np.int32),
        "persons": rng.integers(0, 2, n),
        "area": pd.Categorical.from_codes(area, categories=pd.Index(AREAS, dtype="str")),
    })


def _text(frame: pd.DataFrame, *columns: str) -> pd.DataFrame:
    """The frame with ``columns`` as text: the general path."""
    return frame.assign(**{c: frame[c].astype(object) for c in columns})


@pytest.mark.parametrize("sparse_clusters", [False, True])
@pytest.mark.parametrize("repeats", [False, True])
def test_coded_event_study_equals_the_general_one(sparse_clusters, repeats):
    rng = np.random.default_rng(11)
    units = _frame(rng, sparse_clusters=sparse_clusters, repeats=repeats)
    # a year without district rows: only the years with data in both groups count
    units = units[~((units["period"] == 2016) & (units["group"] == "d"))].reset_index(drop=True)
    codes = units["cluster"].to_numpy()
    coded = place_event_study(units, "d", 2021, cluster_codes=codes)
    general = place_event_study(_text(units, "group"), "d", 2021, cluster_codes=codes)
    pd.testing.assert_frame_equal(coded.coefficients, general.coefficients, check_exact=False, rtol=1e-12,
                                  atol=1e-15)
    np.testing.assert_allclose(coded.covariance, general.covariance, rtol=1e-12, atol=0)
    assert 2016 not in coded.coefficients["year"].tolist()
    for field in ("n_units", "n_treated_units", "n_obs", "n_clusters"):
        assert getattr(coded, field) == getattr(general, field)
    # cluster ids rather than codes (far larger than the number of rows) and weights that are not all 1
    # take the general path
    ids = units.assign(cluster=units["cluster"].astype(np.int64) * 10**9)
    pd.testing.assert_frame_equal(place_event_study(ids, "d", 2021).coefficients, general.coefficients,
                                  check_exact=False, rtol=1e-12, atol=1e-15)
    pd.testing.assert_frame_equal(weighted_levels(ids), weighted_levels(_text(units, "group")))
    weighted = units.assign(weight=np.where(units["period"] == 2020, 2.0, 1.0))
    np.testing.assert_allclose(place_event_study(weighted, "d", 2021).coefficients["se"],
                               place_event_study(_text(weighted, "group"), "d", 2021).coefficients["se"], rtol=1e-12)


def test_coded_event_study_without_the_reference_year_says_so():
    units = _frame(np.random.default_rng(2))
    units = units[~((units["period"] == 2020) & (units["group"] == "d"))]
    with pytest.raises(ValueError, match="reference year 2020"):
        place_event_study(units, "d", 2021, cluster_codes=units["cluster"].to_numpy())


@pytest.mark.parametrize("binary", [True, False])
@pytest.mark.parametrize("repeats", [False, True])
def test_coded_levels_equal_the_general_ones_bit_for_bit(binary, repeats):
    units = _frame(np.random.default_rng(5), binary=binary, repeats=repeats)
    units.loc[units.index[::97], "y"] = np.nan  # missing outcomes: left out of the sums, as pandas does
    expected = weighted_levels(_text(units, "group"))
    pd.testing.assert_frame_equal(weighted_levels(units), expected, check_exact=True)
    two = units[units["period"].isin([2021, 2024])]
    pd.testing.assert_frame_equal(weighted_levels(two), weighted_levels(_text(two, "group")), check_exact=True)


def test_coded_history_equals_the_general_one_bit_for_bit():
    units = _frame(np.random.default_rng(9), n=20000)
    treated, rest = AREAS[:4], AREAS[7:]
    codes = units["cluster"].to_numpy()
    coded = district_history_variance(units, treated, rest, 2020, 2023, cluster_codes=codes)
    general = district_history_variance(_text(units, "area"), treated, rest, 2020, 2023, cluster_codes=codes)
    assert coded == general
    overlapping = AREAS[3:]  # a district area among the comparison areas too: the general path's answer
    assert (district_history_variance(units, treated, overlapping, 2020, 2023, cluster_codes=codes)
            == district_history_variance(_text(units, "area"), treated, overlapping, 2020, 2023, cluster_codes=codes))


def test_area_statistics_of_text_and_categorical_areas_agree():
    units = _frame(np.random.default_rng(4), repeats=True)
    codes = units["cluster"].to_numpy()
    a = area_statistics(units, AREAS, 2021, 2024, cluster_codes=codes)
    b = area_statistics(_text(units, "area").assign(cluster=units["cluster"].astype(str)), AREAS, 2021, 2024)
    for field in ("W", "S", "pair_cells", "pair_sums", "cell_area", "cell_cluster", "cell_rows"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))


def test_cluster_pairs_are_every_ordered_pair_of_a_clusters_cells():
    c = np.array([0, 0, 0, 1, 2, 2, 5, 5, 5, 5])
    j, k = _cluster_pairs(c)
    expected = [(a, b) for a in range(len(c)) for b in range(len(c)) if c[a] == c[b]]
    assert list(zip(j.tolist(), k.tolist(), strict=True)) == expected


def test_truncated_chi2_mean_is_scipy_stats():
    for share in (0.1, 0.5, 0.8, 27 / 30, 0.9, 44 / 49, 1.0):
        assert truncated_chi2_mean(share) == float(stats.chi2.cdf(stats.chi2.ppf(share, 1), 3)) / share


@pytest.mark.parametrize("categories", [pd.Index(GROUPS, dtype="str"), pd.Index(GROUPS, dtype="string"),
                                        pd.Index([3, 1, 2, 7]), pd.Index(GROUPS, dtype=object)])
def test_categorical_groups_made_text_as_astype_makes_them(categories):
    from evaluering.did.panel import _as_text

    codes = np.random.default_rng(1).integers(-1, 4, 500)
    values = pd.Series(pd.Categorical.from_codes(codes, categories=categories), index=np.arange(500) * 2, name="g")
    pd.testing.assert_series_equal(_as_text(values), values.astype(str))


def test_periods_by_group_of_a_compact_frame_are_those_of_its_text():
    """The availability check's periods per group: counted per category code and year on a compact
    frame, the same as looking at the text rows (a missing group, a group that is no category, gaps)."""
    from evaluering.indicators.availability import _periods_by_group

    rng = np.random.default_rng(7)
    n = 5_000
    text = pd.Series(rng.choice(["comparison", "north", "south", None], size=n, p=[0.6, 0.2, 0.15, 0.05]),
                     dtype="string")
    period = rng.choice([2015, 2016, 2019, 2024], size=n)
    period[(text == "south").to_numpy(dtype=bool, na_value=False) & (period == 2019)] = 2016
    groups = ("south", "comparison", "east")
    compact = pd.DataFrame({"group": text.astype("category"), "period": period})
    plain = pd.DataFrame({"group": text, "period": period})
    found = _periods_by_group(compact, groups)
    assert found == _periods_by_group(plain, groups)
    assert 2019 not in found["south"] and found["east"] == set() and found["comparison"] == {2015, 2016, 2019, 2024}
