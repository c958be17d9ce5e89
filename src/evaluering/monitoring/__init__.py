"""Which areas need attention? Geographic monitoring of every small area and district.

- :func:`deprived_area_criteria` (``criteria``): the statutory criteria for deprived housing
  areas and prevention areas (almenboligloven §§ 61 a and 61 b) per area;
  :func:`statutory_criteria` computes them from a prepared dataset with the parameter file's
  reference values, :func:`statutory_criteria_from_parquet` from a register in Parquet too large
  for memory (through the area x year cells of ``criteria_cells``, in DuckDB).
- :func:`monitor_areas` (``trends``): every area and district on the register indicators, year
  by year, with the change over the last years and a flag for areas whose change departs from
  the rest of the municipality's; :func:`monitor_areas_from_parquet` (``trend_cells``) gives the
  same from a register in Parquet too large for memory (sufficient statistics in DuckDB).
"""

from .criteria import (
    CRITERIA_LABELS,
    DEPRIVED,
    PREVENTION,
    Thresholds,
    criteria_from_cells,
    deprived_area_criteria,
    statutory_criteria,
    statutory_criteria_from_parquet,
)
from .errors import MonitoringError
from .trend_cells import monitor_areas_from_parquet
from .trends import TREND_LABELS, AreaMonitoring, monitor_areas, register_indicators

__all__ = [
    "AreaMonitoring",
    "CRITERIA_LABELS",
    "DEPRIVED",
    "PREVENTION",
    "MonitoringError",
    "TREND_LABELS",
    "Thresholds",
    "criteria_from_cells",
    "deprived_area_criteria",
    "monitor_areas",
    "monitor_areas_from_parquet",
    "register_indicators",
    "statutory_criteria",
    "statutory_criteria_from_parquet",
]
