"""Window design of the sliCQT (numpy float64), cached per (spec, sample rate).

This reproduces the design of the ``nsgt`` package's sliced transform (``nsgfwin_sl``,
``calcwinrange``, ``nsdual``, ``slicing.makewnd``) so that the torch sliCQT and
``nsgt.NSGT_sliced(real=True, reducedform=0)`` compute the same coefficients:

- the spectrum of a slice (length ``nn = sllen``) is covered by ``2·nb+2`` frequency
  *channels*: DC, the ``nb`` scale bins below Nyquist, Nyquist, and the mirrored negative
  frequencies of the ``nb`` scale bins. A real signal only needs DC + bins + Nyquist
  (nsgt's ``reducedform=0``); the negative ones are conjugate mirrors. The transform's
  "bins" are therefore ``nb + 2``: DC and Nyquist are kept so that it is exactly invertible.
  Scale bins at or above Nyquist are dropped (as nsgt does): Bark-262 up to 22050 Hz at
  44.1 kHz has 261 scale bins, so 263 bins in all.
- channel k has a window ``g_k`` of ``M_k`` frequency samples centred at FFT bin ``tp_k``
  (Blackman-Harris; a flat top with Hann flanks for DC and Nyquist), ``M_k`` rounded to a
  multiple of 4 and at least ``min_win = 16``. Its coefficients in one slice are the
  ``M_k``-point inverse FFT of the windowed spectrum segment: ``M_k`` time frames per slice.
- the dual (synthesis) windows are ``gd_k = g_k / x`` with the diagonal frame operator
  ``x = Σ_k F_k·|g_k|²`` (``F_k`` = frames per slice actually used, which the matrix forms
  raise above ``M_k``).

:func:`layout` turns that into flat gather/scatter tables for one coefficient form and phase
convention; the torch engine (:mod:`.slicqt`) only indexes, multiplies and FFTs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from tfselect.errors import SpecError

from .scales import centres_and_q
from .spec import TransformSpec

MIN_WIN = 16  # nsgt.NSGT_sliced default: shortest window (frames per slice)


def hann(n: int) -> np.ndarray:
    """Periodic Hann window centred at index 0 (nsgt's ``hannwin``): shape (n,)."""
    return 0.5 + 0.5 * np.cos(np.arange(n) * (2.0 * np.pi / n))


def blackman_harris(n: int) -> np.ndarray:
    """nsgt's modified Blackman-Harris window, length n, centred at index 0 (fft order)."""
    period = (n // 2) * 2
    k = np.arange(n)
    w = (
        0.35872
        - 0.48832 * np.cos(k * (2 * np.pi / period))
        + 0.14128 * np.cos(k * (4 * np.pi / period))
        - 0.01168 * np.cos(k * (6 * np.pi / period))
    )
    return np.roll(w, n - n // 2)  # peak from index n/2 to index 0


def tukey(sllen: int, trlen: int) -> np.ndarray:
    """Slice window (sllen,): 0, Hann rise of trlen around sllen/4, 1, fall around 3·sllen/4.

    Windows of slices a hop ``sllen/2`` apart sum to exactly 1 (partition of unity), so the
    inverse only overlap-adds the reconstructed slices.
    """
    q, h = sllen // 4, trlen // 2
    w = np.zeros(sllen)
    ramp = 0.5 + 0.5 * np.cos(np.arange(2 * trlen) * (np.pi / trlen)) if trlen else np.ones(0)
    w[q - h : q + h] = ramp[trlen:]  # rising half
    w[q + h : 3 * q - h] = 1.0
    w[3 * q - h : 3 * q + h] = ramp[:trlen]  # falling half
    return w


@dataclass(frozen=True)
class Windows:
    """Analysis windows of all ``2·nb+2`` channels of one slice (nsgt's g, rfbas, M).

    Attributes:
        freqs: (nb+2,) centre frequencies in Hz of the real channels: 0, bins…, Nyquist.
        q: (nb,) Q factors of the scale bins kept.
        g: per channel, the window (M_k,) centred at index 0 (fft order).
        M: (2nb+2,) window lengths = frames per slice of the ragged form.
        tp: (2nb+2,) centre FFT bin of each channel (even integers).
        nn: slice length (FFT size).
    """

    freqs: np.ndarray
    q: np.ndarray
    g: tuple[np.ndarray, ...]
    M: np.ndarray
    tp: np.ndarray
    nn: int

    @property
    def n_real(self) -> int:
        """Channels a real signal needs: DC + bins + Nyquist."""
        return len(self.freqs)


def window_lengths(
    f: np.ndarray, q: np.ndarray, sample_rate: float, sllen: int, min_win: int = MIN_WIN
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(freqs, q, fbas, M)`` of :func:`nsg_windows` without the windows themselves: the
    kept channel frequencies (Hz, DC + bins + Nyquist), their Q, every channel's centre in
    FFT bins and its window length ``M`` (samples, all ``2·nb+2`` channels). O(bins): what
    :func:`estimated_bytes` sizes a design by before building it."""
    nf = sample_rate / 2.0
    keep = (f > 0) & (f < nf)
    f, q = np.asarray(f, float)[keep], np.asarray(q, float)[keep]
    nb = len(f)
    if nb < 2:
        raise SpecError(f"sliCQT needs at least 2 bins strictly between 0 Hz and Nyquist, got {nb}")
    frqs = np.concatenate(([0.0], f, [nf]))
    fbas = np.concatenate((frqs, sample_rate - frqs[-2:0:-1])) * (float(sllen) / sample_rate)
    # bandwidths in FFT bins ("Omega_k"): neighbour distance, Q at the ends, mirrored
    M = np.zeros(fbas.shape)
    M[0] = 2 * fbas[1]
    M[1] = fbas[1] / q[0]
    inner = np.r_[2:nb, nb + 1]
    M[inner] = fbas[inner + 1] - fbas[inner - 1]
    M[nb] = fbas[nb] / q[nb - 1]
    M[nb + 2 :] = M[nb:0:-1]
    M = np.round(M / 4.0).astype(int) * 4
    M = np.maximum(M, min_win)
    return frqs, q, fbas, M


def estimated_bytes(spec: TransformSpec, sample_rate: float) -> int:
    """About how many bytes building the sliCQT ``spec`` (resolved) takes, before any is
    allocated: the analysis windows (float64, every channel) and, for the channels a real
    signal keeps, the gather index (int64), the window and dual tables (float64) and the
    display phase factors (complex128) at the form's frames per slice, plus the same again
    as working copies while they are made (measured: Log-400, 2**20-sample slices,
    rasterized: 0.67 GB of peak memory for an estimate of 0.70 GB)."""
    f, q = centres_and_q(spec.scale, spec.fmin, spec.fmax, spec.bins, spec.gamma or 0.0)
    frqs, _, _, M = window_lengths(f, q, sample_rate, int(spec.sllen))
    n_real = len(frqs)
    mmax = int(M.max())
    frames = {"rasterize": mmax * n_real, "zeropad": mmax * n_real}.get(
        spec.form, int(M[:n_real].sum()) * (2 if spec.form == "piecewise" else 1))
    return int(2 * (8 * int(M.sum()) + 48 * frames))


def nsg_windows(
    f: np.ndarray, q: np.ndarray, sample_rate: float, sllen: int, min_win: int = MIN_WIN
) -> Windows:
    """Design the sliced NSG windows for centres ``f`` (Hz) and Q ``q`` (nsgt's ``nsgfwin``).

    Bins at or above Nyquist (and at or below 0 Hz) are dropped.
    """
    frqs, q, fbas, M = window_lengths(f, q, sample_rate, sllen, min_win)
    nb = len(frqs) - 2
    g = [blackman_harris(int(m)) for m in M]
    # DC and Nyquist: flat top, Hann flanks as wide as their neighbour's window
    for kk in (1, nb + 2):
        if M[kk - 1] > M[kk]:
            w = np.ones(M[kk - 1])
            a = M[kk - 1] // 2 - M[kk] // 2
            w[a : a + M[kk]] = hann(int(M[kk]))
            g[kk - 1] = w
    tp = np.round(fbas / 2.0).astype(int) * 2
    return Windows(frqs, q, tuple(g), M, tp, int(sllen))


def _offsets(Lg: int) -> np.ndarray:
    """Frequency offset from the centre of each sample of a window of length Lg (fft order).

    Sample i of a window centred at index 0 sits i bins above the centre for
    i < (Lg+1)//2 and Lg - i bins below it otherwise: [0, 1, …, -2, -1].
    """
    i = np.arange(Lg)
    return np.where(i < (Lg + 1) // 2, i, i - Lg)


def dual_windows(w: Windows, frames: np.ndarray) -> list[np.ndarray]:
    """Canonical dual windows ``g_k / Σ_l frames_l |g_l|²`` (nsgt's ``nsdual``), all channels.

    ``frames`` (2nb+2,) are the frames per slice each channel's coefficients have. Returns
    windows in the same fft order as ``w.g``.
    """
    x = np.zeros(w.nn)
    for gk, fk, tk in zip(w.g, frames, w.tp, strict=True):
        np.add.at(x, (tk + _offsets(len(gk))) % w.nn, fk * gk**2)
    return [gk / x[(tk + _offsets(len(gk))) % w.nn] for gk, tk in zip(w.g, w.tp, strict=True)]


@dataclass(frozen=True)
class Block:
    """Contiguous real channels (bins) with the same number of frames per slice."""

    start: int  # first bin (0 = DC)
    bins: int
    frames: int


@dataclass(frozen=True)
class Layout:
    """Flat gather/scatter tables of one form and phase on the half spectrum of a slice.

    Entry ``off_b + r·frames_b + m`` belongs to block b, row (bin) r, frame position m.
    A real slice has spectrum ``X[0 … nn/2]`` (rfft); the windows also reach negative
    frequencies (``X[nn-q] = conj X[q]``), so every table entry reads/writes the folded bin
    ``index`` in [0, nn/2] with *real-view* weights (multiplying real and imaginary part):

    - ``window`` (total, 2): analysis ``(g, g)`` or ``(g, −g)`` where the window sample lies
      above Nyquist (conjugation). Unused positions (matrix-form gaps) have weight 0.
    - ``dual`` (total, 2): synthesis weights, already times frames_b, that fold the
      conjugate-mirrored negative-frequency channels onto the half spectrum exactly as
      nsgt's real inverse does: ``(d, d)`` below Nyquist, ``(d, −d)`` mirrored from above,
      ``(2d, 0)`` at bins 0 and nn/2 (a channel plus its mirror), and for the DC and Nyquist
      channels, which have no mirror, ``(d, d)`` up to Nyquist and 0 above.
    """

    blocks: tuple[Block, ...]
    frames: np.ndarray  # (nb+2,) frames per slice of every bin
    index: np.ndarray  # (total,) int64, in [0, nn/2]
    window: np.ndarray  # (total, 2)
    dual: np.ndarray  # (total, 2)
    sign: np.ndarray  # (nb+2,) local-phase sign (-1)^(tp/2) folded into window and dual


def frames_per_bin(w: Windows, form: str) -> np.ndarray:
    """Frames per slice of every channel (2nb+2,) for a coefficient form."""
    M = w.M.copy()
    mmax = int(M.max())
    if form == "rasterize":
        return np.full_like(M, mmax)
    if form == "piecewise":
        # each length becomes the power-of-two fraction top/2^p of a common top length that
        # it still fits in; top = mmax rounded up so that every fraction is an even integer
        pmax = int(np.floor(np.log2(mmax / M.min())))
        unit = 2 ** (pmax + 1)
        top = -(-mmax // unit) * unit
        p = np.minimum(np.floor(np.log2(top / M)), pmax).astype(int)
        return top // 2**p
    return M  # ragged, zeropad


def layout(w: Windows, form: str, phase: str) -> Layout:
    """Gather/scatter tables for ``form`` (ragged|zeropad|rasterize|piecewise) and ``phase``.

    Local phase (2012, nsgt): row position ``j mod F`` holds offset j from the centre, and
    the row is multiplied by ``(-1)^(tp/2)`` -- the sign nsgt's alternating slice roll and
    coefficient ``arrange`` leave behind -- so coefficients equal nsgt's exactly.
    Global phase (2014): offset j sits at position ``(tp + j) mod F``, i.e. the segment
    keeps its absolute place in the spectrum and the coefficients carry the carrier phase.
    """
    nreal, nn, half = w.n_real, w.nn, w.nn // 2
    frames = frames_per_bin(w, form)
    gd = dual_windows(w, frames)
    F = frames[:nreal]
    blocks, start = [], 0  # runs of equal frames
    for k in range(1, nreal + 1):
        if k == nreal or F[k] != F[start]:
            blocks.append(Block(start, k - start, int(F[start])))
            start = k
    sign = np.where((w.tp[:nreal] // 2) % 2 == 0, 1.0, -1.0)
    index, window, dual = [], [], []
    for k in range(nreal):
        Fk = int(F[k])
        j = _offsets(len(w.g[k]))  # window sample i sits j[i] bins from the centre
        s = sign[k] if phase == "local" else 1.0
        pos = ((0 if phase == "local" else int(w.tp[k])) + j) % Fk
        p = (w.tp[k] + j) % nn  # FFT bin in the full spectrum [0, nn)
        above = p > half
        g, d = s * w.g[k], s * Fk * gd[k]
        idx = np.zeros(Fk, dtype=np.int64)
        win = np.zeros((Fk, 2))
        dua = np.zeros((Fk, 2))
        idx[pos] = np.where(above, nn - p, p)
        win[pos] = np.stack([g, np.where(above, -g, g)], axis=-1)
        if k in (0, nreal - 1):  # DC, Nyquist: no mirror channel
            dua[pos] = np.where(above, 0.0, d)[:, None]
        else:
            ends = (p == 0) | (p == half)
            dua[pos, 0] = np.where(ends, 2 * d, d)
            dua[pos, 1] = np.where(ends, 0.0, np.where(above, -d, d))
        index.append(idx)
        window.append(win)
        dual.append(dua)
    return Layout(
        tuple(blocks), F.copy(), np.concatenate(index), np.concatenate(window),
        np.concatenate(dual), sign,
    )  # fmt: skip


@dataclass(frozen=True)
class Design:
    """Everything the torch sliCQT needs for one resolved spec and sample rate."""

    spec: TransformSpec
    sample_rate: float
    windows: Windows
    layout: Layout
    tukey: np.ndarray


@lru_cache(maxsize=64)
def _design(spec: TransformSpec, sample_rate: float) -> Design:
    # keyed on the (frozen, hashable) spec itself: equal specs share one design
    f, q = centres_and_q(spec.scale, spec.fmin, spec.fmax, spec.bins, spec.gamma or 0.0)
    w = nsg_windows(f, q, sample_rate, spec.sllen)
    if int(w.M.max()) > spec.sllen:
        raise SpecError(
            f"transform spec {spec}: field bins={spec.bins}: too few bins for "
            f"{spec.fmin:g}-{spec.fmax:g} Hz (a window spans {int(w.M.max())} > sllen="
            f"{spec.sllen} FFT bins); use more bins or a longer sllen"
        )
    lay = layout(w, spec.form, spec.phase)
    return Design(spec, float(sample_rate), w, lay, tukey(spec.sllen, spec.trlen))


def design(spec: TransformSpec, sample_rate: float) -> Design:
    """The (cached) design of a slicqt spec at ``sample_rate``; resolves sllen/trlen first."""
    return _design(spec.resolved(sample_rate), float(sample_rate))


def n_slices(length: int, sllen: int) -> int:
    """Number of slices nsgt produces for a signal of ``length`` samples.

    The signal is cut into quarter-slices (hop/2 = sllen/4, last one zero-padded), two
    zero quarters are put in front and three behind; slices are 4 quarters, 2 apart.
    """
    quarters = -(-int(length) // (sllen // 4))
    return (quarters + 1) // 2 + 1

