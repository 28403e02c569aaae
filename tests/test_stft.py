"""STFT: shapes of the common interface, perfect reconstruction, short inputs, gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from tfselect.transforms import build


def _snr(x: torch.Tensor, y: torch.Tensor) -> float:
    return float(10 * torch.log10(x.pow(2).sum() / (x - y).pow(2).sum()))


@pytest.mark.parametrize(("dtype", "min_db"), [(torch.float64, 250.0), (torch.float32, 100.0)])
@pytest.mark.parametrize("length", [10000, 777, 100])
def test_reconstruction(dtype: torch.dtype, min_db: float, length: int) -> None:
    T = build("stft:n_fft=1024,hop=256", 44100)
    x = torch.randn(3, 2, length, dtype=dtype, generator=torch.Generator().manual_seed(length))
    (X,) = T(x)
    assert X.shape == (3, 2, 513, 1, 1 + length // 256)
    assert X.dtype == (torch.complex128 if dtype == torch.float64 else torch.complex64)
    assert _snr(x, T.inverse([X], length)) > min_db


@pytest.mark.parametrize(("n_fft", "hop", "length"), [(1024, 256, 5000), (512, 200, 100)])
def test_coefficients_are_torch_stft_with_a_periodic_hann_window(n_fft, hop, length) -> None:
    """The window from its formula, zero (not reflection) padding of n_fft/2 at both ends."""
    T = build(f"stft:n_fft={n_fft},hop={hop}", 44100)
    x = torch.randn(3, 2, length, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    k = torch.arange(n_fft, dtype=torch.float64)
    hann = 0.5 - 0.5 * torch.cos(2 * torch.pi * k / n_fft)
    want = torch.stft(x.reshape(6, length), n_fft, hop, window=hann, center=True,
                      pad_mode="constant", return_complex=True).reshape(3, 2, n_fft // 2 + 1, -1)
    (X,) = T(x)
    torch.testing.assert_close(X[..., 0, :], want, rtol=1e-12, atol=1e-12)
    # and the first frame from its definition: the Hann-windowed, centred, zero-padded rfft
    padded = torch.nn.functional.pad(x[0, 0], (n_fft // 2, n_fft // 2))
    first = np.fft.rfft((hann * padded[:n_fft]).numpy())
    np.testing.assert_allclose(X[0, 0, :, 0, 0].numpy(), first, atol=1e-10)
    y = T.inverse([want.reshape(3, 2, -1, 1, want.shape[-1])], length)
    istft = torch.istft(want.reshape(6, n_fft // 2 + 1, -1), n_fft, hop, window=hann,
                        center=True, length=length)
    torch.testing.assert_close(y, istft.reshape(3, 2, length), rtol=1e-12, atol=1e-12)


def test_interface_facts() -> None:
    T = build("stft:n_fft=4096,hop=1024", 44100)
    assert T.frame_rate() == pytest.approx(44100 / 1024)
    f = T.frequencies()
    assert f.shape == (2049,) and f[0] == 0 and f[-1] == 22050
    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 5000, generator=g)
    C = T(x)
    assert T.grid(C).shape == (2, 2049, 1 + 5000 // 1024)
    assert T.redundancy(5000) == pytest.approx(C[0].numel() / 2 / 5000)
    # batching is per item
    xb = torch.randn(4, 2, 3000, generator=g)
    Cb = T(xb)[0]
    assert torch.allclose(Cb[2], T(xb[2])[0], atol=1e-5)


def test_gradients_flow_both_ways() -> None:
    T = build("stft:n_fft=32,hop=8", 8000)
    g = torch.Generator().manual_seed(1)
    x = torch.randn(1, 64, dtype=torch.float64, generator=g).requires_grad_()
    assert torch.autograd.gradcheck(lambda t: T(t)[0], (x,), fast_mode=True)
    C = T(x.detach())[0].clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda c: T.inverse([c], 64), (C,), fast_mode=True)
    np.testing.assert_array_equal(T.frequencies(), np.fft.rfftfreq(32, 1 / 8000))


@pytest.mark.parametrize("window", ["hann", "hamming", "blackman", "bartlett"])
def test_windows_match_torch_stft_and_invert(window: str) -> None:
    """Each window equals torch.stft with torch's periodic window of that name; exact inverse."""
    T = build(f"stft:n_fft=6144,hop=768,window={window}", 44100)
    x = torch.randn(2, 20000, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    (X,) = T(x)
    w = getattr(torch, f"{window}_window")(6144, periodic=True, dtype=torch.float64)
    ref = torch.stft(x, 6144, 768, window=w, center=True, pad_mode="constant",
                     return_complex=True)  # fmt: skip
    assert torch.allclose(X[:, :, 0], ref, atol=1e-9)
    assert _snr(x, T.inverse([X], 20000)) > 250.0
