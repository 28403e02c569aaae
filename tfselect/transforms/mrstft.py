"""The band-wise multi-resolution STFT: one window length per frequency band, exact inverse.

Spec ``mrstft:edges=300|4000,n_fft=16384|4096|1024,hop=2048|512|128[,window=W]``: below
300 Hz a 16 384-sample STFT, from 300 Hz to 4 kHz a 4 096-sample one, above 4 kHz 1 024.

Construction: STFTs joined by perfect-reconstruction crossovers. The signal's spectrum (one
``rfft`` of the whole clip) is split by zero-phase masks ``H_b(f)`` that sum to exactly one:
each edge ``e`` has a raised-cosine transition ``cos²``/``sin²`` over
``[e·2^-w/2, e·2^w/2]`` (``w`` = :data:`~.spec.CROSSOVER_OCTAVES` octave, in log
frequency), and the spec keeps edges ``w`` octaves apart so that transitions never overlap.
Band ``b``'s signal ``x_b = irfft(H_b·X)`` is analysed by its own STFT (``torch.stft``, the
band's ``n_fft``/``hop``, the spec's window); the inverse is ``Σ_b istft_b(C_b)``. Since
``Σ_b x_b = x`` and every STFT is exactly invertible, so is the whole (float32: ~130 dB).

Why not a nonstationary Gabor frame with frequency-dependent windows (the sliCQT's
machinery)? Its inverse is exact only for *painless* frames, whose windows are compactly
supported in frequency, hence never the compact time windows (Hann, Blackman) of an STFT:
the frame could not equal an STFT when every band has the same length, nor give the
per-band STFTs strong systems pick by hand. The crossover form gives exactly those, at the
price of redundancy: every band keeps all its ``n_fft/2+1`` bins (cropping the bins outside
a band would leave the windows' sidelobes out and break exactness), so the redundancy is the
sum of the bands' STFT redundancies. The masks are circular over the clip (one FFT): the
transitions' impulse responses last a few ms, so the wrap-around at the clip's ends is small.

Blocks (the :mod:`.base` contract): one per band, lowest first, each
(..., channels, n_fft_b/2+1, 1, frames_b) with ``frames_b = 1 + samples // hop_b``.
"""

from __future__ import annotations

import functools

import numpy as np
import torch
from torch import Tensor

from tfselect.errors import TfselectError

from .base import Coefs, Transform
from .spec import CROSSOVER_OCTAVES, TransformSpec


@functools.lru_cache(maxsize=16)
def crossover_masks(edges: tuple[float, ...], length: int, sample_rate: float) -> np.ndarray:
    """Zero-phase band masks on the ``rfft`` bins of a ``length``-sample signal.

    Returns (bands, length//2+1) float64, ``bands = len(edges)+1``, lowest band first;
    columns sum to one to rounding. Each edge's low-side weight falls as ``cos²`` from 1 to 0
    across ``CROSSOVER_OCTAVES`` octaves centred (in log frequency) on the edge.
    """
    f = np.fft.rfftfreq(int(length), 1.0 / sample_rate)
    with np.errstate(divide="ignore"):
        logf = np.log2(np.maximum(f, 1e-300))
    masks, rest = [], np.ones_like(f)  # rest: the part above every edge handled so far
    for e in edges:
        t = np.clip((logf - np.log2(e)) / CROSSOVER_OCTAVES + 0.5, 0.0, 1.0)
        low = np.cos(0.5 * np.pi * t) ** 2
        masks.append(rest * low)
        rest = rest * (1.0 - low)
    masks.append(rest)
    return np.stack(masks)


