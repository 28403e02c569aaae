"""A model folder is data from someone else: every name, size and weight in it is checked.

Each case tampers with one field of a real (tiny, untrained) model folder, then runs
``separate`` and ``evaluate`` on it: exit status 2, one line naming the file and the field,
and nothing written -- above all no stem outside ``--out``: a target named ``../x`` must
neither create ``x.wav`` beside ``--out`` nor, with ``--overwrite``, clobber one there.
Resuming training from a tampered checkpoint is one line too. Every case loads a model of two
small STFT branches, so the whole file runs in a few seconds.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import one_line_error, write_wav_track
from typer.testing import CliRunner

from tfselect.cli import app
from tfselect.demix.model import branch_key
from tfselect.demix.model_files import CHECKPOINT, MODEL, CheckpointError
from tfselect.demix.tensorfile import load_state, save_state

runner = CliRunner()
STFT = "stft:n_fft=256,hop=64"
ABSOLUTE = "<absolute>"  # replaced by an absolute path beside --out in the test


@pytest.fixture(scope="module", autouse=True)
def _one_click_command():
    """Build the click command once: typer's CliRunner rebuilds it on every call (about
    0.2 s), which would be most of this file's time."""
    import typer.testing

    build = getattr(typer.testing, "_get_command", None)
    if build is None:  # another typer: its runner as it is
        yield
        return
    command = build(app)
    typer.testing._get_command = lambda a: command if a is app else build(a)
    yield
    typer.testing._get_command = build


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    """A model folder as `train` writes it: two branches, random weights, a target map."""
    from tfselect.demix.model import Demixer, ModelConfig

    folder = tmp_path_factory.mktemp("model")
    cfg = ModelConfig(specs={"vocals": STFT, "bass": STFT}, network="cdae")  # cdae: quickest
    save_state({"model_config": cfg.to_dict(), "state_dict": Demixer(cfg).state_dict(),
                "train_config": {"baseline": None, "targets": None}}, folder / MODEL)
    return folder


def _rename(ck: dict, name: str) -> None:
    """Rename the target ``vocals`` to ``name`` consistently: its spec and its weights."""
    cfg = ck["model_config"]
    cfg["specs"] = {name if t == "vocals" else t: s for t, s in cfg["specs"].items()}
    old, new = "branches.vocals.", f"branches.{branch_key(name)}."
    ck["state_dict"] = {(new + k[len(old):] if k.startswith(old) else k): v
                        for k, v in ck["state_dict"].items()}


def _set(path: str, value) -> Callable[[dict], None]:
    """An edit that sets the field ``a.b.c`` of the checkpoint (None value: deletes it)."""
    *parents, last = path.split(".")

    def edit(ck: dict) -> None:
        d = ck
        for key in parents:
            d = d[key]
        if value is None:
            del d[last]
        else:
            d[last] = value

    return edit


def _too_big(ck: dict) -> None:
    """Sizes each within its bound whose networks add up to 800 M parameters (3.2 GB)."""
    ck["model_config"].update(network="blstm", sizes={"hidden": 4096, "layers": 8})


def _poison(value: float) -> Callable[[dict], None]:
    def edit(ck: dict) -> None:
        key = sorted(ck["state_dict"])[3]
        w = ck["state_dict"][key].clone()
        w.view(-1)[0] = value
        ck["state_dict"][key] = w

    return edit


# Names a target must not have: each would put a file outside its song's folder, hide it,
# clash with a file separate writes itself, or break the file system call.
BAD_NAMES = ["../../x", "../x", ABSOLUTE, "a/b", "..", ".x", "", "residual", "mixture", "a\\b",
             "x\0y", "x\ny", "é" * 200]

