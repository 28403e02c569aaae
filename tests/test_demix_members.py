"""Band-wise (mrstft) and ensemble (ens) targets in the demixer.

An mrstft target goes through the ragged path (one CDAE per band); an ens target is one
branch per member whose waveforms are averaged: checked against the members' estimates
computed here from their transforms and networks, trained through the shared-STFT loss
(every member gets gradients), and rebuilt from a model folder with identical outputs.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from conftest import one_line_error
from typer.testing import CliRunner

from tfselect.cli import app
from tfselect.demix.losses import DemixLoss, LossConfig
from tfselect.demix.model import Demixer, ModelConfig
from tfselect.demix.model_files import MODEL, load_model
from tfselect.demix.specs import resolve_specs
from tfselect.demix.tensorfile import save_state
from tfselect.errors import TfselectError
from tfselect.transforms import build

SR = 44100
STFT = "stft:n_fft=256,hop=64"
MR = "mrstft:edges=2000,n_fft=512|128,hop=128|32"
ENS = f"ens:{STFT}+{MR}"
SPECS = {"vocals": MR, "bass": ENS}


def _model() -> Demixer:
    torch.manual_seed(0)
    return Demixer(ModelConfig(specs=dict(SPECS)))


def _by_hand(transform, nets, x: torch.Tensor) -> torch.Tensor:
    """One member's estimate from its definition: sigmoid(net(log1p|C|)) * C per block,
    then the transform's inverse."""
    Y = []
    for net, c in zip(nets, transform(x), strict=True):
        mag = torch.log1p(c.abs()).flatten(-2)  # (batch, ch, bins, slices*frames)
        Y.append(torch.sigmoid(net(mag).reshape(c.shape)) * c)
    return transform.inverse(Y, x.shape[-1])


def test_an_mrstft_target_has_one_cdae_per_band():
    m = _model().eval()
    branch = m.branches["vocals"]
    x = torch.randn(2, 2, 4000)
    blocks = build(MR, SR)(x)
    C, M = branch.masks(x)
    assert branch.family == "cdae" and len(branch.nets) == len(blocks) == 2
    assert [c.shape for c in C] == [b.shape for b in blocks]
    assert all(
        mk.shape == c.shape and 0 <= mk.min() and mk.max() <= 1 for c, mk in zip(C, M, strict=True)
    )
    with torch.no_grad():
        want = _by_hand(build(MR, SR), branch.nets, x)
        torch.testing.assert_close(m(x)[:, 0], want, rtol=1e-5, atol=1e-6)


def test_an_ensemble_target_is_the_mean_of_its_members():
    m = _model().eval()
    branch = m.branches["bass"]
    assert branch.family == "blstm+cdae" and len(branch.members) == 2
    m.set_amp(True)  # reaches every member (the trainer sets it on CUDA)
    assert all(b.amp for b in branch.members)
    m.set_amp(False)
    x = torch.randn(2, 2, 4000)
    with torch.no_grad():
        members = [
            _by_hand(build(s, SR), b.nets, x)
            for s, b in zip((STFT, MR), branch.members, strict=True)
        ]
        got = m(x)[:, 1]
    want = (members[0].numpy().astype(np.float64) + members[1].numpy()) / 2
    assert np.abs(members[0] - members[1]).max() > 1e-3  # the members differ: a real mean
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-5, atol=1e-6)
    # the Ensemble transform's inverse of the members' masked blocks says the same
    C, M = branch.masks(x)
    with torch.no_grad():
        same = build(ENS, SR).inverse([mk * c for mk, c in zip(M, C, strict=True)], 4000)
    np.testing.assert_allclose(same.numpy(), want, rtol=1e-5, atol=1e-6)


def test_training_reaches_every_member_and_the_folder_round_trips(tmp_path):
    m = _model().train()
    loss_fn = DemixLoss(LossConfig(n_fft=256, hop=64), n_targets=2)
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(1)
    stems = torch.randn(2, 2, 2, 4000, generator=g)
    mix = stems.sum(1)
    losses = []
    for step in range(4):
        opt.zero_grad()
        loss = loss_fn(m(mix), stems, mix, step)[0]
        loss.backward()
        losses.append(float(loss.detach()))
        for target in SPECS:  # every network of every member is trained through the mean
            branch = m.branches[target]
            for k, b in enumerate(getattr(branch, "members", [branch])):
                for name, p in b.nets.named_parameters():
                    assert p.grad is not None and p.grad.abs().sum() > 0, (target, k, name)
        opt.step()
    assert all(math.isfinite(v) for v in losses) and losses[-1] < losses[0], losses

    save_state(
        {
            "model_config": m.config.to_dict(),
            "state_dict": m.state_dict(),
            "train_config": {"baseline": None, "targets": None},
        },
        tmp_path / MODEL,
    )
    back = load_model(tmp_path)
    assert back.config.to_dict()["specs"] == SPECS  # the ens spec string is what is stored
    assert any(k.startswith("branches.bass.members.1.") for k in back.state_dict())
    x = torch.randn(1, 2, 5000, generator=g)
    with torch.no_grad():
        torch.testing.assert_close(back(x), m.eval()(x), rtol=0, atol=0)


