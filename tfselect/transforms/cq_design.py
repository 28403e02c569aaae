"""essentia's constant-Q filterbank design (``NSGConstantQ``), replicated in numpy.

Used by the torch non-sliced NSGT (:mod:`.nsgt2014`) and the essentia adapter
(:mod:`tfselect.reference.essentia_nsgcq`), so both build the same integers.

Design (read from essentia's ``nsgconstantq.cpp``, replicated in :func:`essentia_cq_design`,
float32 rounding included so positions and lengths are the same integers):

- constant-Q centres ``f_j = fmin·2^(j/bpo)``, ``j = 0 … floor(bpo·log2(fmax/fmin))``,
  bandwidth ``B_j = (2^(1/bpo) − 2^(−1/bpo))·f_j + gamma`` Hz; the top bin is dropped when
  ``f + B/2`` exceeds Nyquist;
- two extra bands: DC (centre 0, width ``2·fmin``) and Nyquist (centre ``sr/2``, width
  ``sr − 2·f_top``), so the frame covers every frequency and is exactly invertible;
- on an FFT grid of ``N`` bins (``N`` = signal length, made even): channel position
  ``floor(f/Δf)``, window length ``max(minimumWindow, int(B/Δf + 0.5))`` bins, window
  ``hannnsgcq`` (a Hann window centred on the channel: ``0.5 + 0.5·cos(2πk/Lg)``); the DC and
  Nyquist windows become flat-top (Tukey-like) when wider than their neighbour, scaled by
  ``1/sqrt(Lg)``;
- time frames per channel ``M_j`` (the FFT size of its band): ``rasterize=none`` the window
  length, ``full`` every constant-Q channel gets the largest one (a true matrix),
  ``piecewise`` power-of-two fractions of a common length per octave; then rounded up to even;
- ``normalize``: ``none`` (essentia's default), ``sine`` (×``2·M_j/N``) or ``impulse``
  (×``2·M_j/Lg_j``) per channel.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from tfselect.errors import SpecError, TfselectError

from .spec import PHASES, RASTERIZE

__all__ = [
    "MIN_WINDOW", "NORMALIZE", "PHASES", "RASTERIZE",
    "CQDesign", "cq_centres", "essentia_cq_design",
]  # fmt: skip

NORMALIZE = ("none", "sine", "impulse")
# essentia's default minimumWindow (bins): shorter windows are widened to this
MIN_WINDOW = 4


@dataclass(frozen=True)
class CQDesign:
    """essentia's constant-Q filterbank on an FFT grid of ``n`` bins (positive side only).

    Channels ``0 … nb+1``: 0 = DC band, ``1 … nb`` constant-Q bins, ``nb+1`` = Nyquist band.

    Attributes:
        n: design length in samples (= FFT size; the signal length rounded up to even).
        sample_rate: Hz.
        freqs: (nb,) constant-Q centre frequencies in Hz (float32 values, as essentia).
        positions: (nb+2,) centre FFT bin of every channel.
        windows: nb+2 arrays; ``windows[j][k mod Lg]`` is the window at offset ``k`` bins from
            the centre, ``k = -(Lg//2) … ceil(Lg/2)-1`` (``Lg = len(windows[j])``).
        frames: (nb+2,) time frames ``M_j`` of every channel (its band's inverse-FFT size).
        popped: whether the top bin was dropped for reaching above Nyquist.
    """

    n: int
    sample_rate: float
    freqs: np.ndarray
    positions: np.ndarray
    windows: tuple[np.ndarray, ...]
    frames: np.ndarray
    popped: bool

    @property
    def bins(self) -> int:
        """Number of constant-Q bins (without DC and Nyquist bands)."""
        return len(self.freqs)


def _check_params(
    fmin: float, fmax: float, bpo: int, gamma: float, sample_rate: float, kind: str
) -> None:
    nyq = sample_rate / 2
    if not (0 < fmin < fmax):
        raise SpecError(
            f"transform spec {kind}: field fmin={fmin:g}: must be in (0, fmax={fmax:g}) Hz"
        )
    if fmax > nyq:
        raise SpecError(
            f"transform spec {kind}: field fmax={fmax:g}: must be <= Nyquist {nyq:g} Hz "
            f"at sample rate {sample_rate:g}"
        )
    if int(bpo) != bpo or bpo < 1:
        raise SpecError(f"transform spec {kind}: field bpo={bpo}: must be an integer >= 1")
    if gamma < 0:
        raise SpecError(f"transform spec {kind}: field gamma={gamma:g}: must be >= 0 Hz")


def cq_centres(
    fmin: float, fmax: float, bpo: int, gamma: float, sample_rate: float, kind: str = "nsgt"
) -> tuple[np.ndarray, np.ndarray, bool]:
    """Constant-Q centres and bandwidths (Hz, float32 like essentia) and whether one was dropped.

    Returns ``(freqs, bandwidths, popped)``; ``freqs`` excludes a top bin whose band
    ``f + B/2`` would exceed Nyquist (``popped`` True then). Raises SpecError for a range
    whose lowest band would reach below 0 Hz.
    """
    _check_params(fmin, fmax, bpo, gamma, sample_rate, kind)
    f32 = np.float32
    fmin_, fmax_, bpo_, gamma_ = f32(fmin), f32(fmax), f32(bpo), f32(gamma)
    nyq = f32(sample_rate) / f32(2)
    inv = float(f32(1) / bpo_)
    q = f32(2.0**inv - 2.0**-inv)
    b = int(np.floor(bpo_ * np.log2(fmax_ / fmin_)))
    expo = np.arange(b + 1, dtype=f32) / bpo_  # float32 j/bpo, as the C++ computes it
    freqs = (float(fmin_) * np.exp2(expo.astype(np.float64))).astype(f32)
    bws = (q * freqs + gamma_).astype(f32)
    if freqs[0] - bws[0] / f32(2) < 0:
        raise SpecError(
            f"transform spec {kind}: field fmin={fmin:g}: the lowest band "
            f"({float(freqs[0]):g} ± {float(bws[0]) / 2:g} Hz) reaches below 0 Hz; raise fmin "
            f"or lower gamma"
        )
    popped = bool(freqs[b] + bws[b] / f32(2) > nyq)
    if popped:
        freqs, bws = freqs[:-1], bws[:-1]
    if len(freqs) == 0:
        raise SpecError(
            f"transform spec {kind}: field fmax={fmax:g}: no constant-Q bin fits below Nyquist"
        )
    return freqs, bws, popped


def _hann_nsgcq(size: int) -> np.ndarray:
    """essentia's ``hannnsgcq`` window: a Hann window whose peak is at index 0 (zero-centred)."""
    return 0.5 + 0.5 * np.cos(2.0 * np.pi * np.arange(size) / size)


@functools.lru_cache(maxsize=64)
def essentia_cq_design(
    fmin: float,
    fmax: float,
    bpo: int,
    gamma: float,
    sample_rate: float,
    length: int,
    rasterize: str = "full",
    normalize: str = "none",
    min_window: int = MIN_WINDOW,
) -> CQDesign:
    """essentia's NSGConstantQ filterbank for a signal of ``length`` samples (see module doc).

    Raises:
        SpecError: a range essentia's design cannot build (below 0 Hz, above Nyquist) or a
            frame that does not cover every frequency bin (signal too short for the range).
    """
    if rasterize not in RASTERIZE:
        raise SpecError(
            f"transform spec nsgt: field rasterize={rasterize}: must be one of "
            f"{'|'.join(RASTERIZE)}"
        )
    if normalize not in NORMALIZE:
        raise SpecError(f"normalize={normalize}: must be one of {'|'.join(NORMALIZE)}")
    if length < 2:
        raise TfselectError(f"nsgt: signal length {length}: needs at least 2 samples")
    f32 = np.float32
    n = int(length) + int(length) % 2  # essentia pads odd signals by one sample
    freqs, bws, popped = cq_centres(fmin, fmax, bpo, gamma, sample_rate)
    nb = len(freqs)
    sr = f32(sample_rate)
    nyq = sr / f32(2)
    fftres = sr / f32(n)
    centres = np.concatenate([[f32(0)], freqs, [nyq]]).astype(f32)
    mirror_top = f32(sr - freqs[-1])  # first negative-frequency centre, as essentia builds it
    bw = np.concatenate([[f32(2) * f32(fmin)], bws, [f32(mirror_top - freqs[-1])]]).astype(f32)
    positions = np.floor(centres / fftres).astype(np.int64)
    lg = ((bw / fftres).astype(f32) + f32(0.5)).astype(np.int64)  # C++ float -> int truncation
    lg = np.maximum(lg, int(min_window))

    windows = [_hann_nsgcq(int(size)) for size in lg]
    # DC and Nyquist bands: flat top with the neighbour's Hann as taper, when wider than it
    for j, nbr in ((0, 1), (nb + 1, nb)):
        if lg[j] > lg[nbr]:
            w = np.ones(int(lg[j]))
            start = int(lg[j]) // 2 - int(lg[nbr]) // 2
            w[start : start + int(lg[nbr])] = windows[nbr]
            windows[j] = w / math.sqrt(float(lg[j]))

    frames = lg.copy()
    if rasterize == "full":
        frames[1 : nb + 1] = frames[nb]
    elif rasterize == "piecewise":
        octs = int(np.ceil(np.log2(f32(fmax) / f32(fmin))))
        temp = math.ceil(frames[nb] / 2.0**octs) * 2.0**octs
        for j in range(1, nb + 1):
            frames[j] = int(temp / 2.0 ** (math.ceil(math.log2(temp / frames[j])) - 1))
    frames = frames + frames % 2  # essentia's FFT needs even sizes

    if normalize == "sine":
        weights = frames * 2.0 / n
    elif normalize == "impulse":
        weights = frames * 2.0 / lg
    else:
        weights = np.ones(nb + 2)
    windows = tuple(w * wt for w, wt in zip(windows, weights, strict=True))

    if np.any(frames < lg):  # cannot happen with an aligned design; kept as a guard
        j = int(np.nonzero(frames < lg)[0][0])
        raise SpecError(
            f"nsgt: channel {j} has {frames[j]} frames for a {lg[j]}-bin window "
            f"(non-painless frame)"
        )
    return CQDesign(
        n=n,
        sample_rate=float(sample_rate),
        freqs=freqs,
        positions=positions,
        windows=windows,
        frames=frames,
        popped=popped,
    )
