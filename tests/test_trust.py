"""What tfselect promises under hostile or unlucky input: one regression test per class.

Model folders are data (a crafted pickle never runs), outputs stay inside --out and never
clobber, passwords never print, NaN audio stops with one line and JSON stays JSON, reports
and the demo corpus appear whole or not at all, usage errors are one line, SIGTERM and a
second Ctrl-C behave, dead journal workers' trials get failed, parsers take only the grammar.
Most run in-process (typer's CliRunner) and take well under a second each.
"""

from __future__ import annotations

import json
import os
import pickle
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import optuna
import pandas as pd
import pytest
import soundfile as sf
import torch
from conftest import SMALL_STUDY, cli_env, write_wav_track
from conftest import one_line_error as _one_line_error
from typer.testing import CliRunner

from tfselect import TARGETS
from tfselect.cli import app
from tfselect.errors import TfselectError

runner = CliRunner()
STFT = "stft:n_fft=512,hop=128"


def _tiny_model(folder: Path) -> Path:
    """An untrained per-target model folder (random weights), written as `train` writes it."""
    from tfselect.demix.model import Demixer, ModelConfig
    from tfselect.demix.tensorfile import save_state

    torch.manual_seed(0)
    cfg = ModelConfig(specs={t: STFT for t in TARGETS}, network="blstm")
    save_state({"model_config": cfg.to_dict(), "state_dict": Demixer(cfg).state_dict(),
                "train_config": {"baseline": None}}, folder / "model.safetensors")
    return folder


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    return _tiny_model(tmp_path_factory.mktemp("model"))


