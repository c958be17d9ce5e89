"""Input data: the contract, readers, validation, and the synthetic municipality."""

from .contract import TABLE_NAMES, ColumnSpec, TableSpec, input_contract
from .dataset import Dataset

__all__ = ["TABLE_NAMES", "ColumnSpec", "TableSpec", "input_contract", "Dataset"]
