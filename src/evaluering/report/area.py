"""The area-effects report: are residents hit twice, and how much of each district's gap is the area?

Everything the ``area_effects`` notebook shows, from the tested models in ``evaluering.area``:
the share of variation between areas (multilevel model), the threshold in neighbourhood
poverty, the movers design against selection, and each district's gap split into composition
and area effect. The outcome is employment of 30-64-year-olds, the indicator the area effect
is best documented for.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from html import escape
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from IPython.display import HTML

from ..area import (
    area_poverty,
    cells_from_frame,
    dfl_reweighting,
    movers_model,
    multilevel_from_cells,
    oaxaca_blinder,
    threshold_regression,
)
from ..area.context import INDIVIDUAL_CONTROLS, employment_context, poverty_share
from ..area.threshold import ThresholdResult, adjusted_area_means, area_means
from ..config import Params, load_params
from ..indicators.prepare import COMPARISON, PreparedData
from . import format as fmt
from .area_figures import decomposition_figure, threshold_figure
from .computed import computed, without_data
from .disclosure import NOT_PERSONS
from .figure_record import describe, record_persons
from .figure_texts import decomposition_text, threshold_text
from .figures import plain_text
from .inputs import load_prepared
from .provenance import provenance_line, provenance_table
from .store import AREA_STORED, stored_report
from .tables import html_table

__all__ = ["AreaReport", "published_area_means"]

SEED = 2021
N_BOOT = 199  # threshold bootstrap (cheap: per-area sums)
N_BOOT_DECOMPOSITION = 99  # refits on every person: 99 draws give the SE to about 7 %


def published_area_means(frame: pd.DataFrame, min_cell: int, result: ThresholdResult | None = None,
                         context: pd.DataFrame | None = None) -> tuple[pd.DataFrame, int]:
    """Small-area employment means for the threshold figure, without areas of too few persons.

    A point shows two shares of its area: employment among its 30-64-year-olds (y) and, with
    ``context`` (``area_id``, ``poverty_share``, ``n_adults``), the share of its adults who are poor
    (x). An area is drawn only if each rests on at least ``min_cell`` persons with and without the
    attribute. Returns the kept means (with ``rule_persons``, the fewest of those counts) and how
    many areas were left out. The figure publishes no municipal total, so no other area needs to go
    with them. With the threshold ``result`` the means are adjusted to the mean individual
    covariates (:func:`~evaluering.area.threshold.adjusted_area_means`), the basis of the fitted line.
    """
    if result is None:
        means = area_means(frame, "y", "poverty_share", "area_id")
    else:
        means = adjusted_area_means(result, frame, "area_id", INDIVIDUAL_CONTROLS)
    employed = frame.groupby("area_id")["y"].agg(["sum", "size"])
    with_without = np.minimum(employed["sum"], employed["size"] - employed["sum"])  # employed, and not
    rule = np.minimum(means["n"].to_numpy(), means["area_id"].map(with_without).fillna(0).to_numpy())
    if context is not None:
        poor = np.round(context["poverty_share"] * context["n_adults"])
        poor_or_not = pd.Series(np.minimum(poor, context["n_adults"] - poor).to_numpy(), index=context["area_id"])
        rule = np.minimum(rule, means["area_id"].map(poor_or_not).fillna(0).to_numpy())
    keep = rule >= min_cell
    published = means[keep].assign(rule_persons=rule[keep]).reset_index(drop=True)
    if isinstance(published["area_id"].dtype, pd.CategoricalDtype):  # the register's area codes: as text, so
        # what is kept names the published areas only, not every area among its categories
        published["area_id"] = published["area_id"].astype(published["area_id"].cat.categories.dtype)
    return published, int((~keep).sum())


@dataclass(frozen=True)
class AreaReport:
    """The area-effects report of one register year: its sections, each a method the notebook calls."""

    params: Params
    data: PreparedData | None  # None: drawn from stored results (see .store)
    year: int
    frame: pd.DataFrame | None  # employment of 30-64-year-olds with area context (None when stored)
    params_file: Path
    data_dir: Path
    _computed: dict = field(default_factory=dict, repr=False, compare=False)  # see .computed

    STORED_AS = AREA_STORED  # its name in a wave's results store

    @classmethod
    def build(cls, params_file: str | Path, data_dir: str | Path, year: int | None = None,
              results: str | Path | None = None) -> AreaReport:
        """``year`` None: the parameter file's latest survey wave.

        ``results``: a wave's results store (see :mod:`.store`); the report is drawn from it when it
        holds the area-effects results for these inputs, and computed from the data otherwise.
        """
        params = load_params(params_file)
        year = params.survey.waves[-1] if year is None else int(year)
        stored = stored_report(results, cls.STORED_AS, params_file, data_dir, year, params.survey.baseline_wave)
        if stored is not None:
            return stored
        params_file, data_dir, params, data = load_prepared(params_file, data_dir)
        return cls.compute(params, data, year, params_file, data_dir)

    @classmethod
    def compute(cls, params: Params, data: PreparedData, year: int, params_file: Path, data_dir: Path) -> AreaReport:
        """The report of register year ``year`` from prepared data."""
        return cls(params, data, year, employment_context(data.register, year), params_file, data_dir)

    def precompute(self) -> AreaReport:
        """Every computation the sections draw from (then :meth:`for_store`)."""
        for step in (self._variation_models, self._threshold_fit, self._decomposition_fits, self._movers_fit):
            step()
        return self

    def for_store(self) -> AreaReport:
        """The report without microdata: no prepared data, no person-level frame."""
        return without_data(self, frame=None)

    @computed
    def _variation_models(self) -> tuple:
        """The empty and the full random-intercept model, and the persons both use."""
        # from (area x covariate values) cells: the same likelihood, a few thousand rows at any scale
        cells = cells_from_frame(self.frame, "y", "area_id", INDIVIDUAL_CONTROLS, ["poverty_share"])
        empty = multilevel_from_cells(cells, "y", "area_id", family="gaussian")
        full = multilevel_from_cells(cells, "y", "area_id", individual=INDIVIDUAL_CONTROLS,
                                     contextual=["poverty_share"], family="gaussian")
        return empty, full, len(self.frame)

    @computed
    def _threshold_fit(self) -> tuple:
        """The threshold model, its published area means, how many areas were left out, and the persons."""
        res = threshold_regression(self.frame, "y", "poverty_share", INDIVIDUAL_CONTROLS, area="area_id",
                                   n_boot=N_BOOT, seed=SEED)
        context = poverty_share(self.data.register)
        means, dropped = published_area_means(self.frame, self.params.disclosure.min_cell, res,
                                              context[context["year"] == self.year])
        return res, means, dropped, len(self.frame)

    @computed
    def _decomposition_fits(self) -> list:
        """Per district: its key, the fewest persons in a group (employed or not) and the fitted
        decompositions (none when that is below ``min_cell``).
        """
        frame = self.frame.assign(group=self.frame["group"].astype(str))
        fits = []
        for district in self.params.districts:
            part = frame[frame["group"].isin([district.key, COMPARISON])]
            # the fewest persons in a group, employed or not employed: the gap publishes both groups' levels
            counts = part.groupby("group")["y"].agg(["sum", "size"]).reindex([district.key, COMPARISON], fill_value=0)
            n = int(np.minimum(counts["sum"], counts["size"] - counts["sum"]).min())
            results = [] if n < self.params.disclosure.min_cell else [
                method(part, "y", "group", district.key, INDIVIDUAL_CONTROLS, rest=[COMPARISON],
                       n_boot=N_BOOT_DECOMPOSITION, seed=SEED) for method in (oaxaca_blinder, dfl_reweighting)]
            fits.append((district.key, n, results))
        return fits

    @computed
    def _movers_fit(self):
        reg = self.data.register
        panel = area_poverty(reg[reg["age"].between(30, 64)][["person_id", "year", "area_id", "age", "income",
                                                             "employed"]])
        panel = panel.assign(y=panel["employed"].astype(float), age60=(panel["age"] >= 60).astype(float))
        return movers_model(panel, "y", "person_id", "year", "area_id", "poverty_above", covariates=["age60"],
                            event_profile=False)

    def title(self) -> HTML:
        """The report's heading and introduction."""
        return HTML(
            f"<h1>Områdeeffekter i {escape(self.params.municipality.name)} {self.year}</h1>"
            "<p>Rammes beboerne i de udsatte bydele to gange: af deres egne vilkår og af området? Rapporten ser på "
            "beskæftigelsen blandt 30-64-årige og spørger, hvor meget der skyldes, hvem der bor i et område, og hvor "
            "meget der hænger sammen med området selv (Galster 2013; Rotger & Galster 2019).</p>"
            + provenance_line(self.params_file, self.data_dir, self.params.municipality.name)
        )

    def variation(self) -> HTML:
        """Random-intercept model: how much employment varies between small areas."""
        empty, full, n_persons = self._variation_models()
        coef, low, high = full.to_frame().loc["poverty_share", ["estimate", "ci_low", "ci_high"]]
        rows = [["Uden forklarende variable", fmt.share(empty.icc, 1)],
                ["Med beboernes egne kendetegn og områdets andel fattige", fmt.share(full.icc, 1)]]
        persons = [[None, n_persons]] * len(rows)  # both models use every 30-64-year-old
        return HTML(
            "<h2>Hvor meget afhænger af området?</h2>"
            "<p>Andelen af forskellene i beskæftigelse, der ligger mellem småområder (intraklassekorrelation):</p>"
            + html_table(["Model", "Andel mellem områder"], rows, persons, min_cell=self.params.disclosure.min_cell)
            + f"<p>Når beboernes egne kendetegn holdes fast, hænger 10 procentpoint flere fattige i området sammen med "
            f"{fmt.change(coef * 0.10, 'share')} i beskæftigelse (95 % KI {fmt.change(low * 0.10, 'share')} til "
            f"{fmt.change(high * 0.10, 'share')}).</p>"
        )

    def threshold(self) -> tuple[HTML, plt.Figure]:
        """The data-driven threshold in neighbourhood poverty, with its figure."""
        res, means, dropped, n_persons = self._threshold_fit()
        low, high = res.gamma_ci_bootstrap
        s_low, s_high = res.slope_above_ci_bootstrap
        min_cell = self.params.disclosure.min_cell
        left_out = (f" Småområder, hvor færre end {min_cell} personer er i eller uden for beskæftigelse, eller "
                    f"færre end {min_cell} voksne er eller ikke er fattige, vises ikke i figuren "
                    f"({dropped} af {len(means) + dropped}).")
        text = HTML(
            "<h2>Er der en tærskel?</h2>"
            f"<p>Beskæftigelsen falder først, når andelen fattige i området overstiger omkring "
            f"{fmt.share(res.gamma_hat, 0)} (95 % KI {fmt.share(low, 0)} til {fmt.share(high, 0)}). Over tærsklen "
            f"hænger 10 procentpoint flere fattige sammen med {fmt.change(res.slope_above * 0.10, 'share')} i "
            f"beskæftigelse (95 % KI {fmt.change(s_low * 0.10, 'share')} til {fmt.change(s_high * 0.10, 'share')}); "
            f"under tærsklen {fmt.change(res.slope_below * 0.10, 'share')}.</p>"
            "<p class='note'>Figuren: Punkterne er småområdernes beskæftigelse justeret til kommunens "
            "gennemsnitlige beboere (alder, køn, herkomst, uddannelse og egen lav indkomst), det samme grundlag "
            "som linjen, der viser modellen for en gennemsnitlig beboer. Et punkt over linjen har højere "
            "beskæftigelse, end modellen forudsiger ud fra områdets andel fattige; punktets størrelse viser "
            f"antallet af beboere.{left_out}</p>"
        )
        fig = threshold_figure(res, means, points_label="Områder (justeret for beboernes kendetegn)")
        describe(fig, threshold_text(res, len(means)))
        # the line is fitted on every 30-64-year-old; the points are the kept areas (each checked above)
        return text, record_persons(fig, min([n_persons, *means["rule_persons"]]))

    def decomposition(self) -> tuple[HTML, plt.Figure]:
        """Each district's employment gap to the rest: composition and area effect."""
        rows, persons, results, shown, shown_names = [], [], [], [], []
        min_cell = self.params.disclosure.min_cell
        names = {d.key: d.name for d in self.params.districts}
        for key, n, fits in self._decomposition_fits():
            district_name = names[key]
            for i, method in enumerate(("Oaxaca-Blinder", "Omvægtning")):
                label = [escape(district_name), method]
                persons.append([None, None, n, n, n])
                if n < min_cell:  # too few persons: neither table nor figure shows the district
                    rows.append(label + [fmt.SUPPRESSED] * 3)
                    continue
                res = fits[i]
                results.append(res)
                rows.append(label + [fmt.change(res.gap, "share"), fmt.change(res.composition, "share"),
                                     f"{fmt.change(res.area, 'share')} (± {fmt.number(196 * res.se_area, 1)})"])
            if n >= min_cell:
                shown.append(plain_text(district_name))  # a legend entry: no mathtext
                shown_names.append(district_name)
        drawn_results = [r for r in results if r.method == results[0].method]
        fig = decomposition_figure(drawn_results,
                                   title="Forskel i beskæftigelse til resten af kommunen (Oaxaca-Blinder)")
        describe(fig, decomposition_text(drawn_results, shown_names))
        ax = fig.axes[0]  # one bar per district: name them, and show percentage points
        ax.legend(ax.get_legend_handles_labels()[0], shown, frameon=False)
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: fmt.number(100 * v, 0)))
        ax.set_ylabel("Procentpoint")
        drawn = [cells[2] for cells, row in zip(persons, rows, strict=False) if row[2] != fmt.SUPPRESSED]
        record_persons(fig, min(drawn) if drawn else NOT_PERSONS)
        return HTML(
            "<h2>Hvad skyldes forskellen til resten af kommunen?</h2>"
            "<p>Forskellen i beskæftigelse deles i <em>sammensætning</em> (hvem der bor i bydelen: alder, køn, "
            "herkomst, uddannelse og egen indkomst) og <em>områdeeffekt</em> (det, der er tilbage). To metoder: "
            "regression (Oaxaca-Blinder) og omvægtning af resten af kommunen (DiNardo-Fortin-Lemieux).</p>"
            + html_table(["Bydel", "Metode", "Forskel i alt", "Sammensætning", "Områdeeffekt (95 % KI)"], rows,
                         persons, text_columns=(0, 1), min_cell=min_cell)
        ), fig

    def movers(self) -> HTML:
        """People who move between areas: the contextual effect net of who they are."""
        res = self._movers_fit()
        min_cell = self.params.disclosure.min_cell
        if res.n_movers < min_cell:
            return HTML("<h2>Flyttere: områdeeffekt eller selvselektion?</h2>"
                        f"<p>Der er færre end {min_cell} flyttere; resultatet vises ikke.</p>")
        return HTML(
            "<h2>Flyttere: områdeeffekt eller selvselektion?</h2>"
            "<p>Folk vælger selv, hvor de bor. Ved at følge de samme personer, når de flytter mellem områder med "
            "forskellig andel fattige, sammenlignes hver person med sig selv. For hvert procentpoint, andelen fattige "
            f"overstiger 20 %, ændres beskæftigelsen med {fmt.change(res.estimate * 0.01, 'share', decimals=2)} "
            f"(95 % KI {fmt.change(res.ci_low * 0.01, 'share', decimals=2)} til "
            f"{fmt.change(res.ci_high * 0.01, 'share', decimals=2)}), målt på {fmt.number(res.n_movers, 0)} "
            f"flyttere. Uden at følge personerne ville sammenhængen se ud som "
            f"{fmt.change(res.pooled_estimate * 0.01, 'share', decimals=2)}: forskellen er selvselektion.</p>"
        )

    def caveats(self) -> HTML:
        """The methods and caveats section."""
        return HTML(
            "<h2>Metode og forbehold</h2><ul>"
            "<li>Andelen fattige er andelen af voksne med en indkomst under halvdelen af kommunens medianindkomst.</li>"
            "<li>Tærsklen findes ved at afprøve alle tærskler mellem områdernes værdier; intervallet er et "
            "klyngebootstrap over småområder.</li>"
            "<li>Områdeeffekten er det, der ikke forklares af de målte kendetegn; umålte forskelle mellem beboerne "
            "tæller med i den. Flyttermodellen tager højde for faste, umålte forskelle mellem personer.</li></ul>"
        )

    def provenance(self) -> HTML:
        """Where the numbers come from: parameter file, data and versions."""
        return provenance_table(self.params_file, self.data_dir, f"{self.year}")