CASES: dict[str, tuple[Callable[[dict], None], tuple[str, ...]]] = {
    "specs-list": (_set("model_config.specs", ["vocals", "bass"]), ("specs",)),
    "specs-string": (_set("model_config.specs", STFT), ("specs",)),
    "specs-empty": (_set("model_config.specs", {}), ("specs",)),
    "specs-not-a-string": (_set("model_config.specs.vocals", 42), ("specs.vocals",)),
    "spec-unparsable": (_set("model_config.specs.vocals", "stft:n_fft=banana"),
                        ("specs.vocals", "n_fft")),
    "specs-int-key": (_set("model_config.specs", {3: STFT}), ("specs",)),
    "sizes-list": (_set("model_config.sizes", [64, 1]), ("sizes",)),
    "sizes-unknown": (_set("model_config.sizes.colour", 3), ("sizes", "colour")),
    "hidden-zero": (_set("model_config.sizes.hidden", 0), ("sizes.hidden",)),
    "hidden-negative": (_set("model_config.sizes.hidden", -64), ("sizes.hidden",)),
    "hidden-huge": (_set("model_config.sizes.hidden", 10**6), ("sizes.hidden",)),
    "hidden-float": (_set("model_config.sizes.hidden", 64.5), ("sizes.hidden",)),
    "hidden-text": (_set("model_config.sizes.hidden", "64"), ("sizes.hidden",)),
    "hidden-bool": (_set("model_config.sizes.hidden", True), ("sizes.hidden",)),
    "layers-huge": (_set("model_config.sizes.layers", 10**4), ("sizes.layers",)),
    "width-zero": (_set("model_config.sizes.width", 0), ("sizes.width",)),
    "blocks-negative": (_set("model_config.sizes.blocks", -1), ("sizes.blocks",)),
    "patch-huge": (_set("model_config.sizes.patch_bins", 10**5), ("sizes.patch_bins",)),
    "networks-too-big": (_too_big, ("sizes", "parameters")),  # counted, never allocated
    "cdae-channels-zero": (_set("model_config.sizes.channels", 0), ("sizes.channels",)),
    "channels-zero": (_set("model_config.channels", 0), ("channels",)),
    "channels-negative": (_set("model_config.channels", -2), ("channels",)),
    "sample-rate": (_set("model_config.sample_rate", 10**12), ("sample_rate",)),
    "network-unknown": (_set("model_config.network", "transformer"), ("network",)),
    "network-list": (_set("model_config.network", ["blstm"]), ("network",)),
    "target-network-unknown": (_set("model_config.target_networks", {"vocals": "rnn"}),
                               ("target_networks.vocals",)),
    "target-network-stranger": (_set("model_config.target_networks", {"piano": "cdae"}),
                                ("target_networks",)),
    "preset-unknown": (_set("model_config.preset", "huge"), ("preset",)),
    "mask-number": (_set("model_config.mask", 1), ("mask",)),
    "residual-text": (_set("model_config.residual", "yes"), ("residual",)),
    "deoverlap-list": (_set("model_config.deoverlap", []), ("deoverlap",)),
    "model-config-list": (_set("model_config", []), ("model_config",)),
    "model-config-missing": (_set("model_config", None), ("model_config",)),
    "state-dict-missing": (_set("state_dict", None), ("state_dict",)),
    "state-dict-list": (_set("state_dict", []), ("state_dict",)),
    "train-config-list": (_set("train_config", ["targets"]), ("train_config",)),
    "target-map-string": (_set("train_config.targets", "vocals"), ("train_config.targets",)),
    "target-map-escapes": (_set("train_config.targets", {"../x": ["vocals"]}),
                           ("train_config.targets", "../x")),
    "weight-nan": (_poison(math.nan), ("NaN",)),
    "weight-inf": (_poison(-math.inf), ("NaN",)),
}


def _tampered(model: Path, folder: Path, edit: Callable[[dict], None]) -> Path:
    ck = load_state(model / MODEL)
    edit(ck)
    save_state(ck, folder / MODEL)
    return folder


def _song(path: Path) -> Path:
    x = 0.1 * np.random.default_rng(0).standard_normal((4410, 2))
    sf.write(path, x.astype(np.float32), 44100, subtype="FLOAT")
    return path


def _refused(tmp_path: Path, folder: Path, *words: str) -> None:
    """`separate --overwrite` and `evaluate` on ``folder``: one line each, nothing written."""
    tmp_path.mkdir(exist_ok=True)
    song = _song(tmp_path / "song.wav")
    before = sorted(tmp_path.rglob("*"))
    out = tmp_path / "out"
    where = str(folder / MODEL)
    one_line_error(runner.invoke(app, ["separate", "--model", str(folder), str(song), "--out",
                                       str(out), "--overwrite", "--chunk", "1",
                                       "--overlap", "0"]), where, *words)
    one_line_error(runner.invoke(app, ["evaluate", "--model", str(folder), "--root",
                                       str(tmp_path / "no-corpus")]), where, *words)
    assert sorted(tmp_path.rglob("*")) == before  # not even --out was created
    assert sorted(p.name for p in folder.iterdir()) == [MODEL]  # nor MODEL/eval-test


@pytest.mark.parametrize("name", BAD_NAMES, ids=lambda name: repr(name)[:12])
def test_target_names_from_a_model_folder_are_refused(tmp_path, model, name):
    work = tmp_path / "work"
    work.mkdir()
    victim = work / "x.wav"
    victim.write_bytes(b"the user's own file")
    if name == ABSOLUTE:
        name = str(work / "x")
    folder = _tampered(model, tmp_path / "m", lambda ck: _rename(ck, name))
    _refused(work, folder, "specs")
    assert victim.read_bytes() == b"the user's own file"
    assert sorted(p.name for p in work.iterdir()) == ["song.wav", "x.wav"]


@pytest.mark.parametrize("case", sorted(CASES))
def test_a_tampered_model_folder_is_one_line(tmp_path, model, case):
    edit, words = CASES[case]
    _refused(tmp_path / "work", _tampered(model, tmp_path / "m", edit), *words)


def test_the_untampered_folder_separates_inside_out(tmp_path, model):
    """The fixture itself is fine: what the cases refuse is their tampering."""
    song = _song(tmp_path / "song.wav")
    res = runner.invoke(app, ["separate", "--model", str(model), str(song), "--out",
                              str(tmp_path / "out"), "--chunk", "1", "--overlap", "0"])
    assert res.exit_code == 0, res.output
    written = sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*.wav"))
    assert written == ["out/song/bass.wav", "out/song/vocals.wav", "song.wav"]


