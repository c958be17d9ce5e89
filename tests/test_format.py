"""Danish number formatting in reports."""

from __future__ import annotations

import math

from evaluering.report import format as fmt


def test_danish_numbers():
    assert fmt.number(1234567.891, 2) == "1.234.567,89"
    assert fmt.number(-0.5, 1) == "-0,5"
    assert fmt.share(0.4231) == "42,3 %"
    assert fmt.number(float("nan")) == fmt.SUPPRESSED


def test_changes_carry_a_sign_that_matches_the_digits():
    assert fmt.change(0.0312, "share") == "+3,1 pct.-point"
    assert fmt.change(-0.0312, "share") == "−3,1 pct.-point"
    assert fmt.change(-0.0001, "share") == "±0,0 pct.-point"
    assert fmt.change(math.log(1.425), "count", scale="log") == "+42,5 %"


def test_p_values():
    assert fmt.p_value(0.0004) == "< 0,001"
    assert fmt.p_value(0.0312) == "0,031"


def test_no_negative_zero_and_covariate_labels():
    assert fmt.number(-0.001, 2) == "0,00"
    assert fmt.covariate_label("origin=non_western") == "Herkomst: ikke-vestlig"
    assert fmt.covariate_label("age_band=30-49") == "Alder: 30-49 år"
    assert fmt.covariate_label("employed") == "I beskæftigelse"
