"""Ridge extraction: tfselect's banded DP against ssqueezepy's ``extract_ridges``.

Both solve the same penalised path (cost −ln(P/max P + ε), penalty λ·Δs², K ridges with
clearing); ssqueezepy allows every transition (O(steps·states²), numba, parallel), ours a
band of ±B states (O(steps·states·B), numpy). Grids: the 10-s STFT 4096/1024 of a test
signal (2049 bins x 431 frames) and the same signal's Bark-262 sliCQT grid as tfselect's
ridge analysis sees it (pooled to <= 100 frames/s). Prints our median of 3 runs after a
warm-up, ssqueezepy's single run after JIT-compiling on a tiny grid (a dense pass over the
STFT grid takes tens of seconds), the speed ratio, and how often the two agree on the
first ridge (frames with the same bin).

    .venv/bin/python benchmarks/ridges.py

ssqueezepy (MIT; pulls numba) is a benchmark-only peer, not a tfselect dependency:
``.venv/bin/python -m pip install ssqueezepy``. Without it only our timings are printed.
"""

from __future__ import annotations

import math
import statistics
import time

import numpy as np
import torch

from tfselect.metrics.ridges import RidgeConfig, extract_ridges
from tfselect.transforms import build

SR = 44100
K = 3
LAM = 20.0
EPS = float(np.finfo(np.float64).eps)  # ssqueezepy's floor for float64 input


def signal(seconds: float = 10.0) -> torch.Tensor:
    """Two chirps, a vibrato tone and a little noise: (1, samples) float64."""
    t = np.arange(int(SR * seconds)) / SR
    lin = 200 + 1800 * t / seconds
    expo = 110 * 2 ** (3 * t / seconds)
    vib = 1500 + 30 * np.sin(2 * np.pi * 5 * t)
    x = sum(np.sin(2 * np.pi * np.cumsum(f) / SR) for f in (lin, expo, vib))
    x = x + 0.01 * np.random.default_rng(0).standard_normal(t.size)
    return torch.from_numpy(x)[None]


def grids() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """name -> (power (bins, frames), log2-frequency coordinate per bin)."""
    x = signal()
    out = {}
    for name, spec in (
        ("stft 4096/1024", "stft:n_fft=4096,hop=1024"),
        ("slicqt bark-262", "slicqt:scale=bark,bins=262,fmin=32.9,fmax=22050"),
    ):
        T = build(spec, sample_rate=SR)
        with torch.no_grad():
            power = T.grid(T(x)).abs().square().sum(0).numpy()
        factor = max(1, math.ceil(T.frame_rate() / RidgeConfig().max_frame_rate - 1e-9))
        if factor > 1:  # as ridge_analysis does
            pad = (-power.shape[1]) % factor
            power = np.pad(power, ((0, 0), (0, pad))).reshape(power.shape[0], -1, factor).sum(-1)
        f = T.frequencies()
        coords = np.log2(np.maximum(f, f[f > 0].min()))
        out[name] = (power, coords)
    return out


def timed(fn, repeats: int = 3, warm: bool = True) -> tuple[float, object]:
    if warm:
        fn()  # warm-up (caches)
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), result


def main() -> None:
    try:
        from ssqueezepy import extract_ridges as ssq_ridges
    except ImportError:
        ssq_ridges = None
        print("ssqueezepy not installed: printing tfselect's timings only")
    print(f"torch threads: {torch.get_num_threads()}; K={K}, lambda={LAM}")
    for name, (power, coords) in grids().items():
        bins, frames = power.shape
        ours_t, ours = timed(
            lambda p=power, c=coords: extract_ridges(p, c, LAM, K, band=6, clear=3, eps=EPS)
        )
        line = f"{name:16s} {bins}x{frames}: tfselect banded(6) {ours_t * 1e3:8.1f} ms"
        if ssq_ridges is not None:
            tf = np.sqrt(power).astype(np.complex128)
            ssq_ridges(tf[:20, :20], np.exp(coords[:20]), penalty=LAM, n_ridges=K, bw=3)  # JIT
            # one timed run: a dense pass over the STFT grid takes tens of seconds
            ssq_t, ssq = timed(
                lambda tf=tf, c=coords: ssq_ridges(
                    tf, np.exp(c), penalty=LAM, n_ridges=K, bw=3, transform="cwt"
                ),
                repeats=1,
                warm=False,
            )
            agree = float((np.asarray(ssq)[:, 0] == ours.numpy()[0]).mean())
            line += (
                f" | ssqueezepy dense {ssq_t * 1e3:8.1f} ms | ssqueezepy/tfselect "
                f"{ssq_t / ours_t:5.1f}x | ridge-0 agreement {agree:.1%}"
            )
        print(line)


if __name__ == "__main__":
    main()
