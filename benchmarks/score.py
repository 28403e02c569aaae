"""Scoring cost: all 16 metrics of one spec for one target over 8 clips of 10 s.

Bark-262 sliCQT (the xumx-sliCQ default) on the demo corpus, target vocals. Prints the
time of every stage of ``score`` (summed over the clips), the total, and two ratios:

- total / *bare transform work*: the forward of the mixture and four stems plus the inverse
  of the six estimates (four oracles, two ridge-restricted targets) that the metrics need,
  timed as the same batched calls alone. Target: <= 3x.
- total / one forward+inverse of the mixture alone (for scale: the oracles alone need
  5 signals in and 4 out, so this ratio cannot approach 1).

Each timed quantity is the median of 3 repetitions; a warm-up ``score`` on one clip runs
first (filterbank caches, the profiler's one-off start-up).

    .venv/bin/python benchmarks/score.py [SPEC]
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np
import torch

from tfselect import TARGETS
from tfselect.audio.clips import sample_clips
from tfselect.audio.demo import demo_root
from tfselect.metrics import METRICS, score
from tfselect.transforms import build

SPEC = "slicqt:scale=bark,bins=262,fmin=32.9,fmax=22050"
TARGET = "vocals"
N_CLIPS = 8
REPEATS = 3


def _time(fn) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    spec = sys.argv[1] if len(sys.argv) > 1 else SPEC
    clips = sample_clips(demo_root(), "train", n_clips=2, seconds=10.0, seed=0)[:N_CLIPS]
    if len(clips) < N_CLIPS:
        raise SystemExit(f"the demo corpus gave {len(clips)} clips, need {N_CLIPS}")
    T = build(spec)
    ti = TARGETS.index(TARGET)
    print(f"{spec}, target {TARGET}, {len(clips)} clips of 10 s, torch threads "
          f"{torch.get_num_threads()}")  # fmt: skip

    warm = _time(lambda: score(spec, TARGET, clips[:1]))
    print(f"warm-up score on 1 clip: {warm:.2f} s")

    def bare_single() -> None:
        for c in clips:
            x = torch.from_numpy(c.mixture)
            T.inverse(T(x), x.shape[-1])

    def bare_needed() -> None:
        for c in clips:
            x = torch.from_numpy(np.stack([c.mixture] + [c.stems[t] for t in TARGETS]))
            C = T(x)
            est = [torch.cat([b[:4], b[1 + ti : 2 + ti].expand(2, *b.shape[1:])]) for b in C]
            T.inverse(est, x.shape[-1])

    with torch.no_grad():
        single = statistics.median(_time(bare_single) for _ in range(REPEATS))
        needed = statistics.median(_time(bare_needed) for _ in range(REPEATS))

    runs = []
    for _ in range(REPEATS):
        stages: dict[str, float] = {}
        total = _time(lambda st=stages: score(spec, TARGET, clips, timings=st))
        runs.append((total, stages))
    total, stages = sorted(runs, key=lambda r: r[0])[len(runs) // 2]  # the median run

    print(f"\n{'stage (summed over clips)':34s} {'s':>8s} {'share':>7s}")
    for name, sec in sorted(stages.items(), key=lambda kv: -kv[1]):
        print(f"{name:34s} {sec:8.3f} {sec / total:7.1%}")
    rest = total - sum(stages.values())
    print(f"{'other (loading tensors, medians)':34s} {rest:8.3f} {rest / total:7.1%}")
    print(f"\nall {len(METRICS)} metrics: total {total:.2f} s (median of {REPEATS})")
    print(f"bare transform work (5 fwd + 6 inv per clip): {needed:.2f} s -> "
          f"ratio {total / needed:.2f}x (target <= 3x)")  # fmt: skip
    print(f"one fwd+inv of the mixture per clip: {single:.2f} s -> ratio {total / single:.2f}x")


if __name__ == "__main__":
    main()
