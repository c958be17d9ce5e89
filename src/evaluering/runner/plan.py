"""What a wave run consists of: one notebook execution per district, the overview and the area report."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..config import Params
from ..errors import RequestError
from ..report.store import AREA_STORED, MONITORING_STORED, store_folder

__all__ = ["RunSpec", "plan_district_runs", "plan_overview_run", "plan_area_run", "plan_monitoring_run", "plan_wave",
           "DISTRICT_NOTEBOOK", "OVERVIEW_NOTEBOOK", "AREA_NOTEBOOK", "MONITORING_NOTEBOOK", "OVERVIEW_REPORT",
           "AREA_REPORT", "MONITORING_REPORT", "stored_names"]

DISTRICT_NOTEBOOK = "district_evaluation.ipynb"
OVERVIEW_NOTEBOOK = "overview.ipynb"
AREA_NOTEBOOK = "area_effects.ipynb"
MONITORING_NOTEBOOK = "monitoring.ipynb"
OVERVIEW_REPORT = "oversigt"  # file name of the municipality overview of a wave
AREA_REPORT = "omraadeeffekter"  # file name of the municipality-wide area-effects report
MONITORING_REPORT = "overvaagning"  # file name of the monitoring report (all areas, criteria, planning)


@dataclass(frozen=True)
class RunSpec:
    """One notebook execution: which notebook, with which parameters, into which report."""

    label: str
    notebook: Path
    parameters: dict
    report: Path


def _check_wave(params: Params, wave: int) -> None:
    if wave not in params.survey.known_waves:
        raise RequestError(f"wave {wave} is not a survey wave in {params.source_file} ({params.survey.known_waves})")
    if wave == params.survey.baseline_wave:
        raise RequestError(f"wave {wave} is the baseline wave: there is no change to evaluate yet")


def _check_notebooks(specs: list[RunSpec]) -> None:
    """Every notebook a run needs must be there before anything starts."""
    folders = {spec.notebook.parent for spec in specs}
    for folder in sorted(folders):
        if not folder.is_dir():
            raise RequestError(f"{folder}: notebook folder not found (--notebooks)")
    for notebook in sorted({spec.notebook for spec in specs}):
        if not notebook.is_file():
            raise RequestError(f"{notebook}: notebook not found in the notebook folder (--notebooks)")


def _inputs(params_file: Path, data_dir: Path, out_dir: Path, wave: int) -> dict:
    """The inputs every notebook gets: parameter file, data and the wave's results store."""
    return {"params_file": str(params_file.resolve()), "data_dir": str(data_dir.resolve()),
            "results": str(store_folder(out_dir, wave).resolve())}


def _common(params: Params, params_file: Path, data_dir: Path, out_dir: Path, wave: int) -> dict:
    return {"wave": wave, "baseline_wave": params.survey.baseline_wave,
            **_inputs(params_file, data_dir, out_dir, wave)}


def _municipality_run(label: str, notebook: str, report: str, parameters: dict, *, notebooks_dir: Path,
                      out_dir: Path, wave: int) -> RunSpec:
    """A run whose report covers the whole municipality: ``<out_dir>/<wave>/<report>.html``."""
    return RunSpec(label=f"{label} {wave}", notebook=notebooks_dir / notebook, parameters=parameters,
                   report=out_dir / str(wave) / f"{report}.html")


def plan_district_runs(params: Params, *, params_file: Path, data_dir: Path, notebooks_dir: Path, out_dir: Path,
                       wave: int, districts: list[str] | None = None) -> list[RunSpec]:
    """One run of the district notebook per selected district (default: all) for ``wave``."""
    _check_wave(params, wave)
    chosen = [params.district(d) for d in districts] if districts else list(params.districts)
    return [
        RunSpec(label=f"{d.name} {wave}", notebook=notebooks_dir / DISTRICT_NOTEBOOK,
                parameters={"district": d.key, **_common(params, params_file, data_dir, out_dir, wave)},
                report=out_dir / str(wave) / f"{d.key}.html")
        for d in chosen
    ]


def plan_overview_run(params: Params, *, params_file: Path, data_dir: Path, notebooks_dir: Path, out_dir: Path,
                      wave: int) -> RunSpec:
    """The municipality overview: every district side by side for ``wave``."""
    _check_wave(params, wave)
    return _municipality_run("Oversigt", OVERVIEW_NOTEBOOK, OVERVIEW_REPORT,
                             _common(params, params_file, data_dir, out_dir, wave),
                             notebooks_dir=notebooks_dir, out_dir=out_dir, wave=wave)


def plan_area_run(params: Params, *, params_file: Path, data_dir: Path, notebooks_dir: Path, out_dir: Path,
                  wave: int) -> RunSpec:
    """The municipality-wide area-effects report for ``wave`` (register year = wave)."""
    return _municipality_run("Områdeeffekter", AREA_NOTEBOOK, AREA_REPORT,
                             {"year": wave, **_inputs(params_file, data_dir, out_dir, wave)},
                             notebooks_dir=notebooks_dir, out_dir=out_dir, wave=wave)


def plan_monitoring_run(params: Params, *, params_file: Path, data_dir: Path, notebooks_dir: Path, out_dir: Path,
                        wave: int) -> RunSpec:
    """Monitoring of every area, the statutory criteria, ambitions and planning of the next wave."""
    return _municipality_run("Overvågning", MONITORING_NOTEBOOK, MONITORING_REPORT,
                             {"wave": wave, **_inputs(params_file, data_dir, out_dir, wave)},
                             notebooks_dir=notebooks_dir, out_dir=out_dir, wave=wave)


def plan_wave(params: Params, *, params_file: Path, data_dir: Path, notebooks_dir: Path, out_dir: Path,
              wave: int, districts: list[str] | None = None) -> list[RunSpec]:
    """Every run of a wave: the district reports, then (for a full run) the overview, the monitoring
    and the area-effects reports.

    A run restricted to some districts leaves the municipality-wide reports alone: they would
    otherwise mix districts evaluated at different times.
    """
    where = dict(params_file=params_file, data_dir=data_dir, notebooks_dir=notebooks_dir, out_dir=out_dir, wave=wave)
    specs = plan_district_runs(params, districts=districts, **where)
    if not districts:
        specs += [plan_overview_run(params, **where), plan_monitoring_run(params, **where),
                  plan_area_run(params, **where)]
    _check_notebooks(specs)
    return specs


def stored_names(specs: list[RunSpec], params: Params) -> list[str]:
    """The names in the store the runs of ``specs`` draw from (an overview needs every district)."""
    names = []
    for spec in specs:
        notebook = spec.notebook.name
        if notebook == DISTRICT_NOTEBOOK:
            names.append(spec.parameters["district"])
        elif notebook == OVERVIEW_NOTEBOOK:
            names += [d.key for d in params.districts]
        elif notebook == MONITORING_NOTEBOOK:
            names.append(MONITORING_STORED)
        elif notebook == AREA_NOTEBOOK:
            names.append(AREA_STORED)
    return list(dict.fromkeys(names))
