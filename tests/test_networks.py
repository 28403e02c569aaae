"""A network per target: parsing --network, training two networks side by side, storing them
in the model folder (and reading folders that hold one), refusals that leave no files, and a
search space restricted to matrix forms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from conftest import one_line_error
from typer.testing import CliRunner

from tfselect import api
from tfselect.cli import app
from tfselect.demix.model import (
    MATRIX_NETWORKS,
    Demixer,
    ModelConfig,
    branch_key,
    parse_networks,
    split_networks,
)
from tfselect.demix.model_files import CHECKPOINT, MODEL, CheckpointError, load_model
from tfselect.demix.tensorfile import load_state, save_state
from tfselect.errors import TfselectError

runner = CliRunner()
STFT = "stft:n_fft=256,hop=64"
BARK = "slicqt:scale=bark,bins=24,fmin=40,fmax=22050"  # ragged: one block per bin group
FOUR = ("vocals", "drums", "bass", "other")
# the smallest training train-best runs: one step of one 1-s example, a 1-s validation
TINY = dict(epochs=1, steps=1, batch_size=1, chunk=1.0, valid_seconds=1.0, progress=False)


def _families(model: Demixer) -> dict[str, str]:
    return {t: model.branches[branch_key(t)].family for t in model.targets}


# ------------------------------------------------------------------------- parsing


PARSED = [
    ("convnext", dict.fromkeys(FOUR, "convnext")),
    ("auto", dict.fromkeys(FOUR, "auto")),
    (" cdae ", dict.fromkeys(FOUR, "cdae")),
    ("vocals=convnext", {"vocals": "convnext", "drums": "auto", "bass": "auto", "other": "auto"}),
    (
        "vocals=convnext,bass=blstm",
        {"vocals": "convnext", "drums": "auto", "bass": "blstm", "other": "auto"},
    ),
    (
        " bass = cdae , other=blstm ",
        {"vocals": "auto", "drums": "auto", "bass": "cdae", "other": "blstm"},
    ),
    (
        "vocals=blstm,drums=blstm,bass=blstm,other=blstm",
        dict.fromkeys(FOUR, "blstm"),
    ),
    (
        {"drums": "convnext"},
        {"vocals": "auto", "drums": "convnext", "bass": "auto", "other": "auto"},
    ),
]


@pytest.mark.parametrize(("value", "expected"), PARSED, ids=lambda v: repr(v)[:30])
def test_network_option_parses(value, expected):
    assert parse_networks(value, FOUR) == expected


REFUSED = [
    ("rnn", "--network must be auto, blstm, cdae or convnext, got 'rnn'"),
    ("", "--network must be auto, blstm, cdae or convnext, got ''"),
    ("vocals=rnn", "--network vocals=rnn: unknown network 'rnn'"),
    ("vocals=Convnext", "unknown network 'Convnext'"),
    ("voclas=convnext", "no target 'voclas' in this model (its targets: vocals, drums, bass"),
    ("piano=cdae", "no target 'piano'"),
    ("vocals=convnext,vocals=cdae", "names 'vocals' twice"),
    ("vocals=", "TARGET=NETWORK items"),
    ("=cdae", "TARGET=NETWORK items"),
    ("vocals=convnext,,bass=cdae", "TARGET=NETWORK items"),
    ("vocals=convnext,", "TARGET=NETWORK items"),
    ("convnext,bass=cdae", "TARGET=NETWORK items"),
    ({"piano": "cdae"}, "no target 'piano'"),
    ({"vocals": "rnn"}, "unknown network 'rnn'"),
]


@pytest.mark.parametrize(("value", "words"), REFUSED, ids=lambda v: repr(v)[:30])
def test_network_option_refusals_are_one_line(value, words):
    with pytest.raises(TfselectError) as info:
        parse_networks(value, FOUR)
    assert words in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("networks", "stored"),
    [
        (dict.fromkeys(FOUR, "convnext"), ("convnext", {})),  # as before per-target networks
        (dict.fromkeys(FOUR, "auto"), ("auto", {})),
        ({"vocals": "convnext", "bass": "auto"}, ("auto", {"vocals": "convnext"})),
        ({"vocals": "cdae", "bass": "blstm"}, ("auto", {"vocals": "cdae", "bass": "blstm"})),
    ],
)
def test_networks_are_stored_compactly_and_read_back(networks, stored):
    assert split_networks(networks) == stored
    default, per_target = stored
    cfg = ModelConfig(specs=dict.fromkeys(networks, STFT), network=default,
                      target_networks=per_target)  # fmt: skip
    assert {t: cfg.network_of(t) for t in networks} == networks


# ------------------------------------------------------------- model folder round trip


def test_save_and_load_keep_each_targets_network(tmp_path):
    cfg = ModelConfig(specs={"vocals": STFT, "drums": STFT, "bass": BARK},
                      target_networks={"vocals": "convnext", "drums": "blstm"})  # fmt: skip
    m = Demixer(cfg).eval()
    # bass: auto on a ragged sliCQT is the CDAE, one per block
    assert _families(m) == {"vocals": "convnext", "drums": "blstm", "bass": "cdae"}
    for p in m.parameters():
        p.data += 0.05 * torch.randn_like(p)
    save_state({"model_config": cfg.to_dict(), "state_dict": m.state_dict()}, tmp_path / MODEL)
    back = load_model(tmp_path)
    assert back.config.target_networks == {"vocals": "convnext", "drums": "blstm"}
    assert _families(back) == _families(m)
    x = torch.randn(1, 2, 6000)
    with torch.no_grad():
        torch.testing.assert_close(back(x), m(x), rtol=0, atol=0)


@pytest.mark.parametrize("network", ["convnext", "blstm", "cdae"])
def test_a_folder_written_before_per_target_networks_loads(tmp_path, network):
    """A configuration without target_networks: its one network applies to every target."""
    cfg = ModelConfig(specs={"vocals": STFT, "bass": STFT}, network=network)
    m = Demixer(cfg).eval()
    old = {k: v for k, v in cfg.to_dict().items() if k != "target_networks"}
    save_state({"model_config": old, "state_dict": m.state_dict()}, tmp_path / MODEL)
    back = load_model(tmp_path)
    assert _families(back) == {"vocals": network, "bass": network}
    assert back.config.target_networks == {}


def test_a_stored_matrix_network_on_a_ragged_branch_is_one_line(tmp_path):
    cfg = ModelConfig(specs={"vocals": STFT, "bass": STFT}, network="cdae")
    ck = {"model_config": cfg.to_dict(), "state_dict": Demixer(cfg).state_dict()}
    ck["model_config"]["specs"]["bass"] = BARK
    ck["model_config"]["target_networks"] = {"bass": "convnext"}
    save_state(ck, tmp_path / MODEL)
    with pytest.raises(CheckpointError) as info:
        load_model(tmp_path)
    message = str(info.value)
    assert "bass: network convnext needs a matrix form" in message and BARK in message
    assert "form=rasterize" in message and "\n" not in message


# --------------------------------------------------------------------------- training


def test_two_targets_train_with_two_networks_save_load_resume(demo_root, tmp_path):
    out = tmp_path / "m"
    specs = [f"vocals={STFT}", f"bass={BARK}"]
    done = api.train_best(root=demo_root, spec=specs, out=out,
                          network="vocals=convnext,bass=cdae", **TINY)  # fmt: skip
    assert done.networks == {"vocals": "convnext", "bass": "cdae"}
    assert len(done.history) == 1 and np.isfinite(done.history[0]["valid_loss"])
    for name in (MODEL, CHECKPOINT):
        stored = load_state(out / name)["model_config"]
        assert stored["network"] == "auto"
        assert stored["target_networks"] == {"vocals": "convnext", "bass": "cdae"}
    model = load_model(out)
    assert _families(model) == {"vocals": "convnext", "bass": "cdae"}
    assert len(model.branches["bass"].nets) > 1  # one CDAE per ragged block
    assert "networks: {'vocals': 'convnext', 'bass': 'cdae'}" in (out / "train.log").read_text()

    # separate builds the same branches (and writes the residual: two targets of four)
    song = tmp_path / "song.wav"
    sf.write(song, 0.1 * np.random.default_rng(0).standard_normal((44100, 2)), 44100)
    written = api.separate([song], out, out=tmp_path / "sep", chunk=1.0, overlap=0.0)
    assert sorted(p.name for p in written) == ["bass.wav", "residual.wav", "vocals.wav"]

    # the same command resumes; another network for a target is another model
    more = api.train_best(root=demo_root, spec=specs, out=out,
                          network="vocals=convnext,bass=cdae", **{**TINY, "epochs": 2})  # fmt: skip
    assert [h["epoch"] for h in more.history] == [1.0, 2.0]
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    with pytest.raises(CheckpointError, match="differs in: model"):
        api.train_best(root=demo_root, spec=specs, out=out, network="vocals=blstm",
                       **{**TINY, "epochs": 3})  # fmt: skip
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_a_checkpoint_written_before_per_target_networks_resumes(demo_root, tmp_path):
    """One network for all is stored exactly as before, and an older checkpoint (no
    target_networks anywhere) resumes under the same command."""
    out = tmp_path / "m"
    args = dict(root=demo_root, spec=[f"vocals={STFT}", f"bass={STFT}"], out=out,
                network="cdae")  # fmt: skip
    api.train_best(**args, **TINY)
    for name in (MODEL, CHECKPOINT):
        ck = load_state(out / name)
        assert ck["model_config"]["target_networks"] == {}
        del ck["model_config"]["target_networks"]
        del ck["train_config"]["model"]["target_networks"]
        save_state(ck, out / name)
    more = api.train_best(**args, **{**TINY, "epochs": 2})
    assert [h["epoch"] for h in more.history] == [1.0, 2.0]
    assert _families(load_model(out)) == {"vocals": "cdae", "bass": "cdae"}


def test_shared_slicqt_baseline_rasterizes_for_the_matrix_networks_only():
    specs, networks = api.train_specs(baseline="shared-slicqt", network="vocals=convnext")
    assert networks == {"vocals": "convnext", "drums": "auto", "bass": "auto", "other": "auto"}
    assert specs["vocals"].endswith(",form=rasterize")
    assert all("form=" not in specs[t] for t in ("drums", "bass", "other"))  # ragged


# --------------------------------------------------------------------------- refusals


def _train_best(demo_root: Path, out: Path, *extra: str):
    return runner.invoke(app, ["train-best", "--root", str(demo_root), "--out", str(out),
                               "--epochs", "1", "--steps", "1", "--batch-size", "1", "--chunk",
                               "1", "--valid-seconds", "1", "--quiet", *extra])  # fmt: skip


REFUSALS = {
    "unknown target": (
        ("--spec", f"vocals={STFT}", "--spec", f"bass={STFT}", "--network", "drums=convnext"),
        ("--network drums=convnext", "no target 'drums'", "its targets: vocals, bass"),
    ),
    "unknown network": (
        ("--spec", f"vocals={STFT}", "--network", "vocals=transformer"),
        ("--network vocals=transformer", "unknown network 'transformer'"),
    ),
    "unknown single network": (
        ("--spec", f"vocals={STFT}", "--network", "rnn"),
        ("--network must be auto, blstm, cdae or convnext",),
    ),
    "convnext on a ragged form": (
        ("--spec", f"vocals={BARK}", "--spec", f"bass={STFT}", "--network", "vocals=convnext"),
        (
            "vocals: network convnext needs a matrix form",
            BARK,
            f"--spec vocals={BARK},form=rasterize",
            "form=zeropad",
            "--network vocals=cdae",
        ),
    ),
    "blstm for all meets a ragged form": (
        ("--spec", f"vocals={STFT}", "--spec", f"other={BARK}", "--network", "blstm"),
        ("other: network blstm needs a matrix form", BARK, "--network other=cdae"),
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSALS))
def test_a_refused_network_creates_no_model_folder(demo_root, tmp_path, case):
    args, words = REFUSALS[case]
    out = tmp_path / "m"
    one_line_error(_train_best(demo_root, out, *args), *words)
    assert not out.exists()
    assert list(tmp_path.iterdir()) == []


def test_a_refused_network_leaves_an_existing_model_folder_unchanged(demo_root, tmp_path):
    out = tmp_path / "m"
    out.mkdir()
    (out / "train.log").write_text("an earlier run\n")
    (out / "notes.txt").write_text("mine\n")
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    one_line_error(_train_best(demo_root, out, "--spec", f"vocals={BARK}", "--network",
                               "vocals=blstm"), "vocals: network blstm")  # fmt: skip
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_a_network_column_in_best_csv_is_refused(demo_root, tmp_path):
    best = tmp_path / "best.csv"
    best.write_text(
        f'target,objective,candidate,spec,value,network\nvocals,mpi,best,"{STFT}",1.0,convnext\n'
    )
    out = tmp_path / "m"
    one_line_error(_train_best(demo_root, out, "--best", str(best)),
                   "does not read a network column", "--network")  # fmt: skip
    assert not out.exists()


def test_compare_keeps_one_family_and_says_so(tmp_path):
    out = tmp_path / "cmp"
    res = runner.invoke(app, ["compare", "--out", str(out), "--configs", "stft", "--network",
                              "vocals=convnext"])  # fmt: skip
    one_line_error(res, "--network must be blstm, cdae or convnext",
                   "per-target networks are train-best's")  # fmt: skip
    assert not out.exists()


# ------------------------------------------------------------------------ search space


@pytest.mark.parametrize("forms", [["rasterize"], ["zeropad", "rasterize"]])
def test_the_space_can_propose_matrix_forms_only(forms, tmp_path):
    import optuna

    from tfselect.demix.model import block_bins
    from tfselect.search.config import load_config
    from tfselect.transforms import TransformSpec, build

    default = (Path(__file__).resolve().parents[1] / "tfselect" / "default.toml").read_text()
    assert 'form = ["ragged"]' in default  # the default searches ragged sliCQTs only
    mine = tmp_path / "mine.toml"
    mine.write_text(default.replace('form = ["ragged"]', f"form = {forms!r}".replace("'", '"')))
    space = load_config(mine).space
    assert space.form == tuple(forms)
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=2))
    seen = set()
    for _ in range(40):
        spec = TransformSpec.parse(space.suggest(study.ask()))
        if spec.kind == "slicqt":
            seen.add(spec.form)
    assert seen == set(forms)
    # and what it proposes a matrix network takes: one block
    small = f"{BARK},form={forms[0]}"
    assert len(block_bins(build(small, 44100), 2, 44100)) == 1
    assert MATRIX_NETWORKS == ("blstm", "convnext")


MR = "mrstft:edges=2000,n_fft=512|128,hop=128|32"


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        (MR, ("vocals: network convnext", "mrstft has no matrix form", "--network vocals=cdae")),
        (
            f"ens:{STFT}+{BARK}",
            ("member 2 of ens:", f"that member as {BARK},form=rasterize", "--network vocals=cdae"),
        ),
    ],
)
def test_band_wise_and_ensemble_targets_are_checked_member_by_member(spec, words):
    from tfselect.demix.model import check_networks

    with pytest.raises(TfselectError) as info:
        check_networks({"vocals": spec, "bass": STFT}, {"vocals": "convnext", "bass": "blstm"})
    assert all(w in str(info.value) for w in words) and "\n" not in str(info.value)
    # an ensemble of matrix forms is fine, member by member, and so is auto on anything
    check_networks({"vocals": f"ens:{STFT}+{BARK},form=rasterize"}, {"vocals": "convnext"})
    check_networks({"vocals": spec}, {"vocals": "auto"})
