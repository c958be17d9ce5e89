"""The temporary folder of each run, and removing the folders of runs that were killed.

Each run works in ``$TMPDIR/evaluering-XXXX/``: the job file, the executed notebook, the rendered
report and the kernel's connection file (the worker points ``JUPYTER_RUNTIME_DIR`` there). The
folder records which process owns it. It is removed when the run ends, by the worker when its
parent was killed, and otherwise (both killed at once, a power cut) by the next run, which
removes every such folder whose owner is gone. Folders without an owner record are never touched.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

__all__ = ["FOLDER_PREFIX", "OWNER_FILE", "PARENT_VARIABLE", "run_folder", "sweep_stale_folders", "process_alive",
           "process_identity"]

FOLDER_PREFIX = "evaluering-"
OWNER_FILE = "owner.json"
# Set by the parent run to its own pid, so that a worker notices when its parent dies. Here, not in
# the worker module, so that the parent does not import papermill and nbconvert (~0.4 s) for it.
PARENT_VARIABLE = "EVALUERING_RUN_PARENT_PID"


def process_identity(pid: int | None = None) -> dict:
    """A process id with its start time, so that a reused pid is not taken for the same process."""
    process = psutil.Process(pid or os.getpid())
    return {"pid": process.pid, "started": process.create_time()}


def process_alive(identity: dict) -> bool:
    """True while the process ``identity`` (from :func:`process_identity`) still runs."""
    try:
        process = psutil.Process(int(identity["pid"]))
        same = abs(process.create_time() - float(identity.get("started", process.create_time()))) < 1.0
        return same and process.status() != psutil.STATUS_ZOMBIE
    except (psutil.NoSuchProcess, psutil.AccessDenied, KeyError, TypeError, ValueError):
        return False


@contextmanager
def run_folder() -> Iterator[Path]:
    """A new temporary folder owned by this process, removed with everything in it afterwards."""
    folder = Path(tempfile.mkdtemp(prefix=FOLDER_PREFIX))
    try:
        (folder / OWNER_FILE).write_text(json.dumps(process_identity()), encoding="utf-8")
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def sweep_stale_folders() -> list[Path]:
    """Remove the run folders whose owning process is gone; returns what was removed."""
    removed = []
    for folder in Path(tempfile.gettempdir()).glob(f"{FOLDER_PREFIX}*"):
        try:
            owner = json.loads((folder / OWNER_FILE).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # not ours, or still being created
        if not process_alive(owner):
            shutil.rmtree(folder, ignore_errors=True)
            removed.append(folder)
    return removed
