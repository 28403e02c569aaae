"""The cost of one ``tfselect compare`` run next to one ``train-best`` run of the same size.

A compare run is a train-best run (the same trainer, the same steps) plus what makes it a
comparison: the parameter matching of its configuration and the per-track scoring of the
test split (separation, museval cSDR, uSDR, SI-SDR). The peer is ``train`` alone with the
same configuration, steps, batch and chunk, followed by ``tfselect evaluate``'s museval
scoring of the same tracks (what a user would otherwise run by hand). Both run on a small
demo corpus written to a temporary folder; each is repeated and the median is printed with
the ratio compare / (train-best + evaluate) and compare / train-best.

    .venv/bin/python benchmarks/compare.py [--steps 6] [--repeats 3] [--spec SPEC]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from _timing import median_time

from tfselect.audio.demo import write_demo_corpus
from tfselect.demix.compare import build_configs, make_plan, run_dir, run_one
from tfselect.demix.evaluate import evaluate_model
from tfselect.demix.train import train


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=6)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--spec", default="stft:n_fft=8192,hop=2048",
                    help="the compared configuration's transform (every target)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = write_demo_corpus(Path(tmp) / "corpus", tracks=3, test_tracks=2, seconds=8.0)
        configs = build_configs(["stft"], {"mine": dict.fromkeys(
            ("vocals", "drums", "bass", "other"), args.spec)}, None, "significant", "blstm")
        plan = make_plan(configs, "cpu", [0], args.steps, None, root, batch_size=2,
                         chunk_seconds=1.0)
        counter = iter(range(10**6))

        def compare_run() -> None:
            run_one(plan, Path(tmp) / f"c{next(counter)}", "mine", 0)

        def train_best() -> None:
            from tfselect.demix.compare import train_config

            train(train_config(plan, "mine", 0), Path(tmp) / f"t{next(counter)}",
                  progress=False)

        def train_best_evaluate() -> None:
            from tfselect.demix.compare import train_config

            out = Path(tmp) / f"e{next(counter)}"
            train(train_config(plan, "mine", 0), out, progress=False)
            evaluate_model(out, root, "test", progress=False)

        ours = median_time(compare_run, args.repeats)
        peer = median_time(train_best, args.repeats)
        peer_eval = median_time(train_best_evaluate, args.repeats)
        assert (run_dir(Path(tmp) / "c0", "mine", 0) / "scores.csv").is_file()
    print(f"{args.steps} steps of 2 x 1 s, {args.spec} on 4 targets, 2 test tracks of 8 s "
          f"(median of {args.repeats}):")
    print(f"  compare run      {ours:7.1f} s")
    print(f"  train-best       {peer:7.1f} s   ratio compare / train-best {ours / peer:.2f}")
    print(f"  train-best + evaluate {peer_eval:7.1f} s   ratio compare / (train-best + "
          f"evaluate) {ours / peer_eval:.2f}")


if __name__ == "__main__":
    main()
