"""Deterministic clip sampling: N clips of D seconds per track, optionally skipping silence.

Scoring a transform on whole songs is slow; a few seconds per track already rank
transforms. Clips are drawn per track from a generator seeded by ``(seed, track name)``,
so the clips of one track do not change when tracks are added to or removed from a root.
"""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tfselect import SAMPLE_RATE
from tfselect.audio.dataset import read_segment, track_length, tracks_for
from tfselect.audio.targets import TargetMap, check_target
from tfselect.errors import DatasetError, TfselectError

log = logging.getLogger(__name__)

# Candidate draws per wanted clip before giving up on a track whose target is mostly silent.
_TRIES_PER_CLIP = 20


@dataclass(eq=False)  # arrays have no truth value: compare clips field by field
class Clip:
    """A segment of one track: the mixture and every target stem of its dataset.

    Attributes:
        track: the track's name.
        start: first sample of the clip in the track (44100 Hz).
        length: number of samples.
        mixture: (2, length) float32.
        stems: ``{target: (2, length) float32}`` for every target of the dataset (MUSDB
            layout: vocals, drums, bass, other); they need not sum to the mixture.
    """

    track: str
    start: int
    length: int
    mixture: np.ndarray
    stems: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        """Duration in seconds."""
        return self.length / SAMPLE_RATE


def is_silent(x: np.ndarray, ref: np.ndarray | None = None, threshold_db: float = -60.0) -> bool:
    """Whether ``x`` is silent: its energy is below ``threshold_db``.

    Args:
        x: any shape, e.g. (2, samples).
        ref: None -> compare the mean power of ``x`` with full scale (0 dBFS = power 1);
            else compare the energy of ``x`` with that of ``ref`` (e.g. the mixture), so a
            quiet song is not mistaken for a silent target.
        threshold_db: level in dB below which ``x`` counts as silent.

    An all-zero ``x`` is always silent; a non-zero ``x`` against an all-zero ``ref`` is not.
    """
    x = np.asarray(x, dtype=np.float64)
    energy = float(np.sum(x * x))
    if energy == 0.0:
        return True
    if ref is None:
        level = energy / max(x.size, 1)
    else:
        ref = np.asarray(ref, dtype=np.float64)
        ref_energy = float(np.sum(ref * ref))
        if ref_energy == 0.0:
            return False
        level = energy / ref_energy
    return 10.0 * np.log10(level) < threshold_db


def _track_rng(seed: int, name: str) -> np.random.Generator:
    # crc32, not hash(): Python's str hash is salted per process.
    # surrogateescape: a folder name that is not UTF-8 seeds by its own bytes (same for UTF-8)
    key = zlib.crc32(name.encode("utf-8", "surrogateescape"))
    return np.random.default_rng([int(seed) & 0xFFFFFFFF, key])


def _make_clip(name: str, start: int, audio: dict[str, np.ndarray]) -> Clip:
    mixture = audio["mixture"]
    return Clip(
        track=name,
        start=int(start),
        length=int(mixture.shape[-1]),
        mixture=mixture,
        stems={t: x for t, x in audio.items() if t != "mixture"},
    )


def sample_clips(
    root: Path,
    subset: str = "valid",
    n_clips: int = 2,
    seconds: float = 10.0,
    seed: int = 0,
    target: str | None = None,
    skip_silent: bool = False,
    max_tracks: int | None = None,
    silence_db: float = -60.0,
    target_map: TargetMap | None = None,
) -> list[Clip]:
    """Draw ``n_clips`` clips of ``seconds`` from every track of ``subset``.

    Args:
        root: dataset root in MUSDB layout.
        subset: ``'train'``, ``'valid'`` or ``'test'`` (see :func:`tracks_for`).
        n_clips: clips per track (ignored when ``seconds == 0``: one whole track each).
        seconds: clip duration; 0 means whole tracks.
        seed: same seed, same root -> the same clips, bit for bit.
        target: the target of interest (needed by ``skip_silent``).
        skip_silent: redraw clips where ``target`` is silent (energy below ``silence_db``
            relative to the mixture); a track without any audible clip gives fewer clips
            (logged) -- metrics such as SDR are undefined on a silent target.
        max_tracks: use only the first ``max_tracks`` tracks (by name).
        silence_db: silence threshold for ``skip_silent``, in dB relative to the mixture.
        target_map: a :class:`~tfselect.audio.targets.TargetMap` regrouping the stems.

    Returns:
        Clips in track order, then in draw order; arrays are (2, length) float32.

    Raises:
        DatasetError: the subset holds no track, or every clip was silent for ``target``.
        TfselectError: bad arguments, an unknown target, or clips longer than a track.
    """
    if n_clips < 1:
        raise TfselectError(f"number of clips must be at least 1, got {n_clips}")
    if seconds < 0 or not np.isfinite(seconds):
        raise TfselectError(f"clip duration must be >= 0 seconds (0: whole tracks), got {seconds}")
    if max_tracks is not None and max_tracks < 1:
        raise TfselectError(f"max_tracks must be at least 1, got {max_tracks}")
    if skip_silent and target is None:
        raise TfselectError("skipping silent clips needs a target")

    tracks = tracks_for(root, subset, target_map=target_map)
    if target is not None and tracks and target not in tracks[0].targets:
        check_target(root, target, target_map)  # raises, listing the dataset's targets
    if not tracks:
        raise DatasetError(f"subset '{subset}' of dataset root {root} holds no tracks")
    if max_tracks is not None:
        tracks = tracks[:max_tracks]
    length = int(round(seconds * SAMPLE_RATE))
    if seconds > 0 and length < 1:  # 0 means whole tracks: never reach it by rounding
        raise TfselectError(f"clip length {seconds} s is shorter than one sample")

    clips: list[Clip] = []
    for track in tracks:
        total = track_length(track)
        if length == 0:  # whole track
            audio = read_segment(track, None, 0, total)
            if skip_silent and is_silent(audio[target], audio["mixture"], silence_db):
                log.info("skipping track %s: %s is silent", track.name, target)
                continue
            clips.append(_make_clip(track.name, 0, audio))
            continue
        if length > total:
            raise TfselectError(
                f"clips of {seconds:g} s are longer than track '{track.name}' "
                f"({total / SAMPLE_RATE:.2f} s): choose a shorter duration, or 0 for whole tracks"
            )
        rng = _track_rng(seed, track.name)
        found = 0
        tries = n_clips * (_TRIES_PER_CLIP if skip_silent else 1)
        for _ in range(tries):
            if found == n_clips:
                break
            start = int(rng.integers(0, total - length + 1))
            audio = read_segment(track, None, start, length)
            if skip_silent and is_silent(audio[target], audio["mixture"], silence_db):
                continue
            clips.append(_make_clip(track.name, start, audio))
            found += 1
        if found < n_clips:
            log.info("track %s: %d of %d clips have audible %s", track.name, found, n_clips, target)
    if not clips:
        raise DatasetError(
            f"no clip of subset '{subset}' of {root} has an audible {target} "
            f"(all below {silence_db:g} dB relative to the mixture)"
        )
    return clips
