"""Transform ensembles: 2 or 3 transforms whose waveforms are averaged.

Spec ``ens:stft:n_fft=4096,hop=1024+stft:n_fft=8192,hop=1024``. The coefficients are the
members' blocks side by side (member 1's blocks, then member 2's, ...), so every
elementwise operation -- an oracle's mask, a sparsity measure -- acts on each member in its
own transform; the inverse is the plain mean of the members' inverses. A masked estimate
therefore becomes the average of the members' estimates, the combination measured to beat
each member (averaging estimates whose errors are partly independent lowers the error);
plain averaging needs nothing learned and keeps the round trip exact (the mean of exact
reconstructions). The ``mwf`` oracle estimates its spatial covariances per block, hence per
member, as each member alone would.

Not defined for ensembles: ``grid`` (members have different time grids), hence the ridge
metrics; score the members one by one for those.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from tfselect.errors import TfselectError

from .base import Coefs, Transform
from .registry import build  # members are any other kind
from .spec import TransformSpec


class Ensemble(Transform):
    """Members' blocks concatenated; inverse = mean of the members' inverses.

    Args:
        spec: an ``ens:`` spec.
        sample_rate: sampling rate in Hz.
    """

    def __init__(self, spec: TransformSpec, sample_rate: int) -> None:
        if spec.kind != "ens":
            raise ValueError(f"Ensemble needs an ens: spec, got {spec}")
        super().__init__(spec, sample_rate)
        self.members = torch.nn.ModuleList(build(m, sample_rate) for m in spec.members)
        # blocks per member, per signal length (an nsgt's block count depends on the length)
        self._counts: dict[int, list[int]] = {}

    def forward(self, x: Tensor) -> Coefs:
        """x (..., channels, samples) -> every member's blocks, member by member."""
        out: Coefs = []
        counts = []
        for m in self.members:
            blocks = m(x)
            counts.append(len(blocks))
            out.extend(blocks)
        self._counts[int(x.shape[-1])] = counts
        return out

    def split(self, C: Coefs, length: int) -> list[Coefs]:
        """The blocks of ``C`` (coefficients of a ``length``-sample signal) per member."""
        counts = self._counts.get(int(length))
        if counts is None:  # not analysed at this length yet: count on a silent signal
            with torch.no_grad():
                counts = [len(m(torch.zeros(1, int(length), dtype=torch.float64)))
                          for m in self.members]  # fmt: skip
            self._counts[int(length)] = counts
        if len(C) != sum(counts):
            raise TfselectError(f"ens: expected {sum(counts)} blocks, got {len(C)}")
        edges = np.cumsum([0, *counts])
        return [list(C[a:b]) for a, b in zip(edges[:-1], edges[1:], strict=True)]

    def inverse(self, C: Coefs, length: int) -> Tensor:
        """Blocks from ``forward`` -> (..., channels, length): the members' mean waveform."""
        parts = self.split(C, length)
        ys = [m.inverse(c, length) for m, c in zip(self.members, parts, strict=True)]
        return torch.stack(ys).mean(0)

    def frequencies(self) -> np.ndarray:
        """Centre frequencies (Hz) of every member's bins, members concatenated."""
        return np.concatenate([m.frequencies() for m in self.members])

    def grid(self, C: Coefs) -> Tensor:
        """Not defined: the members' time grids differ (so are the ridge metrics)."""
        raise TfselectError(
            f"{self.spec}: ridge metrics are not defined for ensembles (the members' time "
            "grids differ): leave them out, e.g. --metrics oracles,sparsity,cost"
        )

    def frame_rate(self) -> float:
        """The finest member's frame rate (for information; ``grid`` is not defined)."""
        return max(m.frame_rate() for m in self.members)

    def redundancy(self, length: int) -> float:
        """Coefficients per sample: the members' redundancies summed."""
        return float(sum(m.redundancy(length) for m in self.members))
