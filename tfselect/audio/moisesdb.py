"""MoisesDB: ``ROOT/<track>/data.json`` and one folder per stem type, several files per stem.

``data.json`` lists the stems of a track (``stems[].stemName``: vocals, drums, bass, guitar,
piano, other_keys, bowed_strings, wind, percussion, other_plucked, other) and, per stem, its
recorded tracks (``stems[].tracks[].id`` and ``.extension``), stored as
``ROOT/<track>/<stemName>/<id>.<extension>``; a stem's tracks are summed into it and the
mixture is the sum of every stem (MoisesDB ships no mixture file).

Hand-written: the ``moisesdb`` package is not in the package registry this project installs
from, and ``mirdata`` has no MoisesDB loader; both would read whole files where tfselect reads
clips. This reader is the file table plus a JSON parse.

MoisesDB has no official split: tracks are sorted by folder name and ``TEST_FRACTION`` of them
(at least one once two exist) are drawn for ``test`` with ``numpy.random.default_rng(SPLIT_SEED)``;
``valid`` is then split off ``train`` like for any root.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from tfselect.audio.stem_files import check_target_name, subfolders
from tfselect.audio.stem_folders import order_targets
from tfselect.audio.track import Track
from tfselect.datafiles import load_json
from tfselect.errors import DatasetError

STEM_TYPES = ("vocals", "drums", "bass", "guitar", "piano", "other_keys", "bowed_strings",
              "wind", "percussion", "other_plucked", "other")  # fmt: skip
META = "data.json"
TEST_FRACTION = 0.2
SPLIT_SEED = 42


def _track_folders(root: Path) -> list[Path]:
    return subfolders(root)  # MoisesDB keeps every track folder at the top


def detect(root: Path) -> bool:
    """A root whose track folders carry ``data.json``."""
    return any((p / META).is_file() for p in _track_folders(root))


def _stems_of(folder: Path) -> dict[str, list[Path]]:
    meta_path = folder / META
    if not meta_path.exists():
        raise DatasetError(f"{meta_path}: missing (every MoisesDB track folder has one)")
    meta = load_json(meta_path, DatasetError)  # size, depth, encoding: one line
    try:
        stems = {}
        for stem in meta["stems"]:
            name = str(stem["stemName"])
            files = [
                folder / name / f"{t['id']}.{t.get('extension', 'wav')}" for t in stem["tracks"]
            ]
            stems.setdefault(check_target_name(name, meta_path), []).extend(files)
    except (KeyError, TypeError) as exc:
        raise DatasetError(
            f"{meta_path}: not MoisesDB metadata (expected stems[].stemName and "
            f"stems[].tracks[].id; missing {exc})"
        ) from None
    for name, files in stems.items():
        for f in files:
            if not f.is_file():
                raise DatasetError(f"{f}: listed in {meta_path} for stem '{name}' but missing")
    return stems


def split(names: list[str]) -> set[str]:
    """The test track names of a MoisesDB root (seeded, see the module docstring)."""
    names = sorted(names)
    if len(names) < 2:
        return set()
    n_test = max(1, math.floor(len(names) * TEST_FRACTION + 0.5))
    order = np.random.default_rng(SPLIT_SEED).permutation(len(names))
    return {names[i] for i in order[:n_test]}


def discover(root: Path) -> list[Track]:
    """Every MoisesDB track under ``root``, train then test, sorted by name."""

    folders = _track_folders(root)
    found = {f.name: (f, _stems_of(f)) for f in folders}
    names = set(found)
    known = [t for t in STEM_TYPES if any(t in s for _, s in found.values())]
    extra = order_targets({t for _, s in found.values() for t in s} - set(STEM_TYPES))
    targets = tuple(known) + extra
    test = split(list(names))
    tracks = []
    for name in sorted(names, key=lambda n: (n in test, n)):
        folder, stems = found[name]
        table = tuple((t, tuple(stems.get(t, ()))) for t in targets)
        mixture = tuple(f for _, fs in table for f in fs)
        tracks.append(Track(name, "test" if name in test else "train", folder, stems=table,
                            mixture=mixture))  # fmt: skip
    return tracks
