"""`tfselect separate` as users of demucs, spleeter and open-unmix expect it.

A subset of the stems (``--targets``), two stems (``--two-stems``: a target and the input
minus it), the file format (``--format``, ``--bits``, read back with soundfile), folders as
inputs, a progress bar on stderr (``--quiet``), the folders of inputs that share a name, and
inputs checked before any work: a refused command prints one line and writes nothing. The
models are untrained (random weights, two or four small STFT branches), so each command takes
well under a second; the demo script's echo of its commands is checked at the end.
"""

from __future__ import annotations

import os
import shlex
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import REPO, one_line_error
from test_model_folder import _one_click_command  # noqa: F401 (autouse: one click command)
from typer.testing import CliRunner

from tfselect import TARGETS
from tfselect.cli import app
from tfselect.demix.model_files import MODEL

runner = CliRunner()
STFT = "stft:n_fft=256,hop=64"


def _model(folder: Path, targets: tuple[str, ...], residual: bool = False) -> Path:
    """A model folder as `train` writes it: one small STFT branch per target, random weights."""
    from tfselect.demix.model import Demixer, ModelConfig
    from tfselect.demix.tensorfile import save_state

    torch.manual_seed(0)
    cfg = ModelConfig(specs={t: STFT for t in targets}, network="cdae", residual=residual)
    save_state({"model_config": cfg.to_dict(), "state_dict": Demixer(cfg).state_dict(),
                "train_config": {"baseline": None, "targets": None}}, folder / MODEL)  # fmt: skip
    return folder


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """Four targets covering the mixture (no residual)."""
    return _model(tmp_path_factory.mktemp("model4"), TARGETS)


@pytest.fixture(scope="module")
def model_residual(tmp_path_factory) -> Path:
    """Two targets that do not cover the mixture: separation adds ``residual``."""
    return _model(tmp_path_factory.mktemp("model2"), ("vocals", "bass"), residual=True)


def _song(path: Path, seconds: float = 0.25, rate: int = 44100, channels: int = 2,
          seed: int = 0) -> Path:  # fmt: skip
    path.parent.mkdir(parents=True, exist_ok=True)
    x = 0.3 * np.random.default_rng(seed).standard_normal((int(rate * seconds), channels))
    sf.write(path, x.astype(np.float32), rate, subtype="FLOAT", format="WAV")
    return path


@pytest.fixture(scope="module")
def reference(tmp_path_factory, model) -> tuple[Path, Path]:
    """A song and the folder of its stems with every default (float WAV), separated once."""
    tmp = tmp_path_factory.mktemp("reference")
    song = _song(tmp / "song.wav")
    _separate("--model", model, song, "--out", tmp / "out", "--quiet")
    return song, tmp / "out" / "song"


def _separate(*args: str | Path):
    res = runner.invoke(app, ["separate", *map(str, args)])
    assert res.exit_code == 0, res.output
    return res


def _read(path: Path) -> np.ndarray:
    return sf.read(path, dtype="float64", always_2d=True)[0]


def _files(folder: Path) -> list[str]:
    """Every file under ``folder``, relative, sorted ([] when it does not exist)."""
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


# ------------------------------------------------------------------------- --targets


def test_targets_writes_only_those_stems_in_the_models_order(tmp_path, model, reference):
    song, full = reference
    res = _separate("--model", model, song, "--out", tmp_path / "some", "--targets",
                    "bass, vocals", "--quiet")  # fmt: skip
    folder = tmp_path / "some" / "song"
    assert res.stdout.splitlines() == [str(folder / "vocals.wav"), str(folder / "bass.wav")]
    assert _files(tmp_path / "some") == ["song/bass.wav", "song/vocals.wav"]
    for t in ("vocals", "bass"):  # the same estimates as when every stem is written
        np.testing.assert_array_equal(_read(folder / f"{t}.wav"), _read(full / f"{t}.wav"))


