"""The district report: everything the district notebook shows, built from tested functions.

The notebook stays thin: it calls :meth:`DistrictReport.build` and then one method per section,
each returning an HTML object (or a figure) that Jupyter displays and nbconvert renders.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib.pyplot as plt
import pandas as pd
from IPython.display import HTML

from ..config import Params, load_params
from ..evaluation import DistrictEvaluation
from ..evaluation.robustness import robustness_or_none, synthetic_check, trend_sensitivity
from ..groups import COMPARISON
from ..indicators.attributes import disclosure_persons
from ..weighting.diagnostics import SMD_THRESHOLD
from . import format as fmt
from .computed import computed, without_data
from .disclosure import NOT_PERSONS, suppress_estimates, suppress_event_study, suppress_levels, unsafe_periods
from .figure_record import describe, record_persons
from .figure_texts import estimates_text, event_study_text, love_plot_text, trend_text
from .figures import estimates_figure, event_study_grid, love_plot, trend_figure
from .inputs import load_prepared
from .provenance import provenance_line, provenance_table
from .robustness_section import robustness_html
from .store import stored_report
from .tables import balance_hidden, balance_html, goal_table, sample_table
from .texts import (
    coverage_text,
    falling_is_better,
    join_words,
    lower_first,
    measurement_notes,
    multiple_testing_item,
    strategy_name,
    survey_coverage,
)

if TYPE_CHECKING:
    from ..indicators.prepare import PreparedData

__all__ = ["DistrictReport"]


def _totals(summary: dict) -> dict[str, int]:
    """Respondents per group of the balance table, the totals its shares add up to."""
    return {"district": summary["n_district"], "comparison": summary["n_comparison"]}


@dataclass(frozen=True)
class DistrictReport:
    """Evaluation of one district plus what the report needs to show it."""

    params: Params
    data: PreparedData | None  # None: drawn from stored results (see .store)
    evaluation: DistrictEvaluation
    params_file: Path
    data_dir: Path
    _computed: dict = field(default_factory=dict, repr=False, compare=False)  # see .computed

    def indicator_levels(self, ind) -> pd.DataFrame:
        """Every group's levels of ``ind`` in every year (the trend figures and the event studies use them)."""
        return self._levels(ind.key)

    @computed
    def _levels(self, key: str) -> pd.DataFrame:
        from ..indicators.levels import indicator_levels  # computing only: not for a stored report

        return indicator_levels(self.data, self.params.indicator(key))

    @classmethod
    def build(cls, params_file: str | Path, data_dir: str | Path, district: str | None = None,
              wave: int | None = None, baseline_wave: int | None = None, results: str | Path | None = None,
              ) -> DistrictReport:
        """``district`` None: the parameter file's first district; ``wave`` None: its latest wave.

        ``results``: a wave's results store (see :mod:`.store`); the report is drawn from it when it
        holds this district's results for these inputs, and computed from the data otherwise.
        """
        params = load_params(params_file)
        baseline = params.survey.baseline_wave if baseline_wave is None else int(baseline_wave)
        key = params.districts[0].key if district is None else params.district(district).key
        wave = params.survey.waves[-1] if wave is None else int(wave)
        stored = stored_report(results, key, params_file, data_dir, wave, baseline)
        if stored is not None:
            return stored
        params_file, data_dir, params, data = load_prepared(params_file, data_dir)
        return cls.compute(params, data, key, baseline, wave, params_file, data_dir)

    @classmethod
    def compute(cls, params: Params, data: PreparedData, district: str, baseline: int, wave: int,
                params_file: Path, data_dir: Path) -> DistrictReport:
        """The report of ``district`` computed from prepared data."""
        from ..evaluation import evaluate_district  # the estimators: not imported for a stored report

        return cls(params, data, evaluate_district(data, district, baseline, wave), params_file, data_dir)

    def precompute(self) -> DistrictReport:
        """Every computation the sections draw from (then :meth:`for_store`)."""
        for ind in self.params.indicators:
            self.indicator_levels(ind)
        for wave in (self.evaluation.baseline, self.evaluation.followup):
            self._balance(wave)
        self._survey_sample()
        self._robustness()
        return self

    def for_store(self) -> DistrictReport:
        """The report without microdata: no prepared data, no survey designs in the evaluation."""
        return without_data(self, evaluation=dataclasses.replace(self.evaluation, balanced={}))

    def stored_tables(self) -> dict[str, pd.DataFrame]:
        """The evaluation's tables, for the store's Parquet copies."""
        return {"indikatorer": self.evaluation.table, "niveauer": self.evaluation.levels}

    # --- sections --------------------------------------------------------------------------

    @property
    def _labels(self) -> dict[str, str]:
        return {self.evaluation.district: self.evaluation.district_name, COMPARISON: self.params.comparison_group.name}

    def title(self) -> HTML:
        """The report's heading and table of contents."""
        ev = self.evaluation
        goals = "".join(f'<li><a href="#{g.key}">{escape(g.name)}</a></li>' for g in self.params.effect_goals)
        return HTML(
            f"<h1>{escape(ev.district_name)}: {escape(strategy_name(self.params))} {ev.followup}</h1>"
            f"<p>Udviklingen i {escape(ev.district_name)} fra {ev.baseline} til {ev.followup} sammenlignet med "
            f"{escape(lower_first(self.params.comparison_group.name))}, {escape(self.params.municipality.name)}.</p>"
            + provenance_line(self.params_file, self.data_dir, self.params.municipality.name) +
            "<p class='note'><a href='oversigt.html'>Alle bydele side om side</a> · "
            "<a href='../index.html'>Alle rapporter</a></p>"
            f"<h3>Indhold</h3><ol>{goals}<li><a href='#temaer'>Udvikling pr. tema</a></li>"
            "<li><a href='#foer-efter'>Før og efter strategien</a></li>"
            "<li><a href='#metode'>Metode og data</a></li></ol>"
        )

    def headline(self) -> HTML:
        """The headline: how many indicators improved, did not change, or worsened."""
        counts = suppress_estimates(self.evaluation.table, self.params.disclosure.min_cell)["verdict"].value_counts()
        parts = [f"{counts.get(k, 0)} {fmt.VERDICT_LABELS[k].lower()}" for k in ("better", "no_change", "worse")]
        hidden = int(counts.get("suppressed", 0) + counts.get("not_computed", 0))
        rest = (f" For {hidden} af dem vises intet resultat (for få personer eller ingen data; se tabellerne)."
                if hidden else "")
        return HTML(f"<p><strong>Samlet:</strong> Af {len(self.evaluation.table)} indikatorer udvikler "
                    f"{parts[0]}, {parts[1]} og {parts[2]} sig i forhold til sammenligningsgruppen.{rest}</p>")

    def effect_goal(self, goal_key: str) -> HTML:
        """The section of one effect goal: its indicators' table."""
        goal = next(g for g in self.params.effect_goals if g.key == goal_key)
        table = goal_table(self.evaluation, self.params, goal_key)
        return HTML(f'<h2 id="{goal.key}">{escape(goal.name)}</h2>' + table)

    def estimates_figure(self) -> plt.Figure:
        """Every share indicator's change against the comparison group, with its interval."""
        table = suppress_estimates(self.evaluation.table, self.params.disclosure.min_cell)
        drawn = table[(table["unit"] == "share") & table["estimate"].notna()]
        fig = describe(estimates_figure(self.evaluation, table), estimates_text(table))
        return record_persons(fig, _fewest(drawn["min_persons"]))

    def theme_trends(self) -> list[tuple[HTML, plt.Figure | None]]:
        """A heading and a trend figure (all register years, survey waves) per theme."""
        sections = []
        min_cell = self.params.disclosure.min_cell
        keep = [self.evaluation.district, COMPARISON]
        for goal in self.params.effect_goals:
            for theme in goal.themes:
                heading = HTML(f"<h3>{escape(theme.name)}</h3>")
                if not theme.indicators:
                    empty = "<p class='note'>Temaet har endnu ingen indikatorer.</p>"
                    sections.append((HTML(heading.data + empty), None))
                    continue
                frames = []
                for ind in theme.indicators:
                    levels = self.indicator_levels(ind)
                    levels = levels[levels["group"].isin(keep) & (levels["period"] <= self.evaluation.followup)]
                    person_based = pd.Series(ind.source != "visitors", index=levels.index)
                    frames.append(suppress_levels(levels, min_cell, person_based=person_based))
                levels = pd.concat(frames)
                fig = trend_figure(levels, theme.indicators, self.evaluation.district, self._labels,
                                   marks=tuple(self.params.survey.waves))
                describe(fig, trend_text(levels, theme.indicators, self.evaluation.district, self._labels))
                drawn = levels[~levels["suppressed"] & levels["value"].notna()]
                person_based = drawn["indicator"].map({i.key: i.source != "visitors" for i in theme.indicators})
                persons = _fewest(disclosure_persons(drawn[person_based.astype(bool)]))
                sections.append((heading, record_persons(fig, persons)))
        return sections

    @computed
    def _balance(self, wave: int) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
        """Balance table, respondent counts per covariate and weight summaries for one wave."""
        # computing only: the weighting (scipy.linalg) and the designs are not imported for a stored report
        from ..evaluation import BALANCE_COVARIATES
        from ..weighting import balance_table, covariate_matrix, effective_sample_size, max_weight_share

        design, balanced = self.data.designs[wave], self.evaluation.balanced[wave]
        district = self.evaluation.district
        w = design.weights.to_numpy()
        rows = design.data["stratum"].isin([district, COMPARISON]).to_numpy() & (w > 0)
        X = covariate_matrix(design.data[rows], BALANCE_COVARIATES)
        treated = (design.data.loc[rows, "stratum"] == district).to_numpy()
        after = balanced.weights.to_numpy()[rows][~treated]
        table = balance_table(X, treated, w[rows], after)
        counts = pd.DataFrame({"district": (X[treated] > 0).sum(), "comparison": (X[~treated] > 0).sum()})
        before = w[rows][~treated]
        summary = {
            "n_district": int(treated.sum()), "n_comparison": int((~treated).sum()),
            "ess_district": effective_sample_size(w[rows][treated]),
            "ess_before": effective_sample_size(before), "ess_after": effective_sample_size(after),
            "max_share_after": max_weight_share(after),
        }
        return table, counts, summary

    def weighting(self) -> HTML:
        """How the comparison group was weighted to look like the district, wave by wave."""
        parts = ["<h3>Vægtning af sammenligningsgruppen</h3>"
                 "<p>Sammenligningsgruppens svar er vægtet, så gruppen ligner bydelens besvarende på alder, køn, "
                 "herkomst, højeste uddannelse og beskæftigelse (entropibalancering, Hainmueller 2012). Tabellen viser "
                 "andelene før og efter vægtningen og den standardiserede forskel (under 0,1 regnes for god "
                 "balance).</p>"]
        for wave in (self.evaluation.baseline, self.evaluation.followup):
            table, counts, summary = self._balance(wave)
            share = summary["ess_after"] / summary["n_comparison"]
            warning = ("<p class='maerke-daarligere'>Advarsel: vægtningen bygger på få effektive svar; "
                       "sammenligningen er usikker.</p>") if share < 0.2 or summary["max_share_after"] > 0.05 else ""
            parts.append(
                f"<h4>Bølge {wave}</h4>"
                + balance_html(table, counts, _totals(summary), self.params.disclosure.min_cell)
                + self._effective_sizes(summary) + warning
            )
        return HTML("".join(parts))

    def _effective_sizes(self, summary: dict) -> str:
        """The effective sample sizes, without the respondent counts (the sample table shows those,
        with its suppression) and without the district's when it has fewer than ``min_cell`` answers.
        """
        district = (f"bydelen {fmt.number(summary['ess_district'], 0)}; "
                    if summary["n_district"] >= self.params.disclosure.min_cell else "")
        return (f"<p class='note'>Effektiv stikprøvestørrelse: {district}sammenligningsgruppen "
                f"{fmt.number(summary['ess_before'], 0)} før og {fmt.number(summary['ess_after'], 0)} efter "
                f"vægtningen. Største vægts andel: {fmt.share(summary['max_share_after'], 2)}.</p>")

    def love_plot(self) -> plt.Figure:
        """Standardised differences before and after weighting, follow-up wave (hidden categories left out)."""
        table, counts, summary = self._balance(self.evaluation.followup)
        hidden = balance_hidden(counts, _totals(summary), self.params.disclosure.min_cell)
        shown = ~hidden.reindex(table.index).to_numpy()
        drawn = counts.reindex(table.index)[shown]
        table = table[shown].rename(index=fmt.covariate_label)
        fig = describe(love_plot(table), love_plot_text(table, SMD_THRESHOLD))
        return record_persons(fig, _fewest(drawn.min(axis=1)))

    def event_studies(self) -> tuple[HTML, plt.Figure]:
        """Yearly difference to the comparison group around the start, register indicators."""
        ev = self.evaluation
        text = HTML(
            "<p>Figurerne viser for hver registerindikator forskellen mellem bydelen og resten af kommunen år for "
            f"år, målt i forhold til {ev.baseline} (0). Før {ev.baseline + 1} bør punkterne ligge omkring nul, hvis "
            "bydelen og resten af kommunen udviklede sig ens før strategien; testen for ens udvikling før start "
            "(p-værdien i overskriften) er lav, hvis de ikke gjorde. Så er forskellen i udvikling efter start "
            "sværere at tolke som en virkning.</p>"
        )
        safe, persons = self._safe_event_studies()
        fig = describe(event_study_grid(safe, self.params.indicators), event_study_text(safe, self.params.indicators))
        return text, record_persons(fig, persons)

    @computed
    def _robustness(self) -> dict:
        """Per register indicator with an event study and a shown change: the synthetic-DiD check and the
        trend sensitivity (each None where it cannot run or its event study is not shown in full), and the
        area names.
        """
        ev, min_cell = self.evaluation, self.params.disclosure.min_cell
        verdicts = suppress_estimates(ev.table, min_cell).set_index("key")["verdict"]
        checks = {}
        for key, result in ev.event_studies.items():
            if verdicts.get(key, "suppressed") == "suppressed":
                continue  # the change is not shown: nothing to check
            indicator = self.params.indicator(key)
            hidden = unsafe_periods(self.indicator_levels(indicator), ev.district, min_cell)
            shown = suppress_event_study(result, hidden)
            whole = shown is not None and len(shown.coefficients) == len(result.coefficients)
            check = robustness_or_none(synthetic_check, self.data, indicator, ev.district, result.event_year,
                                       ev.followup)
            sensitivity = robustness_or_none(trend_sensitivity, result, ev.followup) if whole else None
            checks[key] = (check, sensitivity)
        areas = self.data.dataset.areas
        names = areas.set_index(areas["area_id"].astype(str))["area_name"].astype(str).to_dict()
        return {"checks": checks, "area_names": names}

    def robustness(self) -> HTML:
        """Does the result hold: synthetic DiD on the small areas and the breakdown value of the pre-trends."""
        robust = self._robustness()
        table = suppress_estimates(self.evaluation.table, self.params.disclosure.min_cell)
        return HTML(robustness_html(robust["checks"], table, robust["area_names"], self.params.disclosure.min_cell))

    def _safe_event_studies(self) -> tuple[dict, float]:
        """The event studies with every point on too few persons (with or without the attribute) left
        out, and the fewest persons behind a drawn point (district or comparison group, any drawn year).
        """
        ev, min_cell = self.evaluation, self.params.disclosure.min_cell
        safe, fewest = {}, []
        for key, result in ev.event_studies.items():
            levels = self.indicator_levels(self.params.indicator(key))
            shown = suppress_event_study(result, unsafe_periods(levels, ev.district, min_cell))
            if shown is not None:
                safe[key] = shown
                drawn = levels[levels["group"].isin([ev.district, COMPARISON])
                               & levels["period"].isin(shown.coefficients["year"])]
                fewest.append(_fewest(disclosure_persons(drawn)))
        return safe, _fewest(pd.Series(fewest, dtype=float))

    def methods(self) -> HTML:
        """The methods section, in plain Danish."""
        ev = self.evaluation
        min_cell = self.params.disclosure.min_cell
        sample, coverage = self._survey_sample()
        direction = falling_is_better(self.params)
        direction = f"Retningen følger indikatoren: {direction}. " if direction else ""
        return HTML(
            "<h3>Spørgeskemaundersøgelsen</h3>"
            + sample
            + f"<p>{coverage_text(coverage, min_cell)} Svarene er vægtet i to trin: først så de besvarende ligner "
            "alle udtrukne på alder, køn og herkomst (bortfaldsvægtning), dernæst så de rammer registrenes antal "
            "voksne efter alder og køn og efter herkomst (kalibrering). Usikkerheden for spørgeskemaindikatorerne "
            "tager højde for vægtningen.</p>"
            "<h3>Sådan er udviklingen målt</h3>"
            "<p>For hver indikator sammenlignes ændringen i bydelen med ændringen i sammenligningsgruppen i samme "
            "periode (forskel i forskelle). For spørgeskemaindikatorerne er sammenligningsgruppen vægtet til at ligne "
            "bydelens beboere (se nedenfor); for registerindikatorerne er den hele resten af kommunen. Er intervallet "
            "(95 % konfidensinterval) helt over eller helt under nul, markeres udviklingen som bedre eller dårligere; "
            f"ellers som ingen påviselig ændring. {direction}{measurement_notes(self.params)}</p>"
            "<h3>Hvordan usikkerheden er vurderet</h3><ul>"
            + self._uncertainty_items(len(ev.table)) + "</ul>"
            "<h3>Forbehold</h3><ul>"
            "<li>Vægtningen gør sammenligningsgruppen ens med bydelen på de nævnte forhold, men ikke på alt andet.</li>"
            "<li>Indikatorerne måler bydelens beboere, som de er på hvert tidspunkt; flytninger ændrer "
            "sammensætningen.</li></ul>"
            f"<p class='note'>Tal bygget på færre end {min_cell} personer vises ikke (–).</p>"
        )

    @computed
    def _survey_sample(self) -> tuple[str, list]:
        """The survey's sample table and its coverage of the district in each wave."""
        ev = self.evaluation
        waves = [ev.baseline, ev.followup]
        return (sample_table(self.data, ev.district, waves),
                [survey_coverage(self.data, ev.district, w) for w in waves])

    def _uncertainty_items(self, n_indicators: int) -> str:
        """One list item per kind of indicator the parameter file has, then multiple testing."""
        sources = {i.source for i in self.params.indicators}
        visitors = [i.name for i in self.params.indicators if i.source == "visitors"]
        items = []
        if "register" in sources:
            items.append(
                "<li><strong>Registerindikatorer: placebotest.</strong> Bydelens udvikling er usikker af to grunde: "
                "tilfældig variation blandt de enkelte beboere, som afhænger af bydelens eget niveau og størrelse, og "
                "hændelser, der rammer et helt område (fx en lukket arbejdsplads eller et nyt byggeri). Den første "
                "beregnes ud fra bydelens egne beboere. Den anden vurderes ud fra, hvor meget resten af kommunens "
                "småområder svinger ud over det, beboerne alene kan forklare, og tilpasses bydelens niveau. "
                "Forskellen i udvikling divideres med sin egen usikkerhed og sammenlignes med det samme tal for 999 "
                "»placebo-bydele« "
                "af lige så mange tilfældige småområder fra resten af kommunen, hver med sin egen usikkerhed. Så "
                "sammenlignes bydelen ikke med områder, der blot ligner resten af kommunen. p-værdien er andelen af "
                "placebo-bydele med en mindst lige så stor ændring; intervallet er de virkninger, testen ikke kan "
                "afvise, så vurderingen og intervallet altid stemmer overens.</li>")
        if "institutions" in sources:
            items.append(
                "<li><strong>Socialt mix i institutioner: tilfældig fordeling.</strong> Isolationsindekset beregnes "
                "for alle børn, så ændringen kendes præcist. Spørgsmålet er, om den er større, end indekset ville "
                "flytte sig ved tilfældigheder med bydelens egne børn, deres andel fra udsatte hjem og de samme "
                "institutioner. Det "
                "vurderes ved at trække børnene på ny (med begge års oplysninger for hvert barn) og ved at lade "
                "institutionerne svinge fra år til år så meget, som resten af kommunens institutioner gør.</li>")
        if "survey" in sources:
            items.append(
                "<li><strong>Spørgeskemaindikatorer: designbaseret.</strong> Usikkerheden tager højde for vægtningen "
                "(bortfald, kalibrering og vægtning af sammenligningsgruppen).</li>")
        if visitors:
            items.append(
                f"<li><strong>{escape(join_words(visitors))}: tæller og år.</strong> Tællingerne svinger fra dag til "
                "dag, men det, der kan forveksles med en virkning, er udsving for en hel tæller et helt år (en flyttet "
                "tæller, en ny sti). Ændringen i hver tællers årlige gennemsnit (på logaritmisk skala) sammenlignes "
                "derfor med, hvor meget tællerne i bydelen og i resten af kommunen svinger fra år til år, med en "
                "t-fordeling, der tager højde for, at der er få tællere. En note ved tabellen siger det, når tællerne "
                "er få.</li>")
        items.append(multiple_testing_item(n_indicators))
        if "register" in sources:
            items.append(
                "<li><strong>Samme beboere fulgt.</strong> Ud over bydelens beboere på hvert tidspunkt (sted) vises, "
                f"for registerindikatorerne, udviklingen for dem, der boede i bydelen i {self.evaluation.baseline}, "
                "fulgt hvor de end flytter hen (personer), sammenlignet med dem, der boede i resten af kommunen.</li>")
        return "".join(items)

    def provenance(self) -> HTML:
        """Where the numbers come from: parameter file, data and versions."""
        return provenance_table(self.params_file, self.data_dir,
                                f"{self.evaluation.baseline} → {self.evaluation.followup}")


def _fewest(persons: pd.Series):
    """The fewest persons behind what a figure draws; "not persons" when it draws nothing built from persons."""
    persons = pd.Series(persons, dtype=float).dropna()
    return NOT_PERSONS if persons.empty else float(persons.min())
