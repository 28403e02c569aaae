"""Signal-to-distortion ratios of estimated waveforms against the true stem.

Conventions (docs/design.md, Metrics):

- ``fast_sdr``: the global SDR of the MDX challenge, ``10·log10(Σ s² / Σ (s − ŝ)²)`` over all
  channels and samples. Cheap and deterministic: what searches use.
- ``museval_sdr``: BSSEval v4 through museval (median over 1-s frames). Slow (it solves a
  projection per frame), so it is an option for final evaluation, not the default.
- ``usdr``: the Music Demixing Challenge's whole-track SDR (with its 1e-7 floor), numpy.
- ``si_sdr``: scale-invariant SDR, numpy.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor


def fast_sdr(reference: Tensor, estimate: Tensor) -> Tensor:
    """Global SDR in dB of ``estimate`` against ``reference``.

    Args:
        reference: true signal, shape (..., channels, samples).
        estimate: estimated signal, same shape (broadcastable).

    Returns:
        SDR in dB, shape (...): the sums run over channels and samples. Accumulated in float64.
        A tiny floor (the smallest normal float64) keeps a perfect estimate finite (about
        +3000 dB) and an all-zero reference at a finite, very negative value instead of NaN;
        silent references are meant to be skipped before calling this.
    """
    ref = reference.to(torch.float64)
    err = ref - estimate  # promoted to float64
    tiny = torch.finfo(torch.float64).tiny
    num = ref.square().sum(dim=(-2, -1)) + tiny
    den = err.square().sum(dim=(-2, -1)) + tiny
    return 10.0 * (torch.log10(num) - torch.log10(den))  # the ratio itself could overflow


def museval_sdr(reference: Tensor, estimate: Tensor, sample_rate: int = 44100) -> float:
    """BSSEval v4 SDR in dB (museval): median over 1-s frames of one source.

    Args:
        reference: true signal, shape (channels, samples).
        estimate: estimated signal, shape (channels, samples).
        sample_rate: frames are one second long (``sample_rate`` samples), hop one second.

    Returns:
        The median over frames of the framewise SDR, ignoring frames where the reference is
        silent (museval returns NaN there); NaN only if every frame is silent.
    """
    import museval  # lazy: museval is slow to import and only needed for this option

    ref = reference.detach().cpu().double().numpy().T[None]  # (1, samples, channels)
    if not ref.any():  # museval raises on an all-zero reference instead of giving NaN frames
        return math.nan
    est = estimate.detach().cpu().double().numpy().T[None]
    # museval's defaults are BSSEval v4 with padding (the only mode the toolkit uses)
    sdr, _isr, _sir, _sar = museval.evaluate(ref, est, win=sample_rate, hop=sample_rate)
    frames = sdr[0]
    frames = frames[np.isfinite(frames)]
    return float(np.median(frames)) if frames.size else math.nan


def usdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """The Music Demixing Challenge's "utterance" SDR in dB of one source over a whole track.

    ``10·log10((Σ s² + 1e-7) / (Σ (s − ŝ)² + 1e-7))`` with the sums over both channels and
    every sample of (channels, samples) arrays, accumulated in float64. The 1e-7 is the
    challenge's own: it keeps a silent reference finite (then the score says how quiet the
    estimate is), so this one is defined on every track.
    """
    s = np.asarray(reference, dtype=np.float64)
    err = s - np.asarray(estimate, dtype=np.float64)
    return float(10.0 * np.log10((np.sum(s * s) + 1e-7) / (np.sum(err * err) + 1e-7)))


def si_sdr(reference: np.ndarray, estimate: np.ndarray) -> float:
    """Scale-invariant SDR in dB (Le Roux et al. 2019) of (channels, samples) arrays.

    The estimate is projected on the reference (one scale over both channels, as both
    channels of a stem share a gain): ``α = <ŝ, s>/‖s‖²``, then ``10·log10(‖αs‖²/‖αs − ŝ‖²)``.
    NaN for a silent reference (the projection is undefined there).
    """
    s = np.asarray(reference, dtype=np.float64).ravel()
    e = np.asarray(estimate, dtype=np.float64).ravel()
    energy = float(s @ s)
    if energy == 0.0:
        return math.nan
    target = (float(e @ s) / energy) * s
    noise = target - e
    tiny = np.finfo(np.float64).tiny
    return float(10.0 * (np.log10(target @ target + tiny) - np.log10(noise @ noise + tiny)))