def test_targets_can_name_the_residual(tmp_path, model_residual):
    song = _song(tmp_path / "song.wav")
    _separate("--model", model_residual, song, "--out", tmp_path / "o", "--targets", "residual",
              "--quiet")  # fmt: skip
    assert _files(tmp_path / "o") == ["song/residual.wav"]
    # still the input minus every target's estimate, though those are not written
    _separate("--model", model_residual, song, "--out", tmp_path / "all", "--quiet")
    x = _read(song)
    est = sum(_read(tmp_path / "all" / "song" / f"{t}.wav") for t in ("vocals", "bass"))
    np.testing.assert_allclose(_read(tmp_path / "o" / "song" / "residual.wav"), x - est,
                               atol=1e-6)  # fmt: skip


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--targets", "vocals,piano"], ["'piano'", "vocals, drums, bass, other"]),
        (["--targets", " , "], ["names no target", "vocals, drums, bass, other"]),
        (["--two-stems", "piano"], ["--two-stems", "'piano'", "vocals, drums, bass, other"]),
        (["--two-stems", "vocals", "--targets", "bass"], ["--targets", "--two-stems"]),
        (["--format", "mp3"], ["--format", "wav or flac", "'mp3'"]),
        (["--bits", "8"], ["--bits", "16, 24 or 32f", "'8'"]),
        (["--format", "flac", "--bits", "32f"], ["FLAC", "no float", "--bits 16 or 24"]),
    ],
)
def test_a_bad_stem_or_format_choice_is_one_line_and_writes_nothing(tmp_path, model, args,
                                                                    words):  # fmt: skip
    song = _song(tmp_path / "song.wav")
    out = tmp_path / "out"
    one_line_error(runner.invoke(app, ["separate", "--model", str(model), str(song), "--out",
                                       str(out), *args]), *words)  # fmt: skip
    assert not out.exists()


# ------------------------------------------------------------------------ --two-stems


@pytest.mark.parametrize("which", ["four", "residual"])
def test_two_stems_add_up_to_the_input(tmp_path, model, model_residual, which):
    """TARGET + no_TARGET = the input (float WAV: to float32 rounding), for a model whose
    targets cover the mixture and for one with a residual alike; TARGET is the estimate."""
    m = model if which == "four" else model_residual
    song = _song(tmp_path / "in" / "song.wav", seconds=0.5, rate=48000, seed=3)
    out = tmp_path / "out"
    res = _separate("--model", m, song, "--out", out, "--two-stems", "vocals", "--chunk", "0.3",
                    "--overlap", "0.1", "--quiet")  # fmt: skip
    folder = out / "song"
    assert res.stdout.splitlines() == [str(folder / "vocals.wav"), str(folder / "no_vocals.wav")]
    assert _files(out) == ["song/no_vocals.wav", "song/vocals.wav"]
    x = _read(song)
    vocals, rest = _read(folder / "vocals.wav"), _read(folder / "no_vocals.wav")
    assert vocals.shape == rest.shape == x.shape
    np.testing.assert_allclose(vocals + rest, x, rtol=0, atol=1e-6)
    assert np.abs(rest - x).max() > 1e-3  # the estimate was subtracted: not the input itself
    _separate("--model", m, song, "--out", tmp_path / "all", "--chunk", "0.3", "--overlap",
              "0.1", "--quiet")  # fmt: skip
    np.testing.assert_array_equal(vocals, _read(tmp_path / "all" / "song" / "vocals.wav"))


def test_two_stems_of_a_mono_file(tmp_path, model):
    song = _song(tmp_path / "mono.wav", channels=1, rate=22050)
    _separate("--model", model, song, "--out", tmp_path / "o", "--two-stems", "bass", "--quiet")
    x = _read(song)
    a, b = (_read(tmp_path / "o" / "mono" / f"{n}.wav") for n in ("bass", "no_bass"))
    assert a.shape == x.shape == (int(22050 * 0.25), 1)
    np.testing.assert_allclose(a + b, x, rtol=0, atol=1e-6)


# ------------------------------------------------------------------- --format, --bits


