"""Open an Optuna storage from one URL, the way users swap backends.

- ``sqlite:///studies/tfselect.db`` (default; path relative to the working directory,
  ``sqlite:////abs/path.db`` absolute): one machine; the parent folder is created and a long
  busy timeout lets several worker processes share the file without 'database is locked'.
- ``journal:///studies/search.log`` (same path convention): Optuna's JournalStorage on an
  append-only file with a lock file; robust for several processes on one machine.
- ``postgresql://user:pass@host/db`` (or ``postgresql+psycopg2://``, ``mysql://`` ...):
  any SQLAlchemy URL; the standard Optuna way to spread one study over several machines.

RDB storages get a heartbeat, so a trial whose process was killed (kill -9, power loss) is
marked FAIL by the next worker once it has been silent for ``grace_period`` seconds.
"""

from __future__ import annotations

import random
import time
import warnings
from pathlib import Path
from urllib.parse import quote, unquote

from tfselect.errors import TfselectError
from tfselect.redact import redact as _redact
from tfselect.redact import remember

# Imported inside the functions that need them, so that importing this module stays light:
# optuna.

# The storage of every command that takes --storage, when none is given.
DEFAULT_STORAGE = "sqlite:///studies/tfselect.db"
HEARTBEAT_S = 60
GRACE_PERIOD_S = 180
SQLITE_TIMEOUT_S = 600
CONNECT_TIMEOUT_S = 10
SCHEMA_RETRIES = 8


def _password(url: str) -> str | None:
    """The password part of ``scheme://user:password@host/...`` (as written), or None.

    The user info ends at the *last* ``@`` (a password may hold ``@``, ``:`` or ``/``).
    """
    if "://" not in url:
        return None
    rest = url.split("://", 1)[1]
    if "@" not in rest:
        return None
    userinfo = rest[: rest.rindex("@")]
    if ":" not in userinfo:
        return None
    return userinfo.split(":", 1)[1] or None


def redact(url: str) -> str:
    """The URL (or any text) with every credential replaced by ``***`` (safe to print)."""
    return _redact(url, url)


def _encode_password(url: str) -> str:
    """The URL with its password percent-encoded, so that a password holding ``@``, ``:`` or
    ``/`` reaches the driver whole (SQLAlchemy would split it at its first ``@``)."""
    pw = _password(url)
    if pw is None:
        return url
    scheme, rest = url.split("://", 1)
    at = rest.rindex("@")
    user = rest[:at].split(":", 1)[0]
    return f"{scheme}://{user}:{quote(unquote(pw), safe='')}@{rest[at + 1:]}"


def scrub(text: str, url: str | None = None) -> str:
    """``text`` with every credential (and any password of ``url``) replaced by ``***``."""
    return _redact(text, url)


def _local_path(url: str, scheme: str) -> Path:
    rest = url[len(scheme) + 3 :]  # after "scheme://"
    if not rest.startswith("/") or rest == "/":
        raise TfselectError(
            f"storage {redact(url)!r}: expected {scheme}:///relative/path or ////abs/path"
        )
    return Path(rest[1:])


