"""Hashes that identify what a report was built from: files, a data directory, the code's commit."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

__all__ = ["file_hash", "data_hash", "git_commit"]


def file_hash(path: Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def data_hash(directory: Path) -> str:
    """One SHA-256 over exactly the table files that are read from ``directory`` (names and contents).

    The files are found as validation finds them (suffix in any case, ``register.PARQUET`` too),
    so a changed input always changes the hash and a stray file or folder never breaks it.
    """
    from .data.contract import TABLE_NAMES
    from .data.io import partition_files, table_files

    digest = hashlib.sha256()
    for path in table_files(directory, TABLE_NAMES).values():
        parts = partition_files(path) if path.is_dir() else [path]  # a partitioned register: every part
        for part in parts:
            digest.update(part.relative_to(path.parent).as_posix().encode())
            digest.update(file_hash(part).encode())
    return digest.hexdigest()


def git_commit(directory: Path) -> str:
    """The commit checked out in ``directory`` ("-dirty" when files were changed), or "ukendt"."""
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=12"], cwd=directory,
                             capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or "ukendt"
    except (OSError, subprocess.SubprocessError):
        return "ukendt"
