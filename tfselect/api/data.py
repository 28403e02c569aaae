"""Datasets: write the demo corpus; list the targets a dataset holds."""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from tfselect.audio.dataset import resolve_root
from tfselect.audio.demo import write_demo_corpus
from tfselect.audio.targets import load_target_map, target_table
from tfselect.checks import check_range, check_seed


@dataclass(frozen=True)
class DemoCorpus:
    """A written demo corpus: its folder, track count, size in bytes and wall seconds."""

    path: Path
    tracks: int
    size_bytes: int
    seconds: float


def demo_data(
    out: Path | str,
    tracks: int = 8,
    test_tracks: int | None = None,
    seconds: float = 12.0,
    seed: int = 0,
    subtype: str = "PCM_16",
    stems: str = "musdb",
) -> DemoCorpus:
    """Write the synthetic demo corpus to ``out`` (new or empty).

    Args:
        out: folder to write.
        tracks: train tracks (1 to 10 000); ``test_tracks`` default: tracks/4, at least 1.
        seconds: duration of each track, seconds.
        seed: the same seed writes bitwise the same files.
        subtype: WAV sample format, ``PCM_16`` or ``FLOAT`` (case-insensitive).
        stems: ``musdb`` (vocals, drums, bass, other) or ``fine`` (other split in three).
    """
    check_seed(seed)
    check_range("--tracks", tracks, 1, 10_000)
    check_range("--test-tracks", test_tracks, 0, 10_000)
    t0 = time.perf_counter()
    path = write_demo_corpus(
        Path(out), tracks=tracks, seconds=seconds, seed=seed, test_tracks=test_tracks,
        subtype=subtype.upper(), stems=stems,
    )  # fmt: skip
    size = sum(p.stat().st_size for p in path.rglob("*.wav"))
    n = len([p for p in path.glob("*/*") if p.is_dir()])
    return DemoCorpus(path, n, size, time.perf_counter() - t0)


@dataclass(frozen=True)
class Targets:
    """The targets of a dataset: its root and one row per target (``table``: columns
    target, present, active, median_active_fraction; ``attrs`` layout and tracks)."""

    root: Path
    table: pd.DataFrame


def targets(root: Path | str | None = None, config: Path | str | None = None) -> Targets:
    """Where each target of the dataset at ``root`` is present and active.

    Args:
        root: dataset root (None: ``$MUSDB_PATH``, else the demo corpus).
        config: study TOML whose ``[targets]`` table maps stems to targets.
    """
    data_root = resolve_root(root)
    return Targets(data_root, target_table(data_root, load_target_map(config)))
