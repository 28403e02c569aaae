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

``--cheap``: do the cheap metrics earn a screening stage? For a few candidates (the two
references and a large sliCQT), the cost of every cheap metric (sparsity and ridges) per
candidate against the MPI oracle alone, on the same clips (median of 3 each, after a warm-up),
and their ratio. Screening with them pays only if the ratio is well below 1.

    .venv/bin/python benchmarks/score.py [SPEC]
    .venv/bin/python benchmarks/score.py --cheap
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


CHEAP_SPECS = (
    "stft:n_fft=4096,hop=1024",
    SPEC,
    "slicqt:scale=log,bins=400,fmin=20,fmax=22050",
)
CHEAP_CLIPS, CHEAP_SECONDS = 2, 4.0


def cheap_vs_mpi() -> None:
    """Per candidate: all cheap metrics against the MPI oracle alone, and the ratio."""
    from tfselect.metrics import GROUPS

    cheap = GROUPS["sparsity"] + GROUPS["ridges"]
    clips = sample_clips(demo_root(), "train", n_clips=1, seconds=CHEAP_SECONDS, seed=0,
                         target=TARGET)[:CHEAP_CLIPS]  # fmt: skip
    print(f"target {TARGET}, {len(clips)} clips of {CHEAP_SECONDS:g} s, torch threads "
          f"{torch.get_num_threads()}; median of {REPEATS} runs after a warm-up")  # fmt: skip
    print(f"cheap metrics: {', '.join(cheap)}\n")
    print(f"{'candidate':48s} {'cheap s':>8s} {'mpi s':>7s} {'ratio':>7s}")
    ratios = []
    for spec in CHEAP_SPECS:
        score(spec, TARGET, clips[:1], metrics=list(cheap) + ["mpi"])  # warm-up
        t_cheap = statistics.median(
            _time(lambda s=spec: score(s, TARGET, clips, metrics=cheap)) for _ in range(REPEATS)
        )
        t_mpi = statistics.median(
            _time(lambda s=spec: score(s, TARGET, clips, metrics=["mpi"])) for _ in range(REPEATS)
        )
        ratios.append(t_cheap / t_mpi)
        print(f"{spec:48s} {t_cheap:8.2f} {t_mpi:7.2f} {t_cheap / t_mpi:6.1f}x")
    print(f"\nmedian ratio cheap / mpi: {statistics.median(ratios):.1f}x "
          "(a screening stage needs it well below 1)")  # fmt: skip


def main() -> None:
    if sys.argv[1:] == ["--cheap"]:
        cheap_vs_mpi()
        return
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
