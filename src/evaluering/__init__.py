"""evaluering: evaluation workbench for social district work in Danish municipalities."""

__version__ = "0.1.0"
