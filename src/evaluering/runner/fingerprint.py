"""Fingerprints of a run's inputs, so a re-run with unchanged inputs can skip rendering.

A report records the fingerprint of what it was built from in a ``<meta>`` tag. The fingerprint
covers the notebook, the parameter file, the input data (exactly the table files that are read,
found as validation finds them: see :func:`evaluering.hashing.data_hash`), the package's own code
and templates and the run's parameters: change any of them and the report is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path

from ..hashing import file_hash, source_hash
from .plan import RunSpec

__all__ = ["source_hash", "run_fingerprint", "stamp_fingerprint", "read_fingerprint"]

_META = re.compile(r'<meta name="evaluering-fingerprint" content="([0-9a-f]+)">')


def run_fingerprint(spec: RunSpec, data_digest: str) -> str:
    """Hash of everything the report of ``spec`` depends on (``data_digest``: see
    :func:`evaluering.hashing.data_hash`).
    """
    parts = {
        "notebook": file_hash(spec.notebook),
        "params": file_hash(Path(spec.parameters["params_file"])),
        "data": data_digest,
        "source": source_hash(),
        "parameters": spec.parameters,
    }
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


def stamp_fingerprint(html: str, fingerprint: str) -> str:
    """Record ``fingerprint`` in the report's head."""
    tag = f'<meta name="evaluering-fingerprint" content="{fingerprint}">'
    return html.replace("<head>", f"<head>\n{tag}", 1)


def read_fingerprint(report: Path) -> str | None:
    """The fingerprint a report was built from, or None (missing, unreadable or not stamped)."""
    try:
        with open(report, encoding="utf-8") as handle:
            head = handle.read(4096)
    except OSError:
        return None
    match = _META.search(head)
    return match.group(1) if match else None
