"""What every report's ``build`` starts from: the parameter file and the prepared data."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from ..config import Params, load_params
from .figure_record import install as record_figures_in_notebook

if TYPE_CHECKING:
    from ..indicators.prepare import PreparedData

__all__ = ["load_prepared"]


def load_prepared(params_file: str | Path, data_dir: str | Path) -> tuple[Path, Path, Params, PreparedData]:
    """The two paths as ``Path``, the parameters, and the data loaded, validated and prepared.

    In a notebook it also makes every figure's output carry the persons behind it (``figure_record``).
    """
    # imported here: a report drawn from stored results imports this module but loads no data
    from ..data.validate import load_dataset
    from ..indicators.prepare import prepare

    record_figures_in_notebook()
    params_file, data_dir = Path(params_file), Path(data_dir)
    params = load_params(params_file)
    return params_file, data_dir, params, prepare(load_dataset(data_dir, params), params)
