"""Computations a report draws from, kept apart from the drawing so that a wave is computed once.

A report's expensive steps (an evaluation's levels, a balance table, a model fit) are methods
marked :func:`computed`: the first call computes from the prepared data and keeps the result in
the report's ``_computed`` dictionary, later calls reuse it. :meth:`precompute` runs every such
step; :func:`without_data` then drops the prepared data (microdata), leaving a small object the
results store can keep and any process can draw every section from (see :mod:`.store`).
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable

from ..errors import EvalueringError

__all__ = ["ResultsMissing", "computed", "without_data"]


class ResultsMissing(EvalueringError):
    """A report drawn from stored results asked for a computation that was not stored."""


def computed(method: Callable) -> Callable:
    """Memoise a report method by its (hashable) arguments in ``self._computed``.

    Without prepared data (a report from the store) a computation that was not stored is an
    error, not a silent recomputation on nothing.
    """
    name = method.__name__

    @functools.wraps(method)
    def memoised(self, *args):
        key = (name, *args)
        if key not in self._computed:
            if self.data is None:
                raise ResultsMissing(f"{type(self).__name__}.{name}{args}: not in the stored results; "
                                     "compute the report from the data instead (results=None)")
            self._computed[key] = method(self, *args)
        return self._computed[key]

    return memoised


def without_data(report, **replaced):
    """The report with its prepared data (and any other field in ``replaced``) dropped, keeping
    everything computed so far; :meth:`precompute` it first.
    """
    kept = dataclasses.replace(report, data=None, **replaced)
    kept._computed.update(report._computed)
    return kept
