"""The sliCQT in torch: vectorised, batched, differentiable, exactly invertible.

Forward, for ``x`` (..., channels, samples)::

    pad by sllen/2 in front      -> cut slices of sllen, hop sllen/2 (a strided view)
    × Tukey slice window         -> rfft per slice (one batched call)
    per block: gather the window's half-spectrum samples straight into
               (B, bins, slices, frames) by advanced indexing, × window (real pairs, which
               also conjugates samples that lie above Nyquist), inverse FFT of length frames

and the inverse does the adjoint steps with the dual windows: per block FFT, × dual window,
one ``index_add_`` into the half spectrum of every slice (the dual table folds in the
conjugate-mirrored negative-frequency channels, exactly as nsgt's real inverse), then irfft
per slice and overlap-add. The only Python loop is over blocks; the tables are computed once
per (spec, sample rate) by :mod:`.filterbank` and cast per call to the input's dtype/device.

The coefficients equal ``nsgt.NSGT_sliced(scale, sllen, trlen, fs, real=True,
reducedform=0, matrixform=(form == "rasterize"), multichannel=True)`` (local phase), see
:mod:`.filterbank` for the window design. Bins include DC (first) and Nyquist (last).

Forms (all exactly invertible):

- ``ragged``: one block per run of bins with the same frames per slice, shape
  (..., channels, bins_b, slices, frames_b).
- ``zeropad``: the ragged blocks zero-padded on the frame axis to the longest and
  concatenated: one block (..., channels, bins, slices, frames_max). The padding is ignored
  by the inverse.
- ``rasterize``: every bin computed with ``frames_max`` frames (zero padding in frequency =
  band-limited interpolation in time; nsgt's ``matrixform``): one block.
- ``piecewise``: each bin's frame count raised to the power-of-two fraction
  ``frames_max / 2^p`` it fits in (``frames_max`` rounded up so that all fractions are even
  integers); one block per run, roughly one per octave on log scales.

Phase: ``local`` (2012; every window's spectrum segment is centred at 0 before the inverse
FFT, coefficients are base-band) or ``global`` (2014; the segment keeps its absolute
position, coefficients carry their carrier: ``c_global = c_local·(-1)^(tp/2)·e^{2πi·tp·n/F}``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch
import torch.nn.functional as Fn
from torch import Tensor

from .base import Coefs, Transform
from .filterbank import Block, design, n_slices
from .spec import TransformSpec

#: Run the per-block loops single-threaded on the CPU. Each block is a handful of small
#: batched ops; with several intra-op threads every one of them is a parallel region, and
#: when the cores are shared (a search running trials in parallel) the thread barriers cost
#: far more than the work: Bark-262, 30 s stereo, 2 threads on a busy 2-core machine took
#: 1.75 s per forward+inverse, 0.30 s with this on. The big slice FFTs keep all threads.
SINGLE_THREAD_BLOCKS = True


@contextmanager
def _block_threads(device: torch.device) -> Iterator[None]:
    n = torch.get_num_threads()
    if not SINGLE_THREAD_BLOCKS or device.type != "cpu" or n == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(n)


class SliCQT(Transform):
    """Sliced constant-Q(-like) transform with exact inverse.

    Args:
        spec: a ``slicqt:`` spec; missing sllen/trlen are resolved for ``sample_rate``.
        sample_rate: sampling rate in Hz.

    Attributes:
        sllen, trlen: slice and transition length in samples.
        blocks: the ragged blocks (start bin, bins, frames per slice).
        out_blocks: the blocks of the chosen form (what ``forward`` returns).
        frames: frames per slice of every bin (ragged form), shape (bins,).
    """

    def __init__(self, spec: TransformSpec, sample_rate: int) -> None:
        if spec.kind != "slicqt":
            raise ValueError(f"SliCQT needs a slicqt: spec, got {spec}")
        spec = spec.resolved(sample_rate)
        super().__init__(spec, sample_rate)
        d = design(spec, sample_rate)
        lay = d.layout
        self.sllen, self.trlen, self.nn = spec.sllen, spec.trlen, d.windows.nn
        self.form, self.phase = spec.form, spec.phase
        self._freqs = d.windows.freqs.copy()
        self.frames = lay.frames.copy()
        self.blocks: tuple[Block, ...] = lay.blocks
        self.frames_max = int(lay.frames.max())
        if self.form == "zeropad":
            self.out_blocks = (Block(0, len(self._freqs), self.frames_max),)
        else:
            self.out_blocks = lay.blocks
        # flat offsets of every block in the gather/scatter tables
        offs = np.cumsum([0] + [b.bins * b.frames for b in lay.blocks])
        self._offsets = [(int(a), int(b)) for a, b in zip(offs[:-1], offs[1:], strict=True)]

        def buf(name: str, a: np.ndarray) -> None:
            self.register_buffer(name, torch.from_numpy(np.ascontiguousarray(a)), persistent=False)

        buf("slice_window", d.tukey)
        buf("index", lay.index)
        buf("window", lay.window)
        buf("dual", lay.dual)
        # global -> local phase factor per bin and frame, for grid() (display only)
        tp = d.windows.tp[: len(self._freqs)].astype(np.float64)
        self._demod = []
        for b in lay.blocks:
            n = np.arange(b.frames)
            ph = np.exp(-2j * np.pi * np.outer(tp[b.start : b.start + b.bins], n) / b.frames)
            ph *= lay.sign[b.start : b.start + b.bins, None]
            self._demod.append(ph)

    def _apply(self, fn, recurse: bool = True):
        # ``.to(device)`` moves the tables, but ``.float()``/``.half()`` must not round the
        # float64 master windows: each call casts them to the input's dtype itself
        masters = {n: self._buffers[n] for n in ("slice_window", "window", "dual")}
        out = super()._apply(fn, recurse)
        for n, t in masters.items():
            self._buffers[n] = t.to(self._buffers[n].device)
        return out

    # ------------------------------------------------------------------ helpers
    def n_slices(self, length: int) -> int:
        """Number of slices for a signal of ``length`` samples."""
        return n_slices(length, self.sllen)

    def _cast(self, t: Tensor, dtype: torch.dtype, device: torch.device) -> Tensor:
        return t.to(dtype=dtype, device=device)

    # ------------------------------------------------------------------ forward
    def forward(self, x: Tensor) -> Coefs:
        """x (..., channels, samples) float32/64 -> blocks (..., channels, bins_b, slices, F_b).

        Complex64 for float32 input, complex128 for float64.
        """
        if x.dim() < 2:
            raise ValueError(f"expected (..., channels, samples), got shape {tuple(x.shape)}")
        if x.is_complex() or not x.is_floating_point():
            raise ValueError(f"the sliCQT analyses real float signals, got {x.dtype}")
        lead, L = x.shape[:-1], x.shape[-1]
        if L < 1:
            raise ValueError("cannot analyse an empty signal")
        H = self.sllen // 2
        S = self.n_slices(L)
        xs = x.reshape(-1, L)
        # slice s covers samples [(s-1)·H, (s+1)·H) of the signal
        xs = Fn.pad(xs, (H, (S + 1) * H - H - L))
        tukey = self.slice_window.to(device=x.device, dtype=x.dtype)
        slices = xs.unfold(-1, self.sllen, H) * tukey  # (B, S, sllen)
        X = torch.fft.rfft(slices, dim=-1)  # (B, S, nn/2+1)
        srange = torch.arange(S, device=x.device).view(S, 1)
        index = self.index.to(x.device)
        window = self.window.to(device=x.device, dtype=x.dtype)
        blocks = []
        with _block_threads(x.device):
            for b, (a, e) in zip(self.blocks, self._offsets, strict=True):
                # gather straight into (B, bins, S, F): the FFT and the result are contiguous
                Y = X[:, srange, index[a:e].view(b.bins, 1, b.frames)]
                Y = torch.view_as_complex(
                    torch.view_as_real(Y) * window[a:e].view(b.bins, 1, b.frames, 2)
                )
                cb = torch.fft.ifft(Y, dim=-1)
                blocks.append(cb.reshape(*lead, b.bins, S, b.frames))
        if self.form == "zeropad":
            F = self.frames_max
            return [torch.cat([Fn.pad(c, (0, F - c.shape[-1])) for c in blocks], dim=-3)]
        return blocks

    # ------------------------------------------------------------------ inverse
    def _ragged(self, C: Coefs) -> Coefs:
        """Blocks of the chosen form -> the per-block list the tables are laid out in."""
        if len(C) != len(self.out_blocks):
            raise ValueError(f"expected {len(self.out_blocks)} blocks, got {len(C)}")
        for c, b in zip(C, self.out_blocks, strict=True):
            if c.dim() < 4 or c.shape[-3] != b.bins or c.shape[-1] != b.frames:
                raise ValueError(
                    f"block shape {tuple(c.shape)} does not match (…, {b.bins}, slices, {b.frames})"
                )
        if self.form != "zeropad":
            return list(C)
        (c,) = C
        return [c[..., b.start : b.start + b.bins, :, : b.frames] for b in self.blocks]

    def inverse(self, C: Coefs, length: int) -> Tensor:
        """Blocks (as returned by ``forward``) -> signal (..., channels, length), real."""
        blocks = self._ragged(C)
        c0 = blocks[0]
        lead, S = c0.shape[:-3], c0.shape[-2]
        R = self._half_spectra(c0, S)
        with _block_threads(c0.device):
            for i, cb in enumerate(blocks):
                self._add_block(R, i, cb)
        return self._synthesize(R, lead, length)

    def block_inverses(self, parts: list[tuple[int, Tensor]], length: int) -> Tensor:
        """The parts of the inverse that single ragged blocks make: for each ``(block, cb)``,
        ``inverse`` of coefficients that are ``cb`` (..., bins_b, slices, F_b) in block
        ``block`` (of ``self.blocks``) and zero in every other, without transforming the
        zeros. Every ``cb`` has the same leading shape and slices.

        The inverse is linear, so the parts of all blocks sum to ``inverse(C, length)``. A
        part costs its block's FFT and one slice synthesis (irfft and overlap-add, batched
        over the parts): a fraction of a whole inverse. Returns (len(parts), ..., length).
        """
        if not parts:
            raise ValueError("no blocks to invert")
        lead, S = parts[0][1].shape[:-3], parts[0][1].shape[-2]
        for i, cb in parts:
            b = self.blocks[i]
            if cb.shape[:-3] != lead or cb.shape[-3:] != (b.bins, S, b.frames):
                want = (*lead, b.bins, S, b.frames)
                raise ValueError(f"block {i}: shape {tuple(cb.shape)}, expected {want}")
        B = int(np.prod(lead)) if lead else 1
        R = self._half_spectra(parts[0][1].expand(len(parts), *parts[0][1].shape), S)
        with _block_threads(R.device):
            for k, (i, cb) in enumerate(parts):
                self._add_block(R[k * B : (k + 1) * B], i, cb)
        return self._synthesize(R, (len(parts), *lead), length)

    def _half_spectra(self, like: Tensor, S: int) -> Tensor:
        """Zeros (B, S, nn/2+1, 2): the half spectrum of every slice, as real pairs
        (``index_add_`` on real dtypes works everywhere), for coefficients like ``like``."""
        B = int(np.prod(like.shape[:-3])) if like.dim() > 3 else 1
        return torch.zeros(B, S, self.nn // 2 + 1, 2, dtype=like.real.dtype, device=like.device)

    def _add_block(self, R: Tensor, i: int, cb: Tensor) -> None:
        """Add ragged block ``i``'s coefficients ``cb`` to the half spectra ``R``: FFT, ×
        dual window, one ``index_add_`` of all its windows' contributions (the negative-
        frequency mirrors are folded into the dual table)."""
        b, (a, e) = self.blocks[i], self._offsets[i]
        B, S = R.shape[:2]
        dual = self.dual[a:e].to(device=R.device, dtype=R.dtype)
        Fb = torch.fft.fft(cb.reshape(B, b.bins, S, b.frames), dim=-1)
        V = torch.view_as_real(Fb) * dual.view(b.bins, 1, b.frames, 2)
        V = V.transpose(1, 2).reshape(B, S, b.bins * b.frames, 2)
        R.index_add_(2, self.index[a:e].to(R.device), V)

    def _synthesize(self, R: Tensor, lead: tuple[int, ...], length: int) -> Tensor:
        """Half spectra (B, S, nn/2+1, 2) -> signal (*lead, length): irfft of every slice,
        then overlap-add with hop sllen/2 (the Tukey windows sum to one)."""
        B, S = R.shape[:2]
        y = torch.fft.irfft(torch.view_as_complex(R), n=self.nn, dim=-1)  # (B, S, sllen)
        H = self.sllen // 2
        halves = y.view(B, S, 2, H)
        out = y.new_zeros(B, S + 1, H)  # one buffer: the first halves, then the second added
        out[:, :S] = halves[:, :, 0]
        out[:, 1:] += halves[:, :, 1]
        out = out.reshape(B, (S + 1) * H)[:, H : H + int(length)]
        return out.reshape(*lead, int(length))

    # ------------------------------------------------------------------ views and facts
    def frequencies(self) -> np.ndarray:
        """Centre frequency in Hz of every bin: 0 (DC), the scale bins below Nyquist, Nyquist."""
        return self._freqs.copy()

    def frame_rate(self) -> float:
        """Frames per second of :meth:`grid`: ``frames_max`` frames per ``sllen`` samples."""
        return self.frames_max * self.sample_rate / self.sllen

    def grid(self, C: Coefs) -> Tensor:
        """(..., channels, bins, frames) complex on the finest time grid; NOT invertible.

        Adjacent slices are overlap-added (50 % overlap; local-phase coefficients of slices a
        hop apart are phase-coherent because every window centre is an even FFT bin), the
        first half-slice (before t = 0) is dropped, and coarser blocks are linearly
        interpolated onto the ``frames_max`` grid. Frame ``n`` is at ``n / frame_rate()`` s;
        there are ``slices · frames_max / 2`` frames. Global-phase coefficients are
        demodulated to local phase first so that interpolation is meaningful.
        """
        blocks = self._ragged(C)
        S = blocks[0].shape[-2]
        G = S * self.frames_max // 2
        out = []
        for b, cb, ph in zip(self.blocks, blocks, self._demod, strict=True):
            if self.phase == "global":
                cb = cb * torch.from_numpy(ph).to(cb.device, cb.dtype)[:, None, :]
            F = b.frames
            halves = cb.unflatten(-1, (2, F // 2))  # (..., bins, S, 2, F/2)
            first, second = halves[..., 0, :], halves[..., 1, :]
            # frames of slice s start at s·F/2 (its own first half precedes t=0 for s=0)
            z = torch.zeros_like(first[..., :1, :])
            ola = torch.cat([first, z], dim=-2) + torch.cat([z, second], dim=-2)
            ola = ola.flatten(-2)[..., F // 2 : F // 2 + S * F // 2]  # (..., bins, S·F/2)
            if F != self.frames_max:
                pos = torch.arange(G, device=cb.device, dtype=torch.float64) * (F / self.frames_max)
                i0 = pos.floor().long().clamp_max(ola.shape[-1] - 1)
                i1 = (i0 + 1).clamp_max(ola.shape[-1] - 1)
                wgt = (pos - i0).to(ola.real.dtype)
                ola = ola[..., i0] * (1 - wgt) + ola[..., i1] * wgt
            out.append(ola)
        return torch.cat(out, dim=-2)

    def redundancy(self, length: int) -> float:
        """Complex coefficients per sample per channel (closed form, no transform run)."""
        per_slice = sum(b.bins * b.frames for b in self.out_blocks)
        return self.n_slices(length) * per_slice / float(length)

    def extra_repr(self) -> str:
        return f"spec={self.spec}, sample_rate={self.sample_rate}, blocks={len(self.out_blocks)}"
