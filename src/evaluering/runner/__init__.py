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

from ..lazy import lazy_exports
from . import quick_imports  # noqa: F401  (first: before anything imports jsonschema)

# Where each public name lives. The submodules are imported when a name is first used (PEP 562):
# every report's worker process (``python -m evaluering.runner.worker``) imports this package
# first, and needs neither pandas nor the disclosure scan that the parent's modules import.
_HOME = {
    "RunSpec": "plan", "RunResult": "execute", "RunContext": "execute", "RunInterrupted": "execute",
    "plan_district_runs": "plan", "plan_overview_run": "plan", "plan_area_run": "plan",
    "plan_monitoring_run": "plan", "plan_wave": "plan", "execute_run": "execute", "needs_run": "execute",
    "run_all": "execute", "mark_started": "index", "update_status": "index", "write_index": "index",
    "sweep_stale_folders": "scratch", "write_atomic": "files", "render_html": "worker",
    "AREA_REPORT": "plan", "OVERVIEW_REPORT": "plan", "MONITORING_REPORT": "plan",
}

__all__ = sorted(_HOME)


__getattr__, __dir__ = lazy_exports(__name__, _HOME)
