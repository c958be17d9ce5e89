"""Finding and reading the table files of a municipality's data directory.

Each table is one file, ``<table>.parquet``, ``<table>.csv`` or ``<table>.sav``; the register
may instead be a directory ``register/`` of Parquet files partitioned by year (Hive style,
``register/year=2024/part-0.parquet``), as a national register is delivered. Reading is
deliberately dumb: CSV comes back as text (so ids keep their leading zeros), Parquet and SPSS with
their stored types. Turning values into the contract's types is the job of ``convert``.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
import pyarrow
import pyarrow.parquet

from ..errors import EvalueringError
from .arrow_memory import use_system_allocator

__all__ = ["PARTITIONED_TABLES", "SUFFIXES", "InputFileError", "find_table_file", "partition_files", "read_raw",
           "stray_entries", "table_files"]

SUFFIXES = (".parquet", ".csv", ".sav")
PARTITIONED_TABLES = ("register",)  # tables that may be a directory of Parquet files partitioned by year

FORMAT_NAMES = {".parquet": "a Parquet", ".csv": "a CSV", ".sav": "an SPSS"}

use_system_allocator()  # before any table is read: see arrow_memory



def _read_errors() -> tuple[type[BaseException], ...]:
    """The errors that mean a file cannot be read; pyreadstat's once it is loaded (for a .sav file
    only: it takes 0.15 s to import, paid by every report otherwise).
    """
    readstat = sys.modules.get("pyreadstat")
    spss = (readstat.ReadstatError, readstat.PyreadstatError) if readstat is not None else ()
    # ValueError includes UnicodeDecodeError, pandas' ParserError/EmptyDataError and ArrowInvalid
    return (OSError, ValueError, pyarrow.ArrowException, *spss)


class InputFileError(EvalueringError, ValueError):
    """A table file cannot be found unambiguously or cannot be read; the message names the file."""

    def __init__(self, file: str, reason: str) -> None:
        super().__init__(f"{file}: {reason}")
        self.file = file
        self.reason = reason


def _entry_kind(path: Path) -> str | None:
    """Why a folder entry cannot be a table file ('a folder', 'a broken link', ...), or None if it can."""
    if path.is_file():
        return None
    if path.is_symlink() and not path.exists():
        return "a link to a file that does not exist"
    return "a folder, not a file" if path.is_dir() else "not a regular file"


def partition_files(path: Path) -> list[Path]:
    """The Parquet files of a partitioned table directory, in a fixed order (hidden files left out)."""
    return sorted(p for p in path.rglob("*.parquet")
                  if p.is_file() and not any(part.startswith((".", "_")) for part in p.relative_to(path).parts))


def find_table_file(directory: str | Path, table_name: str) -> Path | None:
    """The file holding ``table_name`` in ``directory`` (for the register, possibly a directory of
    Parquet files partitioned by year), or None if there is none.

    The suffix is matched case-insensitively (``register.CSV`` is found too). Two files for the
    same table (say ``survey.csv`` and ``survey.sav``, or ``register.parquet`` and ``register/``)
    raise InputFileError: guessing which one is current could silently evaluate old data. So does
    an entry with a table's name that is not a readable file (a folder ``register.parquet/``, a
    broken link, a ``register/`` without Parquet files).
    """
    directory = Path(directory)
    wanted = {f"{table_name}{suffix}" for suffix in SUFFIXES}
    partitioned = table_name in PARTITIONED_TABLES
    found = sorted(p for p in directory.iterdir()
                   if p.name.lower() in wanted or (partitioned and p.name.lower() == table_name and p.is_dir()))
    for path in found:
        if path.is_dir() and path.name.lower() == table_name:
            if not partition_files(path):
                raise InputFileError(f"{path.name}/", f"holds no Parquet files; table '{table_name}' as a folder "
                                     "must hold its parts, e.g. year=2024/part-0.parquet")
            continue
        kind = _entry_kind(path)
        if kind is not None:
            raise InputFileError(path.name, f"is {kind}; table '{table_name}' must be one readable file")
    if len(found) > 1:
        names = " and ".join(p.name for p in found)
        raise InputFileError(names, f"two files for table '{table_name}'; keep only one of them")
    return found[0] if found else None


def table_files(directory: str | Path, table_names: tuple[str, ...]) -> dict[str, Path]:
    """The file of each table that has one (exactly the files validation and the analysis read)."""
    found = {name: find_table_file(directory, name) for name in table_names}
    return {name: path for name, path in found.items() if path is not None}


def stray_entries(directory: str | Path, table_names: tuple[str, ...]) -> list[tuple[str, str]]:
    """Entries with a table file's suffix that are not read: (name, why), e.g. ``register_old.parquet``.

    Only these suffixes are looked at; other files (README, truth.json) are clearly not tables.
    """
    names = {f"{t}{s}" for t in table_names for s in SUFFIXES}
    stray = []
    for path in sorted(Path(directory).iterdir()):
        if path.suffix.lower() not in SUFFIXES or path.name.lower() in names:
            continue
        kind = _entry_kind(path)
        stray.append((path.name, f"is {kind}" if kind else "is not one of the tables"))
    return stray


def read_raw(path: str | Path, dictionaries: Sequence[str] = ()) -> pd.DataFrame:
    """Read one table file without converting values to the contract's types.

    CSV files are read as text with empty cells as missing; a semicolon-separated file (as Danish
    Excel writes it) is recognised and marked with ``attrs['decimal'] = ','`` so that numbers are
    later parsed with a decimal comma. SPSS files give the numeric codes, not the value labels.
    Parquet text columns named in ``dictionaries`` are read as dictionaries (pandas categoricals):
    a register's area and background codes without ten million strings.
    """
    path = Path(path)
    if path.is_dir():
        return _read_partitioned(path, dictionaries)
    suffix = path.suffix.lower()
    if suffix not in FORMAT_NAMES:
        raise InputFileError(path.name, f"unknown file type; use {', '.join(SUFFIXES)}")
    try:
        if suffix == ".parquet":
            frame = _read_parquet(path, dictionaries)
        elif suffix == ".csv":
            frame = _read_csv(path)
        else:
            import pyreadstat

            frame, _meta = pyreadstat.read_sav(str(path), apply_value_formats=False)
    except InputFileError:
        raise
    except UnicodeDecodeError as exc:
        raise InputFileError(
            path.name,
            f"not UTF-8 text (first bad byte at position {exc.start}); "
            "in Excel use 'Save as' > 'CSV UTF-8 (comma delimited)'",
        ) from None
    except pd.errors.EmptyDataError:
        raise InputFileError(path.name, "the file is empty (not even a header row)") from None
    except _read_errors() as exc:
        raise InputFileError(path.name, f"cannot be read as {FORMAT_NAMES[suffix]} file: {str(exc).strip()}") from None
    if not isinstance(frame.index, pd.RangeIndex):  # a pandas index stored in Parquet is data too
        frame = frame.reset_index()
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame.reset_index(drop=True)


def _read_parquet(path: Path, dictionaries: Sequence[str] = ()) -> pd.DataFrame:
    """One Parquet file, column by column; a file that stores a pandas index goes through pandas,
    which restores it.
    """
    schema = pyarrow.parquet.read_schema(path)
    stored_index = (schema.pandas_metadata or {}).get("index_columns", [])
    if any(isinstance(column, str) for column in stored_index):
        return pd.read_parquet(path, engine="pyarrow")
    if len(set(schema.names)) < len(schema.names):  # a name twice cannot be read by name: read it whole
        return pyarrow.parquet.ParquetFile(path).read().to_pandas()
    return _frame_by_column(schema.names, lambda name: pyarrow.parquet.read_table(
        path, columns=[name], read_dictionary=[name] if name in dictionaries else None).column(0))


def _frame_by_column(names: list[str], read_column) -> pd.DataFrame:
    """A frame of the columns ``read_column(name)`` gives, read and converted one at a time, so that
    a city's register is never held twice (as Arrow and as pandas) but one column at a time.

    A column's Arrow buffers are freed once copied, and the next column's reuse that memory; it is
    given back to the system once, at the end (giving it back after every column made each column's
    buffers fresh pages again: about 0.4 s of page faults for a city's register).
    """
    columns = {name: _column_to_pandas(read_column(name)) for name in names}
    pyarrow.default_memory_pool().release_unused()
    return pd.DataFrame(columns, copy=False)


def _column_to_pandas(column: pyarrow.ChunkedArray) -> pd.Series:
    """One Arrow column in pandas, without a copy where possible (text stays in Arrow's buffers).

    Booleans with missing values become pandas ``boolean`` rather than Python objects (ten million
    of them for a city's register).
    """
    if pyarrow.types.is_boolean(column.type) and column.null_count:
        return pd.Series(pd.BooleanDtype().__from_arrow__(column), copy=False)
    return column.to_pandas()


def _read_partitioned(path: Path, dictionaries: Sequence[str] = ()) -> pd.DataFrame:
    """A table delivered as a directory of Parquet files partitioned by year (``year=2024/``): the
    year comes from the folder's name, or from the files when they keep their ``year`` column too.
    Read column by column, as :func:`_read_parquet`.
    """
    import pyarrow.dataset as ds

    by_year = ds.partitioning(pyarrow.schema([("year", pyarrow.int64())]), flavor="hive")
    try:
        _check_kept_years(path)
        dataset = ds.dataset(partition_files(path), format=ds.ParquetFileFormat(dictionary_columns=dictionaries),
                             partitioning=by_year, partition_base_dir=str(path))
        names = dataset.schema.names
        if len(set(names)) < len(names):
            frame = dataset.to_table().to_pandas()
        else:
            frame = _frame_by_column(names, lambda name: dataset.to_table(columns=[name]).column(0))
    except _read_errors() as exc:
        raise InputFileError(f"{path.name}/", f"cannot be read as Parquet files: {str(exc).strip()}") from None
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame


def _check_kept_years(path: Path) -> None:
    """A part that keeps its ``year`` column must agree with its folder ``year=YYYY``: otherwise the
    folder's year would silently relabel a part filed under the wrong year.
    """
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    for part in partition_files(path):
        folder = next((p.split("=", 1)[1] for p in part.relative_to(path).parts if p.startswith("year=")), None)
        if folder is None or "year" not in pq.ParquetFile(part).schema_arrow.names:
            continue
        kept = {str(v) for v in pc.unique(pq.read_table(part, columns=["year"]).column("year")).to_pylist()}
        if kept - {folder}:
            raise InputFileError(f"{path.name}/{part.relative_to(path).as_posix()}",
                                 f"is filed under year={folder} but its year column holds {', '.join(sorted(kept))}")


def _csv_decimal(path: Path) -> str:
    """'.' for a comma-separated file, ',' for a semicolon-separated one (Danish Excel)."""
    with open(path, "rb") as handle:
        header = handle.readline().decode("utf-8-sig", errors="replace")
    return "," if header.count(";") > header.count(",") else "."


_FIELD_COUNT = re.compile(r"Expected (\d+) fields in line (\d+), saw (\d+)")


def _read_csv(path: Path) -> pd.DataFrame:
    """Read a CSV file as text; only empty cells count as missing (not 'NA', 'null', ...).

    The header is read as a row like the others, so that a row with more fields than the header
    is an error naming its line (pandas would otherwise turn the surplus of a first data row into
    an index and shift every column).
    """
    decimal = _csv_decimal(path)
    try:
        rows = pd.read_csv(
            path,
            sep=";" if decimal == "," else ",",
            header=None,
            dtype=str,
            keep_default_na=False,
            na_values=[""],
            encoding="utf-8-sig",  # Excel's "CSV UTF-8" starts with a byte-order mark
        )
    except pd.errors.ParserError as exc:
        match = _FIELD_COUNT.search(str(exc))
        if match is None:
            raise
        header, line, seen = match.groups()
        raise InputFileError(
            path.name,
            f"line {line} (data row {int(line) - 1}) has {seen} fields but the header has {header}; "
            "a value that contains the separator must be in double quotes",
        ) from None
    names = ["" if pd.isna(v) else str(v) for v in rows.iloc[0]] if len(rows) else []
    frame = rows.iloc[1:].set_axis(names, axis=1).reset_index(drop=True)
    frame.attrs["decimal"] = decimal
    return frame
