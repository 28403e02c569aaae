"""The ``nsgt`` package (0.19, numpy) as a reference sliCQT with the torch one's interface.

Used by the tests (coefficients must agree to 1e-8 in float64) and the benchmark. Three
small additions make nsgt usable here:

1. **numpy-2 shim.** ``nsgt.nsgfwin_sl.nsgfwin`` ends with ``np.clip(M, min_win, np.inf,
   out=M)`` on an *integer* array ``M``; numpy >= 1.26 refuses to cast the float result
   into it. :func:`patch_nsgt` replaces the module-global name ``np`` that
   ``nsgt.nsgfwin_sl`` sees with a proxy of numpy whose ``clip`` computes out of place and
   casts back (same values: M and min_win are integers). Nothing else in numpy or nsgt
   changes, and the patch is idempotent.
2. **Bark and variable-Q log scales** (:class:`BarkScale`, :class:`VQLogScale`): nsgt has
   neither; these follow xumx-sliCQ's definitions (Bark = 6·asinh(f/600); vqlog = log scale
   shifted by gamma Hz with the log scale's Q) and reuse nsgt's numerical Q.
3. :class:`NSGTReference`: numpy in, numpy out, blocks laid out exactly like
   :class:`tfselect.transforms.slicqt.SliCQT` (ragged or rasterize form, local phase).
"""

from __future__ import annotations

import types
import warnings

import numpy as np

from tfselect.errors import SpecError
from tfselect.transforms.filterbank import Block, frames_per_bin, nsg_windows
from tfselect.transforms.scales import bark2hz, centres_and_q, hz2bark
from tfselect.transforms.spec import TransformSpec


class _NumpyClipShim(types.ModuleType):
    """numpy, except that ``clip(..., out=int_array)`` works as it did before numpy 1.26."""

    def __init__(self) -> None:
        super().__init__("numpy")

    def __getattr__(self, name: str):
        return getattr(np, name)

    @staticmethod
    def clip(a, a_min, a_max, out=None, **kw):
        if out is None:
            return np.clip(a, a_min, a_max, **kw)
        out[...] = np.clip(a, a_min, a_max, **kw).astype(out.dtype)
        return out


def patch_nsgt():
    """Import nsgt with the numpy-2 shim applied (see module docstring); returns the package."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "falling back to numpy.fft", missing audio I/O
        import nsgt
        import nsgt.nsgfwin_sl
        import nsgt.slicq
    if not isinstance(nsgt.nsgfwin_sl.np, _NumpyClipShim):
        nsgt.nsgfwin_sl.np = _NumpyClipShim()
    return nsgt


def _scale_base():
    return patch_nsgt().fscale.Scale


class BarkScale(_scale_base()):
    """nsgt Scale with centres equally spaced in Bark (6·asinh(f/600)), Q numerical."""

    def __init__(self, fmin: float, fmax: float, bnds: int) -> None:
        super().__init__(bnds)
        self.bmin = float(hz2bark(fmin))
        self.bbnd = (float(hz2bark(fmax)) - self.bmin) / (bnds - 1)

    def F(self, bnd=None):
        bnd = np.arange(self.bnds) if bnd is None else bnd
        return bark2hz(bnd * self.bbnd + self.bmin)


class VQLogScale(_scale_base()):
    """nsgt Scale: log scale shifted up by gamma Hz, with the log scale's constant Q."""

    def __init__(self, fmin: float, fmax: float, bnds: int, gamma: float = 0.0) -> None:
        super().__init__(bnds)
        lfmin, lfmax = np.log2(fmin), np.log2(fmax)
        self.fmin = 2**lfmin
        self.pow2n = 2 ** ((lfmax - lfmin) / (bnds - 1))
        self.q = np.sqrt(self.pow2n) / (self.pow2n - 1.0) / 2.0
        self.gamma = float(gamma)

    def F(self, bnd=None):
        bnd = np.arange(self.bnds) if bnd is None else bnd
        return self.fmin * self.pow2n**bnd + self.gamma

    def Q(self, bnd=None):
        return self.q


