"""The MUSDB layout: ``ROOT/{train,test}/<track>/`` folders of WAVs (MUSDB18-HQ) or
``ROOT/{train,test}/<track>.stem.mp4`` files (MUSDB18); the layout of last resort."""

from __future__ import annotations

from pathlib import Path

from tfselect.audio.track import SOURCES, STEM_SUFFIX, Track
from tfselect.errors import DatasetError


def detect(root: Path) -> bool:
    """Any root: MUSDB is what a root no other layout recognises is read as."""
    return True


def discover(root: Path) -> list[Track]:
    """The tracks of a MUSDB root, sorted by subset then name (hidden entries ignored);
    DatasetError for a track folder missing a file, or no track at all."""
    tracks: list[Track] = []
    for subset in ("train", "test"):
        folder = root / subset
        if not folder.is_dir():
            continue
        for entry in sorted(folder.iterdir(), key=lambda p: p.name):
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                for source in SOURCES:
                    if not (entry / f"{source}.wav").is_file():
                        raise DatasetError(
                            f"{entry / f'{source}.wav'}: missing stem '{source}' of track "
                            f"'{entry.name}' (a track folder needs {', '.join(SOURCES)} .wav)"
                        )
                tracks.append(Track(entry.name, subset, entry))
            elif entry.name.endswith(STEM_SUFFIX):
                tracks.append(Track(entry.name[: -len(STEM_SUFFIX)], subset, entry))
    if not tracks:
        raise DatasetError(
            f"dataset root {root} holds no tracks: expected "
            f"{root}/{{train,test}}/<track>/mixture.wav (MUSDB18-HQ) or "
            f"{root}/{{train,test}}/<track>.stem.mp4 (MUSDB18)"
        )
    return tracks
