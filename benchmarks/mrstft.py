"""Benchmark: forward + inverse of the band-wise multi-resolution STFT against the STFT of
its longest band, stereo 44.1 kHz float32 on the CPU, in one run.

    .venv/bin/python benchmarks/mrstft.py [--seconds 30] [--repeats 5] [--threads N]
                                          [--spec mrstft:...]

Prints the median wall time of each (after one warm-up) and the ratio mrstft / STFT. The
mrstft costs one rFFT and one inverse rFFT of the whole clip per band (the crossovers) plus
one STFT per band; the redundancy of each is printed too (coefficients per sample).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _timing import median_time  # noqa: E402

from tfselect.transforms import TransformSpec, build  # noqa: E402

DEFAULT = "mrstft:edges=300|4000,n_fft=16384|4096|1024,hop=2048|512|128,window=blackman"
SR = 44100


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--spec", default=DEFAULT)
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    mr = TransformSpec.parse(args.spec)
    longest = max(range(len(mr.n_fft)), key=lambda b: mr.n_fft[b])
    stft = (f"stft:n_fft={mr.n_fft[longest]},hop={mr.hop[longest]}"
            + (f",window={mr.window}" if mr.window != "hann" else ""))  # fmt: skip
    n = int(args.seconds * SR)
    x = torch.randn(2, n, generator=torch.Generator().manual_seed(0))
    times = {}
    for spec in (str(mr), stft):
        T = build(spec, SR)

        def run(T=T) -> None:
            with torch.no_grad():
                T.inverse(T(x), n)

        run()  # warm-up: FFT plans, crossover masks
        times[spec] = median_time(run, args.repeats)
        print(f"{times[spec]:8.3f} s  redundancy {T.redundancy(n):6.2f}  {spec}")
    ratio = times[str(mr)] / times[stft]
    print(f"ratio mrstft / STFT of the longest band: {ratio:.2f} "
          f"({args.seconds:g} s stereo, median of {args.repeats}, "
          f"{torch.get_num_threads()} thread(s))")


if __name__ == "__main__":
    main()
