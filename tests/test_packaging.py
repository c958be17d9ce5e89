"""pyproject.toml and environment.yml must list the same packages with the same lower bounds."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
CONDA_NAMES = {}  # pip name -> conda name, where they differ


def _split(requirement: str) -> tuple[str, str]:
    match = re.match(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$", requirement)
    assert match, requirement
    return match.group(1).lower(), match.group(2).replace(" ", "")


def test_environment_yml_matches_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pip_reqs = dict(_split(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"])
    conda = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    conda_reqs = dict(_split(r) for r in conda if isinstance(r, str) and not r.startswith(("python", "pip")))
    expected = {CONDA_NAMES.get(name, name): spec for name, spec in pip_reqs.items()}
    assert conda_reqs == expected, (
        f"only in pyproject: {sorted(set(expected) - set(conda_reqs))}; "
        f"only in environment.yml: {sorted(set(conda_reqs) - set(expected))}; "
        f"different bounds: {sorted(k for k in expected if k in conda_reqs and expected[k] != conda_reqs[k])}"
    )


def test_python_version_agrees():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    conda = yaml.safe_load((ROOT / "environment.yml").read_text())["dependencies"]
    assert f"python{project['requires-python']}" in conda


def test_console_script_is_declared():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["evaluering"] == "evaluering.cli:main"


def test_input_contract_doc_matches_the_code():
    from evaluering.config import load_params
    from evaluering.data.contract import contract_markdown

    doc = (ROOT / "docs" / "input-contract.md").read_text(encoding="utf-8")
    generated = contract_markdown(load_params(ROOT / "params" / "gladsaxe.yaml"))
    assert generated.strip() in doc, "docs/input-contract.md is out of date: regenerate its tables"