def open_storage(url: str, create: bool = True):
    """Return an Optuna storage object for ``url``.

    ``create=False`` (commands that only read) refuses a SQLite or journal file that does
    not exist instead of creating an empty one.

    Raises:
        TfselectError: unknown scheme, a path that cannot be created, or a server that
            cannot be reached (one line; the password is never printed).
    """
    import optuna
    from optuna.storages import RDBStorage
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    if isinstance(url, str):
        remember(url)  # before any message: every later one masks its passwords too
    if not isinstance(url, str) or "://" not in url:
        raise TfselectError(
            f"storage {redact(str(url))!r}: not a URL (use sqlite:///path.db, "
            "journal:///path.log or postgresql://user@host/db)"
        )
    scheme = url.split("://", 1)[0].lower()
    shown = redact(url)
    new_file: Path | None = None  # a SQLite file this call creates: removed if it fails
    try:
        if scheme == "journal":
            path = _local_path(url, "journal")
            _must_exist(path, shown, create)
            _make_parent(path, shown)
            _check_journal(path, shown)
            return JournalStorage(JournalFileBackend(str(path)))
        engine_kwargs: dict = {}
        if scheme == "sqlite":
            path = _local_path(url, "sqlite")
            if str(path) in (":memory:", "") or "mode=memory" in url:
                # Each connection would see its own empty database and the study would
                # vanish with the process: refuse rather than run a search into nothing.
                raise TfselectError(
                    f"storage {shown}: an in-memory database does not keep the study; "
                    "use a file (sqlite:///studies/tfselect.db)"
                )
            _must_exist(path, shown, create)
            _make_parent(path, shown)
            new_file = None if path.exists() else path
            # sqlite3 waits this long for a lock instead of failing at once.
            engine_kwargs = {"connect_args": {"timeout": SQLITE_TIMEOUT_S}}
        if not scheme.startswith(("sqlite", "journal")):
            url = _encode_password(url)
        if scheme.startswith("postgresql"):
            if scheme == "postgresql":
                # SQLAlchemy 2.1 maps a bare postgresql:// to psycopg 3; the `postgres` extra
                # installs psycopg2, so name its driver explicitly.
                url = "postgresql+psycopg2://" + url.split("://", 1)[1]
            engine_kwargs = {
                "connect_args": {"connect_timeout": CONNECT_TIMEOUT_S},
                "pool_pre_ping": True,
            }
        elif not scheme.startswith(("sqlite", "mysql", "oracle", "mssql")):
            raise TfselectError(
                f"storage {shown}: unknown scheme {scheme!r} "
                "(use sqlite:///, journal:/// or postgresql://)"
            )
        for attempt in range(SCHEMA_RETRIES):
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    return RDBStorage(
                        url,
                        engine_kwargs=engine_kwargs,
                        heartbeat_interval=HEARTBEAT_S,
                        grace_period=GRACE_PERIOD_S,
                    )
            except Exception as exc:
                # Workers started together race to create the schema (tables, alembic
                # version row); the loser sees "UNIQUE constraint"/"already exists": retry.
                if attempt + 1 < SCHEMA_RETRIES and _schema_race(exc):
                    time.sleep(0.2 * (attempt + 1) + random.random() * 0.3)
                    continue
                raise
    except Exception as exc:  # driver errors vary: OperationalError, ImportError, OSError ...
        if new_file is not None and _disk_trouble(exc):  # no half database left behind
            for leftover in (new_file, Path(f"{new_file}-journal"), Path(f"{new_file}-wal")):
                leftover.unlink(missing_ok=True)
        if isinstance(exc, TfselectError):
            raise
        raise TfselectError(f"cannot open storage {shown}: {_first_line(exc, url)}") from None


def _check_journal(path: Path, shown: str) -> None:
    """Check every record is JSON, and drop a last record whose write was cut short.

    A full disk or a kill mid-write leaves the file without its final newline; the next
    append would glue a new record onto that half and spoil both, so the half is cut off,
    under the journal's own lock (appends take it too: none is in progress). A record that
    is not JSON anywhere else is a foreign or damaged file: one line naming the line.

    Raises:
        TfselectError: the file is not a journal (not UTF-8 JSON lines), or cannot be read.
    """
    import json

    from optuna.storages.journal import JournalFileSymlinkLock
    from optuna.storages.journal._file import get_lock_file

    if not path.is_file() or path.stat().st_size == 0:
        return
    try:
        with open(path, "rb") as fh:
            number = 0
            for number, line in enumerate(fh, start=1):
                if not line.endswith(b"\n") and line.startswith(b'{"op_code":'):
                    break  # the last record, cut short: dropped below
                try:
                    record = json.loads(line)
                except ValueError:  # JSONDecodeError, UnicodeDecodeError
                    record = None
                if not isinstance(record, dict) or "op_code" not in record:
                    raise TfselectError(
                        f"storage {shown}: line {number} of {path} is not a journal record "
                        "(a foreign or damaged file)"
                    )
            else:
                return
        with get_lock_file(JournalFileSymlinkLock(str(path))), open(path, "rb+") as fh:
            data = fh.read()  # again, under the lock: what a writer may have added since
            if not data.endswith(b"\n"):
                fh.truncate(data.rfind(b"\n") + 1)
    except OSError as exc:
        raise TfselectError(f"storage {shown}: cannot read {path}: {exc.strerror}") from None


def _disk_trouble(exc: BaseException) -> bool:
    """A full disk, size limit or I/O error: what leaves a half-made SQLite file (and no
    other worker's: a schema race or a bad URL never removes a file)."""
    from tfselect.diskerrors import disk_words

    return disk_words(exc) is not None or "disk i/o error" in str(exc).lower()


def _must_exist(path: Path, shown: str, create: bool) -> None:
    if not create and not path.is_file():
        raise TfselectError(f"storage {shown}: no such file {path} (run `tfselect search` first)")


def _make_parent(path: Path, shown: str) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TfselectError(
            f"storage {shown}: cannot create folder {path.parent}: {exc.strerror}"
        ) from None


def _schema_race(exc: BaseException) -> bool:
    text = str(exc).lower()
    return any(
        w in text
        for w in ("unique constraint", "already exists", "duplicate key", "database is locked")
    )


def _first_line(exc: BaseException, url: str | None = None) -> str:
    text = scrub(str(getattr(exc, "orig", None) or exc).strip(), url)
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]
