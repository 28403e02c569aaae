"""The torch sliCQT: exact inverse for every scale/form/phase, layout, views, gradients, CUDA."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from tfselect.transforms import FORMS, build
from tfselect.transforms.filterbank import _design
from tfselect.transforms.scales import SCALES

SR = 44100


def _snr(x: torch.Tensor, y: torch.Tensor) -> float:
    return float(10 * torch.log10(x.pow(2).sum() / (x - y).pow(2).sum()))


def _spec(scale: str, form: str = "ragged", phase: str = "local", bins: int = 24) -> str:
    gamma = ",gamma=10" if scale == "vqlog" else ""
    return f"slicqt:scale={scale},bins={bins},fmin=50,fmax=20000{gamma},phase={phase},form={form}"


@pytest.mark.parametrize(
    ("scale", "form", "phase"), list(itertools.product(SCALES, FORMS, ("local", "global")))
)
def test_reconstruction_noise(scale: str, form: str, phase: str) -> None:
    T = build(_spec(scale, form, phase), SR)
    gen = torch.Generator().manual_seed(0)
    hop = T.sllen // 2
    # not a multiple of the slice hop; shorter than one slice; a single sample
    for length in (2 * hop + 123, T.sllen // 3 + 1, 1):
        for dtype, min_db in ((torch.float64, 250.0), (torch.float32, 100.0)):
            x = torch.randn(2, length, generator=gen, dtype=dtype)
            C = T(x)
            assert all(c.dtype == (torch.complex128 if dtype == torch.float64 else torch.complex64)
                       for c in C)  # fmt: skip
            y = T.inverse(C, length)
            assert y.shape == x.shape and y.dtype == dtype
            assert _snr(x, y) > min_db, (length, dtype)


def _music(request: pytest.FixtureRequest) -> torch.Tensor:
    """A 4 s stereo demo-corpus mixture; a synthesized harmonic tone if no corpus fixture."""
    try:
        clip = request.getfixturevalue("clips")(seconds=4.0)[0]
        return torch.from_numpy(np.asarray(clip.mixture, dtype=np.float64))
    except pytest.FixtureLookupError:
        t = np.arange(4 * SR) / SR
        f0 = 110 * 2 ** (np.floor(t * 2) / 12)  # a little melody
        sig = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 12))
        return torch.from_numpy(np.stack([sig, 0.5 * sig]))


@pytest.mark.parametrize(
    "spec",
    ["slicqt:scale=bark,bins=262,fmin=32.9,fmax=22050", _spec("log", "rasterize", "global", 48)],
)
def test_reconstruction_music(request: pytest.FixtureRequest, spec: str) -> None:
    x = _music(request)
    T = build(spec, SR)
    assert _snr(x, T.inverse(T(x), x.shape[-1])) > 250
    x32 = x.float()
    assert _snr(x32, T.inverse(T(x32), x.shape[-1])) > 100


def test_layout_of_forms() -> None:
    x = torch.randn(2, 30000, dtype=torch.float64)
    ragged = build(_spec("bark"), SR)
    Cr = ragged(x)
    S = ragged.n_slices(30000)
    bins = len(ragged.frequencies())
    assert len(Cr) == len(ragged.blocks) > 1
    assert sum(c.shape[-3] for c in Cr) == bins == 24 + 2  # DC + bins + Nyquist
    for c, b in zip(Cr, ragged.blocks, strict=True):
        assert c.shape == (2, b.bins, S, b.frames)
    frames = [b.frames for b in ragged.blocks]
    assert all(f1 != f2 for f1, f2 in itertools.pairwise(frames))  # maximal runs
    # zeropad: the ragged blocks, padded with zeros
    (Z,) = build(_spec("bark", "zeropad"), SR)(x)
    assert Z.shape == (2, bins, S, max(frames))
    for c, b in zip(Cr, ragged.blocks, strict=True):
        torch.testing.assert_close(Z[:, b.start : b.start + b.bins, :, : b.frames], c)
        assert not Z[:, b.start : b.start + b.bins, :, b.frames :].any()
    # rasterize: one block at the finest frame rate; piecewise: power-of-two fractions
    (Rz,) = build(_spec("bark", "rasterize"), SR)(x)
    assert Rz.shape == (2, bins, S, max(frames))
    pw = build(_spec("bark", "piecewise"), SR)
    for b in pw.blocks:
        ratio = pw.frames_max / b.frames
        assert ratio == 2 ** round(np.log2(ratio)) and b.frames % 2 == 0
    assert len(pw.blocks) < len(ragged.blocks)


def test_global_phase_is_modulated_local_phase() -> None:
    x = torch.randn(1, 20000, dtype=torch.float64)
    loc = build(_spec("mel", "piecewise", "local"), SR)
    glo = build(_spec("mel", "piecewise", "global"), SR)
    for cl, cg, ph in zip(loc(x), glo(x), glo._demod, strict=True):
        # demodulating the global coefficients gives the local ones
        torch.testing.assert_close(cg * torch.from_numpy(ph)[:, None, :], cl)
        assert not torch.allclose(cg, cl)


def test_batching_equals_items() -> None:
    T = build(_spec("vqlog", "ragged"), SR)
    x = torch.randn(2, 3, 2, 9000, dtype=torch.float64)
    C = T(x)
    for i, j in ((0, 0), (1, 2)):
        Ci = T(x[i, j])
        for cb, ci in zip(C, Ci, strict=True):
            torch.testing.assert_close(cb[i, j], ci)
    y = T.inverse(C, 9000)
    torch.testing.assert_close(y[1, 2], T.inverse([c[1, 2] for c in C], 9000))


def test_views_and_facts() -> None:
    T = build("slicqt:scale=bark,bins=262,fmin=32.9,fmax=22050", SR)
    f = T.frequencies()
    assert f.shape == (261 + 2,)  # the bin at 22050 Hz = Nyquist is dropped by the design
    assert f[0] == 0 and f[-1] == SR / 2 and np.all(np.diff(f) > 0)
    L = 50000
    x = torch.randn(2, L)
    C = T(x)
    assert T.redundancy(L) == pytest.approx(sum(c.numel() for c in C) / 2 / L)
    G = T.grid(C)
    S = T.n_slices(L)
    assert G.shape == (2, len(f), S * T.frames_max // 2)
    assert T.frame_rate() == pytest.approx(T.frames_max * SR / T.sllen)
    # the grid of a steady tone peaks at the tone's bin, steadily over time
    t = torch.arange(L, dtype=torch.float64) / SR
    tone = torch.sin(2 * torch.pi * 1000 * t)[None]
    Gt = T.grid(T(tone)).abs()[0]
    frames = slice(int(0.2 * T.frame_rate()), int((L / SR - 0.2) * T.frame_rate()))
    peak = Gt[:, frames].argmax(0)
    assert (abs(f[peak] - 1000) < 60).all()
    # grid of global phase equals grid of local phase
    Tg = build("slicqt:scale=bark,bins=262,fmin=32.9,fmax=22050,phase=global", SR)
    torch.testing.assert_close(Tg.grid(Tg(tone)), T.grid(T(tone)))


def test_module_casts_keep_exact_tables() -> None:
    T = build(_spec("mel"), SR).float()  # a model's .float() must not round the windows
    assert T.window.dtype == torch.float64
    x = torch.randn(1, 3000, dtype=torch.float64)
    assert _snr(x, T.inverse(T(x), 3000)) > 250


def test_filterbank_is_cached() -> None:
    spec = _spec("lin", "ragged", "local", 30)
    build(spec, SR)
    hits = _design.cache_info().hits
    build(spec, SR)
    assert _design.cache_info().hits == hits + 1


def test_bad_input() -> None:
    T = build(_spec("lin"), SR)
    with pytest.raises(ValueError, match="channels, samples"):
        T(torch.randn(100))
    C = T(torch.randn(1, 500))
    with pytest.raises(ValueError, match="blocks"):
        T.inverse(C + C, 500)
    with pytest.raises(ValueError, match="does not match"):
        T.inverse([c[..., :-1] for c in C], 500)


def test_gradcheck_both_ways() -> None:
    for phase, form in (("local", "ragged"), ("global", "rasterize")):
        spec = f"slicqt:scale=lin,bins=6,fmin=1000,fmax=7000,phase={phase},form={form}"
        T = build(spec, 16000)
        x = torch.randn(1, 40, dtype=torch.float64, requires_grad=True)
        # fast mode: checks random projections of the Jacobian (the full one is slow on CPU)
        assert torch.autograd.gradcheck(lambda t, T=T: tuple(T(t)), (x,), fast_mode=True)
        C = [c.detach().clone().requires_grad_(True) for c in T(x.detach())]
        inv = lambda *c, T=T: T.inverse(list(c), 40)  # noqa: E731
        assert torch.autograd.gradcheck(inv, tuple(C), fast_mode=True)


@pytest.mark.parametrize("form", ["piecewise", "zeropad", "rasterize"])
def test_tables_follow_the_input_device_and_dtype(form: str) -> None:
    """The device plumbing of the CUDA test, on CPU: torch's ``meta`` device has no data but
    refuses to mix devices, so a table left behind on the CPU raises here as it would on a GPU.
    """
    spec = f"slicqt:scale=bark,bins=100,fmin=32.9,fmax=22050,form={form}"
    moved = build(spec, SR).to("meta")
    assert {b.device.type for b in moved.buffers()} == {"meta"}
    assert moved.window.dtype == moved.dual.dtype == torch.float64  # moved, not rounded
    # a module moved with .to() and one left on the CPU (tables cast per call) alike
    for T in (moved, build(spec, SR)):
        for dtype, cdtype in [(torch.float32, torch.complex64),
                              (torch.float64, torch.complex128)]:
            C = T(torch.empty(2, 2, 40000, dtype=dtype, device="meta"))
            assert {(c.device.type, c.dtype) for c in C} == {("meta", cdtype)}
            y = T.inverse(C, 40000)
            assert (y.device.type, y.dtype, y.shape) == ("meta", dtype, (2, 2, 40000))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_matches_cpu() -> None:
    T = build("slicqt:scale=bark,bins=100,fmin=32.9,fmax=22050,form=piecewise", SR)
    x = torch.randn(2, 2, 40000, dtype=torch.float64)
    Tc = build("slicqt:scale=bark,bins=100,fmin=32.9,fmax=22050,form=piecewise", SR).cuda()
    C, Cc = T(x), Tc(x.cuda())
    for a, b in zip(C, Cc, strict=True):
        assert b.is_cuda
        torch.testing.assert_close(b.cpu(), a)
    y = Tc.inverse(Cc, 40000)
    assert y.is_cuda and _snr(x, y.cpu()) > 250
    x32 = x.float().cuda()
    assert _snr(x32.cpu(), Tc.inverse(Tc(x32), 40000).cpu()) > 100
