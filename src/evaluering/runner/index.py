"""The run status of each wave and the index page that links every report of every wave.

``reports/<wave>/status.json`` records, per report, when it was last built and whether the last
attempt failed. The index shows both, so a report kept after a failed run never looks current.
"""

from __future__ import annotations

import json
from datetime import datetime
from html import escape
from pathlib import Path

from ..config import Params
from .execute import RunResult
from .files import write_atomic
from .plan import AREA_REPORT, MONITORING_REPORT, OVERVIEW_REPORT

__all__ = ["update_status", "read_status", "write_index"]

STATUS_FILE = "status.json"


def _now() -> str:
    return datetime.now().isoformat(timespec="seconds")


def read_status(wave_dir: Path) -> dict:
    try:
        return json.loads((wave_dir / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def update_status(results: list[RunResult]) -> None:
    """Record each run's outcome in its wave's status file (previous entries are kept)."""
    by_wave: dict[Path, list[RunResult]] = {}
    for result in results:
        by_wave.setdefault(result.spec.report.parent, []).append(result)
    for wave_dir, wave_results in by_wave.items():
        status = read_status(wave_dir)
        for result in wave_results:
            entry = status.setdefault(result.spec.report.stem, {})
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
        if entry.get("last_ok") is False:
            note += (f" – <strong class='fejl'>seneste kørsel {_danish_time(entry['last_attempt'])} fejlede; "
                     + ("rapporten er fra en tidligere kørsel" if exists else "rapporten kunne ikke laves")
                     + "</strong>")
        items.append(f"<li>{link} <span class='note'>({note})</span></li>")
    return f"<h2>Bølge {wave_dir.name}</h2><ul>{''.join(items)}</ul>" if items else ""


def write_index(out_dir: Path, params: Params) -> Path:
    """reports/index.html: a link to every report of every wave found under ``out_dir``."""
    names = _report_names(params)
    waves = sorted((p for p in out_dir.iterdir() if p.is_dir() and p.name.isdigit()), reverse=True)
    sections = "".join(_wave_section(w, names) for w in waves)
    html = (
        "<!DOCTYPE html><html lang='da'><head><meta charset='utf-8'>"
        f"<title>Social balance – {escape(params.municipality.name)}</title>"
        "<style>body{font-family:'Segoe UI',Arial,sans-serif;max-width:50rem;margin:2rem auto;color:#1d1d1b}"
        "a{color:#0b5cad}.note{color:#57606a;font-size:0.85rem}.fejl{color:#b42318}</style></head><body>"
        f"<h1>Social balance – {escape(params.municipality.name)}</h1>"
        "<p>Rapporter om udviklingen i bydelene sammenlignet med resten af kommunen.</p>"
        + sections
        + f"<p class='note'>Siden er opdateret {_danish_time(_now())}.</p></body></html>"
    )
    index = out_dir / "index.html"
    write_atomic(index, html)
    return index
