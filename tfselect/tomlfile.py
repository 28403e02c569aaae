"""Read a TOML file (a study configuration) with one-line errors: the one reader every layer
uses, so a missing, unreadable, non-UTF-8, malformed or too deeply nested file reads the
same everywhere (the limits are :mod:`tfselect.datafiles`')."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tfselect.datafiles import load_toml
from tfselect.errors import TfselectError


def read_toml(path: str | Path) -> dict[str, Any]:
    """The tables of the TOML file ``path``.

    Raises:
        TfselectError: one line naming the file: missing, unreadable, not UTF-8 text, too
            large or too deeply nested, or a TOML syntax error.
    """
    try:
        return load_toml(path)
    except TfselectError as exc:
        raise TfselectError(f"config {exc}") from None
