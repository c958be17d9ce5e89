"""Finding and reading the table files of a municipality's data directory.

Each table is one file, ``<table>.parquet``, ``<table>.csv`` or ``<table>.sav``. Reading is
deliberately dumb: CSV comes back as text (so ids keep their leading zeros), Parquet and SPSS with
their stored types. Turning values into the contract's types is the job of ``validate``.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow
import pyreadstat

__all__ = ["SUFFIXES", "InputFileError", "find_table_file", "read_raw"]

SUFFIXES = (".parquet", ".csv", ".sav")

FORMAT_NAMES = {".parquet": "a Parquet", ".csv": "a CSV", ".sav": "an SPSS"}

_READ_ERRORS = (
    OSError,
    ValueError,  # includes UnicodeDecodeError, pandas' ParserError/EmptyDataError, ArrowInvalid
    pyarrow.ArrowException,
    pyreadstat.ReadstatError,
    pyreadstat.PyreadstatError,
)


class InputFileError(ValueError):
    """A table file cannot be found unambiguously or cannot be read; the message names the file."""

    def __init__(self, file: str, reason: str) -> None:
        super().__init__(f"{file}: {reason}")
        self.file = file
        self.reason = reason


def find_table_file(directory: str | Path, table_name: str) -> Path | None:
    """The file holding ``table_name`` in ``directory``, or None if there is none.

    The suffix is matched case-insensitively (``register.CSV`` is found too). Two files for the
    same table (say ``survey.csv`` and ``survey.sav``) raise InputFileError: guessing which one is
    current could silently evaluate old data.
    """
    directory = Path(directory)
    wanted = {f"{table_name}{suffix}" for suffix in SUFFIXES}
    found = sorted(p for p in directory.iterdir() if p.is_file() and p.name.lower() in wanted)
    if len(found) > 1:
        names = " and ".join(p.name for p in found)
        raise InputFileError(names, f"two files for table '{table_name}'; keep only one of them")
    return found[0] if found else None


def read_raw(path: str | Path) -> pd.DataFrame:
    """Read one table file without converting values to the contract's types.

    CSV files are read as text with empty cells as missing; a semicolon-separated file (as Danish
    Excel writes it) is recognised and marked with ``attrs['decimal'] = ','`` so that numbers are
    later parsed with a decimal comma. SPSS files give the numeric codes, not the value labels.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in FORMAT_NAMES:
        raise InputFileError(path.name, f"unknown file type; use {', '.join(SUFFIXES)}")
    try:
        if suffix == ".parquet":
            frame = pd.read_parquet(path, engine="pyarrow")
        elif suffix == ".csv":
            frame = _read_csv(path)
        else:
            frame, _meta = pyreadstat.read_sav(str(path), apply_value_formats=False)
    except UnicodeDecodeError as exc:
        raise InputFileError(
            path.name,
            f"not UTF-8 text (first bad byte at position {exc.start}); "
            "in Excel use 'Save as' > 'CSV UTF-8 (comma delimited)'",
        ) from None
    except pd.errors.EmptyDataError:
        raise InputFileError(path.name, "the file is empty (not even a header row)") from None
    except _READ_ERRORS as exc:
        raise InputFileError(path.name, f"cannot be read as {FORMAT_NAMES[suffix]} file: {str(exc).strip()}") from None
    if not isinstance(frame.index, pd.RangeIndex):  # a pandas index stored in Parquet is data too
        frame = frame.reset_index()
    frame.columns = [str(c).strip() for c in frame.columns]
    return frame.reset_index(drop=True)


def _csv_decimal(path: Path) -> str:
    """'.' for a comma-separated file, ',' for a semicolon-separated one (Danish Excel)."""
    with open(path, "rb") as handle:
        header = handle.readline().decode("utf-8-sig", errors="replace")
    return "," if header.count(";") > header.count(",") else "."


def _read_csv(path: Path) -> pd.DataFrame:
    """Read a CSV file as text; only empty cells count as missing (not 'NA', 'null', ...)."""
    decimal = _csv_decimal(path)
    frame = pd.read_csv(
        path,
        sep=";" if decimal == "," else ",",
        dtype=str,
        keep_default_na=False,
        na_values=[""],
        encoding="utf-8-sig",  # Excel's "CSV UTF-8" starts with a byte-order mark
    )
    frame.attrs["decimal"] = decimal
    return frame
