"""Targets come from the data: discovery, target maps, validation and the activity table.

A dataset's targets are the stem names its layout finds (MUSDB layout: vocals, drums, bass,
other). A **target map** (``[targets]`` of a study TOML) merges or renames stems::

    [targets]
    guitar = ["guitar", "other_plucked"]
    keys = "piano"

With a map the targets are its keys, in the order written; stems no key names count as the
rest of the mixture (mixture - sum of the targets), never dropped from the mixture.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tfselect import SAMPLE_RATE
from tfselect.audio.dataset import discover, read_segment, track_length
from tfselect.audio.layouts import detect_layout
from tfselect.audio.target_map import (  # noqa: F401 - target maps, read from here too
    TargetMap,
    apply_target_map,
    load_target_map,
)
from tfselect.audio.track import Track
from tfselect.errors import TfselectError

FRAME_SECONDS = 1.0  # activity is measured on frames of this length
ACTIVE_DB = -60.0  # a frame is active above this level relative to the mixture frame
ROUNDING_DB = -100.0  # a residual below this (relative to the mixture) is rounding, not audio


def dataset_targets(root: Path, target_map: TargetMap | None = None) -> tuple[str, ...]:
    """The target names of the dataset at ``root`` (after ``target_map``)."""
    if target_map is not None:
        apply_target_map(discover(root), target_map, root)  # validates the stems it names
        return target_map.targets
    tracks = discover(root)
    return tracks[0].targets


def check_target(root: Path, target: str, target_map: TargetMap | None = None) -> None:
    """Raise a one-line ``TfselectError`` listing the available targets unless ``target`` is one.

    Cheap: discovery reads names and metadata, never audio.
    """
    available = dataset_targets(root, target_map)
    if target not in available:
        raise TfselectError(
            f"unknown target '{target}': the dataset at {root} has {', '.join(available)}"
        )


def activity(stem: np.ndarray, mixture: np.ndarray, frame: int) -> float:
    """Fraction of ``frame``-sample frames where ``stem`` (2, n) is active against ``mixture``.

    A frame is active when the stem's energy is non-zero and within ``ACTIVE_DB`` of the
    mixture frame's (an all-zero mixture frame does not make a sounding stem inactive), as in
    :func:`tfselect.audio.clips.is_silent`.
    """
    n = stem.shape[-1]
    if n == 0:
        return 0.0
    pad = (-n) % frame

    def energy(x: np.ndarray) -> np.ndarray:
        x = np.pad(np.asarray(x, np.float64), ((0, 0), (0, pad)))
        return np.square(x).sum(axis=0).reshape(-1, frame).sum(axis=1)

    es, em = energy(stem), energy(mixture)
    active = (es > 0) & ((em == 0) | (es >= em * 10 ** (ACTIVE_DB / 10)))
    return float(active.mean())


def target_table(root: Path, target_map: TargetMap | None = None):
    """Per target: tracks present, tracks active, median active fraction (over present tracks).

    Reads every track whole, one at a time. A row ``residual`` (mixture - sum of the targets)
    is added when any track has one above ``ROUNDING_DB`` (a shipped mixture that differs from
    its stems, or stems a target map leaves out).

    Returns:
        pandas DataFrame with columns target, present, active, median_active_fraction; and
        the layout name in ``df.attrs['layout']``, the track count in ``df.attrs['tracks']``.
    """
    import pandas as pd  # half a second: only this table needs it

    tracks = discover(root)
    if target_map is not None:
        tracks = apply_target_map(tracks, target_map, root)
    targets = tracks[0].targets
    frame = int(FRAME_SECONDS * SAMPLE_RATE)
    fractions: dict[str, list[float]] = {t: [] for t in (*targets, "residual")}
    for track in tracks:
        present = {t for t, files in track.stems if files} if track.stems is not None else targets
        audio = read_segment(track, None, 0, track_length(track))
        mix = audio["mixture"]
        residual = mix.astype(np.float64) - sum(audio[t].astype(np.float64) for t in targets)
        for t in targets:
            if t in present:
                fractions[t].append(activity(audio[t], mix, frame))
        # Present above float32 rounding of summed stems (about -140 dB), not only when non-zero.
        floor = np.sum(np.square(mix, dtype=np.float64)) * 10 ** (ROUNDING_DB / 10)
        if np.sum(residual**2) > floor:
            fractions["residual"].append(activity(residual, mix, frame))
    rows = []
    for t, values in fractions.items():
        if t == "residual" and not values:
            continue
        median = float(np.median(values)) if values else 0.0
        rows.append({"target": t, "present": len(values),
                     "active": int(sum(v > 0 for v in values)),
                     "median_active_fraction": median})  # fmt: skip
    df = pd.DataFrame(rows)
    df.attrs["layout"] = detect_layout(Path(root)).name
    df.attrs["tracks"] = len(tracks)
    return df


def covers_mixture(track: Track, targets: Sequence[str]) -> bool:
    """Whether ``targets`` sum to the mixture of ``track`` by construction.

    True for MUSDB layout with all four targets, and for layouts whose mixture is the sum of
    their stems when every stem belongs to one of ``targets``; False when a target map
    leaves stems out, a mixture file is shipped (it may hold more than its stems), or
    ``targets`` is a subset of the dataset's.
    """
    if set(targets) != set(track.targets):
        return False
    if track.stems is None:
        return True
    return not track.rest and not track.has_mixture
