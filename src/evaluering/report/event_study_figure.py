"""The event-study figure: estimates with their confidence bands by event time.

Drawing lives here, in the report layer; the estimators in :mod:`evaluering.did` only compute
(:class:`~evaluering.did.event_study.EventStudyResult`).
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import FuncFormatter, MaxNLocator

from ..did.event_study import EventStudyResult
from . import format as fmt

__all__ = ["event_study_figure"]

COLOUR = "#b34700"


def event_study_figure(
    result: EventStudyResult,
    *,
    title: str | None = None,
    scale: float = 100.0,
    ylabel: str = "Effekt (procentpoint)",
    ax: plt.Axes | None = None,
) -> plt.Figure:
    """Estimates with their confidence bands by event time (x ``scale``: shares in percentage
    points), a dashed zero line and a vertical line at the start (between the last untreated
    period and event time 0). The reference period is drawn as an open marker at 0. Drawn into
    ``ax``, the caller lays the figure out.
    """
    table = result.coefficients
    own_figure = ax is None
    if own_figure:
        fig, ax = plt.subplots(figsize=(7, 3.8))
    else:
        fig = ax.figure
    est = table[~table["reference"]]
    ax.errorbar(est.index, scale * est["estimate"],
                yerr=scale * np.vstack([est["estimate"] - est["ci_low"], est["ci_high"] - est["estimate"]]),
                fmt="o", color=COLOUR, ecolor=COLOUR, elinewidth=1.5, capsize=3, ms=5,
                label=f"Estimat med {fmt.number(100 * result.confidence, 0)} %-konfidensinterval")
    ref = table[table["reference"]]
    ax.plot(ref.index, [0.0] * len(ref), "o", mfc="white", color=COLOUR, ms=5, label="Referenceår")
    ax.axhline(0.0, color="#555555", lw=1, ls="--")
    ax.axvline(-0.5, color="#999999", lw=1)
    ax.annotate(f"Start {result.event_year}", xy=(-0.5, 1.0), xycoords=("data", "axes fraction"),
                xytext=(4, -12), textcoords="offset points", fontsize=8, color="#555555")
    ax.set_xlabel("År i forhold til start")
    ax.set_ylabel(ylabel)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: fmt.number(v, 1)))
    if title:
        ax.set_title(title, loc="left", fontsize=11)
    ax.legend(frameon=False, fontsize=8, loc="best")
    if own_figure:  # a panel of a bigger figure: its owner lays the whole figure out once
        fig.tight_layout()
    return fig
