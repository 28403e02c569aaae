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

from collections.abc import Sequence

import numpy as np
import torch

from tfselect.transforms.base import Coefs

ORACLES = ("mpi", "irm1", "irm2", "ibm", "mwf")
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
        Blocks (channels, bins_b, slices, frames_b): ``v_t R_t Cxx⁻¹ x`` (module docstring).
        ``R_j`` is estimated per bin of a block, over all its slices and frames (an STFT has
        one block, so per frequency over every frame, as sigsep's oracle does).
    """
    out = []
    tiny = torch.finfo(torch.float64).tiny
    for X_in, S_in in zip(mixture, stems, strict=True):
        X, S = X_in.to(torch.complex128), S_in.to(torch.complex128)
        n_ch = X.shape[0]
        eye = torch.eye(n_ch, dtype=X.dtype, device=X.device)
        S = S.flatten(-2)  # (sources, channels, bins, T): T = slices·frames
        v = S.abs().square().mean(1)  # (sources, bins, T)
        Y = S / (tiny + v).sqrt()[:, None]
        R = torch.einsum("jcbt,jdbt->jbcd", Y, Y.conj()) / S.shape[-1]  # (sources, bins, C, C)
        trace = R.diagonal(dim1=-2, dim2=-1).real.sum(-1)  # (sources, bins)
        R = R * (n_ch / (tiny + trace))[..., None, None] + MWF_LOADING * eye
        Cxx = torch.einsum("jbt,jbcd->btcd", v.to(X.dtype), R) + tiny * eye  # (bins, T, C, C)
        x = X.flatten(-2).permute(1, 2, 0)  # (bins, T, C)
        y = torch.linalg.solve(Cxx, x)  # Cxx⁻¹ x
        est = v[target_index][..., None] * torch.einsum("bcd,btd->btc", R[target_index], y)
        out.append(est.permute(2, 0, 1).reshape(X.shape).to(X_in.dtype))
    return out
