"""Files read from disk that someone else may have written: one reader with limits.

Study TOMLs, ``best.csv``, MoisesDB ``data.json``, Slakh ``metadata.yaml``: each is read
through here, so that whatever the file holds (not UTF-8, UTF-16, binary, a huge field, a
short row, arrays nested 100 000 deep) the answer is one line naming the file (and the row
or field), never a traceback, a RecursionError or a gigabyte read into memory.

Limits (generous for real files, small enough for any machine):

- ``MAX_BYTES``: 16 MiB of text per file;
- ``MAX_DEPTH``: 32 levels of nested tables, lists or mappings;
- ``MAX_FIELD``: 64 KiB per CSV field (a spec is well under 1 KiB).
"""

from __future__ import annotations

import csv
import json
import re
import sys
from itertools import accumulate
from pathlib import Path
from typing import Any

from tfselect.errors import TfselectError

MAX_BYTES = 16 * 2**20
MAX_DEPTH = 32
MAX_FIELD = 64 * 2**10


def read_text(path: str | Path, error: type[TfselectError] = TfselectError,
              max_bytes: int = MAX_BYTES) -> str:
    """The UTF-8 text of ``path`` (a leading byte-order mark dropped).

    Raises:
        ``error``: missing, a folder, unreadable, over ``max_bytes``, binary (NUL bytes), or
            not UTF-8 (UTF-16 included); one line naming the file.
    """
    p = Path(path)
    try:
        with p.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise error(f"{p}: no such file") from None
    except OSError as exc:
        raise error(f"{p}: cannot read it ({exc.strerror})") from None
    if len(data) > max_bytes:
        raise error(f"{p}: larger than {max_bytes // 2**20} MiB, not a file tfselect reads")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise error(f"{p}: UTF-16 text; save it as UTF-8")
    if (nul := data.find(b"\x00")) >= 0:
        raise error(f"{p}: binary data (a NUL byte at {nul}), not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise error(f"{p}: not UTF-8 text (byte {exc.start})") from None


def check_depth(value: Any, path: str | Path, error: type[TfselectError] = TfselectError,
                limit: int = MAX_DEPTH) -> Any:
    """``value`` unchanged if its tables/lists nest at most ``limit`` deep (iterative).

    Raises:
        ``error``: deeper than ``limit``, naming the file and the key path where it is.
    """
    todo: list[tuple[Any, int, str]] = [(value, 0, "")]
    while todo:
        v, depth, where = todo.pop()
        if depth > limit:
            raise error(f"{path}: nested more than {limit} levels deep (at {where or 'top'})")
        if isinstance(v, dict):
            todo += [(x, depth + 1, f"{where}.{k}" if where else str(k)) for k, x in v.items()]
        elif isinstance(v, list | tuple):
            todo += [(x, depth + 1, f"{where}[{i}]") for i, x in enumerate(v)]
    return value


def _bracket_depth(text: str) -> int:
    """The deepest nesting of ``[`` and ``{`` in ``text`` (strings not told apart): a quick
    upper bound, so that a file nested 100 000 deep is refused before a parser recurses
    through it for seconds."""
    only = re.sub(r"[^\[\]{}]+", "", text)
    return max(accumulate(1 if c in "[{" else -1 for c in only), default=0)


def _parsed(parse, text: str, path: Path, kind: str, error: type[TfselectError]) -> Any:
    """``parse(text)``, its errors and a RecursionError as one line; depth checked."""
    if _bracket_depth(text) > 10 * MAX_DEPTH:  # far beyond: no need to parse to be sure
        raise error(f"{path}: nested more than {MAX_DEPTH} levels deep")
    try:
        value = parse(text)
    except RecursionError:
        raise error(f"{path}: nested more than {MAX_DEPTH} levels deep") from None
    except Exception as exc:  # each parser has its own error class; all are one line here
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if kind == "TOML":  # the wording every study TOML error has had
            raise error(f"{path}: TOML syntax error: {first[:200]}") from None
        raise error(f"{path}: not valid {kind} ({first[:200]})") from None
    return check_depth(value, path, error)


def load_json(path: str | Path, error: type[TfselectError] = TfselectError) -> Any:
    """The JSON value in ``path`` (limits above). Raises ``error`` in one line."""
    p = Path(path)
    return _parsed(json.loads, read_text(p, error), p, "JSON", error)


def load_yaml(path: str | Path, error: type[TfselectError] = TfselectError) -> Any:
    """The YAML document in ``path`` (safe loader; limits above). Raises ``error``."""
    import yaml

    p = Path(path)
    return _parsed(yaml.safe_load, read_text(p, error), p, "YAML", error)


def load_toml(path: str | Path, error: type[TfselectError] = TfselectError) -> dict[str, Any]:
    """The tables of the TOML file ``path`` (limits above). Raises ``error``."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib

    p = Path(path)
    return _parsed(tomllib.loads, read_text(p, error), p, "TOML", error)


def read_csv(path: str | Path, required: tuple[str, ...] = (), kind: str = "",
             error: type[TfselectError] = TfselectError) -> tuple[list[str], list[dict[str, str]]]:
    """``(header, rows)`` of a CSV file whose every row has the header's number of fields.

    ``kind`` names what the file should be in the error for a missing column ("best.csv").

    Raises:
        ``error``: the text's problems (:func:`read_text`), a malformed CSV, a field over
            ``MAX_FIELD`` characters, a required column missing, or a row with too few or
            too many fields (naming its line).
    """
    p = Path(path)
    text = read_text(p, error)
    lines = text.splitlines(keepends=True)
    reader = csv.reader(lines, strict=True)
    previous = csv.field_size_limit(MAX_FIELD)
    try:
        header = next(reader, None)
        if not header:
            raise error(f"{p}: empty, no header line")
        missing = [c for c in required if c not in header]
        if missing:
            raise error(f"{p}: not a {kind} (no column {missing[0]!r})" if kind
                        else f"{p}: no column {missing[0]!r}")
        rows = []
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                raise error(f"{p}: line {reader.line_num} has {len(row)} fields, the header "
                            f"{len(header)}")
            rows.append(dict(zip(header, row, strict=True)))
    except csv.Error as exc:
        raise error(f"{p}: line {reader.line_num}: not valid CSV ({exc})") from None
    finally:
        csv.field_size_limit(previous)
    return header, rows
