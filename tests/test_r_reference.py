"""Agreement with R's ``survey`` package (Lumley) on its public ``api`` data.

Reference values and the exact R calls are in tests/data/r_survey_reference.json, with their
sources (mostly the package's own saved test outputs, tests/*.Rout.save, and its vignettes);
tests/data/README.md describes the data. Estimates must agree to 4 significant digits and
standard errors within 0.5 %, as the project requires.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
import pytest

from evaluering.survey import SurveyDesign

DATA = Path(__file__).parent / "data"
REFERENCE = {r["id"]: r for r in json.loads((DATA / "r_survey_reference.json").read_text())}
POP_TYPES = {"E": 4421, "H": 755, "M": 1018}
POP_SCHWIDE = {"No": 1072, "Yes": 5122}


def _with_dummies(frame: pd.DataFrame) -> pd.DataFrame:
    return frame.assign(**{f"stype{k}": (frame["stype"] == k).astype(float) for k in POP_TYPES})


APISTRAT = _with_dummies(pd.read_csv(DATA / "apistrat.csv"))
APICLUS1 = _with_dummies(pd.read_csv(DATA / "apiclus1.csv"))
APICLUS2 = pd.read_csv(DATA / "apiclus2.csv")

dstrat = SurveyDesign(APISTRAT, weights="pw", strata="stype", fpc="fpc")
dstrat_nofpc = SurveyDesign(APISTRAT, weights="pw", strata="stype")
dclus1 = SurveyDesign(APICLUS1, weights="pw", cluster="dnum", fpc="fpc")
dclus1_nofpc = SurveyDesign(APICLUS1, weights="pw", cluster="dnum")
dclus2wr = SurveyDesign(APICLUS2, weights="pw", cluster="dnum")  # R: with replacement -> ultimate clusters
rclus1 = dclus1.replicate("jk1")
raked = dclus1.rake({"stype": POP_TYPES, "sch.wide": POP_SCHWIDE})
greg = dclus1.calibrate({"stype": POP_TYPES}, method="linear")
greg_api99 = dclus1.calibrate({"stype": POP_TYPES, "api99": 3914069}, method="linear")
greg_only_api99 = dclus1.calibrate({"(Intercept)": 6194, "api99": 3914069}, method="linear")


def _row(table, name):
    return _est(table[name])


def _est(estimate):
    return estimate.estimate, estimate.se


CASES = {
    # stratified design with fpc
    "strat_svymean_api00": lambda: _est(dstrat.mean("api00")),
    "strat_svytotal_enroll": lambda: _est(dstrat.total("enroll")),
    "strat_svytotal_api.stu": lambda: _est(dstrat.total("api.stu")),
    "jl_strat_nofpc_svymean_api00": lambda: _est(dstrat_nofpc.mean("api00")),
    "jl_strat_nofpc_svytotal_enroll": lambda: _est(dstrat_nofpc.total("enroll")),
    # one-stage cluster design
    "clus1_svymean_api00": lambda: _est(dclus1.mean("api00")),
    "clus1_svytotal_enroll": lambda: _est(dclus1.total("enroll")),
    "clus1_svymean_api99": lambda: _est(dclus1.mean("api99")),
    "clus1_svytotal_stypeE": lambda: _est(dclus1.total("stypeE")),
    "clus1_svytotal_stypeH": lambda: _est(dclus1.total("stypeH")),
    "clus1_svytotal_stypeM": lambda: _est(dclus1.total("stypeM")),
    "clus1_svymean_stypeE": lambda: _row(dclus1.proportion("stype"), "stype=E"),
    "clus1_svymean_stypeH": lambda: _row(dclus1.proportion("stype"), "stype=H"),
    "clus1_svymean_stypeM": lambda: _row(dclus1.proportion("stype"), "stype=M"),
    "clus1_svyratio_api.stu_enroll": lambda: _est(dclus1.ratio("api.stu", "enroll")),
    "jl_clus1_nofpc_svymean_api00": lambda: _est(dclus1_nofpc.mean("api00")),
    "jl_clus1_nofpc_svytotal_enroll": lambda: _est(dclus1_nofpc.total("enroll")),
    "clus2wr_svymean_api00": lambda: _est(dclus2wr.mean("api00")),
    "clus2wr_svytotal_enroll": lambda: _est(dclus2wr.total("enroll")),
    # domains (svyby)
    **{f"clus1_svyby_{v}_{s}": (lambda v=v, s=s: _row(dclus1.mean(v, by="stype"), f"{v} | stype={s}"))
       for v in ("ell", "meals") for s in POP_TYPES},
    # design-based regression (svyglm)
    **{f"clus1_svyglm_gaussian_{c}": (lambda c=c: _row(dclus1.regression("api00", ["ell", "meals"]),
                                                        "(Intercept)" if c == "Intercept" else c))
       for c in ("Intercept", "ell", "meals")},
    **{f"clus1_svyglm_quasibinomial_{c}": (lambda c=c: _row(
        SurveyDesign(APICLUS1.assign(yes=(APICLUS1["sch.wide"] == "Yes").astype(float)), weights="pw",
                     cluster="dnum", fpc="fpc").regression("yes", ["ell", "meals"], family="binomial"),
        "(Intercept)" if c == "Intercept" else c)) for c in ("Intercept", "ell", "meals")},
    # post-stratification, raking and linear calibration
    "ps_svymean_api00": lambda: _est(dclus1.poststratify("stype", POP_TYPES).mean("api00")),
    "ps_svytotal_enroll": lambda: _est(dclus1.poststratify("stype", POP_TYPES).total("enroll")),
    "rake_svymean_api00": lambda: _est(raked.mean("api00")),
    "rake_svytotal_enroll": lambda: _est(raked.total("enroll")),
    "calrake_svytotal_enroll": lambda: _est(dclus1.calibrate({"stype": POP_TYPES, "sch.wide": POP_SCHWIDE},
                                                             method="raking").total("enroll")),
    "greg_stype_svymean_api00": lambda: _est(greg.mean("api00")),
    "greg_stype_svytotal_enroll": lambda: _est(greg.total("enroll")),
    "greg_stype_api99_svymean_api00": lambda: _est(greg_api99.mean("api00")),
    "greg_stype_api99_svytotal_enroll": lambda: _est(greg_api99.total("enroll")),
    "greg_stype_api99_domain_mean_compimpYes": lambda: _row(greg_api99.mean("api00", by="comp.imp"),
                                                            "api00 | comp.imp=Yes"),
    "greg_api99_svymean_api00": lambda: _est(greg_only_api99.mean("api00")),
    "greg_api99_svytotal_enroll": lambda: _est(greg_only_api99.total("enroll")),
    "greg_api99_svyratio": lambda: _est(greg_only_api99.ratio("api.stu", "enroll")),
    # JK1 replicate designs (fpc used, as R's as.svrepdesign does), also after post-stratification/raking
    "jk1_svymean_api00": lambda: _est(rclus1.mean("api00")),
    "jk1_svytotal_enroll": lambda: _est(rclus1.total("enroll")),
    "jk1_svymean_api99": lambda: _est(rclus1.mean("api99")),
    "jk1_svymean_stypeE": lambda: _row(rclus1.proportion("stype"), "stype=E"),
    "jk1mse_svymean_api00": lambda: _est(dclus1.replicate("jk1", mse=True).mean("api00")),
    "jl_clus1_nofpc_jk1mse_svymean_api00": lambda: _est(dclus1_nofpc.replicate("jk1", mse=True).mean("api00")),
    "jk1ps_svymean_api00": lambda: _est(rclus1.poststratify("stype", POP_TYPES).mean("api00")),
    "jk1ps_svytotal_enroll": lambda: _est(rclus1.poststratify("stype", POP_TYPES).total("enroll")),
    "jk1calrake_svymean_api00": lambda: _est(rclus1.calibrate({"stype": POP_TYPES, "sch.wide": POP_SCHWIDE},
                                                              method="raking").mean("api00")),
    "jk1calrake_svytotal_enroll": lambda: _est(rclus1.calibrate({"stype": POP_TYPES, "sch.wide": POP_SCHWIDE},
                                                                method="raking").total("enroll")),
}


def _agrees_to_4_significant_digits(value: float, reference: float) -> bool:
    if reference == 0:
        return abs(value) < 1e-9
    unit = 10 ** (math.floor(math.log10(abs(reference))) - 3)  # the 4th significant digit
    return abs(value - reference) <= 0.5 * unit


@pytest.mark.parametrize("case", sorted(CASES))
def test_agrees_with_r_survey(case):
    ref = REFERENCE[case]
    estimate, se = CASES[case]()
    assert _agrees_to_4_significant_digits(estimate, ref["estimate"]), (
        f"{ref['call']}: estimate {estimate:.8g}, R {ref['estimate']}")
    assert se == pytest.approx(ref["se"], rel=0.005), f"{ref['call']}: se {se:.8g}, R {ref['se']}"


def test_every_reference_case_exists():
    assert set(CASES) <= set(REFERENCE)
