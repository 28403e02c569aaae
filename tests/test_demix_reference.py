"""Wiener-EM, chunked separation and the loss options against references written here.

Fast (no trained model): the Wiener filter is checked against a loop-by-loop numpy EM step
(Duong et al. 2010 / norbert), chunked separation against one pass with context-free models
whose exact output is known, and the loss options against their documented defaults.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf
import torch

from tfselect.demix.losses import DemixLoss, LossConfig, combinations
from tfselect.demix.separate import read_audio, separate_array, separate_file
from tfselect.demix.shared_stft import SharedSTFT
from tfselect.demix.wiener import wiener, wiener_waveforms
from tfselect.errors import DatasetError, TfselectError

SR = 44100

# ----------------------------------------------------------------------------- wiener


def numpy_wiener(mags: np.ndarray, mix: np.ndarray, iterations: int, softmask: bool = False,
                 eps: float = 1e-10, scale_factor: float = 10.0) -> np.ndarray:
    """Multichannel Wiener-EM written out per bin and frame (norbert's ``wiener``).

    mags (J, C, F, T) magnitudes, mix (C, F, T) complex -> images (J, C, F, T) complex.
    """
    J, C, F, T = mags.shape
    if softmask:
        y = mix[None] * mags / (eps + mags.sum(0))
    else:
        y = mags * np.exp(1j * np.angle(mix))[None]
    if iterations == 0:
        return y
    scale = max(1.0, np.abs(mix).max() / scale_factor)
    x, y = mix / scale, y / scale
    for _ in range(iterations):
        v = np.zeros((J, F, T))
        R = np.zeros((J, F, C, C), complex)
        for j in range(J):
            for f in range(F):
                for t in range(T):
                    v[j, f, t] = np.mean(np.abs(y[j, :, f, t]) ** 2)
                    R[j, f] += np.outer(y[j, :, f, t], y[j, :, f, t].conj())
                R[j, f] /= eps + v[j, f].sum()
        new = np.zeros_like(y)
        for f in range(F):
            for t in range(T):
                cxx = sum(v[j, f, t] * R[j, f] for j in range(J)) + eps * np.eye(C)
                inv = np.linalg.inv(cxx)
                for j in range(J):
                    new[j, :, f, t] = v[j, f, t] * R[j, f] @ inv @ x[:, f, t]
        y = new
    return y * scale


def _wiener_case(seed: int, loud: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Three sources in a stereo 4-bin, 6-frame mixture, with leaky magnitude estimates."""
    rng = np.random.default_rng(seed)
    shape = (3, 2, 4, 6)
    src = loud * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape))
    src *= rng.uniform(0.05, 1.0, (3, 1, 4, 6))  # each source dominates different bins
    mags = np.abs(src) * rng.uniform(0.5, 1.5, shape)
    return mags, src.sum(0)


@pytest.mark.parametrize("iterations, softmask, eps, loud", [
    (0, False, 1e-10, 1.0), (0, True, 1e-10, 1.0), (1, False, 1e-10, 1.0),
    (2, True, 1e-10, 1.0), (1, False, 0.05, 40.0), (3, False, 1e-10, 40.0),
    (1, True, 0.05, 1.0),  # quiet: no rescaling, so eps acts on the raw values
])  # fmt: skip
def test_wiener_matches_a_numpy_em(iterations, softmask, eps, loud) -> None:
    mags, mix = _wiener_case(iterations + 10 * softmask, loud)
    want = numpy_wiener(mags, mix, iterations, softmask, eps)
    got = wiener(torch.from_numpy(mags), torch.from_numpy(mix), iterations, softmask, eps)
    if (iterations, softmask, eps) == (1, False, 1e-10):  # the defaults
        torch.testing.assert_close(wiener(torch.from_numpy(mags), torch.from_numpy(mix)), got)
    assert got.shape == mags.shape and got.dtype == torch.complex128
    np.testing.assert_allclose(got.numpy(), want, rtol=1e-6, atol=1e-9 * loud)
    if iterations and eps < 1e-6:  # the Wiener gains sum to the identity (up to eps I)
        np.testing.assert_allclose(got.numpy().sum(0), mix, rtol=1e-6, atol=1e-6 * loud)


