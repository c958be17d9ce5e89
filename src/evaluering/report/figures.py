"""Figures with Danish labels: indicator trends and the estimated changes."""

from __future__ import annotations

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from ..config import Indicator
from ..evaluation import DistrictEvaluation
from ..weighting.diagnostics import SMD_THRESHOLD
from . import format as fmt
from .tables import shown_interval

__all__ = ["despine", "trend_figure", "estimates_figure", "love_plot", "event_study_grid", "plain_text"]

DISTRICT_COLOUR, COMPARISON_COLOUR = "#b34700", "#4d6b8a"
BEFORE_COLOUR, AFTER_COLOUR = "#8c8c8c", "#b34700"


def plain_text(text: object) -> str:
    """``text`` for a matplotlib title, label or legend, shown exactly as written.

    Matplotlib reads text between two ``$`` as mathtext, so a name from a parameter file or the
    data holding ``$`` would be garbled or break the figure; every ``$`` is escaped.
    """
    return str(text).replace("$", r"\$")


def despine(ax) -> None:
    """No top and right axis lines (seaborn's ``despine``, without importing seaborn and scipy.stats)."""
    ax.spines[["top", "right"]].set_visible(False)


def _tight_layout_above_legend(fig: plt.Figure, rows: int, legend_height: float = 0.06) -> None:
    """The layout of ``fig.tight_layout(rect=(0, legend_height, 1, 1))``, measured once instead of twice.

    With a ``rect`` matplotlib measures every label twice, on the same geometry; here the panels
    are moved up from the plain tight layout, keeping the gap between rows of panels.
    """
    fig.tight_layout()
    p = fig.subplotpars
    gap = p.hspace * (p.top - p.bottom) / (rows + (rows - 1) * p.hspace)  # between rows, in figure heights
    bottom = p.bottom + legend_height
    panel = (p.top - bottom - (rows - 1) * gap) / rows
    fig.subplots_adjust(bottom=bottom, hspace=gap / panel)


def _danish_axis(ax, unit: str) -> None:
    if unit == "share":
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: fmt.share(v, 0)))
    else:
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: fmt.number(v, 0)))


def trend_figure(
    levels: pd.DataFrame,
    indicators: list[Indicator],
    district: str,
    labels: dict[str, str],
    *,
    marks: tuple[int, ...] = (),
) -> plt.Figure:
    """One panel per indicator: district and comparison group over time with 95 % bands.

    ``levels`` has columns indicator, group, period, value, se (suppressed cells are NaN and
    simply not drawn); ``labels`` maps group keys to Danish names; ``marks`` are years to mark
    with a vertical line (e.g. the survey waves).
    """
    n = len(indicators)
    cols = min(n, 2)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 3.2 * rows), squeeze=False)
    for ax, ind in zip(axes.flat, indicators, strict=False):
        for group, colour in ((district, DISTRICT_COLOUR), ("comparison", COMPARISON_COLOUR)):
            part = levels[(levels["indicator"] == ind.key) & (levels["group"] == group)].sort_values("period")
            if part.empty:
                continue
            style = "o-" if len(part) < 5 else "-"
            ax.plot(part["period"], part["value"], style, color=colour, label=plain_text(labels[group]), lw=2, ms=5)
            ax.fill_between(part["period"], part["value"] - 1.96 * part["se"], part["value"] + 1.96 * part["se"],
                            color=colour, alpha=0.15, lw=0)
        for year in marks:
            ax.axvline(year, color="#999999", lw=0.8, ls=":")
        ax.set_title(plain_text(f"{ind.number}. {ind.name}"), fontsize=10, loc="left")
        ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
        _danish_axis(ax, ind.unit)
        ax.grid(axis="y", color="#eeeeee")
        despine(ax)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    handles, names = axes.flat[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=2, frameon=False)
    _tight_layout_above_legend(fig, rows)
    return fig


