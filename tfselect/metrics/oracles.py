"""Mask oracles: what a perfect mask of the mixture could reach in a transform.

On the mixture X and the stems S_i in the transform domain (t = the target):

- ``mpi``  mix-phase / noisy phase: ``|S_t|·e^{j∠X}`` (the magnitude is perfect, the phase is
  the mixture's; the ceiling of every magnitude-masking network; 0 where X = 0);
- ``irm1`` ratio mask of magnitudes: ``|S_t| / (ε + Σ_i |S_i|) · X``;
- ``irm2`` ratio mask of powers:     ``|S_t|² / (ε + Σ_i |S_i|²) · X``;
- ``ibm``  binary mask: ``1[|S_t| / (ε + |X|) ≥ ½] · X``.

Each estimate is inverted through the transform and scored against the true stem (``sdr``).
ε is the smallest normal number of the dtype: it only turns 0/0 into 0, so a one-source
mixture gives back the source to rounding error (≥ 100 dB in float64).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from tfselect.transforms.base import Coefs

ORACLES = ("mpi", "irm1", "irm2", "ibm")


def oracle_estimates(
    mixture: Coefs, stems: Coefs, target_index: int, names: Sequence[str] = ORACLES
) -> Coefs:
    """Masked mixtures of every requested oracle, stacked on a new leading axis.

    Args:
        mixture: blocks (channels, bins_b, slices, frames_b) of the mixture X.
        stems: blocks (sources, channels, bins_b, slices, frames_b) of every source S_i.
        target_index: which source is the target t.
        names: oracles to compute, in the order they are stacked.

    Returns:
        Blocks (len(names), channels, bins_b, slices, frames_b): ready for one batched
        ``Transform.inverse``.
    """
    unknown = [n for n in names if n not in ORACLES]
    if unknown:
        raise ValueError(f"unknown oracle(s) {unknown}; known: {ORACLES}")
    # All blocks side by side on one flat axis: a handful of large operations instead of a
    # few per block (a ragged sliCQT has ~70 blocks).
    X = torch.cat([c.flatten(-3) for c in mixture], dim=-1)  # (channels, N)
    S = torch.cat([c.flatten(-3) for c in stems], dim=-1)  # (sources, channels, N)
    eps = torch.finfo(X.real.dtype).tiny
    mag = S.abs()  # (sources, channels, N)
    t = mag[target_index]
    mix_mag = X.abs() if {"mpi", "ibm"} & set(names) else None
    est = torch.empty((len(names), *X.shape), dtype=X.dtype, device=X.device)
    for i, name in enumerate(names):
        if name == "mpi":  # |S_t|·X/|X|: the mixture's phase without angle() and polar()
            torch.mul(X, t / mix_mag.clamp_min(eps), out=est[i])
        elif name == "irm1":
            torch.mul(X, t / (eps + mag.sum(0)), out=est[i])
        elif name == "irm2":
            power = mag.square()
            torch.mul(X, power[target_index] / (eps + power.sum(0)), out=est[i])
        else:  # ibm
            torch.mul(X, (t / (eps + mix_mag) >= 0.5).to(t.dtype), out=est[i])
    sizes = [int(np.prod(c.shape[-3:])) for c in mixture]
    return [
        piece.unflatten(-1, c.shape[-3:])
        for piece, c in zip(est.split(sizes, dim=-1), mixture, strict=True)
    ]
