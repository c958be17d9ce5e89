"""Arrow's dictionary encoding of a long text column, started while the next columns are read.

Factorising a city's ten million person ids takes about 1 s (``convert.code_text``). Arrow does it
without holding Python's lock, so ``io`` starts it in a background thread as soon as the column is
read and validation takes the result: the encoding runs while the other columns are read and
converted. A column without a started encoding is encoded when asked for.
"""

from __future__ import annotations

import os
import threading
import weakref
from concurrent.futures import Future, ThreadPoolExecutor

import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["dictionary_encoded", "start_encoding"]

BACKGROUND_ROWS = 1_000_000  # below this a thread costs about what it saves

_started: dict[int, tuple[weakref.ref, Future]] = {}
_lock = threading.Lock()


def start_encoding(column: pa.ChunkedArray) -> None:
    """Begin ``pc.dictionary_encode(column)`` in a background thread when ``column`` is long text
    in parts (a partitioned register's ids) and a second core is there to run it.
    """
    if not (isinstance(column, pa.ChunkedArray) and column.num_chunks >= 2 and len(column) >= BACKGROUND_ROWS
            and (pa.types.is_string(column.type) or pa.types.is_large_string(column.type))
            and _cores() >= 2):
        return
    pool = ThreadPoolExecutor(1, thread_name_prefix="evaluering-encoding")
    future = pool.submit(pc.dictionary_encode, column)
    pool.shutdown(wait=False)  # the thread ends with its one task
    key = id(column)
    with _lock:  # forgotten with the column, if no one asks for it
        _started[key] = (weakref.ref(column, lambda _: _forget(key)), future)


def dictionary_encoded(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """``pc.dictionary_encode(column)``, taken from the background when it was started for this column."""
    with _lock:
        found = _started.pop(id(column), None)
    if found is not None and found[0]() is column:
        return found[1].result()
    return pc.dictionary_encode(column)


def _cores() -> int:
    """The cores this process may run on (all of them where the system cannot say)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _forget(key: int) -> None:
    with _lock:
        _started.pop(key, None)
