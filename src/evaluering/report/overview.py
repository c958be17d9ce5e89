"""The municipality overview of a wave: every district side by side, for the steering group.

One page per wave that answers "which districts improve on which indicators?" with the same
evaluation, suppression and marks as the district reports (it calls the same functions), and
links to each district's full report.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import HTML

from ..config import Params, load_params
from ..evaluation import DistrictEvaluation
from . import format as fmt
from .disclosure import NOT_PERSONS, suppress_estimates
from .figure_record import describe, record_persons
from .figure_texts import overview_text
from .figures import despine, plain_text
from .inputs import load_prepared
from .provenance import provenance_line, provenance_table
from .store import stored_report
from .tables import html_table, shown_interval, verdict_mark
from .texts import falling_is_better, lower_first, strategy_name

__all__ = ["OverviewReport"]

VERDICT_COLOURS = {"better": "#1a7f37", "no_change": "#8c959f", "worse": "#b42318"}


@dataclass(frozen=True)
class OverviewReport:
    """Every district's evaluation for one wave, suppressed as in the district reports."""

    params: Params
    evaluations: tuple[DistrictEvaluation, ...]
    params_file: Path
    data_dir: Path

    @classmethod
    def build(cls, params_file: str | Path, data_dir: str | Path, wave: int | None = None,
              baseline_wave: int | None = None, results: str | Path | None = None) -> OverviewReport:
        """``wave`` None: the parameter file's latest survey wave.

        ``results``: a wave's results store (see :mod:`.store`); the districts' evaluations come from
        it when it holds every district's for these inputs, and are computed from the data otherwise.
        """
        params = load_params(params_file)
        baseline = params.survey.baseline_wave if baseline_wave is None else int(baseline_wave)
        wave = params.survey.waves[-1] if wave is None else int(wave)
        stored = [stored_report(results, d.key, params_file, data_dir, wave, baseline) for d in params.districts]
        if all(report is not None for report in stored):
            return cls(params, tuple(r.evaluation for r in stored), Path(params_file), Path(data_dir))
        from ..evaluation import evaluate_district  # the estimators: not imported when drawn from the store

        params_file, data_dir, params, data = load_prepared(params_file, data_dir)
        evaluations = tuple(evaluate_district(data, d.key, baseline, wave) for d in params.districts)
        return cls(params, evaluations, params_file, data_dir)

    @property
    def baseline(self) -> int:
        """The baseline wave the districts are evaluated against."""
        return self.evaluations[0].baseline

    @property
    def followup(self) -> int:
        """The follow-up wave."""
        return self.evaluations[0].followup

    def _table(self, evaluation: DistrictEvaluation) -> pd.DataFrame:
        return suppress_estimates(evaluation.table, self.params.disclosure.min_cell).set_index("key")

    def title(self) -> HTML:
        """The report's heading and table of contents."""
        goals = "".join(f'<li><a href="#{g.key}">{escape(g.name)}</a></li>' for g in self.params.effect_goals)
        return HTML(
            f"<h1>{escape(strategy_name(self.params))} {self.followup}: bydelene side om side</h1>"
            f"<p>Udviklingen fra {self.baseline} til {self.followup} i {escape(self.params.municipality.name)}s "
            f"udsatte bydele, hver sammenlignet med {escape(lower_first(self.params.comparison_group.name))}. "
            "Hver bydel har sin egen rapport med alle detaljer; her står de ved siden af hinanden.</p>"
            + provenance_line(self.params_file, self.data_dir, self.params.municipality.name) +
            f"<h3>Indhold</h3><ol><li><a href='#samlet'>Samlet billede</a></li>{goals}"
            "<li><a href='#figur'>Ændringerne i en figur</a></li>"
            "<li><a href='#metode'>Sådan læses oversigten</a></li></ol>"
        )

    def summary(self) -> HTML:
        """Per district: how many indicators improve, hold or worsen, ambitions met, link to the report."""
        header = ["Bydel", "Bedre", "Ingen påviselig ændring", "Dårligere", "Ikke vist eller ikke beregnet",
                  "Ambitioner nået",
                  "Rapport"]
        rows = []
        for ev in self.evaluations:
            table = self._table(ev)
            counts = table["verdict"].value_counts()
            with_target = table["ambition_met"].notna()
            met = int(table.loc[with_target, "ambition_met"].astype(bool).sum())
            rows.append([escape(ev.district_name)]
                        + [str(int(counts.get(k, 0))) for k in ("better", "no_change", "worse")]
                        + [str(int(counts.get("suppressed", 0) + counts.get("not_computed", 0)))]
                        + [f"{met} af {int(with_target.sum())}",
                           f'<a href="{escape(ev.district)}.html">Åbn rapporten</a>'])
        counts_of_indicators = [[None] + [NOT_PERSONS] * 5 + [None] for _ in rows]
        return HTML("<h2 id='samlet'>Samlet billede</h2>"
                    f"<p>Antal indikatorer (af {len(self.evaluations[0].table)}) efter vurdering.</p>"
                    + html_table(header, rows, counts_of_indicators, text_columns=(0, 6)))

    def effect_goal(self, goal_key: str) -> HTML:
        """One row per indicator of the goal, one column per district: mark, change and interval."""
        goal = next(g for g in self.params.effect_goals if g.key == goal_key)
        tables = [self._table(ev) for ev in self.evaluations]
        header = ["Indikator"] + [ev.district_name for ev in self.evaluations]
        rows, persons = [], []
        for ind in (i for t in goal.themes for i in t.indicators):
            rows.append([f"{ind.number}. {escape(ind.name)}<br><span class='note'>"
                         f"{escape(fmt.DIRECTION_LABELS[ind.direction])}</span>"]
                        + [_district_cell(table.loc[ind.key]) for table in tables])
            persons.append([None] + [table.loc[ind.key, "min_persons"] for table in tables])
        return HTML(f'<h2 id="{goal.key}">{escape(goal.name)}</h2>'
                    + html_table(header, rows, persons, text_columns=(0,), min_cell=self.params.disclosure.min_cell))

    def figure(self) -> plt.Figure:
        """The changes of all share indicators, one panel per district, coloured by verdict."""
        tables = [self._table(ev) for ev in self.evaluations]
        keys = [k for k in tables[0].index if tables[0].loc[k, "unit"] == "share"]
        fig, axes = plt.subplots(1, len(tables), figsize=(3.2 * len(tables) + 2.5, 0.3 * len(keys) + 1.4),
                                 sharey=True, squeeze=False)
        y = np.arange(len(keys))[::-1]
        for ax, ev, table in zip(axes[0], self.evaluations, tables, strict=False):
            for yi, key in zip(y, keys, strict=False):
                row = table.loc[key]
                if pd.isna(row["estimate"]):
                    continue
                colour = VERDICT_COLOURS.get(row["verdict"], "#8c959f")
                low, high = shown_interval(row)
                ax.plot([100 * low, 100 * high], [yi, yi], color=colour, lw=2)
                ax.plot(100 * row["estimate"], yi, "o", color=colour, ms=5)
            ax.axvline(0, color="#333333", lw=0.8)
            ax.set_title(plain_text(ev.district_name), fontsize=10)
            ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: fmt.number(v, 0)))
            ax.grid(axis="x", color="#eeeeee")
            despine(ax)
        axes[0][0].set_yticks(y, [plain_text(f"{tables[0].loc[k, 'number']}. {tables[0].loc[k, 'indicator']}")
                                  for k in keys], fontsize=9)
        fig.supxlabel("Ændring i bydelen minus ændring i sammenligningsgruppen\n(procentpoint, 95 % KI)", fontsize=9)
        fig.tight_layout()
        describe(fig, overview_text([ev.district_name for ev in self.evaluations], tables, keys))
        drawn = [table.loc[k, "min_persons"] for table in tables for k in keys if pd.notna(table.loc[k, "estimate"])]
        drawn = pd.Series(drawn, dtype=float).dropna()
        return record_persons(fig, float(drawn.min()) if len(drawn) else NOT_PERSONS)

    def reading_guide(self) -> HTML:
        """How to read the overview: the verdicts, the intervals and the suppressed cells."""
        min_cell = self.params.disclosure.min_cell
        direction = falling_is_better(self.params)
        return HTML(
            "<h2 id='metode'>Sådan læses oversigten</h2><ul>"
            "<li>Hver celle viser forskellen i udvikling: ændringen i bydelen minus ændringen i "
            "sammenligningsgruppen, med 95 % konfidensinterval i parentes. For andele er den målt i "
            "procentpoint.</li>"
            "<li>▲ Bedre og ▼ Dårligere betyder, at ændringen er statistisk sikker i indikatorens retning"
            f"{f' ({direction})' if direction else ''}; ● betyder ingen påviselig ændring.</li>"
            "<li>Ambitionen er det politisk fastsatte niveau for bydelen; »nået« betyder, at bydelens seneste "
            "niveau er på eller bedre end ambitionen.</li>"
            "<li>Metode, usikkerhed, vægtning og forbehold er beskrevet i hver bydels rapport.</li></ul>"
            f"<p class='note'>Tal bygget på færre end {min_cell} personer vises ikke (–).</p>"
        )

    def provenance(self) -> HTML:
        """Where the numbers come from: parameter file, data and versions."""
        return provenance_table(self.params_file, self.data_dir, f"{self.baseline} → {self.followup}")


def _district_cell(row: pd.Series) -> str:
    """Mark, change with interval and ambition status of one indicator in one district."""
    if row["verdict"] in ("suppressed", "not_computed"):  # no numbers: hidden, or no data in the district
        return verdict_mark(row["verdict"])
    low, high = shown_interval(row)
    change = fmt.change(row["estimate"], row["unit"], row["scale"])
    bounds = (f"{fmt.change(low, row['unit'], row['scale'], with_unit=False)} til "
              f"{fmt.change(high, row['unit'], row['scale'], with_unit=False)}")
    ambition = {True: "ambition nået", False: "ambition ikke nået endnu"}.get(row["ambition_met"], "")
    return (f"{verdict_mark(row['verdict'])}<br>{change}<br><span class='note'>({bounds})"
            + (f"<br>{ambition}" if ambition else "") + "</span>")
