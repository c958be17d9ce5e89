"""Freed memory kept for reuse during a heavy step (glibc's malloc; elsewhere nothing changes).

A step on a city's register (load, prepare, one district's evaluation) allocates and frees
row-long arrays of tens of MB hundreds of times. glibc serves each one from fresh pages it maps
from the system and unmaps when the array is freed, so the kernel faults in and zeroes every page
again: at 10x about 0.5 M page faults and 1-2 s of system time in load + prepare + evaluate
(``benchmarks/scale.py``). Inside :func:`reused_memory` allocations come from the heap and freed
memory stays there for the next one; when the outermost step ends, the free memory is given back.

Measured at 10x (load + prepare + evaluate of one district): about 1.2 s faster, peak RSS 0.05-0.1
GB higher. Set ``EVALUERING_HEAP=default`` (or glibc's own ``GLIBC_TUNABLES``/``MALLOC_*``
variables) to leave the allocator as it is.
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

__all__ = ["reused_memory", "with_reused_memory"]

VARIABLE = "EVALUERING_HEAP"
M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3  # mallopt's parameters (malloc.h)
KEPT = 2**31 - 1  # no allocation mapped on its own, no free memory given back during the step
TOP_PAD = 256 * 2**20  # the heap grows in steps of 256 MB (address space; pages count once touched)
GLIBC_DEFAULT = 128 * 1024  # the three parameters' documented defaults

_lock = threading.Lock()
_depth = 0
F = TypeVar("F", bound=Callable)


def _glibc():
    """The C library when it is glibc and the environment leaves its allocator to us, else None."""
    if os.environ.get(VARIABLE, "") == "default" or "GLIBC_TUNABLES" in os.environ:
        return None
    if any(name.startswith("MALLOC_") for name in os.environ):
        return None
    return _glibc_library()


@functools.cache
def _glibc_library():
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def _set(libc, trim: int, top_pad: int, mmap: int) -> None:
    libc.mallopt(M_TRIM_THRESHOLD, trim)
    libc.mallopt(M_TOP_PAD, top_pad)
    libc.mallopt(M_MMAP_THRESHOLD, mmap)


@contextmanager
def reused_memory() -> Iterator[None]:
    """Within: freed memory is kept and reused. Nested steps share the outermost one's policy;
    its end restores glibc's defaults and gives the free memory back (``malloc_trim``).
    """
    global _depth
    libc = _glibc()
    if libc is None:
        yield
        return
    with _lock:
        _depth += 1
        if _depth == 1:
            _set(libc, KEPT, TOP_PAD, KEPT)
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0:
                _set(libc, GLIBC_DEFAULT, GLIBC_DEFAULT, GLIBC_DEFAULT)
                libc.malloc_trim(0)


def with_reused_memory(function: F) -> F:
    """``function`` run inside :func:`reused_memory`."""

    @functools.wraps(function)
    def wrapped(*args, **kwargs):
        with reused_memory():
            return function(*args, **kwargs)

    return wrapped  # type: ignore[return-value]
