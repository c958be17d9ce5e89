"""Run the parameterised notebooks with papermill and render self-contained HTML reports.

- :mod:`.plan`: which notebooks a wave consists of (districts, overview, monitoring, area effects);
- :mod:`.worker`: executes and renders one notebook in its own process;
- :mod:`.compute`: computes the wave's reports once into the results store the notebooks draw from;
- :mod:`.execute`: runs them in parallel with timeouts, scans and installs the reports;
- :mod:`.fingerprint`: skips runs whose inputs did not change;
- :mod:`.index`: the status of each wave and the index page;
- :mod:`.workbook`: each wave's tables in one Excel workbook, read from its rendered reports;
- :mod:`.scratch`: each run's temporary folder, and removing those of killed runs.
"""

from . import quick_imports  # noqa: F401  (first: before anything imports jsonschema)
from .execute import RunContext, RunInterrupted, RunResult, execute_run, needs_run, run_all
from .files import write_atomic
from .index import mark_started, update_status, write_index
from .plan import (
                   AREA_REPORT,
                   MONITORING_REPORT,
                   OVERVIEW_REPORT,
                   RunSpec,
                   plan_area_run,
                   plan_district_runs,
                   plan_monitoring_run,
                   plan_overview_run,
                   plan_wave,
)
from .scratch import sweep_stale_folders
from .worker import render_html

__all__ = ["RunSpec", "RunResult", "RunContext", "RunInterrupted", "plan_district_runs", "plan_overview_run",
           "plan_area_run", "plan_monitoring_run", "plan_wave", "execute_run", "needs_run", "run_all", "mark_started",
           "update_status", "write_index", "sweep_stale_folders",
           "write_atomic", "render_html", "AREA_REPORT", "OVERVIEW_REPORT", "MONITORING_REPORT"]
