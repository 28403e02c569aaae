"""EssentiaNSGCQ (kind ``nsgcq``): block layout, reconstruction, one-line errors for bad ranges."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tfselect.errors import SpecError, TfselectError
from tfselect.reference.essentia_nsgcq import EssentiaNSGCQ
from tfselect.transforms import build

SR = 44100
BODY = "fmin=65.4,fmax=6000,bpo=12"


def snr_db(x: torch.Tensor, y: torch.Tensor) -> float:
    x64, y64 = x.double(), y.double()
    return float(10 * torch.log10((x64**2).sum() / ((x64 - y64) ** 2).sum()))


@pytest.fixture(scope="module")
def noise() -> torch.Tensor:
    g = torch.Generator().manual_seed(3)
    return torch.randn(2, 2, SR // 2, generator=g, dtype=torch.float64)


def test_full_layout(noise):
    E = build(f"nsgcq:{BODY}", SR)
    assert isinstance(E, EssentiaNSGCQ)
    C = E.forward(noise)
    # DC band, one constant-Q block (rasterize=full), Nyquist band
    assert len(C) == 3
    assert C[0].shape[:-1] == (2, 2, 1, 1) and C[2].shape[:-1] == (2, 2, 1, 1)
    assert C[1].shape[:-1] == (2, 2, len(E.frequencies()) - 2, 1)
    assert all(c.dtype == torch.complex128 for c in C)
    assert [c.dtype for c in E.forward(noise.float())] == [torch.complex64] * 3
    f = E.frequencies()
    assert f[0] == 0 and f[-1] == SR / 2 and np.all(np.diff(f) > 0)
    assert E.grid(C).shape[:-1] == (2, 2, len(f))


@pytest.mark.parametrize("rasterize", ["none", "full", "piecewise"])
def test_reconstruction_about_120_db(noise, rasterize):
    E = build(f"nsgcq:{BODY},rasterize={rasterize}", SR)
    x = noise[:, :, :12345]  # odd length: essentia pads and trims itself
    C = E.forward(x)
    if rasterize != "full":
        assert len(C) > 3  # ragged constant-Q channels grouped by length
    y = E.inverse(C, x.shape[-1])
    assert y.shape == x.shape and y.dtype == torch.float64
    assert snr_db(x, y) > 110


def test_matches_torch_nsgt(noise):
    """Same layout and values as NSGT2014 on the constant-Q and Nyquist blocks."""
    E = build(f"nsgcq:{BODY},rasterize=piecewise,phase=local", SR)
    T = build(f"nsgt:{BODY},rasterize=piecewise,phase=local", SR)
    C, Ct = E.forward(noise), T.forward(noise)
    assert [c.shape for c in C] == [c.shape for c in Ct]
    for a, b in zip(C[1:], Ct[1:], strict=True):
        assert float((a - b).norm() / b.norm()) < 1e-4


def test_no_autograd(noise):
    x = noise[0, :, :4000].clone().requires_grad_()
    C = build(f"nsgcq:{BODY}", SR).forward(x)
    assert not any(c.requires_grad for c in C)


def test_essentia_itself_fails_when_top_bin_is_dropped():
    """The trap the adapter guards against: essentia on 20-22000 Hz at 44.1 kHz, 1 s.

    (With a dropped top bin its window lengths go out of step; whether that ends in an error
    depends on the length, e.g. 8192 samples still run. The adapter rejects the range always.)
    """
    import essentia
    import essentia.standard as es

    essentia.log.infoActive = False
    p = dict(inputSize=SR, minFrequency=20, maxFrequency=22000, binsPerOctave=12, sampleRate=SR)
    x = np.zeros(SR, dtype=np.float32)
    with pytest.raises(RuntimeError, match="painless"):
        es.NSGConstantQ(rasterize="full", **p)(x)
    cq, dc, nf = es.NSGConstantQ(rasterize="none", **p)(x)
    with pytest.raises(RuntimeError, match="match the shape"):
        es.NSGIConstantQ(rasterize="none", **p)(cq, dc, nf)


@pytest.mark.parametrize(
    ("spec", "field"),
    [
        ("nsgcq:fmin=20,fmax=22000,bpo=12", "fmax"),  # 'non painless frame' in essentia
        ("nsgcq:fmin=65.4,fmax=23000,bpo=12", "fmax"),  # above Nyquist
        ("nsgcq:fmin=65.4,fmax=6000,bpo=12,gamma=2.5", "gamma"),  # essentia: integer gamma
        ("nsgcq:fmin=10,fmax=6000,bpo=12,gamma=30", "fmin"),  # band below 0 Hz
    ],
)
def test_bad_range_one_line(spec, field):
    with pytest.raises(SpecError) as err:
        build(spec, SR)
    msg = str(err.value)
    assert "\n" not in msg and f"field {field}=" in msg


def test_suggested_fmax_is_accepted():
    with pytest.raises(SpecError) as err:
        build("nsgcq:fmin=20,fmax=22000,bpo=12", SR)
    bound = float(str(err.value).split("use fmax < ")[1].split(" Hz")[0])
    E = build(f"nsgcq:fmin=20,fmax={bound * 0.999:.1f},bpo=12", SR)
    x = torch.randn(1, 8192, dtype=torch.float64)
    assert snr_db(x, E.inverse(E.forward(x), 8192)) > 100


def test_inverse_shape_mismatch(noise):
    E = build(f"nsgcq:{BODY},rasterize=none", SR)
    C = E.forward(noise[0, :, :3000])
    with pytest.raises(TfselectError):
        E.inverse(C[:-1], 3000)
