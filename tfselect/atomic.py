"""Atomic file writes, shared by every layer (reports, score CSVs, checkpoints).

A file is written under a temporary name in its own folder, flushed to disk and renamed onto
its final name with ``os.replace``: readers never see half a file, and a run killed mid-write
leaves the previous version intact.
"""

from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from tfselect.diskerrors import disk_words
from tfselect.errors import TfselectError


def atomic_write(path: str | Path, write: Callable[[Path], object]) -> Path:
    """Call ``write(tmp_path)`` then move the temporary file onto ``path`` (created folders).

    The temporary file is removed if ``write`` fails; the file is made world-readable (0644),
    since reports and models are meant to be shared.

    Raises:
        TfselectError: the disk is full, a size limit or quota is reached, or the file
            system is read-only (one line naming ``path``).
    """
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Keep the real suffix last: writers such as matplotlib infer the format from it.
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent)
        os.close(fd)
        write(Path(tmp))
        with open(tmp, "rb+") as fh:  # durable before the rename (a crash keeps old or new)
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException as exc:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        # A full disk reaches us in the writer's own wrapping (torch, safetensors, pandas):
        # one line naming the file it was for, never the temporary name.
        if isinstance(exc, Exception) and (found := disk_words(exc)) is not None:
            raise TfselectError(f"cannot write {path}: {found[0]}") from None
        raise
    return path


def check_out_dir(out: Path) -> None:
    """Create the folder ``out`` and check it is writable, before any work is done.

    Raises:
        TfselectError: ``out`` is a file, or cannot be created or written (one line).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise TfselectError(f"--out {out} is a file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=out).close()
    except OSError as exc:
        raise TfselectError(f"--out {out}: cannot write there ({exc.strerror or exc})") from None


def write_csv_row(path: Path, row: Mapping[str, object]) -> None:
    """Write ``row`` as a CSV with a header line and one data line, atomically.

    Missing parent folders are created; an interrupted run leaves no partial output.

    Raises:
        TfselectError: the folder cannot be created or written.
    """
    path = Path(path)

    def write(tmp: Path) -> None:
        with open(tmp, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=list(row))
            writer.writeheader()
            writer.writerow(dict(row))

    try:
        atomic_write(path, write)
    except OSError as exc:
        raise TfselectError(f"cannot write {path}: {exc.strerror or exc}") from None


@contextlib.contextmanager
def staged_files(out: str | Path, manifest: str, overwrite: bool = False) -> Iterator[Path]:
    """Build a set of files aside, then move each into ``out``, touching nothing else there.

    Yields an empty folder inside ``out`` (same file system, so every move is one atomic
    rename); when the block ends without error, each file built there is renamed onto its
    name in ``out``, and the files the previous run listed in ``out/manifest`` that this run
    did not write are removed. ``out`` itself is never replaced: other files in it, its mode
    and a symlink to it stay as they were (a symlinked ``out`` is written through). An error
    before the moves (while building, or a user's file in the way) changes nothing in
    ``out``. The moves are a few renames, so a reader sees at most an instant's mix of two
    runs; the manifest is first widened to both runs' files, so even a kill mid-move leaves
    every file of either run known to the next one.

    Raises:
        TfselectError: ``out`` is a file or cannot be written; or, unless ``overwrite``, a
            file about to be written exists and no earlier run listed it (a user's own).
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise TfselectError(f"--out {out} is a file, not a folder")
    real = Path(os.path.realpath(out))  # a (dangling) symlink: its target, created if need be
    try:
        real.mkdir(parents=True, exist_ok=True)
        stage = Path(tempfile.mkdtemp(prefix=f"{Path(manifest).stem}.new-", dir=real))
    except OSError as exc:
        raise TfselectError(f"--out {out}: cannot write there ({exc.strerror or exc})") from None
    try:
        yield stage
        new = sorted(p.name for p in stage.iterdir())
        for name in new:
            if (real / name).is_dir() and not (real / name).is_symlink():
                raise TfselectError(f"--out {out}: {name} is a folder, not replaced")
        old = _listed(real / manifest)
        theirs = [n for n in new if n not in old and os.path.lexists(real / n)]
        if theirs and not overwrite:
            more = f" and {len(theirs) - 3} more" if len(theirs) > 3 else ""
            raise TfselectError(
                f"--out {out}: would replace {', '.join(theirs[:3])}{more}, not written by an "
                "earlier report (use --overwrite to replace them)"
            )
        _write_listing(real / manifest, sorted(old | set(new)))
        for name in new:
            os.replace(stage / name, real / name)
        for name in sorted(old - set(new)):
            if os.path.lexists(real / name) and not (real / name).is_dir():
                (real / name).unlink()
        _write_listing(real / manifest, new)
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _listed(path: Path) -> set[str]:
    """File names a manifest lists; none if it is missing or unreadable.

    Only plain names in the folder count: the file is the user's to edit, and an entry such
    as ``../x`` must never make a later run remove something outside the folder.
    """
    try:
        files = json.loads(path.read_text())["files"]
    except (OSError, ValueError, KeyError, TypeError):
        return set()
    if not isinstance(files, list):
        return set()
    return {f for f in files if isinstance(f, str) and f == Path(f).name and f not in
            ("", "..", path.name)}  # fmt: skip


def _write_listing(path: Path, files: list[str]) -> None:
    """Write the manifest ``{"files": [...]}`` atomically."""
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps({"files": files}, indent=1) + "\n"))
