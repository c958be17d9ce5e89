"""A report drawn from the results store imports no estimation code.

The district, overview and monitoring notebooks start by importing their report module and
building the report from the store; the estimators, the survey weighting, the data loading and
scipy.optimize (0.5 s and more per kernel) are only needed when a report is computed from the
data. Each check runs in a fresh interpreter, so that nothing imported by other tests hides an
import.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from evaluering.report.store import store_folder

WAVE = 2024

# Loaded only to compute a report: the estimators, the designs and weighting, the power formulas,
# the data validation, the monitoring's Parquet paths and between-area variance. (The store's key
# hashes the input files, found by evaluering.data.io: that module is loaded either way.)
COMPUTING = (
    "evaluering.evaluation.district", "evaluering.evaluation.designs", "evaluering.evaluation.planning",
    "evaluering.evaluation.register_analyses", "evaluering.inference.social_mix",
    "evaluering.inference.studentised_placebo", "evaluering.monitoring.overdispersion",
    "evaluering.monitoring.trend_cells", "evaluering.weighting.entropy", "evaluering.survey.balance",
    "evaluering.power", "evaluering.data.validate",
)
# ... and scipy's optimisation, dense and sparse algebra and statistics (the monitoring report's
# seaborn imports scipy.stats, so only the district and overview reports are held to these)
SCIPY = ("scipy.optimize", "scipy.linalg", "scipy.sparse", "scipy.stats", "statsmodels")

REPORTS = {
    "district": ("DistrictReport", "{cls}.build(params_file, data_dir, 'moerkhoej', {wave}, None, results)"),
    "overview": ("OverviewReport", "{cls}.build(params_file, data_dir, {wave}, None, results)"),
    "monitoring": ("MonitoringReport", "{cls}.build(params_file, data_dir, {wave}, results)"),
}


def _loaded(code: str, *args: str) -> set[str]:
    """The modules loaded after running ``code`` in a fresh interpreter."""
    script = f"import json, sys\n{code}\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return set(json.loads(done.stdout.splitlines()[-1]))


def _unwanted(report: str, loaded: set[str]) -> list[str]:
    unwanted = COMPUTING if report == "monitoring" else COMPUTING + SCIPY
    return sorted(m for m in loaded if m in unwanted or m.startswith(tuple(f"{u}." for u in unwanted)))


@pytest.mark.parametrize("report", sorted(REPORTS))
def test_importing_a_report_module_imports_no_estimation_code(report):
    loaded = _loaded(f"import evaluering.report.{report}")
    assert _unwanted(report, loaded) == []


@pytest.mark.parametrize("report", sorted(REPORTS))
def test_a_report_drawn_from_the_store_imports_no_estimation_code(report, rendered_reports, params_file,
                                                                  synthetic_dir):
    code, out = rendered_reports
    assert code == 0
    cls, build = REPORTS[report]
    script = (f"params_file, data_dir, results = sys.argv[1:4]\n"
              f"from evaluering.report.{report} import {cls}\n"
              f"report = {build.format(cls=cls, wave=WAVE)}\n"
              "assert getattr(report, 'data', None) is None  # drawn from the store, not computed\n")
    loaded = _loaded(script, str(params_file), str(synthetic_dir), str(store_folder(out, WAVE)))
    assert f"evaluering.report.{report}" in loaded
    assert _unwanted(report, loaded) == []


def test_the_public_names_still_import_from_their_packages():
    from evaluering.evaluation import (  # noqa: F401
        BALANCE_COVARIATES,
        BETTER,
        DistrictEvaluation,
        evaluate_district,
        survey_plan,
        track_ambitions,
    )
    from evaluering.evaluation.district import DistrictEvaluation as from_district
    from evaluering.monitoring import AreaMonitoring, monitor_areas, monitor_areas_from_parquet  # noqa: F401
    from evaluering.weighting import BalanceWeights, entropy_balance  # noqa: F401

    assert from_district is DistrictEvaluation and callable(evaluate_district) and callable(survey_plan)
