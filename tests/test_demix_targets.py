"""The demixer with K targets: subset rule of the combination loss, K = 3 and K = 6 models on
generic stem folders, and separation into K stems plus the residual that sum to the input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from test_layouts import SIX, stem_folders
from typer.testing import CliRunner

from tfselect.cli import app
from tfselect.demix.losses import (
    ALL_SUBSETS_MAX,
    DemixLoss,
    LossConfig,
    combinations,
    sampled_combinations,
)

STFT = "stft:n_fft=512,hop=128"


def test_all_subsets_up_to_five_targets_then_a_seeded_sample() -> None:
    assert ALL_SUBSETS_MAX == 5
    assert len(DemixLoss(n_targets=5).subsets()) == 2**5 - 2 == len(combinations(5))
    loss = DemixLoss(n_targets=8, seed=3)
    a, b = loss.subsets(step=10), loss.subsets(step=11)
    assert a == loss.subsets(step=10) == sampled_combinations(8, 3, 10)  # fixed per step
    assert a != b and len(a) == len(b) == 2 * 8  # 2K subsets, not 2^K - 2 = 254
    assert a[:8] == [(i,) for i in range(8)]
    for s in a[8:]:
        assert 2 <= len(s) <= 7 and len(set(s)) == len(s) and list(s) == sorted(s)
    assert loss.subsets() == loss.subsets(None)  # validation: one fixed draw
    assert DemixLoss(n_targets=8).subsets(step=2) == sampled_combinations(8, 0, 2)  # seed 0
    assert loss.subsets() == sampled_combinations(8, 3, -1)  # validation: its own step, -1
    # Every seed its own draws (also past 32 bits), and every subset size from 2 to K-1 drawn.
    draws = {tuple(sampled_combinations(8, seed, 0)) for seed in (0, 1, 2, 2**32 + 5)}
    assert len(draws) == 4
    sizes = {len(s) for step in range(20) for s in sampled_combinations(8, 0, step)[8:]}
    assert sizes == set(range(2, 8))


def test_sampled_loss_is_the_mean_over_its_subsets() -> None:
    """K = 6 at one step: the mean of single-signal losses on the drawn subsets' sums."""
    g = torch.Generator().manual_seed(0)
    est, ref = (torch.randn(2, 6, 2, 4096, generator=g) for _ in range(2))
    mix = ref.sum(1) + 0.1 * torch.randn(2, 2, 4096, generator=g)
    cfg = LossConfig(n_fft=512, hop=128)
    got, _ = DemixLoss(cfg, 6, seed=1)(est, ref, mix, step=4)
    one = DemixLoss(LossConfig(n_fft=512, hop=128, combination=False), 1)
    freq, time = [], []
    for s in sampled_combinations(6, 1, 4):
        _, parts = one(est[:, list(s)].sum(1, keepdim=True), ref[:, list(s)].sum(1, keepdim=True),
                       mix)  # fmt: skip
        freq.append(parts["freq"])
        time.append(parts["time"])
    assert float(got) == pytest.approx(np.mean(freq) + cfg.alpha * np.mean(time), rel=1e-5)


def _train(root: Path, out: Path, targets, extra=()) -> None:
    specs = [a for t in targets for a in ("--spec", f"{t}={STFT}")]
    res = CliRunner().invoke(app, ["train-best", "--root", str(root), "--out", str(out),
                                   "--epochs", "1", "--steps", "2", "--batch-size", "2",
                                   "--chunk", "0.5", "--valid-seconds", "0.5", "--quiet",
                                   "--no-augment", *specs, *extra])  # fmt: skip
    assert res.exit_code == 0, res.output


@pytest.fixture(scope="module")
def six(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("six")
    stem_folders(root, n=SR_2)
    return root


SR_2 = 2 * 44100


def test_k6_model_covers_the_mixture(six: Path, tmp_path: Path) -> None:
    from tfselect.demix.model_files import load_model

    _train(six, tmp_path / "m6", SIX)
    model = load_model(tmp_path / "m6")
    assert list(model.targets) == ["vocals", "drums", "bass", "guitar", "piano", "strings"]
    assert model.config.residual is False
    assert list(model.config.specs) == list(model.targets)  # the names are in the config


@pytest.mark.slow
def test_k3_model_separates_into_stems_and_residual(six: Path, tmp_path: Path) -> None:
    from tfselect.demix.model_files import load_model

    cfg = tmp_path / "map.toml"
    cfg.write_text('[targets]\nkeys = ["piano", "strings"]\nguitar = "guitar"\nvocals = "vocals"\n')
    _train(six, tmp_path / "m3", ("keys", "guitar", "vocals"), ("--config", str(cfg)))
    model = load_model(tmp_path / "m3")
    assert list(model.targets) == ["vocals", "keys", "guitar"] and model.config.residual
    assert model.train_config["targets"]["keys"] == ["piano", "strings"]
    song = tmp_path / "song.wav"
    x = (0.1 * np.random.default_rng(0).standard_normal((30000, 2))).astype(np.float32)
    sf.write(song, x, 48000, subtype="FLOAT")
    res = CliRunner().invoke(app, ["separate", str(song), "--model", str(tmp_path / "m3"),
                                   "--out", str(tmp_path / "sep")])  # fmt: skip
    assert res.exit_code == 0, res.output
    folder = tmp_path / "sep" / "song"
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["guitar.wav", "keys.wav", "residual.wav", "vocals.wav"]
    total = 0
    for p in folder.iterdir():
        y, rate = sf.read(p, dtype="float64")
        assert rate == 48000 and y.shape == x.shape
        total = total + y
    np.testing.assert_allclose(total, x, atol=1e-6)
    # evaluate scores the residual too (the map recorded in the model reads the same targets)
    res = CliRunner().invoke(app, ["evaluate", "--model", str(tmp_path / "m3"), "--root",
                                   str(six), "--duration", "1",
                                   "--out", str(tmp_path / "ev")])  # fmt: skip
    assert res.exit_code == 0, res.output
    info = json.loads((tmp_path / "ev" / "info.json").read_text())
    assert info["tracks"] == ["d"]
    import pandas as pd

    per_track = pd.read_csv(tmp_path / "ev" / "tracks.csv")
    assert list(per_track["target"]) == ["vocals", "keys", "guitar", "residual"]
