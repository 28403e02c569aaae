"""The one STFT the demixer's losses, Wiener filter and separation share (docs/design.md, Demixer).

Each target's branch works in its own transform, so the branches' coefficients do not share a
shape; everything that compares or combines the targets' estimates puts their waveforms
through this common STFT instead (default 4096/1024).
"""

from __future__ import annotations

import torch
from torch import Tensor

from tfselect import SAMPLE_RATE
from tfselect.transforms.spec import TransformSpec
from tfselect.transforms.stft import STFT


class SharedSTFT(torch.nn.Module):
    """The one STFT all losses (and the Wiener filter) are computed in.

    ``forward(x)`` maps (..., samples) float to (..., bins, frames) complex; ``inverse`` undoes
    it given the length in samples. A thin view of the transforms layer's STFT (periodic
    Hann, ``center=True``) without its channel and slice axes.
    """

    def __init__(self, n_fft: int = 4096, hop: int = 1024) -> None:
        super().__init__()

        self.n_fft, self.hop = int(n_fft), int(hop)
        self.stft = STFT(TransformSpec(kind="stft", n_fft=self.n_fft, hop=self.hop), SAMPLE_RATE)

    def forward(self, x: Tensor) -> Tensor:
        (X,) = self.stft(x.unsqueeze(-2))  # (..., 1, bins, 1, frames)
        return X[..., 0, :, 0, :]

    def inverse(self, X: Tensor, length: int) -> Tensor:
        return self.stft.inverse([X[..., None, :, None, :]], length)[..., 0, :]
