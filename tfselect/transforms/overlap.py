"""Overlap-add of sliCQT slices, and the window-weighted split back into slices.

A ragged sliCQT block has shape (..., bins, slices, F): slice ``j`` covers samples
``[(j-1)·H, (j+1)·H)`` (H = sllen/2) and its frame ``n`` sits at ``n·sllen/F`` samples
after the slice's start, so the second half of slice ``j`` and the first half of slice
``j+1`` describe the same F/2 instants. Overlap-adding them gives one picture
(..., bins, (slices+1)·F/2) on a single time axis -- what a network that wants a plain
spectrogram works on -- but it is not invertible: how much of each overlap frame belongs to
which slice is lost.

Phase: both phase conventions are already consistent across a hop. A local-phase (2012)
coefficient of content at slice-local time ``t`` carries ``exp(-2πi·tp·t/sllen)`` (tp the
bin's centre FFT bin); one hop later ``t`` is ``t - sllen/2`` and the factor changes by
``exp(iπ·tp) = 1`` because every window centre ``tp`` is an even FFT bin (the window design
rounds it so). The per-bin sign ``(-1)^(tp/2)`` of local phase is the same in every slice,
and the global-phase carrier ``exp(2πi·tp·n/F)`` is unchanged by ``n -> n - F/2`` for even
``tp``. So the complex overlap-add needs no rotation; ``tests/test_overlap.py`` checks it.

The non-learned way back (:func:`split`) gives every slice the share of each overlap frame
that its Tukey slice window has at that instant (the windows of neighbouring slices sum to
one, so the shares do too). It would be exact if a coefficient depended only on the signal
at its own instant; it does not -- the coefficients of long (low-frequency) windows smear a
few frames around their instant, beyond the slice window's edge -- and that is the error a
learned de-overlap corrects.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor


def overlap_add(c: Tensor) -> Tensor:
    """Overlap-add one block's slices: (..., bins, S, F) -> (..., bins, (S+1)·F/2).

    Output frame ``j·F/2 + m`` (0 ≤ m < F/2) is slice ``j``'s frame ``m`` plus slice
    ``j-1``'s frame ``m + F/2`` (where those slices exist). Output frame ``i`` is at
    ``(i·sllen/F) - sllen/2`` samples of the signal (frame 0 lies before the signal's start).
    """
    F = c.shape[-1]
    if F % 2:
        raise ValueError(f"frames per slice must be even, got {F}")
    first, second = c.unflatten(-1, (2, F // 2)).unbind(-2)  # (..., bins, S, F/2) each
    z = torch.zeros_like(first[..., :1, :])
    return (torch.cat([first, z], -2) + torch.cat([z, second], -2)).flatten(-2)


def tukey_at(t: np.ndarray, sllen: int, trlen: int) -> np.ndarray:
    """The slice window (as ``filterbank.tukey``) evaluated at real sample positions ``t``.

    Zero in the outer quarters, a raised-cosine rise of ``trlen`` centred at sllen/4, one in
    the middle, the mirrored fall centred at 3·sllen/4; ``t`` may be fractional because frame
    instants ``n·sllen/F`` need not fall on samples.
    """
    t = np.asarray(t, dtype=np.float64)
    q, h = sllen / 4.0, trlen / 2.0
    w = np.zeros_like(t)
    if trlen == 0:
        return ((t >= q) & (t < 3 * q)).astype(np.float64)
    rise = (t >= q - h) & (t < q + h)
    w[rise] = 0.5 - 0.5 * np.cos(np.pi * (t[rise] - (q - h)) / trlen)
    w[(t >= q + h) & (t < 3 * q - h)] = 1.0
    fall = (t >= 3 * q - h) & (t < 3 * q + h)
    w[fall] = 0.5 + 0.5 * np.cos(np.pi * (t[fall] - (3 * q - h)) / trlen)
    return w


def split_weights(frames: int, slices: int, sllen: int, trlen: int) -> np.ndarray:
    """Share of each overlap frame that each slice gets: (slices, frames) float64.

    Slice ``j``'s weight at its frame ``n`` is ``w(t)/(w(t) + w_other(t))`` with ``w`` its
    Tukey window at ``t = n·sllen/F`` and ``w_other`` the neighbour's window at the same
    instant; the first slice's first half and the last slice's second half have no neighbour
    and get the whole overlap-added frame. Where both windows are zero (never for trlen
    ≤ sllen/2 inside a transition) the frame is shared equally.
    """
    F, half = int(frames), int(frames) // 2
    t = np.arange(F) * (sllen / F)
    own = tukey_at(t, sllen, trlen)
    # the neighbour sharing frame n: slice j-1 (its frame n+F/2) for n < F/2, else j+1
    other = np.concatenate([tukey_at(t[:half] + sllen / 2, sllen, trlen),
                            tukey_at(t[half:] - sllen / 2, sllen, trlen)])
    tot = own + other
    share = np.where(tot > 0, own / np.where(tot > 0, tot, 1.0), 0.5)
    w = np.repeat(share[None], slices, 0)
    w[0, :half] = 1.0
    w[-1, half:] = 1.0
    return w


def split(ola: Tensor, weights: Tensor | np.ndarray) -> Tensor:
    """Window-weighted split of an overlap-added block back into slices.

    ola (..., bins, (S+1)·F/2) complex or real, weights (S, F) from :func:`split_weights`
    -> (..., bins, S, F): slice ``j`` gets ``weights[j] ·`` the F overlap-added frames it
    covers. ``overlap_add(split(o, w)) == o`` for every ``o`` (the shares sum to one).
    """
    W = torch.as_tensor(weights)
    S, F = W.shape
    if ola.shape[-1] != (S + 1) * F // 2:
        raise ValueError(f"expected {(S + 1) * F // 2} overlap-added frames for {S} slices "
                         f"of {F}, got {ola.shape[-1]}")
    seg = ola.unfold(-1, F, F // 2)  # (..., bins, S, F), a strided view
    return seg * W.to(device=ola.device, dtype=ola.real.dtype)


class Overlap:
    """Overlap-add and baseline split of every block of one ragged sliCQT.

    ``ola(C)``: list of blocks (..., bins_b, S, F_b) -> list (..., bins_b, (S+1)·F_b/2);
    ``split(P)``: the inverse share-by-window, list -> list of (..., bins_b, S, F_b).
    The weight tables are cached per (block, slices).
    """

    def __init__(self, frames: list[int] | tuple[int, ...], sllen: int, trlen: int) -> None:
        self.frames, self.sllen, self.trlen = [int(f) for f in frames], int(sllen), int(trlen)
        self._cache: dict[tuple[int, int], Tensor] = {}

    @classmethod
    def of(cls, transform) -> Overlap:
        """For a :class:`~tfselect.transforms.slicqt.SliCQT` of ``form=ragged``."""
        return cls([b.frames for b in transform.out_blocks], transform.sllen, transform.trlen)

    def weights(self, block: int, slices: int) -> Tensor:
        """(slices, F_block) float64 shares, cached."""
        key = (block, slices)
        if key not in self._cache:
            self._cache[key] = torch.from_numpy(
                split_weights(self.frames[block], slices, self.sllen, self.trlen))
        return self._cache[key]

    def ola(self, C: list[Tensor]) -> list[Tensor]:
        return [overlap_add(c) for c in C]

    def slices(self, P: list[Tensor]) -> int:
        """Number of slices behind an overlap-added picture."""
        return P[0].shape[-1] * 2 // self.frames[0] - 1

    def split(self, P: list[Tensor]) -> list[Tensor]:
        S = self.slices(P)
        return [split(o, self.weights(i, S)) for i, o in enumerate(P)]


def snr_db(ref: Tensor, est: Tensor) -> float:
    """``10·log10(Σ|ref|² / Σ|ref - est|²)`` in dB over all elements (complex or real)."""
    num = float((ref.abs() ** 2).sum())
    den = float(((ref - est).abs() ** 2).sum())
    if den == 0:
        return math.inf
    return 10 * math.log10(num / den) if num > 0 else -math.inf
