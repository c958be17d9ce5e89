"""Hashes that identify what a report was built from: files, a data directory, the code's commit."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

__all__ = ["file_hash", "data_hash", "git_commit", "DATA_SUFFIXES"]

DATA_SUFFIXES = {".parquet", ".csv", ".sav"}


def file_hash(path: Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def data_hash(directory: Path) -> str:
    """One SHA-256 over every input table in ``directory`` (names and contents)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in Path(directory).iterdir() if p.suffix in DATA_SUFFIXES):
        digest.update(path.name.encode())
        digest.update(file_hash(path).encode())
    return digest.hexdigest()


def git_commit(directory: Path) -> str:
    """The commit checked out in ``directory`` ("-dirty" when files were changed), or "ukendt"."""
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=12"], cwd=directory,
                             capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or "ukendt"
    except (OSError, subprocess.SubprocessError):
        return "ukendt"
