"""Run the parameterised notebooks with papermill and render self-contained HTML reports.

Each run executes a notebook into a temporary folder, renders it with nbconvert (code hidden,
no scripts from the internet) and only then replaces the report by renaming a finished file,
so a failed run leaves the previous good report untouched and never a half-written one.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from html import escape
from pathlib import Path

import nbformat
import papermill
from nbconvert import HTMLExporter
from tqdm import tqdm

from .config import Params

__all__ = ["RunSpec", "RunResult", "plan_district_runs", "plan_area_run", "execute_run", "run_all", "write_index",
           "render_html"]

TEMPLATE_DIR = Path(__file__).parent / "report" / "templates"
DISTRICT_NOTEBOOK = "district_evaluation.ipynb"
AREA_NOTEBOOK = "area_effects.ipynb"
AREA_REPORT = "omraadeeffekter"  # file name of the municipality-wide area-effects report


@dataclass(frozen=True)
class RunSpec:
    """One notebook execution: which notebook, with which parameters, into which report."""

    label: str
    notebook: Path
    parameters: dict
    report: Path


@dataclass(frozen=True)
class RunResult:
    spec: RunSpec
    ok: bool
    error: str = ""
    failing_cell: int | None = None
    extra: dict = field(default_factory=dict)

    def describe(self) -> str:
        if self.ok:
            return f"{self.spec.label}: ok -> {self.spec.report}"
        cell = f" (cell {self.failing_cell})" if self.failing_cell is not None else ""
        return f"{self.spec.label}: FAILED{cell}: {self.error}"


def plan_district_runs(
    params: Params,
    *,
    params_file: Path,
    data_dir: Path,
    notebooks_dir: Path,
    out_dir: Path,
    wave: int,
    districts: list[str] | None = None,
) -> list[RunSpec]:
    """One run of the district notebook per selected district for ``wave``."""
    if wave not in params.survey.known_waves:
        raise ValueError(f"wave {wave} is not a survey wave in {params.source_file} ({params.survey.known_waves})")
    if wave == params.survey.baseline_wave:
        raise ValueError(f"wave {wave} is the baseline wave: there is no change to evaluate yet")
    chosen = [params.district(d) for d in districts] if districts else list(params.districts)
    return [
        RunSpec(
            label=f"{d.name} {wave}",
            notebook=notebooks_dir / DISTRICT_NOTEBOOK,
            parameters={
                "district": d.key,
                "wave": wave,
                "baseline_wave": params.survey.baseline_wave,
                "params_file": str(params_file.resolve()),
                "data_dir": str(data_dir.resolve()),
            },
            report=out_dir / str(wave) / f"{d.key}.html",
        )
        for d in chosen
    ]


def plan_area_run(params: Params, *, params_file: Path, data_dir: Path, notebooks_dir: Path, out_dir: Path,
                  wave: int) -> RunSpec:
    """The municipality-wide area-effects report for ``wave`` (register year = wave)."""
    return RunSpec(
        label=f"Områdeeffekter {wave}",
        notebook=notebooks_dir / AREA_NOTEBOOK,
        parameters={"year": wave, "params_file": str(params_file.resolve()), "data_dir": str(data_dir.resolve())},
        report=out_dir / str(wave) / f"{AREA_REPORT}.html",
    )


def render_html(notebook: nbformat.NotebookNode) -> str:
    """Render an executed notebook as self-contained HTML without code."""
    exporter = HTMLExporter(
        template_name="rapport",
        extra_template_basedirs=[str(TEMPLATE_DIR)],
        exclude_input=True,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
        embed_images=True,
    )
    body, _ = exporter.from_notebook_node(notebook, resources={"language_code": "da"})
    return body


def write_atomic(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` via a temporary file in the same folder and a rename."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; reports are meant to be read by others
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def execute_run(spec: RunSpec, *, timeout: int = 900) -> RunResult:
    """Execute one notebook and write its report; never raises for a failing notebook."""
    with tempfile.TemporaryDirectory(prefix="evaluering-") as tmp:
        executed = Path(tmp) / spec.notebook.name
        try:
            papermill.execute_notebook(
                str(spec.notebook),
                str(executed),
                parameters=spec.parameters,
                cwd=str(spec.notebook.parent),
                progress_bar=False,
                execution_timeout=timeout,
                kernel_name="python3",
            )
        except papermill.PapermillExecutionError as exc:
            return RunResult(spec, False, f"{exc.ename}: {exc.evalue}", exc.exec_count)
        except Exception as exc:  # kernel died, timeout, missing notebook: report, do not crash the run
            return RunResult(spec, False, f"{type(exc).__name__}: {exc}")
        html = render_html(nbformat.read(executed, as_version=4))
    write_atomic(spec.report, html)
    return RunResult(spec, True)


def run_all(specs: list[RunSpec], *, timeout: int = 900, progress: bool = True) -> list[RunResult]:
    """Execute every run in turn with a progress bar; failures are collected, not raised."""
    results = []
    bar = tqdm(specs, desc="Rapporter", unit="rapport", disable=not progress)
    for spec in bar:
        bar.set_postfix_str(spec.label)
        results.append(execute_run(spec, timeout=timeout))
    return results


def write_index(out_dir: Path, params: Params) -> Path:
    """reports/index.html: a link to every report of every wave found under ``out_dir``."""
    names = {d.key: d.name for d in params.districts} | {AREA_REPORT: "Områdeeffekter (hele kommunen)"}
    sections = []
    for wave_dir in sorted((p for p in out_dir.iterdir() if p.is_dir() and p.name.isdigit()), reverse=True):
        links = "".join(
            f'<li><a href="{wave_dir.name}/{escape(f.name)}">{escape(names.get(f.stem, f.stem))}</a></li>'
            for f in sorted(wave_dir.glob("*.html"))
        )
        if links:
            sections.append(f"<h2>Bølge {wave_dir.name}</h2><ul>{links}</ul>")
    stamp = datetime.now().strftime("%d-%m-%Y %H:%M")
    html = (
        "<!DOCTYPE html><html lang='da'><head><meta charset='utf-8'>"
        f"<title>Social balance – {escape(params.municipality.name)}</title>"
        "<style>body{font-family:'Segoe UI',Arial,sans-serif;max-width:50rem;margin:2rem auto;color:#1d1d1b}"
        "a{color:#0b5cad}</style></head><body>"
        f"<h1>Social balance – {escape(params.municipality.name)}</h1>"
        "<p>Rapporter om udviklingen i bydelene sammenlignet med resten af kommunen.</p>"
        + "".join(sections)
        + f"<p style='color:#57606a;font-size:0.85rem'>Opdateret {stamp}.</p></body></html>"
    )
    index = out_dir / "index.html"
    write_atomic(index, html)
    return index
