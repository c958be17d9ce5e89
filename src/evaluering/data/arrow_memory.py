"""Which allocator Arrow uses for the register's buffers.

pyarrow's default allocator (mimalloc) hands freed pages back to the system and faults them in
again so often that, on the 2-core virtual machine the benchmarks run on, loading a city's register
(ten million person-years) spent 12-14 s in the kernel against 1.5-2 s with the C library's
allocator, and peaked 0.3 GB higher (``benchmarks/scale.py``, 10x). The system allocator is
therefore used unless ``ARROW_DEFAULT_MEMORY_POOL`` names another one.
"""

from __future__ import annotations

import os

import pyarrow

__all__ = ["use_system_allocator"]

POOL_VARIABLE = "ARROW_DEFAULT_MEMORY_POOL"  # Arrow's own setting; an explicit choice is respected


def use_system_allocator() -> None:
    """Make the C library's allocator Arrow's default pool (unless the environment chose one)."""
    if os.environ.get(POOL_VARIABLE, "system") == "system":
        pyarrow.set_memory_pool(pyarrow.system_memory_pool())
