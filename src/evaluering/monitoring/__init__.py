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

from ..lazy import lazy_exports

# Where each public name lives, imported on first use (PEP 562): a monitoring report drawn from
# stored results unpickles its AreaMonitoring without the Parquet/DuckDB paths or scipy.optimize.
_HOME = {
    "AreaMonitoring": "trends", "CRITERIA_LABELS": "criteria", "DEPRIVED": "criteria", "PREVENTION": "criteria",
    "MonitoringError": "errors", "TREND_LABELS": "trends", "Thresholds": "criteria",
    "criteria_from_cells": "criteria", "deprived_area_criteria": "criteria", "monitor_areas": "trends",
    "monitor_areas_from_parquet": "trend_cells", "register_indicators": "trends",
    "statutory_criteria": "criteria", "statutory_criteria_from_parquet": "criteria",
}

__all__ = sorted(_HOME)


__getattr__, __dir__ = lazy_exports(__name__, _HOME)
