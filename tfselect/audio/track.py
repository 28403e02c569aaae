"""One track of a dataset and the reading of its files: the base every layout builds on.

A :class:`Track` names its files; :func:`check_format` and :func:`read_file` are the one
owner of the format rules (44.1 kHz, mono or stereo, finite samples) and the one reader of
a file segment. This module imports no other module of :mod:`tfselect.audio`, so every
layout may import it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from tfselect import SAMPLE_RATE, TARGETS
from tfselect.errors import DatasetError

SOURCES: tuple[str, ...] = ("mixture", *TARGETS)
"""Every file of a MUSDB-layout track: the mixture and the four targets."""

STEM_SUFFIX = ".stem.mp4"


@dataclass(frozen=True)
class Track:
    """One song in MUSDB layout.

    Attributes:
        name: the track's name (folder name, or file name without ``.stem.mp4``).
        subset: ``'train'`` or ``'test'`` (the folder it lives in; validation is a split of
            train, see :func:`tracks_for`).
        path: the track folder (MUSDB18-HQ WAV layout) or the ``.stem.mp4`` file.
        stems: None for MUSDB layout; otherwise ``((target, files), ...)``: the files summed
            into each target (none: the stem is absent from this track, i.e. silent); other
            layouts are read through :mod:`tfselect.audio.stem_files`.
        mixture: the files summed into the mixture (one shipped mixture file, or every stem).
        rest: stem files that no target holds (after a target map): part of the mixture.
        has_mixture: the dataset ships a mixture file (checked against the stems' sum).
    """

    name: str
    subset: str
    path: Path
    stems: tuple[tuple[str, tuple[Path, ...]], ...] | None = None
    mixture: tuple[Path, ...] = ()
    rest: tuple[Path, ...] = ()
    has_mixture: bool = False

    @property
    def targets(self) -> tuple[str, ...]:
        """The target names of this track's dataset (MUSDB layout: the four MUSDB names)."""
        return TARGETS if self.stems is None else tuple(name for name, _ in self.stems)

    @property
    def sources(self) -> tuple[str, ...]:
        """``('mixture', *targets)``."""
        return ("mixture", *self.targets)

    @property
    def is_stem_file(self) -> bool:
        """True for a MUSDB18 ``.stem.mp4`` track, False for a folder of WAVs."""
        return self.path.name.endswith(STEM_SUFFIX)

    def source_path(self, source: str) -> Path:
        """The file holding ``source`` (for a ``.stem.mp4`` track, the stem file itself)."""
        return self.path if self.is_stem_file else self.path / f"{source}.wav"


def _info(path: Path):
    """soundfile's header info, with unreadable files turned into a DatasetError."""
    try:
        return sf.info(os.fsencode(path))  # bytes: a name that is not UTF-8 too
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        if not path.exists():
            raise DatasetError(f"{path}: file does not exist") from None
        raise DatasetError(f"{path}: not a readable audio file ({exc})") from None


def check_format(path: Path):
    """soundfile's info of one stem file after checking what every reader needs: 44.1 kHz,
    mono or stereo (DatasetError naming the file otherwise)."""
    info = _info(path)
    if info.samplerate != SAMPLE_RATE:
        raise DatasetError(
            f"{path}: sample rate {info.samplerate} Hz, expected {SAMPLE_RATE} Hz "
            f"like the rest of tfselect (resample the track first)"
        )
    if info.channels not in (1, 2):
        raise DatasetError(f"{path}: {info.channels} channels, expected mono or stereo")
    return info


def to_stereo(x: np.ndarray, path: Path) -> np.ndarray:
    """(samples, channels) -> (2, samples) float32; mono is duplicated to both channels."""
    if x.shape[1] == 1:
        x = np.repeat(x, 2, axis=1)
    elif x.shape[1] != 2:
        raise DatasetError(f"{path}: {x.shape[1]} channels, expected mono or stereo")
    check_finite(x, path)
    return np.ascontiguousarray(x.T, dtype=np.float32)


def check_finite(x: np.ndarray, path: Path) -> None:
    """DatasetError naming ``path`` if ``x`` holds a NaN or an infinite sample.

    Float WAVs can hold them; every later stage (transforms, losses, SDR) would turn them
    into NaN everywhere. min and max propagate both, so two reductions without a copy.
    """
    if x.size and not (np.isfinite(x.min()) and np.isfinite(x.max())):
        raise DatasetError(f"{path}: holds NaN or infinite samples")


def read_file(path: Path, offset: int, frames: int) -> np.ndarray:
    """``frames`` samples of one audio file from ``offset``: float32 (2, frames), exact.

    Raises:
        DatasetError: naming the file: unreadable, truncated, or holding NaN/inf samples.
    """
    try:
        x, _ = sf.read(os.fsencode(path), start=offset, frames=frames, dtype="float32",
                       always_2d=True)
    except (sf.LibsndfileError, RuntimeError, OSError) as exc:
        raise DatasetError(f"{path}: cannot read audio ({exc})") from None
    if x.shape[0] != frames:  # a header lying about the length: truncated file
        raise DatasetError(f"{path}: expected {frames} samples, read {x.shape[0]} (truncated)")
    return to_stereo(x, path)