def test_wiener_scale_factor_and_batch_axes() -> None:
    mags, mix = _wiener_case(4, loud=40.0)
    want = numpy_wiener(mags, mix, 1, eps=0.05, scale_factor=3.0)
    batch_m, batch_x = np.stack([mags, 0.5 * mags]), np.stack([mix, mix])
    got = wiener(torch.from_numpy(batch_m), torch.from_numpy(batch_x), 1, eps=0.05,
                 scale_factor=3.0)
    np.testing.assert_allclose(got[0].numpy(), want, rtol=1e-6, atol=1e-8)
    # the whole batch shares one scale (the loudest mixture)
    other = numpy_wiener(0.5 * mags, mix, 1, eps=0.05, scale_factor=3.0)
    np.testing.assert_allclose(got[1].numpy(), other, rtol=1e-6, atol=1e-8)
    # soft-mask initialisation: each batch item's masks sum over its own sources
    soft = wiener(torch.from_numpy(batch_m), torch.from_numpy(batch_x), 0, softmask=True)
    np.testing.assert_allclose(soft[1].numpy(), numpy_wiener(0.5 * mags, mix, 0, True),
                               rtol=1e-6, atol=1e-12)  # fmt: skip
    # every intermediate follows the input's device (meta: no data, refuses to mix devices)
    meta = wiener(torch.from_numpy(mags).to("meta"), torch.from_numpy(mix).to("meta"), 2)
    assert (meta.device.type, meta.dtype, meta.shape) == ("meta", torch.complex128, mags.shape)


def test_wiener_waveforms_is_stft_em_istft() -> None:
    """Waveforms: torch.stft with a periodic Hann window, the numpy EM, torch.istft."""
    rng = np.random.default_rng(3)
    n, n_fft, hop = 1500, 256, 64
    src = rng.standard_normal((2, 2, n)) * np.array([0.2, 1.0])[:, None, None]
    est = src + 0.3 * rng.standard_normal(src.shape)
    win = torch.hann_window(n_fft, periodic=True, dtype=torch.float64)

    def stft(x: np.ndarray) -> np.ndarray:
        X = torch.stft(torch.from_numpy(x).reshape(-1, n), n_fft, hop, window=win,
                       center=True, pad_mode="constant", return_complex=True)
        return X.reshape(*x.shape[:-1], *X.shape[-2:]).numpy()

    Y = numpy_wiener(np.abs(stft(est)), stft(src.sum(0)), iterations=1)
    want = torch.istft(torch.from_numpy(Y).reshape(-1, *Y.shape[-2:]), n_fft, hop, window=win,
                       center=True, length=n).reshape(2, 2, n)
    got = wiener_waveforms(torch.from_numpy(est).float(), torch.from_numpy(src.sum(0)).float(),
                           SharedSTFT(n_fft, hop))  # one iteration by default
    assert got.dtype == torch.float32 and got.shape == (2, 2, n)
    np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-5)
    Y2 = numpy_wiener(np.abs(stft(est)), stft(src.sum(0)), iterations=2)
    want2 = torch.istft(torch.from_numpy(Y2).reshape(-1, *Y2.shape[-2:]), n_fft, hop,
                        window=win, center=True, length=n).reshape(2, 2, n)
    got2 = wiener_waveforms(torch.from_numpy(est), torch.from_numpy(src.sum(0)),
                            SharedSTFT(n_fft, hop), iterations=2)
    np.testing.assert_allclose(got2.numpy(), want2.numpy(), atol=1e-9)
    assert np.abs(want2.numpy() - want.numpy()).max() > 1e-3
    assert np.abs(want.numpy() - est).max() > 0.1  # the filter did change the estimates


# --------------------------------------------------------------------- chunked separation


