"""Danish HTML tables for the district report."""

from __future__ import annotations

from html import escape

import pandas as pd

from ..config import Params
from ..evaluation import DistrictEvaluation
from ..indicators.prepare import COMPARISON, PreparedData
from . import format as fmt
from .disclosure import suppress_estimates

__all__ = ["goal_table", "sample_table", "balance_html", "html_table", "shown_interval", "INFERENCE_LABELS"]

INFERENCE_LABELS = {"placebo": "placebotest", "design": "designbaseret", "cluster": "klyngerobust"}


def html_table(header: list[str], rows: list[list[str]], text_columns: tuple[int, ...] = (0,)) -> str:
    """A plain HTML table; cells are escaped unless they are pre-built marks."""
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            css = ' class="tekst"' if i in text_columns else ""
            cells.append(f"<td{css}>{cell}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _mark(verdict: str) -> str:
    label = fmt.VERDICT_LABELS[verdict]
    return f'<span class="{fmt.VERDICT_CSS[verdict]}">{fmt.VERDICT_MARKS[verdict]} {escape(label)}</span>'


def shown_interval(row: pd.Series) -> tuple[float, float]:
    """The interval that matches the inference behind the verdict (placebo or model based)."""
    if row.get("inference") == "placebo" and not pd.isna(row.get("placebo_ci_low")):
        return row["placebo_ci_low"], row["placebo_ci_high"]
    return row["ci_low"], row["ci_high"]


def _with_interval(estimate, low, high, unit: str, scale: str) -> str:
    if pd.isna(estimate):
        return fmt.SUPPRESSED
    text = fmt.change(estimate, unit, scale)
    bounds = f"{fmt.change(low, unit, scale, with_unit=False)} til {fmt.change(high, unit, scale, with_unit=False)}"
    return f"{text}<br><span class='note'>({bounds})</span>"


def _interval(row: pd.Series) -> str:
    return _with_interval(row["estimate"], *shown_interval(row), row["unit"], row["scale"])


def _people(row: pd.Series) -> str:
    if row.get("people_estimate") is None or pd.isna(row.get("people_estimate")):
        return "<span class='note'>ikke relevant</span>"
    return _with_interval(row["people_estimate"], row["people_ci_low"], row["people_ci_high"], row["unit"],
                          "difference")


def _levels(before: float, after: float, unit: str) -> str:
    return f"{fmt.indicator_value(before, unit)} → {fmt.indicator_value(after, unit)}"


def _ambition(row: pd.Series) -> str:
    if row["ambition"] is None or pd.isna(row["ambition"]):
        return "Ingen"
    target = fmt.indicator_value(row["ambition"], row["unit"])
    status = {True: "nået", False: "ikke nået endnu", None: fmt.SUPPRESSED}[row["ambition_met"]]
    return f"{target} ({status})"


def goal_table(evaluation: DistrictEvaluation, params: Params, goal_key: str) -> str:
    """The summary table of one effect goal: levels, change, verdict and ambition per indicator."""
    goal = next(g for g in params.effect_goals if g.key == goal_key)
    table = suppress_estimates(evaluation.table, params.disclosure.min_cell)
    keys = [i.key for t in goal.themes for i in t.indicators]
    b, f = evaluation.baseline, evaluation.followup
    header = ["Indikator", f"Bydel {b} → {f}", f"Sammenligning {b} → {f}", "Forskel i udvikling (95 % KI)",
              "Samme beboere fulgt (95 % KI)", "p-værdi", "Justeret p (Holm)", "Vurdering", "Ambition"]
    rows = []
    for _, row in table[table["key"].isin(keys)].iterrows():
        unit = row["unit"]
        pre_post = row["design"] == "pre_post"
        rows.append([
            f"{row['number']}. {escape(row['indicator'])}<br><span class='note'>"
            f"{escape(fmt.DIRECTION_LABELS[row['direction']])}</span>",
            _levels(row["district_baseline"], row["district_followup"], unit),
            "ikke relevant" if pre_post else _levels(row["comparison_baseline"], row["comparison_followup"], unit),
            _interval(row),
            _people(row),
            fmt.p_value(row["p_value"]) + f"<br><span class='note'>{INFERENCE_LABELS[row['inference']]}</span>",
            fmt.p_value(row["p_holm"]),
            _mark(row["verdict"]),
            _ambition(row),
        ])
    return html_table(header, rows, text_columns=(0, 7, 8))


def sample_table(data: PreparedData, district: str, waves: list[int]) -> str:
    """Survey sample sizes, respondents and response rates, district and comparison group."""
    survey = data.survey[data.survey["wave"].isin(waves) & data.survey["stratum"].isin([district, COMPARISON])]
    counts = survey.groupby(["stratum", "wave"]).agg(sampled=("responded", "size"), answered=("responded", "sum"))
    min_cell = data.params.disclosure.min_cell
    label = {district: data.params.district(district).name, COMPARISON: data.params.comparison_group.name}
    rows = []
    for (stratum, wave), c in counts.iterrows():
        small = c["answered"] < min_cell
        rows.append([
            escape(label[stratum]), str(wave), fmt.number(c["sampled"], 0),
            fmt.SUPPRESSED if small else fmt.number(c["answered"], 0),
            fmt.SUPPRESSED if small else fmt.share(c["answered"] / c["sampled"]),
        ])
    return html_table(["Gruppe", "Bølge", "Udtrukne", "Besvarelser", "Svarprocent"], rows)


def balance_html(table: pd.DataFrame, counts: pd.DataFrame, min_cell: int) -> str:
    """Covariate shares in the district and the comparison group before/after weighting, with SMDs.

    A covariate category held by fewer than ``min_cell`` respondents in either group is not shown.
    """
    header = ["Kendetegn", "Bydel", "Sammenligning før", "Sammenligning efter", "Std. forskel før",
              "Std. forskel efter"]
    rows = []
    for name, row in table.iterrows():
        small = counts.loc[name].min() < min_cell
        value = (lambda v: fmt.share(v)) if row["binary"] else (lambda v: fmt.number(v, 1))
        cells = [row["mean_treated"], row["mean_control_before"], row["mean_control_after"]]
        rows.append([escape(fmt.covariate_label(name))]
                    + [fmt.SUPPRESSED if small else value(v) for v in cells]
                    + [fmt.SUPPRESSED if small else fmt.number(v, 2) for v in (row["smd_before"], row["smd_after"])])
    return html_table(header, rows)
