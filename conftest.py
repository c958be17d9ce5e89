"""Shared fixtures: the parameters, the default synthetic dataset (generated once) and one rendered wave.

Safe under pytest-xdist: the workers take a file lock before generating data or rendering, so the
work is done once and no worker reads a half-written result.
"""

from __future__ import annotations

import json
import os
from contextlib import contextmanager
from pathlib import Path

import pytest

from evaluering.config import load_params

try:
    import fcntl
except ImportError:  # Windows: no lock (pytest-xdist on Windows is not supported here)
    fcntl = None

ROOT = Path(__file__).resolve().parent
PARAMS_FILE = ROOT / "params" / "gladsaxe.yaml"
SYNTHETIC_DIR = ROOT / "data" / "synthetic"
NOTEBOOKS_DIR = ROOT / "notebooks"
DEFAULT_SEED = 2021


@contextmanager
def file_lock(path: Path):
    """Hold an exclusive lock on ``path`` (created if missing) for the ``with`` block, across processes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        if fcntl:
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            if fcntl:
                fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_synthetic_data(directory: Path = SYNTHETIC_DIR) -> Path:
    """Generate the default synthetic dataset (the one the notebooks use) into ``directory`` unless it is there.

    A lock file inside the folder makes concurrent callers (pytest-xdist workers) wait for one
    generation instead of each writing the same files over the others' reads.
    """
    with file_lock(directory / ".generate.lock"):
        if not (directory / "truth.json").exists():
            from evaluering.data.synthetic import generate

            generate(load_params(PARAMS_FILE), directory, seed=DEFAULT_SEED)
    return directory


def pytest_sessionstart(session: pytest.Session) -> None:
    # nbval executes notebooks that read data/synthetic, so it must exist before collection runs them.
    ensure_synthetic_data()


@pytest.fixture(scope="session")
def params_file() -> Path:
    return PARAMS_FILE


@pytest.fixture(scope="session")
def params():
    return load_params(PARAMS_FILE)


@pytest.fixture(scope="session")
def synthetic_dir() -> Path:
    return ensure_synthetic_data()


@pytest.fixture(scope="session")
def truth(synthetic_dir: Path) -> dict:
    return json.loads((synthetic_dir / "truth.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="session")
def prepared(params, synthetic_dir):
    from evaluering.data.validate import load_dataset
    from evaluering.indicators import prepare

    return prepare(load_dataset(synthetic_dir, params), params)


@pytest.fixture(scope="session")
def rendered_reports(tmp_path_factory, synthetic_dir, params_file) -> tuple[int, Path]:
    """Run ``evaluering run`` for the 2024 wave once per test run (~1 min); returns (exit code, output folder).

    A full wave: three district reports, the overview and the area-effects report, two at a time.

    Under pytest-xdist the workers share the render: it goes in the run's common temporary folder,
    the first worker renders under a lock and the others read its exit code.
    """
    from evaluering.cli import main

    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # pytest-of-USER/pytest-N, common to this run's workers
    out, exit_file = base / "rendered-reports", base / "rendered-reports.exit"
    with file_lock(base / "rendered-reports.lock"):
        if not exit_file.exists():
            code = main(["run", "--params", str(params_file), "--data", str(synthetic_dir), "--out", str(out),
                         "--notebooks", str(NOTEBOOKS_DIR), "--jobs", "2"])
            exit_file.write_text(str(code))
    return int(exit_file.read_text()), out
