"""Mask oracles and SDR: exact on a one-source mixture, sensible on a two-source one."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from tfselect.metrics.oracles import ORACLES, oracle_estimates
from tfselect.metrics.sdr import fast_sdr, museval_sdr, si_sdr, usdr
from tfselect.transforms import build

SR = 44100


@pytest.fixture(
    scope="module",
    params=["stft:n_fft=4096,hop=1024", "slicqt:scale=bark,bins=262,fmin=32.9,fmax=22050"],
    ids=["stft", "slicqt"],
)
def transform(request):
    return build(request.param, sample_rate=SR)


def _signal(seed: int, n: int = 3 * SR) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    t = torch.arange(n, dtype=torch.float64) / SR
    tone = 0.3 * torch.sin(2 * math.pi * (220 + 40 * seed) * t)
    return tone + 0.05 * torch.randn(2, n, dtype=torch.float64, generator=g)


def _oracle_sdrs(T, mixture: torch.Tensor, stems: torch.Tensor, target: int) -> dict[str, float]:
    C = T(torch.cat([mixture[None], stems]))
    est = oracle_estimates([c[0] for c in C], [c[1:] for c in C], target)
    y = T.inverse(est, mixture.shape[-1])
    return {name: float(fast_sdr(stems[target], y[i])) for i, name in enumerate(ORACLES)}


def test_every_oracle_is_exact_on_a_one_source_mixture(transform) -> None:
    s = _signal(0)
    stems = torch.stack([s, torch.zeros_like(s), torch.zeros_like(s), torch.zeros_like(s)])
    sdrs = _oracle_sdrs(transform, s, stems, target=0)
    assert set(sdrs) == set(ORACLES)
    for name, value in sdrs.items():
        assert value >= 100.0, name


def _random_blocks(rng: np.random.Generator, shapes, sources: int = 3) -> list[np.ndarray]:
    """Ragged blocks (sources, channels, bins, slices, frames) of random complex stems.

    Magnitudes are log-uniform over two decades, so |S_t|/|X| spans the whole [0, 1+] range
    and every mask takes many different values (and the binary mask both of its values).
    """
    blocks = []
    for shape in shapes:
        mag = 10 ** rng.uniform(-1, 1, (sources, *shape))
        blocks.append(mag * np.exp(2j * np.pi * rng.uniform(size=(sources, *shape))))
    return blocks


def _numpy_oracle(name: str, X: complex, S: np.ndarray, t: int) -> complex:
    """One coefficient of one oracle, from the formulas in the module docstring."""
    tiny = np.finfo(np.float64).tiny
    mag = np.abs(S)
    if name == "mpi":
        return mag[t] * X / abs(X) if X != 0 else 0j
    if name == "irm1":
        return mag[t] / (tiny + mag.sum()) * X
    if name == "irm2":
        return mag[t] ** 2 / (tiny + (mag**2).sum()) * X
    return (1.0 if mag[t] / (tiny + abs(X)) >= 0.5 else 0.0) * X


@pytest.mark.parametrize("target", [0, 2])
def test_oracle_masks_match_numpy_element_by_element(target: int) -> None:
    rng = np.random.default_rng(10 + target)
    shapes = [(2, 3, 1, 5), (2, 4, 2, 3)]  # ragged: two blocks of different shapes
    stems = _random_blocks(rng, shapes)
    mixes = [s.sum(0) for s in stems]
    # Exact cases: the ibm threshold itself (|S_t| = |X| / 2 is kept) and a silent coefficient.
    stems[0][:, 0, 0, 0, 0] = 0.0
    stems[0][:, 0, 0, 0, 1] = [0.5, 0.25, 0.25] if target == 0 else [0.25, 0.25, 0.5]
    mixes = [s.sum(0) for s in stems]
    names = ("irm2", "ibm", "mpi", "irm1")  # any order: stacked as asked
    got = oracle_estimates(
        [torch.from_numpy(m) for m in mixes], [torch.from_numpy(s) for s in stems], target, names
    )
    assert [tuple(g.shape) for g in got] == [(len(names), *shape) for shape in shapes]
    ratios = []
    for g, X, S in zip(got, mixes, stems, strict=True):
        assert g.dtype == torch.complex128
        for i, name in enumerate(names):
            want = np.empty_like(X)
            for idx in np.ndindex(X.shape):
                want[idx] = _numpy_oracle(name, X[idx], S[(slice(None), *idx)], target)
            np.testing.assert_allclose(g[i].numpy(), want, rtol=1e-12, atol=1e-300, err_msg=name)
        with np.errstate(invalid="ignore"):  # the silent coefficient: 0/0
            ratios.append((np.abs(S[target]) / np.abs(X)).ravel())
    ratios = np.concatenate(ratios)
    # The data exercise the ibm threshold: ratios on both sides of 0.5, and between 0.2 and 0.5.
    assert (ratios < 0.2).any() and ((ratios > 0.2) & (ratios < 0.5)).any() and (ratios > 0.5).any()
    assert np.isnan(ratios).any() and (ratios == 0.5).any()  # 0/0 and the exact threshold


def test_oracles_in_float32_and_unknown_names() -> None:
    rng = np.random.default_rng(5)
    (stems,) = _random_blocks(rng, [(1, 6, 1, 7)], sources=4)
    X = stems.sum(0)
    est = oracle_estimates(
        [torch.from_numpy(X).to(torch.complex64)],
        [torch.from_numpy(stems).to(torch.complex64)], 1, ("irm1", "ibm"),
    )[0]
    assert est.dtype == torch.complex64 and est.shape == (2, 1, 6, 1, 7)
    irm1 = np.abs(stems[1]) / np.abs(stems).sum(0) * X
    np.testing.assert_allclose(est[0].numpy(), irm1, rtol=1e-5)
    ibm = (np.abs(stems[1]) / np.abs(X) >= 0.5) * X
    np.testing.assert_allclose(est[1].numpy(), ibm, rtol=1e-6)
    # the output follows the input's device (torch's meta device stands in for a GPU: it
    # refuses to mix devices, like CUDA)
    meta = oracle_estimates([torch.from_numpy(X).to("meta")], [torch.from_numpy(stems).to("meta")],
                            1, ORACLES)[0]
    assert (meta.device.type, meta.dtype, meta.shape) == ("meta", torch.complex128,
                                                          (len(ORACLES), 1, 6, 1, 7))
    mix, src = [torch.from_numpy(X)], [torch.from_numpy(stems)]
    assert oracle_estimates(mix, src, 0, ())[0].shape[0] == 0
    with pytest.raises(ValueError, match=r"unknown oracle\(s\) \['irm3'\]; known: \('mpi'"):
        oracle_estimates(mix, src, 0, ("mpi", "irm3"))


def _numpy_mwf(X: np.ndarray, S: np.ndarray, t: int) -> np.ndarray:
    """sigsep's MWF oracle on one block, bin by bin and coefficient by coefficient.

    X (channels, bins, slices, frames), S (sources, channels, bins, slices, frames): per
    bin, R_j = mean over the bin's coefficients of S_j S_jᴴ / (tiny + v_j), scaled to trace =
    channels, plus 1e-8·I; then v_t R_t (Σ_j v_j R_j + tiny·I)⁻¹ x with an explicit inverse.
    """
    tiny, eps = np.finfo(np.float64).tiny, 1e-8
    n_src, n_ch, n_bins = S.shape[:3]
    out = np.zeros_like(X)
    for b in range(n_bins):
        Sb = S[:, :, b].reshape(n_src, n_ch, -1)  # (sources, channels, T)
        Xb = X[:, b].reshape(n_ch, -1)
        v = np.mean(np.abs(Sb) ** 2, axis=1)  # (sources, T)
        R = np.zeros((n_src, n_ch, n_ch), dtype=complex)
        for j in range(n_src):
            for k in range(Sb.shape[-1]):
                R[j] += np.outer(Sb[j, :, k], Sb[j, :, k].conj()) / (tiny + v[j, k])
            R[j] /= Sb.shape[-1]
            R[j] = R[j] * n_ch / (tiny + np.trace(R[j]).real) + eps * np.eye(n_ch)
        est = np.zeros_like(Xb)
        for k in range(Sb.shape[-1]):
            Cxx = sum(v[j, k] * R[j] for j in range(n_src)) + tiny * np.eye(n_ch)
            est[:, k] = v[t, k] * R[t] @ np.linalg.inv(Cxx) @ Xb[:, k]
        out[:, b] = est.reshape(X[:, b].shape)
    return out


def test_mwf_matches_numpy_on_an_stft_and_on_ragged_blocks() -> None:
    # Three stereo sources panned differently (one nearly hard left), 4096 samples, STFT 512/256.
    n = 4096
    src = torch.stack([_signal(k, n) * torch.tensor([[g], [1 - g]], dtype=torch.float64)
                       for k, g in enumerate((0.5, 0.8, 0.999))])  # fmt: skip
    T = build("stft:n_fft=512,hop=256", sample_rate=SR)
    C = T(torch.cat([src.sum(0)[None], src]))
    for target in (0, 2):
        got = oracle_estimates([c[0] for c in C], [c[1:] for c in C], target, ("mwf",))[0][0]
        want = _numpy_mwf(C[0][0].numpy(), C[0][1:].numpy(), target)
        np.testing.assert_allclose(got.numpy(), want, rtol=1e-9, atol=1e-12 * np.abs(want).max())
    # Ragged blocks (a sliCQT's shape): R_j per bin over its slices and frames.
    rng = np.random.default_rng(3)
    stems = _random_blocks(rng, [(2, 3, 2, 5), (2, 4, 3, 3)], sources=4)
    mixes = [s.sum(0) for s in stems]
    got = oracle_estimates([torch.from_numpy(m) for m in mixes],
                           [torch.from_numpy(s) for s in stems], 1, ("mpi", "mwf"))  # fmt: skip
    for g, X, S in zip(got, mixes, stems, strict=True):
        np.testing.assert_allclose(g[1].numpy(), _numpy_mwf(X, S, 1), rtol=1e-9)
    # A silent source (R_j = 0) and a silent bin (Cxx = 0) give zeros, never NaN.
    stems[0][1] = 0.0
    stems[0][:, :, 1] = 0.0
    X = stems[0].sum(0)
    est = oracle_estimates([torch.from_numpy(X)], [torch.from_numpy(stems[0])], 0, ("mwf",))[0]
    assert torch.isfinite(est).all() and (est[0, :, 1] == 0).all() and (est[0] != 0).any()


def test_mwf_is_irm2_when_every_stem_is_centred(clips) -> None:
    """With L = R in every stem all spatial covariances are equal and the multichannel filter
    is the single-channel one: mwf = irm2. What mwf gains elsewhere is spatial."""
    from tfselect.metrics import score

    clip = clips(subset="train", seconds=2.0)[0]
    stems = {k: np.repeat(v.mean(0, keepdims=True), 2, 0) for k, v in clip.stems.items()}
    mono = dataclasses.replace(clip, mixture=sum(stems.values()), stems=stems)
    got = score("stft:n_fft=2048,hop=1024", "vocals", [mono], ["irm2", "mwf"])
    assert got["mwf"] == pytest.approx(got["irm2"], abs=1e-3)
    stereo = score("stft:n_fft=2048,hop=1024", "vocals", [clip], ["irm2", "mwf"])
    assert stereo["mwf"] > stereo["irm2"] + 1.0  # the demo's panned sources: see below


@pytest.mark.slow
def test_oracle_order_on_the_demo_corpus(clips) -> None:
    """SiSEC18's setting (STFT 2048/1024, museval medians) on four 4-s demo clips per target.

    Measured (dB, 16 clip × target pairs): irm2 > irm1 on all 16, irm1 >= ibm on 13, mwf >
    irm2 on all 16 (by 0.2-6 dB), mpi > irm1 on 11 of the 12 vocals/drums/other pairs and
    mpi < irm1 on all 4 bass clips. On MUSDB, IRM2 leads MWF; here every demo source is a
    mono signal panned by gain (one rank-1 spatial covariance per source, two per drum kit),
    so the spatial filter separates sources that overlap in time and frequency, which no
    single-channel mask can (with centred stems mwf = irm2, test above). MPI keeps the true
    magnitude and the mixture's phase: it beats IRM1 where the target dominates its
    coefficients (error about 0.64 of the interferer's magnitude against IRM1's 1.27) and
    loses where sources of similar level overlap (an equal pair: IRM1's error is cos(φ/4)
    times MPI's), as the bass does against the kick and the chords in an STFT of 2048.
    """
    from tfselect.metrics import score

    chosen = clips(subset="train", n_clips=1, seconds=4.0) + clips(n_clips=1, seconds=4.0)
    names = ("irm2", "mwf", "irm1", "ibm", "mpi")
    got = {t: [score("stft:n_fft=2048,hop=1024", t, [c], names, bss="museval") for c in chosen]
           for t in ("vocals", "drums", "bass", "other")}  # fmt: skip
    pairs = [r for rows in got.values() for r in rows]
    assert len(pairs) == 16
    assert all(r["irm2"] > r["irm1"] for r in pairs)
    assert all(r["mwf"] > r["irm2"] for r in pairs)
    assert sum(r["irm1"] >= r["ibm"] for r in pairs) >= 12
    assert all(r["mpi"] < r["irm1"] for r in got["bass"])
    others = [r for t in ("vocals", "drums", "other") for r in got[t]]
    assert sum(r["mpi"] > r["irm1"] for r in others) >= 10


def test_float32_oracles_are_close_to_float64(transform) -> None:
    a, b = _signal(3), _signal(4)
    stems = torch.stack([a, b, torch.zeros_like(a), torch.zeros_like(a)])
    hi = _oracle_sdrs(transform, a + b, stems, 0)
    lo = _oracle_sdrs(transform, (a + b).float(), stems.float(), 0)
    for name in ORACLES:
        assert lo[name] == pytest.approx(hi[name], abs=0.05)


def test_fast_sdr_matches_numpy_formula() -> None:
    rng = np.random.default_rng(7)
    ref = rng.standard_normal((3, 2, 2, 500))  # two batch axes, then (channels, samples)
    est = ref + rng.uniform(0.1, 2.0, (3, 2, 1, 1)) * rng.standard_normal(ref.shape)
    want = 10 * np.log10((ref**2).sum(axis=(-2, -1)) / ((ref - est) ** 2).sum(axis=(-2, -1)))
    got = fast_sdr(torch.from_numpy(ref), torch.from_numpy(est).float())  # float32 estimate
    assert got.dtype == torch.float64 and got.shape == (3, 2)
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6)
    # float32 inputs are accumulated in float64: exact sums of the float32 values
    long = rng.standard_normal((2, 200_000)).astype(np.float32)
    noisy = (long + 0.01 * rng.standard_normal(long.shape)).astype(np.float32)
    l64, n64 = long.astype(np.float64), noisy.astype(np.float64)
    want = 10 * np.log10((l64**2).sum() / ((l64 - n64) ** 2).sum())
    got = fast_sdr(torch.from_numpy(long), torch.from_numpy(noisy).double())
    assert got.dtype == torch.float64 and float(got) == pytest.approx(want, rel=1e-12)
    s = torch.from_numpy(ref[0, 0])
    assert float(fast_sdr(s, 0.5 * s)) == pytest.approx(10 * math.log10(4.0), rel=1e-12)
    # The tiny floor: a perfect estimate is finite, Σs²/tiny; silence against silence is 0 dB.
    tiny = np.finfo(np.float64).tiny
    perfect = 10 * (math.log10((ref[0, 0] ** 2).sum()) - math.log10(tiny))
    assert float(fast_sdr(s, s)) == pytest.approx(perfect)
    zero = torch.zeros(2, 10, dtype=torch.float64)
    assert float(fast_sdr(zero, zero)) == 0.0
    assert float(fast_sdr(zero, zero + 1.0)) == pytest.approx(10 * math.log10(tiny / 20))


def test_museval_sdr_is_the_median_of_v4_frames_and_skips_silent_ones() -> None:
    import museval

    rate = 2000  # short 1-s frames keep BSSEval fast
    rng = np.random.default_rng(8)
    ref = rng.standard_normal((2, 4 * rate))
    ref[:, rate : 2 * rate] = 0.0  # the second frame is silent: museval gives NaN there
    est = ref + np.repeat([0.05, 0.0, 0.3, 0.6], rate) * rng.standard_normal(ref.shape)
    # Reference: each 1-s frame scored on its own, then the median of the three sounding ones.
    frames = [
        museval.evaluate(ref[:, k * rate : (k + 1) * rate].T[None],
                         est[:, k * rate : (k + 1) * rate].T[None], win=rate, hop=rate)[0][0, 0]
        for k in (0, 2, 3)
    ]  # fmt: skip
    assert frames[0] > frames[1] > frames[2]  # so the median is not the mean
    got = museval_sdr(torch.from_numpy(ref), torch.from_numpy(est).float(), sample_rate=rate)
    assert got == pytest.approx(frames[1], abs=1e-3)
    silent = torch.zeros(2, 2 * rate, dtype=torch.float64)
    assert math.isnan(museval_sdr(silent, silent + 0.1, sample_rate=rate))
    # Sounding only in the trailing partial second, which museval drops: no frame to score.
    tail = torch.zeros(2, 2 * rate + rate // 2, dtype=torch.float64)
    tail[:, 2 * rate + 10 :] = 1.0
    assert math.isnan(museval_sdr(tail, tail + 0.1, sample_rate=rate))


def test_museval_sdr_frames_are_one_second_at_44k1_by_default() -> None:
    import museval

    rng = np.random.default_rng(9)
    ref = rng.standard_normal((1, 3 * SR))
    est = ref + np.repeat([0.02, 0.2, 0.9], SR) * rng.standard_normal(ref.shape)
    frames = museval.evaluate(ref.T[None], est.T[None], win=SR, hop=SR)[0][0]
    assert frames[0] > frames[1] > frames[2]  # three frames; the median is the middle one
    assert museval_sdr(torch.from_numpy(ref), torch.from_numpy(est)) == pytest.approx(
        frames[1], abs=1e-6
    )


@pytest.mark.slow
def test_museval_sdr_agrees_with_fast_sdr_on_additive_noise() -> None:
    rng = np.random.default_rng(0)
    s = torch.from_numpy(rng.standard_normal((2, 3 * SR)))
    noisy = s + 0.1 * torch.from_numpy(rng.standard_normal((2, 3 * SR)))
    assert float(fast_sdr(s, noisy)) == pytest.approx(20.0, abs=0.2)
    assert museval_sdr(s, noisy) == pytest.approx(20.0, abs=1.0)


def test_usdr_and_si_sdr_of_float32_audio_are_computed_in_float64() -> None:
    """Audio arrives as float32; both conventions must accumulate in float64 (float32 sums
    and dot products drift by about 1e-6 dB at this length and quality)."""
    rng = np.random.default_rng(0)
    s = rng.standard_normal((2, 200_000)).astype(np.float32)
    y = (0.9 * s + 1e-3 * rng.standard_normal(s.shape)).astype(np.float32)
    s64, y64 = s.astype(np.float64), y.astype(np.float64)
    want = 10 * np.log10((np.sum(s64**2) + 1e-7) / (np.sum((s64 - y64) ** 2) + 1e-7))
    assert usdr(s, y) == pytest.approx(want, abs=1e-9)
    alpha = np.sum(y64 * s64) / np.sum(s64 * s64)
    want = 10 * np.log10(np.sum((alpha * s64) ** 2) / np.sum((alpha * s64 - y64) ** 2))
    assert si_sdr(s, y) == pytest.approx(want, abs=1e-9)


def test_si_sdr_at_its_edges() -> None:
    ref = np.zeros((2, 4))
    ref[0, 0] = 1.0  # energy exactly 1: a reference like any other
    other = np.zeros((2, 4))
    other[1, 2] = 1.0
    assert si_sdr(ref, ref + 0.5 * other) == pytest.approx(10 * np.log10(1 / 0.25), abs=1e-12)
    assert si_sdr(ref, 3.0 * ref) > 3000  # a perfect estimate: finite, not NaN
    assert si_sdr(ref, other) < -3000  # orthogonal: finite, not NaN
    assert math.isnan(si_sdr(np.zeros((2, 4)), other))  # silent reference: undefined
    assert usdr(np.zeros((2, 4)), np.zeros((2, 4))) == 0.0  # the challenge's 1e-7 on both
