"""Danish HTML tables for the district report."""

from __future__ import annotations

from collections.abc import Mapping
from html import escape

import pandas as pd

from ..config import Params
from ..evaluation import DistrictEvaluation
from ..indicators.attributes import disclosure_persons
from ..indicators.prepare import COMPARISON, PreparedData
from . import format as fmt
from .disclosure import NOT_PERSONS, data_n, hide_small_count, suppress_estimates, suppress_group

__all__ = ["goal_table", "sample_table", "balance_html", "balance_hidden", "html_table", "shown_interval",
           "verdict_mark", "INFERENCE_LABELS"]

INFERENCE_LABELS = {"placebo": "placebotest", "studentised_placebo": "placebotest", "normal": "normalfordeling",
                    "composition_null": "tilfældig fordeling", "counter_year": "tæller og år",
                    "design": "designbaseret", "design_leverage": "designbaseret", "cluster": "klyngerobust"}


def html_table(header: list[str], rows: list[list[str]], persons: list[list] | None = None,
               text_columns: tuple[int, ...] = (0,), *, min_cell: int | None = None) -> str:
    """A plain HTML table; cells are escaped unless they are pre-built marks.

    ``persons`` runs parallel to ``rows``: per cell the number of persons behind it,
    :data:`~.disclosure.NOT_PERSONS` ("-") for a number not built from persons, or None for no
    mark (text cells); it becomes the cell's ``data-n`` attribute (see ``disclosure``). With
    ``min_cell``, a count below it is written as 0: the attribute is in the published page's
    source, so a small count must not be published there either.
    """
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    persons = persons if persons is not None else [[None] * len(row) for row in rows]
    body = []
    for row, counts in zip(rows, persons, strict=True):
        cells = []
        for i, (cell, n) in enumerate(zip(row, counts, strict=True)):
            css = ' class="tekst"' if i in text_columns else ""
            cells.append(f"<td{css}{data_n(hide_small_count(n, min_cell))}>{cell}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def verdict_mark(verdict: str) -> str:
    """The coloured mark and label of a verdict (better, no change, worse, suppressed)."""
    label = fmt.VERDICT_LABELS[verdict]
    return f'<span class="{fmt.VERDICT_CSS[verdict]}">{fmt.VERDICT_MARKS[verdict]} {escape(label)}</span>'


def shown_interval(row: pd.Series) -> tuple[float, float]:
    """The interval the verdict rests on (the evaluation's ``ci_low``/``ci_high``)."""
    return row["ci_low"], row["ci_high"]


def _with_interval(estimate, low, high, unit: str, scale: str, *, inline: bool = False) -> str:
    """'+2,1 pct.-point' with its interval below it as a note, or after it on the same line (``inline``)."""
    if pd.isna(estimate):
        return fmt.SUPPRESSED
    text = fmt.change(estimate, unit, scale)
    bounds = f"{fmt.change(low, unit, scale, with_unit=False)} til {fmt.change(high, unit, scale, with_unit=False)}"
    return f"{text} ({bounds})" if inline else f"{text}<br><span class='note'>({bounds})</span>"


def _interval(row: pd.Series) -> str:
    return _with_interval(row["estimate"], *shown_interval(row), row["unit"], row["scale"])


def _people_note(row: pd.Series) -> str | None:
    """Why a register indicator has no people estimate (e.g. it cannot change within a person), or None."""
    note = row.get("people_note")
    return None if row.get("suppressed") or note is None or pd.isna(note) else str(note)


def _footnote_mark(i: int) -> str:
    """*, **, ... for the i-th footnote (no digits: a digit in a cell reads as a count of persons)."""
    return "*" * (i + 1)


def _footnote(footnotes: list[str], text: str) -> str:
    """The mark of ``text`` among the table's footnotes (added if new)."""
    if text not in footnotes:
        footnotes.append(text)
    return _footnote_mark(footnotes.index(text))


def _p_value(row: pd.Series, footnotes: list[str]) -> str:
    """The p-value, the procedure behind it and, as a footnote, its caveat (few counters, few areas)."""
    note = row.get("inference_note")
    mark = "" if row.get("suppressed") or note is None or pd.isna(note) else _footnote(footnotes, str(note))
    weighting = row.get("weighting_note")  # what the survey weighting had to give up (small groups)
    mark += _footnote(footnotes, weighting) if isinstance(weighting, str) else ""  # no numbers: shown always
    label = INFERENCE_LABELS.get(row["inference"], row["inference"])
    return fmt.p_value(row["p_value"]) + f"<br><span class='note'>{escape(label)}{mark}</span>"


def _people(row: pd.Series, footnotes: list[str]) -> str:
    """The people estimate with its interval, or "ikke relevant" (marked and added to ``footnotes`` when
    a reason is given, so the reader sees why below the table).
    """
    if row.get("suppressed"):
        return fmt.SUPPRESSED
    if row.get("people_estimate") is None or pd.isna(row.get("people_estimate")):
        note = _people_note(row)
        if note is None:
            return "<span class='note'>ikke relevant</span>"
        mark = _footnote(footnotes, f"Samme beboere fulgt: {note}")
        return f"<span class='note' title='{escape(note, quote=True)}'>ikke relevant{mark}</span>"
    return _with_interval(row["people_estimate"], row["people_ci_low"], row["people_ci_high"], row["unit"],
                          "difference")


def _suppression_mark(row: pd.Series, footnotes: list[str]) -> str:
    """The footnote mark saying why a row's numbers are not shown ("" when they are)."""
    if isinstance(row.get("not_computed"), str):  # no data for the indicator in the district
        return _footnote(footnotes, row["not_computed"][:1].upper() + row["not_computed"][1:])
    reason = row.get("suppressed_reason")
    if not row.get("suppressed") or reason is None or pd.isna(reason):
        return ""
    return _footnote(footnotes, f"Ikke vist: {reason}")


def _levels(before: float, after: float, unit: str) -> str:
    return f"{fmt.indicator_value(before, unit)} → {fmt.indicator_value(after, unit)}"


def _ambition(row: pd.Series) -> str:
    if row["ambition"] is None or pd.isna(row["ambition"]):
        return "Ingen"
    target = fmt.indicator_value(row["ambition"], row["unit"])
    met = row["ambition_met"]
    status = fmt.SUPPRESSED if pd.isna(met) else ("nået" if met else "ikke nået endnu")
    return f"{target} ({status})"


def _level_persons(evaluation: DistrictEvaluation, key: str, group: str) -> float:
    """Fewest persons behind a group's levels of one indicator (baseline and follow-up), or with or
    without its attribute (:func:`~evaluering.indicators.attributes.disclosure_persons`); NaN if none.
    """
    lv = evaluation.levels
    hit = lv[(lv["indicator"] == key) & (lv["group"] == group)
             & lv["period"].isin([evaluation.baseline, evaluation.followup])]
    return float(disclosure_persons(hit).min()) if len(hit) else float("nan")


def _goal_persons(evaluation: DistrictEvaluation, row: pd.Series) -> list:
    """``data-n`` per cell of a goal-table row: the row's ``min_persons``, the levels their own counts.

    Visitor counts (``min_persons`` missing) are not built from persons.
    """
    n = row["min_persons"]
    if pd.isna(n):
        return [None] + [NOT_PERSONS] * 6 + [None, NOT_PERSONS]
    own = [_level_persons(evaluation, row["key"], g) for g in (evaluation.district, COMPARISON)]
    district, comparison = (n if pd.isna(k) else k for k in own)
    pre_post = row["design"] == "pre_post"
    people = n if row.get("suppressed") or not pd.isna(row.get("people_estimate")) else None
    return [None, district, None if pre_post else comparison, n, people, n, n, None, NOT_PERSONS]


def goal_table(evaluation: DistrictEvaluation, params: Params, goal_key: str) -> str:
    """The summary table of one effect goal: levels, change, verdict and ambition per indicator.

    Every number cell carries the persons behind it (``data-n``); rows built on too few persons are
    suppressed as a whole (:func:`~.disclosure.suppress_estimates`). Why a people estimate is "ikke
    relevant" (``people_note``) follows the table as a footnote.
    """
    goal = next(g for g in params.effect_goals if g.key == goal_key)
    table = suppress_estimates(evaluation.table, params.disclosure.min_cell)
    keys = [i.key for t in goal.themes for i in t.indicators]
    b, f = evaluation.baseline, evaluation.followup
    header = ["Indikator", f"Bydel {b} → {f}", f"Sammenligning {b} → {f}", "Forskel i udvikling (95 % KI)",
              "Samme beboere fulgt (95 % KI)", "p-værdi", "Justeret p (Holm)", "Vurdering", "Ambition"]
    rows, persons, footnotes = [], [], []
    for _, row in table[table["key"].isin(keys)].iterrows():
        unit = row["unit"]
        pre_post = row["design"] == "pre_post"
        rows.append([
            f"{row['number']}. {escape(row['indicator'])}<br><span class='note'>"
            f"{escape(fmt.DIRECTION_LABELS[row['direction']])}</span>",
            _levels(row["district_baseline"], row["district_followup"], unit),
            "ikke relevant" if pre_post else _levels(row["comparison_baseline"], row["comparison_followup"], unit),
            _interval(row),
            _people(row, footnotes),
            _p_value(row, footnotes),
            fmt.p_value(row["p_holm"]),
            verdict_mark(row["verdict"]) + _suppression_mark(row, footnotes),
            _ambition(row),
        ])
        persons.append(_goal_persons(evaluation, row))
    notes = "".join(f"<p class='note'>{_footnote_mark(i)} {escape(n.rstrip('.'))}.</p>"
                    for i, n in enumerate(footnotes))
    return html_table(header, rows, persons, text_columns=(0, 7, 8), min_cell=params.disclosure.min_cell) + notes


def sample_table(data: PreparedData, district: str, waves: list[int]) -> str:
    """Survey sample sizes, respondents and response rates, district and comparison group.

    Respondents and non-respondents add up to the published sample, so they are a group for
    :func:`~.disclosure.suppress_group`: a handful of non-respondents hides the respondents too.
    """
    survey = data.survey[data.survey["wave"].isin(waves) & data.survey["stratum"].isin([district, COMPARISON])]
    counts = survey.groupby(["stratum", "wave"]).agg(sampled=("responded", "size"), answered=("responded", "sum"))
    min_cell = data.params.disclosure.min_cell
    label = {district: data.params.district(district).name, COMPARISON: data.params.comparison_group.name}
    rows, persons = [], []
    for (stratum, wave), c in counts.iterrows():
        sampled, answered = int(c["sampled"]), int(c["answered"])
        hide_sampled = sampled < min_cell
        hide_answered = hide_sampled or suppress_group([answered, sampled - answered], min_cell,
                                                       shown=[True, False])[0]
        rows.append([
            escape(label[stratum]), str(wave),
            fmt.SUPPRESSED if hide_sampled else fmt.number(sampled, 0),
            fmt.SUPPRESSED if hide_answered else fmt.number(answered, 0),
            fmt.SUPPRESSED if hide_answered else fmt.share(answered / sampled),
        ])
        persons.append([None, NOT_PERSONS, sampled, answered, answered])
    return html_table(["Gruppe", "Bølge", "Udtrukne", "Besvarelser", "Svarprocent"], rows, persons, min_cell=min_cell)


def balance_hidden(counts: pd.DataFrame, totals: Mapping[str, int], min_cell: int) -> pd.Series:
    """Which covariate categories of the balance table to hide (True), primary and secondary.

    ``counts`` has one row per shown category (``"origin=western"``) and one column per group of
    respondents (district, comparison) with the respondents in the category; ``totals`` holds the
    respondents per group. The shares of a covariate's categories add up to 1 together with its
    reference category, which the table leaves out but a reader can recover (total minus the
    rest); so the reference category is an unpublished cell of the group in
    :func:`~.disclosure.suppress_group`. A category is hidden if it must go in either group.
    """
    hidden = pd.Series(False, index=counts.index)
    covariate = pd.Series([name.partition("=")[0] for name in counts.index], index=counts.index)
    for names in covariate.groupby(covariate).groups.values():
        for column in counts.columns:
            cells = counts.loc[names, column].tolist()
            group = cells + [totals[column] - sum(cells)]
            hide = suppress_group(group, min_cell, shown=[True] * len(cells) + [False])[:-1]
            hidden.loc[names] = hidden.loc[names].to_numpy() | hide
    return hidden


def balance_html(table: pd.DataFrame, counts: pd.DataFrame, totals: Mapping[str, int], min_cell: int) -> str:
    """Covariate shares in the district and the comparison group before/after weighting, with SMDs.

    A covariate category held by fewer than ``min_cell`` respondents in either group is not shown,
    nor is a category whose hiding would otherwise be undone by the shares adding up to 1
    (:func:`balance_hidden`). ``counts`` has the columns ``district`` and ``comparison``.
    """
    header = ["Kendetegn", "Bydel", "Sammenligning før", "Sammenligning efter", "Std. forskel før",
              "Std. forskel efter"]
    hidden = balance_hidden(counts.loc[table.index], totals, min_cell)
    rows, persons = [], []
    for name, row in table.iterrows():
        small = hidden[name]
        value = (lambda v: fmt.share(v)) if row["binary"] else (lambda v: fmt.number(v, 1))
        cells = [row["mean_treated"], row["mean_control_before"], row["mean_control_after"]]
        rows.append([escape(fmt.covariate_label(name))]
                    + [fmt.SUPPRESSED if small else value(v) for v in cells]
                    + [fmt.SUPPRESSED if small else fmt.number(v, 2) for v in (row["smd_before"], row["smd_after"])])
        district, comparison = int(counts.loc[name, "district"]), int(counts.loc[name, "comparison"])
        both = min(district, comparison)
        persons.append([None, district, comparison, comparison, both, both])
    return html_table(header, rows, persons, min_cell=min_cell)
