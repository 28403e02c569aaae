"""Atomic file writes, shared by every layer (reports, score CSVs, checkpoints).

A file is written under a temporary name in its own folder, flushed to disk and renamed onto
its final name with ``os.replace``: readers never see half a file, and a run killed mid-write
leaves the previous version intact.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp_path)`` then move the temporary file onto ``path`` (created folders).

    The temporary file is removed if ``write`` fails; the file is made world-readable (0644),
    since reports and models are meant to be shared.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Keep the real suffix last: writers such as matplotlib infer the format from it.
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
    os.close(fd)
    try:
        write(Path(tmp))
        with open(tmp, "rb+") as fh:  # durable before the rename (a crash keeps old or new)
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
