"""Small notebooks written by the tests (runner and fault tests): a parameters cell and code cells."""

from __future__ import annotations

from pathlib import Path

import nbformat


def write_notebook(path: Path, parameters: str, *cells: str) -> Path:
    """A notebook at ``path``: a papermill ``parameters`` cell holding ``parameters``, then ``cells``."""
    nb = nbformat.v4.new_notebook()
    parameter_cell = nbformat.v4.new_code_cell(parameters)
    parameter_cell.metadata["tags"] = ["parameters"]
    nb.cells = [parameter_cell] + [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"display_name": "Python 3", "language": "python", "name": "python3"}
    nbformat.write(nb, path)
    return path
