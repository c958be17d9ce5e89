"""Shared fixtures: the parameters and the default synthetic dataset (generated once)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from evaluering.config import load_params

ROOT = Path(__file__).resolve().parent
PARAMS_FILE = ROOT / "params" / "gladsaxe.yaml"
SYNTHETIC_DIR = ROOT / "data" / "synthetic"
DEFAULT_SEED = 2021


def ensure_synthetic_data() -> Path:
    """Generate the default synthetic dataset (the one the notebooks use) unless it is there."""
    if not (SYNTHETIC_DIR / "truth.json").exists():
        from evaluering.data.synthetic import generate

        generate(load_params(PARAMS_FILE), SYNTHETIC_DIR, seed=DEFAULT_SEED)
    return SYNTHETIC_DIR


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
