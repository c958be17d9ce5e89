"""Figures of the area models (Danish labels): the threshold in neighbourhood poverty, a district's
gap split into composition and area, and the event-time profile of movers.

The estimators in :mod:`evaluering.area` draw nothing; each function here takes their result.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from ..area.decomposition import COMPONENT_LABELS, METHOD_LABELS, DecompositionResult
from ..area.errors import AreaModelError
from ..area.movers import MoversResult
from ..area.threshold import ThresholdResult
from . import format as fmt

__all__ = ["MOVE_DIRECTION_LABELS", "decomposition_figure", "movers_figure", "threshold_figure"]

MOVE_DIRECTION_LABELS = {"higher": "Til område med mere fattigdom", "lower": "Til område med mindre fattigdom"}


def _number_axis(axis, decimals: int = 2) -> None:
    """Danish decimal commas on an axis."""
    axis.set_major_formatter(FuncFormatter(lambda v, _: fmt.number(v, decimals)))


def threshold_figure(result: ThresholdResult, df_area_means: pd.DataFrame, *,
                     xlabel: str = "Andel fattige i området", ylabel: str = "Andel i beskæftigelse",
                     n_column: str = "n", points_label: str = "Områder", ax=None):
    """Area means of the outcome against the contextual variable (points sized by n), the fitted
    hinge line (at the mean of the individual covariates) and the threshold with its confidence
    band. Pass :func:`~evaluering.area.threshold.adjusted_area_means` so the points are on the
    line's basis; raw means (:func:`~evaluering.area.threshold.area_means`) are shifted from the
    line by each area's composition.
    """
    if ax is None:
        fig = Figure(figsize=(7.0, 4.5), layout="constrained")
        ax = fig.add_subplot()
    else:
        fig = ax.figure
    x = df_area_means[result.context].to_numpy(dtype=float)
    y = df_area_means[result.outcome].to_numpy(dtype=float)
    n = df_area_means[n_column].to_numpy(dtype=float) if n_column in df_area_means else np.ones(len(x))
    sizes = 10 + 90 * n / max(n.max(), 1)
    ax.scatter(x, y, s=sizes, color="#4d6b8a", alpha=0.6, edgecolor="white", linewidth=0.5, label=points_label)
    xs = np.linspace(min(x.min(), result.gamma_ci[0]), max(x.max(), result.gamma_ci[1]), 300)
    ax.plot(xs, result.fitted(xs), color="#b34700", linewidth=2, label="Tilpasset knæk-model")
    lo, hi = result.gamma_ci
    ax.axvspan(lo, hi, color="#b34700", alpha=0.12,
               label=f"{result.confidence:.0%}-konfidensinterval for tærsklen".replace(".", ","))
    ax.axvline(result.gamma_hat, color="#b34700", linestyle="--", linewidth=1,
               label=f"Tærskel: {fmt.share(result.gamma_hat, 1)}")
    share_fmt = FuncFormatter(lambda v, _: fmt.share(v, 0))
    ax.xaxis.set_major_formatter(share_fmt)
    ax.yaxis.set_major_formatter(share_fmt)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend(frameon=False, fontsize="small")
    return fig


def decomposition_figure(results: DecompositionResult | Sequence[DecompositionResult], *, title: str | None = None):
    """Bars of the gap, the composition part and the area part (Danish labels), one bar group
    per component and one bar per method, with bootstrap intervals.
    """
    results = [results] if isinstance(results, DecompositionResult) else list(results)
    if not results:
        raise AreaModelError("no decomposition results to plot")
    comps = ["gap", "composition", "area"]
    colours = ["#4d6b8a", "#b34700", "#6a8f4e", "#8c8c8c"]
    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.8 / len(results)
    for j, res in enumerate(results):
        tab = res.to_frame().set_index("component").loc[comps]
        x = np.arange(len(comps)) - 0.4 + width * (j + 0.5)
        ax.bar(x, tab["estimate"], width, color=colours[j % len(colours)],
               label=METHOD_LABELS.get(res.method, res.method),
               yerr=[tab["estimate"] - tab["ci_low"], tab["ci_high"] - tab["estimate"]], capsize=3)
    ax.axhline(0, color="#444444", lw=0.8)
    ax.set_xticks(np.arange(len(comps)), [COMPONENT_LABELS[c] for c in comps])
    ax.set_ylabel("Forskel til resten af kommunen")
    _number_axis(ax.yaxis)
    first = results[0]
    ax.set_title(title or f"{first.outcome}: {first.district} mod resten af kommunen")
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig


def movers_figure(result: MoversResult, *, implied: bool = True):
    """Event-time profile around the move, by direction, with Danish labels. With ``implied`` a
    dotted line marks the post-move shift the fixed effects estimate implies (estimate x mean
    change in the context of the direction).
    """
    if result.profile.empty:
        raise AreaModelError("the result has no event-time profile (run movers_model with event_profile=True)")
    fig, ax = plt.subplots(figsize=(7, 4))
    colours = {"higher": "#b34700", "lower": "#4d6b8a"}
    for label, part in result.profile.groupby("direction", sort=False):
        shift = 0.08 if label == "higher" else -0.08
        x = part["event_time"].to_numpy() + shift
        ax.errorbar(x, part["estimate"], yerr=[part["estimate"] - part["ci_low"], part["ci_high"] - part["estimate"]],
                    fmt="o-", capsize=2, color=colours.get(label), label=MOVE_DIRECTION_LABELS.get(label, label))
        if implied:
            shift_after = result.estimate * float(part["mean_change"].iloc[0])
            ax.hlines(shift_after, -0.5, part["event_time"].max() + 0.3, colors=colours.get(label), linestyles=":")
    ax.axhline(0, color="#444444", lw=0.8)
    ax.axvline(-0.5, color="#888888", lw=0.8, ls="--")
    ax.set_xlabel("År i forhold til flytningen (0 = første år i det nye område)")
    ax.set_ylabel("Ændring i forhold til året før flytningen")
    ax.set_title(f"Før og efter flytning: {result.outcome}")
    _number_axis(ax.yaxis)
    ax.legend(frameon=False, fontsize=8)
    fig.tight_layout()
    return fig
