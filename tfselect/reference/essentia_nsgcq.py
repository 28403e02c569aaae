"""essentia's ``NSGConstantQ`` / ``NSGIConstantQ`` behind the Transform interface (kind ``nsgcq``).

A reference backend, not a hot path: numpy float32 inside (essentia's ``Real``), a Python loop
over every leading index and channel, no autograd (coefficients are detached copies), CPU only
(results are moved back to the input's device). Use
:class:`~tfselect.transforms.nsgt2014.NSGT2014` (kind ``nsgt``) for the same transform in torch.

The algorithm is non-sliced: its ``inputSize`` is the signal length, so a configured
analysis/synthesis pair is cached per length. Odd lengths are padded by essentia itself
(last sample repeated) and trimmed again by its inverse.

Coefficient blocks (shapes ``(..., channels, bins_b, 1, frames_b)``, complex64 for float32
input and complex128 for float64 input, values computed in float32 either way):

- block 0: essentia's DC band (``constantqdc``), 1 bin;
- then the constant-Q channels (``constantq``), contiguous channels of equal length grouped into
  one block each (a single block with ``rasterize=full``);
- last block: essentia's Nyquist band (``constantqnf``), 1 bin.

:meth:`EssentiaNSGCQ.inverse` hands these three parts back to ``NSGIConstantQ`` unchanged,
so it reconstructs exactly what essentia reconstructs (~120–130 dB SNR in float32).

essentia rejects some ranges: a top bin whose band reaches above Nyquist makes its window
design misaligned ("non painless frame", e.g. 20–22000 Hz at 44.1 kHz), ``gamma`` must be an
integer, and the range must sit inside (0, Nyquist). These are checked up front, and any other
essentia failure is turned into a one-line :class:`~tfselect.errors.SpecError` too.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from tfselect.errors import SpecError, TfselectError
from tfselect.transforms.base import Coefs, Transform
from tfselect.transforms.cq_design import NORMALIZE, PHASES, RASTERIZE, cq_centres
from tfselect.transforms.nsgt2014 import NSGT2014


def _essentia_standard():
    """Import essentia quietly (its INFO logging would flood stdout on every length change)."""
    import essentia
    import essentia.standard as es

    essentia.log.infoActive = False
    essentia.log.warningActive = False
    return es


def _first_line(err: BaseException) -> str:
    lines = [s.strip() for s in str(err).strip().splitlines() if s.strip()]
    return lines[-1] if lines else type(err).__name__


class EssentiaNSGCQ(Transform):
    """essentia's non-sliced constant-Q NSGT (2014 form) as a Transform; see module doc.

    Args:
        spec: an ``nsgcq`` TransformSpec (attributes fmin, fmax, bpo, gamma, rasterize, phase).
        sample_rate: Hz.
        normalize: essentia's ``normalize`` parameter: ``none`` (default), ``sine``, ``impulse``.

    Raises:
        SpecError: for a range essentia cannot build (one line naming field, value, range).
    """

    def __init__(self, spec, sample_rate: int, normalize: str = "none") -> None:
        super().__init__(spec, sample_rate)
        fmin, fmax, bpo = float(spec.fmin), float(spec.fmax), int(spec.bpo)
        gamma = float(getattr(spec, "gamma", 0.0) or 0.0)
        rasterize = getattr(spec, "rasterize", None) or "full"
        phase = getattr(spec, "phase", None) or "global"
        if rasterize not in RASTERIZE:
            raise SpecError(
                f"transform spec nsgcq: field rasterize={rasterize}: must be none|full|piecewise"
            )
        if phase not in PHASES:
            raise SpecError(f"transform spec nsgcq: field phase={phase}: must be local|global")
        if normalize not in NORMALIZE:
            raise SpecError(f"nsgcq: normalize={normalize}: must be one of {'|'.join(NORMALIZE)}")
        if not float(gamma).is_integer():
            raise SpecError(
                f"transform spec nsgcq: field gamma={gamma:g}: essentia takes only whole Hz "
                f"(an integer >= 0); use kind nsgt for fractional gamma"
            )
        freqs, bws, popped = cq_centres(fmin, fmax, bpo, gamma, float(sample_rate), "nsgcq")
        if popped:
            # essentia drops the top bin but not its bandwidth: its windows go out of step
            top = float(freqs[-1]) if len(freqs) else fmin
            raise SpecError(
                f"transform spec nsgcq: field fmax={fmax:g}: the top bin's band reaches above "
                f"Nyquist {sample_rate / 2:g} Hz, which essentia's NSGConstantQ mis-designs "
                f"('non painless frame'); use fmax < {top * 2 ** (1 / bpo):.6g} Hz or kind nsgt"
            )
        self.normalize = normalize
        self._freqs = freqs
        self._params = dict(
            minFrequency=fmin,
            maxFrequency=fmax,
            binsPerOctave=bpo,
            gamma=int(gamma),
            rasterize=rasterize,
            phaseMode=phase,
            normalize=normalize,
            sampleRate=float(sample_rate),
            window="hannnsgcq",
            minimumWindow=4,
            windowSizeFactor=1,
        )
        self._algos: dict[int, tuple] = {}
        # same design and block layout: used for grid() and the expected channel count
        self._twin = NSGT2014(spec, sample_rate, normalize=normalize)

    # ------------------------------------------------------------------ essentia calls
    def _failed(self, err: BaseException) -> SpecError:
        """essentia's exception as a one-line SpecError naming the spec."""
        return SpecError(f"transform spec {self.spec}: essentia: {_first_line(err)}")

    def _pair(self, length: int):
        """(NSGConstantQ, NSGIConstantQ) configured for ``length`` samples, cached."""
        if length not in self._algos:
            es = _essentia_standard()
            try:
                fwd = es.NSGConstantQ(inputSize=length, **self._params)
                inv = es.NSGIConstantQ(inputSize=length, **self._params)
            except RuntimeError as err:
                raise self._failed(err) from err
            self._algos[length] = (fwd, inv)
        return self._algos[length]

    def _layout(self, length: int) -> list[int]:
        """Channels per constant-Q block for ``length`` (same grouping as NSGT2014)."""
        design = self._twin.design(length)
        sizes = design.frames[1:-1]
        runs: list[int] = []
        for j, m in enumerate(sizes):
            if j and m == sizes[j - 1]:
                runs[-1] += 1
            else:
                runs.append(1)
        return runs

    # ------------------------------------------------------------------ transform
    def forward(self, x: Tensor) -> Coefs:
        """Analyse x (..., channels, samples) into blocks; no autograd (a detached copy)."""
        if not torch.is_tensor(x) or x.dtype not in (torch.float32, torch.float64):
            raise TfselectError("nsgcq: input must be a float32 or float64 torch tensor")
        if x.dim() < 2 or x.shape[-1] < 2:
            raise TfselectError(
                f"nsgcq: input shape {tuple(x.shape)}: need (..., channels, samples >= 2)"
            )
        length = int(x.shape[-1])
        fwd, _ = self._pair(length)
        runs = self._layout(length)
        nb = sum(runs)
        flat = x.detach().to("cpu", torch.float32).reshape(-1, length).numpy()
        dc_rows, cq_rows, nf_rows = [], [], []
        for row in flat:
            try:
                cq, dc, nf = fwd(np.ascontiguousarray(row))
            except RuntimeError as err:
                raise self._failed(err) from err
            if len(cq) != nb:  # essentia counted a negative-frequency channel as positive
                raise SpecError(
                    f"transform spec {self.spec}: essentia returned {len(cq)} channels for "
                    f"{nb} bins (its inverse would fail); lower fmax"
                )
            dc_rows.append(np.asarray(dc))
            cq_rows.append([np.asarray(c) for c in cq])
            nf_rows.append(np.asarray(nf))
        ctype = torch.complex128 if x.dtype == torch.float64 else torch.complex64
        lead = tuple(x.shape[:-1])

        def pack(arr: np.ndarray) -> Tensor:  # (rows, bins, frames) -> (..., bins, 1, frames)
            t = torch.from_numpy(arr).to(ctype).reshape(lead + arr.shape[1:])
            return t.unsqueeze(-2).to(x.device)

        out = [pack(np.stack(dc_rows)[:, None, :])]
        start = 0
        for run in runs:
            out.append(pack(np.stack([np.stack(r[start : start + run]) for r in cq_rows])))
            start += run
        out.append(pack(np.stack(nf_rows)[:, None, :]))
        return out

    def inverse(self, C: Coefs, length: int) -> Tensor:
        """essentia's NSGIConstantQ of blocks made by :meth:`forward`: (..., channels, length)."""
        length = int(length)
        _, inv = self._pair(length)
        runs = self._layout(length)
        got = [int(c.shape[-3]) for c in C[1:-1]]
        if len(C) != len(runs) + 2 or got != runs:
            raise TfselectError(
                f"nsgcq: {len(C)} coefficient blocks do not match a {length}-sample signal "
                f"(expected {len(runs) + 2})"
            )
        lead = tuple(C[0].shape[:-3])
        rows = int(np.prod(lead)) if lead else 1
        np_blocks = [
            c.detach().to("cpu", torch.complex64).reshape(rows, c.shape[-3], c.shape[-1]).numpy()
            for c in C
        ]
        out = np.empty((rows, length), dtype=np.float32)
        for i in range(rows):
            # essentia's binding takes one complex64 matrix when all channels have one length,
            # else a list of lists of Python complex numbers (not a list of arrays)
            if len(np_blocks) == 3:
                cq_arg = np.ascontiguousarray(np_blocks[1][i])
            else:
                cq_arg = [ch.tolist() for blk in np_blocks[1:-1] for ch in blk[i]]
            try:
                y = inv(cq_arg, np_blocks[0][i, 0], np_blocks[-1][i, 0])
            except RuntimeError as err:
                raise self._failed(err) from err
            out[i] = np.asarray(y)[:length]
        rtype = torch.float64 if C[0].dtype == torch.complex128 else torch.float32
        return torch.from_numpy(out).to(rtype).reshape(lead + (length,)).to(C[0].device)

    # ------------------------------------------------------------------ views
    def frequencies(self) -> np.ndarray:
        """0 (DC band), the constant-Q centres, sr/2 (Nyquist band), in Hz."""
        return np.concatenate([[0.0], self._freqs.astype(np.float64), [self.sample_rate / 2]])

    def grid(self, C: Coefs, length: int | None = None) -> Tensor:
        """Same view as :meth:`NSGT2014.grid` (identical layout; essentia's DC band quirk aside)."""
        return self._twin.grid(C, length)

    def frame_rate(self, length: int | None = None) -> float:
        """Frames per second of :meth:`grid` (nominal without ``length``; see NSGT2014)."""
        return self._twin.frame_rate(length)