def estimates_figure(evaluation: DistrictEvaluation, table: pd.DataFrame | None = None) -> plt.Figure:
    """Forest plot of the estimated changes of share indicators, in percentage points.

    Points are coloured by the verdict (better/no detectable change/worse) so the direction of
    each indicator is respected; suppressed rows are left out.
    """
    table = evaluation.table if table is None else table
    rows = table[(table["unit"] == "share") & table["estimate"].notna()].sort_values("number", ascending=False)
    colours = {"better": "#1a7f37", "no_change": "#8c959f", "worse": "#b42318"}
    fig, ax = plt.subplots(figsize=(7.5, 0.32 * len(rows) + 1.2))
    y = np.arange(len(rows))
    for yi, (_, row) in zip(y, rows.iterrows(), strict=False):
        colour = colours.get(row["verdict"], "#8c959f")
        low, high = shown_interval(row)
        ax.plot([100 * low, 100 * high], [yi, yi], color=colour, lw=2)
        ax.plot(100 * row["estimate"], yi, "o", color=colour, ms=6)
    ax.axvline(0, color="#333333", lw=0.8)
    ax.set_yticks(y, [plain_text(f"{r.number}. {r.indicator}") for r in rows.itertuples()], fontsize=9)
    ax.set_xlabel("Ændring i bydelen minus ændring i sammenligningsgruppen\n(procentpoint, 95 % KI)")
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: fmt.number(v, 0)))
    ax.grid(axis="x", color="#eeeeee")
    despine(ax)
    fig.tight_layout()
    return fig


def love_plot(table: pd.DataFrame) -> plt.Figure:
    """Standardised mean differences per covariate before and after weighting (a "Love plot"),
    with dashed lines at ±0.1, the usual bound for good balance. Labels and numbers are Danish
    (decimal comma); covariates keep their column names.
    """
    n = len(table)
    fig, ax = plt.subplots(figsize=(6.5, 1.2 + 0.28 * n))
    y = np.arange(n)[::-1]
    ax.plot(table["smd_before"], y, "o", mfc="white", color=BEFORE_COLOUR, ls="none", label="Før vægtning")
    ax.plot(table["smd_after"], y, "o", color=AFTER_COLOUR, ls="none", label="Efter vægtning")
    for x in (-SMD_THRESHOLD, SMD_THRESHOLD):
        ax.axvline(x, color="#666666", lw=0.8, ls="--")
    ax.axvline(0, color="#bbbbbb", lw=0.8)
    ax.set_yticks(y, [plain_text(name) for name in table.index])
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xlabel("Standardiseret forskel i gennemsnit")
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: fmt.number(v, 1)))
    ax.grid(axis="y", color="#eeeeee")
    ax.legend(loc="best", frameon=False)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    return fig


def event_study_grid(results: dict, indicators: list[Indicator]) -> plt.Figure:
    """One event-study panel per register indicator, titled with its pre-trend test."""
    from .event_study_figure import event_study_figure

    shown = [ind for ind in indicators if ind.key in results]
    if not shown:  # every panel suppressed (too few persons) or no register indicator
        fig, ax = plt.subplots(figsize=(6, 1))
        ax.axis("off")
        ax.text(0, 0.5, "Ingen år-for-år-figur: for få personer i bydelen til at vise den.", fontsize=10)
        return fig
    cols = 2
    rows = int(np.ceil(len(shown) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(5.4 * cols, 3.3 * rows), squeeze=False)
    for ax, ind in zip(axes.flat, shown, strict=False):
        result = results[ind.key]
        event_study_figure(result, ax=ax, title=plain_text(f"{ind.number}. {ind.name}"))
        p = result.pretrend.p_value
        ax.set_title(plain_text(f"{ind.number}. {ind.name}\nTest for ens udvikling før start: p = {fmt.p_value(p)}"),
                     fontsize=9, loc="left")
    for ax in list(axes.flat)[len(shown):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig
