"""The results store of a wave: every report's computations made once, drawn by every notebook.

``evaluering run`` computes each report of a wave once (districts in parallel, see
:mod:`evaluering.runner.compute`) and keeps the results in ``<out>/.store/<wave>/``:

- ``manifest.json``: the key (a hash of the parameter file, the input data, the package's code
  and the waves), the inputs' paths, when and by which version, and one entry per report;
- ``<report>.pickle``: the report object without its prepared data (:func:`.computed.without_data`):
  the evaluation, the levels, the model fits: the same Python objects a computed report holds;
- ``tables/<report>/<table>.parquet``: the report's result tables, for tools other than Python.

A notebook given the store (parameter ``results``) draws from it when the key matches its own
inputs and computes from the data otherwise, so notebooks still work on their own. The store holds
numbers before disclosure control (the reports suppress small cells when they draw them) but no
microdata and no identifiers: :func:`write_store` refuses any table with an identifier column. It
is working data, not for publication; it sits in a hidden folder next to the reports and the index
does not link it. Only a store written by this package is read: each pickle's SHA-256 is in the
manifest, and the manifest's key must equal the inputs' own.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import pickle
import shutil
import tempfile
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from .. import __version__
from ..errors import EvalueringError
from ..hashing import data_hash, file_hash, source_hash
from .computed import without_data
from .figure_record import install as record_figures_in_notebook
from .scan import ID_COLUMNS

__all__ = ["AREA_STORED", "MONITORING_STORED", "STORE_FOLDER", "ResultsStore", "StoreError", "read_report",
           "results_key", "store_folder", "stored_names_for", "stored_report", "write_store"]

STORE_FOLDER = ".store"
MONITORING_STORED, AREA_STORED = "monitoring", "area"  # the names of the municipality-wide reports' results
MANIFEST = "manifest.json"
NOTICE = ("Arbejdsdata fra evaluering: resultater før diskretionering (små celler er ikke skjult). "
          "Ikke til offentliggørelse. Working data of evaluering: results before disclosure control; "
          "not for publication.\n")


class StoreError(EvalueringError):
    """The results store cannot be written or read (identifiers in a table, a damaged file)."""


def store_folder(out_dir: str | Path, wave: int) -> Path:
    """Where the results of ``wave`` are kept under the report folder ``out_dir``."""
    return Path(out_dir) / STORE_FOLDER / str(int(wave))


def results_key(params_file: str | Path, data_dir: str | Path, wave: int, baseline: int) -> str:
    """The hash of everything a wave's results depend on: parameter file, data, code, waves."""
    parts = {"params": file_hash(Path(params_file)), "data": data_hash(Path(data_dir)), "source": source_hash(),
             "wave": int(wave), "baseline": int(baseline)}
    return hashlib.sha256(json.dumps(parts, sort_keys=True).encode()).hexdigest()


# --- writing ---------------------------------------------------------------------------------


def _identifier_paths(value, path: str, seen: set[int]) -> list[str]:
    """Where in ``value`` (dataclasses, dicts, sequences, objects of this package) a table holds an
    identifier column or index.
    """
    if id(value) in seen or isinstance(value, (str, bytes, int, float, bool, type(None))):
        return []
    seen.add(id(value))
    if isinstance(value, (pd.DataFrame, pd.Series)):
        frame = value.to_frame() if isinstance(value, pd.Series) else value
        names = [*map(str, frame.columns), *(str(n) for n in frame.index.names if n is not None)]
        return [f"{path} ({name})" for name in names if name in ID_COLUMNS]
    if dataclasses.is_dataclass(value):
        children = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        children |= {k: v for k, v in vars(value).items() if k == "_computed"}
    elif isinstance(value, dict):
        children = {repr(k): v for k, v in value.items()}
    elif isinstance(value, (list, tuple)):
        children = {str(i): v for i, v in enumerate(value)}
    elif type(value).__module__.startswith("evaluering") and hasattr(value, "__dict__"):
        children = vars(value)
    else:
        return []
    found = []
    for name, child in children.items():
        found += _identifier_paths(child, f"{path}.{name}", seen)
    return found


def _parquet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """The table with mixed-type text columns written as text (Parquet wants one type per column)."""
    frame = frame.reset_index(drop=True) if not isinstance(frame.index, pd.RangeIndex) else frame
    mixed = [c for c in frame.columns if frame[c].dtype == object
             and frame[c].dropna().map(type).nunique() > 1]
    return frame.astype({c: "string" for c in mixed}).rename(columns=str)


