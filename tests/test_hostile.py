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


# ------------------------------------------------------- tensors that come out empty

def test_an_all_silent_batch_gives_no_de_overlap_rows():
    """A batch of silent clips has nothing to learn: zero rows of the same widths as a loud
    batch's, which add nothing to the fit's statistics (instead of an IndexError)."""
    import torch

    from tfselect.demix.deoverlap import DeOverlapConfig, DeOverlapNet, patches

    net = DeOverlapNet(DeOverlapConfig("slicqt:scale=bark,bins=24,fmin=60,fmax=22050"))
    loud = patches(net, net.transform(torch.randn(1, 2, 44100)))
    silent = patches(net, net.transform(torch.zeros(1, 2, 44100)))
    assert silent.keys() == loud.keys() and loud
    for i, (X, Y) in silent.items():
        assert X.shape == (0, loud[i][0].shape[1]) and Y.shape == (0, loud[i][1].shape[1])
        assert not (X.T @ X).any() and not (X.T @ Y).any()


# ------------------------------------------ the table: values and files that must be refused

def _tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


BEST_HEADER = "target,objective,candidate,spec,value,selected\n"
BEST_ROW = 'vocals,mpi,best,"stft:n_fft=1024,hop=256",1.0,true\n'
# best.csv contents a user may hand to train-best / verify: each refused in one line
BAD_BEST = {
    "latin-1": (BEST_HEADER + BEST_ROW.replace("best", "b\xe9st")).encode("latin-1"),
    "utf-16": (BEST_HEADER + BEST_ROW).encode("utf-16"),
    "binary": b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR",
    "short-row": (BEST_HEADER + "vocals,mpi,best\n").encode(),
    "long-row": (BEST_HEADER + BEST_ROW.replace("true", "true,extra")).encode(),
    "huge-field": (BEST_HEADER + f'vocals,mpi,best,"{"x" * 200_000}",1.0,true\n').encode(),
    "no-column": b"target,spec\nvocals,stft\n",
    "empty": b"",
    "unclosed-quote": (BEST_HEADER + 'vocals,mpi,best,"stft:n_fft=1024\n').encode(),
    "huge-file": BEST_HEADER.encode() + b"#" * (17 * 2**20),
}


@pytest.mark.parametrize("case", sorted(BAD_BEST))
def test_malformed_best_csv_is_one_line_naming_it(tmp_path, case):
    best = tmp_path / "best.csv"
    best.write_bytes(BAD_BEST[case])
    for args in (["train-best", "--best", str(best), "--out", str(tmp_path / "m")],
                 ["verify", "--best", str(best), "--out", str(tmp_path / "v.csv")]):
        err = one_line_error(runner.invoke(app, args), str(best))
        assert len(err) < 400, err  # a huge field is not echoed back
        assert _tree(tmp_path) == {"best.csv"}


def test_a_well_formed_best_csv_still_reads(tmp_path):
    from tfselect.report.best import read_best

    best = tmp_path / "best.csv"
    best.write_bytes(("\ufeff" + BEST_HEADER + BEST_ROW).encode())  # a BOM is fine
    assert read_best(best) == {"vocals": "stft:n_fft=1024,hop=256"}


def _deep(kind: str, depth: int) -> str:
    if kind == "json":
        return '{"stems": ' + "[" * depth + "]" * depth + "}"
    if kind == "yaml":
        return "stems: " + "[" * depth + "]" * depth + "\n"
    return "[space]\nx = " + "[" * depth + "]" * depth + "\n"


# Study TOMLs: (content, words of the one line). Every one is refused before a database,
# a clip or a folder exists.
BAD_TOML = {
    "device-bogus": ('[search]\ndevice = "bogus"\n', "bogus"),
    "jobs-huge": ("[search]\njobs = 100000\n", "search.jobs"),
    "n_clips-huge": ("[clips]\nn_clips = 100000000\n", "clips.n_clips"),
    "metric_clips-huge": ("[clips]\nmetric_clips = 100000000\n", "clips.metric_clips"),
    "max_tracks-bool": ("[clips]\nmax_tracks = true\n", "clips.max_tracks"),
    "trials-huge": ("[search]\ntrials = 10000000000\n", "search.trials"),
    "race-huge": ("[search]\nrace_min_clips = 100000000\n", "search.race_min_clips"),
    "objective-inf": ('[search]\nobjective = "1e999*mpi"\n', "not finite"),
    "objective-unknown": ('[search]\nobjective = "inf"\n', "unknown metric"),
    "sampler": ('[search]\nsampler = "grid"\n', "sampler"),
    "metrics-unknown": ('[search]\nmetrics = ["nope"]\n', "nope"),
    "metrics-empty": ("[search]\nmetrics = []\n", "metrics"),
    "nested-deep": (_deep("toml", 100_000), "nested"),
    "nested-33": (_deep("toml", 33), "nested more than 32"),
    "utf-16": ("[search]\njobs = 1\n".encode("utf-16"), "UTF-16"),
    "binary": (b"\x00\x01\x02[search]", "binary"),
    "latin-1": ('[search]\nobjective = "caf\xe9"\n'.encode("latin-1"), "not UTF-8"),
}
if not __import__("torch").cuda.is_available():
    BAD_TOML["device-cuda"] = ('[search]\ndevice = "cuda"\n', "CUDA is not available")


@pytest.mark.parametrize("case", sorted(BAD_TOML))
def test_bad_study_toml_creates_nothing(tmp_path, monkeypatch, demo_root, case):
    content, words = BAD_TOML[case]
    monkeypatch.chdir(tmp_path)
    toml = tmp_path / "c.toml"
    toml.write_bytes(content if isinstance(content, bytes) else content.encode())
    res = runner.invoke(app, ["search", "--target", "vocals", "--config", str(toml),
                              "--root", str(demo_root), "--storage", "sqlite:///s.db",
                              "--trials", "1", "--quiet"])
    one_line_error(res, words)
    assert _tree(tmp_path) == {"c.toml"}