@pytest.mark.slow
def test_the_trainer_takes_both_kinds(tmp_path, demo_root):
    from tfselect.audio.dataset import tracks_for
    from tfselect.demix.train import make_config, train

    data = tracks_for(demo_root, "train")[:1], tracks_for(demo_root, "valid")[:1]
    cfg = make_config(
        dict(SPECS),
        epochs=1,
        steps=2,
        batch_size=1,
        chunk_seconds=0.5,
        valid_seconds=0.5,
        n_fft=256,
        hop=64,
    )
    hist = train(cfg, tmp_path / "m", progress=False, data=data)
    assert len(hist) == 1 and all(math.isfinite(v) for v in hist[0].values())
    assert np.isfinite(pd.read_csv(tmp_path / "m" / "losses.csv").to_numpy()).all()
    back = load_model(tmp_path / "m")
    assert back.config.to_dict()["specs"] == SPECS and back.config.residual  # drums, other out
    with torch.no_grad():
        assert torch.isfinite(back(torch.randn(1, 2, 3000))).all()


def test_resolve_specs_takes_both_kinds():
    got = resolve_specs(None, {"vocals": MR, "bass": f"ens: {STFT} + {MR}"})
    assert got == {"vocals": MR, "bass": ENS}


@pytest.mark.parametrize(
    ("network", "spec", "words"),
    [
        ("blstm", MR, ("mrstft has no matrix form", "network cdae")),
        ("convnext", ENS, ("member 2", "mrstft has no matrix form")),
    ],
)
def test_a_matrix_network_on_a_band_wise_transform_is_one_line(network, spec, words):
    with pytest.raises(TfselectError, match="needs a matrix form") as e:
        Demixer(ModelConfig(specs={"vocals": spec}, network=network))
    assert "\n" not in str(e.value) and all(w in str(e.value) for w in words)


def test_train_best_refuses_blstm_on_mrstft_in_one_line(tmp_path, demo_root):
    out = tmp_path / "m"
    res = CliRunner().invoke(
        app,
        [
            "train-best",
            "--out",
            str(out),
            "--root",
            str(demo_root),
            "--network",
            "blstm",
            "--spec",
            f"vocals={MR}",
            "--spec",
            f"bass={STFT}",
        ],
    )
    one_line_error(res, "mrstft has no matrix form")
    assert not out.exists()  # nothing written


def test_a_ragged_slicqt_member_gets_its_own_deoverlap_net(tmp_path):
    from tfselect.demix.deoverlap import (
        MODEL as NET_MODEL,
    )
    from tfselect.demix.deoverlap import (
        DeOverlapConfig,
        DeOverlapNet,
        deoverlap_models,
        load_net,
        save_model,
    )

    ragged = "slicqt:scale=bark,bins=12,fmin=60,fmax=22050"
    spec = f"ens:{STFT}+{ragged}"
    with pytest.raises(TfselectError, match=f"no --deoverlap-model for {ragged}"):
        deoverlap_models("learned", [], {"vocals": spec})  # the member is a ragged branch
    net = DeOverlapNet(DeOverlapConfig(ragged))
    with torch.no_grad():  # weights of its own, so that loading them is seen
        for p in net.parameters():
            p.uniform_(-1e-3, 1e-3)
    save_model(net, tmp_path / "dn" / NET_MODEL)
    nets = deoverlap_models("learned", [tmp_path / "dn"], {"vocals": spec})
    model = Demixer(ModelConfig(specs={"vocals": spec}, deoverlap=nets))
    model.load_deoverlap()
    first, second = model.branches["vocals"].members
    assert first.deoverlap is None
    want = load_net(tmp_path / "dn").state_dict()  # as stored (outside-neighbourhood zeroed)
    assert any(w.abs().sum() > 0 for w in want.values())
    for a, b in zip(second.deoverlap.state_dict().values(), want.values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_compare_refuses_an_ensemble_target_in_one_line():
    from tfselect.demix.compare import equal_sizes

    configs = {"stft": {"vocals": STFT, "bass": STFT}, "mine": {"vocals": MR, "bass": ENS}}
    with pytest.raises(TfselectError, match="ensemble target") as e:
        equal_sizes(configs, "auto", "small")
    assert "\n" not in str(e.value)
