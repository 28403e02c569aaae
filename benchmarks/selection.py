"""Benchmark the selection: does the search's pick hold on unseen tracks?

Run: .venv/bin/python benchmarks/selection.py [--tracks 16] [--test-tracks 8] [--seconds 12]
     [--targets vocals,drums,bass,other] [--trials 30] [--seed 7] [--select significant]

Writes a demo corpus with a real train/test split (``write_demo_corpus``: ``--tracks`` train
tracks, ``--test-tracks`` test tracks), then per target:

1. the default search (``studies/default.toml``: clip pool over every non-test track, Wilcoxon
   racing, both references as trials) for ``--trials`` candidates, timed;
2. the pick (``best_choice``, ``--select``) and the raw best candidate;
3. whole-track test scores (the objective, mpi: median over the test tracks, as
   ``tfselect score --subset test --seconds 0``) of the pick, both references and every
   candidate that completed the race.

Prints per target and overall (median over targets):

- gain: the pick's test score minus the better reference's test score (goal: >= -0.05 dB);
- regret: the best test score among completed candidates minus the pick's (goal: <= 0.1 dB);
- Spearman correlation of search score (mean over the pool's clips) and test score over the
  completed candidates;
- candidates evaluated per hour (distinct candidates over the search wall time; goal: >= 600
  on 2 cores) and per CPU-hour (over the process's CPU time, all threads): on a shared
  machine the wall rate measures the neighbours too, the CPU rate does not; two dedicated
  cores give between 1x and 2x the CPU rate.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from tfselect.audio.clips import sample_clips  # noqa: E402
from tfselect.audio.demo import write_demo_corpus  # noqa: E402
from tfselect.metrics import score  # noqa: E402
from tfselect.report.best import best_choice  # noqa: E402
from tfselect.search.config import load_config  # noqa: E402
from tfselect.search.ranking import complete_trials, reference_trials  # noqa: E402
from tfselect.search.run import run_search  # noqa: E402
from tfselect.search.storage import open_storage  # noqa: E402
from tfselect.search.study import load_study  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=16, help="train tracks")
    parser.add_argument("--test-tracks", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=12.0, help="track length")
    parser.add_argument("--targets", default="vocals,drums,bass,other")
    parser.add_argument("--trials", type=int, default=30, help="candidates per target")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--select", default="significant", choices=("significant", "best"))
    parser.add_argument("--keep", type=Path, default=None, help="keep corpus and studies here")
    args = parser.parse_args()

    import torch

    cfg = load_config(REPO / "studies" / "default.toml").override(seed=args.seed)
    tmp = tempfile.TemporaryDirectory()
    work = args.keep or Path(tmp.name)
    work.mkdir(parents=True, exist_ok=True)
    root = work / "corpus"
    if not root.exists():
        write_demo_corpus(root, tracks=args.tracks, seconds=args.seconds, seed=args.seed,
                          test_tracks=args.test_tracks)  # fmt: skip
    url = f"sqlite:///{work}/selection.db"
    print(f"selection benchmark: demo corpus {args.tracks} train + {args.test_tracks} test "
          f"tracks of {args.seconds:g} s, {args.trials} candidates per target, seed "
          f"{args.seed}, select {args.select}, torch threads {torch.get_num_threads()}, "
          f"cpus {os.cpu_count()}")  # fmt: skip
    rows = []
    for target in args.targets.split(","):
        t0, c0 = time.perf_counter(), time.process_time()
        res = run_search(target, storage=url, study=f"sel-{target}", config=cfg, root=root,
                         trials=args.trials, progress=False)  # fmt: skip
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        st = load_study(open_storage(url), f"sel-{target}")
        choice = best_choice(url, target, f"sel-{target}", args.select)
        refs = {name: t.user_attrs["spec"] for name, t in reference_trials(st).items()}
        done = {t.user_attrs["spec"]: t.values[0] for t in complete_trials(st)}
        test_clips = sample_clips(root, subset="test", seconds=0, target=target,
                                  skip_silent=True)  # fmt: skip
        test = {spec: score(spec, target, test_clips, metrics=["mpi"])["mpi"]
                for spec in sorted(set(done) | set(refs.values()) | {choice.spec})}  # fmt: skip
        better_ref = max(test[s] for s in refs.values())
        rho = math_nan()
        if len(done) >= 3:
            from scipy import stats

            specs = sorted(done)
            rho = float(stats.spearmanr([done[s] for s in specs], [test[s] for s in specs])[0])
        row = {
            "target": target,
            "pick": choice.spec,
            "verdict": choice.verdict,
            "best": choice.best_spec,
            "test_pick": test[choice.spec],
            "test_best": test.get(choice.best_spec, math_nan()),
            **{f"test_{n}": test[s] for n, s in refs.items()},
            "gain": test[choice.spec] - better_ref,
            "regret": max(test[s] for s in done) - test[choice.spec],
            "spearman": rho,
            "n_complete": len(done),
            "per_hour": 3600.0 * res.ran / wall,
            "per_cpu_hour": 3600.0 * res.ran / cpu,
            "raced": res.raced,
            "ran": res.ran,
        }
        rows.append(row)
        print(f"{target}: pick {row['pick']} ({row['verdict']} vs better reference; raw best "
              f"{row['best']})")  # fmt: skip
        print(f"  test mpi dB: pick {row['test_pick']:.2f}, raw best {row['test_best']:.2f}, "
              f"stft {row.get('test_stft', math_nan()):.2f}, "
              f"xumx-slicq {row.get('test_xumx-slicq', math_nan()):.2f}")  # fmt: skip
        print(f"  gain over better reference {row['gain']:+.2f} dB, regret {row['regret']:.2f} "
              f"dB, spearman(search, test) {rho:.2f} over {len(done)} complete candidates")
        print(f"  {res.ran} candidates ({res.raced} raced out) in {wall:.0f} s wall, {cpu:.0f} s "
              f"CPU: {row['per_hour']:.0f} candidates/hour wall, "
              f"{row['per_cpu_hour']:.0f} per CPU-hour")  # fmt: skip
    print("overall (median over targets): "
          f"regret {statistics.median(r['regret'] for r in rows):.2f} dB (goal <= 0.1), "
          f"worst gain {min(r['gain'] for r in rows):+.2f} dB (goal >= -0.05), "
          f"spearman {_nanmedian([r['spearman'] for r in rows]):.2f}, "
          f"{statistics.median(r['per_hour'] for r in rows):.0f} candidates/hour wall "
          f"({statistics.median(r['per_cpu_hour'] for r in rows):.0f} per CPU-hour; goal >= 600 "
          "per hour on 2 cores)")  # fmt: skip
    tmp.cleanup()


def _nanmedian(values: list[float]) -> float:
    finite = [v for v in values if v == v]
    return statistics.median(finite) if finite else math_nan()


def math_nan() -> float:
    return float("nan")


if __name__ == "__main__":
    main()
