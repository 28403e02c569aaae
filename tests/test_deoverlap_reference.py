"""DeOverlapNet against definitions written here: the neighbourhood mask and the transfer by
explicit loops, the per-step clip draw, training steps that each see their own batch, and the
neighbourhood enforced again when a model is loaded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from tfselect.audio.dataset import discover
from tfselect.audio.synthesis import synthesize_track
from tfselect.demix.deoverlap import (
    MODEL,
    ClipSource,
    DeOverlapConfig,
    DeOverlapNet,
    TrainSettings,
    deoverlap_models,
    load_net,
    patches,
    save_model,
    solve,
    train_deoverlap,
)

SPEC = "slicqt:scale=bark,bins=48,fmin=60,fmax=22050"


def _mask_by_loops(bins: int, half: int, R: int, r: int) -> np.ndarray:
    """Row (k, m, re/im) reads column (k2, p, re/im) iff |k - k2| <= R and output frame m,
    at patch position m + r, is within r frames of patch position p."""
    P = half + 2 * r
    mask = np.zeros((bins, half, 2, bins, P, 2), bool)
    for k in range(bins):
        for m in range(half):
            for k2 in range(bins):
                for p in range(P):
                    if abs(k - k2) <= R and abs(m + r - p) <= r:
                        mask[k, m, :, k2, p, :] = True
    return mask.reshape(bins * half * 2, bins * P * 2)


# the blocks of SPEC have 16, 20, 24, ..., 64 frames, then longer: max_frames is inclusive
@pytest.mark.parametrize("R, r, max_frames, learned", [(0, 0, 20, 2), (1, 2, 24, 3),
                                                       (3, 5, 40, 7)])
def test_neighbourhood_mask_matches_its_definition(R: int, r: int, max_frames: int,
                                                   learned: int) -> None:
    net = DeOverlapNet(DeOverlapConfig(SPEC, bins_radius=R, frames_radius=r,
                                       max_frames=max_frames))  # fmt: skip
    for b, w, mask in zip(net.transform.out_blocks, net.weights, net._masks, strict=True):
        if b.frames > max_frames:  # short windows are left to the split
            assert w.numel() == 0 and mask.numel() == 0
            continue
        learned -= 1
        ref = _mask_by_loops(b.bins, b.frames // 2, R, r)
        assert w.shape == ref.shape and not w.detach().any()
        np.testing.assert_array_equal(mask.numpy(), ref)
    assert learned == 0


def test_transfer_matches_its_definition_by_loops() -> None:
    """D[k, s, m] = sum over the patch of overlap s (frames s*F/2 - r .. (s+1)*F/2 + r, zero
    outside the picture) of W[(k, m), (k2, p)] * picture[k2, s*F/2 + p - r], re/im apart."""
    R, r = 1, 2
    net = DeOverlapNet(DeOverlapConfig(SPEC, bins_radius=R, frames_radius=r, max_frames=20))
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for w, mask in zip(net.weights, net._masks, strict=True):
            w.copy_(torch.randn(w.shape, generator=gen) * mask)
    net = net.double()
    x = torch.randn(1, 2, 6000, generator=gen, dtype=torch.float64)
    pic = net.overlap.ola(net.transform(x))
    checked = 0
    for i, blk in enumerate(net.transform.out_blocks):
        if net.weights[i].numel() == 0:
            continue
        K, half = blk.bins, blk.frames // 2
        P = half + 2 * r
        W = net.weights[i].detach().numpy().reshape(K, half, 2, K, P, 2)
        o = pic[i][0, 0].numpy()  # (K, N) complex, channel 0
        N = o.shape[-1]
        S1 = N // half
        xs = np.stack([o.real, o.imag], -1)  # (K, N, 2)
        ref = np.zeros((K, S1, half), complex)
        for s in range(S1):
            patch = np.zeros((K, P, 2))
            for p in range(P):
                frame = s * half + p - r
                if 0 <= frame < N:
                    patch[:, p] = xs[:, frame]
            for k in range(K):
                for m in range(half):
                    re = float(np.sum(W[k, m, 0] * patch))
                    im = float(np.sum(W[k, m, 1] * patch))
                    ref[k, s, m] = re + 1j * im
        got = net.transfer(i, pic[i])[0, 0].detach().numpy()
        np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-10)
        checked += 1
    assert checked >= 1


def _random_net() -> DeOverlapNet:
    """A float64 net with random weights inside its neighbourhood (R = 1, r = 2)."""
    net = DeOverlapNet(DeOverlapConfig(SPEC, bins_radius=1, frames_radius=2, max_frames=20))
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for w, mask in zip(net.weights, net._masks, strict=True):
            w.copy_(torch.randn(w.shape, generator=gen) * mask)
    return net.double()


def test_transfer_takes_any_leading_shape_and_keeps_the_picture_dtype() -> None:
    net = _random_net()
    x = torch.randn(1, 2, 6000, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    pic = net.overlap.ola(net.transform(x))
    i = next(i for i, w in enumerate(net.weights) if w.numel())
    with torch.no_grad():
        four = net.transfer(i, pic[i])  # (1, 2, K, N)
        three = net.transfer(i, pic[i][0])  # (2, K, N)
        single = net.transfer(i, pic[i].to(torch.complex64))
    torch.testing.assert_close(three, four[0], rtol=0, atol=0)
    assert four.dtype == torch.complex128 and single.dtype == torch.complex64
    torch.testing.assert_close(single, four.to(torch.complex64), rtol=1e-4, atol=1e-4)


def test_forward_adds_each_overlap_to_the_two_slices_sharing_it() -> None:
    """Slice j = the window split + D_j on its first half - D_(j+1) on its second half, for
    the inner overlaps 1..S-1 (D = transfer of the picture); blocks without weights: split."""
    net = _random_net()
    x = torch.randn(1, 2, 6000, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    pic = net.overlap.ola(net.transform(x))
    with torch.no_grad():
        got, base = net(pic), net.overlap.split(pic)
        for i, (g, c) in enumerate(zip(got, base, strict=True)):
            ref = c.clone()
            if net.weights[i].numel():
                D = net.transfer(i, pic[i])  # (..., K, S + 1, half)
                S, half = c.shape[-2], c.shape[-1] // 2
                for j in range(S):
                    if j >= 1:
                        ref[..., j, :half] += D[..., j, :]
                    if j + 1 <= S - 1:
                        ref[..., j, half:] -= D[..., j + 1, :]
            torch.testing.assert_close(g, ref, rtol=1e-12, atol=1e-12)


@pytest.fixture
def tracks(tmp_path: Path) -> list:
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        for s in ("vocals", "drums"):
            x = (0.1 * rng.standard_normal((30000, 2))).astype(np.float32)
            (tmp_path / "train" / name).mkdir(parents=True, exist_ok=True)
            sf.write(str(tmp_path / "train" / name / f"{s}.wav"), x, 44100, subtype="FLOAT")
    return discover(tmp_path)


def test_clip_batches_differ_between_steps_and_match_across_instances(tracks) -> None:
    a = ClipSource(tracks, 0.1, seed=3, synthetic=0.0)
    b = ClipSource(tracks, 0.1, seed=3, synthetic=0.0)
    x0, x1 = a.batch(0, 4), a.batch(1, 4)
    assert x0.shape == (4, 2, 4410) and x0.dtype == torch.float32
    assert torch.equal(x0, b.batch(0, 4)) and torch.equal(x1, b.batch(1, 4))
    assert torch.equal(x0[:2], a.batch(0, 2))  # clip i of a step does not depend on the size
    assert not torch.equal(x0, x1)
    assert all(not torch.equal(x0[i], x0[j]) for i in range(4) for j in range(i))
    assert not torch.equal(x0, ClipSource(tracks, 0.1, seed=4, synthetic=0.0).batch(0, 4))
    for clip in x0:  # each clip is a gain in [0.1, 1] times a chunk of one source of one track
        assert 0 < float(clip.abs().max()) <= 1.0


def _synthetic_clip_by_definition(seed: int, step: int, index: int, n: int, songs: int,
                                  cache: dict) -> tuple[np.ndarray, str]:
    """The documented draw without a corpus, and its kind: gain in [0.1, 1]; then coloured
    noise (one draw in three) or a chunk of one source of one of ``songs`` demo songs of
    max(12 s, 2 clips)."""
    rng = np.random.default_rng([seed, step, index])
    gain = np.float32(rng.uniform(0.1, 1.0))
    # no corpus: no synthetic-or-corpus draw
    if int(rng.integers(3)) == 0:
        x = np.fft.rfft(rng.standard_normal((2, n)))
        x = np.fft.irfft(x * np.maximum(np.arange(x.shape[-1]), 1.0) ** -rng.uniform(0, 1), n=n)
        return (gain * 0.1 * x / (x.std() + 1e-12)).astype(np.float32), "noise"
    k = int(rng.integers(songs))
    if k not in cache:
        cache[k] = synthesize_track(seed + 7919, k, max(12.0, 2 * n / 44100))[1]
    names = list(cache[k])
    a = cache[k][names[int(rng.integers(len(names)))]]
    start = int(rng.integers(a.shape[1] - n + 1))
    return gain * a[:, start : start + n], "song"


def test_synthetic_clips_follow_their_definition() -> None:
    source, cache = ClipSource([], 0.1, seed=5, synthetic=1.0, songs=3), {}
    kinds = []
    for step in range(6):
        batch = source.batch(step, 3)
        assert batch.shape == (3, 2, 4410) and batch.dtype == torch.float32
        for i in range(3):
            ref, kind = _synthetic_clip_by_definition(5, step, i, 4410, 3, cache)
            np.testing.assert_array_equal(batch[i].numpy(), ref)
            assert ref.std() > 0  # sound, not silence
            kinds.append(kind)
    assert set(kinds) == {"noise", "song"} and len(cache) == 3  # both branches, every song


def test_deoverlap_is_the_network_applied_to_the_overlap_add() -> None:
    net = DeOverlapNet(DeOverlapConfig(SPEC, bins_radius=1, frames_radius=1, max_frames=20))
    with torch.no_grad():
        for w in net.weights:
            w.copy_(0.01 * torch.randn(w.shape))
    C = net.transform(torch.randn(1, 2, 8000, generator=torch.Generator().manual_seed(0)))
    for got, want in zip(net.deoverlap(C), net(net.overlap.ola(C)), strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_training_steps_each_fit_their_own_batch(tracks, tmp_path: Path) -> None:
    """Two training steps give exactly the ridge fit of batch(0) and batch(1) together."""
    cfg = DeOverlapConfig(SPEC, bins_radius=1, frames_radius=2, max_frames=20)
    settings = TrainSettings(config=cfg.to_dict(), minutes=60, batch_size=2, seconds=0.3,
                             synthetic=0.0, valid_clips=0, steps=2, seed=7)
    train_deoverlap(settings, tmp_path / "m", progress=False, tracks=(tracks, tracks))
    trained = load_net(tmp_path / "m")
    data = ClipSource(tracks, 0.3, seed=7, synthetic=0.0)
    net = DeOverlapNet(cfg)
    stats: dict = {}
    for step in (0, 1):
        for i, (X, Y) in patches(net, net.transform(data.batch(step, 2))).items():
            st = stats.setdefault(i, {"xx": 0, "xy": 0})
            st["xx"] = st["xx"] + X.T @ X
            st["xy"] = st["xy"] + X.T @ Y
    solve(net, stats, settings.ridge)
    for p, q in zip(trained.weights, net.weights, strict=True):
        torch.testing.assert_close(p, q, rtol=1e-6, atol=1e-9)
    assert any(w.detach().abs().sum() > 0 for w in trained.weights)


def test_loading_keeps_only_the_neighbourhood(tmp_path: Path) -> None:
    net = DeOverlapNet(DeOverlapConfig(SPEC, bins_radius=1, frames_radius=1, max_frames=20))
    with torch.no_grad():
        for w in net.weights:
            w.copy_(torch.randn(w.shape))  # dense, as a hand-edited or foreign file could be
    dense = [w.detach().clone() for w in net.weights]
    save_model(net, tmp_path / MODEL)
    back = load_net(tmp_path)
    for w, mask, full in zip(back.weights, back._masks, dense, strict=True):
        if w.numel():
            assert not w[~mask].any()
            torch.testing.assert_close(w[mask], full[mask], rtol=0, atol=0)


def test_deoverlap_models_pairs_each_ragged_branch_with_one_model(tmp_path: Path) -> None:
    from tfselect.errors import TfselectError

    stft, ragged = "stft:n_fft=4096,hop=1024", "slicqt:scale=bark,bins=12,fmin=60,fmax=22050"
    matrix = f"{ragged},form=zeropad"

    def refused(mode: str, dirs: list, specs: dict) -> str:
        with pytest.raises(TfselectError) as err:
            deoverlap_models(mode, dirs, specs)
        return str(err.value)

    assert refused("auto", [], {"a": ragged}) == "--deoverlap must be none or learned, got 'auto'"
    assert deoverlap_models("none", [], {"a": ragged}) == {}
    assert refused("none", [tmp_path], {"a": ragged}) == (
        "--deoverlap-model needs --deoverlap learned")
    assert refused("learned", [], {"a": matrix, "b": stft, "c": matrix}) == (
        "--deoverlap learned needs a branch on a ragged sliCQT; these are all matrix forms: "
        f"{matrix}, {stft}")
    for specs in ({"a": ragged, "b": stft}, {"a": f"ens:{stft}+{ragged}"}):  # members too
        assert refused("learned", [], specs) == (
            f"--deoverlap learned: no --deoverlap-model for {ragged}; train one with "
            f"`tfselect deoverlap train --transform {ragged} --out DIR`")
    save_model(DeOverlapNet(DeOverlapConfig(ragged)), tmp_path / "dn" / MODEL)
    nets = deoverlap_models("learned", [tmp_path / "dn"], {"a": f"ens:{stft}+{ragged}"})
    assert list(nets) == [ragged] and nets[ragged]["source"] == str(tmp_path / "dn")
    assert nets[ragged]["spec"] == ragged
