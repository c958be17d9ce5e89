"""Lazily exported names (evaluering.lazy) stay the functions they name, however the package was loaded."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from evaluering.lazy import lazy_exports


def test_a_name_shared_with_its_submodule_cannot_be_exported_lazily():
    with pytest.raises(ValueError, match="design_did would be shadowed"):
        lazy_exports("evaluering.did", {"design_did": "design_did", "panel_did": "panel"})


def test_public_names_are_functions_after_their_submodules_were_imported_directly():
    # a fresh interpreter: the submodules first (as the estimators and unpickling a stored report do),
    # then the public names, as a researcher would write them in a notebook
    script = """
import json, importlib, inspect
for module in ("evaluering.did.design_did", "evaluering.did.event_study", "evaluering.did.panel",
               "evaluering.evaluation.planning", "evaluering.evaluation.district", "evaluering.area.multilevel",
               "evaluering.weighting.entropy", "evaluering.monitoring.trends"):
    importlib.import_module(module)
import evaluering.area, evaluering.did, evaluering.evaluation, evaluering.monitoring, evaluering.weighting
kinds = {}
for package in (evaluering.area, evaluering.did, evaluering.evaluation, evaluering.monitoring, evaluering.weighting):
    for name in package.__all__:
        kinds[f"{package.__name__}.{name}"] = inspect.ismodule(getattr(package, name))
print(json.dumps(kinds))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    kinds = json.loads(done.stdout)
    assert {"evaluering.did.design_did", "evaluering.did.event_study", "evaluering.evaluation.survey_plan",
            "evaluering.area.multilevel"} <= set(kinds)
    assert [name for name, is_module in kinds.items() if is_module] == []
