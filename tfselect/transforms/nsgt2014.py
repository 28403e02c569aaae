"""Non-sliced NSGT with essentia's constant-Q design (the 2014 form), in torch.

This is the transform of Schörkhuber, Klapuri, Holighaus & Dörfler (2014) as essentia's
``NSGConstantQ`` / ``NSGIConstantQ`` build it: the whole signal is one frame, every frequency
channel is a window on the signal's spectrum, and each channel's time coefficients are the
inverse FFT of the windowed spectrum band. Spec kind ``nsgt`` (fields fmin, fmax, bpo, gamma,
rasterize, phase; see :mod:`tfselect.transforms.spec`).

The filterbank design is essentia's, replicated in :mod:`.cq_design`.

Phase: ``local`` puts offset ``k`` from the channel centre at FFT index ``k mod M`` (each
channel demodulated to baseband); ``global`` puts it at ``(k + position) mod M`` — essentia's
circular shift, which keeps the absolute frequency in the phase (consistent across channels).

Analysis ``c_j = ifft_M(place(X[pos_j + k]·g_j(k)))`` with ``X = fft(x)`` and numpy's ifft
normalisation (this equals essentia's coefficients). Synthesis uses the canonical dual frame
of the real-signal frame: the constant-Q channels have implicit mirror channels (conjugate
coefficients) at negative frequencies, ``S[m] = Σ g²`` over all of them plus DC and Nyquist,
dual windows ``g/S``; the output is the real part of the inverse FFT, exact to rounding.

Differences from essentia, on purpose:

- essentia's DC band reads the negative-frequency half of its window as ``X[|k|]`` (the C++
  takes ``abs()`` of a negative index) instead of ``X[N−|k|] = conj(X[|k|])``; here the DC band
  is the true low-pass band (real-valued for real input). Both agree on its non-negative
  frequencies, which is all essentia's inverse uses.
- when the top bin is dropped essentia forgets to drop its bandwidth, so every window above
  shifts by one (and it usually fails with "non painless frame"); here the design stays aligned.
- the inverse is the exact canonical dual (no ``eps`` in the frame diagonal), so float64
  reconstructs to ~300 dB instead of essentia's ~125 dB (float32).

Coefficient blocks (the :mod:`tfselect.transforms.base` contract, ``slices == 1``): block 0 is
the DC band (1 bin), then the constant-Q channels grouped into contiguous runs of equal frame
count (one block with ``rasterize=full``), and the last block is the Nyquist band (1 bin).
:meth:`NSGT2014.frequencies` lists 0, the constant-Q centres and ``sr/2`` in that order.
Odd lengths are handled as essentia does: the last sample is repeated to make the length even,
and the inverse drops it again.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from tfselect.errors import SpecError, TfselectError

from .base import Coefs, Transform
from .cq_design import (
    MIN_WINDOW,
    NORMALIZE,
    PHASES,
    RASTERIZE,
    CQDesign,
    cq_centres,
    essentia_cq_design,
)


def _offsets(size: int) -> np.ndarray:
    """Offsets ``k`` (bins from the centre) covered by a window of ``size`` bins."""
    return np.arange(-(size // 2), -(-size // 2))


def _blocks(frames: np.ndarray) -> list[list[int]]:
    """Channel indices per block: DC alone, CQ runs of equal frame count, Nyquist alone."""
    nb = len(frames) - 2
    out: list[list[int]] = [[0]]
    for j in range(1, nb + 1):
        if len(out) > 1 and frames[out[-1][-1]] == frames[j]:
            out[-1].append(j)
        else:
            out.append([j])
    out.append([nb + 1])
    return out


@dataclass
class _Block:
    """Index and window tensors of one block of channels sharing a frame count ``M``.

    ``src[c, m]``: spectrum bin feeding coefficient-spectrum index ``m`` of channel ``c``
    (``n`` = none: points at a zero slot); ``win``/``dual`` the analysis/dual window there;
    ``mirror``/``dual_mirror`` the same for the implicit negative-frequency mirror channel
    (constant-Q blocks only); ``koff`` the offset ``k`` from the centre (0 where unused).
    """

    channels: list[int]
    frames: int
    src: Tensor
    win: Tensor
    dual: Tensor
    mirror: Tensor | None
    dual_mirror: Tensor | None
    koff: Tensor
    valid: Tensor


@functools.lru_cache(maxsize=32)
def _filterbank(
    params: tuple, length: int, dtype: torch.dtype, device: torch.device
) -> tuple[CQDesign, list[_Block]]:
    """Design plus gather/scatter tensors, cached per (spec, rate, length, dtype, device)."""
    fmin, fmax, bpo, gamma, sample_rate, rasterize, phase, normalize = params
    d = essentia_cq_design(fmin, fmax, bpo, gamma, sample_rate, length, rasterize, normalize)
    n, nb = d.n, d.bins
    # frame-operator diagonal over the full spectrum: DC, CQ, Nyquist and the CQ mirrors
    diag = np.zeros(n)
    for j in range(nb + 2):
        k = _offsets(len(d.windows[j]))
        g2 = d.windows[j][k % len(d.windows[j])] ** 2
        np.add.at(diag, (d.positions[j] + k) % n, g2)
        if 1 <= j <= nb:
            np.add.at(diag, (-(d.positions[j] + k)) % n, g2)
    if diag.min() <= 1e-10 * diag.max():
        m = int(np.argmin(diag))
        raise SpecError(
            f"nsgt: the filterbank leaves {min(m, n - m) * d.sample_rate / n:.1f} Hz uncovered "
            f"for a {length}-sample signal (signal too short for this range): use a longer "
            f"signal or a wider range"
        )
    blocks = []
    for chans in _blocks(d.frames):
        m_frames = int(d.frames[chans[0]])
        src = np.full((len(chans), m_frames), n, dtype=np.int64)
        win = np.zeros((len(chans), m_frames))
        koff = np.zeros((len(chans), m_frames), dtype=np.int64)
        valid = np.zeros((len(chans), m_frames), dtype=bool)
        for c, j in enumerate(chans):
            w = d.windows[j]
            k = _offsets(len(w))
            shift = d.positions[j] if phase == "global" else 0
            dst = (k + shift) % m_frames  # distinct because M >= window length
            src[c, dst] = (d.positions[j] + k) % n
            win[c, dst] = w[k % len(w)]
            koff[c, dst] = k
            valid[c, dst] = True
        diag_ext = np.append(diag, 1.0)  # the zero slot at index n
        dual = win / diag_ext[src]
        is_cq = 1 <= chans[0] <= nb
        if is_cq:
            mirror = np.where(src == n, n, (n - src) % n)
            dual_mirror = win / diag_ext[mirror]

        def t(a: np.ndarray, real: bool = True) -> Tensor:
            return torch.as_tensor(a, dtype=dtype if real else None, device=device)

        blocks.append(
            _Block(
                channels=list(chans),
                frames=m_frames,
                src=t(src, False),
                win=t(win),
                dual=t(dual),
                mirror=t(mirror, False) if is_cq else None,
                dual_mirror=t(dual_mirror) if is_cq else None,
                koff=t(koff, False),
                valid=t(valid, False),
            )
        )
    return d, blocks


class NSGT2014(Transform):
    """Non-sliced constant-Q NSGT (essentia's design), torch, exact inverse, differentiable.

    Args:
        spec: an ``nsgt`` TransformSpec (attributes fmin, fmax, bpo, gamma, rasterize, phase).
        sample_rate: Hz.
        normalize: essentia's coefficient normalisation, ``none`` (default), ``sine``,
            ``impulse`` (see module doc).

    ``forward(x)``: x (..., channels, samples) float32/float64 on any device ->
    list of complex blocks (..., channels, bins_b, 1, frames_b); block 0 = DC band,
    last block = Nyquist band. Frame counts grow with the signal length (≈ bandwidth in Hz
    × seconds). Autograd flows through both directions.
    """

    def __init__(self, spec, sample_rate: int, normalize: str = "none") -> None:
        super().__init__(spec, sample_rate)
        gamma = float(getattr(spec, "gamma", 0.0) or 0.0)
        rasterize = getattr(spec, "rasterize", None) or "full"
        phase = getattr(spec, "phase", None) or "global"
        if phase not in PHASES:
            raise SpecError(f"transform spec nsgt: field phase={phase}: must be local|global")
        if rasterize not in RASTERIZE:
            raise SpecError(
                f"transform spec nsgt: field rasterize={rasterize}: must be none|full|piecewise"
            )
        if normalize not in NORMALIZE:
            raise SpecError(f"nsgt: normalize={normalize}: must be one of {'|'.join(NORMALIZE)}")
        self.normalize = normalize
        self._params = (
            float(spec.fmin), float(spec.fmax), int(spec.bpo), gamma,
            float(sample_rate), rasterize, phase, normalize,
        )  # fmt: skip
        # validates the range now (bad range -> SpecError at build time, not at first use)
        self._freqs, self._bws, _ = cq_centres(
            float(spec.fmin), float(spec.fmax), int(spec.bpo), gamma, float(sample_rate)
        )

    # ------------------------------------------------------------------ helpers
    @property
    def phase(self) -> str:
        """``local`` or ``global``."""
        return self._params[6]

    @property
    def rasterize(self) -> str:
        """``none``, ``full`` or ``piecewise``."""
        return self._params[5]

    def design(self, length: int) -> CQDesign:
        """The filterbank (positions, windows, frame counts) for a signal of ``length``."""
        p = self._params
        return essentia_cq_design(p[0], p[1], p[2], p[3], p[4], int(length), p[5], p[7])

    def _bank(self, length: int, dtype: torch.dtype, device: torch.device):
        return _filterbank(self._params, int(length), dtype, torch.device(device))

    # ------------------------------------------------------------------ transform
    def forward(self, x: Tensor) -> Coefs:
        """Analyse x (..., channels, samples) into blocks (..., channels, bins_b, 1, frames_b)."""
        if not torch.is_tensor(x) or x.dtype not in (torch.float32, torch.float64):
            raise TfselectError("nsgt: input must be a float32 or float64 torch tensor")
        if x.dim() < 2:
            raise TfselectError(
                f"nsgt: input shape {tuple(x.shape)}: need (..., channels, samples)"
            )
        length = x.shape[-1]
        _, blocks = self._bank(length, x.dtype, x.device)
        if length % 2:  # as essentia: repeat the last sample to get an even FFT size
            x = torch.cat([x, x[..., -1:]], dim=-1)
        spec = torch.fft.fft(x, dim=-1)
        spec = torch.cat([spec, spec.new_zeros(spec.shape[:-1] + (1,))], dim=-1)  # zero slot
        out = []
        for b in blocks:
            band = spec.index_select(-1, b.src.reshape(-1)).unflatten(-1, tuple(b.src.shape))
            coef = torch.fft.ifft(band * b.win, dim=-1)
            out.append(coef.unsqueeze(-2))  # slices == 1
        return out

    def inverse(self, C: Coefs, length: int) -> Tensor:
        """Synthesise (..., channels, length) real samples from blocks made by ``forward``."""
        if not C:
            raise TfselectError("nsgt: no coefficient blocks to invert")
        cdtype = C[0].dtype
        rdtype = torch.float64 if cdtype == torch.complex128 else torch.float32
        d, blocks = self._bank(length, rdtype, C[0].device)
        shapes = [tuple(c.shape[-3:]) for c in C]
        want = [(len(b.channels), 1, b.frames) for b in blocks]
        if shapes != want:
            raise TfselectError(
                f"nsgt: coefficient blocks {shapes} do not match a {length}-sample signal "
                f"(expected {want})"
            )
        n = d.n
        lead = C[0].shape[:-3]
        acc = torch.zeros(lead + (n + 1,), dtype=cdtype, device=C[0].device)
        for b, c in zip(blocks, C, strict=True):
            band = torch.fft.fft(c.squeeze(-2), dim=-1)  # (..., bins_b, frames_b)
            acc = acc.index_add(-1, b.src.reshape(-1), (band * b.dual).flatten(-2))
            if b.mirror is not None:  # implicit conjugate channels at negative frequencies
                acc = acc.index_add(
                    -1, b.mirror.reshape(-1), (band.conj() * b.dual_mirror).flatten(-2)
                )
        y = torch.fft.ifft(acc[..., :n], dim=-1).real
        return y[..., :length]

    # ------------------------------------------------------------------ views
    def frequencies(self) -> np.ndarray:
        """Centre frequencies (Hz) of all bins in block order: 0, constant-Q centres, sr/2."""
        return np.concatenate([[0.0], self._freqs.astype(np.float64), [self.sample_rate / 2]])

    def infer_length(self, C: Coefs) -> int:
        """The even design length consistent with the block shapes of ``C`` (smallest match).

        Frame counts are integer functions of the length, so several lengths (a few samples
        apart) can give the same shapes; they differ by at most one FFT bin in channel
        positions, which only matters for exact phase, not for display or ridge analysis.
        """
        frames = tuple(int(c.shape[-1]) for c in C)
        # the Nyquist band (last block) is never rasterized: its frame count M is its window
        # length int(bw·N/sr + 0.5) made even, bw = sr - 2·f_top, which pins N to a short range
        sr = self.sample_rate
        bw = float(np.float32(sr) - np.float32(2) * self._freqs[-1])
        m_nf = frames[-1]
        lo = 2 if m_nf <= MIN_WINDOW else int((m_nf - 1.5) * sr / bw) - 4
        hi = int((m_nf + 0.5) * sr / bw) + 4
        for n in range(max(2, lo) & ~1, hi + 2, 2):
            d = self.design(n)
            if tuple(int(d.frames[b[0]]) for b in _blocks(d.frames)) == frames:
                return n
        raise TfselectError(
            "nsgt: cannot infer the signal length from the coefficient shapes; pass length="
        )

    def grid(self, C: Coefs, length: int | None = None) -> Tensor:
        """All bins on the finest constant-Q time grid: (..., channels, bins, frames).

        Every channel is resampled exactly (band-limited: its band is re-placed on a
        ``T``-point FFT grid, folding where the band is wider than ``T``, i.e. sampling) onto
        ``T`` = the largest constant-Q frame count, evenly spread over the signal. Not
        invertible. ``length`` (the signal length) is inferred from the shapes when omitted.
        """
        cdtype = C[0].dtype
        rdtype = torch.float64 if cdtype == torch.complex128 else torch.float32
        n = int(length) if length is not None else self.infer_length(C)
        d, blocks = self._bank(n, rdtype, C[0].device)
        t_frames = max(b.frames for b in blocks[1:-1])
        rows = []
        for b, c in zip(blocks, C, strict=True):
            band = torch.fft.fft(c.squeeze(-2), dim=-1)  # (..., nch, M)
            nch = len(b.channels)
            # Base-band placement for both phases: a global-phase row then differs from the
            # local one by a unit-modulus carrier only, so |grid| is the same and the grid
            # stays demodulated (as SliCQT.grid), which the ridge masks' adjoint relies on.
            dst = torch.where(b.valid, b.koff % t_frames, t_frames)
            dst = dst + torch.arange(nch, device=c.device).unsqueeze(-1) * (t_frames + 1)
            buf = band.new_zeros(band.shape[:-2] + (nch * (t_frames + 1),))
            buf = buf.index_add(-1, dst.reshape(-1), band.flatten(-2))
            buf = buf.unflatten(-1, (nch, t_frames + 1))[..., :t_frames]
            rows.append(torch.fft.ifft(buf, dim=-1) * (t_frames / b.frames))
        return torch.cat(rows, dim=-2)

    def frame_rate(self, length: int | None = None) -> float:
        """Frames per second of :meth:`grid`.

        The non-sliced transform's frame count is proportional to the signal length, so the
        exact rate needs ``length``; without it this returns the nominal rate, the finest
        constant-Q channel's bandwidth in Hz (exact up to the integer rounding of frame
        counts for ``none``/``full``; ``piecewise`` rounds frame counts up, by < 2×).
        """
        if length is None:
            return float(self._bws[-1])
        d = self.design(int(length))
        return float(max(d.frames[1:-1])) * self.sample_rate / d.n
