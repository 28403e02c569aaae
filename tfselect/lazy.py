"""Package faces that import lazily: a name is loaded from its module when first used.

So ``import tfselect.report.best`` runs ``tfselect/report/__init__.py`` without loading
what the rest of the package needs (torch, optuna, matplotlib).
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, where: Mapping[str, str]) -> tuple[Callable[[str], Any],
                                                                     Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` whose names live in submodules.

    Args:
        package: the package's ``__name__``.
        where: exported name -> the submodule (relative, e.g. ``"score"``) that defines it.
    """
    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{where[name]}"), name)
        # Bound on the package, also over a submodule of the same name the import bound
        # (``metrics.score`` the function, not ``metrics/score.py``).
        setattr(sys.modules[package], name, value)
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *where})

    return __getattr__, __dir__
