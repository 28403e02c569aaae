"""Demixer training: overfit one clip, exact resume after kill -9, DDP (gloo, 2 processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

from tfselect import TARGETS

REPO = Path(__file__).resolve().parents[1]
STFT = "stft:n_fft=1024,hop=256"
SPECS = [f"--spec={t}={STFT}" for t in TARGETS]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    from tfselect.audio.demo import write_demo_corpus

    root = tmp_path_factory.mktemp("demixtrain") / "corpus"
    write_demo_corpus(root, tracks=3, seconds=4.0, seed=0, test_tracks=1)
    return root


def _env() -> dict:
    # one thread per process: the two runs compared must use the same reduction order
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def _train_cmd(corpus: Path, out: Path, epochs: int, extra: tuple = ()) -> list[str]:
    return [
        sys.executable,
        "-m",
        "tfselect",
        "train-best",
        "--root",
        str(corpus),
        "--out",
        str(out),
        "--epochs",
        str(epochs),
        "--steps",
        "2",
        "--batch-size",
        "2",
        "--chunk",
        "1",
        "--valid-seconds",
        "1",
        "--quiet",
        "--seed",
        "7",
        *SPECS,
        *extra,
    ]


def _losses(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "losses.csv").drop(columns="seconds")


@pytest.mark.slow
def test_overfit_one_clip(corpus, tmp_path):
    """On one fixed clip the magnitude loss falls >= 10x and the clip's SDR exceeds 10 dB.

    The total loss includes alpha * wSDR, which is negative (optimum -alpha), so the 10x
    criterion is applied to its non-negative magnitude-MSE part. The clip's SDR is the
    global SDR over the four targets together (sum of target energies over sum of errors).
    """
    from tfselect.audio.dataset import tracks_for
    from tfselect.demix.data import TrackAudio, TrainingSet
    from tfselect.demix.model_files import load_model
    from tfselect.demix.train import make_config, train

    torch.set_num_threads(1)  # no thread oversubscription on shared CI cores
    track = tracks_for(corpus, "test")[:1]
    spec = "stft:n_fft=2048,hop=512"
    cfg = make_config(
        {t: spec for t in TARGETS},
        "small",
        "blstm",
        None,
        epochs=80,
        steps=5,
        batch_size=1,
        chunk_seconds=1.5,
        fixed=True,
        augment=False,
        mix_tracks=False,
        valid_seconds=None,
        lr=3e-3,
        seed=0,
        mask="relu",
        n_fft=2048,
        hop=512,
    )
    t0 = time.perf_counter()
    hist = train(cfg, tmp_path / "m", progress=False, data=(track, []))
    seconds = time.perf_counter() - t0
    mix, ref = TrainingSet(TrackAudio(track), 1.5, 0, fixed=True).batch(0, [0])
    with torch.no_grad():
        est = load_model(tmp_path / "m")(mix)
    sdr = float(10 * torch.log10(ref.pow(2).sum() / (ref - est).pow(2).sum()))
    print(
        f"overfit: {seconds:.0f} s, freq loss {hist[0]['train_freq']:.3f} -> "
        f"{hist[-1]['train_freq']:.3f}, SDR {sdr:.2f} dB"
    )
    assert hist[0]["train_freq"] / min(h["train_freq"] for h in hist) >= 10
    assert sdr > 10


def _train(corpus, out, epochs) -> subprocess.CompletedProcess:
    """One training run to its end in a subprocess (output captured)."""
    return subprocess.run(_train_cmd(corpus, out, epochs), cwd=REPO, env=_env(),
                          capture_output=True, text=True, timeout=600)  # fmt: skip


@pytest.mark.slow
def test_resume_after_kill9_gives_identical_losses(corpus, tmp_path):
    ref_out, out = tmp_path / "ref", tmp_path / "killed"
    epochs = 6
    r = _train(corpus, ref_out, epochs)
    assert r.returncode == 0, r.stderr
    proc = subprocess.Popen(
        _train_cmd(corpus, out, epochs),
        cwd=REPO,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.time() + 300
        while time.time() < deadline:  # wait for the 2nd epoch's checkpoint, then kill
            if (out / "losses.csv").exists() and len(pd.read_csv(out / "losses.csv")) >= 2:
                break
            time.sleep(0.02)
        still_running = proc.poll() is None
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert still_running, "training ended before it could be killed"
    done = len(pd.read_csv(out / "losses.csv"))
    assert 2 <= done < epochs
    r = _train(corpus, out, epochs)
    assert r.returncode == 0, r.stderr
    assert "resumed" in (out / "train.log").read_text()
    pd.testing.assert_frame_equal(_losses(out), _losses(ref_out), check_exact=True)


@pytest.mark.slow
def test_ddp_two_cpu_processes_agree_with_one(corpus, tmp_path):
    one, two = tmp_path / "one", tmp_path / "two"
    r = subprocess.run(
        _train_cmd(corpus, one, 2),
        cwd=REPO,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    cmd = _train_cmd(corpus, two, 2)
    ddp = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "tfselect",
        *cmd[3:],
    ]
    r = subprocess.run(ddp, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert "processes 2" in (two / "train.log").read_text()
    from tfselect.demix.tensorfile import load_state

    a, b = _losses(one), _losses(two)
    pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-4)
    wa = load_state(one / "checkpoint.safetensors")["state_dict"]
    wb = load_state(two / "checkpoint.safetensors")["state_dict"]
    for k in wa:
        assert torch.allclose(wa[k], wb[k], rtol=1e-3, atol=1e-5), k


def test_one_bar_over_every_step_still_to_run(corpus, tmp_path, monkeypatch):
    """The bar's total is the training's steps (epochs x steps, less those done before a
    resume), so its ETA is the whole training's, not one epoch's."""
    from tqdm import tqdm

    import tfselect.demix.train as train_module
    from tfselect.audio.dataset import tracks_for
    from tfselect.demix.train import make_config, train

    bars = []

    class Recorded(tqdm):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            bars.append(self)

    monkeypatch.setattr(train_module, "tqdm", Recorded)
    torch.set_num_threads(1)
    data = (tracks_for(corpus, "train")[:1], [])

    def run(epochs: int) -> None:
        cfg = make_config({"vocals": STFT}, "small", "blstm", None, epochs=epochs, steps=2,
                          batch_size=1, chunk_seconds=0.5, valid_seconds=None, seed=0,
                          n_fft=1024, hop=256)  # fmt: skip
        train(cfg, tmp_path / "m", progress=True, data=data)

    run(3)
    assert [b.total for b in bars] == [3 * 2] and bars[0].n == 6
    run(5)  # resumed after 3 epochs: 2 more
    assert [b.total for b in bars[1:]] == [2 * 2] and bars[1].n == 4