class PointwiseModel(torch.nn.Module):
    """A context-free 'demixer': target j is ``gain_j * x``; chunking must not change it."""

    def __init__(self, gains=(0.1, 0.2, 0.3, 0.4)) -> None:
        super().__init__()
        self.gains = torch.nn.Parameter(torch.tensor(gains), requires_grad=False)
        self.targets = ["vocals", "drums", "bass", "other"][: len(gains)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # (b, 2, n) -> (b, targets, 2, n)
        assert x.dtype == torch.float32 and x.shape[-2] == 2  # stereo, as the real model
        return self.gains[:, None, None] * x[:, None]


class ChunkMeanModel(PointwiseModel):
    """Every target is the chunk's mean over channels and samples: constant per chunk."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        super().forward(x)
        return x.mean().expand(x.shape[0], len(self.targets), *x.shape[1:]).clone()


@pytest.mark.parametrize("seconds, chunk, overlap", [(3.7, 1.0, 0.5), (2.0, 1.0, 0.0),
                                                     (1.3, 0.6, 0.25), (0.5, 1.0, 0.5),
                                                     (2.0, 1.0, 0.7)])  # up to 4 chunks overlap
def test_chunked_separation_of_a_context_free_model_is_exact(seconds, chunk, overlap) -> None:
    """Normalised cross-fade weights sum to one at every sample, the tail included."""
    x = np.random.default_rng(5).standard_normal((2, int(seconds * SR))).astype(np.float32)
    m = PointwiseModel()
    y = separate_array(m, x, chunk_seconds=chunk, overlap_seconds=overlap)
    assert y.dtype == np.float32 and y.shape == (4, 2, x.shape[1])
    want = np.array([0.1, 0.2, 0.3, 0.4], np.float32)[:, None, None] * x
    np.testing.assert_allclose(y, want, rtol=1e-5, atol=1e-6)


def test_chunks_cross_fade_with_linear_ramps() -> None:
    """With a constant per chunk, the output is the documented linear cross-fade."""
    chunk, ov = 1.0, 0.25
    c, k = int(chunk * SR), int(ov * SR)
    n = 3 * c - 2 * k + 1000  # four chunks: starts 0, c-k, 2(c-k), 3(c-k); the last is short
    level = np.repeat(np.arange(1.0, 5.0), c - k)[:n].astype(np.float32)  # chunks differ
    x = np.stack([level, level])
    y = separate_array(ChunkMeanModel(), x, chunk_seconds=chunk, overlap_seconds=ov)
    starts = list(range(0, n - k, c - k))
    assert len(starts) == 4
    means = [x[:, s:min(s + c, n)].mean() for s in starts]
    want = np.empty(n)
    ramp = (np.arange(k) + 0.5) / k
    for i, s in enumerate(starts):
        end = min(s + c, n)
        want[s:end] = means[i]
        if i:  # fade from the previous chunk's value to this one's over the overlap
            want[s:s + k] = (1 - ramp) * means[i - 1] + ramp * means[i]
    np.testing.assert_allclose(y[2, 1], want, rtol=1e-5)


@pytest.mark.parametrize("chunk, overlap", [(1.0, 0.7), (1.0, 0.25), (0.6, 0.25)])
def test_cross_fades_have_no_jumps(chunk, overlap) -> None:
    """Chunks of different constant values blend with slopes of about 1/overlap, never a jump
    (also where a chunk is shorter than two overlaps and its fade-in meets its fade-out)."""
    n = int(3.3 * SR)
    level = np.repeat(np.random.default_rng(14).uniform(-1, 1, 40), n // 40 + 1)[:n]
    x = np.stack([level, level]).astype(np.float32)
    y = separate_array(ChunkMeanModel(), x, chunk_seconds=chunk, overlap_seconds=overlap)[0, 0]
    k, step = int(overlap * SR), int(chunk * SR) - int(overlap * SR)
    means = [x[:, s : s + int(chunk * SR)].mean() for s in range(0, n - k, step)]
    assert np.abs(np.diff(y)).max() <= 2 * np.ptp(means) / k  # ~1x measured; a jump is ~1000x


def test_chunked_separation_of_a_real_demixer_is_close_to_one_pass() -> None:
    """A (random, untrained) STFT demixer sees different context only near the seams."""
    from tfselect.demix.model import Demixer, ModelConfig

    torch.manual_seed(0)
    specs = {t: "stft:n_fft=512,hop=128" for t in ("vocals", "drums", "bass", "other")}
    # blstm: LayerNorm per frame (cdae's GroupNorm pools a whole chunk, so every sample
    # would depend on the chunking, not just those near the seams)
    m = Demixer(ModelConfig(specs=specs, network="blstm")).eval()
    x = 0.1 * np.random.default_rng(6).standard_normal((2, int(2.5 * SR))).astype(np.float32)
    whole = separate_array(m, x, chunk_seconds=10)
    with torch.no_grad():
        np.testing.assert_allclose(whole, m(torch.from_numpy(x)[None])[0].numpy(), atol=1e-6)
    chunked = separate_array(m, x, chunk_seconds=1.0, overlap_seconds=0.5)
    err = np.linalg.norm(chunked - whole, axis=-1) / np.linalg.norm(whole, axis=-1)
    assert err.max() < 0.02  # per target and channel (~0.01); a silent last 0.5 s is ~0.45


def test_separate_array_refuses_bad_chunks() -> None:
    x = np.zeros((2, 100), np.float32)
    for chunk, overlap in [(0.0, 0.0), (1.0, 1.0), (1.0, -0.1), (1.0, 2.0)]:
        with pytest.raises(TfselectError, match="need 0 <= overlap < chunk"):
            separate_array(PointwiseModel(), x, chunk_seconds=chunk, overlap_seconds=overlap)
    from tfselect.demix.separate import MAX_CHUNK_SECONDS, check_chunking

    # The limits themselves are allowed: an hour, and one sample past the overlap.
    check_chunking(MAX_CHUNK_SECONDS, 0.0)
    check_chunking(2 / SR, 1 / SR)
    for chunk, overlap in [(MAX_CHUNK_SECONDS + 1, 0.0), (np.inf, 0.0), (np.nan, 0.0),
                           (1.0, np.nan), (1.0, np.inf), (np.inf, np.inf)]:  # fmt: skip
        with pytest.raises(TfselectError, match="need 0 <= overlap < chunk <= 3600"):
            check_chunking(chunk, overlap)
    for chunk, overlap in [(1e-6, 0.0), (1.0, 1.0 - 1e-7), (1 / SR, 0.6 / SR)]:
        with pytest.raises(TfselectError, match=rf"^--chunk {chunk} s is shorter than one "
                                                 r"sample past the overlap$"):
            check_chunking(chunk, overlap)


class NonlinearModel(PointwiseModel):
    """Context-free targets with different spectra (x, |x|, x², x): not proportional."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        super().forward(x)
        return torch.stack([x, x.abs(), x.square(), x], 1) * self.gains[:, None, None]


def test_separate_array_with_wiener_runs_one_em_step_per_chunk() -> None:
    x = np.random.default_rng(8).standard_normal((2, SR // 2)).astype(np.float32)
    stft = SharedSTFT(512, 128)
    m = NonlinearModel()
    y = separate_array(m, x, chunk_seconds=10, wiener=True, stft=stft)
    est = m(torch.from_numpy(x)[None])
    want = wiener_waveforms(est, torch.from_numpy(x)[None], stft, iterations=1)[0].numpy()
    np.testing.assert_allclose(y, want, atol=1e-6)
    assert np.abs(y - separate_array(m, x, chunk_seconds=10, wiener=True)).max() > 1e-3
    m = PointwiseModel()
    y = separate_array(m, x, chunk_seconds=10, wiener=True, stft=stft)
    # Magnitudes proportional to the mixture's (g_j |X|): the Wiener gain of target j is the
    # power ratio g_j² / Σ g_k², the same in every bin.
    g = np.array([0.1, 0.2, 0.3, 0.4])
    np.testing.assert_allclose(y, (g**2 / (g**2).sum())[:, None, None] * x, atol=1e-4)


@pytest.mark.parametrize("rate, channels", [(SR, 2), (22050, 1), (48000, 2)])
def test_separate_file_keeps_length_rate_and_channels(tmp_path, rate, channels) -> None:
    from scipy.signal import resample_poly

    n = int(rate * 0.7) + 3
    x = 0.1 * np.random.default_rng(9).standard_normal((n, channels)).astype(np.float32)
    song = tmp_path / "song.wav"
    sf.write(song, x, rate, subtype="FLOAT")
    m = PointwiseModel()
    written = separate_file(m, song, tmp_path / "out", chunk_seconds=0.5, overlap_seconds=0.1)
    assert len(written) == 4 and len(set(written)) == 4
    for gain, path in zip((0.1, 0.2, 0.3, 0.4), written, strict=True):
        y, r = sf.read(path, dtype="float32", always_2d=True)
        assert r == rate and y.shape == (n, channels)
        if rate == SR:
            want = gain * x
        else:  # to 44.1 kHz and back with scipy's polyphase resampler
            up = resample_poly(x, SR, rate, axis=0).astype(np.float32)
            want = gain * resample_poly(up, rate, SR, axis=0)[:n]
        np.testing.assert_allclose(y, want, atol=1e-5)


def test_separate_file_chunks_filters_and_overwrites(tmp_path) -> None:
    """The file path passes chunking and --wiener on, refuses to clobber stems, and writes
    a song twice with overwrite."""
    x = np.random.default_rng(10).standard_normal((2, int(1.2 * SR))).astype(np.float32)
    song = tmp_path / "song.wav"
    sf.write(song, x.T, SR, subtype="FLOAT")
    m = ChunkMeanModel()
    written = separate_file(m, song, tmp_path / "out", chunk_seconds=0.5, overlap_seconds=0.1)
    with pytest.raises(TfselectError, match="exists .use --overwrite"):
        separate_file(m, song, tmp_path / "out", chunk_seconds=0.5, overlap_seconds=0.1)
    written = separate_file(m, song, tmp_path / "out", chunk_seconds=0.5, overlap_seconds=0.1,
                            overwrite=True)  # the second run replaces the first one's stems
    want = separate_array(m, x, chunk_seconds=0.5, overlap_seconds=0.1)
    assert len(np.unique(want[0, 0])) > 3  # several chunks, cross-faded
    for y, path in zip(want, written, strict=True):
        np.testing.assert_array_equal(sf.read(path, dtype="float32")[0].T, y)
    m = PointwiseModel()
    (path, *_) = separate_file(m, song, tmp_path / "w", wiener=True, name="filtered")
    assert path == tmp_path / "w" / "filtered" / "vocals.wav"  # the name given, not the stem
    g = np.array([0.1, 0.2, 0.3, 0.4])
    np.testing.assert_allclose(sf.read(path, dtype="float32")[0].T, g[0] ** 2 / (g**2).sum() * x,
                               atol=1e-4)  # the Wiener power ratio, not the gain 0.1


@pytest.mark.parametrize("rate", [SR, 16000])
def test_separate_file_writes_the_residual_that_completes_the_input(tmp_path, rate) -> None:
    """A model trained with a residual: the stems as written plus residual.wav give the input
    back (to float32 rounding), at 44.1 kHz and at a rate that is resampled."""
    from types import SimpleNamespace

    x = 0.2 * np.random.default_rng(14).standard_normal((int(0.4 * rate), 2)).astype(np.float32)
    song = tmp_path / "song.wav"
    sf.write(song, x, rate, subtype="FLOAT")
    m = PointwiseModel(gains=(0.1, 0.3))
    m.config = SimpleNamespace(residual=True)
    written = separate_file(m, song, tmp_path / "out", chunk_seconds=0.3, overlap_seconds=0.1)
    assert [p.name for p in written] == ["vocals.wav", "drums.wav", "residual.wav"]
    stems = [sf.read(p, dtype="float64", always_2d=True) for p in written]
    assert all(r == rate and y.shape == x.shape for y, r in stems)
    assert sf.info(written[-1]).subtype == "FLOAT"
    total = sum(y for y, _ in stems)
    np.testing.assert_allclose(total, x, atol=1e-6)
    if rate == SR:  # no resampling: the residual is 1 - 0.1 - 0.3 of the input
        np.testing.assert_allclose(stems[-1][0], 0.6 * x, atol=1e-6)
    m.config = SimpleNamespace(residual=False)
    assert len(separate_file(m, song, tmp_path / "plain")) == 2  # no residual.wav


def test_separate_file_passes_wiener_iterations_and_reports_unwritable_out(tmp_path) -> None:
    x = np.random.default_rng(15).standard_normal((2, SR // 4)).astype(np.float32)
    song = tmp_path / "song.wav"
    sf.write(song, x.T, SR, subtype="FLOAT")
    m = NonlinearModel()
    (path, *_) = separate_file(m, song, tmp_path / "w3", wiener=True, wiener_iterations=3)
    y3 = separate_array(m, x, wiener=True, wiener_iterations=3)[0]
    np.testing.assert_array_equal(sf.read(path, dtype="float32")[0].T, y3)
    assert np.abs(y3 - separate_array(m, x, wiener=True)[0]).max() > 1e-4  # 3 is not 1
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(TfselectError, match=f"cannot create {blocker}/song: Not a directory$"):
        separate_file(m, song, blocker)


def test_separate_file_default_chunks_are_30_s_with_2_s_overlap(tmp_path) -> None:
    x = np.tile(np.linspace(-0.5, 0.5, 31 * 10, dtype=np.float32), (2, SR // 10))  # 31 s
    song = tmp_path / "long.wav"
    sf.write(song, x.T, SR, subtype="FLOAT")
    m = ChunkMeanModel(gains=(1.0,))
    (path,) = separate_file(m, song, tmp_path / "out")
    y = sf.read(path, dtype="float32")[0].T
    np.testing.assert_array_equal(y, separate_array(m, x, 30.0, 2.0)[0])
    assert not np.allclose(y, separate_array(m, x, 31.0, 2.0)[0])  # chunks show in y


def test_separation_defaults_and_resampling() -> None:
    import inspect

    from scipy.signal import resample_poly

    from tfselect.demix.separate import _resample

    for f in (separate_array, separate_file):
        p = inspect.signature(f).parameters
        assert (p["chunk_seconds"].default, p["overlap_seconds"].default) == (30.0, 2.0)
        assert p["wiener"].default is False
    x = np.random.default_rng(12).standard_normal((2, 1000)).astype(np.float32)
    assert _resample(x, 44100, 44100) is x
    y = _resample(x, 48000, 44100)
    assert y.dtype == np.float32 and y.shape == (2, 919)
    np.testing.assert_allclose(y, resample_poly(x, 147, 160, axis=1), rtol=1e-5, atol=1e-6)
    # separate_file trims the stems to the input's length and never pads: resampling to
    # 44.1 kHz and back must never lose a sample, at any rate and length.
    rng = np.random.default_rng(13)
    for rate in (8000, 11025, 16000, 22050, 32000, 48000, 88200, 96000, 192000, 7919):
        for n in rng.integers(1, 400, 5):
            back = _resample(_resample(x[:, :n], rate, SR), SR, rate)
            assert back.shape[1] >= n, (rate, n)


def test_read_audio_refuses_unusable_files(tmp_path) -> None:
    bad = tmp_path / "bad.wav"
    bad.write_bytes(b"not audio")
    with pytest.raises(DatasetError, match="cannot read audio"):
        read_audio(bad)
    sf.write(tmp_path / "quad.wav", np.zeros((10, 3)), SR)
    with pytest.raises(DatasetError, match="3 channels; separate handles mono or stereo"):
        read_audio(tmp_path / "quad.wav")
    sf.write(tmp_path / "empty.wav", np.zeros((0, 2)), SR)
    with pytest.raises(DatasetError, match="holds no samples"):
        read_audio(tmp_path / "empty.wav")
    nan = tmp_path / "nan.wav"
    sf.write(nan, np.array([0.0, np.nan, 0.5]), SR, subtype="FLOAT")
    with pytest.raises(DatasetError, match=f"^{nan}: .*(NaN|finite)"):
        read_audio(nan)
    sf.write(tmp_path / "mono.wav", np.arange(5) / 10, 8000)
    x, rate = read_audio(tmp_path / "mono.wav")
    assert rate == 8000 and x.shape == (1, 5) and x.dtype == np.float32 and x.flags.c_contiguous


# ---------------------------------------------------------------------------- losses


def test_loss_defaults_are_the_x_umx_ones() -> None:
    cfg = LossConfig()
    assert (cfg.alpha, cfg.freq, cfg.time, cfg.combination, cfg.masksum, cfg.n_fft, cfg.hop) == (
        10.0, "mag", "wsdr", True, 0.0, 4096, 1024)
    s = SharedSTFT()
    assert (s.n_fft, s.hop) == (4096, 1024)
    assert combinations(4) == [(0,), (1,), (2,), (3,), (0, 1), (0, 2), (0, 3), (1, 2), (1, 3),
                               (2, 3), (0, 1, 2), (0, 1, 3), (0, 2, 3), (1, 2, 3)]
    assert combinations(1) == [(0,)]
    with pytest.raises(ValueError, match="freq loss must be 'mag' or 'complex', got 'power'"):
        LossConfig(freq="power")
    with pytest.raises(ValueError, match="time loss must be 'wsdr', 'sdr' or 'sisdr', got 'l1'"):
        LossConfig(time="l1")


def test_loss_without_combinations_is_per_target() -> None:
    """combination=False: the per-target terms alone (plain MSE of magnitudes and -SDR)."""
    rng = np.random.default_rng(11)
    ref = rng.standard_normal((2, 3, 2, 2000))
    est = ref + 0.3 * rng.standard_normal(ref.shape)
    cfg = LossConfig(alpha=0.5, freq="mag", time="sdr", combination=False, n_fft=256, hop=64)
    got, parts = DemixLoss(cfg, n_targets=3)(*(torch.from_numpy(a) for a in (est, ref,
                                                                              ref.sum(1))))
    win = np.hanning(257)[:-1]  # periodic Hann
    pad = np.pad(np.concatenate([est, ref]), [(0, 0)] * 3 + [(128, 128)])
    frames = np.lib.stride_tricks.sliding_window_view(pad, 256, axis=-1)[..., ::64, :]
    mags = np.abs(np.fft.rfft(frames * win, axis=-1))
    freq = np.mean((mags[:2] - mags[2:]) ** 2)
    time = np.mean(-10 * np.log10((ref**2).sum(-1) / ((ref - est) ** 2).sum(-1)))
    assert parts["freq"] == pytest.approx(freq, rel=1e-6)
    assert parts["time"] == pytest.approx(time, rel=1e-6)
    assert parts["masksum"] == 0.0
    assert float(got) == pytest.approx(freq + 0.5 * time, rel=1e-6)


# -------------------------------------------------------------------------- evaluate


@pytest.mark.slow  # ~8 s: two BSSEval runs of two sources
def test_bss_eval_labels_match_museval_and_skip_silent_targets() -> None:
    """Each of SDR/SIR/SAR/ISR is museval's metric of that name; silent targets are NaN."""
    from museval.metrics import bss_eval as museval_bss_eval

    from tfselect.demix.evaluate import bss_eval

    rng = np.random.default_rng(12)
    n = SR + 500  # one 1-s frame (museval drops the partial one): BSSEval is slow
    src = rng.standard_normal((2, 2, n))
    est = np.stack([
        src[0] * np.array([[1.0], [0.85]]) + 0.3 * src[1] + 0.15 * rng.standard_normal((2, n)),
        src[1] * np.array([[1.0], [0.6]]) + 0.2 * rng.standard_normal((2, n)),  # spatial, noise
    ])  # fmt: skip
    refs = np.concatenate([src, np.zeros((1, 2, n)), src[1:]])  # target 2: silent reference,
    ests = np.concatenate([est, src[:1] + 1.0, np.zeros((1, 2, n))])  # target 3 estimated silent
    got = bss_eval(refs.astype(np.float32), ests.astype(np.float32))
    sdr, isr, sir, sar, _ = museval_bss_eval(
        np.transpose(src, (0, 2, 1)).astype(np.float32),
        np.transpose(est, (0, 2, 1)).astype(np.float32), window=SR, hop=SR,
    )
    for name, want in {"SDR": sdr, "ISR": isr, "SIR": sir, "SAR": sar}.items():
        assert got[name].shape == (4, 1)
        np.testing.assert_allclose(got[name][:2], want, rtol=1e-6, err_msg=name)
        assert np.isnan(got[name][2:]).all(), name
    # The four metrics differ by more than 0.5 dB on these arrays, so a swap of labels shows.
    values = np.array([got[m][:2, 0] for m in ("SDR", "ISR", "SIR", "SAR")])  # (metrics, targets)
    assert (np.abs(values[:, None] - values[None]) + 10 * np.eye(4)[..., None] > 0.5).all()
    np.testing.assert_array_equal(got["silent_reference"], [False, False, True, False])
    np.testing.assert_array_equal(got["silent_estimate"], [False, False, False, True])


def test_time_losses_on_silent_targets_and_perfect_estimates() -> None:
    """Training chunks often hold a silent target: every time-domain loss stays finite there,
    with the value its formula gives with the 1e-8 regulariser."""
    from tfselect.demix.losses import neg_sdr, neg_sisdr, weighted_sdr

    eps = 1e-8
    x = torch.from_numpy(np.random.default_rng(13).standard_normal((2, 100)))
    zero = torch.zeros_like(x)
    energy = x.pow(2).sum(-1)
    torch.testing.assert_close(neg_sdr(zero, zero), torch.zeros(2, dtype=torch.float64))
    torch.testing.assert_close(neg_sdr(zero, x), -10 * torch.log10(eps / (energy + eps)))
    torch.testing.assert_close(neg_sdr(x, x), -10 * torch.log10((energy + eps) / eps))
    # SI-SDR: a silent target projects everything to zero; a perfect estimate is ~eps away
    torch.testing.assert_close(neg_sisdr(zero, x), -10 * torch.log10(eps / (energy + eps)))
    scale = energy / (energy + eps)
    proj = scale[:, None] * x
    want = -10 * torch.log10((proj.pow(2).sum(-1) + eps) / ((proj - x).pow(2).sum(-1) + eps))
    torch.testing.assert_close(neg_sisdr(x, x), want)
    # wSDR with a silent target and a silent estimate: only the noise term counts, -1 at best
    torch.testing.assert_close(weighted_sdr(x, zero, zero), -energy / (energy + eps))
    torch.testing.assert_close(weighted_sdr(x, x, x), -energy / (energy + eps))


def test_time_losses_where_the_regulariser_matters() -> None:
    """Signals of energy ~1e-8, the size of the regulariser: the exact formulas with +1e-8."""
    from tfselect.demix.losses import neg_sdr, neg_sisdr, weighted_sdr

    eps = 1e-8
    rng = np.random.default_rng(15)
    s, e, x = (1e-5 * rng.standard_normal((3, 100)) for _ in range(3))
    sdr = -10 * np.log10(((s**2).sum(-1) + eps) / (((s - e) ** 2).sum(-1) + eps))
    np.testing.assert_allclose(neg_sdr(torch.from_numpy(s), torch.from_numpy(e)).numpy(), sdr,
                               rtol=1e-10)
    proj = ((e * s).sum(-1) / ((s**2).sum(-1) + eps))[:, None] * s
    sisdr = -10 * np.log10(((proj**2).sum(-1) + eps) / (((proj - e) ** 2).sum(-1) + eps))
    np.testing.assert_allclose(neg_sisdr(torch.from_numpy(s), torch.from_numpy(e)).numpy(),
                               sisdr, rtol=1e-10)

    def cos(a, b):
        return (a * b).sum(-1) / (np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1) + eps)

    n, nh = x - s, x - e
    a = (s**2).sum(-1) / ((s**2).sum(-1) + (n**2).sum(-1) + eps)
    wsdr = -a * cos(s, e) - (1 - a) * cos(n, nh)
    got = weighted_sdr(*(torch.from_numpy(v) for v in (x, s, e))).numpy()
    np.testing.assert_allclose(got, wsdr, rtol=1e-10)


def test_loss_of_silence_has_finite_gradients_and_no_saved_state() -> None:
    """All-zero estimates and targets (a silent training chunk): finite loss and gradient; the
    subset matrix is rebuilt from the options, never stored in a checkpoint."""
    est = torch.zeros(1, 4, 2, 1000, dtype=torch.float64, requires_grad=True)
    zero = torch.zeros(1, 4, 2, 1000, dtype=torch.float64)
    loss_fn = DemixLoss(LossConfig(n_fft=256, hop=64, masksum=0.1))
    loss, parts = loss_fn(est, zero, zero.sum(1))
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(est.grad).all()
    assert parts == {"freq": 0.0, "time": 0.0, "masksum": 0.0}
    assert loss_fn.state_dict() == {} and loss_fn.selection.shape == (14, 4)