@pytest.mark.parametrize(
    ("fmt", "bits", "container", "subtype", "step"),
    [
        ("wav", None, "WAV", "FLOAT", 0.0),  # the default: as before
        ("wav", "32f", "WAV", "FLOAT", 0.0),
        ("wav", "24", "WAV", "PCM_24", 2.0**-23),
        ("wav", "16", "WAV", "PCM_16", 2.0**-15),
        ("flac", None, "FLAC", "PCM_24", 2.0**-23),  # FLAC's default: 24-bit
        ("flac", "24", "FLAC", "PCM_24", 2.0**-23),
        ("flac", "16", "FLAC", "PCM_16", 2.0**-15),
    ],
)
def test_format_and_bits_read_back(tmp_path, model, reference, fmt, bits, container, subtype,
                                   step):  # fmt: skip
    song, floats = reference
    args = ["--format", fmt] + (["--bits", bits] if bits else [])
    res = _separate("--model", model, song, "--out", tmp_path / "o", *args, "--quiet")
    suffix = f".{fmt}"
    assert _files(tmp_path / "o") == sorted(f"song/{t}{suffix}" for t in TARGETS)
    assert res.stdout.splitlines() == [str(tmp_path / "o" / "song" / f"{t}{suffix}")
                                       for t in TARGETS]  # fmt: skip
    for t in TARGETS:
        path = tmp_path / "o" / "song" / f"{t}{suffix}"
        info = sf.info(path)
        assert (info.format, info.subtype, info.samplerate) == (container, subtype, 44100)
        want = np.clip(_read(floats / f"{t}.wav"), -1, 1 - step)
        # integer formats: libsndfile writes round(x·(2^(b-1) - 1)) and reads back / 2^(b-1),
        # within 1.5 steps of x on [-1, 1]
        np.testing.assert_allclose(_read(path), want, rtol=0, atol=1.5 * step + 1e-12)


def test_integer_formats_clip_at_full_scale(tmp_path, model):
    """A stem beyond full scale is clipped in 16-bit files, kept in float ones."""
    song = tmp_path / "loud.wav"
    t = np.arange(int(44100 * 0.2)) / 44100
    x = 3.0 * np.sin(2 * np.pi * 440 * t)[:, None].repeat(2, 1)
    sf.write(song, x.astype(np.float32), 44100, subtype="FLOAT")
    _separate("--model", model, song, "--out", tmp_path / "f", "--two-stems", "vocals", "--quiet")
    _separate("--model", model, song, "--out", tmp_path / "i", "--two-stems", "vocals", "--bits",
              "16", "--quiet")  # fmt: skip
    full = _read(tmp_path / "f" / "loud" / "no_vocals.wav")
    clipped = _read(tmp_path / "i" / "loud" / "no_vocals.wav")
    assert np.abs(full).max() > 1.2
    assert clipped.max() <= 1 and clipped.min() >= -1
    np.testing.assert_allclose(clipped, np.clip(full, -1, 1 - 2.0**-15), atol=1.5 * 2.0**-15)


# ---------------------------------------------------------------------- folder input


def test_a_folder_stands_for_its_audio_files(tmp_path, model):
    folder = tmp_path / "album"
    _song(folder / "b.wav", seed=1)
    _song(folder / "a.flac", seed=2)
    (folder / "c.WAV").write_bytes((folder / "b.wav").read_bytes())
    _song(folder / ".hidden.wav", seed=4)  # and macOS's ._x.wav: never audio
    _song(folder / "sub" / "d.wav", seed=5)  # not recursive
    (folder / "notes.txt").write_text("liner notes")
    other = _song(tmp_path / "single.wav", seed=6)
    res = _separate("--model", model, folder, other, "--out", tmp_path / "o", "--targets",
                    "vocals", "--quiet")  # fmt: skip
    # sorted by name within the folder, the folder's files where the folder was given
    assert res.stdout.splitlines() == [str(tmp_path / "o" / n / "vocals.wav")
                                       for n in ("a", "b", "c", "single")]  # fmt: skip
    assert _files(tmp_path / "o") == [f"{n}/vocals.wav" for n in ("a", "b", "c", "single")]


def test_a_folder_without_audio_is_one_line(tmp_path, model):
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    _song(empty / "sub" / "deeper.wav")
    (empty / "readme.txt").write_text("x")
    good = _song(tmp_path / "good.wav")
    out = tmp_path / "out"
    one_line_error(runner.invoke(app, ["separate", "--model", str(model), str(good),
                                       str(empty), "--out", str(out)]),
                   "no audio files", str(empty))  # fmt: skip
    assert not out.exists()


# ----------------------------------------------------------------- progress, --quiet


