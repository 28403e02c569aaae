"""Tracks as tables of stem files: the reader shared by every layout but MUSDB's.

A track of a non-MUSDB layout (generic stem folders, MoisesDB, Slakh2100, or any layout after
a target map) is described by which files sum to each target and which files sum to the
mixture (one ``mixture.wav``, or every stem file when the dataset ships no mixture). One
reader serves them all: soundfile reads the requested segment of each file once (exact
float32, no resampling), several files of one target are summed in float64 and rounded to
float32 once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from tfselect.audio.track import Track, check_format, read_file
from tfselect.errors import DatasetError

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = (".wav", ".flac")
RESERVED = ("mixture", "residual")
MAX_NAME_BYTES = 200  # UTF-8 bytes of a target name: the stem's temporary file name adds 18
TARGET_NAME_RULE = (f"not {' or '.join(RESERVED)}, no '/' or '\\', no leading '.', no control "
                    f"characters, 1 to {MAX_NAME_BYTES} bytes")
# Residual of a shipped mixture against the sum of its stems below this (dB relative to the
# mixture) is rounding (16-bit files, float32 sums) and is not worth a warning.
RESIDUAL_DB = -60.0

_residual_said: set[Path] = set()


def is_target_name(name: object) -> bool:
    """Whether ``name`` can name a target: it becomes the file name ``<name>.wav`` beside
    ``mixture`` and ``residual``, and a CLI value. The one rule for names from the user, a
    dataset and a model folder alike, so that none can climb out of its folder (no
    separator, no leading dot, hence no ``..``), hide itself, hold a control character (a NUL
    breaks every file call) or exceed a file system's 255 bytes once ``.wav`` and
    :func:`~tfselect.atomic.atomic_write`'s temporary suffix are added."""
    return (isinstance(name, str) and name.isprintable() and name not in RESERVED
            and not name.startswith(".") and "/" not in name and "\\" not in name
            and 0 < len(name.encode()) <= MAX_NAME_BYTES)


def check_target_name(name: str, where: Path) -> str:
    """A stem/target name usable as a file name and a CLI value, else a DatasetError."""
    if not is_target_name(name):
        raise DatasetError(f"{where}: {name!r} cannot name a target ({TARGET_NAME_RULE})")
    return name


def subfolders(folder: Path) -> list[Path]:
    """The visible subfolders of ``folder`` (track folders), sorted by name; none when
    ``folder`` is not a folder."""
    if not folder.is_dir():
        return []
    visible = (p for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))
    return sorted(visible, key=lambda p: p.name)


def _check_format(path: Path):

    return check_format(path)


def files_of(track: Track) -> list[Path]:
    """Every distinct file of a stem-table track: the mixture's, then the stems', in order."""
    seen: dict[Path, None] = {}
    for f in track.mixture:
        seen[f] = None
    for _, files in track.stems:
        for f in files:
            seen[f] = None
    for f in track.rest:
        seen[f] = None
    return list(seen)


def track_length(track: Track) -> int:
    """Common length in samples of every file of ``track`` (headers only).

    Raises:
        DatasetError: a file is missing, not audio, not at 44100 Hz, not mono/stereo, or
            differs in length from the first file (both are named).
    """
    first: tuple[Path, int] | None = None
    for path in files_of(track):
        if not path.is_file():
            raise DatasetError(f"{path}: missing stem file of track '{track.name}'")
        info = _check_format(path)
        if first is None:
            first = (path, int(info.frames))
        elif int(info.frames) != first[1]:
            raise DatasetError(
                f"{path}: {info.frames} samples but {first[0].name} has {first[1]}: "
                f"stems of track '{track.name}' differ in length"
            )
    if first is None:
        raise DatasetError(f"{track.path}: track '{track.name}' has no audio file")
    return first[1]


def _read(path: Path, offset: int, frames: int) -> np.ndarray:

    return read_file(path, offset, frames)


def _sum(files: Sequence[Path], cache: dict[Path, np.ndarray], frames: int) -> np.ndarray:
    if len(files) == 1:
        return cache[files[0]]
    total = np.zeros((2, frames), dtype=np.float64)
    for f in files:
        total += cache[f]
    return total.astype(np.float32)


def read_segment(
    track: Track, sources: Sequence[str], offset: int, frames: int
) -> dict[str, np.ndarray]:
    """``{source: (2, frames) float32}`` of a stem-table track (bounds checked by the caller).

    A target without files in this track (absent stem) is silence. A shipped mixture is
    checked against the sum of all stems once per track and process: a residual above
    ``RESIDUAL_DB`` is logged (it is audio no stem holds, and it counts as the rest).
    """
    stems = dict(track.stems)
    needed: dict[Path, None] = {}
    for s in sources:
        for f in (track.mixture if s == "mixture" else stems[s]):
            needed[f] = None
    cache = {f: _read(f, offset, frames) for f in needed}
    out: dict[str, np.ndarray] = {}
    for s in sources:
        files = track.mixture if s == "mixture" else stems[s]
        out[s] = _sum(files, cache, frames) if files else np.zeros((2, frames), np.float32)
    if "mixture" in sources and track.has_mixture and track.path not in _residual_said:
        _check_residual(track, out["mixture"], offset, frames)
    return out


def _check_residual(track: Track, mixture: np.ndarray, offset: int, frames: int) -> None:
    _residual_said.add(track.path)
    all_files = [f for f in files_of(track) if f not in track.mixture]  # every stem file
    if not all_files:
        return
    stem_sum = np.zeros((2, frames), np.float64)
    for f in all_files:
        stem_sum += _read(f, offset, frames)
    residual = mixture.astype(np.float64) - stem_sum
    mix_energy = float(np.sum(np.square(mixture, dtype=np.float64)))
    res_energy = float(np.sum(residual * residual))
    if res_energy == 0.0 or mix_energy == 0.0:
        return
    level = 10.0 * np.log10(res_energy / mix_energy)
    if level > RESIDUAL_DB:
        log.warning(
            "%s: the mixture differs from the sum of the stems by %.1f dB (relative to the "
            "mixture, samples %d-%d): that residual counts as the rest of the mixture",
            track.mixture[0], level, offset, offset + frames,
        )
