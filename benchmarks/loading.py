"""Benchmark loading in any layout, and the demixer's train step against the number of targets.

Run: .venv/bin/python benchmarks/loading.py [--repeats N] [--clip S] [--steps N]

1. Loading cost per clip: ``read_segment`` on a MoisesDB-layout tree (6 stems, 3 files each,
   so 18 files summed) and on generic stem folders (6 files), against soundfile reading the
   same samples of the same files and summing them with numpy (the floor any reader pays).
   Target: ratio <= 1.2 (the layers add header checks and per-stem bookkeeping only).
2. Train step time against K targets (K = 2 ... 10 STFT branches, batch 2 of 1-s chunks): with
   all subsets up to K = 5 and 2K sampled subsets above, a step should grow about linearly in
   K (the branches), not as 2^K (the subsets). Printed with the number of loss subsets.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from _timing import median_time

SR = 44100


def _write_trees(root: Path, seconds: float) -> None:
    """A MoisesDB track (6 stems x 3 files) and a stem-folder track (6 stems), float32 WAV."""
    rng = np.random.default_rng(0)
    n = int(seconds * SR)
    meta = {"stems": []}
    for s in range(6):
        files = []
        for f in range(3):
            name = f"s{s}f{f}"
            path = root / "moises" / "t0" / f"stem{s}" / f"{name}.wav"
            path.parent.mkdir(parents=True, exist_ok=True)
            sf.write(path, (0.05 * rng.standard_normal((n, 2))).astype(np.float32), SR,
                     subtype="FLOAT")  # fmt: skip
            files.append({"id": name, "extension": "wav"})
        meta["stems"].append({"stemName": f"stem{s}", "tracks": files})
        path = root / "folders" / "train" / "t0" / f"stem{s}.wav"
        path.parent.mkdir(parents=True, exist_ok=True)
        sf.write(path, (0.05 * rng.standard_normal((n, 2))).astype(np.float32), SR,
                 subtype="FLOAT")  # fmt: skip
    (root / "moises" / "t0" / "data.json").write_text(json.dumps(meta))


def loading(repeats: int, clip: float) -> None:
    from tfselect.audio.dataset import discover, read_segment, track_length
    from tfselect.audio.stem_files import files_of

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        _write_trees(root, seconds=4 * clip)
        for layout in ("moises", "folders"):
            (track,) = discover(root / layout)
            n = int(clip * SR)
            start = int(clip * SR)  # a clip from the second quarter
            stems = dict(track.stems)
            files = files_of(track)

            def ours(track=track, n=n, start=start) -> None:
                track_length(track)  # what sample_clips pays per track as well
                read_segment(track, None, start, n)

            def floor(files=files, stems=stems, n=n, start=start) -> None:
                data = {f: sf.read(str(f), start=start, frames=n, dtype="float32")[0]
                        for f in files}  # fmt: skip
                for fs in stems.values():
                    np.sum([data[f] for f in fs], axis=0, dtype=np.float64).astype(np.float32)
                np.sum(list(data.values()), axis=0, dtype=np.float64).astype(np.float32)

            ours()
            floor()  # warm the page cache for both
            t_ours = median_time(ours, repeats)
            t_floor = median_time(floor, repeats)
            print(f"load a {clip:g}-s clip, {layout:8s} ({len(files):2d} files): tfselect "
                  f"{t_ours * 1e3:7.2f} ms, soundfile+numpy {t_floor * 1e3:7.2f} ms, "
                  f"ratio {t_ours / t_floor:.2f}")  # fmt: skip


def train_steps(steps: int, ks: list[int]) -> None:
    from tfselect.demix.losses import DemixLoss, LossConfig
    from tfselect.demix.model import Demixer, ModelConfig

    torch.manual_seed(0)
    torch.set_num_threads(1)  # the machine is shared: one core, comparable across K
    base = None
    for k in ks:
        model = Demixer(ModelConfig({f"t{i}": "stft:n_fft=1024,hop=256" for i in range(k)}))
        loss_fn = DemixLoss(LossConfig(n_fft=1024, hop=256), k, seed=0)
        opt = torch.optim.Adam(model.parameters(), 1e-3)
        tgt = 0.1 * torch.randn(2, k, 2, SR)
        mix = tgt.sum(1)

        def step(i: int, model=model, loss_fn=loss_fn, opt=opt, tgt=tgt, mix=mix) -> None:
            loss, _ = loss_fn(model(mix), tgt, mix, step=i)
            opt.zero_grad()
            loss.backward()
            opt.step()

        step(0)
        times = []
        for i in range(1, steps + 1):
            t0 = time.perf_counter()
            step(i)
            times.append(time.perf_counter() - t0)
        t = statistics.median(times)
        base = base or t / k
        print(f"train step, K={k:2d}: {t * 1e3:7.1f} ms ({len(loss_fn.subsets(1)):3d} loss "
              f"subsets), {t / k * 1e3:6.1f} ms per target, x{t / (base * k):.2f} of linear")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--clip", type=float, default=10.0, help="clip length, seconds")
    parser.add_argument("--steps", type=int, default=3, help="timed train steps per K")
    parser.add_argument("--k", default="2,4,6,8,10", help="numbers of targets, comma-separated")
    args = parser.parse_args()
    loading(args.repeats, args.clip)
    train_steps(args.steps, [int(k) for k in args.k.split(",")])


if __name__ == "__main__":
    main()