def test_stems_are_written_inside_out_whatever_the_model_says(tmp_path, model):
    """Defence in depth: a Demixer whose target names escaped every check writes nothing."""
    from tfselect.demix.model_files import load_model
    from tfselect.demix.separate import separate_file
    from tfselect.errors import TfselectError

    demixer = load_model(model)
    song = _song(tmp_path / "song.wav")
    for name in ("../x", str(tmp_path / "x"), "a/../../x"):
        demixer.targets = ["bass", name]
        with pytest.raises(TfselectError, match="would leave"):
            separate_file(demixer, song, tmp_path / "out", chunk_seconds=1, overlap_seconds=0,
                          overwrite=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["song.wav"]


def test_a_residual_model_never_replaces_residual_wav_unasked(tmp_path, model):
    folder = _tampered(model, tmp_path / "m", _set("model_config.residual", True))
    song = _song(tmp_path / "song.wav")
    mine = tmp_path / "out" / "song" / "residual.wav"
    mine.parent.mkdir(parents=True)
    mine.write_bytes(b"mine")
    one_line_error(runner.invoke(app, ["separate", "--model", str(folder), str(song), "--out",
                                       str(tmp_path / "out")]), str(mine), "--overwrite")
    assert [p.name for p in mine.parent.iterdir()] == ["residual.wav"]
    assert mine.read_bytes() == b"mine"


# ------------------------------------------------------------------ resuming a checkpoint


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> tuple[Path, Callable]:
    """A model folder after one epoch of one step of `train`, and a function that resumes
    training (one more epoch) into a copy of it."""
    from tfselect.audio.dataset import tracks_for
    from tfselect.demix.train import make_config, train

    tmp = tmp_path_factory.mktemp("trained")
    for k in range(2):
        write_wav_track(tmp / "root", "train", f"T{k}", seconds=0.6, seed=k)
    data = (tracks_for(tmp / "root", "train"), [])
    specs = {"vocals": STFT, "bass": STFT}

    def run(out: Path, epochs: int) -> list[dict]:
        cfg = make_config(specs, "small", "cdae", epochs=epochs, steps=1, batch_size=1,
                          chunk_seconds=0.5, valid_seconds=None, amp=False)
        return train(cfg, out, progress=False, data=data)

    run(tmp / "m", 1)
    return tmp / "m", run


RESUME_CASES: dict[str, tuple[Callable[[dict], None], str]] = {
    "optimizer-missing": (_set("optimizer", None), "optimizer"),
    "optimizer-empty": (_set("optimizer", {}), "optimizer"),
    "scheduler-missing": (_set("scheduler", None), "scheduler"),
    "state-missing": (_set("state", None), "state"),
    "state-list": (_set("state", [1]), "state"),
    "epoch-text": (_set("state.epoch", "one"), "state.epoch"),
    "history-missing": (_set("state.history", None), "state.history"),
    "rng-missing": (_set("rng", None), "rng"),
    "rng-garbage": (_set("rng.torch", torch.zeros(3)), "rng"),
    "train-config-missing": (_set("train_config", None), "train_config"),
    "state-dict-missing": (_set("state_dict", None), "state_dict"),
    "model-config-missing": (_set("model_config", None), "model_config"),
    "weight-nan": (_poison(math.nan), "NaN"),
}


@pytest.mark.parametrize("case", sorted(RESUME_CASES))
def test_resuming_a_tampered_checkpoint_is_one_line(tmp_path, trained, case):
    folder, run = trained
    edit, field = RESUME_CASES[case]
    ck = load_state(folder / CHECKPOINT)
    edit(ck)
    save_state(ck, tmp_path / "m" / CHECKPOINT)
    with pytest.raises(CheckpointError) as e:
        run(tmp_path / "m", 2)
    message = str(e.value)
    assert "\n" not in message and str(tmp_path / "m" / CHECKPOINT) in message, message
    assert field in message, message
    assert not (tmp_path / "m" / MODEL).exists()  # nothing trained, nothing saved


def test_resuming_the_untampered_checkpoint_trains_on(tmp_path, trained):
    import shutil

    folder, run = trained
    shutil.copytree(folder, tmp_path / "m")
    assert [h["epoch"] for h in run(tmp_path / "m", 2)] == [1, 2]


def test_a_model_config_holds_specs_and_writes_the_text_it_read():
    """Specs come in as text (a model folder, the command line), are TransformSpec objects
    inside, and go out as the same canonical text, first key as before."""
    import json

    from tfselect.demix.model import ModelConfig
    from tfselect.transforms import TransformSpec

    text = {"vocals": STFT, "bass": "slicqt:scale=bark,bins=60,fmin=40,fmax=22050,form=rasterize"}
    config = ModelConfig(specs=dict(text), network="cdae")
    assert config.specs == {t: TransformSpec.parse(s) for t, s in text.items()}
    stored = config.to_dict()
    assert stored["specs"] == text and next(iter(stored)) == "specs"
    assert json.loads(json.dumps(stored)) == stored  # plain JSON data, nothing else
    assert ModelConfig(**stored) == config
