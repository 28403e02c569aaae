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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from tfselect.audio.stem_files import check_target_name
from tfselect.errors import DatasetError, TfselectError
from tfselect.tomlfile import read_toml

if TYPE_CHECKING:
    from tfselect.audio.dataset import Track


FRAME_SECONDS = 1.0  # activity is measured on frames of this length
ACTIVE_DB = -60.0  # a frame is active above this level relative to the mixture frame
ROUNDING_DB = -100.0  # a residual below this (relative to the mixture) is rounding, not audio


@dataclass(frozen=True)
class TargetMap:
    """Targets built from stems: ``groups = ((target, (stem, ...)), ...)``.

    Attributes:
        groups: each target and the stems summed into it, in the order given.
        origin: where the map comes from (a file name), named in error messages.
    """

    groups: tuple[tuple[str, tuple[str, ...]], ...]
    origin: str = "target map"

    @property
    def targets(self) -> tuple[str, ...]:
        return tuple(t for t, _ in self.groups)

    def as_dict(self) -> dict[str, list[str]]:
        """``{target: [stem, ...]}``: the form a TOML or JSON file holds."""
        return {t: list(s) for t, s in self.groups}

    @classmethod
    def from_dict(cls, data: Mapping, origin: str = "target map") -> TargetMap:
        """Parse ``{target: stem or [stems]}``; a stem may feed one target only.

        Raises:
            TfselectError: an empty map, a bad name or value, or a stem used twice.
        """
        if not isinstance(data, Mapping) or not data:
            raise TfselectError(f"{origin}: [targets] must map target names to stem names")
        groups, used = [], {}
        for target, stems in data.items():
            check_target_name(str(target), Path(origin))
            stems = [stems] if isinstance(stems, str) else stems
            if not isinstance(stems, list) or not stems or not all(
                isinstance(s, str) and s for s in stems
            ):
                raise TfselectError(
                    f"{origin}: targets.{target} must be a stem name or a list of stem names"
                )
            for s in stems:
                if s in used:
                    raise TfselectError(
                        f"{origin}: stem '{s}' is mapped to both '{used[s]}' and '{target}'"
                    )
                used[s] = str(target)
            groups.append((str(target), tuple(stems)))
        return cls(tuple(groups), origin)


def load_target_map(path: str | Path | None) -> TargetMap | None:
    """The ``[targets]`` table of a TOML file (None when the file has none, or no file)."""
    if path is None:
        return None
    p = Path(path)
    data = read_toml(p)
    if "targets" not in data:
        return None
    return TargetMap.from_dict(data["targets"], str(p))


def _as_table(track: Track) -> Track:
    """A MUSDB-layout WAV track as a file table (so a map can regroup its stems)."""
    from dataclasses import replace

    from tfselect import TARGETS

    if track.stems is not None:
        return track
    if track.is_stem_file:
        raise DatasetError(
            f"{track.path}: target maps need stems as separate files (MUSDB18-HQ WAVs, "
            f"not .stem.mp4)"
        )
    return replace(track, stems=tuple((t, (track.path / f"{t}.wav",)) for t in TARGETS),
                   mixture=(track.path / "mixture.wav",), has_mixture=True)  # fmt: skip


def apply_target_map(
    tracks: Sequence[Track], target_map: TargetMap, root: Path
) -> list[Track]:
    """``tracks`` regrouped by ``target_map``; unmapped stems move to the rest of the mixture.

    Raises:
        DatasetError: the map names a stem that no track of ``root`` has (listing the stems).
    """
    from dataclasses import replace

    tables = [_as_table(t) for t in tracks]
    stems = list(dict.fromkeys(name for t in tables for name, _ in t.stems))
    for target, names in target_map.groups:
        for s in names:
            if s not in stems:
                raise DatasetError(
                    f"{target_map.origin}: targets.{target} names stem '{s}', which no track of "
                    f"{root} has (stems: {', '.join(stems)})"
                )
    mapped = {s for _, names in target_map.groups for s in names}
    out = []
    for t in tables:
        files = dict(t.stems)
        groups = tuple(
            (target, tuple(f for s in names for f in files.get(s, ())))
            for target, names in target_map.groups
        )
        rest = t.rest + tuple(f for s, fs in t.stems if s not in mapped for f in fs)
        out.append(replace(t, stems=groups, rest=rest))
    return out


def dataset_targets(root: Path, target_map: TargetMap | None = None) -> tuple[str, ...]:
    """The target names of the dataset at ``root`` (after ``target_map``)."""
    from tfselect.audio.dataset import discover

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
    import pandas as pd

    from tfselect import SAMPLE_RATE
    from tfselect.audio.dataset import discover, read_segment, track_length
    from tfselect.audio.layouts import detect_layout

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
