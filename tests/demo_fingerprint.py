"""The demo signal's fingerprint, pinned to ``DEMO_VERSION``.

Cached demo corpora are keyed on ``DEMO_VERSION`` only, so a change to the synthesis that
keeps the version would leave users' cached corpora different from fresh ones (and the
README's numbers irreproducible). The fingerprint — each stem's energy per quarter second
and a few samples, of two songs of the MUSDB stem set and one of the fine one — is
compared with tolerances that a different libm or BLAS cannot cross but any changed note,
envelope or gain does.

Regenerate after a deliberate change (and a new ``DEMO_VERSION``)::

    .venv/bin/python tests/demo_fingerprint.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tfselect.audio.synthesis import DEMO_VERSION, synthesize_track

FILE = Path(__file__).with_name("data") / "demo_fingerprint.json"
SONGS = [(0, 0, "musdb"), (0, 1, "musdb"), (3, 2, "fine")]  # (seed, index, stem set)
SECONDS = 4.0
BLOCK = 11025  # a quarter second at 44.1 kHz
PROBES = [1000, 20000, 50000, 90000, 150000]  # sample indices, both channels


def fingerprint() -> dict:
    """{"version", "songs": [{"name", "stems": {stem: {"energy": [...], "samples": [...]}}}]}"""
    songs = []
    for seed, index, stem_set in SONGS:
        name, audio = synthesize_track(seed, index, SECONDS, stem_set)
        stems = {}
        for stem, x in audio.items():
            x = np.asarray(x, np.float64)
            blocks = x[:, : x.shape[1] // BLOCK * BLOCK].reshape(2, -1, BLOCK)
            stems[stem] = {"energy": np.sum(blocks**2, axis=(0, 2)).tolist(),
                           "samples": x[:, PROBES].ravel().tolist()}  # fmt: skip
        songs.append({"name": name, "stems": stems})
    return {"version": DEMO_VERSION, "songs": songs}


if __name__ == "__main__":
    FILE.parent.mkdir(exist_ok=True)
    FILE.write_text(json.dumps(fingerprint(), indent=1) + "\n")
    print(f"wrote {FILE}")
