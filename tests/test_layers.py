"""The package's structure holds: one error family, layers that point one way, a clean linter.

- Every exception class the package defines derives from ``EvalueringError`` (the command line
  tells bad input from bugs by it).
- The method packages (estimators, weighting, monitoring, data) import nothing from the evaluation,
  the report, the runner or the command line and draw nothing: figures belong to ``evaluering.report``.
- ``ruff check src`` is clean with the project's configuration (pyproject.toml).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import evaluering
from evaluering.errors import EvalueringError

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "evaluering"
METHOD_PACKAGES = ("did", "area", "survey", "weighting", "inference", "power", "monitoring", "indicators", "data",
                   "numerics")
UPPER_LAYERS = ("evaluering.evaluation", "evaluering.report", "evaluering.runner", "evaluering.cli")
DRAWING = ("matplotlib", "seaborn")


def _modules():
    for info in pkgutil.walk_packages(evaluering.__path__, "evaluering."):
        yield importlib.import_module(info.name)


def test_every_exception_class_of_the_package_is_in_the_family():
    outside = []
    for module in _modules():
        for name, obj in vars(module).items():
            if (inspect.isclass(obj) and issubclass(obj, BaseException) and obj.__module__ == module.__name__
                    and not issubclass(obj, EvalueringError)):
                outside.append(f"{module.__name__}.{name}")
    assert not outside, f"exception classes outside EvalueringError: {outside}"


def _imports(path: Path, source: str | None = None) -> list[str]:
    """Absolute names of every module ``path`` imports, at any depth (function-level imports too)."""
    package = ".".join(("evaluering", *path.relative_to(PACKAGE).parent.parts))
    names = []
    source = path.read_text(encoding="utf-8") if source is None else source
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parent = ".".join(parts[: len(parts) - node.level + 1])
                base = f"{parent}.{base}" if base else parent
            names += [base] + [f"{base}.{alias.name}" for alias in node.names]
    return names


@pytest.mark.parametrize("package", METHOD_PACKAGES)
def test_method_packages_neither_reach_up_nor_draw(package):
    wrong = []
    for path in sorted((PACKAGE / package).rglob("*.py")):
        for name in _imports(path):
            if name.startswith(UPPER_LAYERS) or name.split(".")[0] in DRAWING:
                wrong.append(f"{path.relative_to(PACKAGE)} imports {name}")
    assert not wrong, "\n".join(wrong)


def test_the_import_scan_sees_upward_and_drawing_imports():
    """The scan itself: relative and function-level imports are resolved (so the test above can fail)."""
    source = "def f():\n    import matplotlib.pyplot as plt\n    from ..report import format\n"
    names = _imports(PACKAGE / "did" / "probe.py", source)
    assert "matplotlib.pyplot" in names and "evaluering.report.format" in names


@pytest.mark.skipif(shutil.which("ruff") is None and importlib.util.find_spec("ruff") is None,
                    reason="ruff is a dev dependency (pip install -e '.[dev]')")
def test_ruff_is_clean_on_the_package():
    result = subprocess.run([sys.executable, "-m", "ruff", "check", "src"], cwd=ROOT, capture_output=True,
                            text=True)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
