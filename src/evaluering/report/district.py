"""The district report: everything the district notebook shows, built from tested functions.

The notebook stays thin: it calls :meth:`DistrictReport.build` and then one method per section,
each returning an HTML object (or a figure) that Jupyter displays and nbconvert renders.
"""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from datetime import datetime, timezone
from html import escape
from pathlib import Path

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import HTML

from .. import __version__
from ..config import Params, load_params
from ..data.validate import load_dataset
from ..evaluation import DistrictEvaluation, evaluate_district
from ..indicators.levels import indicator_levels
from ..indicators.prepare import COMPARISON, PreparedData, prepare
from . import format as fmt
from .disclosure import suppress_estimates, suppress_levels
from .figures import estimates_figure, trend_figure
from .tables import goal_table, html_table, sample_table

__all__ = ["DistrictReport"]


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def _data_hash(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.iterdir() if p.suffix in {".parquet", ".csv", ".sav"}):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _git_commit(directory: Path) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=directory, capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() or "ukendt"
    except (OSError, subprocess.SubprocessError):
        return "ukendt"


@dataclass(frozen=True)
class DistrictReport:
    """Evaluation of one district plus what the report needs to show it."""

    params: Params
    data: PreparedData
    evaluation: DistrictEvaluation
    params_file: Path
    data_dir: Path

    @classmethod
    def build(cls, params_file: str | Path, data_dir: str | Path, district: str, wave: int,
              baseline_wave: int | None = None) -> "DistrictReport":
        params_file, data_dir = Path(params_file), Path(data_dir)
        params = load_params(params_file)
        baseline = params.survey.baseline_wave if baseline_wave is None else int(baseline_wave)
        data = prepare(load_dataset(data_dir, params), params)
        evaluation = evaluate_district(data, params.district(district).key, baseline, int(wave))
        return cls(params, data, evaluation, params_file, data_dir)

    # --- sections --------------------------------------------------------------------------

    @property
    def _labels(self) -> dict[str, str]:
        return {self.evaluation.district: self.evaluation.district_name, COMPARISON: self.params.comparison_group.name}

    def title(self) -> HTML:
        ev = self.evaluation
        goals = "".join(f'<li><a href="#{g.key}">{escape(g.name)}</a></li>' for g in self.params.effect_goals)
        return HTML(
            f"<h1>{escape(ev.district_name)}: Social balance {ev.followup}</h1>"
            f"<p>Udviklingen i {escape(ev.district_name)} fra {ev.baseline} til {ev.followup} sammenlignet med "
            f"{escape(self.params.comparison_group.name.lower())}, {escape(self.params.municipality.name)}.</p>"
            f"<h3>Indhold</h3><ol>{goals}<li><a href='#temaer'>Udvikling pr. tema</a></li>"
            "<li><a href='#metode'>Metode og data</a></li></ol>"
        )

    def headline(self) -> HTML:
        counts = suppress_estimates(self.evaluation.table, self.params.disclosure.min_cell)["verdict"].value_counts()
        parts = [f"{counts.get(k, 0)} {fmt.VERDICT_LABELS[k].lower()}" for k in ("better", "no_change", "worse")]
        return HTML(f"<p><strong>Samlet:</strong> Af {len(self.evaluation.table)} indikatorer udvikler "
                    f"{parts[0]}, {parts[1]} og {parts[2]} sig i forhold til sammenligningsgruppen.</p>")

    def effect_goal(self, goal_key: str) -> HTML:
        goal = next(g for g in self.params.effect_goals if g.key == goal_key)
        return HTML(f'<h2 id="{goal.key}">{escape(goal.name)}</h2>' + goal_table(self.evaluation, self.params, goal_key))

    def estimates_figure(self) -> plt.Figure:
        table = suppress_estimates(self.evaluation.table, self.params.disclosure.min_cell)
        return estimates_figure(self.evaluation, table)

    def theme_trends(self) -> list[tuple[HTML, plt.Figure | None]]:
        """A heading and a trend figure (all register years, survey waves) per theme."""
        sections = []
        min_cell = self.params.disclosure.min_cell
        keep = [self.evaluation.district, COMPARISON]
        for goal in self.params.effect_goals:
            for theme in goal.themes:
                heading = HTML(f"<h3>{escape(theme.name)}</h3>")
                if not theme.indicators:
                    sections.append((HTML(heading.data + "<p class='note'>Temaet har endnu ingen indikatorer.</p>"), None))
                    continue
                frames = []
                for ind in theme.indicators:
                    levels = indicator_levels(self.data, ind)
                    levels = levels[levels["group"].isin(keep) & (levels["period"] <= self.evaluation.followup)]
                    frames.append(suppress_levels(levels, min_cell, person_based=pd.Series(ind.source != "visitors", index=levels.index)))
                fig = trend_figure(pd.concat(frames), theme.indicators, self.evaluation.district, self._labels,
                                   marks=tuple(self.params.survey.waves))
                sections.append((heading, fig))
        return sections

    def methods(self) -> HTML:
        ev = self.evaluation
        waves = [ev.baseline, ev.followup]
        min_cell = self.params.disclosure.min_cell
        return HTML(
            "<h3>Spørgeskemaundersøgelsen</h3>"
            + sample_table(self.data, ev.district, waves)
            + "<p>Svarene er vægtet, så de besvarende ligner alle udtrukne i hver bydel og i sammenligningsgruppen "
            "på alder, køn og herkomst (vægtningsklasser fra registrene). Alle voksne beboere i bydelen er inviteret; "
            "sammenligningsgruppen er en tilfældig stikprøve blandt voksne i resten af kommunen.</p>"
            "<h3>Sådan er udviklingen målt</h3>"
            "<p>For hver indikator sammenlignes ændringen i bydelen med ændringen i resten af kommunen i samme periode "
            "(forskel i forskelle). Er intervallet (95 % konfidensinterval) helt over eller helt under nul, markeres "
            "udviklingen som bedre eller dårligere; ellers som ingen påviselig ændring. Retningen følger indikatoren: "
            "for fx kriminalitet og ensomhed er et fald en forbedring. Omverdenens oplevelse af bydelen (indikator 16) "
            "spørges kun i resten af kommunen og måles derfor som ændringen over tid. Brug af området (indikator 18) "
            "måles med tællere og vises som procentvis ændring.</p>"
            "<h3>Forbehold</h3><ul>"
            "<li>Usikkerheden er beregnet, som om personerne er uafhængige. Der er kun tre bydele, og personer i samme "
            "bydel påvirkes af de samme lokale forhold, så usikkerheden er sandsynligvis undervurderet.</li>"
            "<li>Med 19 indikatorer vil nogle se ud til at ændre sig alene ved tilfældighed; p-værdierne er ikke "
            "korrigeret for mange test.</li>"
            "<li>Sammenligningsgruppen er vægtet for bortfald, men ikke til at ligne bydelens beboere.</li>"
            "<li>Indikatorerne måler bydelens beboere, som de er på hvert tidspunkt; flytninger ændrer "
            "sammensætningen.</li></ul>"
            f"<p class='note'>Tal bygget på færre end {min_cell} personer vises ikke (–).</p>"
        )

    def provenance(self) -> HTML:
        repo = Path(__file__).resolve().parents[3]
        rows = [
            ["Parameterfil", escape(self.params_file.name), _file_hash(self.params_file)],
            ["Data", escape(self.data_dir.name), _data_hash(self.data_dir)],
            ["evaluering", __version__, _git_commit(repo)],
            ["Bølge", f"{self.evaluation.baseline} → {self.evaluation.followup}", ""],
            ["Kørt", datetime.now(timezone.utc).astimezone().strftime("%d-%m-%Y %H:%M"), ""],
        ]
        return HTML("<h3>Dokumentation af kørslen</h3>" + html_table(["", "", "Kontrolsum"], rows))