class MRSTFT(Transform):
    """Band-wise multi-resolution STFT; one block per band (see the module docstring).

    Args:
        spec: an ``mrstft:`` spec (``edges`` in Hz, ``n_fft``/``hop`` per band in samples).
        sample_rate: sampling rate in Hz.

    Batched over any leading axes, float32/float64 on any device, differentiable.
    """

    def __init__(self, spec: TransformSpec, sample_rate: int) -> None:
        if spec.kind != "mrstft":
            raise ValueError(f"MRSTFT needs an mrstft: spec, got {spec}")
        spec.validate(sample_rate)
        super().__init__(spec, sample_rate)
        self.edges: tuple[float, ...] = spec.edges
        self.n_fft: tuple[int, ...] = spec.n_fft
        self.hop: tuple[int, ...] = spec.hop
        make_window = getattr(torch, f"{spec.window}_window")
        # float64 masters, cast per call to the input's dtype (as the STFT's window)
        self._windows = [make_window(n, periodic=True, dtype=torch.float64) for n in self.n_fft]

    def _masks(self, length: int, dtype: torch.dtype, device: torch.device) -> Tensor:
        m = torch.from_numpy(crossover_masks(self.edges, int(length), float(self.sample_rate)))
        return m.to(dtype=dtype, device=device)

    def bands(self, x: Tensor) -> Tensor:
        """x (..., channels, samples) -> band signals (..., channels, bands, samples)."""
        n = x.shape[-1]
        X = torch.fft.rfft(x, dim=-1)
        H = self._masks(n, x.dtype, x.device)  # (bands, n//2+1)
        return torch.fft.irfft(X.unsqueeze(-2) * H, n=n, dim=-1)

    def forward(self, x: Tensor) -> Coefs:
        """x (..., channels, samples) real -> blocks (..., channels, n_fft_b/2+1, 1, frames_b)."""
        if x.dim() < 2:
            raise TfselectError(
                f"mrstft: input shape {tuple(x.shape)}: need (..., channels, samples)"
            )
        lead, n = x.shape[:-1], x.shape[-1]
        xb = self.bands(x).reshape(-1, len(self.n_fft), n)
        out = []
        for b, (nf, hop, w) in enumerate(zip(self.n_fft, self.hop, self._windows, strict=True)):
            X = torch.stft(
                xb[:, b], nf, hop, window=w.to(dtype=x.dtype, device=x.device), center=True,
                pad_mode="constant", return_complex=True,
            )  # fmt: skip
            out.append(X.reshape(*lead, X.shape[-2], 1, X.shape[-1]))
        return out

    def inverse(self, C: Coefs, length: int) -> Tensor:
        """Blocks from ``forward`` -> (..., channels, length) real: the sum of band iSTFTs."""
        if len(C) != len(self.n_fft):
            raise TfselectError(f"mrstft: expected {len(self.n_fft)} blocks, got {len(C)}")
        y = None
        for c, nf, hop, w in zip(C, self.n_fft, self.hop, self._windows, strict=True):
            lead = c.shape[:-3]
            Xb = c.reshape(-1, c.shape[-3], c.shape[-1])
            yb = torch.istft(
                Xb, nf, hop, window=w.to(dtype=Xb.real.dtype, device=Xb.device), center=True,
                length=int(length),
            ).reshape(*lead, int(length))  # fmt: skip
            y = yb if y is None else y + yb
        return y

    def frequencies(self) -> np.ndarray:
        """Centre frequency (Hz) of every bin, bands concatenated (each 0 … Nyquist)."""
        return np.concatenate([np.fft.rfftfreq(n, 1.0 / self.sample_rate) for n in self.n_fft])

    def frame_rate(self) -> float:
        """Frames per second of :meth:`grid`: the finest band's, sample_rate / min(hop)."""
        return self.sample_rate / min(self.hop)

    def grid(self, C: Coefs) -> Tensor:
        """(..., channels, all bins, frames) on the finest band's time grid; NOT invertible.

        Coarser bands are linearly interpolated in time (frame ``m`` of band ``b`` sits at
        ``m·hop_b`` samples); rows are the bands' bins stacked, as :meth:`frequencies`.
        """
        hop0 = min(self.hop)
        frames = max(c.shape[-1] for c, h in zip(C, self.hop, strict=True) if h == hop0)
        rows = []
        for c, hop in zip(C, self.hop, strict=True):
            c = c.squeeze(-2)
            if hop != hop0:
                pos = torch.arange(frames, device=c.device, dtype=torch.float64) * (hop0 / hop)
                i0 = pos.floor().long().clamp_max(c.shape[-1] - 1)
                i1 = (i0 + 1).clamp_max(c.shape[-1] - 1)
                wgt = (pos - pos.floor()).to(c.real.dtype)
                c = c[..., i0] * (1 - wgt) + c[..., i1] * wgt
            rows.append(c)
        return torch.cat(rows, dim=-2)

    def redundancy(self, length: int) -> float:
        """Complex coefficients per sample: Σ_b (n_fft_b//2+1)·(1 + length//hop_b) / length."""
        n = int(length)
        return sum((f // 2 + 1) * (1 + n // h) for f, h in zip(self.n_fft, self.hop,
                                                               strict=True)) / float(n)
