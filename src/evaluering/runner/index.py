"""The run status of each wave and the index page that links every report of every wave.

``reports/<wave>/status.json`` records, per report, when it was last built and whether the last
attempt failed. The index shows both, so a report kept after a failed run never looks current,
and links each wave's Excel workbook with every table of its reports (``workbook``).
Before the runs start, each planned report is marked as being rebuilt (with the id of the
process doing it) and the index is written: if the run is killed, the index already says that
the report is from an earlier run, and the next read of the status turns the mark of a process
that is gone into a failed, interrupted attempt.
"""

from __future__ import annotations

import json
from datetime import datetime
from html import escape
from pathlib import Path

from ..config import Params
from ..report.texts import strategy_name
from .execute import INTERRUPTED, RunResult
from .files import write_atomic
from .plan import AREA_REPORT, MONITORING_REPORT, OVERVIEW_REPORT, RunSpec
from .scratch import process_alive, process_identity
from .workbook import workbook_path

__all__ = ["update_status", "read_status", "write_index", "mark_started"]

STATUS_FILE = "status.json"
WORKBOOK_LINK = "Alle tabeller i Excel (.xlsx)"


def _now() -> str:
    return datetime.now().isoformat(timespec="seconds")


def read_status(wave_dir: Path) -> dict:
    """The wave's status; a report still marked as being rebuilt by a process that is gone is
    read as a failed, interrupted attempt.
    """
    try:
        status = json.loads((wave_dir / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    for entry in status.values():
        running = entry.get("running")
        if running and not process_alive(running):
            del entry["running"]
            entry.update(last_attempt=running.get("since"), last_ok=False, error=INTERRUPTED, cell=None)
    return status


def mark_started(specs: list[RunSpec]) -> None:
    """Mark each planned report as being rebuilt by this process (see the module docstring)."""
    me = process_identity() | {"since": _now()}
    for wave_dir, wave_specs in _by_wave(specs, lambda spec: spec).items():
        status = read_status(wave_dir)
        for spec in wave_specs:
            status.setdefault(spec.report.stem, {}).update(label=spec.label, running=me)
        wave_dir.mkdir(parents=True, exist_ok=True)
        write_atomic(wave_dir / STATUS_FILE, json.dumps(status, indent=2, ensure_ascii=False))


def _by_wave(items: list, spec_of) -> dict[Path, list]:
    groups: dict[Path, list] = {}
    for item in items:
        groups.setdefault(spec_of(item).report.parent, []).append(item)
    return groups


def update_status(results: list[RunResult]) -> None:
    """Record each run's outcome in its wave's status file (previous entries are kept)."""
    for wave_dir, wave_results in _by_wave(results, lambda result: result.spec).items():
        status = read_status(wave_dir)
        for result in wave_results:
            entry = status.setdefault(result.spec.report.stem, {})
            entry.pop("running", None)
            entry.update(label=result.spec.label, last_attempt=_now(), last_ok=result.ok,
                         error=result.error, cell=result.failing_cell)
            if result.ok and not result.skipped:
                entry["built"] = entry["last_attempt"]
        write_atomic(wave_dir / STATUS_FILE, json.dumps(status, indent=2, ensure_ascii=False))


def _danish_time(iso: str | None) -> str:
    return datetime.fromisoformat(iso).strftime("%d-%m-%Y %H:%M") if iso else "ukendt tidspunkt"


def _report_names(params: Params) -> dict[str, str]:
    """Report file stem -> Danish link text, in the order the index lists them."""
    return ({OVERVIEW_REPORT: "Oversigt: alle bydele side om side"}
            | {d.key: d.name for d in params.districts}
            | {MONITORING_REPORT: "Overvågning af alle områder, lovens kriterier, ambitioner og planlægning",
               AREA_REPORT: "Områdeeffekter (hele kommunen)"})


def _wave_section(wave_dir: Path, names: dict[str, str]) -> str:
    status = read_status(wave_dir)
    stems = {p.stem for p in wave_dir.glob("*.html")} | set(status)
    order = list(names) + sorted(stems - set(names))
    items = []
    for stem in (s for s in order if s in stems):
        entry, exists = status.get(stem, {}), (wave_dir / f"{stem}.html").exists()
        built = entry.get("built") or (datetime.fromtimestamp((wave_dir / f"{stem}.html").stat().st_mtime)
                                       .isoformat(timespec="seconds") if exists else None)
        name = escape(names.get(stem, entry.get("label", stem)))
        link = f'<a href="{wave_dir.name}/{escape(stem)}.html">{name}</a>' if exists else name
        note = f"lavet {_danish_time(built)}" if exists else "ingen rapport"
        if entry.get("running"):
            note += (f" – <strong class='fejl'>en ny kørsel startede {_danish_time(entry['running'].get('since'))} "
                     "og er ikke afsluttet; "
                     + ("rapporten er fra en tidligere kørsel" if exists else "der er endnu ingen rapport")
                     + "</strong>")
        elif entry.get("last_ok") is False:
            note += (f" – <strong class='fejl'>seneste kørsel {_danish_time(entry['last_attempt'])} fejlede; "
                     + ("rapporten er fra en tidligere kørsel" if exists else "rapporten kunne ikke laves")
                     + "</strong>")
        items.append(f"<li>{link} <span class='note'>({note})</span></li>")
    workbook = workbook_path(wave_dir)
    if items and workbook.exists():
        made = datetime.fromtimestamp(workbook.stat().st_mtime).isoformat(timespec="seconds")
        items.append(f'<li><a href="{wave_dir.name}/{escape(workbook.name)}">{WORKBOOK_LINK}</a> '
                     f"<span class='note'>(lavet {_danish_time(made)})</span></li>")
    return f"<h2>Bølge {wave_dir.name}</h2><ul>{''.join(items)}</ul>" if items else ""


def write_index(out_dir: Path, params: Params) -> Path:
    """reports/index.html: a link to every report of every wave found under ``out_dir``."""
    names = _report_names(params)
    waves = sorted((p for p in out_dir.iterdir() if p.is_dir() and p.name.isdigit()), reverse=True)
    sections = "".join(_wave_section(w, names) for w in waves)
    html = (
        "<!DOCTYPE html><html lang='da'><head><meta charset='utf-8'>"
        f"<title>{escape(_title(params))}</title>"
        "<style>body{font-family:'Segoe UI',Arial,sans-serif;max-width:50rem;margin:2rem auto;color:#1d1d1b}"
        "a{color:#0b5cad}.note{color:#57606a;font-size:0.85rem}.fejl{color:#b42318}</style></head><body>"
        f"<h1>{escape(_title(params))}</h1>"
        "<p>Rapporter om udviklingen i bydelene sammenlignet med resten af kommunen.</p>"
        + sections
        + f"<p class='note'>Siden er opdateret {_danish_time(_now())}.</p></body></html>"
    )
    index = out_dir / "index.html"
    write_atomic(index, html)
    return index


def _title(params: Params) -> str:
    """The index's title: the strategy's name (parameter file) and, if it does not say it, the municipality."""
    name = strategy_name(params)
    return name if params.municipality.name in name else f"{name} – {params.municipality.name}"
