"""Read a TOML file (a study configuration) with one-line errors: the one reader every layer
uses, so a missing, unreadable, non-UTF-8 or malformed file reads the same everywhere."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from tfselect.errors import TfselectError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib


def read_toml(path: str | Path) -> dict[str, Any]:
    """The tables of the TOML file ``path``.

    Raises:
        TfselectError: one line naming the file: missing, unreadable, not UTF-8 text, or a
            TOML syntax error.
    """
    p = Path(path)
    try:
        return tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TfselectError(f"config {p}: no such file") from None
    except IsADirectoryError:
        raise TfselectError(f"config {p}: is a folder, not a file") from None
    except OSError as exc:
        raise TfselectError(f"config {p}: cannot read it ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise TfselectError(f"config {p}: not UTF-8 text (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise TfselectError(f"config {p}: TOML syntax error: {exc}") from None
