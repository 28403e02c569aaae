"""A generated hostile table: each case is a command line (and the files it reads) that a
new user or an attacker might give. Every case must end in exit 0 with valid output, or in
one line ``tfselect: error: ...`` with exit 2; nothing is written outside the case's folder
and a refused command leaves nothing behind.

Each case runs in-process (typer's CliRunner) or, for what needs a real process (a size
limit, stdout on a full device), in a short subprocess; all are fast.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import cli_env, one_line_error
from typer.testing import CliRunner

from tfselect.cli import app

runner = CliRunner()
SECRET = "s3cr3tPW"

# ------------------------------------------------------------ credentials in any URL shape

URL_SHAPES = {
    "userinfo": f"postgresql+psycopg2://me:{SECRET}@127.0.0.1:1/db",
    "query-string": f"postgresql+psycopg2://me@127.0.0.1:1/db?password={SECRET}",
    "ssl-query": f"postgresql+psycopg2://me@127.0.0.1:1/db?sslpassword={SECRET}&x=1",
    "one-slash": f"postgresql:/me:{SECRET}@127.0.0.1:1/db",
    "no-slash": f"postgresql:me:{SECRET}@127.0.0.1:1/db",
    "no-scheme": f"me:{SECRET}@127.0.0.1:1/db",
    "journal": f"journal://me:{SECRET}@/studies/x.log",
    "sqlite": f"sqlite://me:{SECRET}@/studies/x.db",
    "at-in-password": f"mysql://me:{SECRET}@x:y/z@127.0.0.1:1/db",
    "unknown-scheme": f"redis://me:{SECRET}@127.0.0.1:1/0",
}


def _masked(url: str) -> str:
    """The expected redaction, written independently: the secret's span becomes ***."""
    i = url.index(SECRET)
    j = url.index("@127") if "@x:y" in url else i + len(SECRET)
    return url[:i] + "***" + url[j:]


@pytest.mark.parametrize("shape", sorted(URL_SHAPES))
def test_redact_masks_every_url_shape(shape):
    from tfselect.redact import redact

    url = URL_SHAPES[shape]
    assert redact(url) == _masked(url)
    assert redact(f"cannot open {url!r}: refused") == f"cannot open {_masked(url)!r}: refused"
    assert SECRET not in redact(f"dsn host=h user=me password={SECRET} dbname=x")


@pytest.mark.parametrize("text", ["sqlite:///studies/tfselect.db", "me@example.org at 12:30",
                                  "postgresql://me@h/db", "no study 'a:b' in the storage"])
def test_redact_leaves_text_without_credentials(text):
    from tfselect.redact import redact

    assert redact(text) == text


@pytest.mark.parametrize("command", ["best", "report", "search"])
@pytest.mark.parametrize("shape", sorted(URL_SHAPES))
def test_no_command_prints_a_password(tmp_path, monkeypatch, shape, command):
    monkeypatch.chdir(tmp_path)
    url = URL_SHAPES[shape]
    args = {"best": ["best", "--target", "bass"],
            "report": ["report", "--out", str(tmp_path / "r")],
            "search": ["search", "--target", "bass", "--trials", "1", "--quiet"]}[command]
    res = runner.invoke(app, [*args, "--storage", url])
    err = one_line_error(res)
    assert SECRET not in res.output and "3cr3" not in res.output, err
    assert not list(tmp_path.iterdir()), list(tmp_path.rglob("*"))


# ------------------------------------------- a full disk, a size limit, a read-only system

def _tfselect(args: list[str], cwd: Path, fsize: int | None = None, stdout=subprocess.PIPE):
    """Run the CLI in a fresh process (optionally under a file size limit, which makes every
    write past ``fsize`` bytes fail with EFBIG, as a full disk fails with ENOSPC)."""
    limit = ("import resource; resource.setrlimit(resource.RLIMIT_FSIZE, "
             f"({fsize}, {fsize}))\n" if fsize else "")
    code = f"{limit}import sys; sys.argv = ['tfselect'] + {args!r}\n" \
           "from tfselect.__main__ import main; main()"
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, env=cli_env(), stdout=stdout,
                          stderr=subprocess.PIPE, text=True, timeout=120)


def _assert_one_line(proc, *words: str) -> str:
    err = proc.stderr.strip()
    assert proc.returncode == 2, (proc.returncode, err)
    assert err.startswith("tfselect: error: ") and "\n" not in err, err
    for w in words:
        assert w in err, (w, err)
    return err


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full")
@pytest.mark.parametrize("args", [["config"], ["--help"], ["search", "--help"]])
def test_stdout_on_a_full_device_is_one_line(tmp_path, args):
    with open("/dev/full", "w") as full:
        proc = _tfselect(args, tmp_path, stdout=full)
    _assert_one_line(proc, "no space left on device")


def test_stdout_into_a_closed_pipe_is_quiet(tmp_path):
    read, write = os.pipe()
    os.close(read)  # nobody reads: every write is EPIPE
    with os.fdopen(write, "w") as pipe:
        proc = _tfselect(["config"], tmp_path, stdout=pipe)
    assert proc.returncode == 141 and proc.stderr == "", (proc.returncode, proc.stderr)


