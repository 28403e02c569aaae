"""The STFT behind the common :class:`~tfselect.transforms.base.Transform` interface.

``torch.stft`` / ``torch.istft`` with a periodic window (hann by default; hamming, blackman,
bartlett: ``torch.<name>_window``), ``center=True`` and zero
padding at the edges (``pad_mode="constant"``, so inputs of any length work, even shorter
than ``n_fft/2`` where reflection padding would fail). ``hop <= n_fft/2`` keeps the
window overlap-add envelope non-zero everywhere, so the inverse is exact (float64
reconstruction SNR ~ 300 dB).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from .base import Coefs, Transform
from .spec import TransformSpec


class STFT(Transform):
    """Short-time Fourier transform; one block shaped (..., channels, n_fft//2+1, 1, frames).

    Args:
        spec: an ``stft:`` spec (``n_fft``, ``hop`` in samples, ``window`` name).
        sample_rate: sampling rate in Hz.
    """

    def __init__(self, spec: TransformSpec, sample_rate: int) -> None:
        if spec.kind != "stft":
            raise ValueError(f"STFT needs an stft: spec, got {spec}")
        super().__init__(spec, sample_rate)
        self.n_fft = spec.n_fft
        self.hop = spec.hop
        make_window = getattr(torch, f"{spec.window or 'hann'}_window")
        # float64 master copy; cast to the input's dtype per call (it is tiny)
        self.register_buffer(
            "window", make_window(self.n_fft, periodic=True, dtype=torch.float64),
            persistent=False,
        )  # fmt: skip

    def _apply(self, fn, recurse: bool = True):
        # move the float64 window between devices, but never round it (cast per call)
        master = self._buffers["window"]
        out = super()._apply(fn, recurse)
        self._buffers["window"] = master.to(self._buffers["window"].device)
        return out

    def forward(self, x: Tensor) -> Coefs:
        """x (..., channels, samples) real -> [C (..., channels, n_fft//2+1, 1, frames)].

        ``frames = 1 + samples // hop`` (centred frames).
        """
        if x.dim() < 2:
            raise ValueError(f"expected (..., channels, samples), got shape {tuple(x.shape)}")
        lead, n = x.shape[:-1], x.shape[-1]
        w = self.window.to(dtype=x.dtype, device=x.device)
        X = torch.stft(
            x.reshape(-1, n), self.n_fft, self.hop, window=w, center=True,
            pad_mode="constant", return_complex=True,
        )  # fmt: skip
        return [X.reshape(*lead, X.shape[-2], 1, X.shape[-1])]

    def inverse(self, C: Coefs, length: int) -> Tensor:
        """[C (..., channels, bins, 1, frames)] -> (..., channels, length) real."""
        (X,) = C
        lead = X.shape[:-3]
        X = X.reshape(-1, X.shape[-3], X.shape[-1])
        w = self.window.to(dtype=X.real.dtype, device=X.device)
        y = torch.istft(X, self.n_fft, self.hop, window=w, center=True, length=int(length))
        return y.reshape(*lead, int(length))

    def frequencies(self) -> np.ndarray:
        """Centre frequency (Hz) of each of the n_fft//2+1 bins."""
        return np.fft.rfftfreq(self.n_fft, 1.0 / self.sample_rate)

    def grid(self, C: Coefs) -> Tensor:
        """(..., channels, bins, frames): the single block without its slice axis."""
        return C[0].squeeze(-2)

    def frame_rate(self) -> float:
        """Frames per second: sample_rate / hop."""
        return self.sample_rate / self.hop

    def redundancy(self, length: int) -> float:
        """Complex coefficients per sample: (n_fft//2+1)·(1 + length//hop) / length."""
        return (self.n_fft // 2 + 1) * (1 + int(length) // self.hop) / float(length)
