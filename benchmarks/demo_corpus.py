"""Benchmark the data layer: demo-corpus synthesis, and WAV loading against musdb's reader.

Run: .venv/bin/python benchmarks/demo_corpus.py [--repeats N]

Prints medians over N repeats:
- synthesis time of one 12-s demo track, and writing a default-size corpus (8+2 tracks);
- loading one 12-s track (5 stems) with tfselect (soundfile, exact float32) vs the peer,
  musdb's own WAV reader (``musdb.DB(is_wav=True)``: stempeg/ffmpeg, 16-bit), with the
  ratio and the peer's error against the exact float32 samples.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from _timing import median_time

from tfselect.audio.dataset import discover, load_track
from tfselect.audio.demo import write_demo_corpus
from tfselect.audio.synthesis import synthesize_track


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()

    t_synth = median_time(lambda: synthesize_track(0, 0, 12.0), args.repeats)
    print(f"synthesize one 12 s track:            median {t_synth:7.3f} s")

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "demo"
        t0 = time.perf_counter()
        write_demo_corpus(root)  # the default corpus: 8 train + 2 test tracks of 12 s
        t_corpus = time.perf_counter() - t0
        size = sum(p.stat().st_size for p in root.rglob("*.wav")) / 1e6
        print(f"write the default corpus (10 tracks): {t_corpus:7.2f} s, {size:.0f} MB")

        track = discover(root)[0]
        t_ours = median_time(lambda: load_track(track), args.repeats)

        import musdb

        db = musdb.DB(root=str(root), is_wav=True, subsets="train")
        peer = next(t for t in db.tracks if t.name == track.name)

        def load_peer() -> dict[str, np.ndarray]:
            out = {"mixture": peer.audio.T}
            out.update({s: peer.sources[s].audio.T for s in ("vocals", "drums", "bass", "other")})
            return out

        t_peer = median_time(load_peer, args.repeats)
        ours, theirs = load_track(track), load_peer()
        err = max(float(np.max(np.abs(ours[k] - theirs[k]))) for k in ours)
        print(f"load one 12 s track, tfselect:        median {t_ours:7.3f} s (exact float32)")
        print(f"load one 12 s track, musdb (peer):    median {t_peer:7.3f} s "
              f"(max error {err:.1e}, 16-bit via ffmpeg)")  # fmt: skip
        print(f"ratio musdb / tfselect:               {t_peer / t_ours:7.1f}x")


if __name__ == "__main__":
    main()
