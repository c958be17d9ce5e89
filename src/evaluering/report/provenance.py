"""Provenance block at the end of every report: parameter file, data, package version, commit, time."""

from __future__ import annotations

from datetime import UTC, datetime
from html import escape
from pathlib import Path

from IPython.display import HTML

from .. import __version__
from ..hashing import data_hash, file_hash, git_commit
from .disclosure import NOT_PERSONS
from .tables import html_table

__all__ = ["provenance_table", "provenance_line"]


def provenance_line(params_file: Path, data_dir: Path, municipality: str) -> str:
    """One line under a report's title naming the parameter file and the data it was built from, so
    a report made with the default (Gladsaxe's) parameter file by mistake says so at once.
    """
    return (f"<p class='note'>Bygget med parameterfilen {escape(params_file.name)} ({escape(municipality)}) og "
            f"data fra mappen {escape(data_dir.resolve().name)}.</p>")


def provenance_table(params_file: Path, data_dir: Path, waves: str) -> HTML:
    """Parameter file and data with their hashes, package version and git commit, wave, run time."""
    repo = Path(__file__).resolve().parents[3]
    rows = [
        ["Parameterfil", escape(params_file.name), file_hash(params_file)[:12]],
        ["Data", escape(data_dir.name), data_hash(data_dir)[:12]],
        ["evaluering", __version__, escape(git_commit(repo))],
        ["Bølge", escape(waves), ""],
        ["Kørt", datetime.now(UTC).astimezone().strftime("%d-%m-%Y %H:%M"), ""],
    ]
    persons = [[None, NOT_PERSONS, NOT_PERSONS]] * len(rows)  # names, versions, hashes, dates: no persons
    return HTML("<h3>Dokumentation af kørslen</h3>" + html_table(["", "", "Kontrolsum"], rows, persons))