def test_progress_goes_to_stderr_and_quiet_silences_it(tmp_path, model):
    a, b = _song(tmp_path / "a.wav", seconds=0.5), _song(tmp_path / "b.wav", seconds=0.1)
    args = ["--model", model, a, b, "--chunk", "0.2", "--overlap", "0.05", "--targets", "bass"]
    loud = _separate(*args, "--out", tmp_path / "loud")
    quiet = _separate(*args, "--out", tmp_path / "quiet", "--quiet")
    want = [str(tmp_path / "loud" / n / "bass.wav") for n in ("a", "b")]
    assert loud.stdout.splitlines() == want  # stdout: the written paths, nothing else
    assert quiet.stdout.splitlines() == [w.replace("loud", "quiet") for w in want]
    assert quiet.stderr == ""
    # one bar over every chunk of both songs: 0.5 s -> 3 chunks of 0.2 s (starts 0, 0.15,
    # 0.3 s), 0.1 s -> 1; the last state shows the count and the second song
    last = loud.stderr.replace("\r", "\n").strip().splitlines()[-1]
    assert "4/4" in last and "song 2/2" in last and "chunk" in last, loud.stderr


def _loop_chunks(n: int, chunk: float, overlap: float) -> int:
    """The chunks separate_array processes, counted by running it (a model of one branch)."""
    from tfselect.demix.separate import separate_array

    calls = []

    class Null(torch.nn.Module):
        targets = ("vocals",)

        def __init__(self) -> None:
            super().__init__()
            self.w = torch.nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return x[:, None]

    separate_array(Null(), np.zeros((2, n), np.float32), chunk, overlap,
                   on_chunk=lambda: calls.append(1))  # fmt: skip
    return len(calls)


@pytest.mark.parametrize("n", [1, 4409, 4410, 4411, 8819, 8820, 8821, 30000])
@pytest.mark.parametrize(("chunk", "overlap"), [(0.1, 0.0), (0.1, 0.02), (0.1, 0.09)])
def test_the_bar_total_is_the_number_of_chunks(n, chunk, overlap):
    from tfselect.demix.separate import chunk_count

    assert chunk_count(n, chunk, overlap) == _loop_chunks(n, chunk, overlap)


# ---------------------------------------------------------------------- shared names


def test_inputs_sharing_a_name_are_told_once(tmp_path, model):
    a = _song(tmp_path / "x" / "song.wav", seed=1)
    b = _song(tmp_path / "y" / "song.wav", seed=2)
    c = _song(tmp_path / "z" / "other.wav", seed=3)
    out = tmp_path / "out"
    res = _separate("--model", model, a, c, b, "--out", out, "--targets", "vocals", "--quiet")
    assert res.stderr.splitlines() == ["inputs sharing a name, and their folders:",
                                       f"  {a} -> {out / 'song'}",
                                       f"  {b} -> {out / 'song-2'}"]  # fmt: skip
    assert res.stdout.splitlines() == [str(out / n / "vocals.wav")
                                       for n in ("song", "other", "song-2")]  # fmt: skip
    # the two songs differ, so each folder holds its own input's stem
    assert not np.array_equal(_read(out / "song" / "vocals.wav"),
                              _read(out / "song-2" / "vocals.wav"))  # fmt: skip
    solo = _separate("--model", model, a, c, "--out", tmp_path / "o2", "--quiet")
    assert solo.stderr == ""  # no shared name: nothing to tell


def test_the_api_reports_shared_names_once(tmp_path, model):
    from tfselect import api

    a = _song(tmp_path / "A" / "mixture.wav", seed=1)
    b = _song(tmp_path / "B" / "A.wav", seed=2)
    calls = []
    written = api.separate([a, b], model, tmp_path / "out", targets=["drums"], progress=False,
                           on_shared_names=calls.append)  # fmt: skip
    assert calls == [[(a, tmp_path / "out" / "A"), (b, tmp_path / "out" / "A-2")]]
    assert written == [tmp_path / "out" / "A" / "drums.wav", tmp_path / "out" / "A-2" / "drums.wav"]


# --------------------------------------------------------- inputs checked before work


def test_a_missing_file_is_named_and_nothing_is_written(tmp_path, model):
    good = _song(tmp_path / "good.wav")
    missing = tmp_path / "gone" / "nope.wav"
    out = tmp_path / "out"
    err = one_line_error(runner.invoke(app, ["separate", "--model", str(model), str(good),
                                             str(missing), "--out", str(out)]))  # fmt: skip
    assert err == f"tfselect: error: no such file: {missing}"
    assert not out.exists()  # the good file before it was not separated either


