"""Hashes that identify what a report was built from: files, a data directory, the code's commit."""

from __future__ import annotations

import hashlib
import subprocess
from functools import lru_cache
from pathlib import Path

__all__ = ["file_hash", "data_hash", "git_commit", "source_hash"]


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


@lru_cache(maxsize=1)
def source_hash() -> str:
    """The package version and every file of the package (code, templates) as one hash."""
    from . import __version__

    root = Path(__file__).resolve().parent
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def git_commit(directory: Path) -> str:
    """The commit checked out in ``directory`` ("-dirty" when files were changed), or "ukendt"."""
    try:
        out = subprocess.run(["git", "describe", "--always", "--dirty", "--abbrev=12"], cwd=directory,
                             capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or "ukendt"
    except (OSError, subprocess.SubprocessError):
        return "ukendt"
