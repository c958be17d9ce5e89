"""Weighting-class non-response adjustment: hand calculation and bias removal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from evaluering.survey import SurveyDesign
from evaluering.survey.nonresponse import age_band, collapse_classes


def weighting_class_weights(sample, levels, min_respondents=20):
    """Collapse the classes, then let the design's non-response step weight the respondents."""
    classes = collapse_classes(sample, levels, min_respondents=min_respondents)
    design = SurveyDesign(sample.assign(weighting_class=classes.to_numpy()), weights="design_weight")
    return design.adjust_nonresponse("responded", classes=["weighting_class"]).weights


def test_hand_calculation_and_collapsing():
    # Class a: 4 sampled (design weight 2), 2 respond -> factor 8/4 = 2, weights 4.
    # Class b: 3 sampled (weight 1), 1 respondent -> too few at the fine level, so it falls through to
    # the stratum level, which holds only the units not yet classed (b's three): factor 3/1 = 3.
    sample = pd.DataFrame(
        {
            "stratum": ["s"] * 7,
            "cls": ["a", "a", "a", "a", "b", "b", "b"],
            "design_weight": [2, 2, 2, 2, 1, 1, 1],
            "responded": [True, True, False, False, True, False, False],
        }
    )
    w = weighting_class_weights(sample, [["stratum", "cls"], ["stratum"]], min_respondents=2)
    assert w.tolist() == pytest.approx([4, 4, 0, 0, 3, 0, 0])
    # Respondents carry the design weight of everyone sampled: in each class and in total.
    assert w[:4].sum() == pytest.approx(8)
    assert w.sum() == pytest.approx(sample["design_weight"].sum())


def test_collapsed_class_never_lacks_respondents():
    """Class b has no respondents; a has enough to stand alone. The stratum-level class would hold
    only b's persons, so no one could carry their weight: b joins a instead (the issue-13 crash)."""
    sample = pd.DataFrame({"stratum": ["s"] * 6, "cls": ["a", "a", "a", "b", "b", "b"],
                           "design_weight": 1.0, "responded": [True, True, False, False, False, False]})
    classes = collapse_classes(sample, [["stratum", "cls"], ["stratum"]], min_respondents=2)
    assert classes.nunique() == 1
    w = weighting_class_weights(sample, [["stratum", "cls"], ["stratum"]], min_respondents=2)
    assert w.tolist() == pytest.approx([3, 3, 0, 0, 0, 0])
    # an intermediate level counts only the persons it would weight (here b's, none of whom answered)
    three = sample.assign(sub=["x", "x", "x", "y", "y", "y"])
    levels = [["stratum", "cls", "sub"], ["stratum", "cls"], ["stratum"]]
    assert weighting_class_weights(three, levels, min_respondents=2).sum() == pytest.approx(6)


def test_class_without_respondents_is_named():
    sample = pd.DataFrame({"stratum": ["x", "y"], "design_weight": [1.0, 1.0], "responded": [True, False]})
    with pytest.raises(ValueError, match=r"\['y'\].*no respondents"):
        weighting_class_weights(sample, [["stratum"]])


def test_weighting_removes_nonresponse_bias():
    """Response and outcome both depend on age band: the weighted mean recovers the population mean."""
    rng = np.random.default_rng(7)
    n = 40_000
    band = rng.choice(["young", "old"], size=n, p=[0.5, 0.5])
    y = rng.binomial(1, np.where(band == "young", 0.3, 0.7))
    responded = rng.random(n) < np.where(band == "young", 0.2, 0.6)
    sample = pd.DataFrame({"band": band, "y": y, "responded": responded, "design_weight": 1.0})
    w = weighting_class_weights(sample, [["band"]])
    r = sample[responded]
    weighted = np.average(r["y"], weights=w[responded])
    naive = r["y"].mean()
    truth = y.mean()
    se = np.sqrt(0.25 / responded.sum()) * 1.2  # binomial SE, inflated for the weights' design effect
    assert abs(weighted - truth) < 4 * se
    assert abs(naive - truth) > 10 * se  # the unweighted mean is clearly biased


def test_age_bands():
    assert age_band(pd.Series([18, 29, 30, 49, 50, 66, 67, 99])).tolist() == [
        "18-29", "18-29", "30-49", "30-49", "50-66", "50-66", "67+", "67+"]


def test_a_separated_response_propensity_model_warns():
    """A covariate that separates respondents from non-respondents gives no finite propensity model:
    the adjustment says so instead of returning unreliable weights silently."""
    import warnings

    from evaluering.survey import SurveyDesign

    frame = pd.DataFrame({"w": 1.0, "x": np.linspace(-1, 1, 60), "grp": np.repeat(["a", "b"], 30)})
    frame["responded"] = frame["x"] > 0
    with pytest.warns(RuntimeWarning, match="did not converge"):
        SurveyDesign(frame, weights="w").adjust_nonresponse("responded", covariates=["x"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # an ordinary model: no warning
        frame["responded"] = np.random.default_rng(1).random(60) < 0.6
        SurveyDesign(frame, weights="w").adjust_nonresponse("responded", covariates=["grp"])