def write_store(folder: str | Path, key: str, meta: dict, reports: dict) -> None:
    """Keep ``reports`` (name -> report object without data) in ``folder``, replacing what was
    there only once everything is written.

    Each report may offer ``stored_tables()`` (name -> DataFrame) for the Parquet copies.
    """
    folder = Path(folder)
    for name, report in reports.items():
        found = _identifier_paths(report, name, set())
        if found:
            raise StoreError(f"{folder}: refusing to store identifiers: {'; '.join(found[:5])}")
    folder.parent.mkdir(parents=True, exist_ok=True)
    (folder.parent / "LAESMIG.txt").write_text(NOTICE, encoding="utf-8")
    work = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}."))
    try:
        entries = {}
        for name, report in reports.items():
            payload = pickle.dumps(report, protocol=pickle.HIGHEST_PROTOCOL)
            (work / f"{name}.pickle").write_bytes(payload)
            tables = report.stored_tables() if hasattr(report, "stored_tables") else {}
            for table, frame in tables.items():
                (work / "tables" / name).mkdir(parents=True, exist_ok=True)
                _parquet_safe(frame).to_parquet(work / "tables" / name / f"{table}.parquet", index=False)
            entries[name] = {"file": f"{name}.pickle", "sha256": hashlib.sha256(payload).hexdigest(),
                             "tables": sorted(tables)}
        manifest = {"key": key, "version": __version__, "created": datetime.now(UTC).isoformat(timespec="seconds"),
                    **meta, "reports": entries}
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2, ensure_ascii=False), encoding="utf-8")
        os.chmod(work, 0o755)
        old = folder.with_name(f".{folder.name}.old")
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            folder.rename(old)
        work.rename(folder)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


# --- reading ---------------------------------------------------------------------------------


def _manifest(folder: Path) -> dict | None:
    try:
        return json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def stored_names_for(folder: str | Path, key: str) -> set[str]:
    """The reports stored in ``folder`` for the inputs with ``key`` (empty for another key)."""
    manifest = _manifest(Path(folder))
    return set(manifest.get("reports", {})) if manifest and manifest.get("key") == key else set()


def read_report(folder: str | Path, name: str, key: str):
    """The stored report ``name``, or None when there is no store, it was built from other inputs
    (another key) or holds no such report. A damaged or altered file is an error.
    """
    folder = Path(folder)
    manifest = _manifest(folder)
    if manifest is None or manifest.get("key") != key or name not in manifest.get("reports", {}):
        return None
    entry = manifest["reports"][name]
    path = folder / entry["file"]
    try:
        payload = path.read_bytes()
    except OSError as exc:
        raise StoreError(f"{path}: cannot read the stored results ({exc})") from None
    if hashlib.sha256(payload).hexdigest() != entry["sha256"]:
        raise StoreError(f"{path}: the stored results were changed after they were written; run again")
    return pickle.loads(payload)


def stored_report(results: str | Path | None, name: str, params_file: str | Path, data_dir: str | Path, wave: int,
                  baseline: int):
    """The report ``name`` from the store ``results``, ready to draw in a notebook and naming the
    given input paths; None when no store is given or it holds no such report for these inputs.
    """
    if results is None:
        return None
    stored = read_report(results, name, results_key(params_file, data_dir, wave, baseline))
    if stored is None:
        return None
    record_figures_in_notebook()
    return without_data(stored, params_file=Path(params_file), data_dir=Path(data_dir))


@dataclasses.dataclass(frozen=True)
class ResultsStore:
    """A wave's stored results, for a researcher: ``ResultsStore.open("reports", 2024)``."""

    folder: Path
    manifest: dict

    @classmethod
    def open(cls, out_dir: str | Path, wave: int) -> ResultsStore:
        """The store of ``wave`` under the report folder ``out_dir``."""
        folder = store_folder(out_dir, wave)
        manifest = _manifest(folder)
        if manifest is None:
            raise StoreError(f"{folder}: no stored results (run `evaluering run` first)")
        return cls(folder, manifest)

    @property
    def reports(self) -> list[str]:
        """The names of the stored reports (district keys, ``monitoring``, ``area``)."""
        return list(self.manifest["reports"])

    def report(self, name: str):
        """A stored report: its sections draw as in the notebook, its results are its fields."""
        if name not in self.manifest["reports"]:
            raise StoreError(f"{self.folder}: no stored report '{name}' (stored: {', '.join(self.reports)})")
        return read_report(self.folder, name, self.manifest["key"])

    def table(self, name: str, table: str) -> pd.DataFrame:
        """One of a report's stored result tables."""
        path = self.folder / "tables" / name / f"{table}.parquet"
        if not path.is_file():
            raise StoreError(f"{path}: no such stored table")
        return pd.read_parquet(path)

    def _repr_html_(self) -> str:
        rows = "".join(f"<tr><td>{n}</td><td>{', '.join(e['tables'])}</td></tr>"
                       for n, e in self.manifest["reports"].items())
        return (f"<p>Resultater for bølge {self.manifest.get('wave')} ({self.manifest.get('created')})</p>"
                f"<table><tr><th>Rapport</th><th>Tabeller</th></tr>{rows}</table>")
