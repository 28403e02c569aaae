"""The interface every transform of tfselect implements.

Coefficients are always a list of complex *blocks*, one tensor per group of contiguous
frequency bins that share a time resolution::

    C: list[Tensor]   block b has shape (..., channels, bins_b, slices, frames_b), complex

- sliCQT ragged form: one block per distinct window length; ``slices`` = number of slices.
- sliCQT matrix forms (``zeropad``, ``rasterize``): a single block (all bins, one frame count).
- STFT and the non-sliced NSGT: a single block with ``slices == 1``.

float32 input gives complex64 blocks, float64 gives complex128. Elementwise operations
(magnitudes, masks) are therefore ``[f(c) for c in C]``; ``Transform.grid`` gives one
(..., channels, bins, frames) view on a common time grid for display and ridge analysis.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np
import torch
from torch import Tensor

Coefs = list[Tensor]


class Transform(torch.nn.Module, ABC):
    """A time-frequency transform with an exact inverse.

    Attributes:
        spec: the canonical ``TransformSpec`` this transform was built from.
        sample_rate: sampling rate in Hz.
    """

    def __init__(self, spec, sample_rate: int) -> None:
        super().__init__()
        self.spec = spec
        self.sample_rate = int(sample_rate)

    @abstractmethod
    def forward(self, x: Tensor) -> Coefs:
        """Analyse ``x`` of shape (..., channels, samples) (float32/64) into blocks."""

    @abstractmethod
    def inverse(self, C: Coefs, length: int) -> Tensor:
        """Synthesise (..., channels, length) from blocks produced by ``forward``."""

    @abstractmethod
    def frequencies(self) -> np.ndarray:
        """Centre frequency in Hz of every bin, blocks concatenated in order: shape (bins,)."""

    @abstractmethod
    def grid(self, C: Coefs) -> Tensor:
        """A (..., channels, bins, frames) complex view of all bins on one time grid.

        For sliCQTs this overlap-adds adjacent slices (50 % overlap) and interpolates coarse
        blocks onto the finest time grid: good for display and ridge analysis, NOT invertible.
        """

    @abstractmethod
    def frame_rate(self) -> float:
        """Frames per second of the ``grid`` view (its time axis), in Hz."""

    def redundancy(self, length: int) -> float:
        """Complex coefficients per input sample (per channel) for a signal of ``length``."""
        x = torch.zeros(1, length, dtype=torch.float64)
        C = self.forward(x)
        return sum(c.numel() for c in C) / float(length)
