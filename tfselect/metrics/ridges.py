"""Ridge analysis: K curves of locally maximal energy through a TF grid
(docs/design.md, Metrics).

Extraction is the penalised path of the TF literature (MATLAB ``tfridge``, Iatsenko et al.
2016, ssqueezepy ``extract_ridges``), solved exactly by dynamic programming. Along the *path
axis* (frames for ridges along time) the ridge picks one *state* (bin) per step minimising

    Σ_n E[k_n, n] + λ·(s[k_n] − s[k_{n−1}])²,   E[k, n] = −ln(P[k, n]/max_k P[k, n] + ε)

with P the power and s the state coordinate (log₂ frequency for ridges along time). After a
ridge is found, ``clear`` states either side of it are zeroed and the next one is extracted.

Cost: transitions are *banded* (a ridge moves at most ``band`` states per step), so one pass
is O(steps · states · band), and each step is a few vectorised numpy operations over
(band, penalties, states) in float32: no per-state Python loop. The forward pass keeps only
the minima; the back-trace recomputes the argmin along the chosen path only. Several penalty
values (for the stability score) run as one batch. ``benchmarks/ridges.py`` compares this
with ssqueezepy's ``extract_ridges`` (dense O(steps · states²) transitions, numba): on a 10-s
STFT-4096 grid (2049 bins) ours was 270–370× faster, on a pooled Bark-262 sliCQT grid (263
bins) 3.6–30× (runs on a loaded 2-core machine), and the first ridges agreed on 100 % of
frames, so ours is kept (and numba is not a dependency). Grids finer than
``RidgeConfig.max_frame_rate`` are summed over groups of frames first.

Ridges along *frequency* (drum onsets are vertical lines) are the same DP on the transposed
grid: the path runs over bins and the state is the frame, with s = time in tenths of a second.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from numpy.lib.stride_tricks import as_strided
from torch import Tensor

from tfselect.transforms.base import Coefs, Transform

RIDGE_DIRECTIONS = ("time", "freq")


@dataclass(frozen=True)
class RidgeConfig:
    """Parameters of ridge extraction and scoring (defaults used by ``score``).

    Attributes:
        n_ridges: K, ridges extracted per direction.
        penalty_time: λ for ridges along time, per octave² of frequency jump (20: an octave
            jump costs 20 nats ≈ 87 dB of energy, a semitone 0.14 nats).
        penalty_freq: λ for ridges along frequency, per (0.1 s)² of time jump (20: one
            23-ms STFT hop costs ≈ 1 nat).
        band: the most states a ridge may move per step.
        clear: states zeroed either side of a ridge before extracting the next one.
        width: d, a point is "on a ridge" within ±d states of it (energy, stability, masks).
        stability_factors: penalties λ·f the ridges are re-extracted with for stability.
        eps: the floor ε of the normalised energy (−ln ε ≈ 18.4 nats = 80 dB).
        max_frame_rate: grids finer than this (Hz) are summed over groups of frames first
            (sliCQT grids run at the finest block's rate, ~700 frames/s for Bark-262): it
            bounds the DP's cost and puts every transform on a comparable time step.
    """

    n_ridges: int = 3
    penalty_time: float = 20.0
    penalty_freq: float = 20.0
    band: int = 6
    clear: int = 3
    width: int = 1
    stability_factors: tuple[float, ...] = (0.25, 4.0)
    eps: float = 1e-8
    max_frame_rate: float = 100.0


def extract_ridges(
    power: Tensor | np.ndarray,
    coords: Tensor | np.ndarray,
    penalties: float | Sequence[float],
    n_ridges: int = 3,
    band: int = 6,
    clear: int = 3,
    eps: float = 1e-8,
) -> Tensor:
    """Extract ``n_ridges`` penalised-path ridges from a power grid.

    Args:
        power: non-negative energy, shape (states, steps); the path runs along ``steps``.
        coords: coordinate of every state, shape (states,), in the units the penalty uses.
        penalties: λ, one value or several (extracted as one batch).
        n_ridges: K.
        band: the most states a ridge may move between consecutive steps (≥ 1).
        clear: states zeroed on either side of a ridge before the next is extracted.
        eps: energy floor of ``E = −ln(P/max P + ε)``.

    Returns:
        State index of every ridge at every step, int64: shape (K, steps) for one penalty,
        (len(penalties), K, steps) for a sequence. Ridge 0 is the most energetic path.
    """
    single = isinstance(penalties, (int, float))
    lams = np.array([float(penalties)] if single else [float(p) for p in penalties])
    if isinstance(power, Tensor):
        power = power.detach().to("cpu", torch.float64).numpy()
    power = np.asarray(power, dtype=np.float64)
    if power.ndim != 2:
        raise ValueError(f"power must be (states, steps), got shape {power.shape}")
    if band < 1 or n_ridges < 1:
        raise ValueError("band and n_ridges must be at least 1")
    n_states, n_steps = power.shape
    band = min(band, max(n_states - 1, 1))
    # Normalised per step in float64 first, so float32 keeps the whole dynamic range.
    peak = np.maximum(power.max(axis=0, keepdims=True), np.finfo(np.float64).tiny)
    level = (np.maximum(power, 0.0) / peak).astype(np.float32)
    work = np.repeat(level[None], len(lams), axis=0)  # (P, S, L): cleared separately per λ
    pen = _penalty(np.asarray(coords, dtype=np.float64), lams, band)  # (2B+1, P, S)
    out = np.empty((len(lams), n_ridges, n_steps), dtype=np.int64)
    tiny = np.finfo(np.float32).tiny
    rows = np.arange(len(lams))[:, None]
    cols = np.arange(n_steps)[None, :]
    for r in range(n_ridges):
        peak = np.maximum(work.max(axis=1, keepdims=True), tiny)
        cost = np.log(work / peak + np.float32(eps))  # (P, S, L), in [ln ε, 0]
        np.negative(cost, out=cost)
        out[:, r] = _dp(cost, pen, band)
        for offset in range(-clear, clear + 1) if r + 1 < n_ridges else ():
            work[rows, np.clip(out[:, r] + offset, 0, n_states - 1), cols] = 0.0
    return torch.from_numpy(out[0] if single else out)


def _penalty(s: np.ndarray, lams: np.ndarray, band: int) -> np.ndarray:
    """Transition penalties pen[j, p, k] = λ_p·(s[k] − s[k + j − B])², +inf off the grid."""
    n = s.size
    src = np.arange(n)[None, :] + np.arange(-band, band + 1)[:, None]  # (2B+1, S) predecessor
    d2 = (s[None, :] - s[np.clip(src, 0, n - 1)]) ** 2
    d2[(src < 0) | (src >= n)] = np.inf
    return (lams[None, :, None] * d2[:, None, :]).astype(np.float32)


def _dp(cost: np.ndarray, pen: np.ndarray, band: int) -> np.ndarray:
    """Minimum-cost paths of cost (P, S, L) with banded penalties pen (2B+1, P, S) -> (P, L).

    float32 halves the memory traffic of the inner step; the running costs are shifted by
    their minimum at every step (argmins are unchanged) so they stay small and exact enough.
    numpy, not torch: torch takes a slow path for the overlapping strided window below.
    """
    n_pen, n_states, n_steps = cost.shape
    width = 2 * band + 1
    cost_t = np.ascontiguousarray(cost.transpose(2, 0, 1), dtype=np.float32)  # (L, P, S)
    # Running costs, padded with +inf by `band` on both sides so that each step's candidates
    # are a strided view (no copy): acc[n, p, k + j] = D_n[k + j − B].
    acc = np.full((n_steps, n_pen, n_states + 2 * band), np.inf, dtype=np.float32)
    acc[0, :, band : band + n_states] = cost_t[0]
    cand = np.empty((width, n_pen, n_states), dtype=np.float32)
    best = np.empty((n_pen, n_states), dtype=np.float32)
    st = acc.strides
    windows = as_strided(acc, (n_steps, width, n_pen, n_states), (st[0], st[2], st[1], st[2]))
    for n in range(1, n_steps):
        np.add(windows[n - 1], pen, out=cand)
        np.min(cand, axis=0, out=best)
        if n % 32 == 0:  # keep the running costs small (float32 resolution)
            best -= best.min(axis=1, keepdims=True)
        np.add(best, cost_t[n], out=acc[n, :, band : band + n_states])
    # Back-trace: recompute the argmin along the chosen path only (cheaper than storing it).
    flat = acc.reshape(n_steps, -1)
    pen_rows = np.ascontiguousarray(pen.transpose(1, 2, 0)).reshape(n_pen * n_states, width)
    row_acc = np.arange(n_pen)[:, None] * acc.shape[-1] + np.arange(width)[None, :]
    row_pen = np.arange(n_pen) * n_states
    path = np.empty((n_pen, n_steps), dtype=np.int64)
    k = acc[-1, :, band : band + n_states].argmin(axis=1)
    path[:, -1] = k
    for n in range(n_steps - 1, 0, -1):
        vals = flat[n - 1, row_acc + k[:, None]] + pen_rows[row_pen + k]
        k = k + vals.argmin(axis=1) - band
        path[:, n - 1] = k
    return path


def ridge_mask(paths: Tensor, n_states: int, width: int) -> Tensor:
    """Boolean (states, steps) mask of the points within ±width states of any ridge.

    Args:
        paths: (K, steps) ridge states.
        n_states: size of the state axis.
        width: d.
    """
    mask = torch.zeros(n_states, paths.shape[-1], dtype=torch.bool)
    steps = torch.arange(paths.shape[-1]).expand_as(paths)
    # Scatter, O(K·steps·d) rather than O(K·states·steps). A clamped index is still within
    # ±width of its ridge (the ridge itself lies inside the grid), so clamping is exact.
    for offset in range(-width, width + 1):
        mask[(paths + offset).clamp(0, n_states - 1), steps] = True
    return mask


def _on_mask(mask: Tensor, paths: Tensor) -> float:
    """Fraction of the ridge points (K, steps) that lie inside ``mask`` (states, steps)."""
    steps = torch.arange(paths.shape[-1]).expand_as(paths)
    return float(mask[paths, steps].to(torch.float64).mean())


def ridge_analysis(
    power: Tensor,
    frequencies: np.ndarray,
    frame_rate: float,
    direction: str,
    config: RidgeConfig = RidgeConfig(),
) -> dict[str, object]:
    """Ridges of one grid in one direction, with their energy and stability scores.

    Args:
        power: (bins, frames) energy of the isolated target (channels summed).
        frequencies: (bins,) centre frequencies in Hz.
        frame_rate: frames per second of the grid.
        direction: "time" (ridges follow frames; harmonic sources) or "freq" (ridges follow
            bins; onsets).
        config: extraction parameters.

    Returns:
        ``{"energy", "stability", "mask", "paths", "factor"}``: energy = share of the grid's
        energy within ±d states of the K ridges; stability = share of ridge points that stay
        within ±d of the reference ridges when λ is scaled by each of
        ``config.stability_factors`` (both ways round, averaged); mask = those ±d
        neighbourhoods as a (bins, frames) bool tensor on the input grid; paths = (K, steps)
        ridges on the analysed grid, whose frames are groups of ``factor`` input frames
        (``factor`` > 1 when ``frame_rate`` exceeds ``config.max_frame_rate``).
    """
    if direction not in RIDGE_DIRECTIONS:
        raise ValueError(f"direction must be one of {RIDGE_DIRECTIONS}, got {direction!r}")
    power = power.detach().to("cpu", torch.float64)
    n_frames = power.shape[1]
    factor = max(1, math.ceil(frame_rate / config.max_frame_rate - 1e-9))
    if factor > 1:  # sum the power of groups of `factor` frames (zero-padded at the end)
        power = torch.nn.functional.pad(power, (0, (-n_frames) % factor))
        power = power.unflatten(1, (-1, factor)).sum(-1)
        frame_rate = frame_rate / factor
    if direction == "time":
        grid = power
        f = np.asarray(frequencies, dtype=np.float64)
        positive = f[f > 0]
        floor = positive.min() if positive.size else 1.0
        coords = np.log2(np.maximum(f, floor))  # DC shares the coordinate of the first bin
        lam = config.penalty_time
    else:
        grid = power.T
        coords = np.arange(power.shape[1], dtype=np.float64) / float(frame_rate) / 0.1
        lam = config.penalty_freq
    lams = [lam] + [lam * f for f in config.stability_factors]
    paths = extract_ridges(
        grid, coords, lams, config.n_ridges, config.band, config.clear, config.eps
    )  # (P, K, L)
    n_states = grid.shape[0]
    masks = [ridge_mask(p, n_states, config.width) for p in paths]
    total = float(grid.sum())
    energy = float((grid * masks[0]).sum()) / total if total > 0 else 0.0
    if len(lams) > 1:
        shares = []
        for i in range(1, len(lams)):
            shares.append(_on_mask(masks[0], paths[i]))
            shares.append(_on_mask(masks[i], paths[0]))
        stability = float(np.mean(shares))
    else:
        stability = 1.0
    mask = masks[0] if direction == "time" else masks[0].T
    if factor > 1:
        mask = mask.repeat_interleave(factor, dim=1)[:, :n_frames]
    return {
        "energy": energy,
        "stability": stability,
        "mask": mask,
        "paths": paths[0],
        "factor": factor,
    }


class GridAdjoint:
    """Carries masks on ``transform.grid`` back to coefficient blocks of one shape.

    For a single block with one slice whose grid is the block itself (STFT), a mask is used
    as is. Otherwise the grid is a linear map A of the coefficients (overlap-add of slices,
    interpolation of coarse blocks), and each coefficient gets the A-weighted mean of the mask
    over the grid points it contributes to, ``Aᵀm / Aᵀ1``, thresholded at ½ so coefficients
    are exactly kept or dropped. Aᵀ is a vector-Jacobian product through ``grid``: its graph
    is built once per block shape (on zeros; the map is linear) and only the backward pass
    runs per call, for all masks at once. Coefficients the grid does not see at all (a
    sliCQT's first half-slice, which lies before t = 0) are outside every ridge and get 0.

    Args:
        transform: the transform that made the blocks.
        blocks: complex blocks (..., channels, bins_b, slices, frames_b) of the shape to serve.
        n_masks: how many masks each call carries.
    """

    def __init__(self, transform: Transform, blocks: Coefs, n_masks: int = 1) -> None:
        b0 = blocks[0]
        self.n_masks = n_masks
        self.dtype = b0.real.dtype
        self.device = b0.device
        self.direct = False
        if len(blocks) == 1 and b0.shape[-2] == 1:  # is the grid the block itself (STFT)?
            probe = torch.randn((1, *b0.shape[-3:]), dtype=b0.dtype, device=b0.device)
            with torch.no_grad():
                view = transform.grid([probe])
            self.direct = view.shape == probe.squeeze(-2).shape and torch.equal(
                view, probe.squeeze(-2)
            )
        if self.direct:
            return
        # One channel per mask: the map acts on every channel alike.
        self._probe = [
            torch.zeros((n_masks, 1, *c.shape[-3:]), dtype=c.dtype, device=c.device) for c in blocks
        ]
        with torch.enable_grad():
            for p in self._probe:
                p.requires_grad_(True)
            self._out = transform.grid(self._probe)  # (M, 1, bins, frames)
            ones = torch.ones_like(self._out)
            norm = torch.autograd.grad(self._out, self._probe, ones, retain_graph=True)
        tiny = torch.finfo(self.dtype).tiny
        self._norm = [z.abs().clamp_min(tiny) for z in norm]

    def __call__(self, masks: Tensor) -> list[Tensor]:
        """Masks (M, bins, frames) on the grid -> {0, 1} masks (M, 1, bins_b, slices, frames_b).

        Each result broadcasts against blocks with a leading mask axis and any channels.
        """
        m = masks.to(device=self.device, dtype=self.dtype)
        if m.shape[0] != self.n_masks:
            raise ValueError(f"expected {self.n_masks} masks, got {m.shape[0]}")
        if self.direct:
            return [m[:, None, :, None, :]]  # the grid is the block itself (STFT)
        cot = m[:, None].to(self._out.dtype).expand_as(self._out)
        with torch.enable_grad():
            weighted = torch.autograd.grad(self._out, self._probe, cot, retain_graph=True)
        # |.|: every grid is demodulated (base band) for both phases; the remaining
        # unit-modulus factors cancel here
        return [
            (w.abs() / z >= 0.5).to(self.dtype) for w, z in zip(weighted, self._norm, strict=True)
        ]


def grid_mask_to_blocks(transform: Transform, blocks: Coefs, mask: Tensor) -> list[Tensor]:
    """One (bins, frames) grid mask as {0, 1} masks (1, bins_b, slices, frames_b) per block.

    See ``GridAdjoint``, which serves many masks for blocks of one shape more cheaply.

    Args:
        transform: the transform that made ``blocks``.
        blocks: complex blocks (channels, bins_b, slices, frames_b) of one signal.
        mask: (bins, frames) real or boolean mask on the grid (shared by every channel).
    """
    return [m[0] for m in GridAdjoint(transform, blocks)(mask[None])]
