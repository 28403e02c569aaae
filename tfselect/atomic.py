"""Atomic file writes, shared by every layer (reports, score CSVs, checkpoints).

A file is written under a temporary name in its own folder, flushed to disk and renamed onto
its final name with ``os.replace``: readers never see half a file, and a run killed mid-write
leaves the previous version intact.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
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


def check_out_dir(out: Path) -> None:
    """Create the folder ``out`` and check it is writable, before any work is done.

    Raises:
        TfselectError: ``out`` is a file, or cannot be created or written (one line).
    """
    from tfselect.errors import TfselectError

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise TfselectError(f"--out {out} is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=out).close()
    except OSError as exc:
        raise TfselectError(f"--out {out}: cannot write there ({exc.strerror or exc})") from None


@contextlib.contextmanager
def staged_folder(out: str | Path, owned: Callable[[str], bool]) -> Iterator[Path]:
    """Build a folder aside and swap it in as a whole: readers see the old or the new one.

    Yields a temporary folder beside ``out``; when the block ends without error, the entries
    of the old ``out`` that ``owned`` does not claim (files a user keeps there) are moved
    into it, the old ``out`` is renamed away and the new one renamed onto ``out``. Between
    those two renames ``out`` is missing for an instant; it never holds a mix of two runs.
    On error the temporary folder is removed and ``out`` is left as it was.
    """
    from tfselect.errors import TfselectError

    out = Path(out)
    if out.exists() and not out.is_dir():
        raise TfselectError(f"--out {out} is a file, not a folder")
    if out.resolve() in (Path.cwd().resolve(), Path(out.resolve().anchor)):
        raise TfselectError(f"--out {out}: name a folder of its own, not the working directory")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    except OSError as exc:
        raise TfselectError(f"--out {out}: cannot write there ({exc.strerror or exc})") from None
    moved: list[str] = []
    old: Path | None = None
    try:
        yield stage
        os.chmod(stage, 0o755)  # mkdtemp makes it private; reports are meant to be shared
        if out.exists():
            for entry in out.iterdir():
                if not owned(entry.name) and not (stage / entry.name).exists():
                    os.rename(entry, stage / entry.name)
                    moved.append(entry.name)
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.rename(out, old / out.name)
        os.rename(stage, out)
    except BaseException:
        if old is not None and (old / out.name).exists() and not out.exists():
            os.rename(old / out.name, out)  # the old folder comes back whole
        for name in moved:  # the user's own files go back where they were
            with contextlib.suppress(OSError):
                os.rename(stage / name, out / name)
        raise
    finally:
        if stage.exists():
            shutil.rmtree(stage, ignore_errors=True)
        if old is not None and out.exists():  # never while it holds the only old copy
            shutil.rmtree(old, ignore_errors=True)
