"""Sparsity of the isolated target's coefficient magnitudes.

All three measures take a flat vector of magnitudes ``|c|`` and optional non-negative
*weights* ``w``: a coefficient of weight ``w`` counts as ``w`` copies of itself. Weights are
how ragged sliCQT coefficients are made comparable: a coefficient of a coarse block (few
frames per slice) stands for more time than one of a fine block, so it is weighted by
``frames_max / frames_b`` (``block_weights``). The weighted measures then equal the plain
measures of the representation rasterized by repetition onto the finest grid, without
building it (exact when the frame counts divide each other, as they do for power-of-two
rasterization). For single-block transforms (STFT, matrix forms) every weight is 1, except
that zero-padded positions (``structural_support``) are left out and each remaining
coefficient is weighted by the frames its row really has.

- ``gini`` (Hurley & Rickard 2009): ``G = 1 − 2 Σ_k (c_(k)/‖c‖₁)·(N − k + ½)/N`` with ``c``
  sorted ascending. 0 for a constant vector, ``1 − 1/N`` for a one-hot one; invariant to
  scaling and to cloning (every coefficient repeated r times), so fair across redundancies.
- ``hoyer``: ``(√N − ‖c‖₁/‖c‖₂)/(√N − 1)``; not cloning-invariant (reported, rank with care).
- ``renyi3`` (Baraniuk et al. 2001): ``H₃ = −½·log₂ Σ P³`` with ``P = |c|²/Σ|c|²``, in bits.
  Cloning every coefficient r times adds exactly ``log₂ r``; ``renyi3_normalised`` subtracts
  ``log₂`` of the redundancy (coefficients per input sample), which removes that offset.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor


def _weights(mag: Tensor, weight: Tensor | None) -> Tensor | None:
    if weight is None:
        return None
    w = weight.detach().reshape(-1).to(device=mag.device, dtype=torch.float64)
    if w.numel() != mag.numel():
        raise ValueError(f"weight has {w.numel()} values for {mag.numel()} magnitudes")
    return w


def _measures(mag: Tensor, weight: Tensor | None, names: Sequence[str]) -> dict[str, float]:
    """Gini, Hoyer and raw Rényi-3 of flat non-negative ``mag`` with float64 weights or None.

    One float64 copy and a few passes for all three (reductions over ~10⁶ values need the
    precision); the sort for Gini runs in the input precision (float32 sorts 2× faster).
    Also returns "count" = N = Σw.
    """
    m = mag.to(torch.float64)
    w = weight
    n = float(m.numel()) if w is None else float(w.sum())
    mw = m if w is None else m * w
    l1 = float(mw.sum())
    e = m.square()
    ew = e if w is None else e * w
    l2sq = float(ew.sum())
    out = {"count": n}
    if "gini" in names:
        if l1 <= 0 or n <= 0:
            out["gini"] = 0.0
        else:
            # With integer weights, exactly the Gini of the vector in which value i appears
            # w_i times: a run of w equal values after a smaller ones contributes
            # c·w·(N − a − w/2) to Σ_k c_(k)(N − k + ½). Real weights extend it continuously.
            values, order = torch.sort(mag)
            c = values.to(torch.float64)
            ws = torch.ones_like(c) if w is None else w[order]
            before = torch.cumsum(ws, 0) - ws  # weight of the strictly smaller values
            total = float((c * ws * (n - before - 0.5 * ws)).sum())
            out["gini"] = 1.0 - 2.0 * total / (l1 * n)
    if "hoyer" in names:
        ok = l2sq > 0 and n > 1
        out["hoyer"] = (math.sqrt(n) - l1 / math.sqrt(l2sq)) / (math.sqrt(n) - 1) if ok else 0.0
    if "renyi3" in names:
        # Σ_i w_i P_i³ with P_i = e_i / Σ w e, without forming P.
        s3 = float((ew * e.square()).sum()) / l2sq**3 if l2sq > 0 else 1.0
        out["renyi3"] = -0.5 * math.log2(s3)
    return out


def gini(mag: Tensor, weight: Tensor | None = None) -> float:
    """Gini index of magnitudes ``mag`` (any shape), optionally weighted.

    With integer weights this is exactly the Gini of the vector in which value i appears
    ``w_i`` times. Returns 0.0 for an all-zero vector (no sparsity to speak of).
    """
    flat = mag.detach().reshape(-1).abs()
    return _measures(flat, _weights(flat, weight), ("gini",))["gini"]


def hoyer(mag: Tensor, weight: Tensor | None = None) -> float:
    """Hoyer sparsity ``(√N − ‖c‖₁/‖c‖₂)/(√N − 1)`` in [0, 1]; weighted norms and N = Σw."""
    flat = mag.detach().reshape(-1).abs()
    return _measures(flat, _weights(flat, weight), ("hoyer",))["hoyer"]


def renyi3(mag: Tensor, weight: Tensor | None = None) -> float:
    """Rényi entropy of order 3 of the energy distribution, in bits (lower = sparser).

    ``P_i = |c_i|²/Σ_j w_j|c_j|²`` is the share of one copy; ``H₃ = −½·log₂ Σ_i w_i P_i³``.
    Returns 0.0 for an all-zero vector.
    """
    flat = mag.detach().reshape(-1).abs()
    return _measures(flat, _weights(flat, weight), ("renyi3",))["renyi3"]


def renyi3_normalised(mag: Tensor, n_samples: int, weight: Tensor | None = None) -> float:
    """``renyi3`` minus ``log₂`` of the redundancy ``Σw / n_samples`` (bits).

    Args:
        mag: magnitudes of every coefficient of the signal (all channels).
        n_samples: input samples they represent (channels × samples per channel).
        weight: as in ``renyi3``.

    Cloning every coefficient r times multiplies Σw by r and adds log₂ r to H₃, so the
    normalised value is unchanged; a transform is not rewarded for being less redundant.
    """
    flat = mag.detach().reshape(-1).abs()
    res = _measures(flat, _weights(flat, weight), ("renyi3",))
    return res["renyi3"] - math.log2(res["count"] / float(n_samples))


def block_weights(blocks: Sequence[Tensor]) -> list[Tensor]:
    """Per-coefficient weights ``frames_max / frames_b`` for blocks (..., bins_b, slices, frames_b).

    Returns one real tensor per block, broadcastable to it (shape (1, ..., 1, frames-like)),
    so ``[w.expand_as(c) for ...]`` lines weights up with the coefficients.
    """
    frames = [int(c.shape[-1]) for c in blocks]
    top = max(frames)
    out = []
    for c, f in zip(blocks, frames, strict=True):
        shape = (1,) * c.dim()
        out.append(torch.full(shape, top / f, dtype=torch.float64, device=c.device))
    return out


def structural_support(blocks: Sequence[Tensor]) -> list[Tensor] | None:
    """Where a transform has coefficients at all, from the blocks of a noise signal.

    Positions that are zero for every input are storage, not coefficients, and would make
    any signal look sparse: the padding of coarse blocks in a sliCQT's ``form=zeropad``, and
    a final slice lying wholly past the end of the signal. Given the blocks (..., channels,
    bins_b, slices, frames_b) of white noise, returns one bool (bins_b, slices, frames_b)
    mask per block of the non-zero positions, or None when every position holds a
    coefficient (STFT).
    """
    support = [(c.reshape(-1, *c.shape[-3:]) != 0).all(dim=0) for c in blocks]
    return None if all(bool(s.all()) for s in support) else support


def sparsity_scores(
    blocks: Sequence[Tensor],
    n_samples: int,
    metrics: Sequence[str] = ("gini", "hoyer", "renyi3"),
    support: Sequence[Tensor] | None = None,
) -> dict[str, float]:
    """Sparsity of coefficient blocks of one signal (all channels together).

    Args:
        blocks: complex blocks (channels, bins_b, slices, frames_b) of the isolated target.
        n_samples: channels × samples of the signal they came from (for the Rényi norm).
        metrics: any of "gini", "hoyer", "renyi3" ("renyi3" is the *normalised* entropy).
        support: ``structural_support`` of the transform: only those positions count.

    Returns:
        ``{name: value}`` for the requested measures. Coefficients are weighted by the time
        they stand for, ``frames_max / frames`` of their (bin, slice) row: ragged blocks by
        ``block_weights``; with a ``support``, by the supported frames of each row.
    """
    if support is None:
        mags = torch.cat([c.abs().reshape(-1) for c in blocks])
        ws = torch.cat(
            [
                w.expand(c.shape).reshape(-1)
                for c, w in zip(blocks, block_weights(blocks), strict=True)
            ]
        )
    else:
        counts = [s.sum(dim=-1, keepdim=True) for s in support]  # frames per (bin, slice) row
        top = max(float(n.max()) for n in counts)
        mags_l, ws_l = [], []
        for c, s, n in zip(blocks, support, counts, strict=True):
            m = c.abs()[..., s]  # (channels, kept)
            w = (top / n.clamp_min(1).to(torch.float64)).expand(s.shape)[s]
            mags_l.append(m.reshape(-1))
            ws_l.append(w.expand(m.shape).reshape(-1))
        mags, ws = torch.cat(mags_l), torch.cat(ws_l)
    if bool((ws == 1).all()):
        ws = None  # single resolution: skip the weighting arithmetic
    res = _measures(mags, ws, metrics)
    if "renyi3" in res:  # normalised for redundancy
        res["renyi3"] -= math.log2(res["count"] / float(n_samples))
    return {name: res[name] for name in ("gini", "hoyer", "renyi3") if name in metrics}