# Command lines whose values are out of range: one line, and nothing created.
BAD_OPTIONS = {
    "search-unknown-target": (["search", "--target", "nosuch", "--trials", "1"],
                              "unknown target"),
    "search-sampler": (["search", "--target", "vocals", "--sampler", "grid"], "sampler"),
    "search-objective": (["search", "--target", "vocals", "--objective", "1e999*mpi"],
                         "not finite"),
    "search-metrics": (["search", "--target", "vocals", "--metrics", ","], "metrics"),
    "search-jobs": (["search", "--target", "vocals", "--jobs", "100000"], "--jobs"),
    "report-bootstrap-negative": (["report", "--bootstrap", "-1", "--out", "r"], "--bootstrap"),
    "report-bootstrap-huge": (["report", "--bootstrap", "1000000000", "--out", "r"],
                              "--bootstrap"),
    "train-chunk-tiny": (["train-best", "--baseline", "stft", "--chunk", "0.01", "--out", "m"],
                         "chunk_seconds"),
    "train-valid-tiny": (["train-best", "--baseline", "stft", "--valid-seconds", "0.001",
                          "--out", "m"], "valid_seconds"),
    "evaluate-duration-tiny": (["evaluate", "--model", "m", "--duration", "0.01"],
                               "museval scores 1-s frames"),
    "compare-duration-tiny": (["compare", "--out", "c", "--duration", "0.01"],
                              "museval scores 1-s frames"),
    "score-memory": (["score", "--target", "vocals", "--transform",
                      "slicqt:scale=log,bins=2000,fmin=20,fmax=22050,sllen=4194304,"
                      "form=rasterize", "--clips", "1", "--seconds", "1"], "GB of memory"),
}


@pytest.mark.parametrize("case", sorted(BAD_OPTIONS))
def test_bad_option_creates_nothing(tmp_path, monkeypatch, demo_root, case):
    args, words = BAD_OPTIONS[case]
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TFSELECT_MAX_MEMORY_GB", "1")
    storage = ["--storage", "sqlite:///s.db"] if args[0] in ("search", "report") else []
    res = runner.invoke(app, [*args, *storage, "--root", str(demo_root)])
    one_line_error(res, words)
    assert _tree(tmp_path) == set()


def test_memory_estimate_tracks_the_tables_it_sizes(monkeypatch):
    """The estimate covers the tables it sizes (their entries counted here on a built
    design) and the limit refuses above it, in one line with the size."""
    from tfselect.errors import TfselectError
    from tfselect.memlimit import check_bytes
    from tfselect.transforms import TransformSpec
    from tfselect.transforms.filterbank import design, estimated_bytes

    spec = TransformSpec.parse("slicqt:scale=bark,bins=60,fmin=40,fmax=22050,form=rasterize")
    spec = spec.resolved(44100)
    d = design(spec, 44100)
    entries = d.layout.index.size  # the index, window and dual tables: one entry each
    windows = sum(len(g) for g in d.windows.g)
    est = estimated_bytes(spec, 44100)
    assert 8 * (3 * entries + windows) <= est <= 8 * 16 * (entries + windows)
    monkeypatch.setenv("TFSELECT_MAX_MEMORY_GB", "1")
    check_bytes("x", 999_000_000)
    with pytest.raises(TfselectError, match=r"^x needs about 1\.5 GB of memory, over the "
                                            r"limit of 1\.0 GB \(TFSELECT_MAX_MEMORY_GB\)$"):
        check_bytes("x", 1_500_000_000)
    monkeypatch.setenv("TFSELECT_MAX_MEMORY_GB", "lots")
    with pytest.raises(TfselectError, match="positive number"):
        check_bytes("x", 1)


@pytest.mark.parametrize("layout", ["moisesdb", "slakh"])
@pytest.mark.parametrize("damage", ["deep", "binary", "utf-16", "not-a-mapping"])
def test_dataset_metadata_is_one_line_naming_the_file(tmp_path, layout, damage):
    from test_layouts import moisesdb_tree, slakh_tree

    if layout == "moisesdb":
        moisesdb_tree(tmp_path, names=("t0", "t1"))
        meta = tmp_path / "t1" / "data.json"
    else:
        slakh_tree(tmp_path)
        meta = tmp_path / "validation" / "Track00002" / "metadata.yaml"
    kind = "json" if layout == "moisesdb" else "yaml"
    meta.write_bytes({"deep": _deep(kind, 3000).encode(), "binary": b"\x00\x9f\x92",
                      "utf-16": meta.read_text().encode("utf-16"),
                      "not-a-mapping": b"[1, 2, 3]\n"}[damage])
    before = _tree(tmp_path)
    one_line_error(runner.invoke(app, ["targets", "--root", str(tmp_path)]), str(meta))
    assert _tree(tmp_path) == before


@pytest.mark.slow  # a fresh process reading a whole (small) corpus: about 10 s
@pytest.mark.skipif(sys.platform == "darwin", reason="macOS file names must be UTF-8")
def test_track_names_that_are_not_utf8_are_read_and_printed(tmp_path, demo_root):
    import shutil

    root = tmp_path / "corpus"
    shutil.copytree(demo_root, root)
    first = sorted((root / "train").iterdir())[0]
    os.rename(first, os.fsencode(root / "train") + b"/tr\xffck")
    proc = _tfselect(["targets", "--root", str(root)], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
