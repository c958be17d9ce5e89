"""Provenance block at the end of every report: parameter file, data, package version, commit, time."""

from __future__ import annotations

import hashlib
import subprocess
from datetime import datetime, timezone
from html import escape
from pathlib import Path

from IPython.display import HTML

from .. import __version__
from .tables import html_table

__all__ = ["provenance_table"]


def _file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:12]


def _data_hash(directory: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in directory.iterdir() if p.suffix in {".parquet", ".csv", ".sav"}):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _git_commit(directory: Path) -> str:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=directory, capture_output=True,
                             text=True, timeout=5)
        return out.stdout.strip() or "ukendt"
    except (OSError, subprocess.SubprocessError):
        return "ukendt"


def provenance_table(params_file: Path, data_dir: Path, waves: str) -> HTML:
    """Parameter file and data with their hashes, package version and git commit, wave, run time."""
    repo = Path(__file__).resolve().parents[3]
    rows = [
        ["Parameterfil", escape(params_file.name), _file_hash(params_file)],
        ["Data", escape(data_dir.name), _data_hash(data_dir)],
        ["evaluering", __version__, _git_commit(repo)],
        ["Bølge", escape(waves), ""],
        ["Kørt", datetime.now(timezone.utc).astimezone().strftime("%d-%m-%Y %H:%M"), ""],
    ]
    return HTML("<h3>Dokumentation af kørslen</h3>" + html_table(["", "", "Kontrolsum"], rows))
