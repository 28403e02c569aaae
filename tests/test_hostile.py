"""A generated hostile table: each case is a command line (and the files it reads) that a
new user or an attacker might give. Every case must end in exit 0 with valid output, or in
one line ``tfselect: error: ...`` with exit 2; nothing is written outside the case's folder
and a refused command leaves nothing behind.

Each case runs in-process (typer's CliRunner) or, for what needs a real process (a size
limit, stdout on a full device), in a short subprocess; all are fast.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from conftest import one_line_error
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
