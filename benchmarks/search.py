"""Benchmark the search: trials per hour of the default study on the demo corpus.

Run: .venv/bin/python benchmarks/search.py [--trials N] [--seconds S] [--target T]

Runs ``run_search`` in this process with the default study configuration (every metric,
``studies/default.toml``) on the built-in demo corpus, in a throwaway SQLite storage, and
times every trial. The peer is the bare transform time: every ``forward``/``inverse`` call
of the transforms inside the trial, timed by wrapping the Transform classes. Prints:

- trials per hour (finished trials, pruned ones included, over the optimisation wall time)
  and complete trials per hour;
- median seconds per complete trial, median transform seconds per trial (the peer) and
  their ratio;
- the share of trial time spent outside the transforms (metrics, oracles, SDR), within the
  scoring (1 - Σ transform time / Σ score time) and over the whole search wall time (adds
  Optuna, storage and pruned candidates).
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tfselect.audio.demo import demo_root  # noqa: E402
from tfselect.metrics import ClipScorer  # noqa: E402
from tfselect.search.config import load_config  # noqa: E402
from tfselect.search.run import run_search  # noqa: E402
from tfselect.transforms import base  # noqa: E402


class TransformClock:
    """Accumulates wall time spent in Transform.forward/inverse of every concrete class."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.calls = 0

    def install(self) -> None:
        import tfselect.transforms.slicqt  # noqa: F401  (register the subclasses)
        import tfselect.transforms.stft  # noqa: F401

        seen = set()
        stack = list(base.Transform.__subclasses__())
        while stack:
            cls = stack.pop()
            stack.extend(cls.__subclasses__())
            for name in ("forward", "inverse"):
                fn = cls.__dict__.get(name)
                if fn is None or (cls, name) in seen:
                    continue
                seen.add((cls, name))
                setattr(cls, name, self._wrap(fn))

    def _wrap(self, fn):
        @functools.wraps(fn)
        def timed(*args, **kwargs):
            t0 = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                self.seconds += time.perf_counter() - t0
                self.calls += 1

        return timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--target", default="vocals")
    parser.add_argument("--seconds", type=float, default=None, help="clip length override")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    cfg = load_config(REPO / "studies" / "default.toml")
    cfg = cfg.override(seed=args.seed, seconds=args.seconds)
    cfg = replace(cfg, search=replace(cfg.search, sampler="tpe"))
    clock = TransformClock()
    clock.install()
    per_trial: list[list] = []  # [scoring s, transform s, scored] per candidate

    def timed_score(spec, target, metrics, device):
        entry = [0.0, 0.0, True]
        per_trial.append(entry)
        scorer = ClipScorer(spec, target, list(metrics), device=device)

        def clip(c, wanted):
            t_tf0, t0 = clock.seconds, time.perf_counter()
            out = scorer(c, wanted)
            entry[0] += time.perf_counter() - t0
            entry[1] += clock.seconds - t_tf0
            return out

        return clip

    root = demo_root()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench.db"
        # The references (the study's first 2 trials) run first; time the others on their own.
        run_search(args.target, storage=url, config=cfg, root=root, trials=2, progress=False,
                   scorer=timed_score)  # fmt: skip
        per_trial.clear()
        t0 = time.perf_counter()
        res = run_search(args.target, storage=url, config=cfg, root=root, trials=args.trials,
                         progress=False, scorer=timed_score)  # fmt: skip
        wall = time.perf_counter() - t0

    scored = [p for p in per_trial if p[2]]
    print(f"search benchmark: default study, target {args.target}, demo corpus, "
          f"{cfg.clips.n_clips} clip(s)/track of {cfg.clips.seconds:g} s, "
          f"torch threads {torch.get_num_threads()}, cpus {os.cpu_count()}")  # fmt: skip
    print(f"  candidates: {res.ran} run ({res.raced} raced out early, {res.repeats} repeats "
          f"answered from the study) in {wall:.1f} s")  # fmt: skip
    print(f"  trials per hour: {3600 * res.ran / wall:.0f} "
          f"(scored trials per hour: {3600 * len(scored) / wall:.0f})")  # fmt: skip
    if not scored:
        print("  no trial was scored (all pruned): nothing to compare")
        return
    trial_s = statistics.median(p[0] for p in scored)
    tf_s = statistics.median(p[1] for p in scored)
    outside = 1.0 - sum(p[1] for p in scored) / sum(p[0] for p in scored)
    print(f"  median scored trial: {trial_s:.2f} s; peer (bare transform forward+inverse "
          f"time in it): {tf_s:.2f} s; ratio trial/transform {trial_s / max(tf_s, 1e-9):.1f}x")
    overall = 1.0 - sum(p[1] for p in scored) / wall
    print(f"  share of trial time outside the transforms: {100 * outside:.1f} % within score(); "
          f"{100 * overall:.1f} % of the whole search wall time (Optuna, storage, pruning)")


if __name__ == "__main__":
    main()
