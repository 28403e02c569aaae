"""Mask oracles: what a perfect mask of the mixture could reach in a transform.

On the mixture X and the stems S_i in the transform domain (t = the target):

- ``mpi``  mix-phase / noisy phase: ``|S_t|·e^{j∠X}`` (the magnitude is perfect, the phase is
  the mixture's; the ceiling of every magnitude-masking network; 0 where X = 0);
- ``irm1`` ratio mask of magnitudes: ``|S_t| / (ε + Σ_i |S_i|) · X``;
- ``irm2`` ratio mask of powers:     ``|S_t|² / (ε + Σ_i |S_i|²) · X``;
- ``ibm``  binary mask: ``1[|S_t| / (ε + |X|) ≥ ½] · X``;
- ``mwf``  multichannel Wiener filter (sigsep's MWF oracle; Duong, Vincent & Gribonval 2010):
  ``v_j R_j Cxx⁻¹ x`` per coefficient, with the true power ``v_j = mean_c |S_j,c|²``, the
  spatial covariance ``R_j`` per bin (mean over the bin's frames of ``S_j S_jᴴ / (ε + v_j)``,
  scaled to trace = channels, plus ``δ·I``) and ``Cxx = Σ_j v_j R_j + ε·I`` (no EM iterations).

Each estimate is inverted through the transform and scored against the true stem (``sdr``).
ε is the smallest normal number of the dtype: it only turns 0/0 into 0, so a one-source
mixture gives back the source to rounding error (≥ 100 dB in float64). ``mwf`` is computed
in float64 whatever the input's dtype, with ``δ = 1e-8`` (``MWF_LOADING``): sigsep loads
``R_j`` with float64's machine epsilon, too little to keep ``Cxx`` invertible where a source
is panned hard to one side or every stem is centred (L = R: every ``R_j`` is then the same
singular matrix). δ is relative (``R_j`` has trace = channels), a spatial floor 80 dB below
each source, far below any SDR an oracle reaches.

Which oracle matches which demixer: a magnitude mask applied with the mixture's phase is
bounded by ``mpi``; one followed by a Wiener post-filter (Open-Unmix, X-UMX) by ``mwf``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence

import numpy as np
import torch

from tfselect.metrics.names import ORACLES
from tfselect.transforms.base import Coefs
from tfselect.transforms.slicqt import _block_threads

# Diagonal loading δ of the spatial covariances in ``mwf`` (relative: trace R_j = channels).
MWF_LOADING = 1e-8
# Oracles that need every source, not just the target and the mixture.
ALL_SOURCES = frozenset({"irm1", "irm2", "mwf"})


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
        elif name == "mwf":
            est[i] = torch.cat([c.flatten(-3) for c in mwf_blocks(mixture, stems, target_index)],
                               dim=-1)  # fmt: skip
        else:  # ibm
            torch.mul(X, (t / (eps + mix_mag) >= 0.5).to(t.dtype), out=est[i])
    sizes = [int(np.prod(c.shape[-3:])) for c in mixture]
    return [
        piece.unflatten(-1, c.shape[-3:])
        for piece, c in zip(est.split(sizes, dim=-1), mixture, strict=True)
    ]


def mwf_blocks(mixture: Coefs, stems: Coefs, target_index: int) -> Coefs:
    """The multichannel Wiener filter oracle of the target, block by block.

    Args:
        mixture: blocks (channels, bins_b, slices, frames_b) of the mixture x.
        stems: blocks (sources, channels, bins_b, slices, frames_b) of every source S_j.
        target_index: which source is the target.

    Returns:
        Blocks (channels, bins_b, slices, frames_b), the input's dtype: ``v_t R_t Cxx⁻¹ x``
        (module docstring), computed in float64. ``R_j`` is estimated per bin of a block,
        over all its slices and frames (an STFT has one block, so per frequency over every
        frame, as sigsep's oracle does).
    """
    # Many small blocks: single-threaded on the CPU, as the sliCQT's own block loops.
    with _block_threads(mixture[0].device) if mixture else contextlib.nullcontext():
        return [_mwf_block(X, S, target_index) for X, S in zip(mixture, stems, strict=True)]


def _mwf_block(X_in: torch.Tensor, S_in: torch.Tensor, target_index: int) -> torch.Tensor:
    """:func:`mwf_blocks` of one block: X_in (C, bins, slices, frames), S_in (sources, ...)."""
    tiny = torch.finfo(torch.float64).tiny
    n_ch = X_in.shape[0]
    x = X_in.to(torch.complex128).flatten(-2).permute(1, 2, 0)  # (bins, T, C)
    S = S_in.to(torch.complex128).flatten(-2).transpose(1, 2)  # (sources, bins, C, T)
    v = torch.view_as_real(S).square().sum(-1).mean(2)  # (sources, bins, T): mean_c |S|²
    Y = S / (tiny + v).sqrt().unsqueeze(2)
    R = Y @ Y.mH / S.shape[-1]  # (sources, bins, C, C)
    trace = R.diagonal(dim1=-2, dim2=-1).real.sum(-1)  # (sources, bins)
    eye = torch.eye(n_ch, dtype=R.dtype, device=R.device)
    R = R * (n_ch / (tiny + trace))[..., None, None] + MWF_LOADING * eye
    # Cxx = Σ_j v_j R_j + tiny·I, (bins, T, C, C): real (bins, T, J) @ (bins, J, C²) twice.
    vb, Rb = v.permute(1, 2, 0), torch.view_as_real(R.flatten(-2).transpose(0, 1))
    Cxx = torch.complex(vb @ Rb[..., 0], vb @ Rb[..., 1]).unflatten(-1, (n_ch, n_ch))
    y = torch.linalg.solve(Cxx + tiny * eye, x)  # Cxx⁻¹ x, (bins, T, C)
    est = v[target_index].unsqueeze(-1) * (y @ R[target_index].mT)  # v_t R_t y
    return est.permute(2, 0, 1).reshape(X_in.shape).to(X_in.dtype)