def nsgt_scale(spec: TransformSpec):
    """The nsgt Scale object for a slicqt spec (log, mel, lin native; bark, vqlog here)."""
    fs = patch_nsgt().fscale
    args = (spec.fmin, spec.fmax, spec.bins)
    if spec.scale == "log":
        return fs.LogScale(*args)
    if spec.scale == "mel":
        return fs.MelScale(*args)
    if spec.scale == "lin":
        return fs.LinScale(*args)
    if spec.scale == "bark":
        return BarkScale(*args)
    return VQLogScale(*args, gamma=spec.gamma or 0.0)


class NSGTReference:
    """nsgt's ``NSGT_sliced`` (real, reducedform=0, multichannel) with tfselect's layout.

    Args:
        spec: a ``slicqt:`` spec with ``phase=local`` and ``form`` ragged or rasterize
            (nsgt's matrixform).
        sample_rate: sampling rate in Hz.
        dtype: numpy float dtype of the windows (float64 for reference accuracy).

    ``forward(x)``: x (channels, samples) ndarray -> list of blocks
    (channels, bins_b, slices, frames_b) complex, like ``SliCQT``;
    ``inverse(C, length)`` -> (channels, length).
    """

    def __init__(self, spec: TransformSpec, sample_rate: int, dtype: type = np.float64) -> None:
        if spec.kind != "slicqt":
            raise SpecError(f"transform spec {spec}: the nsgt reference is a slicqt")
        if spec.phase != "local" or spec.form not in ("ragged", "rasterize"):
            raise SpecError(
                f"transform spec {spec}: the nsgt reference supports phase=local and "
                "form=ragged|rasterize only"
            )
        spec = spec.resolved(sample_rate)
        self.spec, self.sample_rate = spec, int(sample_rate)
        nsgt = patch_nsgt()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "Q-factor too high" for tiny test slices
            self.nsgt = nsgt.NSGT_sliced(
                nsgt_scale(spec), spec.sllen, spec.trlen, sample_rate, real=True,
                matrixform=spec.form == "rasterize", reducedform=0, multichannel=True,
                dtype=dtype,
            )  # fmt: skip
        f, q = centres_and_q(spec.scale, spec.fmin, spec.fmax, spec.bins, spec.gamma or 0.0)
        w = nsg_windows(f, q, sample_rate, spec.sllen)
        F = frames_per_bin(w, spec.form)[: w.n_real]
        if spec.form == "rasterize":
            self.blocks = (Block(0, w.n_real, int(F[0])),)
        else:
            edges = [0] + [k for k in range(1, len(F)) if F[k] != F[k - 1]] + [len(F)]
            pairs = zip(edges[:-1], edges[1:], strict=True)
            self.blocks = tuple(Block(a, b - a, int(F[a])) for a, b in pairs)

    def forward(self, x: np.ndarray) -> list[np.ndarray]:
        """(channels, samples) -> blocks (channels, bins_b, slices, frames_b)."""
        x = np.atleast_2d(np.asarray(x, dtype=np.float64))
        slices = list(self.nsgt.forward([x]))  # [slice][channel][bin] -> (frames,)
        out = []
        for b in self.blocks:
            arr = np.array(
                [[[sl[c][k] for sl in slices] for k in range(b.start, b.start + b.bins)]
                 for c in range(x.shape[0])]
            )  # fmt: skip
            out.append(arr)
        return out

    def inverse(self, C: list[np.ndarray], length: int) -> np.ndarray:
        """Blocks -> (channels, length)."""
        chans, S = C[0].shape[0], C[0].shape[-2]
        cseq = [
            [[blk[c, k, s] for blk in C for k in range(blk.shape[1])] for c in range(chans)]
            for s in range(S)
        ]
        sig = np.concatenate(list(self.nsgt.backward(cseq)), axis=-1)
        return sig[:, : int(length)]