@pytest.mark.slow  # a fresh process that imports torch: about 10 s on shared cores
def test_journal_search_past_a_size_limit_is_one_line(tmp_path, demo_root, fsize=600):
    """The study's first records do not fit: one line; the record cut short is dropped by
    the next command, which then reads the journal as if the write had never begun."""
    args = ["search", "--target", "vocals", "--trials", "1", "--storage",
            "journal:///j.log", "--quiet", "--root", str(demo_root)]
    _assert_one_line(_tfselect(args, tmp_path, fsize=fsize), "file too large")
    log = tmp_path / "j.log"
    assert log.stat().st_size <= fsize
    res = runner.invoke(app, ["best", "--target", "vocals", "--storage", f"journal:///{log}"])
    one_line_error(res, "no ")  # no study, or no complete trial: never a JSON error
    assert log.read_bytes() == b"" or log.read_bytes().endswith(b"\n")


@pytest.mark.parametrize("error", [errno.ENOSPC, errno.EFBIG, errno.EROFS, errno.EDQUOT])
@pytest.mark.parametrize("wrap", ["oserror", "runtime-text", "chained"])
def test_atomic_write_names_the_file_on_a_full_disk(tmp_path, error, wrap):
    """Whatever the writer wraps the error in, one TfselectError naming the final file."""
    from tfselect.atomic import atomic_write
    from tfselect.errors import TfselectError

    def write(tmp: Path) -> None:
        tmp.write_bytes(b"half")
        exc = OSError(error, os.strerror(error), str(tmp))
        if wrap == "oserror":
            raise exc
        if wrap == "runtime-text":  # as torch or safetensors report it: only the words
            raise RuntimeError(f"writing failed: {os.strerror(error)} (os error {error})")
        raise RuntimeError("could not save") from exc

    target = tmp_path / "out" / "model.safetensors"
    with pytest.raises(TfselectError) as info:
        atomic_write(target, write)
    text = str(info.value)
    assert text.startswith(f"cannot write {target}: ") and "\n" not in text
    assert [p.name for p in (tmp_path / "out").iterdir()] == []  # no temporary file left


def test_cli_turns_a_wrapped_full_disk_into_one_line(monkeypatch):
    """An error raised deep inside a library (SQLite through SQLAlchemy) that holds the words
    'database or disk is full' is one line, exit 2."""
    import tfselect.report.best as best

    def full(*args, **kwargs):
        try:
            raise OSError("database or disk is full")
        except OSError as inner:
            raise RuntimeError("(sqlite3.OperationalError) see below") from inner

    monkeypatch.setattr(best, "best_choice", full)
    one_line_error(runner.invoke(app, ["best", "--target", "bass"]), "no space left")


# ------------------------------------------------------------- storages that are not ours

JOURNAL_HEAD = '{"op_code":0,"worker_id":"w","study_name":"s","directions":[1]}\n'


@pytest.mark.parametrize("content", [
    b"\x00\xff\xfe binary \x80\x81", "\ufeffnot json\n".encode("utf-16"),
    b'{"op_code":0}\n[1, 2]\n', (JOURNAL_HEAD + "not json\n" + JOURNAL_HEAD).encode(),
    b"id,spec\n1,stft\n",
])
@pytest.mark.parametrize("command", ["best", "search"])
def test_a_foreign_journal_is_refused_untouched(tmp_path, monkeypatch, content, command):
    monkeypatch.chdir(tmp_path)
    log = tmp_path / "x.log"
    log.write_bytes(content)
    args = {"best": ["best", "--target", "bass"],
            "search": ["search", "--target", "bass", "--trials", "1", "--quiet"]}[command]
    one_line_error(runner.invoke(app, [*args, "--storage", "journal:///x.log"]),
                   "not a journal record", "x.log")
    assert log.read_bytes() == content
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.log"]


def test_a_journal_record_cut_short_is_dropped(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "x.log").write_text(JOURNAL_HEAD + '{"op_code":4,"worker_id":"w","stu')
    res = runner.invoke(app, ["best", "--target", "bass", "--storage", "journal:///x.log"])
    one_line_error(res, "no study")
    assert (tmp_path / "x.log").read_text() == JOURNAL_HEAD
    assert json.loads(JOURNAL_HEAD)["op_code"] == 0


@pytest.mark.parametrize("content", [b"\x00" * 3000, b"SQLite format 3\x00" + b"\x01" * 200,
                                     b"hello\n"])
def test_a_foreign_sqlite_file_is_refused_untouched(tmp_path, monkeypatch, content):
    monkeypatch.chdir(tmp_path)
    db = tmp_path / "x.db"
    db.write_bytes(content)
    for args in (["best", "--target", "bass"],
                 ["search", "--target", "bass", "--trials", "1", "--quiet"]):
        one_line_error(runner.invoke(app, [*args, "--storage", "sqlite:///x.db"]))
        assert db.read_bytes() == content
        assert sorted(p.name for p in tmp_path.iterdir()) == ["x.db"]
