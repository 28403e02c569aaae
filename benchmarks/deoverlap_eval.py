"""Benchmark: the per-block waveform SNRs of `tfselect deoverlap eval`, against one inverse.

    .venv/bin/python benchmarks/deoverlap_eval.py [--repeats 3] [--seconds 2]
                                                  [--spec slicqt:scale=bark,bins=48,...]

For one signal (stereo noise, float64) and a DeOverlapNet with small random weights it
times, median of ``--repeats`` in this process:

- ``inverse``  the peer: one plain ``SliCQT.inverse`` of the signal's coefficients (every
               block at once), the unit the other two are counted in;
- ``before``   what eval did per signal before: for each of the learned and the split
               slices, a whole inverse per block with the other blocks zero (8 blocks
               batched per call);
- ``now``      ``_block_wave_snrs``: each block's error inverted by itself
               (``SliCQT.block_inverse``), learned and split in one call, a block the net
               leaves to the split once.

Both give the same SNRs (checked). Prints each time and the ratios before/inverse,
now/inverse and before/now. On a shared machine the times move with the load; the ratios,
measured in the same run, move less.
"""

from __future__ import annotations

import argparse
import math

import torch
from _timing import median_time

from tfselect.demix.deoverlap import (
    DeOverlapConfig,
    DeOverlapNet,
    _block_wave_snrs,
    _learned_and_split,
)


def before(T, x: torch.Tensor, C: list, est: list, chunk: int = 8) -> list[float]:
    """The former per-block SNRs of ``est`` (called once for the net, once for the split):
    whole inverses of ``chunk`` blocks at a time, every other block zero."""
    energy = float((x.abs() ** 2).sum())
    out = []
    for first in range(0, len(C), chunk):
        idx = list(range(first, min(first + chunk, len(C))))
        batch = []
        for b, c in enumerate(C):
            z = torch.zeros((len(idx), *c.shape), dtype=c.dtype)
            if b in idx:
                z[idx.index(b)] = est[b] - c
            batch.append(z)
        for e in T.inverse(batch, x.shape[-1]):
            den = float((e**2).sum())
            out.append(math.inf if den == 0 else 10 * math.log10(energy / den))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--spec", default="slicqt:scale=bark,bins=48,fmin=60,fmax=22050")
    ap.add_argument("--seconds", type=float, default=2.0)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--max-frames", type=int, default=64)  # deoverlap train's default
    args = ap.parse_args()
    torch.manual_seed(0)
    net = DeOverlapNet(DeOverlapConfig(args.spec, max_frames=args.max_frames)).double()
    with torch.no_grad():
        for w, m in zip(net.weights, net._masks, strict=True):
            w.copy_(1e-3 * torch.randn_like(w) * m)
    T = net.transform
    x = torch.randn(2, int(args.seconds * 44100), dtype=torch.float64)
    with torch.no_grad():
        C, est, base = _learned_and_split(net, x)
        old = (before(T, x, C, est), before(T, x, C, base))
        new = _block_wave_snrs(T, x, C, est, base)
        for a, b in zip(old, new, strict=True):  # the same numbers, whichever way
            assert all(math.isclose(u, v, abs_tol=1e-6) for u, v in zip(a, b, strict=True))
        learned = sum(w.numel() > 0 for w in net.weights)
        print(f"{args.spec}, {len(C)} blocks ({learned} learned), {args.seconds:g} s stereo, "
              f"median of {args.repeats}")  # fmt: skip
        t_inv = median_time(lambda: T.inverse(C, x.shape[-1]), args.repeats)
        t_old = median_time(lambda: (before(T, x, C, est), before(T, x, C, base)), args.repeats)
        t_new = median_time(lambda: _block_wave_snrs(T, x, C, est, base), args.repeats)
    print(f"inverse (peer)  {t_inv:8.3f} s")
    print(f"before          {t_old:8.3f} s  = {t_old / t_inv:6.1f} inverses")
    print(f"now             {t_new:8.3f} s  = {t_new / t_inv:6.1f} inverses")
    print(f"before / now    {t_old / t_new:8.1f}x")


if __name__ == "__main__":
    main()