def _song(path: Path, seconds: float = 0.3, seed: int = 0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    x = 0.1 * np.random.default_rng(seed).standard_normal((int(44100 * seconds), 2))
    sf.write(path, x.astype(np.float32), 44100, subtype="FLOAT", format="WAV")
    return path


# ------------------------------------------------------------- 1. model folders are data

class _Payload:
    """Unpickling this runs ``exec``: it writes the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (exec, (f"open({str(self.marker)!r}, 'w').write('pwned')",))


@pytest.mark.parametrize("name", ["model.pt", "checkpoint.pt", "model.safetensors"])
def test_crafted_pickle_model_never_runs(tmp_path, name):
    from tfselect.demix.model_files import CheckpointError, load_model

    marker = tmp_path / "marker"
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / name).write_bytes(pickle.dumps({"model_config": {}, "state_dict": _Payload(marker)}))
    with pytest.raises(CheckpointError) as e:
        load_model(folder)
    assert "\n" not in str(e.value)
    if name.endswith(".pt"):
        assert "pickle" in str(e.value)
    song = _song(tmp_path / "song.wav")
    _one_line_error(runner.invoke(app, ["separate", "--model", str(folder), str(song), "--out",
                                        str(tmp_path / "out")]))
    assert not marker.exists()


def test_model_file_round_trip_and_bad_weights(tmp_path, model):
    from tfselect.demix.model_files import CheckpointError, load_model
    from tfselect.demix.tensorfile import load_state, save_state

    m = load_model(model)
    x = torch.from_numpy(0.1 * np.random.default_rng(1).standard_normal((1, 2, 8192))).float()
    with torch.no_grad():
        y = m(x)
    ck = load_state(model / "model.safetensors")
    for k, v in m.state_dict().items():
        assert torch.equal(ck["state_dict"][k], v)
    sd = dict(ck["state_dict"])
    bad = {
        "unknown": {**sd, "extra.weight": torch.zeros(3)},
        "shape": {k: (torch.zeros(2, 2) if i == 0 else v) for i, (k, v) in enumerate(sd.items())},
    }
    for what, weights in bad.items():
        folder = tmp_path / what
        save_state({**ck, "state_dict": weights}, folder / "model.safetensors")
        with pytest.raises(CheckpointError, match="unknown weight" if what == "unknown"
                           else "wrong shape") as e:
            load_model(folder)
        assert len(str(e.value)) < 400 and "\n" not in str(e.value)
    folder = tmp_path / "cfg"
    save_state({**ck, "model_config": {**ck["model_config"], "colour": "red"}},
               folder / "model.safetensors")
    with pytest.raises(CheckpointError, match="colour"):
        load_model(folder)
    with torch.no_grad():
        assert torch.equal(load_model(model)(x), y)  # deterministic reload


def test_training_state_round_trips_exactly():
    """Optimizer, scheduler and every RNG state come back bit for bit (exact resume)."""
    import random

    from tfselect.demix.tensorfile import load_state, save_state
    from tfselect.demix.train import _rng_state, _set_rng_state

    net = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(net.parameters())
    net(torch.ones(1, 3)).sum().backward()
    opt.step()
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt)
    sched.step(1.0)
    state = {"opt": opt.state_dict(), "sched": sched.state_dict(), "rng": _rng_state(),
             "best": float("inf"), "history": [{"epoch": 1.0}]}
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"tfselect-state-{os.getpid()}.safetensors"
    try:
        save_state(state, path)
        back = load_state(path)
    finally:
        path.unlink(missing_ok=True)
    assert back["sched"] == sched.state_dict() and back["best"] == float("inf")
    assert back["opt"]["param_groups"] == opt.state_dict()["param_groups"]
    for k, v in opt.state_dict()["state"].items():
        for name, t in v.items():
            assert torch.equal(back["opt"]["state"][k][name], t)
    expected = (torch.rand(3), np.random.rand(), random.random())
    _set_rng_state(back["rng"])
    assert torch.equal(torch.rand(3), expected[0])
    assert (np.random.rand(), random.random()) == expected[1:]


# ------------------------------------------------------ 2. outputs stay inside, unique, safe

def test_output_names_safe_and_unique():
    from tfselect.demix.separate import output_names

    names = output_names([Path("A/mixture.wav"), Path("B/mixture.wav"), Path("x/..wav"),
                          Path("y/song.wav"), Path("z/song.wav"), Path("song-2.wav")])
    assert names[:2] == ["A", "B"]
    assert len(set(names)) == len(names)
    assert all("/" not in n and not n.startswith(".") for n in names)


def test_output_names_follow_the_documented_rules():
    """Exact names: the stem made safe, MUSDB's folder for mixture.wav, free "-k" suffixes."""
    from tfselect.demix.separate import output_names

    cases = {
        "Artist - Title/mixture.wav": "Artist - Title",  # MUSDB: the track folder
        "../mixture.wav": "mixture",  # no usable folder name
        "mixture.wav": "mixture",
        "Track One.stem.mp4": "Track One",  # both suffixes go
        "x/..wav": "song",  # nothing safe is left
        "d/.hidden.wav": "hidden",  # no leading dot
        "d/ spaced .flac": "spaced",
        "d/a:b*c?.wav": "a_b_c_",
        "d/Café (live) [2],x+y.wav": "Café (live) [2],x+y",
        "d/X-ray.wav": "X-ray",  # only dots are stripped in front
    }
    for path, want in cases.items():
        assert output_names([Path(path)]) == [want], path
    # Repeats take the first "-k" that no input is named plainly.
    got = output_names([Path("y/song.wav"), Path("z/song.wav"), Path("song-2.wav"),
                        Path("w/song.wav")])
    assert got == ["song", "song-3", "song-2", "song-4"]
    assert output_names([Path("a/x.wav"), Path("b/x.wav")]) == ["x", "x-2"]
    assert output_names([]) == []


def test_output_folder_refuses_to_leave_out_or_clobber(tmp_path):
    from tfselect.demix.separate import output_folder

    out = tmp_path / "out"
    assert output_folder(out, "song", ["vocals"], overwrite=False) == out / "song"
    for bad in ("..", "a/b", "."):
        with pytest.raises(TfselectError, match=f"output name '{re.escape(bad)}' would leave "
                                                f"--out {re.escape(str(out))}"):
            output_folder(out, bad, ["vocals"], overwrite=True)
    (out / "song").mkdir(parents=True)
    (out / "song" / "bass.wav").write_bytes(b"")
    assert output_folder(out, "song", ["vocals"], overwrite=False) == out / "song"
    with pytest.raises(TfselectError, match=re.escape(f"{out / 'song' / 'bass.wav'} exists "
                                                      "(use --overwrite to replace it)")):
        output_folder(out, "song", ["vocals", "bass"], overwrite=False)
    assert output_folder(out, "song", ["vocals", "bass"], overwrite=True) == out / "song"


def test_separate_stays_inside_out_and_never_clobbers(tmp_path, model):
    a = _song(tmp_path / "in" / "A" / "mixture.wav", seed=1)
    b = _song(tmp_path / "in" / "B" / "mixture.wav", seed=2)
    dots = _song(tmp_path / "in" / "deep" / "..wav", seed=3)
    out = tmp_path / "work" / "out"
    args = ["separate", "--model", str(model), str(a), str(b), str(dots), "--out", str(out),
            "--chunk", "1", "--overlap", "0.25"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*.wav"))
    assert len(written) == 12 and {w.split("/")[0] for w in written} == {"A", "B", "song"}
    assert sorted(p.name for p in (tmp_path / "work").iterdir()) == ["out"]  # nothing outside
    # the two mixture.wav files did not overwrite each other
    assert not np.array_equal(sf.read(out / "A" / "vocals.wav")[0], sf.read(out / "B" /
                                                                            "vocals.wav")[0])
    before = (out / "A" / "vocals.wav").read_bytes()
    _one_line_error(runner.invoke(app, args), "exists", "--overwrite")
    assert (out / "A" / "vocals.wav").read_bytes() == before
    assert runner.invoke(app, [*args, "--overwrite"]).exit_code == 0


# ------------------------------------------------------------------ 3. passwords never print

@pytest.mark.parametrize("password", ["p@ss:w/rd", "s3cr%2Ft@b", "a%40b%3Ac", "plain-pw!"])
def test_storage_password_never_printed(password):
    from urllib.parse import unquote

    url = f"postgresql+psycopg2://me:{password}@127.0.0.1:1/db"
    err = _one_line_error(runner.invoke(app, ["best", "--target", "bass", "--storage", url]))
    for secret in {password, unquote(password), *password.replace("%", "@").split("@")}:
        pieces = [p for p in secret.replace(":", "/").split("/") if len(p) >= 3]
        for piece in pieces:
            assert piece not in err, (piece, err)
    assert "me:***@" in err


# ----------------------------------------------------- 4. NaN audio stops; JSON stays JSON

def test_non_finite_audio_names_the_file(tmp_path, model):
    song = _song(tmp_path / "nan.wav")
    x, rate = sf.read(song, dtype="float32")
    x[100, 0] = np.nan
    sf.write(song, x, rate, subtype="FLOAT")
    # Samples are read when the song's turn comes, under the progress bar: --quiet leaves
    # stderr to the error line.
    _one_line_error(runner.invoke(app, ["separate", "--model", str(model), str(song), "--out",
                                        str(tmp_path / "o"), "--quiet"]), str(song), "NaN")
    root = tmp_path / "root"
    folder = write_wav_track(root, "test", "T", seconds=1.0)
    v, _ = sf.read(folder / "vocals.wav", dtype="float32")
    v[5, 1] = np.inf
    sf.write(folder / "vocals.wav", v, 44100, subtype="FLOAT")
    _one_line_error(runner.invoke(app, ["score", "--target", "vocals", "--transform", STFT,
                                        "--root", str(root), "--subset", "test", "--clips", "1",
                                        "--seconds", "0", "--metrics", "mpi"]),
                    "vocals.wav", "infinite")


def test_score_json_is_strict_json(tmp_path, monkeypatch):
    """A metric that could not be computed (NaN, inf) is null: the output stays JSON."""
    import tfselect.metrics

    real = tfselect.metrics.score

    def undefined(*args, **kwargs):  # the real scores, two of them undefined
        return {**real(*args, **kwargs), "mpi": float("nan"), "irm1": float("inf")}

    monkeypatch.setattr(tfselect.metrics, "score", undefined)
    root = tmp_path / "root"
    write_wav_track(root, "test", "T", seconds=1.0)
    res = runner.invoke(app, ["score", "--target", "vocals", "--transform", STFT, "--root",
                              str(root), "--subset", "test", "--clips", "1", "--seconds", "0.5",
                              "--metrics", "mpi,irm1", "--json"])
    assert res.exit_code == 0, res.output

    def refuse(name):
        raise ValueError(f"not JSON: {name}")

    row = json.loads(res.stdout.strip().splitlines()[-1], parse_constant=refuse)
    assert row["mpi"] is None and row["irm1"] is None


# ------------------------------------------- 5. a report replaces its own files, no others

@pytest.fixture(scope="module")
def study_url(tmp_path_factory, demo_root):
    from tfselect.search.config import load_config
    from tfselect.search.run import run_search

    d = tmp_path_factory.mktemp("trust-study")
    (d / "small.toml").write_text(SMALL_STUDY)
    url = f"sqlite:///{d}/s.db"
    run_search("vocals", storage=url, study="t", config=load_config(d / "small.toml"),
               root=demo_root, trials=2, progress=False)
    return url


def test_report_is_old_or_new_never_a_mix(tmp_path, study_url, monkeypatch):
    from tfselect.report import build, plots

    out = tmp_path / "rep"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    (out / "pareto_notes.png").write_text("mine")  # named like a plot, still the user's
    build.make_report(study_url, out=out, n_boot=0, with_plots=False,
                      extra_tables={"demix.csv": pd.DataFrame({"x": [1]})})
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def disk_full(*args, **kwargs):
        raise OSError(28, "No space left on device", str(out / "scatter_vocals.png"))

    monkeypatch.setattr(plots, "scatter_plot", disk_full)
    with pytest.raises(OSError):
        build.make_report(study_url, out=out, n_boot=0)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before  # the old report, whole
    assert sorted(p.name for p in tmp_path.iterdir()) == ["rep"]  # nothing left beside it
    monkeypatch.undo()
    rep = build.make_report(study_url, out=out, n_boot=0, with_plots=False)
    names = sorted(p.name for p in out.iterdir())  # demix.csv, no longer written, is gone
    assert names == [".tfselect-report.json", "best.csv", "correlations.csv", "notes.txt",
                     "pareto.csv", "pareto_notes.png", "trials.csv"]  # fmt: skip
    assert (out / "notes.txt").read_text() == "mine"  # the user's files are kept
    assert (out / "pareto_notes.png").read_text() == "mine"
    assert all(f.parent == out for f in rep.files)


def test_report_on_a_missing_storage_creates_nothing(tmp_path):
    for url, path in ((f"sqlite:///{tmp_path}/no.db", tmp_path / "no.db"),
                      (f"journal:///{tmp_path}/no.log", tmp_path / "no.log")):
        _one_line_error(runner.invoke(app, ["report", "--storage", url, "--out",
                                            str(tmp_path / "r")]), "no such file")
        assert not path.exists() and not (tmp_path / "r").exists()


# ------------------------------------------------------------ 6. demo-data appears whole

def test_demo_data_full_disk_leaves_nothing(tmp_path, monkeypatch):
    from tfselect.audio import demo

    real = demo._write_track
    calls = []

    def fail_second(folder, audio, subtype):
        calls.append(folder)
        if len(calls) == 2:
            raise OSError(28, "No space left on device")
        real(folder, audio, subtype)

    monkeypatch.setattr(demo, "_write_track", fail_second)
    for out in (tmp_path / "new", tmp_path / "empty"):
        if out.name == "empty":
            out.mkdir()
        calls.clear()
        with pytest.raises(TfselectError, match="No space left"):
            demo.write_demo_corpus(out, tracks=2, seconds=1.0, test_tracks=0)
        assert not out.exists() or list(out.iterdir()) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty"]


# ---------------------------- 7. report --model without a study; how models were evaluated

def test_report_of_models_trained_without_a_study(tmp_path):
    models = []
    for k, (name, wiener) in enumerate((("per-target", True), ("stft", False))):
        ev = tmp_path / name / "eval-test"
        ev.mkdir(parents=True)
        pd.DataFrame({"model": name, "target": list(TARGETS), "SDR": [1.0 + k, 2, 3, 4],
                      "SIR": 1.0, "SAR": 1.0, "ISR": 1.0}).to_csv(ev / "medians.csv",
                                                                  index=False)
        (ev / "info.json").write_text(json.dumps({
            "wiener": wiener, "wiener_iterations": 3 if wiener else 0, "duration": 5.0,
            "tracks": ["a", "b"]}))
        models += ["--model", str(tmp_path / name)]
    out = tmp_path / "rep"
    res = runner.invoke(app, ["report", "--storage", f"sqlite:///{tmp_path}/none.db", "--out",
                              str(out), *models])
    assert res.exit_code == 0, res.output
    assert not (tmp_path / "none.db").exists()
    demix = pd.read_csv(out / "demix.csv")
    assert list(demix.columns[-5:]) == ["subset", "tracks", "duration", "wiener",
                                        "wiener_iterations"]
    first = demix.iloc[0]
    assert (first["wiener"], first["wiener_iterations"], first["tracks"]) == (True, 3, 2)
    assert set(demix.loc[demix["model"] == "stft", "wiener_iterations"]) == {0}


def test_wiener_iterations_reach_the_filter(model):
    from tfselect.demix.model_files import load_model
    from tfselect.demix.separate import separate_array

    m = load_model(model)
    x = (0.1 * np.random.default_rng(5).standard_normal((2, 8192))).astype(np.float32)
    one = separate_array(m, x, wiener=True, wiener_iterations=1)
    three = separate_array(m, x, wiener=True, wiener_iterations=3)
    assert not np.allclose(one, three)
    with pytest.raises(TfselectError, match="wiener-iterations"):
        separate_array(m, x, wiener=True, wiener_iterations=0)


# ------------------------------------------ 8. bad numbers, folders, files: one line, exit 2

def _bad_option_cases(tmp: Path, model: Path) -> list[tuple[list[str], str]]:
    song = _song(tmp / "s.wav")
    afile = tmp / "afile"
    afile.write_text("x")
    latin1 = tmp / "latin1.toml"
    latin1.write_bytes("[search]\nobjective = \"caf\xe9\"\n".encode("latin-1"))
    specs = [a for t in TARGETS for a in ("--spec", f"{t}={STFT}")]
    journal = ["--storage", f"journal:///{tmp}/j.log"]
    return [
        (["separate", "--model", str(model), str(song), "--chunk", "nan"], "--chunk"),
        (["separate", "--model", str(model), str(song), "--overlap", "inf"], "--overlap"),
        (["separate", "--model", str(model), str(song), "--out", str(afile)], "is a file"),
        (["separate", "--model", str(model), str(song), "--wiener-iterations", "0"], "iter"),
        (["train-best", *specs, "--alpha", "nan", "--out", str(tmp / "m")], "--alpha"),
        (["train-best", *specs, "--chunk", "1e12", "--out", str(tmp / "m")], "--chunk"),
        (["train-best", *specs, "--out", str(afile)], "is a file"),
        (["evaluate", "--model", str(model), "--duration", "-1"], "--duration"),
        (["score", "--target", "vocals", "--transform", STFT, "--seconds", "inf"], "--seconds"),
        (["score", "--target", "vocals", "--transform", STFT, "--clips", "0"], "--clips"),
        (["demo-data", "--out", str(afile)], "not a folder"),
        (["demo-data", "--out", str(tmp / "d"), "--seconds", "nan"], "--seconds"),
        (["report", "--out", str(afile), *journal], ""),
        (["search", "--target", "vocals", "--config", str(latin1), *journal], "UTF-8"),
        (["search", "--target", "vocals", "--storage", "sqlite:///:memory:"], "in-memory"),
        (["search", "--target", "vocals", "--seconds", "nan", *journal], "seconds"),
        # usage errors of the CLI framework itself
        (["search"], "Missing option '--target'"),
        (["no-such-command"], "No such command"),
        (["search", "--target", "vocals", "--trials", "many"], "--trials"),
        (["score", "--target", "vocals", "--transform", STFT, "--bogus"], "--bogus"),
    ]


def test_bad_options_one_line_exit_2(tmp_path, model):
    for args, words in _bad_option_cases(tmp_path, model):
        _one_line_error(runner.invoke(app, args), words)
    assert not (tmp_path / "j.log").exists() or (tmp_path / "j.log").stat().st_size == 0


def test_chunk_longer_than_every_track(tmp_path):
    root = tmp_path / "root"
    for i in range(2):
        write_wav_track(root, "train", f"T{i}", seconds=1.0, seed=i)
    specs = [a for t in TARGETS for a in ("--spec", f"{t}={STFT}")]
    _one_line_error(runner.invoke(app, ["train-best", *specs, "--root", str(root), "--out",
                                        str(tmp_path / "m"), "--chunk", "30", "--quiet"]),
                    "longer than every training track")


# -------------------------------------------------------------- 10. SIGTERM and Ctrl-C

def _search_proc(tmp_path, demo_root, name):
    (tmp_path / "small.toml").write_text(SMALL_STUDY)
    url = f"sqlite:///{tmp_path}/{name}.db"
    cmd = [sys.executable, "-m", "tfselect", "search", "--target", "vocals", "--storage", url,
           "--study", name, "--config", str(tmp_path / "small.toml"), "--root", str(demo_root),
           "--quiet", "--trials", "100"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=cli_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.2)
        try:
            st = optuna.load_study(study_name=name, storage=url)
            if any(t.state.is_finished() for t in st.get_trials(deepcopy=False)):
                break
        except Exception:  # study not created yet
            pass
    return proc, url


@pytest.mark.slow
@pytest.mark.parametrize("signals", [(signal.SIGTERM,), (signal.SIGINT,),
                                     (signal.SIGINT, signal.SIGINT)])
def test_signals_stop_a_search_with_one_line(tmp_path, demo_root, signals):
    proc, url = _search_proc(tmp_path, demo_root, "sig")
    try:
        for sig in signals:
            proc.send_signal(sig)
            time.sleep(0.05)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, (out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("tfselect: ")
    trials = optuna.load_study(study_name="sig", storage=url).get_trials(deepcopy=False)
    # Nothing left RUNNING (a reference still queued, WAITING, runs in the next run).
    assert trials and not [t for t in trials if t.state == optuna.trial.TrialState.RUNNING]
    assert all(t.user_attrs.get("fail_reason") == "interrupted"
               for t in trials if t.state == optuna.trial.TrialState.FAIL)


def test_sigterm_stops_a_command_whose_sigint_is_ignored():
    """A shell script's `tfselect ... &` starts with SIGINT ignored: SIGTERM must still stop
    it (as Ctrl-C would), not be dropped with SIGINT."""
    from tfselect.interrupts import sigterm_as_ctrl_c

    before_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
    previous = sigterm_as_ctrl_c()
    try:
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(1)  # the handler runs between bytecodes, well before this ends
    finally:
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, before_int)


@pytest.mark.slow
def test_sigterm_stops_training_and_keeps_the_checkpoint(tmp_path):
    root = tmp_path / "root"
    for i in range(3):
        write_wav_track(root, "train", f"T{i}", seconds=2.0, seed=i)
    out = tmp_path / "m"
    cmd = [sys.executable, "-m", "tfselect", "train-best", "--root", str(root), "--out", str(out),
           "--epochs", "1000", "--steps", "2", "--batch-size", "2", "--chunk", "1",
           "--valid-seconds", "1", "--quiet",
           *[a for t in TARGETS for a in ("--spec", f"{t}={STFT}")]]
    proc = subprocess.Popen(cmd, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            if (out / "losses.csv").exists():
                break
            time.sleep(0.1)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err
    # (training logs its epochs on stderr; the interruption itself is one line, the last)
    lines = err.strip().splitlines()
    assert "Traceback" not in err and [x for x in lines if x.startswith("tfselect")] == lines[-1:]
    assert "rerun the same command to resume" in lines[-1], err
    from tfselect.demix.tensorfile import load_state

    done = load_state(out / "checkpoint.safetensors")["state"]["epoch"]
    assert done >= 1
    r = subprocess.run([*cmd[:cmd.index("1000")], str(done + 1), *cmd[cmd.index("1000") + 1:]],
                       env=cli_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "resumed" in (out / "train.log").read_text()


# ------------------------------------------------ 11. journal trials of dead workers fail

def test_dead_workers_trials_are_failed(tmp_path):
    from tfselect.search.stale import HOST, PID, fail_stale_in

    url = f"journal:///{tmp_path}/j.log"
    from tfselect.search.storage import open_storage

    study = optuna.create_study(study_name="s", storage=open_storage(url))
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    host = socket.gethostname()
    owners = {"dead": (host, dead.pid), "alive": (host, os.getppid()),
              "elsewhere": ("another-host", dead.pid)}
    numbers = {}
    for what, (h, pid) in owners.items():
        t = study.ask()
        t.set_user_attr(HOST, h)
        t.set_user_attr(PID, pid)
        numbers[what] = t.number
    res = runner.invoke(app, ["search", "--target", "vocals", "--study", "s", "--storage", url,
                              "--fail-stale"])
    assert res.exit_code == 0, res.output
    assert f"marked FAIL 1 trial(s) of dead workers ({numbers['dead']})" in res.stdout
    states = {t.number: t.state for t in study.get_trials(deepcopy=False)}
    assert states[numbers["dead"]] == optuna.trial.TrialState.FAIL
    assert states[numbers["alive"]] == states[numbers["elsewhere"]] == \
        optuna.trial.TrialState.RUNNING
    assert fail_stale_in(url, "s") == []  # idempotent


# -------------------------------------------------------------- 12. strict parsers

@pytest.mark.parametrize("text, words", [
    ("stft:n_fft=4096,hop=1024,", "stray comma"),
    ("stft:n_fft=4096,,hop=1024", "stray comma"),
    ("stft:n_fft=４０９６,hop=1024", "n_fft"),
    ("stft:n_fft=٤٠٩٦,hop=1024", "n_fft"),
    ("stft:n_fft=4_096,hop=1024", "n_fft"),
    ("slicqt:scale=bark,bins=262,fmin=inf,fmax=22050", "fmin"),
    ("slicqt:scale=bark,bins=26,fmin=32.9,fmax=22050,sllen=4000000000", "sllen"),
])
def test_spec_grammar_is_strict(text, words):
    from tfselect.errors import SpecError
    from tfselect.transforms import TransformSpec

    with pytest.raises(SpecError, match=words) as e:
        TransformSpec.parse(text)
    assert "\n" not in str(e.value)


@pytest.mark.parametrize("toml, words", [
    ("[space]\nbins = [true, 100]", "space.bins"),
    ("[space]\nfmin = [false, 100.0]", "space.fmin"),
    ("[space]\nbins = [10.7, 100]", "space.bins"),
    ("[space]\nstft_n_fft = [\"1024\"]", "space.stft_n_fft"),
    ("[space]\nbins = [10, 100000000]", "space.bins"),
    ("[space]\nfmin = [nan, 100.0]", "space.fmin"),
    ("[space]\nfmax = [22050.0, 96000.0]", "space.fmax"),
    ("[space]\nsllen_max = 1000000000000", "sllen_max"),
    ("[space]\nstft_overlap = [1]", "stft_overlap"),
    ("[clips]\nseconds = inf", "clips.seconds"),
])
def test_toml_ranges_are_strict(tmp_path, toml, words):
    from tfselect.search.config import load_config

    p = tmp_path / "c.toml"
    p.write_text(toml)
    with pytest.raises(TfselectError, match=words) as e:
        load_config(p)
    assert "\n" not in str(e.value)
