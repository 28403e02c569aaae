"""A full disk, a size limit or a read-only file system, told in one line.

Standard library only: the CLI's error path and ``tfselect.__main__`` use it before (or
after) anything heavy is imported.

The error reaches us in many wrappings: an ``OSError`` with its errno (Python's own writes),
a ``RuntimeError`` whose text holds the C library's words (torch, safetensors' Rust
``StorageFull``), SQLite's "database or disk is full" inside SQLAlchemy and Optuna
exceptions. :func:`disk_error` looks through the whole chain (``__cause__``,
``__context__``, a driver's ``orig``) for either.
"""

from __future__ import annotations

import errno
import os
import re
import sys

# errno -> what the user reads
_WORDS = {
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EFBIG: "file too large (over the file size limit)",
    errno.EROFS: "read-only file system",
}
# the same, as libraries spell them in their own messages
_TEXTS = (
    (re.compile(r"no space left|storagefull|database or disk is full|os error 28", re.I),
     errno.ENOSPC),
    (re.compile(r"quota exceeded|os error 122", re.I), errno.EDQUOT),
    (re.compile(r"file too large|filetoolarge|os error 27", re.I), errno.EFBIG),
    (re.compile(r"read-only file system|readonlyfilesystem|os error 30", re.I), errno.EROFS),
)


def _chain(exc: BaseException):
    seen: set[int] = set()
    todo = [exc]
    while todo:
        e = todo.pop()
        if e is None or id(e) in seen or not isinstance(e, BaseException):
            continue
        seen.add(id(e))
        yield e
        todo += [e.__cause__, e.__context__, getattr(e, "orig", None)]


def disk_words(exc: BaseException) -> tuple[str, str | None] | None:
    """``(what happened, file name or None)`` for a full disk, quota, size limit or
    read-only file system anywhere in ``exc``'s chain, else None."""
    for e in _chain(exc):
        code = e.errno if isinstance(e, OSError) else None
        if code not in _WORDS:
            text = str(e)
            code = next((c for pattern, c in _TEXTS if pattern.search(text)), None)
        if code is not None:
            name = getattr(e, "filename", None)
            return _WORDS[code], str(name) if name is not None else None
    return None


def disk_error(exc: BaseException) -> str | None:
    """One line for a full disk, quota, size limit or read-only file system, else None.

    The line names the file when the error does (``OSError.filename``).
    """
    if (found := disk_words(exc)) is None:
        return None
    words, name = found
    return f"cannot write {name}: {words}" if name else f"cannot write: {words}"


def silence_stdout() -> None:
    """Point stdout at /dev/null, so that the interpreter's last flush of what could not be
    written (a full device, a closed pipe) does not print 'Exception ignored' at exit."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):  # no real stdout (a test runner's buffer)
        pass


def flush_stdout() -> int | None:
    """Flush stdout; on failure say why on stderr (one line) and return the exit status.

    A closed pipe (``tfselect best ... | head -0``) is the quiet exit of a pipeline, 141 as a
    shell reports a process ended by SIGPIPE; a full device is one line and status 2.
    """
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        silence_stdout()
        return 141
    except OSError as exc:
        silence_stdout()
        line = disk_error(exc) or f"cannot write: {exc.strerror or exc}"
        sys.stderr.write(f"tfselect: error: {line.replace('cannot write:', 'stdout:')}\n")
        return 2
    return None


def as_exit(exc: BaseException) -> tuple[int | None, str | None]:
    """How the CLI ends on ``exc``: ``(status, line to print or None)``; ``(None, None)`` if
    ``exc`` is none of these (a bug: the traceback is wanted).

    A closed stdout pipe: 141, nothing printed. A full disk, quota, size limit or read-only
    file system anywhere in the chain: 2 and one line. Any other OSError naming a file (a
    folder that cannot be read, a permission): 2 and one line.
    """
    if isinstance(exc, BrokenPipeError):
        silence_stdout()
        return 141, None
    if (line := disk_error(exc)) is not None:
        silence_stdout()  # stdout itself may be the full device
        return 2, line
    if isinstance(exc, OSError) and exc.filename is not None:
        return 2, f"{exc.filename}: {exc.strerror or exc}"
    return None, None
