"""NSGT2014 (kind ``nsgt``): agreement with essentia NSGConstantQ, exact inverse, autograd."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tfselect.errors import SpecError, TfselectError
from tfselect.transforms import TransformSpec, build
from tfselect.transforms.nsgt2014 import NSGT2014, _filterbank, _offsets

SR = 44100
# a range essentia accepts at 44.1 kHz (its own nsgcqgram defaults: 65.41-6000 Hz)
BODY = "fmin=65.4,fmax=6000,bpo=12"


def snr_db(x: torch.Tensor, y: torch.Tensor) -> float:
    x64, y64 = x.double(), y.double()
    return float(10 * torch.log10((x64**2).sum() / ((x64 - y64) ** 2).sum()))


def rel(a: np.ndarray | torch.Tensor, b: np.ndarray | torch.Tensor) -> float:
    a, b = np.asarray(a), np.asarray(b)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def essentia_cq(x: np.ndarray, rasterize: str, phase: str, body: dict | None = None):
    """essentia.standard.NSGConstantQ on one float32 signal: (constantq list, dc, nf)."""
    import essentia
    import essentia.standard as es

    essentia.log.infoActive = False
    p = body or dict(minFrequency=65.4, maxFrequency=6000, binsPerOctave=12)
    algo = es.NSGConstantQ(
        inputSize=len(x), rasterize=rasterize, phaseMode=phase, sampleRate=SR, **p
    )
    cq, dc, nf = algo(x.astype(np.float32))
    return [np.asarray(c) for c in cq], np.asarray(dc), np.asarray(nf)


@pytest.fixture(scope="module")
def noise() -> torch.Tensor:
    return torch.randn(2, SR, generator=torch.Generator().manual_seed(0), dtype=torch.float64)


@pytest.mark.parametrize("rasterize", ["none", "full", "piecewise"])
@pytest.mark.parametrize("phase", ["global", "local"])
@pytest.mark.parametrize("length", [SR, SR // 2 + 1])  # 1 s and an odd ~0.5 s
def test_agrees_with_essentia(noise, rasterize, phase, length):
    x = noise[:, :length]
    T = build(f"nsgt:{BODY},rasterize={rasterize},phase={phase}", SR)
    assert isinstance(T, NSGT2014)
    C = T.forward(x)
    d = T.design(length)
    for ch in range(2):
        cq, dc, nf = essentia_cq(x[ch].numpy(), rasterize, phase)
        mine = [row for blk in C[1:-1] for row in blk[ch, :, 0].numpy()]
        # identical rasterized shapes, channel by channel
        assert [len(c) for c in mine] == [len(c) for c in cq]
        if rasterize == "full":
            assert len(C) == 3 and C[1].shape[-3:] == (len(cq), 1, len(cq[0]))
        # constant-Q channels and the Nyquist band to 1e-4 relative (essentia is float32)
        assert rel(np.concatenate(mine), np.concatenate(cq)) < 1e-4
        assert max(rel(a, b) for a, b in zip(mine, cq, strict=True)) < 1e-4
        assert rel(C[-1][ch, 0, 0].numpy(), nf) < 1e-4
        # DC band: essentia reads X[|k|] for negative offsets (abs of a negative index), so
        # compare the band's spectrum on the non-negative offsets, all its inverse uses
        lg = len(d.windows[0])
        k = _offsets(lg)
        k = k[k >= 0]
        m = C[0].shape[-1]
        ours = np.fft.fft(C[0][ch, 0, 0].numpy())[k % m]
        theirs = np.fft.fft(dc)[k % m]
        assert rel(ours, theirs) < 1e-4


@pytest.mark.parametrize("rasterize", ["none", "full", "piecewise"])
@pytest.mark.parametrize("length", [SR, 12345, 300])
def test_reconstruction(noise, rasterize, length):
    T = build(f"nsgt:{BODY},rasterize={rasterize}", SR)
    x = noise[:, :length].reshape(2, 1, length)  # leading batch dim + one channel
    y = T.inverse(T.forward(x), length)
    assert y.shape == x.shape and y.dtype == torch.float64
    assert snr_db(x, y) >= 250
    x32 = x.float()
    C32 = T.forward(x32)
    assert all(c.dtype == torch.complex64 for c in C32)
    y32 = T.inverse(C32, length)
    assert y32.dtype == torch.float32 and snr_db(x32, y32) >= 100


def test_reconstruction_beats_essentia(noise):
    """Equal or better reconstruction than essentia's own inverse (≈126 dB in float32)."""
    import essentia.standard as es

    x = noise[0].float().numpy()
    p = dict(minFrequency=65.4, maxFrequency=6000, binsPerOctave=12, sampleRate=SR)
    cq, dc, nf = es.NSGConstantQ(inputSize=len(x), **p)(x)
    y_ess = es.NSGIConstantQ(inputSize=len(x), **p)(cq, dc, nf)
    ess_db = snr_db(torch.from_numpy(x), torch.from_numpy(np.asarray(y_ess)))
    T = build(f"nsgt:{BODY}", SR)
    xt = torch.from_numpy(x)[None]
    assert snr_db(xt, T.inverse(T.forward(xt), len(x))) >= ess_db - 3  # float32 both
    assert snr_db(xt.double(), T.inverse(T.forward(xt.double()), len(x))) > ess_db + 100