@pytest.mark.parametrize("kind", ["text", "empty", "channels"])
def test_an_unusable_file_is_named_before_any_work(tmp_path, model, kind):
    good = _song(tmp_path / "good.wav")
    bad = tmp_path / "bad.wav"
    if kind == "text":
        bad.write_text("not audio")
        words = ["cannot read audio", "Format not recognised"]
    elif kind == "empty":
        sf.write(bad, np.zeros((0, 2), np.float32), 44100)
        words = ["holds no samples"]
    else:
        sf.write(bad, np.zeros((100, 3), np.float32), 44100)
        words = ["3 channels", "mono or stereo"]
    out = tmp_path / "out"
    one_line_error(runner.invoke(app, ["separate", "--model", str(model), str(good), str(bad),
                                       "--out", str(out)]), str(bad), *words)  # fmt: skip
    assert not out.exists()


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root reads any file")
def test_an_unreadable_file_is_named(tmp_path, model):
    bad = _song(tmp_path / "locked.wav")
    bad.chmod(0)
    try:
        args = ["separate", "--model", str(model), str(bad), "--out", str(tmp_path / "out")]
        one_line_error(runner.invoke(app, args), str(bad), "ermission")
    finally:
        bad.chmod(0o644)
    assert not (tmp_path / "out").exists()


def test_an_unreadable_file_is_named_whoever_runs_it(tmp_path, model, monkeypatch):
    """The same as a user without the right to read, for a root who has every right: the
    system's refusal to open the file, in one line naming it."""
    from tfselect.demix import separate_io

    bad = _song(tmp_path / "locked.wav")

    def refuse(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(separate_io, "open", refuse, raising=False)  # shadows the builtin
    err = one_line_error(runner.invoke(app, ["separate", "--model", str(model), str(bad),
                                             "--out", str(tmp_path / "out")]))  # fmt: skip
    assert err == f"tfselect: error: cannot read {bad}: Permission denied"
    assert not (tmp_path / "out").exists()


def test_a_clash_with_existing_stems_writes_nothing(tmp_path, model):
    """The clobber check covers the chosen stems in the chosen format, for every input,
    before the first song is separated."""
    a, b = _song(tmp_path / "a.wav"), _song(tmp_path / "b.wav", seed=1)
    out = tmp_path / "out"
    _separate("--model", model, b, "--out", out, "--two-stems", "vocals", "--format", "flac",
              "--quiet")  # fmt: skip
    before = _files(out)
    args = ["separate", "--model", str(model), str(a), str(b), "--out", str(out), "--two-stems",
            "vocals", "--format", "flac"]  # fmt: skip
    one_line_error(runner.invoke(app, args), str(out / "b" / "vocals.flac"), "--overwrite")
    assert _files(out) == before
    # other stems or another format do not clash
    _separate("--model", model, a, b, "--out", out, "--targets", "drums", "--quiet")
    _separate("--model", model, b, "--out", out, "--two-stems", "vocals", "--quiet")
    assert "b/no_vocals.wav" in _files(out) and "a/drums.wav" in _files(out)


# ------------------------------------------------------------------ the demo's echo


def test_the_demo_prints_commands_a_shell_reads_back(tmp_path):
    """scripts/demo.sh's `run` echoes each command so that pasting the line into a shell
    gives the same words (the demo mixture's path has spaces)."""
    script = (REPO / "scripts" / "demo.sh").read_text()
    functions = "\n".join(script[script.index(f"\n{name}() {{") :].split("\n}\n")[0] + "\n}"
                          for name in ("quote", "run"))  # fmt: skip
    words = ["separate", "--model", "models/demo", "--out", "separated/demo", "--overwrite",
             str(tmp_path / "Demo 08 - A minor 106 bpm" / "mixture.wav"), "it's", "", "a,b=c",
             '"$HOME"', "~x", "tab\there", "--quiet"]  # fmt: skip
    # TF: a command that prints its arguments one per line (NUL-separated)
    code = functions + '\nTF=(printf "%s\\0")\nrun "$@"\n'
    res = subprocess.run(["bash", "-c", code, "demo", *words], capture_output=True, text=True,
                         check=True)  # fmt: skip
    echoed, _, ran = res.stdout.partition("\n")
    assert echoed.startswith("$ tfselect ")
    assert ran.split("\0")[:-1] == words  # the command itself got the words unchanged
    assert shlex.split(echoed[len("$ tfselect ") :]) == words
    # and bash reads the echoed line back to the same words
    back = subprocess.run(["bash", "-c", f'printf "%s\\0" {echoed[len("$ tfselect ") :]}'],
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert back.stdout.split("\0")[:-1] == words
    assert "separate --model models/demo" in echoed  # plain words stay plain
