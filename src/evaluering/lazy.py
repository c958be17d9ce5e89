"""Packages whose public names load their submodule on first use (PEP 562).

A report drawn from stored results, or a notebook's worker process, then imports only what it
uses, not every estimator or the whole runner with their pandas, statsmodels and scipy.stats.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping

__all__ = ["lazy_exports"]


def lazy_exports(package: str, home: Mapping[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package``, whose public name ``n`` lives in the
    submodule ``home[n]``; a name once loaded is kept on the package.

    A name cannot be both lazy and its own submodule's name (``did.design_did`` the function in
    ``did/design_did.py``): importing the submodule directly (``from evaluering.did.design_did
    import ...``) binds the package's attribute to the module, and ``from evaluering.did import
    design_did`` would then give the module. Such a name is imported when the package is.
    """
    shadowed = sorted(name for name, module in home.items() if name == module)
    if shadowed:
        raise ValueError(f"{package}: {', '.join(shadowed)} would be shadowed by the submodule of the same "
                         "name; import it in the package's __init__ instead of exporting it lazily")

    def __getattr__(name: str) -> object:
        if name not in home:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f".{home[name]}", package), name)
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted([*vars(sys.modules[package]), *home])

    return __getattr__, __dir__