def test_range_essentia_rejects_works_here():
    """20-22000 Hz: essentia fails ('non painless frame'); the aligned design inverts exactly."""
    T = build("nsgt:fmin=20,fmax=22000,bpo=12", SR)
    x = torch.randn(1, 8000, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    C = T.forward(x)
    assert sum(c.shape[-3] for c in C) == len(T.frequencies())
    assert snr_db(x, T.inverse(C, 8000)) >= 250


def test_block_layout_and_frequencies():
    T = build(f"nsgt:{BODY},rasterize=none", SR)
    C = T.forward(torch.zeros(1, 4410))
    f = T.frequencies()
    assert f[0] == 0.0 and f[-1] == SR / 2 and np.all(np.diff(f) > 0)
    assert C[0].shape[-3] == 1 and C[-1].shape[-3] == 1
    assert sum(c.shape[-3] for c in C) == len(f)
    assert all(c.shape[-2] == 1 for c in C)  # slices == 1: non-sliced
    frames = [c.shape[-1] for c in C[1:-1]]
    assert frames == sorted(frames) and len(set(frames)) == len(frames)  # runs of equal M
    assert T.redundancy(4410) == pytest.approx(sum(c[0].numel() for c in C) / 4410)


def test_grid_sine_and_full_identity():
    T = build(f"nsgt:{BODY}", SR)
    t = torch.arange(SR, dtype=torch.float64) / SR
    x = torch.sin(2 * np.pi * 1000.0 * t)[None]
    C = T.forward(x)
    G = T.grid(C)
    assert G.shape == (1, len(T.frequencies()), C[1].shape[-1])
    # with rasterize=full the constant-Q rows are the coefficients (same time grid), in base
    # band: global-phase coefficients differ from them by a unit-modulus carrier only
    assert torch.allclose(G[0, 1:-1].abs(), C[1][0, :, 0].abs(), atol=1e-10)
    energy = (G[0].abs() ** 2).sum(-1)
    assert abs(T.frequencies()[int(energy.argmax())] - 1000.0) < 1000.0 * 0.03
    assert G.shape[-1] / 1.0 == pytest.approx(T.frame_rate(SR))
    assert T.frame_rate() == pytest.approx(T.frame_rate(SR), rel=0.01)
    # local phase: the grid rows ARE the coefficients, and both phases give the same
    # (demodulated) grid, so grid-domain masks mean the same thing for either phase
    TL = build(f"nsgt:{BODY},phase=local", SR)
    CL = TL.forward(x)
    GL = TL.grid(CL)
    assert torch.allclose(GL[0, 1:-1], CL[1][0, :, 0], atol=1e-10)
    assert torch.allclose(GL, G, atol=1e-9)


def test_grid_resamples_ragged_blocks():
    T = build(f"nsgt:{BODY},rasterize=none", SR)
    x = torch.randn(1, 22050, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    C = T.forward(x)
    G = T.grid(C, length=22050)
    top = C[-2].shape[-1]
    assert G.shape == (1, len(T.frequencies()), top)
    # finest channel unchanged up to its carrier (global phase)
    assert torch.allclose(G[0, -2].abs(), C[-2][0, -1, 0].abs(), atol=1e-10)
    n = T.infer_length(C)
    assert n % 2 == 0 and abs(n - 22050) <= 64
    assert T.grid(C).shape == G.shape


def test_gradcheck_tiny():
    spec = TransformSpec.parse("nsgt:fmin=200,fmax=3000,bpo=3,rasterize=piecewise")
    T = NSGT2014(spec, 8000)
    length = 63  # odd: the repeated last sample must pass gradients too
    x = torch.randn(1, length, dtype=torch.float64, requires_grad=True)

    def fwd(inp):
        return torch.cat([torch.view_as_real(c).reshape(-1) for c in T.forward(inp)])

    assert torch.autograd.gradcheck(fwd, (x,))
    C = tuple(c.detach().requires_grad_() for c in T.forward(x))
    assert torch.autograd.gradcheck(lambda *c: T.inverse(list(c), length), C)


def test_filterbank_cached():
    T = build(f"nsgt:{BODY}", SR)
    x = torch.zeros(1, 1000)
    T.forward(x)
    hits = _filterbank.cache_info().hits
    T.inverse(T.forward(x), 1000)
    assert _filterbank.cache_info().hits >= hits + 2
    T2 = build(f"nsgt:{BODY}", SR)  # another instance, same spec: same cached bank
    assert T2._bank(1000, torch.float32, "cpu") is T._bank(1000, torch.float32, "cpu")


@pytest.mark.parametrize(
    ("spec", "rate", "field"),
    [
        ("nsgt:fmin=65.4,fmax=9000,bpo=12", 16000, "fmax"),  # above Nyquist
        ("nsgt:fmin=10,fmax=6000,bpo=12,gamma=30", SR, "fmin"),  # lowest band below 0 Hz
    ],
)
def test_bad_range_one_line(spec, rate, field):
    with pytest.raises(SpecError) as err:
        build(spec, rate)
    msg = str(err.value)
    assert "\n" not in msg and f"field {field}=" in msg


def test_bad_inputs():
    T = build(f"nsgt:{BODY}", SR)
    with pytest.raises(TfselectError):
        T.forward(torch.zeros(100, dtype=torch.int64))
    C = T.forward(torch.zeros(1, 1000))
    with pytest.raises(TfselectError, match="do not match"):
        T.inverse(C, 5000)


def test_filterbank_follows_the_input_device_and_dtype():
    """The device plumbing of the CUDA test, on CPU: torch's ``meta`` device has no data but
    refuses to mix devices, so a table built on the CPU and not moved raises here too.
    """
    T = build(f"nsgt:{BODY},rasterize=piecewise", SR)
    for dtype, cdtype in [(torch.float32, torch.complex64), (torch.float64, torch.complex128)]:
        C = T.forward(torch.empty(2, 2, 20000, dtype=dtype, device="meta"))
        assert {(c.device.type, c.dtype) for c in C} == {("meta", cdtype)}
        y = T.inverse(C, 20000)
        assert (y.device.type, y.dtype, y.shape) == ("meta", dtype, (2, 2, 20000))
    # the tables cached for the meta device are not reused for a CPU input of the same size
    x = torch.randn(2, 20000, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    assert snr_db(x, T.inverse(T.forward(x), 20000)) >= 250


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    T = build(f"nsgt:{BODY},rasterize=piecewise", SR)
    x = torch.randn(2, 2, 20000, dtype=torch.float64)
    C = T.forward(x)
    Cg = T.forward(x.cuda())
    assert all(c.is_cuda for c in Cg)
    for a, b in zip(C, Cg, strict=True):
        assert torch.allclose(a, b.cpu(), atol=1e-9)
    y = T.inverse(Cg, 20000)
    assert y.is_cuda and snr_db(x, y.cpu()) >= 250
    x32 = x.float().cuda().requires_grad_()
    T.inverse(T.forward(x32), 20000).pow(2).sum().backward()
    assert torch.allclose(x32.grad, 2 * x32.detach(), atol=1e-3)
