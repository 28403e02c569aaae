"""Package faces that import lazily: a name is loaded from its module when first used.

So ``import tfselect.report.best`` runs ``tfselect/report/__init__.py`` without loading
what the rest of the package needs (torch, optuna, matplotlib).
"""

from __future__ import annotations

import importlib
import sys
import types
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(package: str, where: Mapping[str, str]) -> tuple[Callable[[str], Any],
                                                                     Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for ``package`` whose names live in submodules.

    A name that is also the name of its submodule (``metrics.score``, the function in
    ``metrics/score.py``) stays the name: the import system binds the submodule on the
    package whenever it is first imported (``from tfselect.metrics.score import ...``),
    which would hide the function from a later ``from tfselect.metrics import score``.

    Args:
        package: the package's ``__name__``.
        where: exported name -> the submodule (relative, e.g. ``"score"``) that defines it.
    """

    def load(name: str) -> Any:
        return getattr(importlib.import_module(f"{package}.{where[name]}"), name)

    shadowed = {name for name, module in where.items() if name == module}
    if shadowed:
        replaced: dict[str, Any] = {}  # what a caller set (a test's stand-in), not a module

        def setter(name: str) -> Callable[[Any, Any], None]:
            def set_(self: Any, value: Any) -> None:
                if not isinstance(value, types.ModuleType):  # the import system's binding
                    replaced[name] = value

            return set_

        # A property of the module's class wins over what the import system sets.
        props = {n: property(lambda self, n=n: replaced[n] if n in replaced else load(n),
                             setter(n)) for n in shadowed}  # fmt: skip
        sys.modules[package].__class__ = type("LazyPackage", (types.ModuleType,), props)

    def __getattr__(name: str) -> Any:
        if name not in where:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = load(name)
        setattr(sys.modules[package], name, value)  # found directly from now on
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *where})

    return __getattr__, __dir__
