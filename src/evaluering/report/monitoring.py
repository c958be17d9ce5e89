"""The monitoring report: which areas need attention, are the districts on track, can 2027 detect it?

Everything the ``monitoring`` notebook shows, from the tested functions in
``evaluering.monitoring`` (statutory criteria, area trends), ``evaluering.evaluation.ambitions`` and
``evaluering.power``. Every cell carries the persons behind it (``data-n``) and cells on fewer
than ``disclosure.min_cell`` persons are shown as "–".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from IPython.display import HTML

from ..config import Params, load_params
from ..evaluation.ambitions import track_ambitions
from ..indicators.attributes import disclosure_persons
from ..indicators.levels import indicator_levels
from ..indicators.prepare import PreparedData
from . import format as fmt
from .computed import computed, without_data
from .disclosure import NOT_PERSONS
from .figure_record import describe, record_persons
from .figure_texts import monitoring_grid_text
from .figures import plain_text
from .inputs import load_prepared
from .provenance import provenance_line, provenance_table
from .store import MONITORING_STORED, stored_report
from .tables import html_table
from .texts import outside_view_planning_text, planning_coverage_text, survey_coverage

__all__ = ["MonitoringReport"]

STATUS_CSS = {"met": "maerke-bedre", "on_track": "maerke-uaendret", "off_track": "maerke-daarligere"}


@dataclass(frozen=True)
class MonitoringReport:
    """The monitoring report of one register year and survey wave: criteria, trends and ambitions."""

    params: Params
    data: PreparedData | None  # None: drawn from stored results (see .store)
    year: int  # register year
    wave: int  # latest survey wave
    planned_wave: int
    params_file: Path
    data_dir: Path
    _computed: dict = field(default_factory=dict, repr=False, compare=False)  # see .computed

    STORED_AS = MONITORING_STORED  # its name in a wave's results store

    @classmethod
    def build(cls, params_file: str | Path, data_dir: str | Path, wave: int,
              results: str | Path | None = None) -> MonitoringReport:
        """Load and prepare the data and build the report.

        ``results``: a wave's results store (see :mod:`.store`); the report is drawn from it when it
        holds the monitoring results for these inputs, and computed from the data otherwise.
        """
        baseline = load_params(params_file).survey.baseline_wave
        stored = stored_report(results, cls.STORED_AS, params_file, data_dir, int(wave), baseline)
        if stored is not None:
            return stored
        params_file, data_dir, params, data = load_prepared(params_file, data_dir)
        return cls.compute(params, data, int(wave), params_file, data_dir)

    @classmethod
    def compute(cls, params: Params, data: PreparedData, wave: int, params_file: Path,
                data_dir: Path) -> MonitoringReport:
        """The report of register year and survey wave ``wave`` from prepared data."""
        later = [w for w in params.survey.known_waves if w > int(wave)]
        planned = later[0] if later else int(wave) + 3
        return cls(params, data, int(wave), int(wave), planned, params_file, data_dir)

    def precompute(self) -> MonitoringReport:
        """Every computation the sections draw from (then :meth:`for_store`)."""
        for step in (self._criteria_tables, self._areas, self._monitoring, self._all_levels, self._survey_plan,
                     self._coverage, self._survey_level_persons):
            step()
        return self

    def for_store(self) -> MonitoringReport:
        """The report without the prepared data."""
        return without_data(self)

    def stored_tables(self) -> dict[str, pd.DataFrame]:
        """The criteria and the area trends, for the store's Parquet copies."""
        districts, areas = self._criteria_tables()
        return {"kriterier_bydele": districts, "kriterier_omraader": areas, "udvikling": self._monitoring().trends}

    @computed
    def _criteria_tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """The statutory criteria of the districts and of every small area."""
        from ..monitoring import statutory_criteria  # computing only, as are the imports of the steps below

        return (statutory_criteria(self.data, self.year, by="district"),
                statutory_criteria(self.data, self.year, by="area"))

    @computed
    def _areas(self) -> pd.DataFrame:
        """The small areas: id, name and district, indexed by id."""
        return self.data.dataset.areas.set_index("area_id")[["area_name", "district"]]

    @computed
    def _monitoring(self):
        from ..monitoring import monitor_areas

        return monitor_areas(self.data, end_year=self.year)

    @computed
    def _all_levels(self) -> pd.DataFrame:
        return pd.concat([indicator_levels(self.data, i).assign(indicator=i.key) for i in self.params.indicators],
                         ignore_index=True)

    @computed
    def _survey_plan(self) -> pd.DataFrame:
        from ..evaluation import survey_plan  # the designs, the weighting and scipy.optimize

        return survey_plan(self.data, self.params, self.wave, self.planned_wave)

    @computed
    def _coverage(self) -> dict:
        return {d.key: survey_coverage(self.data, d.key, self.wave) for d in self.params.districts}

    @property
    def min_cell(self) -> int:
        """The smallest number of persons a published cell may rest on."""
        return self.params.disclosure.min_cell

    def _shown(self, value: float, persons: float, text: str) -> str:
        return fmt.SUPPRESSED if pd.isna(value) or persons < self.min_cell else text

    def title(self) -> HTML:
        """The report's heading and introduction."""
        return HTML(
            f"<h1>Overvågning af områderne i {escape(self.params.municipality.name)} {self.year}</h1>"
            "<p>Hvilke områder kræver opmærksomhed, er bydelene på vej mod ambitionerne, og kan næste "
            "spørgeskemabølge måle de ændringer, der betyder noget?</p>"
            + provenance_line(self.params_file, self.data_dir, self.params.municipality.name) +
            "<p class='note'><a href='oversigt.html'>Alle bydele side om side</a> · "
            "<a href='../index.html'>Alle rapporter</a></p>"
            "<h3>Indhold</h3><ol><li><a href='#kriterier'>De lovbestemte kriterier</a></li>"
            "<li><a href='#omraader'>Udviklingen i alle områder</a></li>"
            "<li><a href='#ambitioner'>Ambitionerne</a></li>"
            f"<li><a href='#planlaegning'>Planlægning af bølge {self.planned_wave}</a></li></ol>"
        )

    # --- statutory criteria ------------------------------------------------------------------

    # (persons column, share column or None, averaged over the criteria's years) per shown measure
    CRITERIA_MEASURES = (("residents", None, False), ("persons_18_64", "outside_work_education_share", True),
                         ("persons_15_plus", "conviction_share", True), ("persons_30_59", "primary_only_share", False),
                         ("persons_income", None, False))

    @classmethod
    def _criteria_counts(cls, table: pd.DataFrame) -> pd.DataFrame:
        """Per row and measure: (persons, with, without) in person-years, for the minimum-cell rule."""
        out = {}
        for n_col, share_col, _ in cls.CRITERIA_MEASURES:
            n = table[n_col].astype(float)
            with_ = np.floor(table[share_col] * n + 1e-6) if share_col else pd.Series(np.nan, index=table.index)
            out[n_col] = pd.DataFrame({"n": n, "with": with_, "without": n - with_})
        return pd.concat(out, axis=1)

    def _rule_persons(self, counts: pd.DataFrame, years: pd.Series) -> pd.DataFrame:
        """Per row and measure: the count the rule applies to, in persons (a person-year count over k
        averaged years holds at least count / k persons).
        """
        k = years.map(lambda text: len(str(text).split(",")))
        out = {}
        for n_col, _, averaged in self.CRITERIA_MEASURES:
            part = counts[n_col].min(axis=1, skipna=True)
            out[n_col] = np.floor(part / k) if averaged else part
        return pd.DataFrame(out)

    def _criteria_rows(self, table: pd.DataFrame, names: dict[str, str],
                       hide_rows: pd.Series | None = None) -> tuple[list, list]:
        rows, persons = [], []
        below = f" (under {fmt.number(self.params.monitoring.min_residents, 0)} beboere)"
        rule = self._rule_persons(self._criteria_counts(table), table["years_averaged"])
        for i, r in table.iterrows():
            hidden = bool(hide_rows[i]) if hide_rows is not None else False
            cells = [  # (persons behind the cell, value, text)
                (rule.loc[i, "residents"], r["residents"], fmt.number(r["residents"], 0)),
                (rule.loc[i, "persons_18_64"], r["outside_work_education_share"],
                 fmt.share(r["outside_work_education_share"])),
                (rule.loc[i, "persons_15_plus"], r["conviction_ratio"], f"{fmt.number(r['conviction_ratio'], 2)} ×"),
                (rule.loc[i, "persons_30_59"], r["primary_only_share"], fmt.share(r["primary_only_share"])),
                (rule.loc[i, "persons_income"], r["income_ratio"], fmt.share(r["income_ratio"], 0)),
            ]
            cells = [(0 if hidden else n, value, text) for n, value, text in cells]
            shown = [self._shown(value, n, text) for n, value, text in cells]
            n_row = min(n for n, _, _ in cells)
            small = n_row < self.min_cell
            verdict = fmt.SUPPRESSED if small else (
                f"{int(r['n_criteria'])} af 4" + (" – <strong>udsat område</strong>" if r["deprived"] else ""))
            prevention = fmt.SUPPRESSED if small else (
                f"{int(r['n_prevention_criteria'])} af 4" + (" – <strong>forebyggelsesområde</strong>"
                                                             if r["prevention_area"] else ""))
            size = below if r["below_population_threshold"] else ""
            rows.append([escape(names.get(r["area"], r["area"])) + f"<span class='note'>{size}</span>",
                         *shown, verdict, prevention])
            persons.append([None, *(n for n, _, _ in cells), n_row, n_row])
        return rows, persons

    def _recoverable_districts(self, districts: pd.DataFrame, listed: pd.DataFrame) -> set[str]:
        """Districts whose listed small areas would give away the rest of the district by subtraction.

        A district's row and its listed areas' rows are both published, so the district minus its
        listed areas (the areas not listed) is published too, in effect: it must be empty or rest on
        at least ``min_cell`` persons with and without each attribute (secondary suppression).
        """
        district_of = self._areas()["district"]
        listed = listed.assign(_district=listed["area"].map(district_of))
        whole = self._criteria_counts(districts).set_index(districts["area"])
        parts = self._criteria_counts(listed).groupby(listed["_district"].to_numpy()).sum()
        recoverable = set()
        for district in parts.index:
            if district not in whole.index:
                continue
            rest = whole.loc[district] - parts.loc[district]
            years = districts.loc[districts["area"] == district, "years_averaged"]
            remainder = rest.to_frame().T
            persons = self._rule_persons(remainder.set_axis(years.index), years)
            empty = all(rest[(n_col, "n")] == 0 for n_col, _, _ in self.CRITERIA_MEASURES)
            if not empty and (persons.to_numpy() < self.min_cell).any():
                recoverable.add(district)
        return recoverable

    def criteria(self) -> HTML:
        """§ 61 a and § 61 b criteria for the districts and every small area meeting at least one."""
        settings = self.params.monitoring
        header = ["Område", "Beboere", "Uden for arbejde og uddannelse (18-64 år)",
                  "Dømte (× landsgennemsnit)", "Kun grundskole (30-59 år)", "Indkomst (% af regionen)",
                  "Kriterier § 61 a", "Kriterier § 61 b"]
        districts, areas = self._criteria_tables()
        names = {d.key: d.name for d in self.params.districts}
        rows, persons = self._criteria_rows(districts, names)
        attention = areas[(areas["n_prevention_criteria"] > 0) & (areas["residents"] >= self.min_cell)]
        area_names = self._areas()["area_name"].to_dict()
        district_of = self._areas()["district"]
        hide = attention["area"].map(district_of).isin(self._recoverable_districts(districts, attention))
        area_rows, area_persons = self._criteria_rows(attention, area_names, hide)
        intro = (
            "<h2 id='kriterier'>De lovbestemte kriterier</h2>"
            "<p>Almenboligloven § 61 a: et område er et <em>udsat boligområde</em>, når mindst 2 af 4 kriterier er "
            "opfyldt: over 40 % af de 18-64-årige uden for arbejde og uddannelse; andelen af dømte mindst 3 gange "
            "landsgennemsnittet; over 60 % af de 30-59-årige med kun grundskole; gennemsnitlig bruttoindkomst for "
            "15-64-årige (uden uddannelsessøgende) under 55 % af regionens. § 61 b (forebyggelsesområde) bruger 30 % "
            "/ 2 gange / 60 % / 65 % og kræver desuden over 30 % indvandrere og efterkommere fra ikke-vestlige lande. "
            "De to første kriterier er gennemsnit over de seneste 2 år. Loven gælder områder med mindst "
            f"{fmt.number(settings.min_residents, 0)} beboere; mindre områder er beregnet alligevel og markeret.</p>"
            f"<p class='note'>Referenceværdier ({settings.reference_year}): landsgennemsnit for dømte "
            f"{fmt.share(settings.national_conviction_rate, 2)}, regionens gennemsnitsindkomst "
            f"{fmt.number(settings.regional_income, 0)} kr.</p><h3>Bydelene</h3>"
        )
        areas_part = ("<h3>Småområder, der opfylder mindst ét kriterium for forebyggelsesområder</h3>"
                      + (html_table(header, area_rows, area_persons, min_cell=self.min_cell) if area_rows
                         else "<p>Ingen småområder opfylder et kriterium.</p>"))
        return HTML(intro + html_table(header, rows, persons, min_cell=self.min_cell) + areas_part)

    # --- trends in every area ----------------------------------------------------------------

    def area_trends(self) -> tuple[HTML, plt.Figure]:
        """Flagged districts and areas, and a map-like grid of every area's change against the rest."""
        trends = self._monitoring().trends
        labels = {i.key: f"{i.number}. {i.name}" for i in self.params.indicators}
        area_names = self._areas()["area_name"].to_dict()
        district_names = {d.key: d.name for d in self.params.districts}
        fewest = trends[["disclosure_start", "disclosure_end"]].min(axis=1)
        flagged = trends[trends["flagged"] & (fewest >= self.min_cell)]
        header = ["Område", "Indikator", "Ændring", "Resten af kommunen", "Forskel", "Justeret p", "Udvikling"]
        rows, persons = [], []
        for _, r in flagged.sort_values(["level", "indicator"]).iterrows():
            name = district_names.get(r["unit"]) if r["level"] == "district" else area_names.get(r["unit"], r["unit"])
            unit = self.params.indicator(r["indicator"]).unit
            mark = "better" if r["development"] == "better" else "worse"
            rows.append([escape(str(name)), escape(labels[r["indicator"]]),
                         fmt.change(r["change"], unit), fmt.change(r["rest_change"], unit),
                         fmt.change(r["difference"], unit), fmt.p_value(r["p_adjusted"]),
                         f"<span class='{fmt.VERDICT_CSS[mark]}'>{fmt.VERDICT_MARKS[mark]} "
                         f"{fmt.VERDICT_LABELS[mark]}</span>"])
            n = int(min(r["disclosure_start"], r["disclosure_end"]))
            persons.append([None, None, n, NOT_PERSONS, n, n, None])
        start, end = int(trends["start_year"].min()), int(trends["end_year"].max())
        text = HTML(
            "<h2 id='omraader'>Udviklingen i alle områder</h2>"
            f"<p>Hvert småområde og hver bydel er fulgt på registerindikatorerne. Ændringen fra {start} til {end} "
            "sammenlignes med ændringen i resten af kommunen; områder, hvor forskellen er for stor til at være "
            "tilfældig, er markeret nedenfor. Vurderingen tager højde for, at områder svinger fra år til år af "
            "grunde, der rammer hele området (variationen mellem områderne), og for, at mange områder testes "
            "(Benjamini-Hochberg). Listen er et udgangspunkt for opmærksomhed, ikke en konklusion: den siger "
            "ikke, hvorfor et område udvikler sig anderledes.</p>"
            + (html_table(header, rows, persons, text_columns=(0, 1, 6), min_cell=self.min_cell) if rows
               else "<p>Ingen områder skiller sig ud.</p>")
            + "<p>Figuren viser alle småområder (rækker: først bydelenes områder, så resten af kommunen) og "
            "indikatorer (kolonner): farven er forskellen i udvikling mod resten af kommunen i standardfejl; grøn er "
            "bedre, rød dårligere. Tomme "
            f"felter bygger på færre end {self.min_cell} personer.</p>"
        )
        return text, self._grid(trends, labels, area_names)

    def _grid(self, trends: pd.DataFrame, labels: dict, area_names: dict) -> plt.Figure:
        """Areas (rows: each district's areas, then the rest, divided by lines) x indicators."""
        areas = trends[trends["level"] == "area"].copy()
        sign = {i.key: i.sign for i in self.params.indicators}
        enough = areas[["disclosure_start", "disclosure_end"]].min(axis=1) >= self.min_cell
        areas["z"] = np.where(enough, areas["difference"] / areas["se_total"] * areas["indicator"].map(sign), np.nan)
        districts = {d.key: (i, d.name) for i, d in enumerate(self.params.districts)}
        rest = (len(districts), None)  # areas outside the districts come last
        block_name = [districts.get(d, rest) if isinstance(d, str) else rest for d in areas["district"]]
        areas["block"] = [block for block, _ in block_name]
        areas["label"] = [area_names.get(unit, unit) + (f" ({name})" if name else "")
                          for unit, (_, name) in zip(areas["unit"], block_name, strict=False)]
        grid = areas.pivot(index=["block", "label"], columns="indicator", values="z").sort_index()
        grid = grid[[k for k in labels if k in grid.columns]].rename(columns=labels)
        fig, ax = plt.subplots(figsize=(9, 0.13 * len(grid) + 2.5))
        sns.heatmap(grid, cmap="RdYlGn", center=0, vmin=-4, vmax=4, ax=ax, yticklabels=False,
                    cbar_kws={"label": "Forskel i udvikling (standardfejl; grøn = bedre)"})
        labels = [plain_text(v) for v in grid.index.get_level_values("label")]
        ax.set_yticks(np.arange(len(grid)) + 0.5, labels, fontsize=5)
        block_of_row = grid.index.get_level_values("block").to_numpy()
        for start in np.flatnonzero(np.diff(block_of_row)) + 1:  # a line where the next district's areas begin
            ax.axhline(start, color="black", linewidth=1)
        ax.tick_params(axis="x", labelsize=8)
        ax.set_xlabel("")
        ax.set_ylabel("")
        fig.tight_layout()
        describe(fig, monitoring_grid_text(grid, int(trends["start_year"].min()), int(trends["end_year"].max())))
        drawn = areas.loc[enough, ["disclosure_start", "disclosure_end"]].min(axis=1)
        return record_persons(fig, float(drawn.min()) if len(drawn) else NOT_PERSONS)

    # --- ambitions ----------------------------------------------------------------------------

    def ambitions(self) -> HTML:
        """Each district's ambition against the latest level and the trajectory needed to reach it."""
        levels = self._all_levels()
        tracked = track_ambitions(levels, self.params, latest=self.wave)
        counts = levels.assign(n=disclosure_persons(levels)).set_index(["group", "indicator", "period"])["n"]
        header = ["Indikator", "Ambition", "Seneste niveau (95 % KI)", "Krævet niveau nu", "Status"]
        parts = [f"<h2 id='ambitioner'>Ambitionerne</h2><p>Ambitionerne er det niveau, bydelen skal nå i "
                 f"{self.params.strategy.target_year}. »På vej« betyder, at bydelen mindst er nået så langt som en "
                 f"lige linje fra {self.params.survey.baseline_wave} til målet kræver i {self.wave}.</p>"]
        for district in self.params.districts:
            rows, persons = [], []
            for _, r in tracked[tracked["district"] == district.key].iterrows():
                n = counts.get((district.key, r["indicator"], r["latest_year"]), np.nan)
                n = NOT_PERSONS if r["unit"] == "count" else n
                small = n != NOT_PERSONS and not (n >= self.min_cell)
                status = fmt.SUPPRESSED if small or pd.isna(r["status"]) else (
                    f"<span class='{STATUS_CSS[r['status']]}'>{escape(r['status_label'])}</span>")
                level = fmt.SUPPRESSED if small else (
                    f"{fmt.indicator_value(r['latest_level'], r['unit'])}<br><span class='note'>"
                    f"({fmt.indicator_value(r['ci_low'], r['unit'])} til "
                    f"{fmt.indicator_value(r['ci_high'], r['unit'])})"
                    "</span>")
                rows.append([f"{r['number']}. {escape(r['name'])}", fmt.indicator_value(r["target"], r["unit"]),
                             level, fmt.SUPPRESSED if small else fmt.indicator_value(r["trajectory_level"], r["unit"]),
                             status])
                persons.append([None, NOT_PERSONS, n, n, None])
            table = html_table(header, rows, persons, text_columns=(0, 4), min_cell=self.min_cell)
            parts.append(f"<h3>{escape(district.name)}</h3>" + table)
        return HTML("".join(parts))

    # --- survey planning ----------------------------------------------------------------------

    def survey_planning(self) -> HTML:
        """Minimum detectable effects of the planned wave, per district and survey indicator."""
        plan = self._survey_plan()
        header = ["Indikator", f"Niveau {self.wave}", "Inviterede", "Svarprocent", "Designeffekt",
                  "Mindste påviselige ændring", "Mindste påviselige forskel i udvikling",
                  f"Inviterede for {fmt.number(100 * plan['target_mde'].iloc[0], 0)} pct.-point ændring"]
        parts = [
            f"<h2 id='planlaegning'>Planlægning af bølge {self.planned_wave}</h2>"
            f"<p>Hvor stor skal en ændring fra {self.wave} til {self.planned_wave} være, før undersøgelsen kan påvise "
            "den (to-sidet test på 5 %-niveau, 80 % styrke)? Beregningen bruger antal inviterede og svarprocenten og "
            f"designeffekten af vægtene fra {self.wave}. »Forskel i udvikling« er bydelens ændring minus "
            f"sammenligningsgruppens, som i rapporterne. {self._planning_survey_text()}</p>"]
        level_persons = self._survey_level_persons()
        for district in self.params.districts:
            rows, persons = [], []
            for _, r in plan[plan["district"] == district.key].iterrows():
                answered = r["invited"] * r["response_rate"]
                level_n = min(answered, level_persons.get((district.key, r["indicator"]), 0))
                # the MDEs and the sample needed depend on the level through p(1 - p): they go with it
                few = level_n < self.min_cell
                cells = [  # (persons, text)
                    (level_n, fmt.share(r["level"])), (r["invited"], fmt.number(r["invited"], 0)),
                    (answered, fmt.share(r["response_rate"])), (answered, fmt.number(r["deff"], 2)),
                    (level_n, fmt.change(r["mde"], "share")), (level_n, fmt.change(r["mde_did"], "share")),
                    (NOT_PERSONS, fmt.SUPPRESSED if few else self._needed(r["n_needed"], r["adults"])),
                ]
                rows.append([f"{r['number']}. {escape(r['name'])}"]
                            + [text if n == NOT_PERSONS or n >= self.min_cell else fmt.SUPPRESSED for n, text in cells])
                persons.append([None] + [n for n, _ in cells])
            parts.append(f"<h3>{escape(district.name)}</h3>"
                         + html_table(header, rows, persons, text_columns=(0,), min_cell=self.min_cell))
        return HTML("".join(parts))

    def _planning_survey_text(self) -> str:
        """Whether more invitations can help (only where a district was sampled) and where the outside view is asked."""
        coverage = self._coverage()
        names = {d.key: d.name for d in self.params.districts}
        return " ".join(t for t in (planning_coverage_text(coverage, names), outside_view_planning_text(self.params))
                        if t)

    @computed
    def _survey_level_persons(self) -> dict:
        """(district, indicator) -> the fewest respondents behind the wave's level, with or without the answer."""
        out = {}
        for ind in (i for i in self.params.indicators if i.source == "survey"):
            levels = indicator_levels(self.data, ind, [self.wave])
            for group, n in zip(levels["group"], disclosure_persons(levels), strict=False):
                out[(group, ind.key)] = n
        return out

    @staticmethod
    def _needed(needed: float, adults: int) -> str:
        """Persons to invite for the target change; beyond the adults who live there it cannot be done."""
        if pd.isna(needed):
            return "kan ikke nås"
        if needed > adults:
            return f"flere end alle {fmt.number(adults, 0)} voksne"
        return fmt.number(needed, 0)

    def provenance(self) -> HTML:
        """Where the numbers come from: parameter file, data and versions."""
        return provenance_table(self.params_file, self.data_dir, f"register {self.year}, bølge {self.wave}")
