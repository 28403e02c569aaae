"""Frequency scales of the sliCQT: centre frequency and Q factor of every bin.

Each scale maps a bin index ``b = 0 … bins-1`` to a centre frequency ``F(b)`` in Hz and a
Q factor ``Q(b) = F(b) / (2·dF/db)`` (the convention of the ``nsgt`` package: the window
bandwidth in Hz is ``F/Q`` and neighbouring windows overlap by half).

- ``log``   constant-Q: ``F(b) = fmin·2^(b·d)``, ``d = log2(fmax/fmin)/(bins-1)`` octaves per bin.
- ``vqlog`` variable-Q (xumx-sliCQ): the log scale shifted up by ``gamma`` Hz with the Q of the
  log scale, so low bins get wider windows (better time resolution) than constant-Q ones.
  Its first centre is ``fmin + gamma``; centres at or above Nyquist are dropped by the design.
- ``mel``   equally spaced in mel (``2595·log10(1 + f/700)``).
- ``bark``  equally spaced in Bark (``6·asinh(f/600)``, Traunmüller/Wang), as in xumx-sliCQ.
- ``lin``   equally spaced in Hz, ``Q = F/(2·Δf)``.

The formulas (including the numerical derivative nsgt uses for the Q of mel and Bark, with
step ``1e-8`` bins) reproduce ``nsgt.fscale`` bit for bit where nsgt has the scale, so the
torch sliCQT and the nsgt reference build identical windows. Everything is numpy float64.
"""

from __future__ import annotations

import numpy as np

SCALES = ("log", "mel", "bark", "vqlog", "lin")

# step of nsgt's numerical differentiation of F (fscale.Scale.dbnd)
_DBND = 1e-8


def hz2mel(f: np.ndarray | float) -> np.ndarray | float:
    """Hz to mel (O'Shaughnessy / Slaney HTK form used by nsgt)."""
    return np.log10(np.asarray(f, dtype=np.float64) / 700.0 + 1.0) * 2595.0


def mel2hz(m: np.ndarray | float) -> np.ndarray | float:
    """Mel to Hz, inverse of :func:`hz2mel`."""
    return (np.power(10.0, np.asarray(m, dtype=np.float64) / 2595.0) - 1.0) * 700.0


def hz2bark(f: np.ndarray | float) -> np.ndarray | float:
    """Hz to Bark, ``6·asinh(f/600)`` (the definition xumx-sliCQ uses)."""
    return 6.0 * np.arcsinh(np.asarray(f, dtype=np.float64) / 600.0)


def bark2hz(b: np.ndarray | float) -> np.ndarray | float:
    """Bark to Hz, inverse of :func:`hz2bark`."""
    return 600.0 * np.sinh(np.asarray(b, dtype=np.float64) / 6.0)


def _centre_function(scale: str, fmin: float, fmax: float, bins: int, gamma: float):
    """Return ``F(b)`` (vectorised over float bin indices) and a closed-form Q or None."""
    if scale in ("log", "vqlog"):
        lfmin, lfmax = np.log2(fmin), np.log2(fmax)
        pow2n = 2.0 ** ((lfmax - lfmin) / (bins - 1))
        f0 = 2.0**lfmin
        q = np.sqrt(pow2n) / (pow2n - 1.0) / 2.0
        shift = gamma if scale == "vqlog" else 0.0
        return (lambda b: f0 * pow2n**b + shift), q
    if scale == "lin":
        df = (fmax - fmin) / (bins - 1)
        return (lambda b: b * df + fmin), None
    if scale == "mel":
        mmin, mmax = hz2mel(fmin), hz2mel(fmax)
        step = (mmax - mmin) / (bins - 1)
        return (lambda b: mel2hz(b * step + mmin)), None
    if scale == "bark":
        bmin, bmax = hz2bark(fmin), hz2bark(fmax)
        step = (bmax - bmin) / (bins - 1)
        return (lambda b: bark2hz(b * step + bmin)), None
    raise ValueError(f"unknown scale {scale!r}")


def centres_and_q(
    scale: str, fmin: float, fmax: float, bins: int, gamma: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """Centre frequencies (Hz) and Q factors of a scale, both shape (bins,), float64.

    Args:
        scale: one of :data:`SCALES`.
        fmin, fmax: first and last centre frequency in Hz (``vqlog`` adds ``gamma`` to both).
        bins: number of bins, >= 2.
        gamma: variable-Q offset in Hz (``vqlog`` only; ignored otherwise).
    """
    if bins < 2:
        raise ValueError("a scale needs at least 2 bins")
    F, q = _centre_function(scale, float(fmin), float(fmax), int(bins), float(gamma))
    b = np.arange(bins, dtype=np.float64)
    f = np.asarray(F(b), dtype=np.float64)
    if scale == "lin":
        df = (fmax - fmin) / (bins - 1)
        Q = f / (df * 2.0)
    elif q is not None:
        Q = np.full(bins, q, dtype=np.float64)
    else:
        # nsgt's numerical derivative: F·h / (F(b+h) − F(b−h)) = F / (2·F')
        Q = f * _DBND / (F(b + _DBND) - F(b - _DBND))
    return f, np.asarray(Q, dtype=np.float64)


def min_slice_length(f: np.ndarray, q: np.ndarray, sample_rate: float) -> tuple[int, int]:
    """Smallest valid (sllen, trlen) in samples for bins with centres ``f`` and Q ``q``.

    A sliced window must span at least 8 bins of the slice's FFT (nsgt warns "Q-factor too
    high" below that): ``sllen >= max_k 8·fs·q_k/f_k``, rounded up to a multiple of 4.
    ``trlen = sllen/4`` rounded up to even (xumx-sliCQ's suggestion). Only bins below
    Nyquist count: the design drops the others.
    """
    keep = (f > 0) & (f < sample_rate / 2.0)
    if not np.any(keep):
        raise ValueError("no bin lies strictly between 0 Hz and Nyquist")
    sllen = int(np.ceil(np.max(q[keep] * 8.0 * sample_rate / f[keep])))
    sllen += -sllen % 4
    trlen = sllen // 4
    trlen += trlen % 2
    return sllen, trlen
